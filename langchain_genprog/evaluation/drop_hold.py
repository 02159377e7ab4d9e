"""Drop-and-hold: do a sentence's citations carry its log-probability?

A self-supervised check with a
:class:`~langchain_genprog.models.scoring.LogProbScorer`. If a sentence's
citations are right, removing them from the context should lower the
answer's log-probability (drop) and keeping only them should keep most of it
(hold); removing as many *random* sources is the control (fidelity). No judge
and no gold links are needed, only a model that can score text.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from langchain_genprog.attribute.base import AttributionResult
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.common import ranked_citations
from langchain_genprog.models.scoring import LogProbScorer, TargetLogProbs
from langchain_genprog.segment.sources import Sources

PromptBuilder = Callable[[Sources, Sequence[int], str | None], str]
"""Builds the scorer prompt from the sources, the context ids and the question."""


def context_prompt(sources: Sources, ids: Sequence[int], question: str | None) -> str:
    """The default scorer prompt: the kept source sentences, then the task.

    It mirrors how the answers were generated (numbered sentences under
    document headers, then the question or a summarization request), so that
    the answer's log-probability reflects the context rather than a prompt
    mismatch.
    """
    context = sources.render(ids) if ids else "(no sources)"
    task = (
        f"Question: {question.strip()}"
        if question and question.strip()
        else "Task: summarize the sources in a few sentences."
    )
    return f"Sources:\n{context}\n\n{task}\nAnswer:"


class SentenceDropHold(BaseModel):
    """Drop-and-hold measurements of one answer sentence (log-probs in nats).

    Attributes:
        index: The answer sentence's index.
        cited: Its valid cited source ids.
        full: Log-prob of the sentence given every source.
        empty: Log-prob given no source at all.
        drop: ``full - log-prob without the cited sources``; positive means
            the citations were needed. ``None`` without citations.
        hold: ``log-prob with only the cited sources - full``; near zero or
            positive means the citations suffice.
        hold_share: Share of the context's gain the citations keep:
            ``(held - empty) / (full - empty)``; ``None`` when the context does
            not raise the sentence's log-prob at all (nothing to keep).
        random_drop: ``full - log-prob without as many random other sources``
            (mean over repeats): the control for ``drop``.
    """

    index: int
    cited: list[int] = Field(default_factory=list)
    full: float | None = None
    empty: float | None = None
    drop: float | None = None
    hold: float | None = None
    hold_share: float | None = None
    random_drop: float | None = None


class DropHoldScores(BaseModel):
    """Drop-and-hold over an answer.

    Attributes:
        sentences: Per answer sentence measurements.
        mean_drop: Mean ``drop`` over cited sentences.
        mean_hold: Mean ``hold``.
        mean_hold_share: Mean ``hold_share`` (where defined).
        mean_random_drop: Mean ``random_drop``.
        fidelity: ``mean_drop - mean_random_drop`` over sentences having both:
            how much more the cited sources matter than random ones.
        win_rate: Share of those sentences whose ``drop`` beats ``random_drop``.
        scorer_calls: ``score`` calls made (one per condition).
        forward_passes: Prompts scored in total.
    """

    sentences: list[SentenceDropHold] = Field(default_factory=list)
    mean_drop: float | None = None
    mean_hold: float | None = None
    mean_hold_share: float | None = None
    mean_random_drop: float | None = None
    fidelity: float | None = None
    win_rate: float | None = None
    scorer_calls: int = 0
    forward_passes: int = 0


def drop_and_hold(
    answer: str,
    attribution: AttributionResult,
    sources: Sources,
    scorer: LogProbScorer,
    *,
    question: str | None = None,
    context_ids: Sequence[int] | None = None,
    reduce: Literal["sum", "mean"] = "sum",
    random_repeats: int = 1,
    seed: int = 0,
    prompt: PromptBuilder = context_prompt,
) -> DropHoldScores:
    """Measure whether each sentence's citations carry its log-probability.

    The target is always the whole answer and each sentence is read off its
    own character span, so each condition is one ``scorer.score`` call: the
    full and empty contexts are one prompt each, and the per-sentence
    conditions (drop, hold, random drop) one prompt per cited sentence (times
    ``random_repeats`` for the control).

    Args:
        answer: The answer text the sentence offsets index into.
        attribution: Per-sentence citations (invalid ids are ignored).
        sources: The numbered sources.
        scorer: Teacher-forcing log-prob scorer.
        question: The question, or ``None`` for summaries.
        context_ids: The full context (default: every citable sentence);
            citations outside it are ignored. A relevance-selected subset
            keeps long sources affordable, since every prompt holds it.
        reduce: Sum (nats per sentence) or mean (nats per token) of token log-probs.
        random_repeats: Random draws averaged for the control.
        seed: Seed of the random control, for reproducible runs.
        prompt: Builds a prompt from the kept ids.

    Raises:
        InvalidInputError: If a sentence span lies outside ``answer``, if
            ``random_repeats < 1``, or if the scorer returns the wrong number
            of results.
    """
    if random_repeats < 1:
        raise InvalidInputError(f"random_repeats must be at least 1, got {random_repeats}")
    context = list(dict.fromkeys(sources.citable_ids if context_ids is None else context_ids))
    in_context = set(context)
    cited = [
        [sid for sid in ids if sid in in_context] for ids in ranked_citations(attribution, sources)
    ]
    run = _Conditions(
        answer=answer,
        spans=_answer_spans(answer, attribution),
        scorer=scorer,
        reduce=reduce,
        sources=sources,
        context=context,
        question=question,
        prompt=prompt,
    )
    full = run.values([prompt(sources, context, question)])[0]
    empty = run.values([prompt(sources, [], question)])[0]
    rows = [
        SentenceDropHold(index=item.sentence.index, cited=cited[i], full=full[i], empty=empty[i])
        for i, item in enumerate(attribution.sentences)
    ]
    measured = [i for i, ids in enumerate(cited) if ids]
    _drop_and_hold_rows(run, rows, measured)
    _random_control(run, rows, measured, random.Random(seed), random_repeats)
    return _summary(rows, run)


@dataclass
class _Conditions:
    """Scores the answer under several contexts, counting calls and forward passes.

    One object per :func:`drop_and_hold` call, so that the counters and the
    fixed parts of every prompt (sources, full context, question) are not
    threaded through each helper.
    """

    answer: str
    spans: list[tuple[int, int]]
    scorer: LogProbScorer
    reduce: Literal["sum", "mean"]
    sources: Sources
    context: list[int]
    question: str | None
    prompt: PromptBuilder
    calls: int = 0
    passes: int = 0

    def without(self, removed: Iterable[int]) -> str:
        """The prompt of the full context minus ``removed``."""
        gone = set(removed)
        return self.prompt(self.sources, [c for c in self.context if c not in gone], self.question)

    def only(self, kept: Sequence[int]) -> str:
        """The prompt holding only ``kept``."""
        return self.prompt(self.sources, kept, self.question)

    def values(self, prompts: list[str]) -> list[list[float | None]]:
        """Per prompt, each answer sentence's log-prob (``None`` where not finite)."""
        if not prompts:
            return []
        results = self.scorer.score(prompts, self.answer)
        self.calls += 1
        self.passes += len(prompts)
        if len(results) != len(prompts):
            msg = f"the scorer returned {len(results)} results for {len(prompts)} prompts"
            raise InvalidInputError(msg)
        return [self._sentence_values(result) for result in results]

    def _sentence_values(self, result: TargetLogProbs) -> list[float | None]:
        return [_finite(v) for v in result.span_scores(self.spans, reduce=self.reduce)]


