"""Snakemake profiles: the local and SLURM profiles parse, give GPUs only to the LLM rules, and dry-run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
LLM_RULES = {"item_tokens", "fit_le", "le_states", "le_rewards", "le_augment"}


def _profile(repo: Path, name: str) -> dict:
    return yaml.safe_load((repo / "workflow" / "profiles" / name / "config.yaml").read_text())


@pytest.mark.parametrize("name", ["default", "slurm"])
def test_gpus_only_for_llm_rules(repo, name):
    prof = _profile(repo, name)
    assert prof["default-resources"]["gpu"] == 0
    with_gpu = {rule for rule, res in prof["set-resources"].items() if res.get("gpu", 0) > 0}
    assert with_gpu == LLM_RULES


def test_slurm_profile_uses_the_plugin_with_runtime_and_memory(repo):
    prof = _profile(repo, "slurm")
    assert prof["executor"] == "slurm"
    for rule in LLM_RULES:
        assert prof["set-resources"][rule]["runtime"] > 0 and prof["set-resources"][rule]["mem_mb"] > 0


def _dry_run(repo: Path, tmp_path: Path, *args: str, data: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    # a dry run writes nothing, so the demo keeps its resources/ paths (the LLM path in config/demo.yaml is fixed)
    where = [f"resources_dir={tmp_path}/resources", f"data_dir={tmp_path}/data"] if data else []
    cmd = [SNAKEMAKE, "-n", "--nolock", *args, "--config", f"results_dir={tmp_path}/results", *where]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=300)


def test_demo_still_plans_all_with_and_without_the_local_profile(repo, tmp_path):
    for extra in ([], ["--workflow-profile", "workflow/profiles/default"]):
        proc = _dry_run(repo, tmp_path, "--cores", "2", "--configfile", "config/demo.yaml", *extra, data=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert re.search(r"^all\s+1$", proc.stdout, re.M), proc.stdout[-2000:]
        assert re.search(r"^report_table1\s+1$", proc.stdout, re.M)


def test_slurm_profile_dry_run_full_config(repo, tmp_path):
    import lea.config as leacfg

    cfg = leacfg.load_config(["config/config.yaml"])
    for ds in cfg["datasets"].values():  # empty raw files: a dry run only needs them to exist
        for f in ds["files"].values():
            p = tmp_path / "data" / ds["source"] / f
            p.parent.mkdir(parents=True, exist_ok=True)
            p.touch()
    proc = _dry_run(repo, tmp_path, "--profile", "workflow/profiles/slurm", "--configfile", "config/config.yaml")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert re.search(r"^all\s+1$", proc.stdout, re.M)
    resources = {}  # rule -> its first job's resources line
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout):
        m = re.match(r"(?:local)?rule (\w+):", block)
        res = re.search(r"^\s+resources: (.*)$", block, re.M)
        if m and res:
            resources.setdefault(m.group(1), res.group(1))
    assert "mem_mb=16000" in resources["train"] and "gpu=0" in resources["train"]
    assert "runtime=480" in resources["train"]
    assert "fit_le" in resources and "le_states" in resources
    for rule in LLM_RULES & resources.keys():
        assert "gpu=1" in resources[rule], (rule, resources[rule])
    for rule in resources.keys() - LLM_RULES:
        assert "gpu=1" not in resources[rule], (rule, resources[rule])


def test_gpu_slot_gives_concurrent_jobs_different_devices(repo, tmp_path):
    script = str(repo / "workflow" / "profiles" / "gpu_slot.sh")
    env = {**os.environ, "LEA_GPUS": "2", "LEA_GPU_LOCK_DIR": str(tmp_path / "locks")}
    env.pop("SLURM_JOB_ID", None)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    cmd = [script, "1", "bash", "-c", "echo $CUDA_VISIBLE_DEVICES; sleep 1"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(2)
    ]
    devices = sorted(p.communicate(timeout=30)[0].strip() for p in procs)
    assert devices == ["0", "1"]
    # no GPU on the machine: the command runs unchanged
    out = subprocess.run(
        [script, "1", "bash", "-c", "echo ${CUDA_VISIBLE_DEVICES:-unset}"],
        capture_output=True,
        text=True,
        env={**env, "LEA_GPUS": "0"},
        timeout=30,
    )
    assert out.stdout.strip() == "unset"


def _write_movielens(raw: Path, users: int, items: int, per_user: int) -> None:
    """A recbole ml-100k pair of files; the .inter file is over Snakemake's default 1 MB checksum limit."""
    import random

    rng = random.Random(0)
    raw.mkdir(parents=True)
    rows = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for u in range(users):
        for k, i in enumerate(rng.sample(range(items), per_user)):
            rows.append(f"{u}\t{i}\t{rng.randint(1, 5)}\t{880000000 + 1000 * u + k}")
    (raw / "ml-100k.inter").write_text("\n".join(rows) + "\n")
    head = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"
    lines = [f"{i}\tMovie {i}\t{1950 + i % 50}\tDrama" for i in range(items)]
    (raw / "ml-100k.item").write_text("\n".join([head, *lines]) + "\n")


