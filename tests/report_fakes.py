"""Fake run directories (metrics.json + ranks.parquet as the train rule writes them) for the report tests."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import polars as pl

METRICS = ("hr@5", "ndcg@5", "hr@10", "ndcg@10", "hr@20", "ndcg@20")


def metrics_from_ranks(ranks: Sequence[int]) -> dict[str, float]:
    out = {}
    for m in METRICS:
        name, k = m.split("@")
        k = int(k)
        vals = [(1.0 if name == "hr" else 1.0 / math.log2(r + 1)) if r <= k else 0.0 for r in ranks]
        out[m] = sum(vals) / len(vals)
    return out


def write_run(run_dir: Path, ranks: Sequence[int], test_metrics: dict[str, float] | None = None) -> Path:
    """A run whose test cases are (sequence i, position 1) with the given ranks; metrics.json agrees unless given."""
    run_dir.mkdir(parents=True, exist_ok=True)
    n = len(ranks)
    df = pl.DataFrame(
        {
            "split": ["test"] * n + ["valid"],
            "sequence": pl.Series([*list(range(n)), 999], dtype=pl.Int32),
            "position": pl.Series([1] * n + [1], dtype=pl.Int32),
            "item": pl.Series([0] * (n + 1), dtype=pl.Int32),
            "rank": pl.Series([*list(ranks), 1], dtype=pl.Int32),
        }
    )
    df.write_parquet(run_dir / "ranks.parquet")
    test = test_metrics if test_metrics is not None else metrics_from_ranks(ranks)
    (run_dir / "metrics.json").write_text(
        json.dumps(
            {
                "test": test,
                "valid": test,
                "selection": "last",
                "steps": 10,
                "wall_time_s": 1.0,
                "device": "cpu",
                "config_hash": "x",
                "settings": {},
            }
        )
    )
    return run_dir
