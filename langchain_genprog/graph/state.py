"""The graph's state: what flows from segment to finalize.

Inputs are the question (optional: no question means "summarize") and the
documents; a chat front end may instead send a ``HumanMessage`` whose text is
the question. Every intermediate product stays in the state — the program, the
execution trace, the attribution — so a checkpointed thread can be inspected
or resumed, and nothing that failed disappears.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.documents import Document
from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from langchain_genprog.attribute.base import AnswerSentence, AttributionResult
from langchain_genprog.execute.trace import ExecutionResult
from langchain_genprog.ground.gate import GroundingReport
from langchain_genprog.plan.planner import PlanResult
from langchain_genprog.refine.refiner import RefinementResult
from langchain_genprog.segment.selection import Selection
from langchain_genprog.segment.sources import Sources


class GenProgInput(TypedDict, total=False):
    """What a caller sends.

    Attributes:
        question: The question; omit (or leave blank) to summarize the documents.
        documents: ``Document`` objects, strings, or ``{"page_content": ...,
            "metadata": ...}`` dicts (as sent over the LangGraph Server API).
        messages: Chat history; the last human message is the question when
            ``question`` is absent. The final cited ``AIMessage`` is appended.
    """

    question: str | None
    documents: list[Document | str | dict[str, Any]]
    messages: Annotated[list[AnyMessage], add_messages]


class GenProgState(GenProgInput, total=False):
    """Everything the pipeline produced.

    Attributes:
        sources: The numbered source sentences.
        selection: Which sentences the planner was offered (and what was left out).
        plan: The program, remaining planner issues and every attempt.
        execution: Per-line results (answer sentences or failures) and the trace.
        answer: The answer text (citations index into it).
        answer_sentences: The answer's sentences with offsets and program leaves.
        refinement: With a refiner, every node check, re-run and extra call
            (``execution`` and the answer are then the refined ones).
        attribution: Per-sentence citations and, for MExGen, the score matrix.
        grounding: The grounding gate's verdict on every answer sentence and
            every repair it made (re-executed, replaced, dropped).
        answer_id: The id of this run's answer message (and of its streamed chunks).
        streamed: How many answer sentences, from the first, were streamed as
            final (``stream_mode="messages"``); later repairs never touch them.
    """

    sources: Sources
    selection: Selection
    plan: PlanResult
    execution: ExecutionResult
    answer: str
    answer_sentences: list[AnswerSentence]
    refinement: RefinementResult
    attribution: AttributionResult
    grounding: GroundingReport
    answer_id: str
    streamed: int
