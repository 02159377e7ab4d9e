"""The graph's nodes, one callable per step: segment, plan, execute, refine, attribute, finalize.

Each node is a small class built from the components it needs (a model, an
attributor, a refiner ...) and called as ``node(state, runtime)``; it returns
the state update, reads the run's options from ``runtime.context`` (a
:class:`~langchain_genprog.graph.configuration.GenProgContext` applied over the
node's build-time ``defaults``) and reports progress through
``runtime.stream_writer`` (see :mod:`~langchain_genprog.graph.events`). That
makes every node usable and testable on its own —
``PlanNode(llm)(state, Runtime(context=GenProgContext(max_sentences=1)))`` — with
no graph around it, while the builder only wires them.

A node has one body. Its async form, :meth:`GenProgNode.acall`, runs the sync
body in a worker thread unless the step has a native async path (execution and
refinement batch their model calls with ``abatch``); those nodes share their
before/after code between the two forms and differ only in the one awaited call.

Adding a node is one subclass here (``name`` plus ``__call__``), its entry in
the builder's pipeline and its edge (or conditional edge) there; its options
are fields of ``GenProgContext``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import Runnable, RunnableLambda
from langgraph.runtime import Runtime, get_runtime

from langchain_genprog.attribute.base import AttributionResult, Attributor
from langchain_genprog.citations import (
    closing_chunk,
    compose_answer,
    message_from_chunks,
    new_message_id,
    sentence_chunks,
)
from langchain_genprog.errors import GenProgError, InvalidInputError, PlanningError
from langchain_genprog.execute.executor import ProgramExecutor
from langchain_genprog.execute.trace import ExecutionResult
from langchain_genprog.graph import events
from langchain_genprog.graph.answer_stream import stream_answer
from langchain_genprog.graph.configuration import GenProgContext, bounded_requests
from langchain_genprog.graph.durable import scheduler_for_run
from langchain_genprog.graph.inputs import documents_of, question_of
from langchain_genprog.graph.state import GenProgState
from langchain_genprog.ground.gate import GroundingGate, GroundingReport, timed_judge
from langchain_genprog.ground.repair import regenerate, replace_or_drop
from langchain_genprog.operations.grounded import fusion_fits, leaf_operations, resolve_mode
from langchain_genprog.plan.planner import ProgramPlanner
from langchain_genprog.program.validation import ProgramLimits
from langchain_genprog.refine.checks import NodeChecker
from langchain_genprog.refine.refiner import ProgramRefiner
from langchain_genprog.segment.selection import select_sentences
from langchain_genprog.segment.sources import SentenceSplitter, Sources

NodeName = Literal[
    "segment", "plan", "execute", "refine", "attribute", "ground", "repair", "finalize"
]
"""The graph's node names, in pipeline order."""


