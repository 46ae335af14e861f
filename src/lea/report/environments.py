"""The table "what the environment adds" (issue 13): one row per variant, one column per LE setting (an LLM LE or a
control environment, lea.control), each cell the variant's HR@10 / NDCG@10 minus the base run's of the same backbone
and framework, with the paired test's p-value over the test cases (lea.report.stats: per-case metrics averaged over
seeds, then paired); below it the environments' diagnostics (their ``le_quality.json``).

Config ``experiments.environments``::

    environments: {backbones: [sasrec], frameworks: [sa2c], variants: [LER, LES, LEA, LEASR],
                   envs: [frac0.1, idrec0.1, oracle, random]}

A variant under a setting other than its own ``le`` runs as the generated variant ``{variant}_{setting}`` (the
naming of lea.report.experiments' LE sweeps), added to ``config["variants"]`` by :func:`add_generated_variants`.

    lea report-envs --spec JSON --out-md F.md --out-csv F.csv [--test ttest|wilcoxon]
"""

from __future__ import annotations

import argparse
import copy
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lea.config import default_le_setting, variant_settings
from lea.errors import ConfigError, InputError
from lea.report.experiments import _resolved, sweep_variant_name

if TYPE_CHECKING:
    import polars as pl

NAME = "environments"
METRICS = ("hr@10", "ndcg@10")
TITLE = "What the environment adds: each variant minus the base, per environment"


def section(config: Mapping[str, Any]) -> dict[str, Any] | None:
    exp = (config.get("experiments") or {}).get(NAME)
    return exp if exp and exp.get("enabled", True) else None


def datasets(config: Mapping[str, Any]) -> list[str]:
    exp = section(config)
    if exp is None:
        return []
    on = list(config["datasets_enabled"])
    return on if exp.get("datasets") is None else [d for d in on if d in exp["datasets"]]


def run_variant(config: Mapping[str, Any], variant: str, le: str, dataset: str | None = None) -> str:
    """The variant that runs ``variant`` with the LE setting ``le`` (on ``dataset``): itself if that is its own setting
    there (a variant without an ``le`` reads the dataset's ``le_default``)."""
    _resolved(config, variant)  # a clear error for an unknown variant
    mine = config["variants"][variant].get("le") or default_le_setting(config, dataset)
    return variant if mine == le else sweep_variant_name(variant, "le", le)


