"""`snakemake --lint` finds nothing but the per-rule software note, which the Snakefile's global `conda:` directive
answers (envs/lea.yaml; `--sw-deployment-method conda` uses it for every rule)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
ANSWERED = {"Specify a conda environment or container for each rule."}


def test_snakemake_lint_is_clean(repo, tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = [SNAKEMAKE, "--lint", "--configfile", "config/demo.yaml", "--config", f"results_dir={tmp_path}/results"]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    out = proc.stdout + proc.stderr
    assert "Lints for" in out or proc.returncode == 0, out[-3000:]  # it ran (a parse error prints no lints)
    titles = set(re.findall(r"^\s+\* (.+?):?$", out, re.M))
    assert titles <= ANSWERED, sorted(titles - ANSWERED)
