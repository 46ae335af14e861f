"""``lea control-fit``: train (or, for ``random``, set up) one control environment and measure it on the validation
transitions: ``model.safetensors``, ``le_quality.json`` (the LE's diagnostics), ``train_log.csv``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import polars as pl
import torch

from lea.cli import parse_settings
from lea.io import atomic_path, write_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--settings",
        required=True,
        help="JSON: {'le': le_setting (with env), 'finetune': ..., 'control': le.control, 'history': W}",
    )
    p.add_argument("--data-dir", required=True, help="results/{dataset}/data")
    p.add_argument("--out-dir", required=True, help="the LE setting's folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (the rule's threads)")


def fit(s: dict, data_dir: str | Path, out_dir: str | Path, seed: int = 0, progress: bool = True) -> dict:
    from lea.control.base import measure
    from lea.control.envs import module
    from lea.env.train import load_data

    env_name = s["le"]["env"]
    mod = module(env_name)
    data = load_data(s, data_dir, seed, every_train_sequence=getattr(mod, "EVERY_TRAIN_SEQUENCE", False))
    print(f"{env_name}: {len(data.train_ids)} training sequences, {len(data.train)} transitions", flush=True)
    env, log, facts = mod.train_env(s, data, seed, progress)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env.save(out / "model.safetensors")
    with atomic_path(out / "train_log.csv") as p:
        (
            pl.DataFrame(log, infer_schema_length=None)
            if log
            else pl.DataFrame({"step": pl.Series([], dtype=pl.Int64)})
        ).write_csv(p)
    q = measure(env, data.valid, data.n_items, seed=seed)
    q.update(
        setting=s["le"].get("name"),
        env=env_name,
        train_sequences=len(data.train_ids),
        train_transitions=len(data.train),
        state_dim=env.dim,
        **facts,
    )
    write_json(q, out / "le_quality.json")
    return q


def main(args: argparse.Namespace) -> int:
    s = parse_settings(args.settings)
    if args.threads:
        torch.set_num_threads(args.threads)
    q = fit(s, args.data_dir, args.out_dir, args.seed)
    print(json.dumps(q))
    return 0
