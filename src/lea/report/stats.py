"""Per-case metrics from saved ranks, mean ± std over seeds, and the paired significance test of the tables.

A test case is one (sequence, position) of the test split. Its HR@k is 1 if rank <= k, its NDCG@k is
1 / log2(rank + 1) if rank <= k (one relevant item, so the ideal DCG is 1). Seeds are pooled by averaging the
per-case metric over seeds; two rows are compared by a paired test over the cases both have.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from lea.errors import LeaError

METRICS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20")
TESTS = {
    "ttest": "paired t-test (scipy.stats.ttest_rel, two-sided)",
    "wilcoxon": "Wilcoxon signed-rank test (scipy.stats.wilcoxon, two-sided, zero differences dropped)",
}
ALPHA = 0.01
KEYS = ["sequence", "position"]


def metric_k(metric: str) -> tuple[str, int]:
    name, _, k = metric.partition("@")
    if name not in ("hr", "ndcg") or not k.isdigit():
        raise LeaError(f"unknown metric '{metric}' (expected hr@k or ndcg@k)")
    return name, int(k)


def per_case(ranks: pl.DataFrame, metrics: Sequence[str] = METRICS, split: str = "test") -> pl.DataFrame:
    """One row per (sequence, position) of ``split`` with one column per metric."""
    df = ranks.filter(pl.col("split") == split) if "split" in ranks.columns else ranks
    rank = pl.col("rank").cast(pl.Float64)
    cols = []
    for m in metrics:
        name, k = metric_k(m)
        hit = rank <= k
        value = pl.when(hit).then(1.0 if name == "hr" else 1.0 / (rank + 1.0).log(2)).otherwise(0.0)
        cols.append(value.alias(m))
    return df.select(*[pl.col(c) for c in KEYS], *cols).sort(KEYS)


def pooled_cases(per_seed: Sequence[pl.DataFrame], metrics: Sequence[str] = METRICS) -> pl.DataFrame:
    """Average each case's metrics over seeds (cases missing in a seed average over the seeds that have them)."""
    if not per_seed:
        raise LeaError("no runs to pool")
    return pl.concat(per_seed).group_by(KEYS).agg([pl.col(m).mean() for m in metrics]).sort(KEYS)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single seed)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def paired_p(a: pl.DataFrame, b: pl.DataFrame, metric: str, test: str = "ttest") -> tuple[float, int]:
    """p-value of the paired test of ``metric`` between two pooled case tables, and the number of pairs."""
    from scipy import stats

    if test not in TESTS:
        raise LeaError(f"unknown test '{test}' (have: {', '.join(TESTS)})")
    joined = a.select(*KEYS, pl.col(metric).alias("a")).join(b.select(*KEYS, pl.col(metric).alias("b")), on=KEYS)
    n = joined.height
    if n < 2:
        return math.nan, n
    diff = (joined["a"] - joined["b"]).to_numpy()
    if np.allclose(diff, 0.0):
        return 1.0, n
    if test == "ttest":
        if np.allclose(diff, diff[0]):
            return 0.0, n  # every case moves by the same nonzero amount
        p = float(stats.ttest_rel(joined["a"].to_numpy(), joined["b"].to_numpy()).pvalue)
    else:
        p = float(stats.wilcoxon(diff, zero_method="wilcox").pvalue)
    return p, n


def rank_marks(
    means: Mapping[Any, float],
    cases: Mapping[Any, pl.DataFrame] | None,
    metric: str,
    test: str = "ttest",
    alpha: float = ALPHA,
) -> dict[Any, dict[str, Any]]:
    """Best (bold), second best (underline) and ``*`` on the best when p < alpha against the second best.

    Rows with a NaN mean take no part. With fewer than two rows nothing is marked.
    """
    valid = [(k, v) for k, v in means.items() if v is not None and not math.isnan(v)]
    out: dict[Any, dict[str, Any]] = {k: {"best": False, "second": False, "sig": False, "p": None} for k in means}
    if len(valid) < 2:
        return out
    ordered = sorted(valid, key=lambda kv: -kv[1])
    (best, bval), (second, sval) = ordered[0], ordered[1]
    if bval == sval:
        return out
    out[best]["best"] = True
    out[second]["second"] = True
    if cases is not None and best in cases and second in cases:
        p, _ = paired_p(cases[best], cases[second], metric, test)
        out[best]["p"] = p
        out[best]["sig"] = bool(not math.isnan(p) and p < alpha)
    return out
