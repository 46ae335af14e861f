"""The RL-side switches of ours (``rec.le_reward_negatives``, ``rec.q_backbone_grad``, ``rec.le_state_norm``,
docs/departures.md): at their defaults the training is bit-identical to a config that does not name them; ``fixed``
zeroes only the negatives' rewards; ``q_backbone_grad: false`` leaves every loss value as it was, cuts the TD losses'
gradient from the shared backbone and leaves the Q-head's gradient unchanged; ``standardize`` maps the training
transitions' LE states to mean 0 and standard deviation 1 per dimension."""

import copy
import re

import pytest
import torch

from lea.config import load_config
from lea.errors import ConfigError
from lea.rec import dropout as lea_dropout
from lea.rec.backbones import RecNet
from lea.rl import adam as lea_adam
from lea.rl.synthetic import fake_le_tables, successor_dataset
from lea.rl.train import Trainer, compute_losses, load_inputs, run

torch.set_num_threads(1)
N_ITEMS, DIM = 40, 6
REC = {"epochs": 1, "eval_every": 20, "batch_size": 32, "sa2c_warmup_steps": 4, "lr": 0.005, "negatives": 2}
LEASR = {"name": "LEASR", "state": "le+h", "reward": "le", "augment": "sv+q"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("syn")
    tables = successor_dataset(d / "data", n_items=N_ITEMS, n_seq=200, seed=0)
    le = fake_le_tables(d / "le", tables["interactions"], N_ITEMS, dim=DIM, backbone="sasrec")
    return d, le


def transitions(data, variant):
    d, le = data
    _, train, _, _ = load_inputs(d / "data", variant, 10, REC["negatives"], le["states"], le["rewards"], le["augment"])
    return train


def train_steps(data, rec, variant, steps=8, seed=0, backbone="sasrec", framework="sa2c", **trainer_kw):
    """Per-step loss terms and the final weights of ``steps`` updates (default SA2C-SASRec: warm-up, re-weighted)."""
    tr = transitions(data, variant)
    t = Trainer(backbone, framework, N_ITEMS, rec, variant, seed, tr.le_dim, **trainer_kw)
    g = torch.Generator().manual_seed(7)
    logs = [t.train_step(t.make_batch(tr, torch.randperm(len(tr), generator=g)[:32])) for _ in range(steps)]
    return logs, t.state_dict()


@pytest.mark.parametrize("variant", [{"name": "base"}, LEASR])
def test_defaults_are_bit_identical(data, variant):
    logs0, sd0 = train_steps(data, REC, variant)
    named = {**REC, "le_reward_negatives": "le", "q_backbone_grad": True, "le_state_norm": "none"}
    logs1, sd1 = train_steps(data, named, variant)
    assert logs0 == logs1  # every loss term of every step, exactly
    assert all(torch.equal(sd0[k], sd1[k]) for k in sd0)


def test_fixed_negatives_zero_only_the_negatives(data):
    tr = transitions(data, LEASR)
    assert tr.pool_reward is not None and bool((tr.pool_reward != 0).any())  # the LE gives negatives r^e != 0
    idx = torch.arange(64)
    batches = {}
    for mode in ("le", "fixed"):
        t = Trainer("sasrec", "sa2c", N_ITEMS, {**REC, "le_reward_negatives": mode}, LEASR, 0, tr.le_dim)
        batches[mode] = t.make_batch(tr, idx)
    le, fixed = batches["le"], batches["fixed"]
    assert bool((le["neg_reward"] != 0).any())
    assert torch.equal(fixed["neg_reward"], torch.zeros_like(le["neg_reward"]))
    assert torch.equal(fixed["neg_items"], le["neg_items"])  # the negatives' own stream is not touched
    for k in ("pos_reward", "aug_item", "aug_reward", "le", "le_next", "action"):
        assert torch.equal(fixed[k], le[k]), k
    assert torch.equal(le["pos_reward"], tr.pos_reward[idx])  # r^e for the positive in both


def test_fixed_negatives_without_le_reward_change_nothing(data):
    v = {"name": "LES", "state": "le+h"}
    (logs0, sd0), (logs1, sd1) = (
        train_steps(data, REC, v),
        train_steps(data, {**REC, "le_reward_negatives": "fixed"}, v),
    )
    assert logs0 == logs1 and all(torch.equal(sd0[k], sd1[k]) for k in sd0)


def _nets(state_mode):
    torch.manual_seed(3)
    le_dim = DIM if state_mode != "h" else 0
    return [RecNet("sasrec", N_ITEMS, 16, 10, 0.0, state_mode, le_dim) for _ in range(2)]


def _batch(state_mode):
    g = torch.Generator().manual_seed(5)
    b, k = 12, 2
    lens = torch.randint(1, 11, (b,), generator=g)
    state = torch.full((b, 10), N_ITEMS)
    nxt = torch.full((b, 10), N_ITEMS)
    for i, n in enumerate(lens.tolist()):
        seq = torch.randint(0, N_ITEMS, (n + 1,), generator=g)
        state[i, :n] = seq[:n]
        m = min(n + 1, 10)
        nxt[i, :m] = seq[n + 1 - m :]
    out = {
        "state": state,
        "length": lens,
        "action": torch.randint(0, N_ITEMS, (b,), generator=g),
        "next_state": nxt,
        "next_length": (lens + 1).clamp(max=10),
        "done": torch.rand(b, generator=g) < 0.2,
        "neg_items": torch.randint(0, N_ITEMS, (b, k), generator=g),
        "pos_reward": torch.randn(b, generator=g),
        "neg_reward": torch.randn(b, k, generator=g),
        "aug_item": torch.randint(0, N_ITEMS, (b,), generator=g),
        "aug_reward": torch.randn(b, generator=g),
    }
    if state_mode != "h":
        out["le"], out["le_next"] = torch.randn(b, DIM, generator=g), torch.randn(b, DIM, generator=g)
    return out


def _grads(net):
    return {n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for n, p in net.named_parameters()}


def _terms_and_grads(state_mode, q_backbone_grad, terms, weighted_ce=False):
    main, target = _nets(state_mode)
    variant = {"state": state_mode, "reward": "le", "augment": "sv+q"}
    out = compute_losses(
        main,
        target,
        _batch(state_mode),
        framework="sa2c",
        variant=variant,
        gamma=0.5,
        weighted_ce=weighted_ce,
        q_backbone_grad=q_backbone_grad,
    )
    sum(out[t] for t in terms).backward()
    return out, _grads(main)


@pytest.mark.parametrize("state_mode", ["h", "le+h"])
@pytest.mark.parametrize("weighted_ce", [False, True])
def test_q_backbone_grad_false_same_values(state_mode, weighted_ce):
    on, _ = _terms_and_grads(state_mode, True, ["total"], weighted_ce)
    off, _ = _terms_and_grads(state_mode, False, ["total"], weighted_ce)
    assert set(on) == set(off)
    for k in on:
        assert torch.equal(on[k].detach(), off[k].detach()), k  # the forward pass is the same; only the graph differs


@pytest.mark.parametrize("state_mode", ["h", "le+h"])
def test_q_backbone_grad_false_cuts_td_gradient_from_backbone(state_mode):
    td = ["l_p", "l_n"]
    _, g_on = _terms_and_grads(state_mode, True, td)
    _, g_off = _terms_and_grads(state_mode, False, td)
    backbone = [n for n in g_on if n.startswith("backbone.")]
    assert any(bool(g_on[n].abs().sum() > 0) for n in backbone)  # the shared network: L_p + L_n reach the backbone
    for n in backbone:
        assert bool((g_off[n] == 0).all()), n  # exactly zero with the switch off
    for n in ("q_head.weight", "q_head.bias"):
        assert bool(g_on[n].abs().sum() > 0)
        assert torch.equal(g_on[n], g_off[n]), n  # the Q-head's own gradient is unchanged
    assert all(bool((g_off[n] == 0).all()) for n in ("sv_head.weight", "sv_head.bias"))
    # L_aq (Eq. 14) is a Q-head loss too
    _, g_aq = _terms_and_grads(state_mode, False, ["l_aq"])
    assert all(bool((g_aq[n] == 0).all()) for n in backbone)


def test_q_backbone_grad_false_backbone_learns_from_ranking_losses_only():
    # with the switch off, the backbone's gradient of the whole loss (Eq. 15) is that of L_h + w_ah L_ah alone
    main, target = _nets("h")
    variant = {"reward": "le", "augment": "sv+q", "w_ah": 0.1}
    out = compute_losses(main, target, _batch("h"), framework="sa2c", variant=variant, q_backbone_grad=False)
    out["total"].backward()
    g_total = _grads(main)
    main, target = _nets("h")
    out = compute_losses(main, target, _batch("h"), framework="sa2c", variant=variant, q_backbone_grad=False)
    (out["l_h"] + 0.1 * out["l_ah"]).backward()
    g_rank = _grads(main)
    for n in g_total:
        if n.startswith("backbone."):
            assert torch.allclose(g_total[n], g_rank[n], rtol=1e-5, atol=1e-7), n


def test_switches_change_training_and_runs_record_them(data, tmp_path):
    d, le = data
    ins = {"le_states": le["states"], "le_rewards": le["rewards"], "le_augment": le["augment"]}
    base = run({"rec": REC}, LEASR, "sasrec", "sa2c", 0, d / "data", tmp_path / "a", progress=False, **ins)
    for key, value in (("le_reward_negatives", "fixed"), ("q_backbone_grad", False), ("le_state_norm", "standardize")):
        m = run(
            {"rec": {**REC, key: value}}, LEASR, "sasrec", "sa2c", 0, d / "data", tmp_path / key, progress=False, **ins
        )
        assert m["settings"]["rec"][key] == value
        assert m["config_hash"] != base["config_hash"]
        assert (m["valid"], m["test"]) != (base["valid"], base["test"]), key
    assert "le_reward_negatives" not in base["settings"]["rec"]  # a config without them keeps its run hash


def test_bad_values_fail_clearly(data, repo):
    tr = transitions(data, LEASR)
    with pytest.raises(ConfigError, match=r"rec\.le_reward_negatives"):
        Trainer("sasrec", "sa2c", N_ITEMS, {**REC, "le_reward_negatives": "zero"}, LEASR, 0, tr.le_dim)
    with pytest.raises(ConfigError, match=r"rec\.q_backbone_grad"):
        Trainer("sasrec", "sa2c", N_ITEMS, {**REC, "q_backbone_grad": "no"}, LEASR, 0, tr.le_dim)
    cfg = repo / "config" / "config.yaml"
    ok = load_config([cfg], {"rec": {"q_backbone_grad": False, "le_reward_negatives": "fixed"}})
    assert ok["rec"]["q_backbone_grad"] is False
    assert "q_backbone_grad" not in load_config([cfg])["rec"]  # no schema default: unset configs keep their params
    with pytest.raises(ConfigError, match="le_reward_negatives"):
        load_config([cfg], {"rec": {"le_reward_negatives": "zero"}})
    assert load_config([cfg], {"rec": {"le_state_norm": "standardize"}})["rec"]["le_state_norm"] == "standardize"
    with pytest.raises(ConfigError, match="le_state_norm"):
        load_config([cfg], {"rec": {"le_state_norm": "zscore"}})
    ds = next(iter(load_config([cfg])["datasets"]))
    with pytest.raises(ConfigError, match=re.escape(f"datasets.{ds}.rec.q_backbone_grad")):
        load_config([cfg], {"datasets": {ds: copy.deepcopy({"rec": {"q_backbone_grad": "no"}})}})


def test_standardized_le_states(data):
    """``le_state_norm: standardize``: the rows the training transitions read get mean 0 and standard deviation 1 per
    dimension, the same affine map for every row; a variant without LE states reads nothing of it."""
    d, le = data
    plain = transitions(data, LEASR)
    _, std, _, _ = load_inputs(
        d / "data", LEASR, 10, REC["negatives"], le["states"], le["rewards"], le["augment"], le_state_norm="standardize"
    )
    rows = torch.unique(torch.cat([std.le_idx, std.le_next_idx]))
    used = std.le_table.float()[rows]
    assert torch.allclose(used.mean(0), torch.zeros(DIM), atol=1e-2)
    assert torch.allclose(used.std(0, unbiased=False), torch.ones(DIM), atol=1e-2)
    raw = plain.le_table.float()[rows]
    mu, sd = raw.mean(0), raw.std(0, unbiased=False)
    assert torch.allclose(std.le_table.float(), (plain.le_table.float() - mu) / (sd + 1e-6), atol=1e-2)
    assert torch.equal(std.le_idx, plain.le_idx) and torch.equal(std.le_next_idx, plain.le_next_idx)
    _, unit, _, _ = load_inputs(
        d / "data",
        LEASR,
        10,
        REC["negatives"],
        le["states"],
        le["rewards"],
        le["augment"],
        le_state_norm="standardize_unit",
    )
    # standardize_unit: the standardized table divided by sqrt(d), so the rows read have mean squared norm 1
    assert torch.allclose(unit.le_table.float(), std.le_table.float() / DIM**0.5, atol=1e-3)
    assert unit.le_table.float()[rows].pow(2).sum(1).mean().item() == pytest.approx(1.0, abs=1e-2)
    _, base, _, _ = load_inputs(d / "data", {"name": "base"}, 10, REC["negatives"], le_state_norm="standardize")
    assert base.le_table is None
    with pytest.raises(ConfigError, match="le_state_norm"):
        Trainer("sasrec", "sa2c", N_ITEMS, {**REC, "le_state_norm": "zscore"}, LEASR, 0, DIM)


def _fresh_losses_and_grads(backbone, framework, state_mode, augment="sv+q", **switches):
    """Loss terms and the main network's gradients of one step of two freshly seeded networks, dropout on in both
    and its draws seeded, so that two calls differing in ``switches`` only can be compared term by term."""
    torch.manual_seed(3)
    le_dim = DIM if state_mode != "h" else 0
    main, target = (RecNet(backbone, N_ITEMS, 16, 10, 0.3, state_mode, le_dim) for _ in range(2))
    main.train()
    torch.manual_seed(11)  # the dropout draws
    out = compute_losses(
        main,
        target,
        _batch(state_mode),
        framework=framework,
        variant={"state": state_mode, "reward": "le", "augment": augment},
        gamma=0.5,
        weighted_ce=framework == "sa2c",
        **switches,
    )
    out["total"].backward()
    return {k: v.detach() for k, v in out.items()}, _grads(main)


@pytest.mark.parametrize("backbone", ["sasrec", "gru"])
@pytest.mark.parametrize(("framework", "state_mode"), [("snqn", "h"), ("sa2c", "le+h"), ("sa2c", "le")])
def test_bootstrap_passes_without_logits_match_the_reference(backbone, framework, state_mode):
    """The no-gradient bootstrap passes read the Q-values only: skipping their supervised logits (the default) gives
    the same loss values and gradients as computing them (``bootstrap_logits=True``, the reference), with dropout on
    in both networks, so the dropout draws must line up too."""
    results = [_fresh_losses_and_grads(backbone, framework, state_mode, bootstrap_logits=ref) for ref in (True, False)]
    (ref_terms, ref_grads), (terms, grads) = results
    assert ref_terms.keys() == terms.keys()
    assert all(torch.equal(ref_terms[k], terms[k]) for k in terms)
    assert all(torch.equal(ref_grads[k], grads[k]) for k in grads)


@pytest.mark.parametrize("backbone", ["sasrec", "gru"])
@pytest.mark.parametrize(
    ("framework", "state_mode", "augment"),
    [("snqn", "h", "none"), ("sa2c", "le+h", "sv+q"), ("sa2c", "le", "q"), ("snqn", "le+h", "sv")],
)
@pytest.mark.parametrize("q_backbone_grad", [True, False])
def test_gathered_q_pass_matches_the_full_reference(backbone, framework, state_mode, augment, q_backbone_grad):
    """rec.q_pass: gathered reads only the Q-columns the losses use: every loss term and every gradient of the main
    network equal the full pass's (the reference) up to float rounding, with dropout on in both networks, so the
    dropout draws line up too; the argmaxes (double Q, L_n's next) are the same items."""
    results = [
        _fresh_losses_and_grads(backbone, framework, state_mode, augment, q_backbone_grad=q_backbone_grad, q_pass=q)
        for q in ("full", "gathered")
    ]
    (ref_terms, ref_grads), (terms, grads) = results
    assert ref_terms.keys() == terms.keys() and {"l_p", "l_n"} <= set(terms)
    for k in terms:
        torch.testing.assert_close(terms[k], ref_terms[k], rtol=1e-5, atol=1e-6)
    for k in grads:
        torch.testing.assert_close(grads[k], ref_grads[k], rtol=1e-4, atol=1e-6)
    assert any(float(g.abs().sum()) > 0 for k, g in grads.items() if k.startswith("q_head"))


def test_gathered_q_pass_trains_like_the_reference(data):
    """A few SA2C-SASRec LEASR updates (warm-up, then re-weighted) under each pass: the same losses step by step."""
    logs_full, sd_full = train_steps(data, {**REC, "q_pass": "full"}, LEASR)
    logs_g, sd_g = train_steps(data, {**REC, "q_pass": "gathered"}, LEASR)
    for a, b in zip(logs_full, logs_g):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-5)
    # (the weights themselves are not compared: Adam's g / sqrt(v) turns rounding noise on parameters whose exact
    # gradient is 0, such as the attention's key bias, into steps of size lr in either direction)
    assert sd_full.keys() == sd_g.keys()


