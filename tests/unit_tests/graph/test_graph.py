from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from langchain_genprog.citations import citations_of
from langchain_genprog.errors import InvalidInputError, InvalidSourcesError, PlanningError
from langchain_genprog.graph import build_genprog_graph, create_genprog_graph
from langchain_genprog.plan.planner import PlanResult
from tests.unit_tests.fakes import ScriptedChatModel, first_choice

DOCS = [
    Document(
        page_content="The council approved the park on Monday. It will cost two million dollars.",
        metadata={"title": "City news", "url": "https://example.org/a"},
    ),
    "Residents wanted {green} space. The mayor praised the vote.",
]


def _operation_reply(messages: list[BaseMessage]) -> str:
    """A deterministic 'operation': the first quoted/listed input, upper-cased first word."""
    text = messages[-1].text
    words = re.findall(r"[A-Za-z]+", text.split("\n", 1)[-1])
    return " ".join(words[-6:]).capitalize() + "."


def grammar_model(fail_on: str | None = None) -> ScriptedChatModel:
    def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        grammar = kwargs.get("grammar")
        if grammar is not None and "sid ::=" in grammar:
            ids = re.findall(r'"S(\d+)"', grammar.split("sid ::=")[1].splitlines()[0])
            if "END" in grammar and len(ids) < 3:
                return "END"
            return f"- fusion(S{ids[0]}, S{ids[1]})\n"
        if fail_on and fail_on in messages[-1].text:
            raise RuntimeError("model crashed")
        if grammar is not None:
            return first_choice(grammar)  # a grounded operation: pick the first rewrite
        return _operation_reply(messages)

    return ScriptedChatModel(respond=respond, supports_grammar=True)


def test_invoke_produces_cited_message() -> None:
    graph = create_genprog_graph(grammar_model(), checkpointer=InMemorySaver())
    state = graph.invoke(
        {"question": "What did the council do?", "documents": DOCS},
        {"configurable": {"thread_id": "t1"}},
    )
    message = state["messages"][-1]
    assert isinstance(message, AIMessage)
    answer = state["answer"]
    assert message.text == answer and answer
    citations = citations_of(message)
    assert citations
    sources = state["sources"]
    for citation in citations:
        extras = citation["extras"]
        sentence = sources.sentence(extras["source_sentence"])
        assert citation["cited_text"] == sentence.text
        assert extras["sentence_id"] == f"S{sentence.id}"
        assert extras["method"] == "program" and extras["from_program"] is True
        span = answer[citation["start_index"] : citation["end_index"]]
        assert span == state["answer_sentences"][extras["answer_sentence"]].text
    assert citations[0]["title"] in {"City news", "Document 2"}
    assert isinstance(state["plan"], PlanResult)
    assert message.response_metadata["program"] == state["plan"].program.render()
    assert message.response_metadata["failures"] == []


def test_leaves_of_each_line_are_its_citations() -> None:
    graph = create_genprog_graph(grammar_model())
    state = graph.invoke({"question": "council", "documents": DOCS})
    by_sentence: dict[int, set[int]] = {}
    for citation in citations_of(state["messages"][-1]):
        by_sentence.setdefault(citation["extras"]["answer_sentence"], set()).add(
            citation["extras"]["source_sentence"]
        )
    for sentence, line in zip(state["answer_sentences"], state["plan"].program.lines, strict=True):
        assert by_sentence[sentence.index] == set(line.leaves())


def test_custom_stream_reports_progress_per_node() -> None:
    graph = create_genprog_graph(grammar_model())
    events = [
        chunk
        for mode, chunk in graph.stream(
            {"question": "council", "documents": DOCS}, stream_mode=["custom", "updates"]
        )
        if mode == "custom"
    ]
    steps = [e["step"] for e in events]
    assert steps[0] == "segment" and "plan" in steps and "attribute" in steps
    executed = [e for e in events if e["step"] == "execute"]
    assert executed and all(e["operation"] == "fusion" and e["error"] is None for e in executed)


def test_updates_and_messages_stream_modes() -> None:
    graph = create_genprog_graph(grammar_model())
    updates = [c for c in graph.stream({"documents": DOCS}, stream_mode="updates")]
    # Each operation call is a durable task, whose trace is an update of its own.
    operations = [u["genprog_operation"] for u in updates if "genprog_operation" in u]
    steps = [next(iter(u)) for u in updates if "genprog_operation" not in u]
    assert operations and all(op["operation"] == "fusion" for op in operations)
    assert steps == [
        "segment",
        "plan",
        "execute",
        "attribute",
        "ground",  # every sentence passed the grounding gate: no repair round
        "finalize",
    ]
    streamed = list(graph.stream({"documents": DOCS}, stream_mode="messages"))
    assert any(isinstance(chunk, BaseMessage) for chunk, _meta in streamed)


