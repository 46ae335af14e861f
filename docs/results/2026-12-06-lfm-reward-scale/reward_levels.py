"""The level and spread of each environment's rewards on the training pool (rewards.parquet: the observed next item
and the K pool negatives of every training transition): mean and std of r^e for observed items and for negatives,
and their gap, beside the fixed reward they replace (1 and 0). With --splits, each environment's rows are split
into the training sequences of the 10% LE subset (the ones an LE trained on; lea.env.train.le_subset) and the rest.

    python reward_levels.py [--splits splits.parquet --fraction 0.1] LABEL=PATH/rewards.parquet ..."""

from __future__ import annotations

import argparse
import sys

import polars as pl

from lea.env.train import le_subset


def levels(df: pl.DataFrame, where: str) -> tuple[float, float, float, float, int]:
    g = {
        row[0]: row[1:]
        for row in df.group_by("positive")
        .agg(pl.col("reward").mean().alias("m"), pl.col("reward").std().alias("s"))
        .rows()
    }
    if set(g) != {True, False}:
        raise SystemExit(f"reward_levels.py: {where} needs rows with positive true and false")
    (mp, sp), (mn, sn) = g[True], g[False]
    return mp, sp, mn, sn, df.height


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--splits", help="splits.parquet: also split the rows by the LE subset")
    ap.add_argument("--fraction", type=float, default=0.1, help="the LE subset's fraction (default 0.1)")
    ap.add_argument("envs", nargs="+", metavar="LABEL=PATH")
    args = ap.parse_args(argv)
    subset = set(le_subset(pl.read_parquet(args.splits), args.fraction)) if args.splits else None
    print("| environment | rows | r^e observed: mean (std) | r^e negatives: mean (std) | gap | rows read |")
    print("|---|---|---|---|---|---|")
    for arg in args.envs:
        label, _, path = arg.partition("=")
        if not path:
            raise SystemExit(f"reward_levels.py: '{arg}' is not LABEL=PATH")
        df = pl.read_parquet(path, columns=["sequence", "positive", "reward"])
        parts = [("all training transitions", df)]
        if subset is not None:
            inside = pl.col("sequence").is_in(sorted(subset))
            parts += [("LE subset", df.filter(inside)), ("outside the LE subset", df.filter(~inside))]
        for name, part in parts:
            mp, sp, mn, sn, n = levels(part, f"{path} ({name})")
            print(f"| {label} | {name} | {mp:.3f} ({sp:.3f}) | {mn:.3f} ({sn:.3f}) | {mp - mn:.3f} | {n} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
