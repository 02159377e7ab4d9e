"""MExGen: multi-level perturbation attribution of generated text.

A standalone engine (no LangGraph, no programs): give it input segments, a
prompt template, a :class:`Scalarizer` and optionally a :class:`Budget`, and
it returns per-unit scores for every output part, refined from sentences to
phrases (or words) where it matters.

Example:
    .. code-block:: python

        from langchain_genprog.attribute.mexgen import (
            ContextTemplate, LogProbScalarizer, MExGen, MExGenConfig, Segment,
        )

        scalarizer = LogProbScalarizer(scorer, answer, spans=sentence_spans)
        engine = MExGen(scalarizer, MExGenConfig(method="clime", levels=("sentence", "phrase")))
        explanation = engine.explain(
            [Segment(text=s, label=f"S{i + 1}") for i, s in enumerate(sources)],
            ContextTemplate(instruction="Answer from the sources.", question=question),
        )
        explanation.top(output=0, k=3)
"""

from langchain_genprog.attribute.mexgen.budget import Budget
from langchain_genprog.attribute.mexgen.clime import CLIME
from langchain_genprog.attribute.mexgen.config import (
    METHOD_NAMES,
    MethodName,
    MExGenConfig,
    make_method,
)
from langchain_genprog.attribute.mexgen.explainer import MExGen, select_for_refinement
from langchain_genprog.attribute.mexgen.game import PerturbationGame, ProgressCallback
from langchain_genprog.attribute.mexgen.loo import LeaveOneOut
from langchain_genprog.attribute.mexgen.lshap import LSHAP
from langchain_genprog.attribute.mexgen.method import AttributionMethod, Observations, Plan
from langchain_genprog.attribute.mexgen.results import (
    Explanation,
    LevelAttribution,
    UnitAttribution,
)
from langchain_genprog.attribute.mexgen.scalarizers import (
    LogProbScalarizer,
    Scalarizer,
    TextSimilarityScalarizer,
)
from langchain_genprog.attribute.mexgen.segmenter import SpacySegmenter
from langchain_genprog.attribute.mexgen.template import ContextTemplate, PromptRenderer
from langchain_genprog.attribute.mexgen.units import (
    LEVELS,
    Level,
    RemovalKey,
    Segment,
    Segmenter,
    Unit,
)

__all__ = [
    "CLIME",
    "LEVELS",
    "LSHAP",
    "METHOD_NAMES",
    "AttributionMethod",
    "Budget",
    "ContextTemplate",
    "Explanation",
    "LeaveOneOut",
    "Level",
    "LevelAttribution",
    "LogProbScalarizer",
    "MExGen",
    "MExGenConfig",
    "MethodName",
    "Observations",
    "PerturbationGame",
    "Plan",
    "ProgressCallback",
    "PromptRenderer",
    "RemovalKey",
    "Scalarizer",
    "Segment",
    "Segmenter",
    "SpacySegmenter",
    "TextSimilarityScalarizer",
    "Unit",
    "UnitAttribution",
    "make_method",
    "select_for_refinement",
]