def _answer_spans(answer: str, attribution: AttributionResult) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for item in attribution.sentences:
        s = item.sentence
        if not (0 <= s.start <= s.end <= len(answer)):
            msg = f"answer sentence {s.index} span ({s.start}, {s.end}) is outside the answer"
            raise InvalidInputError(msg)
        spans.append((s.start, s.end))
    return spans


def _drop_and_hold_rows(
    run: _Conditions, rows: list[SentenceDropHold], measured: list[int]
) -> None:
    """Fill ``drop``, ``hold`` and ``hold_share`` of every cited sentence."""
    dropped = run.values([run.without(rows[i].cited) for i in measured])
    held = run.values([run.only(rows[i].cited) for i in measured])
    for slot, i in enumerate(measured):
        row = rows[i]
        d, h = dropped[slot][i], held[slot][i]
        if row.full is not None and d is not None:
            row.drop = row.full - d
        if row.full is not None and h is not None:
            row.hold = h - row.full
            if row.empty is not None and row.full - row.empty > 1e-9:
                row.hold_share = (h - row.empty) / (row.full - row.empty)


def _random_control(
    run: _Conditions,
    rows: list[SentenceDropHold],
    measured: list[int],
    rng: random.Random,
    repeats: int,
) -> None:
    """Fill ``random_drop``: the drop when as many random other sources are removed."""
    prompts: list[str] = []
    owners: list[int] = []
    for i in measured:
        own = set(rows[i].cited)
        pool = [c for c in run.context if c not in own]
        size = min(len(own), len(pool))
        if size == 0:
            continue
        for _ in range(repeats):
            prompts.append(run.without(rng.sample(pool, size)))
            owners.append(i)
    draws: dict[int, list[float]] = {}
    for values, i in zip(run.values(prompts), owners, strict=True):
        r, base = values[i], rows[i].full
        if r is not None and base is not None:
            draws.setdefault(i, []).append(base - r)
    for i, drops in draws.items():
        rows[i].random_drop = sum(drops) / len(drops)


def _summary(rows: list[SentenceDropHold], run: _Conditions) -> DropHoldScores:
    paired = [
        (r.drop, r.random_drop) for r in rows if r.drop is not None and r.random_drop is not None
    ]
    return DropHoldScores(
        sentences=rows,
        mean_drop=_mean_or_none(r.drop for r in rows),
        mean_hold=_mean_or_none(r.hold for r in rows),
        mean_hold_share=_mean_or_none(r.hold_share for r in rows),
        mean_random_drop=_mean_or_none(r.random_drop for r in rows),
        fidelity=_mean_or_none(d - rd for d, rd in paired),
        win_rate=_mean_or_none(1.0 if d > rd else 0.0 for d, rd in paired),
        scorer_calls=run.calls,
        forward_passes=run.passes,
    )


def _finite(value: float) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _mean_or_none(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
