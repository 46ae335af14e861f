"""The LE's learning curve (``learning_curve.csv``): the diagnostics of ``le_quality.json`` (lea.env.quality.measure:
reward pairwise accuracy / AUC of Eq. 1, state HR@10 of Eq. 2, the 5-way choice of section 3.4, each with its
p-value against chance) on one fixed validation sample, before the first step, every ``le.finetune.curve_every``
steps and after the last, so a run shows whether more epochs would help.

A point reads the LE as it is at that step: the extended recipe's post-training steps (label calibration, reward
anchor; lea.env.train.label_prior / anchor_rewards) are not applied, so the last point can differ from
``le_quality.json`` in the choice accuracy (calibration) and the mean rewards (anchor), besides the sample size.
Measuring never changes the training: it runs under ``no_grad`` in eval mode and restores torch's RNG states (LoRA
dropout draws from them), and its negatives and choice lists come from measure's own seeded generator."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from lea.config import config_hash
from lea.io import atomic_path

if TYPE_CHECKING:  # the model side is imported where a point is measured: reading the CSV (reports) needs no torch
    from lea.env.model import LE
    from lea.env.prompts import Prompter
    from lea.env.train import Transition

__all__ = ["COLUMNS", "CURVE_SETTINGS", "LearningCurve", "frame", "read_curve", "write_curve"]

# le.finetune keys that shape only the curve, never a training step: left out of the checkpoint's fingerprint
# (lea.env.train.fit), so a checkpoint of another curve setting still resumes (its curve rows are then dropped)
CURVE_SETTINGS = ("curve_every", "curve_transitions")
DEFAULT_EVERY, DEFAULT_TRANSITIONS = 250, 100  # = the schema's defaults (workflow/schemas/config.schema.yaml)

# measure()'s blocks and keys, flattened "block.key" as lea.report.tables.le_quality flattens le_quality.json
DIAGNOSTICS: dict[str, tuple[str, ...]] = {
    "reward": ("pairwise_accuracy", "auc", "chance", "p_value_vs_chance", "mean_positive", "mean_negative"),
    "state": ("hr@10", "mrr", "chance", "p_value_vs_chance"),
    "choice": ("accuracy", "chance", "p_value_vs_chance", "label_reading_accuracy", "reward_argmax_accuracy"),
}
# step: optimizer steps done (0 = before the first); epoch: epochs done (transitions / training transitions);
# transitions: training transitions seen; wall_s: training seconds so far (curve points excluded); measure_s: the
# point's own seconds; loss: the train loss of the step just done; loss_mean: its mean since the previous point
COLUMNS: tuple[str, ...] = (
    "step",
    "epoch",
    "transitions",
    "wall_s",
    "measure_s",
    "loss",
    "loss_mean",
    "valid_transitions",
    *(f"{b}.{k}" for b, keys in DIAGNOSTICS.items() for k in keys),
    *(f"{b}.ci95_{e}" for b in DIAGNOSTICS for e in ("low", "high")),
)
INT_COLUMNS = ("step", "transitions", "valid_transitions")


def flatten(q: dict[str, Any]) -> dict[str, float]:
    """The curve's diagnostic columns of one ``measure`` result."""
    row: dict[str, float] = {"valid_transitions": int(q["transitions"])}
    for block, keys in DIAGNOSTICS.items():
        for k in keys:
            row[f"{block}.{k}"] = float(q[block][k])
        lo, hi = q[block]["ci95"]
        row[f"{block}.ci95_low"], row[f"{block}.ci95_high"] = float(lo), float(hi)
    return row


