"""Citation quality against a dataset's gold links, scored as retrieval.

When the attributed text *is* a dataset's reference, its human alignments
say which source sentences each reference sentence was written from, so
citations can be scored as retrieval (precision/recall/F1 at top-k) with no
judge at all: :func:`align_gold` maps the links onto answer sentences and
:func:`gold_citation_scores` scores ranked citations against them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence

from pydantic import BaseModel, Field

from langchain_genprog.attribute.base import AnswerSentence
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.common import f1_score, normalize_tokens
from langchain_genprog.evaluation.datasets import Example
from langchain_genprog.segment.sources import Sources


class GoldAlignment(BaseModel):
    """Gold source ids per answer sentence.

    Attributes:
        per_sentence: ``per_sentence[i]`` = sorted global ids of the source
            sentences the ``i``-th answer sentence was written from (empty when
            no gold link reaches it, e.g. a closing "Click for more" line).
        unmatched: Gold answer sentences that matched no answer sentence (a
            sign that the answer is not the reference, or was split oddly).
    """

    per_sentence: list[list[int]] = Field(default_factory=list)
    unmatched: list[str] = Field(default_factory=list)

    @property
    def evaluable(self) -> int:
        """How many answer sentences have at least one gold link."""
        return sum(1 for ids in self.per_sentence if ids)


def align_gold(
    example: Example,
    sources: Sources,
    answer_sentences: Sequence[str | AnswerSentence],
    *,
    min_overlap: float = 0.8,
    min_contained_tokens: int = 3,
) -> GoldAlignment:
    """Map an example's gold links onto answer sentences, as global source ids.

    A gold sentence ``g`` matches answer sentence ``a`` when their word tokens
    (see :func:`normalize_tokens`) are equal, when one is a contiguous run of
    the other (a splitter may cut a gold sentence in two, or keep two
    together), or, failing both, when their token F1 is at least
    ``min_overlap``. A gold sentence may match several answer sentences and
    vice versa; each answer sentence gets the union of its gold ids.

    Args:
        example: The example whose ``gold`` links are used.
        sources: The example's numbered sources (``example.to_documents()``),
            which translate ``(doc_index, sent_index)`` into global ids.
        answer_sentences: The split reference, as strings or answer sentences.
        min_overlap: Token-F1 threshold of the fuzzy fallback.
        min_contained_tokens: A sentence shorter than this (and not equal to
            the other) never matches by containment, so that "Yes." does not
            match every gold sentence containing "yes".

    Raises:
        InvalidInputError: If a gold link points outside ``sources`` (the
            sources were split differently from the dataset).
    """
    by_text: dict[str, set[int]] = {}
    for link in example.gold:
        try:
            gid = sources.global_id(link.doc_index, link.sent_index)
        except IndexError as err:
            msg = (
                f"example {example.id}: gold link ({link.doc_index}, {link.sent_index}) is "
                "outside the sources; number them with "
                "Sources.from_documents(example.to_documents())"
            )
            raise InvalidInputError(msg) from err
        by_text.setdefault(link.answer_sentence, set()).add(gid)

    answers = [normalize_tokens(s if isinstance(s, str) else s.text) for s in answer_sentences]
    per_sentence: list[set[int]] = [set() for _ in answers]
    unmatched: list[str] = []
    for text, ids in by_text.items():
        gold_tokens = normalize_tokens(text)
        hits = [
            i
            for i, tokens in enumerate(answers)
            if _contains_match(gold_tokens, tokens, min_contained_tokens)
        ]
        if not hits:
            scored = [(_token_f1(gold_tokens, tokens), i) for i, tokens in enumerate(answers)]
            best = max(scored, default=(0.0, -1))
            if best[0] >= min_overlap:
                hits = [best[1]]
        if not hits:
            unmatched.append(text)
        for i in hits:
            per_sentence[i] |= ids
    return GoldAlignment(per_sentence=[sorted(ids) for ids in per_sentence], unmatched=unmatched)


def _contains_match(a: list[str], b: list[str], min_tokens: int) -> bool:
    if not a or not b:
        return False
    if a == b:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < min_tokens:
        return False
    return f" {' '.join(short)} " in f" {' '.join(long)} "


def _token_f1(a: list[str], b: list[str]) -> float:
    if not a or not b:
        return 0.0
    common = sum((Counter(a) & Counter(b)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(b), common / len(a)
    return 2 * precision * recall / (precision + recall)


class PRF(BaseModel):
    """Precision, recall and their harmonic mean (F1)."""

    precision: float
    recall: float
    f1: float


class GoldCitationScores(BaseModel):
    """Citation quality against gold links.

    Attributes:
        k: Only each sentence's ``k`` highest-ranked citations were kept
            (``None``: all of them).
        micro: Pooled over citations: ``sum(hits) / sum(predicted)`` and
            ``sum(hits) / sum(gold)``; F1 of the two.
        macro: Mean over sentences of per-sentence precision, recall and F1.
        sentences: Answer sentences evaluated (those with at least one gold link).
    """

    k: int | None = None
    micro: PRF | None = None
    macro: PRF | None = None
    sentences: int = 0


def gold_citation_scores(
    predicted: Sequence[Sequence[int]],
    gold: Sequence[Collection[int]],
    *,
    k: int | None = None,
) -> GoldCitationScores:
    """Score ranked citations against gold source ids, sentence by sentence.

    Sentences without gold links are skipped: nothing says what they should
    cite. A sentence that cites nothing has precision 0 (for the macro mean)
    and adds nothing to the micro denominator of precision; both choices
    penalize silence only through recall, as a retrieval metric should.

    Args:
        predicted: Per answer sentence, cited source ids, best first
            (duplicates are ignored; see :func:`ranked_citations`).
        gold: Per answer sentence, the gold source ids (see :func:`align_gold`).
        k: Keep each sentence's top ``k`` predictions (``None``: all).

    Raises:
        InvalidInputError: If the two lists differ in length or ``k < 1``.
    """
    if len(predicted) != len(gold):
        msg = f"predicted has {len(predicted)} sentences but gold has {len(gold)}"
        raise InvalidInputError(msg)
    if k is not None and k < 1:
        raise InvalidInputError(f"k must be at least 1 (or None for all), got {k}")
    hits_total = pred_total = gold_total = 0
    precisions: list[float] = []
    recalls: list[float] = []
    f1s: list[float] = []
    for ranked, expected in zip(predicted, gold, strict=True):
        gold_ids = set(expected)
        if not gold_ids:
            continue
        top = list(dict.fromkeys(ranked))
        if k is not None:
            top = top[:k]
        hits = len(set(top) & gold_ids)
        hits_total += hits
        pred_total += len(top)
        gold_total += len(gold_ids)
        p = hits / len(top) if top else 0.0
        r = hits / len(gold_ids)
        precisions.append(p)
        recalls.append(r)
        f1s.append(f1_score(p, r))
    if not recalls:
        return GoldCitationScores(k=k)
    micro_p = hits_total / pred_total if pred_total else 0.0
    micro_r = hits_total / gold_total
    return GoldCitationScores(
        k=k,
        micro=PRF(precision=micro_p, recall=micro_r, f1=f1_score(micro_p, micro_r)),
        macro=PRF(
            precision=_mean(precisions),
            recall=_mean(recalls),
            f1=_mean(f1s),
        ),
        sentences=len(recalls),
    )


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else math.nan
