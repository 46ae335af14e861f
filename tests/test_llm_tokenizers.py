"""The paper's LLMs' tokenizers: prompt and item-sentence ids with the real Mistral-7B-v0.1 SentencePiece model
(fetched by `make test`), the checks that name the LLM's key, today's SmolLM2 ids unchanged, and a tiny random-weight
MistralForCausalLM with the real 32,000-token vocabulary through item tokens -> fit-le -> states, rewards and
augmentation (the `lea` commands the rules call)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
import torch
from test_env_fixtures import (  # noqa: F401
    DOMAIN,
    llm_settings,
    make_data,
    make_mistral_tokenizer,
    make_tokenizer,
    mistral_tokenizer_model,
    tiny_data,
    tiny_mistral,
)
from test_env_le import check_fast_paths, check_title_paths

from lea.env.prompts import LABELS, Prompter
from lea.errors import ConfigError
from lea.llm.item_tokens import PLACEHOLDER, encode_sentences

REPO = Path(__file__).resolve().parents[1]
SPACE = 28705  # Mistral's lone "▁": what a separately encoded piece gains from the dummy prefix
TITLES = ["Toy Story", "Heat", "The Shawshank Redemption", "Se7en", "Amélie", "Jaws", "Alien: Resurrection"]
SENTENCES = [
    "{S} movie is titled Toy Story (1995), its genres are animation, comedy.",
    "{S} product is Nitrile gloves, powder free; size M",
    "{S} track is titled Heat from album Heat, its artist is Don's band.",
]


@pytest.fixture(scope="module", params=["transformers", "legacy-normalizer"])
def mistral_tok(request: pytest.FixtureRequest, mistral_tokenizer_model: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    """The real tokenizer in both HF pipelines a user can get: transformers 5's rebuilt one and the older
    tokenizer.json one (dummy prefix on every separately encoded string)."""
    tok = make_mistral_tokenizer(mistral_tokenizer_model, legacy_normalizer=request.param == "legacy-normalizer")
    tok.pad_token = tok.eos_token  # as lea.llm.load.load_tokenizer does for a tokenizer without one
    return tok


@pytest.fixture(scope="module")
def sp(mistral_tokenizer_model: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_file=str(mistral_tokenizer_model))


def texts(d: dict[str, str]) -> dict[str, str]:
    """The prompt's words (lea.env.prompts' docstring), for the whole-string references."""
    return {
        "header": f"The user {d['history']} in chronological order:",
        "action_pre": ". Compute the likelihood that",
        "action_post": f" {d['next']} based on the history.",
        "list_pre": f". In the list of following 5 {d['items']}:",
        "list_post": f"; based on the history, select the number of the {d['item']} that he is most likely to "
        f"{d['continue']}. Answer: the",
    }


def test_real_tokenizer_file_and_conversion(mistral_tokenizer_model: Path, sp, mistral_tok) -> None:  # noqa: F811
    from lea.fetch import KNOWN, sha256_of

    assert mistral_tokenizer_model.stat().st_size == 493_443 and sp.get_piece_size() == 32_000
    assert sha256_of(mistral_tokenizer_model) == KNOWN["mistral7b-tokenizer"][2]
    assert (mistral_tok.bos_token_id, mistral_tok.eos_token_id, len(mistral_tok)) == (1, 2, 32_000)
    t = texts(DOMAIN)
    whole = t["header"] + " Toy Story (1995), Heat" + t["action_pre"] + " Jaws" + t["action_post"]
    for s in [*t.values(), whole, *(x.replace(PLACEHOLDER, "") for x in SENTENCES), *TITLES]:
        # the HF pipeline built from the pieces tokenizes like SentencePiece itself (a leading space is where the
        # pipelines differ: transformers 5 folds it into the dummy prefix, the others add a lone "▁")
        s = s.lstrip(" ")
        assert mistral_tok.encode(s, add_special_tokens=False) == sp.encode(s), s
    # the measured problem: a separately encoded " first" gains the lone "▁" in SentencePiece
    assert sp.encode(" first") == [SPACE, sp.piece_to_id("▁first")]


def test_fetch_known_checks_its_sha(tmp_path: Path) -> None:
    """`lea fetch --known mistral7b-tokenizer` (make test, the workflow rule) takes the wheel and the sha256 from
    lea.fetch.KNOWN: a tampered file in a cached wheel is refused and nothing is left behind."""
    import argparse
    import zipfile

    from lea.errors import LeaError
    from lea.fetch import KNOWN, add_arguments, main

    requirement, member, _ = KNOWN["mistral7b-tokenizer"]
    cache = tmp_path / "wheels"
    cache.mkdir()
    with zipfile.ZipFile(cache / "mistral_common-1.13.1-py3-none-any.whl", "w") as zf:
        zf.writestr(member, b"not the tokenizer")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = ["--known", "mistral7b-tokenizer", "--out-dir", str(tmp_path / "out"), "--wheel-cache", str(cache)]
    with pytest.raises(LeaError, match="sha256"):
        main(parser.parse_args(args))
    assert not any((tmp_path / "out").iterdir())
    with pytest.raises(LeaError, match="--known"):
        main(parser.parse_args([*args, "--requirement", requirement]))


def test_prompt_ids_equal_whole_string(mistral_tok, sp) -> None:
    p = Prompter(mistral_tok, DOMAIN, "", window=4, llm_key="llms.mistral7b")
    t = texts(DOMAIN)
    bos = [1]
    assert p.label_ids == [sp.piece_to_id(f"▁{w}") for w in LABELS] and len(set(p.label_ids)) == 5
    assert p.header[:2] == [1, sp.piece_to_id("▁The")]  # BOS, then the dummy prefix where the whole string has it
    hist, acts, cands = [3, 1, 4], 5, [0, 2, 4, 6, 1]
    # item tokens: every slot a token boundary; with the slots left out the ids are the whole string's
    kinds = {
        "user": (p.user(hist), t["header"]),
        "reward": (p.reward(hist, acts), t["header"] + t["action_pre"] + t["action_post"]),
        "augment": (
            p.augment(hist, cands),
            t["header"] + t["list_pre"] + ",".join(f" {w}" for w in LABELS) + t["list_post"],
        ),
        "empty history": (p.reward([], acts), t["header"] + t["action_pre"] + t["action_post"]),
    }
    for kind, (q, text) in kinds.items():
        real = [i for i, a in zip(q.ids, q.item_at, strict=True) if a < 0]
        assert real == bos + sp.encode(text), kind
        # a lone "▁" only where the whole string has one (before a digit: " 5" is "▁", "5")
        assert q.ids.count(SPACE) == sp.encode(text).count(SPACE) and q.item_at[0] == -1, kind
    assert p.user(hist).ids == p.reward(hist, acts).ids[: p.user(hist).user_len]  # p_t a prefix (fast paths)
    assert p.user(hist).ids == p.augment(hist, cands).ids[: p.user(hist).user_len]
    # -IT: titles as text: the prompt is exactly the whole string's tokenization
    titled = Prompter(mistral_tok, DOMAIN, "", window=4, titles=TITLES)
    for h, a in ([[0, 1, 2], 5], [[3], 6], [[4, 2], 0]):
        history = ",".join(f" {TITLES[i]}" for i in h)
        q = titled.reward(h, a)
        assert q.ids == bos + sp.encode(t["header"] + history + t["action_pre"] + f" {TITLES[a]}" + t["action_post"])
        assert titled.user(h).ids == bos + sp.encode(t["header"] + history) == q.ids[: q.user_len]
        c = [*h, a, 6, 0, 1][:5]
        listed = ",".join(f" {w} {TITLES[i]}" for w, i in zip(LABELS, c, strict=True))
        whole = t["header"] + history + t["list_pre"] + listed + t["list_post"]
        assert titled.augment(h, c).ids == bos + sp.encode(whole)
    # the documented equivalent: a title ends at a token boundary, where the whole string may merge its last
    # character with the punctuation after it (")," is one Mistral piece); p_t must end there for the fast paths
    year = Prompter(mistral_tok, DOMAIN, "", window=4, titles=["Toy Story (1995)", "Heat"])
    ids = year.reward([0], 1).ids
    pieces = [t["header"], " Toy Story (1995)", t["action_pre"], " Heat", t["action_post"]]
    assert ids == bos + sp.encode(pieces[0]) + [x for piece in pieces[1:] for x in sp.encode("a" + piece)[1:]]
    assert sp.piece_to_id(")") in ids and SPACE not in ids


def test_item_sentences_with_bos(mistral_tok, sp) -> None:
    enc = encode_sentences(mistral_tok, SENTENCES, llm_key="llms.mistral7b")
    pad = mistral_tok.pad_token_id
    for e, s in zip(enc, SENTENCES, strict=True):
        after = s.split(PLACEHOLDER)[1]
        assert e.slot == 1 and e.ids[0] == 1  # BOS first: the learned vector never sits at position 0
        # the text after S* continues the sentence: the whole string's words, no lone "▁" after the slot
        assert e.ids[2:] == sp.encode(after[1:]) and SPACE not in e.ids, s
        assert e.text_ids == sp.encode(after[1:]) and e.ids[1] == pad


def test_checks_name_the_llm_key(mistral_tok) -> None:
    with pytest.raises(ConfigError, match=r"'llms\.mistral7b'.*position 0"):
        encode_sentences(mistral_tok, ["{S} movie is titled Heat."], bos=False, llm_key="llms.mistral7b")
    # a real first token is all it takes: BOS (default) or prefix_text
    assert encode_sentences(mistral_tok, ["{S} is Heat."], "Item:", bos=False)[0].slot > 0
    no_labels = make_tokenizer([w for w in make_tokenizer_words() if w not in LABELS])
    with pytest.raises(ConfigError, match=r"'llms\.llama2_7b'.*do not start with distinct tokens"):
        Prompter(no_labels, DOMAIN, "[BOS]", llm_key="llms.llama2_7b")
    with pytest.raises(ConfigError, match=r"'llms\.x\.bos'"):
        tok = make_tokenizer()
        tok.bos_token = None
        Prompter(tok, DOMAIN, "", bos=True, llm_key="llms.x")
    from lea.llm.pieces import llm_key

    assert llm_key({"name": "mistral7b", "path": "p"}) == "llms.mistral7b"
    assert llm_key({"path": "mistralai/Mistral-7B-v0.1"}) == "llms.<the LLM at mistralai/Mistral-7B-v0.1>"


def make_tokenizer_words() -> list[str]:
    from test_env_fixtures import WORDS

    return list(WORDS)


# --- today's ids for SmolLM2 (byte-level BPE) and the word-level fixture, frozen from commit 2917cce ---
def old_pieces(tok, domain: dict[str, str], prefix_text: str, titles: list[str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    d = {
        "history": "has interacted with these items",
        "next": "be the next item to be interacted with",
        "continue": "continue to interact with",
        **domain,
    }
    enc = lambda s: tok.encode(s, add_special_tokens=False)  # noqa: E731
    return {
        "header": enc(f"{prefix_text}The user {d['history']} in chronological order:"),
        "action_pre": enc(". Compute the likelihood that"),
        "action_post": enc(f" {d['next']} based on the history."),
        "list_pre": enc(f". In the list of following 5 {d['items']}:"),
        "list_labels": [enc(f" {w}") for w in LABELS],
        "list_sep": enc(","),
        "list_post": enc(
            f"; based on the history, select the number of the {d['item']} that he is most likely to "
            f"{d['continue']}. Answer: the"
        ),
        "label_ids": [enc(f" {w}")[0] for w in LABELS],
        "title_ids": [enc(" " + t) for t in titles],
        "sep": enc(","),
    }


def old_sentence(tok, s: str, prefix_text: str) -> tuple[list[int], int, list[int]]:  # type: ignore[no-untyped-def]
    before, after = s.split(PLACEHOLDER)
    pre = tok.encode(prefix_text + before, add_special_tokens=False) if (prefix_text + before) else []
    post = tok.encode(after, add_special_tokens=False)
    return [*pre, tok.pad_token_id, *post], len(pre), tok.encode(before + after, add_special_tokens=False)


def byte_level_tokenizer():  # type: ignore[no-untyped-def]
    """A byte-level BPE like SmolLM2's (GPT-2 pre-tokenizer, <|im_start|> as BOS)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    merges = []
    for w in ["Ġthe", *(f"Ġ{x}" for x in LABELS), "Ġmovie", "Ġuser"]:  # whole words as BPE merge chains
        for k in range(2, len(w) + 1):
            if w[:k] not in vocab:
                merges.append((w[: k - 1], w[k - 1]))
                vocab[w[:k]] = len(vocab)
    for special in ("<|im_start|>", "<|im_end|>"):
        vocab[special] = len(vocab)
    t = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=t, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|im_end|>"
    )


