"""Markdown table of one or more learning_curve.csv files (lea.env.curve), one row per point.

    python docs/results/2026-12-02-industry-le-recipes/curve_table.py NAME=path/learning_curve.csv [...]
"""

import sys

from lea.env.curve import read_curve

print("| LE | step | epoch | train loss | reward acc (p) | reward AUC | state HR@10 (chance, p) | choice acc (p) |")
print("|---|---|---|---|---|---|---|---|")
for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    for r in read_curve(path).iter_rows(named=True):
        loss = "" if r["loss_mean"] is None else f"{r['loss_mean']:.3f}"
        print(
            f"| {name} | {r['step']} | {r['epoch']:.2f} | {loss} | {r['reward.pairwise_accuracy']:.3f} "
            f"({r['reward.p_value_vs_chance']:.2g}) | {r['reward.auc']:.3f} | {r['state.hr@10']:.3f} "
            f"({r['state.chance']:.3f}, {r['state.p_value_vs_chance']:.2g}) | {r['choice.accuracy']:.3f} "
            f"({r['choice.p_value_vs_chance']:.2g}) |"
        )
print("\nloss: the mean training loss since the previous point; p: one-sided binomial test against chance.")
