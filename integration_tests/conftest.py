from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedded_llm():  # type: ignore[no-untyped-def]
    from langchain_genprog.models import get_default_chat_model

    return get_default_chat_model()
