"""Summary of the timed precompute (run.sh collect): per stage, the jobs' wall and CPU seconds (Snakemake's
benchmark files), the rows written, and the whole run's wall time from run.sh run's log.

    python timing.py BENCHMARK_DIR RESULTS_DIR LE_DIR > timing.md
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import polars as pl

bench, res, le = (Path(a) for a in sys.argv[1:4])
rows = {
    "warmup": None,
    "negatives": res / "data" / "negatives.parquet",
    "le_states": le / "states.parquet",
    "le_rewards": le / "rewards.parquet",
    "le_augment": le / "augment_sasrec.parquet",
}
print("| stage | jobs | wall s (sum) | longest job s | CPU s (sum) | rows written | rows per job-second |")
print("|---|---|---|---|---|---|---|")
total = 0.0
for stage, out in rows.items():
    files = sorted((bench / stage).rglob("*.tsv"))
    if not files:
        print(f"| {stage} | 0 | | | | | |")
        continue
    t = pl.concat([pl.read_csv(f, separator="\t") for f in files])
    s, cpu = float(t["s"].sum()), float(t["cpu_time"].sum())
    total += s
    n = pl.scan_parquet(out).select(pl.len()).collect().item() if out is not None and out.exists() else None
    rate = f"{n / s:.1f}" if n else ""
    print(f"| {stage} | {len(files)} | {s:,.0f} | {float(t['s'].max()):,.0f} | {cpu:,.0f} | {n or ''} | {rate} |")
print(f"\nJob seconds in all: {total:,.0f} ({total / 60:.1f} min of one core).")
log = (res.parent / "run.log").read_text() if (res.parent / "run.log").exists() else ""
start = re.search(r"^start (\S+)", log, re.M)
end = re.search(r"^end (\S+): (\d+) s of wall time", log, re.M)
if end:
    print(f"Wall time of `run.sh run` ({start.group(1) if start else '?'} to {end.group(1)}): {int(end.group(2)):,} s "
          f"= {int(end.group(2)) / 60:.1f} min.")