@pytest.mark.parametrize("backbone", ["gru", "sasrec"])
@pytest.mark.parametrize("framework", ["normal", "snqn", "sa2c"])
@pytest.mark.parametrize("variant", [{"name": "base"}, LEASR])
def test_adam_implementations_are_bit_identical(data, backbone, framework, variant, monkeypatch):
    """Trainer.adam: "foreach" and "blocked" (the default, lea.rl.adam) against torch's per-tensor Adam loop (the
    reference): every loss term of every step and every weight, exactly, through SA2C's warm-up and its second
    optimizer. The blocked update's slice is cut to 64 elements, so that every head and embedding is split."""
    monkeypatch.setattr(lea_adam, "CHUNK", 64)
    le_dim = transitions(data, variant).le_dim
    for adam, kind in (("loop", torch.optim.Adam), ("foreach", torch.optim.Adam), ("blocked", lea_adam.BlockedAdam)):
        t = Trainer(backbone, framework, N_ITEMS, REC, variant, 0, le_dim, adam=adam)
        # the setting reaches every optimizer (else the comparison below would be vacuous)
        assert all(type(o) is kind and o.defaults["foreach"] is (adam != "loop") for o in t.opt1 + t.opt2)
    assert all(o.chunk == 64 for o in Trainer(backbone, framework, N_ITEMS, REC, variant, 0, le_dim).opt1)
    ref = train_steps(data, REC, variant, 10, 0, backbone, framework, adam="loop")
    assert any(
        p.numel() > 64 for p in Trainer(backbone, framework, N_ITEMS, REC, variant, 0, le_dim).nets[0].parameters()
    )
    for adam in ("foreach", "blocked"):
        fast = train_steps(data, REC, variant, 10, 0, backbone, framework, adam=adam)
        assert ref[0] == fast[0]
        assert ref[1].keys() == fast[1].keys() and all(torch.equal(ref[1][k], fast[1][k]) for k in ref[1])


