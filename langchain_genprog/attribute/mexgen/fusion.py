"""Fusing measured scores with cheap signals into one ranking.

On summaries that copy their sources, word overlap and embedding cosine rank
source sentences about as well as any log-prob measurement; they are also
free. A measurement says something they cannot (whether the model's output
actually *depends* on the source), and they say something a measurement on a
few rows misses (which of two near-identical sentences the writer copied). So
the ranking that cites combines them, while the *support* decision stays with
the measurement alone.

Two combinations, both per output (per answer sentence) and scale-free, so the
signals' units (nats per token, cosine, word shares) never need calibrating:

* :func:`rank_fusion` — a weighted mean of percentile ranks; fixed weights
  need no labelled data (the attributor weighs the measurement 2 and each
  prior 1 by default: ``measured_weight``). A signal named in ``scaled``
  enters by its min-max scaled value instead of its rank (the attributor's
  ``fusion="score"`` does so for the measurement): a rank says that one
  sentence measured above another, not by how much, so the priors can
  overrule a measured margin of any size. Scaled, the measurement's margins
  count, and the priors decide between sentences it measured alike. Measured
  on the full-size runs (``benchmarks/fusion_weight.py``), scaling helped on
  LFQA (F1@2 +0.021, fidelity@2 +0.022) and not on MultiNews (−0.006,
  −0.004), and tied on MultiNews answers cut to 3–4 sentences, so ranks stay
  the default.
* :func:`fit_logistic_weights` / :func:`logistic_fusion` — a logistic model
  of "is a gold link" on the same rank features, fitted on labelled examples.
  Fit it on a split you do not evaluate on; the benchmark cross-fits.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np

from langchain_genprog.attribute.mexgen.scalarizers import FloatArray
from langchain_genprog.errors import InvalidInputError


def percentile_ranks(column: FloatArray) -> FloatArray:
    """Ranks in ``(0, 1]`` among the known (non-``nan``) entries; ``nan`` entries get 0.

    The best known entry gets 1, the worst ``1 / n_known``; ties share their
    mean rank, so a constant signal ranks everything alike.
    """
    values = np.asarray(column, dtype=float)
    out = np.zeros(values.shape)
    known = ~np.isnan(values)
    n = int(known.sum())
    if n == 0:
        return out
    sub = values[known]
    order = np.argsort(sub, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(1, n + 1, dtype=float)
    for value in np.unique(sub):  # average ties
        tied = sub == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    out[known] = ranks / n
    return out


def minmax_scaled(column: FloatArray) -> FloatArray:
    """Values mapped to ``[0, 1]`` among the known entries (best 1, worst 0); ``nan`` gets 0.

    A constant known column maps to 1 (like a single entry's percentile rank).
    """
    values = np.asarray(column, dtype=float)
    out = np.zeros(values.shape)
    known = ~np.isnan(values)
    if not known.any():
        return out
    low, high = float(values[known].min()), float(values[known].max())
    out[known] = (values[known] - low) / (high - low) if high > low else 1.0
    return out


def per_output(
    matrix: FloatArray, transform: Callable[[FloatArray], FloatArray], name: str = "signal"
) -> FloatArray:
    """``transform`` (e.g. :func:`percentile_ranks`) applied to each output's column.

    Raises:
        InvalidInputError: If ``matrix`` is not ``(n_units, n_outputs)``.
    """
    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2:
        msg = f"{name} must be a (units, outputs) matrix, got shape {values.shape}"
        raise InvalidInputError(msg)
    return np.column_stack([transform(values[:, j]) for j in range(values.shape[1])])


def rank_features(signals: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Each signal ``(n_units, n_outputs)`` turned into per-output percentile ranks."""
    return {
        name: per_output(m, percentile_ranks, f"signal {name!r}") for name, m in signals.items()
    }


def rank_fusion(
    signals: Mapping[str, FloatArray],
    weights: Mapping[str, float] | None = None,
    *,
    scaled: Collection[str] = (),
) -> FloatArray:
    """Weighted mean of the signals' percentile ranks, per output.

    Args:
        signals: Name to ``(n_units, n_outputs)`` matrix; higher = more
            important; ``nan`` = not measured (ranks below every known entry).
        weights: Name to non-negative weight (``None`` or a missing name: 1).
        scaled: Names whose min-max scaled values (:func:`minmax_scaled`, per
            output) enter instead of their ranks, so their margins count.

    Raises:
        InvalidInputError: If there is no signal, shapes differ, or a weight is negative.
    """
    if not signals:
        raise InvalidInputError("rank_fusion needs at least one signal")
    unknown = sorted(set(scaled) - set(signals))
    if unknown:
        raise InvalidInputError(f"scaled names no signal: {unknown}")
    ranks = {
        name: per_output(
            m, minmax_scaled if name in scaled else percentile_ranks, f"signal {name!r}"
        )
        for name, m in signals.items()
    }
    shapes = {r.shape for r in ranks.values()}
    if len(shapes) != 1:
        raise InvalidInputError(f"signals have different shapes: {sorted(shapes)}")
    w = {name: float((weights or {}).get(name, 1.0)) for name in ranks}
    if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise InvalidInputError("fusion weights must be non-negative and not all zero")
    total = sum(w[name] * ranks[name] for name in ranks)
    return np.asarray(total / sum(w.values()), dtype=float)


def fit_logistic_weights(
    features: Sequence[Mapping[str, FloatArray]],
    labels: Sequence[FloatArray],
    *,
    l2: float = 1.0,
    iterations: int = 200,
) -> dict[str, float]:
    """Fit a logistic model of ``label`` on rank features (plus an intercept).

    Plain Newton iterations on the L2-penalized log-likelihood (a handful of
    features; no scikit-learn needed).

    Args:
        features: Per example, name to ``(n_units, n_outputs)`` rank features
            (:func:`rank_features`); every example must have the same names.
        labels: Per example, a 0/1 matrix of the same shape (1 = gold link);
            outputs without any gold link should be left out by the caller.
        l2: Ridge penalty on the non-intercept weights.
        iterations: Newton steps at most.

    Returns:
        Name to weight, and ``"__intercept__"``.

    Raises:
        InvalidInputError: On no data or mismatched names and shapes.
    """
    if not features or len(features) != len(labels):
        raise InvalidInputError("need as many label matrices as feature sets (at least one)")
    names = sorted(features[0])
    rows: list[FloatArray] = []
    ys: list[FloatArray] = []
    for feats, y in zip(features, labels, strict=True):
        if sorted(feats) != names:
            raise InvalidInputError("every example needs the same feature names")
        cols = [np.asarray(feats[n], dtype=float).ravel() for n in names]
        rows.append(np.column_stack([np.ones_like(cols[0]), *cols]))
        ys.append(np.asarray(y, dtype=float).ravel())
    x = np.vstack(rows)
    y_all = np.concatenate(ys)
    beta = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        grad = x.T @ (p - y_all) + penalty * beta
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    fitted = {n: float(b) for n, b in zip(names, beta[1:], strict=True)}
    return {"__intercept__": float(beta[0]), **fitted}


def logistic_fusion(features: Mapping[str, FloatArray], weights: Mapping[str, float]) -> FloatArray:
    """The fitted model's probability for each unit and output.

    Raises:
        InvalidInputError: If a weighted feature is missing.
    """
    missing = [n for n in weights if n != "__intercept__" and n not in features]
    if missing:
        raise InvalidInputError(f"features missing for the fitted weights: {missing}")
    first = next(iter(features.values()))
    logit = np.full(np.asarray(first).shape, weights.get("__intercept__", 0.0))
    for name, w in weights.items():
        if name != "__intercept__":
            logit = logit + w * np.asarray(features[name], dtype=float)
    return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype=float)
