"""The GGUF path of the one loading function: a tiny Llama written with the ``gguf`` package (no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

gguf = pytest.importorskip("gguf")


def write_tiny_gguf(path: Path, d: int = 32, layers: int = 2, heads: int = 4, kv_heads: int = 2, ff: int = 64) -> None:
    from tokenizers.pre_tokenizers import ByteLevel

    # the 256 byte-level symbols, two merged tokens, two special tokens
    tokens = [*sorted(ByteLevel.alphabet()), "Ġt", "he", "<|im_start|>", "<|im_end|>"]
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    w.add_context_length(128)
    w.add_embedding_length(d)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(d // heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([1] * 258 + [3, 3])
    w.add_token_merges(["Ġ t", "h e"])
    w.add_bos_token_id(258)
    w.add_eos_token_id(259)
    w.add_pad_token_id(259)
    rng = np.random.default_rng(0)

    def t(name: str, *shape: int) -> None:  # GGUF stores shapes reversed; numpy arrays are written as given
        w.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    t("token_embd.weight", len(tokens), d)
    w.add_tensor("output_norm.weight", np.ones(d, dtype=np.float32))
    hd = d // heads
    for i in range(layers):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(d, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(d, dtype=np.float32))
        t(f"blk.{i}.attn_q.weight", d, d)
        t(f"blk.{i}.attn_k.weight", kv_heads * hd, d)
        t(f"blk.{i}.attn_v.weight", kv_heads * hd, d)
        t(f"blk.{i}.attn_output.weight", d, d)
        t(f"blk.{i}.ffn_gate.weight", ff, d)
        t(f"blk.{i}.ffn_up.weight", ff, d)
        t(f"blk.{i}.ffn_down.weight", d, ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_gguf_load_and_convert(tmp_path: Path) -> None:
    from lea.llm.load import convert, load_llm

    write_tiny_gguf(tmp_path / "tiny.gguf")
    s = {
        "path": str(tmp_path),
        "gguf_file": "tiny.gguf",
        "dtype": "fp32",
        "device": "cpu",
        "prefix_text": "<|im_start|>",
    }
    model, tok = load_llm(s, verbose=False)
    assert model.config.hidden_size == 32 and model.config.num_hidden_layers == 2
    assert not any(p.requires_grad for p in model.parameters())
    ids = torch.tensor([tok.encode("the movie", add_special_tokens=False)])
    out = model(ids).logits
    # GGUF models save once the quantizer is removed; the folder holds float32 weights whatever dtype the LLM's
    # settings ask the stages for (bf16 here would round them)
    convert({**s, "dtype": "bf16"}, tmp_path / "hf")
    again, _ = load_llm({"path": str(tmp_path / "hf"), "dtype": "fp32", "device": "cpu"}, verbose=False)
    assert next(again.parameters()).dtype == torch.float32
    assert torch.allclose(again(ids).logits, out, atol=1e-5)


def test_auto_dtype_follows_the_hardware(monkeypatch) -> None:
    """llms.<name>.dtype: auto is bf16 on a GPU or a CPU with bf16 matmul kernels, fp32 on other CPUs."""
    import lea.llm.load as load

    monkeypatch.setattr(load, "cpu_bf16_fast", lambda: False)
    assert load.resolve_dtype("auto", "cpu") == "fp32" and load.resolve_dtype("auto", "cuda") == "bf16"
    monkeypatch.setattr(load, "cpu_bf16_fast", lambda: True)
    assert load.resolve_dtype("auto", "cpu") == "bf16"
    assert load.resolve_dtype("bf16", "cpu") == "bf16" and load.resolve_dtype("fp32", "cuda") == "fp32"
