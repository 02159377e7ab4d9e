"""Run a program: one model call per operation node, innermost first.

Scheduling is by *height* (a call on leaves only has height 1, a call on a
height-1 call has height 2 ...), across all program lines at once. Every node
of one height depends only on lower heights, so each level is a single
``Runnable.batch``/``abatch`` with ``max_concurrency``: the independent nodes
of all answer sentences share the concurrency budget, and no node waits for
an unrelated sentence's deeper tree.

A bare ``S3`` line and ``extract(S3)`` copy the sentence with no model call.
A node whose call keeps failing (an exception, or a reply with no usable
sentence) records its error; every ancestor then fails with
``input failed: ...`` naming the root cause, and the line's
:class:`~langchain_genprog.execute.trace.LineResult` carries the error. Other
lines are unaffected. Nothing is dropped silently.

The executor is plain Python over LangChain runnables: no LangGraph import, so
it can be called from a graph node, a script or a notebook alike. Where the
calls of a level run is pluggable (:class:`CallScheduler`): by default they are
one concurrent ``batch``; the graph's ``execute`` node hands each call to a
LangGraph task instead, so that a checkpointer keeps every finished call and a
resumed run makes only the calls that had not finished.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages.ai import UsageMetadata
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.runnables.config import merge_configs

from langchain_genprog.errors import ExecutionStoppedError, GenProgError, InvalidInputError
from langchain_genprog.execute.trace import ExecutionResult, LineResult, NodeTrace
from langchain_genprog.operations.grounded import OperationMode, resolve_mode
from langchain_genprog.operations.prompts import InvalidOutputError
from langchain_genprog.operations.rewrites import leaf_text
from langchain_genprog.operations.tools import OperationOutput, arun_operation, run_operation
from langchain_genprog.program.model import (
    OPERATIONS,
    NodeRef,
    Operation,
    Program,
    ProgramNode,
)
from langchain_genprog.segment.sources import Sources

NodeCallback = Callable[[NodeTrace], None]
"""Called with each node's final trace as soon as the node finishes (or fails)."""

OperationCall = Callable[[], NodeTrace]
"""One operation node's model call(s), retries included; returns its final trace."""

AsyncOperationCall = Callable[[], Awaitable[NodeTrace]]
"""Async :data:`OperationCall`."""


class CallScheduler(Protocol):
    """Runs the executor's operation calls somewhere else (e.g. as durable LangGraph tasks).

    The executor submits the calls of one level in program order, from the
    thread (or task) that called :meth:`ProgramExecutor.execute`, then waits
    for all of them; it bounds how many run at once itself. A scheduler may
    return a stored result instead of running a call (that is how a resumed
    graph run skips the calls that had finished), so a call must not be
    relied on to run; progress (``on_node``) is reported from the results.
    """

    def submit(self, node: NodeTrace, call: OperationCall) -> concurrent.futures.Future[NodeTrace]:
        """Start ``call`` for the pending ``node`` (or recall its stored result).

        Returns:
            A future of the node's final trace.
        """
        ...

    def asubmit(self, node: NodeTrace, call: AsyncOperationCall) -> Awaitable[NodeTrace]:
        """Async :meth:`submit`, from a running event loop."""
        ...


@dataclass
class _Run:
    """A program node and what running it produced so far."""

    node: ProgramNode
    trace: NodeTrace | None = None
    cause: str | None = None
    """Where the failure that stopped this node started: ``<path> (<op>): <error>``."""


_Runs = dict[NodeRef, _Run]
"""Every node's run, in program order (line by line, each in post-order)."""

_Job = tuple[_Run, NodeTrace]
"""A node waiting for its model call, with its pending trace."""


@dataclass
class _Attempts:
    """The outcome of a node's call loop."""

    text: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    errors: list[str] = field(default_factory=list)
    note: str | None = None

    def add_usage(self, usage: UsageMetadata | None) -> None:
        if not usage:
            return
        self.input_tokens = (self.input_tokens or 0) + int(usage.get("input_tokens", 0))
        self.output_tokens = (self.output_tokens or 0) + int(usage.get("output_tokens", 0))


