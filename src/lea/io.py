"""Atomic writes and checked reads of the file contracts (Parquet, safetensors, JSON).

Every writer goes to a temporary name in the same folder and renames, so an interrupted stage never leaves a
half-written output behind (Snakemake would otherwise take it for done).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from lea.errors import InputError, MissingInputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet(df: pl.DataFrame, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        df.write_parquet(tmp, compression="zstd", statistics=True)


def write_json(obj: Any, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_text(text: str, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_safetensors(
    tensors: Mapping[str, Any], path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> None:
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_parquet(
    path: str | os.PathLike[str],
    stage: str,
    columns: Mapping[str, Sequence[type[pl.DataType]] | type[pl.DataType]] | None = None,
) -> pl.DataFrame:
    """Read a contract file; a missing file names the stage that makes it, a missing/mistyped column names it."""
    p = Path(path)
    if not p.exists():
        raise MissingInputError(p, stage)
    try:
        df = pl.read_parquet(p)
    except Exception as exc:  # polars raises several types for a corrupt file
        raise InputError(p, f"not a readable Parquet file ({exc.__class__.__name__}: {exc})") from None
    if columns:
        check_columns(df, columns, p)
    return df


def check_columns(
    df: pl.DataFrame, columns: Mapping[str, Sequence[type[pl.DataType]] | type[pl.DataType]], path: object
) -> None:
    for name, kinds in columns.items():
        if name not in df.columns:
            raise InputError(path, f"column '{name}' is missing (have: {', '.join(df.columns)})")
        allowed = tuple(kinds) if isinstance(kinds, Sequence) else (kinds,)
        dtype = df.schema[name]
        if not any(dtype == k or isinstance(dtype, k) or dtype.base_type() == k for k in allowed):
            want = " or ".join(getattr(k, "__name__", str(k)) for k in allowed)
            raise InputError(path, f"column '{name}' has type {dtype}, expected {want}")


def read_json(path: str | os.PathLike[str], stage: str) -> Any:
    p = Path(path)
    if not p.exists():
        raise MissingInputError(p, stage)
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(p, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
