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

import inspect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from lea.checkpoint import load_checkpoint, save_checkpoint
from lea.config import config_hash
from lea.errors import InputError
from lea.llm.load import cpu_bf16_fast, decoder
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


def compute_dtype(setting: str, llm_dtype: str, device: str) -> str:
    """The dtype the item-token stage loads the LLM in: ``llm`` (the LLM's own), ``fp32``/``bf16``, or ``auto``
    (the LLM's own on a GPU or a CPU with bf16 kernels, else fp32)."""
    if llm_dtype == "auto":  # llms.<name>.dtype: auto (lea.llm.load.resolve_dtype)
        from lea.llm.load import resolve_dtype

        llm_dtype = resolve_dtype("auto", "cuda" if device != "cpu" and torch.cuda.is_available() else "cpu")
    if setting == "llm":
        return llm_dtype
    if setting == "auto":
        on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
        return "fp32" if on_cpu and llm_dtype == "bf16" and not cpu_bf16_fast() else llm_dtype
    return setting


def truncate(encoded: list[Encoded], max_tokens: int | None) -> list[Encoded]:
    """Keep at most ``max_tokens`` tokens after the slot (the loss's tokens; ours, a recipe knob). Causal attention:
    the tokens dropped never influence the ones kept, so the kept positions' loss is exactly the full sentence's."""
    if max_tokens is None:
        return encoded
    return [replace(e, ids=e.ids[: e.slot + 1 + max_tokens]) for e in encoded]


@dataclass
class Bucket:
    """Items of one shared prefix (the ids before the slot) and nearly one length, right-padded: under causal
    attention a real token never sees the padding after it, so no attention mask is needed and the padding only
    costs its own compute (bounded by ``pad_tolerance``); padded positions are left out of the loss."""

    rows: list[int]  # positions in the list the buckets were made from
    prefix: tuple[int, ...]
    ids: torch.Tensor  # [B, 1 + n_max]: the slot (its id is replaced by the item vector), the tokens after it, padding
    lengths: torch.Tensor  # [B]: 1 + n of each row


