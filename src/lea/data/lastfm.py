"""Last.fm listening events: the LFM-1b layout and the Last.fm-1K layout, and the inactivity-gap sessionizer.

LFM-1b (reader ``lfm1b``; roles ``events``, ``tracks``, ``albums``, ``artists``; tab-separated, no header):
  ``LFM-1b_LEs.txt``      user-id, artist-id, album-id, track-id, unix timestamp
                          -> ``sequence_raw`` = user-id (then cut into sessions), ``item_raw`` = track-id,
                             ``timestamp`` = ``order`` = unix timestamp
  ``LFM-1b_tracks.txt``   track-id, track-name[, artist-id]   -> item text column ``track_name``
  ``LFM-1b_albums.txt``   album-id, album-name[, artist-id]   -> ``album_name`` (a track's album: the album-id of
  ``LFM-1b_artists.txt``  artist-id, artist-name              -> ``artist_name``   its earliest event)
  Items are the tracks that occur in events; their artist comes from their earliest event's artist-id.

Last.fm-1K (reader ``lastfm1k``; role ``events``; one TSV, no header, newest event first per user):
  userid, ISO-8601 timestamp, artist-mbid, artist-name, track-mbid, track-name
  -> ``sequence_raw`` = userid (then cut into sessions), ``timestamp`` = ``order`` = unix seconds,
     ``item_raw`` = "artist-name<TAB>track-name" (MBIDs are often empty, names never are), item text columns
     ``track_name``, ``artist_name``, ``track_mbid``, ``artist_mbid`` (``album_name`` does not exist here).
  Equal timestamps keep the file's order reversed (the file is newest first).

Sessions: after the optional time window, a user's events (in time order) start a new session whenever the gap
to the previous event exceeds ``session_gap_minutes``; the session id is ``"{user}#{k}"`` (k = 0, 1, ... in time
order). ``session_gap_minutes: null`` keeps one sequence per user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from lea.data.raw import RawData, events_frame
from lea.data.textfile import Report, ensure_rows, read_lines, require, role_path, split_fields, to_int
from lea.errors import InputError

LFM1B_EVENTS = "LFM-1b_LEs.txt"
LASTFM1K_FIELDS = ["userid", "timestamp", "artist_mbid", "artist_name", "track_mbid", "track_name"]
LASTFM1K_EXPECTED = "Last.fm-1K TSV rows: userid, ISO-8601 timestamp, artist-mbid, artist-name, track-mbid, track-name"
LFM1B_EXPECTED = "LFM-1b events: user-id, artist-id, album-id, track-id, unix timestamp (tab-separated)"


def sessionize(events: pl.DataFrame, gap_minutes: float | None) -> pl.DataFrame:
    """Cut each user's time-ordered events into sessions at inactivity gaps longer than ``gap_minutes``."""
    if gap_minutes is None:
        return events
    ordered = events.sort("sequence_raw", "order", "row")
    gap = pl.col("order") - pl.col("order").shift(1).over("sequence_raw")
    starts = (gap.is_null() | (gap > gap_minutes * 60)).cast(pl.Int64)
    session = (starts.cum_sum().over("sequence_raw") - 1).cast(pl.String)
    return ordered.with_columns((pl.col("sequence_raw") + pl.lit("#") + session).alias("sequence_raw"))


def session_summary(events: pl.DataFrame, gap_minutes: float | None) -> dict[str, Any]:
    """What the sessionizer made of the users' events (stats.json ``sessions``; the empty-filter message cites it)."""
    lengths = events.group_by("sequence_raw").len()["len"]
    users = events["sequence_raw"].str.replace(r"#\d+$", "").n_unique() if gap_minutes is not None else lengths.len()
    return {
        "gap_minutes": gap_minutes,
        "users": users,
        "sequences": lengths.len(),
        "events_per_session": {
            "min": int(lengths.min() or 0),
            "median": float(lengths.median() or 0),
            "max": int(lengths.max() or 0),
        },
        "one_event_sessions": int((lengths == 1).sum()),
    }


def explain_sessions(summary: dict[str, Any], min_seq_len: int) -> tuple[str, bool]:
    """Why the filters may have emptied a sessionized log: how many sessions the gap made and how long they were;
    and whether the gap is the likely cause (the median session is shorter than ``min_seq_len``)."""
    n, lens = summary["sequences"], summary["events_per_session"]
    gap = summary["gap_minutes"]
    cut = f"the {gap:g}-minute session gap (session_gap_minutes)" if gap is not None else "one sequence per user"
    text = (
        f"{cut} made {n} sessions of {summary['users']} users, {lens['min']} to {lens['max']} events long "
        f"(median {lens['median']:g}; {summary['one_event_sessions']} of a single event), and filter.min_seq_len "
        f"is {min_seq_len}"
    )
    cause = gap is not None and lens["median"] < min_seq_len
    if cause:
        text += (
            "; events further apart than the gap become sessions of their own: raise session_gap_minutes to "
            "the log's spacing, or set it to null for one sequence per user"
        )
    return text, cause


