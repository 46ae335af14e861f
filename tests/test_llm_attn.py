"""``llms.<name>.attn_implementation: eager`` (plain attention matmuls; on an AVX512-BF16 CPU about 2x faster than
SDPA's flash kernel on the short rows of the item-token and LE steps, docs/results.md) computes the same function as
the default ``sdpa``: the same item-token losses and gradients, the same packed LE training losses and gradients
(fp32, tiny random Llama, 1e-4)."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import torch
from test_env_fixtures import DOMAIN, llm_settings, tiny_data, tiny_llm  # noqa: F401

from lea.llm.item_tokens import PrefixKV, encode_sentences, make_buckets, suffix_nll
from lea.llm.load import load_llm

TOL = 1e-4


def _item_token_grads(folder: Path, data: Path, attn: str) -> tuple[torch.Tensor, torch.Tensor]:
    model, tok = load_llm(llm_settings(folder, attn_implementation=attn), verbose=False)
    assert model.config._attn_implementation == attn
    sentences = pl.read_parquet(data / "items.parquet").sort("item")["sentence"].to_list()
    enc = encode_sentences(tok, sentences, "[BOS]")
    g = torch.Generator().manual_seed(0)
    vecs = torch.randn(len(enc), model.config.hidden_size, generator=g).requires_grad_(True)
    kv = PrefixKV(model)
    losses = torch.zeros(len(enc))
    for b in make_buckets(enc, range(len(enc)), 4):
        nll = suffix_nll(model, kv, b, vecs[b.rows])
        nll.sum().backward()
        losses[b.rows] = nll.detach()
    assert vecs.grad is not None
    return losses, vecs.grad


def test_item_tokens_eager_equals_sdpa(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    l_s, g_s = _item_token_grads(tiny_llm, tiny_data, "sdpa")
    l_e, g_e = _item_token_grads(tiny_llm, tiny_data, "eager")
    assert len(l_s) > 4 and float(l_s.min()) > 0
    torch.testing.assert_close(l_e, l_s, atol=TOL, rtol=0)
    torch.testing.assert_close(g_e, g_s, atol=TOL, rtol=0)
    assert float(g_s.abs().max()) > 1e-3  # gradients that test something


def _le_step(folder: Path, data: Path, attn: str) -> tuple[float, dict[str, torch.Tensor]]:
    from lea.env.model import LE
    from lea.env.prompts import Prompter
    from lea.env.train import choice_batch, le_subset, load_sequences, sample_negatives, step_loss, transitions

    model, tok = load_llm(llm_settings(folder, attn_implementation=attn), verbose=False)
    items = pl.read_parquet(data / "items.parquet").sort("item")
    prompter = Prompter(tok, DOMAIN, "[BOS]", window=4)
    g = torch.Generator().manual_seed(0)
    le = LE(
        model,
        torch.randn(items.height, model.config.hidden_size, generator=g),
        prompter.label_ids,
        {"lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0},
    )
    with torch.no_grad():  # random adapters, so every LoRA parameter gets a gradient
        for p in le.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    le.train()
    seqs, splits, n_items = load_sequences(data)
    rng = random.Random(3)
    batch = rng.sample(transitions(seqs, le_subset(splits, 1.0), 4), 7)
    negs = [sample_negatives(t, n_items, 1, rng)[0] for t in batch]
    ch = choice_batch(batch, n_items, rng, rotations=True)
    loss, _, _, _ = step_loss(le, prompter, batch, negs, ch, True, "shared", 512)
    loss.backward()
    return loss.item(), {n: p.grad.detach().clone() for n, p in le.named_parameters() if p.requires_grad}


def test_le_shared_step_eager_equals_sdpa(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    l_s, g_s = _le_step(tiny_llm, tiny_data, "sdpa")
    l_e, g_e = _le_step(tiny_llm, tiny_data, "eager")
    assert abs(l_e - l_s) <= TOL
    assert g_e.keys() == g_s.keys() and len(g_s) > 4
    for n in g_s:
        torch.testing.assert_close(g_e[n], g_s[n], atol=TOL, rtol=0, msg=n)
