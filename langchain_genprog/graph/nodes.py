"""The graph's nodes, one callable per step: segment, plan, execute, refine, attribute, finalize.

Each node is a small class built from the components it needs (a model, an
attributor, a refiner ...) and called as ``node(state, runtime)``; it returns
the state update and reports progress through ``runtime.stream_writer`` (see
:mod:`~langchain_genprog.graph.events`). That makes every node usable and
testable on its own — ``SegmentNode(llm)(state, Runtime(stream_writer=events.append))``
— with no graph around it, while the builder only wires them.

A node has one body. Its async form, :meth:`GenProgNode.acall`, runs the sync
body in a worker thread unless the step has a native async path (execution and
refinement batch their model calls with ``abatch``); those nodes share their
before/after code between the two forms and differ only in the one awaited call.

Adding a node is one subclass here (``name`` plus ``__call__``) and one edge in
:func:`~langchain_genprog.graph.builder.build_genprog_graph`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableLambda
from langgraph.runtime import Runtime, get_runtime

from langchain_genprog.attribute.base import Attributor
from langchain_genprog.citations import build_message, compose_answer
from langchain_genprog.errors import InvalidInputError, PlanningError
from langchain_genprog.execute.executor import ProgramExecutor
from langchain_genprog.execute.trace import ExecutionResult
from langchain_genprog.graph import events
from langchain_genprog.graph.inputs import documents_of, question_of
from langchain_genprog.graph.state import GenProgState
from langchain_genprog.plan.planner import PlanMode, ProgramPlanner
from langchain_genprog.program.validation import ProgramLimits
from langchain_genprog.refine.checks import NodeChecker
from langchain_genprog.refine.refiner import ProgramRefiner
from langchain_genprog.segment.selection import select_sentences
from langchain_genprog.segment.sources import SentenceSplitter, Sources

NodeName = Literal["segment", "plan", "execute", "refine", "attribute", "finalize"]
"""The graph's node names, in pipeline order."""


class GenProgNode(ABC):
    """One step of the graph: ``node(state, runtime)`` returns the state update.

    Attributes:
        name: The node's name in the graph (and in ``stream_mode="updates"``).
    """

    name: ClassVar[NodeName]

    @abstractmethod
    def __call__(self, state: GenProgState, runtime: Runtime[Any]) -> GenProgState:
        """Run the step on ``state``; write progress to ``runtime.stream_writer``."""

    async def acall(self, state: GenProgState, runtime: Runtime[Any]) -> GenProgState:
        """Async form: the sync body in a worker thread (context variables are copied)."""
        return await asyncio.to_thread(self, state, runtime)

    def as_runnable(self) -> Runnable[GenProgState, GenProgState]:
        """The node as LangGraph runs it: sync and async forms, the run's runtime injected."""
        return RunnableLambda(self._invoke, afunc=self._ainvoke, name=self.name)

    def _invoke(self, state: GenProgState) -> GenProgState:
        return self(state, get_runtime())

    async def _ainvoke(self, state: GenProgState) -> GenProgState:
        return await self.acall(state, get_runtime())


class SegmentNode(GenProgNode):
    """Split the documents into numbered sentences and pick those the planner sees.

    Args:
        llm: The graph's model; its ``n_ctx`` (context window) and
            ``count_tokens``, when it declares them, size the planner's budget.
        source_token_budget: Most tokens of source sentences shown to the
            planner; ``None`` uses half of ``llm.n_ctx`` if declared, else no limit.
        embeddings: Rank sentences semantically instead of by BM25.
        splitter: Custom sentence splitter.
    """

    name = "segment"

    def __init__(
        self,
        llm: BaseChatModel,
        *,
        source_token_budget: int | None = None,
        embeddings: Embeddings | None = None,
        splitter: SentenceSplitter | None = None,
    ) -> None:
        n_ctx = getattr(llm, "n_ctx", None)
        if source_token_budget is None and isinstance(n_ctx, int):
            source_token_budget = n_ctx // 2
        self.token_budget = source_token_budget
        self.count_tokens = getattr(llm, "count_tokens", None)
        self.embeddings = embeddings
        self.splitter = splitter

    def __call__(self, state: GenProgState, runtime: Runtime[Any]) -> GenProgState:
        """Number the sources' sentences and select the planner's share."""
        sources = Sources.from_documents(documents_of(state), splitter=self.splitter)
        selection = select_sentences(
            sources,
            question_of(state),
            token_budget=self.token_budget,
            count_tokens=self.count_tokens,
            embeddings=self.embeddings,
        )
        runtime.stream_writer(events.segment_event(selection))
        return {"sources": sources, "selection": selection}


