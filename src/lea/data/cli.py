"""``lea preprocess``: read one dataset's raw files, preprocess, write its data-stage outputs atomically."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lea.cli import parse_settings
from lea.data import reader_for
from lea.data.preprocess import resolve_settings, run, write_outputs
from lea.data.textfile import Report
from lea.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings", required=True, help="the dataset section as JSON (or a JSON/YAML file)")
    parser.add_argument("--raw-dir", required=True, type=Path, help="folder holding the raw files")
    parser.add_argument("--out-dir", required=True, type=Path, help="where items/interactions/splits go")


def preprocess(settings: dict, raw_dir: Path, out_dir: Path) -> dict:
    """Read, preprocess and write; returns the stats. Nothing is written unless every step succeeds."""
    resolved = resolve_settings(settings)
    if not raw_dir.is_dir():
        raise InputError(raw_dir, "raw data folder not found")
    report = Report(strict=resolved["strict"])
    raw = reader_for(resolved["reader"])(raw_dir, resolved, report)
    tables, stats = run(raw, resolved, report)
    write_outputs(tables, stats, out_dir)
    return stats


def main(args: argparse.Namespace) -> int:
    stats = preprocess(parse_settings(args.settings), args.raw_dir, args.out_dir)
    print(json.dumps({"dataset": stats["dataset"], **stats["table1"], "skipped": stats["skipped"]}))
    return 0
