"""One function loads every LLM of the pipeline: a local HF folder, a hub id, or a GGUF file; frozen weights.

Settings are the config's ``llms.<name>`` entry: ``path``, ``gguf_file``, ``dtype`` (fp32/bf16/fp16),
``load_in_4bit`` (bitsandbytes nf4, double quant, bf16 compute; GPU runs), ``device`` (auto/cpu/cuda),
``attn_implementation``, ``trust_remote_code`` (off unless the config turns it on), ``prefix_text``, ``bos`` and
``name`` (read by lea.llm.pieces when prompts and item sentences are encoded: BOS first, the key in error messages).
A tokenizer without a pad token (Mistral-7B, Llama-2) pads with its EOS; padded positions are masked or are item
slots, whose embedding is replaced.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lea.errors import ConfigError, MissingInputError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str | None) -> torch.device:
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("llms.<llm>.device", "cuda requested but no CUDA device is available")
    return torch.device(name)


def _source(settings: Mapping[str, Any]) -> tuple[str, str | None]:
    path = str(settings["path"])
    gguf = settings.get("gguf_file")
    local = Path(path)
    if gguf:
        if not (local / gguf).exists():
            raise MissingInputError(local / gguf, "fetch_llm")
    elif local.exists() and not (local / "config.json").exists():
        raise ConfigError("llms.<llm>.path", f"{local} exists but holds no config.json (not an HF model folder)")
    return path, gguf


def load_tokenizer(settings: Mapping[str, Any]):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    path, gguf = _source(settings)
    tok = AutoTokenizer.from_pretrained(
        path, gguf_file=gguf, trust_remote_code=bool(settings.get("trust_remote_code", False))
    )
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def cpu_bf16_fast() -> bool:
    """Whether this CPU has oneDNN's bf16 matmul kernels (AVX512-BF16 / AMX). Without them torch runs bf16 matmuls
    in a reference loop, many times slower than fp32 (measured: docs/results/2026-12-industry-le/item_tokens/)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(dtype: str, device: str) -> str:
    """``llms.<name>.dtype``; ``auto`` is bf16 on a GPU or on a CPU with bf16 matmul kernels, fp32 on other CPUs
    (an AVX2-only CPU ran SmolLM2's bf16 matmuls 8-35x slower than fp32)."""
    if dtype != "auto":
        return dtype
    return "bf16" if str(device).startswith("cuda") or cpu_bf16_fast() else "fp32"


def load_llm(settings: Mapping[str, Any], with_tokenizer: bool = True, verbose: bool = True):  # type: ignore[no-untyped-def]
    """Return ``(model, tokenizer)``: a frozen causal LM in eval mode on its device (tokenizer None if not asked)."""
    from transformers import AutoModelForCausalLM

    t0 = time.perf_counter()
    path, gguf = _source(settings)
    device = resolve_device(settings.get("device", "auto"))
    dtype = DTYPES[resolve_dtype(settings.get("dtype", "bf16"), device)]
    kwargs: dict[str, Any] = {
        "dtype": dtype,
        "trust_remote_code": bool(settings.get("trust_remote_code", False)),
    }
    if settings.get("attn_implementation"):
        kwargs["attn_implementation"] = settings["attn_implementation"]
    if settings.get("load_in_4bit"):
        if gguf:
            raise ConfigError("llms.<llm>.load_in_4bit", "4-bit loading cannot be combined with a GGUF file")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["device_map"] = {"": device.index or 0} if device.type == "cuda" else {"": "cpu"}
    if gguf:
        kwargs["gguf_file"] = gguf
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if gguf and getattr(model, "hf_quantizer", None) is not None:
        # GGUF weights are dequantised on load; drop the quantizer so save_pretrained and peft accept the model
        model.hf_quantizer.remove_quantization_config(model)
    if not settings.get("load_in_4bit"):
        model.to(device)
    model.requires_grad_(False)  # the LLM's own weights stay frozen
    model.eval()
    tok = load_tokenizer(settings) if with_tokenizer else None
    if verbose:
        n = sum(p.numel() for p in model.parameters())
        print(
            f"loaded LLM {path}{'/' + gguf if gguf else ''}: {n / 1e6:.1f}M parameters, {dtype}, {device}, "
            f"{time.perf_counter() - t0:.1f}s",
            flush=True,
        )
    return model, tok


def input_embeddings(model) -> torch.nn.Embedding:  # type: ignore[no-untyped-def]
    return model.get_input_embeddings()


def decoder(model):  # type: ignore[no-untyped-def]
    """The transformer body without the LM head (its output is the last hidden state after the final norm)."""
    return model.get_decoder() if hasattr(model, "get_decoder") else model.model


def convert(settings: Mapping[str, Any], out_dir: str | Path) -> None:
    """Load (e.g. a GGUF file, ~12 s) once and save an HF folder that reloads in well under a second. The folder holds
    the dequantised weights in float32 whatever ``settings["dtype"]`` says: each stage loads it in its own dtype, so
    the same config gives the same weights on a CPU with bf16 kernels and on one without."""
    import shutil
    import tempfile

    from lea.io import atomic_path  # noqa: F401  (folders are written to a temp name and renamed below)

    model, tok = load_llm({**settings, "dtype": "fp32", "device": "cpu", "load_in_4bit": False})
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
