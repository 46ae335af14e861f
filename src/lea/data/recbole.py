"""RecBole atomic files (e.g. ml-100k): ``.inter`` and optional ``.item``, TSV with typed ``name:type`` headers.

Mapping (roles in ``files``: ``inter`` required, ``item`` optional):
  inter ``session_id`` (else ``user_id``)  -> ``sequence_raw``
  inter ``item_id``                        -> ``item_raw``
  inter ``timestamp`` (float, unix s)      -> ``timestamp`` and ``order`` (floored); without it, ``order`` = line
  item  ``item_id``                        -> ``raw_id``; every other item column keeps its name (``movie_title``,
                                              ``release_year``, ``class``) for ``text_fields``
Other columns (``rating``, ...) are ignored. Types are ``token``, ``token_seq``, ``float`` or ``float_seq``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from lea.data.raw import RawData, events_frame
from lea.data.textfile import (
    Report,
    check_header,
    ensure_rows,
    header_and_rows,
    optional_role_path,
    read_lines,
    require,
    role_path,
    split_fields,
    to_int,
)
from lea.errors import InputError

ATOMIC_TYPES = {"token", "token_seq", "float", "float_seq"}
INTER_EXPECTED = "a RecBole .inter file (TSV, header 'user_id:token<TAB>item_id:token[<TAB>timestamp:float]...')"
ITEM_EXPECTED = "a RecBole .item file (TSV, header 'item_id:token<TAB>...')"


def read_atomic(path: Path, report: Report, required: list[str], expected: str) -> pl.DataFrame:
    """An atomic file as Utf8 columns named without their types, plus ``line``."""
    header, rows = header_and_rows(read_lines(path, report, expected))
    names = [_field_name(path, h, expected) for h in header]
    check_header(path, names, required, expected)
    if rows.height == 0:
        raise InputError(path, f"file has a header but no rows; expected {expected}")
    frame = split_fields(rows, path, names, report)
    ensure_rows(frame, path, expected)
    return frame


def _field_name(path: Path, header_field: str, expected: str) -> str:
    name, sep, kind = header_field.partition(":")
    if not sep or kind not in ATOMIC_TYPES or not name:
        raise InputError(
            path,
            f"wrong format: header field {header_field!r} is not 'name:type' with type in "
            f"{sorted(ATOMIC_TYPES)}; expected {expected}",
            line=1,
        )
    return name


def read(raw_dir: Path, settings: dict[str, Any], report: Report) -> RawData:
    inter_path = role_path(raw_dir, settings, "inter")
    probe = read_atomic(inter_path, report, ["item_id"], INTER_EXPECTED)
    sequence_field = "session_id" if "session_id" in probe.columns else "user_id"
    if sequence_field not in probe.columns:
        raise InputError(
            inter_path,
            f"wrong format: header has neither 'session_id' nor 'user_id'; expected {INTER_EXPECTED}",
            line=1,
        )
    inter = require(probe, inter_path, [sequence_field, "item_id"], report)
    if "timestamp" in inter.columns:
        inter = to_int(
            require(inter, inter_path, ["timestamp"], report), inter_path, "timestamp", report, "a unix time in seconds"
        )
        inter = inter.with_columns(pl.col("timestamp").alias("order"))
    else:
        inter = inter.with_columns(pl.col("line").alias("order"))
    ensure_rows(inter, inter_path, INTER_EXPECTED)
    events = events_frame(
        inter.with_columns(
            pl.col(sequence_field).str.strip_chars().alias("sequence_raw"),
            pl.col("item_id").str.strip_chars().alias("item_raw"),
            pl.col("line").alias("row"),
        )
    )
    item_path = optional_role_path(raw_dir, settings, "item")
    items = None
    if item_path is not None:
        items = read_atomic(item_path, report, ["item_id"], ITEM_EXPECTED)
        items = require(items, item_path, ["item_id"], report)
        items = items.rename({"item_id": "raw_id"}).with_columns(pl.col("raw_id").str.strip_chars())
    return RawData(events=events, events_path=inter_path, items=items, items_path=item_path)
