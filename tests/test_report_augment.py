"""The augmentation table: the LE's hit rate against the warm-up top-1, top-5 and random, on a hand-made set."""

from __future__ import annotations

import json

import polars as pl
import pytest

from lea.cli import main as lea
from lea.errors import InputError
from lea.report.augment import augment_table

I32 = pl.Int32

# (sequence, position): (warm-up top-5, LE's chosen item); true items: sequence 0 = 10..13, sequence 1 = 20..22
ROWS = {
    (0, 1): ([11, 1, 2, 3, 4], 11),  # top-1 hit, LE picks position 0: hit
    (0, 2): ([1, 12, 2, 3, 4], 12),  # top-1 miss, true item at 1, LE picks 1: hit
    (0, 3): ([1, 2, 3, 4, 5], 3),  # true item not in the top-5, LE picks 2: miss
    (1, 1): ([21, 1, 2, 3, 4], 4),  # top-1 hit, LE picks 4: miss
    (1, 2): ([1, 2, 3, 4, 22], 22),  # true item at 4, LE picks 4: hit
}


def _write(tmp_path, rows=ROWS):
    truth = {(0, p): 10 + p for p in range(4)} | {(1, p): 20 + p for p in range(3)}
    pl.DataFrame(
        {
            "sequence": pl.Series([s for s, _ in truth], dtype=I32),
            "position": pl.Series([p for _, p in truth], dtype=I32),
            "item": pl.Series(list(truth.values()), dtype=I32),
        }
    ).write_parquet(tmp_path / "interactions.parquet")
    keys = list(rows)
    aug = pl.DataFrame(
        {
            "sequence": pl.Series([s for s, _ in keys], dtype=I32),
            "position": pl.Series([p for _, p in keys], dtype=I32),
            "candidates": pl.Series([rows[k][0] for k in keys], dtype=pl.List(I32)),
            "chosen": pl.Series([rows[k][1] for k in keys], dtype=I32),
            "reward": pl.Series([0.5] * len(keys), dtype=pl.Float32),
            "hit": pl.Series([rows[k][1] == truth.get(k) for k in keys], dtype=pl.Boolean),
        }
    )
    aug.write_parquet(tmp_path / "augment_sasrec.parquet")
    top = aug.select("sequence", "position", "candidates")
    other = top.head(1).with_columns(position=pl.lit(0, I32), candidates=pl.lit([10, 1, 2, 3, 4], pl.List(I32)))
    top = pl.concat([top, other])  # (0, 0) is not in the augment table: its top-1 hit must not count
    top.write_parquet(tmp_path / "top5.parquet")
    return {
        "dataset": "demo",
        "le": "frac0.1",
        "backbone": "sasrec",
        "augment": str(tmp_path / "augment_sasrec.parquet"),
        "top5": str(tmp_path / "top5.parquet"),
        "interactions": str(tmp_path / "interactions.parquet"),
    }


def test_augment_rates_on_a_hand_made_set(tmp_path):
    row = augment_table([_write(tmp_path)]).row(0, named=True)
    assert (row["dataset"], row["le"], row["backbone"], row["rows"]) == ("demo", "frac0.1", "sasrec", 5)
    assert row["le_hit"] == pytest.approx(3 / 5)
    assert row["warmup_top1_hit"] == pytest.approx(2 / 5)
    assert row["top5_hit"] == pytest.approx(4 / 5)
    assert row["random_hit"] == pytest.approx(4 / 25)
    assert row["le_picks_top1"] == pytest.approx(1 / 5)
    assert [row[f"chosen_at_{k}"] for k in range(5)] == [1, 1, 1, 0, 2]


def test_augment_cli_writes_md_and_csv(tmp_path):
    spec = {"entries": [_write(tmp_path)]}
    md, csv = tmp_path / "augment.md", tmp_path / "augment.csv"
    assert lea(["report", "augment", "--spec", json.dumps(spec), "--out-md", str(md), "--out-csv", str(csv)]) == 0
    assert pl.read_csv(csv)["le_hit"].to_list() == [pytest.approx(0.6)]
    assert "| demo | frac0.1 | sasrec | 5 | 0.6 | 0.4 | 0.8 | 0.16 | 0.2 | 1 | 1 | 1 | 0 | 2 |" in md.read_text()


def test_augment_row_missing_in_interactions_names_the_file(tmp_path):
    entry = _write(tmp_path, {**ROWS, (1, 7): ([1, 2, 3, 4, 5], 1)})
    with pytest.raises(InputError) as e:
        augment_table([entry])
    assert str(e.value).startswith(entry["augment"])
    assert "(sequence=1, position=7): no such row in" in str(e.value) and entry["interactions"] in str(e.value)


def test_augment_chosen_not_a_candidate_names_the_file(tmp_path):
    entry = _write(tmp_path, {**ROWS, (0, 3): ([1, 2, 3, 4, 5], 99)})
    with pytest.raises(InputError, match=r"\(sequence=0, position=3\): chosen is not one of the candidates") as e:
        augment_table([entry])
    assert e.value.path == entry["augment"]
