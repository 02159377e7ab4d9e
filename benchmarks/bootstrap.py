"""Bootstrap intervals over examples, for the benchmarks' paired tables.

A difference between two methods pooled over a few dozen examples moves by
a few hundredths when one example changes; resampling the examples (with
replacement, a fixed seed so a regenerated table is byte-identical) says
whether a gap is more than that.
"""

from __future__ import annotations

import numpy as np

DRAWS = 10_000
"""Resamples per interval."""


def resampled_indices(n: int, rng: np.random.Generator, draws: int = DRAWS) -> np.ndarray:
    """``(draws, n)`` example indices drawn with replacement."""
    return rng.integers(0, n, size=(draws, n))


def resampled_means(values, rng: np.random.Generator, draws: int = DRAWS) -> np.ndarray:
    """The mean of each resample of ``values`` (one per draw)."""
    array = np.asarray(values, dtype=float)
    return np.asarray(array[resampled_indices(len(array), rng, draws)].mean(axis=1), dtype=float)


def interval(draws: np.ndarray) -> str:
    """The central 95 % of ``draws``, as the tables print it: ``[low, high]``."""
    low, high = np.percentile(draws, [2.5, 97.5])
    return f"[{low:+.3f}, {high:+.3f}]"
