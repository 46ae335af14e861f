"""Figures 4a/4b (weight sweeps), 5a (LE data fraction), 5b (LE ablations) and the loss curves, with matplotlib."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl

from lea.errors import InputError, LeaError, MissingInputError
from lea.io import atomic_path
from lea.report.stats import METRICS
from lea.report.tables import BACKBONE_NAMES, FRAMEWORK_NAMES, TITLES, metric_label

XLABELS = {
    "fig4a": "$w_{ah}$ (weight of the supervised augmentation loss)",
    "fig4b": "$w_{aq}$ (weight of the Q-learning augmentation loss)",
    "fig5a": "fraction of the training data used to fine-tune the LE (%)",
}


def _save(fig: Any, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)


def sweep(df: pl.DataFrame, name: str, out: str | Path, dataset_note: str = "") -> None:
    """Line plot of HR@k and NDCG@k (mean ± std over seeds) against the swept value, one panel per metric kind."""
    df = df.filter(pl.col("x").is_not_null())  # rows listed under `variants` are not sweep points
    if df.height == 0:
        raise LeaError(f"{name}: no runs to plot")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    scale = 100.0 if name == "fig5a" else 1.0
    for (bb, fw), part in df.group_by(["backbone", "framework"], maintain_order=True):
        part = part.sort("x")
        xs = [x * scale for x in part["x"].to_list()]
        tag = f"{BACKBONE_NAMES.get(bb, bb)}/{FRAMEWORK_NAMES.get(fw, fw)}"
        for ax, kind in zip(axes, ("hr", "ndcg"), strict=True):
            for m in [m for m in METRICS if m.startswith(kind + "@")]:
                ax.errorbar(
                    xs,
                    part[f"{m}_mean"].to_list(),
                    yerr=part[f"{m}_std"].to_list(),
                    marker="o",
                    capsize=3,
                    label=f"{metric_label(m)} ({tag})",
                )
    positive = all(x is not None and x > 0 for x in df["x"].to_list())
    for ax, kind in zip(axes, ("HR@k", "NDCG@k"), strict=True):
        if positive and df["x"].n_unique() > 1:
            ax.set_xscale("log")
        xs = sorted({x * scale for x in df["x"].to_list()})
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{x:g}" for x in xs])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(XLABELS.get(name, "value"))
        ax.set_ylabel(f"{kind} (test, mean ± std over seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{TITLES.get(name, name)}\n{dataset_note.replace('`', '')}", fontsize=10)
    _save(fig, out)


def bars(
    df: pl.DataFrame,
    name: str,
    out: str | Path,
    dataset_note: str = "",
    metrics: Sequence[str] = ("hr@10", "ndcg@10", "hr@20", "ndcg@20"),
) -> None:
    """Grouped bars: one group per metric, one bar per model (mean ± std over seeds)."""
    if df.height == 0:
        raise LeaError(f"{name}: no runs to plot")
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(metrics) + 0.4 * df.height), 4))
    n = df.height
    width = 0.8 / n
    for i, rec in enumerate(df.iter_rows(named=True)):
        label = rec["model"] if not rec["point"] or rec["point"] in rec["model"] else f"{rec['point']} ({rec['model']})"
        if df["backbone"].n_unique() > 1 or df["framework"].n_unique() > 1:
            bb = BACKBONE_NAMES.get(rec["backbone"], rec["backbone"])
            label += f" [{bb}/{FRAMEWORK_NAMES.get(rec['framework'])}]"
        xs = [j + (i - (n - 1) / 2) * width for j in range(len(metrics))]
        ax.bar(
            xs,
            [rec[f"{m}_mean"] for m in metrics],
            width,
            yerr=[0 if math.isnan(rec[f"{m}_std"]) else rec[f"{m}_std"] for m in metrics],
            capsize=3,
            label=label,
        )
    ax.set_xticks(range(len(metrics)))
    ax.set_xticklabels([metric_label(m).replace("NG", "NDCG") for m in metrics])
    ax.set_ylabel("test metric (mean ± std over seeds)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"{TITLES.get(name, name)}\n{dataset_note.replace('`', '')}", fontsize=10)
    _save(fig, out)


# train_log.csv columns (lea.rl.train: total, l_h, l_p, l_n, l_ah, l_aq, valid_*; lea.env.train: loss, loss_rm,
# loss_sm, loss_choice, acc_rm, acc_choice) by panel. Counters and rates (tokens, tokens_per_s, lr, advantage) are
# not curves of the fit and stay off the figure.
LOSS_COLUMNS = ("total", "loss")
LOSS_PREFIXES = ("l_", "loss_")
METRIC_PREFIXES = ("valid_", "val_", "hr@", "ndcg@", "acc", "auc")


def log_panels(columns: Sequence[str]) -> dict[str, list[str]]:
    """Which train_log.csv columns the loss panel and the validation panel of :func:`loss_curves` draw."""
    losses = [c for c in columns if c in LOSS_COLUMNS or c.startswith(LOSS_PREFIXES)]
    metrics = [c for c in columns if c.startswith(METRIC_PREFIXES)]
    return {"loss": losses, "validation": metrics}


def _minor_label(v: float, _pos: int) -> str:
    mantissa = round(v / 10 ** math.floor(math.log10(v)), 6)
    return f"{v:g}" if mantissa in (2, 3, 5) else ""


def _curve_style(column: str, i: int) -> dict[str, Any]:
    """The total loss in black beneath its terms; HR@k and NDCG@k of one k in one colour (NDCG dashed)."""
    if column in LOSS_COLUMNS:
        return {"color": "black", "linewidth": 2.2, "alpha": 0.55, "zorder": 1}
    m = re.search(r"(hr|ndcg)@(\d+)$", column)
    if m:
        k = {"5": 0, "10": 1, "20": 2}.get(m.group(2), 3 + i)
        return {"color": plt.cm.tab10(k % 10), "linestyle": "--" if m.group(1) == "ndcg" else "-", "linewidth": 1.2}
    return {"color": plt.cm.tab10((i + 3) % 10), "linewidth": 1.2, "zorder": 2}


def loss_curves(logs: Sequence[Mapping[str, str]], out: str | Path, title: str = "Loss curves") -> None:
    """One row per log (train_log.csv of a run or of an LE fit): its losses on the left, its validation metrics
    (and training accuracies) on the right, each panel on one scale (log for losses when all are positive, else
    linear), legends beside the panels so no curve is hidden."""
    _save(loss_figure(logs, title), out)


def loss_figure(logs: Sequence[Mapping[str, str]], title: str = "Loss curves") -> Any:
    """The matplotlib figure :func:`loss_curves` saves (rows of [losses, validation] axes)."""
    logs = [e for e in logs if not (e.get("optional") and not Path(e["path"]).exists())]
    if not logs:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.text(0.5, 0.5, "no training logs found", ha="center", va="center")
        ax.axis("off")
        return fig
    frames = []
    for entry in logs:
        path = Path(entry["path"])
        if not path.exists():
            raise MissingInputError(path, entry.get("stage", "train"))
        try:
            frames.append(pl.read_csv(path, infer_schema_length=None))
        except Exception as exc:
            raise InputError(path, f"not a readable CSV ({exc.__class__.__name__}: {exc})") from None
    fig, axes = plt.subplots(len(logs), 2, figsize=(13, 3.0 * len(logs)), squeeze=False, layout="constrained")
    for (ax_loss, ax_val), entry, df in zip(axes, logs, frames, strict=True):
        xcol = next((c for c in ("step", "iteration", "epoch") if c in df.columns), None)
        x = df[xcol].cast(pl.Float64).to_list() if xcol else list(range(df.height))
        label = entry.get("label", str(entry["path"]))
        for ax, kind in ((ax_loss, "loss"), (ax_val, "validation")):
            drawn: list[float] = []
            for i, c in enumerate(log_panels(df.columns)[kind]):
                if not df.schema[c].is_numeric():
                    continue
                pts = [
                    (a, b)
                    for a, b in zip(x, df[c].cast(pl.Float64).to_list(), strict=True)
                    if b is not None and not math.isnan(b)
                ]
                if not pts:
                    continue
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    label=c,
                    marker="." if len(pts) < 30 else None,
                    **_curve_style(c, i),
                )
                drawn += [min(p[1] for p in pts), max(p[1] for p in pts)]
            ax.set_xlabel(xcol or "row")
            ax.grid(alpha=0.3)
            if not drawn:
                ax.text(
                    0.5,
                    0.5,
                    f"no {kind} columns in this log",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    color="gray",
                )
                ax.set_yticks([])
                continue
            if kind == "loss":
                positive = min(drawn) > 0
                ax.set_yscale("log" if positive else "linear")
                ax.set_ylabel("loss (log scale)" if positive else "loss")
                if positive:  # plain numbers (0.5, 1, 2) on the ticks; 2, 3 and 5 between powers of ten when the
                    # curves span under ~1.5 decades (otherwise a decade holds too little to need them)
                    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                    narrow = math.log10(max(drawn) / min(drawn)) < 1.5
                    ax.yaxis.set_minor_formatter(
                        matplotlib.ticker.FuncFormatter(_minor_label) if narrow else matplotlib.ticker.NullFormatter()
                    )
            else:  # valid_* are validation metrics; acc_* are accuracies on the training batches (LE fit)
                cols = log_panels(df.columns)["validation"]
                train_acc = all(c.startswith("acc") for c in cols)
                ax.set_ylabel("training-batch accuracy" if train_acc else "validation metric")
                ax.set_title(f"{label}: {'training accuracy' if train_acc else 'validation'}", fontsize=9)
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False)
        ax_loss.set_title(f"{label}: losses", fontsize=9)
        if not ax_val.get_title():
            ax_val.set_title(f"{label}: validation", fontsize=9)
    fig.suptitle(title, fontsize=11)
    return fig
