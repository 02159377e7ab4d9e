from __future__ import annotations

import os

import pytest

POSTGRES_DSN_VARIABLE = "GENPROG_TEST_POSTGRES_DSN"


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """A PostgreSQL server's DSN, with LangGraph's checkpoint tables set up."""
    dsn = os.environ.get(POSTGRES_DSN_VARIABLE)
    if not dsn:
        pytest.skip(
            f"{POSTGRES_DSN_VARIABLE} is not set: no PostgreSQL server to test against "
            "(`make slow` starts a throwaway one where PostgreSQL is installed; "
            "see scripts/with-postgres)"
        )
    postgres = pytest.importorskip(
        "langgraph.checkpoint.postgres", reason="needs langchain-genprog[postgres]"
    )
    with postgres.PostgresSaver.from_conn_string(dsn) as saver:
        saver.setup()  # once, before any worker: the migrations are not run concurrently
    return dsn
