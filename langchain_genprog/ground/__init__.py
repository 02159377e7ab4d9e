"""The grounding gate: an answer sentence keeps its citations only if its sources support it.

* :mod:`~langchain_genprog.ground.lexical` — the cheap check: content words and
  numbers of the sentence found in its cited sources;
* :mod:`~langchain_genprog.ground.gate` — the gate: verbatim copies pass, repeats
  fail, the lexical check, then a measurement (MExGen) where it decides;
* :mod:`~langchain_genprog.ground.measure` — the default measurement on the
  embedded model (leave-one-out over each sentence's leaves and neighbours);
* :mod:`~langchain_genprog.ground.repair` — what happens to a sentence that
  fails: re-executed with grounded operations, else replaced by a verbatim
  copy of its best source, else dropped; always reported.
"""

from langchain_genprog.ground.gate import GroundingGate, GroundingReport, Repair, SentenceVerdict
from langchain_genprog.ground.lexical import LexicalVerdict, lexical_verdict
from langchain_genprog.ground.measure import leaf_measurer

__all__ = [
    "GroundingGate",
    "GroundingReport",
    "LexicalVerdict",
    "Repair",
    "SentenceVerdict",
    "leaf_measurer",
    "lexical_verdict",
]
