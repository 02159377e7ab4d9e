"""Leave-one-out: the drop in value when one unit is removed.

The cheapest method (``d + 1`` model calls) and exact for additive
(linear) games, but blind to redundancy: when two sources say the same thing,
removing either one alone changes little and both score near zero. C-LIME and
L-SHAP also remove units together to see through that.
"""

from __future__ import annotations

import numpy as np

from langchain_genprog.attribute.mexgen.method import Observations, Plan, Subset, nan_scores
from langchain_genprog.attribute.mexgen.scalarizers import FloatArray


class LeaveOneOut:
    """``score_i = v(∅) - v({i})``."""

    name = "loo"

    def plan(self, n_units: int, rng: np.random.Generator) -> Plan:
        """The original input and each unit removed alone, in one tier."""
        del rng  # deterministic
        subsets: list[Subset] = [frozenset()]
        subsets.extend(frozenset({i}) for i in range(n_units))
        return Plan(tiers=(tuple(subsets),))

    def estimate(
        self, n_units: int, n_outputs: int, observations: Observations, plan: Plan
    ) -> FloatArray:
        """Score the units whose removal was measured; ``nan`` for the others."""
        scores = nan_scores(n_units, n_outputs)
        base = observations.get(frozenset())
        if base is None:
            return scores
        for i in range(n_units):
            value = observations.get(frozenset({i}))
            if value is not None:
                scores[i] = base - value
        return scores
