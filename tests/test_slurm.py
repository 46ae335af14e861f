"""The SLURM profile against a real single-node SLURM (tests/slurm/cluster.sh): a small DAG (preprocess, item_tokens
on a random-weight tiny LLM, three train runs) goes through `--profile workflow/profiles/slurm`, each job through
sbatch with its gpu/mem_mb/runtime; a cancelled job is finished by a rerun that resumes its checkpoint and reruns
nothing else; outputs equal a local run's; a partition the cluster lacks fails fast with sbatch's message.

Skipped when SLURM is not installed or the user is not root, unless LEA_REQUIRE_SLURM=1 (set by .ci/run, which
installs it first with `tests/slurm/cluster.sh install`): then those are failures."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parent / "slurm"))

import workload

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")
CANCELLED_RUN = "sa2c"  # the train run the fault test cancels mid-training


def _need(reason: str) -> None:
    if os.environ.get("LEA_REQUIRE_SLURM") == "1":
        pytest.fail(f"LEA_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """A running single-node SLURM for this module; its daemons stop when the module ends (also on failure)."""
    missing = [exe for exe in ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd") if not shutil.which(exe)]
    if missing:
        _need(f"SLURM is not installed ({', '.join(missing)} missing; `sudo tests/slurm/cluster.sh install`)")
    if os.geteuid() != 0:
        _need("the test SLURM runs its daemons as root (slurmd starts jobs as their user)")
    # one test cluster per machine (fixed ports, /etc/slurm/slurm.conf): a second session waits for the first
    lock = open(f"/tmp/lea-slurm-{os.getuid()}.lock", "w")  # noqa: SIM115 (held for the module's lifetime)
    fcntl.flock(lock, fcntl.LOCK_EX)
    state = os.environ.get("LEA_SLURM_DIR", f"/tmp/lea-slurm-{os.getuid()}")
    env = {
        **os.environ,
        "LEA_SLURM_DIR": state,
        "SLURM_CONF": f"{state}/etc/slurm.conf",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    started = subprocess.run([str(CLUSTER), "start"], env=env, capture_output=True, text=True, timeout=300)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield env
    finally:
        subprocess.run([str(CLUSTER), "stop"], env=env, capture_output=True, text=True, timeout=180)
        lock.close()


def _slurm(env: dict[str, str], *cmd: str) -> str:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=True).stdout


def _targets(results: Path) -> list[str]:
    t = workload.targets(results)
    return [str(results / f) for f in t["item_tokens"][:1] + [f for f in t["train"] if f.endswith("metrics.json")]]


def _snakemake(env: dict[str, str], cfg: Path, results: Path, *profile: str) -> list[str]:
    return [SNAKEMAKE, *profile, "--configfile", str(cfg), "--", *_targets(results)]


def _slurm_profile(tmp: Path, test_profile: Path = REPO / "tests" / "slurm" / "profile") -> list[str]:
    return [
        "--profile",
        "workflow/profiles/slurm",
        "--workflow-profile",
        str(test_profile),
        "--slurm-logdir",
        str(tmp / "slurm-logs"),
    ]


def _run_id(stdout: str) -> str:
    m = re.search(r"SLURM run ID: ([0-9a-f-]+)", stdout)
    assert m, stdout[-3000:]
    return m.group(1)


def _sacct(env: dict[str, str], run_ids: list[str]) -> list[dict[str, str]]:
    """One row per job the runs submitted (sacct -X: the allocation, not its steps)."""
    fields = ["JobID", "JobName", "Comment", "State", "ReqMem", "Timelimit", "ReqTRES", "Account", "Partition"]
    out = _slurm(
        env,
        "sacct",
        "-X",
        "-P",
        "-n",
        "-S",
        "now-1days",
        "--name",
        ",".join(run_ids),
        "-o",
        ",".join(f"{f}%200" for f in fields),
    )
    return [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line.strip()]


def _same_outputs(a: Path, b: Path) -> None:
    """The files of workload.targets are equal between two results folders (wall times and where a run resumed
    aside)."""
    for files in workload.targets(a).values():
        for rel in files:
            fa, fb = a / rel, b / rel
            if rel.endswith(".parquet"):
                assert pl.read_parquet(fa).equals(pl.read_parquet(fb)), rel
            elif rel.endswith(".safetensors"):
                ta, tb = load_file(fa), load_file(fb)
                assert ta.keys() == tb.keys(), rel
                assert all(torch.equal(ta[k], tb[k]) for k in ta), rel
            else:
                ja, jb = json.loads(fa.read_text()), json.loads(fb.read_text())
                for j in (ja, jb):
                    j.pop("wall_time_s")
                    j.pop("resumed_from_step", None)
                    j.pop("seconds_before_resume", None)
                assert ja == jb, rel


def _cancel_mid_training(env: dict[str, str], proc: subprocess.Popen[str], ckpt: Path, timeout_s: int = 900) -> str:
    """scancel the train job of ``ckpt``'s run once it is running and has written a checkpoint; its SLURM id."""
    deadline = time.monotonic() + timeout_s
    comment = f"rule_train_wildcards_{workload.DATASET}_{workload.BACKBONE}_{CANCELLED_RUN}_base_{workload.SEED}"
    while time.monotonic() < deadline and proc.poll() is None:
        jobs = _slurm(env, "squeue", "-h", "-o", "%i|%k|%T")
        running = [j.split("|")[0] for j in jobs.splitlines() if j.split("|")[1:] == [comment, "RUNNING"]]
        if running and ckpt.exists():
            _slurm(env, "scancel", running[0])
            return running[0]
        time.sleep(0.2)
    pytest.fail(f"the {CANCELLED_RUN} train job never ran with a checkpoint in {ckpt.parent} to cancel")


