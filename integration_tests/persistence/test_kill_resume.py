"""A graph process killed with ``kill -9`` mid-execution is resumed by another one.

Real checkpointers (``SqliteSaver`` on a file, ``PostgresSaver`` on a real
server) and real processes; the model is the counting fake, slowed down, so
the test is deterministic and needs no model weights. The second process must
make exactly the operation calls the first had not finished: none repeated,
none lost, and the same answer as an uninterrupted run.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from integration_tests.persistence.helpers import (
    calls_of,
    expected_answer,
    finish,
    kill_during_call,
    spawn,
)
from tests.unit_tests.counting import OPERATION_CALLS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(params=["sqlite", "postgres"])
def checkpointer(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'threads.sqlite'}"
    return f"postgres:{request.getfixturevalue('postgres_dsn')}"


@pytest.mark.parametrize("call", [1, 3])
def test_killed_mid_execution_resumes_without_repeating_finished_calls(
    checkpointer: str, call: int, tmp_path: Path
) -> None:
    log, thread = tmp_path / "calls.jsonl", f"kill-{uuid.uuid4()}"
    first = spawn(checkpointer, thread, log, "--delay", "2")
    before = kill_during_call(first, log, call)
    assert len(before.finished) == call - 1 and before.plans == 1

    second = spawn(checkpointer, thread, log, "--resume", "--delay", "0.05")
    report = finish(second)
    after = calls_of(log, second.pid)

    assert not set(after.started) & set(before.finished), "a finished call was made again"
    assert sorted(after.finished) == sorted(after.started)
    assert len(before.finished) + len(after.started) == OPERATION_CALLS  # nothing lost
    assert after.plans == 0  # the plan was saved before execution began
    assert report["operation_calls"] == OPERATION_CALLS - (call - 1)
    assert report["answer"] == expected_answer() and report["next"] == []
