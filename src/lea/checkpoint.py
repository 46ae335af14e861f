"""Resumable long stages: a ``checkpoint.pt`` beside a stage's outputs (never a rule output, so Snakemake leaves it
when a killed job's outputs are removed) holds the whole loop state; a rerun of the same settings resumes from it.
The recommender trainer, item tokenization and LE fine-tuning all use these."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from lea.io import atomic_path


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomically write ``state`` (tensors and plain values only: it is read back with ``weights_only``)."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path | None, fingerprint: str) -> dict[str, Any] | None:
    """The state at ``path`` if this very run (same ``fingerprint``) saved it, else None, saying why on stderr."""
    if path is None or not path.exists():
        return None
    try:  # tensors come back on the CPU; optimizers' load_state_dict moves their state to the parameters' device
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # a checkpoint from a crashed write or another torch: start over, say so
        print(f"ignoring unreadable checkpoint {path} ({exc.__class__.__name__})", file=sys.stderr)
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        print(f"ignoring checkpoint {path}: it belongs to other settings", file=sys.stderr)
        return None
    print(f"resuming from {path} at step {state['step']}", file=sys.stderr)
    return state
