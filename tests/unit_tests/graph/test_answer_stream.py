"""The answer's stream: each sentence, once the gate passes it, as a chunk with its citations.

Fake models only. The fabricating model invents every free-form sentence, so
the gate fails it and a repair round runs; the sentences before it are final
and stream at once, those after it wait for the repair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.utils import message_chunk_to_message
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.runtime import Runtime

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    CitedSource,
    SentenceAttribution,
)
from langchain_genprog.attribute.program_leaves import ProgramLeavesAttributor
from langchain_genprog.citations import build_message, citations_of, sentence_chunks
from langchain_genprog.errors import GenProgError
from langchain_genprog.graph import create_genprog_graph
from langchain_genprog.graph.answer_stream import ANSWER_TAG, is_answer_chunk, stream_answer
from langchain_genprog.graph.configuration import GenProgContext
from langchain_genprog.graph.nodes import AttributeNode
from langchain_genprog.graph.state import GenProgState
from langchain_genprog.ground import GroundingGate
from langchain_genprog.segment.sources import Sources
from tests.unit_tests.fakes import ScriptedChatModel
from tests.unit_tests.ground.test_gate import FABRICATED, INPUT, fabricating_model

S1 = "The council approved the new park on Monday."
S4 = "The mayor praised the vote."
# Line 2 fabricates and is regenerated with grounded operations: S3 has no safe
# reordering ("for" may complete a word, so "for a decade" is not fronted), so
# the paraphrase keeps it verbatim (and says so in its note).
REGENERATED = "Residents had campaigned for more green space for a decade."
THREE_LINES = "- S1\n- paraphrase(S3)\n- S4"


def run_stream(graph: Any, **kwargs: Any) -> list[tuple[str, Any]]:
    return list(graph.stream(INPUT, stream_mode=["messages", "updates", "values"], **kwargs))


async def arun_stream(graph: Any, **kwargs: Any) -> list[tuple[str, Any]]:
    modes = ["messages", "updates", "values"]
    return [item async for item in graph.astream(INPUT, stream_mode=modes, **kwargs)]


def answer_chunks(items: Sequence[tuple[str, Any]]) -> list[AIMessageChunk]:
    return [m for mode, (m, meta) in _messages(items) if is_answer_chunk(meta)]


def _messages(items: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(mode, item) for mode, item in items if mode == "messages"]


def final_message(items: Sequence[tuple[str, Any]]) -> AIMessage:
    values = [item for mode, item in items if mode == "values"]
    message = values[-1]["messages"][-1]
    assert isinstance(message, AIMessage)
    return message


def check_adds_up(chunks: list[AIMessageChunk], final: AIMessage) -> None:
    """The chunks add up to the final message exactly: text, annotations, offsets, metadata, id."""
    assert chunks and all(c.id == final.id for c in chunks)
    assert message_chunk_to_message(chunks[0] + chunks[1:]) == final
    # Each sentence chunk carries only its own sentence's citations, offsets into the answer.
    answer = final.text
    for k, chunk in enumerate(chunks[:-1]):
        for citation in citations_of(chunk):
            assert citation["extras"]["answer_sentence"] == k
            start, end = citation["start_index"], citation["end_index"]
            assert chunk.text.endswith(answer[start:end])


def check_repair_order(items: list[tuple[str, Any]]) -> None:
    """S1 streams after the first judgement; the repaired line and S4 (held back) only after it."""
    chunks = answer_chunks(items)
    assert [c.text for c in chunks] == [S1, f" {REGENERATED}", f" {S4}", ""]
    order = [
        ("chunk", item[0].text.strip()) if mode == "messages" else ("update", next(iter(item)))
        for mode, item in items
        if mode == "updates" or (mode == "messages" and is_answer_chunk(item[1]))
    ]
    steps = [name for kind, name in order if kind == "update"]
    assert steps.count("ground") == 2 and "repair" in steps
    first_ground, repair = order.index(("update", "ground")), order.index(("update", "repair"))
    assert order.index(("chunk", S1)) < first_ground
    assert repair < order.index(("chunk", REGENERATED)) < order.index(("chunk", S4))
    assert order[-2] == ("chunk", "") and order[-1] == ("update", "finalize")
    nodes = [meta["langgraph_node"] for _, (m, meta) in _messages(items) if is_answer_chunk(meta)]
    assert nodes == ["ground", "ground", "ground", "finalize"]
    # Each emission is one run; LangChain ends a run with chunk_position="last".
    assert [c.chunk_position for c in chunks] == ["last", None, "last", "last"]
    check_adds_up(chunks, final_message(items))


def test_sentences_stream_once_final_and_add_up_to_the_message() -> None:
    graph = create_genprog_graph(fabricating_model(THREE_LINES), plan_mode="text")
    items = run_stream(graph)
    check_repair_order(items)
    final = final_message(items)
    assert final.text == f"{S1} {REGENERATED} {S4}"
    assert FABRICATED not in "".join(c.text for c in answer_chunks(items))


async def test_async_stream_is_the_same() -> None:
    graph = create_genprog_graph(fabricating_model(THREE_LINES), plan_mode="text")
    check_repair_order(await arun_stream(graph))


def test_the_message_is_not_streamed_twice_and_other_models_are_untagged() -> None:
    graph = create_genprog_graph(fabricating_model(THREE_LINES), plan_mode="text")
    items = run_stream(graph)
    final = final_message(items)
    messages = _messages(items)
    ours = [m for _, (m, meta) in messages if m.id == final.id]
    assert all(isinstance(m, AIMessageChunk) for m in ours) and len(ours) == 4
    others = [(m, meta) for _, (m, meta) in messages if m.id != final.id]
    assert others and not any(ANSWER_TAG in (meta.get("tags") or []) for _, meta in others)
    assert {meta["langgraph_node"] for _, meta in others} <= {"plan", "execute", "repair"}


@pytest.mark.parametrize(
    ("program", "options", "texts"),
    [
        pytest.param("- S1\n- S4", {}, [S1, f" {S4}", ""], id="all-pass"),
        pytest.param(
            "- paraphrase(S1)\n- S4",
            {"max_regenerations": 0},
            [S1, f" {S4}", ""],  # replaced by its source at once: S4 waits for it
            id="replaced",
        ),
        pytest.param("- S1\n- S1\n- S4", {}, [S1, f" {S4}", ""], id="dropped"),
        pytest.param(
            "- S1\n- paraphrase(S3)",
            {"grounding": "off"},
            [S1, f" {FABRICATED}", ""],  # no gate: everything streams at finalize
            id="ungated",
        ),
    ],
)
def test_every_repair_kind_adds_up(program: str, options: dict[str, Any], texts: list[str]) -> None:
    graph = create_genprog_graph(fabricating_model(program), plan_mode="text", **options)
    items = run_stream(graph)
    chunks = answer_chunks(items)
    assert [c.text for c in chunks] == texts
    check_adds_up(chunks, final_message(items))


class SupportingMeasurer:
    """Measures every sentence as supported by its leaves, with a score (a scorer's verdict)."""

    name = "fake-support"

    def __init__(self) -> None:
        self.measured: list[str] = []

    def attribute(
        self, sentences: Sequence[AnswerSentence], sources: Sources, *, question: str | None = None
    ) -> AttributionResult:
        self.measured.extend(s.text for s in sentences)
        items = [
            SentenceAttribution(
                sentence=s,
                citations=[
                    CitedSource(sentence_id=i, score=0.75, method=self.name) for i in s.leaf_ids
                ],
                supported=True,
            )
            for s in sentences
        ]
        return AttributionResult(sentences=items, method=self.name, model_calls=1)


def paraphrasing_model() -> ScriptedChatModel:
    """Line 1 is a faithful paraphrase of S1 (measured); line 2 fabricates, then is regenerated."""

    def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        if "You write programs" in messages[0].text:
            return "- paraphrase(S1)\n- paraphrase(S3)"
        if "Options:" in messages[-1].text:
            return "1"
        if "approved" in messages[-1].text:
            return "On Monday the council approved the new park."
        return FABRICATED

    return ScriptedChatModel(respond=respond)


def test_a_streamed_sentence_keeps_its_measured_citations_through_a_repair() -> None:
    measurer = SupportingMeasurer()
    graph = create_genprog_graph(
        paraphrasing_model(), plan_mode="text", grounding=GroundingGate(measurer)
    )
    items = run_stream(graph)
    chunks, final = answer_chunks(items), final_message(items)
    assert chunks[0].text == "On Monday the council approved the new park."
    first = citations_of(chunks[0])
    assert first and all(c["extras"]["supported"] and c["extras"]["score"] == 0.75 for c in first)
    # The repair re-attributed only the repaired sentence: the streamed one keeps the
    # citations it was measured and streamed with, and is not measured again.
    assert [c for c in citations_of(final) if c["extras"]["answer_sentence"] == 0] == first
    assert measurer.measured.count(chunks[0].text) == 1
    state = [item for mode, item in items if mode == "values"][-1]
    assert [r.action for r in state["grounding"].repairs] == ["regenerated"]
    assert state["grounding"].verdicts[1].reason.count("measured support") == 1
    check_adds_up(chunks, final)


def test_a_second_run_on_a_thread_starts_a_new_answer_and_grounding() -> None:
    graph = create_genprog_graph(
        fabricating_model(), plan_mode="text", checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "two-questions"}}
    first = run_stream(graph, config=config)
    second = run_stream(graph, config=config)
    assert final_message(first).id != final_message(second).id
    for items in (first, second):
        check_adds_up(answer_chunks(items), final_message(items))
        state = [item for mode, item in items if mode == "values"][-1]
        assert state["grounding"].round == 1
        assert [r.action for r in state["grounding"].repairs] == ["regenerated", "regenerated"]


