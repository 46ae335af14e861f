"""``oracle``: the ``idrec`` model (lea.control.idrec: the same encoder, Eq. 1 reward head and Bradley-Terry loss,
Eq. 2 state loss, reward-argmax choice) trained on every training sequence instead of the LE subset, without the
``finetune.max_transitions`` cap: an upper reference, what a well-informed environment gives. Its training reads
the training sequences only (``split == "train"``, lea.env.train.load_data); validation sequences are read by
the diagnostics of ``le_quality.json`` alone (as every LE's), test sequences never.

Epochs and batch size are the LE's (``le.finetune``, or ``le.control``), so the oracle takes proportionally more
steps than ``idrec``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lea.control import idrec
from lea.env.train import Data

EVERY_TRAIN_SEQUENCE = True  # lea.env.train.load_data: the training set is every training sequence


def train_env(s: Mapping[str, Any], data: Data, seed: int = 0, progress: bool = True) -> tuple[Any, list, dict]:
    return idrec.train_env(s, data, seed, progress)


def load_env(s: Mapping[str, Any], model_path: str | Path, n_items: int) -> idrec.IDRecLE:
    return idrec.IDRecLE.load(model_path, n_items)
