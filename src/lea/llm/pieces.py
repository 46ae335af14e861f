"""Token ids of text pieces that join into one prompt or item sentence with the ids of the whole string.

Prompts (lea.env.prompts) and item sentences (lea.llm.item_tokens) are assembled from text pieces and item slots.
Encoding each piece on its own is exact for byte-level BPE (SmolLM2) and word-level tokenizers, but not for the
SentencePiece tokenizers of Mistral-7B and Llama-2: they add a dummy-prefix space to every encoded string, so a piece
such as ``" first"`` can gain a stray ``▁`` token (28705 in Mistral's vocabulary), and ``"."`` becomes ``"▁."``, a
different token from the ``"."`` the whole string has after a word.

``Pieces`` encodes:
- ``first(text)``: the start of a sequence: the tokenizer's BOS (unless ``bos: false`` or ``prefix_text`` already
  begins with it), then ``prefix_text + text`` with the tokenizer's own start-of-text handling (the dummy prefix there
  is what the whole string gets too);
- ``cont(text)``: a piece that continues a sequence: the ids ``text`` has inside a longer string. For a tokenizer
  with a dummy prefix, ``text`` is encoded after an anchor (a newline: no Mistral/Llama-2 piece contains it, so it is
  always its own byte token and never merges with its neighbours) and the anchor's ids are cut off; for any other
  tokenizer, ``text`` is encoded alone (the ids of today's SmolLM2 prompts and item sentences, unchanged).
An item slot is a token boundary: the text on each side of it is tokenized as in the whole string with the slot
left out, where the slot sits at a word or punctuation boundary (tests/test_llm_tokenizers.py checks this against the
real Mistral-7B-v0.1 SentencePiece model). Pieces of a prompt are therefore prefixes of each other at the same ids,
which the shared-prefix fast paths of lea.env.inference rely on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lea.errors import ConfigError

ANCHOR = "\n"


def llm_key(settings: Mapping[str, Any] | None) -> str:
    """The config key of an LLM for error messages: ``llms.<name>`` when the settings carry ``name``."""
    if settings and settings.get("name"):
        return f"llms.{settings['name']}"
    path = settings.get("path") if settings else None
    return f"llms.<the LLM at {path}>" if path else "llms.<llm>"


class Pieces:
    def __init__(self, tok, prefix_text: str = "", bos: bool | None = None, key: str = "llms.<llm>") -> None:  # type: ignore[no-untyped-def]
        self.tok, self.prefix_text, self.key = tok, prefix_text, key
        bos_id = tok.bos_token_id
        if bos is True and bos_id is None:
            raise ConfigError(f"{key}.bos", "bos is true but the tokenizer has no BOS token")
        # absent or true: the tokenizer's BOS starts every prompt and sentence, as in the LLM's pre-training
        self.bos_ids: list[int] = [] if bos is False or bos_id is None else [int(bos_id)]
        self._anchor = self._enc(ANCHOR)
        self.dummy_prefix = self._has_dummy_prefix()

    def _enc(self, s: str) -> list[int]:
        return list(self.tok.encode(s, add_special_tokens=False)) if s else []

    def _has_dummy_prefix(self) -> bool:
        """True if a string encoded alone starts differently from the same string after a newline (SentencePiece
        with ``add_dummy_prefix``: ``"a"`` -> ``"▁a"`` alone, ``"a"`` after ``"\\n"``)."""
        probe = self._enc(ANCHOR + "a")
        return probe[: len(self._anchor)] != self._anchor or probe[len(self._anchor) :] != self._enc("a")

    def first(self, text: str = "") -> list[int]:
        """BOS + ``prefix_text + text``: the ids a sequence starts with (no BOS doubled)."""
        ids = self._enc(self.prefix_text + text)
        if self.bos_ids and ids[:1] == self.bos_ids:  # prefix_text is the BOS (SmolLM2: <|im_start|>)
            return ids
        return [*self.bos_ids, *ids]

    def cont(self, text: str) -> list[int]:
        """The ids of ``text`` continuing a longer string (no dummy prefix of its own)."""
        if not text:
            return []
        if not self.dummy_prefix:
            return self._enc(text)
        ids = self._enc(ANCHOR + text)
        if ids[: len(self._anchor)] != self._anchor:
            raise ConfigError(
                self.key, f"the tokenizer merges the newline anchor into {text!r}: cannot encode it as a continuation"
            )
        return ids[len(self._anchor) :]

    def check_not_first(self, before: list[int], what: str) -> None:
        """An item slot must never sit at position 0 (no learned vector there: it would condition nothing)."""
        if not before:
            raise ConfigError(
                self.key,
                f"{what}: the item slot would sit at position 0; give the LLM a BOS token (bos: true) or a "
                "prefix_text, so that a real token comes first",
            )
