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


# --- effects with confidence intervals (the claims table, lea.report.claims) -------------------------------------
# The same conventions as paired_p: fewer than 2 pairs -> NaN; every difference 0 -> p = 1; every difference the same
# nonzero value -> p = 0 (the t statistic is undefined, the shift is certain).

CI_LEVEL = 0.95


def paired_differences(
    a: pl.DataFrame, b: pl.DataFrame, metric: str, keys: Sequence[str] = KEYS, metric_b: str | None = None
) -> pl.DataFrame:
    """``keys`` + ``diff`` = a[metric] - b[metric_b or metric] over the keys both tables have, sorted by the keys."""
    mb = metric_b or metric
    joined = a.select(*keys, pl.col(metric).alias("_a")).join(b.select(*keys, pl.col(mb).alias("_b")), on=list(keys))
    return joined.select(*keys, (pl.col("_a") - pl.col("_b")).alias("diff")).sort(list(keys))


def _degenerate(diff: np.ndarray) -> dict[str, float] | None:
    n = int(diff.size)
    if n < 2:
        mean = float(diff.mean()) if n else math.nan
        return {"mean": mean, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "t": math.nan, "n": n}
    if np.allclose(diff, diff[0]):
        c = float(diff[0])
        p = 1.0 if math.isclose(c, 0.0, abs_tol=1e-12) else 0.0
        t = 0.0 if p == 1.0 else math.copysign(math.inf, c)
        return {"mean": c, "ci_low": c, "ci_high": c, "p": p, "t": t, "n": n}
    return None


def difference_summary(diff: Sequence[float] | np.ndarray, level: float = CI_LEVEL) -> dict[str, float]:
    """Mean paired difference, its ``level`` confidence interval from the t distribution (n - 1 df), and the
    two-sided p-value of the one-sample t-test of the differences (= scipy.stats.ttest_rel of the two columns)."""
    from scipy import stats

    d = np.asarray(diff, dtype=float)
    out = _degenerate(d)
    if out is not None:
        return out
    res = stats.ttest_1samp(d, 0.0)
    ci = res.confidence_interval(level)
    return {
        "mean": float(d.mean()),
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
        "p": float(res.pvalue),
        "t": float(res.statistic),
        "n": int(d.size),
    }


def margin_test(diff: Sequence[float] | np.ndarray, margin: float) -> tuple[float, str]:
    """Whether the mean difference lies within (-margin, +margin): (p, side).

    side ``within`` (the estimate lies inside the band): p of the two one-sided tests (TOST, the larger of
    H0: mean <= -margin and H0: mean >= +margin); side ``above`` / ``below`` (outside): p of the one-sided test
    against the near edge, doubled since the side is read from the data (as a two-sided test splits alpha). A
    margin <= 0 or NaN leaves no band: p = 1, side ``within``.
    """
    from scipy import stats

    d = np.asarray(diff, dtype=float)
    if not margin > 0 or d.size < 2:
        return (1.0 if d.size >= 2 else math.nan), "within"
    mean = float(d.mean())
    side = "within" if -margin < mean < margin else ("above" if mean >= margin else "below")
    se = float(d.std(ddof=1)) / math.sqrt(d.size)
    if se == 0.0:
        return (0.0, side) if side == "within" or abs(mean) > margin else (1.0, side)
    df = d.size - 1
    if side == "within":
        p_low = float(stats.t.sf((mean + margin) / se, df))  # H0: mean <= -margin
        p_high = float(stats.t.cdf((mean - margin) / se, df))  # H0: mean >= +margin
        return max(p_low, p_high), side
    edge = margin if side == "above" else -margin
    t = (mean - edge) / se
    p_one = float(stats.t.sf(t, df)) if side == "above" else float(stats.t.cdf(t, df))
    return min(1.0, 2.0 * p_one), side


def welch_summary(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, level: float = CI_LEVEL
) -> dict[str, float]:
    """mean(x) - mean(y) of two independent samples, its ``level`` CI and the two-sided p of Welch's t-test
    (scipy.stats.ttest_ind, equal_var=False)."""
    from scipy import stats

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = int(a.size + b.size)
    if a.size < 2 or b.size < 2:
        return {"mean": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "t": math.nan, "n": n}
    mean = float(a.mean() - b.mean())
    if np.allclose(a, a[0]) and np.allclose(b, b[0]):
        p = 1.0 if math.isclose(mean, 0.0, abs_tol=1e-12) else 0.0
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "p": p, "t": math.nan, "n": n}
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(level)
    return {"mean": mean, "ci_low": float(ci.low), "ci_high": float(ci.high), "p": float(res.pvalue),
            "t": float(res.statistic), "n": n}  # fmt: skip


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down: the i-th smallest of m times m - i + 1, made monotone, capped
    at 1). NaN p-values (no test) are left NaN and do not count in m."""
    idx = [i for i, p in enumerate(pvalues) if p is not None and not math.isnan(p)]
    order = sorted(idx, key=lambda i: pvalues[i])
    m = len(order)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(pvalues[i])))
        out[i] = running
    return out
