"""Validation deltas of SA2C-SASRec variants against the base, per environment: the mean over seeds of HR@10 /
NDCG@10 on the validation cases (ranks.parquet, split == "valid"), minus the base's, with the p-value of the paired
t-test over the validation cases (each case's metric averaged over seeds), as lea report-envs does on test cases.

    python docs/results/2026-12-01-oracle-probe/valid_deltas.py RUNS_DIR SEEDS ENV[=OTHER_RUNS_DIR] ...

RUNS_DIR: .../runs/sasrec/sa2c (holds base/seed{s}); SEEDS: e.g. 0,1,2; ENV: an LE setting (runs {variant}_{ENV}),
read from OTHER_RUNS_DIR when given."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import ttest_rel

VARIANTS = ("LER", "LES", "LEA", "LEASR")


def per_case(run: Path, seeds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """HR@10 and NDCG@10 of each validation case, averaged over seeds (cases in (sequence, position) order)."""
    hr, ng = [], []
    for s in seeds:
        r = pl.read_parquet(run / f"seed{s}" / "ranks.parquet").filter(pl.col("split") == "valid")
        rank = r.sort(["sequence", "position"])["rank"].to_numpy()
        hr.append((rank <= 10).astype(float))
        ng.append(np.where(rank <= 10, 1.0 / np.log2(rank + 1.0), 0.0))
    return np.mean(hr, axis=0), np.mean(ng, axis=0)


def main(runs: str, seeds: str, envs: list[str]) -> None:
    sd = [int(s) for s in seeds.split(",")]
    b_hr, b_ng = per_case(Path(runs) / "base", sd)
    print(f"base (seeds {seeds}): valid HR@10 {b_hr.mean():.4f}  NDCG@10 {b_ng.mean():.4f}  cases {len(b_hr)}")
    for spec in envs:
        env, _, other = spec.partition("=")
        root = Path(other or runs)
        for v in VARIANTS:
            hr, ng = per_case(root / f"{v}_{env}", sd)
            print(
                f"{env:16s} {v:6s} dHR@10 {hr.mean() - b_hr.mean():+.4f} (p={ttest_rel(hr, b_hr).pvalue:.2g})"
                f"  dNDCG@10 {ng.mean() - b_ng.mean():+.4f} (p={ttest_rel(ng, b_ng).pvalue:.2g})"
            )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
