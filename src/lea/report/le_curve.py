"""``lea report-le-curve``: the LE's learning curve (``learning_curve.csv`` of ``lea fit-le``, lea.env.curve) as a
PNG: the diagnostics of ``le_quality.json`` against the training step, each with its chance level (dashed) and its
95% Wilson band, and their p-values against chance, so a figure shows whether more epochs would help.

    lea report-le-curve --csv results/{dataset}/le/{llm}/{le}/learning_curve.csv --out-png F.png [--title T]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl

from lea.env.curve import read_curve
from lea.io import atomic_path

# (panel title, [(column, label, band columns prefix or None)], chance column)
PANELS: tuple[tuple[str, list[tuple[str, str, str | None]], str], ...] = (
    (
        "reward (Eq. 1): positive vs sampled negative",
        [("reward.pairwise_accuracy", "pairwise accuracy", "reward"), ("reward.auc", "AUC", None)],
        "reward.chance",
    ),
    ("state (Eq. 2): next item in the top 10", [("state.hr@10", "HR@10", "state")], "state.chance"),
    (
        "choice (3.4): true next item among 5",
        [
            ("choice.accuracy", "accuracy (the LE's rule)", "choice"),
            ("choice.label_reading_accuracy", "label reading alone", None),
            ("choice.reward_argmax_accuracy", "reward argmax alone", None),
        ],
        "choice.chance",
    ),
)
P_COLUMNS = (
    ("reward.p_value_vs_chance", "reward accuracy"),
    ("state.p_value_vs_chance", "state HR@10"),
    ("choice.p_value_vs_chance", "choice accuracy"),
)
P_GOAL = 1e-3  # the LE issue's bar for "above chance" (every diagnostic at p < 1e-3)


def curve_figure(df: pl.DataFrame, title: str = "LE learning curve") -> Any:
    """2 x 2 panels against the step: reward, state, choice (chance dashed, 95% Wilson band shaded), p-values."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), layout="constrained")
    if df.height == 0:
        for ax in axes.flat:
            ax.axis("off")
        axes[0, 0].text(0, 0.5, "no learning-curve points (le.finetune.curve_every: 0, or no validation rows)")
        fig.suptitle(title, fontsize=11)
        return fig
    x = df["step"].cast(pl.Float64).to_list()
    n = int(df["valid_transitions"][0])
    colors = plt.cm.tab10.colors
    for ax, (name, cols, chance) in zip(axes.flat, PANELS, strict=False):
        for i, (c, label, band) in enumerate(cols):
            ax.plot(x, df[c].to_list(), marker="o", ms=3.5, color=colors[i], label=label, lw=1.8 if i == 0 else 1.1)
            if band is not None:
                ax.fill_between(
                    x, df[f"{band}.ci95_low"].to_list(), df[f"{band}.ci95_high"].to_list(), color=colors[i], alpha=0.15
                )
        ax.plot(x, df[chance].to_list(), ls="--", color="gray", lw=1.2, label="chance")
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("on the fixed validation sample")
    ax_p = axes[1, 1]
    for i, (c, label) in enumerate(P_COLUMNS):
        # a p-value below the float range shows at the floor instead of vanishing from a log axis
        ax_p.plot(x, [max(v, 1e-300) for v in df[c].to_list()], marker="o", ms=3.5, color=colors[i], label=label)
    ax_p.axhline(P_GOAL, ls=":", color="black", lw=1, label=f"p = {P_GOAL:g}")
    ax_p.axhline(1.0, ls="--", color="gray", lw=1.0, label="chance (p = 1)")
    ax_p.set_yscale("log")
    ax_p.set_title("one-sided binomial p-value against chance", fontsize=9)
    ax_p.set_ylabel("p-value (log scale)")
    epochs = df["epoch"].to_list()
    last_step, last_epoch = x[-1], epochs[-1]
    for ax in axes.flat:
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        if last_step > 0 and last_epoch and not math.isnan(last_epoch):
            per = last_epoch / last_step  # epochs per step: the top axis reads the same points in epochs
            top = ax.secondary_xaxis("top", functions=(lambda s, k=per: s * k, lambda e, k=per: e / k))
            top.set_xlabel("epochs", fontsize=8)
    fig.suptitle(
        f"{title}\n{n} fixed validation transitions; the LE as trained at each step (no label calibration or "
        "reward anchor)",
        fontsize=10,
    )
    return fig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", required=True, help="learning_curve.csv of lea fit-le")
    p.add_argument("--out-png", required=True)
    p.add_argument("--title", default="LE learning curve")


def main(args: argparse.Namespace) -> int:
    fig = curve_figure(read_curve(args.csv), args.title)
    with atomic_path(Path(args.out_png)) as tmp:
        fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return 0
