"""Localized (module-level) refinement of an executed program.

After a program has run, every model-written node is checked against its
*own* inputs (:mod:`~langchain_genprog.refine.checks`). Because each answer
sentence is a tree of small operations, a bad sentence can be repaired where
it went wrong: only the failing nodes are re-run, with the checker's reason as
feedback in their instruction, and then only the ancestors whose inputs
changed. Everything else — and every call it cost — is kept. This is the
paper's localized refinement (Wan et al., 2025, §5), as opposed to
regenerating a whole answer.

One refinement *round* walks the program bottom-up (by node height, like the
executor), so that a parent re-runs on its child's new output within the same
round:

1. a node whose latest check failed is re-run with feedback; its new output is
   checked and adopted only if it is better (supported, or a higher score)
   than the one it has — so after the last round every node holds the best
   output it ever had, and one that never passed is reported as still failing;
2. a node one of whose inputs changed is re-run (with feedback too if it was
   failing) and its new output is always adopted, because the old one was
   made from inputs that no longer exist; if that re-run fails outright, the
   old output is kept and the node is reported as *stale*;
3. passing nodes whose inputs did not change are never re-run.

Rounds stop when nothing fails or after ``max_rounds``; each node is re-run at
most once per round, so the extra cost is bounded by ``max_rounds`` times the
program's size. The :class:`RefinementResult` records every check, every
re-run (adopted or not) and the extra model calls and tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.execute.executor import NodeCallback, ProgramExecutor
from langchain_genprog.execute.trace import ExecutionResult, LineResult, NodeTrace
from langchain_genprog.operations.prompts import normalize_text
from langchain_genprog.program.model import ROOT_PATH, NodeRef, Program, ProgramNode
from langchain_genprog.refine.checks import (
    MODEL_OPERATIONS,
    BaseNodeChecker,
    CheckUsage,
    NodeCheck,
    NodeChecker,
)
from langchain_genprog.segment.sources import Sources

Trigger = Literal["execute", "check", "input", "check+input"]
"""Why a node version exists: the first execution, a failed check, a changed input, or both."""

FeedbackBuilder = Callable[[NodeTrace, NodeCheck], str]
"""Builds the feedback for a re-run from the rejected output's trace and verdict."""

CheckCallback = Callable[[NodeCheck], None]
"""Called with every verdict as soon as it is made."""

DEFAULT_FEEDBACK = (
    'Your previous answer "{output}" was rejected: {reason}. '
    "Write a new sentence that keeps the facts of every input and adds nothing."
)
"""Default feedback template; variables: ``output``, ``reason``, ``operation``."""


class NodeVersion(BaseModel):
    """One output a node had or was offered.

    Attributes:
        round: ``0`` for the original execution, else the refinement round.
        trigger: Why it was produced (see :data:`Trigger`).
        trace: The node's trace for this run (its instruction includes any
            feedback it was given).
        check: The verdict on it, if it was checked.
        adopted: Whether the node took this output.
        note: Why a re-run was not adopted.
    """

    round: int
    trigger: Trigger
    trace: NodeTrace
    check: NodeCheck | None = None
    adopted: bool = True
    note: str = ""


class NodeRefinement(BaseModel):
    """Every version of a node that failed a check or was re-run."""

    line: int
    path: str
    operation: str
    versions: list[NodeVersion] = Field(default_factory=list)

    @property
    def current(self) -> NodeVersion:
        """The version the node holds now (the last adopted one)."""
        return next(v for v in reversed(self.versions) if v.adopted)

    @property
    def reruns(self) -> int:
        """How many times the node was re-run."""
        return sum(1 for v in self.versions if v.round > 0)


class RefinementRound(BaseModel):
    """What one round did.

    Round ``0`` is the check of the original execution: ``checked`` holds every
    verdict and ``failed`` the failures. In round ``r >= 1``, ``failed`` are
    the nodes re-run with feedback, ``propagated`` those re-run only because
    an input changed, and ``checked`` the verdicts on their new outputs.

    Attributes:
        round: The round number.
        checked: The verdicts made in this round.
        failed: Failing nodes (re-run with feedback from round 1 on).
        propagated: Ancestors re-run because an input changed.
        kept: Re-runs whose output was not adopted (worse than the one held).
        stale: Ancestors whose re-run failed, so they keep an output made
            from their previous inputs.
        still_failing: Nodes whose current output fails its check after the round.
        llm_calls: Model calls made in the round (retries included).
        input_tokens: Prompt tokens reported for them.
        output_tokens: Completion tokens reported for them.
        seconds: Wall time of the round, checks included.
    """

    round: int
    checked: list[NodeCheck] = Field(default_factory=list)
    failed: list[NodeRef] = Field(default_factory=list)
    propagated: list[NodeRef] = Field(default_factory=list)
    kept: list[NodeRef] = Field(default_factory=list)
    stale: list[NodeRef] = Field(default_factory=list)
    still_failing: list[NodeRef] = Field(default_factory=list)
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0


