"""Bad input: strict mode stops with ``file:line: what was expected``; lenient mode skips and counts in stats.json;
no output (partial or not) is left behind when the stage fails."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from data_fixtures import run, settings, tsv, write

from lea.cli import main as lea_main
from lea.errors import ConfigError, InputError

INTER_HEADER = ("user_id:token", "item_id:token", "timestamp:float")
ITEM_HEADER = ("item_id:token", "title:token_seq")
GOOD_ITEMS = tsv(ITEM_HEADER, ("a", "Alpha"), ("b", "Beta"))


def recbole_case(
    tmp_path: Path,
    inter: str | bytes,
    items: str | bytes = GOOD_ITEMS,
    strict: bool = True,
) -> tuple[dict[str, Any], Path]:
    raw = tmp_path / "raw"
    write(raw / "x.inter", inter)
    write(raw / "x.item", items)
    config = settings(
        "recbole", files={"inter": "x.inter", "item": "x.item"}, text_fields={"title": "title"}, strict=strict
    )
    return config, raw


def expect_error(tmp_path: Path, inter: str | bytes, where: str, message: str, items: str | bytes = GOOD_ITEMS) -> None:
    config, raw = recbole_case(tmp_path, inter, items)
    with pytest.raises(InputError) as err:
        run(raw, tmp_path / "out", settings_dict=config)
    assert str(err.value).startswith(str(raw / where)), str(err.value)
    assert message in str(err.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # nothing left behind


def lenient_skips(tmp_path: Path, inter: str | bytes, items: str | bytes = GOOD_ITEMS) -> dict[str, Any]:
    config, raw = recbole_case(tmp_path, inter, items, strict=False)
    _, stats = run(raw, tmp_path / "lenient", settings_dict=config)
    return stats


GOOD_ROWS = [("u", "a", 1), ("u", "b", 2), ("v", "a", 3)]

CASES = {
    # name: (inter text, items text, "file:line", message, lenient skip reason)
    "malformed_line": (
        tsv(INTER_HEADER, *GOOD_ROWS, ("u", "b")),
        GOOD_ITEMS,
        "x.inter:5",
        "expected 3 tab-separated fields (user_id, item_id, timestamp), got 2",
        "malformed_line",
    ),
    "missing_field": (
        tsv(INTER_HEADER, ("", "a", 1), *GOOD_ROWS),
        GOOD_ITEMS,
        "x.inter:2",
        "required field 'user_id' is missing or empty",
        "missing_field",
    ),
    "bad_timestamp": (
        tsv(INTER_HEADER, *GOOD_ROWS, ("u", "a", "yesterday")),
        GOOD_ITEMS,
        "x.inter:5",
        "field 'timestamp' must be a unix time in seconds, got 'yesterday'",
        "bad_value",
    ),
    "unknown_item": (
        tsv(INTER_HEADER, *GOOD_ROWS, ("v", "zzz", 4)),
        GOOD_ITEMS,
        "x.inter:5",
        "item 'zzz' is not in x.item",
        "unknown_item",
    ),
    "duplicate_event": (
        tsv(INTER_HEADER, *GOOD_ROWS, ("u", "b", 2)),
        GOOD_ITEMS,
        "x.inter:5",
        "duplicate event: sequence 'u' has item 'b' at time 2 already",
        "duplicate_event",
    ),
    "empty_text": (
        tsv(INTER_HEADER, *GOOD_ROWS),
        GOOD_ITEMS + "c\t  \n",
        "x.item:4",
        "item 'c' has no text: title are all empty",
        "empty_text",
    ),
    "conflicting_item": (
        tsv(INTER_HEADER, *GOOD_ROWS),
        GOOD_ITEMS + "a\tAlpha Two\n",
        "x.item:4",
        "item 'a' appears again with different text",
        "duplicate_item",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_strict_stops_at_file_line(tmp_path: Path, case: str) -> None:
    inter, items, where, message, _ = CASES[case]
    expect_error(tmp_path, inter, where, message, items)


@pytest.mark.parametrize("case", sorted(CASES))
def test_lenient_skips_and_counts(tmp_path: Path, case: str) -> None:
    inter, items, _, _, reason = CASES[case]
    stats = lenient_skips(tmp_path, inter, items)
    assert stats["skipped"] == {reason: 1}
    assert stats["table1"]["interactions"] >= 3
    on_disk = json.loads((tmp_path / "lenient" / "stats.json").read_text())
    assert on_disk["skipped"] == {reason: 1}


def test_unknown_item_in_lenient_mode_comes_from_a_skipped_item(tmp_path: Path) -> None:
    # the item with no text is skipped, so its event is then an unknown item: both are counted
    stats = lenient_skips(tmp_path, tsv(INTER_HEADER, *GOOD_ROWS, ("v", "c", 5)), GOOD_ITEMS + "c\t\n")
    assert stats["skipped"] == {"empty_text": 1, "unknown_item": 1}


def test_non_utf8(tmp_path: Path) -> None:
    inter = tsv(INTER_HEADER, *GOOD_ROWS).encode() + b"u\t\xff\xfe\t9\n"
    expect_error(tmp_path, inter, "x.inter:5", "text is not valid UTF-8 (byte 0xff)")
    assert lenient_skips(tmp_path, inter)["skipped"] == {"non_utf8": 1}


def test_identical_repeats_and_blank_lines_are_repaired(tmp_path: Path) -> None:
    inter = tsv(INTER_HEADER, *GOOD_ROWS) + "\n\r\n"
    config, raw = recbole_case(tmp_path, inter, GOOD_ITEMS + "a\tAlpha\n")
    _, stats = run(raw, tmp_path / "out", settings_dict=config)
    assert stats["repaired"] == {"blank_line": 2, "duplicate_item": 1}
    assert stats["skipped"] == {}


@pytest.mark.parametrize("strict", [True, False])
def test_empty_file(tmp_path: Path, strict: bool) -> None:
    config, raw = recbole_case(tmp_path, "", strict=strict)
    with pytest.raises(InputError, match=r"x\.inter: file is empty; expected a RecBole \.inter file"):
        run(raw, tmp_path / "out", settings_dict=config)


def test_header_only(tmp_path: Path) -> None:
    expect_error(tmp_path, tsv(INTER_HEADER), "x.inter", "file has a header but no rows")


@pytest.mark.parametrize("strict", [True, False])
def test_wrong_format(tmp_path: Path, strict: bool) -> None:
    config, raw = recbole_case(tmp_path, '{"reviewerID": "u", "asin": "a"}\n', strict=strict)
    with pytest.raises(InputError, match=r"x\.inter:1: wrong format: header field .* is not 'name:type'"):
        run(raw, tmp_path / "out", settings_dict=config)


def test_wrong_format_headerless_lenient(tmp_path: Path) -> None:
    # every line malformed: lenient mode does not pretend the file was fine
    raw = tmp_path / "raw"
    write(raw / "e.tsv", "user\t2009\n" * 3)
    config = settings("lastfm1k", files={"events": "e.tsv"}, strict=False, sentence_template="{S}")
    with pytest.raises(InputError, match=r"e\.tsv: no usable rows \(wrong format\?\)"):
        run(raw, tmp_path / "out", settings_dict=config)


def test_corrupt_gzip(tmp_path: Path) -> None:
    data = gzip.compress(tsv(INTER_HEADER, *GOOD_ROWS).encode())[:-12]
    raw = tmp_path / "raw"
    write(raw / "x.inter.gz", data)
    config = settings("recbole", files={"inter": "x.inter"})
    with pytest.raises(InputError, match="not a readable gzip file"):
        run(raw, tmp_path / "out", settings_dict=config)


def test_missing_file_and_role(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    with pytest.raises(InputError, match=r"nope\.inter: file not found \(also looked for nope\.inter\.gz\)"):
        run(tmp_path / "raw", tmp_path / "out", settings_dict=settings("recbole", files={"inter": "nope.inter"}))
    with pytest.raises(ConfigError, match="needs a file for role 'inter'"):
        run(tmp_path / "raw", tmp_path / "out", settings_dict=settings("recbole", files={}))


def test_lastfm_bad_timestamp_and_json_lines(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "e.tsv", tsv(("u", "2009-05-04T13:06:09Z", "", "A", "", "T"), ("u", "04/05/2009", "", "A", "", "T")))
    with pytest.raises(InputError, match=r"e\.tsv:2: field 'timestamp' must be ISO-8601"):
        run(
            raw,
            tmp_path / "out",
            settings_dict=settings("lastfm1k", files={"events": "e.tsv"}, sentence_template="{S}"),
        )
    write(raw / "r.json", '{"reviewerID": "u", "asin": "a", "unixReviewTime": 1}\n{"reviewerID": "u", \n')
    with pytest.raises(InputError, match=r"r\.json:2: expected one JSON object per line"):
        run(
            raw,
            tmp_path / "out",
            settings_dict=settings("amazon2018", files={"reviews": "r.json"}, sentence_template="{S}"),
        )


def test_failure_keeps_previous_outputs_whole(tmp_path: Path) -> None:
    """A failing rerun neither deletes nor half-overwrites the outputs of an earlier successful run."""
    config, raw = recbole_case(tmp_path, tsv(INTER_HEADER, *GOOD_ROWS))
    run(raw, tmp_path / "out", settings_dict=config)
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    write(raw / "x.inter", tsv(INTER_HEADER, *GOOD_ROWS, ("u", "zzz", 9)))
    with pytest.raises(InputError):
        run(raw, tmp_path / "out", settings_dict=config)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before  # no temporary files either


def test_cli_reports_file_line_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, raw = recbole_case(tmp_path, tsv(INTER_HEADER, *GOOD_ROWS, ("u", "b")))
    code = lea_main(
        ["preprocess", "--settings", json.dumps(config), "--raw-dir", str(raw), "--out-dir", str(tmp_path / "out")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert f"lea preprocess: error: {raw / 'x.inter'}:5: expected 3 tab-separated fields" in err
    assert "Traceback" not in err


def playlists_case(tmp_path: Path, rows: list[tuple[Any, ...]], strict: bool = True) -> dict[str, Any]:
    raw = tmp_path / "raw"
    write(raw / "interactions.tsv", tsv(("pid", "position", "item_idx"), *rows))
    write(raw / "tracks.tsv", tsv(("item_idx", "track_uri", "track_name"), (0, "u:a", "A"), (1, "u:b", "B")))
    config = settings("playlists", text_fields={"title": "track_name"}, strict=strict)
    return run(raw, tmp_path / ("strict" if strict else "lenient"), settings_dict=config)[1]


def test_duplicate_position_and_bad_position(tmp_path: Path) -> None:
    rows = [(0, 0, 0), (0, 1, 1), (0, 1, 0)]
    with pytest.raises(InputError, match=r"interactions\.tsv:4: sequence '0' has a second item at position 1"):
        playlists_case(tmp_path, rows)
    assert playlists_case(tmp_path, rows, strict=False)["skipped"] == {"duplicate_position": 1}
    with pytest.raises(
        InputError,
        match=r"interactions\.tsv:3: field 'position' must be an integer position, "
        r"got '1\.5'",
    ):
        playlists_case(tmp_path, [(0, 0, 0), (0, 1.5, 1)])


def test_playlist_index_missing_from_tracks(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"interactions\.tsv:3: item 'item_idx:7' is not in tracks\.tsv"):
        playlists_case(tmp_path, [(0, 0, 0), (0, 1, 7)])


def test_lfm1b_track_missing_from_tracks_file(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "LFM-1b_LEs.txt", tsv((7, 1, 100, 1000, 5000), (7, 1, 100, 3000, 5100)))
    write(raw / "LFM-1b_tracks.txt", tsv((1000, "Jóga", 1)))
    config = settings("lfm1b", text_fields={"title": "track_name"})
    with pytest.raises(InputError, match=r"LFM-1b_LEs\.txt:2: item '3000' is not in LFM-1b_tracks\.txt"):
        run(raw, tmp_path / "out", settings_dict=config)
    write(raw / "LFM-1b_tracks.txt", tsv((1000, "Jóga", 1), (1000, "Joga", 1), ("x",)))
    _, stats = run(raw, tmp_path / "lenient", settings_dict={**config, "strict": False})
    assert stats["skipped"] == {"malformed_line": 1, "unknown_item": 1}
    assert stats["repaired"] == {"duplicate_track_id": 1}


def test_lastfm1k_lenient_counts(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    good = ("u", "2009-05-04T13:06:09Z", "", "Björk", "", "Jóga")
    write(
        raw / "e.tsv",
        tsv(
            good,
            ("u", "2009-05-04T13:05:09Z", "", "", "", "Hunter"),
            ("u", "x"),
            ("u", "2009-05-04T13:04:09Z", "", "Björk", "", "Jóga"),
        ),
        gz=True,
    )
    config = settings("lastfm1k", files={"events": "e.tsv"}, sentence_template="{S}", strict=False)
    _, stats = run(raw, tmp_path / "out", settings_dict=config)
    assert stats["skipped"] == {"malformed_line": 1, "missing_field": 1}
    assert stats["table1"]["interactions"] == 2


def test_unisrec_inter_files_name_the_file_of_the_bad_row(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    header = ("user_id:token", "item_id_list:token_seq", "item_id:token")
    write(raw / "S.train.inter", tsv(header, ("U", "A B", "C"), ("U", "A", "B")))
    write(raw / "S.valid.inter", tsv(header, ("U", "A B C", "D")))
    write(raw / "S.test.inter", tsv(header, ("U", "A B C D", "Z")))
    write(raw / "S.text", tsv(("item_id:token", "text:token_seq"), *[(i, f"text {i}") for i in "ABCD"]))
    config = settings(
        "unisrec",
        files={"train": "S.train.inter", "valid": "S.valid.inter", "test": "S.test.inter", "text": "S.text"},
        text_fields={"title": "text"},
    )
    with pytest.raises(InputError, match=r"S\.test\.inter:2: item 'Z' is not in S\.text"):
        run(raw, tmp_path / "out", settings_dict=config)