class ProgramExecutor:
    """Executes programs against their sources with a chat model.

    Example:
        .. code-block:: python

            from langchain_genprog.execute import ProgramExecutor
            from langchain_genprog.program.parser import parse_program

            executor = ProgramExecutor(llm, max_concurrency=8)
            result = executor.execute(program, sources)
            for line in result.lines:
                print(line.text if line.ok else f"failed: {line.error}", line.leaf_ids)

    Args:
        llm: Chat model that performs paraphrase, compression and fusion.
        max_concurrency: Most model calls in flight at once.
        max_retries: Extra attempts for a node whose call raises or returns no
            usable sentence (so ``max_retries=2`` allows three calls).
        retry_backoff: Seconds to wait before the first retry, doubled for each
            further one. ``0`` retries at once (right for local models; hosted
            models usually retry rate limits themselves).
        on_node: Progress callback, called with each node's final
            :class:`NodeTrace` as soon as it finishes. In sync execution it is
            called from worker threads, one call at a time.
        operation_mode: ``auto`` (default: grounded operations — the model
            picks among rewrites built from the node's inputs — for models
            with grammar support such as the embedded one, free-form for the
            others), ``grounded`` or ``free``. See
            :mod:`~langchain_genprog.operations.grounded`.
        scheduler: Where the operation calls run. ``None`` (default): a
            concurrent ``Runnable.batch`` per level. The graph passes one that
            makes each call a LangGraph task, checkpointed as it finishes.

    Raises:
        InvalidInputError: If ``max_concurrency < 1``, ``max_retries < 0`` or
            ``retry_backoff < 0``.
    """

    def __init__(
        self,
        llm: BaseChatModel,
        *,
        max_concurrency: int = 4,
        max_retries: int = 2,
        retry_backoff: float = 0.0,
        on_node: NodeCallback | None = None,
        operation_mode: OperationMode = "auto",
        scheduler: CallScheduler | None = None,
    ) -> None:
        resolve_mode(llm, operation_mode)  # fails early on an unknown mode
        if max_concurrency < 1:
            raise InvalidInputError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if max_retries < 0:
            raise InvalidInputError(f"max_retries must be 0 or more, got {max_retries}")
        if retry_backoff < 0:
            raise InvalidInputError(f"retry_backoff must be 0 or more, got {retry_backoff}")
        self.llm = llm
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.on_node = on_node
        self.operation_mode: OperationMode = operation_mode
        self.scheduler = scheduler
        self._lock = threading.Lock()
        # Reports each node as it finishes: the batch path.
        self._runner: RunnableLambda[NodeTrace, NodeTrace] = RunnableLambda(
            self._run_job, afunc=self._arun_job, name="genprog_operation"
        )
        # Reports nothing: with a scheduler, the executor reports from the results.
        self._quiet: RunnableLambda[NodeTrace, NodeTrace] = RunnableLambda(
            self._attempt, afunc=self._aattempt, name="genprog_operation"
        )

    # ------------------------------------------------------------------ public

    def execute(
        self, program: Program, sources: Sources, *, config: RunnableConfig | None = None
    ) -> ExecutionResult:
        """Run every line of ``program``.

        Args:
            program: The (validated) program.
            sources: The numbered sentences its ids refer to.
            config: Runnable config (callbacks, tags, metadata) for the model
                calls; inside a LangGraph node the current config is used
                automatically.

        Returns:
            One :class:`LineResult` per line, in program order, and the trace of
            every node (per line, innermost first).
        """
        runs, levels = _schedule(program)
        for height in sorted(levels):
            jobs = self._prepare_level(levels[height], runs, sources)
            if not jobs:
                continue
            outputs = self._run_level([trace for _, trace in jobs], config)
            self._collect(jobs, outputs)
        return _assemble(program, runs)

    async def aexecute(
        self, program: Program, sources: Sources, *, config: RunnableConfig | None = None
    ) -> ExecutionResult:
        """Async :meth:`execute`: same scheduling, results and trace."""
        runs, levels = _schedule(program)
        for height in sorted(levels):
            jobs = self._prepare_level(levels[height], runs, sources)
            if not jobs:
                continue
            outputs = await self._arun_level([trace for _, trace in jobs], config)
            self._collect(jobs, outputs)
        return _assemble(program, runs)

    def run_nodes(
        self, pending: Sequence[NodeTrace], *, config: RunnableConfig | None = None
    ) -> list[NodeTrace]:
        """Run single nodes whose inputs are already resolved, as one concurrent batch.

        This is the executor's per-node machinery (the same prompt, retries,
        clean-up, tracing and ``on_node`` progress as :meth:`execute`) for
        callers that decide themselves which nodes to run, such as
        :class:`~langchain_genprog.refine.ProgramRefiner`, which re-runs only
        the nodes that failed a check and the ancestors whose inputs changed.
        The nodes must not depend on one another; run dependent ones in
        separate calls, innermost first.

        Args:
            pending: One trace per node with ``line``, ``path``, ``operation``,
                ``inputs``, ``input_ids``, ``instruction`` and ``leaf_ids`` set.
                Any ``output``, ``error`` or usage they carry is discarded.
            config: Runnable config for the model calls, as for :meth:`execute`.

        Returns:
            The finished traces, in the order given: each has an ``output`` or
            an ``error`` (a failing call is traced, never raised).
        """
        fresh = [_reset(trace) for trace in pending]
        calls = [trace for trace in fresh if trace.operation != "extract"]
        outputs: Sequence[NodeTrace | Exception] = []
        if calls:
            outputs = self._run_level(calls, config)
        return self._merge_single(fresh, outputs)

    async def arun_nodes(
        self, pending: Sequence[NodeTrace], *, config: RunnableConfig | None = None
    ) -> list[NodeTrace]:
        """Async :meth:`run_nodes`."""
        fresh = [_reset(trace) for trace in pending]
        calls = [trace for trace in fresh if trace.operation != "extract"]
        outputs: Sequence[NodeTrace | Exception] = []
        if calls:
            outputs = await self._arun_level(calls, config)
        return self._merge_single(fresh, outputs)

    def _merge_single(
        self, fresh: list[NodeTrace], outputs: Sequence[NodeTrace | Exception]
    ) -> list[NodeTrace]:
        """Put model-call results and inline ``extract`` copies back in input order."""
        results = iter(outputs)
        done: list[NodeTrace] = []
        for trace in fresh:
            if trace.operation == "extract":
                self._extract(trace)
                self._notify(trace)
                done.append(trace)
                continue
            out = next(results)
            if isinstance(out, Exception):
                raise out  # only the on_node callback (or a bug) raises here
            done.append(out)
        return done

    # --------------------------------------------------------------- scheduling

    def _run_level(
        self, pending: list[NodeTrace], config: RunnableConfig | None
    ) -> Sequence[NodeTrace | Exception]:
        """Run independent calls, at most ``max_concurrency`` at once; traces in order."""
        configs = self._job_configs(pending, config)
        if self.scheduler is None:
            return self._runner.batch(pending, config=configs, return_exceptions=True)
        gate = threading.BoundedSemaphore(self.max_concurrency)
        stops: list[BaseException] = []

        def call(trace: NodeTrace, job_config: RunnableConfig) -> NodeTrace:
            with gate:
                _check_not_stopped(stops, trace)
                try:
                    return self._quiet.invoke(trace, job_config)
                except BaseException as stop:
                    stops.append(stop)
                    raise

        futures = [
            self.scheduler.submit(trace, functools.partial(call, trace, cfg))
            for trace, cfg in zip(pending, configs, strict=True)
        ]
        # Report each node as it finishes (a recalled one at once). After a
        # stop, the calls in flight finish (and are saved); the rest do not start.
        for future in concurrent.futures.as_completed(futures):
            if future.exception() is None:
                self._notify(future.result())
        if stops:
            raise stops[0]
        return [future.result() for future in futures]

    async def _arun_level(
        self, pending: list[NodeTrace], config: RunnableConfig | None
    ) -> Sequence[NodeTrace | Exception]:
        """Async :meth:`_run_level`."""
        configs = self._job_configs(pending, config)
        if self.scheduler is None:
            return await self._runner.abatch(pending, config=configs, return_exceptions=True)
        gate = asyncio.Semaphore(self.max_concurrency)
        stops: list[BaseException] = []

        async def call(trace: NodeTrace, job_config: RunnableConfig) -> NodeTrace:
            async with gate:
                _check_not_stopped(stops, trace)
                try:
                    return await self._quiet.ainvoke(trace, job_config)
                except BaseException as stop:
                    stops.append(stop)
                    raise

        async def reported(done: Awaitable[NodeTrace]) -> NodeTrace:
            trace = await done
            self._notify(trace)
            return trace

        # Submitted one by one, in order: a scheduler may key results by order.
        submitted = [
            self.scheduler.asubmit(trace, functools.partial(call, trace, cfg))
            for trace, cfg in zip(pending, configs, strict=True)
        ]
        results = await asyncio.gather(
            *(reported(done) for done in submitted), return_exceptions=True
        )
        if stops:
            raise stops[0]
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [result for result in results if isinstance(result, NodeTrace)]

    def _prepare_level(self, level: list[_Run], runs: _Runs, sources: Sources) -> list[_Job]:
        """Resolve the inputs of a level; finish what needs no model call.

        Returns:
            The nodes that need a model call, each with its pending trace
            (inputs filled in, no output yet).
        """
        jobs: list[_Job] = []
        for item in level:
            node = item.node
            trace = NodeTrace(
                line=node.ref.line,
                path=node.ref.path,
                operation=node.operation,
                instruction=node.instruction,
                leaf_ids=list(node.leaf_ids),
            )
            failure: str | None = None
            for k, source in enumerate(node.inputs):
                if isinstance(source, int):
                    text, problem = _sentence_text(sources, source)
                    trace.inputs.append(text)
                    trace.input_ids.append([source])
                    if problem and failure is None:
                        failure = problem
                    continue
                child = runs[source]
                done = child.trace
                trace.inputs.append(done.output if done else "")
                trace.input_ids.append(list(child.node.leaf_ids))
                child_error = f"input {k + 1} did not run" if done is None else done.error
                if child_error is not None and failure is None:
                    # Name the node where the failure started, not just the child.
                    origin = f"{source.path} ({child.node.operation}): {child_error}"
                    item.cause = child.cause or origin
                    failure = f"input failed: {item.cause}"
            if failure is not None:
                trace.error = failure
                self._finish(item, trace)
            elif trace.operation == "extract":
                self._extract(trace)
                self._finish(item, trace)
            else:
                jobs.append((item, trace))
        return jobs

    def _extract(self, trace: NodeTrace) -> None:
        """Copy an ``extract`` node's input into its output (no model call)."""
        try:
            trace.output = run_operation(self.llm, "extract", trace.inputs).text
        except GenProgError as err:  # e.g. extract() with two inputs
            trace.error = f"extract failed: {err}"

    def _job_configs(
        self, pending: Sequence[NodeTrace], config: RunnableConfig | None
    ) -> list[RunnableConfig]:
        # ``batch`` takes ``max_concurrency`` from the first config; every config
        # carries it so that the bound never depends on the order of the jobs.
        configs: list[RunnableConfig] = []
        for trace in pending:
            own: RunnableConfig = {
                "max_concurrency": self.max_concurrency,
                "run_name": f"genprog_{trace.operation}",
                "metadata": {"genprog_line": trace.line, "genprog_path": trace.path},
            }
            configs.append(merge_configs(config, own))
        return configs

    def _collect(self, jobs: list[_Job], outputs: Sequence[NodeTrace | Exception]) -> None:
        raised: Exception | None = None
        for (job, _), out in zip(jobs, outputs, strict=True):
            if isinstance(out, NodeTrace):
                job.trace = out
            else:
                # Only the on_node callback (or a bug) can raise here: the job
                # itself turns every operation failure into a traced error.
                raised = raised or out
        if raised is not None:
            raise raised

    def _finish(self, item: _Run, trace: NodeTrace) -> None:
        item.trace = trace
        self._notify(trace)

    def _notify(self, trace: NodeTrace) -> None:
        if self.on_node is not None:
            with self._lock:
                self.on_node(trace)

    # ------------------------------------------------------------------ running

    def _run_job(self, pending: NodeTrace, config: RunnableConfig) -> NodeTrace:
        trace = self._attempt(pending, config)
        self._notify(trace)
        return trace

    async def _arun_job(self, pending: NodeTrace, config: RunnableConfig) -> NodeTrace:
        trace = await self._aattempt(pending, config)
        self._notify(trace)
        return trace

    def _attempt(self, pending: NodeTrace, config: RunnableConfig) -> NodeTrace:
        """A node's call loop: its final trace, with an output or an error."""
        outcome = _Attempts()
        for attempt in range(1, self.max_retries + 2):
            start = time.perf_counter()
            try:
                out = run_operation(self.llm, *_call_args(pending), **self._call_kwargs(config))
            except Exception as err:
                if not self._failed(outcome, err, attempt, start):
                    break
                if self.retry_backoff:
                    time.sleep(self.retry_backoff * 2 ** (attempt - 1))
                continue
            _succeeded(outcome, out, attempt, start)
            break
        return self._complete(pending, outcome)

    async def _aattempt(self, pending: NodeTrace, config: RunnableConfig) -> NodeTrace:
        """Async :meth:`_attempt`."""
        outcome = _Attempts()
        for attempt in range(1, self.max_retries + 2):
            start = time.perf_counter()
            try:
                out = await arun_operation(
                    self.llm, *_call_args(pending), **self._call_kwargs(config)
                )
            except Exception as err:
                if not self._failed(outcome, err, attempt, start):
                    break
                if self.retry_backoff:
                    await asyncio.sleep(self.retry_backoff * 2 ** (attempt - 1))
                continue
            _succeeded(outcome, out, attempt, start)
            break
        return self._complete(pending, outcome)

    def _call_kwargs(self, config: RunnableConfig) -> dict[str, Any]:
        return {"mode": self.operation_mode, "config": config}

    def _failed(self, outcome: _Attempts, err: Exception, attempt: int, start: float) -> bool:
        """Note a failed attempt and its time; return whether another may follow."""
        outcome.seconds += time.perf_counter() - start
        return self._record_failure(outcome, err, attempt)

    def _record_failure(self, outcome: _Attempts, err: Exception, attempt: int) -> bool:
        """Note a failed attempt; return whether another attempt may follow."""
        outcome.attempts = attempt
        if isinstance(err, InvalidOutputError):
            outcome.add_usage(err.usage)
        outcome.errors.append(f"{type(err).__name__}: {err}")
        # Malformed inputs are deterministic: calling again cannot help.
        retryable = not isinstance(err, InvalidInputError)
        return retryable and attempt <= self.max_retries

    def _complete(self, pending: NodeTrace, outcome: _Attempts) -> NodeTrace:
        update: dict[str, object] = {
            "seconds": outcome.seconds,
            "attempts": outcome.attempts,
            "input_tokens": outcome.input_tokens,
            "output_tokens": outcome.output_tokens,
        }
        if outcome.text is not None:
            update["output"] = outcome.text
            update["note"] = outcome.note
        else:
            update["error"] = (
                f"{pending.operation} failed after {outcome.attempts} attempt(s): "
                f"{outcome.errors[-1] if outcome.errors else 'no attempt was made'}"
            )
        return pending.model_copy(update=update, deep=True)


