"""GenProgChain: the Runnable adapter over the compiled graph, offline.

The model is scripted (it plans ``fusion(Sa, compression(Sb))`` and
``paraphrase(Sc)`` over the first ids it is offered and answers each operation
with its input), everything else is real: the graph, the vector store, the
tools, the callbacks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.messages.utils import message_chunk_to_message
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import RunnableConfig, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore
from langgraph.checkpoint.memory import InMemorySaver

from langchain_genprog.chains import (
    MARKERS_KEY,
    PROGRESS_EVENT,
    CitedAnswer,
    GenProgChain,
    GenProgChainInput,
    GenProgRetrievalInput,
    _FinalMessage,
    create_genprog_chain,
)
from langchain_genprog.citations import citations_of
from langchain_genprog.errors import InvalidInputError, InvalidSourcesError
from langchain_genprog.graph import create_genprog_graph
from tests.unit_tests.chain_fakes import genprog_model, planner_calls

PARK = [
    "The council approved the park. It will cost two million dollars. Work starts in May.",
    "Residents wanted green space. The mayor praised the vote.",
]
PARK_ANSWER = "The council approved the park. It will cost two million dollars. Work starts in May."
LIBRARY = [
    "The library reopened on Monday. It now has a children's wing.",
    "Visitors praised the new reading rooms.",
]


def without_ids(citations: list[Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "id"} for c in citations]


def check_park_message(message: AIMessage) -> None:
    assert isinstance(message, AIMessage)
    assert message.text == PARK_ANSWER
    citations = citations_of(message)
    # Sentence 1 came from fusion(S1, compression(S2)), sentence 2 from paraphrase(S3).
    cited = [(c["extras"]["answer_sentence"], c["extras"]["sentence_id"]) for c in citations]
    assert cited == [(0, "S1"), (0, "S2"), (1, "S3")]
    assert [c["cited_text"] for c in citations] == [
        "The council approved the park.",
        "It will cost two million dollars.",
        "Work starts in May.",
    ]
    for citation in citations:
        span = message.text[citation["start_index"] : citation["end_index"]]
        assert citation["cited_text"] in span  # the scripted model copies its input
    metadata = message.response_metadata
    assert metadata["program"] == "- fusion(S1, compression(S2))\n- paraphrase(S3)"
    assert metadata[MARKERS_KEY] == (
        "The council approved the park. It will cost two million dollars. [S1][S2] "
        "Work starts in May. [S3]"
    )
    assert metadata["failures"] == []


class RunRecorder(BaseCallbackHandler):
    """Records chain runs (name, id, parent) and custom events."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, UUID, UUID | None]] = []
        self.events: list[tuple[str, Any, UUID]] = []

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self.runs.append((str(kwargs.get("name")), run_id, parent_run_id))

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data, run_id))


# --------------------------------------------------------------------------- invoke


def test_invoke_returns_cited_message_from_the_graph() -> None:
    model = genprog_model()
    chain = create_genprog_chain(model)
    message = chain.invoke({"question": "What was decided?", "documents": PARK})
    check_park_message(message)
    # One planner call and one call per model operation (fusion, compression, paraphrase).
    assert len(model.calls) == 4
    assert "Question: What was decided?" in planner_calls(model)[0]


async def test_ainvoke_matches_invoke() -> None:
    chain = create_genprog_chain(genprog_model())
    message = await chain.ainvoke(
        {"question": "What was decided?", "documents": [Document(page_content=t) for t in PARK]}
    )
    check_park_message(message)


def test_batch_keeps_inputs_apart() -> None:
    chain = create_genprog_chain(genprog_model())
    park, library = chain.batch(
        [
            {"question": "What was decided?", "documents": PARK},
            {"question": "What reopened?", "documents": LIBRARY},
        ]
    )
    check_park_message(park)
    assert library.text == (
        "The library reopened on Monday. It now has a children's wing. "
        "Visitors praised the new reading rooms."
    )
    assert [c["cited_text"] for c in citations_of(library)] == [
        "The library reopened on Monday.",
        "It now has a children's wing.",
        "Visitors praised the new reading rooms.",
    ]


async def test_abatch() -> None:
    chain = create_genprog_chain(genprog_model())
    messages = await chain.abatch([{"question": "q", "documents": PARK}] * 2)
    for message in messages:
        check_park_message(message)


