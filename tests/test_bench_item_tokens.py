"""benchmarks/bench_item_tokens.py's curve resumes midway from its checkpoint (``--checkpoint-dir``): a recipe cut
after some item-batch iterations and rerun gives the same curve as an uncut run, and its checkpoint is removed once
the recipe's rows are written."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
from test_env_fixtures import make_data, make_tiny_llm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_item_tokens

import lea.llm.item_tokens as it_mod


class Cut(Exception):
    pass


def run(
    monkeypatch: pytest.MonkeyPatch, llm: Path, items: Path, csv_path: Path, ck: Path | None, lr: str = "0.05"
) -> None:
    argv = [
        "bench_item_tokens.py", "--llm", str(llm), "--dtype", "fp32", "--attn", "eager", "--items", str(items),
        "--n-items", "10", "--skip-speed", "--batch-items", "4", "--pairs", "40", "--eval-at", "0,2,5",
        "--recipe", f"r:random:{lr}:5:all", "--curve-csv", str(csv_path),
    ]  # fmt: skip
    if ck is not None:
        argv += ["--checkpoint-dir", str(ck), "--checkpoint-every", "2"]
    monkeypatch.setattr(sys, "argv", argv)
    bench_item_tokens.main()


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_curve_resumes_from_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    llm = make_tiny_llm(tmp_path / "llm")
    items = make_data(tmp_path / "data") / "items.parquet"
    run(monkeypatch, llm, items, tmp_path / "whole.csv", None)

    ck = tmp_path / "ck"
    saves = {"n": 0}
    real_save = it_mod.save_checkpoint

    def cut_after_three(path: Path, state: dict) -> None:  # type: ignore[type-arg]
        real_save(path, state)
        saves["n"] += 1
        if saves["n"] == 3:  # mid-recipe: the third checkpoint, in the second item batch
            raise Cut

    monkeypatch.setattr(it_mod, "save_checkpoint", cut_after_three)
    with pytest.raises(Cut):
        run(monkeypatch, llm, items, tmp_path / "cut.csv", ck)
    assert (ck / "curve_r.pt").exists() and not (tmp_path / "cut.csv").exists()
    monkeypatch.setattr(it_mod, "save_checkpoint", real_save)
    run(monkeypatch, llm, items, tmp_path / "cut.csv", ck)
    assert not (ck / "curve_r.pt").exists()

    whole, cut = read(tmp_path / "whole.csv"), read(tmp_path / "cut.csv")
    assert [r["at_iteration"] for r in cut] == ["0", "2", "5"]
    for a, b in zip(whole, cut, strict=True):
        for key in ("train_loss", "own_vs_other", "mean_nll_own", "mean_nll_other"):
            assert a[key] == b[key], key
    assert all(r["resumed"] == "True" and r["train_cpu_s"] == "" for r in cut)
    # counted (a number), not left empty; the CSV rounds to 0.1 s, so a fast machine may read 0.0 for this tiny model
    assert all(r["resumed"] == "False" and float(r["train_cpu_s"]) >= 0 for r in whole)


def test_stale_checkpoint_is_not_a_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint left by a recipe of the same name but other settings is ignored: the rerun starts afresh, gives
    the uncut curve of its own settings and says it was not resumed (its CPU seconds are counted)."""
    llm = make_tiny_llm(tmp_path / "llm")
    items = make_data(tmp_path / "data") / "items.parquet"
    run(monkeypatch, llm, items, tmp_path / "whole.csv", None, lr="0.1")

    ck = tmp_path / "ck"
    real_save = it_mod.save_checkpoint

    def cut_at_first(path: Path, state: dict) -> None:  # type: ignore[type-arg]
        real_save(path, state)
        raise Cut

    monkeypatch.setattr(it_mod, "save_checkpoint", cut_at_first)
    with pytest.raises(Cut):
        run(monkeypatch, llm, items, tmp_path / "stale.csv", ck, lr="0.05")
    assert (ck / "curve_r.pt").exists()
    monkeypatch.setattr(it_mod, "save_checkpoint", real_save)
    run(monkeypatch, llm, items, tmp_path / "fresh.csv", ck, lr="0.1")

    whole, fresh = read(tmp_path / "whole.csv"), read(tmp_path / "fresh.csv")
    for a, b in zip(whole, fresh, strict=True):
        assert a["own_vs_other"] == b["own_vs_other"] and a["train_loss"] == b["train_loss"]
    assert all(r["resumed"] == "False" and float(r["train_cpu_s"]) >= 0 for r in fresh)