async def test_ainvoke_and_batch_agree_with_invoke() -> None:
    graph = create_genprog_graph(grammar_model())
    sync = graph.invoke({"question": "council", "documents": DOCS})
    asynchronous = await graph.ainvoke({"question": "council", "documents": DOCS})
    batched = graph.batch([{"question": "council", "documents": DOCS}] * 2)
    assert asynchronous["answer"] == sync["answer"]
    assert [b["answer"] for b in batched] == [sync["answer"]] * 2


def test_question_from_last_human_message() -> None:
    llm = grammar_model()
    graph = create_genprog_graph(llm)
    state = graph.invoke({"messages": [HumanMessage("What about the mayor?")], "documents": DOCS})
    assert "Question: What about the mayor?" in llm.calls[0][0][-1].text
    assert isinstance(state["messages"][-1], AIMessage)
    assert state["messages"][0].text == "What about the mayor?"


def test_failed_operation_is_reported_not_dropped() -> None:
    graph = create_genprog_graph(grammar_model(fail_on="council approved"), max_node_retries=1)
    state = graph.invoke({"question": "council", "documents": DOCS})
    failures = state["messages"][-1].response_metadata["failures"]
    assert failures and "model crashed" in failures[0]["error"]
    assert len(state["execution"].lines) == len(state["plan"].program.lines)
    assert len(state["answer_sentences"]) == len(state["plan"].program.lines) - len(failures)


def test_sqlite_checkpointer_persists_typed_state(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(tmp_path / "threads.sqlite", check_same_thread=False)
    graph = create_genprog_graph(grammar_model(), checkpointer=SqliteSaver(connection))
    config = {"configurable": {"thread_id": "thread-1"}}
    first = graph.invoke({"question": "council", "documents": DOCS}, config)
    reopened = create_genprog_graph(
        grammar_model(),
        checkpointer=SqliteSaver(
            sqlite3.connect(tmp_path / "threads.sqlite", check_same_thread=False)
        ),
    )
    saved = reopened.get_state(config).values
    assert isinstance(saved["plan"], PlanResult)
    assert saved["answer"] == first["answer"]
    assert saved["sources"].sentence(1).text == first["sources"].sentence(1).text
    history = list(reopened.get_state_history(config))
    assert len(history) >= 6  # input + one checkpoint per node
    second = reopened.invoke({"question": "mayor", "documents": DOCS}, config)
    assert len(second["messages"]) == 2


@pytest.mark.parametrize(
    ("payload", "error", "fragment"),
    [
        ({"question": "q"}, InvalidInputError, "no 'documents'"),
        ({"documents": []}, InvalidSourcesError, "no source documents"),
        ({"documents": ["  "]}, InvalidSourcesError, "empty or only whitespace"),
        ({"documents": "text"}, InvalidInputError, "must be a list"),
        ({"documents": [{"text": "x"}]}, InvalidInputError, "without 'page_content'"),
        ({"documents": ["ok."], "question": 3}, InvalidInputError, "question must be a string"),
    ],
)
def test_bad_input_raises_typed_errors(payload: dict, error: type, fragment: str) -> None:
    graph = create_genprog_graph(grammar_model())
    with pytest.raises(error, match=fragment):
        graph.invoke(payload)


def test_garbage_model_raises_planning_error_with_issues() -> None:
    llm = ScriptedChatModel(respond=lambda messages, kwargs: "I cannot do that.")
    graph = create_genprog_graph(llm, plan_mode="text", max_plan_retries=1)
    with pytest.raises(PlanningError, match="2 attempt") as info:
        graph.invoke({"question": "q", "documents": DOCS})
    assert info.value.issues


def test_documents_as_dicts_like_the_server_api_sends() -> None:
    graph = create_genprog_graph(grammar_model())
    state = graph.invoke(
        {"documents": [{"page_content": "Alpha beta. Gamma delta.", "metadata": {"title": "T"}}]}
    )
    assert state["sources"].documents[0].title == "T"


def test_builder_returns_uncompiled_graph_with_pipeline_nodes() -> None:
    graph = build_genprog_graph(grammar_model())
    assert list(graph.nodes) == [
        "segment",
        "plan",
        "execute",
        "attribute",
        "ground",
        "repair",
        "finalize",
    ]