def test_without_question_it_summarizes() -> None:
    model = genprog_model()
    message = create_genprog_chain(model).invoke({"documents": PARK})
    check_park_message(message)
    assert "Task: summarize" in planner_calls(model)[0]


def test_wraps_an_existing_graph() -> None:
    graph = create_genprog_graph(genprog_model(), max_sentences=1, name="mine")
    chain = GenProgChain(graph=graph)
    message = chain.invoke({"question": "q", "documents": PARK})
    # max_sentences=1 reached the planner through the graph: only the first line is kept.
    assert message.response_metadata["program"] == "- fusion(S1, compression(S2))"
    assert message.response_metadata["plan_retries"] == 1
    assert chain.graph is graph


# --------------------------------------------------------------------------- stream


PARK_SENTENCES = [
    "The council approved the park. It will cost two million dollars.",
    " Work starts in May.",
]


def check_park_stream(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    """One chunk per answer sentence with its own citations, then the closing one; their sum."""
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert [c.text for c in chunks] == [*PARK_SENTENCES, ""]
    cited = [[c["extras"]["sentence_id"] for c in citations_of(chunk)] for chunk in chunks]
    assert cited == [["S1", "S2"], ["S3"], []]
    assert [c.chunk_position for c in chunks] == [None, None, "last"]
    assert not any(c.response_metadata for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1
    total = chunks[0] + chunks[1:]
    check_park_message(message_chunk_to_message(total))  # type: ignore[arg-type]
    return total


def test_stream_yields_each_sentence_with_its_citations() -> None:
    # Was: one chunk equal to the final message. Now one chunk per sentence as the
    # gate passes it, adding up to the message.
    chain = create_genprog_chain(genprog_model())
    request = {"question": "What was decided?", "documents": PARK}
    total = check_park_stream(list(chain.stream(request)))
    invoked = chain.invoke(request)
    assert without_ids(citations_of(total)) == without_ids(citations_of(invoked))
    assert total.response_metadata == invoked.response_metadata


def test_streamed_chunks_add_up_to_the_message_of_their_run_exactly() -> None:
    graph = create_genprog_graph(genprog_model(), checkpointer=InMemorySaver())
    chain = GenProgChain(graph=graph)
    config: RunnableConfig = {"configurable": {"thread_id": "stream"}}
    chunks = list(chain.stream({"question": "q", "documents": PARK}, config))
    message = graph.get_state(config).values["messages"][-1]
    total = message_chunk_to_message(chunks[0] + chunks[1:])
    marked = chunks[-1].response_metadata[MARKERS_KEY]
    expected = message.model_copy(
        update={"response_metadata": {**message.response_metadata, MARKERS_KEY: marked}}
    )
    assert total == expected  # text, Citation annotations with their ids and offsets, id


def test_final_step_streams_one_chunk_when_nothing_was_streamed_before_it() -> None:
    # A graph that does not stream its answer (e.g. a custom one) still streams
    # its message, as one chunk.
    state = create_genprog_graph(genprog_model()).invoke({"question": "q", "documents": PARK})
    chunks = list(_FinalMessage().transform(iter([state])))
    assert len(chunks) == 1 and isinstance(chunks[0], AIMessageChunk)
    assert chunks[0].chunk_position == "last"
    check_park_message(chunks[0])


def test_stream_through_an_output_parser() -> None:
    chain = create_genprog_chain(genprog_model()) | StrOutputParser()
    text = "".join(chain.stream({"question": "q", "documents": PARK}))
    assert text == PARK_ANSWER


async def test_astream_and_progress_events() -> None:
    chain = create_genprog_chain(genprog_model())
    request = {"question": "What was decided?", "documents": PARK}
    check_park_stream([chunk async for chunk in chain.astream(request)])

    progress: list[dict[str, Any]] = []
    ended: list[Any] = []
    async for event in chain.astream_events(request, version="v2"):
        if event["event"] == "on_custom_event" and event["name"] == PROGRESS_EVENT:
            progress.append(event["data"])
        if event["event"] == "on_chain_end" and event["name"] == "GenProgChain":
            ended.append(event["data"]["output"])
    steps = [p["step"] for p in progress]
    assert steps[:2] == ["segment", "plan"] and steps[-2:] == ["attribute", "ground"]
    executed = sorted(p["operation"] for p in progress if p["step"] == "execute")
    assert executed == ["compression", "fusion", "paraphrase"]
    assert len(ended) == 1 and ended[0].text == PARK_ANSWER


def test_with_config_traces_the_graph_as_a_child_run() -> None:
    recorder = RunRecorder()
    chain = create_genprog_chain(genprog_model()).with_config(
        run_name="cited-answer", callbacks=[recorder]
    )
    chain.invoke({"question": "q", "documents": PARK})
    root = [r for r in recorder.runs if r[0] == "cited-answer"]
    assert len(root) == 1 and root[0][2] is None
    graph_runs = [r for r in recorder.runs if r[0] == "genprog"]
    assert len(graph_runs) == 1 and graph_runs[0][2] == root[0][1]
    # Progress is dispatched on the chain's own run, even for invoke.
    assert {e[0] for e in recorder.events} == {PROGRESS_EVENT}
    assert {e[2] for e in recorder.events} == {root[0][1]}


# --------------------------------------------------------------------------- errors


def test_input_errors_are_typed() -> None:
    chain = create_genprog_chain(genprog_model())
    with pytest.raises(InvalidInputError, match="retriever"):
        chain.invoke("What was decided?")
    with pytest.raises(InvalidInputError, match="no 'documents'"):
        chain.invoke({"question": "q"})
    with pytest.raises(InvalidInputError, match="unexpected input key"):
        chain.invoke({"question": "q", "docs": PARK})
    with pytest.raises(InvalidInputError, match="question must be a string"):
        chain.invoke({"question": 3, "documents": PARK})
    with pytest.raises(InvalidSourcesError):
        chain.invoke({"question": "q", "documents": []})


# --------------------------------------------------------------------------- as_tool


def test_as_tool_args_schema_is_the_input_schema() -> None:
    tool = create_genprog_chain(genprog_model()).as_tool()
    assert tool.name == "answer_with_citations"
    assert tool.args_schema is GenProgChainInput
    assert set(tool.tool_call_schema.model_json_schema()["properties"]) == {  # type: ignore[union-attr]
        "question",
        "documents",
    }
    assert "[S#]" in tool.description


def test_as_tool_answers_with_markers_and_returns_citations() -> None:
    tool = create_genprog_chain(genprog_model()).as_tool(name="cite")
    call = {
        "type": "tool_call",
        "id": "call-1",
        "name": "cite",
        "args": {"question": "What was decided?", "documents": PARK},
    }
    message = tool.invoke(call)
    assert isinstance(message, ToolMessage)
    assert message.content.splitlines()[0] == (
        "The council approved the park. It will cost two million dollars. [S1][S2] "
        "Work starts in May. [S3]"
    )
    assert "[S2] (Document 1) It will cost two million dollars." in message.content
    artifact = message.artifact
    assert isinstance(artifact, CitedAnswer)
    assert artifact.answer == PARK_ANSWER
    assert [c["extras"]["sentence_id"] for c in artifact.citations] == ["S1", "S2", "S3"]
    assert artifact.program == "- fusion(S1, compression(S2))\n- paraphrase(S3)"


async def test_as_tool_async_and_plain_args() -> None:
    tool = create_genprog_chain(genprog_model()).as_tool()
    content = await tool.ainvoke(
        {"question": "q", "documents": [{"page_content": PARK[0]}, PARK[1]]}
    )
    assert "[S1][S2]" in content and "[S3]" in content


# --------------------------------------------------------------------------- retriever


def mds_chunks(path: Path, size: int = 4) -> list[Document]:
    """The first MDS example's documents, cut into chunks of ``size`` sentences."""
    with path.open() as handle:
        example = json.loads(handle.readline())
    chunks: list[Document] = []
    for document in example["documents"]:
        sentences = document["documentText"]
        for start in range(0, len(sentences), size):
            text = "".join(sentences[start : start + size]).strip()
            if text:
                metadata = {
                    "title": f"{document['documentFile']} part {start // size + 1}",
                    "documentFile": document["documentFile"],
                    "first_sentence": start,
                }
                chunks.append(Document(page_content=text, metadata=metadata))
    return chunks


@pytest.fixture
def mds_retriever(mds_path: Path) -> Any:
    chunks = mds_chunks(mds_path)
    store = InMemoryVectorStore.from_documents(chunks, DeterministicFakeEmbedding(size=64))
    return store.as_retriever(search_kwargs={"k": 3})


QUESTION = "How many governorships do Republicans hold?"


def check_grounded_in(message: AIMessage, retrieved: list[Document]) -> None:
    citations = citations_of(message)
    assert citations, "the answer has no citations"
    texts = [d.page_content for d in retrieved]
    titles = {d.metadata["title"] for d in retrieved}
    for citation in citations:
        assert any(citation["cited_text"] in text for text in texts)
        assert citation["title"] in titles


def test_retriever_fetches_documents_for_a_plain_question(mds_retriever: Any) -> None:
    model = genprog_model()
    chain = create_genprog_chain(model, retriever=mds_retriever)
    assert chain.get_input_schema() is GenProgRetrievalInput
    retrieved = mds_retriever.invoke(QUESTION)
    assert len(retrieved) == 3

    message = chain.invoke(QUESTION)
    check_grounded_in(message, retrieved)
    prompt = planner_calls(model)[0]
    # The planner saw the retrieved chunks as its documents, in retrieval order.
    headers = [line[2:] for line in prompt.splitlines() if line.startswith("# ")]
    assert headers == [doc.metadata["title"] for doc in retrieved]
    # A dict with only the question works the same; explicit documents skip retrieval.
    assert chain.invoke({"question": QUESTION}).text == message.text
    assert chain.invoke({"question": "q", "documents": PARK}).text == PARK_ANSWER


class RetrievalRecorder(RunRecorder):
    def on_retriever_start(
        self,
        serialized: Any,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self.runs.append(("retriever:" + query, run_id, parent_run_id))


def test_retriever_run_is_traced_under_the_chain(mds_retriever: Any) -> None:
    recorder = RetrievalRecorder()
    chain = create_genprog_chain(genprog_model(), retriever=mds_retriever)
    chain.invoke(QUESTION, {"callbacks": [recorder]})
    root = next(r for r in recorder.runs if r[0] == "GenProgChain")
    retrieval = next(r for r in recorder.runs if r[0].startswith("retriever:"))
    assert retrieval[0] == f"retriever:{QUESTION}" and retrieval[2] == root[1]


async def test_retriever_chain_async_stream_and_tool(mds_retriever: Any) -> None:
    chain = create_genprog_chain(genprog_model(), retriever=mds_retriever)
    retrieved = await mds_retriever.ainvoke(QUESTION)
    chunks = [c async for c in chain.astream(QUESTION)]
    streamed = message_chunk_to_message(chunks[0] + chunks[1:])
    check_grounded_in(streamed, retrieved)  # type: ignore[arg-type]

    tool = chain.as_tool()
    assert set(tool.tool_call_schema.model_json_schema()["properties"]) == {"question"}  # type: ignore[union-attr]
    message = await tool.ainvoke(
        {"type": "tool_call", "id": "c", "name": tool.name, "args": {"question": QUESTION}}
    )
    assert isinstance(message.artifact, CitedAnswer)
    assert message.artifact.answer == streamed.text


def test_lcel_composition_with_a_retriever(mds_retriever: Any) -> None:
    # The classic RAG shape: {"question": passthrough, "documents": retriever} | chain.
    rag = (
        {"question": RunnablePassthrough(), "documents": mds_retriever}
        | create_genprog_chain(genprog_model())
        | StrOutputParser()
    )
    built_in = create_genprog_chain(genprog_model(), retriever=mds_retriever)
    assert rag.invoke(QUESTION) == built_in.invoke(QUESTION).text


def test_retriever_chain_needs_a_question(mds_retriever: Any) -> None:
    chain = create_genprog_chain(genprog_model(), retriever=mds_retriever)
    with pytest.raises(InvalidInputError, match="non-blank question"):
        chain.invoke({"question": "  "})


def test_as_tool_reports_bad_documents_to_the_model() -> None:
    tool = create_genprog_chain(genprog_model()).as_tool()
    reply = tool.invoke(
        {
            "type": "tool_call",
            "id": "x",
            "name": tool.name,
            "args": {"question": "q", "documents": ["   "]},
        }
    )
    assert reply.status == "error"
    assert reply.content.startswith("InvalidSourcesError:")
