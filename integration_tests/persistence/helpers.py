"""Start, watch and kill graph worker processes (see ``worker.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from langchain_genprog.graph import create_genprog_graph
from tests.unit_tests.counting import DOCS, OTHER_DOCS, CountingModel, read_log

ROOT = Path(__file__).resolve().parents[2]
WORKER = "integration_tests.persistence.worker"
QUESTION = "What was decided?"

# The worker makes its calls slow enough to be killed in the middle of one,
# and waits this long after a call starts before the kill: the call before it
# has then finished and its result been written, as it would be for any call
# that finished well before a crash.
KILL_MARGIN = 0.5


@dataclass
class Calls:
    """One process's operation calls, from the shared call log."""

    started: list[str]
    finished: list[str]
    plans: int


def spawn(checkpointer: str, thread: str, log: Path, *extra: str) -> subprocess.Popen[str]:
    """Start a worker process (from the repository root, so it runs this checkout)."""
    command = [sys.executable, "-m", WORKER, "--checkpointer", checkpointer]
    command += ["--thread", thread, "--log", str(log), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], timeout: float = 90) -> dict[str, Any]:
    """Wait for a worker; its JSON report (or a failure with its stderr)."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker failed ({process.returncode}):\n{err[-3000:]}"
    return dict(json.loads(out.strip().splitlines()[-1]))


def calls_of(log: Path, pid: int) -> Calls:
    """What process ``pid`` logged."""
    records = [r for r in read_log(log) if r["pid"] == pid] if log.exists() else []
    return Calls(
        started=[r["key"] for r in records if r["event"] == "start"],
        finished=[r["key"] for r in records if r["event"] == "done"],
        plans=sum(r["event"] == "plan" for r in records),
    )


def kill_during_call(
    process: subprocess.Popen[str], log: Path, call: int, timeout: float = 60
) -> Calls:
    """``kill -9`` the worker while its ``call``-th operation call is in flight.

    Returns:
        The calls it had started and finished when it died.
    """
    deadline = time.monotonic() + timeout
    while len(calls_of(log, process.pid).started) < call:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"worker ended before call {call}:\n{err[-3000:]}")
        assert time.monotonic() < deadline, f"call {call} never started"
        time.sleep(0.02)
    time.sleep(KILL_MARGIN)
    process.kill()  # SIGKILL: no clean-up, no flush, as a crashed machine
    process.communicate(timeout=30)
    assert process.returncode == -9
    calls = calls_of(log, process.pid)
    assert len(calls.finished) < len(calls.started), "the kill did not land mid-call"
    return calls


def expected_answer(other_docs: bool = False) -> str:
    """The answer of an uninterrupted run, in this process."""
    graph = create_genprog_graph(CountingModel(), plan_mode="text", checkpointer=InMemorySaver())
    documents = OTHER_DOCS if other_docs else DOCS
    state = graph.invoke(
        {"question": QUESTION, "documents": documents},
        {"configurable": {"thread_id": "expected"}},
    )
    return str(state["answer"])
