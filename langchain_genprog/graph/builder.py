"""The LangGraph state machine: plan, execute, then the grounding loop, then finalize.

``segment → plan → execute → (refine →) attribute → ground``; ``ground`` sends
the answer to ``finalize`` when every sentence is supported by what it cites,
else to ``repair`` (re-execute with grounded operations, or replace by a
verbatim copy of the best source, or drop — each reported), which sends it
back through ``attribute → ground``. Rounds are bounded.

``build_genprog_graph`` returns the uncompiled ``StateGraph`` (to extend or
embed as a subgraph); ``create_genprog_graph`` compiles it with an optional
checkpointer. This module only wires: each step is a node of
:mod:`~langchain_genprog.graph.nodes`, testable on its own, and progress goes
to ``stream_mode="custom"`` as the typed events of
:mod:`~langchain_genprog.graph.events` (one per planner attempt, per executed
program node and, with a refiner, per node check, re-run and round). The
answer itself streams to ``stream_mode="messages"`` sentence by sentence, each
sentence once the gate has passed it and those before it
(:mod:`~langchain_genprog.graph.answer_stream`).
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from langchain_genprog.attribute.base import Attributor
from langchain_genprog.attribute.program_leaves import ProgramLeavesAttributor
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.graph.configuration import GenProgContext
from langchain_genprog.graph.nodes import (
    AttributeNode,
    ExecuteNode,
    FinalizeNode,
    GenProgNode,
    GroundNode,
    PlanNode,
    RefineNode,
    RepairNode,
    SegmentNode,
    after_ground,
)
from langchain_genprog.graph.serde import with_genprog_types
from langchain_genprog.graph.state import GenProgInput, GenProgState
from langchain_genprog.ground.gate import GroundingGate
from langchain_genprog.ground.lexical import DEFAULT_MIN_COVERAGE
from langchain_genprog.ground.measure import embedded_measurer
from langchain_genprog.operations.grounded import OperationMode
from langchain_genprog.plan.planner import PlanMode
from langchain_genprog.program.validation import ProgramLimits
from langchain_genprog.refine.checks import NodeChecker
from langchain_genprog.refine.refiner import ProgramRefiner
from langchain_genprog.segment.sources import SentenceSplitter


def build_genprog_graph(
    llm: BaseChatModel | None = None,
    *,
    attributor: Attributor | None = None,
    plan_mode: PlanMode = "auto",
    max_sentences: int = 5,
    max_words: int | None = None,
    max_plan_retries: int = 2,
    limits: ProgramLimits | None = None,
    max_concurrency: int = 4,
    max_node_retries: int = 2,
    source_token_budget: int | None = None,
    embeddings: Embeddings | None = None,
    splitter: SentenceSplitter | None = None,
    refiner: ProgramRefiner | NodeChecker | None = None,
    operation_mode: OperationMode = "auto",
    grounding: GroundingGate | Literal["auto", "off"] = "auto",
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    max_regenerations: int = 1,
    content_only: bool = True,
) -> StateGraph[GenProgState, GenProgContext, GenProgInput, GenProgState]:
    """Build the uncompiled GenerationPrograms graph.

    The options also on :class:`GenProgContext` (described there) are the
    defaults of every run; a run may override them through its context,
    e.g. ``graph.invoke(inputs, context={"max_sentences": 1})``.

    Args:
        llm: Chat model that plans and executes (``None``: the embedded SmolLM2).
        attributor: Attribute step (default: program-leaf citations); e.g. a
            :class:`~langchain_genprog.attribute.mexgen_node.MExGenAttributor`.
        plan_mode: See :class:`GenProgContext`.
        max_sentences: See :class:`GenProgContext`.
        max_words: See :class:`GenProgContext`.
        max_plan_retries: See :class:`GenProgContext`.
        limits: Program depth/fan-in bounds.
        max_concurrency: See :class:`GenProgContext`.
        max_node_retries: See :class:`GenProgContext`.
        source_token_budget: See :class:`GenProgContext`.
        embeddings: Rank sentences semantically instead of by BM25.
        splitter: Custom sentence splitter for the sources.
        refiner: Adds a ``refine`` node (localized refinement): a
            :class:`~langchain_genprog.refine.ProgramRefiner` or a
            :class:`~langchain_genprog.refine.NodeChecker`; ``None``: none.
        operation_mode: See :class:`GenProgContext`.
        grounding: The gate (:mod:`~langchain_genprog.ground`). ``auto``: words
            and numbers checked for every model, support measured with MExGen
            on the embedded one; a ``GroundingGate`` to choose the measurement;
            ``off`` to cite unchecked (a citation is then a claim nobody checked).
        min_coverage: See :class:`GenProgContext`.
        max_regenerations: See :class:`GenProgContext`.
        content_only: See :class:`GenProgContext`.
    """
    if llm is None:
        from langchain_genprog.models import get_default_chat_model

        llm = get_default_chat_model()
    gate = _gate(grounding, llm, min_coverage=min_coverage)
    defaults = GenProgContext(
        plan_mode=plan_mode,
        max_sentences=max_sentences,
        max_words=max_words,
        max_plan_retries=max_plan_retries,
        max_concurrency=max_concurrency,
        max_node_retries=max_node_retries,
        source_token_budget=source_token_budget,
        operation_mode=operation_mode,
        min_coverage=min_coverage,
        max_regenerations=max_regenerations,
        content_only=content_only,
    )
    nodes = _pipeline(llm, defaults, attributor, limits, embeddings, splitter, refiner, gate)

    graph = StateGraph(
        GenProgState,
        context_schema=GenProgContext.with_defaults(defaults),
        input_schema=GenProgInput,
    )
    for node in nodes:
        graph.add_node(node.name, node.as_runnable())
    _add_edges(graph, refine="refine" in graph.nodes, gated=gate is not None)
    return graph


def _add_edges(
    graph: StateGraph[GenProgState, GenProgContext, GenProgInput, GenProgState],
    *,
    refine: bool,
    gated: bool,
) -> None:
    """The pipeline's edges, and the grounding loop ``ground → repair → attribute``."""
    graph.add_edge(START, "segment")
    graph.add_edge("segment", "plan")
    graph.add_edge("plan", "execute")
    graph.add_edge("execute", "refine" if refine else "attribute")
    if refine:
        graph.add_edge("refine", "attribute")
    if gated:
        graph.add_edge("attribute", "ground")
        graph.add_conditional_edges("ground", after_ground, ["repair", "finalize"])
        graph.add_edge("repair", "attribute")
    else:
        graph.add_edge("attribute", "finalize")
    graph.add_edge("finalize", END)


