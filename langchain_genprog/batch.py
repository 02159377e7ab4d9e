"""Resumable batch jobs: many items, a concurrency limit, one JSONL line per finished item.

``genprog eval`` and ``genprog attribute --batch`` run many independent items
(an example and a method; an answer and its documents) against a model that
may sit behind a server. Such a job must survive being stopped: each finished
item is appended to the output file as one JSON line and flushed at once, so a
process killed with ``kill -9`` loses only the items in flight, and a rerun
with the same output file reads it back and skips every item it already holds.
An item that raises is a *result* (a line with ``status: "error"``, the
error's type and message), never the end of the batch; failed items are
skipped on resume like finished ones (a deterministic failure is not paid
for twice) unless ``retry_failed`` asks to run them again.

The concurrency limit is LangChain's own: items run through
``Runnable.batch_as_completed`` (threads) or ``abatch_as_completed``
(asyncio) with ``RunnableConfig(max_concurrency=...)``, which also makes a
batch traceable like any other runnable. Results are written by the calling
thread as they complete, so the output file has one writer.

Example:
    .. code-block:: python

        from langchain_genprog.batch import BatchJournal, run_batch

        journal = BatchJournal("out.jsonl")
        report = run_batch(items, work, journal, key=lambda item: item["id"], concurrency=4)
        print(report.describe())  # "3/3 ok, 0 failed, 1 skipped (resumed), 2 ran"
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypedDict, TypeVar, Unpack

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from pydantic import BaseModel, ConfigDict

from langchain_genprog.errors import InvalidInputError

__all__ = [
    "BatchJournal",
    "BatchOptions",
    "BatchReport",
    "ItemError",
    "arun_batch",
    "failure_record",
    "run_batch",
]

T = TypeVar("T")

Record = dict[str, Any]
"""One JSON line of a batch's output file."""

KeyOf = Callable[[Mapping[str, Any]], Hashable]
"""The key of an output record: what identifies its item across runs."""


class ItemError(BaseModel):
    """Why one item failed, as written in its output line.

    Attributes:
        type: The exception's class name (``InvalidInputError``,
            ``LogProbResponseError``, ``ValidationError`` ...), so failures can
            be grouped and filtered without parsing messages.
        message: The exception's message.
    """

    model_config = ConfigDict(frozen=True)

    type: str
    message: str

    @classmethod
    def from_exception(cls, err: BaseException) -> ItemError:
        """The error of ``err`` (its message, or its class name when it has none)."""
        return cls(type=type(err).__name__, message=str(err) or type(err).__name__)


def failure_record(key: Hashable, err: BaseException) -> Record:
    """The default output line of an item that raised: ``id``, ``status``, ``error``."""
    return {"id": key, "status": "error", "error": ItemError.from_exception(err).model_dump()}


class BatchReport(BaseModel):
    """What one call of :func:`run_batch` did.

    Attributes:
        out: The output file.
        total: Items in the batch.
        ran: Items run in this call.
        skipped: Items not run because the output file already held them
            (finished, or failed without ``retry_failed``): the resumed part.
        ok: Items whose current record is a success (this call or earlier).
        failed: Items whose current record is a failure (this call or earlier).
        failed_now: Items that failed in this call.
        seconds: Wall time of this call.
    """

    out: str
    total: int
    ran: int = 0
    skipped: int = 0
    ok: int = 0
    failed: int = 0
    failed_now: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        """One line for a terminal: ``3/3 ok, 0 failed, 1 skipped (resumed), 2 ran in 1.2 s``."""
        return (
            f"{self.ok}/{self.total} ok, {self.failed} failed, {self.skipped} skipped (resumed), "
            f"{self.ran} ran in {self.seconds:.1f} s -> {self.out}"
        )


def _record_id(record: Mapping[str, Any]) -> Hashable:
    return str(record["id"])


