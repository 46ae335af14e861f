"""Result tables: mean ± std over seeds, the paper side by side with the difference, marks, clear input errors."""

from __future__ import annotations

import json

import polars as pl
import pytest
from report_fakes import write_run

from lea.errors import InputError, MissingInputError
from lea.report import tables
from lea.report.paper import load_paper


def _spec(tmp_path, rows, paper_dataset="LFM", name="table4"):
    return {
        "name": name,
        "dataset": "lfm",
        "paper_dataset": paper_dataset,
        "dataset_note": "note",
        "rows": [
            {
                "backbone": "sasrec",
                "framework": "sa2c",
                "variant": v,
                "label": v,
                "group": "sasrec/sa2c",
                "x": None,
                "point": None,
                "runs": [str(tmp_path / v / f"seed{s}") for s in range(len(rs))],
            }
            for v, rs in rows.items()
        ],
    }


def _write(tmp_path, rows):
    for v, seeds in rows.items():
        for s, ranks in enumerate(seeds):
            write_run(tmp_path / v / f"seed{s}", ranks)


def test_table_mean_std_paper_and_difference(tmp_path):
    n = 100
    rows = {
        "base": [[1 if i < 30 else 50 for i in range(n)], [1 if i < 40 else 50 for i in range(n)]],  # hr@5 .3 / .4
        "LER": [[1 if i < 90 else 50 for i in range(n)]] * 2,  # 0.9 in both seeds
    }
    _write(tmp_path, rows)
    df = tables.build(_spec(tmp_path, rows), load_paper())
    base = df.row(0, named=True)
    assert base["model"] == "SA2C" and base["n_seeds"] == 2
    assert base["hr@5_mean"] == pytest.approx(0.35)
    assert base["hr@5_std"] == pytest.approx(0.0707107, abs=1e-6)
    assert base["hr@5_paper"] == pytest.approx(0.2902)  # Table 4, LFM, SA2C
    assert base["hr@5_diff"] == pytest.approx(0.35 - 0.2902)
    ler = df.row(1, named=True)
    assert ler["hr@5_paper"] == pytest.approx(0.3252)
    assert ler["hr@5_diff"] == pytest.approx(0.9 - 0.3252)
    assert ler["hr@5_mark"] == "best*" and base["hr@5_mark"] == "second"
    md = tables.to_markdown(df, _spec(tmp_path, rows), "ttest")
    assert "| HR@5 ours | paper | Δ |" in md
    assert "**0.9000 ± 0.0000**\\*" in md and "+0.5748" in md  # 0.9 - 0.3252
    assert "paired t-test" in md and "100 test cases" in md


def test_table_without_paper_dataset_has_empty_paper_columns(tmp_path):
    rows = {"base": [[1, 2, 3]], "LER": [[1, 1, 1]]}
    _write(tmp_path, rows)
    df = tables.build(_spec(tmp_path, rows, paper_dataset=None), load_paper())
    assert df["hr@5_paper"].null_count() == 2 and df["hr@5_diff"].null_count() == 2
    assert "| – | – |" in tables.to_markdown(df, _spec(tmp_path, rows, paper_dataset=None), "ttest")


def test_metrics_json_missing_key_names_the_file(tmp_path):
    d = write_run(tmp_path / "base" / "seed0", [1, 2])
    m = json.loads((d / "metrics.json").read_text())
    del m["test"]["ndcg@20"]
    (d / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match=r"base/seed0/metrics.json: key 'test.ndcg@20' is missing"):
        tables.load_run(d)


def test_missing_run_names_the_file_and_stage(tmp_path):
    with pytest.raises(MissingInputError, match=r"nope/metrics.json is missing: run the 'train' stage"):
        tables.load_run(tmp_path / "nope")


def test_ranks_without_rank_column_names_the_file(tmp_path):
    d = write_run(tmp_path / "r", [1, 2])
    pl.read_parquet(d / "ranks.parquet").drop("rank").write_parquet(d / "ranks.parquet")
    with pytest.raises(InputError, match=r"r/ranks.parquet: column 'rank' is missing"):
        tables.load_run(d)


