"""LE diagnostics on held-out validation transitions (``le_quality.json``): reward pairwise accuracy / AUC (Eq. 1),
state HR@10 of the next item by s^e . item-token ranking (Eq. 2), and the 5-way choice accuracy (paper 3.4)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch

from lea.env.inference import LEInference
from lea.env.train import Transition, choice_example, sample_negatives


def auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """Probability a positive outranks a negative (ties count half): Mann-Whitney over all pairs."""
    d = pos[:, None] - neg[None, :]
    return float(((d > 0).float() + 0.5 * (d == 0).float()).mean())


def above_chance(hits: torch.Tensor, chance: float) -> dict[str, float]:
    """One-sided exact binomial test of the hit rate against the chance rate, and its 95% Wilson interval: with a
    few hundred validation transitions, "above chance" needs the p-value, not the point estimate alone."""
    from scipy.stats import binomtest

    k, n = int(hits.sum()), int(hits.numel())
    p = binomtest(k, n, chance, alternative="greater").pvalue
    ci = binomtest(k, n, chance).proportion_ci(confidence_level=0.95, method="wilson")  # two-sided interval
    return {"p_value_vs_chance": float(p), "ci95": [float(ci.low), float(ci.high)]}


def diagnostics(
    r_pos: torch.Tensor,
    r_neg: torch.Tensor,
    rank: torch.Tensor,
    chosen: torch.Tensor,
    truth: torch.Tensor,
    n_items: int,
    k: int = 10,
) -> dict[str, Any]:
    """The statistics of ``le_quality.json`` (any environment): reward pairwise accuracy and AUC (Eq. 1), state HR@k
    and MRR of the next item's rank (Eq. 2), the 5-way choice accuracy, each with chance, p-value and interval."""
    hr_chance = min(1.0, k / n_items)
    return {
        "transitions": int(r_pos.numel()),
        "reward": {
            "pairwise_accuracy": float((r_pos > r_neg).float().mean()),
            **above_chance(r_pos > r_neg, 0.5),
            "auc": auc(r_pos, r_neg),
            "chance": 0.5,
            "mean_positive": float(r_pos.mean()),
            "mean_negative": float(r_neg.mean()),
        },
        "state": {
            f"hr@{k}": float((rank <= k).float().mean()),
            "mrr": float((1.0 / rank.float()).mean()),
            "chance": hr_chance,
            **above_chance(rank <= k, hr_chance),
        },
        "choice": {
            "accuracy": float((chosen == truth).float().mean()),
            "chance": 0.2,
            **above_chance(chosen == truth, 0.2),
            "chosen_position_histogram": torch.bincount(chosen, minlength=5).tolist(),
        },
    }


@dataclass(frozen=True)
class Examples:
    """The validation examples every diagnostic is measured on: one negative per transition (reward), the target
    (state rank) and a 5-item list with the target at ``truth`` (choice). One seeded draw, shared by the LE
    (:func:`measure`) and the reference scorers (lea.env.reference), so both see the same examples."""

    target: torch.Tensor  # [N]
    negative: torch.Tensor  # [N]
    candidates: torch.Tensor  # [N, 5]
    truth: torch.Tensor  # [N] position of the target in candidates


def examples(valid: list[Transition], n_items: int, seed: int = 0) -> Examples:
    rng = random.Random(seed)
    negs = [sample_negatives(t, n_items, 1, rng)[0] for t in valid]  # drawn first, then the choice lists
    ex = [choice_example(t, n_items, rng) for t in valid]
    return Examples(
        target=torch.tensor([t.target for t in valid], dtype=torch.long),
        negative=torch.tensor(negs, dtype=torch.long),
        candidates=torch.tensor([c for c, _ in ex], dtype=torch.long).reshape(len(valid), 5),
        truth=torch.tensor([p for _, p in ex], dtype=torch.long),
    )


def measure(inf: LEInference, valid: list[Transition], n_items: int, seed: int = 0, k: int = 10) -> dict[str, Any]:
    ex = examples(valid, n_items, seed)
    hist = [t.history for t in valid]
    target = ex.target
    r = inf.rewards_shared(hist, [[t.target, int(a)] for t, a in zip(valid, ex.negative, strict=True)])
    r_pos, r_neg = r[:, 0], r[:, 1]
    states = inf.states(hist)
    scores = states @ inf.le.item_tokens.detach().float().cpu().T  # [N, n_items]
    rank = (scores > scores.gather(1, target[:, None])).sum(1) + 1
    logp, r5 = inf.choice_scores(hist, ex.candidates.tolist())
    assert r5 is not None
    chosen = (logp + r5).argmax(1) if inf.reward_prior else logp.argmax(1)  # the rule le_augment uses
    truth = ex.truth
    q = diagnostics(r_pos, r_neg, rank, chosen, truth, n_items, k)
    q["choice"].update(
        rule=("calibrated label reading" if bool(inf.le.label_bias.abs().sum() > 0) else "label reading")
        + (" + reward of each item" if inf.reward_prior else ""),
        # the two experts alone, on the same examples
        label_reading_accuracy=float((logp.argmax(1) == truth).float().mean()),
        reward_argmax_accuracy=float((r5.argmax(1) == truth).float().mean()),
    )
    return q
