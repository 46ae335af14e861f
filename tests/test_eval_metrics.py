"""HR@k / NDCG@k and ranks against hand-computed values (ties pessimistic, k beyond the catalogue)."""

import math

import pytest
import torch

from lea.eval.metrics import hr_ndcg, rank_cases, ranks_from_scores


def test_ranks_by_hand_with_ties():
    scores = torch.tensor(
        [
            [0.1, 0.9, 0.5, 0.3],  # true 2: only 0.9 above -> rank 2
            [0.5, 0.5, 0.5, 0.1],  # true 0: tied with 2 others -> pessimistic rank 3
            [0.2, 0.2, 0.2, 0.2],  # constant scorer: rank = n_items = 4
            [1.0, 0.0, 0.0, 0.0],  # true 0 is the best -> rank 1
        ]
    )
    target = torch.tensor([2, 0, 3, 0])
    assert ranks_from_scores(scores, target).tolist() == [2, 3, 4, 1]


def test_hr_ndcg_by_hand():
    ranks = torch.tensor([1, 2, 6, 30])
    m = hr_ndcg(ranks, ks=(5, 10, 20))
    assert m["hr@5"] == pytest.approx(2 / 4)
    assert m["hr@10"] == pytest.approx(3 / 4)
    assert m["hr@20"] == pytest.approx(3 / 4)
    assert m["ndcg@5"] == pytest.approx((1.0 + 1 / math.log2(3)) / 4)
    assert m["ndcg@10"] == pytest.approx((1.0 + 1 / math.log2(3) + 1 / math.log2(7)) / 4)


def test_k_larger_than_catalogue():
    scores = torch.tensor([[0.3, 0.2, 0.1], [0.1, 0.2, 0.3]])
    ranks = ranks_from_scores(scores, torch.tensor([2, 2]))
    assert ranks.tolist() == [3, 1]
    m = hr_ndcg(ranks, ks=(5, 100))
    assert m["hr@5"] == 1.0 and m["hr@100"] == 1.0
    assert m["ndcg@100"] == pytest.approx((1 / math.log2(4) + 1.0) / 2)


def test_rank_cases_batches_agree():
    torch.manual_seed(0)
    w = torch.randn(7, 5)

    def score(s, ln):
        return w[s[:, 0]]

    s = torch.randint(0, 7, (23, 3))
    t = torch.randint(0, 5, (23,))
    full = ranks_from_scores(w[s[:, 0]], t)
    assert torch.equal(rank_cases(score, s, torch.ones(23, dtype=torch.long), t, batch_size=4), full)
