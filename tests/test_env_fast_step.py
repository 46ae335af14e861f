"""The shared (prefix-tree packed) LE training step against the naive per-prompt step: the same losses and the same
gradients of every trainable parameter (fp32, tiny random Llama), with and without the state loss and the choice
task, with item tokens and with title items (-IT); the packing's tree mask and positions; fit end to end."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from test_env_fixtures import DOMAIN, llm_settings, make_tokenizer, tiny_data, tiny_llm  # noqa: F401

from lea.env.pack import pack
from lea.env.prompts import Prompt, Prompter

TOL = 1e-4


def build_le(llm: Path, data: Path, titles: bool, seed: int = 0, attn: str = "sdpa", **lora):  # type: ignore[no-untyped-def]
    import polars as pl

    from lea.env.model import LE
    from lea.llm.load import load_llm

    model, tok = load_llm({**llm_settings(llm), "attn_implementation": attn}, verbose=False)
    items = pl.read_parquet(data / "items.parquet").sort("item")
    names = items["title"].to_list() if titles else None
    prompter = Prompter(tok, DOMAIN, "[BOS]", window=4, titles=names)
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(items.height, model.config.hidden_size, generator=g)
    le = LE(model, tokens, prompter.label_ids, {"lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0, **lora})
    with torch.no_grad():  # LoRA's B starts at zero (A would get no gradient): random adapters test every parameter
        for p in le.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return le, prompter, items.height


def grads(le, prompter, batch, negs, choice, state_loss: bool, kind: str, row_tokens: int = 512, body=None):  # type: ignore[no-untyped-def]
    from lea.env.train import step_loss

    le.zero_grad(set_to_none=True)
    loss, row, n_tok, _ = step_loss(le, prompter, batch, negs, choice, state_loss, kind, row_tokens, body)
    loss.backward()
    g = {n: p.grad.detach().clone() for n, p in le.named_parameters() if p.requires_grad}
    return loss.item(), row, n_tok, g


@pytest.mark.parametrize("titles", [False, True], ids=["item-tokens", "titles"])
@pytest.mark.parametrize("state_loss", [True, False], ids=["SM", "noSM"])
@pytest.mark.parametrize("choice", ["rotations", "single", "off"])
def test_shared_step_matches_naive(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    titles: bool,
    state_loss: bool,
    choice: str,
) -> None:
    from lea.env.train import choice_batch, le_subset, load_sequences, sample_negatives, transitions

    le, prompter, n_items = build_le(tiny_llm, tiny_data, titles)
    le.train()
    seqs, splits, _ = load_sequences(tiny_data)
    train = transitions(seqs, le_subset(splits, 1.0), 4)
    rng = random.Random(3)
    batch = rng.sample(train, 9)  # not a multiple of 5: a partial rotation group
    negs = [sample_negatives(t, n_items, 1, rng)[0] for t in batch]
    ch = None if choice == "off" else choice_batch(batch, n_items, rng, rotations=choice == "rotations")
    l_n, row_n, tok_n, g_n = grads(le, prompter, batch, negs, ch, state_loss, "naive")
    # a small row budget forces several rows (padding between rows; whole transitions per row)
    for row_tokens in (512, 60):
        l_s, row_s, tok_s, g_s = grads(le, prompter, batch, negs, ch, state_loss, "shared", row_tokens)
        assert tok_s == tok_n
        assert abs(l_s - l_n) <= TOL
        assert row_s.keys() == row_n.keys()
        for k in row_n:
            assert abs(row_s[k] - row_n[k]) <= TOL, k
        assert g_s.keys() == g_n.keys() and len(g_n) > 4
        for n in g_n:
            # every parameter is exercised (the score head's bias cancels in Eq. 1's difference)
            assert n == "score.bias" or g_n[n].abs().max() > 0, n
            assert (g_s[n] - g_n[n]).abs().max() <= TOL, (n, float((g_s[n] - g_n[n]).abs().max()))


def lcp(x: Prompt, y: Prompt) -> int:
    n = 0
    for u, v in zip(zip(x.ids, x.item_at), zip(y.ids, y.item_at)):
        if u != v:
            break
        n += 1
    return n


def test_pack_tree_mask_and_positions() -> None:
    p = Prompter(make_tokenizer(), DOMAIN, "[BOS]", window=3)
    a, b = p.reward([1, 2], 5), p.reward([1, 2], 6)  # the same p_t and words before the item
    c = p.augment([1, 2], [5, 6, 7, 8, 9])
    d = p.reward([3], 4)  # another transition
    packed = pack([[a, b, c], [d]], p.pad_id, max_tokens=10_000)
    assert packed.ids.shape[0] == 1  # both transitions in one row
    assert lcp(a, b) >= len(p.reward_prefix([1, 2]).ids) and lcp(a, c) >= a.user_len and lcp(a, d) >= len(p.header)
    # a trie: every prompt adds the tokens after its longest common prefix with the prompts before it
    want = len(a.ids) + len(b.ids) - lcp(a, b) + len(c.ids) - max(lcp(c, a), lcp(c, b))
    want += len(d.ids) - max(lcp(d, a), lcp(d, b), lcp(d, c))
    assert packed.n_nodes == want
    T = packed.ids.shape[1]
    for k, q in enumerate([a, b, c, d]):
        idx = packed.index[k]
        assert len(idx) == len(q.ids)
        cols = [i % T for i in idx]
        # the tokens, item slots and positions of each prompt are its own
        assert packed.ids[0, cols].tolist() == [t if s < 0 else p.pad_id for t, s in zip(q.ids, q.item_at)]
        assert packed.item_at[0, cols].tolist() == q.item_at
        assert packed.position_ids[0, cols].tolist() == list(range(len(q.ids)))
        # the last token attends exactly to the prompt's own tokens
        assert set(packed.mask[0, 0, cols[-1]].nonzero().flatten().tolist()) == set(cols)
    # ancestors come first: the mask is lower-triangular
    assert not torch.triu(packed.mask[0, 0].int(), 1).any()


def test_pack_rows_and_padding() -> None:
    p = Prompter(make_tokenizer(), DOMAIN, "[BOS]", window=3)
    groups = [[p.reward([i], i + 1), p.reward([i], i + 2)] for i in range(5)]
    size = len(p.reward([0], 1).ids) + 1  # one transition's tree: a prompt plus the other's item and words after
    size += len(p.action_post)
    packed = pack(groups, p.pad_id, max_tokens=2 * size)
    assert packed.ids.shape[0] == 3  # 2 + 2 + 1 transitions
    T = packed.ids.shape[1]
    last_row_nodes = packed.n_nodes - 2 * (2 * size - len(p.header))
    assert last_row_nodes == size
    pad = torch.arange(last_row_nodes, T)
    m = packed.mask[2, 0]
    assert bool(m[pad, pad].all()) and int(m[pad].sum()) == len(pad)  # padding sees itself only
    # balanced: largest first into the least loaded row (all equal here: round robin)
    assert [packed.index[k][0] // T for k in range(10)] == [0, 0, 1, 1, 2, 2, 0, 0, 1, 1]
    with pytest.raises(ValueError):  # a malformed prompt (ids and item slots of different lengths)
        pack([[Prompt([1], [-1, -1], 1)]], p.pad_id)


def test_fit_shared_equals_naive(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    """fit end to end: both steps draw the same batches and reach the same parameters (no dropout, fp32)."""
    from lea.env.train import fit, le_subset, load_sequences, trainable_state, transitions

    seqs, splits, _ = load_sequences(tiny_data)
    train = transitions(seqs, le_subset(splits, 1.0), 4)[:24]
    out = {}
    for kind, ckpt in (("naive", False), ("shared", True), ("shared", False)):
        le, prompter, n_items = build_le(tiny_llm, tiny_data, titles=False)
        ft = {"epochs": 1, "batch_size": 8, "lr": 0.01, "step": kind, "activation_checkpointing": ckpt}
        log = fit(le, prompter, train, n_items, ft, seed=1, progress=False)
        out[(kind, ckpt)] = (log, trainable_state(le))
        assert log[-1]["peak_rss_mb"] > 0 and log[-1]["transitions"] == len(train)
    ref_log, ref_state = out[("naive", False)]
    for key in (("shared", True), ("shared", False)):
        log, state = out[key]
        for r, q in zip(ref_log, log, strict=True):
            assert abs(r["loss"] - q["loss"]) <= TOL and r["tokens"] == q["tokens"]
        assert log[-1]["computed_tokens"] < ref_log[-1]["computed_tokens"]
        for n, v in ref_state.items():
            assert (state[n] - v).abs().max() <= TOL, n


def test_lora_top_layers(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    """The approximation option: LoRA in the top block only; the shared step is exact for it too."""
    from lea.env.train import choice_batch, le_subset, load_sequences, sample_negatives, transitions

    le, prompter, n_items = build_le(tiny_llm, tiny_data, titles=False, lora_top_layers=1)
    names = [n for n, p in le.named_parameters() if p.requires_grad and "lora" in n]
    assert names and all(".layers.1." in n for n in names)
    seqs, splits, _ = load_sequences(tiny_data)
    rng = random.Random(0)
    batch = rng.sample(transitions(seqs, le_subset(splits, 1.0), 4), 6)
    negs = [sample_negatives(t, n_items, 1, rng)[0] for t in batch]
    ch = choice_batch(batch, n_items, rng)
    l_n, _, _, g_n = grads(le, prompter, batch, negs, ch, True, "naive")
    l_s, _, _, g_s = grads(le, prompter, batch, negs, ch, True, "shared")
    assert abs(l_n - l_s) <= TOL
    for n in g_n:
        assert (g_s[n] - g_n[n]).abs().max() <= TOL, n
    with pytest.raises(ValueError, match="lora_top_layers"):
        build_le(tiny_llm, tiny_data, titles=False, lora_top_layers=3)


def test_compiled_shared_step_matches_naive(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    """The speed switch ``compile`` (torch.compile of the decoder, fit's shared step) with eager attention, the
    benchmark's fastest exact step: the same losses and gradients as the naive step, over several packed rows whose
    shapes change from call to call (dynamic shapes)."""
    from lea.env.train import choice_batch, le_subset, load_sequences, sample_negatives, transitions

    le, prompter, n_items = build_le(tiny_llm, tiny_data, titles=False, attn="eager")
    le.train()
    seqs, splits, _ = load_sequences(tiny_data)
    train = transitions(seqs, le_subset(splits, 1.0), 4)
    body = torch.compile(le.body, dynamic=True)
    rng = random.Random(5)
    for size in (9, 6):  # two batches: a second shape reuses the dynamic graph
        batch = rng.sample(train, size)
        negs = [sample_negatives(t, n_items, 1, rng)[0] for t in batch]
        ch = choice_batch(batch, n_items, rng)
        l_n, _, _, g_n = grads(le, prompter, batch, negs, ch, True, "naive")
        for row_tokens in (512, 60):
            l_c, _, _, g_c = grads(le, prompter, batch, negs, ch, True, "shared", row_tokens, body)
            assert abs(l_c - l_n) <= TOL
            for n in g_n:
                assert (g_c[n] - g_n[n]).abs().max() <= TOL, (n, float((g_c[n] - g_n[n]).abs().max()))


def test_unknown_step(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    from lea.env.train import fit, le_subset, load_sequences, transitions
    from lea.errors import ConfigError

    le, prompter, n_items = build_le(tiny_llm, tiny_data, titles=False)
    seqs, splits, _ = load_sequences(tiny_data)
    with pytest.raises(ConfigError, match=r"le\.finetune\.step"):
        fit(le, prompter, transitions(seqs, le_subset(splits, 1.0), 4)[:4], n_items, {"step": "fast"}, progress=False)


def micro_grads(le, prompter, batch, negs, choice, kind: str, size: int, state_form):  # type: ignore[no-untyped-def]
    """The step in micro-batches of ``size`` transitions, each part's loss backpropagated on its own (as fit does)."""
    from lea.env.train import micro_parts, step_loss

    le.zero_grad(set_to_none=True)
    parts = micro_parts(batch, choice, size)
    assert sorted(i for p in parts for i in p[0]) == list(range(len(batch)))  # a partition of the transitions
    n_choice = len(choice[1]) if choice is not None else 0
    assert sorted(j for p in parts for j in p[1]) == list(range(n_choice))  # and of the choice prompts
    loss, row, tok = 0.0, {}, 0
    for part in parts:
        l_p, row_p, tok_p, _ = step_loss(le, prompter, batch, negs, choice, True, kind, 512, None, state_form, part)
        l_p.backward()
        loss, tok = loss + l_p.item(), tok + tok_p
        row = {k: row.get(k, 0.0) + v for k, v in row_p.items()}
    return loss, row, tok, {n: p.grad.detach().clone() for n, p in le.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("kind", ["naive", "shared"])
@pytest.mark.parametrize(
    "state_form",
    [("none", "keep"), ("inv_sqrt_d", "drop"), ("inv_sqrt_d", "keep", "catalogue")],
    ids=["paper", "extended", "catalogue"],
)
@pytest.mark.parametrize("choice", ["rotations", "single", "off"])
def test_micro_batches_match_the_whole_batch(
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    kind: str,
    state_form: tuple[str, ...],
    choice: str,
) -> None:
    """Micro-batches give the whole batch's loss, log row and gradients (Eq. 2 against all of the batch's actions)."""
    from lea.env.train import choice_batch, le_subset, load_sequences, sample_negatives, step_loss, transitions

    le, prompter, n_items = build_le(tiny_llm, tiny_data, titles=False)
    le.train()
    seqs, splits, _ = load_sequences(tiny_data)
    train = transitions(seqs, le_subset(splits, 1.0), 4)
    rng = random.Random(5)
    batch = rng.sample(train, 9)
    batch[4] = batch[1]  # a repeated action (and history): Eq. 2's "drop" pairs and a choice prompt's first match
    negs = [sample_negatives(t, n_items, 1, rng)[0] for t in batch]
    ch = None if choice == "off" else choice_batch(batch, n_items, rng, rotations=choice == "rotations")
    le.zero_grad(set_to_none=True)
    l_w, row_w, tok_w, _ = step_loss(le, prompter, batch, negs, ch, True, kind, 512, None, state_form)
    l_w.backward()
    g_w = {n: p.grad.detach().clone() for n, p in le.named_parameters() if p.requires_grad}
    for size in (1, 4):
        l_m, row_m, tok_m, g_m = micro_grads(le, prompter, batch, negs, ch, kind, size, state_form)
        assert tok_m == tok_w and abs(l_m - l_w.item()) <= TOL
        assert row_m.keys() == row_w.keys()
        for k in row_w:
            assert abs(row_m[k] - row_w[k]) <= TOL, (size, k)
        for n in g_w:
            assert (g_m[n] - g_w[n]).abs().max() <= TOL, (size, n, float((g_m[n] - g_w[n]).abs().max()))


def test_fit_micro_batches_equal_the_whole_batch(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    """fit with ``micro_batch`` reaches the parameters and losses of the whole-batch step (no dropout, fp32)."""
    from lea.env.train import fit, le_subset, load_sequences, trainable_state, transitions

    seqs, splits, _ = load_sequences(tiny_data)
    train = transitions(seqs, le_subset(splits, 1.0), 4)[:24]
    out = []
    for micro in (None, 3):
        le, prompter, n_items = build_le(tiny_llm, tiny_data, titles=False)
        ft = {"epochs": 1, "batch_size": 8, "lr": 0.01, "recipe": "extended", "micro_batch": micro}
        out.append((fit(le, prompter, train, n_items, ft, seed=1, progress=False), trainable_state(le)))
    (ref_log, ref_state), (log, state) = out
    for r, q in zip(ref_log, log, strict=True):
        assert abs(r["loss"] - q["loss"]) <= TOL and r["tokens"] == q["tokens"]
        assert abs(r["grad_norm"] - q["grad_norm"]) <= TOL * max(1.0, r["grad_norm"])
    for n, v in ref_state.items():
        assert (state[n] - v).abs().max() <= TOL, n


def test_state_weight_scales_the_state_term_only(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    """le.finetune.state_weight: loss = L_rm + w * L_sm, the log row's terms unchanged."""
    from lea.env.train import le_subset, load_sequences, sample_negatives, step_loss, transitions

    le, prompter, n_items = build_le(tiny_llm, tiny_data, titles=False)
    le.eval()
    seqs, splits, _ = load_sequences(tiny_data)
    batch = transitions(seqs, le_subset(splits, 1.0), 4)[:6]
    rng = random.Random(3)
    negs = [sample_negatives(t, n_items, 1, rng)[0] for t in batch]
    form = ("inv_sqrt_d", "keep", "catalogue")
    with torch.no_grad():
        l1, row1, _, _ = step_loss(le, prompter, batch, negs, None, True, "shared", 512, None, form)
        lw, roww, _, _ = step_loss(le, prompter, batch, negs, None, True, "shared", 512, None, form, state_weight=0.25)
    assert row1 == roww and row1["loss_sm"] > 0
    assert abs(float(l1) - (row1["loss_rm"] + row1["loss_sm"])) <= TOL
    assert abs(float(lw) - (row1["loss_rm"] + 0.25 * row1["loss_sm"])) <= TOL