# --------------------------------------------------------------------------- pieces alone


def test_build_message_is_the_sum_of_its_chunks() -> None:
    sources = Sources.from_documents(INPUT["documents"])
    sentences = [
        AnswerSentence(index=0, text=S1, start=0, end=len(S1), leaf_ids=[1]),
        AnswerSentence(
            index=1, text=S4, start=len(S1) + 1, end=len(S1) + 1 + len(S4), leaf_ids=[4]
        ),
    ]
    result = ProgramLeavesAttributor().attribute(sentences, sources)
    answer = f"{S1} {S4}"
    message = build_message(answer, result, sources, metadata={"k": "v"}, message_id="m-1")
    chunks = sentence_chunks(answer, result, sources, message_id="m-1")
    assert [c.text for c in chunks] == [S1, f" {S4}"]
    assert message.id == "m-1" and message.text == answer
    again = build_message(answer, result, sources, metadata={"k": "v"}, message_id="m-1")
    assert again == message  # ids derive from the message id: rebuilt, it is the same
    assert build_message("", AttributionResult(), sources).text == ""


def test_stream_answer_outside_a_graph_streams_to_no_one() -> None:
    stream_answer([AIMessageChunk(content=[{"type": "text", "text": "x", "index": 0}], id="m")])
    stream_answer([])