class BatchJournal:
    """A batch's output file: read back on start, appended to as items finish.

    Args:
        path: The JSONL file (created with its folder if needed).
        key_of: The key of a record (default: its ``id``, as a string). The
            work's records and :func:`run_batch`'s ``key`` must agree on it.
    """

    def __init__(self, path: str | Path, *, key_of: KeyOf = _record_id) -> None:
        self.path = Path(path)
        self.key_of = key_of
        self.records: dict[Hashable, Record] = {}

    def load(self) -> dict[Hashable, Record]:
        """Read the file: the last record per key.

        A line cut short by a crash (or anything that is not a record) is
        dropped and the file is rewritten without it, so that new records are
        never appended onto a broken line.
        """
        self.records = {}
        if not self.path.exists():
            return self.records
        text = self.path.read_text(encoding="utf-8")
        good: list[str] = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = self.key_of(record)
                record["status"] = str(record["status"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            self.records[key] = record
            good.append(line)
        if len(good) != len(text.splitlines()) or (text and not text.endswith("\n")):
            self.path.write_text("".join(f"{line}\n" for line in good), encoding="utf-8")
        return self.records

    def finished(self, *, retry_failed: bool = False) -> set[Hashable]:
        """Keys not to run again: successes, and failures unless ``retry_failed``."""
        return {
            key
            for key, record in self.records.items()
            if record["status"] == "ok" or not retry_failed
        }

    def append(self, handle: Any, record: Record) -> None:
        """Write one record as a line and flush it, so a killed process keeps it.

        Flushing hands the line to the operating system, which keeps it when
        the process dies (``kill -9`` included); no ``fsync``: a power cut may
        lose the last lines, which a rerun then redoes.
        """
        handle.write(json.dumps(_finite_json(record), ensure_ascii=False) + "\n")
        handle.flush()
        self.records[self.key_of(record)] = record


class _Plan(Generic[T]):
    """The items of one call still to run, and the counters of its report."""

    def __init__(
        self,
        items: Sequence[T],
        journal: BatchJournal,
        key: Callable[[T], Hashable],
        retry_failed: bool,
    ) -> None:
        keys = [key(item) for item in items]
        repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
        if repeated:
            msg = f"batch item ids must be unique (they key resumption); repeated: {repeated[:5]}"
            raise InvalidInputError(msg)
        journal.path.parent.mkdir(parents=True, exist_ok=True)
        journal.load()
        finished = journal.finished(retry_failed=retry_failed)
        self.journal = journal
        self.keys = keys
        self.todo = [item for item, k in zip(items, keys, strict=True) if k not in finished]
        self.started = time.perf_counter()
        self.report = BatchReport(
            out=str(journal.path), total=len(items), skipped=len(items) - len(self.todo)
        )

    def finish(self) -> BatchReport:
        records = self.journal.records
        statuses = [records[k]["status"] for k in self.keys if k in records]
        self.report.ok = statuses.count("ok")
        self.report.failed = len(statuses) - self.report.ok
        self.report.seconds = round(time.perf_counter() - self.started, 3)
        return self.report


def _runnable(work: Callable[[T], Record] | Runnable[T, Record]) -> Runnable[T, Record]:
    return work if isinstance(work, Runnable) else RunnableLambda(work, name="genprog_batch_item")


def _config(concurrency: int) -> RunnableConfig:
    if concurrency < 1:
        raise InvalidInputError(f"concurrency must be at least 1, got {concurrency}")
    return RunnableConfig(max_concurrency=concurrency, run_name="genprog_batch")


class _Writer:
    """Appends each outcome as it arrives, counting it and moving the progress bar."""

    def __init__(
        self,
        plan: _Plan[Any],
        handle: Any,
        failure: Callable[[Any, Exception], Record],
        progress: bool,
    ) -> None:
        self.plan, self.handle, self.failure = plan, handle, failure
        self.bar = _progress_bar(plan.report, enabled=progress)

    def write(self, item: Any, outcome: Record | Exception) -> None:
        record = self.failure(item, outcome) if isinstance(outcome, Exception) else outcome
        self.plan.journal.append(self.handle, record)
        report = self.plan.report
        report.ran += 1
        report.failed_now += record.get("status") != "ok"
        if self.bar is not None:
            self.bar.set_postfix(failed=report.failed_now, skipped=report.skipped, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class BatchOptions(TypedDict, total=False):
    """How :func:`run_batch` and :func:`arun_batch` run a batch (all optional).

    Attributes:
        failure: The record of an item whose work raised an ``Exception``
            (default: :func:`failure_record` of its key). ``KeyboardInterrupt``
            and other ``BaseException`` stop the batch; what finished is saved.
        concurrency: Items in flight at once (default 1: in order, in the
            calling thread).
        retry_failed: Run items again whose earlier record is a failure.
        progress: A progress bar on stderr: done/total, failed, skipped
            (default ``True``).
    """

    failure: Callable[[Any, Exception], Record]
    concurrency: int
    retry_failed: bool
    progress: bool


def _start(
    items: Sequence[T], journal: BatchJournal, key: Callable[[T], Hashable], options: BatchOptions
) -> tuple[_Plan[T], RunnableConfig, Callable[[Any], _Writer]]:
    """Check the options, read the journal, and say what is left: the part both loops share."""
    concurrency = options.get("concurrency", 1)
    config = _config(concurrency)
    plan = _Plan(items, journal, key, options.get("retry_failed", False))
    failure = options.get("failure") or _default_failure(key)

    def writer(handle: Any) -> _Writer:
        return _Writer(plan, handle, failure, options.get("progress", True))

    return plan, config, writer


def run_batch(
    items: Sequence[T],
    work: Callable[[T], Record] | Runnable[T, Record],
    journal: BatchJournal,
    *,
    key: Callable[[T], Hashable],
    **options: Unpack[BatchOptions],
) -> BatchReport:
    """Run ``work`` on every item not yet in ``journal``, at most ``concurrency`` at once (threads).

    Args:
        items: The batch; ``key(item)`` must be unique.
        work: Turns one item into its output record (whose key, by the
            journal's ``key_of``, is ``key(item)``); a callable or a ``Runnable``.
        journal: The output file.
        key: The key of an item.
        **options: :class:`BatchOptions`: ``failure``, ``concurrency``,
            ``retry_failed``, ``progress``.

    Raises:
        InvalidInputError: On repeated keys or ``concurrency`` below 1.
    """
    plan, config, writer_for = _start(items, journal, key, options)
    with journal.path.open("a", encoding="utf-8") as handle:
        writer = writer_for(handle)
        try:
            runnable = _runnable(work)
            outcomes = (
                _one_by_one(runnable, plan.todo, config)
                if config.get("max_concurrency") == 1
                else runnable.batch_as_completed(plan.todo, config, return_exceptions=True)
            )
            for index, outcome in outcomes:
                writer.write(plan.todo[index], outcome)
        finally:
            writer.close()
    return plan.finish()


async def arun_batch(
    items: Sequence[T],
    work: Callable[[T], Any] | Runnable[T, Record],
    journal: BatchJournal,
    *,
    key: Callable[[T], Hashable],
    **options: Unpack[BatchOptions],
) -> BatchReport:
    """Async :func:`run_batch`: ``work`` may be a coroutine function or an async ``Runnable``.

    The limit is ``abatch_as_completed``'s semaphore, so ``concurrency``
    coroutines are in flight at once on the running event loop; the file is
    written between them.
    """
    plan, config, writer_for = _start(items, journal, key, options)
    with journal.path.open("a", encoding="utf-8") as handle:
        writer = writer_for(handle)
        try:
            outcomes = _runnable(work).abatch_as_completed(
                plan.todo, config, return_exceptions=True
            )
            async for index, outcome in outcomes:
                writer.write(plan.todo[index], outcome)
        finally:
            writer.close()
    return plan.finish()


def _one_by_one(
    runnable: Runnable[T, Record], items: Sequence[T], config: RunnableConfig
) -> Iterator[tuple[int, Record | Exception]]:
    """``batch_as_completed`` at concurrency 1, in the calling thread.

    Hand-written because a pool of one thread changes two things for the
    worse: its queue may start the next item while the calling thread is
    still handling an interrupt, and Ctrl-C waits for the running item to end.
    In the calling thread items run strictly in order and stop at once.
    """
    for index, item in enumerate(items):
        try:
            outcome: Record | Exception = runnable.invoke(item, config)
        except Exception as err:  # an item's failure is its record, not the batch's end
            outcome = err
        yield index, outcome


def _default_failure(key: Callable[[T], Hashable]) -> Callable[[T, Exception], Record]:
    def failure(item: T, err: Exception) -> Record:
        return failure_record(key(item), err)

    return failure


def _progress_bar(report: BatchReport, *, enabled: bool) -> Any:
    """A tqdm bar on stderr counting the whole batch (resumed items start it off)."""
    if not enabled or report.skipped == report.total:
        return None
    from tqdm import tqdm

    bar = tqdm(total=report.total, initial=report.skipped, file=sys.stderr, unit="item")
    bar.set_postfix(failed=0, skipped=report.skipped)
    return bar


def _finite_json(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with ``None``, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value
