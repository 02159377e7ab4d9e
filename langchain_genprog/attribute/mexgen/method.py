"""The interface shared by the perturbation-based attribution methods.

A method works on ``d`` units numbered ``0..d-1`` in reading order and never
sees text or models: it *plans* which removal sets to measure, and
*estimates* one score per unit and output from the values that were
measured. Splitting the two lets the engine memoize, batch, order and budget
the measurements for every method alike, feed a method measurements made
earlier (at a coarser level), and still produce partial scores when a budget
stopped the measurement.

Scores follow one sign convention: positive means removing the unit lowers
the output's value, i.e. the unit supports the output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from langchain_genprog.attribute.mexgen.scalarizers import FloatArray

Subset = frozenset[int]
"""A set of removed unit indices."""

Observations = Mapping[Subset, FloatArray]
"""Known ``v(S)`` vectors (one value per output) keyed by removed set ``S``."""


@dataclass(frozen=True)
class Plan:
    """Removal sets to measure, most useful first.

    Attributes:
        tiers: Groups of subsets; a budget stops between tiers' batches, so
            earlier tiers should suffice for a rough estimate.
        weights: Regression weight of each planned subset (C-LIME).
    """

    tiers: tuple[tuple[Subset, ...], ...]
    weights: Mapping[Subset, float] = field(default_factory=dict)

    @property
    def subsets(self) -> list[Subset]:
        """Every planned subset, in tier order."""
        return [s for tier in self.tiers for s in tier]


@runtime_checkable
class AttributionMethod(Protocol):
    """A perturbation-based attribution method (LOO, C-LIME, L-SHAP).

    Runtime-checkable so that a configuration can accept a method object
    (``MExGenConfig(method=CLIME(...))``) and reject anything else.
    """

    name: str

    def plan(self, n_units: int, rng: np.random.Generator) -> Plan:
        """Choose the removal sets to measure for ``n_units`` units."""
        ...

    def estimate(
        self, n_units: int, n_outputs: int, observations: Observations, plan: Plan
    ) -> FloatArray:
        """Scores of shape ``(n_units, n_outputs)``; ``nan`` where nothing was measured."""
        ...


def by_size(subsets: Sequence[Subset]) -> tuple[tuple[Subset, ...], ...]:
    """Group subsets into tiers: the empty set and singletons first, then by size."""
    tiers: dict[int, list[Subset]] = {}
    for subset in subsets:
        tiers.setdefault(max(len(subset), 1), []).append(subset)
    return tuple(tuple(tiers[size]) for size in sorted(tiers))


def nan_scores(n_units: int, n_outputs: int) -> FloatArray:
    """An all-unknown score matrix."""
    return np.full((n_units, n_outputs), np.nan)
