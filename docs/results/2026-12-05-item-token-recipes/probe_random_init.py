"""Own-vs-other of untrained random item tokens on the 200-product sample of the curves: is the paper curve's 0.5775
at iteration 0 (random init, which carries nothing about the product) a fluctuation, or a bias of the diagnostic?

Random init (the paper's: Gaussian at the embedding table's per-coordinate mean and std) with init seeds 0-7 against
the curve's pairs (seed 1), and init seed 0 against pair seeds 2-7. Same sample, model settings and pairs count as
bench_item_tokens.py's curve. Repository root:

    python docs/results/2026-12-05-item-token-recipes/probe_random_init.py --llm resources/llm/smollm2/hf \
      --items results/cpu-le-full/industry/data/items.parquet \
      --out docs/results/2026-12-05-item-token-recipes/probe_random_init.json
"""

from __future__ import annotations

import argparse
import json
import random
import time

import polars as pl
import torch

from lea.llm.item_tokens import encode_sentences, init_tokens, own_vs_other
from lea.llm.load import load_llm


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--llm", required=True)
    ap.add_argument("--items", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-items", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=400)
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, tok = load_llm({"path": a.llm, "dtype": a.dtype, "device": "cpu", "attn_implementation": "eager"})
    items = pl.read_parquet(a.items).sort("item")
    pick = sorted(random.Random(0).sample(range(items.height), min(a.n_items, items.height)))  # the curves' sample
    enc = encode_sentences(tok, [items["sentence"][i] for i in pick], "<|im_start|>")  # the bench default
    rows = []
    runs = [(s, 1) for s in range(8)] + [(0, p) for p in range(2, 8)]
    t0 = time.perf_counter()
    for init_seed, pair_seed in runs:
        tokens = init_tokens(model, enc, "random", init_seed)
        d = own_vs_other(model, enc, tokens, tok.pad_token_id, a.pairs, seed=pair_seed)
        row = {"init_seed": init_seed, "pair_seed": pair_seed, **d}
        rows.append(row)
        print(json.dumps(row), flush=True)
    acc = [r["accuracy"] for r in rows]
    out = {
        "n_items": len(enc),
        "pairs": a.pairs,
        "dtype": a.dtype,
        "runs": rows,
        "accuracy_mean": sum(acc) / len(acc),
        "accuracy_min": min(acc),
        "accuracy_max": max(acc),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}))


if __name__ == "__main__":
    main()
