"""A design with more candidates than rows: each output's own candidates get their own columns.

An answer sentence depends on a few source sentences, and different answer
sentences mostly on different ones. The orthogonal design
(:class:`~.clime.CLIME` with ``sampling="orthogonal"``) gives every unit a
column of a Hadamard matrix of its own, so ``R`` rows measure at most
``R - 1`` units: over a 10-sentence answer, 15 candidates are one or two per
answer sentence, and the measurement can only reorder what the cheap priors
already put first.

This design lets units **share a column** when no output has both as a
candidate (a *supersaturated* design: more factors than runs). Each output
``j`` owns a few units (its best by the priors); the owned units of one
output get distinct columns, so output ``j``'s regression on its own units
(least squares with an intercept, the other units left out) sees orthogonal
regressors and every other column is orthogonal to them too. What it cannot
tell apart is a unit it owns and the units of other outputs that share that
unit's column: their effects *on output j* add up in the estimate. Columns
are therefore shared by units with the lowest prior affinity to each
other's outputs (greedy, the most-owned units first), so what is aliased is
what the priors call irrelevant to the output. A unit's score for an output
that does not own it is ``nan`` (not measured).

``R`` rows (a power of two) give ``R - 1`` columns. One block, no
fold-over: with columns shared, more columns (less aliasing) buy more than
the fold-over's freedom from pairwise interactions would.

Greedy column assignment is written here because it is a few lines over the
owners' sets; a general graph-colouring library would not weigh aliasing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from langchain_genprog.attribute.mexgen.clime import sylvester_hadamard, weighted_fit
from langchain_genprog.attribute.mexgen.method import Observations, Plan, by_size, nan_scores
from langchain_genprog.attribute.mexgen.scalarizers import FloatArray
from langchain_genprog.errors import InvalidInputError


class SupersaturatedDesign:
    """Hadamard rows over units that share columns across outputs.

    Args:
        owners: Per unit, the outputs it is a candidate of (non-empty).
        affinity: ``(n_units, n_outputs)`` prior relevance (higher = more
            relevant), used to share columns between units least relevant
            to each other's outputs.
        rows: Rows of the design, rounded down to a power of two ``R``
            (``R - 1`` columns).

    Raises:
        InvalidInputError: If an output owns more units than there are
            columns, a unit has no owner, or shapes disagree.
    """

    name = "clime-supersaturated"

    def __init__(self, owners: Sequence[set[int]], affinity: FloatArray, *, rows: int = 16) -> None:
        affinity = np.asarray(affinity, dtype=float)
        if affinity.ndim != 2 or affinity.shape[0] != len(owners):
            msg = f"affinity must be (units={len(owners)}, outputs), got {affinity.shape}"
            raise InvalidInputError(msg)
        if any(not o for o in owners):
            raise InvalidInputError("every unit of a supersaturated design needs an owner")
        if rows < 4:
            raise InvalidInputError("a supersaturated design needs at least 4 rows")
        self.size = 1 << (rows.bit_length() - 1)
        self.owners = [set(o) for o in owners]
        self.affinity = affinity
        most = max(sum(1 for o in self.owners if j in o) for j in range(affinity.shape[1]))
        if most > self.size - 1:
            msg = f"an output owns {most} units; {self.size} rows give {self.size - 1} columns"
            raise InvalidInputError(msg)
        self.columns = assign_columns(self.owners, affinity, self.size - 1)

    def plan(self, n_units: int, rng: np.random.Generator) -> Plan:
        """The Hadamard rows, unit ``u`` removed where its column is -1."""
        if n_units != len(self.owners):
            raise InvalidInputError(f"the design has {len(self.owners)} units, not {n_units}")
        design = sylvester_hadamard(self.size)[:, [1 + c for c in self.columns]]
        weights: dict[frozenset[int], float] = {}
        for row in design:
            subset = frozenset(np.flatnonzero(row == -1).tolist())
            weights[subset] = weights.get(subset, 0.0) + 1.0
        subsets = sorted(weights, key=lambda s: (len(s), sorted(s)))
        return Plan(tiers=by_size(subsets), weights=weights)

    def estimate(
        self, n_units: int, n_outputs: int, observations: Observations, plan: Plan
    ) -> FloatArray:
        """Per output, least squares on its own units; ``nan`` for the units it does not own."""
        scores = nan_scores(n_units, n_outputs)
        subsets = sorted(observations, key=lambda s: (len(s), sorted(s)))
        if len(subsets) < 2:
            return scores
        features = np.zeros((len(subsets), n_units))
        for row, subset in enumerate(subsets):
            features[row, list(subset)] = 1.0
        target = np.vstack([observations[s] for s in subsets])
        weights = np.array([plan.weights.get(s, 1.0) for s in subsets])
        for j in range(n_outputs):
            own = [u for u in range(n_units) if j in self.owners[u]]
            if own:
                coef = weighted_fit(features[:, own], target[:, [j]], weights)
                scores[own, j] = -coef[:, 0]  # features mark removal
        return scores


def assign_columns(owners: Sequence[set[int]], affinity: FloatArray, n_columns: int) -> list[int]:
    """A column per unit; units sharing an owner never share a column.

    Units are placed most-owned first (ties: most relevant first) in the
    allowed column whose units are least relevant to the unit's outputs and
    the least relevant the other way round; an empty column costs nothing.

    Raises:
        InvalidInputError: If a unit finds no allowed column (its outputs'
            units already use every column).
    """
    n_units = len(owners)
    best = np.array([max(affinity[u, j] for j in owners[u]) for u in range(n_units)])
    order = sorted(range(n_units), key=lambda u: (-len(owners[u]), -best[u], u))
    members: list[list[int]] = [[] for _ in range(n_columns)]
    column = [-1] * n_units
    for u in order:
        costs = []
        for c in range(n_columns):
            if any(owners[u] & owners[v] for v in members[c]):
                continue
            cost = sum(
                sum(affinity[v, j] for j in owners[u]) + sum(affinity[u, j] for j in owners[v])
                for v in members[c]
            )
            costs.append((cost, len(members[c]), c))
        if not costs:
            msg = f"unit {u}: its outputs' other units use all {n_columns} columns"
            raise InvalidInputError(msg)
        chosen = min(costs)[2]
        members[chosen].append(u)
        column[u] = chosen
    return column
