"""``lea warmup``: train the backbone with the supervised head only for ``precompute.warmup_steps`` steps ("after an
early training stage", paper 3.4), then write the top-5 candidate items of every training transition to
``results/{dataset}/warmup/{backbone}/seed{seed}/top5.parquet`` (sequence, position, candidates List(Int32)).
The pad item is never a candidate (the supervised head has no output for it)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from lea import io as leaio
from lea.cli import parse_settings


def warmup_top5(
    settings: dict[str, Any],
    backbone: str,
    seed: int,
    data_dir: str | Path,
    steps: int,
    out: str | Path | None = None,
    k: int = 5,
    progress: bool | None = None,
) -> pl.DataFrame:
    from lea.rl.replay import build_transitions, load_data
    from lea.rl.train import REC_DEFAULTS, Trainer, fit, resolve_device

    # a fixed number of steps, no validation: the last model, and no early stopping (rec.patience belongs to the
    # recommender runs' best_val selection; a dataset with it set would otherwise be refused here)
    rec = {**REC_DEFAULTS, **settings.get("rec", settings), "max_steps": int(steps), "selection": "last"}
    rec["patience"] = None
    if rec.get("threads"):
        torch.set_num_threads(int(rec["threads"]))
    items, inter, splits = load_data(data_dir)
    train = build_transitions(inter, splits, "train", items.height, rec["window"])
    trainer = Trainer(
        backbone, "normal", items.height, rec, {"name": "warmup"}, seed, device=resolve_device(rec["device"])
    )
    fit(trainer, train, None, progress)
    net = trainer.nets[0].eval()
    bs = rec["eval_batch_size"]
    tops = []
    with torch.no_grad():
        for i in range(0, len(train), bs):
            s = train.state[i : i + bs].to(trainer.device)
            ln = train.length[i : i + bs].to(trainer.device)
            tops.append(net.scores(s, ln).float().topk(min(k, items.height), dim=1).indices.cpu())
    top = torch.cat(tops).numpy().astype(np.int32) if tops else np.zeros((0, k), dtype=np.int32)
    df = pl.DataFrame(
        {
            "sequence": train.sequence.numpy().astype(np.int32),
            "position": train.position.numpy().astype(np.int32),
            "candidates": pl.Series(top.tolist(), dtype=pl.List(pl.Int32)),
        }
    )
    if out is not None:
        leaio.write_parquet(df, out)
    return df


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings", required=True, help="dataset settings JSON (with the merged 'rec' section)")
    p.add_argument("--steps", type=int, required=True, help="supervised training steps (precompute.warmup_steps)")
    p.add_argument("--backbone", required=True, choices=["gru", "sasrec"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True, help="top5.parquet")


def main(args: argparse.Namespace) -> int:
    df = warmup_top5(parse_settings(args.settings), args.backbone, args.seed, args.data_dir, args.steps, args.out)
    print(f"wrote {df.height} transitions' top-5 to {args.out}")
    return 0
