"""The resumable batch loop: resume, per-item failures, the concurrency bound."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from langchain_genprog.batch import BatchJournal, arun_batch, run_batch
from langchain_genprog.errors import InvalidInputError

ITEMS = [{"id": name, "text": name.upper()} for name in ("a", "b", "c", "d")]


class Worker:
    """Upper-cases an item; records every call; raises where told."""

    def __init__(self, fail: dict[str, BaseException] | None = None) -> None:
        self.fail = fail or {}
        self.calls: list[str] = []

    def __call__(self, item: dict[str, str]) -> dict[str, Any]:
        self.calls.append(item["id"])
        if item["id"] in self.fail:
            raise self.fail[item["id"]]
        return {"id": item["id"], "status": "ok", "out": item["text"]}


def _key(item: dict[str, str]) -> str:
    return item["id"]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_rerun_skips_what_the_file_holds(tmp_path: Path) -> None:
    out = tmp_path / "out" / "results.jsonl"
    stopped = Worker(fail={"c": KeyboardInterrupt()})  # the process is stopped at item c
    with pytest.raises(KeyboardInterrupt):
        run_batch(ITEMS, stopped, BatchJournal(out), key=_key, progress=False)
    assert [r["id"] for r in _lines(out)] == ["a", "b"]  # written as each finished

    with out.open("a") as handle:  # a kill mid-write leaves a broken last line
        handle.write('{"id": "c", "sta')
    resumed = Worker()
    report = run_batch(ITEMS, resumed, BatchJournal(out), key=_key, progress=False)
    assert resumed.calls == ["c", "d"]  # no finished item redone
    assert (report.ran, report.skipped, report.ok, report.failed) == (2, 2, 4, 0)
    assert [r["id"] for r in _lines(out)] == ["a", "b", "c", "d"]
    assert report.describe().startswith("4/4 ok, 0 failed, 2 skipped (resumed), 2 ran")

    again = Worker()
    report = run_batch(ITEMS, again, BatchJournal(out), key=_key, progress=False)
    assert again.calls == [] and report.skipped == 4


def test_a_failing_item_is_a_record_not_the_end_of_the_batch(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    flaky = Worker(fail={"b": ValueError("the server said 503")})
    report = run_batch(ITEMS, flaky, BatchJournal(out), key=_key, progress=False)
    assert flaky.calls == ["a", "b", "c", "d"]
    assert (report.ok, report.failed, report.failed_now) == (3, 1, 1)
    failed = [r for r in _lines(out) if r["status"] != "ok"]
    assert failed == [
        {
            "id": "b",
            "status": "error",
            "error": {"type": "ValueError", "message": "the server said 503"},
        }
    ]

    # Failures count as finished (a deterministic one is not paid twice) ...
    fixed = Worker()
    report = run_batch(ITEMS, fixed, BatchJournal(out), key=_key, progress=False)
    assert fixed.calls == [] and report.failed == 1
    # ... unless asked: then only the failed item runs, and its new record wins.
    report = run_batch(ITEMS, fixed, BatchJournal(out), key=_key, progress=False, retry_failed=True)
    assert fixed.calls == ["b"] and (report.ok, report.failed, report.ran) == (4, 0, 1)
    assert BatchJournal(out).load()["b"]["status"] == "ok"


class InFlight:
    """Counts calls in flight at once (threads or coroutines)."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


ITEMS_12 = [{"id": f"i{k}", "text": str(k)} for k in range(12)]


@pytest.mark.parametrize("limit", [1, 3])
async def test_the_async_concurrency_bound_is_respected(tmp_path: Path, limit: int) -> None:
    counter = InFlight()

    async def fake_model(item: dict[str, str]) -> dict[str, Any]:
        counter.enter()
        await asyncio.sleep(0.02)
        counter.leave()
        return {"id": item["id"], "status": "ok"}

    out = tmp_path / "results.jsonl"
    report = await arun_batch(
        ITEMS_12, fake_model, BatchJournal(out), key=_key, concurrency=limit, progress=False
    )
    assert counter.most == limit  # reached, never passed
    assert report.ok == 12 and len(_lines(out)) == 12


def test_the_thread_concurrency_bound_is_respected(tmp_path: Path) -> None:
    counter = InFlight()

    def fake_model(item: dict[str, str]) -> dict[str, Any]:
        counter.enter()
        time.sleep(0.02)
        counter.leave()
        if item["id"] == "i5":
            raise RuntimeError("boom")
        return {"id": item["id"], "status": "ok"}

    out = tmp_path / "results.jsonl"
    report = run_batch(
        ITEMS_12, fake_model, BatchJournal(out), key=_key, concurrency=4, progress=False
    )
    assert 1 < counter.most <= 4
    assert (report.ok, report.failed) == (11, 1)
    assert sorted(r["id"] for r in _lines(out)) == sorted(i["id"] for i in ITEMS_12)


def test_bad_batches_are_refused_before_any_work(tmp_path: Path) -> None:
    worker = Worker()
    journal = BatchJournal(tmp_path / "r.jsonl")
    with pytest.raises(InvalidInputError, match=r"unique .*\['a'\]"):
        run_batch([ITEMS[0], ITEMS[0]], worker, journal, key=_key, progress=False)
    with pytest.raises(InvalidInputError, match="concurrency must be at least 1"):
        run_batch(ITEMS, worker, journal, key=_key, concurrency=0, progress=False)
    assert worker.calls == []


def test_records_are_valid_json(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    run_batch(
        ITEMS[:1],
        lambda item: {"id": item["id"], "status": "ok", "score": float("nan")},
        BatchJournal(out),
        key=_key,
        progress=False,
    )
    assert _lines(out) == [{"id": "a", "status": "ok", "score": None}]
