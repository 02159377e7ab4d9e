"""Every applicable metric of one method output, as a flat ``name → value`` dict.

The runner stores these dicts one per (example, method) and averages them per
method; a flat dict with stable names is what a CSV, a JSON summary and a plot
all read without knowing which metric family produced which value.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from langchain_genprog.attribute.base import AttributionResult
from langchain_genprog.evaluation.alce import alce_citation_scores
from langchain_genprog.evaluation.common import ranked_citations
from langchain_genprog.evaluation.cost import Cost, CountingScorer
from langchain_genprog.evaluation.coverage import answer_length, coverage
from langchain_genprog.evaluation.datasets import Example
from langchain_genprog.evaluation.drop_hold import drop_and_hold
from langchain_genprog.evaluation.gold import align_gold, gold_citation_scores
from langchain_genprog.evaluation.judge import EntailmentJudge
from langchain_genprog.evaluation.methods import MethodOutput, example_sources
from langchain_genprog.models.scoring import LogProbScorer
from langchain_genprog.segment.selection import select_sentences
from langchain_genprog.segment.sources import Sources

MetricValues = dict[str, float | None]
"""Metric name → value (``None`` where the metric is undefined for the output)."""


def score_output(
    example: Example,
    output: MethodOutput,
    *,
    judge: EntailmentJudge | None = None,
    scorer: LogProbScorer | None = None,
    top_ks: Sequence[int | None] = (1, 3, None),
    drop_hold_seed: int = 0,
    drop_hold_context: int | None = 40,
) -> tuple[MetricValues, dict[str, Any]]:
    """Every applicable metric of one output, as a flat ``name → value`` dict.

    Always: coverage, answer length and the method's cost. With gold links
    and a method that attributes the reference: gold precision/recall/F1 at
    each of ``top_ks``. With ``judge``: ALCE citation recall/precision. With
    ``scorer``: drop-and-hold and its random control.

    Args:
        example: The example the output answers.
        output: The method's output.
        judge: Entailment judge for ALCE metrics.
        scorer: Log-prob scorer for drop-and-hold.
        top_ks: Cut-offs for the gold metrics (``None`` = all citations).
        drop_hold_seed: Seed of drop-and-hold's random control.
        drop_hold_context: Size of drop-and-hold's relevance-selected context
            (see :func:`~langchain_genprog.evaluation.runner.run_evaluation`).

    Returns:
        The metrics (``None`` where undefined) and the evaluation's own cost
        (``judge_calls``, ``scorer_calls``, ``forward_passes``, ``seconds``).
    """
    started = time.perf_counter()
    sources = example_sources(example)
    attribution = output.attribution
    metrics: MetricValues = {"coverage": coverage(attribution, sources)}
    metrics.update(_length_metrics(output))
    metrics.update(_cost_metrics(output.cost))
    eval_cost: dict[str, Any] = {"judge_calls": 0, "scorer_calls": 0, "forward_passes": 0}
    if output.attributes_reference and example.gold:
        metrics.update(_gold_metrics(example, sources, attribution, top_ks))
    if judge is not None:
        alce = alce_citation_scores(attribution, sources, judge)
        metrics.update(alce_recall=alce.recall, alce_precision=alce.precision, alce_f1=alce.f1)
        eval_cost["judge_calls"] = alce.judge_calls
    if scorer is not None and attribution.sentences:
        counted = CountingScorer(scorer)
        context = _drop_hold_context(example, sources, attribution, drop_hold_context)
        metrics.update(
            _drop_hold_metrics(example, output, sources, counted, context, drop_hold_seed)
        )
        eval_cost["scorer_calls"] = counted.calls
        eval_cost["forward_passes"] = counted.forward_passes
    eval_cost["seconds"] = time.perf_counter() - started
    return {k: _clean(v) for k, v in metrics.items()}, eval_cost


def _length_metrics(output: MethodOutput) -> MetricValues:
    length = answer_length(output.answer, output.attribution)
    return {
        "answer_chars": float(length.chars),
        "answer_words": float(length.words),
        "answer_sentences": float(length.sentences),
        "citations_per_sentence": length.citations_per_sentence,
    }


def _cost_metrics(cost: Cost) -> MetricValues:
    return {
        "cost_llm_calls": float(cost.llm_calls),
        "cost_input_tokens": float(cost.input_tokens),
        "cost_output_tokens": float(cost.output_tokens),
        "cost_total_tokens": float(cost.total_tokens),
        "cost_forward_passes": float(cost.forward_passes),
        "cost_embedding_calls": float(cost.embedding_calls),
        "cost_seconds": cost.seconds,
    }


def _gold_metrics(
    example: Example,
    sources: Sources,
    attribution: AttributionResult,
    top_ks: Sequence[int | None],
) -> MetricValues:
    sentences = [item.sentence for item in attribution.sentences]
    alignment = align_gold(example, sources, sentences)
    predicted = ranked_citations(attribution, sources)
    metrics: MetricValues = {
        "gold_sentences": float(alignment.evaluable),
        "gold_unmatched": float(len(alignment.unmatched)),
    }
    for k in top_ks:
        scores = gold_citation_scores(predicted, alignment.per_sentence, k=k)
        tag = "all" if k is None else str(k)
        for kind, prf in (("micro", scores.micro), ("macro", scores.macro)):
            metrics[f"gold_precision_{kind}@{tag}"] = prf.precision if prf else None
            metrics[f"gold_recall_{kind}@{tag}"] = prf.recall if prf else None
            metrics[f"gold_f1_{kind}@{tag}"] = prf.f1 if prf else None
    return metrics


def _drop_hold_metrics(
    example: Example,
    output: MethodOutput,
    sources: Sources,
    scorer: LogProbScorer,
    context: list[int] | None,
    seed: int,
) -> MetricValues:
    dh = drop_and_hold(
        output.answer,
        output.attribution,
        sources,
        scorer,
        question=example.question,
        context_ids=context,
        seed=seed,
    )
    return {
        "drop_mean": dh.mean_drop,
        "hold_mean": dh.mean_hold,
        "hold_share_mean": dh.mean_hold_share,
        "random_drop_mean": dh.mean_random_drop,
        "fidelity": dh.fidelity,
        "fidelity_win_rate": dh.win_rate,
    }


def _drop_hold_context(
    example: Example, sources: Sources, attribution: AttributionResult, size: int | None
) -> list[int] | None:
    """The ``size`` sentences most relevant to the question, plus every cited one."""
    if size is None:
        return None
    ranked = select_sentences(
        sources, example.question, max_sentences=size, content_only=False
    ).ranked_ids
    citable = set(sources.citable_ids)
    cited = sorted({sid for ids in ranked_citations(attribution) for sid in ids} & citable)
    return list(dict.fromkeys([*ranked, *cited]))


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