def test_attribute_node_attributes_only_what_was_not_streamed() -> None:
    sources = Sources.from_documents(INPUT["documents"])
    s1 = AnswerSentence(index=0, text=S1, start=0, end=len(S1), leaf_ids=[1])
    s2 = AnswerSentence(index=1, text=S4, start=len(S1) + 1, end=len(S1) + 28, leaf_ids=[4])
    measured = SentenceAttribution(
        sentence=s1, citations=[CitedSource(sentence_id=1, score=0.5)], supported=True
    )
    state: GenProgState = {
        "sources": sources,
        "answer_sentences": [s1, s2],
        "attribution": AttributionResult(sentences=[measured], method="program+fake"),
        "streamed": 1,
    }
    events: list[Any] = []
    runtime = Runtime(context=GenProgContext(), stream_writer=events.append)
    update = AttributeNode(ProgramLeavesAttributor())(state, runtime)
    items = update["attribution"].sentences
    assert items[0] == measured and items[1].sentence == s2 and items[1].supported is None
    changed = {**state, "answer_sentences": [s1.model_copy(update={"text": "Other."}), s2]}
    with pytest.raises(GenProgError, match="changed after it was streamed"):
        AttributeNode(ProgramLeavesAttributor())(changed, runtime)  # type: ignore[arg-type]
