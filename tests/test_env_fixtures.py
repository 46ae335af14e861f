"""Tiny fixtures for the LLM/LE tests: a randomly initialised Llama/Mistral with a word-level tokenizer written to a
folder (never a download), and a small dataset following the data stage's contract. Also imported by the other
test_llm_* / test_env_* modules."""

from __future__ import annotations

import os
import random
from pathlib import Path

import polars as pl
import pytest

WORDS = [
    "the",
    "user",
    "has",
    "watched",
    "these",
    "movies",
    "in",
    "chronological",
    "order",
    "compute",
    "likelihood",
    "that",
    "be",
    "next",
    "movie",
    "to",
    "based",
    "on",
    "history",
    "list",
    "of",
    "following",
    "5",
    "select",
    "number",
    "he",
    "is",
    "most",
    "likely",
    "continue",
    "watch",
    "answer",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "titled",
    "released",
    "its",
    "genres",
    "are",
    "drama",
    "comedy",
    "action",
    "horror",
    "film",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
]
PUNCT = list(".,:;")
DOMAIN = {
    "item": "movie",
    "items": "movies",
    "history": "has watched these movies",
    "next": "be the next movie to be watched",
    "continue": "continue to watch",
}


def make_tokenizer(words: list[str] = WORDS):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[BOS]", "[EOS]", *dict.fromkeys(words + PUNCT)])}
    t = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=t, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]", eos_token="[EOS]"
    )


def make_tiny_llm(folder: Path, arch: str = "llama", seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    tok = make_tokenizer()
    torch.manual_seed(seed)
    kw = dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    model = LlamaForCausalLM(LlamaConfig(**kw)) if arch == "llama" else MistralForCausalLM(MistralConfig(**kw))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def make_data(folder: Path, n_items: int = 12, n_seq: int = 30, seed: int = 0) -> Path:
    """items / interactions / splits Parquet of the data stage's contract (le_fraction nested)."""
    rng = random.Random(seed)
    nums = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    genres = ["drama", "comedy", "action", "horror"]
    titles = [f"{nums[i % 10]} {nums[(i // 10) % 10]}" for i in range(n_items)]
    items = pl.DataFrame(
        {
            "item": pl.Series(range(n_items), dtype=pl.Int32),
            "raw_id": [str(100 + i) for i in range(n_items)],
            "title": titles,
            "sentence": [f"{{S}} movie is titled {t}, its genres are {genres[i % 4]}." for i, t in enumerate(titles)],
        }
    )
    rows = []
    for s in range(n_seq):
        n = rng.randint(3, 14)
        start = rng.randrange(n_items)
        for p in range(n):  # a learnable pattern: next item = previous + 1 (mod n)
            rows.append((s, p, (start + p) % n_items))
    inter = pl.DataFrame(rows, schema={"sequence": pl.Int32, "position": pl.Int32, "item": pl.Int32}, orient="row")
    inter = inter.with_columns(timestamp=pl.lit(None, dtype=pl.Int64))
    split = ["train" if s < int(0.8 * n_seq) else ("valid" if s < int(0.9 * n_seq) else "test") for s in range(n_seq)]
    frac = [
        (0.1 if s % 10 == 0 else 0.5 if s % 2 == 0 else 1.0) if sp == "train" else None for s, sp in enumerate(split)
    ]
    splits = pl.DataFrame(
        {
            "sequence": pl.Series(range(n_seq), dtype=pl.Int32),
            "raw_id": [f"u{s}" for s in range(n_seq)],
            "split": split,
            "le_fraction": pl.Series(frac, dtype=pl.Float32),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    items.write_parquet(folder / "items.parquet")
    inter.write_parquet(folder / "interactions.parquet")
    splits.write_parquet(folder / "splits.parquet")
    return folder


def llm_settings(folder: Path) -> dict:
    return {
        "path": str(folder),
        "gguf_file": None,
        "dtype": "fp32",
        # LEA_TEST_DEVICE=cuda runs the LLM-stage tests on a GPU (CI has none; see README "GPU checks")
        "device": os.environ.get("LEA_TEST_DEVICE", "cpu"),
        "attn_implementation": "sdpa",
        "prefix_text": "[BOS]",
    }


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llm(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("data"))


def test_fixture_contract(tiny_data: Path) -> None:
    items = pl.read_parquet(tiny_data / "items.parquet")
    assert items["sentence"].str.count_matches(r"\{S\}").to_list() == [1] * items.height
    splits = pl.read_parquet(tiny_data / "splits.parquet")
    assert splits.filter(pl.col("split") == "train")["le_fraction"].null_count() == 0
