"""UniSRec / RecBole-processed Amazon (e.g. "Scientific"): ``*.inter``, ``*.text``, ``*.item2index``.

Two ways to give the sequences (roles in ``files``):
* ``sequences``: a TSV with header ``user_id, position, item_id`` (others ignored), one row per interaction, as
  ``sequences.tsv`` in the shared data -> ``sequence_raw`` = user_id, ``order`` = position, ``item_raw`` = item_id.
* ``train`` / ``valid`` / ``test``: the RecBole ``.inter`` files with header
  ``user_id:token  item_id_list:token_seq  item_id:token`` (each row a history of at most 50 item indices and the
  target). The full sequence is rebuilt: the history of a user's shortest row, then the targets of all its rows in
  order (train rows by history length, equal lengths in reverse file order - the files list a user's prefixes
  longest first; then valid, then test). ``item2index`` (``ASIN<TAB>idx``) and ``user2index`` (``reviewerID<TAB>idx``)
  map the indices back to raw ids when given.
There are no timestamps (the UniSRec preprocessing drops them): ``timestamp`` is null.
Text (role ``text``): header ``item_id:token  text:token_seq`` -> ``raw_id`` = item_id, text column ``text``
(UniSRec's "title. categories. brand.").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from lea.data.raw import RawData, events_frame
from lea.data.recbole import read_atomic
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

SEQUENCES_EXPECTED = "a TSV with header user_id<TAB>...position...<TAB>item_id"
INTER_EXPECTED = "a RecBole .inter file with header user_id:token<TAB>item_id_list:token_seq<TAB>item_id:token"
TEXT_EXPECTED = "a UniSRec .text file with header item_id:token<TAB>text:token_seq"
INDEX_EXPECTED = "an index file: raw-id<TAB>index (no header)"


def read(raw_dir: Path, settings: dict[str, Any], report: Report) -> RawData:
    if "sequences" in settings.get("files", {}):
        events, events_path = _read_sequences(role_path(raw_dir, settings, "sequences"), report)
    else:
        events, events_path = _read_inter_files(raw_dir, settings, report)
    text_path = optional_role_path(raw_dir, settings, "text")
    items = None
    if text_path is not None:
        items = read_atomic(text_path, report, ["item_id", "text"], TEXT_EXPECTED)
        items = require(items, text_path, ["item_id"], report).rename({"item_id": "raw_id"})
        items = items.with_columns(pl.col("raw_id").str.strip_chars())
    return RawData(events=events, events_path=events_path, items=items, items_path=text_path)


def _read_sequences(path: Path, report: Report) -> tuple[pl.DataFrame, Path]:
    header, rows = header_and_rows(read_lines(path, report, SEQUENCES_EXPECTED))
    check_header(path, header, ["user_id", "position", "item_id"], SEQUENCES_EXPECTED)
    frame = split_fields(rows, path, header, report)
    frame = require(frame, path, ["user_id", "position", "item_id"], report)
    frame = to_int(frame, path, "position", report, "an integer position", whole=True)
    ensure_rows(frame, path, SEQUENCES_EXPECTED)
    events = events_frame(
        frame.with_columns(
            pl.col("user_id").str.strip_chars().alias("sequence_raw"),
            pl.col("item_id").str.strip_chars().alias("item_raw"),
            pl.col("position").alias("order"),
            pl.col("line").alias("row"),
        )
    )
    return events, path


def _read_inter_files(raw_dir: Path, settings: dict[str, Any], report: Report) -> tuple[pl.DataFrame, Path]:
    rows = []
    paths = {}
    for rank, role in enumerate(("train", "valid", "test")):
        path = role_path(raw_dir, settings, role)
        paths[role] = path
        frame = read_atomic(path, report, ["user_id", "item_id_list", "item_id"], INTER_EXPECTED)
        frame = require(frame, path, ["user_id", "item_id"], report)
        rows.append(
            frame.select(
                pl.lit(rank).alias("file_rank"),
                "line",
                pl.lit(str(path)).alias("file"),
                pl.col("user_id").str.strip_chars(),
                pl.col("item_id_list")
                .str.strip_chars()
                .str.split(" ")
                .list.eval(pl.element().filter(pl.element() != ""))
                .alias("history"),
                pl.col("item_id").str.strip_chars(),
            )
        )
    table = pl.concat(rows).with_columns(pl.col("history").list.len().alias("hist_len"))
    # the sort key of a row's target: file (train < valid < test), history length, reverse line in the file
    table = table.sort("user_id", "file_rank", "hist_len", pl.col("line"), descending=[False, False, False, True])
    firsts = (
        table.group_by("user_id", maintain_order=True)
        .first()
        .select("user_id", pl.col("history").alias("item_id"), "line", "file")
    )
    prefix = firsts.explode("item_id").filter(pl.col("item_id").is_not_null())
    targets = table.select("user_id", "item_id", "line", "file")
    sequence = pl.concat([prefix, targets]).with_columns(pl.int_range(pl.len()).over("user_id").alias("order"))
    sequence = sequence.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))
    sequence = _map_index(sequence, raw_dir, settings, "user2index", "user_id", report)
    sequence = _map_index(sequence, raw_dir, settings, "item2index", "item_id", report)
    events = events_frame(
        sequence.with_columns(pl.col("user_id").alias("sequence_raw"), pl.col("item_id").alias("item_raw"))
    )
    return events, paths["train"]


def _map_index(
    frame: pl.DataFrame, raw_dir: Path, settings: dict[str, Any], role: str, column: str, report: Report
) -> pl.DataFrame:
    """Replace indices in ``column`` by the raw ids of an index file (when the role is given)."""
    path = optional_role_path(raw_dir, settings, role)
    if path is None:
        return frame
    index = split_fields(read_lines(path, report, INDEX_EXPECTED), path, ["raw_id", "index"], report)
    index = require(index, path, ["raw_id", "index"], report).select(
        pl.col("raw_id").str.strip_chars(), pl.col("index").str.strip_chars()
    )
    mapped = frame.join(index, left_on=column, right_on="index", how="left")
    missing = mapped.filter(pl.col("raw_id").is_null())
    if missing.height:
        raise InputError(path, f"index {missing.row(0, named=True)[column]!r} used in the .inter files is missing here")
    return mapped.with_columns(pl.col("raw_id").alias(column)).drop("raw_id")
