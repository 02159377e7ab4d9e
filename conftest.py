"""Fixtures shared by tests/ and integration_tests/: the shared dev data next to the repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED = (
    Path(__file__).resolve().parent.parent / "shared" / "data" / "attribute-first-then-generate"
)


@pytest.fixture(scope="session")
def mds_path() -> Path:
    """The MDS dev split; tests that need it skip (with the path) where it is absent."""
    path = SHARED / "MDS" / "dev.json"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def mds_first(mds_path: Path) -> dict:
    """The first MDS example as raw JSON."""
    with mds_path.open() as handle:
        return json.loads(handle.readline())
