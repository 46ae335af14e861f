"""The reference scorers of le_quality.json (lea.env.reference): they see the LE's own validation examples, learn
what the LE subset holds, and are seeded."""

from __future__ import annotations

import random

import torch

from lea.env.quality import examples
from lea.env.reference import item_vector_linear, popularity, reference
from lea.env.train import Transition

N_ITEMS = 60


def synthetic(n_seq: int, seed: int, popular: list[int]) -> list[Transition]:
    """Histories of random items whose next item is one of ``popular`` (the planted signal) in 3 of 4 transitions."""
    rng = random.Random(seed)
    out = []
    for s in range(n_seq):
        items = [rng.choice(popular) if rng.random() < 0.75 else rng.randrange(N_ITEMS) for _ in range(6)]
        for p in range(len(items)):
            out.append(Transition(s, p, items[max(0, p - 3) : p], items[p], frozenset(items)))
    return out


def test_examples_are_the_draws_of_measure() -> None:
    """The examples are drawn as lea.env.quality.measure always drew them: negatives first, then the choice lists,
    from one Random(seed); the target sits at ``truth`` of its list."""
    from lea.env.train import choice_example, sample_negatives

    valid = synthetic(20, 1, [1, 2, 3])
    ex = examples(valid, N_ITEMS, seed=7)
    rng = random.Random(7)
    assert ex.negative.tolist() == [sample_negatives(t, N_ITEMS, 1, rng)[0] for t in valid]
    lists = [choice_example(t, N_ITEMS, rng) for t in valid]
    assert ex.candidates.tolist() == [c for c, _ in lists] and ex.truth.tolist() == [p for _, p in lists]
    assert (ex.candidates[torch.arange(len(valid)), ex.truth] == ex.target).all()
    assert torch.equal(examples(valid, N_ITEMS, seed=7).candidates, ex.candidates)


def test_popularity_counts_targets() -> None:
    train = synthetic(10, 0, [5])
    c = popularity(train, N_ITEMS)
    assert c.sum() == len(train) and c[5] == sum(t.target == 5 for t in train)


def test_references_find_the_planted_signal_on_held_out_users() -> None:
    """The next item is usually one of five popular items, whose item vectors share a direction: on held-out users
    both references rank the observed item above a random one far above chance, and find it among their top 10."""
    popular = [3, 11, 20, 33, 47]
    g = torch.Generator().manual_seed(0)
    vectors = torch.randn(N_ITEMS, 16, generator=g)
    vectors[popular, 0] += 4.0
    train, valid = synthetic(150, 0, popular), synthetic(60, 1, popular)
    ex = examples(valid, N_ITEMS, seed=0)
    ref = reference(train, ex, N_ITEMS, vectors, seed=0)
    for name in ("popularity", "item_vector_linear"):
        q = ref[name]
        assert q["reward"]["pairwise_accuracy"] > 0.75 and q["reward"]["p_value_vs_chance"] < 1e-6
        assert q["state"]["hr@10"] > 0.6 and q["choice"]["accuracy"] > 0.6
    assert ref["item_vector_linear"]["train_loss"] < 0.6
    # seeded: the same call gives the same numbers
    assert reference(train, ex, N_ITEMS, vectors, seed=0) == ref
    s1, _ = item_vector_linear(train, vectors, N_ITEMS, seed=0)
    s2, _ = item_vector_linear(train, vectors, N_ITEMS, seed=0)
    assert torch.equal(s1, s2)


def test_reference_without_item_vectors_or_training_data() -> None:
    valid = synthetic(5, 1, [1])
    ex = examples(valid, N_ITEMS)
    assert "item_vector_linear" not in reference(synthetic(5, 0, [1]), ex, N_ITEMS, None)
    empty = reference([], ex, N_ITEMS, None)
    assert empty["train_transitions"] == 0 and "popularity" not in empty
