"""A killed training run resumes from its checkpoint and ends with the same numbers as an uninterrupted run."""

from __future__ import annotations

import pytest
import torch

import lea.rl.train as train_mod
from lea.rl.synthetic import successor_dataset
from lea.rl.train import run

torch.set_num_threads(1)
# SA2C crosses its warm-up (optimizer switch) after the checkpoint; best_val keeps a best state dict in the loop
REC = {
    "epochs": 2,
    "eval_every": 4,
    "batch_size": 32,
    "sa2c_warmup_steps": 6,
    "lr": 0.005,
    "checkpoint_every": 5,
    "selection": "best_val",
    "selection_metric": "ndcg@10",
}


class Killed(RuntimeError):
    pass


def test_killed_run_resumes_to_identical_metrics(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    successor_dataset(data, n_items=30, n_seq=120, seed=1)
    clean = run({"rec": REC}, {"name": "base"}, "sasrec", "sa2c", 7, data, tmp_path / "clean", progress=False)
    assert clean["steps"] > 8

    original = train_mod.Trainer.train_step
    calls = {"n": 0}

    def dies_at_step_8(self, batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 8:
            raise Killed("simulated kill")
        return original(self, batch)

    monkeypatch.setattr(train_mod.Trainer, "train_step", dies_at_step_8)
    out = tmp_path / "resumed"
    with pytest.raises(Killed):
        run({"rec": REC}, {"name": "base"}, "sasrec", "sa2c", 7, data, out, progress=False)
    assert (out / "checkpoint.pt").exists() and not (out / "metrics.json").exists()

    monkeypatch.setattr(train_mod.Trainer, "train_step", original)
    capsys.readouterr()
    resumed = run({"rec": REC}, {"name": "base"}, "sasrec", "sa2c", 7, data, out, progress=False)
    assert "resuming from" in capsys.readouterr().err
    assert resumed["test"] == clean["test"] and resumed["valid"] == clean["valid"]
    assert resumed["selected_step"] == clean["selected_step"]
    # the resumed run says where it resumed and the seconds its killed part ran up to the checkpoint at step 5
    assert clean["resumed_from_step"] is None and clean["seconds_before_resume"] is None
    # (rounded to 10 ms: a fast machine may read 0, but never None)
    assert resumed["resumed_from_step"] == 5 and resumed["seconds_before_resume"] >= 0
    assert not (out / "checkpoint.pt").exists()  # removed once the run is complete


def test_checkpoint_of_other_settings_is_ignored(tmp_path, capsys):
    data = tmp_path / "data"
    successor_dataset(data, n_items=30, n_seq=120, seed=1)
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"trainer": {}, "loop": {"fingerprint": "someone-else"}}, out / "checkpoint.pt")
    m = run({"rec": {**REC, "epochs": 1}}, {"name": "base"}, "gru", "snqn", 0, data, out, progress=False)
    assert "belongs to other settings" in capsys.readouterr().err
    assert m["steps"] > 0
