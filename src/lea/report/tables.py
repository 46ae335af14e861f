"""Result tables (paper Tables 1-5 and the data behind Figures 4-5): ours (mean ± std over seeds) beside the paper's.

A table is built from a *spec* the Snakemake rule passes as JSON (lea.report.experiments resolves it)::

    {"name": "table2", "title": "...", "dataset": "lfm", "paper_dataset": "LFM", "dataset_note": "...",
     "rows": [{"backbone": "sasrec", "framework": "sa2c", "variant": "LEASR", "label": "LEASR",
               "group": "sasrec/sa2c", "x": null, "point": null, "runs": ["results/lfm/runs/.../seed0", ...]}]}

The CSV is wide: one line per row, and per metric ``<m>_mean``, ``<m>_std``, ``<m>_paper``, ``<m>_diff`` (ours −
paper), ``<m>_mark`` (``best``/``second``, ``*`` appended when significant) and ``<m>_p``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from lea.errors import InputError
from lea.io import read_json, read_parquet
from lea.report.paper import PaperResults
from lea.report.stats import ALPHA, METRICS, TESTS, mean_std, per_case, pooled_cases, rank_marks

FRAMEWORK_NAMES = {"normal": "Normal", "snqn": "SNQN", "sa2c": "SA2C"}
BACKBONE_NAMES = {"sasrec": "SASRec", "gru": "GRU4Rec"}
RANK_COLUMNS = {
    "split": pl.Utf8,
    "sequence": (pl.Int32, pl.Int64),
    "position": (pl.Int32, pl.Int64),
    "rank": (pl.Int32, pl.Int64),
}
TITLES = {
    "table1": "Table 1: Dataset statistics",
    "table2": "Table 2: Performance of all variants (both backbones, all frameworks)",
    "table3": "Table 3: Effect of action augmentation on supervised learning (sv) and Q-learning (q)",
    "table4": "Table 4: Effect of LE as reward function",
    "table5": "Table 5: Effect of LE as state model",
    "fig4a": "Figure 4a: LEASR with different weights w_ah of the supervised augmentation loss",
    "fig4b": "Figure 4b: LEASR with different weights w_aq of the Q-learning augmentation loss",
    "fig5a": "Figure 5a: LEASR with the LE trained on different fractions of the training data",
    "fig5b": "Figure 5b: ablations of the LE (-IT, -SM, the LLM)",
}


def metric_label(m: str) -> str:
    name, _, k = m.partition("@")
    return f"{'HR' if name == 'hr' else 'NG'}@{k}"


def load_run(run_dir: str | Path, metrics: Sequence[str] = METRICS) -> dict[str, Any]:
    """metrics.json's test metrics and the per-case test metrics of one run; errors name the file."""
    d = Path(run_dir)
    mpath = d / "metrics.json"
    m = read_json(mpath, "train")
    if not isinstance(m, dict) or not isinstance(m.get("test"), dict):
        raise InputError(mpath, "key 'test' is missing or not an object (expected {'test': {'hr@5': ..}})")
    test: dict[str, float] = {}
    for k in metrics:
        if k not in m["test"]:
            raise InputError(mpath, f"key 'test.{k}' is missing (have: {', '.join(m['test'])})")
        try:
            test[k] = float(m["test"][k])
        except (TypeError, ValueError):
            raise InputError(mpath, f"key 'test.{k}' is not a number: {m['test'][k]!r}") from None
    ranks = read_parquet(d / "ranks.parquet", "train", RANK_COLUMNS)
    cases = per_case(ranks, metrics)
    if cases.height == 0:
        raise InputError(d / "ranks.parquet", "no rows with split == 'test'")
    return {"test": test, "cases": cases, "wall_time_s": m.get("wall_time_s"), "dir": str(d)}


def _display(row: Mapping[str, Any]) -> str:
    if row["variant"] == "base":
        return FRAMEWORK_NAMES.get(row["framework"], row["framework"])
    return row.get("label") or row["variant"]


