"""The DAG with control environments: the same output paths, made by control.smk's rules, for the new table."""

from __future__ import annotations

import re
from pathlib import Path

from test_workflow import _dry_run, _job_counts

CONFIG = """
le:
  settings:
    frac0.1: {fraction: 0.1}
    idrec0.1: {fraction: 0.1, env: idrec}
    oracle: {env: oracle}
    random: {env: random}
experiments:
  environments: {backbones: [sasrec], frameworks: [sa2c], variants: [LER, LES, LEA, LEASR],
                 envs: [frac0.1, idrec0.1, oracle, random]}
"""


def test_control_dag(repo: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "control.yaml"
    cfg.write_text(CONFIG)
    proc = _dry_run(repo, tmp_path, "--configfile", "config/demo.yaml", str(cfg), "--", "environments_table")
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = _job_counts(proc.stdout)
    for rule in ("control_fit", "control_states", "control_rewards", "control_augment"):
        assert counts.get(rule) == 3, (rule, counts)  # one per control setting, none for the LLM's
    assert counts.get("fit_le") == 1 and counts.get("report_environments") == 1
    assert counts["train"] == 2 * (1 + 4 * 4)  # 2 seeds x (base + 4 variants x 4 settings)
    outs = set(re.findall(r"output: (\S+)", proc.stdout))
    res = f"{tmp_path}/results/demo/le"
    assert f"{res}/idrec/idrec0.1/states.parquet" in outs and f"{res}/random/random/augment_sasrec.parquet" in outs
    assert f"{res}/smollm2/frac0.1/states.parquet" in outs
