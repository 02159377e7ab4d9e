"""The MExGen engine: multi-level perturbation attribution of one output.

MExGen (Monteiro Paes et al., "Multi-Level Explanations for Generative
Language Models", arXiv:2403.14459) explains which parts of a long input an
output relied on, at a cost linear in the input's length. It attributes at a
coarse level first (documents or sentences), then *refines* only the units
that matter — those among the top-k of some output and with a normalized
score of at least a threshold — into finer units (phrases, then words),
leaving the others as they are. The result mixes levels: fine where it
matters, coarse elsewhere.

The engine knows only units, a scalarizer and a budget: no LangGraph, no
programs, no particular model. Everything model-related is behind
:class:`~.scalarizers.Scalarizer`, everything layout-related behind the
prompt template.

Refinement rule: for each output ``j``, a unit is refined when it is among
the ``refine_top_k`` highest-scoring units for ``j``, its score is positive,
and ``score / max_i |score_i|`` (over that output's known scores) is at least
``refine_threshold``. The refined units of all outputs are split together,
and units that were not refined are not perturbed at the finer level. Every
coarse measurement that is expressible over the fine units — the original
input, and removals of whole refined units — is reused, both from the memo
(no model call repeated) and as data for the fine estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

import numpy as np

from langchain_genprog.attribute.mexgen.budget import Budget
from langchain_genprog.attribute.mexgen.clime import CLIME, Sampling
from langchain_genprog.attribute.mexgen.game import PerturbationGame, ProgressCallback
from langchain_genprog.attribute.mexgen.loo import LeaveOneOut
from langchain_genprog.attribute.mexgen.lshap import LSHAP
from langchain_genprog.attribute.mexgen.method import AttributionMethod
from langchain_genprog.attribute.mexgen.results import (
    Explanation,
    LevelAttribution,
    UnitAttribution,
)
from langchain_genprog.attribute.mexgen.scalarizers import FloatArray, Scalarizer
from langchain_genprog.attribute.mexgen.template import ContextTemplate, PromptRenderer
from langchain_genprog.attribute.mexgen.units import (
    LEVELS,
    Level,
    Segment,
    Segmenter,
    Unit,
    build_units,
    level_rank,
    split_unit,
)
from langchain_genprog.errors import BudgetExhaustedError, InvalidInputError

MethodName = Literal["clime", "lshap", "loo"]
"""The built-in attribution methods."""


def make_method(
    method: MethodName,
    *,
    oversampling: float | None = None,
    max_units_replace: int = 2,
    num_neighbors: int = 2,
    num_nonzeros: int | None = None,
    sampling: Sampling = "constrained",
) -> AttributionMethod:
    """Build a built-in method by name.

    Args:
        method: ``clime``, ``lshap`` or ``loo``.
        oversampling: C-LIME's ``c`` (about ``c·d`` model calls; ``None``: the
            sampling's default, see ``DEFAULT_OVERSAMPLING``).
        max_units_replace: C-LIME's and L-SHAP's ``K``.
        num_neighbors: L-SHAP's window half-width.
        num_nonzeros: C-LIME sparse fit size (``None``: dense).
        sampling: C-LIME's removal sets (see ``CLIME``).

    Raises:
        InvalidInputError: On an unknown method or a bad option.
    """
    if method == "clime":
        return CLIME(
            oversampling=oversampling,
            max_units_replace=max_units_replace,
            num_nonzeros=num_nonzeros,
            sampling=sampling,
        )
    if method == "lshap":
        return LSHAP(num_neighbors=num_neighbors, max_units_replace=max_units_replace)
    if method == "loo":
        return LeaveOneOut()
    msg = f"unknown attribution method {method!r}; use 'clime', 'lshap' or 'loo'"
    raise InvalidInputError(msg)


def select_for_refinement(scores: FloatArray, top_k: int, threshold: float) -> list[int]:
    """Units passing both the per-output top-k and the normalized-score threshold.

    Args:
        scores: ``(n_units, n_outputs)`` scores (``nan`` = unknown).
        top_k: How many of each output's best units may be refined.
        threshold: Minimum ``score / max |score|`` over the output's units.
    """
    chosen: set[int] = set()
    for column in np.asarray(scores, dtype=float).T:
        known = ~np.isnan(column)
        if not known.any():
            continue
        peak = float(np.max(np.abs(column[known])))
        if peak <= 0:
            continue
        ranked = np.argsort(-np.where(known, column, -np.inf), kind="stable")
        for i in ranked[:top_k]:
            if known[i] and column[i] > 0 and column[i] / peak >= threshold:
                chosen.add(int(i))
    return sorted(chosen)


class MExGen:
    """Multi-level perturbation attribution with a pluggable scalarizer.

    Args:
        scalarizer: Scores prompts against the original output (one value per output part).
        method: ``clime`` (default), ``lshap``, ``loo``, or any
            :class:`~.method.AttributionMethod`.
        refine_method: The method of the finer levels (``None``: ``method``).
            A finer level has several units per refined parent, so C-LIME's
            ``c·d`` calls there can dwarf the coarse pass; ``loo`` (``d``
            calls) keeps a phrase pass cheap while the coarse level, which
            decides what gets cited, keeps the stronger estimator.
        levels: Levels to attribute at, coarsest first, e.g.
            ``("sentence", "phrase")``; each level after the first refines the
            selected units of the previous one.
        segment_level: What one input segment is (``sentence`` or ``document``).
        refine_top_k: Per output, how many top units may be refined.
        refine_threshold: Minimum normalized score for refinement.
        replacement: Text replacing a removed unit (``""`` drops it).
        budget: Limits on model calls and seconds.
        batch_size: Prompts per scalarizer call.
        seed: Seed of C-LIME's subset sampling; same seed, same result.
        oversampling: C-LIME's ``c`` (``None``: the sampling's default).
        max_units_replace: C-LIME's and L-SHAP's ``K``.
        num_neighbors: L-SHAP's window half-width.
        num_nonzeros: C-LIME sparse fit size (``None``: dense).
        sampling: C-LIME's removal sets: ``constrained`` (MExGen's, at most
            ``K`` units), ``bernoulli`` or ``orthogonal`` (half the units at a
            time; see ``CLIME``).
        segmenter: Splits units into finer levels (default: spaCy).
        on_progress: Called as ``on_progress(done, total)`` after each batch.
        progress_bar: Show a tqdm progress bar.

    Raises:
        InvalidInputError: On bad options.
    """

    def __init__(
        self,
        scalarizer: Scalarizer,
        *,
        method: MethodName | AttributionMethod = "clime",
        refine_method: MethodName | AttributionMethod | None = None,
        levels: Sequence[Level] = ("sentence", "phrase"),
        segment_level: Level = "sentence",
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
        sampling: Sampling = "constrained",
        segmenter: Segmenter | None = None,
        on_progress: ProgressCallback | None = None,
        progress_bar: bool = False,
    ) -> None:
        self.levels = _check_levels(levels, segment_level)

        def build(spec: MethodName | AttributionMethod) -> AttributionMethod:
            if not isinstance(spec, str):
                return spec
            return make_method(
                spec,
                oversampling=oversampling,
                max_units_replace=max_units_replace,
                num_neighbors=num_neighbors,
                num_nonzeros=num_nonzeros,
                sampling=sampling,
            )

        self.method = build(method)
        self.refine_method = self.method if refine_method is None else build(refine_method)
        if refine_top_k < 1:
            raise InvalidInputError("refine_top_k must be at least 1")
        if batch_size < 1:
            raise InvalidInputError("batch_size must be at least 1")
        self.scalarizer = scalarizer
        self.segment_level = segment_level
        self.refine_top_k = refine_top_k
        self.refine_threshold = refine_threshold
        self.replacement = replacement
        self.budget = budget
        self.batch_size = batch_size
        self.seed = seed
        self._segmenter = segmenter
        self.on_progress = on_progress
        self.progress_bar = progress_bar

    @property
    def segmenter(self) -> Segmenter:
        """The segmenter (spaCy by default, created on first use)."""
        if self._segmenter is None:
            from langchain_genprog.attribute.mexgen.segmenter import SpacySegmenter

            self._segmenter = SpacySegmenter()
        return self._segmenter

    def explain(
        self,
        segments: Sequence[Segment | str],
        template: ContextTemplate | PromptRenderer | None = None,
    ) -> Explanation:
        """Attribute the scalarizer's output to the units of ``segments``.

        Args:
            segments: The model input, in prompt order (strings are free segments).
            template: Lays the segments out into the prompt (default: a plain
                :class:`~.template.ContextTemplate`).

        Raises:
            InvalidInputError: If no segment can be perturbed.
            BudgetExhaustedError: If the budget ran out before the original
                input was even scored.
        """
        segs = [Segment(text=s) if isinstance(s, str) else s for s in segments]
        needs_segmenter = level_rank(self.levels[-1]) > level_rank(self.segment_level)
        segmenter = self.segmenter if needs_segmenter else self._segmenter
        units = build_units(
            segs, self.levels[0], segment_level=self.segment_level, segmenter=segmenter
        )
        if not units:
            raise InvalidInputError("no segment has perturbable text (all fixed or blank)")
        game = PerturbationGame(
            segs,
            template if template is not None else ContextTemplate(),
            self.scalarizer,
            replacement=self.replacement,
            budget=self.budget,
            batch_size=self.batch_size,
            on_progress=self.on_progress,
            progress_bar=self.progress_bar,
        )
        rng = np.random.default_rng(self.seed)
        n_outputs = self.scalarizer.n_outputs
        results: list[LevelAttribution] = []
        refined: list[int] = []
        for depth, level in enumerate(self.levels):
            if depth > 0:
                if game.stopped:
                    break
                refined = select_for_refinement(
                    results[-1].matrix(), self.refine_top_k, self.refine_threshold
                )
                parents = units
                units = [
                    child
                    for p in refined
                    for child in split_unit(
                        parents[p], segs, level, self.segment_level, segmenter, parent=p
                    )
                ]
                if not units:
                    break
            method = self.method if depth == 0 else self.refine_method
            results.append(self._attribute_level(game, segs, units, level, refined, rng, method))
            if depth == 0 and () not in game.memo:
                msg = "the budget ran out before the original input was scored"
                raise BudgetExhaustedError(msg)
        return Explanation(
            method=self.method.name,
            levels=results,
            units=_mixed(results),
            n_outputs=n_outputs,
            baseline=game.memo[()].tolist(),
            model_calls=game.calls,
            seconds=game.seconds,
            complete=not game.stopped,
        )

    def _attribute_level(
        self,
        game: PerturbationGame,
        segments: Sequence[Segment],
        units: list[Unit],
        level: Level,
        refined: list[int],
        rng: np.random.Generator,
        method: AttributionMethod,
    ) -> LevelAttribution:
        plan = method.plan(len(units), rng)
        known_before = set(game.memo)
        calls_before = game.calls
        complete = game.evaluate([[game.key(units, s) for s in tier] for tier in plan.tiers])
        observations = game.observations(units)
        reused = sum(1 for s in observations if game.key(units, s) in known_before)
        scores = method.estimate(len(units), self.scalarizer.n_outputs, observations, plan)
        return LevelAttribution(
            level=level,
            method=method.name,
            units=[
                UnitAttribution(
                    index=i,
                    level=unit.level,
                    text=unit.text(segments),
                    spans=list(unit.spans),
                    parent=unit.parent,
                    scores=scores[i].tolist(),
                )
                for i, unit in enumerate(units)
            ],
            refined=refined,
            new_calls=game.calls - calls_before,
            reused=reused,
            complete=complete,
        )


def _check_levels(levels: Sequence[Level], segment_level: Level) -> tuple[Level, ...]:
    out = tuple(levels)
    if not out:
        raise InvalidInputError("levels must name at least one level")
    unknown = [lv for lv in (*out, segment_level) if lv not in LEVELS]
    if unknown:
        msg = f"unknown level(s) {unknown}; use {', '.join(LEVELS)}"
        raise InvalidInputError(msg)
    if segment_level not in ("document", "sentence"):
        raise InvalidInputError("segment_level must be 'document' or 'sentence'")
    ranks = [level_rank(lv) for lv in out]
    if any(b <= a for a, b in pairwise(ranks)):
        msg = f"levels must go from coarse to fine without repeats, got {list(out)}"
        raise InvalidInputError(msg)
    return out


def _mixed(results: Sequence[LevelAttribution]) -> list[UnitAttribution]:
    """Replace each refined unit by its parts, level after level."""
    mixed = list(results[0].units)
    for prev, level in pairwise(results):
        children: dict[int, list[UnitAttribution]] = {}
        for unit in level.units:
            if unit.parent is not None:
                children.setdefault(unit.parent, []).append(unit)
        refined_units = {id(prev.units[p]): p for p in children}
        out: list[UnitAttribution] = []
        for unit in mixed:
            parent = refined_units.get(id(unit))
            out.extend(children[parent] if parent is not None else [unit])
        mixed = out
    return mixed
