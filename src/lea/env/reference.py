"""Reference scorers for ``le_quality.json``: what the LE's own training data gives without an LLM.

An LE is "above chance" or not; neither says how much of the achievable it reaches. Two item scorers, fitted on the
LE subset only (the transitions the LE trains on) and measured on the same validation transitions, negatives and
choice lists as the LE (:func:`lea.env.quality.examples`), give that floor:

- ``popularity``: r(a) = how often a is the next item among the LE subset's transitions. Its state ranking is the
  same most-popular list for every user, its choice the most popular of the five candidates.
- ``item_vector_linear``: r(a) = w . x^e_a, a linear function of the item's frozen token (the LE's own input for a;
  in the -IT ablation the mean embedding of its title's tokens, the LE's action vector there),
  fitted with the Bradley-Terry loss of Eq. 1 against one uniform negative per transition (a fresh draw every
  epoch, full batch, Adam). It shows what a linear read-out of the item tokens carries, with no history at all.

Both ignore the history (a context-free score per item): an LE below them has not learned even which items are
popular. Ties are broken by a seeded jitter far below one count.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lea.env.quality import Examples, diagnostics
from lea.env.train import Transition, sample_negatives


def popularity(train: Sequence[Transition], n_items: int) -> torch.Tensor:
    """Counts of each item as the target of a training transition: [n_items] float."""
    c = torch.zeros(n_items)
    c.index_add_(0, torch.tensor([t.target for t in train], dtype=torch.long), torch.ones(len(train)))
    return c


def item_vector_linear(
    train: Sequence[Transition],
    item_tokens: torch.Tensor,
    n_items: int,
    seed: int = 0,
    epochs: int = 30,
    lr: float = 1e-2,
) -> tuple[torch.Tensor, float]:
    """Bradley-Terry (Eq. 1) on w . x^e (standardised item tokens): per-item scores [n_items] and the final loss."""
    rng = random.Random(seed)
    x = item_tokens.float().cpu()
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    pos = torch.tensor([t.target for t in train], dtype=torch.long)
    w = torch.zeros(x.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr)
    loss = torch.tensor(float("nan"))
    for _ in range(epochs):
        neg = torch.tensor([sample_negatives(t, n_items, 1, rng)[0] for t in train], dtype=torch.long)
        loss = F.softplus(-(x[pos] - x[neg]) @ w).mean()  # -log sigma(r(a+) - r(a-)), Eq. 1
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return x @ w, float(loss)


def item_scores_diagnostics(scores: torch.Tensor, ex: Examples, n_items: int, seed: int = 0) -> dict[str, Any]:
    """``le_quality`` diagnostics of a context-free item score: reward r(a), state rank by r, choice argmax r."""
    g = torch.Generator().manual_seed(seed)
    s = scores.double() + 1e-6 * torch.rand(n_items, generator=g, dtype=torch.float64)  # ties: seeded order
    rank = (s[None, :] > s[ex.target][:, None]).sum(1) + 1
    return diagnostics(s[ex.target], s[ex.negative], rank, s[ex.candidates].argmax(1), ex.truth, n_items)


def reference(
    train: Sequence[Transition], ex: Examples, n_items: int, item_tokens: torch.Tensor | None, seed: int = 0
) -> dict[str, Any]:
    """The ``reference`` block of ``le_quality.json``: each scorer's diagnostics on the LE's validation examples."""
    out: dict[str, Any] = {"fitted_on": "the LE subset's training transitions", "train_transitions": len(train)}
    if not train:
        return out
    out["popularity"] = item_scores_diagnostics(popularity(train, n_items), ex, n_items, seed)
    if item_tokens is not None:
        scores, loss = item_vector_linear(train, item_tokens, n_items, seed)
        out["item_vector_linear"] = {**item_scores_diagnostics(scores, ex, n_items, seed), "train_loss": loss}
    return out
