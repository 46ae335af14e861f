"""The claims table (issue 15): each claim of the paper's sections 5.1-5.4, tested on the runs of every dataset.

The claims are data (:data:`CLAIMS`): each has parts, a part rests on one experiment (a table or figure of config
``experiments``, lea.report.experiments) and names its comparisons as (framework, variant) pairs A > B within one
backbone. :func:`plan` resolves them against a config into one row per (claim, dataset) and the sub-comparisons
each row rests on (run keys ``dataset/backbone/framework/variant``); the report rule adds the run folders and the
``le_quality.json`` files, and ``lea report-claims`` (:func:`build`) computes the table:

- effect of a sub-comparison: the mean paired difference A - B of the metric over the test cases, a case being a
  (seed, sequence, position) present in both rows (the seeds both rows have); its 95% CI from the t distribution and
  the two-sided p of the paired t-test (lea.report.stats.difference_summary); each seed's mean difference beside it.
- verdict of a sub-comparison at ``alpha`` on the Holm-Bonferroni adjusted p over every sub-comparison of the table.
- verdict of a part: ``all`` (every sub-comparison significant in the claimed direction: *agrees*; any significant
  against it: *disagrees*; else *inconclusive*) or ``most`` (more than half significant in the claimed direction:
  *agrees*; at least half significant against it: *disagrees*); of a row: *agrees* if every tested part agrees,
  *disagrees* if any disagrees, else *inconclusive*; *not tested* (with the reason) when no part could be tested.

Config ``experiments.claims``: ``{enabled: true, metric: ndcg@10, alpha: 0.01, datasets: null}``.

    lea report-claims --spec JSON --out-md claims.md --out-csv claims.csv --out-detail-csv claims_detail.csv
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lea.report.environments as leaenvs
import lea.report.experiments as leaexp
from lea.config import le_replicates_used, le_setting, variant_needs, variant_settings
from lea.errors import ConfigError

if TYPE_CHECKING:
    import polars as pl

NAME = "claims"
TITLE = "The paper's claims, tested on our runs"
DEFAULTS = {"enabled": True, "metric": "ndcg@10", "alpha": 0.01, "datasets": None}
CASE_METRICS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20")  # = lea.report.stats.METRICS
ENV_KINDS = ("oracle", "idrec")  # the control environments whose same comparison each row shows (issue 13)
VERDICTS = ("agrees", "disagrees", "inconclusive", "not tested")
KINDS = ("greater", "k_gain", "cross_gain", "sweep_best", "sweep_gain", "sweep_flat", "ablation")


@dataclass(frozen=True)
class Pair:
    """A > B within one backbone; a variant is a name or a pattern: ``*`` (every row of that framework in the
    experiment), ``*LE`` (every row but ``base``), ``*other`` (every row of the framework but A's variant)."""

    a: tuple[str, str]
    b: tuple[str, str]


@dataclass(frozen=True)
class Part:
    text: str
    experiment: str
    kind: str = "greater"
    pairs: tuple[Pair, ...] = ()
    metrics: str = "primary"  # primary (experiments.claims.metric) | all (HR and NDCG at 5, 10, 20)
    quantifier: str = "all"  # all | most
    paper_datasets: tuple[str, ...] | None = None  # the paper's datasets it claims this on (None: every one)
    value: Any = None  # sweep_*: the claimed point; ablation: -IT | -SM | llm


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    short: str
    words: str
    parts: tuple[Part, ...]


def _pairs(*items: tuple[str, str, str, str]) -> tuple[Pair, ...]:
    return tuple(Pair((fa, va), (fb, vb)) for fa, va, fb, vb in items)


LFM, INDUSTRY = ("LFM",), ("Industry",)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "1",
        "Table 2 (1)",
        "the RL-based methods (SNQN, SA2C and their LE variants) beat Normal on every dataset",
        "In contrast to standard sequential models, our RL-based methods consistently outperform across all datasets.",
        (
            Part("every SNQN and SA2C row > Normal", "table2",
                 pairs=_pairs(("snqn", "*", "normal", "base"), ("sa2c", "*", "normal", "base"))),
        ),
    ),
    Claim(
        "2",
        "Table 2 (2)",
        "LEA improves over plain SNQN and SA2C",
        "LEA further improves the performance over the RL frameworks of SNQN and SA2C.",
        (
            Part("every LE row > its framework's base", "table2",
                 pairs=_pairs(("snqn", "*LE", "snqn", "base"), ("sa2c", "*LE", "sa2c", "base"))),
        ),
    ),
    Claim(
        "3",
        "Table 2 (3)",
        "on LFM, LEASR is the best strategy in both frameworks; on Industry the gains are smaller",
        "On the LFM dataset, LEASR achieves the highest results on both HR and NDCG metrics, across two frameworks, "
        "outperforming other strategies. [...] On the Industry dataset, the overall relative improvement of the RL "
        "method by the LEA approach is not as pronounced as on the LFM dataset.",
        (
            Part("LEASR > every other row of its SNQN and SA2C blocks", "table2", paper_datasets=LFM,
                 pairs=_pairs(("snqn", "LEASR", "snqn", "*other"), ("sa2c", "LEASR", "sa2c", "*other"))),
            Part("LEASR's relative gain over its base: LFM > Industry", "table2", kind="cross_gain",
                 paper_datasets=INDUSTRY,
                 pairs=_pairs(("snqn", "LEASR", "snqn", "base"), ("sa2c", "LEASR", "sa2c", "base"))),
        ),
    ),
    Claim(
        "4",
        "Table 3",
        "sv beats Normal; sv, q and sv+q each beat SA2C; sv+q is the best",
        "when the augmented samples are taken as additional supervised labels, the recommendation performance "
        "increases in all cases and datasets. [...] the improved performance of q over SA2C indicates the "
        "effectiveness of augmenting the Q-loss [...] when combining sv and q augmentations, [sv+q] achieves better "
        "performance than the individual methods",
        (
            Part("sv > Normal; sv, q, sv+q > SA2C; sv+q > every other SA2C row", "table3",
                 pairs=_pairs(("normal", "sv", "normal", "base"), ("sa2c", "sv", "sa2c", "base"),
                              ("sa2c", "q", "sa2c", "base"), ("sa2c", "svq", "sa2c", "base"),
                              ("sa2c", "svq", "sa2c", "*other"))),
        ),
    ),
    Claim(
        "5",
        "Table 4",
        "LER beats SA2C in all cases, with the largest gain at the smallest k; LEAR beats LEA",
        "We observe that LER outperforms SA2C across all cases [...] the smaller the k the greater the improvement "
        "[...] It is evident that LEAR generally outperforms LEA.",
        (
            Part("LER > SA2C at HR and NDCG @5, @10, @20", "table4", metrics="all",
                 pairs=_pairs(("sa2c", "LER", "sa2c", "base"))),
            Part("LER's gain over SA2C at k = 5 > at each larger k (HR, NDCG)", "table4", kind="k_gain",
                 pairs=_pairs(("sa2c", "LER", "sa2c", "base"))),
            Part("LEAR > LEA", "table4", pairs=_pairs(("sa2c", "LEAR", "sa2c", "LEA"))),
        ),
    ),
    Claim(
        "6",
        "Table 5",
        "LES is the best of SA2C / LES' / LES on both backbones, and LES' beats SA2C in most cases",
        "Table 5 indicates that LES has the highest performance across all backbones and metrics, while LES' "
        "outperforms SA2C in most cases.",
        (
            Part("LES > SA2C and LES'", "table5", paper_datasets=LFM,
                 pairs=_pairs(("sa2c", "LES", "sa2c", "*other"))),
            Part("LES' > SA2C in most of the (backbone, metric) cases", "table5", metrics="all", quantifier="most",
                 paper_datasets=LFM, pairs=_pairs(("sa2c", "LESprime", "sa2c", "base"))),
        ),
    ),
    Claim(
        "7",
        "Figure 4",
        "LEASR is best at w_ah = 0.1 and at w_aq = 0.01",
        "The best performance is achieved when w_ah is 0.1. [...] We achieve the best performance for w_aq = 0.01.",
        (
            Part("w_ah = 0.1 > every other w_ah", "fig4a", kind="sweep_best", value=0.1, paper_datasets=LFM),
            Part("w_aq = 0.01 > every other w_aq", "fig4b", kind="sweep_best", value=0.01, paper_datasets=LFM),
        ),
    ),
    Claim(
        "8",
        "Figure 5a",
        "LEASR gains notably up to a 10% LE subset, then flattens",
        "as the data portion increases to 10%, we observe a notable enhancement in performance [...] As the scale "
        "continuously increases, the effect of LE grows slowly and fluctuates within a range.",
        (
            Part("LE subset 10% > the smallest subset", "fig5a", kind="sweep_gain", value=0.1, paper_datasets=LFM),
            Part("each larger subset within ± that gain of 10%", "fig5a", kind="sweep_flat", value=0.1,
                 paper_datasets=LFM),
        ),
    ),
    Claim(
        "9",
        "Figure 5b",
        "-IT (titles instead of item tokens) lowers LEASR; -SM (no state loss) lowers LES",
        "applying item tokenization surpasses the contentation method. [...] Figure 5b shows a decrease in "
        "performance when L_sm is omitted.",
        (
            Part("LEASR > LEASR with the -IT LE", "fig5b", kind="ablation", value="-IT", paper_datasets=LFM),
            Part("LES > LES with the -SM LE", "fig5b", kind="ablation", value="-SM", paper_datasets=LFM),
        ),
    ),
    Claim(
        "10",
        "Figure 5b",
        "Mistral-7B is slightly above Llama2-7B",
        "Figure 5b shows that the performance of Mistral is slightly higher than Llama2-7B.",
        (Part("LEASR with the Mistral-7B LE > with the Llama2-7B LE", "fig5b", kind="ablation", value="llm",
              paper_datasets=LFM),),
    ),
)  # fmt: skip

