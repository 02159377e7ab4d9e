"""Attributed answers → LangChain v1 ``Citation`` annotations (and back).

The final ``AIMessage`` carries one text content block whose ``annotations``
are standard ``Citation`` dicts: ``start_index``/``end_index`` point into the
answer text, ``cited_text`` is the source sentence (or the phrase that
mattered), and ``extras`` hold what a verifier needs — the sentence id, the
document index, the method and score. Any LangChain UI or code that
understands provider citations (Anthropic, OpenAI) understands these.

The message is also its stream: :func:`sentence_chunks` cuts it into one
``AIMessageChunk`` per answer sentence (its text, with the separator before
it, and its citations) and :func:`closing_chunk` carries the rest (the
metadata). Every chunk's text block has ``index`` 0 and the same block id, so
``AIMessageChunk.__add__`` merges them into one block — texts concatenated,
annotations appended — and :func:`build_message` *is* that sum. Block and
citation ids derive from the message id, so a sentence streamed early and the
final message built later agree to the last id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.content import Citation, create_citation, create_text_block

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    CitedSource,
    SentenceAttribution,
    join_sentences,
)
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.execute.trace import LineResult
from langchain_genprog.segment.sources import Sources

SEPARATOR = " "


def compose_answer(lines: Sequence[LineResult]) -> tuple[str, list[AnswerSentence]]:
    """Join the sentences of successful lines into the answer text.

    Returns:
        The answer and one :class:`AnswerSentence` per successful line, with
        its offsets in the answer and its program leaves.
    """
    kept = [line for line in lines if line.ok and line.text.strip()]
    return join_sentences(
        [line.text.strip() for line in kept],
        [line.leaf_ids for line in kept],
        separator=SEPARATOR,
    )


def to_citations(result: AttributionResult, sources: Sources) -> list[Citation]:
    """One ``Citation`` per (answer sentence, cited source) pair, in answer order."""
    citations: list[Citation] = []
    for item in result.sentences:
        citations.extend(_sentence_citations(item, sources))
    return citations


def _sentence_citations(
    item: SentenceAttribution, sources: Sources, *, message_id: str | None = None
) -> list[Citation]:
    """The citations of one answer sentence; ids derived from ``message_id`` when given."""
    usable = [c for c in item.citations if sources.has(c.sentence_id)]
    return [
        _citation(
            item.sentence,
            cited,
            sources,
            item.supported,
            id=None if message_id is None else _derived_id(message_id, item.sentence.index, n),
        )
        for n, cited in enumerate(usable)
    ]


def _derived_id(message_id: str, *parts: object) -> str:
    """A block id that depends only on the message id and the block's place in it."""
    name = "/".join(str(p) for p in (message_id, *parts))
    return f"lc_{uuid.uuid5(uuid.NAMESPACE_URL, f'langchain-genprog:{name}')}"


def _citation(
    sentence: AnswerSentence,
    cited: CitedSource,
    sources: Sources,
    supported: bool | None,
    *,
    id: str | None = None,
) -> Citation:
    source = sources.sentence(cited.sentence_id)
    document = sources.documents[source.doc_index]
    cited_text = source.text
    if cited.span is not None:
        cited_text = source.text[cited.span[0] : cited.span[1]] or source.text
    url = document.metadata.get("url") or document.metadata.get("documentUrl")
    extras: dict[str, Any] = {
        "sentence_id": source.label,
        "source_sentence": source.id,
        "doc_index": source.doc_index,
        "doc_sentence_index": source.sent_index,
        "source_start": source.start,
        "source_end": source.end,
        "answer_sentence": sentence.index,
        "method": cited.method,
        "level": cited.level,
        "from_program": cited.from_program,
    }
    if cited.score is not None:
        extras["score"] = round(float(cited.score), 6)
    if cited.span is not None:
        extras["span"] = list(cited.span)
    if supported is not None:
        extras["supported"] = supported
    return create_citation(
        id=id,
        url=str(url) if url else None,
        title=document.title,
        start_index=sentence.start,
        end_index=sentence.end,
        cited_text=cited_text,
        **extras,
    )


def new_message_id() -> str:
    """A fresh id for an answer message (a UUID4, as ``add_messages`` would assign)."""
    return str(uuid.uuid4())


