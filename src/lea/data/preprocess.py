"""Everything common to all formats: validate, window, sessionize, order, cap, filter, index, split, LE subsets,
sentences, stats, and the atomic writing of ``items`` / ``interactions`` / ``splits`` Parquet and ``stats.json``.

Order of steps (each is recorded in ``stats.json``):
 1. the reader maps its format to the internal schema (``lea.data.raw``);
 2. item table checks: duplicate ids (identical rows are merged, conflicting ones rejected), items with no text;
    event checks: unknown items, duplicate events (same sequence, order key and item: dropped and counted, or an
    error, by ``duplicates``; independent of ``strict``), then, without timestamps, the same position twice (a bad row
    under ``strict``);
 3. time window (``time_window_days`` from ``time_window_start``, or the latest such window), then sessions
    (Last.fm readers only, ``session_gap_minutes``);
 4. order each sequence by (order key, raw row); caps: ``keep_top_items`` (most frequent items, ties by raw id),
    ``max_seq_len`` (first N events), ``max_sequences`` (seeded sample of sequences, seed ``split.seed``);
 5. the paper's filters, each round dropping items seen fewer than ``min_item_count`` times, then sequences shorter
    than ``min_seq_len``; repeated to a fixpoint (``iterate: true``) or once;
 6. dense indices: sequences by their earliest raw row, items by first appearance in the ordered event stream
    (sequence index, then position);
 7. split 8:1:1 by sequence (seeded shuffle) and nested LE subsets of the training sequences;
 8. sentences from ``sentence_template`` (see ``render_sentences``).
"""

from __future__ import annotations

import copy
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import polars as pl

from lea.config import config_hash, load_schema
from lea.data.raw import RawData
from lea.data.textfile import Report
from lea.errors import ConfigError, InputError
from lea.io import write_json, write_parquet

PLACEHOLDER = "{S}"
FIELD_PATTERN = re.compile(r"\{(\w+)\}")
# settings that do not change the data stage's outputs (left out of the settings hash)
NOT_DATA_SETTINGS = ("rec", "domain", "paper_name", "name")


# ---------------------------------------------------------------- settings


def resolve_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Fill the dataset schema's defaults and validate (settings from the rules are already complete)."""
    resolved = copy.deepcopy(settings)
    name = resolved.pop("name", "dataset")
    schema = load_schema()
    dataset_schema = {**schema["$defs"]["dataset"], "$defs": schema["$defs"]}
    validator_class = _defaults_validator()
    validator = validator_class(dataset_schema)
    for _ in range(2):  # defaults can create objects whose own defaults need filling
        errors = sorted(validator.iter_errors(resolved), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        key = ".".join(["datasets", name, *map(str, err.absolute_path)])
        raise ConfigError(key, err.message)
    resolved["name"] = name
    split = resolved["split"]
    total = split["train"] + split["valid"] + split["test"]
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"datasets.{name}.split", f"train + valid + test must be 1, got {total:g}")
    template = resolved["sentence_template"]
    if template.count(PLACEHOLDER) != 1:
        raise ConfigError(
            f"datasets.{name}.sentence_template",
            f"must contain the item placeholder {PLACEHOLDER} exactly once: {template!r}",
        )
    return resolved


def _defaults_validator() -> Any:
    from lea.config import _with_defaults  # the same default-filling validator the config loader uses

    return _with_defaults(jsonschema.Draft202012Validator)


def settings_hash(settings: dict[str, Any]) -> str:
    return config_hash({k: v for k, v in settings.items() if k not in NOT_DATA_SETTINGS})


# ---------------------------------------------------------------- checks of the reader's output


def clean_items(raw: RawData, settings: dict[str, Any], report: Report) -> pl.DataFrame | None:
    """The item table with one Utf8 column per ``text_fields`` key (trimmed, blank -> null), ids unique."""
    text_fields: dict[str, str] = settings["text_fields"]
    if raw.items is None:
        if text_fields:
            raise ConfigError(
                f"datasets.{settings['name']}.text_fields",
                f"reader '{settings['reader']}' was given no item file, so there is no text "
                f"for {', '.join(text_fields)}",
            )
        return None
    items, path = raw.items, raw.items_path
    for field, column in text_fields.items():
        if column not in items.columns:
            have = ", ".join(c for c in items.columns if c not in ("raw_id", "line"))
            raise ConfigError(
                f"datasets.{settings['name']}.text_fields.{field}",
                f"column '{column}' is not in {path.name if path else 'the item table'} (have: {have})",
            )
    items = items.select("raw_id", "line", *[_clean_text(pl.col(c)).alias(f) for f, c in text_fields.items()])
    items = _dedupe_items(items, path, list(text_fields), report)
    if text_fields:
        no_text = pl.all_horizontal(pl.col(f).is_null() for f in text_fields)
        report.reject(
            path,
            "empty_text",
            items.filter(no_text),
            lambda row: f"item {row['raw_id']!r} has no text: {', '.join(text_fields.values())} are all empty",
        )
        items = items.filter(~no_text)
    return items


