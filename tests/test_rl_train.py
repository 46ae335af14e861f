"""End-to-end runs on small synthetic data: outputs per the contract, determinism, learning, LE inputs, warm-up,
inference."""

import json
import subprocess
import sys

import polars as pl
import pytest
import torch

from lea.errors import ConfigError, MissingInputError
from lea.rec.recommend import load_model, recommend
from lea.rl.synthetic import fake_le_tables, successor_dataset
from lea.rl.train import run
from lea.rl.warmup import warmup_top5

torch.set_num_threads(1)
REC = {"epochs": 1, "eval_every": 20, "batch_size": 32, "sa2c_warmup_steps": 10, "lr": 0.005}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("syn")
    tables = successor_dataset(d / "data", n_items=40, n_seq=200, seed=0)
    le = fake_le_tables(d / "le", tables["interactions"], 40, dim=6, backbone="sasrec")
    return d, le


def test_run_outputs_and_determinism(data, tmp_path):
    d, _ = data
    m1 = run({"rec": REC}, {"name": "base"}, "sasrec", "sa2c", 3, d / "data", tmp_path / "a", progress=False)
    m2 = run({"rec": REC}, {"name": "base"}, "sasrec", "sa2c", 3, d / "data", tmp_path / "b", progress=False)
    assert m1["test"] == m2["test"] and m1["valid"] == m2["valid"]  # same seed, same config -> identical (CPU)
    m3 = run({"rec": REC}, {"name": "base"}, "sasrec", "sa2c", 4, d / "data", tmp_path / "c", progress=False)
    assert m3["test"] != m1["test"]
    out = tmp_path / "a"
    for f in ("model.safetensors", "metrics.json", "ranks.parquet", "train_log.csv", "train_log.png"):
        assert (out / f).exists(), f
    meta = json.loads((out / "metrics.json").read_text())
    assert {"test", "valid", "selection", "selected_step", "steps", "wall_time_s", "device", "config_hash"} <= set(meta)
    assert set(meta["test"]) == {f"{m}@{k}" for m in ("hr", "ndcg") for k in (5, 10, 20)}
    assert set(meta["cpu_kernels"]) == {"adam", "dropout"} and set(meta["cpu_kernels"].values()) <= {"native", "torch"}
    ranks = pl.read_parquet(out / "ranks.parquet")
    assert ranks.schema["rank"] == pl.Int32 and set(ranks["split"].unique()) == {"valid", "test"}
    assert ranks["rank"].min() >= 1 and ranks["rank"].max() <= 40  # the pad item (index 40) is never ranked
    from safetensors.torch import load_file

    keys = load_file(str(out / "model.safetensors"))
    assert any(k.startswith("net1.q_head") for k in keys) and "net0.sv_head.weight" in keys


def test_best_val_selection(data, tmp_path):
    d, _ = data
    rec = {**REC, "selection": "best_val", "selection_metric": "hr@10", "eval_every": 5}
    m = run({"rec": rec}, {"name": "base"}, "gru", "normal", 0, d / "data", tmp_path, progress=False)
    assert m["selection"] == "best_val:hr@10"
    log = pl.read_csv(tmp_path / "train_log.csv").drop_nulls("valid_hr@10")
    best = log.sort("valid_hr@10", descending=True, maintain_order=True).row(0, named=True)
    assert m["selected_step"] == best["step"]
    assert m["valid"]["hr@10"] == pytest.approx(best["valid_hr@10"])


def test_early_stopping_keeps_the_full_budget_runs_selection(data, tmp_path):
    """rec.patience is the fast path of a full-budget best_val run (the reference): the same trajectory up to the
    stop, so its selection is the best validation up to the stop, and it equals the full run's selected checkpoint
    and test numbers whenever the full run's best comes before the stop."""
    d, _ = data
    # Normal at a high lr peaks early on the successor data, then wanders below its best
    rec = {**REC, "selection": "best_val", "epochs": 6, "eval_every": 22, "lr": 0.05}
    full = run({"rec": rec}, {"name": "base"}, "gru", "normal", 0, d / "data", tmp_path / "full", progress=False)
    log = pl.read_csv(tmp_path / "full" / "train_log.csv").drop_nulls("valid_ndcg@10")
    vals, steps = log["valid_ndcg@10"].to_list(), log["step"].to_list()

    def reference(p: int) -> tuple[int, int]:
        """(stop step, selected step) of patience p read off the full run's validation curve."""
        best, best_step, since = -1.0, 0, 0
        for v, s in zip(vals, steps):
            best, best_step, since = (v, s, 0) if v > best else (best, best_step, since + 1)
            if since >= p and s < steps[-1]:
                return s, best_step
        return steps[-1], best_step

    stopped = [p for p in (1, 2, 3) if reference(p)[0] < steps[-1]]
    assert stopped, f"the full run never stalls: {vals}"
    for p in stopped:
        es = run({"rec": {**rec, "patience": p}}, {"name": "base"}, "gru", "normal", 0, d / "data",
                 tmp_path / f"p{p}", progress=False)  # fmt: skip
        stop, selected = reference(p)
        assert (es["steps"], es["selected_step"], es["planned_steps"]) == (stop, selected, full["steps"])
        assert pl.read_csv(tmp_path / f"p{p}" / "train_log.csv")["step"].max() == stop
        if full["selected_step"] <= stop:
            assert es["selected_step"] == full["selected_step"]
            assert es["test"] == full["test"] and es["valid"] == full["valid"]
    assert any(full["selected_step"] <= reference(p)[0] for p in stopped)
    # a patience the run never reaches changes nothing
    never = run({"rec": {**rec, "patience": len(vals)}}, {"name": "base"}, "gru", "normal", 0, d / "data",
                tmp_path / "never", progress=False)  # fmt: skip
    assert (never["steps"], never["test"]) == (full["steps"], full["test"])


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_early_stopping_rejects_bad_patience(data, tmp_path, bad):
    d, _ = data
    with pytest.raises(ConfigError, match=r"rec\.patience"):
        run({"rec": {**REC, "selection": "best_val", "patience": bad}}, {"name": "base"}, "gru", "normal", 0,
            d / "data", tmp_path, progress=False)  # fmt: skip


