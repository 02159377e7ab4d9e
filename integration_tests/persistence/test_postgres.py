"""Graph threads on a real PostgreSQL server, served by several processes.

``PostgresSaver`` (``langchain-genprog[postgres]``) against the server that
``scripts/with-postgres`` starts on loopback (``make slow`` and CI do); without
``GENPROG_TEST_POSTGRES_DSN`` these tests skip. Killing a process mid-execution
and resuming it from PostgreSQL is in ``test_kill_resume.py``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from integration_tests.persistence.helpers import calls_of, expected_answer, finish, spawn
from tests.unit_tests.counting import DOCS, OPERATION_CALLS, OTHER_DOCS, read_log

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _saved_state(dsn: str, thread: str) -> dict[str, Any]:
    from langgraph.checkpoint.postgres import PostgresSaver

    from langchain_genprog.graph import build_genprog_graph, with_genprog_types
    from tests.unit_tests.counting import CountingModel

    with PostgresSaver.from_conn_string(dsn) as saver:
        graph = build_genprog_graph(CountingModel(), plan_mode="text").compile(
            checkpointer=with_genprog_types(saver)
        )
        return dict(graph.get_state({"configurable": {"thread_id": thread}}).values)


def test_a_thread_started_in_one_process_is_resumed_in_another(
    postgres_dsn: str, tmp_path: Path
) -> None:
    checkpointer, log, thread = (
        f"postgres:{postgres_dsn}",
        tmp_path / "calls.jsonl",
        str(uuid.uuid4()),
    )
    # The first process plans, then stops before execution (an interrupt) and exits.
    first = spawn(checkpointer, thread, log, "--stop-before", "execute")
    report = finish(first)
    assert report["next"] == ["execute"] and report["operation_calls"] == 0
    assert calls_of(log, first.pid).plans == 1

    second = spawn(checkpointer, thread, log, "--resume")
    report = finish(second)
    resumed = calls_of(log, second.pid)
    assert resumed.plans == 0  # the plan came from the database
    assert len(resumed.started) == OPERATION_CALLS
    assert report["answer"] == expected_answer() and report["next"] == []
    saved = _saved_state(postgres_dsn, thread)
    assert saved["answer"] == report["answer"]
    assert type(saved["plan"]).__name__ == "PlanResult"


def test_two_processes_serve_different_threads_on_one_database(
    postgres_dsn: str, tmp_path: Path
) -> None:
    checkpointer = f"postgres:{postgres_dsn}"
    threads = {"a": str(uuid.uuid4()), "b": str(uuid.uuid4())}
    logs = {name: tmp_path / f"{name}.jsonl" for name in threads}
    slow = ("--delay", "0.4", "--concurrency", "2")
    processes = {
        "a": spawn(checkpointer, threads["a"], logs["a"], *slow),
        "b": spawn(checkpointer, threads["b"], logs["b"], *slow, "--other-docs"),
    }
    reports = {name: finish(process) for name, process in processes.items()}

    assert reports["a"]["answer"] == expected_answer()
    assert reports["b"]["answer"] == expected_answer(other_docs=True)
    assert reports["a"]["answer"] != reports["b"]["answer"]
    windows = []
    for name, process in processes.items():
        calls = calls_of(logs[name], process.pid)
        assert len(calls.started) == len(calls.finished) == OPERATION_CALLS
        records = [r for r in read_log(logs[name]) if r["event"] in {"start", "done"}]
        windows.append((min(r["time"] for r in records), max(r["time"] for r in records)))
    # They ran at the same time: each one's calls overlap the other's.
    assert windows[0][0] < windows[1][1] and windows[1][0] < windows[0][1]
    # Each thread holds its own documents, sources and answer: nothing crossed over.
    for name, thread in threads.items():
        saved = _saved_state(postgres_dsn, thread)
        documents = OTHER_DOCS if name == "b" else DOCS
        assert saved["documents"] == documents
        assert documents[0].startswith(saved["sources"].sentence(1).text)
        assert saved["answer"] == reports[name]["answer"]
