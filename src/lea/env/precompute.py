"""``lea le-precompute``: LE states, rewards or augmented actions for one shard of the training sequences
(``shard = sequence % shards``; docs/architecture.md, LLM environment). One output file per shard, so a rerun after an
interruption recomputes only the missing shards; ``lea gather`` joins them.

- states: s^e (Eq. 2) before every position 0..len of each training sequence (window W), prefix-shared passes.
- rewards: r^e (Eq. 1) of the observed item and of each item of the transition's negative pool (``negatives.parquet``,
  the LE-free pool every variant draws its negatives from, ``lea.rl.negatives``), in pool order; the history's KV
  cache is shared by its actions.
- augment: the 5-way position choice over the warm-up model's top-5 (paper 3.4): chosen item, its reward, hit.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from lea.cli import parse_settings
from lea.config import with_recipe
from lea.errors import ConfigError, InputError, MissingInputError
from lea.io import read_parquet, write_parquet

KINDS = ("states", "rewards", "augment")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--settings", required=True, help="JSON: as `lea fit-le`, plus 'precompute'")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--item-tokens", default=None, help="item_tokens.safetensors (not for the -IT ablation)")
    p.add_argument("--le-dir", required=True, help="the fitted LE: adapter/ and score_head.safetensors")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--top5", default=None, help="augment: warmup top5.parquet")
    p.add_argument("--negatives", default=None, help="rewards: the negative pool negatives.parquet (lea negatives)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (the rule's threads)")
    p.add_argument("--out", required=True)


def shard_sequences(seqs: Mapping[int, list[int]], splits: pl.DataFrame, shard: int, shards: int) -> list[int]:
    train = splits.filter(pl.col("split") == "train")["sequence"].to_list()
    return sorted(s for s in train if s % shards == shard and s in seqs)


def pool_rows(
    pool: pl.DataFrame, ids: list[int], seqs: Mapping[int, list[int]], path: object
) -> dict[int, list[list[int]]]:
    """{sequence: [pool items of position 0, 1, ...]} for the shard's sequences; every position must have its row."""
    rows = pool.filter(pl.col("sequence").is_in(ids)).sort(["sequence", "position"])
    got = rows.group_by("sequence", maintain_order=True).agg(pl.col("position"), pl.col("negatives"))
    out = dict(zip(got["sequence"].to_list(), got["negatives"].to_list(), strict=True))
    positions = dict(zip(got["sequence"].to_list(), got["position"].to_list(), strict=True))
    for s in ids:
        if positions.get(s) != list(range(len(seqs[s]))):
            raise InputError(
                path,
                f"sequence {s}: the pool has positions {positions.get(s)}, the interactions "
                f"0..{len(seqs[s]) - 1} (was the negatives stage run on this data?)",
            )
    return out


def compute_states(inf, seqs: Mapping[int, list[int]], ids: list[int], dtype: str) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    states = inf.sequence_states([seqs[s] for s in ids])
    seq_col = np.concatenate([[s] * (len(seqs[s]) + 1) for s in ids]) if ids else np.zeros(0)
    pos_col = np.concatenate([np.arange(len(seqs[s]) + 1) for s in ids]) if ids else np.zeros(0)
    d = inf.le.llm.config.hidden_size
    arr = torch.cat(states).numpy() if ids else np.zeros((0, d), dtype=np.float32)
    return states_table(seq_col, pos_col, arr, dtype)


def states_table(seq_col, pos_col, arr: np.ndarray, dtype: str) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """``states.parquet`` rows (any environment): s^e of each (sequence, position), stored as ``dtype``."""
    return pl.DataFrame(
        {
            "sequence": pl.Series(seq_col, dtype=pl.Int32),
            "position": pl.Series(pos_col, dtype=pl.Int32),
            "state": pl.Series(arr.astype(np.float16 if dtype == "float16" else np.float32)),
        }
    )


def compute_rewards(
    inf, seqs: Mapping[int, list[int]], ids: list[int], pool: Mapping[int, list[list[int]]], k: int
) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """r^e of the observed item and of the k pool items of every transition of ``ids`` (rows: positive first)."""
    W = inf.p.window
    hist, acts, keys = [], [], []
    for s in ids:
        items = seqs[s]
        for p, negs in enumerate(pool[s]):
            hist.append(items[max(0, p - W) : p])
            acts.append([items[p], *negs])
            keys.append((s, p))
    r = inf.rewards_shared(hist, acts) if keys else torch.zeros(0, k + 1)
    return rewards_table(keys, acts, r, k)


def rewards_table(keys: list[tuple[int, int]], acts: list[list[int]], r: torch.Tensor, k: int) -> pl.DataFrame:
    """``rewards.parquet`` rows (any environment): per transition (sequence, position) its k + 1 actions, the
    observed item first, each with r^e."""
    n = len(keys)
    return pl.DataFrame(
        {
            "sequence": pl.Series(np.repeat([s for s, _ in keys], k + 1), dtype=pl.Int32),
            "position": pl.Series(np.repeat([p for _, p in keys], k + 1), dtype=pl.Int32),
            "item": pl.Series(np.array(acts, dtype=np.int64).reshape(-1), dtype=pl.Int32),
            "positive": pl.Series(np.tile([True] + [False] * k, n), dtype=pl.Boolean),
            "reward": pl.Series(r.numpy().reshape(-1), dtype=pl.Float32),
        }
    )