def test_early_stopping_needs_best_val(data, tmp_path):
    d, _ = data
    with pytest.raises(ConfigError, match="best_val"):
        run({"rec": {**REC, "patience": 2}}, {"name": "base"}, "gru", "normal", 0, d / "data", tmp_path,
            progress=False)  # fmt: skip


def test_validates_every_eval_every_steps_when_not_a_multiple_of_the_log_interval(data, tmp_path):
    d, _ = data
    rec = {**REC, "epochs": 100, "max_steps": 120, "eval_every": 55}  # training rows every 50 steps
    run({"rec": rec}, {"name": "base"}, "gru", "normal", 0, d / "data", tmp_path, progress=False)
    log = pl.read_csv(tmp_path / "train_log.csv")
    assert log.drop_nulls("valid_hr@10")["step"].to_list() == [55, 110, 120]
    assert log["step"].to_list() == [50, 55, 100, 110, 120]


@pytest.mark.parametrize("backbone", ["gru", "sasrec"])
def test_learns_successor_rule(data, tmp_path, backbone):
    d, _ = data
    rec = {**REC, "epochs": 100, "max_steps": 250, "eval_every": 250, "batch_size": 64}
    m = run({"rec": rec}, {"name": "base"}, backbone, "snqn", 0, d / "data", tmp_path, progress=False)
    assert m["test"]["hr@5"] > 0.9, m["test"]


def test_le_variant_runs_and_missing_inputs(data, tmp_path):
    d, le = data
    v = {"name": "LEASR", "state": "le+h", "reward": "le", "augment": "sv+q"}
    m = run(
        {"rec": REC},
        v,
        "sasrec",
        "sa2c",
        0,
        d / "data",
        tmp_path / "r",
        le_states=le["states"],
        le_rewards=le["rewards"],
        le_augment=le["augment"],
        progress=False,
    )
    assert m["settings"]["variant"]["state"] == "le+h"
    log = pl.read_csv(tmp_path / "r" / "train_log.csv")
    assert {"l_ah", "l_aq", "advantage"} <= set(log.columns)
    with pytest.raises(MissingInputError, match="rewards"):
        run(
            {"rec": REC},
            v,
            "sasrec",
            "sa2c",
            0,
            d / "data",
            tmp_path / "x",
            le_states=le["states"],
            le_augment=le["augment"],
            progress=False,
        )


def test_warmup_and_recommend(data, tmp_path):
    d, _ = data
    top = warmup_top5({"rec": REC}, "gru", 0, d / "data", steps=30, out=tmp_path / "top5.parquet")
    df = pl.read_parquet(tmp_path / "top5.parquet")
    assert df.schema["candidates"] == pl.List(pl.Int32) and df.height == top.height
    cands = df["candidates"].to_list()
    assert all(len(c) == 5 and len(set(c)) == 5 and max(c) < 40 for c in cands)  # never the pad item
    # a dataset whose recommender runs stop early (rec.patience with best_val) warms up the same fixed steps
    again = warmup_top5({"rec": {**REC, "selection": "best_val", "patience": 3}}, "gru", 0, d / "data", steps=30)
    assert again.equals(top)
    run(
        {"rec": {**REC, "epochs": 20}},
        {"name": "base"},
        "sasrec",
        "normal",
        0,
        d / "data",
        tmp_path / "run",
        progress=False,
    )
    rec = recommend(load_model(tmp_path / "run"), ["I0005", "I0006", "I0007"], k=3)
    assert rec.columns[:3] == ["rank", "raw_id", "item"] and rec.height == 3
    assert rec["raw_id"][0] == "I0008"  # learned: item i+1 follows item i
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "lea.cli",
            "recommend",
            "--run",
            str(tmp_path / "run"),
            "--history",
            "I0005,I0006,I0007",
            "-k",
            "2",
        ],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert "I0008" in cli.stdout and "Item number 8" in cli.stdout


def test_train_cli(data, tmp_path):
    d, le = data
    settings = json.dumps({"rec": {**REC, "max_steps": 5}})
    variant = json.dumps({"name": "LER", "reward": "le"})
    base = [
        sys.executable,
        "-m",
        "lea.cli",
        "train",
        "--settings",
        settings,
        "--variant",
        variant,
        "--backbone",
        "gru",
        "--framework",
        "snqn",
        "--seed",
        "1",
        "--data-dir",
        str(d / "data"),
        "--out-dir",
        str(tmp_path),
    ]
    missing = subprocess.run(base, capture_output=True, text=True)
    assert missing.returncode == 1 and "rewards" in missing.stderr and "Traceback" not in missing.stderr
    ok = subprocess.run(
        [*base, "--le-rewards", str(le["rewards"]), "--set", "eval_every=2"], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["steps"] == 5 and m["variant"] == "LER" and m["selection"] == "last"
    assert "valid hr@5=" in ok.stderr  # one line per validation in the log
