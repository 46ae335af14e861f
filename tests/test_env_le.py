"""The LE on a tiny random Llama: prompts, fit-le end to end, fast inference paths vs naive, precompute shards."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch
from test_env_fixtures import DOMAIN, llm_settings, make_tokenizer, tiny_data, tiny_llm  # noqa: F401

from lea.env.prompts import LABELS, Prompter
from lea.errors import InputError, MissingInputError


def settings(llm: Path, **le) -> dict:
    return {
        "llm": llm_settings(llm),
        "le": {"fraction": 1.0, "state_loss": True, "item_tokens": True, "name": "t", **le},
        "finetune": {"epochs": 1, "batch_size": 8, "lr": 0.005, "valid_transitions": 40},
        "history": 4,
        "domain": DOMAIN,
        "precompute": {"negatives": 2, "batch_size": 16, "state_dtype": "float32"},
    }


def test_prompts() -> None:
    p = Prompter(make_tokenizer(), DOMAIN, "[BOS]", window=3)
    u = p.user([5, 6, 7, 8])
    assert [x for x in u.item_at if x >= 0] == [6, 7, 8]  # last W items, back to back
    assert u.ids[0] == p.tok.convert_tokens_to_ids("[BOS]")  # an item token never sits at position 0
    r = p.reward([5, 6], 9)
    assert [x for x in r.item_at if x >= 0] == [5, 6, 9] and r.user_len == len(p.user([5, 6]).ids)
    a = p.augment([5], [1, 2, 3, 4, 0])
    assert [x for x in a.item_at if x >= 0] == [5, 1, 2, 3, 4, 0]
    assert len(set(p.label_ids)) == len(LABELS)
    empty = p.user([])
    assert all(x < 0 for x in empty.item_at) and empty.user_len == len(p.header)
    with pytest.raises(ValueError):
        p.augment([5], [1, 2])
    text = Prompter(make_tokenizer(), DOMAIN, "[BOS]", window=3, titles=["one", "two three", "four"])
    assert all(x < 0 for x in text.reward([0, 1], 2).item_at)  # -IT: titles as plain text


@pytest.fixture(scope="module")
def fitted(tiny_llm: Path, tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:  # noqa: F811
    from lea.cli import main

    out = tmp_path_factory.mktemp("le")
    s = {"llm": llm_settings(tiny_llm), "item_tokens": {"iterations": 5, "lr": 0.05, "batch_items": 12}}
    assert (
        main(
            [
                "item-tokens",
                "--settings",
                json.dumps(s),
                "--items",
                str(tiny_data / "items.parquet"),
                "--out-dir",
                str(out),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "fit-le",
                "--settings",
                json.dumps(settings(tiny_llm)),
                "--data-dir",
                str(tiny_data),
                "--item-tokens",
                str(out / "item_tokens.safetensors"),
                "--out-dir",
                str(out / "t"),
            ]
        )
        == 0
    )
    return out / "item_tokens.safetensors", out / "t"


def test_fit_le_outputs(fitted: tuple[Path, Path]) -> None:
    _, le_dir = fitted
    assert (le_dir / "adapter" / "adapter_config.json").exists()
    assert (le_dir / "score_head.safetensors").exists()
    assert not (le_dir / "checkpoint.pt").exists()  # removed once the outputs are written
    q = json.loads((le_dir / "le_quality.json").read_text())
    for key in ("reward", "state", "choice"):
        assert key in q
    assert 0 <= q["reward"]["auc"] <= 1 and 0 <= q["state"]["hr@10"] <= 1 and q["choice"]["chance"] == 0.2
    log = pl.read_csv(le_dir / "train_log.csv")
    # the paper recipe (no recipe given): L_rm + L_sm only, r^e as the head gives it, the label score alone
    assert {"loss_rm", "loss_sm", "sm_saturated", "tokens_per_s"} <= set(log.columns)
    assert "loss_choice" not in log.columns
    from lea.config import RECIPES

    assert q["recipe"] == "paper" and q["switches"] == RECIPES["paper"] and q["reward_shift"] is None
    assert q["other_switches"] == {
        "state_weight": 1.0,
        "max_grad_norm": None,
        "lora_top_layers": None,
        "item_token_lr": None,
        "item_token_norm": None,
    }
    assert q["choice"]["rule"] == "label reading" and 0 <= q["state_loss_saturated"] <= 1
    # the floor beside the LE: context-free scorers fitted on the same LE subset, the same validation examples
    ref = q["reference"]
    assert ref["train_transitions"] == q["train_transitions"]
    for name in ("popularity", "item_vector_linear"):
        assert ref[name]["transitions"] == q["transitions"] and 0 <= ref[name]["reward"]["auc"] <= 1


def test_fit_le_extended_recipe(tiny_llm: Path, tiny_data: Path, tmp_path: Path, fitted: tuple[Path, Path]) -> None:  # noqa: F811
    from lea.cli import main

    s = settings(tiny_llm)
    s["finetune"] = {**s["finetune"], "recipe": "extended"}
    argv = ["fit-le", "--settings", json.dumps(s), "--data-dir", str(tiny_data), "--item-tokens", str(fitted[0])]
    assert main([*argv, "--out-dir", str(tmp_path)]) == 0
    log = pl.read_csv(tmp_path / "train_log.csv")
    assert {"loss_rm", "loss_sm", "loss_choice", "acc_choice"} <= set(log.columns)
    q = json.loads((tmp_path / "le_quality.json").read_text())
    assert q["recipe"] == "extended" and q["reward_shift"] is not None
    assert q["choice"]["rule"] == "calibrated label reading + reward of each item"


def test_state_loss_forms_match_eq2() -> None:
    """Eq. 2 as written (paper) and the extended form, against an explicit double loop."""
    import math
    from types import SimpleNamespace

    from lea.env.model import LE

    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(6, 8, generator=g)
    states = torch.randn(4, 8, generator=g) * 3
    targets = torch.tensor([1, 3, 1, 5])
    fake = SimpleNamespace(item_tokens=tokens, device=torch.device("cpu"))
    lsig = torch.nn.functional.logsigmoid

    def naive(scale: float, drop: bool) -> float:
        terms = []
        for t in range(4):
            for j in range(4):
                if drop and targets[j] == targets[t]:
                    continue
                d = (states[t] @ tokens[targets[t]] - states[t] @ tokens[targets[j]]) * scale
                terms.append(-lsig(d))
        return float(torch.stack(terms).sum() / (16 if not drop else len(terms)))

    paper, _ = LE.state_loss(fake, states, targets, "none", "keep")  # type: ignore[arg-type]
    assert math.isclose(float(paper), naive(1.0, False), rel_tol=1e-5)
    ext, _ = LE.state_loss(fake, states, targets, "inv_sqrt_d", "drop")  # type: ignore[arg-type]
    assert math.isclose(float(ext), naive(1 / math.sqrt(8), True), rel_tol=1e-5)
    _, sat = LE.state_loss(fake, states * 100, targets)  # type: ignore[arg-type]
    assert float(sat) > 0.5  # large-norm states saturate the raw form
    # state_negatives=catalogue: every item a negative, -log softmax over the catalogue at the target, mean over states
    for scale_name, scale in (("none", 1.0), ("inv_sqrt_d", 1 / math.sqrt(8))):
        want = []
        for t in range(4):
            z = torch.stack([states[t] @ tokens[i] for i in range(6)]) * scale
            want.append(-(z[targets[t]] - torch.logsumexp(z, 0)))
        cat, _ = LE.state_loss(fake, states, targets, scale_name, "drop", negatives="catalogue")  # type: ignore[arg-type]
        assert math.isclose(float(cat), float(torch.stack(want).mean()), rel_tol=1e-5)
    with pytest.raises(ValueError, match="state_negatives"):
        LE.state_loss(fake, states, targets, negatives="all")  # type: ignore[arg-type]


def test_fit_le_it_ablation_needs_no_item_tokens(tiny_llm: Path, tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    from lea.cli import main

    s = settings(tiny_llm, item_tokens=False, state_loss=False)
    assert main(["fit-le", "--settings", json.dumps(s), "--data-dir", str(tiny_data), "--out-dir", str(tmp_path)]) == 0
    log = pl.read_csv(tmp_path / "train_log.csv")
    assert "loss_sm" not in log.columns  # -SM: no state loss


def test_fast_paths_agree(fitted: tuple[Path, Path], tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    from lea.env.cli import build

    tokens, le_dir = fitted
    le, prompter, _ = build(
        settings(tiny_llm), tiny_data, tokens, le_dir / "adapter", le_dir / "score_head.safetensors"
    )
    check_fast_paths(le, prompter)


# the fast-path checks' rows: histories of unequal length (one empty), 2 actions each, 5 candidates each
HIST = [[1, 2], [3], [], [4, 5, 6, 7, 8], [9, 10]]
ACTS = [[3, 0], [4, 1], [0, 2], [9, 3], [11, 4]]
CANDS = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [1, 3, 5, 7, 9], [10, 2, 4, 6, 8], [11, 0, 10, 1, 9]]


def check_fast_paths(le, prompter) -> None:  # type: ignore[no-untyped-def]
    """The fast paths (shared prefixes, KV caches) equal the naive one-prompt-per-row paths (also run on the Mistral
    tokenizer by test_llm_tokenizers.py)."""
    from lea.env.inference import LEInference

    inf = LEInference(le, prompter, batch_size=5, progress=False, kv_share=True, reward_prior=True)
    seqs = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [0]]
    fast = inf.sequence_states(seqs)
    for s, f in zip(seqs, fast):
        naive = inf.states([s[max(0, p - 4) : p] for p in range(len(s) + 1)])
        assert torch.allclose(f, naive, atol=1e-4), (f - naive).abs().max()
    hist, acts = HIST, ACTS
    shared = inf.rewards_shared(hist, acts)
    naive = inf.rewards([h for h in hist for _ in range(2)], [a for al in acts for a in al]).view(5, 2)
    assert torch.allclose(shared, naive, atol=1e-4), (shared - naive).abs().max()
    cands = CANDS
    pos, prob = inf.choose(hist, cands)
    assert pos.shape == (5,) and torch.allclose(prob.sum(1), torch.ones(5))
    # augmentation fast path: one p_t pass for the list prompt and the 5 listed items' reward prompts
    le.label_bias.copy_(torch.tensor([0.5, -0.25, 0.0, 0.1, -0.35]))  # a calibration the naive path must apply too
    pos, prob = inf.choose(hist, cands)
    logp, r5 = inf.choice_scores(hist, cands)
    assert torch.allclose(logp.softmax(1), prob, atol=1e-4), (logp.softmax(1) - prob).abs().max()
    r_naive = inf.rewards([h for h in hist for _ in range(5)], [a for c in cands for a in c]).view(5, 5)
    assert r5 is not None and torch.allclose(r5, r_naive, atol=1e-4), (r5 - r_naive).abs().max()
    k, _, r_chosen = inf.choose_with_rewards(hist, cands)  # reward prior: label log-probs + r^e of each item
    assert torch.equal(k, (logp + r5).argmax(1)) and torch.allclose(r_chosen, r5[torch.arange(5), k])
    inf.reward_prior = False  # the paper's reading alone: only its pick is scored (chosen_only), the others NaN
    k, _, r_chosen = inf.choose_with_rewards(hist, cands)
    assert torch.equal(k, pos) and torch.allclose(r_chosen, r5[torch.arange(5), k], atol=1e-4)
    _, r1 = inf.choice_scores(hist, cands, chosen_only=True)
    assert r1 is not None and int(r1.isnan().sum()) == 4 * 5 and torch.allclose(r1[torch.arange(5), k], r_chosen)
    # kv_share off (the GPU default; on by default on the CPU): the same numbers through the one-prompt-per-row path
    assert LEInference(le, prompter).kv_share == (le.device.type == "cpu")
    plain = LEInference(le, prompter, batch_size=5, progress=False, kv_share=False)
    assert torch.allclose(plain.rewards_shared(hist, acts), shared, atol=1e-4)
    logp_p, r5_p = plain.choice_scores(hist, cands)
    assert r5_p is not None and torch.allclose(logp_p, logp, atol=1e-4) and torch.allclose(r5_p, r5, atol=1e-4)
    _, r1_p = plain.choice_scores(hist, cands, chosen_only=True)
    assert r1_p is not None and torch.allclose(r1_p[torch.arange(5), k], r_chosen, atol=1e-4)
    assert int(r1_p.isnan().sum()) == 4 * 5
    # packed prefix-tree rows (precompute.packed), batches of 5 prompts: several passes, histories of unequal length
    check_packed(
        LEInference(le, prompter, batch_size=5, progress=False, packed=True),
        hist,
        acts,
        cands,
        shared,
        logp,
        r5,
        k,
        r_chosen,
    )


def check_packed(inf, hist, acts, cands, shared, logp, r5, k, r_chosen) -> None:  # type: ignore[no-untyped-def]
    """The packed paths give the KV-cache paths' numbers (which equal the naive ones above)."""
    assert torch.allclose(inf.rewards_shared(hist, acts), shared, atol=1e-4)
    logp_k, r5_k = inf.choice_scores(hist, cands)
    assert r5_k is not None and torch.allclose(logp_k, logp, atol=1e-4) and torch.allclose(r5_k, r5, atol=1e-4)
    _, r1_k = inf.choice_scores(hist, cands, chosen_only=True)
    assert r1_k is not None and int(r1_k.isnan().sum()) == 4 * 5
    assert torch.allclose(r1_k[torch.arange(5), k], r_chosen, atol=1e-4)
    logp_n, none = inf.choice_scores(hist, cands, with_rewards=False)
    assert none is None and torch.allclose(logp_n, logp, atol=1e-4)
    assert inf.rewards_shared([], []).shape[0] == 0


