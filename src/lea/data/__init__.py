"""The data stage: one reader per raw format (mapping it to ``lea.data.raw``), then ``lea.data.preprocess``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lea.data.raw import RawData
from lea.data.textfile import Report

Reader = Callable[[Path, dict[str, Any], Report], RawData]


def reader_for(name: str) -> Reader:
    """The read function of a ``reader`` config value (imported lazily)."""
    from lea.data import amazon2018, lastfm, playlists, recbole, unisrec

    readers: dict[str, Reader] = {
        "amazon2018": amazon2018.read,
        "unisrec": unisrec.read,
        "recbole": recbole.read,
        "lfm1b": lastfm.read_lfm1b,
        "lastfm1k": lastfm.read_lastfm1k,
        "playlists": playlists.read,
    }
    return readers[name]
