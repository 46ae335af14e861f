"""Figures 4a/4b (weight sweeps), 5a (LE data fraction), 5b (LE ablations) and the loss curves, with matplotlib."""

from __future__ import annotations

import math
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


def loss_curves(logs: Sequence[Mapping[str, str]], out: str | Path, title: str = "Loss curves") -> None:
    """One panel per log (train_log.csv of a run or of an LE fit): every numeric column against ``step``."""
    logs = [e for e in logs if not (e.get("optional") and not Path(e["path"]).exists())]
    if not logs:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.text(0.5, 0.5, "no training logs found", ha="center", va="center")
        ax.axis("off")
        _save(fig, out)
        return
    ncols = 2 if len(logs) > 1 else 1
    nrows = (len(logs) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5 * ncols, 3.2 * nrows), squeeze=False, layout="constrained")
    for ax in axes.flat[len(logs) :]:
        ax.axis("off")
    for ax, entry in zip(axes.flat, logs, strict=False):
        path = Path(entry["path"])
        if not path.exists():
            raise MissingInputError(path, entry.get("stage", "train"))
        try:
            df = pl.read_csv(path, infer_schema_length=None)
        except Exception as exc:
            raise InputError(path, f"not a readable CSV ({exc.__class__.__name__}: {exc})") from None
        xcol = next((c for c in ("step", "iteration", "epoch") if c in df.columns), None)
        x = df[xcol].to_list() if xcol else list(range(df.height))
        twin = None
        series = 0
        for c in df.columns:
            if c in (xcol, "epoch") or not df.schema[c].is_numeric():
                continue
            s = df[c].cast(pl.Float64)
            pts = [(a, b) for a, b in zip(x, s.to_list(), strict=True) if b is not None and not math.isnan(b)]
            if not pts:
                continue
            metric = c.startswith(("valid", "val_", "hr@", "ndcg@", "acc", "auc"))
            if metric and twin is None:
                twin = ax.twinx()
                twin.set_ylabel("validation (dashed)")
            target = twin if metric else ax
            target.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                label=c,
                linestyle="--" if metric else "-",
                marker="." if len(pts) < 30 else None,
                color=plt.cm.tab20(series % 20),
            )
            series += 1
        ax.set_title(entry.get("label", str(path)), fontsize=9)
        ax.set_xlabel(xcol or "row")
        ax.set_ylabel("loss")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if twin is not None:
            h2, l2 = twin.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        ax.legend(handles, labels, fontsize=6, loc="best", ncol=2)
    fig.suptitle(title, fontsize=11)
    _save(fig, out)
