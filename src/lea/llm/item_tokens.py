"""Item tokenization (paper 3.2, Figure 2a): one new vector per item in the LLM's input-embedding space.

For item i the sentence T_i holds the placeholder S* (``{S}``); the vector e_i replaces it in the input and is the only
trained parameter: it is optimised (Adam) so that the frozen LLM generates the rest of T_i autoregressively (next-token
cross-entropy on T_i's tokens after S*). Items are optimised in batches: each item's loss is summed (not averaged over
items) and Adam is element-wise, so item i's update depends on its own loss only, exactly as if optimised alone.
A real token (the tokenizer's BOS, or ``prefix_text`` such as ``<|im_start|>``) precedes S*: position 0 is an attention
sink and a learned vector there never conditions the next word (docs: llm-on-cpu-notes.md); ``encode_sentences`` stops
with a ConfigError naming the LLM's key if nothing would.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from lea.checkpoint import load_checkpoint, save_checkpoint
from lea.config import config_hash
from lea.errors import InputError
from lea.llm.load import decoder
from lea.llm.pieces import Pieces

PLACEHOLDER = "{S}"


@dataclass
class Encoded:
    """One item's training example: ids with a slot (``slot``) for the item vector, and which positions count."""

    ids: list[int]
    slot: int
    text_ids: list[int]  # the item's own text tokens (for the text-mean initialisation)


def encode_sentences(
    tok,  # type: ignore[no-untyped-def]
    sentences: list[str],
    prefix_text: str = "",
    bos: bool | None = None,
    llm_key: str = "llms.<llm>",
) -> list[Encoded]:
    """T_i as ids with the slot of S*: the tokenizer's BOS (``bos``: on unless false, never doubled with
    ``prefix_text``), ``prefix_text`` and the text before S*, the slot, then the text after S* as it continues the
    string (lea.llm.pieces: no SentencePiece dummy-prefix token after the slot). A slot at position 0 is an error."""
    pieces = Pieces(tok, prefix_text, bos, llm_key)
    out = []
    for row, s in enumerate(sentences):
        if s is None or s.count(PLACEHOLDER) != 1:
            raise InputError(
                "items.parquet", f"row {row}: sentence must contain the placeholder {{S}} exactly once: {s!r}"
            )
        before, after = s.split(PLACEHOLDER)
        pre = pieces.first(before)
        pieces.check_not_first(pre, f"items.parquet row {row}: item sentence {s!r}")
        post = pieces.cont(after)
        if not post:
            raise InputError("items.parquet", f"row {row}: sentence has no text after {{S}}: {s!r}")
        out.append(Encoded(ids=[*pre, tok.pad_token_id, *post], slot=len(pre), text_ids=pieces.cont(before + after)))
    return out


def init_tokens(model, encoded: list[Encoded], init: str, seed: int = 0) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """``random``: Gaussian at the scale (per-coordinate mean/std) of the embedding table (paper); ``text_mean``: the
    mean of the embeddings of the item's own text tokens, rescaled to the table's mean row norm (ours)."""
    # on the CPU: the same tokens (CPU generator) whatever device the LLM sits on
    table = model.get_input_embeddings().weight.detach().float().cpu()
    if init == "random":
        g = torch.Generator().manual_seed(seed)
        std = table.std(dim=0)
        mean = table.mean(dim=0)
        return mean + std * torch.randn(len(encoded), table.shape[1], generator=g)
    if init == "text_mean":
        # the mean of many embeddings shrinks towards the table mean: rescale it to the typical row norm
        means = torch.stack([table[torch.tensor(e.text_ids)].mean(0) for e in encoded])
        return means * (table.norm(dim=1).mean() / means.norm(dim=1, keepdim=True).clamp(min=1e-8))
    raise ValueError(f"unknown init '{init}' (random or text_mean)")


