"""``lea control-precompute``: one control environment's states, rewards or augmented actions for every training
sequence, in the LLM precompute's contracts (docs/architecture.md, Control environments). No shards: an ID model or
a seeded draw takes seconds, where the LLM takes hours."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import torch

from lea.cli import parse_settings
from lea.errors import InputError
from lea.io import read_parquet, write_parquet

KINDS = ("states", "rewards", "augment")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--settings", required=True, help="JSON: as `lea control-fit`, plus 'precompute'")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--model", required=True, help="the environment's model.safetensors (lea control-fit)")
    p.add_argument("--top5", default=None, help="augment: warmup top5.parquet")
    p.add_argument("--negatives", default=None, help="rewards: the negative pool negatives.parquet (lea negatives)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", required=True)


def run(
    kind: str,
    s: Mapping[str, Any],
    data_dir: str | Path,
    model: str | Path,
    top5: str | Path | None = None,
    negatives: str | Path | None = None,
) -> pl.DataFrame:
    from lea.control.base import augment_frame, rewards_frame, states_frame
    from lea.control.envs import module
    from lea.env.precompute import shard_sequences
    from lea.env.train import load_sequences

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    pc = s.get("precompute", {})
    W = s.get("history", 10)
    seqs, splits, n_items = load_sequences(data_dir)
    env = module(s["le"]["env"]).load_env(s, model, n_items)
    ids = shard_sequences(seqs, splits, 0, 1)  # the training sequences, as the LLM precompute's shards together
    if kind == "states":
        return states_frame(env, seqs, ids, W, pc.get("state_dtype", "float16"))
    if kind == "rewards":
        from lea.env.precompute import pool_rows
        from lea.rl.negatives import pool_width, read_pool

        if negatives is None:
            raise InputError("--negatives", "the rewards precompute scores the negative pool: pass negatives.parquet")
        pool = read_pool(negatives)
        return rewards_frame(env, seqs, ids, W, pool_rows(pool, ids, seqs, negatives), pool_width(pool))
    if top5 is None:
        raise InputError("--top5", "the augment precompute needs the warm-up model's top5.parquet")
    top = read_parquet(top5, "warmup", {"sequence": pl.Int32, "position": pl.Int32, "candidates": pl.List})
    return augment_frame(env, seqs, ids, W, top)


def main(args: argparse.Namespace) -> int:
    s = parse_settings(args.settings)
    if args.threads:
        torch.set_num_threads(args.threads)
    df = run(args.kind, s, args.data_dir, args.model, args.top5, args.negatives)
    write_parquet(df, args.out)
    print(f"{s['le']['env']} {args.kind}: {df.height} rows -> {args.out}")
    return 0
