"""The Snakemake DAG: the demo plans every stage (dry-run), and config errors surface with the key named."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")

# rules the demo's default target must reach: every stage of the paper's pipeline
EXPECTED_DEMO_RULES = {
    "fetch_demo_data",
    "fetch_llm",
    "preprocess",
    "item_tokens",
    "fit_le",
    "le_states",
    "le_rewards",
    "warmup",
    "le_augment",
    "train",
    "report_table1",
    "report_table",
    "report_figure",
    "report_augment",
    "all",
}


def _dry_run(repo: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = [
        SNAKEMAKE,
        "-n",
        "--nolock",
        "--cores",
        "2",
        "--configfile",
        "config/demo.yaml",
        "--forceall",
        "--config",
        f"results_dir={tmp_path}/results",
        *extra,
    ]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=300)


def _job_counts(stdout: str) -> dict[str, int]:
    table = stdout.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_demo_dag_plans_every_stage(repo, tmp_path):
    proc = _dry_run(repo, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout)
    missing = EXPECTED_DEMO_RULES - counts.keys()
    assert not missing, f"demo DAG lacks {missing}; planned {counts}"


def test_bad_config_override_fails_naming_key(repo, tmp_path):
    proc = _dry_run(repo, tmp_path, "rec={gamma: 2}")
    assert proc.returncode != 0
    assert "config key 'rec.gamma'" in proc.stdout + proc.stderr
