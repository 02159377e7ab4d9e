"""Attributed answers → LangChain v1 ``Citation`` annotations (and back).

The final ``AIMessage`` carries one text content block whose ``annotations``
are standard ``Citation`` dicts: ``start_index``/``end_index`` point into the
answer text, ``cited_text`` is the source sentence (or the phrase that
mattered), and ``extras`` hold what a verifier needs — the sentence id, the
document index, the method and score. Any LangChain UI or code that
understands provider citations (Anthropic, OpenAI) understands these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.messages.content import Citation, create_citation, create_text_block

from langchain_genprog.attribute.base import AnswerSentence, AttributionResult, CitedSource
from langchain_genprog.execute.trace import LineResult
from langchain_genprog.segment.sources import Sources

SEPARATOR = " "


def compose_answer(lines: Sequence[LineResult]) -> tuple[str, list[AnswerSentence]]:
    """Join the sentences of successful lines into the answer text.

    Returns:
        The answer and one :class:`AnswerSentence` per successful line, with
        its offsets in the answer and its program leaves.
    """
    parts: list[str] = []
    sentences: list[AnswerSentence] = []
    cursor = 0
    for line in lines:
        if not line.ok or not line.text.strip():
            continue
        text = line.text.strip()
        if parts:
            cursor += len(SEPARATOR)
        sentences.append(
            AnswerSentence(
                index=len(sentences),
                text=text,
                start=cursor,
                end=cursor + len(text),
                leaf_ids=list(line.leaf_ids),
            )
        )
        parts.append(text)
        cursor += len(text)
    return SEPARATOR.join(parts), sentences


def to_citations(result: AttributionResult, sources: Sources) -> list[Citation]:
    """One ``Citation`` per (answer sentence, cited source) pair, in answer order."""
    citations: list[Citation] = []
    for item in result.sentences:
        for cited in item.citations:
            if not sources.has(cited.sentence_id):
                continue
            citations.append(_citation(item.sentence, cited, sources, item.supported))
    return citations


def _citation(
    sentence: AnswerSentence, cited: CitedSource, sources: Sources, supported: bool | None
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
        url=str(url) if url else None,
        title=document.title,
        start_index=sentence.start,
        end_index=sentence.end,
        cited_text=cited_text,
        **extras,
    )


def build_message(
    answer: str,
    result: AttributionResult,
    sources: Sources,
    *,
    metadata: dict[str, Any] | None = None,
) -> AIMessage:
    """The final ``AIMessage``: the answer text with ``Citation`` annotations.

    Args:
        answer: The answer text the citations index into.
        result: Per-sentence citations.
        sources: The numbered sources (for ``cited_text`` and titles).
        metadata: Extra ``response_metadata`` (program, failures ...).
    """
    citations = to_citations(result, sources)
    block = create_text_block(answer, annotations=list(citations))
    return AIMessage(
        content=[dict(block)],
        response_metadata={"model_provider": "langchain-genprog", **(metadata or {})},
    )


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
