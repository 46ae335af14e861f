"""The training loop of Normal / SNQN / SA2C with every LE switch (LEA, SIGIR 2024, section 3.3-3.4, Algorithm 1).

One file, read top to bottom:
  1. ``compute_losses``: the loss of one mini-batch for a (main, target) pair of networks -- Eq. 8, 10, 11, 13,
     14, 15 (terms in ``lea.rl.losses``).
  2. ``Trainer``: two complete networks (SNQN / SA2C), a fair coin per step picks which one is trained (main) and
     which one bootstraps (target) -- no weight copying, no Polyak averaging (Algorithm 1, lines 7-16, and the
     authors' code); one Adam per network, plus a second Adam per network for SA2C after the warm-up.
  3. ``run``: read the Parquet inputs, train, select (``last`` or ``best_val``), evaluate, write the run's files.

The LE switches (``variant``): ``state`` h | le+h (Eq. 4) | le (Eq. 3) is the Q-head's input; ``reward`` fixed (1
for the observed item, 0 for negatives) | le (r^e from ``rewards.parquet`` for the positive *and* the negatives, Eq.
5, 10); ``augment`` none | sv (w_ah * L_ah, Eq. 13) | q (w_aq * L_aq, Eq. 14) | sv+q.
RL-side switches of ours (``rec``, docs/departures.md; defaults = the paper and the authors' code):
``le_reward_negatives`` le | fixed (with ``reward: le``, ``fixed`` keeps r^e for the positive and the augmented
action but gives the sampled negatives the fixed reward 0 instead of Eq. 10's r^e(p_t, a-)); ``q_backbone_grad``
true | false (``false``: the Q-head reads a detached h_t, or s^e_t || detached h_t for Eq. 4, so that L_p, L_n and
L_aq train the Q-head only and the shared backbone learns from the supervised head's losses alone);
``le_state_norm`` none | standardize | standardize_unit (``standardize``: each dimension of s^e_t is centred and
scaled by its mean and standard deviation over the training transitions' states before it enters Eq. 3 / 4; an LLM's
last hidden state is mostly one large shared vector with a few huge dimensions, which the Q-head otherwise reads as
is; ``standardize_unit``: the same, then divided by sqrt(d), so a state's expected squared norm is 1 whatever d:
Adam moves each Q-value by about lr times the L1 norm of the Q-head's input at a step, which standardizing alone
raises to about 0.8 d).
Negatives: every variant draws the step's ``rec.negatives`` negatives from the transition's shared pool
(``negatives.parquet``, ``lea.rl.negatives``) with a generator of their own, so variants at one seed differ in the
switches only, never in their negatives.
Choices where the paper is silent: for SA2C the advantage weights L_h only; L_ah is *not* advantage-weighted (it is
a separate term of Eq. 15, added after L_c). L_aq uses the augmentation table's r^e(p_t, a^e_t) (Eq. 14) whatever
the ``reward`` switch, and its target is zeroed at the sequence's end like L_p. Normal has one network and no Q-head
loss.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from tqdm.auto import tqdm

from lea import checkpoint as leckpt
from lea import io as leaio
from lea.config import config_hash, variant_needs
from lea.errors import ConfigError, MissingInputError
from lea.eval.metrics import hr_ndcg, rank_cases
from lea.rec.backbones import RecNet
from lea.rec.dropout import native_bernoulli
from lea.rl import losses as L
from lea.rl.adam import BlockedAdam, native_kernels
from lea.rl.negatives import STAGE as NEGATIVES_STAGE
from lea.rl.negatives import NegativeSampler
from lea.rl.replay import (
    Transitions,
    attach_augment,
    attach_le_rewards,
    attach_le_states,
    attach_pool,
    build_transitions,
    load_data,
)

REC_DEFAULTS: dict[str, Any] = {
    "window": 10,
    "hidden": 64,
    "dropout": 0.1,
    "batch_size": 100,
    "lr": 0.001,
    "epochs": 50,
    "max_steps": None,
    "eval_every": 1000,
    "gamma": 0.5,
    "negatives": 1,
    "sa2c_warmup_steps": 15000,
    "sa2c_lr": 0.001,
    "advantage_clip": 10.0,
    "target_dropout": True,
    "selection": "last",
    "selection_metric": "ndcg@10",
    "topk": [5, 10, 20],
    "device": "cpu",
    "bf16_autocast": False,
    "eval_batch_size": 1024,
    "threads": None,
    "checkpoint_every": 1000,
}
VARIANT_DEFAULTS: dict[str, Any] = {
    "name": "base",
    "state": "h",
    "reward": "fixed",
    "augment": "none",
    "w_ah": 0.1,
    "w_aq": 0.01,
}
FRAMEWORKS = ("normal", "snqn", "sa2c")
# The RL-side switches of ours (``rec.le_reward_negatives``, ``rec.q_backbone_grad``) and their defaults (the
# paper's Eq. 10 and the authors' shared network). Kept out of REC_DEFAULTS (and of the schema's defaults) so that a
# config that does not set them has the same ``rec`` dict, run hash and checkpoint fingerprint as before they existed.
RL_SWITCHES: dict[str, tuple[Any, ...]] = {
    "le_reward_negatives": ("le", "fixed"),
    "q_backbone_grad": (True, False),
    "le_state_norm": ("none", "standardize", "standardize_unit"),
    "q_pass": ("full", "gathered"),
}


def rl_switch(rec: dict[str, Any], key: str) -> Any:
    """The value of RL-side switch ``key`` in ``rec`` (its default, the first allowed value, when absent)."""
    allowed = RL_SWITCHES[key]
    value = rec.get(key, allowed[0])
    if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
        raise ConfigError(f"rec.{key}", f"{value!r} is not one of {', '.join(map(repr, allowed))}")
    return value


def early_stop_patience(rec: dict[str, Any]) -> int | None:
    """``rec.patience`` (ours; absent or null: off, the paper's fixed budget): with ``selection: best_val``, the run
    stops after this many validations in a row that do not beat the best one. Kept out of REC_DEFAULTS like the
    RL switches, so that configs without it keep their run hashes."""
    p = rec.get("patience")
    if p is None:
        return None
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise ConfigError("rec.patience", f"{p!r} is not a positive integer or null")
    if rec.get("selection") != "best_val":
        raise ConfigError("rec.patience", "early stopping needs rec.selection: best_val (it keeps the best checkpoint)")
    return p


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("rec.device", "cuda requested but torch sees no CUDA device")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool):  # type: ignore[no-untyped-def]
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else nullcontext()


# --------------------------------------------------------------------------------------------------------------
# 1. The loss of one mini-batch
# --------------------------------------------------------------------------------------------------------------
def q_columns(net: RecNet, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Q(s, a) = W_q[a] . s + b_q[a] (Eq. 9) for the items idx [B, m] of each row only; x: the Q-head's input."""
    return torch.einsum("bmd,bd->bm", net.q_head.weight[idx], x) + net.q_head.bias[idx]


def compute_losses(
    main: RecNet,
    target: RecNet | None,
    batch: dict[str, torch.Tensor],
    *,
    framework: str,
    variant: dict[str, Any],
    gamma: float = 0.5,
    advantage_clip: float = 10.0,
    weighted_ce: bool = False,
    target_dropout: bool = True,
    q_backbone_grad: bool = True,
    bootstrap_logits: bool = False,
    q_pass: str = "full",
) -> dict[str, torch.Tensor]:
    """Per-term batch means and ``total`` (Eq. 15) for one step; ``main`` gets the gradient.

    batch: state, length, action, next_state, next_length, done, neg_items [B, K], pos_reward [B],
    neg_reward [B, K]; optional le, le_next [B, d] (LE states), aug_item, aug_reward [B].
    ``weighted_ce``: SA2C after its warm-up (L_h <- A * L_h, Eq. 11).
    ``q_backbone_grad`` false (``rec.q_backbone_grad``, ours): the Q-head reads a detached h_t, so the TD losses
    (L_p, L_n of Eq. 10, L_aq of Eq. 14) update the Q-head only; the values, hence every loss, are unchanged.
    ``bootstrap_logits`` true: the three no-gradient bootstrap passes also compute the supervised logits, which
    nothing reads (the reference path; false skips them, the same values: tests/test_rl_switches.py).
    ``q_pass`` (``rec.q_pass``, ours): ``full`` forms Q(s, .) over the whole catalogue in every pass (the reference);
    ``gathered`` reads the columns the losses use (a+, the negatives, a^e; the target network's at the argmax only),
    the same losses and gradients up to float rounding (tests/test_rl_switches.py), in a quarter of the Q-head's
    matrix products: what makes the LLM LE's 576-d state affordable."""
    aug = variant.get("augment", "none")
    use_sv, use_q = aug in ("sv", "sv+q"), aug in ("q", "sv+q")
    s, ln, a = batch["state"], batch["length"], batch["action"]
    le, le_next = batch.get("le"), batch.get("le_next")
    with_q = framework != "normal"
    gathered = with_q and q_pass == "gathered"
    # h_t = G(x_{1:t}); logits = W_u h_t + b_u (Eq. 7); Q(s_t, .) = W_q s_t + b_q (Eq. 9), s_t per the state switch
    if gathered:  # the Q-head's input only; its columns are read below (one backbone pass, the same dropout draw)
        h, logits, _ = main(s, ln, le, with_q=False)
        x = main.q_input(h if q_backbone_grad else h.detach(), le)
        q = None
    elif q_backbone_grad or not with_q:
        _, logits, q = main(s, ln, le, with_q=with_q)
    else:  # one backbone pass (same dropout draw); the Q-head's input is cut from the backbone's graph
        h, logits, _ = main(s, ln, le, with_q=False)
        q = main.q_head(main.q_input(h.detach(), le))
    out: dict[str, torch.Tensor] = {}
    l_h = L.cross_entropy(logits, a)  # Eq. 8
    total = l_h
    if use_sv:  # Eq. 13: CE on the LE-chosen item a^e_t, through the same (chosen) backbone copy
        l_ah = L.cross_entropy(logits, batch["aug_item"])
        out["l_ah"] = l_ah.mean()
        total = total + variant.get("w_ah", 0.1) * l_ah
    if not with_q:
        out["l_h"] = l_h.mean()
        out["total"] = total.mean()
        return out
    assert target is not None
    neg = batch["neg_items"]
    # bootstrap passes: no gradient; dropout kept on as the authors' code unless target_dropout is false
    modes = (main.training, target.training)
    main.train(target_dropout)
    target.train(target_dropout)
    with torch.no_grad():
        if gathered:
            # the same passes in the same order (so the same dropout draws) as below; the target network's values
            # are read at the main network's argmax only (Alg. 1, l. 9-10), so its [B, n_items] Q-head is not formed
            q_next_main = main.q_values(batch["next_state"], batch["next_length"], le_next)
            x_next_tgt = target.q_input(target.backbone(batch["next_state"], batch["next_length"]), le_next)
            x_cur_tgt = target.q_input(target.backbone(s, ln), le)
        elif bootstrap_logits:
            q_next_main = main(batch["next_state"], batch["next_length"], le_next)[2]
            q_next_tgt = target(batch["next_state"], batch["next_length"], le_next)[2]
            q_cur_tgt = target(s, ln, le)[2]
        else:
            q_next_main = main.q_values(batch["next_state"], batch["next_length"], le_next)  # selects a* (Alg. 1, l. 9)
            q_next_tgt = target.q_values(batch["next_state"], batch["next_length"], le_next)  # evaluates a* (l. 10)
            q_cur_tgt = target.q_values(s, ln, le)  # a negative's next state is s_t (Eq. 10, L_n)
    main.train(modes[0])
    target.train(modes[1])
    if gathered:
        # Q(s_t, a) for a = a+, the negatives and a^e only (their gradient is the full head's: the other columns
        # get none); the full Q(s_t, .) without gradient for L_n's argmax, the value the reference detaches
        with torch.no_grad():
            a_star_cur = L.argmax_rows(main.q_head(x))
            q_next = q_columns(target, x_next_tgt, L.argmax_rows(q_next_main)).squeeze(1)
            q_neg_next = q_columns(target, x_cur_tgt, a_star_cur).squeeze(1)
        cols = [a.view(-1, 1), neg] + ([batch["aug_item"].view(-1, 1)] if use_q else [])
        q_sel = q_columns(main, x, torch.cat(cols, dim=1))
        q_pos, q_neg = q_sel[:, 0], q_sel[:, 1 : 1 + neg.shape[1]]
        q_aug = q_sel[:, -1] if use_q else None
    else:
        assert q is not None
        q_next = L.double_q_next(q_next_main, q_next_tgt)
        q_neg_next = L.double_q_next(q.detach(), q_cur_tgt)
        q_pos = q.gather(1, a.view(-1, 1)).squeeze(1)
        q_neg = q.gather(1, neg)  # [B, K]
        q_aug = q.gather(1, batch["aug_item"].view(-1, 1)).squeeze(1) if use_q else None
    done = batch["done"]
    # Eq. 10, L_p: (r^e(p_t, a+) + gamma * Q'(s_{t+1}, argmax_a Q(s_{t+1}, a)) - Q(s_t, a+))^2, zeroed at the end
    l_p = L.td_loss(q_pos, batch["pos_reward"], q_next, gamma, done)
    # Eq. 10, L_n: (r^e(p_t, a-) + gamma * Q'(s_t, argmax_a Q(s_t, a)) - Q(s_t, a-))^2 for each negative
    assert batch["neg_reward"].shape == q_neg.shape, "neg_reward must be [B, K] like neg_items"
    l_n = L.td_loss(q_neg, batch["neg_reward"], q_neg_next.unsqueeze(1).expand_as(q_neg), gamma).sum(dim=1)
    total = total + l_p + l_n  # L_c = L_h + L_q (Eq. 12)
    if framework == "sa2c" and weighted_ce:  # Eq. 11: L_h <- A(s_t, a+) * L_h, A clipped to [0, clip]
        adv = L.advantage(q_pos, q_neg, advantage_clip)
        out["advantage"] = adv.mean()
        total = total - l_h + adv * l_h
    if use_q:  # Eq. 14: (r^e(p_t, a^e) + gamma * max_a' Q'(s_{t+1}, a') - Q(s_t, a^e))^2, double-Q like L_p
        assert q_aug is not None
        l_aq = L.td_loss(q_aug, batch["aug_reward"], q_next, gamma, done)
        out["l_aq"] = l_aq.mean()
        total = total + variant.get("w_aq", 0.01) * l_aq
    out.update(l_h=l_h.mean(), l_p=l_p.mean(), l_n=l_n.mean(), total=total.mean())  # Eq. 15
    return out


# --------------------------------------------------------------------------------------------------------------
# 2. The trainer: networks, optimizers, batches, the coin
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Trainer:
    backbone: str
    framework: str
    n_items: int
    rec: dict[str, Any]
    variant: dict[str, Any]
    seed: int = 0
    le_dim: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    # the bootstrap passes' reference path (compute_losses' bootstrap_logits; benchmarks/bench_rec.py)
    bootstrap_logits: bool = False
    # Adam's update: "loop" is torch's per-tensor loop (the reference); "foreach" torch's foreach implementation, the
    # same kernels in the same order, some in place instead of into new buffers; "blocked" (lea.rl.adam) the foreach
    # update on one cache-sized slice at a time, through C kernels around torch's sqrt where a compiler is found, else
    # through torch's kernels. All three give the same weights bit for bit
    # (tests/test_rl_switches.py, tests/test_rl_adam.py); the difference shows on the 576-d LE state's heads
    # (benchmarks/bench_rec.py)
    adam: str = "blocked"

    def __post_init__(self) -> None:
        if self.framework not in FRAMEWORKS:
            raise ConfigError("framework", f"'{self.framework}' is not one of {FRAMEWORKS}")
        self.rec = {**REC_DEFAULTS, **self.rec}
        self.variant = {**VARIANT_DEFAULTS, **self.variant}
        for key in RL_SWITCHES:
            rl_switch(self.rec, key)  # a bad value fails before any training
        torch.manual_seed(self.seed)
        self.gen = torch.Generator().manual_seed(self.seed)  # batch order and the coin
        self.negatives = NegativeSampler(self.seed)  # the negatives' own stream (lea.rl.negatives)
        r = self.rec
        n_nets = 1 if self.framework == "normal" else 2
        self.nets = [
            RecNet(
                self.backbone, self.n_items, r["hidden"], r["window"], r["dropout"], self.variant["state"], self.le_dim
            ).to(self.device)
            for _ in range(n_nets)
        ]
        self.opt1 = [self.make_adam(n, r["lr"]) for n in self.nets]
        self.opt2 = [self.make_adam(n, r["sa2c_lr"]) for n in self.nets] if self.framework == "sa2c" else []
        self.step = 0

    def make_adam(self, net: torch.nn.Module, lr: float) -> torch.optim.Adam:
        if self.adam == "blocked":
            return BlockedAdam(net.parameters(), lr=lr)
        if self.adam in ("loop", "foreach"):
            return torch.optim.Adam(net.parameters(), lr=lr, foreach=self.adam == "foreach")
        raise ConfigError("Trainer.adam", f"'{self.adam}' is not one of loop, foreach, blocked")

    def make_batch(self, tr: Transitions, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        k = self.rec["negatives"]
        b: dict[str, torch.Tensor] = {
            "state": tr.state[idx],
            "length": tr.length[idx],
            "action": tr.action[idx],
            "next_state": tr.next_state[idx],
            "next_length": tr.next_length[idx],
            "done": tr.done[idx],
        }
        le_reward = self.variant["reward"] == "le"
        le_neg_reward = le_reward and rl_switch(self.rec, "le_reward_negatives") == "le"
        if self.framework == "normal":  # no Q-head: no negatives, the stream is not touched
            b["neg_items"] = torch.zeros(idx.shape[0], k, dtype=torch.long)
            b["neg_reward"] = torch.zeros(idx.shape[0], k)
        else:  # one draw per step from the shared pool, the same whatever the reward switch
            if tr.pool is None:
                raise ValueError("Q-head frameworks need the negative pool: attach_pool first")
            pool = tr.pool[idx]
            cols = self.negatives.columns(idx.shape[0], pool.shape[1], k)
            b["neg_items"] = pool.gather(1, cols)
            if le_neg_reward:  # Eq. 5, 10: r^e of the drawn pool items
                assert tr.pool_reward is not None
                b["neg_reward"] = tr.pool_reward[idx].gather(1, cols)
            else:  # fixed: 0 for negatives (paper 4.5; with reward le, rec.le_reward_negatives: fixed)
                b["neg_reward"] = torch.zeros(idx.shape[0], k)
        if le_reward:  # Eq. 5, 10: r^e for the positive
            assert tr.pos_reward is not None
            b["pos_reward"] = tr.pos_reward[idx]
        else:  # fixed: 1 for the observed item
            b["pos_reward"] = torch.ones(idx.shape[0])
        if self.variant["state"] != "h":
            assert tr.le_table is not None and tr.le_idx is not None and tr.le_next_idx is not None
            b["le"] = tr.le_table[tr.le_idx[idx]].float()
            b["le_next"] = tr.le_table[tr.le_next_idx[idx]].float()
        if self.variant["augment"] != "none":
            assert tr.aug_item is not None and tr.aug_reward is not None
            b["aug_item"] = tr.aug_item[idx]
            b["aug_reward"] = tr.aug_reward[idx]
        return {k2: v.to(self.device, non_blocking=True) for k2, v in b.items()}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        r = self.rec
        # Algorithm 1, line 7: a fair coin picks the trained network
        i_main = 0 if len(self.nets) == 1 else int(torch.randint(0, 2, (1,), generator=self.gen))
        main = self.nets[i_main]
        target = self.nets[1 - i_main] if len(self.nets) == 2 else None
        phase2 = self.framework == "sa2c" and self.step >= r["sa2c_warmup_steps"]
        main.train()
        if target is not None:
            target.train()
        with autocast(self.device, r["bf16_autocast"]):
            terms = compute_losses(
                main,
                target,
                batch,
                framework=self.framework,
                variant=self.variant,
                gamma=r["gamma"],
                advantage_clip=r["advantage_clip"],
                weighted_ce=phase2,
                target_dropout=r["target_dropout"],
                q_backbone_grad=rl_switch(r, "q_backbone_grad"),
                bootstrap_logits=self.bootstrap_logits,
                q_pass=rl_switch(r, "q_pass"),
            )
        opt = (self.opt2 if phase2 else self.opt1)[i_main]  # SA2C: a separate Adam after the warm-up
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()
        self.step += 1
        return {k: float(v.detach()) for k, v in terms.items()}

    @torch.no_grad()
    def ranks(self, tr: Transitions) -> torch.Tensor:
        """Full ranking with network 0's supervised head (the authors evaluate their first network)."""
        net = self.nets[0]
        net.eval()
        with autocast(self.device, self.rec["bf16_autocast"]):
            out = rank_cases(net.scores, tr.state, tr.length, tr.action, self.rec["eval_batch_size"], self.device)
        net.train()
        return out

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            f"net{i}.{k}": v.detach().cpu().clone() for i, n in enumerate(self.nets) for k, v in n.state_dict().items()
        }

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        for i, n in enumerate(self.nets):
            n.load_state_dict({k[len(f"net{i}.") :]: v for k, v in sd.items() if k.startswith(f"net{i}.")})

    def training_state(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue bit-for-bit: weights, optimizers, RNGs, step."""
        return {
            "nets": self.state_dict(),
            "opt1": [o.state_dict() for o in self.opt1],
            "opt2": [o.state_dict() for o in self.opt2],
            "gen": self.gen.get_state(),
            "neg_gen": self.negatives.gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "step": self.step,
        }

    def load_training_state(self, st: dict[str, Any]) -> None:
        self.load_state_dict(st["nets"])
        for o, s in zip(self.opt1, st["opt1"]):
            o.load_state_dict(s)
        for o, s in zip(self.opt2, st["opt2"]):
            o.load_state_dict(s)
        self.gen.set_state(st["gen"])
        self.negatives.gen.set_state(st["neg_gen"])
        torch.set_rng_state(st["torch_rng"])
        self.step = int(st["step"])


def save_checkpoint(path: Path, trainer: Trainer, loop: dict[str, Any]) -> None:
    """Atomically write the trainer's and the loop's state (``lea.checkpoint``, shared with the LLM stages)."""
    state = {"trainer": trainer.training_state(), "loop": loop}
    leckpt.save_checkpoint(path, {**state, "fingerprint": loop["fingerprint"], "step": loop["step"]})


def load_checkpoint(path: Path, trainer: Trainer, fingerprint: str) -> dict[str, Any] | None:
    """The loop state of a checkpoint of this very run (same fingerprint), after restoring the trainer; else None."""
    state = leckpt.load_checkpoint(path, fingerprint)
    if state is None:
        return None
    trainer.load_training_state(state["trainer"])
    return state["loop"]


def steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, n // batch_size)  # as the authors' code: int(rows / batch_size) batches per epoch


def fit(
    trainer: Trainer,
    train: Transitions,
    valid: Transitions | None = None,
    progress: bool | None = None,
    checkpoint: Path | None = None,
) -> dict[str, Any]:
    """Train for ``epochs`` (or ``max_steps``); validate every ``eval_every`` steps and at the end.
    Returns the log rows, the selected state dict and its step, and the step and seconds a resumed run resumed from.

    With ``checkpoint``, the whole training state is saved every ``checkpoint_every`` steps and a rerun after a kill
    resumes from it, giving the same numbers as an uninterrupted run (the caller deletes it when the run is done)."""
    r = trainer.rec
    if len(train) == 0:
        raise ConfigError("rec", "no training transitions")
    spe = steps_per_epoch(len(train), r["batch_size"])
    total = spe * r["epochs"] if r["max_steps"] is None else int(r["max_steps"])  # max_steps overrides epochs
    planned = total
    rows: list[dict[str, Any]] = []
    acc: dict[str, list[float]] = {}
    log_every = max(1, min(50, r["eval_every"]))
    best: tuple[float, int, dict[str, torch.Tensor] | None] = (-math.inf, 0, None)
    metric = r["selection_metric"]
    patience = early_stop_patience(r)
    perm = torch.randperm(len(train), generator=trainer.gen)
    cursor, start = 0, 1
    fingerprint = config_hash(
        {
            "rec": r,
            "variant": trainer.variant,
            "backbone": trainer.backbone,
            "framework": trainer.framework,
            "seed": trainer.seed,
            "n": len(train),
            "negatives": "shared-pool",
        }
    )  # checkpoints of the per-step uniform law do not resume
    loop = load_checkpoint(checkpoint, trainer, fingerprint) if checkpoint is not None else None
    # a resumed run's training time: the earlier processes' seconds in this loop up to the checkpoint (None for a
    # checkpoint written before this was recorded), saved with each checkpoint
    t_start = time.perf_counter()
    before: float | None = 0.0
    resumed: dict[str, Any] = {"resumed_from_step": None, "seconds_before_resume": None}
    if loop is not None:
        perm, cursor, start, rows, acc = loop["perm"], loop["cursor"], loop["step"] + 1, loop["rows"], loop["acc"]
        best = (loop["best_value"], loop["best_step"], loop["best_sd"])
        before = loop.get("elapsed_s")
        resumed["resumed_from_step"] = loop["step"]
        resumed["seconds_before_resume"] = None if before is None else round(before, 2)
    show = progress if progress is not None else sys.stderr.isatty()
    bar = tqdm(
        total=total,
        desc=f"train {trainer.backbone}/{trainer.framework}",
        disable=not show,
        leave=False,
        mininterval=2.0,
        initial=start - 1,
    )
    for step in range(start, total + 1):
        if cursor + r["batch_size"] > len(train) and cursor > 0:
            perm = torch.randperm(len(train), generator=trainer.gen)  # a new epoch
            cursor = 0
        idx = perm[cursor : cursor + r["batch_size"]]
        cursor += r["batch_size"]
        terms = trainer.train_step(trainer.make_batch(train, idx))
        for k, v in terms.items():
            acc.setdefault(k, []).append(v)
        bar.update(1)
        # a validation step gets its own row even when eval_every is not a multiple of log_every (eval_every 381
        # with log_every 50 used to validate at the last step only)
        validate = step % r["eval_every"] == 0 or step == total
        if step % log_every == 0 or validate:
            row: dict[str, Any] = {"step": step, "epoch": round(step / spe, 3)}
            row.update({k: float(np.mean(v)) for k, v in acc.items()})
            acc = {}
            if valid is not None and len(valid) and validate:
                m = hr_ndcg(trainer.ranks(valid), r["topk"])
                row.update({f"valid_{k}": v for k, v in m.items()})
                if r["selection"] == "best_val" and m[metric] > best[0]:
                    best = (m[metric], step, trainer.state_dict())
                bar.set_postfix({metric: f"{m[metric]:.4f}"})
                if not show:  # a line per validation in logs (no progress bar there)
                    print(
                        f"step {step}/{total} epoch {row['epoch']:.2f} loss {row.get('total', float('nan')):.4f} "
                        f"valid " + " ".join(f"{k}={v:.4f}" for k, v in m.items()),
                        file=sys.stderr,
                        flush=True,
                    )
            rows.append(row)
            # early stopping (rec.patience, ours): `patience` validations in a row below the best so far end the run;
            # the selected checkpoint is the best one, as a full-budget best_val run whose best comes before the stall
            if patience is not None and f"valid_{metric}" in row:
                stall = sum(1 for x in rows if f"valid_{metric}" in x and x["step"] > best[1])
                if stall >= patience and step < total:
                    planned, total = total, step
                    break
        if checkpoint is not None and step % r["checkpoint_every"] == 0 and step < total:
            save_checkpoint(
                checkpoint,
                trainer,
                {
                    "fingerprint": fingerprint,
                    "step": step,
                    "perm": perm,
                    "cursor": cursor,
                    "rows": rows,
                    "acc": acc,
                    "best_value": best[0],
                    "best_step": best[1],
                    "best_sd": best[2],
                    "elapsed_s": None if before is None else before + time.perf_counter() - t_start,
                },
            )
    bar.close()
    if r["selection"] == "best_val" and best[2] is not None:
        selected_step, sd = best[1], best[2]
    else:
        selected_step, sd = total, trainer.state_dict()
    return {
        "rows": rows,
        "steps": total,
        "planned_steps": planned,
        "selected_step": selected_step,
        "state_dict": sd,
        **resumed,
    }


# --------------------------------------------------------------------------------------------------------------
# 3. A run: inputs -> training -> selection -> evaluation -> files
# --------------------------------------------------------------------------------------------------------------
def model_metadata(trainer: Trainer, extra: dict[str, Any] | None = None) -> dict[str, str]:
    r = trainer.rec
    meta = {
        "format": "lea-recnet-1",
        "backbone": trainer.backbone,
        "framework": trainer.framework,
        "n_items": str(trainer.n_items),
        "hidden": str(r["hidden"]),
        "window": str(r["window"]),
        "dropout": str(r["dropout"]),
        "state_mode": trainer.variant["state"],
        "le_dim": str(trainer.le_dim),
        "networks": str(len(trainer.nets)),
    }
    meta.update({k: str(v) for k, v in (extra or {}).items()})
    return meta


def load_inputs(
    data_dir: str | Path,
    variant: dict[str, Any],
    window: int,
    negatives: int,
    le_states: str | Path | None = None,
    le_rewards: str | Path | None = None,
    le_augment: str | Path | None = None,
    framework: str = "sa2c",
    pool: str | Path | None = None,
    le_state_norm: str = "none",
) -> tuple[pl.DataFrame, Transitions, Transitions, Transitions]:
    """The data, the training transitions with what the variant reads attached, and the evaluation cases.

    ``pool``: the negative pool (default ``{data_dir}/negatives.parquet``); every framework with a Q-head reads it.
    ``le_state_norm``: ``rec.le_state_norm`` (``standardize_le_states``)."""
    items, inter, splits = load_data(data_dir)
    n_items = items.height
    trs = [build_transitions(inter, splits, s, n_items, window) for s in ("train", "valid", "test")]
    need = variant_needs({**VARIANT_DEFAULTS, **variant})
    le_name = variant.get("le") or "?"
    for kind, path, stage in (
        ("states", le_states, "le-precompute (states)"),
        ("rewards", le_rewards, "le-precompute (rewards)"),
        ("augment", le_augment, "le-precompute (augment)"),
    ):
        if need[kind] and (path is None or not Path(path).exists()):
            what = path if path is not None else f"<--le-{kind} not given: the {kind} precompute of LE '{le_name}'>"
            raise MissingInputError(what, f"{stage} of LE setting '{le_name}' (variant '{variant.get('name')}')")
    if framework != "normal":
        pool_path = Path(pool) if pool is not None else Path(data_dir) / "negatives.parquet"
        if not pool_path.exists():
            raise MissingInputError(pool_path, NEGATIVES_STAGE)
        attach_pool(trs[0], pool_path)
        width = 0 if trs[0].pool is None else int(trs[0].pool.shape[1])
        if len(trs[0]) and negatives > width:
            raise ConfigError(
                "rec.negatives",
                f"{negatives} negatives per step need a pool of at least {negatives} "
                f"per transition; {pool_path} has {width} (precompute.negatives)",
            )
    if need["states"]:
        attach_le_states(trs[0], le_states)  # type: ignore[arg-type]
        if le_state_norm in ("standardize", "standardize_unit"):
            standardize_le_states(trs[0], unit=le_state_norm == "standardize_unit")
    if need["rewards"]:
        if framework == "normal":
            raise ConfigError("variant.reward", "the normal framework has no Q-head to take LE rewards")
        attach_le_rewards(trs[0], le_rewards)  # type: ignore[arg-type]
    if need["augment"]:
        attach_augment(trs[0], le_augment)  # type: ignore[arg-type]
    return items, trs[0], trs[1], trs[2]


def standardize_le_states(tr: Transitions, eps: float = 1e-6, unit: bool = False) -> None:
    """``rec.le_state_norm: standardize`` (ours): s^e <- (s^e - mu) / (sigma + eps) per dimension, mu and sigma over
    the distinct state rows the training transitions read (s^e_t and s^e_{t+1}); only training states exist in
    ``states.parquet`` and only training transitions read them, so no evaluation data enters the statistics."""
    assert tr.le_table is not None and tr.le_idx is not None and tr.le_next_idx is not None
    rows = torch.unique(torch.cat([tr.le_idx, tr.le_next_idx]))
    table = tr.le_table.float()
    used = table[rows]
    mu, sd = used.mean(0), used.std(0, unbiased=False)
    z = (table - mu) / (sd + eps)
    if unit:  # standardize_unit: E||s^e||^2 = 1 over those rows, the Q-head's input no longer grows with d
        z = z / math.sqrt(table.shape[1])
    tr.le_table = z.to(tr.le_table.dtype)


def run(
    settings: dict[str, Any],
    variant: dict[str, Any],
    backbone: str,
    framework: str,
    seed: int,
    data_dir: str | Path,
    out_dir: str | Path,
    le_states: str | Path | None = None,
    le_rewards: str | Path | None = None,
    le_augment: str | Path | None = None,
    progress: bool | None = None,
    negatives: str | Path | None = None,
) -> dict[str, Any]:
    """Train and evaluate one run; write model.safetensors, metrics.json, ranks.parquet, train_log.{csv,png}."""
    t0 = time.perf_counter()
    rec = {**REC_DEFAULTS, **settings.get("rec", settings)}
    variant = {**VARIANT_DEFAULTS, **variant}
    if rec.get("threads"):
        torch.set_num_threads(int(rec["threads"]))
    device = resolve_device(rec["device"])
    items, train, valid, test = load_inputs(
        data_dir,
        variant,
        rec["window"],
        rec["negatives"],
        le_states,
        le_rewards,
        le_augment,
        framework,
        negatives,
        le_state_norm=rl_switch(rec, "le_state_norm"),
    )
    trainer = Trainer(backbone, framework, items.height, rec, variant, seed, train.le_dim, device)
    out = Path(out_dir)
    ckpt = out / "checkpoint.pt"  # not a rule output: Snakemake leaves it when a killed job's outputs are removed
    res = fit(trainer, train, valid, progress, checkpoint=ckpt)
    trainer.load_state_dict(res["state_dict"])
    ranks = {"valid": trainer.ranks(valid), "test": trainer.ranks(test)}
    wall = time.perf_counter() - t0
    chash = config_hash({"rec": rec, "variant": variant, "backbone": backbone, "framework": framework, "seed": seed})
    metrics = {
        "test": hr_ndcg(ranks["test"], rec["topk"]),
        "valid": hr_ndcg(ranks["valid"], rec["topk"]),
        "selection": rec["selection"] if rec["selection"] == "last" else f"best_val:{rec['selection_metric']}",
        "selected_step": res["selected_step"],
        "steps": res["steps"],
        "planned_steps": res["planned_steps"],
        "wall_time_s": round(wall, 2),  # this process only; a resumed run's earlier part is the next key
        "resumed_from_step": res["resumed_from_step"],
        "seconds_before_resume": res["seconds_before_resume"],
        "device": str(device),
        # the exact fast paths this process could use (they change no number, only wall_time_s): lea.rl.adam's and
        # lea.rec.dropout's C kernels, or torch's where no compiler was found
        "cpu_kernels": {
            "adam": "native" if native_kernels() is not None else "torch",
            "dropout": "native" if native_bernoulli() is not None else "torch",
        },
        "config_hash": chash,
        "backbone": backbone,
        "framework": framework,
        "variant": variant.get("name"),
        "seed": seed,
        "cases": {k: len(v) for k, v in ranks.items()},
        "transitions": len(train),
        "settings": {"rec": rec, "variant": variant},
    }
    items_path = Path(data_dir) / "items.parquet"
    leaio.write_safetensors(
        res["state_dict"],
        out / "model.safetensors",
        metadata=model_metadata(trainer, {"items": str(items_path), "config_hash": chash}),
    )
    frames = []
    for split, tr in (("valid", valid), ("test", test)):
        frames.append(
            pl.DataFrame(
                {
                    "split": [split] * len(tr),
                    "sequence": tr.sequence.numpy().astype(np.int32),
                    "position": tr.position.numpy().astype(np.int32),
                    "item": tr.action.numpy().astype(np.int32),
                    "rank": ranks[split].numpy().astype(np.int32),
                }
            )
        )
    leaio.write_parquet(pl.concat(frames), out / "ranks.parquet")
    write_log(
        res["rows"],
        out / "train_log.csv",
        out / "train_log.png",
        title=f"{backbone}/{framework}/{variant.get('name')}/seed{seed}",
    )
    leaio.write_json(metrics, out / "metrics.json")  # last: its presence marks a complete run
    ckpt.unlink(missing_ok=True)
    return metrics


def write_log(rows: list[dict[str, Any]], csv_path: Path, png_path: Path, title: str = "") -> None:
    cols: list[str] = []
    for row in rows:
        cols += [c for c in row if c not in cols]
    with leaio.atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    from lea.report.figures import loss_curves  # the report's figure: losses and validation in separate panels

    loss_curves([{"path": str(csv_path), "label": title or csv_path.parent.name}], png_path, title=title or "training")


def settings_json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def clone_rec(rec: dict[str, Any], **kw: Any) -> dict[str, Any]:
    out = copy.deepcopy({**REC_DEFAULTS, **rec})
    out.update(kw)
    return out
