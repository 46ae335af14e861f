"""Helpers for the data-stage tests: write small raw files (plain or gzipped) and run the stage on them."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import polars as pl

from lea.data.cli import preprocess

DOMAIN = {"item": "item", "items": "items"}


def write(path: Path, text: str | bytes, gz: bool = False) -> Path:
    """Write ``text`` to ``path`` (gzipped, under ``path.gz``, when ``gz``)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def tsv(*rows: tuple[Any, ...] | list[Any]) -> str:
    return "".join("\t".join(str(v) for v in row) + "\n" for row in rows)


def settings(reader: str, **overrides: Any) -> dict[str, Any]:
    """Dataset settings with filters off (tiny fixtures), as the rules pass them minus schema defaults."""
    base: dict[str, Any] = {
        "name": "t",
        "reader": reader,
        "source": "raw",
        "sentence_template": "{S} item is {title}.",
        "domain": DOMAIN,
        "filter": {"min_seq_len": 1, "min_item_count": 1, "iterate": True},
    }
    base.update(overrides)
    return base


def run(raw_dir: Path, out_dir: Path, **kwargs: Any) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    stats = preprocess(kwargs.pop("settings_dict", None) or settings(**kwargs), raw_dir, out_dir)
    tables = {name: pl.read_parquet(out_dir / f"{name}.parquet") for name in ("items", "interactions", "splits")}
    return tables, stats


def sequences_as_raw(tables: dict[str, pl.DataFrame]) -> dict[str, list[str]]:
    """{sequence raw id: [item raw ids in position order]} from the written tables."""
    joined = (
        tables["interactions"]
        .join(tables["items"].select("item", pl.col("raw_id").alias("item_raw")), on="item")
        .join(tables["splits"].select("sequence", pl.col("raw_id").alias("seq_raw")), on="sequence")
        .sort("sequence", "position")
    )
    out: dict[str, list[str]] = {}
    for seq_raw, item_raw in joined.select("seq_raw", "item_raw").iter_rows():
        out.setdefault(seq_raw, []).append(item_raw)
    return out
