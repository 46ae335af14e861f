"""Each LE variant against its base: test HR@10 / NDCG@10 (mean over seeds) and the paired t-test over test cases
(each case's metric averaged over the seeds, lea.report.stats, as in the project's tables).

    python docs/results/2026-12-01-industry-le-chain/paired.py RUNS_DIR BASE VARIANT [VARIANT ...] [--seeds 0,1,2]
"""

import argparse
import json
from pathlib import Path

import polars as pl

from lea.report.stats import paired_p, per_case, pooled_cases

p = argparse.ArgumentParser()
p.add_argument("runs")
p.add_argument("base")
p.add_argument("variants", nargs="+")
p.add_argument("--seeds", default="0,1,2")
a = p.parse_args()
seeds = [int(s) for s in a.seeds.split(",")]
metrics = ("hr@10", "ndcg@10")


def load(v: str) -> tuple[dict[str, float], pl.DataFrame]:
    dirs = [Path(a.runs) / v / f"seed{s}" for s in seeds]
    test = [json.loads((d / "metrics.json").read_text())["test"] for d in dirs]
    mean = {m: sum(t[m] for t in test) / len(test) for m in metrics}
    return mean, pooled_cases([per_case(pl.read_parquet(d / "ranks.parquet"), metrics) for d in dirs], metrics)


bm, bc = load(a.base)
print(f"| variant | {' | '.join(m.upper().replace('NDCG', 'NG') for m in metrics)} |")
print("|---|" + "---|" * len(metrics))
print(f"| {a.base} | " + " | ".join(f"{bm[m]:.4f}" for m in metrics) + " |")
for v in a.variants:
    vm, vc = load(v)
    cells = []
    for m in metrics:
        pv, _ = paired_p(vc, bc, m)
        cells.append(f"{vm[m]:.4f} ({vm[m] - bm[m]:+.4f}, p={pv:.2g})")
    print(f"| {v} | " + " | ".join(cells) + " |")
print(f"\nseeds {seeds}; in brackets: the difference to {a.base} and the paired t-test's p (two-sided).")