class RefinementResult(BaseModel):
    """The refined execution and the full record of how it was reached.

    Attributes:
        execution: The execution after refinement (same lines and nodes as
            the original; refined nodes carry their new traces).
        rounds: Round 0 (the initial check) and every refinement round run.
        nodes: The history of every node that failed a check or was re-run.
        still_failing: The verdicts on nodes that still fail after the last
            round (they hold the best output they had).
        checker: The checker's name.
        max_rounds: The round limit that applied.
        llm_calls: Extra model calls refinement made.
        input_tokens: Their prompt tokens (as reported by the model).
        output_tokens: Their completion tokens.
        usage: What the checks spent (embedding, judge, scorer calls).
        seconds: Wall time of the whole refinement.
    """

    execution: ExecutionResult
    rounds: list[RefinementRound] = Field(default_factory=list)
    nodes: list[NodeRefinement] = Field(default_factory=list)
    still_failing: list[NodeCheck] = Field(default_factory=list)
    checker: str = ""
    max_rounds: int = 0
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    usage: CheckUsage = Field(default_factory=CheckUsage)
    seconds: float = 0.0

    @property
    def converged(self) -> bool:
        """Whether every checked node passes now."""
        return not self.still_failing

    @property
    def reruns(self) -> int:
        """Node re-runs over all rounds."""
        return sum(node.reruns for node in self.nodes)

    @property
    def changed_lines(self) -> list[int]:
        """Lines whose answer sentence (or failure) differs from the original execution."""
        changed: set[int] = set()
        for node in self.nodes:
            if node.path != ROOT_PATH or not node.versions:
                continue
            first, now = node.versions[0].trace, node.current.trace
            if (first.output, first.error) != (now.output, now.error):
                changed.add(node.line)
        return sorted(changed)

    def summary(self) -> dict[str, Any]:
        """A compact, JSON-ready digest (for message metadata and logs)."""
        return {
            "checker": self.checker,
            "rounds": len(self.rounds) - 1,
            "checked": len(self.rounds[0].checked) if self.rounds else 0,
            "failed_initially": len(self.rounds[0].failed) if self.rounds else 0,
            "reruns": self.reruns,
            "changed_lines": self.changed_lines,
            "still_failing": [
                {"line": c.line, "path": c.path, "operation": c.operation, "reason": c.reason}
                for c in self.still_failing
            ],
            "llm_calls": self.llm_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


class ProgramRefiner:
    """Checks an executed program node by node and re-runs only what fails.

    Example:
        .. code-block:: python

            from langchain_genprog.execute import ProgramExecutor
            from langchain_genprog.refine import EmbeddingNodeChecker, ProgramRefiner

            execution = ProgramExecutor(llm).execute(program, sources)
            refiner = ProgramRefiner(llm, EmbeddingNodeChecker(), max_rounds=2)
            result = refiner.refine(program, sources, execution)
            result.execution.lines  # the refined answer sentences
            result.still_failing  # what could not be repaired, with reasons

    Args:
        llm: The chat model that re-runs operations (usually the executor's).
        checker: Any :class:`NodeChecker`; a
            :class:`~langchain_genprog.refine.checks.BaseNodeChecker` is asked
            for a whole level at once and reports its usage.
        max_rounds: Most refinement rounds; ``0`` only checks and reports.
        max_concurrency: Most model calls in flight at once.
        max_retries: Retries of a re-run whose call fails (as in the executor).
        retry_backoff: Seconds before the first retry, doubled afterwards.
        feedback: A template with ``{output}``, ``{reason}`` and
            ``{operation}``, or a function of the rejected trace and its
            verdict. It is appended to the node's own instruction.
        rerun_errors: Also re-run nodes whose operation failed outright
            (e.g. the model never returned a usable sentence), with the error
            as feedback. Deterministic failures (malformed inputs) are not
            re-run.

    Raises:
        InvalidInputError: If ``max_rounds < 0`` or ``checker`` has no ``check``.
    """

    def __init__(
        self,
        llm: BaseChatModel,
        checker: NodeChecker,
        *,
        max_rounds: int = 2,
        max_concurrency: int = 4,
        max_retries: int = 2,
        retry_backoff: float = 0.0,
        feedback: str | FeedbackBuilder = DEFAULT_FEEDBACK,
        rerun_errors: bool = True,
    ) -> None:
        if max_rounds < 0:
            raise InvalidInputError(f"max_rounds must be 0 or more, got {max_rounds}")
        if not isinstance(checker, NodeChecker):
            raise InvalidInputError("checker must have a check(trace) -> NodeCheck method")
        # Validate the executor options once, here, rather than on first use.
        ProgramExecutor(
            llm,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
        )
        self.llm = llm
        self.checker = checker
        self.max_rounds = max_rounds
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.feedback = feedback
        self.rerun_errors = rerun_errors

    @property
    def checker_name(self) -> str:
        """The checker's ``name``, or its class name."""
        name = getattr(self.checker, "name", None)
        return name if isinstance(name, str) else type(self.checker).__name__

    # ------------------------------------------------------------------ public

    def refine(
        self,
        program: Program,
        sources: Sources,
        execution: ExecutionResult,
        *,
        config: RunnableConfig | None = None,
        on_node: NodeCallback | None = None,
        on_check: CheckCallback | None = None,
        on_round: Callable[[RefinementRound], None] | None = None,
    ) -> RefinementResult:
        """Check ``execution`` node by node and repair the failing nodes.

        Args:
            program: The program that was executed.
            sources: Its sources (leaf texts for re-runs).
            execution: The result of executing ``program`` over ``sources``.
            config: Runnable config for the re-runs' model calls.
            on_node: Called with each re-run's trace as it finishes.
            on_check: Called with each verdict.
            on_round: Called with each round's record when it ends.

        Returns:
            The refined execution and the record of every check and re-run.

        Raises:
            InvalidInputError: If ``execution`` does not belong to ``program``.
        """
        session = _Session(self, program, sources, execution, on_check, on_round)
        executor = self._executor(on_node)
        session.initial(self._check(session.initial_targets(), session.usage))
        for runnable, blocked in session.batches(self.max_rounds):
            ran = executor.run_nodes(runnable, config=config) if runnable else []
            done = ran + blocked
            session.absorb(done, self._check(session.checkable(done), session.usage))
        return session.result()

    async def arefine(
        self,
        program: Program,
        sources: Sources,
        execution: ExecutionResult,
        *,
        config: RunnableConfig | None = None,
        on_node: NodeCallback | None = None,
        on_check: CheckCallback | None = None,
        on_round: Callable[[RefinementRound], None] | None = None,
    ) -> RefinementResult:
        """Async :meth:`refine`: same rounds, results and record."""
        session = _Session(self, program, sources, execution, on_check, on_round)
        executor = self._executor(on_node)
        session.initial(await self._acheck(session.initial_targets(), session.usage))
        for runnable, blocked in session.batches(self.max_rounds):
            ran = await executor.arun_nodes(runnable, config=config) if runnable else []
            done = ran + blocked
            session.absorb(done, await self._acheck(session.checkable(done), session.usage))
        return session.result()

    # ---------------------------------------------------------------- helpers

    def _executor(self, on_node: NodeCallback | None) -> ProgramExecutor:
        return ProgramExecutor(
            self.llm,
            max_concurrency=self.max_concurrency,
            max_retries=self.max_retries,
            retry_backoff=self.retry_backoff,
            on_node=on_node,
        )

    def _check(self, traces: list[NodeTrace], usage: CheckUsage) -> list[NodeCheck]:
        if not traces:
            return []
        if isinstance(self.checker, BaseNodeChecker):
            checks = self.checker.check_many(traces, usage=usage)
        else:
            usage.checks += len(traces)
            checks = [self.checker.check(t) for t in traces]
        return _aligned(traces, checks, self.checker_name)

    async def _acheck(self, traces: list[NodeTrace], usage: CheckUsage) -> list[NodeCheck]:
        if not traces:
            return []
        if isinstance(self.checker, BaseNodeChecker):
            checks = await self.checker.acheck_many(traces, usage=usage)
            return _aligned(traces, checks, self.checker_name)
        return await asyncio.to_thread(self._check, traces, usage)

    def feedback_for(self, trace: NodeTrace, check: NodeCheck) -> str:
        """The feedback a re-run of ``trace``'s node gets after ``check`` rejected it."""
        if callable(self.feedback):
            return self.feedback(trace, check)
        output = normalize_text(trace.output)
        if len(output) > 200:
            output = output[:197].rstrip() + "..."
        return self.feedback.format(
            output=output or "(none)",
            reason=check.reason.rstrip(". ") or "it was not supported by its inputs",
            operation=trace.operation,
        )


# --------------------------------------------------------------------------- #
# One refinement run
# --------------------------------------------------------------------------- #


class _Batch(NamedTuple):
    """The re-runs of one height: the nodes that can run, and those whose input failed."""

    runnable: list[NodeTrace]
    blocked: list[NodeTrace]


@dataclass
class _Slot:
    """A node of the program with its current state during refinement."""

    node: ProgramNode
    trace: NodeTrace
    check: NodeCheck | None = None
    last_tried: tuple[NodeTrace, NodeCheck] | None = None
    history: NodeRefinement | None = None


@dataclass
class _Session:
    """The state of one :meth:`ProgramRefiner.refine` call."""

    refiner: ProgramRefiner
    program: Program
    sources: Sources
    execution: ExecutionResult
    on_check: CheckCallback | None
    on_round: Callable[[RefinementRound], None] | None
    slots: dict[NodeRef, _Slot] = field(default_factory=dict)
    order: list[NodeRef] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)
    usage: CheckUsage = field(default_factory=CheckUsage)
    rounds: list[RefinementRound] = field(default_factory=list)
    failing: set[NodeRef] = field(default_factory=set)
    dirty: set[NodeRef] = field(default_factory=set)
    current: RefinementRound | None = None
    round_started: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        traces = {t.ref: t for t in self.execution.trace}
        for node in self.program.nodes():
            self.slots[node.ref] = _Slot(node, _trace_of(node, traces))
        self.order = [t.ref for t in self.execution.trace]
        extra = set(self.order) - set(self.slots)
        if extra:
            shown = ", ".join(str(ref) for ref in sorted(extra, key=lambda r: (r.line, r.path)))
            raise InvalidInputError(f"the execution has nodes the program does not: {shown}")
        self.heights = sorted({slot.node.height for slot in self.slots.values()})

    # ----------------------------------------------------------------- checks

    def _checkable(self, trace: NodeTrace) -> bool:
        return trace.operation in MODEL_OPERATIONS and trace.error is None

    def _rerunnable_error(self, trace: NodeTrace) -> bool:
        """A node's own model failure, worth another (different) prompt."""
        return (
            self.refiner.rerun_errors
            and trace.operation in MODEL_OPERATIONS
            and trace.error is not None
            and trace.attempts > 0
            and not trace.error.startswith("input failed")
            and "InvalidInputError" not in trace.error
        )

    def checkable(self, traces: Sequence[NodeTrace]) -> list[NodeTrace]:
        """The traces the checker judges (model outputs; errors are judged here)."""
        return [t for t in traces if self._checkable(t)]

    def initial_targets(self) -> list[NodeTrace]:
        """Every model-written node of the original execution, in trace order."""
        return self.checkable([self.slots[key].trace for key in self.order])

    def _error_check(self, trace: NodeTrace) -> NodeCheck:
        return NodeCheck(
            line=trace.line,
            path=trace.path,
            operation=trace.operation,
            supported=False,
            score=0.0,
            reason=f"the operation failed: {trace.error}",
            checker="executor",
        )

    def _notify(self, check: NodeCheck) -> None:
        if self.on_check is not None:
            self.on_check(check)

    def initial(self, checks: list[NodeCheck]) -> None:
        """Record round 0: the verdicts on the original execution."""
        self.round_started = self.started
        record = RefinementRound(round=0)
        verdicts = {c.ref: c for c in checks}
        for key in self.order:
            slot = self.slots[key]
            check = verdicts.get(key)
            if check is None and self._rerunnable_error(slot.trace):
                check = self._error_check(slot.trace)
            if check is None:
                continue
            slot.check = check
            slot.last_tried = (slot.trace, check)
            record.checked.append(check)
            self._notify(check)
            if not check.supported:
                record.failed.append(key)
                self._history(slot)
        self.current = record
        self._close_round()

    # ----------------------------------------------------------------- rounds

    def batches(self, max_rounds: int) -> Iterator[_Batch]:
        """The re-runs of up to ``max_rounds`` rounds, one height at a time.

        This is the refinement's sans-I/O core, so that :meth:`ProgramRefiner.refine`
        and :meth:`ProgramRefiner.arefine` differ only in how they call the
        model and the checker: the caller runs each batch, checks it and hands
        both to :meth:`absorb` before asking for the next batch, which is then
        prepared from what was absorbed (a parent re-runs on its child's new
        output within the round).
        """
        for number in range(1, max_rounds + 1):
            if not self.begin_round(number):
                return
            for height in self.heights:
                pending = self.prepare(height)
                if pending:
                    # A node whose input failed cannot run; it is recorded as it is.
                    yield _Batch(
                        runnable=[p for p in pending if p.error is None],
                        blocked=[p for p in pending if p.error is not None],
                    )
            self.end_round()

    def begin_round(self, number: int) -> bool:
        """Start round ``number``; ``False`` when nothing fails (refinement is done)."""
        if not self.failing:
            return False
        self.current = RefinementRound(round=number)
        self.round_started = time.perf_counter()
        self.dirty = set()
        return True

    def prepare(self, height: int) -> list[NodeTrace]:
        """The pending re-runs of one height: failing nodes and those with new inputs."""
        assert self.current is not None
        pending: list[NodeTrace] = []
        for key in self.order:
            slot = self.slots[key]
            if slot.node.height != height or (key not in self.failing and key not in self.dirty):
                continue
            if key in self.failing:
                self.current.failed.append(key)
            else:
                self.current.propagated.append(key)
            pending.append(self._pending(slot))
        return pending

    def _pending(self, slot: _Slot) -> NodeTrace:
        inputs: list[str] = []
        input_ids: list[list[int]] = []
        failure: str | None = None
        for child in slot.node.inputs:
            if isinstance(child, int):
                has = self.sources.has(child)
                inputs.append(normalize_text(self.sources.sentence(child).text) if has else "")
                input_ids.append([child])
                continue
            done = self.slots[child].trace
            inputs.append(done.output if done.error is None else "")
            input_ids.append(list(done.leaf_ids))
            if done.error is not None and failure is None:
                # Name the node where the failure started, as the executor does.
                failure = (
                    done.error
                    if done.error.startswith("input failed: ")
                    else f"input failed: {child.path} ({done.operation}): {done.error}"
                )
        instruction = slot.node.instruction
        if slot.node.ref in self.failing and slot.last_tried is not None:
            note = self.refiner.feedback_for(*slot.last_tried)
            instruction = f"{instruction.rstrip(' .')}. {note}" if instruction else note
        return NodeTrace(
            line=slot.node.ref.line,
            path=slot.node.ref.path,
            operation=slot.node.operation,
            inputs=inputs,
            input_ids=input_ids,
            instruction=instruction,
            leaf_ids=list(slot.trace.leaf_ids),
            error=failure,
        )

    def absorb(self, done: list[NodeTrace], checks: list[NodeCheck]) -> None:
        """Take the re-runs of one height: adopt what is better, mark parents dirty."""
        assert self.current is not None
        record = self.current
        verdicts = {c.ref: c for c in checks}
        for trace in done:
            key = trace.ref
            slot = self.slots[key]
            record.llm_calls += trace.attempts if trace.operation in MODEL_OPERATIONS else 0
            record.input_tokens += trace.input_tokens or 0
            record.output_tokens += trace.output_tokens or 0
            check = verdicts.get(key)
            if check is None and trace.error is not None and self._rerunnable_error(trace):
                check = self._error_check(trace)
            if check is not None:
                record.checked.append(check)
                self._notify(check)
            failing, moved = key in self.failing, key in self.dirty
            trigger: Trigger = (
                "check+input" if failing and moved else ("input" if moved else "check")
            )
            old = slot.trace
            note = ""
            if moved:
                adopt = trace.error is None or old.error is not None
                if not adopt:
                    note = "the re-run failed; the output made from the previous inputs is kept"
                    record.stale.append(key)
            else:
                adopt = _better(trace, check, old, slot.check)
                if not adopt:
                    note = "not better than the output the node has"
                    record.kept.append(key)
            history = self._history(slot)
            history.versions.append(
                NodeVersion(
                    round=record.round,
                    trigger=trigger,
                    trace=trace,
                    check=check,
                    adopted=adopt,
                    note=note,
                )
            )
            if check is not None:
                slot.last_tried = (trace, check)
            if not adopt:
                continue
            changed = (trace.output, trace.error) != (old.output, old.error)
            slot.trace = trace
            slot.check = check
            if changed and slot.node.parent is not None:
                self.dirty.add(slot.node.parent)

    def end_round(self) -> None:
        """Close the current round: what still fails is re-run in the next one."""
        self._close_round()

    def _close_round(self) -> None:
        assert self.current is not None
        record = self.current
        self.failing = {
            key
            for key in self.order
            if (check := self.slots[key].check) is not None and not check.supported
        }
        record.still_failing = [key for key in self.order if key in self.failing]
        record.seconds = time.perf_counter() - self.round_started
        self.rounds.append(record)
        if self.on_round is not None:
            self.on_round(record)
        self.current = None

    def _history(self, slot: _Slot) -> NodeRefinement:
        if slot.history is None:
            slot.history = NodeRefinement(
                line=slot.node.ref.line,
                path=slot.node.ref.path,
                operation=slot.node.operation,
                versions=[
                    NodeVersion(round=0, trigger="execute", trace=slot.trace, check=slot.check)
                ],
            )
        return slot.history

    # ----------------------------------------------------------------- result

    def result(self) -> RefinementResult:
        """The refined execution and the record."""
        traces = [self.slots[key].trace for key in self.order]
        lines: list[LineResult] = []
        for line, original in zip(self.program.lines, self.execution.lines, strict=True):
            root = self.slots[NodeRef.root(line.index)].trace
            lines.append(
                original.model_copy(
                    update={
                        "text": "" if root.error else root.output,
                        "error": root.error,
                    }
                )
            )
        nodes = [
            self.slots[key].history for key in self.order if self.slots[key].history is not None
        ]
        still = [
            check
            for key in self.order
            if key in self.failing and (check := self.slots[key].check) is not None
        ]
        rounds = self.rounds
        return RefinementResult(
            execution=ExecutionResult(lines=lines, trace=traces),
            rounds=rounds,
            nodes=[n for n in nodes if n is not None],
            still_failing=still,
            checker=self.refiner.checker_name,
            max_rounds=self.refiner.max_rounds,
            llm_calls=sum(r.llm_calls for r in rounds),
            input_tokens=sum(r.input_tokens for r in rounds),
            output_tokens=sum(r.output_tokens for r in rounds),
            usage=self.usage.model_copy(),
            seconds=time.perf_counter() - self.started,
        )