def compute_augment(inf, seqs: Mapping[int, list[int]], ids: list[int], top5: pl.DataFrame) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    W = inf.p.window
    keys, cands = top5_rows(top5, seqs, ids)
    hist = [seqs[s][max(0, p - W) : p] for s, p in keys]
    if keys:
        pos, _, r = inf.choose_with_rewards(hist, cands)
        chosen = [c[int(k)] for c, k in zip(cands, pos, strict=True)]
        reward = r.numpy()
    else:
        chosen, reward = [], np.zeros(0, dtype=np.float32)
    return augment_table(seqs, keys, cands, chosen, reward)


def top5_rows(
    top5: pl.DataFrame, seqs: Mapping[int, list[int]], ids: list[int]
) -> tuple[list[tuple[int, int]], list[list[int]]]:
    """The warm-up's top-5 rows of the sequences ``ids`` in (sequence, position) order: their keys and candidates,
    checked to be 5 candidates at a position inside the sequence."""
    rows = top5.filter(pl.col("sequence").is_in(ids)).sort(["sequence", "position"])
    keys = list(zip(rows["sequence"].to_list(), rows["position"].to_list(), strict=True))
    cands = [list(c) for c in rows["candidates"].to_list()]
    for (s, p), c in zip(keys, cands, strict=True):
        if p >= len(seqs[s]) or len(c) != 5:
            raise InputError(
                "top5.parquet", f"(sequence={s}, position={p}): position past the sequence or not 5 candidates"
            )
    return keys, cands


def augment_table(
    seqs: Mapping[int, list[int]], keys: list[tuple[int, int]], cands: list[list[int]], chosen: list[int], reward
) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """``augment_{backbone}.parquet`` rows (any environment): the candidates, the chosen a^e_t, its r^e, and whether
    it is the true next item."""
    truth = [seqs[s][p] for s, p in keys]
    return pl.DataFrame(
        {
            "sequence": pl.Series([s for s, _ in keys], dtype=pl.Int32),
            "position": pl.Series([p for _, p in keys], dtype=pl.Int32),
            "candidates": pl.Series(cands, dtype=pl.List(pl.Int32)),
            "chosen": pl.Series(chosen, dtype=pl.Int32),
            "reward": pl.Series(reward, dtype=pl.Float32),
            "hit": pl.Series([c == t for c, t in zip(chosen, truth, strict=True)], dtype=pl.Boolean),
        }
    )


def run(
    kind: str,
    s: Mapping[str, Any],
    data_dir: str | Path,
    item_tokens: str | Path | None,
    le_dir: str | Path,
    shard: int,
    shards: int,
    top5: str | Path | None = None,
    seed: int = 0,
    negatives: str | Path | None = None,
    le=None,
    prompter=None,  # type: ignore[no-untyped-def]
    progress: bool = True,
) -> pl.DataFrame:
    from lea.env.cli import build
    from lea.env.inference import LEInference
    from lea.env.train import load_sequences

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if not 0 <= shard < shards:
        raise InputError("--shard", f"shard {shard} is not in [0, {shards})")
    pc = s.get("precompute", {})
    if pc.get("compile", False) and not pc.get("packed", False):
        raise ConfigError("precompute.compile", "compiles the packed rows: set precompute.packed: true as well")
    seqs, splits, _ = load_sequences(data_dir)
    top = None
    pool = None
    if kind == "rewards":
        from lea.rl.negatives import pool_width, read_pool

        if negatives is None:
            raise InputError("--negatives", "the rewards precompute scores the negative pool: pass negatives.parquet")
        pool = read_pool(negatives)
    if kind == "augment":
        if top5 is None:
            raise InputError("--top5", "the augment precompute needs the warm-up model's top5.parquet")
        top = read_parquet(top5, "warmup", {"sequence": pl.Int32, "position": pl.Int32, "candidates": pl.List})
    d = Path(le_dir)
    for f in (d / "adapter" / "adapter_config.json", d / "score_head.safetensors"):
        if le is None and not f.exists():
            raise MissingInputError(f, "fit_le")
    if le is None:
        le, prompter, _ = build(
            s, data_dir, item_tokens, adapter_dir=d / "adapter", score_head=d / "score_head.safetensors"
        )
    inf = LEInference(
        le,
        prompter,
        batch_size=pc.get("batch_size", 32),
        progress=progress,
        reward_prior=with_recipe(s.get("finetune", {}), s.get("finetune", {}).get("recipe", "paper"))[
            "choice_reward_prior"
        ],
        kv_share=None if pc.get("kv_share", "auto") == "auto" else bool(pc["kv_share"]),
        packed=bool(pc.get("packed", False)),
        compile=bool(pc.get("compile", False)),
        merge_lora=bool(pc.get("merge_lora", False)),
    )
    ids = shard_sequences(seqs, splits, shard, shards)
    if kind == "states":
        return compute_states(inf, seqs, ids, pc.get("state_dtype", "float16"))
    if kind == "rewards":
        assert pool is not None
        return compute_rewards(inf, seqs, ids, pool_rows(pool, ids, seqs, negatives), pool_width(pool))
    return compute_augment(inf, seqs, ids, top)


def main(args: argparse.Namespace) -> int:
    s = parse_settings(args.settings)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    df = run(
        args.kind,
        s,
        args.data_dir,
        args.item_tokens,
        args.le_dir,
        args.shard,
        args.shards,
        args.top5,
        args.seed,
        args.negatives,
    )
    write_parquet(df, args.out)
    print(f"{args.kind} shard {args.shard}/{args.shards}: {df.height} rows -> {args.out}")
    return 0