def make_buckets(
    encoded: list[Encoded], rows: Sequence[int], batch_items: int, pad_tolerance: float = 0.1
) -> list[Bucket]:
    """Buckets of ``rows`` (indices into ``encoded``, repeats allowed): one prefix each, sorted by length, at most
    ``batch_items`` rows, the longest at most ``1 + pad_tolerance`` times the shortest (0: one length, no padding)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for r, i in enumerate(rows):
        e = encoded[i]
        groups.setdefault(tuple(e.ids[: e.slot]), []).append(r)
    out = []
    for prefix, members in sorted(groups.items()):
        size = {r: len(encoded[rows[r]].ids) - encoded[rows[r]].slot for r in members}
        members = sorted(members, key=lambda r: (size[r], r))
        start = 0
        while start < len(members):
            end = start + 1
            while (
                end < len(members)
                and end - start < batch_items
                and size[members[end]] <= size[members[start]] * (1 + pad_tolerance)
            ):
                end += 1
            m = members[start:end]
            n = size[m[-1]]
            ids = torch.full((len(m), n), 0, dtype=torch.long)
            for k, r in enumerate(m):
                e = encoded[rows[r]]
                ids[k, : size[r]] = torch.tensor(e.ids[e.slot :])
            out.append(Bucket(m, prefix, ids, torch.tensor([size[r] for r in m])))
            start = end
    return out


class PrefixKV:
    """The frozen LLM's keys and values of each distinct prefix before the slot, computed once (no gradient: the
    prefix precedes the item vector, so under causal attention it never depends on it) and reused by every batch."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        self.model = model
        self.body = decoder(model)
        # transformers renamed the decoder's past_key_values argument to cache (see lea.env.model)
        self.kwarg = "cache" if "cache" in inspect.signature(self.body.forward).parameters else "past_key_values"
        self._kv: dict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = {}

    @torch.no_grad()
    def _layers(self, prefix: tuple[int, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        if prefix not in self._kv:
            device = self.model.get_input_embeddings().weight.device
            out = self.body(input_ids=torch.tensor([prefix], device=device), use_cache=True)
            cache = out.cache if hasattr(out, "cache") else out.past_key_values
            self._kv[prefix] = [(layer.keys, layer.values) for layer in cache.layers]
        return self._kv[prefix]

    def kwargs(self, prefix: tuple[int, ...], batch: int) -> dict[str, Any]:
        """The decoder keyword holding a fresh cache of ``prefix`` for ``batch`` rows (a forward appends to it)."""
        if not prefix:
            return {}
        from transformers import DynamicCache

        layers = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in self._layers(prefix)]
        return {self.kwarg: DynamicCache(layers)}


def suffix_nll(model, kv: PrefixKV, bucket: Bucket, vecs: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """The fast path of ``sentence_nll`` (same values): per-row mean next-token NLL of the tokens after the slot, for
    a bucket of right-padded rows on the cached prefix, without attention mask (plain causal attention)."""
    ids = bucket.ids.to(vecs.device)
    emb = model.get_input_embeddings()(ids[:, 1:])
    emb = torch.cat([vecs.to(emb.dtype)[:, None], emb], 1)
    hidden = decoder(model)(inputs_embeds=emb, use_cache=False, **kv.kwargs(bucket.prefix, len(ids))).last_hidden_state
    # position t predicts token t+1; logits only where t+1 is a real token
    lengths = bucket.lengths.to(ids.device)
    pred = torch.arange(ids.shape[1] - 1, device=ids.device)[None, :] < (lengths[:, None] - 1)
    logits = model.get_output_embeddings()(hidden[:, :-1][pred]).float()
    nll = F.cross_entropy(logits, ids[:, 1:][pred], reduction="none")
    rows = torch.arange(len(ids), device=ids.device)[:, None].expand_as(pred)[pred]
    return torch.zeros(len(ids), device=nll.device).index_add(0, rows, nll) / (lengths - 1)


def nll_rows(
    model,  # type: ignore[no-untyped-def]
    encoded: list[Encoded],
    rows: Sequence[int],
    vecs: torch.Tensor,
    pad_id: int,
    batch: int = 64,
    method: str = "fast",
    kv: PrefixKV | None = None,
) -> torch.Tensor:
    """NLL(T_rows[r] | vecs[r]) for every r (no gradient), by either path; float32 on the CPU."""
    device = model.get_input_embeddings().weight.device
    out = torch.empty(len(rows))
    with torch.no_grad():
        if method == "fast":
            kv = kv or PrefixKV(model)
            for b in make_buckets(encoded, rows, batch):
                out[b.rows] = suffix_nll(model, kv, b, vecs[b.rows].to(device)).float().cpu()
        elif method == "naive":
            for s in range(0, len(rows), batch):
                r = list(range(s, min(s + batch, len(rows))))
                ids, att, slots, lab = (t.to(device) for t in collate([encoded[rows[k]] for k in r], pad_id))
                out[r] = sentence_nll(model, ids, att, slots, lab, vecs[r].to(device)).float().cpu()
        else:
            raise ValueError(f"unknown method '{method}' (fast or naive)")
    return out


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
    method: str = "fast",
    max_tokens: int | None = None,
    early_stop_patience: int | None = None,
    early_stop_min_delta: float = 0.0,
    snapshots: dict[int, torch.Tensor] | None = None,
    pad_tolerance: float = 0.1,
    resume: dict[str, Any] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[float], float]:
    """Return (tokens [n, d] float32, final per-item loss [n], mean loss per iteration, wall seconds).

    ``method``: ``fast`` (buckets of one prefix and nearly one length, right-padded without attention mask, the
    shared prefix's KV cache computed once; ``pad_tolerance`` bounds the padding) or ``naive`` (right-padded batches
    sorted by length with an attention mask, the prefix recomputed); both give
    the same tokens (tests/test_llm_item_tokens_fast.py). ``max_tokens``: only the first N tokens after S* count
    (null: all, the paper). Early stopping (``early_stop_patience``, null: off, the paper): a batch stops when its mean
    loss has not fallen by more than ``early_stop_min_delta`` nats below its best for that many iterations; the curve
    carries its last loss on. ``snapshots``: for each key k already in the dict, the tokens after k iterations are
    written to it (a quality curve from one run; 0 = the initialisation).

    With ``checkpoint``, the whole state (tokens so far, the current batch's vectors and Adam state, losses,
    position) is saved every ``checkpoint_every`` item-batch iterations and a rerun after a kill resumes from it with
    the same result; ``context`` (e.g. the LLM's settings) joins the checkpoint's fingerprint. The caller deletes the
    checkpoint when its outputs are written. ``resume``, if given, gets ``from_step``: the item-batch iteration the
    run resumed at, or None when it started afresh (no checkpoint, or one of other settings, which is ignored)."""
    if method not in ("fast", "naive"):
        raise ValueError(f"unknown method '{method}' (fast or naive)")
    device = model.get_input_embeddings().weight.device
    tokens = init_tokens(model, encoded, init, seed)  # from the full text: truncation changes only the loss
    train = truncate(encoded, max_tokens)
    final = torch.zeros(len(encoded))
    kv = PrefixKV(model) if method == "fast" else None
    if method == "fast":
        buckets = make_buckets(train, range(len(train)), batch_items, pad_tolerance)
        batches = [b.rows for b in buckets]
    else:  # bucket by length (sorted), so padding is small; batches of batch_items
        order = sorted(range(len(train)), key=lambda i: len(train[i].ids))
        batches = [order[i : i + batch_items] for i in range(0, len(order), batch_items)]
    snaps = {k: tokens.clone() for k in snapshots} if snapshots is not None else {}
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
            "method": method,
            "pad_tolerance": pad_tolerance,
            "max_tokens": max_tokens,
            "early_stop": [early_stop_patience, early_stop_min_delta],
            "snapshots": sorted(snaps),
        }
    )
    ck = load_checkpoint(checkpoint, fingerprint)
    if resume is not None:
        resume["from_step"] = ck["step"] if ck is not None else None
    first_batch, first_it, step, elapsed = 0, 0, 0, 0.0
    best, since = math.inf, 0
    if ck is not None:
        tokens, final, curve, snaps = ck["tokens"], ck["final"], ck["curve"], ck["snapshots"]
        first_batch, first_it, step, elapsed = ck["batch"], ck["iteration"], ck["step"], ck["wall"]
        best, since = ck["early_stop_state"]
        torch.set_rng_state(ck["torch_rng"])
    t0 = time.perf_counter() - elapsed
    bar = tqdm(
        total=total, desc="item tokens (item-batch iterations)", disable=not progress, mininterval=5, initial=step
    )
    for bi in range(first_batch, len(batches)):
        b = batches[bi]
        if method == "fast":

            def batch_nll(v: torch.Tensor, bucket: Bucket = buckets[bi]) -> torch.Tensor:
                return suffix_nll(model, kv, bucket, v)
        else:
            ids, att, slots, lab = (t.to(device) for t in collate([train[i] for i in b], pad_id))

            def batch_nll(v: torch.Tensor, ids=ids, att=att, slots=slots, lab=lab) -> torch.Tensor:  # type: ignore[no-untyped-def]
                return sentence_nll(model, ids, att, slots, lab, v)

        vec = torch.nn.Parameter(tokens[b].clone().to(device))
        opt = torch.optim.Adam([vec], lr=lr)
        start = 0
        if ck is not None and bi == first_batch:  # the checkpoint's batch: its vectors sit in tokens[b] already
            opt.load_state_dict(ck["adam"])
            start = first_it
        else:
            best, since = math.inf, 0
        last = math.nan
        for it in range(start, iterations):
            if early_stop_patience is not None and since >= early_stop_patience:
                curve[it] += last * len(b) / len(encoded)  # stopped: its loss stays where it ended
                step += 1
                bar.update(1)
            else:
                loss = batch_nll(vec)
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()  # sum: item i's gradient is its own loss's gradient only
                opt.step()
                last = loss.detach().mean().item()
                curve[it] += last * len(b) / len(encoded)
                if last < best - early_stop_min_delta:
                    best, since = last, 0
                else:
                    since += 1
                step += 1
                bar.update(1)
            if it + 1 in snaps:
                snaps[it + 1][b] = vec.detach().float().cpu()
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
                        "snapshots": snaps,
                        "early_stop_state": [best, since],
                        "adam": opt.state_dict(),
                        "wall": time.perf_counter() - t0,
                        # nothing here draws from it (frozen LLM in eval mode); restored so what follows sees the same
                        "torch_rng": torch.get_rng_state(),
                    },
                )
        with torch.no_grad():
            final[b] = batch_nll(vec).float().cpu()
        tokens[b] = vec.detach().float().cpu()
    bar.close()
    if snapshots is not None:
        snapshots.update(snaps)
    return tokens, final, curve, time.perf_counter() - t0


