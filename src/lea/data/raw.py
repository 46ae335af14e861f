"""The one internal schema every reader maps its format to, before the common preprocessing.

Events (one row per interaction):
  ``sequence_raw`` Utf8  user / session / playlist id in the raw data
  ``item_raw``     Utf8  item id in the raw data (the key of the item table)
  ``order``        Int64 the order key inside a sequence: unix seconds, or the given position
  ``timestamp``    Int64 unix seconds, null when the source has none
  ``row``          Int64 tie-break for equal ``order`` (ascending = earlier); usually the line number
  ``line``         Int64 line in ``events_path`` (for messages)
  ``file``         Utf8  the file of ``line`` when events come from several files (else null: ``events_path``)
Items (optional: formats without an item file have no text):
  ``raw_id`` Utf8, ``line`` Int64, plus one Utf8 column per raw text field (named as in the raw data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "sequence_raw": pl.String(),
    "item_raw": pl.String(),
    "order": pl.Int64(),
    "timestamp": pl.Int64(),
    "row": pl.Int64(),
    "line": pl.Int64(),
    "file": pl.String(),
}


@dataclass
class RawData:
    events: pl.DataFrame
    events_path: Path
    items: pl.DataFrame | None = None
    items_path: Path | None = None
    # Last.fm: events are cut into sessions by an inactivity gap (after the time window), not one per user
    sessionize: bool = False


def events_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Select and type the event columns in schema order (missing ``timestamp`` becomes null)."""
    for optional, dtype in (("timestamp", pl.Int64), ("file", pl.String)):
        if optional not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(optional))
    return frame.select([pl.col(name).cast(dtype) for name, dtype in EVENT_SCHEMA.items()])
