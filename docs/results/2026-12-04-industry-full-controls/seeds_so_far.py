"""The environments table over the seeds finished so far (issue 13), while `run.sh with_llm_seeds012.yaml` is still
running: for each row and environment, the seeds whose variant run and base run both exist; the delta is the mean
over those seeds of (variant - base) test metric, and p is the paired t-test over the test cases with each case's
metric averaged over those seeds (lea.report.stats.pooled_cases / paired_p, as `lea report-envs` computes a full
table). A cell names its seeds when they are fewer than the requested ones. When every run exists, this is the same
table as `lea report-envs` writes (environments.md).

Usage: python seeds_so_far.py RUNS_DIR SEEDS ENV [ENV ...] > environments_seeds012_so_far.md
RUNS_DIR: results/cpu-le-full/industry/runs; SEEDS: 0,1,2
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from lea.report.stats import paired_p, pooled_cases
from lea.report.tables import load_run

ROWS = [("sasrec", "sa2c", v) for v in ("LER", "LES", "LEA", "LEASR")]
ROWS += [("sasrec", "snqn", v) for v in ("LER", "LES", "LEA", "LEASR")]
ROWS += [("gru", "sa2c", v) for v in ("LESprime", "LES")]
METRICS = ("hr@10", "ndcg@10")


def main() -> None:
    runs, seeds_arg, *envs = sys.argv[1:]
    root, seeds = Path(runs), [int(s) for s in seeds_arg.split(",")]
    cache: dict[Path, dict] = {}

    def run(d: Path) -> dict | None:
        if not (d / "metrics.json").exists() or not (d / "ranks.parquet").exists():
            return None
        if d not in cache:
            cache[d] = load_run(d)
        return cache[d]

    print(
        f"Test split, seeds {seeds_arg} where finished; each variant minus its base, dHR@10 (p) / dNDCG@10 (p), "
        "paired t-test over the test cases (each case averaged over the seeds both runs have); [seeds] when fewer.\n"
    )
    print("| backbone / framework | variant | " + " | ".join(envs) + " |")
    print("|---|---|" + "---|" * len(envs))
    for bb, fw, v in ROWS:
        cells = []
        for e in envs:
            pairs = [(s, run(root / bb / fw / "base" / f"seed{s}"), run(root / bb / fw / f"{v}_{e}" / f"seed{s}"))
                     for s in seeds]
            pairs = [(s, b, a) for s, b, a in pairs if a is not None and b is not None]
            if not pairs:
                cells.append("not run")
                continue
            base_cases = pooled_cases([b["cases"] for _, b, _ in pairs])
            cases = pooled_cases([a["cases"] for _, _, a in pairs])
            out = []
            for m in METRICS:
                d = sum(a["test"][m] - b["test"][m] for _, b, a in pairs) / len(pairs)
                p = paired_p(cases, base_cases, m)[0]
                out.append(f"{d:+.4f} ({'n/a' if math.isnan(p) else f'{p:.2g}'})")
            tag = "" if len(pairs) == len(seeds) else f" [{','.join(str(s) for s, _, _ in pairs)}]"
            cells.append(" / ".join(out) + tag)
        print(f"| {bb} / {fw} | {v} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
