"""LE fine-tuning (Figure 2b, paper 4.5): reward (Eq. 1) + state (Eq. 2) + 5-way position choice, trained together
on the LE subset with one shared LoRA adapter; Adam, epochs 10, batch 20 by default."""

from __future__ import annotations

import hashlib
import random
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import torch
from tqdm import tqdm

from lea.checkpoint import load_checkpoint, save_checkpoint
from lea.config import config_hash, with_recipe
from lea.env.curve import CURVE_SETTINGS, LearningCurve
from lea.env.model import LE
from lea.env.pack import pack
from lea.env.prompts import LABELS, Prompt, Prompter
from lea.errors import ConfigError, InputError
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
    """Training sequences of the LE subset for ``fraction`` (nested: le_fraction <= fraction).

    Exact: ``le_fraction`` is the config's fraction stored as Float32 (lea.data.preprocess), so the same value cast to
    Float32 here compares equal, with no tolerance that could let a neighbouring fraction in or keep one out."""
    sub = splits.filter((pl.col("split") == "train") & (pl.col("le_fraction") <= pl.lit(fraction, dtype=pl.Float32)))
    return sorted(sub["sequence"].to_list())


def transitions(seqs: Mapping[int, list[int]], ids: list[int], window: int, min_history: int = 0) -> list[Transition]:
    """The LE's training / validation transitions of sequences ``ids``: every target position p >= ``min_history``.

    Position 0 (the empty history, p_t = the prompt's header alone) is included by default: the RL side has a
    transition at every position 0..len-1 as the authors' code does, and the precompute asks the LE for s^e and r^e
    there (Eq. 1-3), so the LE is trained on the prompts it is later asked about."""
    out = []
    for s in ids:
        items = seqs[s]
        seen = frozenset(items)
        for p in range(min_history, len(items)):
            out.append(Transition(s, p, items[max(0, p - window) : p], items[p], seen))
    return out


@dataclass
class Data:
    seqs: dict[int, list[int]]
    splits: pl.DataFrame
    n_items: int
    train_ids: list[int]  # the sequences the environment learns from
    train: list[Transition]
    valid: list[Transition]


def load_data(s: Mapping[str, Any], data_dir: str | Path, seed: int, every_train_sequence: bool = False) -> Data:
    """The transitions an environment learns from and is measured on, for ``lea fit-le`` and every control
    environment alike: the LE subset's training transitions, capped at ``finetune.max_transitions`` by a seeded
    sample (with ``every_train_sequence``, the oracle's: every training sequence, no cap), and the validation
    transitions of ``le_quality.json`` (a seeded sample of ``finetune.valid_transitions``, default 500)."""
    le_s, ft = s.get("le", {}), s.get("finetune", {})
    W = s.get("history", 10)
    seqs, splits, n_items = load_sequences(data_dir)
    if every_train_sequence:
        train_ids = sorted(splits.filter(pl.col("split") == "train")["sequence"].to_list())
    else:
        train_ids = le_subset(splits, le_s.get("fraction", 0.1))
    if not train_ids:
        which = "split 'train'" if every_train_sequence else f"the LE subset for fraction {le_s.get('fraction', 0.1)}"
        raise InputError(
            Path(data_dir) / "splits.parquet", f"no training sequences in {which} (LE setting {le_s.get('name')})"
        )
    train = transitions(seqs, train_ids, W)
    rng = random.Random(seed)
    if not every_train_sequence and ft.get("max_transitions") and len(train) > ft["max_transitions"]:
        train = rng.sample(train, ft["max_transitions"])
    valid = transitions(seqs, sorted(splits.filter(pl.col("split") == "valid")["sequence"].to_list()), W)
    if len(valid) > ft.get("valid_transitions", 500):
        valid = random.Random(seed + 1).sample(valid, ft.get("valid_transitions", 500))
    return Data(seqs, splits, n_items, train_ids, train, valid)


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


def trainable_state(le: LE) -> dict[str, torch.Tensor]:
    """The trained parameters (LoRA + score head) by name, on the CPU."""
    return {n: p.detach().cpu().clone() for n, p in le.named_parameters() if p.requires_grad}


