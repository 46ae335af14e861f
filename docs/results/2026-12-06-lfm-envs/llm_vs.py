"""Issue 13's second question, asked directly: does the LLM LE add anything over another environment (idrec on the
same subset, the oracle, the null) for the same variant? Per test case, HR@10 and NDCG@10 averaged over the seeds of
each of the two runs (as the environments table pools a cell's seeds), their mean difference and the paired t-test
over the test cases (scipy.stats.ttest_rel, two-sided, no correction for the number of rows). Ranks are 1-based
(lea.eval.metrics: HR@k = rank <= k, NDCG@k = 1 / log2(rank + 1)). It replaces the seed-0 script of
../2026-12-04-industry-full-controls (removed): SEEDS 0 reproduces that folder's llm_vs_seed0.md. This one pools
seeds and reads either folder layout.

    python llm_vs.py ROOT PATTERN SEEDS LLM_LABEL=SUFFIX OTHER_LABEL=SUFFIX [...] > llm_vs.md

PATTERN: a run's ranks.parquet under ROOT, with {bb}, {fw}, {v}, {env} (the SUFFIX) and {s}; SEEDS: e.g. 0,1,2.
  LFM (run.sh collect's tree):  docs/results/2026-12-06-lfm-envs/runs '{bb}/{fw}/{v}{env}/seed{s}/ranks.parquet'
                                0,1,2 itlr= idrec0.1=_idrec0.1 oracle=_oracle random=_random
  Industry (flat names):        docs/results/2026-12-04-industry-full-controls/runs
                                '{bb}_{fw}_{v}_{env}_seed{s}_ranks.parquet' 0,1,2 ext0.1top6smw=ext0.1top6smw
                                idrec0.1=idrec0.1 oracle=oracle random=random
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
    if not path.exists():
        raise FileNotFoundError(f"llm_vs.py: {path} is missing (a run of the table)")
    r = pl.read_parquet(path).filter(pl.col("split") == "test")
    return r.select(
        "sequence",
        "position",
        hr=(pl.col("rank") <= 10).cast(pl.Float64),
        ndcg=pl.when(pl.col("rank") <= 10).then(1.0 / (pl.col("rank") + 1).log(2)).otherwise(0.0),
    )


def pooled(root: Path, pattern: str, seeds: list[int], **kw: str) -> pl.DataFrame:
    """Each test case's metrics averaged over the seeds (the same cases in every seed, or an error)."""
    runs = [per_case(root / pattern.format(s=s, **kw)) for s in seeds]
    n = {r.height for r in runs}
    if len(n) != 1:
        raise ValueError(f"llm_vs.py: the seeds of {pattern.format(s='*', **kw)} rank different test cases")
    out = pl.concat(runs).group_by("sequence", "position").agg(pl.col("hr").mean(), pl.col("ndcg").mean())
    if out.height != runs[0].height:
        raise ValueError(f"llm_vs.py: the seeds of {pattern.format(s='*', **kw)} rank different test cases")
    return out


def main() -> None:
    root_s, pattern, seeds_s, llm_arg, *other_args = sys.argv[1:]
    root, seeds = Path(root_s), [int(s) for s in seeds_s.split(",")]
    llm, llm_sfx = llm_arg.split("=", 1)
    others = [a.split("=", 1) for a in other_args]
    print(
        f"Test split, seeds {seeds_s}: the LLM LE `{llm}` minus each other environment, same variant; "
        "dHR@10 (p) / dNDCG@10 (p), each case's metric averaged over the seeds, paired t-test over the test cases, "
        "no correction for the number of comparisons.\n"
    )
    print("| backbone / framework | variant | " + " | ".join(f"{llm} - {o}" for o, _ in others) + " |")
    print("|---|---|" + "---|" * len(others))
    for bb, fw, v in ROWS:
        a = pooled(root, pattern, seeds, bb=bb, fw=fw, v=v, env=llm_sfx)
        cells = []
        for _, sfx in others:
            b = pooled(root, pattern, seeds, bb=bb, fw=fw, v=v, env=sfx)
            j = a.join(b, on=["sequence", "position"], suffix="_b")
            if not j.height == a.height == b.height:
                raise ValueError(f"llm_vs.py: {bb}/{fw}/{v}: the two environments' runs rank different test cases")
            out = []
            for m in ("hr", "ndcg"):
                d = (j[m] - j[f"{m}_b"]).mean()
                p = ttest_rel(j[m].to_numpy(), j[f"{m}_b"].to_numpy()).pvalue
                out.append(f"{d:+.4f} ({'n/a' if math.isnan(p) else f'{p:.2g}'})")
            cells.append(" / ".join(out))
        print(f"| {bb} / {fw} | {v} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
