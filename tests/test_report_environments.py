"""The table "what the environment adds" (lea.report.environments) from fake runs, and its generated variants."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from report_fakes import write_run

from lea.cli import main
from lea.config import load_config, variant_settings
from lea.errors import ConfigError
from lea.report import environments as envs

REPO = Path(__file__).resolve().parents[1]
OVERRIDE = {
    "le": {"settings": {"frac0.1": {"fraction": 0.1}, "idrec0.1": {"fraction": 0.1, "env": "idrec"},
                        "random": {"env": "random"}}},
    "experiments": {"environments": {"variants": ["LER", "LEA", "LEASprimeR"], "frameworks": ["snqn", "sa2c"],
                                     "envs": ["frac0.1", "idrec0.1", "random"]}},
}  # fmt: skip


def quality(path: Path, env: str, acc: float) -> str:
    q = {
        "transitions": 100,
        "train_transitions": 600,
        "reward": {"pairwise_accuracy": acc, "auc": acc, "chance": 0.5, "p_value_vs_chance": 0.01},
        "state": {"hr@10": 0.02, "chance": 0.01, "p_value_vs_chance": 0.2},
        "choice": {"accuracy": 0.3, "chance": 0.2, "p_value_vs_chance": 0.04, "rule": f"{env} rule"},
    }
    path.mkdir(parents=True, exist_ok=True)
    (path / "le_quality.json").write_text(json.dumps(q))
    return str(path / "le_quality.json")


def test_generated_variants_and_rows() -> None:
    config = load_config([REPO / "config" / "demo.yaml"], OVERRIDE)
    envs.add_generated_variants(config)
    v = variant_settings(config, "LER_idrec0.1", "sa2c")
    assert v["le"] == "idrec0.1" and v["reward"] == "le" and v["label"] == "LER (idrec0.1)"
    rows = envs.rows(config)
    # LEAS'R is SA2C-only: 2 variants x snqn + 3 x sa2c
    assert [(r["framework"], r["variant"]) for r in rows] == [
        ("snqn", "LER"), ("snqn", "LEA"), ("sa2c", "LER"), ("sa2c", "LEA"), ("sa2c", "LEASprimeR")]  # fmt: skip
    assert rows[0]["cells"] == {"frac0.1": "LER", "idrec0.1": "LER_idrec0.1", "random": "LER_random"}
    assert ("sasrec", "sa2c", "base") in envs.runs(config)
    # a second row group (GRU's Table 5 rows): its rows follow the first group's, a repeated row appears once
    grp = {"groups": [{"backbones": ["gru"], "frameworks": ["sa2c"], "variants": ["LESprime", "LER"]},
                      {"backbones": ["sasrec"], "frameworks": ["sa2c"], "variants": ["LER"]}]}  # fmt: skip
    more = {**OVERRIDE, "experiments": {"environments": {**OVERRIDE["experiments"]["environments"], **grp}}}
    config = load_config([REPO / "config" / "demo.yaml"], more)
    envs.add_generated_variants(config)
    rows = envs.rows(config)
    assert [(r["backbone"], r["variant"]) for r in rows][5:] == [("gru", "LESprime"), ("gru", "LER")]
    assert len(rows) == 7 and rows[5]["cells"]["random"] == "LESprime_random"
    assert {("gru", "sa2c", "base"), ("gru", "sa2c", "LESprime_idrec0.1")} <= envs.runs(config)
    bad_grp = {"groups": [{"backbones": ["gru"], "frameworks": ["sa2c"], "variants": ["nope"]}]}
    config = load_config(
        [REPO / "config" / "demo.yaml"],
        {**OVERRIDE, "experiments": {"environments": {**OVERRIDE["experiments"]["environments"], **bad_grp}}},
    )
    with pytest.raises(ConfigError, match=r"experiments\.environments\.groups\.0\.variants\.0"):
        envs.add_generated_variants(config)
    bad = {**OVERRIDE, "experiments": {"environments": {"envs": ["nope"]}}}
    with pytest.raises(ConfigError, match=r"experiments\.environments\.envs\.0"):
        load_config([REPO / "config" / "demo.yaml"], bad)
    with pytest.raises(ConfigError, match=r"llms\.random"):
        load_config([REPO / "config" / "demo.yaml"], {"llms": {"random": {"path": "x"}}})


def test_a_dataset_with_its_own_default_le_gets_its_own_run_variants() -> None:
    """datasets.<name>.le_default: on that dataset the variant itself reads its own default LE, so the column of the
    global default needs a run of its own there (and the other way round on the first dataset)."""
    demo = load_config([REPO / "config" / "demo.yaml"])["datasets"]["demo"]
    over = {**OVERRIDE, "datasets": {"demo2": {**demo, "le_default": "idrec0.1"}},
            "datasets_enabled": ["demo", "demo2"]}  # fmt: skip
    config = load_config([REPO / "config" / "demo.yaml"], over)
    gen = envs.add_generated_variants(config)
    assert {"LER_frac0.1", "LER_idrec0.1", "LER_random"} <= gen.keys() and gen["LER_frac0.1"]["le"] == "frac0.1"
    one = {r["variant"]: r["cells"] for r in envs.rows(config, "demo")}
    two = {r["variant"]: r["cells"] for r in envs.rows(config, "demo2")}
    assert one["LER"] == {"frac0.1": "LER", "idrec0.1": "LER_idrec0.1", "random": "LER_random"}
    assert two["LER"] == {"frac0.1": "LER_frac0.1", "idrec0.1": "LER", "random": "LER_random"}
    for d, cells in (("demo", one), ("demo2", two)):  # every cell's run reads its column's LE on its dataset
        for le, v in cells["LER"].items():
            assert variant_settings(config, v, "sa2c", d)["le"] == le, (d, le, v)


def test_table_from_fake_runs(tmp_path: Path) -> None:
    n = 40
    base_ranks = [5 + (i % 20) for i in range(n)]  # HR@10 = 0.3
    better = [1] * n  # every case a hit at rank 1
    runs = {"base": base_ranks, "LER": base_ranks, "LER_idrec0.1": better, "LER_random": base_ranks}
    dirs = {v: [str(write_run(tmp_path / v / f"seed{s}", r)) for s in (0, 1)] for v, r in runs.items()}
    spec = {
        "dataset": "t",
        "envs": [
            {"le": "frac0.1", "env": "llm", "quality": quality(tmp_path / "q_llm", "llm", 0.5)},
            {"le": "idrec0.1", "env": "idrec", "quality": quality(tmp_path / "q_id", "idrec", 0.8)},
            {"le": "random", "env": "random", "quality": quality(tmp_path / "q_rnd", "random", 0.9)},
        ],
        "rows": [{"backbone": "sasrec", "framework": "sa2c", "variant": "LER", "label": "LER", "base": dirs["base"],
                  "cells": {"frac0.1": dirs["LER"], "idrec0.1": dirs["LER_idrec0.1"], "random": dirs["LER_random"]}}],
    }  # fmt: skip
    md, csv, diag = tmp_path / "env.md", tmp_path / "env.csv", tmp_path / "diag.csv"
    argv = ["report-envs", "--spec", json.dumps(spec), "--out-md", str(md), "--out-csv", str(csv)]
    assert main([*argv, "--out-diagnostics-csv", str(diag)]) == 0
    df = pl.read_csv(csv)
    hr_base = sum(r <= 10 for r in base_ranks) / n
    assert df["base:hr@10"][0] == pytest.approx(hr_base)
    assert df["idrec0.1:hr@10_delta"][0] == pytest.approx(1.0 - hr_base)
    assert df["idrec0.1:hr@10_p"][0] < 1e-3
    assert df["frac0.1:hr@10_delta"][0] == 0.0 and df["frac0.1:hr@10_p"][0] == 1.0
    assert df["random:ndcg@10_delta"][0] == 0.0
    text = md.read_text()
    assert "idrec0.1 (idrec)" in text and "HR@10 +0.7000" in text and "random rule" in text
    d = pl.read_csv(diag)
    assert d["env"].to_list() == ["llm", "idrec", "random"] and d["reward.pairwise_accuracy"][1] == 0.8
    spec["envs"][0]["quality"] = str(tmp_path / "missing.json")
    argv[2] = json.dumps(spec)
    assert main(argv) == 1  # a clear error naming the missing file, no traceback
