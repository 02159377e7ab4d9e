"""The attributor interface and the attributed-answer data model.

An attributor takes answer sentences (with, when available, the program leaves
each was built from) and the numbered sources, and returns, per answer
sentence, the source sentences it is cited to with scores. The graph's
attribute node calls whichever attributor it was given; the citation builder
turns the result into LangChain ``Citation`` annotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from langchain_genprog.segment.sources import Sources


class AnswerSentence(BaseModel):
    """One sentence of the answer text.

    Attributes:
        index: 0-based position in the answer.
        text: The sentence.
        start: Character offset in the answer text.
        end: End offset (exclusive) in the answer text.
        leaf_ids: Program leaves it was built from (empty for post-hoc answers).
    """

    index: int
    text: str
    start: int
    end: int
    leaf_ids: list[int] = Field(default_factory=list)


def join_sentences(
    texts: Sequence[str],
    leaf_ids: Sequence[Sequence[int]] | None = None,
    *,
    separator: str = " ",
) -> tuple[str, list[AnswerSentence]]:
    """Join sentence texts into an answer, with each sentence's offsets in it.

    Every way of producing an answer (a program's lines, a parsed cited reply)
    must agree on where its sentences stand in the text, since citations point
    into it by offset; this is that one rule.

    Args:
        texts: The sentences, in answer order, as they are to appear.
        leaf_ids: Per sentence, the program leaves it was built from (``None``:
            none, as for a post-hoc answer).
        separator: What stands between two sentences.

    Returns:
        The answer text and one :class:`AnswerSentence` per text.

    Raises:
        ValueError: If ``leaf_ids`` and ``texts`` differ in length.
    """
    leaves = [[] for _ in texts] if leaf_ids is None else [list(ids) for ids in leaf_ids]
    sentences: list[AnswerSentence] = []
    cursor = 0
    for text, ids in zip(texts, leaves, strict=True):
        if sentences:
            cursor += len(separator)
        sentences.append(
            AnswerSentence(
                index=len(sentences), text=text, start=cursor, end=cursor + len(text), leaf_ids=ids
            )
        )
        cursor += len(text)
    return separator.join(texts), sentences


class CitedSource(BaseModel):
    """One source sentence cited by an answer sentence.

    Attributes:
        sentence_id: Global source sentence id (``S{id}``).
        score: Attribution score (method-specific scale; higher = more support).
            ``None`` for citations by construction that were not measured.
        method: How the citation was found, e.g. ``program``, ``mexgen-clime``.
        level: Unit level the score was measured at (``sentence``, ``phrase`` ...).
        span: For sub-sentence units, the ``(start, end)`` offsets inside the
            source sentence text of the part that mattered.
        from_program: Whether the sentence is a leaf of the answer sentence's program.
    """

    sentence_id: int
    score: float | None = None
    method: str = "program"
    level: str = "sentence"
    span: tuple[int, int] | None = None
    from_program: bool = False


class SentenceAttribution(BaseModel):
    """The citations of one answer sentence.

    Attributes:
        sentence: The answer sentence.
        citations: Cited sources, most important first.
        supported: ``True``/``False`` when a measurement decided whether the
            cited sources support the sentence; ``None`` when not measured.
        note: Why the sentence was flagged, if it was.
    """

    sentence: AnswerSentence
    citations: list[CitedSource] = Field(default_factory=list)
    supported: bool | None = None
    note: str | None = None


class AttributionResult(BaseModel):
    """Per-sentence citations, plus the full score matrix when one was measured.

    Attributes:
        sentences: One entry per answer sentence.
        method: The attributor's name.
        matrix: ``matrix[i][j]`` = score of source sentence ``unit_ids[j]`` for
            answer sentence ``i`` (sentence level), when measured.
        unit_ids: Source sentence ids indexing the matrix columns.
        model_calls: Scorer/model calls spent.
        seconds: Wall time spent.
        complete: ``False`` when a budget stopped the measurement early.
    """

    sentences: list[SentenceAttribution] = Field(default_factory=list)
    method: str = "program"
    matrix: list[list[float]] | None = None
    unit_ids: list[int] | None = None
    model_calls: int = 0
    seconds: float = 0.0
    complete: bool = True


@runtime_checkable
class Attributor(Protocol):
    """Anything that cites answer sentences to numbered source sentences."""

    name: str

    def attribute(
        self,
        sentences: Sequence[AnswerSentence],
        sources: Sources,
        *,
        question: str | None = None,
    ) -> AttributionResult:
        """Cite each answer sentence to source sentences."""
        ...
