"""Were 15 epochs enough? The validation curves of the runs still rising at epoch 15, rerun at 50 epochs (seed 0).

For each run: validation NDCG@10 at every 5th epoch of the 50-epoch run, whether its first 15 epochs repeat the
15-epoch run (the same seed and schedule, so they should), the best epoch and value within 15 and within 50 epochs,
and the test HR@10 / NDCG@10 of each run's selected checkpoint (rec.selection: best_val).

Usage: python epochs_check.py RUNS_15 RUNS_50 RUN [RUN ...] > epochs_check.md
RUN: backbone/framework/variant (seed 0), e.g. gru/sa2c/base
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

COL = "valid_ndcg@10"


def curve(run: Path) -> dict[int, float]:
    """Epoch -> validation NDCG@10 of a run's train_log.csv (validation rows only, whole epochs)."""
    out = {}
    with (run / "train_log.csv").open() as f:
        for row in csv.DictReader(f):
            if row[COL]:
                out[round(float(row["epoch"]))] = float(row[COL])
    return out


def best(c: dict[int, float], upto: int) -> tuple[int, float]:
    e = max((e for e in c if e <= upto), key=lambda e: (c[e], -e))
    return e, c[e]


def patience_stop(c: dict[int, float], p: int) -> tuple[int, int]:
    """(stop epoch, selected epoch) of rec.patience p on a full curve (validation every epoch), as lea.rl.train."""
    best, best_e, since, last = -1.0, 0, 0, max(c)
    for e in sorted(c):
        best, best_e, since = (c[e], e, 0) if c[e] > best else (best, best_e, since + 1)
        if since >= p and e < last:
            return e, best_e
    return last, best_e


def main() -> None:
    r15, r50, *runs = sys.argv[1:]
    marks = [5, 10, 15, 20, 30, 40, 50]
    print("# Were 15 epochs enough? Seed 0 at 50 epochs\n")
    print("Validation NDCG@10 of the 50-epoch run at epoch 5 ... 50; `same 15`: its first 15 epochs' validation")
    print("values equal the 15-epoch run's; best (epoch) within 15 and 50 epochs; test HR@10 / NDCG@10 of each run's")
    print("selected checkpoint (best validation NDCG@10); where early stopping with rec.patience 10 would stop the")
    print("50-epoch run and which epoch it would select.\n")
    tail = " | same 15 | best ≤15 | best ≤50 | patience 10: stop, selected | test @15 budget | test @50 budget |"
    print("| run | " + " | ".join(f"ep {m}" for m in marks) + tail)
    print("|---|" + "---|" * (len(marks) + 6))
    for run in runs:
        d15, d50 = Path(r15) / run / "seed0", Path(r50) / run / "seed0"
        if not (d50 / "metrics.json").exists():
            print(f"| {run} | " + " | ".join("–" for _ in marks) + " | not finished | | | | | |")
            continue
        c15, c50 = curve(d15), curve(d50)
        same = all(abs(c15[e] - c50.get(e, float("nan"))) < 1e-9 for e in c15)
        m15, m50 = (json.loads((d / "metrics.json").read_text())["test"] for d in (d15, d50))
        e15, v15 = best(c15, 15)
        e50, v50 = best(c50, 50)
        cells = [f"{c50[m]:.4f}" if m in c50 else "–" for m in marks]
        stop, sel = patience_stop(c50, 10)
        print(
            f"| {run} | " + " | ".join(cells) + f" | {'yes' if same else 'no'} | {v15:.4f} ({e15}) | {v50:.4f} ({e50}) "
            f"| {stop}, {sel}{' (= best)' if sel == e50 else ' (not the best)'} "
            f"| {m15['hr@10']:.4f} / {m15['ndcg@10']:.4f} | {m50['hr@10']:.4f} / {m50['ndcg@10']:.4f} |"
        )


if __name__ == "__main__":
    main()
