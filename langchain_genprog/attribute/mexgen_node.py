"""MExGen as an :class:`~langchain_genprog.attribute.base.Attributor`.

Adapts the standalone engine (:mod:`langchain_genprog.attribute.mexgen`) to
answer sentences and numbered sources:

* **Target** — the whole answer, scored once per perturbation; each answer
  sentence is one output of the scalarizer (its character span), so one
  model call measures every answer sentence.
* **Units** — the candidate source sentences, refined into phrases inside the
  sentences that matter. With many sources the candidates are a
  neighbourhood: each program leaf and its ``neighbours`` on each side in its
  document, plus the ``lexical_top_m`` sentences that rank highest by BM25 for
  each answer sentence (among those sharing a content word with it). Other
  sentences are left out of the prompt (or kept fixed, with
  ``keep_non_candidates=True``).
* **Citations** — per answer sentence, the ``top_k`` source sentences with
  the highest positive sentence-level score. A cited sentence that was
  refined is reported at the finest level that supports it: ``level`` is
  ``phrase`` (or ``word``), ``span`` the offsets of the best unit inside the
  source sentence, ``score`` that unit's score. Program leaves are always
  cited too (``from_program=True``), with their measured sentence-level score.
* **Support check** — for an answer sentence with program leaves, the leaves
  must measurably support it: ``supported=False`` (with a ``note``) when the
  sum of the leaves' sentence-level scores is at most ``support_threshold``,
  or when no leaf is among the ``top_k`` sources that support it most. For a
  sentence without leaves (post hoc), ``supported=False`` when no source
  sentence scores above ``support_threshold``. ``supported=None`` when a
  budget stop left a needed score unmeasured.

Scores are drops in the scalarizer's value: with the default log-prob
scalarizer (``reduce="mean"``) a score of 0.5 means removing the source
lowers the answer sentence's mean token log-probability by 0.5 nats.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    CitedSource,
    SentenceAttribution,
)
from langchain_genprog.attribute.mexgen.budget import Budget
from langchain_genprog.attribute.mexgen.clime import Sampling
from langchain_genprog.attribute.mexgen.explainer import MethodName, MExGen
from langchain_genprog.attribute.mexgen.game import ProgressCallback
from langchain_genprog.attribute.mexgen.method import AttributionMethod
from langchain_genprog.attribute.mexgen.results import Explanation, UnitAttribution
from langchain_genprog.attribute.mexgen.scalarizers import (
    LogProbScalarizer,
    Scalarizer,
    TextSimilarityScalarizer,
)
from langchain_genprog.attribute.mexgen.template import ContextTemplate
from langchain_genprog.attribute.mexgen.units import Level, Segment, Segmenter
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models.scoring import LogProbScorer
from langchain_genprog.segment.selection import lexical_overlap, rank_sentences
from langchain_genprog.segment.sources import Sources

DEFAULT_INSTRUCTION = (
    "Answer using only the numbered source sentences below. "
    "Each source sentence is labelled S followed by its number."
)
"""Instruction placed before the sources in the scoring prompt."""

_SENTENCE_LEVELS: tuple[Level, ...] = ("sentence", "phrase", "word")

DEFAULT_SUPPORT_THRESHOLD = 0.05
"""Support threshold calibrated for the embedded scorer (see :class:`MExGenAttributor`)."""


class MExGenAttributor:
    """Cites answer sentences to source sentences (and phrases) measured with MExGen.

    Args:
        scorer: Log-prob backend (teacher forcing of the answer). ``None``
            requires ``chat_model`` and ``embeddings`` (text-only mode).
        method: ``clime`` (default), ``lshap``, ``loo``, or a configured
            method object such as ``CLIME(sampling="bernoulli", num_nonzeros=4)``.
        refine_method: Method of the phrase/word levels (``None``: ``method``).
            LOO by default: which sentences are cited is decided at the
            sentence level; phrases only shade the text inside cited
            sentences, and LOO does that with one call per phrase where
            C-LIME would take ``c`` (10) per phrase.
        levels: Levels, starting with ``sentence``: e.g. ``("sentence",)`` or
            ``("sentence", "phrase")``.
        top_k: Measured citations per answer sentence, best sentence-level
            score first; only scores above ``support_threshold`` are cited, so
            numerical noise (a fit's ``1e-16``) never becomes a citation.
        reduce: ``mean`` or ``sum`` of token log-probs per answer sentence.
        support_threshold: Scores at or below it do not count as support.
            The default, 0.05 nats/token of the sentence's mean log-prob, was
            calibrated for the embedded SmolLM2 scorer on MDS dev
            (``benchmarks/support_calibration.py``): with the default C-LIME
            design it keeps all reference sentences with gold links and passes
            14 % of sentences from another story (ROC AUC 0.99; LOO: 97 % and
            13 %). Recalibrate for another scorer or ``reduce="sum"``; 0
            counts any positive drop.
        max_candidates: Above this many citable sentences, attribute only to
            the neighbourhood (``None``: always all sentences).
        neighbours: Sentences on each side of a program leaf in the neighbourhood.
        lexical_top_m: Per answer sentence, the best BM25 matches added to the
            neighbourhood.
        keep_non_candidates: Keep non-candidate sentences in the prompt (fixed)
            instead of leaving them out (shorter prompts, faster).
        instruction: Instruction of the default template.
        template: Prompt layout (its ``question`` is replaced per call).
        with_documents: Write a ``# title`` header (fixed) before each document.
        refine_top_k: Per answer sentence, top sentences refined into phrases.
        refine_threshold: Minimum normalized score to be refined.
        replacement: Text that replaces a removed unit.
        budget: Limits on model calls and seconds.
        batch_size: Prompts per scorer call.
        seed: Seed of C-LIME's sampling.
        oversampling: C-LIME's ``c`` (``None``: 2.5 for the default
            ``orthogonal`` sampling, 10 for MExGen's ``constrained``).
        max_units_replace: C-LIME's and L-SHAP's ``K``.
        num_neighbors: L-SHAP's window half-width.
        num_nonzeros: C-LIME sparse fit size (``None``: dense).
        sampling: C-LIME's removal sets. The default, ``orthogonal``, removes
            half the units at a time in a fold-over Hadamard design; it cited
            better than MExGen's ``constrained`` small removals (at most ``K``
            units) with 40 % of the calls on the attribution benchmark, and
            credits sources that are redundant with each other. See ``CLIME``.
        segmenter: Phrase/word segmenter (default: spaCy).
        on_progress: ``on_progress(done, total)`` after each batch.
        progress_bar: Show a tqdm bar.
        chat_model: Regenerates the answer in text-only mode.
        embeddings: Compares regenerated and original sentences in text-only mode.

    Raises:
        InvalidInputError: On bad options, or no scorer and no text-only pair.
    """

    def __init__(
        self,
        scorer: LogProbScorer | None = None,
        *,
        method: MethodName | AttributionMethod = "clime",
        refine_method: MethodName | AttributionMethod | None = "loo",
        levels: Sequence[Level] = ("sentence", "phrase"),
        top_k: int = 3,
        reduce: Literal["mean", "sum"] = "mean",
        support_threshold: float = DEFAULT_SUPPORT_THRESHOLD,
        max_candidates: int | None = 40,
        neighbours: int = 1,
        lexical_top_m: int = 8,
        keep_non_candidates: bool = False,
        instruction: str = DEFAULT_INSTRUCTION,
        template: ContextTemplate | None = None,
        with_documents: bool = True,
        refine_top_k: int = 2,
        refine_threshold: float = 0.1,
        replacement: str = "",
        budget: Budget | None = None,
        batch_size: int = 8,
        seed: int = 0,
        oversampling: float | None = None,
        max_units_replace: int = 2,
        num_neighbors: int = 2,
        num_nonzeros: int | None = None,
        sampling: Sampling = "orthogonal",
        segmenter: Segmenter | None = None,
        on_progress: ProgressCallback | None = None,
        progress_bar: bool = False,
        chat_model: BaseLanguageModel[Any] | None = None,
        embeddings: Embeddings | None = None,
    ) -> None:
        if scorer is None and (chat_model is None or embeddings is None):
            msg = (
                "MExGenAttributor needs a LogProbScorer, or both chat_model and embeddings "
                "for the text-only mode"
            )
            raise InvalidInputError(msg)
        levels = tuple(levels)
        if (
            not levels
            or levels[0] != "sentence"
            or any(lv not in _SENTENCE_LEVELS for lv in levels)
        ):
            msg = f"levels must start with 'sentence' and use sentence/phrase/word, got {levels}"
            raise InvalidInputError(msg)
        if top_k < 1:
            raise InvalidInputError("top_k must be at least 1")
        if max_candidates is not None and max_candidates < 1:
            raise InvalidInputError("max_candidates must be at least 1 (or None)")
        if neighbours < 0 or lexical_top_m < 0:
            raise InvalidInputError("neighbours and lexical_top_m must be non-negative")
        self.scorer = scorer
        self.chat_model = chat_model
        self.embeddings = embeddings
        self.method = method
        self.name = f"mexgen-{method if isinstance(method, str) else method.name}"
        self.top_k = top_k
        self.reduce: Literal["mean", "sum"] = reduce
        self.support_threshold = support_threshold
        self.max_candidates = max_candidates
        self.neighbours = neighbours
        self.lexical_top_m = lexical_top_m
        self.keep_non_candidates = keep_non_candidates
        self.template = template or ContextTemplate(instruction=instruction)
        self.with_documents = with_documents
        # Built now so that bad engine options fail at construction, not mid-graph.
        self._engine_options: dict[str, Any] = {
            "method": method,
            "refine_method": refine_method,
            "levels": levels,
            "refine_top_k": refine_top_k,
            "refine_threshold": refine_threshold,
            "replacement": replacement,
            "budget": budget,
            "batch_size": batch_size,
            "seed": seed,
            "oversampling": oversampling,
            "max_units_replace": max_units_replace,
            "num_neighbors": num_neighbors,
            "num_nonzeros": num_nonzeros,
            "sampling": sampling,
            "segmenter": segmenter,
            "on_progress": on_progress,
            "progress_bar": progress_bar,
        }
        MExGen(_NullScalarizer(), **self._engine_options)

    def attribute(
        self,
        sentences: Sequence[AnswerSentence],
        sources: Sources,
        *,
        question: str | None = None,
    ) -> AttributionResult:
        """Measure which source sentences (and phrases) support each answer sentence.

        Raises:
            BudgetExhaustedError: If the budget ran out before any measurement.
        """
        started = time.perf_counter()
        scored = [s for s in sentences if s.text.strip()]
        if not scored or not sources.citable_ids:
            return AttributionResult(
                sentences=[SentenceAttribution(sentence=s) for s in sentences],
                method=self.name,
                seconds=time.perf_counter() - started,
            )
        target, spans = answer_target(scored)
        candidates = self.candidates(scored, sources)
        segments, seg_ids, maps = self._segments(sources, candidates)
        template = self.template.model_copy(update={"question": question})
        engine = MExGen(self._scalarizer(target, spans), **self._engine_options)
        explanation = engine.explain(segments, template)
        return self._result(
            sentences, scored, sources, explanation, seg_ids, maps, time.perf_counter() - started
        )

    def candidates(self, sentences: Sequence[AnswerSentence], sources: Sources) -> list[int]:
        """The source sentence ids attributed to (all, or the neighbourhood when many)."""
        citable = sources.citable_ids
        if self.max_candidates is None or len(citable) <= self.max_candidates:
            return citable
        allowed = set(citable)
        chosen: set[int] = set()
        for sentence in sentences:
            for leaf in sentence.leaf_ids:
                if not sources.has(leaf):
                    continue
                src = sources.sentence(leaf)
                doc_ids = sources.documents[src.doc_index].sentence_ids
                lo = max(0, src.sent_index - self.neighbours)
                chosen.update(doc_ids[lo : src.sent_index + self.neighbours + 1])
        chosen.update(_lexical_top(sentences, sources, citable, self.lexical_top_m))
        chosen &= allowed
        if not chosen:  # no leaf and no shared word: the best BM25 matches of the answer
            ranked, _ = rank_sentences(sources, " ".join(s.text for s in sentences))
            chosen = set([sid for sid in ranked if sid in allowed][: self.max_candidates])
        return sorted(chosen)

    def _scalarizer(self, target: str, spans: list[tuple[int, int]]) -> Scalarizer:
        if self.scorer is not None:
            return LogProbScalarizer(self.scorer, target, spans, reduce=self.reduce)
        assert self.chat_model is not None and self.embeddings is not None  # checked in __init__
        return TextSimilarityScalarizer(self.chat_model, self.embeddings, target, spans)

    def _segments(
        self, sources: Sources, candidates: Sequence[int]
    ) -> tuple[list[Segment], list[int | None], list[list[int]]]:
        """Segments of the prompt, the source id of each, and offset maps to raw text."""
        wanted = set(candidates)
        segments: list[Segment] = []
        seg_ids: list[int | None] = []
        maps: list[list[int]] = []
        for doc in sources.documents:
            ids = [
                sid
                for sid in doc.sentence_ids
                if sources.sentence(sid).text.strip()
                and (sid in wanted or self.keep_non_candidates)
            ]
            if not any(sid in wanted for sid in ids):
                continue
            if self.with_documents:
                segments.append(Segment(text=f"# {doc.title}", fixed=True))
                seg_ids.append(None)
                maps.append([])
            for sid in ids:
                text, positions = _flatten(sources.sentence(sid).text)
                segments.append(
                    Segment(text=text, label=f"S{sid}", group=doc.index, fixed=sid not in wanted)
                )
                seg_ids.append(sid)
                maps.append(positions)
        return segments, seg_ids, maps

    def _result(
        self,
        sentences: Sequence[AnswerSentence],
        scored: Sequence[AnswerSentence],
        sources: Sources,
        explanation: Explanation,
        seg_ids: Sequence[int | None],
        maps: Sequence[Sequence[int]],
        seconds: float,
    ) -> AttributionResult:
        coarse = explanation.levels[0].units
        unit_ids = sorted(sid for u in coarse if (sid := seg_ids[u.segment]) is not None)
        column = {sid: j for j, sid in enumerate(unit_ids)}
        sentence_scores = np.full((len(scored), len(unit_ids)), np.nan)
        for unit in coarse:
            sid = seg_ids[unit.segment]
            if sid is not None:
                sentence_scores[:, column[sid]] = unit.scores
        fine: dict[int, list[UnitAttribution]] = {}
        for unit in explanation.units:
            sid = seg_ids[unit.segment]
            if unit.level != "sentence" and sid is not None:
                fine.setdefault(sid, []).append(unit)
        output_of: dict[int, int] = {}
        for position, sentence in enumerate(sentences):
            if sentence.text.strip():
                output_of[position] = len(output_of)
        matrix: list[list[float]] = []
        attributions: list[SentenceAttribution] = []
        for position, sentence in enumerate(sentences):
            k = output_of.get(position)
            if k is None:
                matrix.append([0.0] * len(unit_ids))
                attributions.append(SentenceAttribution(sentence=sentence))
                continue
            row = sentence_scores[k]
            matrix.append(np.nan_to_num(row, nan=0.0).tolist())
            scores = {sid: float(row[j]) for sid, j in column.items()}
            attributions.append(self._cite(sentence, k, scores, fine, seg_ids, maps, sources))
        return AttributionResult(
            sentences=attributions,
            method=self.name,
            matrix=matrix,
            unit_ids=unit_ids,
            model_calls=explanation.model_calls,
            seconds=seconds,
            complete=explanation.complete,
        )

    def _cite(
        self,
        sentence: AnswerSentence,
        output: int,
        scores: dict[int, float],
        fine: dict[int, list[UnitAttribution]],
        seg_ids: Sequence[int | None],
        maps: Sequence[Sequence[int]],
        sources: Sources,
    ) -> SentenceAttribution:
        leaves = [sid for sid in dict.fromkeys(sentence.leaf_ids) if sources.has(sid)]
        known = {sid: s for sid, s in scores.items() if not math.isnan(s)}
        ranked = sorted(
            (sid for sid, s in known.items() if s > self.support_threshold),
            key=lambda sid: -known[sid],
        )
        top = ranked[: self.top_k]
        citations: list[CitedSource] = []
        for sid in top:
            # A "part" spanning the whole sentence (a short sentence is one
            # phrase) says nothing finer than the sentence: skip it.
            parts = [
                u
                for u in fine.get(sid, [])
                if not math.isnan(u.scores[output]) and u.scores[output] > 0 and not _whole(u, maps)
            ]
            if parts:
                best = max(parts, key=lambda u: u.scores[output])
                seg, start, end = best.spans[0]
                citations.append(
                    CitedSource(
                        sentence_id=sid,
                        score=best.scores[output],
                        method=self.name,
                        level=best.level,
                        span=_raw_span(maps[seg], start, end),
                        from_program=sid in leaves,
                    )
                )
            else:
                citations.append(
                    CitedSource(
                        sentence_id=sid,
                        score=known[sid],
                        method=self.name,
                        from_program=sid in leaves,
                    )
                )
        extra = sorted(
            (sid for sid in leaves if sid not in top),
            key=lambda sid: -known.get(sid, -math.inf),
        )
        citations.extend(
            CitedSource(sentence_id=sid, score=known.get(sid), method=self.name, from_program=True)
            for sid in extra
        )
        supported, note = self._support(leaves, known, top)
        return SentenceAttribution(
            sentence=sentence, citations=citations, supported=supported, note=note
        )

    def _support(
        self, leaves: Sequence[int], known: dict[int, float], top: Sequence[int]
    ) -> tuple[bool | None, str | None]:
        threshold = self.support_threshold
        if not leaves:
            if not known:
                return None, None
            if max(known.values()) > threshold:
                return True, None
            return False, "no source sentence measurably supports this sentence"
        if any(sid not in known for sid in leaves):
            return None, None
        total = sum(known[sid] for sid in leaves)
        labels = ", ".join(f"S{sid}" for sid in leaves)
        if total <= threshold:
            note = (
                f"its program leaves ({labels}) do not measurably support it: "
                f"sum of their scores {total:.3g} <= {threshold:g}"
            )
            return False, note
        if not any(sid in top for sid in leaves):
            best = ", ".join(f"S{sid}" for sid in top) or "none"
            note = (
                f"none of its program leaves ({labels}) is among the {self.top_k} "
                f"sources that support it most ({best})"
            )
            return False, note
        return True, None


def answer_target(sentences: Sequence[AnswerSentence]) -> tuple[str, list[tuple[int, int]]]:
    """The answer text and each sentence's span in it.

    Sentences are laid out at their ``start`` offsets (gaps become spaces), so
    the spans match the answer as written; offsets that do not fit (overlaps,
    or ``end - start`` differing from the text length) fall back to joining
    the sentences with single spaces.
    """
    ordered = sorted(sentences, key=lambda s: s.start)
    consistent = all(s.end - s.start == len(s.text) for s in ordered) and all(
        b.start >= a.end for a, b in pairwise(ordered)
    )
    if consistent and ordered:
        base = ordered[0].start
        parts: list[str] = []
        cursor = base
        for s in ordered:
            parts.append(" " * (s.start - cursor))
            parts.append(s.text)
            cursor = s.end
        text = "".join(parts)
        return text, [(s.start - base, s.end - base) for s in sentences]
    spans: list[tuple[int, int]] = []
    cursor = 0
    for s in sentences:
        spans.append((cursor, cursor + len(s.text)))
        cursor += len(s.text) + 1
    return " ".join(s.text for s in sentences), spans


def _flatten(text: str) -> tuple[str, list[int]]:
    """Collapse whitespace runs (newlines would break the numbered layout).

    Returns the flat text and, per flat character, its offset in ``text``.
    """
    flat: list[str] = []
    positions: list[int] = []
    in_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if not in_space and flat:
                flat.append(" ")
                positions.append(i)
            in_space = True
            continue
        in_space = False
        flat.append(ch)
        positions.append(i)
    if flat and flat[-1] == " ":
        flat.pop()
        positions.pop()
    return "".join(flat), positions


def _whole(unit: UnitAttribution, maps: Sequence[Sequence[int]]) -> bool:
    seg, start, end = unit.spans[0]
    return start == 0 and end >= len(maps[seg])


def _raw_span(positions: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """Map a span of the flattened text back to the source sentence text, trimmed."""
    if not positions or end <= start:
        return (0, 0)
    return positions[start], positions[min(end, len(positions)) - 1] + 1


def _lexical_top(
    sentences: Sequence[AnswerSentence], sources: Sources, citable: Sequence[int], top_m: int
) -> set[int]:
    """Per answer sentence, the ``top_m`` citable sentences by BM25 that share a content word."""
    if top_m == 0 or not citable:
        return set()
    allowed = set(citable)
    chosen: set[int] = set()
    for sentence in sentences:
        ranked, _ = rank_sentences(sources, sentence.text)
        matches = [
            sid
            for sid in ranked
            if sid in allowed and lexical_overlap(sentence.text, sources.sentence(sid).text) > 0
        ]
        chosen.update(matches[:top_m])
    return chosen


class _NullScalarizer:
    """Stands in for the real scalarizer when options are validated at construction."""

    n_outputs = 1

    def scalarize(self, prompts: Sequence[str]) -> Any:
        raise NotImplementedError