def _trace_of(node: ProgramNode, traces: dict[NodeRef, NodeTrace]) -> NodeTrace:
    """The execution's trace of ``node``, which must be of the same operation."""
    trace = traces.get(node.ref)
    if trace is None:
        msg = (
            f"the execution has no trace for {node.ref}; refine the execution of this very program"
        )
        raise InvalidInputError(msg)
    if trace.operation != node.operation:
        msg = (
            f"{node.ref} is {node.operation} in the program but {trace.operation} in the execution"
        )
        raise InvalidInputError(msg)
    return trace


def _better(
    new: NodeTrace, new_check: NodeCheck | None, old: NodeTrace, old_check: NodeCheck | None
) -> bool:
    """Whether a re-run of a node (with unchanged inputs) beats the output it has."""
    if new.error is not None:
        return False
    if old.error is not None or old_check is None:
        return True
    if new_check is None:
        return False
    return (new_check.supported, new_check.score) > (old_check.supported, old_check.score)


def _aligned(traces: list[NodeTrace], checks: list[NodeCheck], name: str) -> list[NodeCheck]:
    """Verdicts pinned to their traces' nodes (a checker's own line/path are not trusted)."""
    if len(checks) != len(traces):
        msg = f"checker {name!r} returned {len(checks)} verdicts for {len(traces)} nodes"
        raise InvalidInputError(msg)
    return [
        check.model_copy(
            update={
                "line": trace.line,
                "path": trace.path,
                "operation": trace.operation,
                "checker": check.checker or name,
            }
        )
        for trace, check in zip(traces, checks, strict=True)
    ]
