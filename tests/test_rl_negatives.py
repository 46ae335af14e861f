"""The shared negative pool: its law, its file, and that variants at one seed draw the same negatives every step."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest
import torch

from lea.errors import ConfigError, InputError, MissingInputError
from lea.rl.negatives import NegativeSampler, build_pool, pool_for_sequence, pool_from_data, read_pool
from lea.rl.synthetic import fake_le_tables, successor_dataset
from lea.rl.train import Trainer, fit, load_inputs, run

torch.set_num_threads(1)
REC = {"epochs": 1, "eval_every": 1000, "batch_size": 16, "sa2c_warmup_steps": 5, "lr": 0.005, "max_steps": 12}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("neg")
    tables = successor_dataset(d / "data", n_items=30, n_seq=80, seed=1, pool_size=4, pool_seed=5)
    le = fake_le_tables(d / "le", tables["interactions"], 30, dim=4, negatives=4, pool_seed=5, backbone="gru")
    return d, tables, le


def test_pool_law_and_determinism(data):
    _, tables, _ = data
    pool = tables["negatives"]
    inter = tables["interactions"]
    train = tables["splits"].filter(pl.col("split") == "train")["sequence"]
    assert set(pool["sequence"].unique()) == set(train)  # training sequences only (the RL replay)
    assert pool.height == inter.filter(pl.col("sequence").is_in(train.implode())).height  # every position, 0 too
    seqs = dict(inter.group_by("sequence").agg(pl.col("item")).iter_rows())
    for s, _p, negs in pool.iter_rows():
        assert len(negs) == 4 and len(set(negs)) == 4  # K distinct items ...
        assert not set(negs) & set(seqs[s])  # ... none of them an item of the user's sequence
    # seeded by (seed, sequence) alone: a sequence's rows do not depend on which other sequences are drawn
    one = build_pool({7: [1, 2, 3]}, [7], 30, 4, 5)
    assert one["negatives"].to_list() == pool_for_sequence(7, [1, 2, 3], 30, 4, 5).tolist()
    assert (pool_for_sequence(7, [1, 2, 3], 30, 4, 6) != pool_for_sequence(7, [1, 2, 3], 30, 4, 5)).any()
    # tiny catalogue: fewer free items than K draws with replacement among them, never the sequence's items
    small = pool_for_sequence(0, [0, 1, 2], 5, 4, 0)
    assert set(small.ravel()) <= {3, 4}


def test_pool_cli_and_file_checks(data, tmp_path):
    d, tables, _ = data
    out = tmp_path / "negatives.parquet"
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "lea.cli",
            "negatives",
            "--data-dir",
            str(d / "data"),
            "--k",
            "4",
            "--seed",
            "5",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    got = read_pool(out)
    assert got.schema["negatives"] == pl.List(pl.Int32)
    assert got.equals(tables["negatives"]) and got.equals(pool_from_data(d / "data", 4, 5))
    ragged = got.with_columns(
        pl.when(pl.col("position") == 2)
        .then(pl.col("negatives").list.head(3))
        .otherwise(pl.col("negatives"))
        .alias("negatives")
    )
    ragged.write_parquet(tmp_path / "ragged.parquet")
    with pytest.raises(InputError, match="one K for every row"):
        read_pool(tmp_path / "ragged.parquet")


def test_missing_pool_and_too_many_negatives(data, tmp_path):
    d, _, _ = data
    with pytest.raises(MissingInputError, match="negatives"):
        run(
            {"rec": REC},
            {"name": "base"},
            "gru",
            "snqn",
            0,
            d / "data",
            tmp_path / "a",
            progress=False,
            negatives=tmp_path / "none.parquet",
        )
    with pytest.raises(ConfigError, match=r"rec\.negatives"):
        load_inputs(d / "data", {"name": "base"}, 10, 5, framework="sa2c")
    # the normal framework has no Q-head and reads no pool
    load_inputs(d / "data", {"name": "base"}, 10, 1, framework="normal", pool=tmp_path / "none.parquet")
    with pytest.raises(ConfigError, match=r"rec\.negatives"):
        NegativeSampler(0).columns(3, 2, 3)


def _negatives_per_step(d, le, framework, variant, seed, k=1):
    rec = {**REC, "negatives": k}
    _, train, _, _ = load_inputs(
        d / "data", variant, 10, k, le.get("states"), le.get("rewards"), le.get("augment"), framework
    )
    trainer = Trainer("gru", framework, 30, rec, variant, seed, train.le_dim)
    seen = []
    make = trainer.make_batch

    def spy(tr, idx):
        b = make(tr, idx)
        seen.append((idx.clone(), b["neg_items"].clone(), b["neg_reward"].clone()))
        return b

    trainer.make_batch = spy  # type: ignore[method-assign]
    fit(trainer, train, None, progress=False)
    return seen, train


@pytest.mark.parametrize(
    ("framework", "base", "le_variant"),
    [
        ("sa2c", {"name": "base"}, {"name": "LER", "reward": "le"}),
        ("snqn", {"name": "base"}, {"name": "LEAR", "reward": "le", "augment": "sv+q"}),
        (
            "sa2c",
            {"name": "LEAS", "state": "le+h", "augment": "sv+q"},
            {"name": "LEASR", "state": "le+h", "reward": "le", "augment": "sv+q"},
        ),
    ],
)
@pytest.mark.parametrize("k", [1, 3])
def test_variants_draw_identical_negatives_every_step(data, framework, base, le_variant, k):
    d, _, le = data
    a, tr = _negatives_per_step(d, le, framework, base, seed=3, k=k)
    b, tr_le = _negatives_per_step(d, le, framework, le_variant, seed=3, k=k)
    assert len(a) == len(b) == REC["max_steps"]
    for (ia, na, ra), (ib, nb, rb) in zip(a, b, strict=True):
        assert torch.equal(ia, ib)  # the same transitions (batch order and coin do not depend on the switches)
        assert torch.equal(na, nb)  # ... and the same negatives at every step: only the reward differs
        assert na.shape == (REC["batch_size"], k)
        assert (na != tr.action[ia].view(-1, 1)).all()
        assert (ra == 0).all()  # fixed reward
        assert tr_le.pool_reward is not None and tr_le.pool is not None
        # the LE variant's rewards are r^e of exactly the drawn pool items
        cols = (tr_le.pool[ib].unsqueeze(2) == nb.unsqueeze(1)).float().argmax(dim=1)
        assert torch.equal(rb, tr_le.pool_reward[ib].gather(1, cols))
    if k == 3:  # k of the K = 4 pool items, distinct within a transition
        assert all(len(set(row.tolist())) == 3 for _, n, _ in a for row in n)
    # another seed draws another stream
    c, _ = _negatives_per_step(d, le, framework, base, seed=4, k=k)
    assert any(not torch.equal(x[1], y[1]) for x, y in zip(a, c, strict=True))
