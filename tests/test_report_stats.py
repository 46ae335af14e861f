"""Per-case metrics, mean ± std and the paired significance test, on numbers computed by hand."""

from __future__ import annotations

import math

import polars as pl
import pytest

from lea.errors import LeaError
from lea.report.stats import mean_std, paired_p, per_case, pooled_cases, rank_marks


def _ranks(ranks, split="test"):
    n = len(ranks)
    return pl.DataFrame(
        {
            "split": [split] * n,
            "sequence": pl.Series(range(n), dtype=pl.Int32),
            "position": pl.Series([3] * n, dtype=pl.Int32),
            "rank": pl.Series(ranks, dtype=pl.Int32),
        }
    )


def test_per_case_hr_ndcg_by_hand():
    df = per_case(pl.concat([_ranks([1, 2, 6, 30]), _ranks([1], split="valid")]))
    assert df.height == 4  # the valid row is not a test case
    assert df["hr@5"].to_list() == [1.0, 1.0, 0.0, 0.0]
    assert df["hr@10"].to_list() == [1.0, 1.0, 1.0, 0.0]
    assert df["hr@20"].to_list() == [1.0, 1.0, 1.0, 0.0]
    assert df["ndcg@5"].to_list() == pytest.approx([1.0, 0.6309298, 0.0, 0.0], abs=1e-6)
    assert df["ndcg@10"].to_list() == pytest.approx([1.0, 0.6309298, 0.3562072, 0.0], abs=1e-6)


def test_pooled_cases_average_over_seeds():
    a = per_case(_ranks([1, 30]))
    b = per_case(_ranks([30, 30]))
    pooled = pooled_cases([a, b])
    assert pooled["hr@5"].to_list() == [0.5, 0.0]


def test_mean_std_sample_std():
    mean, std = mean_std([0.2, 0.4])
    assert mean == pytest.approx(0.3)
    assert std == pytest.approx(math.sqrt(0.02))  # ddof = 1
    assert mean_std([0.7]) == (0.7, 0.0)


def test_paired_test_fires_on_a_clear_difference():
    n = 200
    better = per_case(_ranks([1 if i % 4 else 40 for i in range(n)]))  # 75 % hits
    worse = per_case(_ranks([1 if i % 4 == 0 else 40 for i in range(n)]))  # 25 % hits, same cases
    for test in ("ttest", "wilcoxon"):
        p, pairs = paired_p(better, worse, "hr@5", test)
        assert pairs == n
        assert p < 1e-6


def test_paired_test_does_not_fire_on_one_case():
    n = 200
    a = per_case(_ranks([1 if i % 2 else 40 for i in range(n)]))
    b = per_case(_ranks([1 if i % 2 or i == 0 else 40 for i in range(n)]))  # differs in one case
    for test in ("ttest", "wilcoxon"):
        p, _ = paired_p(b, a, "hr@5", test)
        assert p > 0.01
    assert paired_p(a, a, "hr@5")[0] == 1.0


def test_paired_test_pairs_by_sequence_and_position():
    a = per_case(_ranks([1, 1, 1, 1]))
    b = per_case(_ranks([40, 40, 40, 40])).with_columns(pl.col("position") + 1)  # no case in common
    p, pairs = paired_p(a, b, "hr@5")
    assert pairs == 0 and math.isnan(p)


def test_rank_marks_best_second_and_star():
    n = 100
    cases = {
        "A": per_case(_ranks([1] * n)),
        "B": per_case(_ranks([1 if i % 2 else 40 for i in range(n)])),
        "C": per_case(_ranks([40] * n)),
    }
    means = {k: float(v["hr@5"].mean()) for k, v in cases.items()}
    marks = rank_marks(means, cases, "hr@5")
    assert marks["A"]["best"] and marks["A"]["sig"] and marks["A"]["p"] < 0.01
    assert marks["B"]["second"] and not marks["B"]["best"]
    assert not any(marks["C"].values()) or marks["C"]["p"] is None
    # a single row is never marked
    assert not rank_marks({"A": 0.5}, None, "hr@5")["A"]["best"]


def test_unknown_metric_and_test():
    with pytest.raises(LeaError, match="unknown metric"):
        per_case(_ranks([1]), metrics=["mrr@5"])
    with pytest.raises(LeaError, match="unknown test"):
        paired_p(per_case(_ranks([1, 2])), per_case(_ranks([1, 2])), "hr@5", "ztest")
