"""Small synthetic datasets following the data stage's contract (for tests, the benchmark and smoke runs).

``successor``: each sequence starts at a random item and item i is followed by item (i + 1) mod n_items -- a rule a
sequential recommender must learn (HR@5 -> 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from lea import io as leaio


def successor_dataset(
    out_dir: str | Path,
    n_items: int = 50,
    n_seq: int = 300,
    min_len: int = 3,
    max_len: int = 15,
    seed: int = 0,
    noise: float = 0.0,
    pool_size: int = 2,
    pool_seed: int = 0,
) -> dict[str, pl.DataFrame]:
    """The data stage's three tables plus the negative pool (``negatives.parquet``, K = ``pool_size``) in out_dir."""
    rng = np.random.default_rng(seed)
    seqs, poss, its = [], [], []
    for s in range(n_seq):
        length = int(rng.integers(min_len, max_len + 1))
        start = int(rng.integers(0, n_items))
        items = (start + np.arange(length)) % n_items
        if noise:
            flip = rng.random(length) < noise
            items = np.where(flip, rng.integers(0, n_items, length), items)
        seqs += [s] * length
        poss += list(range(length))
        its += items.tolist()
    inter = pl.DataFrame(
        {"sequence": seqs, "position": poss, "item": its, "timestamp": [None] * len(its)},
        schema={"sequence": pl.Int32, "position": pl.Int32, "item": pl.Int32, "timestamp": pl.Int64},
    )
    order = rng.permutation(n_seq)
    n_tr, n_va = int(0.8 * n_seq), int(0.1 * n_seq)
    split = np.empty(n_seq, dtype=object)
    split[order[:n_tr]] = "train"
    split[order[n_tr : n_tr + n_va]] = "valid"
    split[order[n_tr + n_va :]] = "test"
    splits = pl.DataFrame(
        {
            "sequence": np.arange(n_seq, dtype=np.int32),
            "raw_id": [f"u{s}" for s in range(n_seq)],
            "split": split.tolist(),
            "le_fraction": [0.1 if x == "train" else None for x in split],
        },
        schema={"sequence": pl.Int32, "raw_id": pl.Utf8, "split": pl.Utf8, "le_fraction": pl.Float32},
    )
    items = pl.DataFrame(
        {
            "item": np.arange(n_items, dtype=np.int32),
            "raw_id": [f"I{i:04d}" for i in range(n_items)],
            "title": [f"Item number {i}" for i in range(n_items)],
            "sentence": ["{S} item" for _ in range(n_items)],
        },
        schema={"item": pl.Int32, "raw_id": pl.Utf8, "title": pl.Utf8, "sentence": pl.Utf8},
    )
    d = Path(out_dir)
    leaio.write_parquet(items, d / "items.parquet")
    leaio.write_parquet(inter, d / "interactions.parquet")
    leaio.write_parquet(splits, d / "splits.parquet")
    pool = _pool(inter, splits, n_items, pool_size, pool_seed)
    leaio.write_parquet(pool, d / "negatives.parquet")
    return {"items": items, "interactions": inter, "splits": splits, "negatives": pool}


def _pool(inter: pl.DataFrame, splits: pl.DataFrame | None, n_items: int, k: int, seed: int) -> pl.DataFrame:
    from lea.rl.negatives import build_pool

    if splits is not None:
        inter = inter.join(splits.filter(pl.col("split") == "train").select("sequence"), on="sequence", how="semi")
    seqs = inter.sort("sequence", "position").group_by("sequence", maintain_order=True).agg(pl.col("item"))
    sequences = dict(zip(seqs["sequence"].to_list(), seqs["item"].to_list(), strict=True))
    return build_pool(sequences, list(sequences), n_items, k, seed)


def fake_le_tables(
    out_dir: str | Path,
    interactions: pl.DataFrame,
    n_items: int,
    dim: int = 8,
    negatives: int = 2,
    seed: int = 0,
    backbone: str = "gru",
    pool_seed: int = 0,
) -> dict[str, Path]:
    """Random LE states / rewards / augmentation tables with the precompute schemas (for tests of the switches).

    The rewards score the negative pool of (K = ``negatives``, ``pool_seed``) over every sequence: on the training
    sequences it is the pool :func:`successor_dataset` writes with the same K and seed."""
    rng = np.random.default_rng(seed)
    d = Path(out_dir)
    lens = interactions.group_by("sequence").agg(pl.len().alias("n")).sort("sequence")
    st_seq, st_pos = [], []
    for s, n in lens.iter_rows():
        st_seq += [s] * (n + 1)
        st_pos += list(range(n + 1))
    states = pl.DataFrame({"sequence": st_seq, "position": st_pos}, schema={"sequence": pl.Int32, "position": pl.Int32})
    vec = rng.standard_normal((states.height, dim)).astype(np.float32)
    states = states.with_columns(pl.Series("state", vec, dtype=pl.Array(pl.Float32, dim)))
    rows = []
    pool = _pool(interactions, None, n_items, negatives, pool_seed).sort("sequence", "position")
    inter_sorted = interactions.sort("sequence", "position")
    for (s, p, it), negs in zip(
        inter_sorted.select("sequence", "position", "item").iter_rows(), pool["negatives"].to_list(), strict=True
    ):
        rows.append((s, p, it, True, float(rng.random())))
        for neg in negs:
            rows.append((s, p, int(neg), False, float(rng.random())))
    rewards = pl.DataFrame(
        rows,
        schema={
            "sequence": pl.Int32,
            "position": pl.Int32,
            "item": pl.Int32,
            "positive": pl.Boolean,
            "reward": pl.Float32,
        },
        orient="row",
    )
    inter = interactions.select("sequence", "position")
    chosen = rng.integers(0, n_items, inter.height)
    augment = inter.with_columns(
        pl.Series(
            "candidates",
            [[int(c), *[int(x) for x in rng.integers(0, n_items, 4)]] for c in chosen],
            dtype=pl.List(pl.Int32),
        ),
        pl.Series("chosen", chosen, dtype=pl.Int32),
        pl.Series("reward", rng.random(inter.height).astype(np.float32), dtype=pl.Float32),
        pl.Series("hit", np.zeros(inter.height, dtype=bool)),
    )
    paths = {
        "states": d / "states.parquet",
        "rewards": d / "rewards.parquet",
        "augment": d / f"augment_{backbone}.parquet",
    }
    leaio.write_parquet(states, paths["states"])
    leaio.write_parquet(rewards, paths["rewards"])
    leaio.write_parquet(augment, paths["augment"])
    return paths
