"""The steps common to every format: caps, filters, split, LE subsets, sentences, determinism, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from data_fixtures import run, settings, tsv, write

from lea.cli import main as lea_main
from lea.data.preprocess import render_sentences, resolve_settings, template_clauses
from lea.errors import ConfigError

HEADER = ("session_id:token", "item_id:token")


def write_sessions(raw: Path, sessions: dict[str, list[str]]) -> None:
    write(raw / "s.inter", tsv(HEADER, *[(s, i) for s, items in sessions.items() for i in items]))


def many_sessions(n: int, length: int = 5, n_items: int = 7) -> dict[str, list[str]]:
    return {f"s{k:03d}": [f"i{(k + j) % n_items}" for j in range(length)] for k in range(n)}


def run_sessions(tmp_path: Path, sessions: dict[str, list[str]], out: str = "out", **overrides):  # type: ignore[no-untyped-def]
    write_sessions(tmp_path / "raw", sessions)
    return run(
        tmp_path / "raw",
        tmp_path / out,
        settings_dict=settings("recbole", files={"inter": "s.inter"}, sentence_template="{S}", **overrides),
    )


# ------------------------------------------------------------------ filters


CHAIN = {  # "x" has 3 uses, one in "e", which the first round drops: only a second round sees "x" is rare
    "a": ["p", "q", "r"],
    "b": ["p", "q", "r"],
    "c": ["p", "q", "r"],
    "e": ["x", "y"],
    "f": ["x", "p", "q"],
    "g": ["x", "p", "r"],
}


def test_filters_once_and_to_fixpoint(tmp_path: Path) -> None:
    rules = {"min_seq_len": 3, "min_item_count": 3}
    _, once = run_sessions(tmp_path, CHAIN, "once", filter={**rules, "iterate": False})
    _, fixed = run_sessions(tmp_path, CHAIN, "fixed", filter={**rules, "iterate": True})
    assert len(once["filter"]["rounds"]) == 1
    assert len(fixed["filter"]["rounds"]) == 3
    assert fixed["filter"]["rounds"][-1] == {"sequences_dropped": 0, "items_dropped": 0, "interactions_dropped": 0}
    assert once["table1"]["interactions"] == 15  # one round keeps f and g: "x" has only 2 uses left
    assert fixed["table1"] == {"items": 3, "sequences": 3, "interactions": 9, "avg_len": 3.0}
    tables, _ = run_sessions(tmp_path, CHAIN, "check", filter={**rules, "iterate": True})
    counts = tables["interactions"].group_by("item").len()["len"]
    lengths = tables["interactions"].group_by("sequence").len()["len"]
    assert counts.min() >= 3 and lengths.min() >= 3  # a fixpoint satisfies both filters


def test_keep_top_items_and_max_sequences(tmp_path: Path) -> None:
    sessions = {"a": ["p", "p", "q"], "b": ["p", "q", "r"], "c": ["r", "s"], "d": ["p"]}
    tables, stats = run_sessions(tmp_path, sessions, keep_top_items=2)
    assert sorted(tables["items"]["raw_id"].to_list()) == ["p", "q"]  # p: 4 uses; q and r tie at 2: the smaller id
    assert stats["caps"]["keep_top_items"]["items_dropped"] == 2
    sample_a, _ = run_sessions(tmp_path, many_sessions(50), "a", max_sequences=10)
    sample_b, _ = run_sessions(tmp_path, many_sessions(50), "b", max_sequences=10)
    assert sample_a["splits"]["raw_id"].to_list() == sample_b["splits"]["raw_id"].to_list()
    assert sample_a["splits"].height == 10
    sample_c, _ = run_sessions(tmp_path, many_sessions(50), "c", max_sequences=10, split={"seed": 1})
    assert sample_c["splits"]["raw_id"].to_list() != sample_a["splits"]["raw_id"].to_list()


# ------------------------------------------------------------------ split and LE subsets


def test_split_by_sequence_and_nested_le_subsets(tmp_path: Path) -> None:
    tables, stats = run_sessions(tmp_path, many_sessions(200))
    splits = tables["splits"]
    assert splits.schema == pl.Schema(
        {"sequence": pl.Int32, "raw_id": pl.String, "split": pl.String, "le_fraction": pl.Float32}
    )
    assert stats["splits"] == {"train": 160, "valid": 20, "test": 20}
    assert splits.filter(pl.col("split") != "train")["le_fraction"].is_null().all()
    train = splits.filter(pl.col("split") == "train")
    assert train["le_fraction"].is_not_null().all()  # le_fractions default ends at 1.0
    subsets = {f: set(train.filter(pl.col("le_fraction") <= f)["sequence"]) for f in (0.05, 0.1, 0.2, 0.5, 1.0)}
    assert [len(s) for s in subsets.values()] == [8, 16, 32, 80, 160]
    assert subsets[0.05] <= subsets[0.1] <= subsets[0.2] <= subsets[0.5] <= subsets[1.0]
    assert stats["le_subsets"] == {"0.05": 8, "0.1": 16, "0.2": 32, "0.5": 80, "1.0": 160}
    other, _ = run_sessions(tmp_path, many_sessions(200), "seed1", split={"seed": 1})
    assert other["splits"]["split"].to_list() != splits["split"].to_list()


def test_outputs_are_byte_identical_across_runs(tmp_path: Path) -> None:
    run_sessions(tmp_path, many_sessions(60), "one")
    run_sessions(tmp_path, many_sessions(60), "two")
    for name in ("items.parquet", "interactions.parquet", "splits.parquet", "stats.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_indices_are_dense(tmp_path: Path) -> None:
    tables, _ = run_sessions(tmp_path, CHAIN, filter={"min_seq_len": 3, "min_item_count": 3})
    inter = tables["interactions"]
    assert sorted(inter["item"].unique()) == list(range(tables["items"].height))
    assert sorted(inter["sequence"].unique()) == list(range(tables["splits"].height))
    positions = inter.group_by("sequence").agg(pl.col("position"))
    for row in positions.iter_rows(named=True):
        assert row["position"] == list(range(len(row["position"])))
    assert inter.equals(inter.sort("sequence", "position"))


# ------------------------------------------------------------------ sentences


TEMPLATE = "{S} track is titled {title} from album {album}, its artist is {artist}."


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"title": "Jóga", "album": "Homogenic", "artist": "Björk"},
            "{S} track is titled Jóga from album Homogenic, its artist is Björk.",
        ),
        ({"title": "Jóga", "album": None, "artist": "Björk"}, "{S} track is titled Jóga, its artist is Björk."),
        ({"title": "Jóga", "album": "Homogenic", "artist": None}, "{S} track is titled Jóga from album Homogenic."),
        ({"title": None, "album": None, "artist": "Björk"}, "{S}, its artist is Björk."),
        ({"title": "a {S} b", "album": None, "artist": None}, "{S} track is titled a S b."),
    ],
)
def test_sentence_clauses(values: dict[str, str | None], expected: str) -> None:
    items = pl.DataFrame([values], schema={"title": pl.String, "album": pl.String, "artist": pl.String})
    if values["title"] and "{S}" in values["title"]:
        items = items.with_columns(pl.col("title").str.replace_all("{S}", "S", literal=True))  # as clean_items does
    sentence = render_sentences(items, {"name": "t", "sentence_template": TEMPLATE})[0]
    assert sentence == expected
    assert sentence.count("{S}") == 1


def test_template_clauses_split() -> None:
    head, clauses, tail = template_clauses(TEMPLATE)
    assert head == "{S}"
    assert clauses == [(" track is titled ", "title"), (" from album ", "album"), (", its artist is ", "artist")]
    assert tail == "."


@pytest.mark.parametrize("template", ["no placeholder {title}", "{S} twice {S}"])
def test_template_needs_exactly_one_placeholder(template: str) -> None:
    with pytest.raises(ConfigError, match="sentence_template"):
        resolve_settings(settings("recbole", sentence_template=template))


def test_settings_validation_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"datasets\.t\.split"):
        resolve_settings(settings("recbole", split={"train": 0.9, "valid": 0.1, "test": 0.1}))
    with pytest.raises(ConfigError, match=r"datasets\.t"):
        resolve_settings(settings("recbole", no_such_key=1))


def test_text_field_must_name_a_column(tmp_path: Path) -> None:
    write(tmp_path / "raw" / "x.inter", tsv(("user_id:token", "item_id:token"), ("u", "a")))
    write(tmp_path / "raw" / "x.item", tsv(("item_id:token", "name:token_seq"), ("a", "A")))
    with pytest.raises(ConfigError, match=r"text_fields\.title': column 'movie_title' is not in x\.item"):
        run(
            tmp_path / "raw",
            tmp_path / "out",
            settings_dict=settings(
                "recbole", files={"inter": "x.inter", "item": "x.item"}, text_fields={"title": "movie_title"}
            ),
        )


def test_cli_writes_the_four_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_sessions(tmp_path / "raw", many_sessions(20))
    config = settings("recbole", files={"inter": "s.inter"}, sentence_template="{S}")
    code = lea_main(
        [
            "preprocess",
            "--settings",
            json.dumps(config),
            "--raw-dir",
            str(tmp_path / "raw"),
            "--out-dir",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "interactions.parquet",
        "items.parquet",
        "splits.parquet",
        "stats.json",
    ]
    assert json.loads(capsys.readouterr().out)["sequences"] == 20
