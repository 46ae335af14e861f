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
    "report_le_curve",
    "report_claims",
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


def test_full_config_dry_runs_with_the_paper_llms(repo, tmp_path):
    """config/config.yaml (le.llm: mistral7b, and the Llama-2 ablation) resolves without weights: the LLM stages get
    the bf16, BOS-first settings of llms.mistral7b / llms.llama2_7b."""
    import lea.config as leacfg

    cfg = leacfg.load_config(["config/config.yaml"])
    assert cfg["le"]["llm"] == "mistral7b"
    for ds in cfg["datasets"].values():  # empty raw files: a dry run only needs them to exist
        for f in ds["files"].values():
            p = tmp_path / "data" / ds["source"] / f
            p.parent.mkdir(parents=True, exist_ok=True)
            p.touch()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = [SNAKEMAKE, "-n", "-p", "--nolock", "--cores", "2", "--configfile", "config/config.yaml", "--config"]
    cmd += [f"results_dir={tmp_path}/results", f"resources_dir={tmp_path}/resources", f"data_dir={tmp_path}/data"]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    counts = _job_counts(proc.stdout)
    assert counts["fit_le"] >= 1 and "llm_convert" not in counts and "fetch_llm" not in counts
    for llm, n in (("mistral7b", len(cfg["datasets_enabled"])), ("llama2_7b", 1)):  # the Llama-2 ablation: LFM only
        cmds = [ln for ln in proc.stdout.splitlines() if "lea item-tokens" in ln and f"/le/{llm} " in ln]
        assert len(cmds) == n, (llm, len(cmds))
        for c in cmds:
            assert '"bos": true' in c and '"load_in_4bit": false' in c and '"dtype": "bf16"' in c, c
    assert counts["item_tokens"] == len(cfg["datasets_enabled"]) + 1


def _jobs(stdout: str) -> list[dict[str, str]]:
    """The dry run's jobs: rule name plus each `key: value` line (input, output, wildcards, ...)."""
    jobs = []
    for block in re.split(r"^(?:localrule|rule) ", stdout, flags=re.M)[1:]:
        name, _, rest = block.partition(":\n")
        fields = dict(re.findall(r"^    (\w+): (.*)$", rest.split("\n\n")[0], re.M))
        jobs.append({"rule": name.strip(), **fields})
    return jobs


def test_le_replicates_dag(repo, tmp_path):
    """le.replicates: 2 plans the LE chain twice (replicate 0 at today's paths, replicate 1 under rep1/, each with
    its own seed), and recommender seed s reads replicate s mod 2; base runs read no LE, only the shared pool. A
    setting with its own replicates: 1 (here the -SM ablation) is made once, and every seed reads that one."""
    extra = tmp_path / "rep2.yaml"
    sm = "frac0.1-SM: {fraction: 0.1, state_loss: false, replicates: 1}"
    extra.write_text(f"le:\n  replicates: 2\n  settings:\n    {sm}\n")
    proc = _dry_run(repo, tmp_path, "--configfile", "config/demo.yaml", str(extra))
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = _jobs(proc.stdout)
    fits = [j for j in jobs if j["rule"] == "fit_le"]
    le_of = {id(j): re.search(r"le=([^,\s]+)", j["wildcards"]).group(1) for j in fits}
    les = set(le_of.values()) - {"frac0.1-SM"}
    reps = sorted(re.search(r"rep=([^,]*)", j["wildcards"]).group(1) for j in fits if le_of[id(j)] in les)
    assert len(fits) == 2 * len(les) + 1 and reps == sorted(["", "/rep1"] * len(les))
    sm = [j for j in fits if le_of[id(j)] == "frac0.1-SM"]
    assert "rep=," in sm[0]["wildcards"]
    assert _job_counts(proc.stdout)["item_tokens"] == 2 and _job_counts(proc.stdout)["negatives"] == 1
    trains = [j for j in jobs if j["rule"] == "train"]
    assert trains
    sm_seeds: set[int] = set()
    for j in trains:
        seed = int(re.search(r"seed=(\d+)", j["wildcards"]).group(1))
        le_inputs = [p for p in j["input"].split(", ") if "/le/" in p]
        want = "/le/smollm2/rep1/" if seed % 2 else "/le/smollm2/frac"
        assert all(want in p for p in le_inputs if "/frac0.1-SM/" not in p), (seed, le_inputs)
        assert all("/le/smollm2/frac0.1-SM/" in p for p in le_inputs if "frac0.1-SM" in p), (seed, le_inputs)
        sm_seeds.update(seed for p in le_inputs if "frac0.1-SM" in p)
        assert ("framework=normal" in j["wildcards"]) != any(
            p.endswith("/negatives.parquet") for p in j["input"].split(", ")
        )
    assert sm_seeds == {0, 1}  # both seeds' LES -SM runs read the one replicate


def test_a_dataset_with_its_own_default_le_and_item_tokens_dag(repo, tmp_path):
    """datasets.<name>.le_default and .item_tokens: the second dataset's LE runs read its own LE setting's files, and
    its item tokens get its own recipe; the first dataset's keep le.default's and le.item_tokens."""
    import yaml

    import lea.config as leacfg

    demo = leacfg.load_config([repo / "config/demo.yaml"])["datasets"]["demo"]
    keys = ("reader", "source", "files", "text_fields", "sentence_template", "domain", "keep_top_items", "max_seq_len",
            "max_sequences")  # fmt: skip
    two = {
        "datasets_enabled": ["demo", "demo2"],
        "datasets": {
            "demo2": {**{k: demo[k] for k in keys}, "le_default": "frac0.05", "item_tokens": {"iterations": 3}}
        },
        "experiments": {"fig5a": {"enabled": False}, "fig5b": {"enabled": False}},  # LE sweeps need one default LE
    }
    extra = tmp_path / "two.yaml"
    extra.write_text(yaml.safe_dump(two))
    proc = _dry_run(repo, tmp_path, "--configfile", "config/demo.yaml", str(extra), "-p")
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = _jobs(proc.stdout)
    trains = [j for j in jobs if j["rule"] == "train" and "/le/" in j["input"]]
    for ds, le in (("demo", "frac0.1"), ("demo2", "frac0.05")):
        mine = [j for j in trains if f"dataset={ds}," in j["wildcards"]]
        assert mine, ds
        for j in mine:
            le_inputs = [p for p in j["input"].split(", ") if "/le/" in p]
            assert all(f"/{ds}/le/smollm2/{le}/" in p for p in le_inputs), (ds, le_inputs)
    itok = [ln for ln in proc.stdout.splitlines() if "lea item-tokens" in ln]
    assert len(itok) == 2
    for ln in itok:
        assert ('"iterations": 3' in ln) == ("/demo2/" in ln), ln
