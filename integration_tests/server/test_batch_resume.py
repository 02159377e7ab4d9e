"""``genprog attribute --batch`` against a real model server, killed mid-way and resumed.

The batch process scores over HTTP with a real ``python -m llama_cpp.server``
(the embedded SmolLM2 GGUF, on loopback). It is killed with SIGKILL as soon as
its first output line appears, then started again with the same output file:
the rerun must skip every item the file holds (no output line twice, no
scorer request for a finished item) and finish the rest. The server's access
log counts the ``/v1/completions`` requests, so "not redone" is measured in
model calls, not only in lines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from integration_tests.server.conftest import MODEL_ALIAS, LlamaServer, spawn_logged

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 150.0
"""Seconds one batch process may take (three short items; ~20 s on two idle cores)."""

ITEMS = [  # two source sentences each: leave-one-out makes three scorer requests per item
    {
        "id": "park",
        "answer": "The council approved the park.",
        "documents": ["The council approved the park. The mayor praised the vote."],
    },
    {
        "id": "bridge",
        "answer": "The old bridge will close in June.",
        "documents": [
            "The old bridge will close in June.",
            {"page_content": "Buses will take a detour.", "metadata": {"title": "Traffic"}},
        ],
        "question": "What happens to the bridge?",
    },
    {
        "id": "library",
        "answer": "The library now opens on Sundays.",
        "documents": ["The library now opens on Sundays. Students welcomed the hours."],
    },
]


def _spawn(batch_in: Path, out: Path, url: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "langchain_genprog.cli",
        "attribute",
        "--batch",
        str(batch_in),
        "--out",
        str(out),
        "--model",
        MODEL_ALIAS,
        "--base-url",
        url,
        "--method",
        "loo",
        "--quiet",
        *extra,
    ]
    # cwd: the checkout's package, as `python -m` puts the cwd first on sys.path
    return spawn_logged(command, log, cwd=ROOT)


def _records(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    lines = out.read_text().splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def _kill_after_first_line(process: subprocess.Popen[bytes], out: Path, log: Path) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT
    while not _records(out):
        if process.poll() is not None:
            pytest.fail(f"the batch ended before its first line:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"no output line in {RUN_TIMEOUT:.0f}s:\n{log.read_text()[-3000:]}")
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # its own session: our child's group only
    process.wait(timeout=30)


def test_a_killed_batch_resumes_without_redoing_finished_items(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    batch_in, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    batch_in.write_text("".join(json.dumps(item) + "\n" for item in ITEMS))

    first_log = tmp_path / "first.log"
    first = _spawn(batch_in, out, llama_server.url, first_log)
    _kill_after_first_line(first, out, first_log)
    assert first.returncode == -signal.SIGKILL
    before = _records(out)
    done_before = {r["id"] for r in before}
    assert 1 <= len(done_before) < len(ITEMS), "the kill did not land mid-batch"
    requests_before = llama_server.completions_requests()

    second_log = tmp_path / "second.log"
    second = _spawn(batch_in, out, llama_server.url, second_log, "--concurrency", "2")
    try:
        assert second.wait(timeout=RUN_TIMEOUT) == 0, second_log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    after = _records(out)
    redone = [r["id"] for r in after[len(before) :] if r["id"] in done_before]
    resumed_calls = llama_server.completions_requests() - requests_before
    finished_now = after[len(before) :]

    print(  # the closing note's resume counts (pytest -s shows them)
        f"\nresume: {len(done_before)} item(s) done before the kill, {len(redone)} redone, "
        f"{len(finished_now)} finished after the restart with {resumed_calls} scorer requests "
        f"(their records count {sum(r['model_calls'] for r in finished_now)})"
    )
    assert redone == []
    assert sorted(r["id"] for r in after) == sorted(i["id"] for i in ITEMS)  # each once
    assert all(r["status"] == "ok" and r["error"] is None for r in after)
    # Every request of the second process belongs to an item it finished: none was
    # spent on an item the first process had already written.
    assert resumed_calls == sum(r["model_calls"] for r in finished_now)
    for record in after:
        (sentence,) = record["citations"]
        assert sentence["citations"], f"{record['id']}: no citation"
        top = max(sentence["citations"], key=lambda c: c["score"] or 0.0)
        assert top["text"] == sentence["text"]  # the copied source sentence supports it most
    report = second_log.read_text()
    assert f"{len(done_before)} skipped (resumed)" in report
    assert f"{len(ITEMS) - len(done_before)} ran" in report
