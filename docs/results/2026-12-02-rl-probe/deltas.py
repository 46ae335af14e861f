"""Validation deltas of the RL probe (issue 13): SA2C-SASRec runs against a base, with the oracle probe's measure
(``../2026-12-01-oracle-probe/valid_deltas.py``: the mean over seeds of HR@10 / NDCG@10 on the validation cases,
minus the base's, and the p-value of the paired t-test over the validation cases, each case's metric averaged over
seeds), for pairs of run folders given explicitly, and the warm-up losses L_h / L_p / L_n
at one step of train_log.csv.

    python docs/results/2026-12-02-rl-probe/deltas.py SEEDS STEP LABEL=RUN_DIR:BASE_DIR ...

RUN_DIR / BASE_DIR: folders holding seed{s}/ranks.parquet and seed{s}/train_log.csv."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import ttest_rel

_SPEC = importlib.util.spec_from_file_location(
    "valid_deltas", Path(__file__).resolve().parent.parent / "2026-12-01-oracle-probe" / "valid_deltas.py"
)
assert _SPEC is not None and _SPEC.loader is not None
valid_deltas = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(valid_deltas)


def losses_at(run: Path, seeds: list[int], step: int) -> tuple[list[float], list[float], list[float]]:
    """Per seed, the logged L_h, L_p and L_n at ``step`` (each row averages the 50 updates up to it)."""
    lh, lp, ln = [], [], []
    for s in seeds:
        row = pl.read_csv(run / f"seed{s}" / "train_log.csv").filter(pl.col("step") == step)
        if row.height != 1:
            raise ValueError(f"{run}/seed{s}/train_log.csv: no single row at step {step}")
        lh.append(row["l_h"][0])
        lp.append(row["l_p"][0])
        ln.append(row["l_n"][0])
    return lh, lp, ln


def fmt(v: list[float]) -> str:
    return f"{np.mean(v):.2f} ({v[0]:.2f})"


def main(seeds: str, step: str, pairs: list[str]) -> None:
    sd = [int(s) for s in seeds.split(",")]
    for spec in pairs:
        label, _, dirs = spec.partition("=")
        run, _, base = dirs.partition(":")
        hr, ng = valid_deltas.per_case(Path(run), sd)
        b_hr, b_ng = valid_deltas.per_case(Path(base), sd)
        lh, lp, ln = losses_at(Path(run), sd, int(step))
        blh, blp, bln = losses_at(Path(base), sd, int(step))
        print(
            f"{label:34s} HR@10 {hr.mean():.4f} dHR@10 {hr.mean() - b_hr.mean():+.4f}"
            f" (p={ttest_rel(hr, b_hr).pvalue:.2g})"
            f"  NDCG@10 {ng.mean():.4f} dNDCG@10 {ng.mean() - b_ng.mean():+.4f} (p={ttest_rel(ng, b_ng).pvalue:.2g})"
            f"  step {step} mean (first seed): L_h {fmt(lh)} base {fmt(blh)}, L_p {fmt(lp)} base {fmt(blp)},"
            f" L_n {fmt(ln)} base {fmt(bln)}"
            f"  cases {len(hr)}"
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
