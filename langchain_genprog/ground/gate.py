"""The grounding gate: every answer sentence must be supported by what it cites.

A sentence leaves the graph's loop only when its cited sources support it,
replaced by a verbatim copy of its best source (reported), or dropped
(reported). The gate judges each sentence in order of cost:

1. **Repeats** of an earlier (passing) answer sentence, or of its own words
   ("X, and X"), fail: an answer does not say the same thing twice.
2. **Verbatim copies** of a cited source sentence pass by identity.
3. **Lexical check** (no model): enough of the sentence's content words, and
   every number, must occur in the cited sources
   (:mod:`~langchain_genprog.ground.lexical`). A sentence that fails here is
   not measured — the measurement would not change the verdict.
4. **Measurement** (a log-prob scorer, with MExGen): removing the cited
   sources must measurably lower the sentence's likelihood. Only sentences
   that passed 1–3 and were not measured before are measured, against their
   leaves and the leaves' neighbours, so the cost follows the sentences that
   need it rather than the size of the sources.

The verdicts drive the graph: failing sentences go to the ``repair`` node
(:mod:`~langchain_genprog.ground.repair`) and come back to be judged again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from pydantic import BaseModel, Field

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    Attributor,
    SentenceAttribution,
)
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.execute.trace import LineResult
from langchain_genprog.ground.lexical import DEFAULT_MIN_COVERAGE, LexicalVerdict, lexical_verdict
from langchain_genprog.operations.prompts import has_repeated_ngram, normalize_text
from langchain_genprog.operations.rewrites import leaf_text
from langchain_genprog.segment.content import NEAR_DUPLICATE
from langchain_genprog.segment.sources import Sources
from langchain_genprog.segment.words import content_words, near_duplicate, tokens


class SentenceVerdict(BaseModel):
    """The gate's judgement of one answer sentence (one program line).

    Attributes:
        line: The program line that produced the sentence.
        text: The sentence.
        cited: Source sentence ids it cites.
        lexical: Content-word and number coverage by the cited sources.
        measured: Whether a measurement found support (``None``: not measured).
        verbatim: The source sentence it copies word for word, if any.
        repeats: The earlier line it repeats, if any.
        passed: Whether the sentence may keep its citations as they are.
        reason: Why it passed or failed, in one line.
    """

    line: int
    text: str
    cited: list[int] = Field(default_factory=list)
    lexical: LexicalVerdict
    measured: bool | None = None
    verbatim: int | None = None
    repeats: int | None = None
    passed: bool
    reason: str


class GroundingGate:
    """Judges answer sentences against the sources they cite.

    Args:
        measurer: An attributor that measures support (e.g. a
            :class:`~langchain_genprog.attribute.mexgen_node.MExGenAttributor`),
            or ``None`` to judge by the lexical check alone. A sentence whose
            attribution already carries a measured ``supported`` flag is not
            measured again.
        min_coverage: Share of content words that must be in the cited sources.
        near_duplicate: Content-word Jaccard similarity at which a sentence
            repeats an earlier one.

    Raises:
        InvalidInputError: If a share is outside ``(0, 1]``.
    """

    def __init__(
        self,
        measurer: Attributor | None = None,
        *,
        min_coverage: float = DEFAULT_MIN_COVERAGE,
        near_duplicate: float = NEAR_DUPLICATE,
    ) -> None:
        for name, value in (("min_coverage", min_coverage), ("near_duplicate", near_duplicate)):
            if not 0.0 < value <= 1.0:
                raise InvalidInputError(f"{name} must be in (0, 1], got {value}")
        self.measurer = measurer
        self.min_coverage = min_coverage
        self.near_duplicate = near_duplicate

    def with_min_coverage(self, min_coverage: float) -> GroundingGate:
        """This gate with another coverage bar (a run's own), or itself if the same."""
        if min_coverage == self.min_coverage:
            return self
        return GroundingGate(
            self.measurer, min_coverage=min_coverage, near_duplicate=self.near_duplicate
        )

    def judge(
        self,
        lines: Sequence[LineResult],
        sentences: Sequence[AnswerSentence],
        sources: Sources,
        attribution: AttributionResult,
        *,
        question: str | None = None,
        known: dict[int, SentenceVerdict] | None = None,
    ) -> tuple[list[SentenceVerdict], AttributionResult]:
        """Judge every answer sentence; measure those that need it.

        Args:
            lines: The execution's lines (answer sentences come from the ok ones).
            sentences: The answer's sentences, one per ok line, in order.
            sources: The numbered sources.
            attribution: The current citations of ``sentences``.
            question: The question (the measurement's prompt includes it).
            known: Verdicts of an earlier round, by line: a line whose text
                did not change keeps its verdict (and is not measured again).

        Returns:
            One verdict per sentence, and the attribution with the measured
            support (scores, ``supported``) of the newly measured sentences.
        """
        produced = _produced(lines)
        cited = {
            a.sentence.index: [c.sentence_id for c in a.citations] for a in attribution.sentences
        }
        verdicts: list[SentenceVerdict] = []
        earlier: list[tuple[int, set[str]]] = []
        for line, sentence in zip(produced, sentences, strict=True):
            previous = (known or {}).get(line.line)
            if previous is not None and previous.text == sentence.text:
                verdicts.append(previous)
            else:
                ids = cited.get(sentence.index) or list(sentence.leaf_ids)
                verdicts.append(self._cheap(line.line, sentence.text, ids, sources, earlier))
            if verdicts[-1].passed:  # a repeat of a failing sentence is judged on its own
                earlier.append((line.line, set(content_words(sentence.text))))
        return self._measure(verdicts, sentences, sources, attribution, question)

    def _cheap(
        self,
        line: int,
        text: str,
        cited: list[int],
        sources: Sources,
        earlier: list[tuple[int, set[str]]],
    ) -> SentenceVerdict:
        texts = [sources.sentence(sid).text for sid in cited if sources.has(sid)]
        lexical = lexical_verdict(text, texts, min_coverage=self.min_coverage)
        repeated = near_duplicate(set(content_words(text)), earlier, self.near_duplicate)
        copied = None if repeated else _copied_source(text, cited, sources)
        if repeated is not None:
            passed, reason = False, f"repeats line {repeated}"
        elif _says_twice(text):
            passed, reason = False, "says the same words twice"
        elif copied is not None:
            passed, reason = True, f"verbatim copy of S{copied}"
        else:
            passed, reason = lexical.grounded, lexical.reason()
        return SentenceVerdict(
            line=line,
            text=text,
            cited=cited,
            lexical=lexical,
            verbatim=copied,
            repeats=repeated,
            passed=passed,
            reason=reason,
        )

    def _measure(
        self,
        verdicts: list[SentenceVerdict],
        sentences: Sequence[AnswerSentence],
        sources: Sources,
        attribution: AttributionResult,
        question: str | None,
    ) -> tuple[list[SentenceVerdict], AttributionResult]:
        measured = {a.sentence.index: a for a in attribution.sentences if a.supported is not None}
        pending = [
            k
            for k, v in enumerate(verdicts)
            if v.passed and v.verbatim is None and v.measured is None and k not in measured
        ]
        if self.measurer is not None and pending:
            result = self.measurer.attribute(
                [sentences[k] for k in pending], sources, question=question
            )
            for item in result.sentences:
                measured[item.sentence.index] = item
            attribution = _merged(attribution, result)
        for k, verdict in enumerate(verdicts):
            found = measured.get(sentences[k].index)
            if found is None or verdict.verbatim is not None or not verdict.passed:
                continue
            verdicts[k] = _with_measurement(verdict, found)
        return verdicts, attribution


def _produced(lines: Sequence[LineResult]) -> list[LineResult]:
    """The lines that made an answer sentence, in answer order."""
    return [line for line in lines if line.ok and line.text.strip()]


def _with_measurement(verdict: SentenceVerdict, item: SentenceAttribution) -> SentenceVerdict:
    if item.supported is None or verdict.measured == item.supported:
        return verdict  # unmeasured, or a kept verdict meeting its own measurement again
    if item.supported:
        reason = f"{verdict.reason}; measured support"
    else:
        reason = (
            f"{verdict.reason}; {item.note or 'its cited sources do not measurably support it'}"
        )
    return verdict.model_copy(
        update={"measured": item.supported, "passed": item.supported, "reason": reason}
    )


def _merged(attribution: AttributionResult, measured: AttributionResult) -> AttributionResult:
    """``attribution`` with the newly measured sentences' citations and support."""
    by_index = {item.sentence.index: item for item in measured.sentences}
    sentences = [by_index.get(item.sentence.index, item) for item in attribution.sentences]
    method = (
        attribution.method
        if measured.method in attribution.method
        else (f"{attribution.method}+{measured.method}")
    )
    return attribution.model_copy(
        update={
            "sentences": sentences,
            "method": method,
            "model_calls": attribution.model_calls + measured.model_calls,
            "seconds": attribution.seconds + measured.seconds,
            "complete": attribution.complete and measured.complete,
        }
    )


def _copied_source(text: str, cited: list[int], sources: Sources) -> int | None:
    said = normalize_text(text)
    for sid in cited:
        if sources.has(sid):
            raw = sources.sentence(sid).text
            if said in (normalize_text(raw), leaf_text(raw)):
                return sid
    return None


def _says_twice(text: str) -> bool:
    """Whether a run of five words comes back within the sentence ("X, and X")."""
    return has_repeated_ngram(tokens(text), n=5, repeats=2)


class Repair(BaseModel):
    """What the gate did to an answer sentence that failed.

    Attributes:
        line: The program line.
        round: The repair round (1-based).
        action: ``regenerated`` (re-executed with grounded operations),
            ``replaced`` (by a verbatim copy of its best-supported source) or
            ``dropped`` (nothing supported it, or it repeated another line).
        before: The sentence that failed.
        after: The sentence that replaced it ("" when dropped).
        source_id: The source sentence copied, for ``replaced``.
        reason: Why the sentence failed.
    """

    line: int
    round: int
    action: str
    before: str
    after: str = ""
    source_id: int | None = None
    reason: str


class GroundingReport(BaseModel):
    """Everything the gate decided in a run (``state["grounding"]``).

    Attributes:
        round: Repair rounds done so far.
        closed: Whether the last-resort round (replace or drop) ran.
        verdicts: The latest verdict of each answer sentence, by line.
        repairs: Every repair, in order.
        seconds: Time spent judging (lexical checks and measurements).
        measured: Sentences measured by the scorer.
    """

    round: int = 0
    closed: bool = False
    verdicts: dict[int, SentenceVerdict] = Field(default_factory=dict)
    repairs: list[Repair] = Field(default_factory=list)
    seconds: float = 0.0
    measured: int = 0

    def failing(self) -> list[SentenceVerdict]:
        """The sentences that do not pass, in line order."""
        return [v for _, v in sorted(self.verdicts.items()) if not v.passed]

    def settled(self, lines: Sequence[LineResult]) -> int:
        """How many answer sentences, from the first, passed: the answer's final prefix.

        Repairs touch only failing lines and the answer is composed in line
        order, so no later round changes a sentence before the first failing
        one — its text, its offsets, or (the attribute node keeps them) its
        citations. That is why the graph may stream them now.

        Args:
            lines: The execution's lines the verdicts were made on.
        """
        count = 0
        for line in _produced(lines):
            verdict = self.verdicts.get(line.line)
            if verdict is None or not verdict.passed:
                break
            count += 1
        return count

    def summary(self) -> dict[str, object]:
        """A JSON-friendly digest for message metadata and the CLI."""
        return {
            "rounds": self.round,
            "sentences": len(self.verdicts),
            "passed": sum(v.passed for v in self.verdicts.values()),
            "measured": self.measured,
            "seconds": round(self.seconds, 3),
            "repairs": [r.model_dump() for r in self.repairs],
            "failing": [{"line": v.line, "reason": v.reason} for v in self.failing()],
        }


def timed_judge(
    gate: GroundingGate,
    report: GroundingReport,
    lines: Sequence[LineResult],
    sentences: Sequence[AnswerSentence],
    sources: Sources,
    attribution: AttributionResult,
    question: str | None,
) -> tuple[GroundingReport, AttributionResult]:
    """Run :meth:`GroundingGate.judge` and fold its verdicts into ``report``."""
    started = time.perf_counter()
    verdicts, attribution = gate.judge(
        lines, sentences, sources, attribution, question=question, known=report.verdicts
    )
    fresh = sum(1 for v in verdicts if v.measured is not None and report.verdicts.get(v.line) != v)
    update = {
        "verdicts": {v.line: v for v in verdicts},
        "seconds": report.seconds + time.perf_counter() - started,
        "measured": report.measured + fresh,
    }
    return report.model_copy(update=update), attribution
