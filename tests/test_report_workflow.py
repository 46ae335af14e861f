"""report.smk: named targets plan one report job per dataset from existing runs; Table 1 is in the default target."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

from report_fakes import write_run

import lea.report.experiments as ex
from lea.config import load_config

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def test_named_targets_plan_report_jobs_from_existing_runs(repo, tmp_path):
    cfg = load_config([repo / "config" / "demo.yaml"])
    ex.add_generated_variants(cfg)
    rng = random.Random(0)
    for d, bb, fw, v in ex.all_runs(cfg):
        for s in cfg["seeds"]:
            run = tmp_path / "results" / d / "runs" / bb / fw / v / f"seed{s}"
            write_run(run, [rng.randint(1, 30) for _ in range(20)])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = [
        SNAKEMAKE,
        "-n",
        "--nolock",
        "--cores",
        "1",
        "--configfile",
        "config/demo.yaml",
        "--config",
        f"results_dir={tmp_path}/results",
        "--allowed-rules",
        "report_table",
        "report_figure",
        "table2",
        "table5",
        "fig4a",
        "fig5b",
        "--",
        "table2",
        "table5",
        "fig4a",
        "fig5b",
    ]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert re.search(r"^report_table\s+2$", proc.stdout, re.M), proc.stdout[-2000:]
    assert re.search(r"^report_figure\s+2$", proc.stdout, re.M)
    assert f"{tmp_path}/results/demo/figures/fig5b.png" in proc.stdout
    # the generated sweep variant is requested as a run of its own
    assert "runs/sasrec/sa2c/LEASR_wah0.5/seed1/metrics.json" in proc.stdout