def _clean_text(expr: pl.Expr) -> pl.Expr:
    """Trim, collapse runs of whitespace, and keep the item placeholder out of raw text; blank -> null."""
    text = (
        expr.cast(pl.String)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .str.replace_all(PLACEHOLDER, "S", literal=True)
    )
    return pl.when(text == "").then(None).otherwise(text)


def _dedupe_items(items: pl.DataFrame, path: Path | None, fields: list[str], report: Report) -> pl.DataFrame:
    """Identical repeated rows of an id are merged (counted); a repeat with different text is rejected."""
    ranked = items.sort("line").with_columns(pl.int_range(pl.len()).over("raw_id").alias("_copy"))
    firsts = ranked.filter(pl.col("_copy") == 0)
    repeats = ranked.filter(pl.col("_copy") > 0)
    if repeats.height:
        compared = repeats.join(firsts.select("raw_id", *[pl.col(f).alias(f"_first_{f}") for f in fields]), on="raw_id")
        same = pl.all_horizontal([pl.col(f).eq_missing(pl.col(f"_first_{f}")) for f in fields] or [pl.lit(True)])
        report.repaired["duplicate_item"] += compared.filter(same).height
        report.reject(
            path or Path("items"),
            "duplicate_item",
            compared.filter(~same),
            lambda row: f"item {row['raw_id']!r} appears again with different text",
        )
    return firsts.drop("_copy")


def check_events(
    raw: RawData,
    items: pl.DataFrame | None,
    report: Report,
    duplicates: str = "error",
    stats: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """Events whose items are known and that are not repeats of an earlier event.

    ``duplicates``: ``error`` treats a repeated event (same sequence, order key and item) as a bad row (strict mode
    stops at it, lenient mode skips and counts it under ``skipped.duplicate_event``); ``drop`` keeps the first copy
    and records the number dropped in ``stats["duplicates"]`` whatever ``strict`` says."""
    events, path = raw.events, raw.events_path
    if items is not None:
        unknown = ~pl.col("item_raw").is_in(items["raw_id"].implode())
        where = raw.items_path.name if raw.items_path else "the item table"
        report.reject(
            path, "unknown_item", events.filter(unknown), lambda row: f"item {row['item_raw']!r} is not in {where}"
        )
        events = events.filter(~unknown)
    copies = events.sort("file", "line").with_columns(
        pl.int_range(pl.len()).over("sequence_raw", "order", "item_raw").alias("_copy")
    )
    repeats = copies.filter(pl.col("_copy") > 0)
    if duplicates == "drop":
        pass  # counted below; the first copy (earliest line) stays
    elif duplicates == "error":
        report.reject(
            path,
            "duplicate_event",
            repeats,
            lambda row: (
                f"duplicate event: sequence {row['sequence_raw']!r} has item {row['item_raw']!r} "
                f"at {_order_name(row)} {row['order']} already (set duplicates: drop to drop "
                f"repeated events)"
            ),
        )
    else:
        raise ConfigError("duplicates", f"must be 'drop' or 'error', got {duplicates!r}")
    if stats is not None:
        stats["duplicates"] = {"policy": duplicates, "dropped": repeats.height if duplicates == "drop" else 0}
    events = copies.filter(pl.col("_copy") == 0).drop("_copy")
    if events["timestamp"].is_null().all():  # positions must be unique within a sequence
        copies = events.sort("file", "line").with_columns(
            pl.int_range(pl.len()).over("sequence_raw", "order").alias("_copy")
        )
        report.reject(
            path,
            "duplicate_position",
            copies.filter(pl.col("_copy") > 0),
            lambda row: f"sequence {row['sequence_raw']!r} has a second item at position {row['order']}",
        )
        events = copies.filter(pl.col("_copy") == 0).drop("_copy")
    if events.height == 0:
        raise InputError(path, "no usable events are left after the checks")
    return events


def _order_name(row: dict[str, Any]) -> str:
    return "position" if row["timestamp"] is None else "time"


# Readers whose raw files are known to repeat records verbatim: the Amazon Review Data (2018) files hold some reviews
# twice (same reviewer, asin and unixReviewTime), so their default is to drop the repeats and count them.
DUPLICATE_DEFAULTS = {"amazon2018": "drop"}


def duplicate_policy(settings: dict[str, Any]) -> str:
    """``duplicates`` of the dataset, or its reader's default (``drop`` for amazon2018, ``error`` elsewhere)."""
    return settings.get("duplicates") or DUPLICATE_DEFAULTS.get(settings.get("reader", ""), "error")


# ---------------------------------------------------------------- window, caps, filters


def time_window(events: pl.DataFrame, settings: dict[str, Any], stats: dict[str, Any]) -> pl.DataFrame:
    """Keep events in [start, start + days) (``time_window_start``) or in the latest ``days`` (end inclusive)."""
    days = settings["time_window_days"]
    if days is None:
        return events
    if events["timestamp"].is_null().any():
        raise ConfigError(
            f"datasets.{settings['name']}.time_window_days",
            "this dataset has no timestamps, so it cannot be cut to a time window",
        )
    span = round(days * 86400)
    if settings["time_window_start"] is not None:
        start = _parse_date(settings)
        kept = events.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < start + span))
    else:
        end = int(events["timestamp"].max())  # type: ignore[arg-type]
        start = end - span
        kept = events.filter(pl.col("timestamp") > start)
    stats["caps"]["time_window"] = {"start": start, "days": days, "interactions_dropped": events.height - kept.height}
    if kept.height == 0:
        raise ConfigError(f"datasets.{settings['name']}.time_window_start", "the time window holds no events")
    return kept


