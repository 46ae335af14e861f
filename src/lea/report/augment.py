"""The LE's action augmentation (paper 3.4) against the warm-up model it chooses from: how often the LE's chosen item
is the true next item, beside the supervised head's own top-1, the top-5 ceiling and a random pick among the 5.

Entries (from the ``report_augment`` rule) are ``{dataset, le, backbone, augment, top5, interactions}``: the gathered
``augment_{backbone}.parquet`` of one LE setting, the warm-up ``top5.parquet`` it was computed from, and the data
stage's ``interactions.parquet`` (the true next item of each (sequence, position)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from lea.errors import InputError
from lea.io import read_parquet
from lea.report.tables import simple_markdown

K = 5
KEY = ["sequence", "position"]
TITLE = "LE action augmentation: hit rate of the LE's choice against the warm-up model's top-1 (paper 3.4)"
NOTES = (
    "rows: transitions of the augment table; a hit is an item equal to the true next item (interactions.parquet).",
    "le_hit: the LE's chosen item; warmup_top1_hit: the warm-up model's best candidate; top5_hit: the true item is "
    "among the 5 candidates (the best any choice can do); random_hit: top5_hit / 5 (a uniform pick).",
    "le_picks_top1: share of transitions where the LE chose the warm-up's best candidate; chosen_at_k: how often it "
    "chose the candidate at position k (0 = best).",
)
COLUMNS: dict[str, Any] = {
    "dataset": pl.Utf8,
    "le": pl.Utf8,
    "backbone": pl.Utf8,
    "rows": pl.Int64,
    "le_hit": pl.Float64,
    "warmup_top1_hit": pl.Float64,
    "top5_hit": pl.Float64,
    "random_hit": pl.Float64,
    "le_picks_top1": pl.Float64,
    **{f"chosen_at_{k}": pl.Int64 for k in range(K)},
}


def _first(df: pl.DataFrame, path: object, what: str) -> None:
    """Raise naming the file and the first offending (sequence, position), if any row is left."""
    if df.height:
        row = df.row(0, named=True)
        raise InputError(path, f"(sequence={row['sequence']}, position={row['position']}): {what}")


def augment_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The rates of one (dataset, LE setting, backbone) augment table (see the module doc)."""
    apath, tpath, ipath = entry["augment"], entry["top5"], entry["interactions"]
    key = {"sequence": pl.Int32, "position": pl.Int32}
    aug = read_parquet(apath, "le_augment", {**key, "candidates": pl.List, "chosen": pl.Int32, "hit": pl.Boolean})
    top = read_parquet(tpath, "warmup", {**key, "candidates": pl.List})
    inter = read_parquet(ipath, "preprocess", {**key, "item": pl.Int32})
    df = (
        aug.select(*KEY, pl.col("candidates").cast(pl.List(pl.Int64)), "chosen", "hit")
        .join(inter.select(*KEY, "item"), on=KEY, how="left")
        .join(top.select(*KEY, pl.col("candidates").cast(pl.List(pl.Int64)).alias("top5")), on=KEY, how="left")
    )
    _first(df.filter(pl.col("item").is_null()), apath, f"no such row in {ipath}")
    _first(df.filter(pl.col("top5").is_null()), apath, f"no such row in {tpath}")
    _first(df.filter(pl.col("candidates").list.len() != K), apath, f"candidates is not a list of {K} items")
    _first(df.filter(pl.col("candidates") != pl.col("top5")), apath, f"candidates differ from {tpath} (stale?)")
    at = [pl.col("candidates").list.get(k) == pl.col("chosen") for k in range(K)]
    df = df.with_columns(
        le_hit=pl.col("chosen") == pl.col("item"),
        top1=pl.col("top5").list.get(0) == pl.col("item"),
        top5=pl.any_horizontal(pl.col("top5").list.get(k) == pl.col("item") for k in range(K)),
        at=pl.coalesce(pl.when(a).then(pl.lit(k)) for k, a in enumerate(at)),
    )
    _first(df.filter(pl.col("at").is_null()), apath, "chosen is not one of the candidates")
    _first(df.filter(pl.col("hit") != pl.col("le_hit")), apath, f"hit disagrees with chosen == item of {ipath}")
    n = df.height
    counts = df["at"].value_counts()
    hist = dict(zip(counts["at"].to_list(), counts["count"].to_list(), strict=True))

    def rate(column: str) -> float | None:
        return float(df[column].mean()) if n else None

    top5 = rate("top5")
    return {
        "dataset": entry["dataset"],
        "le": entry["le"],
        "backbone": entry["backbone"],
        "rows": n,
        "le_hit": rate("le_hit"),
        "warmup_top1_hit": rate("top1"),
        "top5_hit": top5,
        "random_hit": None if top5 is None else top5 / K,
        "le_picks_top1": None if not n else hist.get(0, 0) / n,
        **{f"chosen_at_{k}": int(hist.get(k, 0)) for k in range(K)},
    }


def augment_table(entries: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per (dataset, LE setting, backbone) augment table."""
    rows = [augment_row(e) for e in entries]
    return pl.DataFrame(rows, schema=COLUMNS, orient="row") if rows else pl.DataFrame(schema=COLUMNS)


def augment_markdown(df: pl.DataFrame) -> str:
    return simple_markdown(df, TITLE, NOTES)
