"""The LE's prompts (paper 3.2 and 3.4), as token ids with item slots.

User prompt p_t: "The user {history} in chronological order: x^e_1 ... x^e_t" — item tokens back to back (the paper's
x^e_{1:t}), the last W = ``window`` items of the history. Its last position gives the state s^e_t (Eq. 2); since the
prompt ends with the last item, the states of all prefixes of one (untruncated) history are hidden states of one
causal forward pass.
Action prompt p_at: ". Compute the likelihood that x^e_a {next} based on the history." (Eq. 1 reads the score head
on its last position.)
Selection prompt p_lt: ". In the list of following 5 {items}: first x^e_1, second x^e_2, ..., fifth x^e_5; based on
the history, select the number of the {item} that he is most likely to {continue}. Answer: the" — the choice is read
from the LM head's logits of the label words " first" .. " fifth" at the last position (the paper's "predefined item
position classification").
Domain words (item, items, history, next, continue) come from the dataset config's ``domain`` section.
With ``item_tokens: false`` (the -IT ablation) every item slot becomes the item's title as plain text instead.
Every prompt starts with the tokenizer's BOS (``llms.<name>.bos``, on unless false; not doubled when ``prefix_text``
is the BOS). The pieces are encoded by lea.llm.pieces: the ids are those of the whole prompt string, with the
SentencePiece dummy-prefix space of Mistral-7B / Llama-2 only at the start, an item slot a token boundary, and the
boundaries between p_t and what follows it forced token boundaries (p_t is a prefix of p_t p_at and p_t p_lt at the
same ids: the fast paths of lea.env.inference share it). The label words must start with distinct tokens (their first
tokens are what the choice reads); a tokenizer that breaks this stops with a ConfigError naming the LLM's key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from lea.errors import ConfigError
from lea.llm.pieces import Pieces

LABELS = ("first", "second", "third", "fourth", "fifth")
SLOT = -1  # marks an item slot in a token list; the item id is stored next to it


@dataclass
class Prompt:
    ids: list[int]  # token ids; at an item slot the pad id
    item_at: list[int]  # item index at a slot, -1 elsewhere
    user_len: int  # length of p_t (the state is read at user_len - 1)


@dataclass
class Batch:
    ids: torch.Tensor  # [B, T] right-padded
    item_at: torch.Tensor  # [B, T], -1 = real token
    attention_mask: torch.Tensor  # [B, T]
    last: torch.Tensor  # [B] index of the last real position
    state_at: torch.Tensor  # [B] index of the end of the user prompt


class Prompter:
    def __init__(
        self,
        tok,  # type: ignore[no-untyped-def]
        domain: Mapping[str, str],
        prefix_text: str = "",
        window: int = 10,
        titles: Sequence[str] | None = None,
        bos: bool | None = None,
        llm_key: str = "llms.<llm>",
    ) -> None:
        self.tok = tok
        self.window = window
        self.pad_id = tok.pad_token_id
        d = {
            "history": "has interacted with these items",
            "next": "be the next item to be interacted with",
            "continue": "continue to interact with",
            **domain,
        }
        pieces = Pieces(tok, prefix_text, bos, llm_key)
        cont = pieces.cont
        self.header = pieces.first(f"The user {d['history']} in chronological order:")
        pieces.check_not_first(self.header, "the user prompt")
        self.action_pre = cont(". Compute the likelihood that")
        self.action_post = cont(f" {d['next']} based on the history.")
        self.list_pre = cont(f". In the list of following 5 {d['items']}:")
        self.list_labels = [cont(f" {w}") for w in LABELS]
        self.list_sep = cont(",")
        self.list_post = cont(
            f"; based on the history, select the number of the {d['item']} that he is most likely to "
            f"{d['continue']}. Answer: the"
        )
        label_ids = [ids[0] if ids else -1 for ids in self.list_labels]
        if len(set(label_ids)) != len(LABELS) or -1 in label_ids:
            words = {w: tok.convert_ids_to_tokens(ids) for w, ids in zip(LABELS, self.list_labels, strict=True)}
            raise ConfigError(
                llm_key,
                f"the label words {LABELS} do not start with distinct tokens ({words}): the choice reads each "
                "label's first token, so this tokenizer cannot tell the positions apart",
            )
        self.label_ids = label_ids
        # -IT ablation: item titles as plain text (comma separated)
        self.title_ids = [cont(" " + t) for t in titles] if titles is not None else None
        self.sep = cont(",")

    @property
    def text_items(self) -> bool:
        return self.title_ids is not None

    def _item(self, item: int, ids: list[int], at: list[int]) -> None:
        if self.title_ids is None:
            ids.append(self.pad_id)
            at.append(int(item))
        else:
            t = self.title_ids[int(item)]
            ids.extend(t)
            at.extend([-1] * len(t))

    def _items(self, items: Sequence[int], ids: list[int], at: list[int], sep: bool) -> None:
        for k, x in enumerate(items):
            if sep and k and self.title_ids is not None:
                ids.extend(self.sep)
                at.extend([-1] * len(self.sep))
            self._item(x, ids, at)

    def user(self, history: Sequence[int]) -> Prompt:
        """p_t for the last ``window`` items of ``history`` (may be empty: the state before the first item)."""
        ids, at = list(self.header), [-1] * len(self.header)
        self._items(list(history)[-self.window :] if self.window else list(history), ids, at, sep=True)
        return Prompt(ids, at, len(ids))

    def reward_prefix(self, history: Sequence[int]) -> Prompt:
        """The part of p_t p_at before the action's item (shared by all actions of one history)."""
        p = self.user(history)
        return Prompt(p.ids + self.action_pre, p.item_at + [-1] * len(self.action_pre), p.user_len)

    def reward(self, history: Sequence[int], action: int) -> Prompt:
        """p_t p_at (Eq. 1)."""
        p = self.user(history)
        ids, at = p.ids + self.action_pre, p.item_at + [-1] * len(self.action_pre)
        self._item(action, ids, at)
        ids += self.action_post
        at += [-1] * len(self.action_post)
        return Prompt(ids, at, p.user_len)

    def augment(self, history: Sequence[int], candidates: Sequence[int]) -> Prompt:
        """p_t p_lt with 5 candidates (paper 3.4)."""
        if len(candidates) != len(LABELS):
            raise ValueError(f"the augmentation prompt lists exactly {len(LABELS)} items, got {len(candidates)}")
        p = self.user(history)
        ids, at = p.ids + self.list_pre, p.item_at + [-1] * len(self.list_pre)
        for k, c in enumerate(candidates):
            if k:
                ids += self.list_sep
                at += [-1] * len(self.list_sep)
            ids += self.list_labels[k]
            at += [-1] * len(self.list_labels[k])
            self._item(c, ids, at)
        ids += self.list_post
        at += [-1] * len(self.list_post)
        return Prompt(ids, at, p.user_len)

    def collate(self, prompts: Sequence[Prompt]) -> Batch:
        n = max(len(p.ids) for p in prompts)
        ids = torch.full((len(prompts), n), self.pad_id, dtype=torch.long)
        at = torch.full((len(prompts), n), -1, dtype=torch.long)
        att = torch.zeros((len(prompts), n), dtype=torch.long)
        for r, p in enumerate(prompts):
            ids[r, : len(p.ids)] = torch.tensor(p.ids)
            at[r, : len(p.ids)] = torch.tensor(p.item_at)
            att[r, : len(p.ids)] = 1
        last = torch.tensor([len(p.ids) - 1 for p in prompts])
        state_at = torch.tensor([p.user_len - 1 for p in prompts])
        return Batch(ids, at, att, last, state_at)
