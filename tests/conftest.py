"""Shared test helpers: where the repository and the optional shared data live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LEA_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's shared real datasets; tests that need them skip cleanly when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def without_c_compiler(monkeypatch):
    """No C compiler for lea.native: its cached libraries and the kernels built on them are forgotten before and
    after the test, so that the test compiles nothing and the next caller compiles again with the real compiler."""
    from lea import native
    from lea.rec import dropout
    from lea.rl import adam

    caches = (native.load, adam.native_kernels, dropout.native_bernoulli)
    monkeypatch.setenv("CC", "/nonexistent/cc")
    for c in caches:
        c.cache_clear()
    yield
    monkeypatch.undo()
    for c in caches:
        c.cache_clear()