def own_vs_other(
    model,  # type: ignore[no-untyped-def]
    encoded: list[Encoded],
    tokens: torch.Tensor,
    pad_id: int,
    pairs: int,
    seed: int = 0,
    batch: int = 64,
    method: str = "fast",
) -> dict[str, Any]:
    """Diagnostic: for random pairs (i, j), i != j, is NLL(T_i | e_i) < NLL(T_i | e_j)? T_i is the whole sentence
    (never truncated). Returns the accuracy (chance 0.5) and its one-sided exact binomial p-value against 0.5."""
    n = len(encoded)
    if n < 2 or pairs == 0:
        return {"pairs": 0, "accuracy": math.nan}
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(0, n, (pairs,), generator=g)
    j = (i + torch.randint(1, n, (pairs,), generator=g)) % n
    # NLL(T_i | e_i) once per distinct item, NLL(T_i | e_j) once per pair
    uniq = sorted(set(i.tolist()))
    own_u = nll_rows(model, encoded, uniq, tokens[uniq], pad_id, batch, method)
    own_t = own_u[torch.searchsorted(torch.tensor(uniq), i)]
    other_t = nll_rows(model, encoded, i.tolist(), tokens[j], pad_id, batch, method)
    from scipy.stats import binomtest

    wins = int((own_t < other_t).sum())
    return {
        "pairs": int(pairs),
        "accuracy": wins / pairs,
        "p_value_vs_chance": float(binomtest(wins, pairs, 0.5, alternative="greater").pvalue),
        "chance": 0.5,
        "mean_nll_own": float(own_t.mean()),
        "mean_nll_other": float(other_t.mean()),
    }