def read_lastfm1k(raw_dir: Path, settings: dict[str, Any], report: Report) -> RawData:
    path = role_path(raw_dir, settings, "events", "userid-timestamp-artid-artname-traid-traname.tsv")
    rows = split_fields(read_lines(path, report, LASTFM1K_EXPECTED), path, LASTFM1K_FIELDS, report)
    rows = require(rows, path, ["userid", "timestamp", "artist_name", "track_name"], report)
    rows = _parse_iso(rows, path, report)
    ensure_rows(rows, path, LASTFM1K_EXPECTED)
    rows = rows.with_columns(
        (pl.col("artist_name") + pl.lit("\t") + pl.col("track_name")).alias("item_raw"),
        pl.col("userid").alias("sequence_raw"),
        pl.col("timestamp").alias("order"),
        (-pl.col("line")).alias("row"),  # newest first: a later line is an earlier event
    )
    items = (
        rows.sort("line", descending=True)
        .unique("item_raw", keep="first", maintain_order=True)
        .select(
            pl.col("item_raw").alias("raw_id"),
            "line",
            "track_name",
            "artist_name",
            _empty_to_null("track_mbid"),
            _empty_to_null("artist_mbid"),
        )
    )
    return RawData(events=events_frame(rows), events_path=path, items=items, items_path=path, sessionize=True)


def _empty_to_null(column: str) -> pl.Expr:
    return pl.when(pl.col(column).str.strip_chars() == "").then(None).otherwise(pl.col(column)).alias(column)


def _parse_iso(rows: pl.DataFrame, path: Path, report: Report) -> pl.DataFrame:
    parsed = pl.col("timestamp").str.strip_chars().str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC", strict=False)
    rows = rows.with_columns(parsed.dt.epoch("s").alias("_unix"))
    bad = rows.filter(pl.col("_unix").is_null())
    report.reject(
        path,
        "bad_value",
        bad,
        lambda row: f"field 'timestamp' must be ISO-8601 UTC like 2009-05-04T13:06:09Z, got {row['timestamp']!r}",
    )
    return rows.filter(pl.col("_unix").is_not_null()).with_columns(pl.col("_unix").alias("timestamp")).drop("_unix")


def read_lfm1b(raw_dir: Path, settings: dict[str, Any], report: Report) -> RawData:
    path = role_path(raw_dir, settings, "events", LFM1B_EVENTS)
    fields = ["user_id", "artist_id", "album_id", "track_id", "timestamp"]
    rows = split_fields(read_lines(path, report, LFM1B_EXPECTED), path, fields, report)
    rows = require(rows, path, ["user_id", "track_id", "timestamp"], report)
    rows = to_int(rows, path, "timestamp", report, "a unix time in seconds")
    ensure_rows(rows, path, LFM1B_EXPECTED)
    rows = rows.with_columns(pl.col(c).str.strip_chars() for c in ("user_id", "artist_id", "album_id", "track_id"))
    events = events_frame(
        rows.with_columns(
            pl.col("user_id").alias("sequence_raw"),
            pl.col("track_id").alias("item_raw"),
            pl.col("timestamp").alias("order"),
            pl.col("line").alias("row"),
        )
    )
    # a track's album and artist: those of its earliest event (ids; names come from the id/name files)
    first = (
        rows.sort("timestamp", "line")
        .unique("track_id", keep="first", maintain_order=True)
        .select(pl.col("track_id").alias("raw_id"), "artist_id", "album_id")
    )
    tracks_path = role_path(raw_dir, settings, "tracks", "LFM-1b_tracks.txt")
    tracks = _id_names(tracks_path, report, "track")
    # a track missing from the tracks file has no item row: its events are "unknown item" in preprocessing
    items = first.join(
        tracks.select("id", "line", pl.col("name").alias("track_name")), left_on="raw_id", right_on="id", how="inner"
    )
    for role, default, column, key in (
        ("albums", "LFM-1b_albums.txt", "album_name", "album_id"),
        ("artists", "LFM-1b_artists.txt", "artist_name", "artist_id"),
    ):
        if role in settings.get("files", {}) or (raw_dir / default).exists() or (raw_dir / f"{default}.gz").exists():
            names = _id_names(role_path(raw_dir, settings, role, default), report, role[:-1])
            items = items.join(names.select("id", pl.col("name").alias(column)), left_on=key, right_on="id", how="left")
    items = items.drop("artist_id", "album_id").sort("line")
    return RawData(events=events, events_path=path, items=items, items_path=tracks_path, sessionize=True)


def _id_names(path: Path, report: Report, what: str) -> pl.DataFrame:
    """An LFM-1b id/name file: id, name[, artist-id] (tab-separated, no header) -> ``id``, ``name``, ``line``."""
    lines = read_lines(path, report, f"LFM-1b {what} file: {what}-id<TAB>name[<TAB>artist-id]")
    parts = lines.with_columns(pl.col("text").str.split("\t").alias("parts"))
    n_fields = pl.col("parts").list.len()
    bad = parts.with_columns(n_fields.alias("n")).filter((pl.col("n") < 2) | (pl.col("n") > 3))
    report.reject(
        path,
        "malformed_line",
        bad,
        lambda row: f"expected 2 or 3 tab-separated fields ({what}-id, name[, artist-id]), got {row['n']}",
    )
    parts = parts.filter((n_fields >= 2) & (n_fields <= 3)).select(
        "line", pl.col("parts").list.get(0).str.strip_chars().alias("id"), pl.col("parts").list.get(1).alias("name")
    )
    parts = require(parts, path, ["id"], report)
    if parts.height == 0:
        raise InputError(path, f"no usable rows (wrong format?); expected {what}-id<TAB>name")
    unique = parts.unique("id", keep="first", maintain_order=True)
    report.repaired[f"duplicate_{what}_id"] += parts.height - unique.height  # the first row of an id wins
    return unique
