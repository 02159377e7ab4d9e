"""GenProgChain as a composition: one input model at the entrance, the graph, the message."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda, RunnableSequence
from pydantic import BaseModel

from langchain_genprog.chains import (
    GenProgChainInput,
    GenProgRetrievalInput,
    create_genprog_chain,
    read_input,
)
from langchain_genprog.errors import InvalidInputError
from tests.unit_tests.chain_fakes import genprog_model

PARK = ["The council approved the park. It will cost two million dollars.", "Work starts in May."]


def park_retriever(calls: list[str]) -> Any:
    def retrieve(query: str) -> list[Document]:
        calls.append(query)
        return [Document(page_content=text) for text in PARK]

    return RunnableLambda(retrieve)


def test_pipeline_is_retrieve_graph_message() -> None:
    chain = create_genprog_chain(genprog_model())
    pipeline = chain.pipeline
    assert isinstance(pipeline, RunnableSequence) and len(pipeline.steps) == 3
    assert pipeline.get_name() == "GenProgChain"
    assert pipeline.steps[1].graph is chain.graph  # type: ignore[attr-defined]


def test_one_model_reads_every_request() -> None:
    request = read_input({"question": "  Who?  ", "documents": PARK}, GenProgChainInput)
    assert request.question == "Who?" and request.documents == PARK
    assert read_input({"documents": PARK}, GenProgChainInput).question is None
    # A validated request of the right schema is not validated again.
    assert read_input(request, GenProgChainInput) is request
    # Dicts and bytes are left for the graph, which owns document validation.
    raw = [{"page_content": "x"}, b"y"]
    assert read_input({"documents": raw}, GenProgChainInput).documents == raw


def test_any_model_with_question_and_documents_is_accepted() -> None:
    class Args(BaseModel):
        question: str
        documents: list[str]

    request = read_input(Args(question="q", documents=PARK), GenProgChainInput)
    assert (request.question, request.documents) == ("q", PARK)


def test_retrieval_input_rules() -> None:
    assert read_input("q", GenProgRetrievalInput).question == "q"
    with_docs = read_input({"documents": PARK}, GenProgRetrievalInput)
    assert with_docs.question is None and with_docs.documents == PARK
    for blank in ("  ", {"question": " "}, {}, {"question": None}):
        with pytest.raises(InvalidInputError, match="non-blank question"):
            read_input(blank, GenProgRetrievalInput)
    with pytest.raises(InvalidInputError, match="must be a string"):
        read_input({"question": ["q"]}, GenProgRetrievalInput)
    with pytest.raises(InvalidInputError, match="got list"):
        read_input([PARK], GenProgChainInput)


def test_retrieval_only_when_documents_are_missing() -> None:
    calls: list[str] = []
    chain = create_genprog_chain(genprog_model(), retriever=park_retriever(calls))
    chain.invoke("What was decided?")
    chain.invoke({"question": "q", "documents": PARK})
    assert calls == ["What was decided?"]
    with pytest.raises(InvalidInputError, match="non-blank question"):
        chain.invoke("   ")  # was an AssertionError before the input model


async def test_async_retrieval_uses_the_async_retriever() -> None:
    calls: list[str] = []
    chain = create_genprog_chain(genprog_model(), retriever=park_retriever(calls))
    message = await chain.ainvoke("What was decided?")
    assert calls == ["What was decided?"] and message.text


def test_tool_positional_question_reaches_a_retriever_chain() -> None:
    calls: list[str] = []
    tool = create_genprog_chain(genprog_model(), retriever=park_retriever(calls)).as_tool()
    content = tool.invoke("What was decided?")
    assert calls == ["What was decided?"] and "[S1]" in content