class LearningCurve:
    """The curve of one LE fit: ``fit`` (lea.env.train) calls :meth:`due` and :meth:`point` and keeps :attr:`rows`
    in its checkpoint (:meth:`state`, :meth:`restore`), so a resumed run ends with the same rows."""

    def __init__(
        self,
        prompter: Prompter,
        valid: Sequence[Transition],
        n_items: int,
        every: int,
        n: int = DEFAULT_TRANSITIONS,
        reward_prior: bool = False,
        seed: int = 0,
        batch_size: int = 32,
    ) -> None:
        if every < 1:
            raise ValueError(f"curve_every must be >= 1 for a curve (0 = no curve), got {every}")
        # the first n of ``valid`` (fit-le passes its validation sample in a seeded random order): the same rows,
        # negatives and choice lists at every point, so the points differ only by the LE
        self.p, self.sample, self.n_items, self.every = prompter, list(valid[:n]), n_items, every
        self.reward_prior, self.seed, self.bs = reward_prior, seed, batch_size
        self.rows: list[dict[str, Any]] = []
        self.seconds_here = 0.0  # seconds of the points measured in this process (a resumed run's are in rows)
        self.start = 0  # the step the curve's rows start after (a resumed run whose checkpoint held none: that step)
        if not self.sample:
            raise ValueError("a learning curve needs validation transitions")

    @property
    def key(self) -> str:
        """What makes two curves comparable point by point (checked when a checkpoint's rows are restored)."""
        keys = [(t.sequence, t.position) for t in self.sample]
        return config_hash(
            {"every": self.every, "reward_prior": self.reward_prior, "seed": self.seed, "n_items": self.n_items,
             "sample": hashlib.sha256(repr(keys).encode()).hexdigest()}
        )  # fmt: skip

    def due(self, step: int, total: int) -> bool:
        return step == 0 or step % self.every == 0 or step == total

    def state(self) -> dict[str, Any]:
        return {"key": self.key, "rows": [dict(r) for r in self.rows]}

    def restore(self, state: dict[str, Any] | None, step: int) -> None:
        """The rows of a checkpoint at ``step``; a checkpoint without them (older code, or other curve settings)
        gives a curve that starts after ``step``."""
        if state is not None and state.get("key") == self.key:
            self.rows = [dict(r) for r in state["rows"]]
            return
        self.rows, self.start = [], step
        print(f"learning curve: the checkpoint holds no points of these curve settings; it starts after step {step}",
              file=sys.stderr)  # fmt: skip

    def point(
        self, le: LE, step: int, epoch: float, transitions: int, wall_s: float, log: Sequence[dict[str, Any]]
    ) -> None:
        """Measure the LE after ``step`` steps and append the row; ``log``: fit's rows so far (the train losses)."""
        import torch
        from tqdm import tqdm

        from lea.env.inference import LEInference
        from lea.env.quality import measure

        t0 = time.perf_counter()
        since = self.rows[-1]["step"] if self.rows else self.start
        losses = [r["loss"] for r in log if r["step"] >= since]  # log row k is the (k + 1)-th step

        cpu_rng = torch.get_rng_state()
        cuda_rng = torch.cuda.get_rng_state_all() if le.device.type == "cuda" else None
        training = le.training
        try:
            # the LEInference settings of the final le_quality.json (batch 32, the recipe's choice rule, kv_share
            # auto); it switches the LE to eval (no LoRA dropout), and every pass runs under no_grad
            inf = LEInference(le, self.p, batch_size=self.bs, progress=False, reward_prior=self.reward_prior)
            q = measure(inf, self.sample, self.n_items, seed=self.seed)
        finally:
            le.train(training)
            torch.set_rng_state(cpu_rng)
            if cuda_rng is not None:
                torch.cuda.set_rng_state_all(cuda_rng)
        row: dict[str, Any] = {
            "step": step,
            "epoch": epoch,
            "transitions": transitions,
            "wall_s": round(wall_s, 3),
            "measure_s": round(time.perf_counter() - t0, 3),
            "loss": float(losses[-1]) if losses else None,
            "loss_mean": float(sum(losses) / len(losses)) if losses else None,
            **flatten(q),
        }
        self.rows.append(row)
        self.seconds_here += row["measure_s"]
        tqdm.write(
            f"learning curve, step {step} (epoch {epoch:.2f}): reward acc {row['reward.pairwise_accuracy']:.3f} "
            f"(p {row['reward.p_value_vs_chance']:.2g}), state HR@10 {row['state.hr@10']:.3f} vs chance "
            f"{row['state.chance']:.3f} (p {row['state.p_value_vs_chance']:.2g}), choice acc "
            f"{row['choice.accuracy']:.3f} (p {row['choice.p_value_vs_chance']:.2g}); {row['measure_s']:.0f} s",
            file=sys.stderr,
        )


def frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """The rows as ``learning_curve.csv``'s table: :data:`COLUMNS` in order (a header alone without rows)."""
    schema = {c: (pl.Int64 if c in INT_COLUMNS else pl.Float64) for c in COLUMNS}
    data = {c: [r.get(c) for r in rows] for c in COLUMNS}
    return pl.DataFrame(data, schema=schema)


def write_curve(rows: Sequence[dict[str, Any]], path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame(rows).write_csv(tmp)


def read_curve(path: str | Path) -> pl.DataFrame:
    """``learning_curve.csv`` checked against :data:`COLUMNS` (a clear error naming the file and the column)."""
    from lea.errors import InputError, MissingInputError

    p = Path(path)
    if not p.exists():
        raise MissingInputError(p, "fit_le")
    try:
        df = pl.read_csv(p, infer_schema_length=None)
    except Exception as exc:
        raise InputError(p, f"not a readable CSV ({exc.__class__.__name__}: {exc})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(p, f"column '{missing[0]}' is missing (a learning_curve.csv has {', '.join(COLUMNS)})")
    if df.height == 0:
        return frame([])
    bad = [c for c in COLUMNS if not (df.schema[c].is_numeric() or df[c].null_count() == df.height)]
    if bad:
        raise InputError(p, f"column '{bad[0]}' must be numeric, got {df.schema[bad[0]]}")
    df = df.select([pl.col(c).cast(pl.Int64 if c in INT_COLUMNS else pl.Float64) for c in COLUMNS])
    if df["step"].null_count():
        raise InputError(p, "column 'step' is empty", line=int(df["step"].is_null().arg_max()) + 2)  # 1: header
    return df
