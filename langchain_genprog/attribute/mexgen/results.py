"""Result models of a MExGen run: scores per unit and output, per level and mixed."""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, Field

from langchain_genprog.attribute.mexgen.scalarizers import FloatArray
from langchain_genprog.attribute.mexgen.units import Level, SpanRef


class UnitAttribution(BaseModel):
    """The scores of one unit.

    Attributes:
        index: Position of the unit in its level.
        level: The unit's granularity.
        text: The unit's text.
        spans: ``(segment, start, end)`` character spans it covers.
        parent: Index of the unit it was refined from (previous level).
        scores: One score per output; positive = removing the unit lowers
            that output's value. ``nan`` when a budget stopped the run before
            the unit was measured.
    """

    index: int
    level: Level
    text: str
    spans: list[SpanRef]
    parent: int | None = None
    scores: list[float]

    @property
    def segment(self) -> int:
        """The segment the unit starts in."""
        return self.spans[0][0]

    def score(self, output: int) -> float:
        """The score for one output (``nan`` if unknown)."""
        return self.scores[output]


class LevelAttribution(BaseModel):
    """All units of one level.

    Attributes:
        level: The level.
        method: The attribution method.
        units: The units, in reading order.
        refined: Indices (in the previous level) of the units split into this level.
        new_calls: Model calls made for this level.
        reused: Measurements made earlier that this level's estimate used.
        complete: Whether every planned perturbation was measured.
    """

    level: Level
    method: str
    units: list[UnitAttribution]
    refined: list[int] = Field(default_factory=list)
    new_calls: int = 0
    reused: int = 0
    complete: bool = True

    def matrix(self) -> FloatArray:
        """Scores as an array ``(n_units, n_outputs)``."""
        return np.array([u.scores for u in self.units], dtype=float)


class Explanation(BaseModel):
    """The multi-level attribution of one output.

    Attributes:
        method: The attribution method.
        levels: Each level's units and scores, coarsest first.
        units: The mixed-level result: the finest measured units, with each
            refined unit replaced by its parts, in reading order.
        n_outputs: Values per perturbation (e.g. answer sentences).
        baseline: ``v(∅)``, the value of the unperturbed input.
        model_calls: Perturbed inputs scored.
        seconds: Wall time.
        complete: ``False`` when a budget stopped the run early.
    """

    method: str
    levels: list[LevelAttribution]
    units: list[UnitAttribution]
    n_outputs: int
    baseline: list[float]
    model_calls: int
    seconds: float
    complete: bool

    def matrix(self) -> FloatArray:
        """Mixed-level scores as an array ``(n_units, n_outputs)``."""
        return np.array([u.scores for u in self.units], dtype=float).reshape(-1, self.n_outputs)

    def top(self, output: int, k: int = 5) -> list[UnitAttribution]:
        """The ``k`` mixed-level units with the highest known score for ``output``."""
        known = [u for u in self.units if not math.isnan(u.scores[output])]
        return sorted(known, key=lambda u: -u.scores[output])[:k]