def _parse_date(settings: dict[str, Any]) -> int:
    text = settings["time_window_start"]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"datasets.{settings['name']}.time_window_start", f"not an ISO date or date-time: {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def order_events(events: pl.DataFrame) -> pl.DataFrame:
    return events.sort("sequence_raw", "order", "row")


def apply_caps(events: pl.DataFrame, settings: dict[str, Any], stats: dict[str, Any]) -> pl.DataFrame:
    """``keep_top_items``, then ``max_seq_len``, then ``max_sequences``; events must be ordered."""
    caps = stats["caps"]
    if settings["keep_top_items"] is not None:
        top = (
            events.group_by("item_raw")
            .len()
            .sort(["len", "item_raw"], descending=[True, False])
            .head(settings["keep_top_items"])["item_raw"]
        )
        events, caps["keep_top_items"] = _record(events, events.filter(pl.col("item_raw").is_in(top.implode())))
    if settings["max_seq_len"] is not None:
        first_n = pl.int_range(pl.len()).over("sequence_raw") < settings["max_seq_len"]
        events, caps["max_seq_len"] = _record(events, events.filter(first_n))
    if settings["max_sequences"] is not None:
        sequences = events["sequence_raw"].unique().sort()
        if sequences.len() > settings["max_sequences"]:
            rng = np.random.default_rng(settings["split"]["seed"])
            chosen = sequences.gather(np.sort(rng.choice(sequences.len(), settings["max_sequences"], replace=False)))
            sampled = events.filter(pl.col("sequence_raw").is_in(chosen.implode()))
            events, caps["max_sequences"] = _record(events, sampled)
    return events


