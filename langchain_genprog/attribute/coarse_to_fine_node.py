"""The attributor's coarse-to-fine scheme (``MExGenAttributorConfig(scheme="coarse-to-fine")``).

Adapts :class:`~langchain_genprog.attribute.mexgen.coarse_to_fine.CoarseToFine`
to answers and sources: every citable sentence is a unit (no neighbourhood
pruning: every sentence is ranked), the cheap priors of
:mod:`~langchain_genprog.attribute.priors` pick the candidates (alone, or with
the block gains for ``screen="blocks"``), program leaves are always measured,
and the citations are
ranked by the fused ranking while only a measured score above
``support_threshold`` makes a citation or a supported sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from langchain_genprog.attribute.base import AnswerSentence, AttributionResult
from langchain_genprog.attribute.mexgen.coarse_to_fine import (
    CoarseToFine,
    CoarseToFineResult,
    sentence_units,
)
from langchain_genprog.attribute.mexgen.fusion import rank_fusion
from langchain_genprog.attribute.mexgen.results import (
    Explanation,
    LevelAttribution,
    UnitAttribution,
)
from langchain_genprog.attribute.mexgen.units import Segment
from langchain_genprog.attribute.priors import compute_priors
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.segment.sources import Sources

if TYPE_CHECKING:
    from langchain_genprog.attribute.mexgen_node import MExGenAttributor


def attribute_coarse_to_fine(
    attributor: MExGenAttributor,
    sentences: Sequence[AnswerSentence],
    scored: Sequence[AnswerSentence],
    sources: Sources,
    question: str | None,
    started: float,
) -> AttributionResult:
    """Run the coarse-to-fine scheme for ``attributor`` and build its result.

    Raises:
        BudgetExhaustedError: If the budget cannot cover the coarse pass.
    """
    import time

    from langchain_genprog.attribute.mexgen_node import answer_target

    config = attributor.config
    target, spans = answer_target(scored)
    segments, seg_ids, maps = attributor._segments(sources, sources.citable_ids)
    template = config.context_template.model_copy(update={"question": question})
    units = sentence_units(segments)
    unit_sids = [seg_ids[u.spans[0][0]] for u in units]
    leaves = [s.leaf_ids for s in scored]
    priors = compute_priors(
        config.priors,
        [s.text for s in scored],
        [segments[u.spans[0][0]].text for u in units],
        source_ids=[sid if sid is not None else -1 for sid in unit_sids],
        leaves=leaves,
        embeddings=attributor.embeddings,
    )
    wanted = {sid for ids in leaves for sid in ids}
    engine = CoarseToFine(
        attributor._scalarizer(target, spans),
        config,
        block_size=config.block_size,
        max_block_chars=config.max_block_chars,
        max_fine_units=config.max_fine_units,
        fine_rows=config.fine_rows,
        keep_blocks=config.keep_blocks,
        screen_levels=screen_levels(config.screen, bool(priors)),
        per_output=config.per_output_for(len(scored)),
        fine_context=config.fine_context,
        segmenter=attributor.segmenter,
        on_progress=attributor.on_progress,
    )
    result = engine.explain(
        segments,
        template,
        priors=priors,
        must_include=[i for i, sid in enumerate(unit_sids) if sid in wanted],
    )
    ranking = None
    if config.fusion != "none":
        fused = rank_fusion(
            {"measured": result.measured, **priors},
            {"measured": config.measured_weight},
            scaled=("measured",) if config.fusion == "score" else (),
        )
        order = np.argsort([sid if sid is not None else -1 for sid in unit_sids], kind="stable")
        ranking = fused[order].T
    return attributor._result(
        sentences,
        scored,
        sources,
        as_explanation(result, segments),
        seg_ids,
        maps,
        time.perf_counter() - started,
        ranking=ranking,
    )


def screen_levels(screen: str, has_priors: bool) -> int | None:
    """The engine's ``screen_levels`` for the config's ``screen``: 0 = priors alone.

    Raises:
        InvalidInputError: For ``screen="priors"`` when no prior applies to the
            answer (e.g. only ``leaves``, and no sentence has any).
    """
    if screen == "blocks" or (screen == "auto" and not has_priors):
        return None
    if not has_priors:
        msg = "screen='priors' but no prior applies to this answer; use screen='auto' or 'blocks'"
        raise InvalidInputError(msg)
    return 0


def as_explanation(result: CoarseToFineResult, segments: Sequence[Segment]) -> Explanation:
    """The run as an engine :class:`Explanation` over the original segments.

    Level 0 holds every sentence with its fine-pass score (``nan`` where it
    was not measured); finer units of the fine pass (phrases) follow, their
    spans mapped back to the original segments.
    """
    sentence_level = LevelAttribution(
        level="sentence",
        method="coarse-to-fine",
        units=[
            UnitAttribution(
                index=i,
                level="sentence",
                text=unit.text(segments),
                spans=list(unit.spans),
                scores=result.measured[i].tolist(),
            )
            for i, unit in enumerate(result.units)
        ],
        new_calls=result.model_calls,
        complete=result.complete,
    )
    finer: list[UnitAttribution] = []
    if result.fine is not None:
        for unit in result.fine.units:
            if unit.level == "sentence":
                continue
            spans = [(result.fine_segments[seg], start, end) for seg, start, end in unit.spans]
            finer.append(unit.model_copy(update={"spans": spans}))
    n_outputs = result.measured.shape[1]
    baseline = result.fine.baseline if result.fine is not None else [float("nan")] * n_outputs
    return Explanation(
        method="coarse-to-fine",
        levels=[sentence_level],
        units=[*sentence_level.units, *finer],
        n_outputs=n_outputs,
        baseline=baseline,
        model_calls=result.model_calls,
        seconds=result.seconds,
        complete=result.complete,
    )
