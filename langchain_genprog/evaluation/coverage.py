"""What an answer delivers: how many sentences are cited, and how long it is."""

from __future__ import annotations

from pydantic import BaseModel

from langchain_genprog.attribute.base import AttributionResult
from langchain_genprog.segment.sources import Sources


def coverage(attribution: AttributionResult, sources: Sources) -> float | None:
    """Share of answer sentences with at least one valid citation.

    A citation is valid when its sentence exists and has text; ``None`` for
    an empty answer (nothing to cover).
    """
    if not attribution.sentences:
        return None
    citable = set(sources.citable_ids)
    covered = sum(
        1 for item in attribution.sentences if any(c.sentence_id in citable for c in item.citations)
    )
    return covered / len(attribution.sentences)


class AnswerLength(BaseModel):
    """Size of an answer: characters, words, sentences and citations per sentence."""

    chars: int = 0
    words: int = 0
    sentences: int = 0
    citations_per_sentence: float | None = None


def answer_length(answer: str, attribution: AttributionResult | None = None) -> AnswerLength:
    """Measure an answer (sentences and citations are counted from ``attribution``)."""
    length = AnswerLength(chars=len(answer.strip()), words=len(answer.split()))
    if attribution is not None and attribution.sentences:
        length.sentences = len(attribution.sentences)
        cites = sum(
            len(dict.fromkeys(c.sentence_id for c in s.citations)) for s in attribution.sentences
        )
        length.citations_per_sentence = cites / len(attribution.sentences)
    return length
