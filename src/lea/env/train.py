"""LE fine-tuning (Figure 2b, paper 4.5): reward (Eq. 1) + state (Eq. 2) + 5-way position choice, trained together
on the LE subset with one shared LoRA adapter; Adam, epochs 10, batch 20 by default."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import torch
from tqdm import tqdm

from lea.env.model import LE
from lea.env.prompts import LABELS, Prompter
from lea.io import read_parquet


@dataclass
class Transition:
    sequence: int
    position: int  # target position p
    history: list[int]  # items at [p - W, p)
    target: int
    seen: frozenset[int]  # items of the whole sequence (negatives avoid them)


def load_sequences(data_dir: str | Path) -> tuple[dict[int, list[int]], pl.DataFrame, int]:
    """{sequence: items} of every sequence, the splits table, and the number of items."""
    d = Path(data_dir)
    inter = read_parquet(
        d / "interactions.parquet", "preprocess", {"sequence": pl.Int32, "position": pl.Int32, "item": pl.Int32}
    )
    splits = read_parquet(d / "splits.parquet", "preprocess", {"sequence": pl.Int32, "split": pl.Utf8})
    items = read_parquet(d / "items.parquet", "preprocess", {"item": pl.Int32})
    seqs = inter.sort(["sequence", "position"]).group_by("sequence", maintain_order=True).agg(pl.col("item"))
    return dict(zip(seqs["sequence"].to_list(), seqs["item"].to_list(), strict=True)), splits, items.height


def le_subset(splits: pl.DataFrame, fraction: float) -> list[int]:
    """Training sequences of the LE subset for ``fraction`` (nested: le_fraction <= fraction)."""
    sub = splits.filter((pl.col("split") == "train") & (pl.col("le_fraction") <= fraction + 1e-9))
    return sorted(sub["sequence"].to_list())


def transitions(seqs: Mapping[int, list[int]], ids: list[int], window: int, min_history: int = 1) -> list[Transition]:
    out = []
    for s in ids:
        items = seqs[s]
        seen = frozenset(items)
        for p in range(min_history, len(items)):
            out.append(Transition(s, p, items[max(0, p - window) : p], items[p], seen))
    return out


def sample_negatives(t: Transition, n_items: int, k: int, rng: random.Random) -> list[int]:
    """k distinct items the user did not interact with in this sequence (uniform; falls back to any item != target)."""
    out: list[int] = []
    for _ in range(50 * k):
        x = rng.randrange(n_items)
        if x not in t.seen and x not in out:
            out.append(x)
            if len(out) == k:
                return out
    while len(out) < k:
        x = rng.randrange(n_items)
        if x != t.target:
            out.append(x)
    return out


def choice_example(t: Transition, n_items: int, rng: random.Random) -> tuple[list[int], int]:
    """The true next item at a random position among 4 sampled items (the choice task's training/eval example)."""
    cands = sample_negatives(t, n_items, len(LABELS) - 1, rng)
    pos = rng.randrange(len(LABELS))
    cands.insert(pos, t.target)
    return cands, pos


def fit(
    le: LE,
    prompter: Prompter,
    train: list[Transition],
    n_items: int,
    s: Mapping[str, Any],
    state_loss: bool = True,
    seed: int = 0,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train LoRA + score head; returns one log row per step (losses, accuracies, tokens/s)."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    params = [p for p in le.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=s.get("lr", 1e-4))
    bs = s.get("batch_size", 20)
    aug_task = s.get("augment_task", True)
    log: list[dict[str, float]] = []
    step, tokens, t0 = 0, 0, time.perf_counter()
    le.train()
    epochs = s.get("epochs", 10)
    bar = tqdm(total=epochs * ((len(train) + bs - 1) // bs), desc="fit LE (steps)", disable=not progress, mininterval=5)
    for epoch in range(epochs):
        order = list(range(len(train)))
        rng.shuffle(order)
        for i in range(0, len(order), bs):
            batch = [train[k] for k in order[i : i + bs]]
            negs = [sample_negatives(t, n_items, 1, rng)[0] for t in batch]
            pos_b = prompter.collate([prompter.reward(t.history, t.target) for t in batch])
            neg_b = prompter.collate([prompter.reward(t.history, a) for t, a in zip(batch, negs, strict=True)])
            l_rm, states, acc_rm = le.reward_loss(pos_b, neg_b)
            loss = l_rm
            row = {"epoch": epoch, "step": step, "loss_rm": l_rm.item(), "acc_rm": acc_rm.item()}
            n_tok = int(pos_b.attention_mask.sum() + neg_b.attention_mask.sum())
            if state_loss:
                l_sm = le.state_loss(states, torch.tensor([t.target for t in batch]))
                loss = loss + l_sm
                row["loss_sm"] = l_sm.item()
            if aug_task:
                ex = [choice_example(t, n_items, rng) for t in batch]
                aug_b = prompter.collate([prompter.augment(t.history, c) for t, (c, _) in zip(batch, ex, strict=True)])
                l_ch, acc_ch = le.choice_loss(aug_b, torch.tensor([p for _, p in ex]))
                loss = loss + l_ch
                row.update(loss_choice=l_ch.item(), acc_choice=acc_ch.item())
                n_tok += int(aug_b.attention_mask.sum())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tokens += n_tok
            step += 1
            row.update(loss=loss.item(), tokens=tokens, tokens_per_s=tokens / (time.perf_counter() - t0))
            log.append(row)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", tok_s=f"{row['tokens_per_s']:.0f}", refresh=False)
    bar.close()
    le.eval()
    return log
