"""What each environment's augmented actions look like, beyond their hit rate (tables/augment.md): which items and
which of the five candidates it picks, and the reward r^e(p_t, a^e_t) the augmented Q-loss (Eq. 14) trains on. A
question of the LFM table: the LLM LE's augmentation is at chance like the null's, yet LEA loses with it and gains
with the null.

    python aug_dist.py INTERACTIONS SPLITS LABEL=AUGMENT_PARQUET [...] > tables/augment_dist.md

Per environment, over every row of its augment_sasrec.parquet (one per training transition): the number of distinct
items picked, the share of the most picked item and of the 10 most picked, the mean training frequency of the picked
item (its count among training interactions), the share of each candidate position (1 = the warm-up's top 1), and
the mean / standard deviation / range of the picked item's reward.
"""

from __future__ import annotations

import sys

import numpy as np
import polars as pl


def main() -> None:
    inter_p, splits_p, *envs = sys.argv[1:]
    if not envs:
        raise SystemExit("aug_dist.py: give at least one LABEL=AUGMENT_PARQUET")
    train = pl.read_parquet(splits_p).filter(pl.col("split") == "train").select("sequence")
    freq = pl.read_parquet(inter_p).join(train, on="sequence").group_by("item").len().rename({"len": "freq"})
    print(
        "Each environment's augmented actions on the training transitions (aug_dist.py): distinct items picked, the "
        "share of the most picked item and of the 10 most picked, the picked item's mean training frequency, the "
        "share of each candidate position (1 = the warm-up's top 1), and the picked item's reward r^e "
        "(mean, std, min, max), the target of the augmented Q-loss (Eq. 14).\n"
    )
    print("| environment | rows | distinct | top 1 | top 10 | mean freq | positions 1-5 | r^e mean (std) [min, max] |")
    print("|---|---|---|---|---|---|---|---|")
    for arg in envs:
        if "=" not in arg:
            raise SystemExit(f"aug_dist.py: {arg!r} is not LABEL=AUGMENT_PARQUET")
        label, path = arg.split("=", 1)
        a = pl.read_parquet(path)
        missing = {"candidates", "chosen", "reward"} - set(a.columns)
        if missing:
            raise SystemExit(f"aug_dist.py: {path} lacks the columns {sorted(missing)} of the augmentation contract")
        cand = np.stack(a["candidates"].to_numpy())
        chosen = a["chosen"].to_numpy()
        match = cand == chosen[:, None]
        if not match.any(axis=1).all():
            raise SystemExit(f"aug_dist.py: {path}: a chosen item that is not among its candidates")
        pos = np.bincount(match.argmax(axis=1), minlength=cand.shape[1]) / len(chosen)
        counts = np.sort(np.bincount(chosen))[::-1]
        f = a.select("chosen").join(freq, left_on="chosen", right_on="item", how="left")["freq"].fill_null(0)
        r = a["reward"].to_numpy().astype(np.float64)
        print(
            f"| {label} | {len(chosen):,} | {np.count_nonzero(counts):,} | {counts[0] / len(chosen):.3f} | "
            f"{counts[:10].sum() / len(chosen):.3f} | {f.mean():.1f} | "
            f"{' / '.join(f'{x:.3f}' for x in pos)} | "
            f"{r.mean():.3f} ({r.std():.3f}) [{r.min():.2f}, {r.max():.2f}] |"
        )


if __name__ == "__main__":
    main()
