"""Amazon Review Data (2018) raw files (Ni, Li & McAuley), plain or ``.gz``: JSON lines, one object per line.

Mapping (roles in ``files``):
  ``reviews`` (e.g. ``Industrial_and_Scientific.json.gz``): ``reviewerID`` -> ``sequence_raw``, ``asin`` ->
      ``item_raw``, ``unixReviewTime`` (int seconds) -> ``timestamp`` and ``order``; equal times keep file order.
  ``meta`` (e.g. ``meta_Industrial_and_Scientific.json.gz``): ``asin`` -> ``raw_id``; text columns ``title``,
      ``brand`` (strings), ``category`` (list, joined with ", "), ``description`` (list, joined with " "),
      ``main_cat``; HTML tags are removed. Without ``meta`` there is no item text.
A line that is not a JSON object is malformed; a missing ``reviewerID``/``asin``/``unixReviewTime`` is a missing
field. (The real 2018 files repeat some reviews and metadata records: identical metadata repeats are merged; repeated
reviews are duplicate events, dropped and counted by default, ``duplicates: drop``, whatever ``strict`` says.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from lea.data.raw import RawData, events_frame
from lea.data.textfile import Report, ensure_rows, optional_role_path, read_lines, require, role_path, to_int

REVIEWS_EXPECTED = "Amazon 2018 review JSON lines with reviewerID, asin, unixReviewTime"
META_EXPECTED = "Amazon 2018 metadata JSON lines with asin, title, category, brand, description"
META_FIELDS = {"title": " ", "brand": " ", "category": ", ", "description": " ", "main_cat": " "}


def parse_json_lines(path: Path, report: Report, expected: str, fields: dict[str, str]) -> pl.DataFrame:
    """Each line a JSON object -> one Utf8 column per field (lists joined with the field's separator)."""
    lines = read_lines(path, report, expected)
    records: dict[str, list[Any]] = {name: [] for name in ("line", *fields)}
    bad_lines: list[int] = []
    for line, text in lines.iter_rows():  # per line: a malformed line must be reported with its number
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            bad_lines.append(line)
            continue
        records["line"].append(line)
        for name, joiner in fields.items():
            records[name].append(_as_text(obj.get(name), joiner))
    bad = pl.DataFrame({"line": bad_lines}, schema={"line": pl.Int64})
    report.reject(path, "malformed_line", bad, lambda row: f"expected one JSON object per line ({expected})")
    frame = pl.DataFrame(records, schema={"line": pl.Int64, **dict.fromkeys(fields, pl.String)})
    ensure_rows(frame, path, expected)
    return frame


def _as_text(value: Any, joiner: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return joiner.join(str(v) for v in value if str(v).strip())
    return str(value)


def read(raw_dir: Path, settings: dict[str, Any], report: Report) -> RawData:
    reviews_path = role_path(raw_dir, settings, "reviews")
    reviews = parse_json_lines(
        reviews_path, report, REVIEWS_EXPECTED, {"reviewerID": " ", "asin": " ", "unixReviewTime": " "}
    )
    reviews = require(reviews, reviews_path, ["reviewerID", "asin", "unixReviewTime"], report)
    reviews = to_int(reviews, reviews_path, "unixReviewTime", report, "a unix time in seconds")
    ensure_rows(reviews, reviews_path, REVIEWS_EXPECTED)
    events = events_frame(
        reviews.with_columns(
            pl.col("reviewerID").str.strip_chars().alias("sequence_raw"),
            pl.col("asin").str.strip_chars().alias("item_raw"),
            pl.col("unixReviewTime").alias("timestamp"),
            pl.col("unixReviewTime").alias("order"),
            pl.col("line").alias("row"),
        )
    )
    meta_path = optional_role_path(raw_dir, settings, "meta")
    items = None
    if meta_path is not None:
        meta = parse_json_lines(meta_path, report, META_EXPECTED, {"asin": " ", **META_FIELDS})
        meta = require(meta, meta_path, ["asin"], report)
        html_tag = r"<[^>]*>"
        items = meta.with_columns(
            pl.col("asin").str.strip_chars().alias("raw_id"),
            *[pl.col(f).str.replace_all(html_tag, " ") for f in META_FIELDS],
        )
    return RawData(events=events, events_path=reviews_path, items=items, items_path=meta_path)
