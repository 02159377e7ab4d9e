"""Citations by construction: each answer sentence cites its program's leaves."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    CitedSource,
    SentenceAttribution,
)
from langchain_genprog.segment.sources import Sources


class ProgramLeavesAttributor:
    """Cite every answer sentence to the source sentences at the leaves of its tree.

    This needs no model call: GenerationPrograms guarantee that an answer
    sentence was produced only from its leaves, so the leaves are its
    citations. Whether the operations stayed faithful to them is a separate
    question, measured by :class:`~langchain_genprog.attribute.mexgen_node.MExGenAttributor`.
    """

    name = "program"

    def attribute(
        self,
        sentences: Sequence[AnswerSentence],
        sources: Sources,
        *,
        question: str | None = None,
    ) -> AttributionResult:
        """Return the leaves of each sentence as its citations (no scores)."""
        results = [
            SentenceAttribution(
                sentence=sentence,
                citations=[
                    CitedSource(sentence_id=sid, method=self.name, from_program=True)
                    for sid in sentence.leaf_ids
                    if sources.has(sid)
                ],
            )
            for sentence in sentences
        ]
        return AttributionResult(sentences=results, method=self.name)
