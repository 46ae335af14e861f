"""One test (or a few) per reader, on small fixtures written here: the mapping to the internal schema."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from data_fixtures import run, sequences_as_raw, tsv, write

from lea.errors import ConfigError, InputError

# ------------------------------------------------------------------ recbole


def write_recbole(raw: Path, gz: bool = False) -> None:
    write(
        raw / "toy.inter",
        tsv(
            ("user_id:token", "item_id:token", "rating:float", "timestamp:float"),
            (1, 10, 5, 300),
            (1, 11, 3, 100),
            (2, 10, 4, 50),
            (1, 12, 4, 200.0),
            (2, 12, 1, 60),
        ),
        gz=gz,
    )
    write(
        raw / "toy.item",
        tsv(
            ("item_id:token", "movie_title:token_seq", "release_year:token", "class:token_seq"),
            (10, "Toy Story", 1995, "Animation Comedy"),
            (11, "GoldenEye", "", "Action"),
            (12, "Heat", 1995, "Crime"),
        ),
        gz=gz,
    )


@pytest.mark.parametrize("gz", [False, True])
def test_recbole_orders_by_time_and_renders_sentences(tmp_path: Path, gz: bool) -> None:
    write_recbole(tmp_path / "raw", gz=gz)
    tables, stats = run(
        tmp_path / "raw",
        tmp_path / "out",
        reader="recbole",
        files={"inter": "toy.inter", "item": "toy.item"},
        text_fields={"title": "movie_title", "year": "release_year", "genres": "class"},
        sentence_template="{S} movie is titled {title}, released in {year}, its genres are {genres}.",
    )
    assert sequences_as_raw(tables) == {"1": ["11", "12", "10"], "2": ["10", "12"]}
    inter = tables["interactions"]
    assert inter.schema == pl.Schema(
        {"sequence": pl.Int32, "position": pl.Int32, "item": pl.Int32, "timestamp": pl.Int64}
    )
    assert inter.filter(pl.col("sequence") == 0)["timestamp"].to_list() == [100, 200, 300]
    items = tables["items"]
    # items are numbered by first appearance in the ordered event stream
    assert items["raw_id"].to_list() == ["11", "12", "10"]
    sentence = dict(zip(items["raw_id"], items["sentence"]))
    assert sentence["10"] == "{S} movie is titled Toy Story, released in 1995, its genres are Animation Comedy."
    assert sentence["11"] == "{S} movie is titled GoldenEye, its genres are Action."  # no year: clause dropped
    assert items.columns == ["item", "raw_id", "title", "sentence", "year", "genres"]
    assert stats["table1"] == {"items": 3, "sequences": 2, "interactions": 5, "avg_len": 2.5}


def test_recbole_without_timestamp_keeps_file_order(tmp_path: Path) -> None:
    write(tmp_path / "raw" / "x.inter", tsv(("session_id:token", "item_id:token"), ("s", "b"), ("s", "a"), ("t", "a")))
    tables, _ = run(
        tmp_path / "raw", tmp_path / "out", reader="recbole", files={"inter": "x.inter"}, sentence_template="{S} item."
    )
    assert sequences_as_raw(tables) == {"s": ["b", "a"], "t": ["a"]}
    assert tables["interactions"]["timestamp"].is_null().all()
    assert tables["items"]["sentence"].to_list() == ["{S} item."] * 2
    assert tables["items"]["title"].to_list() == ["b", "a"]  # no title field: the raw id


# ------------------------------------------------------------------ unisrec


def test_unisrec_sequences_and_text(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(
        raw / "sequences.tsv",
        tsv(
            ("user_id", "user_idx", "position", "item_id", "item_idx"),
            ("U1", 0, 1, "B2", 1),
            ("U1", 0, 0, "B1", 0),
            ("U2", 1, 0, "B2", 1),
        ),
        gz=True,
    )
    write(
        raw / "S.text",
        tsv(("item_id:token", "text:token_seq"), ("B1", "Roll. Abrasives. PORTER. "), ("B2", "Glue. Adhesives. 3M. ")),
        gz=True,
    )
    tables, _ = run(
        raw,
        tmp_path / "out",
        reader="unisrec",
        files={"sequences": "sequences.tsv.gz", "text": "S.text"},
        text_fields={"title": "text"},
        sentence_template="{S} product is {title}",
    )
    assert sequences_as_raw(tables) == {"U1": ["B1", "B2"], "U2": ["B2"]}
    assert tables["items"]["sentence"].to_list() == [
        "{S} product is Roll. Abrasives. PORTER.",
        "{S} product is Glue. Adhesives. 3M.",
    ]


def test_unisrec_rebuilds_sequences_from_inter_files(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    header = ("user_id:token", "item_id_list:token_seq", "item_id:token")
    # user 0: items 0..5; prefixes longest first, as the UniSRec files list them
    write(raw / "S.train.inter", tsv(header, (0, "0 1 2", 3), (0, "0 1", 2), (0, "0", 1), (1, "5", 6)))
    write(raw / "S.valid.inter", tsv(header, (0, "0 1 2 3", 4), (1, "5 6", 7)))
    write(raw / "S.test.inter", tsv(header, (0, "0 1 2 3 4", 5), (1, "5 6 7", 8)))
    write(raw / "S.item2index", tsv(*[(f"A{i}", i) for i in range(9)]))
    write(raw / "S.user2index", tsv(("Ux", 0), ("Uy", 1)))
    files = {
        "train": "S.train.inter",
        "valid": "S.valid.inter",
        "test": "S.test.inter",
        "item2index": "S.item2index",
        "user2index": "S.user2index",
    }
    tables, _ = run(raw, tmp_path / "out", reader="unisrec", files=files, sentence_template="{S}")
    assert sequences_as_raw(tables) == {"Ux": [f"A{i}" for i in range(6)], "Uy": ["A5", "A6", "A7", "A8"]}


# ------------------------------------------------------------------ amazon 2018


def test_amazon2018_reviews_and_meta(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    reviews = [
        {"reviewerID": "R1", "asin": "A2", "unixReviewTime": 200, "overall": 5.0},
        {"reviewerID": "R1", "asin": "A1", "unixReviewTime": 100},
        {"reviewerID": "R2", "asin": "A1", "unixReviewTime": 100},
    ]
    meta = [
        {
            "asin": "A1",
            "title": "Sanding Roll",
            "category": ["Industrial & Scientific", "Abrasives"],
            "brand": "PORTER",
            "description": ["Fine <b>grit</b>.", "Long."],
        },
        {"asin": "A2", "title": "Glue", "category": [], "brand": ""},
    ]
    write(raw / "Cat.json", "".join(json.dumps(r) + "\n" for r in reviews), gz=True)
    write(raw / "meta_Cat.json", "".join(json.dumps(r) + "\n" for r in meta), gz=True)
    tables, _ = run(
        raw,
        tmp_path / "out",
        reader="amazon2018",
        files={"reviews": "Cat.json.gz", "meta": "meta_Cat.json.gz"},
        text_fields={"title": "title", "category": "category", "brand": "brand", "description": "description"},
        sentence_template="{S} product is {title}, of category {category}, by {brand}: {description}",
    )
    assert sequences_as_raw(tables) == {"R1": ["A1", "A2"], "R2": ["A1"]}
    sentence = dict(zip(tables["items"]["raw_id"], tables["items"]["sentence"]))
    assert sentence["A1"] == (
        "{S} product is Sanding Roll, of category Industrial & Scientific, Abrasives, by PORTER: Fine grit . Long."
    )
    assert sentence["A2"] == "{S} product is Glue"


def test_amazon2018_repeated_reviews_are_dropped_and_counted(tmp_path: Path) -> None:
    """The real 2018 files repeat reviews verbatim: by default (duplicates: drop) strict mode still preprocesses them,
    keeps the first copy and counts the rest in stats.json; duplicates: error stops at the first repeat."""
    raw = tmp_path / "raw"
    reviews = [
        {"reviewerID": "R1", "asin": "A2", "unixReviewTime": 200},
        {"reviewerID": "R1", "asin": "A1", "unixReviewTime": 100},
        {"reviewerID": "R1", "asin": "A2", "unixReviewTime": 200},  # a verbatim repeat (line 3)
        {"reviewerID": "R2", "asin": "A1", "unixReviewTime": 100},
        {"reviewerID": "R2", "asin": "A1", "unixReviewTime": 100},  # another (line 5)
        {"reviewerID": "R2", "asin": "A1", "unixReviewTime": 300},
    ]  # the same item later: a real event
    write(raw / "Cat.json", "".join(json.dumps(r) + "\n" for r in reviews))
    common = {"reader": "amazon2018", "files": {"reviews": "Cat.json"}, "sentence_template": "{S} item"}
    tables, stats = run(raw, tmp_path / "out", **common)
    assert stats["strict"] is True and stats["duplicates"] == {"policy": "drop", "dropped": 2}
    assert stats["skipped"] == {} and stats["input"]["interactions"] == 4
    assert sequences_as_raw(tables) == {"R1": ["A1", "A2"], "R2": ["A1", "A1"]}
    with pytest.raises(InputError, match="duplicate event: sequence 'R1' has item 'A2' at time 200") as err:
        run(raw, tmp_path / "strict", **common, duplicates="error")
    assert str(err.value).startswith(f"{raw / 'Cat.json'}:3")
    _, lenient = run(raw, tmp_path / "lenient", **common, duplicates="error", strict=False)
    assert lenient["skipped"] == {"duplicate_event": 2} and lenient["duplicates"]["dropped"] == 0


def test_duplicates_policy_default_is_error_except_amazon2018(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(
        raw / "x.inter",
        tsv(
            ("user_id:token", "item_id:token", "timestamp:float"),
            ("u", "a", 1),
            ("u", "b", 2),
            ("u", "b", 2),
            ("v", "a", 3),
        ),
    )
    common = {"reader": "recbole", "files": {"inter": "x.inter"}, "sentence_template": "{S} item"}
    with pytest.raises(InputError, match="duplicate event"):
        run(raw, tmp_path / "a", **common)
    tables, stats = run(raw, tmp_path / "b", **common, duplicates="drop")
    assert stats["duplicates"] == {"policy": "drop", "dropped": 1} and tables["interactions"].height == 3
    with pytest.raises(ConfigError, match="duplicates"):
        run(raw, tmp_path / "c", **common, duplicates="keep")


# ------------------------------------------------------------------ Last.fm


def write_lastfm1k(path: Path) -> None:
    # newest first; u1 has two sessions (gap of 2 h), names in any script, empty MBIDs
    write(
        path,
        tsv(
            ("u1", "2009-05-04T13:06:09Z", "a-1", "坂本龍一", "t-1", "The Last Emperor (Theme)"),
            ("u1", "2009-05-04T13:01:00Z", "", "Björk", "", "Jóga"),
            ("u1", "2009-05-04T11:00:00Z", "a-1", "坂本龍一", "t-1", "The Last Emperor (Theme)"),
            ("u1", "2009-05-04T10:58:00Z", "", "Björk", "", "Jóga"),
            ("u2", "2009-05-01T00:00:00Z", "", "Björk", "", "Hunter"),
        ),
    )


def test_lastfm1k_sessions_and_items(tmp_path: Path) -> None:
    write_lastfm1k(tmp_path / "raw" / "lfm1k.tsv")
    tables, stats = run(
        tmp_path / "raw",
        tmp_path / "out",
        reader="lastfm1k",
        files={"events": "lfm1k.tsv"},
        text_fields={"title": "track_name", "artist": "artist_name"},
        session_gap_minutes=30,
        sentence_template="{S} track is titled {title} from album {album}, its artist is {artist}.",
    )
    sessions = sequences_as_raw(tables)
    emperor, joga = "坂本龍一\tThe Last Emperor (Theme)", "Björk\tJóga"
    assert sessions == {"u1#0": [joga, emperor], "u1#1": [joga, emperor], "u2#0": ["Björk\tHunter"]}
    assert stats["sessions"]["sequences"] == 3
    sentence = dict(zip(tables["items"]["raw_id"], tables["items"]["sentence"]))
    assert sentence[emperor] == "{S} track is titled The Last Emperor (Theme), its artist is 坂本龍一."
    first_session = tables["splits"].filter(pl.col("raw_id") == "u1#0")["sequence"][0]
    ts = tables["interactions"].filter(pl.col("sequence") == first_session)["timestamp"].to_list()
    assert ts == [1241434680, 1241434800]  # 10:58 then 11:00 UTC


def test_lastfm1k_time_window(tmp_path: Path) -> None:
    write_lastfm1k(tmp_path / "raw" / "lfm1k.tsv")
    common = {
        "reader": "lastfm1k",
        "files": {"events": "lfm1k.tsv"},
        "session_gap_minutes": None,
        "sentence_template": "{S}",
        "time_window_days": 1,
    }
    tables, stats = run(tmp_path / "raw", tmp_path / "a", **common)  # the latest day
    assert set(sequences_as_raw(tables)) == {"u1"}
    assert stats["caps"]["time_window"]["interactions_dropped"] == 1
    tables, _ = run(tmp_path / "raw", tmp_path / "b", **common, time_window_start="2009-05-01")
    assert set(sequences_as_raw(tables)) == {"u2"}


def test_lastfm_gap_shorter_than_spacing_says_how_many_sessions_and_how_long(tmp_path: Path) -> None:
    from lea.errors import ConfigError

    # three users, events an hour apart: the 30-minute gap makes every event a session of its own
    rows = [(f"u{u}", f"2009-05-04T{h:02d}:00:00Z", "", "Björk", "", f"Song {h}") for u in range(3) for h in range(4)]
    write(tmp_path / "raw" / "hourly.tsv", tsv(*rows))
    common = {
        "reader": "lastfm1k",
        "files": {"events": "hourly.tsv"},
        "sentence_template": "{S}",
        "filter": {"min_seq_len": 3, "min_item_count": 1, "iterate": True},
    }
    with pytest.raises(ConfigError) as err:
        run(tmp_path / "raw", tmp_path / "a", **common, session_gap_minutes=30)
    msg = str(err.value)
    assert err.value.key == "datasets.t.session_gap_minutes", msg
    assert "30-minute session gap (session_gap_minutes) made 12 sessions of 3 users, 1 to 1 events long" in msg
    assert "12 of a single event" in msg and "min_seq_len is 3" in msg
    _, stats = run(tmp_path / "raw", tmp_path / "b", **common, session_gap_minutes=90)  # the log's spacing: kept
    assert stats["sessions"]["sequences"] == 3
    assert stats["sessions"]["events_per_session"] == {"min": 4, "median": 4.0, "max": 4}


def test_lfm1b_layout(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(
        raw / "LFM-1b_LEs.txt",
        tsv((7, 1, 100, 1000, 5000), (7, 2, 200, 2000, 5100), (7, 1, 100, 1000, 9000), (8, 2, 200, 2000, 4000)),
        gz=True,
    )
    write(raw / "LFM-1b_tracks.txt", tsv((1000, "Jóga", 1), (2000, "Hunter", 2)))
    write(raw / "LFM-1b_albums.txt", tsv((100, "Homogenic", 1)))
    write(raw / "LFM-1b_artists.txt", tsv((1, "Björk"), (2, "Björk again")))
    tables, _ = run(
        raw,
        tmp_path / "out",
        reader="lfm1b",
        session_gap_minutes=30,
        text_fields={"title": "track_name", "album": "album_name", "artist": "artist_name"},
        sentence_template="{S} track is titled {title} from album {album}, its artist is {artist}.",
    )
    assert sequences_as_raw(tables) == {"7#0": ["1000", "2000"], "7#1": ["1000"], "8#0": ["2000"]}
    sentence = dict(zip(tables["items"]["raw_id"], tables["items"]["sentence"]))
    assert sentence["1000"] == "{S} track is titled Jóga from album Homogenic, its artist is Björk."
    assert sentence["2000"] == "{S} track is titled Hunter, its artist is Björk again."


# ------------------------------------------------------------------ playlists


def test_playlists_first_n_tracks(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(
        raw / "interactions.tsv",
        tsv(("pid", "position", "item_idx"), (0, 1, 1), (0, 0, 0), (0, 2, 2), (1, 0, 2), (1, 1, 0)),
        gz=True,
    )
    write(
        raw / "tracks.tsv",
        tsv(
            ("item_idx", "track_uri", "track_name", "artist_name"),
            (0, "spotify:track:a", "T-Shirt", "Thomas Rhett"),
            (1, "spotify:track:b", "Beer", "Frankie"),
            (2, "spotify:track:c", "Fire", ""),
        ),
        gz=True,
    )
    tables, stats = run(
        raw,
        tmp_path / "out",
        reader="playlists",
        max_seq_len=2,
        files={"interactions": "interactions.tsv.gz", "tracks": "tracks.tsv.gz"},
        text_fields={"title": "track_name", "artist": "artist_name"},
        sentence_template="{S} track is titled {title} from album {album}, its artist is {artist}.",
    )
    assert sequences_as_raw(tables) == {
        "0": ["spotify:track:a", "spotify:track:b"],
        "1": ["spotify:track:c", "spotify:track:a"],
    }
    assert tables["interactions"]["timestamp"].is_null().all()
    assert stats["caps"]["max_seq_len"]["interactions_dropped"] == 1
    sentence = dict(zip(tables["items"]["raw_id"], tables["items"]["sentence"]))
    assert sentence["spotify:track:c"] == "{S} track is titled Fire."