def collate(encoded: list[Encoded], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids, attention mask, slot positions, and the label mask (tokens after the slot, not padding)."""
    n = max(len(e.ids) for e in encoded)
    ids = torch.full((len(encoded), n), pad_id, dtype=torch.long)
    att = torch.zeros((len(encoded), n), dtype=torch.long)
    lab = torch.zeros((len(encoded), n), dtype=torch.bool)
    slots = torch.tensor([e.slot for e in encoded])
    for r, e in enumerate(encoded):
        ids[r, : len(e.ids)] = torch.tensor(e.ids)
        att[r, : len(e.ids)] = 1
        lab[r, e.slot + 1 : len(e.ids)] = True
    return ids, att, slots, lab


def sentence_nll(
    model, ids: torch.Tensor, att: torch.Tensor, slots: torch.Tensor, lab: torch.Tensor, vecs: torch.Tensor
) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """Per-row mean next-token NLL of the label positions, with ``vecs`` (rows) placed at the slots."""
    emb = model.get_input_embeddings()(ids)
    rows = torch.arange(ids.shape[0], device=ids.device)
    emb = emb.index_put((rows, slots), vecs.to(emb.dtype))
    hidden = decoder(model)(inputs_embeds=emb, attention_mask=att).last_hidden_state
    # logits only where a label is predicted: position t predicts token t+1
    pred = lab[:, 1:]
    h = hidden[:, :-1][pred]
    logits = model.get_output_embeddings()(h).float()
    nll = F.cross_entropy(logits, ids[:, 1:][pred], reduction="none")
    row_of = rows[:, None].expand_as(pred)[pred]
    per_row = torch.zeros(ids.shape[0], device=nll.device).index_add(0, row_of, nll)
    return per_row / pred.sum(1).clamp(min=1)


def learn_item_tokens(
    model,  # type: ignore[no-untyped-def]
    encoded: list[Encoded],
    pad_id: int,
    iterations: int = 300,
    lr: float = 5e-3,
    batch_items: int = 64,
    init: str = "random",
    seed: int = 0,
    progress: bool = True,
    checkpoint: Path | None = None,
    checkpoint_every: int = 25,
    context: Any = None,
) -> tuple[torch.Tensor, torch.Tensor, list[float], float]:
    """Return (tokens [n, d] float32, final per-item loss [n], mean loss per iteration, wall seconds).

    With ``checkpoint``, the whole state (tokens so far, the current batch's vectors and Adam state, losses,
    position) is saved every ``checkpoint_every`` item-batch iterations and a rerun after a kill resumes from it with
    the same result; ``context`` (e.g. the LLM's settings) joins the checkpoint's fingerprint. The caller deletes the
    checkpoint when its outputs are written."""
    device = model.get_input_embeddings().weight.device
    tokens = init_tokens(model, encoded, init, seed)
    final = torch.zeros(len(encoded))
    # bucket by length (sorted), so padding is small; batches of batch_items
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
    batches = [order[i : i + batch_items] for i in range(0, len(order), batch_items)]
    curve = [0.0] * iterations
    total = iterations * len(batches)
    fingerprint = config_hash(
        {
            "iterations": iterations,
            "lr": lr,
            "batch_items": batch_items,
            "init": init,
            "seed": seed,
            "pad_id": pad_id,
            "items": [(e.ids, e.slot, e.text_ids) for e in encoded],
            "context": context,
        }
    )
    ck = load_checkpoint(checkpoint, fingerprint)
    first_batch, first_it, step, elapsed = 0, 0, 0, 0.0
    if ck is not None:
        tokens, final, curve = ck["tokens"], ck["final"], ck["curve"]
        first_batch, first_it, step, elapsed = ck["batch"], ck["iteration"], ck["step"], ck["wall"]
        torch.set_rng_state(ck["torch_rng"])
    t0 = time.perf_counter() - elapsed
    bar = tqdm(
        total=total, desc="item tokens (item-batch iterations)", disable=not progress, mininterval=5, initial=step
    )
    for bi in range(first_batch, len(batches)):
        b = batches[bi]
        ids, att, slots, lab = (t.to(device) for t in collate([encoded[i] for i in b], pad_id))
        vec = torch.nn.Parameter(tokens[b].clone().to(device))
        opt = torch.optim.Adam([vec], lr=lr)
        start = 0
        if ck is not None and bi == first_batch:  # the checkpoint's batch: its vectors sit in tokens[b] already
            opt.load_state_dict(ck["adam"])
            start = first_it
        for it in range(start, iterations):
            loss = sentence_nll(model, ids, att, slots, lab, vec)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()  # sum: item i's gradient is its own loss's gradient only
            opt.step()
            curve[it] += loss.detach().sum().item() / len(encoded)
            step += 1
            bar.update(1)
            if checkpoint is not None and step % checkpoint_every == 0 and step < total:
                tokens[b] = vec.detach().float().cpu()
                save_checkpoint(
                    checkpoint,
                    {
                        "fingerprint": fingerprint,
                        "step": step,
                        "batch": bi,
                        "iteration": it + 1,
                        "tokens": tokens,
                        "final": final,
                        "curve": curve,
                        "adam": opt.state_dict(),
                        "wall": time.perf_counter() - t0,
                        # nothing here draws from it (frozen LLM in eval mode); restored so what follows sees the same
                        "torch_rng": torch.get_rng_state(),
                    },
                )
        with torch.no_grad():
            final[b] = sentence_nll(model, ids, att, slots, lab, vec).float().cpu()
        tokens[b] = vec.detach().float().cpu()
    bar.close()
    return tokens, final, curve, time.perf_counter() - t0


@torch.no_grad()
def own_vs_other(
    model, encoded: list[Encoded], tokens: torch.Tensor, pad_id: int, pairs: int, seed: int = 0, batch: int = 64
) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Diagnostic: for random pairs (i, j), i != j, is NLL(T_i | e_i) < NLL(T_i | e_j)? Returns the accuracy."""
    n = len(encoded)
    if n < 2 or pairs == 0:
        return {"pairs": 0, "accuracy": math.nan}
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(0, n, (pairs,), generator=g)
    j = (i + torch.randint(1, n, (pairs,), generator=g)) % n
    device = model.get_input_embeddings().weight.device
    own, other = [], []
    for s in range(0, pairs, batch):
        ii, jj = i[s : s + batch], j[s : s + batch]
        ids, att, slots, lab = (t.to(device) for t in collate([encoded[k] for k in ii.tolist()], pad_id))
        own.append(sentence_nll(model, ids, att, slots, lab, tokens[ii].to(device)))
        other.append(sentence_nll(model, ids, att, slots, lab, tokens[jj].to(device)))
    own_t, other_t = torch.cat(own), torch.cat(other)
    return {
        "pairs": int(pairs),
        "accuracy": float((own_t < other_t).float().mean()),
        "mean_nll_own": float(own_t.mean()),
        "mean_nll_other": float(other_t.mean()),
    }