def _record(before: pl.DataFrame, after: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    return after, _drops(before, after)


def _drops(before: pl.DataFrame, after: pl.DataFrame) -> dict[str, int]:
    return {
        "sequences_dropped": before["sequence_raw"].n_unique() - after["sequence_raw"].n_unique(),
        "items_dropped": before["item_raw"].n_unique() - after["item_raw"].n_unique(),
        "interactions_dropped": before.height - after.height,
    }


def apply_filters(events: pl.DataFrame, settings: dict[str, Any], stats: dict[str, Any]) -> pl.DataFrame:
    """Drop rare items, then short sequences; repeat until nothing changes (or once)."""
    rules = settings["filter"]
    rounds: list[dict[str, int]] = []
    while True:
        before = events
        events = events.filter(pl.len().over("item_raw") >= rules["min_item_count"])
        events = events.filter(pl.len().over("sequence_raw") >= rules["min_seq_len"])
        rounds.append(_drops(before, events))
        if events.height == before.height or not rules["iterate"] or events.height == 0:
            break
    stats["filter"] = {**rules, "rounds": rounds}
    if events.height == 0:
        if "sessions" in stats:  # a sessionized log: the usual cause is a gap shorter than the log's spacing
            from lea.data.lastfm import explain_sessions

            why, gap_is_cause = explain_sessions(stats["sessions"], rules["min_seq_len"])
            key = "session_gap_minutes" if gap_is_cause else "filter"
            raise ConfigError(f"datasets.{settings['name']}.{key}", f"the filters leave no interactions: {why}")
        raise ConfigError(f"datasets.{settings['name']}.filter", "the filters leave no interactions")
    return events


# ---------------------------------------------------------------- indices, split, LE subsets


def index_events(events: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Dense ``sequence`` and ``item`` indices; returns (interactions, sequence ids, item ids)."""
    sequence_ids = (
        events.group_by("sequence_raw")
        .agg(pl.col("row").min())
        .sort("row")
        .with_row_index("sequence")
        .select(pl.col("sequence").cast(pl.Int32), "sequence_raw")
    )
    ordered = events.join(sequence_ids, on="sequence_raw").sort("sequence", "order", "row")
    ordered = ordered.with_columns(pl.int_range(pl.len()).over("sequence").cast(pl.Int32).alias("position"))
    item_ids = (
        ordered.select("item_raw")
        .unique(maintain_order=True)
        .with_row_index("item")
        .select(pl.col("item").cast(pl.Int32), "item_raw")
    )
    interactions = (
        ordered.join(item_ids, on="item_raw")
        .sort("sequence", "position")
        .select("sequence", "position", "item", pl.col("timestamp").cast(pl.Int64))
    )
    return interactions, sequence_ids, item_ids


def split_sequences(sequence_ids: pl.DataFrame, settings: dict[str, Any]) -> pl.DataFrame:
    """A seeded shuffle of the sequences cut train:valid:test; nested LE subsets of the training ones.

    A training sequence's ``le_fraction`` is the smallest f in ``le_fractions`` with its rank in a second seeded
    shuffle of the training sequences below max(1, round(f * n_train)): the subset for f is a prefix of one
    order, so the 5% subset lies inside the 10% one.
    """
    split, n = settings["split"], sequence_ids.height
    rng = np.random.default_rng(split["seed"])
    shuffled = rng.permutation(n)
    n_train = _round_half_up(split["train"] * n)
    n_valid = min(_round_half_up(split["valid"] * n), n - n_train)
    labels = np.empty(n, dtype=object)
    labels[shuffled[:n_train]] = "train"
    labels[shuffled[n_train : n_train + n_valid]] = "valid"
    labels[shuffled[n_train + n_valid :]] = "test"
    le_fraction = np.full(n, np.nan, dtype=np.float32)
    train_order = shuffled[:n_train][rng.permutation(n_train)]
    for fraction in sorted(settings["le_fractions"], reverse=True):  # smaller subsets overwrite larger ones
        size = max(1, _round_half_up(fraction * n_train)) if n_train else 0
        le_fraction[train_order[:size]] = fraction
    return pl.DataFrame(
        {
            "sequence": sequence_ids["sequence"],
            "raw_id": sequence_ids["sequence_raw"],
            "split": pl.Series(labels.tolist(), dtype=pl.String),
            "le_fraction": pl.Series(le_fraction, dtype=pl.Float32).fill_nan(None),
        }
    )


def _round_half_up(x: float) -> int:
    """Sizes round halves up (Python's round() rounds them to even: 5 sequences at 0.1 would give 0 valid)."""
    return math.floor(x + 0.5)


# ---------------------------------------------------------------- sentences


def template_clauses(template: str) -> tuple[str, list[tuple[str, str]], str]:
    """Split a template into (text up to and with {S}, [(clause text before the field, field)], tail).

    A field's clause is the literal text since the previous placeholder ({S} or a field) plus the field: in
    ``"{S} track is titled {title} from album {album}, its artist is {artist}."`` the album clause is
    ``" from album {album}"`` and the artist clause ``", its artist is {artist}"``. A missing field drops its
    clause; the text before {S} and after the last field always stays.
    """
    head_end = template.index(PLACEHOLDER) + len(PLACEHOLDER)
    head, rest = template[:head_end], template[head_end:]
    clauses: list[tuple[str, str]] = []
    position = 0
    for match in FIELD_PATTERN.finditer(rest):
        clauses.append((rest[position : match.start()], match.group(1)))
        position = match.end()
    if FIELD_PATTERN.search(head[: -len(PLACEHOLDER)]):
        raise ValueError("fields before {S} are not supported")
    return head, clauses, rest[position:]


def render_sentences(items: pl.DataFrame, settings: dict[str, Any]) -> pl.Series:
    try:
        head, clauses, tail = template_clauses(settings["sentence_template"])
    except ValueError as exc:
        raise ConfigError(f"datasets.{settings['name']}.sentence_template", str(exc)) from None
    parts = [pl.lit(head)]
    for text, field in clauses:
        value = pl.col(field) if field in items.columns else pl.lit(None, dtype=pl.String)
        parts.append(pl.when(value.is_not_null()).then(pl.lit(text) + value).otherwise(pl.lit("")))
    parts.append(pl.lit(tail))
    sentence = pl.concat_str(parts).str.replace_all(r" {2,}", " ").str.strip_chars()
    return items.with_columns(sentence.alias("sentence"))["sentence"]  # with_columns broadcasts a literal


def build_items(item_ids: pl.DataFrame, items: pl.DataFrame | None, settings: dict[str, Any]) -> pl.DataFrame:
    fields = list(settings["text_fields"])
    table = item_ids.rename({"item_raw": "raw_id"})
    if items is not None:
        table = table.join(items.select("raw_id", *fields), on="raw_id", how="left").sort("item")
    title = pl.col("title") if "title" in fields else pl.lit(None, dtype=pl.String)
    table = table.with_columns(pl.coalesce(title, pl.col("raw_id")).alias("_title"))
    table = table.with_columns(render_sentences(table, settings))
    return table.select(
        "item",
        "raw_id",
        pl.col("_title").alias("title"),
        "sentence",
        *[pl.col(f).cast(pl.String) for f in fields if f != "title"],
    )


# ---------------------------------------------------------------- the stage


def run(raw: RawData, settings: dict[str, Any], report: Report) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """Raw data -> the three tables and the stats (nothing is written here)."""
    stats: dict[str, Any] = {"dataset": settings["name"], "reader": settings["reader"], "caps": {}}
    items = clean_items(raw, settings, report)
    events = check_events(raw, items, report, duplicate_policy(settings), stats)
    stats["input"] = {
        "interactions": events.height,
        "sequences": events["sequence_raw"].n_unique(),
        "items": events["item_raw"].n_unique(),
    }
    events = time_window(events, settings, stats)
    if raw.sessionize:
        from lea.data.lastfm import session_summary, sessionize

        events = sessionize(events, settings["session_gap_minutes"])
        stats["sessions"] = session_summary(events, settings["session_gap_minutes"])
    events = apply_caps(order_events(events), settings, stats)
    events = apply_filters(events, settings, stats)
    interactions, sequence_ids, item_ids = index_events(events)
    splits = split_sequences(sequence_ids, settings)
    item_table = build_items(item_ids, items, settings)
    stats["table1"] = table1(interactions)
    stats["splits"] = {s: int((splits["split"] == s).sum()) for s in ("train", "valid", "test")}
    stats["le_subsets"] = {
        str(f): int((splits["le_fraction"] <= np.float32(f)).sum())  # as stored: exact
        for f in sorted(settings["le_fractions"])
    }
    stats["text"] = {
        f: int(item_table[f].is_not_null().sum()) for f in settings["text_fields"] if f in item_table.columns
    }
    stats.update(report.as_dict())
    stats["strict"] = settings["strict"]
    stats["settings_hash"] = settings_hash(settings)
    return {"items": item_table, "interactions": interactions, "splits": splits}, stats


def table1(interactions: pl.DataFrame) -> dict[str, Any]:
    n_seq = interactions["sequence"].n_unique()
    return {
        "items": interactions["item"].n_unique(),
        "sequences": n_seq,
        "interactions": interactions.height,
        "avg_len": round(interactions.height / n_seq, 2) if n_seq else math.nan,
    }


def write_outputs(tables: dict[str, pl.DataFrame], stats: dict[str, Any], out_dir: Path) -> None:
    """Each file is written to a temporary name and renamed; stats.json last (it marks the stage done)."""
    write_parquet(tables["items"], out_dir / "items.parquet")
    write_parquet(tables["interactions"], out_dir / "interactions.parquet")
    write_parquet(tables["splits"], out_dir / "splits.parquet")
    write_json(stats, out_dir / "stats.json")
