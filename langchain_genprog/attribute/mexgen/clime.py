"""C-LIME: a weighted linear model of the value fitted on small removal sets.

MExGen's C-LIME ("constrained LIME") removes at most ``K`` units at a time —
large removals push the input far from anything the model would see — and
draws about ``c·d`` such subsets (``d`` units, oversampling factor ``c``), so
the number of model calls grows linearly with ``d``. Every subset size
``0..K`` gets the same total regression weight, split evenly among the
subsets drawn of that size, so the many pairs do not drown the few
singletons. The model ``v(S) ≈ b - Σ_{i∈S} score_i`` is fitted by weighted
least squares (NumPy), or sparsely with scikit-learn's LARS-lasso when only the
``num_nonzeros`` most important units should get a score.

Every known measurement expressible over the current units enters the fit,
including ones made at a coarser level (removing a sentence = removing all
its phrases) — they get the median weight of the planned rows.

``sampling="bernoulli"`` drops the constraint: each unit is removed
independently with probability ½ (plain LIME's kernel, and context-cite's
ablation scheme), all subsets weighted alike. A unit's score is then its
average effect over heavily reduced contexts, which credits sources that are
*redundant* with each other — neither matters while the other is present —
and so predicts the effect of removing the top-k *together* better; the
price is prompts far from the original, which MExGen's small ``K`` avoids.
The attribution benchmark measures both (``benchmarks/results/attribution.md``).

``sampling="orthogonal"`` keeps that kernel but replaces the random draws by a
designed experiment: the rows of a Sylvester Hadamard matrix and their
fold-over (every row's complement), each unit removed in exactly half the
rows. Unit columns are then orthogonal to each other *and* to every pairwise
interaction (a resolution-IV design), so the fit recovers the Banzhaf value of
any game with at most pairwise interactions exactly, and has the least variance
a design of that size can give otherwise. iid draws reach the same estimate
only on average: on the benchmark's measured games, the fidelity of 30 iid
draws varied by ±0.012 between seeds and rose with the budget
(``benchmarks/estimator_study.py``).
"""

from __future__ import annotations

from itertools import combinations
from math import ceil, comb
from typing import Literal, get_args

import numpy as np

from langchain_genprog.attribute.mexgen.method import (
    Observations,
    Plan,
    Subset,
    by_size,
    nan_scores,
)
from langchain_genprog.attribute.mexgen.scalarizers import FloatArray
from langchain_genprog.errors import InvalidInputError, ModelNotAvailableError

Sampling = Literal["constrained", "bernoulli", "orthogonal"]
"""C-LIME's subsets: sizes ``1..K`` (MExGen), each unit with probability ½, or a design."""

SAMPLINGS: tuple[Sampling, ...] = get_args(Sampling)
"""Every ``Sampling``, for validation and command-line choices."""

DEFAULT_OVERSAMPLING: dict[str, float] = {"constrained": 10.0, "bernoulli": 2.5, "orthogonal": 2.5}
"""``c`` when none is given: MExGen's 10 for its small removals; 2.5 for the half kernels.

Half the units removed at a time, every row informs every unit, so far fewer
rows do: for 12 units, 2.5 gives 32 rows of a fold-over design, which matched
or beat 64 iid draws (and context-cite-64) on the benchmark's measured games.
"""

_ENUMERATE_LIMIT = 50_000
"""Above this many subsets of one size, sample by rejection instead of enumerating."""


