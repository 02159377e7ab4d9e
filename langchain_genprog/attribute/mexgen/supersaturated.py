"""A design with more candidates than rows: each output's own candidates get their own columns.

An answer sentence depends on a few source sentences, and different answer
sentences mostly on different ones. The orthogonal design
(:class:`~.clime.CLIME` with ``sampling="orthogonal"``) gives every unit a
column of a Hadamard matrix of its own, so ``R`` rows measure at most
``R - 1`` units: over a 10-sentence answer, 15 candidates are one or two per
answer sentence, and the measurement can only reorder what the cheap priors
already put first.

This design lets units **share a column** when no output picked both (a
*supersaturated* design: more factors than runs). Each output ``j`` picks a
few units (its best by the priors); the picks of one output get distinct
columns. Units of a column are removed together, so one least-squares fit
(with an intercept) gives an effect per column and output, and output ``j``
reads each column as one unit: its own pick there, or else the column's unit
its prior ranks highest. So every output is measured on every column — its
own picks, plus the best of the other outputs' picks — as with a column per
unit, while the candidates outnumber the rows. What a column cannot tell
apart is its units' effects on one output: they add up in the estimate.
Columns are therefore shared by units with the lowest prior affinity to each
other's outputs (greedy, the most-picked units first), so what is aliased is
what the priors call irrelevant to the output. Units an output does not read
stay ``nan`` for it (not measured).

``R`` rows (a power of two) give ``R - 1`` columns. One block, no
fold-over: with columns shared, more columns (less aliasing) buy more than
the fold-over's freedom from pairwise interactions would. With so few units
that each fits a column of a block of half the rows, nothing is shared: the
rows are that block and its fold-over, as in the orthogonal design.

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


def design_columns(rows: int) -> int:
    """Columns of a design of ``rows`` rows: ``R - 1``, ``R`` the largest power of two <= rows."""
    return (1 << (rows.bit_length() - 1)) - 1


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
        self.size = design_columns(rows) + 1
        self.owners = [set(o) for o in owners]
        self.affinity = affinity
        most = max(sum(1 for o in self.owners if j in o) for j in range(affinity.shape[1]))
        if most > self.size - 1:
            msg = f"an output owns {most} units; {self.size} rows give {self.size - 1} columns"
            raise InvalidInputError(msg)
        self.block = self.size
        if 2 << len(owners).bit_length() <= self.size:
            # Few enough units for a column each in half the rows: a smaller
            # block and its fold-over (as the orthogonal design), nothing shared.
            self.block = 1 << len(owners).bit_length()
            self.columns, self.measured_for = list(range(len(owners))), list(self.owners)
        else:
            self.columns, self.measured_for = assign_columns(self.owners, affinity, self.size - 1)

    def plan(self, n_units: int, rng: np.random.Generator) -> Plan:
        """The Hadamard rows, unit ``u`` removed where its column is -1."""
        if n_units != len(self.owners):
            raise InvalidInputError(f"the design has {len(self.owners)} units, not {n_units}")
        hadamard = sylvester_hadamard(self.block)
        placed = [u for u, c in enumerate(self.columns) if c >= 0]
        design = hadamard[:, [1 + self.columns[u] for u in placed]]
        weights: dict[frozenset[int], float] = {}
        for block in range(self.size // self.block):
            removed_sign = -1 if block % 2 == 0 else 1  # odd blocks: the fold-over
            for row in design:
                subset = frozenset(placed[k] for k in np.flatnonzero(row == removed_sign))
                weights[subset] = weights.get(subset, 0.0) + 1.0
        subsets = sorted(weights, key=lambda s: (len(s), sorted(s)))
        return Plan(tiers=by_size(subsets), weights=weights)

    def estimate(
        self, n_units: int, n_outputs: int, observations: Observations, plan: Plan
    ) -> FloatArray:
        """One fit over the columns; each output reads each column as one unit.

        The units of a column are removed together, so the data know columns,
        not units: output ``j`` reads a column as the unit it picked there,
        or, if it picked none, as the column's unit its prior ranks highest.
        Every other unit of the column stays ``nan`` for ``j``.
        """
        scores = nan_scores(n_units, n_outputs)
        used = sorted({c for c in self.columns if c >= 0})
        groups = [[u for u, col in enumerate(self.columns) if col == c] for c in used]
        # Only removals that take a column's units all or none say what a column does.
        subsets = sorted(
            (s for s in observations if all(len(s.intersection(g)) in (0, len(g)) for g in groups)),
            key=lambda s: (len(s), sorted(s)),
        )
        if len(subsets) < 2 or not groups:
            return scores
        features = np.array([[float(g[0] in s) for g in groups] for s in subsets])
        target = np.vstack([observations[s] for s in subsets])
        weights = np.array([plan.weights.get(s, 1.0) for s in subsets])
        coef = weighted_fit(features, target, weights)
        for k, members in enumerate(groups):
            for j in range(n_outputs):
                scores[self._reader(members, j), j] = -coef[k, j]  # features mark removal
        return scores

    def _reader(self, members: Sequence[int], output: int) -> int:
        """The unit ``output`` reads a column as: its own pick there, else its most relevant."""
        for u in members:
            if output in self.measured_for[u]:
                return u
        return max(members, key=lambda u: (self.affinity[u, output], -u))


def assign_columns(
    owners: Sequence[set[int]], affinity: FloatArray, n_columns: int
) -> tuple[list[int], list[set[int]]]:
    """A column per unit; units sharing an owner never share a column.

    Units are placed most-owned first (ties: most relevant first) in the
    allowed column whose units are least relevant to the unit's outputs and
    the least relevant the other way round; an empty column costs nothing.
    A unit that finds no allowed column (its outputs' other units use every
    one) takes the column where the fewest of its outputs clash, and is
    measured for the others only; for none, it gets column ``-1`` (never
    removed, not measured). Either is rare: it takes a unit owned by several
    outputs that together own more units than there are columns.

    Returns:
        The column of each unit, and the outputs each unit is measured for.
    """
    n_units = len(owners)
    kept = [set(o) for o in owners]
    best = np.array([max(affinity[u, j] for j in owners[u]) for u in range(n_units)])
    order = sorted(range(n_units), key=lambda u: (-len(owners[u]), -best[u], u))
    members: list[list[int]] = [[] for _ in range(n_columns)]
    column = [-1] * n_units
    for u in order:
        options = []
        for c in range(n_columns):
            clash = {j for v in members[c] for j in kept[u] & kept[v]}
            cost = sum(
                sum(affinity[v, j] for j in kept[u]) + sum(affinity[u, j] for j in kept[v])
                for v in members[c]
            )
            options.append((len(clash), cost, len(members[c]), c, clash))
        n_clash, _, _, chosen, clash = min(options, key=lambda o: o[:4])
        kept[u] -= clash
        if n_clash and not kept[u]:
            continue  # every output of u clashes everywhere: u is left out
        members[chosen].append(u)
        column[u] = chosen
    return column, kept
