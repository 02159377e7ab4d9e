"""Step 4 — attribute: cite each answer sentence to source sentences.

* :class:`ProgramLeavesAttributor` — citations by construction (no model call).
* :class:`~langchain_genprog.attribute.mexgen_node.MExGenAttributor` — measured
  by perturbation (MExGen, in :mod:`~langchain_genprog.attribute.mexgen`), with
  its options in one :class:`MExGenAttributorConfig` (the engine's
  :class:`MExGenConfig` plus the attributor's own).
* :func:`~langchain_genprog.attribute.posthoc.attribute` — the same for an
  answer written by anything, no program needed (``aattribute`` for async code).
"""

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    Attributor,
    CitedSource,
    SentenceAttribution,
)
from langchain_genprog.attribute.mexgen.config import MExGenConfig
from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig
from langchain_genprog.attribute.mexgen_node import MExGenAttributor
from langchain_genprog.attribute.posthoc import aattribute, attribute, split_answer
from langchain_genprog.attribute.program_leaves import ProgramLeavesAttributor

__all__ = [
    "AnswerSentence",
    "AttributionResult",
    "Attributor",
    "CitedSource",
    "MExGenAttributor",
    "MExGenAttributorConfig",
    "MExGenConfig",
    "ProgramLeavesAttributor",
    "SentenceAttribution",
    "aattribute",
    "attribute",
    "split_answer",
]
