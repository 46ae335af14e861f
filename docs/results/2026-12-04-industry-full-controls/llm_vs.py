"""The LLM LE's runs against another environment's runs of the same variant, directly (issue 13's second question:
does the LLM add anything over idrec?): per test case HR@10 and NDCG@10 of the two runs, their mean difference and
the paired t-test over the test cases (scipy.stats.ttest_rel, two-sided), as the environments table computes each
variant against its base. Ranks are 1-based (lea.eval.metrics: HR@k = rank <= k, NDCG@k = 1 / log2(rank + 1)).

Usage: python llm_vs.py RUNS_DIR SEED LLM_SETTING OTHER_SETTING [OTHER_SETTING ...] > llm_vs.md
RUNS_DIR: results/cpu-le-full/industry/runs
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import polars as pl
from scipy.stats import ttest_rel

ROWS = [("sasrec", "sa2c", v) for v in ("LER", "LES", "LEA", "LEASR")]
ROWS += [("sasrec", "snqn", v) for v in ("LER", "LES", "LEA", "LEASR")]
ROWS += [("gru", "sa2c", v) for v in ("LESprime", "LES")]


def per_case(path: Path) -> pl.DataFrame:
    r = pl.read_parquet(path).filter(pl.col("split") == "test").sort("sequence", "position")
    return r.select(
        "sequence", "position",
        hr=(pl.col("rank") <= 10).cast(pl.Float64),
        ndcg=pl.when(pl.col("rank") <= 10).then(1.0 / (pl.col("rank") + 1).log(2)).otherwise(0.0),
    )


def main() -> None:
    runs, seed, llm, *others = sys.argv[1:]
    root = Path(runs)
    print(f"Test split, seed {seed}: the LLM LE `{llm}` minus each other environment, same variant; "
          "dHR@10 (p) / dNDCG@10 (p), paired t-test over the test cases.\n")
    print("| backbone / framework | variant | " + " | ".join(f"{llm} - {o}" for o in others) + " |")
    print("|---|---|" + "---|" * len(others))
    for bb, fw, v in ROWS:
        a = per_case(root / bb / fw / f"{v}_{llm}" / f"seed{seed}" / "ranks.parquet")
        cells = []
        for o in others:
            b = per_case(root / bb / fw / f"{v}_{o}" / f"seed{seed}" / "ranks.parquet")
            j = a.join(b, on=["sequence", "position"], suffix="_b")
            assert j.height == a.height == b.height, "the two runs rank different test cases"
            out = []
            for m in ("hr", "ndcg"):
                d = (j[m] - j[f"{m}_b"]).mean()
                p = ttest_rel(j[m].to_numpy(), j[f"{m}_b"].to_numpy()).pvalue
                out.append(f"{d:+.4f} ({'n/a' if math.isnan(p) else f'{p:.2g}'})")
            cells.append(" / ".join(out))
        print(f"| {bb} / {fw} | {v} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
