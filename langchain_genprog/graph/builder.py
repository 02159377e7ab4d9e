"""The LangGraph state machine: segment → plan → execute → (refine →) attribute → finalize.

``build_genprog_graph`` returns the uncompiled ``StateGraph`` (to extend or
embed as a subgraph); ``create_genprog_graph`` compiles it with an optional
checkpointer. Progress is streamed as LangGraph ``custom`` events, one per
planner attempt, per executed program node and, with a refiner, per node check,
re-run and refinement round, so ``stream_mode="custom"`` shows long runs moving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from langchain_genprog.attribute.base import Attributor
from langchain_genprog.attribute.program_leaves import ProgramLeavesAttributor
from langchain_genprog.citations import build_message, compose_answer
from langchain_genprog.errors import InvalidInputError, PlanningError
from langchain_genprog.execute.executor import ProgramExecutor
from langchain_genprog.execute.trace import NodeTrace
from langchain_genprog.graph.state import GenProgInput, GenProgState
from langchain_genprog.plan.planner import PlanAttempt, PlanMode, ProgramPlanner
from langchain_genprog.program.validation import ProgramLimits
from langchain_genprog.refine.checks import NodeCheck, NodeChecker
from langchain_genprog.refine.refiner import ProgramRefiner, RefinementResult, RefinementRound
from langchain_genprog.segment.selection import select_sentences
from langchain_genprog.segment.sources import SentenceSplitter, Sources

NodeName = Literal["segment", "plan", "execute", "refine", "attribute", "finalize"]


def build_genprog_graph(
    llm: BaseChatModel | None = None,
    *,
    attributor: Attributor | None = None,
    plan_mode: PlanMode = "auto",
    max_sentences: int = 5,
    max_plan_retries: int = 2,
    limits: ProgramLimits | None = None,
    max_concurrency: int = 4,
    max_node_retries: int = 2,
    source_token_budget: int | None = None,
    embeddings: Embeddings | None = None,
    splitter: SentenceSplitter | None = None,
    refiner: ProgramRefiner | NodeChecker | None = None,
) -> StateGraph[GenProgState, None, GenProgInput, GenProgState]:
    """Build the uncompiled GenerationPrograms graph.

    Args:
        llm: Chat model that plans and executes. ``None`` uses the embedded
            SmolLM2-135M-Instruct (needs ``langchain-genprog[local]``).
        attributor: Attribute step; defaults to program-leaf citations. Pass
            :class:`~langchain_genprog.attribute.mexgen_node.MExGenAttributor`
            to measure support.
        plan_mode: Planner decoder (``auto``, ``text``, ``structured``, ``grammar``).
        max_sentences: Most answer sentences.
        max_plan_retries: Re-prompts after an invalid program.
        limits: Program depth/fan-in bounds.
        max_concurrency: Operations run at once.
        max_node_retries: Retries of a failing operation call.
        source_token_budget: Most tokens of source sentences shown to the planner;
            ``None`` uses half the model's context window when it declares one
            (``n_ctx``), else no limit. Sentences beyond it are left out by
            relevance and reported in ``state["selection"]``.
        embeddings: Rank sentences semantically instead of by BM25.
        splitter: Custom sentence splitter for the sources.
        refiner: Adds a ``refine`` node between ``execute`` and ``attribute``
            (localized refinement: each executed node is checked against its
            own inputs and only the failing ones, then their ancestors, are
            re-run; the report is ``state["refinement"]``). Pass a
            :class:`~langchain_genprog.refine.ProgramRefiner`, or just a
            :class:`~langchain_genprog.refine.NodeChecker` to refine with this
            graph's model, concurrency and retry settings (two rounds).
            ``None`` (default): no refinement.
    """
    if llm is None:
        from langchain_genprog.models import get_default_chat_model

        llm = get_default_chat_model()
    planner = ProgramPlanner(
        llm,
        mode=plan_mode,
        limits=limits,
        max_retries=max_plan_retries,
        max_sentences=max_sentences,
    )
    attribute_with: Attributor = attributor or ProgramLeavesAttributor()
    refine_with: ProgramRefiner | None
    if refiner is None or isinstance(refiner, ProgramRefiner):
        refine_with = refiner
    elif isinstance(refiner, NodeChecker):
        refine_with = ProgramRefiner(
            llm, refiner, max_concurrency=max_concurrency, max_retries=max_node_retries
        )
    else:
        msg = f"refiner must be a ProgramRefiner or a NodeChecker, got {type(refiner).__name__}"
        raise InvalidInputError(msg)
    budget = source_token_budget
    n_ctx = getattr(llm, "n_ctx", None)
    if budget is None and isinstance(n_ctx, int):
        budget = n_ctx // 2
    count_tokens: Callable[[str], int] | None = getattr(llm, "count_tokens", None)

    def segment(state: GenProgState) -> dict[str, Any]:
        documents = state.get("documents")
        if documents is None:
            raise InvalidInputError("the input has no 'documents'; pass a list of documents")
        sources = Sources.from_documents(_coerce_documents(documents), splitter=splitter)
        selection = select_sentences(
            sources,
            _question(state),
            token_budget=budget,
            count_tokens=count_tokens,
            embeddings=embeddings,
        )
        get_stream_writer()({"step": "segment", "message": selection.describe()})
        return {"sources": sources, "selection": selection}

    def on_attempt(attempt: PlanAttempt) -> None:
        get_stream_writer()(
            {
                "step": "plan",
                "valid_lines": attempt.valid_lines,
                "issues": [str(i) for i in attempt.issues],
                "seconds": round(attempt.seconds, 3),
            }
        )

    def plan(state: GenProgState) -> dict[str, Any]:
        result = planner.plan(
            state["sources"],
            _question(state),
            ranked_ids=state["selection"].ranked_ids,
            on_attempt=on_attempt,
        )
        if not result.program.lines:
            raise PlanningError(
                f"the planner produced no valid program line in {len(result.attempts)} "
                "attempt(s): " + "; ".join(str(i) for i in result.issues),
                result.issues,
            )
        return {"plan": result}

    def _node_event(step: str, **extra: str) -> Callable[[NodeTrace], None]:
        writer = get_stream_writer()

        def on_node(trace: NodeTrace) -> None:
            writer(
                {
                    "step": step,
                    **extra,
                    "line": trace.line,
                    "path": trace.path,
                    "operation": trace.operation,
                    "output": trace.output,
                    "error": trace.error,
                    "seconds": round(trace.seconds, 3),
                }
            )

        return on_node

    def _executor() -> ProgramExecutor:
        return ProgramExecutor(
            llm,
            max_concurrency=max_concurrency,
            max_retries=max_node_retries,
            on_node=_node_event("execute"),
        )

    def execute(state: GenProgState) -> dict[str, Any]:
        result = _executor().execute(state["plan"].program, state["sources"])
        answer, sentences = compose_answer(result.lines)
        return {"execution": result, "answer": answer, "answer_sentences": sentences}

    async def aexecute(state: GenProgState) -> dict[str, Any]:
        result = await _executor().aexecute(state["plan"].program, state["sources"])
        answer, sentences = compose_answer(result.lines)
        return {"execution": result, "answer": answer, "answer_sentences": sentences}

    def _refine_callbacks() -> dict[str, Any]:
        writer = get_stream_writer()

        def on_check(check: NodeCheck) -> None:
            writer(
                {
                    "step": "refine",
                    "kind": "check",
                    "line": check.line,
                    "path": check.path,
                    "operation": check.operation,
                    "supported": check.supported,
                    "score": round(check.score, 4),
                    "reason": check.reason,
                }
            )

        def on_round(record: RefinementRound) -> None:
            writer(
                {
                    "step": "refine",
                    "kind": "round",
                    "round": record.round,
                    "failed": [str(ref) for ref in record.failed],
                    "propagated": [str(ref) for ref in record.propagated],
                    "still_failing": [str(ref) for ref in record.still_failing],
                    "seconds": round(record.seconds, 3),
                }
            )

        return {
            "on_node": _node_event("refine", kind="rerun"),
            "on_check": on_check,
            "on_round": on_round,
        }

    def _refined(result: RefinementResult) -> dict[str, Any]:
        answer, sentences = compose_answer(result.execution.lines)
        return {
            "execution": result.execution,
            "answer": answer,
            "answer_sentences": sentences,
            "refinement": result,
        }

    def refine(state: GenProgState) -> dict[str, Any]:
        assert refine_with is not None  # the node exists only with a refiner
        result = refine_with.refine(
            state["plan"].program, state["sources"], state["execution"], **_refine_callbacks()
        )
        return _refined(result)

    async def arefine(state: GenProgState) -> dict[str, Any]:
        assert refine_with is not None
        result = await refine_with.arefine(
            state["plan"].program, state["sources"], state["execution"], **_refine_callbacks()
        )
        return _refined(result)

    def attribute(state: GenProgState) -> dict[str, Any]:
        get_stream_writer()({"step": "attribute", "method": attribute_with.name})
        result = attribute_with.attribute(
            state["answer_sentences"], state["sources"], question=_question(state)
        )
        return {"attribution": result}

    async def aattribute(state: GenProgState) -> dict[str, Any]:
        return await asyncio.to_thread(attribute, state)

    def finalize(state: GenProgState) -> dict[str, Any]:
        plan_result = state["plan"]
        execution = state["execution"]
        metadata = {
            "program": plan_result.program.render(),
            "plan_retries": plan_result.retries,
            "plan_issues": [str(i) for i in plan_result.issues],
            "failures": [
                {"line": f.line, "program": f.program, "error": f.error} for f in execution.failures
            ],
            "selection": state["selection"].describe(),
            "attribution_method": state["attribution"].method,
        }
        refinement = state.get("refinement")
        if refinement is not None:
            metadata["refinement"] = refinement.summary()
        message = build_message(
            state["answer"], state["attribution"], state["sources"], metadata=metadata
        )
        return {"messages": [message]}

    graph = StateGraph(GenProgState, input_schema=GenProgInput)
    graph.add_node("segment", segment)
    graph.add_node("plan", plan)
    graph.add_node("execute", RunnableLambda(execute, afunc=aexecute, name="execute"))
    graph.add_node("attribute", RunnableLambda(attribute, afunc=aattribute, name="attribute"))
    graph.add_node("finalize", finalize)
    graph.add_edge(START, "segment")
    graph.add_edge("segment", "plan")
    graph.add_edge("plan", "execute")
    if refine_with is not None:
        graph.add_node("refine", RunnableLambda(refine, afunc=arefine, name="refine"))
        graph.add_edge("execute", "refine")
        graph.add_edge("refine", "attribute")
    else:
        graph.add_edge("execute", "attribute")
    graph.add_edge("attribute", "finalize")
    graph.add_edge("finalize", END)
    return graph


def create_genprog_graph(
    llm: BaseChatModel | None = None,
    *,
    checkpointer: Checkpointer = None,
    name: str = "genprog",
    **options: Any,
) -> CompiledStateGraph[GenProgState, None, GenProgInput, GenProgState]:
    """Build and compile the GenerationPrograms graph.

    Args:
        llm: Chat model; ``None`` uses the embedded default.
        checkpointer: e.g. ``InMemorySaver()`` or ``SqliteSaver`` for threads
            that persist and resume.
        name: The compiled graph's name (shown in LangGraph Studio and traces).
        **options: Passed to :func:`build_genprog_graph`.

    Example:
        .. code-block:: python

            from langchain_openai import ChatOpenAI
            from langchain_genprog import create_genprog_graph

            graph = create_genprog_graph(ChatOpenAI(model="gpt-4o-mini"))
            state = graph.invoke({"question": "Who won?", "documents": docs})
            print(state["messages"][-1].content_blocks[0]["annotations"])
    """
    return build_genprog_graph(llm, **options).compile(checkpointer=checkpointer, name=name)


def _question(state: GenProgState) -> str | None:
    question = state.get("question")
    if question is not None and not isinstance(question, str):
        raise InvalidInputError(f"question must be a string, got {type(question).__name__}")
    if question and question.strip():
        return question.strip()
    for message in reversed(state.get("messages") or []):
        if isinstance(message, HumanMessage) and message.text.strip():
            return message.text.strip()
    return None


def _coerce_documents(documents: Any) -> list[Document | str | bytes]:
    from langchain_genprog.segment.documents import coerce_documents

    return coerce_documents(documents)
