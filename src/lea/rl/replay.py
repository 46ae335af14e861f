"""Replay of transitions, built once as tensors from the data stage's Parquet (docs/architecture.md, Transitions).

A transition is keyed by (sequence, position p): state = items at [p-W, p) right-padded with the pad item
``n_items`` (length max(1, min(p, W)); position 0 is the all-pad state of length 1, as the authors' code), action =
item at p, next state = items at [p-W+1, p+1), done = p is the sequence's last position. Validation / test cases are
the same transitions of valid / test sequences.

The LE inputs are joined by (sequence, position): ``states.parquet`` (the LE state of the history before p, and the
next state = the row at p+1), ``negatives.parquet`` (the K-item negative pool of every transition,
``lea.rl.negatives``; LE-free, so every variant has it), ``rewards.parquet`` (r^e for the observed item and exactly
the pool's items, in pool order), ``augment_{backbone}.parquet`` (a^e_t and r^e(p_t, a^e_t)). A missing file
raises MissingInputError naming the precompute; a transition without a row raises InputError naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import torch

from lea.errors import InputError
from lea.io import read_parquet

ITEMS_COLS = {"item": pl.Int32, "raw_id": pl.Utf8}
INTER_COLS = {"sequence": pl.Int32, "position": pl.Int32, "item": pl.Int32}
SPLIT_COLS = {"sequence": pl.Int32, "split": pl.Utf8}


@dataclass
class Transitions:
    sequence: torch.Tensor  # [N] int64
    position: torch.Tensor  # [N] int64
    state: torch.Tensor  # [N, W] int64, right-padded with n_items
    length: torch.Tensor  # [N] int64 >= 1
    action: torch.Tensor  # [N] int64
    next_state: torch.Tensor  # [N, W]
    next_length: torch.Tensor  # [N]
    done: torch.Tensor  # [N] bool
    n_items: int
    window: int
    # LE inputs (None unless attached)
    le_table: torch.Tensor | None = None  # [M, d] float16/32: all LE state rows
    le_idx: torch.Tensor | None = None  # [N] row of s^e_t in le_table
    le_next_idx: torch.Tensor | None = None  # [N] row of s^e_{t+1}
    pos_reward: torch.Tensor | None = None  # [N] r^e(p_t, a+_t)
    pool: torch.Tensor | None = None  # [N, K] the transition's negative pool (lea.rl.negatives)
    pool_reward: torch.Tensor | None = None  # [N, K] r^e(p_t, a-) of each pool item
    aug_item: torch.Tensor | None = None  # [N] a^e_t
    aug_reward: torch.Tensor | None = None  # [N] r^e(p_t, a^e_t)
    extra: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.action.shape[0])

    @property
    def le_dim(self) -> int:
        return 0 if self.le_table is None else int(self.le_table.shape[1])


def load_data(data_dir: str | Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """items, interactions, splits of the data stage (checked columns)."""
    d = Path(data_dir)
    items = read_parquet(d / "items.parquet", "preprocess", ITEMS_COLS)
    inter = read_parquet(d / "interactions.parquet", "preprocess", INTER_COLS)
    splits = read_parquet(d / "splits.parquet", "preprocess", SPLIT_COLS)
    return items, inter, splits


def build_transitions(
    interactions: pl.DataFrame, splits: pl.DataFrame | None, split: str | None, n_items: int, window: int = 10
) -> Transitions:
    """All transitions of the sequences in ``split`` (None: all), as tensors."""
    df = interactions.select("sequence", "position", "item")
    if split is not None:
        assert splits is not None
        keep = splits.filter(pl.col("split") == split).select("sequence")
        df = df.join(keep, on="sequence", how="semi")
    df = df.sort("sequence", "position")
    seq = df["sequence"].to_numpy().astype(np.int64)
    pos = df["position"].to_numpy().astype(np.int64)
    item = df["item"].to_numpy().astype(np.int64)
    n = len(item)
    if n and ((item < 0).any() or (item >= n_items).any()):
        raise InputError(
            "interactions.parquet", f"item ids must lie in [0, {n_items}); found {item.min()}..{item.max()}"
        )
    r = np.arange(n, dtype=np.int64)
    if n:
        # positions must be contiguous from 0 within a sequence
        start = np.r_[True, seq[1:] != seq[:-1]]
        expected = r - np.maximum.accumulate(np.where(start, r, 0))
        if not np.array_equal(pos, expected):
            bad = int(np.flatnonzero(pos != expected)[0])
            raise InputError("interactions.parquet", f"positions of sequence {seq[bad]} are not 0..len-1 in order")
    done = np.r_[seq[1:] != seq[:-1], True] if n else np.zeros(0, dtype=bool)
    cols = np.arange(window, dtype=np.int64)[None, :]

    def window_of(end: np.ndarray, length: np.ndarray) -> np.ndarray:
        # items at rows [end - length, end), right-padded
        idx = end[:, None] - length[:, None] + cols
        return np.where(cols < length[:, None], item[np.clip(idx, 0, max(n - 1, 0))], n_items)

    ln = np.minimum(pos, window)
    nln = np.minimum(pos + 1, window)
    state = window_of(r, ln) if n else np.zeros((0, window), dtype=np.int64)
    nxt = window_of(r + 1, nln) if n else np.zeros((0, window), dtype=np.int64)
    t = torch.from_numpy
    return Transitions(
        sequence=t(seq),
        position=t(pos),
        state=t(state),
        length=t(np.maximum(ln, 1)),
        action=t(item),
        next_state=t(nxt),
        next_length=t(nln),
        done=t(done.astype(bool)),
        n_items=n_items,
        window=window,
    )


def _keys(tr: Transitions) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sequence": tr.sequence.numpy().astype(np.int32),
            "position": tr.position.numpy().astype(np.int32),
            "_row": np.arange(len(tr), dtype=np.int64),
        }
    )


def _rows_for(keys: pl.DataFrame, table: pl.DataFrame, path: object, what: str) -> np.ndarray:
    """For each transition key, the row index in ``table`` (which holds a ``_trow`` column); error on a miss."""
    joined = keys.join(table.select("sequence", "position", "_trow"), on=["sequence", "position"], how="left")
    joined = joined.sort("_row")
    miss = joined.filter(pl.col("_trow").is_null())
    if miss.height:
        s, p = miss.row(0)[:2]
        raise InputError(
            path,
            f"no {what} row for (sequence={s}, position={p}); {miss.height} transitions lack one "
            f"(was the precompute run on this data?)",
        )
    return np.array(joined["_trow"].to_numpy(), dtype=np.int64)


def attach_le_states(tr: Transitions, path: str | Path, dtype: torch.dtype = torch.float16) -> None:
    """s^e_t = row (sequence, p), s^e_{t+1} = row (sequence, p+1) of ``states.parquet``."""
    df = read_parquet(path, "le-precompute (states)", {"sequence": pl.Int32, "position": pl.Int32})
    if "state" not in df.columns:
        raise InputError(path, f"column 'state' is missing (have: {', '.join(df.columns)})")
    df = df.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_trow"))
    arr = df["state"].to_numpy()
    if arr.ndim != 2:
        arr = np.stack(arr)
    tr.le_table = torch.from_numpy(np.array(arr, dtype=np.float32)).to(dtype)
    keys = _keys(tr)
    tr.le_idx = torch.from_numpy(_rows_for(keys, df, path, "LE state"))
    nkeys = keys.with_columns(pl.col("position") + 1)
    tr.le_next_idx = torch.from_numpy(_rows_for(nkeys, df, path, "LE next state"))


def attach_pool(tr: Transitions, path: str | Path) -> None:
    """The K-item negative pool of each transition from ``negatives.parquet`` (``lea negatives``)."""
    from lea.rl.negatives import read_pool

    df = read_pool(path).with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_trow"))
    rows = _rows_for(_keys(tr), df, path, "negative pool")
    k = int(df["negatives"].list.len()[0]) if df.height else 0
    arr = np.array(df["negatives"].to_list(), dtype=np.int64).reshape(df.height, k)[rows]
    if len(tr) and ((arr < 0).any() or (arr >= tr.n_items).any()):
        raise InputError(path, f"negatives must lie in [0, {tr.n_items})")
    same = arr == tr.action.numpy()[:, None]
    if same.any():
        bad = int(np.flatnonzero(same.any(axis=1))[0])
        raise InputError(
            path,
            f"the pool of (sequence={int(tr.sequence[bad])}, position={int(tr.position[bad])}) "
            f"holds its observed item {int(tr.action[bad])}",
        )
    tr.pool = torch.from_numpy(arr)


def attach_le_rewards(tr: Transitions, path: str | Path) -> None:
    """r^e for the observed item and for each item of the transition's pool (Eq. 5, 10); needs ``attach_pool``.

    The rewards stage scores exactly the pool's items, in pool order; a rewards file of another pool is an error
    (its negatives would not be the ones every variant draws)."""
    if tr.pool is None:
        raise ValueError("attach_pool before attach_le_rewards")
    df = read_parquet(
        path,
        "le-precompute (rewards)",
        {"sequence": pl.Int32, "position": pl.Int32, "item": pl.Int32, "positive": pl.Boolean, "reward": pl.Float32},
    )
    pos = df.filter(pl.col("positive")).unique(["sequence", "position"], keep="first", maintain_order=True)
    pos = pos.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_trow"))
    keys = _keys(tr)
    rows = _rows_for(keys, pos, path, "positive reward")
    pitem = pos["item"].to_numpy()[rows]
    if not np.array_equal(pitem, tr.action.numpy()):
        bad = int(np.flatnonzero(pitem != tr.action.numpy())[0])
        raise InputError(
            path,
            f"positive item of (sequence={int(tr.sequence[bad])}, position={int(tr.position[bad])}) "
            f"is {int(pitem[bad])}, the interactions say {int(tr.action[bad])}",
        )
    tr.pos_reward = torch.from_numpy(pos["reward"].to_numpy()[rows].astype(np.float32))
    k = int(tr.pool.shape[1])
    neg = (
        df.filter(~pl.col("positive"))
        .group_by(["sequence", "position"], maintain_order=True)
        .agg(pl.col("item"), pl.col("reward"), pl.len().alias("_n"))
    )
    wrong = neg.filter(pl.col("_n") != k)
    if wrong.height:
        s, p = wrong.row(0)[:2]
        raise InputError(
            path,
            f"(sequence={s}, position={p}) has {wrong['_n'][0]} scored negatives, the negative "
            f"pool has {k} per transition (rerun the rewards precompute on this pool)",
        )
    neg = neg.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_trow"))
    nrows = _rows_for(keys, neg, path, "negative reward")
    items = np.array(neg["item"].to_list(), dtype=np.int64).reshape(neg.height, k)[nrows]
    rewards = np.array(neg["reward"].to_list(), dtype=np.float32).reshape(neg.height, k)[nrows]
    differ = (items != tr.pool.numpy()).any(axis=1)
    if differ.any():
        bad = int(np.flatnonzero(differ)[0])
        raise InputError(
            path,
            f"the scored negatives of (sequence={int(tr.sequence[bad])}, "
            f"position={int(tr.position[bad])}) are {items[bad].tolist()}, the negative pool says "
            f"{tr.pool[bad].tolist()} (rerun the rewards precompute on this pool)",
        )
    tr.pool_reward = torch.from_numpy(rewards)


def attach_augment(tr: Transitions, path: str | Path) -> None:
    """a^e_t (``chosen``) and r^e(p_t, a^e_t) (``reward``) of ``augment_{backbone}.parquet`` (Eq. 13, 14)."""
    df = read_parquet(
        path,
        "le-precompute (augment)",
        {"sequence": pl.Int32, "position": pl.Int32, "chosen": pl.Int32, "reward": pl.Float32},
    )
    df = df.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_trow"))
    rows = _rows_for(_keys(tr), df, path, "augmentation")
    tr.aug_item = torch.from_numpy(df["chosen"].to_numpy()[rows].astype(np.int64))
    tr.aug_reward = torch.from_numpy(df["reward"].to_numpy()[rows].astype(np.float32))
    if len(tr) and ((tr.aug_item < 0).any() or (tr.aug_item >= tr.n_items).any()):
        raise InputError(path, f"'chosen' must lie in [0, {tr.n_items})")