def _interrupt_when_idle(env: dict[str, str], proc: subprocess.Popen[str], done: list[Path], timeout_s: int = 900):
    """Wait until SLURM has no job left and the other jobs' outputs exist, then Ctrl-C Snakemake if it still runs.

    snakemake-executor-plugin-slurm 2.8.0 reads job states from sacct, which calls a cancelled job
    "CANCELLED by <uid>"; that string is not among the plugin's failure states, so it keeps waiting for the job
    (docs/cluster.md). A user interrupts it, as here, and reruns."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if not _slurm(env, "squeue", "-h", "-o", "%i").strip() and all(f.exists() for f in done):
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(1)
    out, _ = proc.communicate(timeout=300)
    return out


def test_dag_through_sbatch_cancel_and_rerun_equals_local(cluster, tmp_path):
    env = cluster
    local, remote = tmp_path / "local", tmp_path / "slurm"
    cfg_local = workload.write_workload(tmp_path, local)
    cfg_remote = workload.write_workload(tmp_path, remote)

    # the reference: the same DAG on this machine, no SLURM
    ref = subprocess.run(
        _snakemake(env, cfg_local, local, "--cores", "2"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert ref.returncode == 0, (ref.stdout + ref.stderr)[-4000:]

    # through SLURM; the sa2c run is cancelled once it has saved a checkpoint, so this run fails ...
    run_dir = remote / f"{workload.DATASET}/runs/{workload.BACKBONE}/{CANCELLED_RUN}/base/seed{workload.SEED}"
    cmd = _snakemake(env, cfg_remote, remote, *_slurm_profile(tmp_path))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    others = [f for f in _targets(remote) if f"/{CANCELLED_RUN}/" not in f]
    try:
        cancelled = _cancel_mid_training(env, proc, run_dir / "checkpoint.pt")
        first = _interrupt_when_idle(env, proc, [Path(f) for f in others])
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, first[-3000:]
    state = _slurm(env, "sacct", "-X", "-n", "-P", "-j", cancelled, "-o", "State").strip()
    assert state.startswith("CANCELLED"), state
    assert not (run_dir / "metrics.json").exists() and (run_dir / "checkpoint.pt").exists()

    # ... and the rerun with the same profile runs only the cancelled job, resuming from its checkpoint
    second = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
    out2 = second.stdout + second.stderr
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", out2.split("Job stats:")[1].split("Select jobs")[0], re.M))
    assert stats == {"train": "1", "total": "1"}, out2[-3000:]
    train_log = remote / "logs" / "train" / workload.DATASET / workload.BACKBONE / CANCELLED_RUN / "base"
    resumed_at = re.search(
        r"resuming from .*checkpoint\.pt at step (\d+)", (train_log / f"seed{workload.SEED}.log").read_text()
    )
    assert resumed_at
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["resumed_from_step"] == int(resumed_at.group(1)) and m["seconds_before_resume"] >= 0  # rounded to 10 ms

    # the same numbers as the local run, the resumed run included
    _same_outputs(local, remote)

    # every job went through sbatch, under the account, with the rule's gpu / mem_mb / runtime (tests/slurm/profile)
    rows = _sacct(env, [_run_id(first), _run_id(out2)])
    by_rule: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_rule.setdefault(r["Comment"].split("_wildcards_")[0].removeprefix("rule_"), []).append(r)
    assert {k: len(v) for k, v in by_rule.items()} == {"preprocess": 1, "negatives": 1, "item_tokens": 1, "train": 4}, (
        rows
    )
    assert sorted(r["State"].split()[0] for r in by_rule["train"]) == [
        "CANCELLED",
        "COMPLETED",
        "COMPLETED",
        "COMPLETED",
    ], rows
    assert all(r["State"] == "COMPLETED" for k in ("preprocess", "negatives", "item_tokens") for r in by_rule[k]), rows
    expect = {
        "preprocess": ("600M", "00:04:00", False),
        "item_tokens": ("1500M", "00:09:00", True),
        "train": ("1000M", "00:07:00", False),
        "negatives": ("500M", "00:05:00", False),  # the profile's default-resources
    }
    for rule, (mem, limit, gpu) in expect.items():
        for r in by_rule[rule]:
            assert (r["ReqMem"], r["Timelimit"], "gres/gpu=1" in r["ReqTRES"]) == (mem, limit, gpu), r
            assert (r["Account"], r["Partition"]) == ("lea", "lea"), r
    ctld = Path(env["SLURM_CONF"]).parent.parent / "log" / "slurmctld.log"
    submitted = set(re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", ctld.read_text()))
    assert {r["JobID"] for r in rows} <= submitted


def test_unknown_partition_fails_fast_with_sbatch_message(cluster, tmp_path):
    env = cluster
    profile = tmp_path / "profile"
    profile.mkdir()
    text = (REPO / "tests" / "slurm" / "profile" / "config.yaml").read_text()
    (profile / "config.yaml").write_text(
        text.replace("slurm_account: lea", "slurm_account: lea\n  slurm_partition: nosuch")
    )
    results = tmp_path / "results"
    cfg = workload.write_workload(tmp_path, results)
    cmd = [
        SNAKEMAKE,
        *_slurm_profile(tmp_path, profile),
        "--configfile",
        str(cfg),
        "--",
        str(results / workload.DATASET / "data" / "stats.json"),
    ]
    # a hang would run into the timeout (TimeoutExpired fails the test): the bound, not a speed check
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "invalid partition specified: nosuch" in out, out[-3000:]
    assert not (results / workload.DATASET / "data" / "stats.json").exists()
