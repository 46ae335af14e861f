"""The LE trains on what it is later asked: its transitions cover the RL's (position 0 included); LE subsets exact."""

from __future__ import annotations

import numpy as np
import polars as pl

from lea.env.train import le_subset, load_sequences, transitions
from lea.rl.replay import build_transitions
from lea.rl.synthetic import successor_dataset


def test_le_transitions_cover_every_rl_transition(tmp_path) -> None:
    tables = successor_dataset(tmp_path, n_items=25, n_seq=40, seed=2)
    seqs, splits, n_items = load_sequences(tmp_path)
    train_ids = sorted(splits.filter(pl.col("split") == "train")["sequence"].to_list())
    le = transitions(seqs, train_ids, window=4)
    rl = build_transitions(tables["interactions"], tables["splits"], "train", n_items, 4)
    keys_rl = set(zip(rl.sequence.tolist(), rl.position.tolist(), strict=True))
    assert {(t.sequence, t.position) for t in le} == keys_rl  # the precompute's keys: position 0 included
    first = next(t for t in le if t.position == 0)
    assert first.history == [] and first.target == seqs[first.sequence][0]  # the empty-history prompt
    assert all(t.history == seqs[t.sequence][max(0, t.position - 4) : t.position] for t in le)
    assert all(t.position >= 1 for t in transitions(seqs, train_ids, 4, min_history=1))


def test_le_subset_membership_is_exact() -> None:
    f32 = np.float32
    stored = [f32(0.05), f32(0.1), np.nextafter(f32(0.1), f32(1)), f32(0.2), f32(0.3), f32(1.0), None]
    splits = pl.DataFrame(
        {
            "sequence": list(range(len(stored))),
            "split": ["train"] * (len(stored) - 1) + ["valid"],
            "le_fraction": pl.Series([None if v is None else float(v) for v in stored], dtype=pl.Float32),
        }
    )
    assert le_subset(splits, 0.05) == [0]
    assert le_subset(splits, 0.1) == [0, 1]  # the next float32 above 0.1 is not in the 0.1 subset
    assert le_subset(splits, 0.2) == [0, 1, 2, 3]  # float32(0.2) > 0.2 as a double: still in
    assert le_subset(splits, 0.3) == [0, 1, 2, 3, 4]
    assert le_subset(splits, 1.0) == [0, 1, 2, 3, 4, 5]  # never a non-training sequence
