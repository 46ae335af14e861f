"""The fast item-token path (length buckets without padding, the shared prefix's KV cache) against the naive padded
loop on a tiny fp32 Llama / Mistral: same losses, gradients and learned tokens (1e-4); the recipe knobs
(truncation, early stopping, snapshots) and resuming the fast path from a checkpoint."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import torch
from test_env_fixtures import llm_settings, make_tiny_llm, tiny_data, tiny_llm  # noqa: F401

import lea.llm.item_tokens as it_mod
from lea.llm.item_tokens import (
    PrefixKV,
    collate,
    encode_sentences,
    learn_item_tokens,
    make_buckets,
    own_vs_other,
    sentence_nll,
    suffix_nll,
    truncate,
)
from lea.llm.load import load_llm

torch.set_num_threads(1)
TOL = 1e-4


def _setup(folder: Path, data: Path, n: int | None = None):  # type: ignore[no-untyped-def]
    model, tok = load_llm(llm_settings(folder), verbose=False)
    sentences = pl.read_parquet(data / "items.parquet").sort("item")["sentence"].to_list()[:n]
    return model, tok, encode_sentences(tok, sentences, "[BOS]")


def _mixed(tok) -> list:  # type: ignore[no-untyped-def]
    """Sentences of several lengths and three different prefixes before S* (two items share each length)."""
    s = [
        "{S} movie is titled one two, its genres are drama.",
        "{S} movie is titled three, its genres are comedy.",
        "the user {S} movie is titled four five six.",
        "the user {S} movie is titled seven.",
        "the {S} movie is one.",
        "the {S} movie is two.",
        "{S} movie is titled eight nine ten, its genres are action, horror.",
    ]
    return encode_sentences(tok, s, "[BOS]")


def _naive_vs_fast_nll(model, enc, vecs, tol: float = 0.1):  # type: ignore[no-untyped-def]
    """Per-item losses and gradients of both paths for the same vectors."""
    pad = 0
    v1 = vecs.clone().requires_grad_(True)
    ids, att, slots, lab = collate(enc, pad)
    naive = sentence_nll(model, ids, att, slots, lab, v1)
    naive.sum().backward()
    kv = PrefixKV(model)
    v2 = vecs.clone().requires_grad_(True)
    fast = torch.empty(len(enc))
    buckets = make_buckets(enc, range(len(enc)), batch_items=64, pad_tolerance=tol)
    for b in buckets:
        fast[b.rows] = suffix_nll(model, kv, b, v2[b.rows])
    fast.sum().backward()
    return naive, fast, v1.grad, v2.grad, buckets


@pytest.mark.parametrize(("arch", "tol"), [("llama", 0.0), ("llama", 1.0), ("mistral", 0.0), ("mistral", 1.0)])
def test_fast_nll_and_gradients_equal_naive(tmp_path: Path, arch: str, tol: float) -> None:
    model, tok = load_llm(llm_settings(make_tiny_llm(tmp_path / arch, arch=arch)), verbose=False)
    enc = _mixed(tok)
    vecs = torch.randn(len(enc), model.config.hidden_size, generator=torch.Generator().manual_seed(0))
    naive, fast, g_naive, g_fast, buckets = _naive_vs_fast_nll(model, enc, vecs, tol)
    assert len({b.prefix for b in buckets}) == 3  # three prefixes, each with its own cached keys and values
    padded = [b for b in buckets if len(set(b.lengths.tolist())) > 1]
    assert not padded if tol == 0 else padded  # one length per bucket, or right padding exercised
    assert torch.allclose(naive, fast.detach(), atol=TOL)
    assert torch.allclose(g_naive, g_fast, atol=TOL)
    assert g_fast.abs().sum() > 0


def test_truncated_loss_is_the_first_tokens(tiny_llm: Path) -> None:  # noqa: F811
    model, tok = load_llm(llm_settings(tiny_llm), verbose=False)
    enc = _mixed(tok)
    cut = truncate(enc, 3)
    assert all(len(c.ids) == min(len(e.ids), e.slot + 4) for c, e in zip(cut, enc, strict=True))
    assert truncate(enc, None) is enc and [e.ids for e in truncate(enc, 1000)] == [e.ids for e in enc]
    vecs = torch.randn(len(enc), model.config.hidden_size, generator=torch.Generator().manual_seed(1))
    naive, fast, g_naive, g_fast, _ = _naive_vs_fast_nll(model, cut, vecs)
    assert torch.allclose(naive, fast.detach(), atol=TOL) and torch.allclose(g_naive, g_fast, atol=TOL)
    # the full sentence's first 3 losses are the truncated loss (causal: later tokens never reach them)
    ids, att, slots, _ = collate(enc, 0)
    emb = model.get_input_embeddings()(ids).index_put((torch.arange(len(enc)), slots), vecs)
    with torch.no_grad():
        h = model.get_decoder()(inputs_embeds=emb, attention_mask=att).last_hidden_state
        logp = model.get_output_embeddings()(h).log_softmax(-1)
    for r, e in enumerate(enc):
        pos = range(e.slot, min(e.slot + 3, len(e.ids) - 1))
        want = -torch.stack([logp[r, t, e.ids[t + 1]] for t in pos]).mean()
        assert abs(float(want) - float(naive[r].detach())) < TOL


@pytest.mark.parametrize("init", ["random", "text_mean"])
def test_fast_learning_equals_naive(tiny_llm: Path, tiny_data: Path, init: str) -> None:  # noqa: F811
    model, tok, enc = _setup(tiny_llm, tiny_data)
    kw = dict(iterations=6, lr=0.05, init=init, seed=2, progress=False, batch_items=5, pad_tolerance=0.3)
    snaps_f: dict[int, torch.Tensor] = {0: torch.empty(0), 3: torch.empty(0)}
    snaps_n: dict[int, torch.Tensor] = {0: torch.empty(0), 3: torch.empty(0)}
    tf, ff, cf, _ = learn_item_tokens(model, enc, tok.pad_token_id, method="fast", snapshots=snaps_f, **kw)
    tn, fn, cn, _ = learn_item_tokens(model, enc, tok.pad_token_id, method="naive", snapshots=snaps_n, **kw)
    assert torch.allclose(tf, tn, atol=TOL) and torch.allclose(ff, fn, atol=TOL)
    assert max(abs(a - b) for a, b in zip(cf, cn, strict=True)) < TOL
    assert torch.allclose(snaps_f[3], snaps_n[3], atol=TOL) and not torch.allclose(snaps_f[3], tf, atol=TOL)
    assert torch.equal(snaps_f[0], it_mod.init_tokens(model, enc, init, 2))
    assert cf[-1] < cf[0]


def test_fast_truncated_learning_equals_naive(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    model, tok, enc = _setup(tiny_llm, tiny_data)
    kw = dict(iterations=4, lr=0.05, seed=0, progress=False, batch_items=64, max_tokens=4)
    tf, ff, cf, _ = learn_item_tokens(model, enc, tok.pad_token_id, method="fast", **kw)
    tn, fn, cn, _ = learn_item_tokens(model, enc, tok.pad_token_id, method="naive", **kw)
    assert torch.allclose(tf, tn, atol=TOL) and torch.allclose(ff, fn, atol=TOL)
    assert max(abs(a - b) for a, b in zip(cf, cn, strict=True)) < TOL
    full, *_ = learn_item_tokens(model, enc, tok.pad_token_id, **{**kw, "max_tokens": None})
    assert not torch.allclose(tf, full, atol=TOL)  # truncation changed the objective


def test_own_vs_other_fast_equals_naive(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    model, tok, enc = _setup(tiny_llm, tiny_data)
    tokens = torch.randn(len(enc), model.config.hidden_size, generator=torch.Generator().manual_seed(4))
    f = own_vs_other(model, enc, tokens, tok.pad_token_id, pairs=50, seed=1, batch=7, method="fast")
    n = own_vs_other(model, enc, tokens, tok.pad_token_id, pairs=50, seed=1, batch=7, method="naive")
    assert f["accuracy"] == n["accuracy"] and f["pairs"] == 50
    assert abs(f["mean_nll_own"] - n["mean_nll_own"]) < TOL and abs(f["mean_nll_other"] - n["mean_nll_other"]) < TOL
    assert 0 < f["p_value_vs_chance"] <= 1


def test_early_stop_freezes_a_batch(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    model, tok, enc = _setup(tiny_llm, tiny_data)
    kw = dict(iterations=8, lr=0.05, seed=0, progress=False, batch_items=64)
    # min_delta larger than any improvement: every batch stops after its first iteration plus 2 without progress
    stopped, _, curve, _ = learn_item_tokens(
        model, enc, tok.pad_token_id, early_stop_patience=2, early_stop_min_delta=100.0, **kw
    )
    three, _, c3, _ = learn_item_tokens(model, enc, tok.pad_token_id, **{**kw, "iterations": 3})
    assert torch.allclose(stopped, three, atol=TOL)
    assert curve[:3] == pytest.approx(c3, abs=TOL) and curve[3:] == pytest.approx([curve[2]] * 5, abs=TOL)
    off, *_ = learn_item_tokens(model, enc, tok.pad_token_id, **kw)
    assert not torch.allclose(off, three, atol=TOL)


class Killed(RuntimeError):
    pass


def test_fast_resume_equals_straight_run(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, tok, enc = _setup(tiny_llm, tiny_data)
    kw = dict(iterations=4, lr=0.05, seed=3, progress=False, batch_items=3, checkpoint_every=3, max_tokens=5)
    snaps: dict[int, torch.Tensor] = {2: torch.empty(0)}
    clean = learn_item_tokens(model, enc, tok.pad_token_id, snapshots=snaps, **kw)
    original, calls = it_mod.suffix_nll, {"n": 0}

    def dies(*a, **k):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 8:  # inside the second bucket, after a checkpoint
            raise Killed("simulated kill")
        return original(*a, **k)

    monkeypatch.setattr(it_mod, "suffix_nll", dies)
    ckpt = tmp_path / "checkpoint.pt"
    resumed_snaps: dict[int, torch.Tensor] = {2: torch.empty(0)}
    with pytest.raises(Killed):
        learn_item_tokens(model, enc, tok.pad_token_id, checkpoint=ckpt, snapshots=resumed_snaps, **kw)
    assert ckpt.exists()
    monkeypatch.setattr(it_mod, "suffix_nll", original)
    resumed = learn_item_tokens(model, enc, tok.pad_token_id, checkpoint=ckpt, snapshots=resumed_snaps, **kw)
    assert torch.equal(clean[0], resumed[0]) and torch.equal(clean[1], resumed[1]) and clean[2] == resumed[2]
    assert torch.equal(snaps[2], resumed_snaps[2])


def test_schema_defaults_and_cli_knobs(repo: Path, tiny_llm: Path, tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    import json

    from lea.cli import main
    from lea.config import load_config
    from lea.errors import ConfigError

    it = load_config([repo / "config/config.yaml"])["le"]["item_tokens"]
    # the paper's recipe by default: whole sentences, no early stopping; the fast path
    assert it["method"] == "fast" and it["max_tokens"] is None and it["early_stop_patience"] is None
    assert it["dtype"] == "llm"
    with pytest.raises(ConfigError, match="max_tokens"):
        load_config([repo / "config/config.yaml"], {"le": {"item_tokens": {"max_tokens": 0}}})
    s = {
        "llm": llm_settings(tiny_llm),
        "item_tokens": {
            "iterations": 6,
            "lr": 0.05,
            "batch_items": 4,
            "heldout_pairs": 30,
            "max_tokens": 3,
            "early_stop_patience": 2,
            "early_stop_min_delta": 100.0,
        },
    }
    out = tmp_path / "le"
    args = [
        "item-tokens",
        "--settings",
        json.dumps(s),
        "--items",
        str(tiny_data / "items.parquet"),
        "--out-dir",
        str(out),
    ]
    assert main(args) == 0
    diag = json.loads((out / "item_tokens.json").read_text())
    assert diag["method"] == "fast" and diag["max_tokens"] == 3 and diag["early_stop_patience"] == 2
    assert diag["loss_curve"][3:] == pytest.approx([diag["loss_curve"][2]] * 3)  # every batch stopped after 3
    assert 0 < diag["own_vs_other"]["p_value_vs_chance"] <= 1 and diag["loss_tokens_per_s"] > 0


def test_compute_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        it_mod.compute_dtype("llm", "bf16", "cpu") == "bf16" and it_mod.compute_dtype("fp32", "bf16", "cpu") == "fp32"
    )
    monkeypatch.setattr(it_mod, "cpu_bf16_fast", lambda: False)
    assert it_mod.compute_dtype("auto", "bf16", "cpu") == "fp32"  # bf16 matmuls without oneDNN kernels: slow
    assert it_mod.compute_dtype("auto", "bf16", "cuda") == "bf16"
    monkeypatch.setattr(it_mod, "cpu_bf16_fast", lambda: True)
    assert it_mod.compute_dtype("auto", "bf16", "cpu") == "bf16"