def smollm2_tokenizer():  # type: ignore[no-untyped-def]
    from lea.llm.load import load_tokenizer

    root = Path(os.environ.get("LEA_SMOLLM2_DIR", REPO / "resources" / "llm" / "smollm2"))
    if (root / "hf" / "tokenizer.json").exists():
        return load_tokenizer({"path": str(root / "hf")})
    if (root / "SmolLM2-135M-Instruct.Q4_1.gguf").exists():
        return load_tokenizer({"path": str(root), "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"})
    pytest.skip(f"SmolLM2 not fetched at {root} (`make demo` fetches it); the byte-level case still ran")


@pytest.mark.parametrize("which", ["smollm2", "byte-level", "word-level"])
def test_smollm2_ids_unchanged(which: str, tiny_data: Path) -> None:  # noqa: F811
    tok, prefix = {
        "smollm2": lambda: (smollm2_tokenizer(), "<|im_start|>"),
        "byte-level": lambda: (byte_level_tokenizer(), "<|im_start|>"),
        "word-level": lambda: (make_tokenizer(), "[BOS]"),
    }[which]()
    items = pl.read_parquet(tiny_data / "items.parquet").sort("item")
    domains = [
        DOMAIN,
        {
            "item": "product",
            "items": "products",
            "history": "has purchased these products",
            "next": "be the next product to be purchased",
            "continue": "continue to purchase",
        },
    ]
    for domain in domains:
        titles = [*items["title"].to_list(), *TITLES]
        old = old_pieces(tok, domain, prefix, titles)
        new = Prompter(tok, domain, prefix, window=10, titles=titles)
        for k, v in old.items():
            assert getattr(new, k) == v, (which, k)
        assert new.header.count(tok.bos_token_id) == 1  # the BOS is prefix_text: not doubled
        plain = Prompter(tok, domain, prefix, window=10)
        assert plain.header == old["header"] and plain.label_ids == old["label_ids"]
    for s in [*items["sentence"].to_list(), *SENTENCES]:
        (e,) = encode_sentences(tok, [s], prefix)
        assert (e.ids, e.slot, e.text_ids) == old_sentence(tok, s, prefix), (which, s)