def _gate(
    grounding: GroundingGate | Literal["auto", "off"], llm: BaseChatModel, *, min_coverage: float
) -> GroundingGate | None:
    """The graph's gate: measured on the embedded model, lexical elsewhere, or none."""
    if isinstance(grounding, GroundingGate):
        return grounding
    if grounding == "off":
        return None
    if grounding != "auto":
        msg = f"grounding must be 'auto', 'off' or a GroundingGate, got {grounding!r}"
        raise InvalidInputError(msg)
    return GroundingGate(embedded_measurer(llm), min_coverage=min_coverage)


def _pipeline(
    llm: BaseChatModel,
    defaults: GenProgContext,
    attributor: Attributor | None,
    limits: ProgramLimits | None,
    embeddings: Embeddings | None,
    splitter: SentenceSplitter | None,
    refiner: ProgramRefiner | NodeChecker | None,
    gate: GroundingGate | None,
) -> list[GenProgNode]:
    """The graph's nodes in pipeline order (``refine`` with a refiner, the gate's with a gate)."""
    nodes: list[GenProgNode] = [
        SegmentNode(llm, embeddings=embeddings, splitter=splitter, defaults=defaults),
        PlanNode(llm, limits=limits, defaults=defaults),
        ExecuteNode(llm, defaults=defaults),
    ]
    if refiner is not None:
        nodes.append(RefineNode(llm, refiner, defaults=defaults))
    nodes.append(AttributeNode(attributor or ProgramLeavesAttributor(), defaults=defaults))
    if gate is not None:
        nodes += [GroundNode(gate, defaults=defaults), RepairNode(llm, defaults=defaults)]
    nodes.append(FinalizeNode(defaults=defaults))
    return nodes


def create_genprog_graph(
    llm: BaseChatModel | None = None,
    *,
    checkpointer: Checkpointer = None,
    name: str = "genprog",
    **options: Any,
) -> CompiledStateGraph[GenProgState, GenProgContext, GenProgInput, GenProgState]:
    """Build and compile the GenerationPrograms graph.

    Args:
        llm: Chat model; ``None`` uses the embedded default.
        checkpointer: e.g. ``InMemorySaver()``, ``SqliteSaver`` or
            ``PostgresSaver`` for threads that persist and resume (a run
            stopped mid-way resumes without re-making finished model calls).
            The graph's state types are registered with its serializer (see
            :func:`~langchain_genprog.graph.serde.with_genprog_types`).
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
    return build_genprog_graph(llm, **options).compile(
        checkpointer=with_genprog_types(checkpointer), name=name
    )
