"""Tiny fixtures for the LLM/LE tests: a randomly initialised Llama/Mistral with a word-level tokenizer written to a
folder (never a download), a tiny random-weight Mistral with the real Mistral-7B-v0.1 SentencePiece tokenizer
(fetched by ``make test`` from a PyPI wheel), and a small dataset following the data stage's contract. Also imported
by the other test_llm_* / test_env_* modules."""

from __future__ import annotations

import os
import random
from pathlib import Path

import polars as pl
import pytest

# where `make test` (and the workflow rule fetch_tokenizer_mistral7b) put the real Mistral-7B-v0.1 tokenizer.model
MISTRAL_TOKENIZER = Path(
    os.environ.get(
        "LEA_MISTRAL_TOKENIZER",
        Path(__file__).resolve().parents[1] / "resources" / "tokenizers" / "mistral7b" / "tokenizer.model.v1",
    )
)

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


def mistral_tokenizer_file() -> Path:
    """The real tokenizer.model; a test skips without it, except in CI (CI=true), where its absence is a failure."""
    if not MISTRAL_TOKENIZER.is_file():
        msg = f"the Mistral-7B-v0.1 tokenizer is not at {MISTRAL_TOKENIZER}: `make test` fetches it (lea fetch --known"
        msg += " mistral7b-tokenizer)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(msg)
        pytest.skip(msg)
    return MISTRAL_TOKENIZER


def make_mistral_tokenizer(model_file: Path, legacy_normalizer: bool = False):  # type: ignore[no-untyped-def]
    """The HF tokenizer of the real SentencePiece model, as transformers builds it for Mistral-7B-v0.1 (BPE with byte
    fallback, Metaspace pre-tokenizer, BOS <s> = 1, EOS </s> = 2, no pad token). Built from the pieces with
    ``sentencepiece`` alone (no protobuf). ``legacy_normalizer``: the older tokenizer.json pipeline (a normalizer
    that prepends ``▁`` to every string and replaces spaces, no pre-tokenizer), which adds the dummy prefix to every
    separately encoded string."""
    import sentencepiece as spm
    from tokenizers import normalizers
    from transformers import LlamaTokenizer
    from transformers.tokenization_utils_base import generate_merges

    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    tok = LlamaTokenizer(vocab=vocab, merges=generate_merges(vocab))
    if legacy_normalizer:
        bt = tok.backend_tokenizer
        bt.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        bt.pre_tokenizer = None
    return tok


def make_tiny_mistral(folder: Path, model_file: Path, seed: int = 0) -> Path:
    """A random-weight MistralForCausalLM (2 layers, hidden 32) over the real 32,000-token vocabulary, saved with the
    real tokenizer: the paper's LLM family end to end at test size."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    tok = make_mistral_tokenizer(model_file)
    torch.manual_seed(seed)
    cfg = MistralConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        sliding_window=None,
        tie_word_embeddings=False,  # as in Mistral-7B
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    folder.mkdir(parents=True, exist_ok=True)
    MistralForCausalLM(cfg).save_pretrained(folder)
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


def llm_settings(folder: Path, prefix_text: str = "[BOS]", dtype: str = "fp32", **extra: object) -> dict:
    return {
        "path": str(folder),
        "gguf_file": None,
        "dtype": dtype,
        # LEA_TEST_DEVICE=cuda runs the LLM-stage tests on a GPU (CI has none; see README "GPU checks")
        "device": os.environ.get("LEA_TEST_DEVICE", "cpu"),
        "attn_implementation": "sdpa",
        "prefix_text": prefix_text,
        **extra,
    }


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llm(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def mistral_tokenizer_model() -> Path:
    return mistral_tokenizer_file()


@pytest.fixture(scope="session")
def tiny_mistral(tmp_path_factory: pytest.TempPathFactory, mistral_tokenizer_model: Path) -> Path:
    return make_tiny_mistral(tmp_path_factory.mktemp("tiny_mistral"), mistral_tokenizer_model)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("data"))


def test_fixture_contract(tiny_data: Path) -> None:
    items = pl.read_parquet(tiny_data / "items.parquet")
    assert items["sentence"].str.count_matches(r"\{S\}").to_list() == [1] * items.height
    splits = pl.read_parquet(tiny_data / "splits.parquet")
    assert splits.filter(pl.col("split") == "train")["le_fraction"].null_count() == 0