def test_local_profile_keeps_finished_work_when_raw_files_get_new_mtimes(repo, tmp_path):
    """Raw files copied again (new mtime, same content) must not rebuild the stages after them (README).

    Without the profile's checksum limit, Snakemake 9 reruns preprocess and everything downstream, whatever
    --rerun-triggers says; that once deleted 3.5 h of finished item tokens."""
    raw = tmp_path / "data" / "ml-100k"
    _write_movielens(raw, users=700, items=300, per_user=80)
    assert (raw / "ml-100k.inter").stat().st_size > 1_000_000
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    target = f"{tmp_path}/results/demo/data/negatives.parquet"

    def smk(*args: str) -> subprocess.CompletedProcess[str]:
        where = [f"results_dir={tmp_path}/results", f"data_dir={tmp_path}/data"]
        cmd = [SNAKEMAKE, "--nolock", "--cores", "1", "--configfile", "config/demo.yaml", *args]
        cmd += ["--config", *where, "--", target]
        proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        return proc

    profile = ("--workflow-profile", "workflow/profiles/default")
    smk(*profile)
    built = Path(target).stat().st_mtime_ns
    later = built + 60 * 10**9
    for f in raw.iterdir():
        os.utime(f, ns=(later, later))
    kept = smk("-n", *profile)
    assert "Nothing to be done" in kept.stdout + kept.stderr, kept.stdout[-2000:]
    # the same call without the profile's limit would rebuild the data and the stage after it
    default = smk("-n", "--max-checksum-file-size", "1MB")
    assert re.search(r"^preprocess\s+1$", default.stdout, re.M) and re.search(r"^negatives\s+1$", default.stdout, re.M)


def test_a_precompute_switch_does_not_refit_the_le(repo, tmp_path):
    """The LE fits' params leave the precompute settings out (they read none), so a new or changed precompute switch
    cannot make Snakemake (rerun trigger params) fit an LE again; the precompute's own params do change. On
    2026-12-06 a new switch's default refitted a finished LE this way."""
    raw = tmp_path / "data" / "ml-100k"
    _write_movielens(raw, users=60, items=40, per_user=10)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    res = tmp_path / "results"
    targets = [f"{res}/demo/le/smollm2/frac0.1/states/0.parquet", f"{res}/demo/le/idrec/idrec0.1/states.parquet"]
    # a control environment beside the demo's LLM LE, and the precompute switch on or off
    idrec = "le:\n  settings:\n    idrec0.1: {fraction: 0.1, env: idrec}\n"

    def commands(merge: str) -> dict[str, str]:
        overlay = tmp_path / f"merge_{merge}.yaml"
        overlay.write_text(f"{idrec}precompute: {{merge_lora: {merge}}}\n")
        cmd = [SNAKEMAKE, "-n", "-p", "--nolock", "--cores", "1", "--configfile", "config/demo.yaml", str(overlay)]
        cmd += ["--config", f"results_dir={res}", f"data_dir={tmp_path}/data", "--", *targets]
        proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        found = {}
        for line in proc.stdout.splitlines():
            m = re.search(r"lea (fit-le|le-precompute|control-fit|control-precompute) .*--settings ('[^']*')", line)
            if m:
                found.setdefault(m.group(1), m.group(2))
        return found

    off, on = commands("false"), commands("true")
    assert set(off) == set(on) == {"fit-le", "le-precompute", "control-fit", "control-precompute"}
    assert off["fit-le"] == on["fit-le"] and off["control-fit"] == on["control-fit"]
    assert off["le-precompute"] != on["le-precompute"] and off["control-precompute"] != on["control-precompute"]