def sentence_chunks(
    answer: str, result: AttributionResult, sources: Sources, *, message_id: str
) -> list[AIMessageChunk]:
    """One ``AIMessageChunk`` per attributed answer sentence, in answer order.

    Each chunk's text is the answer from the end of the previous sentence to
    the end of its own (so the separator travels with the sentence after it),
    and its annotations are the sentence's ``Citation``s, offsets into the
    whole answer. The chunks of a prefix of the sentences depend only on that
    prefix, which is what lets the graph stream a sentence as soon as it is
    final and still add up to :func:`build_message`.

    Args:
        answer: The answer text the citations index into.
        result: Per-sentence citations (one item per answer sentence, in order).
        sources: The numbered sources.
        message_id: The id of the message the chunks make up.
    """
    chunks: list[AIMessageChunk] = []
    cursor = 0
    for item in result.sentences:
        end = max(item.sentence.end, cursor)
        citations = _sentence_citations(item, sources, message_id=message_id)
        chunks.append(_chunk(answer[cursor:end], citations, message_id=message_id))
        cursor = end
    return chunks


def closing_chunk(
    answer: str,
    result: AttributionResult,
    *,
    message_id: str,
    metadata: dict[str, Any] | None = None,
) -> AIMessageChunk:
    """The chunk that ends the answer: text after the last sentence, and the metadata.

    It always carries a text block (empty when every sentence was streamed),
    so an answer with no sentence still adds up to its one, empty, text block;
    and it is the only chunk with ``response_metadata``, which would otherwise
    be concatenated key by key when chunks are added.
    """
    cursor = max((item.sentence.end for item in result.sentences), default=0)
    chunk = _chunk(answer[cursor:], [], message_id=message_id)
    return chunk.model_copy(
        update={
            "response_metadata": {"model_provider": "langchain-genprog", **(metadata or {})},
            "chunk_position": "last",
        }
    )


def _chunk(text: str, citations: list[Citation], *, message_id: str) -> AIMessageChunk:
    block = create_text_block(
        text, id=_derived_id(message_id, "text"), annotations=list(citations), index=0
    )
    return AIMessageChunk(content=[dict(block)], id=message_id)


def build_message(
    answer: str,
    result: AttributionResult,
    sources: Sources,
    *,
    metadata: dict[str, Any] | None = None,
    message_id: str | None = None,
) -> AIMessage:
    """The final ``AIMessage``: the answer text with ``Citation`` annotations.

    It is the sum of :func:`sentence_chunks` and :func:`closing_chunk`, so a
    client that added up the streamed chunks holds this very message.

    Args:
        answer: The answer text the citations index into.
        result: Per-sentence citations.
        sources: The numbered sources (for ``cited_text`` and titles).
        metadata: Extra ``response_metadata`` (program, failures ...).
        message_id: The message's id (that of its streamed chunks); a new one
            when ``None``.
    """
    message_id = message_id or new_message_id()
    chunks = sentence_chunks(answer, result, sources, message_id=message_id)
    chunks.append(closing_chunk(answer, result, message_id=message_id, metadata=metadata))
    return message_from_chunks(chunks)


def message_from_chunks(chunks: Sequence[AIMessageChunk]) -> AIMessage:
    """The message that streamed ``chunks`` add up to (``AIMessageChunk.__add__``).

    Raises:
        InvalidInputError: If there are no chunks.
    """
    if not chunks:
        raise InvalidInputError("a message needs at least one chunk")
    total = chunks[0] + list(chunks[1:])
    return AIMessage(content=total.content, response_metadata=total.response_metadata, id=total.id)


def citations_of(message: AIMessage) -> list[Citation]:
    """Every ``Citation`` annotation in a message's text blocks."""
    found: list[Citation] = []
    for block in message.content_blocks:
        if block.get("type") != "text":
            continue
        annotations: list[Any] = list(block.get("annotations") or [])  # type: ignore[call-overload]
        found.extend(a for a in annotations if a.get("type") == "citation")
    return found


def render_with_markers(result: AttributionResult, *, answer: str | None = None) -> str:
    """The answer with ``[S#]`` markers after each sentence, for terminals and logs."""
    rendered: list[str] = []
    for item in result.sentences:
        ids = list(dict.fromkeys(c.sentence_id for c in item.citations))
        marks = "".join(f"[S{sid}]" for sid in ids) or "[uncited]"
        flag = " (unsupported)" if item.supported is False else ""
        rendered.append(f"{item.sentence.text} {marks}{flag}")
    if not rendered and answer:
        return answer
    return SEPARATOR.join(rendered)