def test_table1_side_by_side(tmp_path):
    stats = tmp_path / "stats.json"
    stats.write_text(
        json.dumps({"table1": {"items": 18000, "sequences": 11073, "interactions": 150000, "avg_len": 13.5}})
    )
    df = tables.table1([{"dataset": "lfm", "paper_dataset": "LFM", "stats": str(stats)}], load_paper())
    r = df.row(0, named=True)
    assert r["items_paper"] == 18927 and r["items_diff"] == -927
    assert r["sequences_diff"] == 0
    assert r["avg_len_paper"] == pytest.approx(146255 / 11073)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"table1": {"items": 1}}))
    with pytest.raises(InputError, match=r"bad.json: key 'table1.sequences' is missing"):
        tables.table1([{"dataset": "x", "paper_dataset": None, "stats": str(bad)}], None)


@pytest.mark.parametrize(
    ("reps", "says"),
    [
        ({"base": 0, "LER": 0}, "recommender seeds only (no row uses the LE)"),
        ({"base": 0, "LER": 1}, "the LE's own variance is not in it"),
        ({"base": 0, "LER": 2}, "covers the recommender seeds and 2 LE replicates"),
    ],
)
def test_footer_says_what_the_spread_covers(tmp_path, reps, says):
    rows = {"base": [[1, 2, 3], [2, 3, 4]], "LER": [[1, 1, 1], [1, 2, 1]]}
    _write(tmp_path, rows)
    spec = _spec(tmp_path, rows)
    for r in spec["rows"]:
        r["le_replicates"] = reps[r["variant"]]
    df = tables.build(spec, load_paper())
    assert df["n_le_replicates"].to_list() == [reps["base"], reps["LER"]]
    assert says in tables.to_markdown(df, spec, "ttest")


def test_le_quality_table_shows_the_reference_floor(tmp_path) -> None:
    """The LE table flattens le_quality.json one level deep and adds the reference scorers' headline numbers."""
    q = {
        "transitions": 10,
        "reward": {"pairwise_accuracy": 0.52, "auc": 0.51},
        "state": {"hr@10": 0.002},
        "choice": {"accuracy": 0.21, "chosen_position_histogram": [2, 2, 2, 2, 2]},
        "setting": "frac0.1",
        "reference": {
            "fitted_on": "the LE subset's training transitions",
            "train_transitions": 40,
            "popularity": {
                "reward": {"pairwise_accuracy": 0.64},
                "state": {"hr@10": 0.04},
                "choice": {"accuracy": 0.39},
            },
        },
    }
    path = tmp_path / "le_quality.json"
    path.write_text(json.dumps(q))
    df = tables.le_quality([{"path": path, "dataset": "industry", "le": "frac0.1"}])
    row = df.row(0, named=True)
    assert row["reward.pairwise_accuracy"] == 0.52 and row["reference.train_transitions"] == 40
    assert row["reference.popularity.reward.pairwise_accuracy"] == 0.64
    assert row["reference.popularity.state.hr@10"] == 0.04 and row["reference.popularity.choice.accuracy"] == 0.39
    assert "setting" not in row and "choice.chosen_position_histogram" not in row


def test_spread_note_says_what_the_plus_minus_covers() -> None:
    """The ± note follows the LE replicates the rows read: none, one (a single replicate, whatever le.replicates
    says, e.g. a table of seed 0 only), or several."""
    from lea.report.tables import spread_note

    def note(reps: list[int | None]) -> str:
        return spread_note(pl.DataFrame({"n_le_replicates": reps}, schema={"n_le_replicates": pl.Int64}))

    assert "no row uses the LE" in note([0, 0])
    assert "a single LE replicate" in note([0, 1, 1])
    assert "3 LE replicates" in note([0, 3])
    assert "not recorded" in note([1, None])
