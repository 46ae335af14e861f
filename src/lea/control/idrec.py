"""``idrec``: the LE's recipe with the LLM swapped for a small ID-based sequence model (issue 13).

Everything but the LLM is the LE's (lea.env.model, lea.env.train):

- encoder G^e: SASRec (lea.rec.backbones.SASRecBackbone) over learned item embeddings e_i, window W + 1 so that a
  history of W items and one action fit;
- state (Eq. 2's s^e_t): G^e(x_{t-W+1:t}), the output at the history's last item (the all-pad input for an empty
  history, as the recommender's position 0);
- reward (Eq. 1): r^e(p_t, a) = w . G^e(x_{t-W+1:t}, a) + b, the same linear score head on the output at the action
  appended to the history (the LE reads it at the end of the reward prompt, which ends with the action);
- losses: Bradley-Terry -log sigma(r^e(p_t, a+) - r^e(p_t, a-)) with one sampled negative (Eq. 1) + Eq. 2's
  -1/B sum_j log sigma(s_t . e_{a+} - s_t . e_{a_j}) against the batch's next items, scaled by 1/sqrt(d) as the LE;
- choice (paper 3.4): the candidate with the highest r^e(p_t, x_k) among the five (an ID model has no label words to
  read; the LLM LE's default rule adds the same reward to its label reading);
- the reward anchor of the LE (finetune.reward_anchor): the score bias is shifted so the mean r^e of observed items on
  the training transitions is the fixed reward it replaces.

Trained by Adam for ``le.finetune.epochs`` epochs of ``le.finetune.batch_size`` (``le.control`` may override both)
on the LE subset, with the learning rate ``le.control.lr`` (the LE's lr is for LoRA on a pretrained model; these
weights start from scratch).

Two switches of ours (``le.control``, defaults = the LE's recipe above) make the ``recommender`` recipe: the objective
and the reward of the recommender the environment is meant to inform (a stronger oracle, issue 13):

- ``state_objective: softmax``: Eq. 2's in-batch pairs replaced by the recommender's cross-entropy over every item,
  -log softmax_i(s_t . e_i / sqrt(d))[a+] (Eq. 8's form on Eq. 2's scores);
- ``reward_head: state_dot``: r^e(p_t, a) = s^e_t . e_a / sqrt(d) + b, the state's own score of the action (the
  recommender's logit) instead of Eq. 1's separate head on G^e(x, a); the Bradley-Terry loss (Eq. 1) trains it too.

``le.control.reward_gap`` (null = off) rescales r^e after training: r^e <- anchor + g * (r^e - m+) / (m+ - m-), with
m+ / m- the mean r^e of observed / uniformly drawn items on the training transitions, so the mean reward gap equals
the fixed reward's (1 vs 0 for g = 1) whatever the head's scale.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from lea.control.base import Key, measure, read_model_metadata
from lea.env.train import Data, Transition, sample_negatives
from lea.rec.backbones import SASRecBackbone

CHOICE_RULE = "highest reward r^e(p_t, x_k) of the 5 candidates"
EVAL_BATCH = 2048
REWARD_HEADS = ("linear", "state_dot")
STATE_OBJECTIVES = ("eq2", "softmax")


class IDRecLE(nn.Module):
    def __init__(
        self, n_items: int, hidden: int = 64, window: int = 10, dropout: float = 0.1, reward_head: str = "linear"
    ) -> None:
        super().__init__()
        if reward_head not in REWARD_HEADS:
            raise ValueError(f"reward_head must be one of {REWARD_HEADS}, not '{reward_head}'")
        self.n_items, self.window, self.dim, self.reward_head = n_items, window, hidden, reward_head
        self.encoder = SASRecBackbone(n_items, hidden, window + 1, dropout)  # +1: Eq. 1's input ends with the action
        self.score = nn.Linear(hidden, 1)  # theta of Eq. 1 (state_dot: its bias only, the anchor's shift)
        # reward_gap's multiplier of r^e - bias (1: the head as trained); a buffer so that it is saved with the weights
        self.register_buffer("reward_mult", torch.ones(()))
        self.choice_rule = CHOICE_RULE

    def _pack(self, seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded [B, W + 1] ids and true lengths (>= 1; an empty history is one pad item)."""
        w = self.window + 1
        ids = torch.full((len(seqs), w), self.n_items, dtype=torch.long)
        lens = torch.ones(len(seqs), dtype=torch.long)
        for i, s in enumerate(seqs):
            s = list(s)[-w:]
            if s:
                ids[i, : len(s)] = torch.tensor(s)
                lens[i] = len(s)
        return ids, lens

    def encode(self, seqs: Sequence[Sequence[int]]) -> torch.Tensor:
        return self.encoder(*self._pack(seqs))

    def item_vectors(self) -> torch.Tensor:
        return self.encoder.item_emb.weight[: self.n_items]

    def state_batch(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        return self.encode([list(h)[-self.window :] for h in histories])

    def reward_batch(self, histories: Sequence[Sequence[int]], actions: Sequence[int]) -> torch.Tensor:
        if self.reward_head == "state_dot":  # the state's score of the action, s^e_t . e_a / sqrt(d)
            s = self.state_batch(histories)
            raw = (s * self.item_vectors()[torch.as_tensor(list(actions), dtype=torch.long)]).sum(-1)
            raw = raw / math.sqrt(self.dim)
        else:  # Eq. 1: w . G^e(x, a)
            x = self.encode([[*list(h)[-self.window :], a] for h, a in zip(histories, actions, strict=True)])
            raw = x @ self.score.weight[0]
        return self.reward_mult * raw + self.score.bias[0]

    # --- Eq. 1 and Eq. 2 ---
    def reward_loss(self, batch: Sequence[Transition], negatives: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        hist = [t.history for t in batch]
        r_pos = self.reward_batch(hist, [t.target for t in batch])
        r_neg = self.reward_batch(hist, negatives)
        return -F.logsigmoid(r_pos - r_neg).mean(), (r_pos > r_neg).float().mean()

    def softmax_state_loss(self, states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """state_objective softmax: the recommender's cross-entropy over every item on Eq. 2's scores."""
        logits = states @ self.item_vectors().T / math.sqrt(states.shape[-1])  # [B, n_items]
        return F.cross_entropy(logits, targets)

    def state_loss(self, states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        a = self.item_vectors()[targets]
        logits = states @ a.T / math.sqrt(states.shape[-1])  # [B, B]
        diff = logits.diagonal()[:, None] - logits
        keep = targets[:, None] != targets[None, :]  # a_j == a+_t is no negative
        if not keep.any():
            return states.sum() * 0.0
        return -(F.logsigmoid(diff) * keep).sum() / keep.sum()

    # --- the ControlEnv interface (inference, batched) ---
    @torch.no_grad()
    def states(self, keys: Sequence[Key], histories: Sequence[Sequence[int]]) -> torch.Tensor:
        self.eval()
        out = [self.state_batch(histories[i : i + EVAL_BATCH]) for i in range(0, len(histories), EVAL_BATCH)]
        return torch.cat(out).float() if out else torch.zeros(0, self.dim)

    @torch.no_grad()
    def rewards(
        self,
        keys: Sequence[Key],
        histories: Sequence[Sequence[int]],
        actions: Sequence[Sequence[int]],
        observed: Sequence[int],
    ) -> torch.Tensor:
        self.eval()
        k = len(actions[0]) if actions else 0
        flat_h = [h for h, acts in zip(histories, actions, strict=True) for _ in acts]
        flat_a = [a for acts in actions for a in acts]
        out = [
            self.reward_batch(flat_h[i : i + EVAL_BATCH], flat_a[i : i + EVAL_BATCH])
            for i in range(0, len(flat_a), EVAL_BATCH)
        ]
        return (torch.cat(out) if out else torch.zeros(0)).float().reshape(len(actions), k)

    def choose(
        self, keys: Sequence[Key], histories: Sequence[Sequence[int]], candidates: Sequence[Sequence[int]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r = self.rewards(keys, histories, candidates, [-1] * len(candidates))  # [N, 5]
        best = r.argmax(1)
        return best, r.gather(1, best[:, None]).squeeze(1), r

    # --- persistence ---
    def save(self, path: str | Path) -> None:
        from lea.io import write_safetensors

        meta = {
            "env": "idrec",
            "n_items": str(self.n_items),
            "hidden": str(self.dim),
            "window": str(self.window),
            "reward_head": self.reward_head,
        }
        write_safetensors(self.state_dict(), path, metadata=meta)

    @classmethod
    def load(cls, path: str | Path, n_items: int) -> IDRecLE:
        from safetensors.torch import load_file

        meta = read_model_metadata(path, "idrec", n_items)
        m = cls(n_items, int(meta["hidden"]), int(meta["window"]), reward_head=meta.get("reward_head", "linear"))
        sd = load_file(str(path))
        sd.setdefault("reward_mult", torch.ones(()))  # files written before reward_gap: the head as trained
        m.load_state_dict(sd)
        m.eval()
        return m


def control_settings(s: Mapping[str, Any]) -> dict[str, Any]:
    """``le.control`` with the epochs and batch size of ``le.finetune`` where it leaves them null."""
    ft, ctl = s.get("finetune", {}), dict(s.get("control", {}))
    ctl["epochs"] = ctl.get("epochs") or ft.get("epochs", 10)
    ctl["batch_size"] = ctl.get("batch_size") or ft.get("batch_size", 20)
    return ctl


def fit(
    model: IDRecLE,
    train: list[Transition],
    n_items: int,
    ctl: Mapping[str, Any],
    state_loss: bool = True,
    seed: int = 0,
    progress: bool = True,
    on_epoch: Callable[[int], dict[str, float]] | None = None,
) -> list[dict[str, float]]:
    """Adam on Eq. 1 (+ Eq. 2, or the softmax state objective): one sampled negative per transition per step, as
    lea.env.train.fit. ``on_epoch(epoch)`` (eval mode, after each epoch) returns values added to that epoch's last
    log row (the validation diagnostics of ``le.control.select``); it must not draw from the training streams."""
    objective = ctl.get("state_objective", "eq2")
    if objective not in STATE_OBJECTIVES:
        raise ValueError(f"le.control.state_objective must be one of {STATE_OBJECTIVES}, not '{objective}'")
    rng = random.Random(seed)
    opt = torch.optim.Adam(model.parameters(), lr=ctl.get("lr", 1e-3))
    bs, epochs = ctl["batch_size"], ctl["epochs"]
    log: list[dict[str, float]] = []
    step, t0 = 0, time.perf_counter()
    model.train()
    bar = tqdm(
        total=epochs * ((len(train) + bs - 1) // bs), desc="fit idrec (steps)", disable=not progress, mininterval=5
    )
    for epoch in range(epochs):
        order = list(range(len(train)))
        rng.shuffle(order)
        for i in range(0, len(order), bs):
            batch = [train[k] for k in order[i : i + bs]]
            negs = [sample_negatives(t, n_items, 1, rng)[0] for t in batch]
            l_rm, acc_rm = model.reward_loss(batch, negs)
            loss = l_rm
            row = {"epoch": epoch, "step": step, "loss_rm": l_rm.item(), "acc_rm": acc_rm.item()}
            if state_loss:
                sm = model.softmax_state_loss if objective == "softmax" else model.state_loss
                l_sm = sm(model.state_batch([t.history for t in batch]), torch.tensor([t.target for t in batch]))
                loss = loss + l_sm
                row["loss_sm"] = l_sm.item()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            row.update(loss=loss.item(), wall_s=time.perf_counter() - t0)
            log.append(row)
            bar.update(1)
        bar.set_postfix(loss=f"{log[-1]['loss']:.3f}" if log else "-", refresh=False)
        if on_epoch is not None and log:
            model.eval()
            log[-1].update(on_epoch(epoch))
            model.train()
    bar.close()
    model.eval()
    return log


def anchor_rewards(model: IDRecLE, train: list[Transition], anchor: float, n: int = 200) -> float:
    """As lea.env.train.anchor_rewards: shift the score bias so the mean r^e of the observed next items of (up to
    ``n``, the same seeded sample) training transitions is ``anchor``; Eq. 1 sees differences only."""
    sample = train if len(train) <= n else random.Random(3).sample(train, n)
    keys = [(t.sequence, t.position) for t in sample]
    r = model.rewards(keys, [t.history for t in sample], [[t.target] for t in sample], [t.target for t in sample])
    shift = anchor - float(r.mean())
    with torch.no_grad():
        model.score.bias += shift
    return shift


def calibrate_gap(model: IDRecLE, train: list[Transition], anchor: float, gap: float, n: int = 200) -> dict:
    """``le.control.reward_gap``: an affine map of r^e so that, on (up to ``n``, seeded) training transitions, the
    mean r^e of the observed items is ``anchor`` and the mean r^e of one uniformly drawn other item per transition is
    ``anchor - gap``; the ranking of any two actions is unchanged. Returns the multiplier and the shift."""
    sample = train if len(train) <= n else random.Random(3).sample(train, n)
    rng = random.Random(4)
    negs = [sample_negatives(t, model.n_items, 1, rng)[0] for t in sample]
    keys = [(t.sequence, t.position) for t in sample]
    r = model.rewards(
        keys, [t.history for t in sample], [[t.target, a] for t, a in zip(sample, negs, strict=True)], [-1] * len(keys)
    )
    m_pos, m_neg = float(r[:, 0].mean()), float(r[:, 1].mean())
    if m_pos - m_neg <= 1e-6:
        raise ValueError(
            f"reward_gap: the trained reward does not rank observed items above others (mean {m_pos:.4f} vs "
            f"{m_neg:.4f} on {len(sample)} training transitions); it cannot be rescaled to a positive gap"
        )
    factor = gap / (m_pos - m_neg)
    with torch.no_grad():
        b = float(model.score.bias[0])
        model.reward_mult *= factor
        # r' = factor * (r - m_pos) + anchor, i.e. bias' = factor * (b - m_pos) + anchor
        model.score.bias.fill_(factor * (b - m_pos) + anchor)
    return {"reward_multiplier": factor, "reward_shift": float(model.score.bias[0]) - b}


def train_env(s: Mapping[str, Any], data: Data, seed: int = 0, progress: bool = True) -> tuple[IDRecLE, list, dict]:
    """Build and train the environment on ``data.train``; returns (model, log, facts for le_quality.json)."""
    ctl = control_settings(s)
    torch.manual_seed(seed)
    model = IDRecLE(
        data.n_items,
        ctl.get("hidden", 64),
        s.get("history", 10),
        ctl.get("dropout", 0.1),
        ctl.get("reward_head", "linear"),
    )
    t0 = time.perf_counter()

    def on_epoch(epoch: int) -> dict[str, float]:
        # the validation diagnostics of le_quality.json after each epoch (a learning curve for choosing the
        # epochs); measure draws its negatives from its own seeded generator, not the training streams
        q = measure(model, data.valid, data.n_items, seed=seed)
        return {
            "valid_reward_acc": q["reward"]["pairwise_accuracy"],
            "valid_reward_auc": q["reward"]["auc"],
            "valid_state_hr@10": q["state"]["hr@10"],
            "valid_choice_acc": q["choice"]["accuracy"],
        }

    log = fit(
        model,
        data.train,
        data.n_items,
        ctl,
        s.get("le", {}).get("state_loss", True),
        seed,
        progress,
        on_epoch if data.valid else None,
    )
    anchor = s.get("finetune", {}).get("reward_anchor", 1.0)
    gap = ctl.get("reward_gap")
    if gap is not None:
        cal = calibrate_gap(model, data.train, 1.0 if anchor is None else anchor, gap)
        shift = cal["reward_shift"]
    else:
        cal = {}
        shift = anchor_rewards(model, data.train, anchor) if anchor is not None else None
    facts = {
        "steps": len(log),
        "epochs": ctl["epochs"],
        "batch_size": ctl["batch_size"],
        "lr": ctl.get("lr", 1e-3),
        "state_objective": ctl.get("state_objective", "eq2"),
        "reward_head": model.reward_head,
        "reward_gap": gap,
        "train_time_s": round(time.perf_counter() - t0, 1),
        "final_train_loss": log[-1]["loss"] if log else None,
        "reward_shift": shift,
        **cal,
    }
    return model, log, facts


def load_env(s: Mapping[str, Any], model_path: str | Path, n_items: int) -> IDRecLE:
    return IDRecLE.load(model_path, n_items)
