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
from typing import Any

import numpy as np

# MethodName and make_method lived here before the configuration object; kept importable.
from langchain_genprog.attribute.mexgen.config import MethodName as MethodName
from langchain_genprog.attribute.mexgen.config import MExGenConfig
from langchain_genprog.attribute.mexgen.config import make_method as make_method
from langchain_genprog.attribute.mexgen.game import PerturbationGame, ProgressCallback
from langchain_genprog.attribute.mexgen.method import AttributionMethod
from langchain_genprog.attribute.mexgen.results import (
    Explanation,
    LevelAttribution,
    UnitAttribution,
)
from langchain_genprog.attribute.mexgen.scalarizers import FloatArray, Scalarizer
from langchain_genprog.attribute.mexgen.template import ContextTemplate, PromptRenderer
from langchain_genprog.attribute.mexgen.units import (
    Level,
    Segment,
    Segmenter,
    Unit,
    build_units,
    level_rank,
    split_unit,
)
from langchain_genprog.errors import BudgetExhaustedError, InvalidInputError


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
        config: The options (methods, levels, refinement, budget, batching;
            see :class:`~.config.MExGenConfig`); ``None``: the defaults.
        segmenter: Splits units into finer levels (default: spaCy).
        on_progress: Called as ``on_progress(done, total)`` after each batch.
        progress_bar: Show a tqdm progress bar.
        **options: Fields of :class:`~.config.MExGenConfig`, replacing those
            of ``config`` (``MExGen(scalarizer, method="loo")``).

    Raises:
        InvalidInputError: On bad options.
        TypeError: On an unknown option.
    """

    def __init__(
        self,
        scalarizer: Scalarizer,
        config: MExGenConfig | None = None,
        *,
        segmenter: Segmenter | None = None,
        on_progress: ProgressCallback | None = None,
        progress_bar: bool = False,
        **options: Any,
    ) -> None:
        self.config = MExGenConfig.resolve(config, options, "MExGen")
        self.method, self.refine_method = self.config.attribution_methods()
        self.scalarizer = scalarizer
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
        config = self.config
        segs = [Segment(text=s) if isinstance(s, str) else s for s in segments]
        needs_segmenter = level_rank(config.levels[-1]) > level_rank(config.segment_level)
        segmenter = self.segmenter if needs_segmenter else self._segmenter
        units = build_units(
            segs, config.levels[0], segment_level=config.segment_level, segmenter=segmenter
        )
        if not units:
            raise InvalidInputError("no segment has perturbable text (all fixed or blank)")
        game = PerturbationGame(
            segs,
            template if template is not None else ContextTemplate(),
            self.scalarizer,
            replacement=config.replacement,
            budget=config.budget,
            batch_size=config.batch_size,
            on_progress=self.on_progress,
            progress_bar=self.progress_bar,
        )
        rng = np.random.default_rng(config.seed)
        n_outputs = self.scalarizer.n_outputs
        results: list[LevelAttribution] = []
        refined: list[int] = []
        for depth, level in enumerate(config.levels):
            if depth > 0:
                if game.stopped:
                    break
                refined = select_for_refinement(
                    results[-1].matrix(), config.refine_top_k, config.refine_threshold
                )
                parents = units
                units = [
                    child
                    for p in refined
                    for child in split_unit(
                        parents[p], segs, level, config.segment_level, segmenter, parent=p
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
