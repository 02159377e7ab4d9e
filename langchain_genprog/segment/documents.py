"""Source documents as callers send them → checked ``(text, metadata)`` pairs.

Documents arrive as ``Document`` objects, strings, UTF-8 bytes, or — over the
LangGraph Server API, where nothing is a Python object — plain dicts shaped
like a serialized ``Document``. This module is the one entrance for all of
them: each fault (a ``None`` or numeric ``page_content``, ``metadata`` that is
a string or a list, a document past the size limits) becomes a typed error
naming the document and saying what to fix, before anything deep inside the
graph can fail on it with an untyped one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.documents import Document

from langchain_genprog.errors import InvalidInputError, InvalidSourcesError
from langchain_genprog.limits import MAX_DOCUMENT_CHARS, MAX_DOCUMENTS, MAX_TOTAL_CHARS

SENTENCES_METADATA_KEY = "sentences"
"""Document metadata key holding a pre-split list of sentences (used as given)."""

_DICT_KEYS = frozenset({"page_content", "metadata", "id", "type"})


def coerce_documents(documents: Any) -> list[Document | str | bytes]:
    """Turn the ``documents`` input into ``Document`` objects, strings or bytes.

    Dicts (``{"page_content": ..., "metadata": {...}}``, as sent over the
    server API) become ``Document`` objects once their fields are checked;
    other items pass through and are checked by :func:`document_text`.

    Args:
        documents: The ``documents`` value a caller sent.

    Raises:
        InvalidInputError: If ``documents`` is not a list, or a dict item has
            no ``page_content``, a ``page_content`` that is not text, or
            ``metadata`` that is not a dict.
        InvalidSourcesError: If there are more than
            :data:`~langchain_genprog.limits.MAX_DOCUMENTS` documents.
    """
    if not isinstance(documents, (list, tuple)):
        raise InvalidInputError("'documents' must be a list of documents or strings")
    check_count(documents)
    return [
        _from_dict(doc, k) if isinstance(doc, Mapping) else doc for k, doc in enumerate(documents)
    ]


def check_count(documents: Sequence[object]) -> None:
    """Raise if there are more documents than the documented limit."""
    if len(documents) > MAX_DOCUMENTS:
        msg = (
            f"{len(documents)} documents were given; at most {MAX_DOCUMENTS} are accepted "
            "(langchain_genprog.limits.MAX_DOCUMENTS): retrieve or select fewer"
        )
        raise InvalidSourcesError(msg)


def _from_dict(doc: Mapping[Any, Any], index: int) -> Document:
    if "page_content" not in doc:
        unknown = sorted(str(key) for key in doc if key not in _DICT_KEYS)
        hint = f" (it has {', '.join(unknown)})" if unknown else ""
        msg = (
            f"document {index} is a dict without 'page_content'{hint}; "
            'send {"page_content": "<text>", "metadata": {...}}'
        )
        raise InvalidInputError(msg)
    content = doc["page_content"]
    if isinstance(content, bytes):
        content = decode_utf8(content, index)
    if not isinstance(content, str):
        msg = (
            f"document {index}: 'page_content' must be a string, got {type(content).__name__}; "
            "send the document's text"
        )
        raise InvalidInputError(msg)
    metadata = doc.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        msg = (
            f"document {index}: 'metadata' must be a dict such as "
            f'{{"title": "..."}}, got {type(metadata).__name__}'
        )
        raise InvalidInputError(msg)
    doc_id = doc.get("id")
    return Document(
        page_content=content,
        metadata=dict(metadata),
        id=doc_id if isinstance(doc_id, str) else None,
    )


def document_text(raw: object, index: int) -> tuple[str, dict[str, Any]]:
    """The text and (copied) metadata of one document, checked.

    A document with blank text but a non-empty pre-split sentence list (see
    :data:`SENTENCES_METADATA_KEY`) gets the sentences joined as its text.

    Args:
        raw: A ``Document``, a string or UTF-8 bytes.
        index: Its 0-based position, for error messages.

    Raises:
        InvalidSourcesError: On another type, bytes that are not UTF-8, blank
            text, or text longer than
            :data:`~langchain_genprog.limits.MAX_DOCUMENT_CHARS`.
    """
    if isinstance(raw, bytes):
        raw = decode_utf8(raw, index)
    if isinstance(raw, str):
        text: object = raw
        metadata: dict[str, Any] = {}
    elif isinstance(raw, Document):
        text = raw.page_content
        if not isinstance(raw.metadata, Mapping):  # only possible via model_construct
            msg = f"document {index}: metadata must be a dict, got {type(raw.metadata).__name__}"
            raise InvalidSourcesError(msg)
        metadata = dict(raw.metadata)
    else:
        msg = f"document {index} has type {type(raw).__name__}; expected Document, str or bytes"
        raise InvalidSourcesError(msg)
    if not isinstance(text, str) or not text.strip():
        presplit = metadata.get(SENTENCES_METADATA_KEY)
        if not (isinstance(presplit, list) and presplit):
            raise InvalidSourcesError(f"document {index} is empty or only whitespace")
        if not all(isinstance(s, str) for s in presplit):
            msg = f"document {index}: metadata['sentences'] must be a list of strings"
            raise InvalidSourcesError(msg)
        text = " ".join(presplit)
    assert isinstance(text, str)
    if len(text) > MAX_DOCUMENT_CHARS:
        msg = (
            f"document {index} has {len(text):,} characters; at most {MAX_DOCUMENT_CHARS:,} are "
            "accepted (langchain_genprog.limits.MAX_DOCUMENT_CHARS): split it into several "
            "documents or retrieve the relevant parts"
        )
        raise InvalidSourcesError(msg)
    return text, metadata


def check_total(total_chars: int) -> None:
    """Raise if the documents together are longer than the documented limit."""
    if total_chars > MAX_TOTAL_CHARS:
        msg = (
            f"the documents have {total_chars:,} characters in all; at most {MAX_TOTAL_CHARS:,} "
            "are accepted (langchain_genprog.limits.MAX_TOTAL_CHARS): pass fewer or shorter ones"
        )
        raise InvalidSourcesError(msg)


def decode_utf8(data: bytes, index: int) -> str:
    """Decode a document given as bytes.

    Raises:
        InvalidSourcesError: If the bytes are not UTF-8 (the message names the
            first bad byte and how to decode another encoding).
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        msg = (
            f"document {index} is not valid UTF-8 (byte {err.start}: {err.reason}); "
            "decode it with its real encoding first, e.g. data.decode('latin-1')"
        )
        raise InvalidSourcesError(msg) from err
