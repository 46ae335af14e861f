"""Summary of the timed precompute (run.sh collect): the per-stage job times of ``lea summary``
(lea.report.summary, from Snakemake's benchmark files), the rows each stage wrote, and the whole run's wall time
from run.sh run's log.

    python timing.py BENCHMARK_DIR RESULTS_DIR LE_DIR > timing.md
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import polars as pl

from lea.report.summary import benchmark_jobs, stage_markdown, stage_times

bench, res, le = (Path(a) for a in sys.argv[1:4])
stages = stage_times(benchmark_jobs(bench))
print(stage_markdown(stages))
outputs = {
    "negatives": res / "data" / "negatives.parquet",
    "le_states": le / "states.parquet",
    "le_rewards": le / "rewards.parquet",
    "le_augment": le / "augment_sasrec.parquet",
}
print("| stage | rows written | rows per job-second |")
print("|---|---|---|")
seconds = dict(zip(stages["stage"], stages["total_s"], strict=True))
for stage, out in outputs.items():
    n = pl.scan_parquet(out).select(pl.len()).collect().item()
    print(f"| {stage} | {n} | {n / seconds[stage]:.1f} |")
log = (res.parent / "run.log").read_text() if (res.parent / "run.log").exists() else ""
start = re.search(r"^start (\S+)", log, re.M)
end = re.search(r"^end (\S+): (\d+) s of wall time", log, re.M)
if end:
    print(
        f"\nWall time of `run.sh run` ({start.group(1) if start else '?'} to {end.group(1)}): {int(end.group(2)):,} s "
        f"= {int(end.group(2)) / 60:.1f} min."
    )
