"""MExGen as an :class:`~langchain_genprog.attribute.base.Attributor`.

Adapts the standalone engine (:mod:`langchain_genprog.attribute.mexgen`) to
answer sentences and numbered sources:

* **Target** — the whole answer, scored once per perturbation; each answer
  sentence is one output of the scalarizer (its character span), so one
  model call measures every answer sentence. With ``targets="sentence"``
  each sentence is measured on its own candidates instead
  (:mod:`~langchain_genprog.attribute.per_sentence`).
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
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    CitedSource,
    SentenceAttribution,
    join_sentences,
)
from langchain_genprog.attribute.mexgen.config import MExGenConfig
from langchain_genprog.attribute.mexgen.explainer import MExGen
from langchain_genprog.attribute.mexgen.game import ProgressCallback
from langchain_genprog.attribute.mexgen.results import Explanation, UnitAttribution
from langchain_genprog.attribute.mexgen.scalarizers import (
    LogProbScalarizer,
    Scalarizer,
    TextSimilarityScalarizer,
)
from langchain_genprog.attribute.mexgen.units import Segment, Segmenter

# The defaults lived here before the configuration object; kept importable.
from langchain_genprog.attribute.mexgen_config import (
    DEFAULT_INSTRUCTION as DEFAULT_INSTRUCTION,
)
from langchain_genprog.attribute.mexgen_config import (
    DEFAULT_SUPPORT_THRESHOLD as DEFAULT_SUPPORT_THRESHOLD,
)
from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models.scoring import LogProbScorer
from langchain_genprog.segment.selection import lexical_overlap, rank_sentences
from langchain_genprog.segment.sources import Sources


class MExGenAttributor:
    """Cites answer sentences to source sentences (and phrases) measured with MExGen.

    The options — the engine's and the attributor's own: candidates, prompt
    layout, citations per sentence, support threshold — are one
    :class:`~langchain_genprog.attribute.mexgen_config.MExGenAttributorConfig`,
    validated when it is built and passed to the engine as it is. Give it as
    ``config``, or give its fields as keyword arguments
    (``MExGenAttributor(scorer, method="loo", levels=("sentence",))``).

    Args:
        scorer: Log-prob backend (teacher forcing of the answer). ``None``
            requires ``chat_model`` and ``embeddings`` (text-only mode).
        config: The options; ``None``: the defaults. A plain engine
            :class:`~langchain_genprog.attribute.mexgen.config.MExGenConfig`
            contributes the options it was built with.
        segmenter: Phrase/word segmenter (default: spaCy).
        on_progress: ``on_progress(done, total)`` after each batch.
        progress_bar: Show a tqdm bar.
        chat_model: Regenerates the answer in text-only mode.
        embeddings: Compares regenerated and original sentences in text-only mode.
        **options: Fields of ``MExGenAttributorConfig`` (``method``,
            ``levels``, ``top_k``, ``support_threshold``, ``budget`` ...),
            replacing those of ``config``.

    Raises:
        InvalidInputError: On bad options, or no scorer and no text-only pair.
        TypeError: On an unknown option.
    """

    def __init__(
        self,
        scorer: LogProbScorer | None = None,
        *,
        config: MExGenConfig | None = None,
        segmenter: Segmenter | None = None,
        on_progress: ProgressCallback | None = None,
        progress_bar: bool = False,
        chat_model: BaseLanguageModel[Any] | None = None,
        embeddings: Embeddings | None = None,
        **options: Any,
    ) -> None:
        if scorer is None and (chat_model is None or embeddings is None):
            msg = (
                "MExGenAttributor needs a LogProbScorer, or both chat_model and embeddings "
                "for the text-only mode"
            )
            raise InvalidInputError(msg)
        self.config = MExGenAttributorConfig.resolve(config, options, "MExGenAttributor")
        self.scorer = scorer
        self.chat_model = chat_model
        self.embeddings = embeddings
        self.segmenter = segmenter
        self.on_progress = on_progress
        self.progress_bar = progress_bar
        method = self.config.method
        self.name = f"mexgen-{method if isinstance(method, str) else method.name}"

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
        if self.config.scheme_for(len(sources.citable_ids)) == "coarse-to-fine":
            from langchain_genprog.attribute.coarse_to_fine_node import attribute_coarse_to_fine

            return attribute_coarse_to_fine(self, sentences, scored, sources, question, started)
        if self.config.targets == "sentence":
            from langchain_genprog.attribute.per_sentence import attribute_per_sentence

            return attribute_per_sentence(self, sentences, sources, question, started)
        target, spans = answer_target(scored)
        candidates = self.candidates(scored, sources)
        segments, seg_ids, maps = self._segments(sources, candidates)
        template = self.config.context_template.model_copy(update={"question": question})
        engine = MExGen(
            self._scalarizer(target, spans),
            self.config,
            segmenter=self.segmenter,
            on_progress=self.on_progress,
            progress_bar=self.progress_bar,
        )
        explanation = engine.explain(segments, template)
        return self._result(
            sentences, scored, sources, explanation, seg_ids, maps, time.perf_counter() - started
        )

    def candidates(self, sentences: Sequence[AnswerSentence], sources: Sources) -> list[int]:
        """The source sentence ids attributed to (all, or the neighbourhood when many)."""
        citable = sources.citable_ids
        if self.config.max_candidates is None or len(citable) <= self.config.max_candidates:
            return citable
        allowed = set(citable)
        chosen: set[int] = set()
        for sentence in sentences:
            for leaf in sentence.leaf_ids:
                if not sources.has(leaf):
                    continue
                src = sources.sentence(leaf)
                doc_ids = sources.documents[src.doc_index].sentence_ids
                lo = max(0, src.sent_index - self.config.neighbours)
                chosen.update(doc_ids[lo : src.sent_index + self.config.neighbours + 1])
        chosen.update(_lexical_top(sentences, sources, citable, self.config.lexical_top_m))
        chosen &= allowed
        if not chosen:  # no leaf and no shared word: the best BM25 matches of the answer
            ranked, _ = rank_sentences(sources, " ".join(s.text for s in sentences))
            chosen = set([sid for sid in ranked if sid in allowed][: self.config.max_candidates])
        return sorted(chosen)

    def _scalarizer(self, target: str, spans: list[tuple[int, int]]) -> Scalarizer:
        if self.scorer is not None:
            return LogProbScalarizer(self.scorer, target, spans, reduce=self.config.reduce)
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
                and (sid in wanted or self.config.keep_non_candidates)
            ]
            if not any(sid in wanted for sid in ids):
                continue
            if self.config.with_documents:
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
        ranking: np.ndarray | None = None,
    ) -> AttributionResult:
        """The attribution result of a measured explanation.

        ``ranking`` (answer sentences x sorted source ids), if given, orders the
        citations and fills the matrix in place of the measured scores, which
        still decide what may be cited and what is supported.
        """
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
            shown = row if ranking is None else ranking[k]
            matrix.append(np.nan_to_num(shown, nan=0.0).tolist())
            scores = {sid: float(row[j]) for sid, j in column.items()}
            order = (
                None
                if ranking is None
                else {sid: float(ranking[k][j]) for sid, j in column.items()}
            )
            attributions.append(
                self._cite(sentence, k, scores, fine, seg_ids, maps, sources, order=order)
            )
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
        *,
        order: dict[int, float] | None = None,
    ) -> SentenceAttribution:
        leaves = [sid for sid in dict.fromkeys(sentence.leaf_ids) if sources.has(sid)]
        known = {sid: s for sid, s in scores.items() if not math.isnan(s)}
        rank = order if order is not None else known
        ranked = sorted(
            (sid for sid, s in known.items() if s > self.config.support_threshold),
            key=lambda sid: -rank[sid],
        )
        top = ranked[: self.config.top_k]
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
        threshold = self.config.support_threshold
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
                f"none of its program leaves ({labels}) is among the {self.config.top_k} "
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
    text, joined = join_sentences([s.text for s in sentences])
    return text, [(s.start, s.end) for s in joined]


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
