"""The LE's learning curve (lea.env.curve, learning_curve.csv) on a tiny random Llama: points at the due steps with
values in range; measuring changes no loss and no parameter; a killed and resumed fit ends with the same curve;
`lea fit-le` writes the CSV and `lea report-le-curve` draws it; the report rule is planned."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import torch
from test_env_fixtures import DOMAIN, llm_settings, tiny_data, tiny_llm  # noqa: F401
from test_le_checkpoint import FT, Killed, _le, _losses, _same, dies_at_call

from lea.env.curve import COLUMNS, LearningCurve, frame, read_curve, write_curve
from lea.env.model import LE
from lea.env.train import fit, le_subset, load_sequences, transitions
from lea.errors import InputError

torch.set_num_threads(1)

# FT: 20 transitions, batches of 4, 2 epochs = 10 steps, a checkpoint every 3; a curve point every 4 steps
EVERY, N_VALID = 4, 6
WALL = ("wall_s", "measure_s")  # the clock columns differ between runs


def _valid(tiny_data: Path) -> list:  # noqa: F811
    seqs, splits, _ = load_sequences(tiny_data)
    return transitions(seqs, sorted(splits.filter(pl.col("split") == "valid")["sequence"].to_list()), 4)


def _curve(prompter, tiny_data: Path, n_items: int, every: int = EVERY, reward_prior: bool = False) -> LearningCurve:  # type: ignore[no-untyped-def]  # noqa: F811
    return LearningCurve(prompter, _valid(tiny_data), n_items, every, N_VALID, reward_prior=reward_prior, seed=5)


def _points(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in WALL} for r in rows]


def test_curve_points_at_due_steps_with_values_in_range(tiny_llm: Path, tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    le, prompter, train, n = _le(tiny_llm, tiny_data, tmp_path)
    curve = _curve(prompter, tiny_data, n)
    log = fit(le, prompter, train, n, FT, seed=5, progress=False, curve=curve)
    rows = curve.rows
    assert [r["step"] for r in rows] == [0, 4, 8, 10]  # before the first step, every 4, after the last
    assert [r["transitions"] for r in rows] == [0, 16, 32, 40]
    assert [r["epoch"] for r in rows] == [0.0, 0.8, 1.6, 2.0]
    assert rows[0]["loss"] is None and rows[0]["loss_mean"] is None
    losses = [r["loss"] for r in log]  # log row k is the (k + 1)-th step
    assert [r["loss"] for r in rows[1:]] == [losses[3], losses[7], losses[9]]
    assert rows[1]["loss_mean"] == pytest.approx(sum(losses[0:4]) / 4)
    assert rows[3]["loss_mean"] == pytest.approx(sum(losses[8:10]) / 2)
    for r in rows:
        assert set(r) == set(COLUMNS)
        assert r["valid_transitions"] == N_VALID
        assert r["reward.chance"] == 0.5 and r["choice.chance"] == 0.2
        assert r["state.chance"] == pytest.approx(10 / n) or r["state.chance"] == 1.0
        for k in ("reward.pairwise_accuracy", "reward.auc", "state.hr@10", "state.mrr", "choice.accuracy"):
            assert 0.0 <= r[k] <= 1.0, k
        for b in ("reward", "state", "choice"):
            assert 0.0 <= r[f"{b}.p_value_vs_chance"] <= 1.0
            assert r[f"{b}.ci95_low"] <= r[f"{b}.ci95_high"]
        assert r["wall_s"] >= 0 and r["measure_s"] >= 0  # rounded to 1 ms: a fast machine may read 0
    assert [r["wall_s"] for r in rows] == sorted(r["wall_s"] for r in rows)
    # the step-0 point measures the untrained LE and the last one the trained LE: their rewards differ
    assert rows[0]["reward.mean_positive"] != rows[-1]["reward.mean_positive"]
    assert not le.training  # fit leaves the LE in eval mode, as without a curve


@pytest.mark.parametrize("recipe", ["paper", "extended"])
def test_measuring_changes_no_loss_and_no_parameter(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
    recipe: str,
) -> None:
    ft = {**FT, "recipe": recipe}  # LoRA dropout (torch's RNG) on; extended adds the choice task (fit's rng)
    plain, prompter, train, n = _le(tiny_llm, tiny_data, tmp_path)
    plain_log = fit(plain, prompter, train, n, ft, seed=5, progress=False)
    measured, prompter, _, _ = _le(tiny_llm, tiny_data, tmp_path)
    curve = _curve(prompter, tiny_data, n, every=1, reward_prior=recipe == "extended")  # a point after every step
    log = fit(measured, prompter, train, n, ft, seed=5, progress=False, curve=curve)
    assert len(curve.rows) == 11
    assert _losses(log) == _losses(plain_log)
    _same(measured, plain)


def test_killed_and_resumed_fit_gives_the_same_curve(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    le, prompter, train, n = _le(tiny_llm, tiny_data, tmp_path)
    clean = _curve(prompter, tiny_data, n)
    clean_log = fit(le, prompter, train, n, FT, seed=5, progress=False, curve=clean)
    ckpt = tmp_path / "checkpoint.pt"
    # killed in step 7: the checkpoint at step 6 holds the points of steps 0 and 4
    dies_at_call(monkeypatch, LE, "reward_loss", 7)
    killed, prompter, _, _ = _le(tiny_llm, tiny_data, tmp_path)
    with pytest.raises(Killed):
        fit(
            killed,
            prompter,
            train,
            n,
            FT,
            seed=5,
            progress=False,
            checkpoint=ckpt,
            curve=_curve(prompter, tiny_data, n),
        )
    assert [r["step"] for r in torch.load(ckpt, weights_only=True)["curve"]["rows"]] == [0, 4]
    monkeypatch.undo()
    resumed, prompter, _, _ = _le(tiny_llm, tiny_data, tmp_path)
    curve = _curve(prompter, tiny_data, n)
    capsys.readouterr()
    log = fit(resumed, prompter, train, n, FT, seed=5, progress=False, checkpoint=ckpt, curve=curve)
    assert f"resuming from {ckpt} at step 6" in capsys.readouterr().err
    assert _points(curve.rows) == _points(clean.rows)
    assert _losses(log) == _losses(clean_log)
    _same(resumed, le)


def test_checkpoint_of_another_curve_resumes_the_training(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    le, prompter, train, n = _le(tiny_llm, tiny_data, tmp_path)
    clean_log = fit(le, prompter, train, n, FT, seed=5, progress=False)
    ckpt = tmp_path / "checkpoint.pt"
    dies_at_call(monkeypatch, LE, "reward_loss", 5)
    killed, prompter, _, _ = _le(tiny_llm, tiny_data, tmp_path)
    with pytest.raises(Killed):  # a run without a curve (curve_every 0), its checkpoint at step 3
        fit(killed, prompter, train, n, {**FT, "curve_every": 0}, seed=5, progress=False, checkpoint=ckpt)
    monkeypatch.undo()
    resumed, prompter, _, _ = _le(tiny_llm, tiny_data, tmp_path)
    curve = _curve(prompter, tiny_data, n)
    capsys.readouterr()
    # the curve settings are no part of the training's fingerprint: the run resumes, its curve starts after step 3
    log = fit(resumed, prompter, train, n, {**FT, "curve_every": EVERY}, seed=5, progress=False, checkpoint=ckpt,
              curve=curve)  # fmt: skip
    err = capsys.readouterr().err
    assert f"resuming from {ckpt} at step 3" in err and "it starts after step 3" in err
    assert [r["step"] for r in curve.rows] == [4, 8, 10]
    assert curve.rows[0]["loss_mean"] == pytest.approx(clean_log[3]["loss"])  # the steps after the resume only
    assert _losses(log) == _losses(clean_log)
    _same(resumed, le)


def _settings(llm: Path, **finetune) -> dict:
    return {
        "llm": llm_settings(llm),
        "le": {"fraction": 1.0, "state_loss": True, "item_tokens": True, "name": "t"},
        "finetune": {"epochs": 1, "batch_size": 8, "lr": 0.005, "valid_transitions": 40, **finetune},
        "history": 4,
        "domain": DOMAIN,
    }


def test_fit_le_writes_the_curve_and_the_report_draws_it(tiny_llm: Path, tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    from safetensors.torch import save_file

    from lea.cli import main

    tokens = tmp_path / "item_tokens.safetensors"
    save_file({"item_tokens": torch.randn(12, 32, generator=torch.Generator().manual_seed(0))}, str(tokens))
    seqs, splits, _ = load_sequences(tiny_data)
    steps = math.ceil(len(transitions(seqs, le_subset(splits, 1.0), 4)) / 8)
    argv = ["fit-le", "--data-dir", str(tiny_data), "--item-tokens", str(tokens)]
    s = _settings(tiny_llm, curve_every=5, curve_transitions=10, recipe="extended")
    assert main([*argv, "--settings", json.dumps(s), "--out-dir", str(tmp_path / "on")]) == 0
    df = read_curve(tmp_path / "on" / "learning_curve.csv")
    assert df.columns == list(COLUMNS)
    assert df["step"].to_list() == sorted({0, *range(5, steps + 1, 5), steps})
    assert df["valid_transitions"].to_list() == [10] * df.height
    q = json.loads((tmp_path / "on" / "le_quality.json").read_text())
    assert q["curve_points"] == df.height
    # the points' own seconds, summed (rounded to 0.1 s, so not "> 0": a fast machine may read 0.0)
    assert q["curve_time_s"] == pytest.approx(float(df["measure_s"].sum()), abs=0.051)
    assert main(["report-le-curve", "--csv", str(tmp_path / "on" / "learning_curve.csv"),
                 "--out-png", str(tmp_path / "curve.png"), "--title", "t on tiny"]) == 0  # fmt: skip
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # curve_every 0: the CSV is there with its header and no rows; the figure says there is nothing to draw
    s = _settings(tiny_llm, curve_every=0)
    assert main([*argv, "--settings", json.dumps(s), "--out-dir", str(tmp_path / "off")]) == 0
    off = read_curve(tmp_path / "off" / "learning_curve.csv")
    assert off.height == 0 and off.columns == list(COLUMNS)
    assert json.loads((tmp_path / "off" / "le_quality.json").read_text())["curve_points"] == 0
    assert main(["report-le-curve", "--csv", str(tmp_path / "off" / "learning_curve.csv"),
                 "--out-png", str(tmp_path / "off.png")]) == 0  # fmt: skip
    assert (tmp_path / "off.png").stat().st_size > 0


def test_bad_curve_csv_is_named(tmp_path: Path) -> None:
    rows = [{c: 0.5 for c in COLUMNS} | {"step": s, "transitions": 4 * s, "valid_transitions": 6} for s in (0, 3)]
    good = tmp_path / "learning_curve.csv"
    write_curve(rows, good)
    assert read_curve(good).height == 2
    frame(rows).drop("state.hr@10").write_csv(tmp_path / "short.csv")
    with pytest.raises(InputError, match=r"short\.csv: column 'state\.hr@10' is missing"):
        read_curve(tmp_path / "short.csv")
    frame(rows).with_columns(pl.lit("high").alias("reward.auc")).write_csv(tmp_path / "text.csv")
    with pytest.raises(InputError, match=r"column 'reward\.auc' must be numeric"):
        read_curve(tmp_path / "text.csv")
    frame(rows).with_columns(step=pl.Series([0, None], dtype=pl.Int64)).write_csv(tmp_path / "gap.csv")
    with pytest.raises(InputError, match=r"gap\.csv:3: column 'step' is empty"):
        read_curve(tmp_path / "gap.csv")


def test_demo_plans_a_curve_figure_per_le_setting(repo: Path, tmp_path: Path) -> None:
    snakemake = str(Path(sys.executable).parent / "snakemake")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = [snakemake, "-n", "--nolock", "--cores", "1", "--configfile", "config/demo.yaml", "--forceall",
           "--config", f"results_dir={tmp_path}/results", "--", "le_curves"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert re.search(r"^report_le_curve\s+4$", proc.stdout, re.M), proc.stdout[-2000:]
    assert f"{tmp_path}/results/demo/figures/le_curve_frac0.1.png" in proc.stdout
    assert f"{tmp_path}/results/demo/le/smollm2/frac0.1/learning_curve.csv" in proc.stdout
