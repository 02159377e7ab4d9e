"""ALCE citation recall and precision (Gao et al., 2023) with a pluggable judge.

An entailment judge decides whether the cited sentences jointly support each
answer sentence (recall) and which citations are superfluous (precision).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from langchain_genprog.attribute.base import AttributionResult
from langchain_genprog.evaluation.common import f1_score
from langchain_genprog.evaluation.judge import EntailmentJudge
from langchain_genprog.segment.sources import Sources


class SentenceCitationJudgement(BaseModel):
    """The judge's verdict on one answer sentence.

    Attributes:
        index: The answer sentence's index.
        cited: Its cited ids as given (including invalid ones).
        supported: Whether the cited sources jointly entail it.
        irrelevant: Citations that are not needed (do not entail alone, and
            the others still entail without them).
        precise: How many of its citations count as precise.
    """

    index: int
    cited: list[int] = Field(default_factory=list)
    supported: bool = False
    irrelevant: list[int] = Field(default_factory=list)
    precise: int = 0


class ALCEScores(BaseModel):
    """ALCE citation recall and precision of one answer.

    Attributes:
        recall: Share of answer sentences supported by their citations.
        precision: Share of citations that are precise.
        f1: Harmonic mean of the two.
        citations: Citations judged.
        judge_calls: ``entails`` calls made.
        sentences: Per-sentence verdicts.
    """

    recall: float | None = None
    precision: float | None = None
    f1: float | None = None
    citations: int = 0
    judge_calls: int = 0
    sentences: list[SentenceCitationJudgement] = Field(default_factory=list)


def alce_citation_scores(
    attribution: AttributionResult, sources: Sources, judge: EntailmentJudge
) -> ALCEScores:
    """Citation recall and precision as defined by ALCE (Gao et al., 2023).

    A sentence is *supported* when it has at least one citation and the
    concatenation of its cited sentences entails it. For a supported
    sentence with several citations, a citation is *irrelevant* when it does
    not entail the sentence on its own and the remaining citations still do;
    every other citation of a supported sentence is precise. Citations of
    unsupported sentences are all imprecise. A citation of a sentence id
    that does not exist makes its sentence unsupported, as in ALCE.

    Args:
        attribution: Per-sentence citations.
        sources: The numbered sources (the premise is built from their text).
        judge: Any :class:`EntailmentJudge`.

    Returns:
        Recall (over sentences) and precision (over citations); ``None`` when
        there is nothing to average.
    """
    calls = 0

    def entails(ids: Sequence[int], hypothesis: str) -> bool:
        nonlocal calls
        calls += 1
        return judge.entails(_premise(sources, ids), hypothesis)

    rows: list[SentenceCitationJudgement] = []
    total = precise_total = supported_total = 0
    for item in attribution.sentences:
        ids = list(dict.fromkeys(c.sentence_id for c in item.citations))
        hypothesis = " ".join(item.sentence.text.split())
        row = SentenceCitationJudgement(index=item.sentence.index, cited=ids)
        total += len(ids)
        valid = bool(ids) and all(sources.has(sid) for sid in ids)
        row.supported = valid and entails(ids, hypothesis)
        if row.supported:
            supported_total += 1
            if len(ids) == 1:
                row.precise = 1
            else:
                for sid in ids:
                    if entails([sid], hypothesis):
                        row.precise += 1
                        continue
                    rest = [other for other in ids if other != sid]
                    if entails(rest, hypothesis):
                        row.irrelevant.append(sid)
                    else:
                        row.precise += 1
        precise_total += row.precise
        rows.append(row)
    recall = supported_total / len(rows) if rows else None
    precision = precise_total / total if total else None
    f1 = f1_score(recall, precision) if recall is not None and precision is not None else None
    return ALCEScores(
        recall=recall,
        precision=precision,
        f1=f1,
        citations=total,
        judge_calls=calls,
        sentences=rows,
    )


def _premise(sources: Sources, ids: Sequence[int]) -> str:
    ordered = sorted(set(ids))
    return "\n".join(" ".join(sources.sentence(sid).text.split()) for sid in ordered)