def execute_program(
    llm: BaseChatModel,
    program: Program,
    sources: Sources,
    *,
    max_concurrency: int = 4,
    max_retries: int = 2,
    on_node: NodeCallback | None = None,
    config: RunnableConfig | None = None,
) -> ExecutionResult:
    """Run ``program`` once; a function form of :meth:`ProgramExecutor.execute`.

    Convenient as (part of) a LangGraph node body.
    """
    executor = ProgramExecutor(
        llm, max_concurrency=max_concurrency, max_retries=max_retries, on_node=on_node
    )
    return executor.execute(program, sources, config=config)


async def aexecute_program(
    llm: BaseChatModel,
    program: Program,
    sources: Sources,
    *,
    max_concurrency: int = 4,
    max_retries: int = 2,
    on_node: NodeCallback | None = None,
    config: RunnableConfig | None = None,
) -> ExecutionResult:
    """Async :func:`execute_program`."""
    executor = ProgramExecutor(
        llm, max_concurrency=max_concurrency, max_retries=max_retries, on_node=on_node
    )
    return await executor.aexecute(program, sources, config=config)


# ---------------------------------------------------------------------- helpers


def _schedule(program: Program) -> tuple[_Runs, dict[int, list[_Run]]]:
    """A run per program node, by key, and the runs grouped by height."""
    runs: _Runs = {}
    levels: dict[int, list[_Run]] = {}
    for node in program.nodes():
        run = runs[node.ref] = _Run(node)
        levels.setdefault(node.height, []).append(run)
    return runs, levels


