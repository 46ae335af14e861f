"""Transitions from the data contract: windows, padding, done, next states; LE joins; no leakage."""

import polars as pl
import pytest
import torch

from lea.errors import InputError, MissingInputError
from lea.rl.replay import attach_augment, attach_le_rewards, attach_le_states, attach_pool, build_transitions
from lea.rl.synthetic import fake_le_tables, successor_dataset

torch.set_num_threads(1)


def _inter(seqs):
    rows = [(s, p, it) for s, items in enumerate(seqs) for p, it in enumerate(items)]
    return pl.DataFrame(rows, schema={"sequence": pl.Int32, "position": pl.Int32, "item": pl.Int32}, orient="row")


def test_windows_by_hand():
    inter = _inter([[0, 1, 2, 3], [4, 5]])
    tr = build_transitions(inter, None, None, n_items=6, window=3)
    pad = 6
    assert tr.state.tolist() == [[pad, pad, pad], [0, pad, pad], [0, 1, pad], [0, 1, 2], [pad, pad, pad], [4, pad, pad]]
    assert tr.length.tolist() == [1, 1, 2, 3, 1, 1]  # position 0: the all-pad state of length 1
    assert tr.action.tolist() == [0, 1, 2, 3, 4, 5]
    assert tr.next_state.tolist() == [[0, pad, pad], [0, 1, pad], [0, 1, 2], [1, 2, 3], [4, pad, pad], [4, 5, pad]]
    assert tr.next_length.tolist() == [1, 2, 3, 3, 1, 2]
    assert tr.done.tolist() == [False, False, False, True, False, True]


def test_no_leakage_state_excludes_target(tmp_path):
    d = successor_dataset(tmp_path, n_items=30, n_seq=50, max_len=25)
    inter = d["interactions"]
    tr = build_transitions(inter, d["splits"], "test", 30, 10)
    items = {(s, p): it for s, p, it, _ in inter.iter_rows()}
    for i in range(len(tr)):
        s, p = int(tr.sequence[i]), int(tr.position[i])
        real = tr.state[i][: int(tr.length[i])].tolist() if p > 0 else []
        assert real == [items[(s, q)] for q in range(max(0, p - 10), p)]  # strictly before p
        assert (tr.state[i][len(real) :] == 30).all()
    test_seqs = set(d["splits"].filter(pl.col("split") == "test")["sequence"].to_list())
    assert set(tr.sequence.tolist()) == test_seqs


def test_le_joins_and_errors(tmp_path):
    d = successor_dataset(tmp_path / "data", n_items=20, n_seq=30)
    inter = d["interactions"]
    paths = fake_le_tables(tmp_path / "le", inter, 20, dim=4, negatives=2)
    tr = build_transitions(inter, d["splits"], "train", 20, 10)
    attach_le_states(tr, paths["states"], dtype=torch.float32)
    st = pl.read_parquet(paths["states"])
    i = 5
    s, p = int(tr.sequence[i]), int(tr.position[i])
    row = st.filter((pl.col("sequence") == s) & (pl.col("position") == p))["state"].to_list()[0]
    nrow = st.filter((pl.col("sequence") == s) & (pl.col("position") == p + 1))["state"].to_list()[0]
    assert tr.le_table[tr.le_idx[i]].tolist() == pytest.approx(row)
    assert tr.le_table[tr.le_next_idx[i]].tolist() == pytest.approx(nrow)  # next LE state = row at p+1
    attach_pool(tr, tmp_path / "data" / "negatives.parquet")
    attach_le_rewards(tr, paths["rewards"])
    rw = pl.read_parquet(paths["rewards"]).filter((pl.col("sequence") == s) & (pl.col("position") == p))
    assert float(tr.pos_reward[i]) == pytest.approx(rw.filter(pl.col("positive"))["reward"][0])
    assert tr.pool[i].tolist() == rw.filter(~pl.col("positive"))["item"].to_list()
    assert tr.pool_reward[i].tolist() == pytest.approx(rw.filter(~pl.col("positive"))["reward"].to_list())
    other = fake_le_tables(tmp_path / "other", inter, 20, dim=4, negatives=2, pool_seed=1)  # scored another pool
    with pytest.raises(InputError, match="negative pool says"):
        attach_le_rewards(tr, other["rewards"])
    wider = fake_le_tables(tmp_path / "wider", inter, 20, dim=4, negatives=3)
    with pytest.raises(InputError, match="3 scored negatives"):
        attach_le_rewards(tr, wider["rewards"])
    attach_augment(tr, paths["augment"])
    au = pl.read_parquet(paths["augment"]).filter((pl.col("sequence") == s) & (pl.col("position") == p))
    assert int(tr.aug_item[i]) == au["chosen"][0]
    # a missing row names the key; a missing file names the precompute
    pl.read_parquet(paths["augment"]).filter(pl.col("sequence") != s).write_parquet(tmp_path / "short.parquet")
    with pytest.raises(InputError, match=f"sequence={s}"):
        attach_augment(tr, tmp_path / "short.parquet")
    with pytest.raises(MissingInputError, match="le-precompute"):
        attach_le_states(tr, tmp_path / "nope.parquet")
