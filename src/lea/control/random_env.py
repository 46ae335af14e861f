"""``random``: the null environment (issue 13): feedback in the LE's formats that carries no learned information.

Every draw is seeded by (seed, what, sequence[, position]) through numpy's SeedSequence, so a value depends on its key
only (not on the sharding, the batch or the order of the calls):

- state: s^e(sequence, p) ~ N(0, I_d), d = ``le.control.random_state_dim``, fixed per (sequence, position);
- reward: the fixed reward plus noise, r^e = 1 + sigma * eps for the observed item and sigma * eps for any other
  item, eps ~ N(0, 1) and sigma = ``le.control.random_reward_sigma`` (the pairwise accuracy of le_quality.json then
  measures the fixed reward it perturbs, Phi(1 / (sigma sqrt 2)), not anything learned);
- choice: a uniform pick among the 5 candidates (the argmax of 5 uniform scores); its reward is 1 + sigma * eps,
  the fixed reward of a positive, whether or not the pick is the true next item (a reward that knew would leak it);
- item vectors (only for the state diagnostic, Eq. 2's ranking): N(0, I_d) per item.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lea.control.base import Key, read_model_metadata
from lea.env.train import Data

STATE, REWARD, CHOICE, ITEMS = 1, 2, 3, 4  # the stream of each kind of draw
CHOICE_RULE = "uniform pick among the 5 candidates (seeded per transition)"


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


class RandomEnv:
    def __init__(self, n_items: int, dim: int = 64, sigma: float = 0.5, seed: int = 0) -> None:
        self.n_items, self.dim, self.sigma, self.seed = n_items, dim, sigma, seed
        self.choice_rule = CHOICE_RULE

    def states(self, keys: Sequence[Key], histories: Sequence[Sequence[int]]) -> torch.Tensor:
        # one stream per sequence; row p of it is the state before position p (a prefix of the stream, so the value
        # does not depend on how many positions a call asks for)
        by_seq: dict[int, list[int]] = defaultdict(list)
        for i, (s, _) in enumerate(keys):
            by_seq[s].append(i)
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        for s, rows in by_seq.items():
            pos = np.array([keys[i][1] for i in rows])
            table = _rng(self.seed, STATE, s).standard_normal((int(pos.max()) + 1, self.dim), dtype=np.float32)
            out[rows] = table[pos]
        return torch.from_numpy(out)

    def rewards(
        self,
        keys: Sequence[Key],
        histories: Sequence[Sequence[int]],
        actions: Sequence[Sequence[int]],
        observed: Sequence[int],
    ) -> torch.Tensor:
        k = len(actions[0]) if actions else 0
        out = np.zeros((len(keys), k), dtype=np.float32)
        for i, ((s, p), acts, obs) in enumerate(zip(keys, actions, observed, strict=True)):
            eps = _rng(self.seed, REWARD, s, p).standard_normal(len(acts))
            fixed = np.array([1.0 if a == obs else 0.0 for a in acts])  # the fixed reward of SNQN / SA2C
            out[i] = fixed + self.sigma * eps
        return torch.from_numpy(out)

    def choose(
        self, keys: Sequence[Key], histories: Sequence[Sequence[int]], candidates: Sequence[Sequence[int]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scores = np.zeros((len(keys), 5), dtype=np.float32)
        reward = np.zeros(len(keys), dtype=np.float32)
        for i, (s, p) in enumerate(keys):
            g = _rng(self.seed, CHOICE, s, p)
            scores[i] = g.random(5)
            reward[i] = 1.0 + self.sigma * g.standard_normal()
        sc = torch.from_numpy(scores)
        return sc.argmax(1), torch.from_numpy(reward), sc

    def item_vectors(self) -> torch.Tensor:
        return torch.from_numpy(_rng(self.seed, ITEMS).standard_normal((self.n_items, self.dim), dtype=np.float32))

    def save(self, path: str | Path) -> None:
        from lea.io import write_safetensors

        meta = {
            "env": "random",
            "n_items": str(self.n_items),
            "dim": str(self.dim),
            "sigma": repr(self.sigma),
            "seed": str(self.seed),
        }
        write_safetensors({"item_vectors": self.item_vectors()}, path, metadata=meta)

    @classmethod
    def load(cls, path: str | Path, n_items: int) -> RandomEnv:
        meta = read_model_metadata(path, "random", n_items)
        return cls(n_items, int(meta["dim"]), float(meta["sigma"]), int(meta["seed"]))


def make(s: Mapping[str, Any], n_items: int, seed: int) -> RandomEnv:
    ctl = s.get("control", {})
    return RandomEnv(n_items, ctl.get("random_state_dim", 64), ctl.get("random_reward_sigma", 0.5), seed)


def train_env(s: Mapping[str, Any], data: Data, seed: int = 0, progress: bool = True) -> tuple[RandomEnv, list, dict]:
    """Nothing to train: the environment is its seed and two settings."""
    env = make(s, data.n_items, seed)
    return env, [], {"steps": 0, "reward_sigma": env.sigma, "seed": seed}


def load_env(s: Mapping[str, Any], model_path: str | Path, n_items: int) -> RandomEnv:
    return RandomEnv.load(model_path, n_items)