@pytest.mark.parametrize("framework", ["normal", "sa2c"])
@pytest.mark.parametrize("variant", [{"name": "base"}, LEASR])
def test_native_dropout_trains_as_torchs(data, framework, variant, monkeypatch):
    """SASRec's dropout masks drawn in C (lea.rec.dropout) or by torch: every loss term and weight, exactly."""
    if lea_dropout.native_bernoulli() is None:
        pytest.skip("no C compiler")
    calls = []
    real = lea_dropout._bernoulli_c
    monkeypatch.setattr(lea_dropout, "_bernoulli_c", lambda fn, out, p: calls.append(1) or real(fn, out, p))
    fast = train_steps(data, REC, variant, 10, 0, "sasrec", framework)
    assert calls  # the C draw was used
    monkeypatch.setattr(lea_dropout, "native_bernoulli", lambda: None)
    ref = train_steps(data, REC, variant, 10, 0, "sasrec", framework)
    assert ref[0] == fast[0]
    assert ref[1].keys() == fast[1].keys() and all(torch.equal(ref[1][k], fast[1][k]) for k in ref[1])


def test_an_unknown_adam_is_a_config_error(data):
    with pytest.raises(ConfigError, match=r"Trainer\.adam"):
        Trainer("gru", "normal", N_ITEMS, REC, {"name": "base"}, 0, 0, adam="fused")