class CLIME:
    """Constrained LIME over removal sets of at most ``max_units_replace`` units.

    Args:
        oversampling: ``c``: about ``c·d`` perturbations for ``d`` units
            (``None``: ``DEFAULT_OVERSAMPLING`` of the sampling).
        max_units_replace: ``K``: largest removal set.
        num_nonzeros: Fit a sparse model with at most this many non-zero
            scores per output (``None``: dense least squares).
        debias: With a sparse fit, refit the selected units without penalty.
        sampling: ``constrained`` (MExGen: at most ``K`` units removed),
            ``bernoulli`` (each unit removed with probability ½; ``K`` unused) or
            ``orthogonal`` (the same kernel as a fold-over Hadamard design;
            ``K`` unused).
    """

    name = "clime"

    def __init__(
        self,
        *,
        oversampling: float | None = None,
        max_units_replace: int = 2,
        num_nonzeros: int | None = None,
        debias: bool = True,
        sampling: Sampling = "constrained",
    ) -> None:
        if sampling not in SAMPLINGS:
            msg = f"unknown C-LIME sampling {sampling!r}; use one of {', '.join(SAMPLINGS)}"
            raise InvalidInputError(msg)
        if oversampling is None:
            oversampling = DEFAULT_OVERSAMPLING[sampling]
        if oversampling <= 0:
            raise InvalidInputError("oversampling must be positive")
        if max_units_replace < 1:
            raise InvalidInputError("max_units_replace must be at least 1")
        if num_nonzeros is not None and num_nonzeros < 1:
            raise InvalidInputError("num_nonzeros must be at least 1 (or None for a dense fit)")
        self.sampling = sampling
        self.oversampling = oversampling
        self.max_units_replace = max_units_replace
        self.num_nonzeros = num_nonzeros
        self.debias = debias

    def __repr__(self) -> str:
        return (
            f"CLIME(sampling={self.sampling!r}, oversampling={self.oversampling:g}, "
            f"max_units_replace={self.max_units_replace}, num_nonzeros={self.num_nonzeros})"
        )

    def plan(self, n_units: int, rng: np.random.Generator) -> Plan:
        """Draw about ``c·d`` subsets of size ``1..K`` (plus the empty set).

        The draws are spread over the sizes left: a size with fewer subsets
        than its share is taken whole and the rest moves on to larger sizes.
        With ``bernoulli`` sampling: about ``c·d`` distinct subsets, each unit
        in with probability ½, equally weighted. With ``orthogonal``: ``c·d``
        rounded to whole Hadamard blocks (see ``_orthogonal_plan``).
        """
        if self.sampling == "bernoulli":
            return _bernoulli_plan(n_units, ceil(self.oversampling * n_units), rng)
        if self.sampling == "orthogonal":
            return _orthogonal_plan(n_units, self.oversampling * n_units, rng)
        k_max = self.max_units_replace
        remaining = ceil(self.oversampling * n_units)
        size_weight = remaining / (k_max + 1)
        weights: dict[Subset, float] = {frozenset(): size_weight}
        for k in range(1, min(k_max, n_units) + 1):
            if remaining <= 0:
                break
            wanted = round(remaining / (k_max + 1 - k))
            chosen = _draw(n_units, k, wanted, rng)
            for subset in chosen:
                weights[subset] = size_weight / len(chosen)
            remaining -= len(chosen)
        return Plan(tiers=by_size(list(weights)), weights=weights)

    def estimate(
        self, n_units: int, n_outputs: int, observations: Observations, plan: Plan
    ) -> FloatArray:
        """Fit the linear model on every observation; ``nan`` for units never removed."""
        scores = nan_scores(n_units, n_outputs)
        subsets = sorted(observations, key=lambda s: (len(s), sorted(s)))
        if len(subsets) < 2:
            return scores
        features = np.zeros((len(subsets), n_units))
        for row, subset in enumerate(subsets):
            features[row, list(subset)] = 1.0
        target = np.vstack([observations[s] for s in subsets])
        default = float(np.median(list(plan.weights.values()))) if plan.weights else 1.0
        weights = np.array([plan.weights.get(s, default) for s in subsets])
        active = np.flatnonzero(features.any(axis=0))
        if active.size == 0:
            return scores
        x = features[:, active]
        if self.num_nonzeros is None:
            coef = weighted_fit(x, target, weights)
        else:
            coef = np.column_stack(
                [self._sparse_fit(x, target[:, j], weights) for j in range(n_outputs)]
            )
        # Features mark *removal*: a supporting unit has a negative coefficient.
        scores[active] = -coef
        return scores

    def _sparse_fit(self, x: FloatArray, y: FloatArray, weights: FloatArray) -> FloatArray:
        try:
            from sklearn.linear_model import lars_path
        except ImportError as err:  # pragma: no cover - depends on the environment
            msg = "C-LIME's sparse fit (num_nonzeros) needs scikit-learn: pip install scikit-learn"
            raise ModelNotAvailableError(msg) from err

        root = np.sqrt(weights)
        x_centered = (x - np.average(x, axis=0, weights=weights)) * root[:, None]
        y_centered = (y - np.average(y, weights=weights)) * root
        _, selected, coef = lars_path(
            x_centered,
            y_centered,
            max_iter=self.num_nonzeros,
            method="lasso",
            return_path=False,
        )
        out = np.zeros(x.shape[1])
        selected = np.asarray(selected, dtype=int)
        if not self.debias:
            out[:] = np.asarray(coef).ravel()
        elif selected.size:
            out[selected] = weighted_fit(x[:, selected], y[:, None], weights)[:, 0]
        return out