def test_packed_compiled_inference_agrees(fitted: tuple[Path, Path], tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    """precompute.compile: the packed rows through torch.compile'd decoder (dynamic shapes) give the same numbers;
    compile without packed is refused."""
    from lea.env.cli import build
    from lea.env.inference import LEInference

    tokens, le_dir = fitted
    le, prompter, _ = build(
        settings(tiny_llm), tiny_data, tokens, le_dir / "adapter", le_dir / "score_head.safetensors"
    )
    ref = LEInference(le, prompter, batch_size=5, progress=False, kv_share=True)
    hist, acts = HIST, ACTS
    cands = CANDS
    shared = ref.rewards_shared(hist, acts)
    logp, r5 = ref.choice_scores(hist, cands)
    k = logp.argmax(1)
    assert r5 is not None
    fast = LEInference(le, prompter, batch_size=5, progress=False, packed=True, compile=True)
    check_packed(fast, hist, acts, cands, shared, logp, r5, k, r5[torch.arange(5), k])
    with pytest.raises(ValueError, match="compile needs packed"):
        LEInference(le, prompter, compile=True)
    # in a config: an error naming the key, before the LE is loaded
    from lea.env.precompute import run
    from lea.errors import ConfigError

    bad = {**settings(tiny_llm), "precompute": {"compile": True}}
    with pytest.raises(ConfigError, match=r"precompute\.compile"):
        run("states", bad, tiny_data, tokens, le_dir, 0, 1)


def test_merged_lora_inference_agrees(fitted: tuple[Path, Path], tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    """precompute.merge_lora: the LoRA update folded into the weights gives the unmerged LE's states, rewards and
    choices (fp32, 1e-4) on the KV-cache paths, and merging is done once and really changes the weights."""
    from peft.tuners.lora import LoraLayer

    from lea.env.cli import build
    from lea.env.inference import LEInference

    tokens, le_dir = fitted
    le, prompter, _ = build(
        settings(tiny_llm), tiny_data, tokens, le_dir / "adapter", le_dir / "score_head.safetensors"
    )
    ref = LEInference(le, prompter, batch_size=5, progress=False, kv_share=True)
    seqs = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [0]]
    states = torch.cat(ref.sequence_states(seqs))
    shared = ref.rewards_shared(HIST, ACTS)
    logp, r5 = ref.choice_scores(HIST, CANDS)
    k = logp.argmax(1)
    assert r5 is not None
    lora = [m for m in le.peft.modules() if isinstance(m, LoraLayer)]
    assert lora and not any(m.merged for m in lora)
    w0 = lora[0].base_layer.weight.detach().clone()
    assert float(lora[0].lora_B["default"].weight.abs().max()) > 0  # the fitted adapter is not the identity
    fast = LEInference(le, prompter, batch_size=5, progress=False, kv_share=True, merge_lora=True)
    assert all(m.merged for m in lora) and not torch.equal(lora[0].base_layer.weight, w0)
    le.merge_lora()  # a second merge is a no-op
    LEInference(le, prompter, merge_lora=True)
    assert torch.allclose(torch.cat(fast.sequence_states(seqs)), states, atol=1e-4)
    check_packed(fast, HIST, ACTS, CANDS, shared, logp, r5, k, r5[torch.arange(5), k])


def test_precompute_shards_equal_unsharded(
    fitted: tuple[Path, Path],
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    from lea.cli import main

    tokens, le_dir = fitted
    inter = pl.read_parquet(tiny_data / "interactions.parquet")
    top5 = inter.select("sequence", "position").with_columns(
        candidates=pl.concat_list([(pl.col("position") + k) % 12 for k in range(5)]).cast(pl.List(pl.Int32))
    )
    top5.write_parquet(tmp_path / "top5.parquet")
    s = json.dumps(settings(tiny_llm))
    pool_path = tmp_path / "negatives.parquet"
    assert main(["negatives", "--data-dir", str(tiny_data), "--k", "2", "--seed", "3", "--out", str(pool_path)]) == 0

    def run(kind: str, shard: int, shards: int) -> pl.DataFrame:
        out = tmp_path / f"{kind}_{shard}_{shards}.parquet"
        argv = [
            "le-precompute",
            "--kind",
            kind,
            "--settings",
            s,
            "--data-dir",
            str(tiny_data),
            "--item-tokens",
            str(tokens),
            "--le-dir",
            str(le_dir),
            "--shard",
            str(shard),
            "--shards",
            str(shards),
            "--out",
            str(out),
        ]
        extra = {"augment": ["--top5", str(tmp_path / "top5.parquet")], "rewards": ["--negatives", str(pool_path)]}
        assert main([*argv, *extra.get(kind, [])]) == 0
        return out

    splits = pl.read_parquet(tiny_data / "splits.parquet")
    train = splits.filter(pl.col("split") == "train")["sequence"]
    n_train_pos = inter.filter(pl.col("sequence").is_in(train.implode())).height
    for kind in ("states", "rewards", "augment"):
        whole = pl.read_parquet(run(kind, 0, 1))
        parts = [str(run(kind, k, 3)) for k in range(3)]
        assert main(["gather", "--out", str(tmp_path / f"{kind}.parquet"), *parts]) == 0
        joined = pl.read_parquet(tmp_path / f"{kind}.parquet")
        assert joined.schema == whole.schema
        for col in joined.columns:
            a, b = joined[col], whole[col]
            if a.dtype in (pl.Float32, pl.Float64) or isinstance(a.dtype, pl.Array):
                ta = torch.tensor(a.to_numpy()).float()
                tb = torch.tensor(b.to_numpy()).float()
                assert torch.allclose(ta, tb, atol=1e-4), col
            else:
                assert a.to_list() == b.to_list(), col
        if kind == "states":
            assert whole.height == n_train_pos + len(train)  # positions 0..len
            assert isinstance(whole.schema["state"], pl.Array)
        if kind == "rewards":
            assert whole.height == 3 * n_train_pos and whole["positive"].sum() == n_train_pos
            # the LE scores exactly the shared pool's items, in pool order, after the observed item
            pool = pl.read_parquet(pool_path).sort("sequence", "position")
            negs = (
                whole.filter(~pl.col("positive"))
                .group_by(["sequence", "position"], maintain_order=True)
                .agg(pl.col("item"))
            )
            assert negs.sort("sequence", "position")["item"].to_list() == pool["negatives"].to_list()
        if kind == "augment":
            assert whole.height == n_train_pos and set(whole.columns) == {
                "sequence",
                "position",
                "candidates",
                "chosen",
                "reward",
                "hit",
            }


def test_precompute_missing_inputs(tiny_llm: Path, tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    from lea.env.precompute import run

    with pytest.raises(MissingInputError, match="fit_le"):
        run("states", settings(tiny_llm), tiny_data, None, tmp_path / "nope", 0, 1)
    with pytest.raises(InputError, match="top5"):
        run("augment", settings(tiny_llm), tiny_data, None, tmp_path / "nope", 0, 1)
    with pytest.raises(MissingInputError, match="warmup"):
        run("augment", settings(tiny_llm), tiny_data, None, tmp_path / "nope", 0, 1, top5=tmp_path / "top5.parquet")
    with pytest.raises(MissingInputError, match="preprocess"):
        run("states", settings(tiny_llm), tmp_path, None, tmp_path / "nope", 0, 1)
    with pytest.raises(InputError, match="negative pool"):
        run("rewards", settings(tiny_llm), tiny_data, None, tmp_path / "nope", 0, 1)
    with pytest.raises(MissingInputError, match="negatives"):
        run("rewards", settings(tiny_llm), tiny_data, None, tmp_path / "nope", 0, 1, negatives=tmp_path / "n.parquet")


def test_choice_batch_rotations_balance_positions() -> None:
    import random

    from lea.env.train import Transition, choice_batch

    batch = [Transition(s, 3, [1, 2, 3], 10 + s, frozenset({1, 2, 3, 10 + s})) for s in range(7)]
    hist, ex = choice_batch(batch, 40, random.Random(0), rotations=True)
    assert len(ex) == 10  # ceil(7 / 5) = 2 transitions x 5 orders: as many prompts as B rounded up to a multiple of 5
    for t, start in zip(batch[:2], (0, 5), strict=True):
        rows = ex[start : start + 5]
        assert [c[p] for c, p in rows] == [t.target] * 5  # the label always points at the true next item
        assert sorted(p for _, p in rows) == [0, 1, 2, 3, 4]  # ... once at every position
        assert all(sorted(c) == sorted(rows[0][0]) for c, _ in rows) and hist[start] == t.history
    hist, ex = choice_batch(batch, 40, random.Random(0), rotations=False)
    assert len(ex) == 7 and all(c[p] == t.target for (c, p), t in zip(ex, batch, strict=True))


def test_choice_scores_with_title_items_agree_with_naive(tiny_llm: Path, tiny_data: Path) -> None:  # noqa: F811
    """-IT: titles make p_t and the continuations differ in length; the shared-p_t path must still equal one prompt
    per row (right-padded continuations on the cache)."""
    from lea.env.cli import build

    torch.manual_seed(0)
    le, prompter, _ = build(settings(tiny_llm, item_tokens=False), tiny_data, None)
    check_title_paths(le, prompter)


def check_title_paths(le, prompter) -> None:  # type: ignore[no-untyped-def]
    from lea.env.inference import LEInference

    assert prompter.text_items
    inf = LEInference(le, prompter, batch_size=10, progress=False)
    hist = [[1, 2], [3], [], [4, 5, 6, 7, 8], [9, 10], [2, 1]]
    cands = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [1, 3, 5, 7, 9], [10, 2, 4, 6, 8], [11, 0, 10, 1, 9], [4, 3, 2, 1, 0]]
    _, prob = inf.choose(hist, cands)
    logp, r5 = inf.choice_scores(hist, cands)
    assert torch.allclose(logp.softmax(1), prob, atol=1e-4), (logp.softmax(1) - prob).abs().max()
    r_naive = inf.rewards([h for h in hist for _ in range(5)], [a for c in cands for a in c]).view(6, 5)
    assert r5 is not None and torch.allclose(r5, r_naive, atol=1e-4), (r5 - r_naive).abs().max()
    shared = inf.rewards_shared(hist, [c[:2] for c in cands])  # le_rewards' path, titles too
    assert torch.allclose(shared, r_naive[:, :2], atol=1e-4), (shared - r_naive[:, :2]).abs().max()


def test_anchor_rewards_sets_the_mean_positive_reward(
    fitted: tuple[Path, Path],
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
) -> None:
    from lea.env.cli import build
    from lea.env.inference import LEInference
    from lea.env.train import anchor_rewards, le_subset, load_sequences, transitions

    tokens, le_dir = fitted
    adapter, head = le_dir / "adapter", le_dir / "score_head.safetensors"
    le, prompter, n_items = build(settings(tiny_llm), tiny_data, tokens, adapter, head)
    seqs, splits, _ = load_sequences(tiny_data)
    train = transitions(seqs, le_subset(splits, 1.0), 4)
    inf = LEInference(le, prompter, batch_size=8, progress=False)
    rows = ([t.history for t in train], [[t.target, (t.target + 1) % n_items] for t in train])
    before = inf.rewards_shared(*rows)
    shift = anchor_rewards(le, prompter, train, 1.0, n=len(train))
    after = inf.rewards_shared(*rows)
    assert abs(float(after[:, 0].mean()) - 1.0) < 1e-3  # the observed items' mean reward is the anchor
    assert torch.allclose(after - before, torch.full_like(before, shift), atol=1e-4)  # a pure shift: BT unchanged


def test_item_tokens_trained_with_the_le(
    fitted: tuple[Path, Path],
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """finetune.item_token_lr (ours): the item tokens get gradient through every block, also the blocks below
    lora_top_layers, are trained, saved beside the adapter and are what a trained LE is built with; the paper's
    default leaves them frozen (a buffer, no file)."""
    from safetensors.torch import load_file

    from lea.cli import main
    from lea.env.cli import TUNED_TOKENS, build

    tokens, frozen_dir = fitted
    given = load_file(str(tokens))["item_tokens"]
    assert not (frozen_dir / "adapter" / TUNED_TOKENS).exists()
    s = settings(tiny_llm)
    s["finetune"] = {**s["finetune"], "item_token_lr": 0.05, "lora_top_layers": 1}
    # the gradient of Eq. 1 reaches a history item's token through the frozen lower block: only the input side
    le, prompter, _ = build(s, tiny_data, tokens)
    assert isinstance(le.item_tokens, torch.nn.Parameter)
    h = le.hidden(prompter.collate([prompter.reward([1, 2], 3), prompter.reward([1, 2], 4)]))
    le.reward_loss(h[0:1, -1], h[1:2, -1])[0].backward()
    g = le.item_tokens.grad.abs().sum(1)
    assert (g[[1, 2, 3, 4]] > 0).all() and g[[0, 5, 6]].eq(0).all()
    argv = ["fit-le", "--settings", json.dumps(s), "--data-dir", str(tiny_data), "--item-tokens", str(tokens)]
    assert main([*argv, "--out-dir", str(tmp_path)]) == 0
    tuned = load_file(str(tmp_path / "adapter" / TUNED_TOKENS))["item_tokens"]
    assert tuned.shape == given.shape and not torch.allclose(tuned, given)
    q = json.loads((tmp_path / "le_quality.json").read_text())
    assert q["other_switches"]["item_token_lr"] == 0.05
    le2, _, _ = build(s, tiny_data, tokens, tmp_path / "adapter", tmp_path / "score_head.safetensors")
    assert not isinstance(le2.item_tokens, torch.nn.Parameter) and torch.equal(le2.item_tokens.cpu(), tuned)
    (tmp_path / "adapter" / TUNED_TOKENS).unlink()
    with pytest.raises(MissingInputError, match="item_tokens"):
        build(s, tiny_data, tokens, tmp_path / "adapter", tmp_path / "score_head.safetensors")


def test_item_token_norm_rescales_the_given_tokens(
    fitted: tuple[Path, Path],
    tiny_llm: Path,  # noqa: F811
    tiny_data: Path,  # noqa: F811
) -> None:
    """finetune.item_token_norm (ours): every given item token scaled to one norm, its direction kept ('vocab': the
    mean norm of the LLM's input embeddings), in the fit and in a trained LE's build alike; a bad value names the
    key."""
    from safetensors.torch import load_file

    from lea.env.cli import build
    from lea.errors import ConfigError

    tokens, le_dir = fitted
    given = load_file(str(tokens))["item_tokens"].float()
    for norm in ("vocab", 2.5):
        s = settings(tiny_llm)
        s["finetune"] = {**s["finetune"], "item_token_norm": norm}
        le, _, _ = build(s, tiny_data, tokens, le_dir / "adapter", le_dir / "score_head.safetensors")
        target = le.llm.get_input_embeddings().weight.float().norm(dim=1).mean() if norm == "vocab" else norm
        got = le.item_tokens.float().cpu()
        assert torch.allclose(got.norm(dim=1), torch.full((got.shape[0],), float(target)), atol=1e-4)
        assert torch.allclose(torch.nn.functional.cosine_similarity(got, given, dim=1), torch.ones(got.shape[0]))
    s["finetune"]["item_token_norm"] = "large"
    with pytest.raises(ConfigError, match="item_token_norm"):
        build(s, tiny_data, tokens)
    it = settings(tiny_llm, item_tokens=False)  # the -IT ablation has no item tokens to train or rescale
    it["finetune"] = {**it["finetune"], "item_token_lr": 0.01}
    with pytest.raises(ConfigError, match="-IT"):
        build(it, tiny_data, None)