def build(
    spec: Mapping[str, Any], paper: PaperResults | None, test: str = "ttest", metrics: Sequence[str] = METRICS
) -> pl.DataFrame:
    """The wide result table of one spec (see the module doc)."""
    name = spec["name"]
    records: list[dict[str, Any]] = []
    pooled: dict[int, pl.DataFrame] = {}
    for i, row in enumerate(spec["rows"]):
        runs = [load_run(r, metrics) for r in row["runs"]]
        rec: dict[str, Any] = {
            "dataset": spec["dataset"],
            "paper_dataset": spec.get("paper_dataset"),
            "backbone": row["backbone"],
            "framework": row["framework"],
            "variant": row["variant"],
            "model": _display(row),
            "group": row.get("group") or f"{row['backbone']}/{row['framework']}",
            "x": row.get("x"),
            "point": row.get("point"),
            "n_seeds": len(runs),
            "n_le_replicates": row.get("le_replicates"),
        }
        prow = (
            paper.row(name, spec.get("paper_dataset"), row["backbone"], row["framework"], row["variant"])
            if paper is not None
            else None
        )
        for m in metrics:
            mean, std = mean_std([r["test"][m] for r in runs])
            p = prow.get(m) if prow else None
            rec[f"{m}_mean"] = mean
            rec[f"{m}_std"] = std
            rec[f"{m}_paper"] = p
            rec[f"{m}_diff"] = None if p is None else mean - p
        pooled[i] = pooled_cases([r["cases"] for r in runs], metrics)
        rec["n_cases"] = pooled[i].height
        records.append(rec)
    # marks within each group (backbone/framework block)
    for m in metrics:
        for rec in records:
            rec[f"{m}_mark"] = ""
            rec[f"{m}_p"] = None
        groups: dict[str, list[int]] = {}
        for i, rec in enumerate(records):
            groups.setdefault(rec["group"], []).append(i)
        for idx in groups.values():
            marks = rank_marks({i: records[i][f"{m}_mean"] for i in idx}, {i: pooled[i] for i in idx}, m, test)
            for i, mk in marks.items():
                tag = "best" if mk["best"] else "second" if mk["second"] else ""
                records[i][f"{m}_mark"] = tag + ("*" if mk["sig"] else "")
                records[i][f"{m}_p"] = mk["p"]
    schema: dict[str, Any] = {
        "dataset": pl.Utf8,
        "paper_dataset": pl.Utf8,
        "backbone": pl.Utf8,
        "framework": pl.Utf8,
        "variant": pl.Utf8,
        "model": pl.Utf8,
        "group": pl.Utf8,
        "x": pl.Float64,
        "point": pl.Utf8,
        "n_seeds": pl.Int64,
        "n_le_replicates": pl.Int64,
        "n_cases": pl.Int64,
    }
    for m in metrics:
        schema |= {
            f"{m}_mean": pl.Float64,
            f"{m}_std": pl.Float64,
            f"{m}_paper": pl.Float64,
            f"{m}_diff": pl.Float64,
            f"{m}_mark": pl.Utf8,
            f"{m}_p": pl.Float64,
        }
    return pl.DataFrame(records, schema=schema, orient="row") if records else pl.DataFrame(schema=schema)


def _num(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}f}"


def _ours(rec: Mapping[str, Any], m: str) -> str:
    cell = f"{_num(rec[f'{m}_mean'])} ± {_num(rec[f'{m}_std'])}" if rec["n_seeds"] > 1 else _num(rec[f"{m}_mean"])
    mark = rec.get(f"{m}_mark") or ""
    if mark.startswith("best"):
        cell = f"**{cell}**"
    elif mark.startswith("second"):
        cell = f"<u>{cell}</u>"
    return cell + ("\\*" if mark.endswith("*") else "")


def _diff(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.4f}"


def spread_note(df: pl.DataFrame) -> str:
    """What the ± of the table covers: recommender seeds only, or seeds and LE replicates (``le.replicates``)."""
    reps = df["n_le_replicates"].to_list() if df.height and "n_le_replicates" in df.columns else []
    le_reps = sorted({int(r) for r in reps if r})
    if any(r is None for r in reps):
        return "The ± covers the recommender seeds (LE replicates not recorded in the spec)."
    if not le_reps:
        return "The ± covers the recommender seeds only (no row uses the LE)."
    if le_reps == [1]:
        return (
            "The ± covers the recommender seeds only: the rows with the LE read a single LE replicate "
            "(le.replicates = 1, or the seeds of the table all read the same replicate), so the LE's own variance "
            "is not in it."
        )
    n = "/".join(map(str, le_reps))
    return (
        f"The ± of rows with the LE covers the recommender seeds and {n} LE replicates (seed s reads LE "
        "replicate s mod le.replicates, each trained with its own seed); rows without the LE: seeds only."
    )


def footer(df: pl.DataFrame, test: str, with_paper: bool = True) -> list[str]:
    seeds = sorted(set(df["n_seeds"].to_list())) if df.height else []
    cases = sorted(set(df["n_cases"].to_list())) if df.height else []
    lines = [
        f"Ours: mean ± sample std (ddof = 1) of the test metric over {'/'.join(map(str, seeds)) or 0} seeds "
        f"(metrics.json of each run; {'/'.join(map(str, cases)) or 0} test cases). NG is NDCG. {spread_note(df)}",
        "**Bold**: best in its backbone/framework block; <u>underlined</u>: second best; "
        f"\\*: p < {ALPHA} against the second best by a {TESTS[test]} over the test cases, paired by "
        "(sequence, position), each case's metric (from ranks.parquet) averaged over seeds.",
    ]
    if with_paper:
        lines.append(
            "paper: the paper's number (config/paper_results.yaml); Δ = ours − paper; – where the paper has "
            "no such row or dataset."
        )
    return lines