class PlanNode(GenProgNode):
    """Ask the model for a program over the selected sentences.

    Args:
        llm: The planning model.
        mode: Planner decoder (``auto``, ``text``, ``structured``, ``grammar``).
        limits: Program depth/fan-in bounds.
        max_retries: Re-prompts after an invalid program.
        max_sentences: Most answer sentences.

    Raises:
        InvalidInputError: If the planner options are out of range.
    """

    name = "plan"

    def __init__(
        self,
        llm: BaseChatModel,
        *,
        mode: PlanMode = "auto",
        limits: ProgramLimits | None = None,
        max_retries: int = 2,
        max_sentences: int = 5,
    ) -> None:
        self.planner = ProgramPlanner(
            llm, mode=mode, limits=limits, max_retries=max_retries, max_sentences=max_sentences
        )

    def __call__(self, state: GenProgState, runtime: Runtime[Any]) -> GenProgState:
        """Plan, reporting each attempt.

        Raises:
            PlanningError: If no attempt produced a single valid line.
        """
        result = self.planner.plan(
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

    Args:
        llm: The model that performs the operations.
        max_concurrency: Operations run at once.
        max_retries: Retries of a failing operation call.
    """

    name = "execute"

    def __init__(self, llm: BaseChatModel, *, max_concurrency: int = 4, max_retries: int = 2):
        self.llm = llm
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries

    def __call__(self, state: GenProgState, runtime: Runtime[Any]) -> GenProgState:
        """Execute ``state["plan"].program`` over ``state["sources"]``."""
        result = self._executor(runtime).execute(state["plan"].program, state["sources"])
        return _answered(result)

    async def acall(self, state: GenProgState, runtime: Runtime[Any]) -> GenProgState:
        """Async :meth:`__call__`: the model calls go through ``abatch``."""
        result = await self._executor(runtime).aexecute(state["plan"].program, state["sources"])
        return _answered(result)

    def _executor(self, runtime: Runtime[Any]) -> ProgramExecutor:
        return ProgramExecutor(
            self.llm,
            max_concurrency=self.max_concurrency,
            max_retries=self.max_retries,
            on_node=lambda trace: runtime.stream_writer(events.execute_event(trace)),
        )


class RefineNode(GenProgNode):
    """Check each executed node against its own inputs and re-run only the failing ones.

    Args:
        llm: The graph's model (re-runs operations when ``refiner`` is a checker).
        refiner: A :class:`~langchain_genprog.refine.ProgramRefiner`, or a
            :class:`~langchain_genprog.refine.NodeChecker` to refine with
            ``llm`` and this node's concurrency and retries (two rounds).
        max_concurrency: Operations run at once (with a checker only).
        max_retries: Retries of a failing re-run (with a checker only).

    Raises:
        InvalidInputError: If ``refiner`` is neither.
    """

    name = "refine"

    def __init__(
        self,
        llm: BaseChatModel,
        refiner: ProgramRefiner | NodeChecker,
        *,
        max_concurrency: int = 4,
        max_retries: int = 2,
    ) -> None:
        if isinstance(refiner, ProgramRefiner):
            self.refiner = refiner
        elif isinstance(refiner, NodeChecker):
            self.refiner = ProgramRefiner(
                llm, refiner, max_concurrency=max_concurrency, max_retries=max_retries
            )
        else:
            msg = f"refiner must be a ProgramRefiner or a NodeChecker, got {type(refiner).__name__}"
            raise InvalidInputError(msg)

    def __call__(self, state: GenProgState, runtime: Runtime[Any]) -> GenProgState:
        """Refine ``state["execution"]``; the answer becomes the refined one."""
        program, sources, execution = state["plan"].program, state["sources"], state["execution"]
        result = self.refiner.refine(program, sources, execution, **_refine_callbacks(runtime))
        return {**_answered(result.execution), "refinement": result}

    async def acall(self, state: GenProgState, runtime: Runtime[Any]) -> GenProgState:
        """Async :meth:`__call__` (async checks and re-runs)."""
        program, sources, execution = state["plan"].program, state["sources"], state["execution"]
        result = await self.refiner.arefine(
            program, sources, execution, **_refine_callbacks(runtime)
        )
        return {**_answered(result.execution), "refinement": result}


class AttributeNode(GenProgNode):
    """Cite each answer sentence to its sources (program leaves, or measured support).

    Args:
        attributor: Any :class:`~langchain_genprog.attribute.base.Attributor`.
    """

    name = "attribute"

    def __init__(self, attributor: Attributor) -> None:
        self.attributor = attributor

    def __call__(self, state: GenProgState, runtime: Runtime[Any]) -> GenProgState:
        """Attribute ``state["answer_sentences"]`` to ``state["sources"]``."""
        runtime.stream_writer(events.attribute_event(self.attributor.name))
        result = self.attributor.attribute(
            state["answer_sentences"], state["sources"], question=question_of(state)
        )
        return {"attribution": result}


class FinalizeNode(GenProgNode):
    """Append the cited ``AIMessage``: the answer, its ``Citation`` annotations, the record."""

    name = "finalize"

    def __call__(self, state: GenProgState, runtime: Runtime[Any]) -> GenProgState:
        """Build the message from the answer and its attribution."""
        message = build_message(
            state["answer"], state["attribution"], state["sources"], metadata=_metadata(state)
        )
        return {"messages": [message]}


def _answered(execution: ExecutionResult) -> GenProgState:
    """The state update of an execution: it and the answer composed from its lines."""
    answer, sentences = compose_answer(execution.lines)
    return {"execution": execution, "answer": answer, "answer_sentences": sentences}


def _refine_callbacks(runtime: Runtime[Any]) -> dict[str, Any]:
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
    return metadata
