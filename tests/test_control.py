"""Control environments (lea.control): the LLM precompute's contracts, the oracle's training data, the random
environment's seeding, idrec learning an easy pattern."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import torch
from safetensors.torch import load_file
from test_env_fixtures import make_data, tiny_data, tiny_llm  # noqa: F401
from test_env_le import settings as llm_le_settings

from lea.cli import main

CONTROL = {"hidden": 16, "dropout": 0.1, "lr": 0.005, "random_state_dim": 8, "random_reward_sigma": 0.5}


def control_settings(env: str, **finetune) -> dict:
    return {
        "le": {"env": env, "fraction": 0.5, "state_loss": True, "name": env},
        "finetune": {"epochs": 1, "batch_size": 8, "valid_transitions": 40, **finetune},
        "control": CONTROL,
        "history": 4,
        "precompute": {"negatives": 2, "state_dtype": "float32"},
    }


def top5_file(data: Path, out: Path, n_items: int = 12) -> Path:
    inter = pl.read_parquet(data / "interactions.parquet")
    top5 = inter.select("sequence", "position").with_columns(
        candidates=pl.concat_list([(pl.col("position") + k) % n_items for k in range(5)]).cast(pl.List(pl.Int32))
    )
    top5.write_parquet(out)
    return out


def negative_pool(data: Path, out: Path, s: dict) -> Path:
    """The LE-free negative pool (lea negatives) of K = precompute.negatives items per training transition."""
    k = str(s.get("precompute", {}).get("negatives", 1))
    assert main(["negatives", "--data-dir", str(data), "--k", k, "--seed", "0", "--out", str(out)]) == 0
    return out


def control_run(s: dict, data: Path, out: Path, seed: int = 0) -> dict[str, pl.DataFrame]:
    """control-fit, then the three precomputes through the CLI; returns the frames (and le_quality as JSON)."""
    top5 = top5_file(data, out.parent / f"{out.name}_top5.parquet")
    js = json.dumps(s)
    argv = ["control-fit", "--settings", js, "--data-dir", str(data), "--out-dir", str(out), "--seed", str(seed)]
    assert main(argv) == 0
    pool = negative_pool(data, out.parent / f"{out.name}_negatives.parquet", s)
    frames = {}
    for kind in ("states", "rewards", "augment"):
        f = out / (f"{kind}.parquet" if kind != "augment" else "augment_sasrec.parquet")
        argv = ["control-precompute", "--kind", kind, "--settings", js, "--data-dir", str(data)]
        argv += ["--model", str(out / "model.safetensors"), "--top5", str(top5), "--negatives", str(pool)]
        argv += ["--out", str(f)]
        assert main(argv) == 0
        frames[kind] = pl.read_parquet(f)
    frames["quality"] = json.loads((out / "le_quality.json").read_text())
    return frames


def test_contracts_equal_the_llm_precompute(tiny_llm: Path, tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    """Same files, columns, dtypes and row sets as `lea le-precompute` (the state dimension may differ)."""
    tok = tmp_path / "tok"
    s_tok = {"llm": llm_le_settings(tiny_llm)["llm"], "item_tokens": {"iterations": 3, "lr": 0.05, "batch_items": 12}}
    assert main(["item-tokens", "--settings", json.dumps(s_tok), "--items", str(tiny_data / "items.parquet"),
                 "--out-dir", str(tok)]) == 0  # fmt: skip
    s = llm_le_settings(tiny_llm, fraction=0.5)
    tokens = str(tok / "item_tokens.safetensors")
    le_dir = tmp_path / "llm"
    assert main(["fit-le", "--settings", json.dumps(s), "--data-dir", str(tiny_data), "--item-tokens", tokens,
                 "--out-dir", str(le_dir)]) == 0  # fmt: skip
    top5 = top5_file(tiny_data, tmp_path / "top5.parquet")
    llm = {}
    for kind in ("states", "rewards", "augment"):
        out = tmp_path / f"llm_{kind}.parquet"
        argv = ["le-precompute", "--kind", kind, "--settings", json.dumps(s), "--data-dir", str(tiny_data),
                "--item-tokens", tokens, "--le-dir", str(le_dir), "--top5", str(top5), "--out", str(out)]  # fmt: skip
        if kind == "rewards":
            argv += ["--negatives", str(negative_pool(tiny_data, tmp_path / "llm_negatives.parquet", s))]
        assert main(argv) == 0
        llm[kind] = pl.read_parquet(out)
    q_llm = json.loads((le_dir / "le_quality.json").read_text())
    for env in ("idrec", "oracle", "random"):
        got = control_run(control_settings(env), tiny_data, tmp_path / env)
        for kind in ("states", "rewards", "augment"):
            a, b = got[kind], llm[kind]
            assert a.columns == b.columns, (env, kind)
            for c in a.columns:
                if c == "state":  # Array(Float32, d): the dimension is the environment's
                    assert isinstance(a.schema[c], pl.Array) and a.schema[c].inner == b.schema[c].inner
                    assert a.schema[c].size == (8 if env == "random" else 16)
                else:
                    assert a.schema[c] == b.schema[c], (env, kind, c)
            keys = {"states": ["sequence", "position"], "rewards": ["sequence", "position", "item", "positive"],
                    "augment": ["sequence", "position", "candidates"]}[kind]  # fmt: skip
            assert a.select(keys).to_dicts() == b.select(keys).to_dicts(), (env, kind)
            assert a.null_count().sum_horizontal().item() == 0
        aug = got["augment"]
        assert all(c in cands for c, cands in zip(aug["chosen"], aug["candidates"], strict=True))
        q = got["quality"]
        assert q["env"] == env and q["transitions"] == q_llm["transitions"]
        for block in ("reward", "state", "choice"):
            assert set(q_llm[block]) - {"label_reading_accuracy"} <= set(q[block]), block
        assert q["state"]["chance"] == q_llm["state"]["chance"] and q["choice"]["chance"] == 0.2


def poisoned(src: Path, dst: Path) -> Path:
    """A copy of the data whose validation and test interactions are other items."""
    shutil.copytree(src, dst)
    splits = pl.read_parquet(src / "splits.parquet")
    held = splits.filter(pl.col("split") != "train")["sequence"].implode()
    inter = pl.read_parquet(src / "interactions.parquet")
    n = pl.read_parquet(src / "items.parquet").height
    inter = inter.with_columns(
        item=pl.when(pl.col("sequence").is_in(held)).then((pl.col("item") * 7 + 3) % n).otherwise(pl.col("item"))
    )
    inter.write_parquet(dst / "interactions.parquet")
    return dst


def test_oracle_never_reads_validation_or_test_rows(tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    bad = poisoned(tiny_data, tmp_path / "poisoned")
    assert not pl.read_parquet(bad / "interactions.parquet").equals(pl.read_parquet(tiny_data / "interactions.parquet"))
    s = control_settings("oracle", epochs=2)
    clean = control_run(s, tiny_data, tmp_path / "clean")
    dirty = control_run(s, bad, tmp_path / "dirty")
    wa, wb = (
        load_file(str(tmp_path / "clean" / "model.safetensors")),
        load_file(str(tmp_path / "dirty" / "model.safetensors")),
    )
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    for kind in ("states", "rewards", "augment"):
        assert clean[kind].equals(dirty[kind]), kind
    splits = pl.read_parquet(tiny_data / "splits.parquet")
    n_train = splits.filter(pl.col("split") == "train").height
    assert clean["quality"]["train_sequences"] == n_train  # every training sequence, not the LE subset
    idrec = control_run(control_settings("idrec"), tiny_data, tmp_path / "idrec")
    assert idrec["quality"]["train_sequences"] < n_train


def test_random_is_seeded(tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    s = control_settings("random")
    a = control_run(s, tiny_data, tmp_path / "a", seed=0)
    b = control_run(s, tiny_data, tmp_path / "b", seed=0)
    c = control_run(s, tiny_data, tmp_path / "c", seed=1)
    for kind in ("states", "rewards", "augment"):
        assert a[kind].equals(b[kind]), kind
    assert a["quality"] == b["quality"]
    assert not a["states"].equals(c["states"]) and not a["rewards"]["reward"].equals(c["rewards"]["reward"])
    assert a["augment"]["chosen"].to_list() != c["augment"]["chosen"].to_list()
    assert a["rewards"].select("item").equals(c["rewards"].select("item"))  # the negatives are the precompute's

    from lea.control.random_env import RandomEnv

    env = RandomEnv(12, dim=8, sigma=0.5, seed=0)
    keys = [(3, 0), (3, 4), (5, 2)]
    full = env.states(keys, [[]] * 3)
    assert torch.equal(env.states(keys[1:2], [[]]), full[1:2])  # a state depends on its key only
    r = env.rewards(keys, [[]] * 3, [[1, 2, 3]] * 3, [1, 1, 1])
    assert r.shape == (3, 3) and float((r[:, 0] - r[:, 1:].mean(1)).mean()) > 0  # around 1 vs around 0
    pos, _, _ = env.choose([(s, p) for s in range(50) for p in range(20)], [[]] * 1000, [[0, 1, 2, 3, 4]] * 1000)
    counts = torch.bincount(pos, minlength=5).float() / 1000
    assert counts.min() > 0.15 and counts.max() < 0.25  # uniform among the five


def test_idrec_learns_an_easy_pattern(tmp_path: Path) -> None:
    """next item = previous + 1: the reward, the state and the choice diagnostics rise above chance."""
    from lea.control.cli import fit

    data = make_data(tmp_path / "data", n_items=40, n_seq=200)
    s = control_settings("idrec", epochs=4, valid_transitions=200)
    s["control"] = {**CONTROL, "hidden": 32}
    q = fit(s, data, tmp_path / "idrec", progress=False)
    assert q["reward"]["pairwise_accuracy"] > 0.7 and q["reward"]["p_value_vs_chance"] < 1e-3
    assert q["state"]["hr@10"] > q["state"]["chance"] and q["state"]["p_value_vs_chance"] < 1e-3
    assert q["choice"]["accuracy"] > 0.4 and q["choice"]["p_value_vs_chance"] < 1e-3
    log = pl.read_csv(tmp_path / "idrec" / "train_log.csv")
    assert {"loss_rm", "loss_sm", "loss"} <= set(log.columns) and log.height == q["steps"]
    # the anchor: mean reward of observed items on the training transitions is the fixed reward
    assert q["reward"]["mean_positive"] > q["reward"]["mean_negative"]


def test_state_loss_off_and_bad_model(tiny_data: Path, tmp_path: Path) -> None:  # noqa: F811
    from lea.control.precompute import run
    from lea.errors import InputError, MissingInputError

    s = control_settings("idrec")
    s["le"]["state_loss"] = False
    control_run(s, tiny_data, tmp_path / "nosm")
    assert "loss_sm" not in pl.read_csv(tmp_path / "nosm" / "train_log.csv").columns
    with pytest.raises(MissingInputError):
        run("states", s, tiny_data, tmp_path / "missing.safetensors")
    control_run(control_settings("random"), tiny_data, tmp_path / "rnd")
    with pytest.raises(InputError, match=r"rnd/model\.safetensors.*not a model of the 'idrec' environment"):
        run("states", s, tiny_data, tmp_path / "rnd" / "model.safetensors")
    # and the other way round: the idrec model where a random environment is expected
    with pytest.raises(InputError, match=r"nosm/model\.safetensors.*not a model of the 'random' environment"):
        run("states", control_settings("random"), tiny_data, tmp_path / "nosm" / "model.safetensors")


def test_recommender_recipe_switches(tmp_path: Path) -> None:
    """le.control.state_objective softmax + reward_head state_dot (+ reward_gap): the reward is the state's own score
    of the action, both learn the easy pattern, the gap calibration holds on the training transitions, and the model
    file round-trips."""
    from lea.control.cli import fit
    from lea.control.idrec import IDRecLE, calibrate_gap
    from lea.env.train import load_data

    data = make_data(tmp_path / "data", n_items=40, n_seq=200)
    s = control_settings("oracle", epochs=4, valid_transitions=200)
    s["control"] = {**CONTROL, "hidden": 32, "state_objective": "softmax", "reward_head": "state_dot"}
    q = fit(s, data, tmp_path / "rec", progress=False)
    assert q["reward_head"] == "state_dot" and q["state_objective"] == "softmax"
    assert q["reward"]["pairwise_accuracy"] > 0.7 and q["state"]["hr@10"] > 3 * q["state"]["chance"]
    log = pl.read_csv(tmp_path / "rec" / "train_log.csv")
    assert log["valid_reward_auc"].drop_nulls().len() == 4  # the learning curve: one validation row per epoch

    m = IDRecLE.load(tmp_path / "rec" / "model.safetensors", 40)
    assert m.reward_head == "state_dot"
    hist, acts = [[1, 2, 3], [7]], [[4, 9], [8, 30]]
    r = m.rewards([(0, 3), (1, 1)], hist, acts, [4, 8])
    st = m.states([(0, 3), (1, 1)], hist)
    e = m.item_vectors().detach()
    want = (st[:, None, :] * e[torch.tensor(acts)]).sum(-1) / 32**0.5 * m.reward_mult + m.score.bias.detach()
    assert torch.allclose(r, want, atol=1e-5)

    # reward_gap: mean r^e(observed) = anchor, mean r^e(other item) = anchor - gap on the same seeded sample
    d = load_data(s, data, 0, every_train_sequence=True)
    before = m.rewards([(0, 0)] * 2, hist, acts, [4, 8])
    cal = calibrate_gap(m, d.train, anchor=1.0, gap=1.0)
    after = m.rewards([(0, 0)] * 2, hist, acts, [4, 8])
    assert cal["reward_multiplier"] > 0
    assert torch.equal(before.argsort(1), after.argsort(1))  # an increasing affine map: the ranking is kept
    again = calibrate_gap(m, d.train, anchor=1.0, gap=1.0)  # already calibrated: the identity
    assert abs(again["reward_multiplier"] - 1.0) < 1e-4 and abs(again["reward_shift"]) < 1e-4
    m.save(tmp_path / "cal.safetensors")
    m2 = IDRecLE.load(tmp_path / "cal.safetensors", 40)
    assert torch.allclose(m2.rewards([(0, 0)] * 2, hist, acts, [4, 8]), after)

    s["control"]["reward_gap"] = 1.0
    q2 = fit(s, data, tmp_path / "gap", progress=False)
    assert q2["reward_gap"] == 1.0 and q2["reward"]["mean_positive"] > q2["reward"]["mean_negative"]


def test_default_recipe_is_the_le_recipe(tmp_path: Path) -> None:
    """Without the new switches, idrec is Eq. 1's linear head on G^e(x, a) and a model file written before them
    (no reward_head metadata, no reward_mult) still loads as that."""
    from safetensors.torch import save_file

    from lea.control.idrec import IDRecLE

    torch.manual_seed(0)
    m = IDRecLE(12, 8, 4).eval()
    assert m.reward_head == "linear"
    hist, acts = [[1, 2], [3]], [[4, 5], [6, 7]]
    x = m.encode([[*h, a] for h, row in zip(hist, acts) for a in row])
    want = m.score(x).squeeze(-1).reshape(2, 2)
    assert torch.allclose(m.rewards([(0, 2), (1, 1)], hist, acts, [4, 6]), want.detach(), atol=1e-6)
    sd = {k: v for k, v in m.state_dict().items() if k != "reward_mult"}
    save_file(sd, str(tmp_path / "old.safetensors"), metadata={"env": "idrec", "n_items": "12", "hidden": "8",
                                                              "window": "4"})  # fmt: skip
    old = IDRecLE.load(tmp_path / "old.safetensors", 12)
    assert old.reward_head == "linear" and torch.allclose(old.rewards([(0, 2), (1, 1)], hist, acts, [4, 6]), want)


def test_load_data_names_an_empty_le_subset(tmp_path: Path) -> None:
    """A fraction below every sequence's le_fraction leaves no training sequence: the error names splits.parquet
    and the fraction (fit-le and every control environment load their transitions here)."""
    from lea.env.train import load_data
    from lea.errors import InputError

    data = make_data(tmp_path / "data")
    s = {"le": {"name": "tiny", "fraction": 1e-9}, "finetune": {}}
    with pytest.raises(InputError, match=r"splits\.parquet.*the LE subset for fraction 1e-09 \(LE setting tiny\)"):
        load_data(s, data, seed=0)
    assert load_data(s, data, seed=0, every_train_sequence=True).train  # the oracle's set is every training sequence
