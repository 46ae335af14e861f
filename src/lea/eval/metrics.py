"""Full-ranking evaluation: the rank of the true item among all items, HR@k and NDCG@k (paper 4.4).

Rank (1-based, pessimistic on ties): ``rank = 1 + #{j: s_j > s_true} + #{j != true: s_j == s_true}``, i.e. the
number of items scoring at least the true item's score. Ties therefore never flatter a model (a constant scorer gets
rank n_items for every case). HR@k = mean(rank <= k); NDCG@k = mean(1/log2(rank + 1) if rank <= k else 0), one
relevant item per case. k larger than the catalogue is allowed (every case is a hit). No topk is needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch


def ranks_from_scores(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """scores [B, n_items], target [B] item indices -> rank [B] (int64, 1-based, pessimistic ties)."""
    true = scores.gather(1, target.view(-1, 1))
    return (scores >= true).sum(dim=1)


def hr_ndcg(ranks: torch.Tensor, ks: Iterable[int] = (5, 10, 20)) -> dict[str, float]:
    """HR@k and NDCG@k from ranks (any int tensor, 1-based)."""
    r = ranks.to(torch.float64)
    out: dict[str, float] = {}
    if r.numel() == 0:
        return {f"{m}@{k}": float("nan") for k in ks for m in ("hr", "ndcg")}
    for k in ks:
        hit = r <= k
        out[f"hr@{k}"] = hit.double().mean().item()
        out[f"ndcg@{k}"] = torch.where(hit, 1.0 / torch.log2(r + 1.0), torch.zeros_like(r)).mean().item()
    return out


def ndcg_of_rank(rank: int) -> float:
    return 1.0 / math.log2(rank + 1)


@torch.no_grad()
def rank_cases(
    score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    states: torch.Tensor,
    lens: torch.Tensor,
    targets: torch.Tensor,
    batch_size: int = 1024,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Rank every case's true item with ``score_fn(states, lens) -> [B, n_items]`` in big batches; ranks on CPU."""
    out = []
    for i in range(0, states.shape[0], batch_size):
        s = states[i : i + batch_size].to(device)
        ln = lens[i : i + batch_size].to(device)
        t = targets[i : i + batch_size].to(device)
        scores = score_fn(s, ln).float()
        out.append(ranks_from_scores(scores, t).cpu())
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64)
