"""Fake scalarizers, scorers and segmenters with hand-computable behaviour."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import combinations
from math import factorial

import numpy as np

from langchain_genprog.attribute.mexgen.units import Level
from langchain_genprog.models.scoring import TargetLogProbs

PLAYERS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def present_words(prompt: str, words: Sequence[str]) -> frozenset[str]:
    """The ``words`` (single word tokens) that occur in ``prompt`` as whole words."""
    return frozenset(re.findall(r"\w+", prompt)).intersection(words)


class GameScalarizer:
    """``v`` computed from which player words are still in the prompt.

    Records every prompt and every batch, so tests can count model calls.
    """

    def __init__(
        self,
        players: Sequence[str],
        value: Callable[[frozenset[str]], Sequence[float]],
        n_outputs: int = 1,
    ) -> None:
        self.players = list(players)
        self.value = value
        self._n_outputs = n_outputs
        self.prompts: list[str] = []
        self.batches: list[list[str]] = []

    @property
    def n_outputs(self) -> int:
        return self._n_outputs

    def scalarize(self, prompts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(prompts))
        self.prompts.extend(prompts)
        return np.array(
            [list(self.value(present_words(p, self.players))) for p in prompts], dtype=float
        ).reshape(len(prompts), self._n_outputs)


def linear_game(weights: dict[str, Sequence[float]], bias: float = 10.0):
    """``v(present) = bias + Σ_{p present} w_p`` (one value per output)."""
    n_outputs = len(next(iter(weights.values())))

    def value(present: frozenset[str]) -> list[float]:
        out = np.full(n_outputs, bias)
        for player in present:
            if player in weights:
                out += np.asarray(weights[player], dtype=float)
        return out.tolist()

    return value


def exact_shapley(players: Sequence[str], value: Callable[[frozenset[str]], Sequence[float]]):
    """Brute-force Shapley values of the game ``value(present coalition)``."""
    n = len(players)
    phi = {p: 0.0 for p in players}
    for p in players:
        others = [q for q in players if q != p]
        for size in range(n):
            weight = factorial(size) * factorial(n - size - 1) / factorial(n)
            for coalition in combinations(others, size):
                with_p = value(frozenset(coalition) | {p})[0]
                without = value(frozenset(coalition))[0]
                phi[p] += weight * (with_p - without)
    return phi


class CommaSegmenter:
    """Phrases end after each comma; words are whitespace-separated (tests only)."""

    def split(self, text: str, level: Level) -> list[tuple[int, int]]:
        if level in ("document", "sentence"):
            return [(0, len(text))]
        pattern = r"[^,]*,\s*|[^,]+$" if level == "phrase" else r"\S+\s*"
        spans = [(m.start(), m.end()) for m in re.finditer(pattern, text) if m.end() > m.start()]
        if spans and spans[0][0] > 0:
            spans[0] = (0, spans[0][1])
        return spans


class KeywordScorer:
    """A LogProbScorer whose answer sentence ``k`` scores ``-5 + Σ weights`` of its
    keywords still present in the prompt (one token per answer sentence).

    ``support[k]`` maps keywords (words of the sources) to weights.
    """

    def __init__(self, support: Sequence[dict[str, float]], spans: Sequence[tuple[int, int]]):
        self.support = list(support)
        self.spans = list(spans)
        self.calls = 0
        self.prompts: list[str] = []
        self.batch_sizes: list[int] = []

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        self.calls += len(prompts)
        self.batch_sizes.append(len(prompts))
        self.prompts.extend(prompts)
        out = []
        for prompt in prompts:
            logprobs = [
                -5.0 + sum(w for kw, w in support.items() if present_words(prompt, [kw]))
                for support in self.support
            ]
            out.append(TargetLogProbs(token_logprobs=logprobs, token_offsets=self.spans))
        return out
