"""``lea negatives``: the negative-action pool every variant shares (docs/architecture.md, Negative pool).

The authors' SNQN/SA2C code draws a fresh negative per transition and step, uniformly over all items, redrawn only if
it equals the positive (Eq. 10's a^-_t has reward 0). An LE reward r^e(p_t, a^-_t) (Eq. 5) is one LLM evaluation per
(transition, item), so it cannot be had for a fresh item every step; comparing a fixed-reward variant that draws fresh
negatives with an LE-reward variant that reads precomputed ones would change two things at once. So every variant
draws from one pool:

1. this LE-free stage draws, per training transition (sequence, position p), ``K = precompute.negatives`` distinct
   items uniformly among the items *not* in that sequence, seeded by (``precompute.negatives_seed``, sequence): the
   pool does not depend on sharding, on the LE or on the recommender seed;
2. the LE's rewards stage scores exactly these K items (r^e of every pool item, ``rewards.parquet``);
3. at every training step each framework with a Q-head draws its ``rec.negatives`` negatives per transition among
   the K pool items, without replacement, from a generator of its own seeded by the run seed
   (:class:`NegativeSampler`) and consumed the same way whatever the variant: at one seed SA2C and LER, or SNQN and
   LEAR, train on the same negatives at every step; only the reward differs.

With K = 1 a transition has the same negative in every epoch; as K grows the law tends to the reference's fresh
uniform draw over the items outside the sequence, at the cost of K reward evaluations per transition by the LLM.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl
import torch
from tqdm.auto import tqdm

from lea.errors import ConfigError, InputError
from lea.io import read_parquet, write_parquet

POOL_COLUMNS = {"sequence": pl.Int32, "position": pl.Int32, "negatives": pl.List}
STAGE = "negatives"
# A fixed word mixed into the run seed, so the negatives' stream is not the stream of the batch order and the coin.
_STREAM = 0x6E6567


def pool_for_sequence(sequence: int, items: list[int], n_items: int, k: int, seed: int) -> np.ndarray:
    """[len(items), k] negatives of one sequence: per position k distinct items not in the sequence.

    Seeded by (seed, sequence) alone. A sequence with fewer than k items outside it (tiny catalogues only) draws with
    replacement among them; one holding every item draws among the items other than the position's target."""
    rng = np.random.default_rng([seed, sequence])
    out = np.empty((len(items), k), dtype=np.int64)
    comp = np.setdiff1d(np.arange(n_items, dtype=np.int64), np.asarray(items, dtype=np.int64))
    for p, target in enumerate(items):
        pool = comp if comp.size else np.setdiff1d(np.arange(n_items, dtype=np.int64), [target])
        out[p] = rng.choice(pool, size=k, replace=pool.size < k)
    return out


def build_pool(
    sequences: Mapping[int, list[int]], ids: list[int], n_items: int, k: int, seed: int, progress: bool = False
) -> pl.DataFrame:
    """The pool table of the sequences ``ids`` (sorted by sequence, position)."""
    if k < 1:
        raise ConfigError("precompute.negatives", f"the pool needs at least 1 negative per transition, got {k}")
    if n_items < 2:
        raise InputError("items.parquet", f"a negative pool needs at least 2 items, the data has {n_items}")
    seq_col, pos_col, negs = [], [], []
    for s in tqdm(sorted(ids), desc="negative pool", disable=not progress, mininterval=5):
        items = sequences[s]
        seq_col.append(np.full(len(items), s, dtype=np.int32))
        pos_col.append(np.arange(len(items), dtype=np.int32))
        negs.append(pool_for_sequence(s, items, n_items, k, seed))
    arr = np.concatenate(negs) if negs else np.zeros((0, k), dtype=np.int64)
    return pl.DataFrame(
        {
            "sequence": pl.Series(np.concatenate(seq_col) if seq_col else [], dtype=pl.Int32),
            "position": pl.Series(np.concatenate(pos_col) if pos_col else [], dtype=pl.Int32),
            "negatives": pl.Series(arr.astype(np.int32).tolist(), dtype=pl.List(pl.Int32)),
        }
    )


def pool_from_data(data_dir: str | Path, k: int, seed: int, progress: bool = False) -> pl.DataFrame:
    """The pool of every training sequence of the data stage's outputs in ``data_dir``."""
    from lea.rl.replay import load_data

    items, inter, splits = load_data(data_dir)
    train = splits.filter(pl.col("split") == "train").select("sequence")
    seqs = (
        inter.join(train, on="sequence", how="semi")
        .sort("sequence", "position")
        .group_by("sequence", maintain_order=True)
        .agg(pl.col("item"))
    )
    sequences = dict(zip(seqs["sequence"].to_list(), seqs["item"].to_list(), strict=True))
    return build_pool(sequences, list(sequences), items.height, k, seed, progress)


def read_pool(path: str | Path) -> pl.DataFrame:
    """The pool file with its columns checked and every row of one width K (InputError naming the key otherwise)."""
    df = read_parquet(path, STAGE, POOL_COLUMNS)
    widths = df["negatives"].list.len()
    if df.height and widths.n_unique() != 1:
        bad = df.filter(widths != widths[0]).row(0, named=True)
        raise InputError(
            path,
            f"(sequence={bad['sequence']}, position={bad['position']}) has "
            f"{len(bad['negatives'])} negatives, the first row {widths[0]}: one K for every row",
        )
    return df


def pool_width(df: pl.DataFrame) -> int:
    return int(df["negatives"].list.len()[0]) if df.height else 0


class NegativeSampler:
    """The step's negatives: ``k`` of each transition's K pool items, without replacement, from a dedicated stream.

    One call per training step, of the same shape whatever the variant (the framework decides only whether a Q-head
    exists), so two runs at one seed draw the same columns at every step."""

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + _STREAM)

    def columns(self, batch: int, pool: int, k: int) -> torch.Tensor:
        """[batch, k] distinct column indices into the [batch, pool] pool rows (uniform random subsets)."""
        if k > pool:
            raise ConfigError(
                "rec.negatives",
                f"{k} negatives per step need a pool of at least {k} per transition (precompute.negatives is {pool})",
            )
        keys = torch.rand(batch, pool, generator=self.gen)
        return keys.argsort(dim=1)[:, :k]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", required=True, help="folder with items/interactions/splits.parquet")
    p.add_argument("--k", type=int, required=True, help="pool size per transition (precompute.negatives)")
    p.add_argument("--seed", type=int, default=0, help="precompute.negatives_seed")
    p.add_argument("--out", required=True, help="negatives.parquet")


def main(args: argparse.Namespace) -> int:
    df = pool_from_data(args.data_dir, args.k, args.seed, progress=True)
    write_parquet(df, args.out)
    print(f"negative pool: {df.height} transitions x {args.k} -> {args.out}")
    return 0