def weighted_fit(x: FloatArray, y: FloatArray, weights: FloatArray) -> FloatArray:
    """Coefficients ``(n_features, n_outputs)`` of a weighted least-squares fit with intercept.

    The intercept is removed by weighted centering, then ``numpy.linalg.lstsq``
    solves the rescaled problem (the minimum-norm solution when some units
    were never separated, e.g. after a budget stop). This is what
    scikit-learn's ``LinearRegression(sample_weight=...)`` computes, without
    its multi-second import on every process start.
    """
    root = np.sqrt(weights)[:, None]
    x_centered = (x - np.average(x, axis=0, weights=weights)) * root
    y_centered = (y - np.average(y, axis=0, weights=weights)) * root
    coef, *_ = np.linalg.lstsq(x_centered, y_centered, rcond=None)
    return np.asarray(coef, dtype=float)


def _bernoulli_plan(n_units: int, wanted: int, rng: np.random.Generator) -> Plan:
    """The empty set plus ``wanted`` distinct non-empty subsets, each unit in with probability ½."""
    if wanted >= 2**n_units - 1:  # every non-empty subset is wanted: enumerate them
        chosen = [
            frozenset(c) for k in range(1, n_units + 1) for c in combinations(range(n_units), k)
        ]
    else:
        found: dict[Subset, None] = {}
        while len(found) < wanted:
            mask = rng.random(n_units) < 0.5
            if mask.any():
                found.setdefault(frozenset(np.flatnonzero(mask).tolist()), None)
        chosen = list(found)
    subsets = [frozenset(), *chosen]
    return Plan(tiers=by_size(subsets), weights=dict.fromkeys(subsets, 1.0))


def _orthogonal_plan(n_units: int, wanted: float, rng: np.random.Generator) -> Plan:
    """Blocks of a Sylvester Hadamard design, alternating with their fold-over.

    Block ``2b`` is the ``N × N`` Hadamard matrix (``N`` the smallest power of
    two above ``d``) restricted to ``d`` of its ``N - 1`` non-constant columns,
    chosen at random for each pair of blocks; block ``2b + 1`` is its
    complement. A unit is removed where its column is ``-1``. ``wanted`` is
    rounded to whole blocks (at least one), so a budget that ends on a pair
    of blocks gets the full resolution-IV guarantee. Row 0 of every block is
    the original input and its fold-over removes everything; a subset drawn
    twice is measured once and weighted twice.
    """
    size = 1 << n_units.bit_length()  # smallest power of two > n_units
    hadamard = sylvester_hadamard(size)
    blocks = max(1, round(wanted / size))
    weights: dict[Subset, float] = {}
    for block in range(blocks):
        if block % 2 == 0:
            columns = 1 + np.sort(rng.choice(size - 1, size=n_units, replace=False))
            removed_sign = -1
        else:
            removed_sign = 1  # the fold-over: every row's complement
        for row in hadamard[:, columns]:
            subset = frozenset(np.flatnonzero(row == removed_sign).tolist())
            weights[subset] = weights.get(subset, 0.0) + 1.0
    subsets = sorted(weights, key=lambda s: (len(s), sorted(s)))
    return Plan(tiers=by_size(subsets), weights=weights)


def sylvester_hadamard(size: int) -> np.ndarray:
    """The ``size × size`` Sylvester Hadamard matrix (``size`` a power of two).

    One Kronecker product per doubling; scipy's ``hadamard`` does the same but
    is not a dependency of the core package.
    """
    hadamard = np.ones((1, 1), dtype=int)
    while hadamard.shape[0] < size:
        hadamard = np.kron(hadamard, np.array([[1, 1], [1, -1]]))
    return hadamard


def _draw(n_units: int, size: int, wanted: int, rng: np.random.Generator) -> list[Subset]:
    """``wanted`` distinct subsets of ``size`` units (all of them if fewer exist)."""
    if wanted <= 0:
        return []
    total = comb(n_units, size)
    if wanted >= total:
        return [frozenset(c) for c in combinations(range(n_units), size)]
    if total <= _ENUMERATE_LIMIT:
        every = list(combinations(range(n_units), size))
        picks = sorted(rng.choice(total, size=wanted, replace=False).tolist())
        return [frozenset(every[p]) for p in picks]
    found: dict[Subset, None] = {}
    while len(found) < wanted:
        found.setdefault(frozenset(rng.choice(n_units, size=size, replace=False).tolist()), None)
    return list(found)