# --- the paper's LLM family end to end: a random-weight Mistral with the real vocabulary ---
def mistral_settings(folder: Path, **le: object) -> dict:
    # LEA_TEST_DEVICE=cuda LEA_TEST_DTYPE=bf16: the same test on a GPU in the paper's bf16
    llm = llm_settings(folder, prefix_text="", dtype=os.environ.get("LEA_TEST_DTYPE", "fp32"), name="mistral7b")
    return {
        "llm": llm,
        "le": {"fraction": 1.0, "state_loss": True, "item_tokens": True, "name": "t", **le},
        "finetune": {"epochs": 1, "batch_size": 8, "lr": 0.005, "valid_transitions": 20},
        "history": 4,
        "domain": DOMAIN,
        "precompute": {"negatives": 2, "batch_size": 16, "state_dtype": "float32"},
    }


@pytest.mark.slow
def test_tiny_mistral_end_to_end(tiny_mistral: Path, tmp_path: Path) -> None:  # noqa: F811
    from lea.cli import main
    from lea.env.cli import build

    data = make_data(tmp_path / "data", n_items=12, n_seq=20)
    out = tmp_path / "le"
    s = mistral_settings(tiny_mistral)
    it = {"llm": s["llm"], "item_tokens": {"iterations": 3, "lr": 0.05, "batch_items": 12, "heldout_pairs": 20}}
    argv = ["item-tokens", "--settings", json.dumps(it), "--items", str(data / "items.parquet"), "--out-dir", str(out)]
    assert main(argv) == 0
    tokens = out / "item_tokens.safetensors"
    assert json.loads((out / "item_tokens.json").read_text())["items"] == 12
    fit = ["fit-le", "--settings", json.dumps(s), "--data-dir", str(data), "--item-tokens", str(tokens)]
    assert main([*fit, "--out-dir", str(out / "t")]) == 0
    q = json.loads((out / "t" / "le_quality.json").read_text())
    assert 0 <= q["reward"]["auc"] <= 1 and q["choice"]["chance"] == 0.2
    inter = pl.read_parquet(data / "interactions.parquet")
    inter.select("sequence", "position").with_columns(
        candidates=pl.concat_list([(pl.col("position") + k) % 12 for k in range(5)]).cast(pl.List(pl.Int32))
    ).write_parquet(tmp_path / "top5.parquet")
    for kind in ("states", "rewards", "augment"):
        argv = ["le-precompute", "--kind", kind, "--settings", json.dumps(s), "--data-dir", str(data)]
        argv += ["--item-tokens", str(tokens), "--le-dir", str(out / "t"), "--out", str(tmp_path / f"{kind}.parquet")]
        assert main([*argv, "--top5", str(tmp_path / "top5.parquet")] if kind == "augment" else argv) == 0
        df = pl.read_parquet(tmp_path / f"{kind}.parquet")
        assert df.height > 0
        for col in df.columns:
            if df[col].dtype in (pl.Float32, pl.Float64):
                assert df[col].is_finite().all(), (kind, col)
    # the fast paths stay exact with this tokenizer's prompts (fp32 only: bf16 rounds the two paths differently)
    if s["llm"]["dtype"] == "fp32":
        le, prompter, _ = build(s, data, tokens, out / "t" / "adapter", out / "t" / "score_head.safetensors")
        assert prompter.header[0] == 1 and SPACE not in prompter.action_pre + prompter.list_sep
        check_fast_paths(le, prompter)
        torch.manual_seed(0)
        le, prompter, _ = build(mistral_settings(tiny_mistral, item_tokens=False), data, None)
        check_title_paths(le, prompter)