CLAIMS_BY_ID = {c.id: c for c in CLAIMS}


class _Untested(Exception):
    """A part cannot be tested with this config (the message is the reason)."""


def section(config: Mapping[str, Any]) -> dict[str, Any] | None:
    exp = (config.get("experiments") or {}).get(NAME)
    if exp is None:
        return None
    out = {**DEFAULTS, **exp}
    return out if out["enabled"] else None


def datasets(config: Mapping[str, Any]) -> list[str]:
    exp = section(config)
    if exp is None:
        return []
    on = list(config["datasets_enabled"])
    return on if exp.get("datasets") is None else [d for d in on if d in exp["datasets"]]


def key(dataset: str, backbone: str, framework: str, variant: str) -> str:
    return f"{dataset}/{backbone}/{framework}/{variant}"


def split_key(k: str) -> tuple[str, str, str, str]:
    d, b, f, v = k.split("/")
    return d, b, f, v


def _reads_le(config: Mapping[str, Any], variant: str, framework: str) -> bool:
    return any(variant_needs(variant_settings(config, variant, framework)).values())


def _llm_family(config: Mapping[str, Any], le: str) -> str:
    """``mistral`` / ``llama2`` / '' from the LE setting's LLM (its key, ``name`` and ``path``)."""
    s = le_setting(config, le)
    if s["env"] != "llm":
        return ""
    llm = config.get("llms", {}).get(s["llm"], {})
    text = " ".join(str(x) for x in (s["llm"], llm.get("name", ""), llm.get("path", ""))).lower()
    if "mistral" in text:
        return "mistral"
    if "llama-2" in text or "llama2" in text or "llama_2" in text:
        return "llama2"
    return ""


