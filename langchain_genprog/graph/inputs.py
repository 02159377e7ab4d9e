"""Reading the caller's input out of the graph state: the question and the documents.

The graph accepts what LangGraph clients send, not only Python objects: the
question may come as ``question`` or as the last human chat message, and
documents may be ``{"page_content": ..., "metadata": ...}`` dicts (the JSON
form the LangGraph Server API carries). These readers turn that into what the
steps expect, and raise :class:`~langchain_genprog.errors.InvalidInputError`
with what to fix when they cannot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import HumanMessage

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.segment.documents import coerce_documents


def question_of(state: Mapping[str, Any]) -> str | None:
    """The question: ``state["question"]``, else the last human message, else ``None``.

    ``None`` (or a blank question) means "summarize the documents".

    Raises:
        InvalidInputError: If ``question`` is given but is not a string.
    """
    question = state.get("question")
    if question is not None and not isinstance(question, str):
        raise InvalidInputError(f"question must be a string, got {type(question).__name__}")
    if question and question.strip():
        return question.strip()
    for message in reversed(state.get("messages") or []):
        if isinstance(message, HumanMessage) and message.text.strip():
            return message.text.strip()
    return None


def documents_of(state: Mapping[str, Any]) -> list[Document | str | bytes]:
    """The documents, with server-style dicts turned into ``Document`` objects.

    Raises:
        InvalidInputError: If there are no documents, or one is malformed (see
            :func:`~langchain_genprog.segment.documents.coerce_documents`).
    """
    documents = state.get("documents")
    if documents is None:
        raise InvalidInputError("the input has no 'documents'; pass a list of documents")
    return coerce_documents(documents)
