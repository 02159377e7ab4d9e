"""The measurement the gate uses by default on the embedded model.

MExGen's leave-one-out over each sentence's leaves and their neighbours. The
candidates are the leaves ±1 sentence in their document — not the whole
source — so the cost follows the answer, not the size of the sources; the
C-LIME design of :class:`MExGenAttributor`'s default is for attribution over
many candidates, where its cost pays off.

Each sentence is measured on its own neighbourhood (``targets="sentence"``,
:mod:`~langchain_genprog.attribute.per_sentence`): one call per candidate
plus one, over a prompt holding only that sentence's candidates and the
answer up to it. Measuring all sentences in one design
(``per_sentence=False``: every call holds every sentence's neighbourhood and
the whole answer) read up to 1.85x more (median 1.44x on seven default
answers of the grounding benchmark) where the check was already 30-60 % of
the default graph's wall time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig
from langchain_genprog.attribute.mexgen_node import MExGenAttributor
from langchain_genprog.errors import ModelNotAvailableError
from langchain_genprog.models._resources import default_model_path
from langchain_genprog.models.scoring import LogProbScorer, TargetLogProbs


class LazyScorer:
    """The embedded scorer, loaded on its first ``score`` call.

    Building a graph must stay instant; the scorer (about a minute the first
    time on a machine, to convert the GGUF; cached afterwards) is paid for
    only when a sentence is actually measured.
    """

    def __init__(self) -> None:
        self._scorer: LogProbScorer | None = None
        self._lock = threading.Lock()

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        """Score with the embedded scorer (``models.get_default_scorer``)."""
        with self._lock:
            if self._scorer is None:
                from langchain_genprog.models import get_default_scorer

                self._scorer = get_default_scorer()
        return self._scorer.score(prompts, target)


def leaf_measurer(
    scorer: LogProbScorer | None = None, *, neighbours: int = 1, per_sentence: bool = True
) -> MExGenAttributor:
    """A MExGen attributor that measures sentences against their leaves' neighbourhood.

    Args:
        scorer: Log-prob backend; ``None``: the embedded one, loaded lazily.
        neighbours: Sentences on each side of a leaf that are candidates too
            (a leaf's neighbour often carries the context it needs).
        per_sentence: Measure each sentence on its own neighbourhood (short
            prompts); ``False``: one design over every sentence's
            neighbourhood, the whole answer scored in each call.
    """
    config = MExGenAttributorConfig(
        method="loo",
        scheme="flat",
        targets="sentence" if per_sentence else "answer",
        levels=("sentence",),
        max_candidates=1,  # always the neighbourhood, never every source sentence
        neighbours=neighbours,
        lexical_top_m=0,
    )
    return MExGenAttributor(scorer or LazyScorer(), config=config)


def embedded_measurer(llm: object) -> MExGenAttributor | None:
    """:func:`leaf_measurer` when ``llm`` is the embedded default model, else ``None``.

    The embedded model's scorer ships with it (the same weights, scored
    exactly), so its answers are measured by default; for any other model the
    gate checks content words and numbers, and a measurement is one argument
    away (``GroundingGate(leaf_measurer(scorer))``).
    """
    path = getattr(llm, "model_path", None)
    if not isinstance(path, str):
        return None
    try:
        default = default_model_path()
    except ModelNotAvailableError:
        return None
    return leaf_measurer() if Path(path).resolve() == default.resolve() else None