def _assemble(program: Program, runs: _Runs) -> ExecutionResult:
    lines: list[LineResult] = []
    for line in program.lines:
        trace = runs[NodeRef.root(line.index)].trace
        error = trace.error if trace else "the line was not executed"
        lines.append(
            LineResult(
                line=line.index,
                program=line.render(),
                text="" if error else (trace.output if trace else ""),
                leaf_ids=line.leaves(),
                error=error,
            )
        )
    # A stable sort by line keeps each line's nodes in post-order.
    ordered = sorted(runs.values(), key=lambda run: run.node.ref.line)
    return ExecutionResult(lines=lines, trace=[r.trace for r in ordered if r.trace is not None])


def _sentence_text(sources: Sources, sentence_id: int) -> tuple[str, str | None]:
    """A leaf's text, or ``("", reason)`` if it cannot be used.

    A headline, photo credit or dateline glued to the sentence is left out
    (:func:`~langchain_genprog.operations.rewrites.leaf_text`).
    """
    if not sources.has(sentence_id):
        return "", f"S{sentence_id} does not exist; valid ids are S1..S{len(sources)}"
    text = leaf_text(sources.sentence(sentence_id).text)
    if not text:
        return "", f"S{sentence_id} has no text"
    return text, None


def _check_not_stopped(stops: list[BaseException], trace: NodeTrace) -> None:
    """Refuse to start a call once another call of its level stopped the run."""
    if stops:
        raise ExecutionStoppedError(
            f"{trace.operation} at line {trace.line}, node {trace.path} was not started: "
            f"the run stopped ({type(stops[0]).__name__}: {stops[0]})"
        )


def _reset(trace: NodeTrace) -> NodeTrace:
    """A copy of ``trace`` with no outcome: ready to be run (again)."""
    return trace.model_copy(
        update={
            "output": "",
            "error": None,
            "seconds": 0.0,
            "attempts": 0,
            "input_tokens": None,
            "output_tokens": None,
        },
        deep=True,
    )


_OPERATIONS: dict[str, Operation] = {op: op for op in OPERATIONS}


def _operation(name: str) -> Operation:
    try:
        return _OPERATIONS[name]
    except KeyError:
        raise InvalidInputError(f"unknown operation {name!r}") from None


def _call_args(pending: NodeTrace) -> tuple[Operation, list[str], str | None]:
    """The positional arguments of a node's operation call."""
    return _operation(pending.operation), pending.inputs, pending.instruction


def _succeeded(outcome: _Attempts, out: OperationOutput, attempt: int, start: float) -> None:
    """Record a successful attempt: its output, note, usage and time."""
    outcome.seconds += time.perf_counter() - start
    outcome.attempts = attempt
    outcome.add_usage(out.usage)
    outcome.text = out.text
    outcome.note = out.note
