"""``lea gather``: join the shards of one precompute into one Parquet, sorted by (sequence, position)."""

from __future__ import annotations

import argparse

import polars as pl

from lea.errors import InputError
from lea.io import read_parquet, write_parquet


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True)
    p.add_argument("shards", nargs="+", help="the shard files, in any order")


def gather(paths: list[str]) -> pl.DataFrame:
    frames = [read_parquet(p, "le-precompute", {"sequence": pl.Int32, "position": pl.Int32}) for p in paths]
    schema = frames[0].schema
    for p, f in zip(paths, frames, strict=True):
        if f.schema != schema:
            raise InputError(p, f"schema {dict(f.schema)} differs from the first shard's {dict(schema)}")
    # stable sort keeps each transition's rows (positive first, then negatives) in their written order
    return pl.concat(frames).sort(["sequence", "position"], maintain_order=True)


def main(args: argparse.Namespace) -> int:
    df = gather(args.shards)
    write_parquet(df, args.out)
    print(f"gathered {len(args.shards)} shards: {df.height} rows -> {args.out}")
    return 0