class _Resolver:
    def __init__(self, config: Mapping[str, Any], metric: str, claim_datasets: Sequence[str]) -> None:
        self.config = config
        self.metric = metric
        self._claim_datasets = list(claim_datasets)
        self._seen: set[tuple[str, str, str, str]] = set()
        self.comparisons: list[dict[str, Any]] = []
        self.paper = {d: config["datasets"][d].get("paper_name") for d in config["datasets_enabled"]}

    def rows(self, exp: str, dataset: str, backbone: str) -> list[dict[str, Any]]:
        if dataset not in leaexp.datasets(self.config, exp):
            why = "not configured or disabled" if not leaexp.enabled(self.config, exp) else f"not enabled on {dataset}"
            raise _Untested(f"experiments.{exp} {why}")
        return [r for r in leaexp.rows(self.config, exp, dataset) if r["backbone"] == backbone]

    def backbones(self, exp: str) -> list[str]:
        return (
            list(leaexp.experiment(self.config, exp).get("backbones", [])) if leaexp.enabled(self.config, exp) else []
        )

    def _side(self, rows: list[dict[str, Any]], fw: str, pattern: str, other: str | None = None) -> list[str]:
        have = [r["variant"] for r in rows if r["framework"] == fw and r["x"] is None]
        if pattern == "*":
            out = have
        elif pattern == "*LE":
            out = [v for v in have if v != "base"]
        elif pattern == "*other":
            out = [v for v in have if v != other]
        else:
            out = [pattern] if pattern in have else []
        if not out:
            raise _Untested(f"no row {fw}/{pattern} in the experiment")
        return out

    def _add(
        self, dataset: str, backbone: str, kind: str, a: tuple[str, str], b: tuple[str, str], **extra: Any
    ) -> str | None:
        """Add a comparison; None when the part already has it (``*other`` repeats a named pair)."""
        metric = extra.get("metric", self.metric)
        seen = (key(dataset, backbone, *a), key(dataset, backbone, *b), kind, metric)
        if seen in self._seen:
            return None
        self._seen.add(seen)
        c = {
            "cid": f"c{len(self.comparisons)}",
            "dataset": dataset,
            "backbone": backbone,
            "kind": kind,
            "a": key(dataset, backbone, *a),
            "b": key(dataset, backbone, *b),
            "metric": self.metric,
            "terms": [[1, self.metric]],
            **extra,
        }
        envs = self._envs(c) if kind in ("greater", "k_gain") else {}
        if envs:
            c["envs"] = envs
        self.comparisons.append(c)
        return c["cid"]

    def _envs(self, c: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """The same comparison under each oracle / idrec setting of experiments.environments, where it has the runs."""
        exp = leaenvs.section(self.config)
        d, bb, _, _ = split_key(c["a"])
        if exp is None or d not in leaenvs.datasets(self.config) or bb not in exp.get("backbones", ["sasrec"]):
            return {}
        out = {}
        for le in exp["envs"]:
            if le_setting(self.config, le)["env"] not in ENV_KINDS:
                continue
            sides = []
            for k in (c["a"], c["b"]):
                _, _, fw, v = split_key(k)
                if v == "base" or not _reads_le(self.config, v, fw):
                    sides.append(k)
                elif fw in exp.get("frameworks", ["sa2c"]) and v in exp.get("variants", []):
                    sides.append(key(d, bb, fw, leaenvs.run_variant(self.config, v, le, d)))
                else:
                    sides.append(None)
            if None not in sides and sides != [c["a"], c["b"]]:
                out[le] = {"a": sides[0], "b": sides[1]}
        return out

    def part(self, part: Part, dataset: str, gain_cids: dict[str, str]) -> list[str]:
        self._seen = set()
        return [c for c in self._part(part, dataset, gain_cids) if c is not None]

    def _part(self, part: Part, dataset: str, gain_cids: dict[str, str]) -> list[str | None]:
        exp = part.experiment
        metrics = list(CASE_METRICS) if part.metrics == "all" else [self.metric]
        cids: list[str | None] = []
        if not leaexp.enabled(self.config, exp):
            raise _Untested(f"experiments.{exp} not configured or disabled")
        backbones = self.backbones(exp)
        if part.kind == "cross_gain":
            lfm = [d for d, p in self.paper.items() if p == "LFM" and d in self._claim_datasets]
            ind = [d for d, p in self.paper.items() if p == "Industry" and d in self._claim_datasets]
            if not lfm or not ind or self.paper.get(dataset) != "Industry":
                raise _Untested("needs the datasets standing in for LFM and for Industry (datasets.<d>.paper_name)")
            for bb in backbones:
                rows_i, rows_l = self.rows(exp, dataset, bb), self.rows(exp, lfm[0], bb)
                for pair in part.pairs:
                    for va in self._side(rows_i, *pair.a):
                        self._side(rows_l, pair.a[0], va)
                        self._side(rows_l, *pair.b)
                        cids.append(
                            self._add(dataset, bb, "cross_gain", (pair.a[0], va), pair.b,
                                      c=key(lfm[0], bb, pair.a[0], va), d=key(lfm[0], bb, *pair.b))
                        )  # fmt: skip
            return cids
        for bb in backbones:
            rows = self.rows(exp, dataset, bb)
            if part.kind in ("greater", "k_gain"):
                for pair in part.pairs:
                    for va in self._side(rows, *pair.a):
                        for vb in self._side(rows, pair.b[0], pair.b[1], other=va):
                            if (pair.a[0], va) == (pair.b[0], vb):
                                continue
                            if part.kind == "k_gain":
                                for fam in ("hr", "ndcg"):
                                    ks = sorted(int(m.split("@")[1]) for m in CASE_METRICS if m.startswith(f"{fam}@"))
                                    for k in ks[1:]:
                                        terms = [[1, f"{fam}@{ks[0]}"], [-1, f"{fam}@{k}"]]
                                        cids.append(
                                            self._add(dataset, bb, "k_gain", (pair.a[0], va), (pair.b[0], vb),
                                                      metric=f"{fam}@{ks[0]}-{fam}@{k}", terms=terms)
                                        )  # fmt: skip
                                continue
                            for m in metrics:
                                cids.append(
                                    self._add(dataset, bb, "greater", (pair.a[0], va), (pair.b[0], vb),
                                              metric=m, terms=[[1, m]])
                                )  # fmt: skip
            elif part.kind.startswith("sweep_"):
                pts = [r for r in rows if r["x"] is not None]
                at = [r for r in pts if math.isclose(float(r["x"]), float(part.value))]
                if not at:
                    raise _Untested(f"experiments.{exp} has no point at {part.value:g}")
                a = at[0]
                if part.kind == "sweep_best":
                    others = [r for r in pts if r is not a and not math.isclose(float(r["x"]), float(part.value))]
                    if not others:
                        raise _Untested(f"experiments.{exp} has no other point than {part.value:g}")
                    for r in others:
                        cids.append(self._add(dataset, bb, "greater", (a["framework"], a["variant"]),
                                              (r["framework"], r["variant"]), x_a=a["x"], x_b=r["x"]))  # fmt: skip
                elif part.kind == "sweep_gain":
                    below = sorted((r for r in pts if float(r["x"]) < float(part.value)), key=lambda r: r["x"])
                    if not below:
                        raise _Untested(f"experiments.{exp} has no point below {part.value:g}")
                    r = below[0]
                    cid = self._add(dataset, bb, "greater", (a["framework"], a["variant"]),
                                    (r["framework"], r["variant"]), x_a=a["x"], x_b=r["x"])  # fmt: skip
                    if cid is not None:
                        gain_cids[f"{bb}/{a['framework']}"] = cid
                    cids.append(cid)
                else:  # sweep_flat: the band is the gain part's effect
                    above = sorted((r for r in pts if float(r["x"]) > float(part.value)), key=lambda r: r["x"])
                    if not above:
                        raise _Untested(f"experiments.{exp} has no point above {part.value:g}")
                    gain = gain_cids.get(f"{bb}/{a['framework']}")
                    if gain is None:
                        raise _Untested("the gain up to the claimed point (the band) is not tested")
                    for r in above:
                        cids.append(self._add(dataset, bb, "sweep_flat", (r["framework"], r["variant"]),
                                              (a["framework"], a["variant"]), x_a=r["x"], x_b=a["x"],
                                              margin_of=gain))  # fmt: skip
            elif part.kind == "ablation":
                cids += self._ablation(part, dataset, bb, rows)
        if not cids:
            raise _Untested(f"experiments.{exp} has no backbone")
        return cids

    def _ablation(self, part: Part, dataset: str, bb: str, rows: list[dict[str, Any]]) -> list[str | None]:
        exp = leaexp.experiment(self.config, part.experiment)
        have = {(r["framework"], r["variant"]) for r in rows}
        cids = []
        only = {"datasets": exp.get("datasets"), "ablations": exp.get("ablations") or []}
        for p in leaexp._generated(self.config, part.experiment, only):
            le = p["overrides"].get("le")
            if le is None:
                continue
            full_le = leaexp._resolved(self.config, p["base"], dataset)["le"]
            s = le_setting(self.config, le)
            if part.value == "-IT":
                hit = not s["item_tokens"] and p["base"] == "LEASR"
            elif part.value == "-SM":
                hit = not s["state_loss"] and p["base"] == "LES"
            else:
                hit = _llm_family(self.config, full_le) == "mistral" and _llm_family(self.config, le) == "llama2"
            if not hit:
                continue
            for fw in sorted({f for f, _ in have}):
                if (fw, p["base"]) in have and (fw, p["name"]) in have:
                    cids.append(self._add(dataset, bb, "greater", (fw, p["base"]), (fw, p["name"])))
        if not cids:
            what = {
                "-IT": "an ablation of LEASR with an LE setting of item_tokens: false",
                "-SM": "an ablation of LES with an LE setting of state_loss: false",
                "llm": "LEASR with the Mistral-7B LE and an ablation with the Llama2-7B LE (GPU runs)",
            }[part.value]
            raise _Untested(f"experiments.{part.experiment} has no {what}")
        return cids


def plan(config: dict[str, Any]) -> dict[str, Any]:
    """The rows and sub-comparisons of the table for a config, with the run keys and LE settings they read.

    Adds the experiments' and the environments table's generated variants to ``config['variants']`` (idempotent).
    """
    exp = section(config)
    if exp is None:
        return {"metric": DEFAULTS["metric"], "alpha": DEFAULTS["alpha"], "rows": [], "comparisons": []}
    leaexp.add_generated_variants(config)
    leaenvs.add_generated_variants(config)
    metric = exp["metric"]
    if metric not in CASE_METRICS:
        raise ConfigError("experiments.claims.metric", f"'{metric}' is not one of {', '.join(CASE_METRICS)}")
    ds_list = datasets(config)
    res = _Resolver(config, metric, ds_list)
    rows = []
    for claim in CLAIMS:
        for d in ds_list:
            paper_name = res.paper.get(d)
            gain_cids: dict[str, str] = {}
            parts = []
            for part in claim.parts:
                rec: dict[str, Any] = {"text": part.text, "experiment": part.experiment,
                                       "quantifier": part.quantifier, "cids": [], "reason": ""}  # fmt: skip
                if part.paper_datasets is not None and paper_name and paper_name not in part.paper_datasets:
                    rec["status"] = "n/a"
                    rec["reason"] = f"the paper claims this on {'/'.join(part.paper_datasets)} only"
                else:
                    try:
                        rec["cids"] = res.part(part, d, gain_cids)
                        rec["status"] = "planned"
                    except _Untested as exc:
                        rec["status"] = "untested"
                        rec["reason"] = str(exc)
                parts.append(rec)
            rows.append({"claim": claim.id, "dataset": d, "paper_dataset": paper_name, "parts": parts})
    comps = {c["cid"]: c for c in res.comparisons}
    seeds = config.get("seeds", [0])
    for r in rows:
        les: list[str] = []
        for p in r["parts"]:
            for cid in p["cids"]:
                for k in (comps[cid]["a"], comps[cid]["b"]):
                    d, _, fw, v = split_key(k)
                    if _reads_le(config, v, fw):
                        le = variant_settings(config, v, fw, d)["le"]
                        if le not in les:
                            les.append(le)
        r["le"] = les
        # the fewest replicates any of the row's LEs has over the seeds (an ablation LE may have its own R)
        r["le_replicates"] = min(le_replicates_used(config, seeds, le) for le in les) if les else 0
    env_les = sorted({le for c in res.comparisons for le in c.get("envs", {})})
    used = {split_key(k)[3] for k in run_keys({"comparisons": res.comparisons})}
    labels = {v: config["variants"][v].get("label") or v for v in sorted(used) if v != "base"}
    env_kinds = {le: le_setting(config, le)["env"] for le in config.get("le", {}).get("settings", {})}
    return {"metric": metric, "alpha": float(exp["alpha"]), "rows": rows, "comparisons": res.comparisons,
            "env_settings": env_les, "labels": labels, "env_kinds": env_kinds}  # fmt: skip


def run_keys(p: Mapping[str, Any]) -> list[str]:
    """Every run key the plan reads (both sides of every comparison, the cross-dataset ones and the environments')."""
    keys: set[str] = set()
    for c in p["comparisons"]:
        keys |= {c[s] for s in ("a", "b", "c", "d") if c.get(s)}
        for e in c.get("envs", {}).values():
            keys |= {e["a"], e["b"]}
    return sorted(keys)


def quality_keys(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(dataset, LE setting) of every le_quality.json the rows show: their LE settings and the environments'."""
    out = {(r["dataset"], le) for r in p["rows"] for le in r["le"]}
    out |= {(c["dataset"], le) for c in p["comparisons"] for le in c.get("envs", {})}
    return sorted(out)


# --- computing the table (lea report-claims) -----------------------------------------------------------------------


def _load_side(
    k: str, spec: Mapping[str, Any], cache: dict[str, Any], metrics: Sequence[str]
) -> tuple[pl.DataFrame | None, list[str]]:
    """The per-case metrics of every seed of one run key (column ``seed`` added), and the missing files."""
    from pathlib import Path

    import polars as pl

    from lea.report.tables import load_run

    if k in cache:
        return cache[k]
    frames, missing = [], []
    for seed, d in spec["runs"].get(k, []):
        files = [Path(d) / "metrics.json", Path(d) / "ranks.parquet"]
        absent = [str(f) for f in files if not f.exists()]
        if absent:
            missing += absent
            continue
        cases = load_run(d, metrics)["cases"]
        frames.append(cases.with_columns(pl.lit(int(seed), dtype=pl.Int64).alias("seed")))
    if not spec["runs"].get(k):
        missing.append(f"{k} (no run folders in the spec)")
    cache[k] = (pl.concat(frames) if frames else None, missing)
    return cache[k]


CASE_KEYS = ["seed", "sequence", "position"]


def _paired(a: pl.DataFrame, b: pl.DataFrame, terms: Sequence[Sequence[Any]]) -> pl.DataFrame:
    """(seed, sequence, position, diff) where diff = the sum of sign * (a[m] - b[m]) over the terms."""
    import polars as pl

    from lea.report.stats import paired_differences

    out: pl.DataFrame | None = None
    for sign, m in terms:
        d = paired_differences(a, b, m, keys=CASE_KEYS).with_columns(pl.col("diff") * float(sign))
        if out is None:
            out = d
        else:
            out = out.join(d, on=CASE_KEYS, suffix="_t").select(
                *CASE_KEYS, (pl.col("diff") + pl.col("diff_t")).alias("diff")
            )
    assert out is not None
    return out


def _seed_diffs(paired: pl.DataFrame) -> list[tuple[int, float]]:
    import polars as pl

    g = paired.group_by("seed").agg(pl.col("diff").mean()).sort("seed")
    return [(int(s), float(v)) for s, v in g.iter_rows()]


def _compute(c: Mapping[str, Any], a_key: str, b_key: str, spec: Mapping[str, Any], cache: dict[str, Any],
             margin: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Effect, CI, p and per-seed differences of one comparison (the keys may be the environments' runs)."""
    import numpy as np

    from lea.report.stats import difference_summary, margin_test, mean_std, welch_summary

    a, miss_a = _load_side(a_key, spec, cache, CASE_METRICS)
    b, miss_b = _load_side(b_key, spec, cache, CASE_METRICS)
    out: dict[str, Any] = {"missing": miss_a + miss_b}
    if c["kind"] == "cross_gain":
        cc, miss_c = _load_side(c["c"], spec, cache, CASE_METRICS)
        dd, miss_d = _load_side(c["d"], spec, cache, CASE_METRICS)
        out["missing"] += miss_c + miss_d
        if a is None or b is None or cc is None or dd is None:
            return {**out, "status": "missing"}
        m = c["metric"]
        # relative gain per case: (A - B) / mean(B) on each dataset (the paper's "relative improvement")
        ind = _paired(a, b, [[1, m]])
        lfm = _paired(cc, dd, [[1, m]])
        base_i, base_l = float(b[m].mean()), float(dd[m].mean())
        if base_i == 0.0 or base_l == 0.0:
            return {**out, "status": "missing", "missing": ["a base row's metric is 0: no relative gain"]}
        rel_l = lfm["diff"].to_numpy() / base_l
        rel_i = ind["diff"].to_numpy() / base_i
        s = welch_summary(rel_l, rel_i)
        per_l = dict(_seed_diffs(lfm))
        per_i = dict(_seed_diffs(ind))
        seeds = sorted(set(per_l) & set(per_i))
        per_seed = [(sd, per_l[sd] / base_l - per_i[sd] / base_i) for sd in seeds]
        out.update(s)
        out.update({"status": "ok", "seeds": [sd for sd, _ in per_seed], "seed_diffs": [v for _, v in per_seed]})
        out["seed_mean"], out["seed_std"] = mean_std(out["seed_diffs"])
        out["seed_p"] = difference_summary(out["seed_diffs"])["p"]
        return out
    if a is None or b is None:
        return {**out, "status": "missing"}
    paired = _paired(a, b, c["terms"])
    if paired.height == 0:
        return {**out, "status": "missing", "missing": [*out["missing"], "no (seed, case) in common"]}
    diff = paired["diff"].to_numpy().astype(np.float64)
    out.update(difference_summary(diff))
    per_seed = _seed_diffs(paired)
    out.update({"status": "ok", "seeds": [s for s, _ in per_seed], "seed_diffs": [v for _, v in per_seed]})
    out["seed_mean"], out["seed_std"] = mean_std(out["seed_diffs"])
    # the seeds as the unit (S - 1 df): a check on the (seed, case) pairing, which takes the cases as independent
    out["seed_p"] = difference_summary(out["seed_diffs"])["p"]
    if c["kind"] == "sweep_flat":
        out["margin"] = margin if margin is not None and not math.isnan(margin) else math.nan
        out["p"], out["side"] = margin_test(diff, out["margin"] if out["margin"] > 0 else 0.0)
    return out


def _direction(c: Mapping[str, Any], r: Mapping[str, Any], alpha: float) -> str:
    """``for`` / ``against`` the claim when significant at alpha on the adjusted p, else ``none``."""
    p = r.get("p_holm", math.nan)
    if r.get("status") != "ok" or p is None or math.isnan(p) or not p < alpha:
        return "none"
    if c["kind"] == "sweep_flat":
        return "for" if r["side"] == "within" else "against"
    return "for" if r["mean"] > 0 else "against" if r["mean"] < 0 else "none"


def _support(c: Mapping[str, Any], r: Mapping[str, Any]) -> float:
    """How much a sub-comparison supports the claim, in [-1, 1]: 1 - p when the estimate points the claimed way,
    p - 1 when it points against (the least favourable sub-comparison has the lowest); -2 when it has no p."""
    p = r.get("p", math.nan)
    if r.get("status") != "ok" or p is None or math.isnan(p):
        return -2.0
    way = r["side"] == "within" if c["kind"] == "sweep_flat" else r["mean"] > 0
    return (1.0 - p) if way else (p - 1.0)


def part_verdict(directions: Sequence[str], quantifier: str) -> str:
    m = len(directions)
    n_for, n_against = directions.count("for"), directions.count("against")
    if quantifier == "most":
        if n_for > m / 2:
            return "agrees"
        return "disagrees" if n_against >= m / 2 else "inconclusive"
    if m and n_for == m:
        return "agrees"
    return "disagrees" if n_against else "inconclusive"


def row_verdict(part_verdicts: Sequence[str]) -> str:
    if not part_verdicts:
        return "not tested"
    if all(v == "agrees" for v in part_verdicts):
        return "agrees"
    return "disagrees" if "disagrees" in part_verdicts else "inconclusive"


def build(spec: Mapping[str, Any]) -> tuple[pl.DataFrame, pl.DataFrame, list[dict[str, Any]]]:
    """(claims table, claims_detail table, the LE diagnostics rows) of a spec: the plan plus ``runs``
    ({key: [[seed, dir], ...]}) and ``quality`` ({"dataset/le": le_quality.json path})."""

    from lea.report.stats import holm

    alpha = float(spec["alpha"])
    comps = {c["cid"]: c for c in spec["comparisons"]}
    cache: dict[str, Any] = {}
    results: dict[str, dict[str, Any]] = {}
    for c in spec["comparisons"]:  # the bands of sweep_flat need their gain's effect first
        if c["kind"] != "sweep_flat":
            results[c["cid"]] = _compute(c, c["a"], c["b"], spec, cache)
    for c in spec["comparisons"]:
        if c["kind"] == "sweep_flat":
            g = results.get(c["margin_of"], {})
            margin = g.get("mean", math.nan) if g.get("status") == "ok" else math.nan
            results[c["cid"]] = _compute(c, c["a"], c["b"], spec, cache, margin=margin)
    # Holm over every sub-comparison a verdict rests on (all rows, all datasets): those of the parts whose every
    # sub-comparison has its runs (a part with runs missing is not tested, so its others take no part either)
    complete = [
        p["cids"] for row in spec["rows"] for p in row["parts"]
        if p["status"] == "planned" and all(results[cid]["status"] == "ok" for cid in p["cids"])
    ]  # fmt: skip
    cids = [cid for part in complete for cid in part]
    for cid, p in zip(cids, holm([results[cid]["p"] for cid in cids]), strict=True):
        results[cid]["p_holm"] = p
    for cid, r in results.items():
        r["direction"] = _direction(comps[cid], r, alpha)
    env_results: dict[tuple[str, str], dict[str, Any]] = {}
    for c in spec["comparisons"]:
        for le, e in c.get("envs", {}).items():
            env_results[(c["cid"], le)] = _compute(c, e["a"], e["b"], spec, cache)
    diag = _diagnostics(spec)
    rows, detail = [], []
    for row in spec["rows"]:
        claim = CLAIMS_BY_ID[row["claim"]]
        verdicts, reasons, partial = [], [], False
        row_cids: list[str] = []
        for p in row["parts"]:
            if p["status"] == "n/a":
                continue
            if p["status"] == "untested":
                partial = True
                reasons.append(f"{p['text']}: {p['reason']}")
                continue
            missing = [m for cid in p["cids"] for m in results[cid]["missing"] if results[cid]["status"] != "ok"]
            if missing:
                partial = True
                reasons.append(f"{p['text']}: runs missing ({', '.join(sorted(set(missing))[:3])})")
                continue
            verdicts.append(part_verdict([results[cid]["direction"] for cid in p["cids"]], p["quantifier"]))
            row_cids += p["cids"]
        verdict = row_verdict(verdicts)
        if not verdicts and not reasons:
            reasons = [p["reason"] for p in row["parts"] if p["reason"]][:1]
        rec: dict[str, Any] = {
            "claim": row["claim"],
            "source": claim.source,
            "claim_text": claim.short,
            "dataset": row["dataset"],
            "paper_dataset": row["paper_dataset"],
            "verdict": verdict,
            "partial": bool(verdicts) and partial,
            "reason": "; ".join(reasons),
            "n_comparisons": len(row_cids),
            "n_for": sum(results[c]["direction"] == "for" for c in row_cids),
            "n_against": sum(results[c]["direction"] == "against" for c in row_cids),
            "le_settings": ", ".join(row["le"]),
            "n_le_replicates": row["le_replicates"],
            "le_diagnostics": "; ".join(q["text"] for le in row["le"] for (d, q_le, _), q in diag.items()
                                        if d == row["dataset"] and q_le == le),
        }  # fmt: skip
        shown = min(row_cids, key=lambda cid: _support(comps[cid], results[cid])) if row_cids else None
        rec.update(_shown_columns(comps.get(shown), results.get(shown), spec))
        for le in spec.get("env_settings", []):
            e = env_results.get((shown, le)) if shown else None
            ok = e is not None and e["status"] == "ok"
            rec[f"{le}:effect"] = e["mean"] if ok else None
            rec[f"{le}:p"] = e["p"] if ok else None
            rec[f"{le}:comparisons"] = sum(
                (c, le) in env_results and env_results[(c, le)]["status"] == "ok" for c in row_cids
            )
        rows.append(rec)
        for p in row["parts"]:
            for cid in p["cids"]:
                c, r = comps[cid], results[cid]
                d = {"claim": row["claim"], "dataset": row["dataset"], "part": p["text"], "quantifier": p["quantifier"],
                     **_shown_columns(c, r, spec), "kind": c["kind"], "direction": r["direction"],
                     "margin": r.get("margin"), "status": r["status"],
                     "missing": ", ".join(r["missing"]) if r["status"] != "ok" else ""}  # fmt: skip
                for le in spec.get("env_settings", []):
                    e = env_results.get((cid, le))
                    ok = e is not None and e["status"] == "ok"
                    d[f"{le}:effect"] = e["mean"] if ok else None
                    d[f"{le}:p"] = e["p"] if ok else None
                detail.append(d)
    return _frame(rows), _frame(detail), list(diag.values())


def _frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(records, infer_schema_length=None) if records else pl.DataFrame()


def _label(k: str | None, labels: Mapping[str, str]) -> str:
    if not k:
        return ""
    from lea.report.tables import BACKBONE_NAMES, FRAMEWORK_NAMES

    _, bb, fw, v = split_key(k)
    name = FRAMEWORK_NAMES.get(fw, fw) if v == "base" else f"{FRAMEWORK_NAMES.get(fw, fw)} {labels.get(v) or v}"
    return f"{BACKBONE_NAMES.get(bb, bb)} {name}"


def comparison_text(c: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    a, b = _label(c["a"], labels), _label(c["b"], labels)
    if c["kind"] == "cross_gain":
        return f"relative gain of {a} over {b}: {split_key(c['c'])[0]} > {c['dataset']}"
    if c["kind"] == "sweep_flat":
        return f"|{a} - {b}| < the gain up to {b}"
    if c["kind"] == "k_gain":
        return f"gain of {a} over {b}: {c['metric'].replace('-', ' > ')}"
    return f"{a} > {b}"


def _shown_columns(c: Mapping[str, Any] | None, r: Mapping[str, Any] | None, spec: Mapping[str, Any]) -> dict:
    labels = spec.get("labels", {})
    if c is None or r is None:
        keys = ["comparison", "a", "b", "metric", "effect", "ci_low", "ci_high", "p", "p_holm", "n_pairs",
                "seeds", "seed_diff_mean", "seed_diff_std", "seed_diffs", "seed_p"]  # fmt: skip
        return dict.fromkeys(keys)
    ok = r["status"] == "ok"
    return {
        "comparison": comparison_text(c, labels),
        "a": c["a"],
        "b": c["b"],
        "metric": c["metric"],
        "effect": r.get("mean") if ok else None,
        "ci_low": r.get("ci_low") if ok else None,
        "ci_high": r.get("ci_high") if ok else None,
        "p": r.get("p") if ok else None,
        "p_holm": r.get("p_holm") if ok else None,
        "n_pairs": r.get("n") if ok else None,
        "seeds": len(r.get("seeds", [])) if ok else None,
        "seed_diff_mean": r.get("seed_mean") if ok else None,
        "seed_diff_std": r.get("seed_std") if ok else None,
        "seed_diffs": " ".join(f"{v:+.4f}" for v in r.get("seed_diffs", [])) if ok else "",
        "seed_p": r.get("seed_p") if ok else None,
    }


def _diagnostics(spec: Mapping[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """(dataset, LE setting, LE replicate) -> its le_quality.json diagnostics (lea.report.environments.diagnostics)
    and a text. ``quality`` holds replicate 0 of every setting; ``quality_replicates`` ({"dataset/le": {r: path}})
    the other replicates of the LLM LEs (``le.replicates`` > 1: recommender seed s reads replicate s mod R)."""
    from pathlib import Path

    files = [(name, 0, path) for name, path in spec.get("quality", {}).items()]
    files += [(name, int(r), path) for name, reps in spec.get("quality_replicates", {}).items()
              for r, path in reps.items()]  # fmt: skip
    out = {}
    for name, r, path in sorted(files):
        d, le = name.split("/", 1)
        if not Path(path).exists():
            continue
        env = spec.get("env_kinds", {}).get(le, "llm")
        q = leaenvs.diagnostics({"envs": [{"le": le, "env": env, "quality": path}]}).row(0, named=True)
        label = f"{le} replicate {r}" if r or name in spec.get("quality_replicates", {}) else le
        text = (
            f"{label}: reward acc {q['reward.pairwise_accuracy']:.3f} (p {_p(q['reward.p'])}), state HR@10 "
            f"{q['state.hr@10']:.3f} vs chance {q['state.chance']:.3f} (p {_p(q['state.p'])}), choice acc "
            f"{q['choice.accuracy']:.3f} vs {q['choice.chance']:.3f} (p {_p(q['choice.p'])})"
        )
        out[(d, le, r)] = {"dataset": d, **q, "replicate": r, "text": text}
    return out


def _p(p: Any) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    return f"{p:.2g}"


def _num(v: Any, fmt: str = "+.4f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return format(v, fmt)


def to_markdown(df: pl.DataFrame, detail: pl.DataFrame, diag: Sequence[Mapping[str, Any]], spec: Mapping[str, Any]):
    import polars as pl

    from lea.report.tables import metric_label, spread_note

    alpha = float(spec["alpha"])
    m = len(detail.filter(pl.col("status") == "ok")) if detail.height else 0
    counts = {v: (df["verdict"] == v).sum() if df.height else 0 for v in VERDICTS}
    envs = list(spec.get("env_settings", []))
    lines = [f"# {TITLE}", ""]
    lines.append(
        "Verdicts: " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS) + f" (of {df.height} rows, one per claim and "
        f"dataset; α = {alpha:g} on Holm-adjusted p-values over the table's {m} sub-comparisons)."
    )
    lines.append("")
    head = ["#", "claim", "dataset", "verdict", "sig. for / m", "least favourable comparison", "metric",
            "effect [95% CI]", "p Holm (raw)", "per-seed Δ", "LE", *[f"{le} effect (p)" for le in envs]]  # fmt: skip
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in df.iter_rows(named=True):
        verdict = f"**{r['verdict']}**" + (" (partly tested)" if r["partial"] else "")
        if r["verdict"] == "not tested":
            cells = [r["claim"], f"{r['source']}: {r['claim_text']}", r["dataset"], verdict, "–",
                     r["reason"], "–", "–", "–", "–", "–", *["–" for _ in envs]]  # fmt: skip
        else:
            metric = r["metric"] or ""
            metric = " − ".join(metric_label(x) for x in metric.split("-")) if metric else "–"
            eff = f"{_num(r['effect'])} [{_num(r['ci_low'])}, {_num(r['ci_high'])}]"
            seeds = (
                f"{_num(r['seed_diff_mean'])} ± {_num(r['seed_diff_std'], '.4f')} ({r['seeds']} seeds, "
                f"p {_p(r['seed_p'])})"
                if r["seeds"]
                else "–"
            )
            against = f", {r['n_against']} against" if r["n_against"] else ""
            cells = [r["claim"], f"{r['source']}: {r['claim_text']}", r["dataset"], verdict,
                     f"{r['n_for']} of {r['n_comparisons']}{against}", r["comparison"] or "–", metric, eff,
                     f"{_p(r['p_holm'])} ({_p(r['p'])})", seeds, r["le_settings"] or "none"]  # fmt: skip
            for le in envs:
                n = r.get(f"{le}:comparisons") or 0
                e = r.get(f"{le}:effect")
                cells.append("–" if e is None else f"{_num(e)} (p {_p(r.get(f'{le}:p'))}; {n} sub-comparisons)")
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    spread = spread_note(df.select("n_le_replicates")) if df.height else ""
    lines += [
        "",
        "Each row tests one claim on one dataset through its sub-comparisons A > B (claims_detail.csv lists them "
        "all). Effect: the mean paired difference A − B of the metric over the test cases, a case being a (seed, "
        "sequence, position) both rows have, over the seeds both rows have; 95% CI from the paired t distribution; "
        "p: two-sided paired t-test (scipy.stats.ttest_rel). The row shows its least favourable sub-comparison "
        "(the one whose estimate points least the claimed way, by its p-value) and how many of its m "
        "sub-comparisons are significant in the claimed direction.",
        f"Multiple comparisons: Holm–Bonferroni over all {m} sub-comparisons of the table (every row and "
        f"dataset); a sub-comparison is significant when its adjusted p < α = {alpha:g}; the unadjusted p is in "
        "brackets. The environments' columns (the same comparison with the control environment's runs in place "
        "of the LLM LE's) give unadjusted p-values and take no part in the verdicts.",
        'Verdict: *agrees* when every sub-comparison is significant in the claimed direction ("most" claims: more '
        'than half), *disagrees* when one is significant against it ("most": at least half), else '
        '*inconclusive*; *not tested* when the config has no runs for it; "partly tested": some part of the '
        "claim had no runs (the reason is in claims.csv).",
        "Relative gain (claim 3, Industry): per case (A − B) / mean(B) on each dataset, compared by Welch's "
        't-test (the cases of two datasets are not paired). "Flattens" (claim 8): each larger LE subset '
        "differs from 10% by less than the gain from the smallest subset to 10% (two one-sided tests against "
        "that band; significant against when the estimate lies outside the band, doubled one-sided p; no band, so "
        "never significant, when that gain is not positive).",
        "Per-seed Δ: each seed's mean difference, mean ± sample std over the seeds, and the p of the one-sample "
        "t-test of those differences (the seeds as the unit, S − 1 degrees of freedom; it takes no part in the "
        f"verdicts, which pair the cases of every seed). {spread}",
    ]
    if diag:
        lines += ["", "## The LE settings' diagnostics (le_quality.json of each LE replicate)", ""]
        lines += ["| dataset | LE setting | LE replicate | env | reward pairwise acc (p) | state HR@10 (chance, p) | "
                  "choice acc (chance, p) |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for q in diag:
            lines.append(
                f"| {q['dataset']} | {q['le']} | {q['replicate']} | {q['env']} | {q['reward.pairwise_accuracy']:.3f} "
                f"({_p(q['reward.p'])}) | {q['state.hr@10']:.3f} ({q['state.chance']:.3f}, {_p(q['state.p'])}) | "
                f"{q['choice.accuracy']:.3f} ({q['choice.chance']:.3f}, {_p(q['choice.p'])}) |"
            )
        lines += ["", "p: one-sided binomial test against the chance level."]
    lines += ["", "## The claims in the paper's words", ""]
    for c in CLAIMS:
        parts = "; ".join(f"{p.text}" + (f" ({'/'.join(p.paper_datasets)})" if p.paper_datasets else "")
                          for p in c.parts)  # fmt: skip
        lines.append(f'{c.id}. {c.source}: "{c.words}" Tested as: {parts}.')
    return "\n".join(lines) + "\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", required=True, help="JSON (or a JSON/YAML file): the plan with runs and quality")
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-detail-csv", required=True)


def main(args: argparse.Namespace) -> int:
    from lea.cli import parse_settings
    from lea.io import atomic_path, write_text

    spec = parse_settings(args.spec)
    df, detail, diag = build(spec)
    with atomic_path(args.out_csv) as tmp:
        df.write_csv(tmp)
    with atomic_path(args.out_detail_csv) as tmp:
        detail.write_csv(tmp)
    write_text(to_markdown(df, detail, diag, spec), args.out_md)
    return 0
