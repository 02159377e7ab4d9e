"""GenProgChain in a real RAG pipeline: MiniLM retrieval + the embedded SmolLM2 model.

The first MDS example's documents are chunked into a real ``InMemoryVectorStore``
over the embedded all-MiniLM-L6-v2 embeddings; the chain retrieves for a plain
question, plans and executes a program with the embedded chat model, and every
citation must point into what was retrieved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_genprog.chains import PROGRESS_EVENT, CitedAnswer, create_genprog_chain
from langchain_genprog.citations import citations_of

pytestmark = pytest.mark.slow

QUESTION = "How many governorships do Republicans currently hold?"
FACT = "Republicans currently hold 29 governorships"


def mds_chunks(path: Path, size: int = 4) -> list[Document]:
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
                }
                chunks.append(Document(page_content=text, metadata=metadata))
    return chunks


@pytest.fixture(scope="module")
def retriever(mds_path: Path) -> Any:
    from langchain_genprog.models import default_embeddings

    store = InMemoryVectorStore.from_documents(mds_chunks(mds_path), default_embeddings())
    return store.as_retriever(search_kwargs={"k": 3})


def test_real_retrieval_finds_the_fact(retriever: Any) -> None:
    retrieved = retriever.invoke(QUESTION)
    assert len(retrieved) == 3
    assert any(FACT in doc.page_content for doc in retrieved[:2])


async def test_chain_answers_from_retrieved_chunks(embedded_llm: Any, retriever: Any) -> None:
    retrieved = await retriever.ainvoke(QUESTION)
    chain = create_genprog_chain(embedded_llm, retriever=retriever, max_sentences=2)

    progress: list[dict[str, Any]] = []
    final: list[Any] = []
    async for event in chain.astream_events(QUESTION, version="v2"):
        if event["event"] == "on_custom_event" and event["name"] == PROGRESS_EVENT:
            progress.append(event["data"])
        elif event["event"] == "on_chain_end" and event["name"] == "GenProgChain":
            final.append(event["data"]["output"])
    assert {p["step"] for p in progress} >= {"segment", "plan", "execute", "attribute"}
    (message,) = final

    program = message.response_metadata["program"]
    assert 1 <= len(program.splitlines()) <= 2
    citations = citations_of(message)
    assert citations, "every produced sentence is cited"
    texts = [doc.page_content for doc in retrieved]
    titles = {doc.metadata["title"] for doc in retrieved}
    for citation in citations:
        assert any(citation["cited_text"] in text for text in texts)
        assert citation["title"] in titles
        assert 0 <= citation["start_index"] < citation["end_index"] <= len(message.text)
    answer = CitedAnswer.from_message(message)
    assert "[S" in answer.answer_with_markers and answer.program == program
