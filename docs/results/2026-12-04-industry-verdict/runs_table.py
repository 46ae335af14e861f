"""The "Where it stands" table of the README: every finished run's wall time, the epochs it ran before early
stopping, its selected epoch and its test NDCG@10, from the runs' metrics.json.

Usage: python runs_table.py RUNS [UPDATES_PER_EPOCH] > table.md
RUNS: a runs folder (runs/ here, or results/cpu-verdict/industry/runs); UPDATES_PER_EPOCH: 477 (Industry, the
default) or 764 (LFM).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def wall(m: dict) -> str:
    """This process's seconds, with the earlier part of a resumed run when metrics.json recorded it."""
    out = f"{m['wall_time_s']:,.0f} s"
    step, before = m.get("resumed_from_step"), m.get("seconds_before_resume")
    if step and before is not None:
        out += f" (+ {before:,.0f} s of training before resuming at step {step:,})"
    elif step:
        out += f" after resuming at step {step:,}"
    return out


def main() -> None:
    root = Path(sys.argv[1])
    spe = int(sys.argv[2]) if len(sys.argv) > 2 else 477
    print("| run | wall time | epochs run | selected epoch | test NDCG@10 |")
    print("|---|---|---|---|---|")
    for p in sorted(root.glob("*/*/*/seed*/metrics.json")):
        m = json.loads(p.read_text())
        run = p.parent.relative_to(root).as_posix()
        print(
            f"| {run} | {wall(m)} | {round(m['steps'] / spe)} | {round(m['selected_step'] / spe)} "
            f"| {m['test']['ndcg@10']:.4f} |"
        )


if __name__ == "__main__":
    main()
