"""Killed item-token and LE fine-tuning runs resume from their checkpoints and end with the same tensors as
uninterrupted runs (tiny random Llama); a checkpoint of other settings is ignored."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import torch
from safetensors.torch import save_file
from test_env_fixtures import DOMAIN, llm_settings, tiny_data, tiny_llm  # noqa: F401

import lea.llm.item_tokens as it_mod
from lea.env.model import LE
from lea.env.train import fit, le_subset, load_sequences, trainable_state, transitions
from lea.llm.item_tokens import encode_sentences, learn_item_tokens
from lea.llm.load import load_llm

torch.set_num_threads(1)


class Killed(RuntimeError):
    pass


def dies_at_call(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, n: int) -> None:
    """Make ``owner.name`` raise on its n-th call (a kill in the middle of the loop)."""
    original = getattr(owner, name)
    calls = {"n": 0}

    def wrapped(*a, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == n:
            raise Killed("simulated kill")
        return original(*a, **kw)

    monkeypatch.setattr(owner, name, wrapped)


# --- item tokens (the naive padded path; the fast one: test_llm_item_tokens_fast.py): 6 items in 2 batches of 3,
# 4 iterations each = 8 item-batch iterations, a checkpoint every 3 ---
IT = dict(
    iterations=4, lr=0.05, batch_items=3, init="random", seed=3, progress=False, checkpoint_every=3, method="naive"
)


def _item_setup(tiny_llm: Path, tiny_data: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    model, tok = load_llm(llm_settings(tiny_llm), verbose=False)
    sentences = pl.read_parquet(tiny_data / "items.parquet").sort("item")["sentence"].to_list()[:6]
    return model, encode_sentences(tok, sentences, "[BOS]"), tok.pad_token_id


def test_item_tokens_resume_equals_straight_run(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model, enc, pad = _item_setup(tiny_llm, tiny_data)
    clean = learn_item_tokens(model, enc, pad, **IT)
    ckpt = tmp_path / "checkpoint.pt"
    # sentence_nll calls: batch 1 = 4 iterations + its final loss, then batch 2's iterations: the 8th call is
    # iteration 7 of 8, so the last checkpoint (iteration 6) is inside batch 2, with its own Adam state
    dies_at_call(monkeypatch, it_mod, "sentence_nll", 8)
    with pytest.raises(Killed):
        learn_item_tokens(model, enc, pad, checkpoint=ckpt, **IT)
    assert ckpt.exists()
    monkeypatch.undo()
    capsys.readouterr()
    resumed = learn_item_tokens(model, enc, pad, checkpoint=ckpt, **IT)
    assert "resuming from" in capsys.readouterr().err
    assert torch.equal(resumed[0], clean[0]) and torch.equal(resumed[1], clean[1])
    assert resumed[2] == clean[2]  # the loss curve


def test_item_tokens_checkpoint_of_other_settings_is_ignored(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model, enc, pad = _item_setup(tiny_llm, tiny_data)
    ckpt = tmp_path / "checkpoint.pt"
    dies_at_call(monkeypatch, it_mod, "sentence_nll", 8)
    with pytest.raises(Killed):
        learn_item_tokens(model, enc, pad, checkpoint=ckpt, **IT)
    monkeypatch.undo()
    other = {**IT, "lr": 0.1}
    capsys.readouterr()
    got = learn_item_tokens(model, enc, pad, checkpoint=ckpt, **other)
    assert "belongs to other settings" in capsys.readouterr().err
    assert torch.equal(got[0], learn_item_tokens(model, enc, pad, **other)[0])
    ckpt.write_bytes(b"half a checkpoint")  # a write cut short
    learn_item_tokens(model, enc, pad, checkpoint=ckpt, **other)
    assert "ignoring unreadable checkpoint" in capsys.readouterr().err


# --- LE fine-tuning: 20 transitions, batches of 4, 2 epochs = 10 steps, a checkpoint every 3 ---
FT = {"epochs": 2, "batch_size": 4, "lr": 0.005, "head_lr": 0.05, "checkpoint_every": 3}


def _le(tiny_llm: Path, tiny_data: Path, tmp_path: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    from lea.env.cli import build

    tokens = tmp_path / "item_tokens.safetensors"
    if not tokens.exists():
        save_file({"item_tokens": torch.randn(12, 32, generator=torch.Generator().manual_seed(0))}, str(tokens))
    s = {"llm": llm_settings(tiny_llm), "le": {"fraction": 1.0}, "finetune": FT, "history": 4, "domain": DOMAIN}
    torch.manual_seed(0)  # as `lea fit-le`: the same LoRA and score-head initialisation in every run
    le, prompter, n_items = build(s, tiny_data, tokens)
    seqs, splits, _ = load_sequences(tiny_data)
    return le, prompter, transitions(seqs, le_subset(splits, 1.0), 4)[:20], n_items


def _same(a: LE, b: LE) -> None:
    sa, sb = trainable_state(a), trainable_state(b)
    assert sa.keys() == sb.keys() and any(k.startswith("score.") for k in sa)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def _losses(log: list[dict[str, float]]) -> list[dict[str, float]]:
    # the wall-clock and process-memory columns differ between runs
    return [
        {k: v for k, v in row.items() if k not in ("tokens_per_s", "transitions_per_s", "peak_rss_mb")} for row in log
    ]


def test_fit_le_resume_equals_straight_run(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    le, prompter, train, n = _le(tiny_llm, tiny_data, tmp_path)
    clean_log = fit(le, prompter, train, n, FT, seed=5, progress=False)
    assert len(clean_log) == 10
    ckpt = tmp_path / "checkpoint.pt"
    # killed in step 6: the last checkpoint (step 3) is mid-epoch, so the resumed run finishes epoch 1 in the
    # checkpoint's order and shuffles epoch 2 from the restored rng (with LoRA dropout drawing from torch's RNG)
    dies_at_call(monkeypatch, LE, "reward_loss", 6)
    killed, prompter, _, _ = _le(tiny_llm, tiny_data, tmp_path)
    with pytest.raises(Killed):
        fit(killed, prompter, train, n, FT, seed=5, progress=False, checkpoint=ckpt)
    assert ckpt.exists()
    monkeypatch.undo()
    resumed, prompter, _, _ = _le(tiny_llm, tiny_data, tmp_path)
    capsys.readouterr()
    log = fit(resumed, prompter, train, n, FT, seed=5, progress=False, checkpoint=ckpt)
    assert f"resuming from {ckpt} at step 3" in capsys.readouterr().err
    _same(resumed, le)
    assert _losses(log) == _losses(clean_log)


def test_fit_le_checkpoint_of_other_settings_is_ignored(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    le, prompter, train, n = _le(tiny_llm, tiny_data, tmp_path)
    ckpt = tmp_path / "checkpoint.pt"
    torch.save({"fingerprint": "someone-else", "step": 3}, ckpt)
    log = fit(le, prompter, train, n, FT, seed=5, progress=False, checkpoint=ckpt)
    assert "belongs to other settings" in capsys.readouterr().err
    assert len(log) == 10 and log[0]["step"] == 0  # trained from the start


def test_fit_le_max_grad_norm_clips_the_step_and_logs_the_norm(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    le, prompter, train, n = _le(tiny_llm, tiny_data, tmp_path)
    plain = fit(le, prompter, train, n, FT, seed=5, progress=False)
    assert all(row["grad_norm"] > 0 for row in plain)  # measured even without clipping
    # a bound above every step's norm is no clipping at all: the same run, bit for bit
    loose, prompter, _, _ = _le(tiny_llm, tiny_data, tmp_path)
    big = max(row["grad_norm"] for row in plain) * 10
    assert _losses(fit(loose, prompter, train, n, {**FT, "max_grad_norm": big}, seed=5, progress=False)) == _losses(
        plain
    )
    _same(loose, le)
    # a tight bound: every step Adam takes sees a gradient of at most that norm, and the run differs
    seen: list[float] = []
    step = torch.optim.Adam.step

    def recording(self, *a, **kw):  # type: ignore[no-untyped-def]
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        seen.append(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(x) for x in grads])).item())
        return step(self, *a, **kw)

    monkeypatch.setattr(torch.optim.Adam, "step", recording)
    tight, prompter, _, _ = _le(tiny_llm, tiny_data, tmp_path)
    bound = min(row["grad_norm"] for row in plain) / 4
    log = fit(tight, prompter, train, n, {**FT, "max_grad_norm": bound}, seed=5, progress=False)
    assert len(seen) == 10 and all(x <= bound * (1 + 1e-4) for x in seen)
    assert log[0]["grad_norm"] == pytest.approx(plain[0]["grad_norm"], rel=1e-5)  # step 0: same grads
    assert any(abs(a["loss"] - b["loss"]) > 1e-6 for a, b in zip(log, plain))
