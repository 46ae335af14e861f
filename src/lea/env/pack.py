"""Prefix-tree packing of the LE's training prompts (the ``shared`` training step of ``lea.env.train.fit``).

All prompts of one training step start with the same header and, per transition, with the same user prompt p_t; the
reward prompts p_t p_at+ / p_t p_at- also share the words of p_at before the item, and the 5 rotated choice prompts
share the words of p_lt before the first label. A causal LM's hidden state at a token depends only on the tokens
before it, so every token of a shared prefix needs computing once. The prompts of a row are merged into a prefix tree
(a trie on (token id, item slot)); its nodes are laid out in insertion order (a parent always before its children) in
one row, with a tree attention mask (a node attends to itself and its ancestors only) and position ids = the depth
in the tree (RoPE sees each prompt at its own positions). Every prompt's hidden states are then exactly those of its
own causal pass: the same values, and autograd sums the gradient of a shared node over all prompts that read it,
as it would over separate copies. Rows hold whole transitions, about ``max_tokens`` nodes each (balanced: largest
transition first into the least loaded row), right-padded to the longest row; a padding token attends to itself only
and is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lea.env.prompts import Prompt


@dataclass
class Packed:
    ids: torch.Tensor  # [R, T] token ids (the pad id at item slots and padding)
    item_at: torch.Tensor  # [R, T] item index at an item slot, -1 elsewhere
    mask: torch.Tensor  # [R, 1, T, T] bool, True = the query (row 2) may attend to the key (row 3)
    position_ids: torch.Tensor  # [R, T] depth of the node in its tree
    index: list[list[int]]  # per prompt, the flat index (row * T + column) of each of its tokens
    n_nodes: int  # real (non-padding) tokens computed

    def gather(self, h: torch.Tensor, prompts: Sequence[int], positions: Sequence[int]) -> torch.Tensor:
        """Hidden states [N, d] of (prompt, position) pairs (a position < 0 counts from the prompt's end)."""
        flat = [self.index[p][k] for p, k in zip(prompts, positions, strict=True)]
        return h.reshape(-1, h.shape[-1])[torch.tensor(flat, device=h.device)]


class _Trie:
    """Nodes of one row in insertion order: (token id, item slot), parent node, depth."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.at: list[int] = []
        self.parent: list[int] = []
        self.depth: list[int] = []
        self.child: dict[tuple[int, int, int], int] = {}

    def insert(self, p: Prompt) -> list[int]:
        """Add ``p``'s tokens (sharing every existing prefix); returns the node of each of its tokens."""
        node, nodes = -1, []
        for d, (t, a) in enumerate(zip(p.ids, p.item_at, strict=True)):
            nxt = self.child.get((node, t, a))
            if nxt is None:
                nxt = self.child[(node, t, a)] = len(self.ids)
                self.ids.append(t)
                self.at.append(a)
                self.parent.append(node)
                self.depth.append(d)
            node = nxt
            nodes.append(node)
        return nodes


def _size(prompts: Sequence[Prompt]) -> int:
    t = _Trie()
    for p in prompts:
        t.insert(p)
    return len(t.ids)


def pack(groups: Sequence[Sequence[Prompt]], pad_id: int, max_tokens: int = 512) -> Packed:
    """Pack ``groups`` (the prompts of one transition each, kept in one row) into prefix-tree rows; ``Packed.index``
    lists the prompts in ``groups`` order, flattened."""
    sizes = [_size(g) for g in groups]  # a group's own tree; in a row with others it can only share more
    # as few rows as the budget allows (a group larger than it gets a row of its own size), filled evenly: each group,
    # largest first, goes to the least loaded row (ties by row number), so rows end up nearly equally long and
    # padding to the longest row wastes little
    cap = max([max_tokens, *sizes])
    n_rows = max(1, -(-sum(sizes) // cap))
    rows: list[list[int]] = [[] for _ in range(n_rows)]
    load = [0] * n_rows
    for g in sorted(range(len(groups)), key=lambda g: (-sizes[g], g)):
        r = min(range(n_rows), key=lambda r: (load[r], r))
        rows[r].append(g)
        load[r] += sizes[g]
    rows = [r for r in rows if r]
    first = [0] * (len(groups) + 1)  # flat number of each group's first prompt
    for g in range(len(groups)):
        first[g + 1] = first[g] + len(groups[g])
    local: list[list[int]] = [[] for _ in range(first[-1])]  # node numbers within the prompt's row
    prompt_row = [0] * first[-1]
    tries = []
    for r, members in enumerate(rows):
        trie = _Trie()
        for g in sorted(members):
            for k, p in enumerate(groups[g]):
                local[first[g] + k] = trie.insert(p)
                prompt_row[first[g] + k] = r
        tries.append(trie)
    R, T = len(rows), max((len(t.ids) for t in tries), default=1)
    ids = torch.full((R, T), pad_id, dtype=torch.long)
    at = torch.full((R, T), -1, dtype=torch.long)
    pos = torch.zeros((R, T), dtype=torch.long)
    mask = torch.zeros((R, T, T), dtype=torch.bool)
    diag = torch.arange(T)
    for r, t in enumerate(tries):
        n = len(t.ids)
        ids[r, :n], at[r, :n], pos[r, :n] = torch.tensor(t.ids), torch.tensor(t.at), torch.tensor(t.depth)
        mask[r, diag[n:], diag[n:]] = True  # a padding token sees itself only, so no query row is empty
    # a node sees itself and its ancestors. Along a prompt's path (its nodes in order) that is the lower triangle, set
    # by one indexing per prompt. Prompts that share a node share its whole path up to it and see its descendants as
    # later nodes (False), so their assignments agree; every node lies on some prompt's path
    tril: dict[int, torch.Tensor] = {}
    for p in range(first[-1]):
        path = torch.tensor(local[p])
        n = len(local[p])
        if n not in tril:
            tril[n] = torch.ones(n, n, dtype=torch.bool).tril()
        mask[prompt_row[p]][path[:, None], path[None, :]] = tril[n]
    index = [[prompt_row[p] * T + j for j in local[p]] for p in range(first[-1])]
    return Packed(ids, at, mask[:, None], pos, index, sum(len(t.ids) for t in tries))
