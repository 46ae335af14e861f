"""r^e and s^e statistics of oracle environments: training transitions (rewards.parquet, the pool the RL side reads)
against held-out validation transitions (the diagnostics' 400, scored here with 5 uniform negatives each), and the
state norms beside the recommender's h (both are LayerNorm outputs). Usage, from the repository root:

    python docs/results/2026-12-01-oracle-probe/probe_stats.py RESULTS_DIR SETTING [SETTING ...]

RESULTS_DIR: e.g. results/oracle-probe/industry; SETTING: le/oracle/<setting> under it (or an absolute folder)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import polars as pl
import torch
from safetensors.torch import load_file

from lea.control.base import load_data
from lea.control.idrec import IDRecLE
from lea.env.train import sample_negatives


def dist(pos: np.ndarray, neg: np.ndarray) -> dict:
    """pos [N], neg [N, K]: the moments the TD targets of Eq. 10 see, and the pairwise accuracy."""
    return {
        "pos_mean": float(pos.mean()),
        "pos_std": float(pos.std()),
        "neg_mean": float(neg.mean()),
        "neg_std": float(neg.std()),
        "gap": float(pos.mean() - neg.mean()),
        "neg_above_1": float((neg > 1.0).mean()),
        "pairwise_acc": float((pos[:, None] > neg).mean()),
    }


def main(res: str, settings: list[str]) -> None:
    torch.set_num_threads(1)
    data_dir = Path(res) / "data"
    s = {"le": {"name": "probe"}, "finetune": {"valid_transitions": 400}, "history": 10}
    d = load_data(s, data_dir, 0, every_train_sequence=True)
    base = load_file(str(Path(res) / "runs/sasrec/sa2c/base/seed0/model.safetensors"))
    g = base["net0.backbone.ln_out.weight"]
    out: dict = {"recommender_h_norm_bound": float(g.norm())}  # |LN(x)| <= |gain| * sqrt(d) (bias aside)
    for name in settings:
        folder = Path(name) if Path(name).is_absolute() else Path(res) / "le/oracle" / name
        r = pl.read_parquet(folder / "rewards.parquet")
        k = r.filter(~pl.col("positive")).height // r.filter(pl.col("positive")).height
        pos = r.filter(pl.col("positive"))["reward"].to_numpy()
        neg = r.filter(~pl.col("positive"))["reward"].to_numpy().reshape(-1, k)
        env = IDRecLE.load(folder / "model.safetensors", d.n_items)
        rng = random.Random(0)
        v = d.valid
        acts = [[t.target, *sample_negatives(t, d.n_items, k, rng)] for t in v]
        rv = env.rewards([(t.sequence, t.position) for t in v], [t.history for t in v], acts, [t.target for t in v])
        st = np.stack(pl.read_parquet(folder / "states.parquet")["state"].to_numpy()).astype(np.float32)
        out[name] = {
            "train_pool": dist(pos, neg),
            "valid_uniform": dist(rv[:, 0].numpy(), rv[:, 1:].numpy()),
            "state_norm_mean": float(np.linalg.norm(st, axis=1).mean()),
            "state_norm_std": float(np.linalg.norm(st, axis=1).std()),
            "state_abs_mean": float(np.abs(st).mean()),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
