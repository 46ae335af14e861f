"""What every control environment shares: the interface the precompute and the diagnostics call (its training and
validation transitions are ``lea fit-le``'s, lea.env.train.load_data), the diagnostics of ``le_quality.json`` (the
statistics of lea.env.quality on the same validation examples) and the writers of the three precompute contracts
(the same files, columns, dtypes and row sets as lea.env.precompute; only the state dimension d may differ).

A key is (sequence, position p): the state / reward / choice of the history before p (items [p - W, p)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl
import torch

from lea.env.precompute import augment_table, rewards_table, states_table, top5_rows
from lea.env.quality import diagnostics, examples
from lea.env.train import Transition
from lea.errors import InputError, MissingInputError

Key = tuple[int, int]


def read_model_metadata(path: str | Path, env: str, n_items: int) -> dict[str, str]:
    """The safetensors metadata of a fitted control model, checked to be an ``env`` model for ``n_items`` items (a
    missing file, another environment's or another catalogue's model: a clear error naming the file)."""
    from safetensors import safe_open

    p = Path(path)
    if not p.exists():
        raise MissingInputError(p, "control_fit")
    with safe_open(str(p), "pt") as f:
        meta = f.metadata() or {}
    if meta.get("env") != env or int(meta.get("n_items", -1)) != n_items:
        raise InputError(
            p, f"not a model of the {env!r} environment for {n_items} items (metadata {meta}): rerun control_fit"
        )
    return meta


class ControlEnv(Protocol):
    """The LE interface as the precompute and the diagnostics use it."""

    dim: int  # state dimension d
    choice_rule: str  # how ``choose`` picks among the candidates (written to le_quality.json)

    def states(self, keys: Sequence[Key], histories: Sequence[Sequence[int]]) -> torch.Tensor:
        """s^e of each history: [N, d] float32."""
        ...

    def rewards(
        self,
        keys: Sequence[Key],
        histories: Sequence[Sequence[int]],
        actions: Sequence[Sequence[int]],
        observed: Sequence[int],
    ) -> torch.Tensor:
        """r^e(history, a) of each listed action: [N, K] float32 (``observed``: the true next item)."""
        ...

    def choose(
        self, keys: Sequence[Key], histories: Sequence[Sequence[int]], candidates: Sequence[Sequence[int]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(chosen position [N] int64, its reward [N], the score of every candidate [N, 5])."""
        ...

    def item_vectors(self) -> torch.Tensor:
        """The item vectors s^e is ranked against (Eq. 2): [n_items, d]."""
        ...


def measure(env: ControlEnv, valid: list[Transition], n_items: int, seed: int = 0, k: int = 10) -> dict[str, Any]:
    """The diagnostics of lea.env.quality.measure on the same examples (the same seeded negatives and choice lists,
    drawn in the same order), each with its chance level, one-sided binomial p-value and Wilson interval."""
    ex = examples(valid, n_items, seed)
    keys = [(t.sequence, t.position) for t in valid]
    hist = [t.history for t in valid]
    target, truth = ex.target, ex.truth
    r = env.rewards(keys, hist, [[t.target, int(a)] for t, a in zip(valid, ex.negative, strict=True)], target.tolist())
    r_pos, r_neg = r[:, 0], r[:, 1]
    states = env.states(keys, hist)
    scores = states @ env.item_vectors().float().T  # [N, n_items]: Eq. 2's ranking s^e . a
    rank = (scores > scores.gather(1, target[:, None])).sum(1) + 1
    chosen, _, r5 = env.choose(keys, hist, ex.candidates.tolist())
    q = diagnostics(r_pos, r_neg, rank, chosen, truth, n_items, k)
    q["choice"].update(rule=env.choice_rule, reward_argmax_accuracy=float((r5.argmax(1) == truth).float().mean()))
    return q


def history(items: Sequence[int], p: int, window: int) -> list[int]:
    return list(items[max(0, p - window) : p])


def states_frame(
    env: ControlEnv, seqs: Mapping[int, list[int]], ids: Sequence[int], window: int, dtype: str
) -> pl.DataFrame:
    """``states.parquet``: s^e before every position 0..len of each sequence (lea.env.precompute.compute_states)."""
    keys = [(s, p) for s in ids for p in range(len(seqs[s]) + 1)]
    hist = [history(seqs[s], p, window) for s, p in keys]
    arr = env.states(keys, hist).numpy() if keys else np.zeros((0, env.dim), dtype=np.float32)
    return states_table([s for s, _ in keys], [p for _, p in keys], arr, dtype)


def rewards_frame(
    env: ControlEnv,
    seqs: Mapping[int, list[int]],
    ids: Sequence[int],
    window: int,
    pool: Mapping[int, list[list[int]]],
    k: int,
) -> pl.DataFrame:
    """``rewards.parquet``: r^e of the observed item and of the k items of the transition's negative pool
    (``negatives.parquet``, lea.rl.negatives; ``pool`` as lea.env.precompute.pool_rows reads it), in pool order: the
    same items the LLM LE's rewards stage scores and every variant draws from."""
    keys, hist, acts, obs = [], [], [], []
    for s in ids:
        items = seqs[s]
        for p, negs in enumerate(pool[s]):
            keys.append((s, p))
            hist.append(history(items, p, window))
            acts.append([items[p], *negs])
            obs.append(items[p])
    r = env.rewards(keys, hist, acts, obs) if keys else torch.zeros(0, k + 1)
    return rewards_table(keys, acts, r, k)


def augment_frame(
    env: ControlEnv, seqs: Mapping[int, list[int]], ids: Sequence[int], window: int, top5: pl.DataFrame
) -> pl.DataFrame:
    """``augment_{backbone}.parquet``: the environment's pick a^e_t among the warm-up model's top-5, its reward r^e
    and whether it is the true next item (lea.env.precompute.compute_augment)."""
    keys, cands = top5_rows(top5, seqs, list(ids))
    if keys:
        pos, reward, _ = env.choose(keys, [history(seqs[s], p, window) for s, p in keys], cands)
        chosen = [c[int(k)] for c, k in zip(cands, pos, strict=True)]
        rew = reward.numpy()
    else:
        chosen, rew = [], np.zeros(0, dtype=np.float32)
    return augment_table(seqs, keys, cands, chosen, rew)