def to_markdown(
    df: pl.DataFrame,
    spec: Mapping[str, Any],
    test: str,
    metrics: Sequence[str] = METRICS,
    paper_note: str | None = None,
) -> str:
    name = spec["name"]
    lines = [f"# {spec.get('title') or TITLES.get(name, name)}", "", f"Dataset: {spec.get('dataset_note', '')}", ""]
    is_fig = name.startswith("fig")
    head = ["Backbone", "Framework", "Model"] + (["Point"] if is_fig else [])
    sub = []
    for m in metrics:
        sub += [f"{metric_label(m)} ours"] if is_fig else [f"{metric_label(m)} ours", "paper", "Δ"]
    lines.append("| " + " | ".join(head + sub) + " |")
    lines.append("|" + "---|" * (len(head) + len(sub)))
    prev = None
    for rec in df.iter_rows(named=True):
        bb = BACKBONE_NAMES.get(rec["backbone"], rec["backbone"])
        fw = FRAMEWORK_NAMES.get(rec["framework"], rec["framework"])
        key = (bb, fw)
        cells = [bb if key != prev else "", fw if key != prev else "", rec["model"]]
        prev = key
        if is_fig:
            cells.append(rec["point"] or "")
        for m in metrics:
            cells.append(_ours(rec, m))
            if not is_fig:
                cells += [_num(rec[f"{m}_paper"]), _diff(rec[f"{m}_diff"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *footer(df, test, with_paper=not is_fig)]
    if paper_note:
        lines += ["", paper_note]
    return "\n".join(lines) + "\n"


def table1(entries: Sequence[Mapping[str, Any]], paper: PaperResults | None) -> pl.DataFrame:
    """Dataset statistics: entries are {dataset, paper_dataset, stats (path of stats.json)}."""
    rows = []
    for e in entries:
        path = e["stats"]
        stats = read_json(path, "preprocess")
        t1 = stats.get("table1") if isinstance(stats, dict) else None
        if not isinstance(t1, dict):
            raise InputError(path, "key 'table1' is missing (expected items, sequences, interactions, avg_len)")
        rec: dict[str, Any] = {"dataset": e["dataset"], "paper_dataset": e.get("paper_dataset")}
        prow = paper.table1(e.get("paper_dataset")) if paper is not None else None
        for k in ("items", "sequences", "interactions", "avg_len"):
            if k not in t1:
                raise InputError(path, f"key 'table1.{k}' is missing (have: {', '.join(t1)})")
            ours = float(t1[k])
            p = None
            if prow is not None:
                p = prow.get(k)
                if k == "avg_len" and p is None and prow.get("interactions") and prow.get("sequences"):
                    p = prow["interactions"] / prow["sequences"]  # derived: the paper prints no average length
            rec[k] = ours
            rec[f"{k}_paper"] = None if p is None else float(p)
            rec[f"{k}_diff"] = None if p is None else ours - float(p)
        rows.append(rec)
    return pl.DataFrame(rows, infer_schema_length=None)


def table1_markdown(df: pl.DataFrame, notes: Sequence[str]) -> str:
    lines = [f"# {TITLES['table1']}", ""]
    head = ["Dataset", "Paper's dataset"]
    for k in ("items", "sequences", "interactions", "avg_len"):
        head += [f"#{k} ours", "paper", "Δ"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rec in df.iter_rows(named=True):
        cells = [rec["dataset"], rec["paper_dataset"] or "–"]
        for k in ("items", "sequences", "interactions", "avg_len"):
            digits = 2 if k == "avg_len" else 0
            d = rec[f"{k}_diff"]
            cells += [_num(rec[k], digits), _num(rec[f"{k}_paper"], digits), "–" if d is None else f"{d:+.{digits}f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Δ = ours − paper. The paper's average length is derived (#inter. / #seq.); it prints none.", ""]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


# le_quality.json's reference scorers (lea.env.reference): the numbers of each that the LE table shows
REFERENCE_HEADLINES = (("reward", "pairwise_accuracy"), ("state", "hr@10"), ("choice", "accuracy"))


def le_quality(entries: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per LE setting from le_quality.json: the numeric top-level (and one-level nested) values."""
    rows = []
    for e in entries:
        q = read_json(e["path"], "fit_le")
        if not isinstance(q, dict):
            raise InputError(e["path"], "expected a JSON object")
        rec: dict[str, Any] = {"dataset": e["dataset"], "le": e["le"]}
        for k, v in q.items():
            if isinstance(v, bool | int | float):
                rec[k] = float(v)
            elif isinstance(v, dict):
                for kk, vv in v.items():
                    if isinstance(vv, bool | int | float):
                        rec[f"{k}.{kk}"] = float(vv)
                    elif k == "reference" and isinstance(vv, dict):  # the floor's headline numbers beside the LE's
                        for block, key in REFERENCE_HEADLINES:
                            if isinstance(x := vv.get(block, {}).get(key), int | float):
                                rec[f"reference.{kk}.{block}.{key}"] = float(x)
        rows.append(rec)
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame({"dataset": [], "le": []})


def simple_markdown(df: pl.DataFrame, title: str, notes: Sequence[str] = ()) -> str:
    lines = [f"# {title}", "", "| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    for rec in df.iter_rows():
        lines.append("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in rec) + " |")
    lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"
