"""LLM loading and item tokenization on a tiny randomly initialised Llama / Mistral (no download)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch
from test_env_fixtures import llm_settings, make_tiny_llm, tiny_data, tiny_llm  # noqa: F401

from lea.errors import MissingInputError
from lea.llm.item_tokens import encode_sentences, learn_item_tokens, own_vs_other
from lea.llm.load import load_llm


@pytest.mark.parametrize("arch", ["llama", "mistral"])
def test_load_frozen(tmp_path: Path, arch: str) -> None:
    folder = make_tiny_llm(tmp_path / arch, arch=arch)
    model, tok = load_llm({**llm_settings(folder), "dtype": "bf16"}, verbose=False)
    assert model.dtype == torch.bfloat16
    assert not any(p.requires_grad for p in model.parameters())
    assert tok.pad_token_id is not None
    assert model.config.model_type == arch


def test_missing_gguf_names_stage(tmp_path: Path) -> None:
    with pytest.raises(MissingInputError, match="fetch_llm"):
        load_llm({"path": str(tmp_path), "gguf_file": "nope.gguf"})


def _sentences(data: Path) -> list[str]:
    return pl.read_parquet(data / "items.parquet").sort("item")["sentence"].to_list()


def test_batched_equals_one_at_a_time(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    model, tok = load_llm(llm_settings(tiny_llm), verbose=False)
    enc = encode_sentences(tok, _sentences(tiny_data)[:5], "[BOS]")
    assert all(e.slot == 1 for e in enc)  # a real token before the item vector (position 0 is an attention sink)
    kw = dict(iterations=5, lr=0.05, init="random", seed=3, progress=False)
    batched, fb, curve, _ = learn_item_tokens(model, enc, tok.pad_token_id, batch_items=5, **kw)
    single, fs, _, _ = learn_item_tokens(model, enc, tok.pad_token_id, batch_items=1, **kw)
    assert torch.allclose(batched, single, atol=1e-5)
    assert torch.allclose(fb, fs, atol=1e-5)
    assert curve[-1] < curve[0]


def test_item_tokens_cli(tiny_llm: Path, tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    from lea.cli import main

    s = {
        "llm": llm_settings(tiny_llm),
        "item_tokens": {"iterations": 30, "lr": 0.05, "batch_items": 8, "init": "text_mean", "heldout_pairs": 40},
    }
    out = tmp_path / "le"
    assert (
        main(
            [
                "item-tokens",
                "--settings",
                json.dumps(s),
                "--items",
                str(tiny_data / "items.parquet"),
                "--out-dir",
                str(out),
            ]
        )
        == 0
    )
    from safetensors.torch import load_file

    tokens = load_file(str(out / "item_tokens.safetensors"))["item_tokens"]
    table = pl.read_parquet(out / "item_tokens.parquet")
    assert tokens.shape == (12, 32) and tokens.dtype == torch.float32
    assert table.columns == ["item", "final_loss", "iterations"] and table.height == 12
    diag = json.loads((out / "item_tokens.json").read_text())
    assert diag["loss_last"] < diag["loss_first"]
    assert 0 <= diag["own_vs_other"]["accuracy"] <= 1
    assert (out / "item_tokens_loss.png").stat().st_size > 0
    assert not (out / "checkpoint.pt").exists()  # saved every 25 of the 60 item-batch iterations, then removed


def test_own_vs_other_after_training(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    model, tok = load_llm(llm_settings(tiny_llm), verbose=False)
    enc = encode_sentences(tok, _sentences(tiny_data), "[BOS]")
    tokens, *_ = learn_item_tokens(
        model, enc, tok.pad_token_id, iterations=60, lr=0.1, batch_items=12, init="random", progress=False
    )
    assert own_vs_other(model, enc, tokens, tok.pad_token_id, pairs=100)["accuracy"] > 0.6
