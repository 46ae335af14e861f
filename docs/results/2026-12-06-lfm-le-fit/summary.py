"""Training fit of the LE settings in a files/ folder (one subfolder per setting with train_log.csv and
le_quality.json): the per-epoch means of the training losses and accuracies against their chance values, then the
validation diagnostics; then the first 200 steps in windows of 50 for every setting on the whole LE subset (a stopped
fit's log too) beside the LE it compares with. Usage: python summary.py FILES_DIR [NAME=LE_FILES_DIR ...] > summary.md
(each NAME=DIR: one more LE's files, e.g. itok30=../2026-12-06-lfm-le-itok30/files)"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import polars as pl

CHANCE = {"loss_rm": math.log(2), "acc_rm": 0.5, "loss_choice": math.log(5), "acc_choice": 0.2}


def main(root: Path, more: dict[str, Path]) -> None:
    print("# Training fit per epoch (means over the epoch's steps) and the validation diagnostics\n")
    print(
        f"Chance: L_rm {CHANCE['loss_rm']:.3f} (log 2), pairwise accuracy 0.5; choice loss {CHANCE['loss_choice']:.3f}"
        " (log 5), accuracy 0.2; L_sm: log of the catalogue size (the uniform softmax over every item).\n"
    )
    for d in sorted(p for p in root.iterdir() if (p / "train_log.csv").exists()):
        log = pl.read_csv(d / "train_log.csv")
        q = json.loads((d / "le_quality.json").read_text()) if (d / "le_quality.json").exists() else None
        by = (
            log.group_by("epoch", maintain_order=True)
            .agg(
                pl.len().alias("steps"),
                *(pl.col(c).mean() for c in ("loss_rm", "acc_rm", "loss_sm", "loss_choice", "acc_choice")),
            )
            .sort("epoch")
        )
        print(f"## {d.name}\n")
        print("| epoch | steps | L_rm | reward acc | L_sm | choice loss | choice acc |")
        print("|---|---|---|---|---|---|---|")
        for r in by.iter_rows(named=True):
            print(
                f"| {r['epoch']} | {r['steps']} | {r['loss_rm']:.3f} | {r['acc_rm']:.3f} | {r['loss_sm']:.2f} |"
                f" {r['loss_choice']:.3f} | {r['acc_choice']:.3f} |"
            )
        if q is not None:
            rw, st, ch = q["reward"], q["state"], q["choice"]
            print(
                f"\nValidation ({q['transitions']} transitions): reward pairwise accuracy {rw['pairwise_accuracy']:.3f}"
                f" (p = {rw['p_value_vs_chance']:.2g}), state HR@10 {st['hr@10']:.3f} (chance {st['chance']:.4f},"
                f" p = {st['p_value_vs_chance']:.2g}), choice accuracy {ch['accuracy']:.3f}"
                f" (p = {ch['p_value_vs_chance']:.2g}); {q['train_transitions']} training transitions,"
                f" {q['steps']} steps, {q['train_time_s']:.0f} s of training.\n"
            )

    print("## The first 200 steps on the whole LE subset (means over windows of 50 steps)\n")
    print("| LE | steps | L_rm | reward acc | L_sm | choice loss |")
    print("|---|---|---|---|---|---|")
    dirs = {d.name: d for d in sorted(root.iterdir()) if (d / "train_log.csv").exists()} | more
    for name, d in dirs.items():
        log = pl.read_csv(d / "train_log.csv")
        if log.filter(pl.col("epoch") == 0).height < 200:  # the 200-transition fits: 10 steps an epoch
            continue
        for a in range(0, 200, 50):
            w = log.slice(a, 50)
            print(
                f"| {name} | {a}-{a + 49} | {w['loss_rm'].mean():.3f} | {w['acc_rm'].mean():.3f} |"
                f" {w['loss_sm'].mean():.2f} | {w['loss_choice'].mean():.3f} |"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]), {k: Path(v) for k, v in (a.split("=", 1) for a in sys.argv[2:])})
