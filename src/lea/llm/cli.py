"""``lea item-tokens``: learn the item tokens of one dataset for one LLM (paper 3.2, Figure 2a)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import polars as pl
import torch

from lea.cli import parse_settings
from lea.io import atomic_path, read_parquet, write_json, write_parquet, write_safetensors


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings", required=True, help="JSON: {'llm': llms.<name>, 'item_tokens': le.item_tokens}")
    p.add_argument("--items", required=True, help="results/{dataset}/data/items.parquet")
    p.add_argument("--out-dir", required=True, help="results/{dataset}/le/{llm}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (the rule's threads)")
    p.add_argument("--max-items", type=int, default=None, help="only the first N items (smoke tests)")


def plot_curve(curve: list[float], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(1, len(curve) + 1), curve)
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean next-token NLL of T (nats)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def main(args: argparse.Namespace) -> int:
    from lea.llm.item_tokens import encode_sentences, learn_item_tokens, own_vs_other
    from lea.llm.load import load_llm
    from lea.llm.pieces import llm_key

    s = parse_settings(args.settings)
    if args.threads:
        torch.set_num_threads(args.threads)
    llm_s, it = s["llm"], s.get("item_tokens", {})
    torch.manual_seed(args.seed)
    items = read_parquet(args.items, "preprocess", {"item": pl.Int32, "sentence": pl.Utf8}).sort("item")
    if args.max_items:
        items = items.head(args.max_items)
    model, tok = load_llm(llm_s)
    enc = encode_sentences(
        tok, items["sentence"].to_list(), llm_s.get("prefix_text", ""), llm_s.get("bos"), llm_key(llm_s)
    )
    out = Path(args.out_dir)
    ckpt = out / "checkpoint.pt"  # not a rule output: Snakemake leaves it when a killed job's outputs are removed
    tokens, final, curve, wall = learn_item_tokens(
        model,
        enc,
        tok.pad_token_id,
        iterations=it.get("iterations", 300),
        lr=it.get("lr", 5e-3),
        batch_items=it.get("batch_items", 64),
        init=it.get("init", "random"),
        seed=args.seed,
        checkpoint=ckpt,
        checkpoint_every=it.get("checkpoint_every", 25),
        context=llm_s,  # the items and the other settings are in the fingerprint already
    )
    diag = own_vs_other(model, enc, tokens, tok.pad_token_id, it.get("heldout_pairs", 200), seed=args.seed + 1)
    n_iter = it.get("iterations", 300)
    write_safetensors(
        {"item_tokens": tokens.float()},
        out / "item_tokens.safetensors",
        metadata={"init": it.get("init", "random"), "iterations": str(n_iter)},
    )
    write_parquet(
        pl.DataFrame(
            {
                "item": items["item"],
                "final_loss": final.numpy().astype("float32"),
                "iterations": pl.Series([n_iter] * len(items), dtype=pl.Int32),
            }
        ),
        out / "item_tokens.parquet",
    )
    summary = {
        "items": len(items),
        "d_model": int(tokens.shape[1]),
        "init": it.get("init", "random"),
        "iterations": n_iter,
        "lr": it.get("lr", 5e-3),
        "batch_items": it.get("batch_items", 64),
        "wall_time_s": round(wall, 1),
        "item_iterations_per_s": round(len(items) * n_iter / wall, 2),
        "loss_first": curve[0],
        "loss_last": curve[-1],
        "final_loss_mean": float(final.mean()),
        "own_vs_other": diag,
        "chance": 0.5,
        "loss_curve": curve,
    }
    write_json(summary, out / "item_tokens.json")
    plot_curve(curve, out / "item_tokens_loss.png", f"item tokens: {len(items)} items, init {summary['init']}")
    ckpt.unlink(missing_ok=True)  # after the last output: a kill before this still resumes
    print(json.dumps({k: v for k, v in summary.items() if k != "loss_curve"}))
    return 0
