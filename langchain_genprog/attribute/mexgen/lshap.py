"""L-SHAP: Shapley values restricted to a local window and small coalitions.

Exact Shapley values need all ``2^d`` removal sets. MExGen's L-SHAP keeps the
two approximations that matter for text: a unit interacts mostly with its
neighbours, so only the ``num_neighbors`` units on each side of it may be
removed along with it (units outside the window stay in place); and only
removal sets of at most ``K`` of those neighbours are used. For unit ``i``
with window ``W`` (``n = |W|``) the score is the average over sizes
``k = 0..min(K, n)`` of the mean marginal contribution

    ``mean_{T ⊆ W, |T| = k} [v(T) - v(T ∪ {i})]``

which is exactly the Shapley value of ``i`` when the window covers every
unit and ``K ≥ n`` (Shapley weights are uniform over coalition sizes, and
uniform among coalitions of one size). The number of model calls is at most
``d · 2·Σ_k C(2·num_neighbors, k)``: linear in ``d``.

With partial measurements (a budget stop), a size whose pairs are all
missing is left out of the average, and a unit with no measured pair gets
``nan``.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from langchain_genprog.attribute.mexgen.method import (
    Observations,
    Plan,
    Subset,
    by_size,
    nan_scores,
)
from langchain_genprog.attribute.mexgen.scalarizers import FloatArray
from langchain_genprog.errors import InvalidInputError


class LSHAP:
    """Local Shapley values over windows of neighbouring units.

    Args:
        num_neighbors: Units on *each* side that may be removed with a unit.
        max_units_replace: ``K``: largest set of neighbours removed together.
    """

    name = "lshap"

    def __init__(self, *, num_neighbors: int = 2, max_units_replace: int = 2) -> None:
        if num_neighbors < 0:
            raise InvalidInputError("num_neighbors must be non-negative")
        if max_units_replace < 0:
            raise InvalidInputError("max_units_replace must be non-negative")
        self.num_neighbors = num_neighbors
        self.max_units_replace = max_units_replace

    def window(self, i: int, n_units: int) -> list[int]:
        """The neighbours of unit ``i`` that may be removed along with it."""
        lo, hi = max(0, i - self.num_neighbors), min(n_units, i + self.num_neighbors + 1)
        return [j for j in range(lo, hi) if j != i]

    def _pairs(self, i: int, n_units: int) -> list[list[Subset]]:
        """Per size ``k``, the coalitions ``T`` of removed neighbours."""
        window = self.window(i, n_units)
        return [
            [frozenset(t) for t in combinations(window, k)]
            for k in range(min(self.max_units_replace, len(window)) + 1)
        ]

    def plan(self, n_units: int, rng: np.random.Generator) -> Plan:
        """Every ``T`` and ``T ∪ {i}`` for every unit ``i`` (deduplicated)."""
        del rng  # deterministic
        subsets: dict[Subset, None] = {frozenset(): None}
        for i in range(n_units):
            for by_k in self._pairs(i, n_units):
                for t in by_k:
                    subsets.setdefault(t, None)
                    subsets.setdefault(t | {i}, None)
        return Plan(tiers=by_size(list(subsets)))

    def estimate(
        self, n_units: int, n_outputs: int, observations: Observations, plan: Plan
    ) -> FloatArray:
        """Average, over coalition sizes, of the mean marginal contribution."""
        scores = nan_scores(n_units, n_outputs)
        for i in range(n_units):
            terms: list[FloatArray] = []
            for by_k in self._pairs(i, n_units):
                deltas = [
                    observations[t] - observations[t | {i}]
                    for t in by_k
                    if t in observations and (t | {i}) in observations
                ]
                if deltas:
                    terms.append(np.mean(deltas, axis=0))
            if terms:
                scores[i] = np.mean(terms, axis=0)
        return scores