def groups(exp: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(config key, group) of each row group: the section's own backbones x frameworks x variants, then ``groups``."""
    first = {
        "backbones": exp.get("backbones", ["sasrec"]),
        "frameworks": exp.get("frameworks", ["sa2c"]),
        "variants": exp.get("variants", []),
    }
    extra = [(f"experiments.{NAME}.groups.{i}.", g) for i, g in enumerate(exp.get("groups") or [])]
    return [(f"experiments.{NAME}.", first), *extra]


def generated_variants(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    exp = section(config)
    out: dict[str, dict[str, Any]] = {}
    if exp is None:
        return out
    settings = config.get("le", {}).get("settings", {})
    for i, le in enumerate(exp["envs"]):
        if le not in settings:
            raise ConfigError(f"experiments.{NAME}.envs.{i}", f"'{le}' is not a key of le.settings")
    named = [(f"{key}variants.{j}", v) for key, g in groups(exp) for j, v in enumerate(g["variants"])]
    for where, v in named:
        if v not in config.get("variants", {}):
            raise ConfigError(where, f"'{v}' is not a key of variants")
        for le in exp["envs"]:
            # one run variant per dataset whose own default LE is not ``le`` (datasets.<name>.le_default)
            names = {run_variant(config, v, le, d) for d in datasets(config)} or {run_variant(config, v, le)}
            if names == {v}:
                continue
            name = sweep_variant_name(v, "le", le)
            entry = copy.deepcopy(config["variants"][v])
            entry["le"] = le
            entry["label"] = f"{entry.get('label') or v} ({le})"
            out[name] = entry
    return out


def add_generated_variants(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Add the table's generated variants to ``config['variants']`` in place (a hand-written one of a name wins)."""
    gen = generated_variants(config)
    for k, v in gen.items():
        config["variants"].setdefault(k, v)
    return gen


def _applies(config: Mapping[str, Any], variant: str, framework: str) -> bool:
    try:
        variant_settings(config, variant, framework)
    except ConfigError:
        return False
    return True


def rows(config: Mapping[str, Any], dataset: str | None = None) -> list[dict[str, Any]]:
    """{backbone, framework, variant, label, cells: {le setting: run variant}} in display order (the run variants of
    ``dataset``, whose own default LE is read by the variants themselves)."""
    exp = section(config)
    if exp is None:
        return []
    out = []
    seen: set[tuple[str, str, str]] = set()
    for _, g in groups(exp):
        for b in g["backbones"]:
            for f in g["frameworks"]:
                for v in g["variants"]:
                    if not _applies(config, v, f) or (b, f, v) in seen:
                        continue
                    seen.add((b, f, v))
                    cells = {le: run_variant(config, v, le, dataset) for le in exp["envs"]}
                    label = config["variants"][v].get("label") or v
                    out.append({"backbone": b, "framework": f, "variant": v, "label": label, "cells": cells})
    return out


def runs(config: Mapping[str, Any], dataset: str | None = None) -> set[tuple[str, str, str]]:
    """(backbone, framework, variant) of every run the table reads on ``dataset``, the base runs included."""
    out: set[tuple[str, str, str]] = set()
    for r in rows(config, dataset):
        out.add((r["backbone"], r["framework"], "base"))
        out |= {(r["backbone"], r["framework"], v) for v in r["cells"].values()}
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def build(spec: Mapping[str, Any], test: str = "ttest") -> pl.DataFrame:
    """One line per row: the base's mean metrics over seeds, and per environment and metric the delta and p."""
    import polars as pl

    from lea.report.stats import paired_p, pooled_cases
    from lea.report.tables import load_run

    cache: dict[str, dict[str, Any]] = {}

    def load(d: str) -> dict[str, Any]:
        if d not in cache:
            cache[d] = load_run(d)
        return cache[d]

    lines = []
    for r in spec["rows"]:
        base = [load(d) for d in r["base"]]
        base_cases = pooled_cases([b["cases"] for b in base])
        rec: dict[str, Any] = {
            "backbone": r["backbone"],
            "framework": r["framework"],
            "variant": r["variant"],
            "label": r["label"],
            "seeds": len(base),
        }
        for m in METRICS:
            rec[f"base:{m}"] = _mean([b["test"][m] for b in base])
        for e in spec["envs"]:
            le = e["le"]
            got = [load(d) for d in r["cells"][le]]
            cases = pooled_cases([g["cases"] for g in got])
            for m in METRICS:
                rec[f"{le}:{m}_delta"] = _mean([g["test"][m] for g in got]) - rec[f"base:{m}"]
                rec[f"{le}:{m}_p"] = paired_p(cases, base_cases, m, test)[0]
        lines.append(rec)
    return pl.DataFrame(lines, infer_schema_length=None)


DIAGNOSTICS = (
    ("reward", "pairwise_accuracy", "reward acc"),
    ("reward", "auc", "reward AUC"),
    ("state", "hr@10", "state HR@10"),
    ("choice", "accuracy", "choice acc"),
)


def diagnostics(spec: Mapping[str, Any]) -> pl.DataFrame:
    """One line per environment from its le_quality.json: each diagnostic, its chance level and p-value."""
    import polars as pl

    from lea.io import read_json

    lines = []
    for e in spec["envs"]:
        q = read_json(e["quality"], "fit_le or control_fit")
        if not isinstance(q, dict):
            raise InputError(e["quality"], "expected a JSON object")
        rec: dict[str, Any] = {
            "le": e["le"],
            "env": e.get("env", "llm"),
            "train_transitions": q.get("train_transitions"),
            "valid_transitions": q.get("transitions"),
        }
        for block, key, _ in DIAGNOSTICS:
            b = q.get(block)
            if not isinstance(b, dict) or key not in b:
                raise InputError(e["quality"], f"key '{block}.{key}' is missing")
            rec[f"{block}.{key}"] = float(b[key])
            if key != "auc":
                rec[f"{block}.chance"] = float(b.get("chance", math.nan))
                rec[f"{block}.p"] = float(b.get("p_value_vs_chance", math.nan))
        rec["choice.rule"] = q.get("choice", {}).get("rule", "")
        lines.append(rec)
    return pl.DataFrame(lines, infer_schema_length=None)


def _p(p: float) -> str:
    return "n/a" if p is None or math.isnan(p) else f"{p:.2g}"


def to_markdown(df: pl.DataFrame, diag: pl.DataFrame, spec: Mapping[str, Any], test: str = "ttest") -> str:
    from lea.report.stats import TESTS
    from lea.report.tables import BACKBONE_NAMES, FRAMEWORK_NAMES, metric_label

    envs = [e["le"] for e in spec["envs"]]
    kinds = {e["le"]: e.get("env", "llm") for e in spec["envs"]}
    lines = [f"# {TITLE}", ""]
    if spec.get("dataset"):
        lines += [f"Dataset: `{spec['dataset']}`.", ""]
    head = ["backbone / framework", "variant", "base", *[f"{le} ({kinds[le]})" for le in envs]]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rec in df.iter_rows(named=True):
        group = f"{BACKBONE_NAMES.get(rec['backbone'], rec['backbone'])} / "
        group += FRAMEWORK_NAMES.get(rec["framework"], rec["framework"])
        base = "; ".join(f"{metric_label(m)} {rec[f'base:{m}']:.4f}" for m in METRICS)
        cells = [
            "; ".join(f"{metric_label(m)} {rec[f'{le}:{m}_delta']:+.4f} (p={_p(rec[f'{le}:{m}_p'])})" for m in METRICS)
            for le in envs
        ]
        lines.append("| " + " | ".join([group, rec["label"], base, *cells]) + " |")
    seeds = sorted(set(df["seeds"].to_list())) if df.height else []
    lines += [
        "",
        f"Each cell: the variant's test metric minus the base's (mean over {', '.join(map(str, seeds))} seeds), and "
        f"the p-value of the {TESTS[test]} over the test cases (each case's metric averaged over seeds).",
        "",
        "## The environments' diagnostics (validation transitions, le_quality.json)",
        "",
    ]
    head = [
        "setting",
        "env",
        "train transitions",
        "reward acc (p)",
        "reward AUC",
        "state HR@10 (chance, p)",
        "choice acc (p)",
        "choice rule",
    ]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in diag.iter_rows(named=True):
        lines.append(
            "| "
            + " | ".join(
                [
                    d["le"],
                    d["env"],
                    str(d["train_transitions"]),
                    f"{d['reward.pairwise_accuracy']:.3f} ({_p(d['reward.p'])})",
                    f"{d['reward.auc']:.3f}",
                    f"{d['state.hr@10']:.3f} ({d['state.chance']:.3f}, {_p(d['state.p'])})",
                    f"{d['choice.accuracy']:.3f} ({_p(d['choice.p'])})",
                    d["choice.rule"],
                ]
            )
            + " |"
        )
    lines += [
        "",
        "p: one-sided binomial test against the chance level. The `random` environment's reward accuracy measures "
        "the fixed reward it perturbs (1 for the observed item, 0 otherwise, plus noise), not learned information.",
    ]
    return "\n".join(lines) + "\n"


TEST_CHOICES = ("ttest", "wilcoxon")  # lea.report.stats.TESTS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", required=True, help="JSON (or a JSON/YAML file): {dataset, envs, rows}")
    p.add_argument("--test", choices=TEST_CHOICES, default="ttest")
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-diagnostics-csv", default=None)


def main(args: argparse.Namespace) -> int:
    from lea.cli import parse_settings
    from lea.io import atomic_path, write_text

    spec = parse_settings(args.spec)
    df = build(spec, args.test)
    diag = diagnostics(spec)
    with atomic_path(args.out_csv) as tmp:
        df.write_csv(tmp)
    if args.out_diagnostics_csv:
        with atomic_path(args.out_diagnostics_csv) as tmp:
            diag.write_csv(tmp)
    write_text(to_markdown(df, diag, spec, args.test), args.out_md)
    return 0
