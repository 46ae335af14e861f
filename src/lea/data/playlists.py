"""Ordered playlists (the Spotify MPD copy ``spotify-mpd-soundscout``), optionally cut to the first N tracks
(``max_seq_len``, applied in preprocessing).

Mapping (roles in ``files``; TSV with a header):
  ``interactions`` (``pid``, ``position``, ``item_idx``) -> ``sequence_raw`` = pid, ``order`` = position,
                                                           ``timestamp`` null
  ``tracks`` (``item_idx``, ``track_uri``, ``track_name``, ``artist_name``, ...) -> ``raw_id`` = track_uri (the
      track's identity; ``item_idx`` when there is no ``track_uri`` column); every column is a text column for
      ``text_fields``. An interaction's ``item_idx`` is looked up in the tracks file; events refer to the raw id.
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
    read_lines,
    require,
    role_path,
    split_fields,
    to_int,
)

INTER_EXPECTED = "a playlist TSV with header pid<TAB>position<TAB>item_idx"
TRACKS_EXPECTED = "a tracks TSV with header item_idx<TAB>track_uri<TAB>track_name<TAB>artist_name"


def _table(path: Path, report: Report, required: list[str], expected: str) -> pl.DataFrame:
    header, rows = header_and_rows(read_lines(path, report, expected))
    check_header(path, header, required, expected)
    frame = require(split_fields(rows, path, header, report), path, required, report)
    ensure_rows(frame, path, expected)
    return frame


def read(raw_dir: Path, settings: dict[str, Any], report: Report) -> RawData:
    inter_path = role_path(raw_dir, settings, "interactions", "interactions.tsv")
    inter = _table(inter_path, report, ["pid", "position", "item_idx"], INTER_EXPECTED)
    inter = to_int(inter, inter_path, "position", report, "an integer position", whole=True)
    tracks_path = role_path(raw_dir, settings, "tracks", "tracks.tsv")
    tracks = _table(tracks_path, report, ["item_idx"], TRACKS_EXPECTED)
    id_column = "track_uri" if "track_uri" in tracks.columns else "item_idx"
    tracks = require(tracks, tracks_path, [id_column], report)
    tracks = tracks.with_columns(pl.col("item_idx").str.strip_chars(), pl.col(id_column).str.strip_chars())
    # an interaction's item: the raw id of its item_idx; an index the tracks file lacks stays unknown (its
    # raw id is "item_idx:<n>", which preprocessing rejects as an unknown item with this line)
    index = tracks.unique("item_idx", keep="first", maintain_order=True).select(
        "item_idx", pl.col(id_column).alias("_raw")
    )
    inter = inter.with_columns(pl.col("item_idx").str.strip_chars()).join(index, on="item_idx", how="left")
    events = events_frame(
        inter.with_columns(
            pl.col("pid").str.strip_chars().alias("sequence_raw"),
            pl.coalesce(pl.col("_raw"), pl.lit("item_idx:") + pl.col("item_idx")).alias("item_raw"),
            pl.col("position").alias("order"),
            pl.col("line").alias("row"),
        ).sort("line")
    )
    items = tracks.with_columns(pl.col(id_column).alias("raw_id"))
    return RawData(events=events, events_path=inter_path, items=items, items_path=tracks_path)