def choice_batch(
    batch: list[Transition], n_items: int, rng: random.Random, rotations: bool = True
) -> tuple[list[list[int]], list[tuple[list[int], int]]]:
    """Choice-task examples for one step: (histories, [(candidates, true position)]).

    With ``rotations``, ceil(B/5) transitions each appear with their 5 candidates in all 5 cyclic orders (the true item
    once at every position): the same number of prompts as one example per transition, but a position prior (the
    pretrained LM's preference for " first"/" second") can no longer lower the loss, so the gradient only rewards
    reading the items. Without it, one example per transition at a random position."""
    if not rotations:
        return [t.history for t in batch], [choice_example(t, n_items, rng) for t in batch]
    n = len(LABELS)
    hist, ex = [], []
    for t in batch[: max(1, (len(batch) + n - 1) // n)]:
        cands, pos = choice_example(t, n_items, rng)
        for r in range(n):
            hist.append(t.history)
            ex.append((cands[r:] + cands[:r], (pos - r) % n))
    return hist, ex


STEPS = ("naive", "shared")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB; Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_hidden_naive(
    le: LE, prompter: Prompter, pos: list[Prompt], neg: list[Prompt], choice: list[Prompt]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, int]:
    """The reference step: one right-padded pass per prompt kind (p_t p_at+, p_t p_at-, p_t p_lt), each repeating
    p_t. Returns the last hidden states of the positive and negative reward prompts [B, d], the states s^e_t read at
    the end of p_t in the positive prompts [B, d], the last hidden states of the choice prompts [C, d] (None without
    any), and the number of positions computed (padding included)."""
    pos_b, neg_b = prompter.collate(pos), prompter.collate(neg)
    h_pos, h_neg = le.hidden(pos_b), le.hidden(neg_b)
    n = pos_b.ids.numel() + neg_b.ids.numel()
    h_ch = None
    if choice:
        ch_b = prompter.collate(choice)
        h_ch = le.at(le.hidden(ch_b), ch_b.last)
        n += ch_b.ids.numel()
    return le.at(h_pos, pos_b.last), le.at(h_neg, neg_b.last), le.at(h_pos, pos_b.state_at), h_ch, n


def step_hidden_shared(
    le: LE,
    prompter: Prompter,
    pos: list[Prompt],
    neg: list[Prompt],
    choice: list[Prompt],
    row_tokens: int = 512,
    body=None,  # type: ignore[no-untyped-def]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, int]:
    """The same hidden states as ``step_hidden_naive`` from one pass over prefix-tree rows (lea.env.pack): each
    transition's p_t (and the words its prompts share after it) is computed once for its reward and choice
    prompts; no padding inside a row. Exact (tests/test_env_fast_step.py); the count is the tokens computed."""
    B = len(pos)
    groups: list[list[Prompt]] = [[pos[i], neg[i]] for i in range(B)]
    which: list[tuple[int, int]] = [(i, 0) for i in range(B)] + [(i, 1) for i in range(B)]
    of_user = {}  # a choice prompt joins the transition whose p_t it starts with (its row shares that p_t)
    for i, p in enumerate(pos):
        of_user.setdefault((tuple(p.ids[: p.user_len]), tuple(p.item_at[: p.user_len])), i)
    for p in choice:
        g = of_user.get((tuple(p.ids[: p.user_len]), tuple(p.item_at[: p.user_len])))
        if g is None:
            g = len(groups)
            groups.append([])
        groups[g].append(p)
        which.append((g, len(groups[g]) - 1))
    packed = pack(groups, prompter.pad_id, row_tokens)
    start = [0] * (len(groups) + 1)
    for g in range(len(groups)):
        start[g + 1] = start[g] + len(groups[g])
    flat = [start[g] + k for g, k in which]  # Packed.index number of pos..., neg..., choice...
    h = le.hidden_packed(packed, body)
    h_last = packed.gather(h, flat, [len(p.ids) - 1 for p in pos + neg + choice])
    states = packed.gather(h, flat[:B], [p.user_len - 1 for p in pos])
    return h_last[:B], h_last[B : 2 * B], states, h_last[2 * B :] if choice else None, packed.n_nodes


def step_loss(
    le: LE,
    prompter: Prompter,
    batch: list[Transition],
    negs: list[int],
    choice: tuple[list[list[int]], list[tuple[list[int], int]]] | None,
    state_loss: bool = True,
    kind: str = "shared",
    row_tokens: int = 512,
    body=None,  # type: ignore[no-untyped-def]
    state_form: tuple[str, ...] = ("none", "keep"),
    part: tuple[list[int], list[int]] | None = None,
    state_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float], int, int]:
    """The loss of one training step: Eq. 1 on (target, negs), Eq. 2 on the batch's states (``state_loss``), the
    choice task on ``choice`` (``choice_batch``'s output; None: off), with the hidden states of the ``kind`` step;
    ``state_form`` = (state_scale, state_same_item[, state_negatives]) picks Eq. 2's form (``LE.state_loss``);
    ``state_weight`` multiplies L_sm in the loss (ours; 1: L_rm + L_sm, the paper), the log row keeps L_sm itself.
    Returns (loss, log row, prompt tokens, computed tokens). The prompt tokens (the prompts' own lengths) are the same
    for either step, so tokens/s compares them; the computed tokens are what the step ran (padding included for
    ``naive``; shared prefixes once and no padding for ``shared``).

    ``part`` = (transition numbers, choice-prompt numbers): this pass computes only those prompts, and every term is
    weighted by its share of the whole batch (Eq. 1: m/B; Eq. 2: its share of the batch's [B, B] pairs, against all B
    of the batch's actions; choice: its share of the prompts), so the losses and gradients of the parts of a
    partition sum to the whole step's (``micro_parts``): a micro-batch, exact up to summation order."""
    B, C = len(batch), (len(choice[1]) if choice is not None else 0)
    t_idx, c_idx = part if part is not None else (list(range(B)), list(range(C)))
    sub = [batch[i] for i in t_idx]
    pos_p = [prompter.reward(t.history, t.target) for t in sub]
    neg_p = [prompter.reward(t.history, negs[i]) for t, i in zip(sub, t_idx, strict=True)]
    ch_p = [prompter.augment(choice[0][j], choice[1][j][0]) for j in c_idx] if choice is not None else []
    row: dict[str, float] = {}
    if kind == "naive":
        h_pos, h_neg, states, h_ch, n_comp = step_hidden_naive(le, prompter, pos_p, neg_p, ch_p)
    else:
        h_pos, h_neg, states, h_ch, n_comp = step_hidden_shared(le, prompter, pos_p, neg_p, ch_p, row_tokens, body)
    w_t = len(sub) / B  # this part's share of the batch's transitions
    l_rm, acc_rm = le.reward_loss(h_pos, h_neg)  # every part holds transitions (micro_parts)
    loss = l_rm * w_t
    row.update(loss_rm=l_rm.item() * w_t, acc_rm=acc_rm.item() * w_t)
    if state_loss:
        targets = torch.tensor([t.target for t in batch])
        negatives = state_form[2] if len(state_form) > 2 else "batch"
        if part is None:
            l_sm, sat = le.state_loss(states, targets, *state_form[:2], negatives=negatives)
            loss = loss + state_weight * l_sm
            row.update(loss_sm=l_sm.item(), sm_saturated=sat.item())
        else:
            own = targets[t_idx]
            l_sm, sat = le.state_loss(states, own, *state_form[:2], batch_targets=targets, negatives=negatives)
            w_sm = w_t  # "keep" and "catalogue": the mean over this part's m of the batch's B states
            if negatives == "batch" and state_form[1] == "drop":  # the mean over the kept pairs: this part's share
                kept_all = int((targets[:, None] != targets[None, :]).sum())
                w_sm = int((own[:, None] != targets[None, :]).sum()) / kept_all if kept_all else 0.0
            loss = loss + state_weight * l_sm * w_sm
            row.update(loss_sm=l_sm.item() * w_sm, sm_saturated=sat.item() * w_t)
    if choice is not None and C:
        w_c = len(ch_p) / C
        if ch_p and h_ch is not None:
            l_ch, acc_ch = le.choice_loss(h_ch, torch.tensor([choice[1][j][1] for j in c_idx]))
            loss = loss + l_ch * w_c
            row.update(loss_choice=l_ch.item() * w_c, acc_choice=acc_ch.item() * w_c)
        else:
            row.update(loss_choice=0.0, acc_choice=0.0)
    return loss, row, sum(len(p.ids) for p in pos_p + neg_p + ch_p), n_comp


def micro_parts(
    batch: list[Transition], choice: tuple[list[list[int]], list[tuple[list[int], int]]] | None, size: int
) -> list[tuple[list[int], list[int]]]:
    """A partition of one step's prompts into micro-batches of ``size`` consecutive transitions (``step_loss``'s
    ``part``). A choice prompt joins the micro-batch of the first transition with its history, so its p_t is still
    computed once with that transition's reward prompts (the shared step); one without such a transition joins the
    first micro-batch."""
    parts: list[tuple[list[int], list[int]]] = [
        (list(range(i, min(i + size, len(batch)))), []) for i in range(0, len(batch), size)
    ]
    first: dict[tuple[int, ...], int] = {}
    for i, t in enumerate(batch):
        first.setdefault(tuple(t.history), i // size)
    for j, h in enumerate(choice[0] if choice is not None else []):
        parts[first.get(tuple(h), 0)][1].append(j)
    return parts


def fit(
    le: LE,
    prompter: Prompter,
    train: list[Transition],
    n_items: int,
    s: Mapping[str, Any],
    state_loss: bool = True,
    seed: int = 0,
    progress: bool = True,
    checkpoint: Path | None = None,
    context: Any = None,
    curve: LearningCurve | None = None,
) -> list[dict[str, float]]:
    """Train LoRA + score head; returns one log row per step (losses, accuracies, tokens/s).

    With ``checkpoint``, the whole state (parameters, Adam, RNGs, the epoch's order and position, the log) is saved
    every ``checkpoint_every`` steps and a rerun after a kill resumes from it with the same result; ``context`` (the
    caller's other settings: LLM, prompts) joins the checkpoint's fingerprint. The caller deletes it when done.
    With ``curve`` (lea.env.curve), its points are measured before the first step, at its due steps and after the
    last, and kept in the checkpoint; the training (losses, parameters) is the same with or without it, and its
    seconds are left out of the log's wall-clock rates."""
    s = with_recipe(s, s.get("recipe", "paper"))  # switches missing from ``s`` take the (paper) recipe's values
    rng = random.Random(seed)
    torch.manual_seed(seed)
    lr = s.get("lr", 1e-4)
    head = list(le.score.parameters())
    body = [
        p for n, p in le.named_parameters() if p.requires_grad and not n.startswith("score.") and n != "item_tokens"
    ]
    # the score head is one linear layer trained from scratch: its own (larger) lr lets Eq. 1 learn in few steps
    groups = [{"params": body, "lr": lr}, {"params": head, "lr": s.get("head_lr") or lr}]
    tokens = [le.item_tokens] if isinstance(le.item_tokens, torch.nn.Parameter) else []
    if tokens:  # ours (finetune.item_token_lr): the item tokens trained with the LE, at their own lr
        groups.append({"params": tokens, "lr": s["item_token_lr"]})
    opt = torch.optim.Adam(groups)
    trainable = body + head + tokens
    clip = s.get("max_grad_norm") or float("inf")  # inf: the norm is measured, nothing is rescaled
    bs = s.get("batch_size", 20)
    aug_task = s["augment_task"]  # paper: L_rm + L_sm only (section 3.2); extended: + the 5-way choice
    every = s.get("checkpoint_every", 50)
    log: list[dict[str, float]] = []
    step, tokens, elapsed, done, computed = 0, 0, 0.0, 0, 0
    step_kind = s.get("step", "shared")
    if step_kind not in STEPS:
        raise ConfigError("le.finetune.step", f"unknown training step {step_kind!r}; expected one of {STEPS}")
    row_tokens = s.get("row_tokens", 512)
    micro = s.get("micro_batch")  # None: the whole batch in one forward and backward pass (the paper)
    epochs = s.get("epochs", 10)
    total = epochs * ((len(train) + bs - 1) // bs)
    first_epoch, first_i, order = 0, 0, None
    fingerprint = config_hash(
        {
            # the curve settings shape no step (tests/test_le_curve.py)
            "finetune": {k: v for k, v in s.items() if k not in CURVE_SETTINGS},
            "state_loss": state_loss,
            "seed": seed,
            "n_items": n_items,
            "train": [(t.sequence, t.position, t.history, t.target, sorted(t.seen)) for t in train],
            # the inputs (item tokens, or the -IT title means) are not in the settings: a rerun may have new ones
            "item_tokens": hashlib.sha256(le.item_tokens.detach().cpu().numpy().tobytes()).hexdigest(),
            "context": context,
        }
    )
    ck = load_checkpoint(checkpoint, fingerprint)
    if ck is not None:
        with torch.no_grad():
            for n, p in le.named_parameters():
                if p.requires_grad:
                    p.copy_(ck["params"][n])
        opt.load_state_dict(ck["adam"])
        rng.setstate(ck["rng"])
        torch.set_rng_state(ck["torch_rng"])
        if ck["cuda_rng"]:  # LoRA dropout on the GPU draws from the CUDA generators
            torch.cuda.set_rng_state_all(ck["cuda_rng"])
        first_epoch, first_i, order = ck["epoch"], ck["next"], ck["order"]
        step, tokens, elapsed, log = ck["step"], ck["tokens"], ck["wall"], ck["log"]
        if log:
            done, computed = log[-1]["transitions"], log[-1]["computed_tokens"]
        if curve is not None:
            curve.restore(ck.get("curve"), step)
    t0 = time.perf_counter() - elapsed
    le.train()
    if s.get("activation_checkpointing", True):
        # recompute each block's activations in the backward pass instead of keeping them (memory, item 2 of the
        # speed issue); non-reentrant checkpointing replays the same LoRA dropout masks, so gradients are unchanged
        if hasattr(le.llm, "activation_checkpointing_enable"):  # transformers >= 5.2x's name
            le.llm.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            le.llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    # torch.compile of the decoder for the shared step (an option, measured in bench_le.py; the rows' shapes change
    # from step to step, hence dynamic shapes)
    body = torch.compile(le.body, dynamic=True) if s.get("compile", False) and step_kind == "shared" else None

    def curve_point(epoch_done: float) -> None:
        nonlocal t0
        t = time.perf_counter()
        curve.point(le, step, epoch_done, done, t - t0, log)  # type: ignore[union-attr]
        t0 += time.perf_counter() - t  # the log's rates (tokens/s, transitions/s) count training seconds only

    if curve is not None and step == 0:
        curve_point(0.0)
    bar = tqdm(total=total, desc="fit LE (steps)", disable=not progress, mininterval=5, initial=step)
    for epoch in range(first_epoch, epochs):
        if order is None:  # a new epoch; a resumed one goes on in the checkpoint's order (the rng is past its shuffle)
            order = list(range(len(train)))
            rng.shuffle(order)
        for i in range(first_i, len(order), bs):
            batch = [train[k] for k in order[i : i + bs]]
            negs = [sample_negatives(t, n_items, 1, rng)[0] for t in batch]
            choice = choice_batch(batch, n_items, rng, s["choice_rotations"]) if aug_task else None
            opt.zero_grad(set_to_none=True)
            # micro-batches (ours, memory): forward and backward one part at a time, the gradients accumulate to the
            # whole batch's (step_loss's weights), so only one part's activations are alive at once
            loss, row, n_tok, n_comp = torch.zeros(()), {}, 0, 0
            for part in micro_parts(batch, choice, micro) if micro else [None]:
                l_p, row_p, tok_p, comp_p = step_loss(
                    le,
                    prompter,
                    batch,
                    negs,
                    choice,
                    state_loss,
                    step_kind,
                    row_tokens,
                    body,
                    state_form=(s["state_scale"], s["state_same_item"], s["state_negatives"]),
                    part=part,
                    state_weight=s.get("state_weight", 1.0),
                )
                if l_p.requires_grad:
                    l_p.backward()
                loss = loss + l_p.detach().cpu()
                row = {k: row.get(k, 0.0) + v for k, v in row_p.items()}
                n_tok, n_comp = n_tok + tok_p, n_comp + comp_p
            row = {"epoch": epoch, "step": step, **row}
            # the gradient's global norm before any clipping (the log's grad_norm: a divergence shows here first);
            # max_grad_norm (ours, null = none: the paper is silent) rescales the step to at most that norm
            row["grad_norm"] = torch.nn.utils.clip_grad_norm_(trainable, clip).item()
            opt.step()
            tokens += n_tok
            step += 1
            computed += n_comp
            done += len(batch)
            wall = time.perf_counter() - t0
            row.update(
                loss=loss.item(),
                tokens=tokens,
                tokens_per_s=tokens / wall,
                transitions=done,
                transitions_per_s=done / wall,
                computed_tokens=computed,
                peak_rss_mb=peak_rss_mb(),
            )
            log.append(row)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", tok_s=f"{row['tokens_per_s']:.0f}", refresh=False)
            if curve is not None and curve.due(step, total):
                curve_point(done / len(train))
            if checkpoint is not None and step % every == 0 and step < total:
                save_checkpoint(
                    checkpoint,
                    {
                        "fingerprint": fingerprint,
                        "step": step,
                        "epoch": epoch,
                        "next": i + bs,
                        "order": order,
                        "params": trainable_state(le),
                        "adam": opt.state_dict(),
                        "rng": rng.getstate(),
                        "torch_rng": torch.get_rng_state(),
                        "cuda_rng": torch.cuda.get_rng_state_all() if le.device.type == "cuda" else [],
                        "tokens": tokens,
                        "wall": time.perf_counter() - t0,
                        "log": log,
                        "curve": curve.state() if curve is not None else None,
                    },
                )
        order, first_i = None, 0
    bar.close()
    if s.get("activation_checkpointing", True):
        getattr(le.llm, "activation_checkpointing_disable", le.llm.gradient_checkpointing_disable)()
    le.eval()
    return log


def label_prior(
    le: LE, prompter: Prompter, train: list[Transition], n_items: int, seed: int = 0, n: int = 100
) -> torch.Tensor:
    """The label reading's position prior: mean log-softmax of the 5 label logits over choice prompts of up to ``n``
    LE-subset transitions, the true item at a random position (so a content-free reading would be uniform).
    Subtracting it at inference (LE.label_bias) is contextual calibration: the small LLM's preference for some label
    words no longer decides the choice."""
    from lea.env.inference import LEInference

    rng = random.Random(seed + 2)
    sample = train if len(train) <= n else rng.sample(train, n)
    ex = [choice_example(t, n_items, rng) for t in sample]
    inf = LEInference(le, prompter, batch_size=32, progress=False)
    h = inf._run([prompter.augment(t.history, c) for t, (c, _) in zip(sample, ex, strict=True)], "", "last")
    with torch.no_grad():
        return le.label_logits(h.to(le.device)).float().log_softmax(-1).mean(0)


def anchor_rewards(le: LE, prompter: Prompter, train: list[Transition], anchor: float, n: int = 200) -> float:
    """Shift the score head's bias so that the mean r^e of the observed next items of (up to ``n``) LE-subset
    transitions equals ``anchor``; returns the shift. Eq. 1's Bradley-Terry loss sees reward differences only, so the
    level of r^e is arbitrary (ours ended near -3 on the demo); the RL stages use r^e as the reward itself (Eq. 5, 10,
    14), so it is anchored to the fixed reward it replaces (1 for the observed item). Rankings and pairwise
    accuracies do not change."""
    from lea.env.inference import LEInference

    sample = train if len(train) <= n else random.Random(3).sample(train, n)
    inf = LEInference(le, prompter, batch_size=32, progress=False)
    r = inf.rewards_shared([t.history for t in sample], [[t.target] for t in sample])
    shift = anchor - float(r.mean())
    with torch.no_grad():
        le.score.bias += shift
    return shift
