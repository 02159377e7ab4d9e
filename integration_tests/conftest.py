from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "attribute-first-then-generate"
)


@pytest.fixture(scope="session")
def mds_path() -> Path:
    path = SHARED / "MDS" / "dev.json"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def mds_first(mds_path: Path) -> dict:
    with mds_path.open() as handle:
        return json.loads(handle.readline())


@pytest.fixture(scope="session")
def embedded_llm():  # type: ignore[no-untyped-def]
    from langchain_genprog.models import get_default_chat_model

    return get_default_chat_model()
