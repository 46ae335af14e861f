from __future__ import annotations

import polars as pl
import pytest

from lea.errors import InputError, MissingInputError
from lea.io import atomic_path, read_parquet, write_parquet


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_read_parquet_checks(tmp_path):
    p = tmp_path / "t.parquet"
    with pytest.raises(MissingInputError, match="'preprocess' stage"):
        read_parquet(p, "preprocess")
    write_parquet(pl.DataFrame({"item": pl.Series([1, 2], dtype=pl.Int32)}), p)
    assert read_parquet(p, "preprocess", {"item": pl.Int32}).height == 2
    with pytest.raises(InputError, match="column 'sequence' is missing"):
        read_parquet(p, "preprocess", {"sequence": pl.Int32})
    with pytest.raises(InputError, match=r"column 'item' has type Int32, expected (Utf8|String)"):
        read_parquet(p, "preprocess", {"item": pl.String})
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match="not a readable Parquet"):
        read_parquet(bad, "preprocess")