class GenProgNode(ABC):
    """One step of the graph: ``node(state, runtime)`` returns the state update.

    Args:
        defaults: The options a run starts from (the graph's build-time ones);
            the run's ``runtime.context`` overrides those it names.

    Attributes:
        name: The node's name in the graph (and in ``stream_mode="updates"``).
    """

    name: ClassVar[NodeName]

    def __init__(self, *, defaults: GenProgContext | None = None) -> None:
        self.defaults = defaults if defaults is not None else GenProgContext()

    @abstractmethod
    def __call__(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Run the step on ``state``; write progress to ``runtime.stream_writer``."""

    async def acall(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Async form: the sync body in a worker thread (context variables are copied)."""
        return await asyncio.to_thread(self, state, runtime)

    def settings(self, runtime: Runtime[GenProgContext]) -> GenProgContext:
        """This run's options: the defaults with the run's context applied."""
        return self.defaults.merged(runtime.context)

    def as_runnable(self) -> Runnable[GenProgState, GenProgState]:
        """The node as LangGraph runs it: sync and async forms, the run's runtime injected."""
        return RunnableLambda(self._invoke, afunc=self._ainvoke, name=self.name)

    def _invoke(self, state: GenProgState) -> GenProgState:
        return self(state, get_runtime(GenProgContext))

    async def _ainvoke(self, state: GenProgState) -> GenProgState:
        return await self.acall(state, get_runtime(GenProgContext))


class SegmentNode(GenProgNode):
    """Split the documents into numbered sentences and pick those the planner sees.

    The planner's token budget is the run's ``source_token_budget``, else half
    the model's ``n_ctx`` (context window) when it declares one, else no limit.

    As the run's first node it also starts the run's answer stream: a new
    message id and nothing streamed, and a fresh grounding report when a
    thread's earlier run left one (its rounds would count against this run).

    Args:
        llm: The graph's model; its ``n_ctx`` and ``count_tokens``, when it
            declares them, size the planner's budget.
        embeddings: Rank sentences semantically instead of by BM25.
        splitter: Custom sentence splitter.
        defaults: See :class:`GenProgNode`.
    """

    name = "segment"

    def __init__(
        self,
        llm: BaseChatModel,
        *,
        embeddings: Embeddings | None = None,
        splitter: SentenceSplitter | None = None,
        defaults: GenProgContext | None = None,
    ) -> None:
        super().__init__(defaults=defaults)
        n_ctx = getattr(llm, "n_ctx", None)
        self.n_ctx = n_ctx if isinstance(n_ctx, int) else None
        self.count_tokens = getattr(llm, "count_tokens", None)
        self.embeddings = embeddings
        self.splitter = splitter

    def token_budget(self, settings: GenProgContext) -> int | None:
        """The most tokens of source sentences the planner may be shown in a run."""
        if settings.source_token_budget is not None:
            return settings.source_token_budget
        return self.n_ctx // 2 if self.n_ctx is not None else None

    def __call__(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Number the sources' sentences and select the planner's share."""
        sources = Sources.from_documents(documents_of(state), splitter=self.splitter)
        settings = self.settings(runtime)
        selection = select_sentences(
            sources,
            question_of(state),
            token_budget=self.token_budget(settings),
            count_tokens=self.count_tokens,
            embeddings=self.embeddings,
            content_only=settings.content_only,
        )
        runtime.stream_writer(events.segment_event(selection))
        update: GenProgState = {
            "sources": sources,
            "selection": selection,
            "answer_id": new_message_id(),
            "streamed": 0,
        }
        if "grounding" in state:
            update["grounding"] = GroundingReport()
        return update


class PlanNode(GenProgNode):
    """Ask the model for a program over the selected sentences.

    The run's ``plan_mode``, ``max_sentences``, ``max_words`` and
    ``max_plan_retries`` apply.

    Args:
        llm: The planning model.
        limits: Program depth/fan-in bounds.
        defaults: See :class:`GenProgNode`.
    """

    name = "plan"

    def __init__(
        self,
        llm: BaseChatModel,
        *,
        limits: ProgramLimits | None = None,
        defaults: GenProgContext | None = None,
    ) -> None:
        super().__init__(defaults=defaults)
        self.llm = llm
        self.limits = limits

    def planner(self, settings: GenProgContext) -> ProgramPlanner:
        """The planner of a run with ``settings``."""
        grounded = resolve_mode(self.llm, settings.operation_mode) == "grounded"
        return ProgramPlanner(
            self.llm,
            mode=settings.plan_mode,
            limits=self.limits,
            max_retries=settings.max_plan_retries,
            max_sentences=settings.max_sentences,
            max_words=settings.max_words,
            leaf_operations=leaf_operations if grounded else None,
            fusable=fusion_fits if grounded else None,
            max_fusion_inputs=2 if grounded else 3,
        )

    def __call__(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Plan, reporting each attempt.

        Raises:
            PlanningError: If no attempt produced a single valid line.
        """
        result = self.planner(self.settings(runtime)).plan(
            state["sources"],
            question_of(state),
            ranked_ids=state["selection"].ranked_ids,
            on_attempt=lambda attempt: runtime.stream_writer(events.plan_event(attempt)),
        )
        if not result.program.lines:
            raise PlanningError(
                f"the planner produced no valid program line in {len(result.attempts)} "
                "attempt(s): " + "; ".join(str(i) for i in result.issues),
                result.issues,
            )
        return {"plan": result}


class ExecuteNode(GenProgNode):
    """Run the program, one model call per operation, and compose the answer.

    The run's ``max_concurrency`` and ``max_node_retries`` apply. In a graph
    run each call is a LangGraph task, saved by the checkpointer as it
    finishes, so a run resumed after a stop makes only the calls that had not
    finished (see :mod:`~langchain_genprog.graph.durable`).

    Args:
        llm: The model that performs the operations.
        defaults: See :class:`GenProgNode`.
    """

    name = "execute"

    def __init__(self, llm: BaseChatModel, *, defaults: GenProgContext | None = None) -> None:
        super().__init__(defaults=defaults)
        self.llm = llm

    def __call__(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Execute ``state["plan"].program`` over ``state["sources"]``."""
        result = self._executor(runtime).execute(state["plan"].program, state["sources"])
        return _answered(result)

    async def acall(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Async :meth:`__call__`: the model calls go through ``abatch``."""
        result = await self._executor(runtime).aexecute(state["plan"].program, state["sources"])
        return _answered(result)

    def _executor(self, runtime: Runtime[GenProgContext]) -> ProgramExecutor:
        settings = self.settings(runtime)
        return ProgramExecutor(
            self.llm,
            max_concurrency=settings.max_concurrency,
            max_retries=settings.max_node_retries,
            on_node=lambda trace: runtime.stream_writer(events.execute_event(trace)),
            operation_mode=settings.operation_mode,
            scheduler=scheduler_for_run(),
        )


class RefineNode(GenProgNode):
    """Check each executed node against its own inputs and re-run only the failing ones.

    Args:
        llm: The graph's model (re-runs operations when ``refiner`` is a checker).
        refiner: A :class:`~langchain_genprog.refine.ProgramRefiner`, or a
            :class:`~langchain_genprog.refine.NodeChecker` to refine with
            ``llm`` and the run's ``max_concurrency`` and ``max_node_retries``
            (two rounds).
        defaults: See :class:`GenProgNode`.

    Raises:
        InvalidInputError: If ``refiner`` is neither.
    """

    name = "refine"

    def __init__(
        self,
        llm: BaseChatModel,
        refiner: ProgramRefiner | NodeChecker,
        *,
        defaults: GenProgContext | None = None,
    ) -> None:
        super().__init__(defaults=defaults)
        if not isinstance(refiner, (ProgramRefiner, NodeChecker)):
            msg = f"refiner must be a ProgramRefiner or a NodeChecker, got {type(refiner).__name__}"
            raise InvalidInputError(msg)
        self.llm = llm
        self.refiner = refiner

    def refiner_for(self, settings: GenProgContext) -> ProgramRefiner:
        """The refiner of a run: the one given, or one around the given checker."""
        if isinstance(self.refiner, ProgramRefiner):
            return self.refiner
        return ProgramRefiner(
            self.llm,
            self.refiner,
            max_concurrency=settings.max_concurrency,
            max_retries=settings.max_node_retries,
        )

    def __call__(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Refine ``state["execution"]``; the answer becomes the refined one."""
        refiner = self.refiner_for(self.settings(runtime))
        program, sources, execution = state["plan"].program, state["sources"], state["execution"]
        result = refiner.refine(program, sources, execution, **_refine_callbacks(runtime))
        return {**_answered(result.execution), "refinement": result}

    async def acall(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Async :meth:`__call__` (async checks and re-runs)."""
        refiner = self.refiner_for(self.settings(runtime))
        program, sources, execution = state["plan"].program, state["sources"], state["execution"]
        result = await refiner.arefine(program, sources, execution, **_refine_callbacks(runtime))
        return {**_answered(result.execution), "refinement": result}


class AttributeNode(GenProgNode):
    """Cite each answer sentence to its sources (program leaves, or measured support).

    Args:
        attributor: Any :class:`~langchain_genprog.attribute.base.Attributor`.
        defaults: See :class:`GenProgNode`.
    """

    name = "attribute"

    def __init__(self, attributor: Attributor, *, defaults: GenProgContext | None = None) -> None:
        super().__init__(defaults=defaults)
        self.attributor = attributor

    def __call__(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Attribute ``state["answer_sentences"]`` to ``state["sources"]``.

        Sentences already streamed as final (``state["streamed"]``, after a
        repair round) keep the citations they were streamed with; only the
        others are attributed. An attributor that measures the whole answer
        at once (MExGen) would otherwise cite them anew, and the final message
        would not be the sum of its stream.
        """
        runtime.stream_writer(events.attribute_event(self.attributor.name))
        sentences = state["answer_sentences"]
        kept = _streamed_attribution(state)
        rest = sentences if kept is None else sentences[len(kept.sentences) :]
        # The run's bound reaches the requests a scorer sends concurrently.
        with bounded_requests(self.settings(runtime).max_concurrency):
            fresh = (
                self.attributor.attribute(rest, state["sources"], question=question_of(state))
                if rest or kept is None
                else AttributionResult(method=kept.method)
            )
        return {"attribution": fresh if kept is None else _joined(kept, fresh)}


class GroundNode(GenProgNode):
    """Judge every answer sentence against the sources it cites (the grounding gate).

    Cheap checks first (verbatim copy, repeat, content words and numbers);
    the gate's measurer, if any, then measures only the sentences that passed
    them and were not measured before. The verdicts are ``state["grounding"]``;
    measured support is merged into ``state["attribution"]``. The run's
    ``min_coverage`` applies.

    The sentences of the longest prefix of the answer that passed are final
    (repairs touch only failing lines): those not streamed yet are streamed
    now, each an ``AIMessageChunk`` with its citations
    (:mod:`~langchain_genprog.graph.answer_stream`), and ``state["streamed"]``
    counts them. A failing sentence holds back the ones after it.

    Args:
        gate: The grounding gate.
        defaults: See :class:`GenProgNode`.
    """

    name = "ground"

    def __init__(self, gate: GroundingGate, *, defaults: GenProgContext | None = None) -> None:
        super().__init__(defaults=defaults)
        self.gate = gate

    def __call__(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Judge ``state["answer_sentences"]``; report through the stream writer."""
        settings = self.settings(runtime)
        gate = self.gate
        if settings.min_coverage != gate.min_coverage:
            gate = GroundingGate(
                gate.measurer,
                min_coverage=settings.min_coverage,
                near_duplicate=gate.near_duplicate,
            )
        with bounded_requests(settings.max_concurrency):
            report, attribution = timed_judge(
                gate,
                state.get("grounding") or GroundingReport(),
                state["execution"].lines,
                state["answer_sentences"],
                state["sources"],
                state["attribution"],
                question_of(state),
            )
        runtime.stream_writer(events.ground_event(report))
        answer_id = state.get("answer_id") or new_message_id()
        streamed = state.get("streamed", 0)
        settled = max(report.settled(state["execution"].lines), streamed)
        chunks = sentence_chunks(
            state["answer"], attribution, state["sources"], message_id=answer_id
        )
        stream_answer(_between(chunks, attribution, streamed, settled))
        return {
            "grounding": report,
            "attribution": attribution,
            "answer_id": answer_id,
            "streamed": settled,
        }


def after_ground(state: GenProgState) -> Literal["repair", "finalize"]:
    """Where the loop goes next: ``repair`` while a sentence fails and a round remains."""
    report = state["grounding"]
    return "repair" if report.failing() and not report.closed else "finalize"


class RepairNode(GenProgNode):
    """Repair the sentences that failed the gate, then send the answer back to be judged.

    While the run's ``max_regenerations`` rounds remain and the operations ran
    free-form, the failing lines are re-executed with grounded operations;
    after that (or at once, for grounded operations, which would choose the
    same again), each failing sentence is replaced by a verbatim copy of its
    best-supported source, or dropped. Every repair is reported. Re-executed
    calls are durable tasks, as in :class:`ExecuteNode`.

    Args:
        llm: The model that re-executes operations.
        defaults: See :class:`GenProgNode`.
    """

    name = "repair"

    def __init__(self, llm: BaseChatModel, *, defaults: GenProgContext | None = None) -> None:
        super().__init__(defaults=defaults)
        self.llm = llm

    def __call__(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Repair ``state["grounding"]``'s failing sentences."""
        settings = self.settings(runtime)
        report = state["grounding"]
        failing = report.failing()
        round_ = report.round + 1
        redo = [v for v in failing if v.repeats is None]
        free = resolve_mode(self.llm, settings.operation_mode) == "free"
        if redo and free and round_ <= settings.max_regenerations:
            executor = ProgramExecutor(
                self.llm,
                max_concurrency=settings.max_concurrency,
                max_retries=settings.max_node_retries,
                operation_mode="grounded",
                scheduler=scheduler_for_run(),
            )
            execution, repairs = regenerate(
                executor, state["plan"].program, state["sources"], state["execution"], redo, round_
            )
            closed = False
        else:
            execution, repairs = replace_or_drop(
                state["execution"], failing, state["sources"], state["attribution"], round_
            )
            closed = True
        for repair in repairs:
            runtime.stream_writer(events.repair_event(repair))
        update = {"round": round_, "closed": closed, "repairs": [*report.repairs, *repairs]}
        return {**_answered(execution), "grounding": report.model_copy(update=update)}


class FinalizeNode(GenProgNode):
    """Append the cited ``AIMessage``: the answer, its ``Citation`` annotations, the record.

    The message is the sum of the answer's chunks: those of the sentences
    the gate already streamed, then the rest, which this node streams (with
    the closing chunk, which carries the metadata), all under the message's id.
    """

    name = "finalize"

    def __call__(self, state: GenProgState, runtime: Runtime[GenProgContext]) -> GenProgState:
        """Stream what was not streamed yet and write the message."""
        answer_id = state.get("answer_id") or new_message_id()
        answer, attribution = state["answer"], state["attribution"]
        chunks = sentence_chunks(answer, attribution, state["sources"], message_id=answer_id)
        closing = closing_chunk(
            answer, attribution, message_id=answer_id, metadata=_metadata(state)
        )
        rest = _between(chunks, attribution, state.get("streamed", 0), len(chunks))
        stream_answer([*rest, closing])
        return {"messages": [message_from_chunks([*chunks, closing])]}


def _answered(execution: ExecutionResult) -> GenProgState:
    """The state update of an execution: it and the answer composed from its lines."""
    answer, sentences = compose_answer(execution.lines)
    return {"execution": execution, "answer": answer, "answer_sentences": sentences}


def _between(
    chunks: list[AIMessageChunk], attribution: AttributionResult, start: int, stop: int
) -> list[AIMessageChunk]:
    """The chunks of the answer sentences ``start <= index < stop`` (one chunk per item)."""
    return [
        chunk
        for chunk, item in zip(chunks, attribution.sentences, strict=True)
        if start <= item.sentence.index < stop
    ]


def _streamed_attribution(state: GenProgState) -> AttributionResult | None:
    """The attribution of the sentences already streamed, or ``None`` if none were.

    Raises:
        GenProgError: If a streamed sentence is no longer the same sentence
            (the gate's guarantee broke; the stream would not add up).
    """
    streamed, previous = state.get("streamed", 0), state.get("attribution")
    if not streamed or previous is None:
        return None
    kept = [item for item in previous.sentences if item.sentence.index < streamed]
    if [item.sentence for item in kept] != state["answer_sentences"][: len(kept)]:
        msg = "an answer sentence changed after it was streamed as final"
        raise GenProgError(msg)
    rows = previous.matrix
    aligned = rows is not None and len(rows) == len(previous.sentences)
    return previous.model_copy(
        update={"sentences": kept, "matrix": rows[: len(kept)] if aligned and rows else None}
    )


def _joined(kept: AttributionResult, fresh: AttributionResult) -> AttributionResult:
    """The streamed sentences' attribution followed by the fresh one of the rest.

    Calls and seconds add up, as when the gate merges a measurement in: the
    citations come from both runs. The score matrix is kept when both have
    one over the same source sentences (its rows are then the answer's
    sentences again); else it is left out rather than mislabelled.
    """
    matrix = None
    if (
        kept.matrix is not None
        and fresh.matrix is not None
        and kept.unit_ids == fresh.unit_ids
        and len(fresh.matrix) == len(fresh.sentences)
    ):
        matrix = kept.matrix + fresh.matrix
    return fresh.model_copy(
        update={
            "sentences": [*kept.sentences, *fresh.sentences],
            "matrix": matrix,
            "unit_ids": fresh.unit_ids if matrix is not None else None,
            "model_calls": kept.model_calls + fresh.model_calls,
            "seconds": kept.seconds + fresh.seconds,
            "complete": kept.complete and fresh.complete,
        }
    )


def _refine_callbacks(runtime: Runtime[GenProgContext]) -> dict[str, Any]:
    write = runtime.stream_writer
    return {
        "on_node": lambda trace: write(events.rerun_event(trace)),
        "on_check": lambda check: write(events.check_event(check)),
        "on_round": lambda record: write(events.round_event(record)),
    }


def _metadata(state: GenProgState) -> dict[str, Any]:
    """The final message's ``response_metadata``: what ran and what failed."""
    plan_result = state["plan"]
    metadata: dict[str, Any] = {
        "program": plan_result.program.render(),
        "plan_retries": plan_result.retries,
        "plan_issues": [str(i) for i in plan_result.issues],
        "failures": [
            {"line": f.line, "program": f.program, "error": f.error}
            for f in state["execution"].failures
        ],
        "selection": state["selection"].describe(),
        "attribution_method": state["attribution"].method,
    }
    refinement = state.get("refinement")
    if refinement is not None:
        metadata["refinement"] = refinement.summary()
    grounding = state.get("grounding")
    if grounding is not None:
        metadata["grounding"] = grounding.summary()
    return metadata
