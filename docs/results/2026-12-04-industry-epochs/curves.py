"""Validation curves of recommender runs: one row per validation of each train_log.csv in a folder.

Usage: python curves.py RUNS_DIR [--metric valid_ndcg@10] [--tol 0.02] [--png curves.png] > curves.md

For each run it prints the metric at every validated epoch, the epoch of its maximum, and the plateau epoch: the first
validated epoch whose value is within ``tol`` (relative) of the run's maximum, i.e. the fewest epochs after which
more training adds less than ``tol`` of the best validation value. Validation split only.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def read(path: Path, metric: str) -> list[tuple[float, int, float]]:
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if r.get(metric)]
    return [(float(r["epoch"]), int(r["step"]), float(r[metric])) for r in rows]


def plateau(points: list[tuple[float, int, float]], tol: float) -> tuple[float, float, float]:
    best = max(v for _, _, v in points)
    best_epoch = next(e for e, _, v in points if v == best)
    first = next(e for e, _, v in points if v >= (1 - tol) * best)
    return best, best_epoch, first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("--metric", default="valid_ndcg@10")
    ap.add_argument("--tol", type=float, default=0.02)
    ap.add_argument("--png", type=Path, default=None, help="also plot the curves here")
    a = ap.parse_args()
    logs = sorted(a.runs.glob("*train_log.csv"))
    curves = {p.name.removesuffix("_train_log.csv"): read(p, a.metric) for p in logs}
    curves = {k: v for k, v in curves.items() if v}
    print(f"# Validation {a.metric} by epoch\n")
    print(f"Plateau epoch: the first validated epoch within {a.tol:.0%} (relative) of the run's maximum.\n")
    print("| run | max | epoch of max | plateau epoch | value at epoch 10 |")
    print("|---|---|---|---|---|")
    for name, pts in curves.items():
        best, be, first = plateau(pts, a.tol)
        at10 = next((v for e, _, v in pts if abs(e - 10) < 0.01), float("nan"))
        print(f"| {name} | {best:.4f} | {be:g} | {first:g} | {at10:.4f} |")
    epochs = sorted({e for pts in curves.values() for e, _, _ in pts})
    print("\n| epoch | " + " | ".join(curves) + " |")
    print("|---|" + "---|" * len(curves))
    for e in epochs:
        vals = [next((f"{v:.4f}" for ee, _, v in pts if ee == e), "") for pts in curves.values()]
        print(f"| {e:g} | " + " | ".join(vals) + " |")
    if a.png is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for name, pts in curves.items():
            ax.plot([e for e, _, _ in pts], [v for _, _, v in pts], marker=".", label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(a.metric)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(a.png, dpi=120)


if __name__ == "__main__":
    main()
