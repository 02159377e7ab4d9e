"""The perturbation game: memoized, batched, budgeted evaluation of ``v(S)``.

``v(S)`` is the scalarizer's vector for the input with the units ``S``
removed. Every attribution method only asks for values of removal sets, so
all the cost control lives here:

* **memoization** by :data:`~.units.RemovalKey` — a perturbation is scored at
  most once per run, across methods and levels;
* **batching** — many prompts go to the scalarizer in one call;
* **prefix order** — inside a tier, perturbations are sorted by their removed
  spans, so prompts removing the same first unit (hence sharing the longest
  unperturbed prefix) are adjacent and a backend can reuse its KV cache;
* **tiers** — methods hand their perturbations in order of usefulness (the
  original and single removals first), so a budget that stops the run early
  still leaves the most informative measurements;
* **budget and progress** — checked and reported between batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from langchain_genprog.attribute.mexgen.budget import Budget
from langchain_genprog.attribute.mexgen.scalarizers import FloatArray, Scalarizer
from langchain_genprog.attribute.mexgen.template import PromptRenderer
from langchain_genprog.attribute.mexgen.units import (
    RemovalKey,
    Segment,
    Unit,
    apply_removal,
    removal_key,
)
from langchain_genprog.errors import InvalidInputError

ProgressCallback = Callable[[int, int], None]
"""``on_progress(done, total)``: model calls made so far, and ``done`` plus the calls
still planned at the current level (``total`` grows when a finer level starts)."""


class PerturbationGame:
    """Evaluates removal sets over fixed segments, once each, within a budget.

    Args:
        segments: The model input.
        render: Builds the prompt from the (perturbed) segment texts.
        scalarizer: Scores prompts (one vector per prompt).
        replacement: Text that replaces a removed span ("" drops it).
        budget: Limits on calls and seconds (``None``: unlimited).
        batch_size: Prompts per scalarizer call.
        on_progress: Called after each batch with ``(done, total)``.
        progress_bar: Show a tqdm bar.
    """

    def __init__(
        self,
        segments: Sequence[Segment],
        render: PromptRenderer,
        scalarizer: Scalarizer,
        *,
        replacement: str = "",
        budget: Budget | None = None,
        batch_size: int = 8,
        on_progress: ProgressCallback | None = None,
        progress_bar: bool = False,
    ) -> None:
        if batch_size < 1:
            raise InvalidInputError("batch_size must be at least 1")
        self.segments = list(segments)
        self.render = render
        self.scalarizer = scalarizer
        self.replacement = replacement
        self.budget = budget or Budget()
        self.batch_size = batch_size
        self.on_progress = on_progress
        self.progress_bar = progress_bar
        self.memo: dict[RemovalKey, FloatArray] = {}
        self.calls = 0
        self.stopped = False
        self._started = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Wall time since the game was created."""
        return time.perf_counter() - self._started

    def prompt(self, key: RemovalKey) -> str:
        """The prompt with the spans of ``key`` replaced."""
        return self.render(self.segments, apply_removal(self.segments, key, self.replacement))

    def key(self, units: Sequence[Unit], subset: Iterable[int]) -> RemovalKey:
        """The key of removing ``units[i]`` for ``i`` in ``subset``."""
        return removal_key(units[i] for i in subset)

    def evaluate(self, tiers: Sequence[Sequence[RemovalKey]]) -> bool:
        """Score every key not yet known, tier by tier, within the budget.

        Returns:
            ``True`` if every key is now known, ``False`` if the budget stopped it.
        """
        pending: list[list[RemovalKey]] = []
        seen: set[RemovalKey] = set(self.memo)
        for tier in tiers:
            fresh = sorted({k for k in tier if k not in seen})
            seen.update(fresh)
            if fresh:
                pending.append(fresh)
        remaining = sum(len(t) for t in pending)
        if not remaining:
            return True
        bar = self._bar(remaining)
        try:
            for tier in pending:
                for offset in range(0, len(tier), self.batch_size):
                    wanted = tier[offset : offset + self.batch_size]
                    batch = self._trim(wanted)
                    if batch:
                        self._score(batch)
                        remaining -= len(batch)
                        if bar is not None:
                            bar.update(len(batch))
                        if self.on_progress is not None:
                            self.on_progress(self.calls, self.calls + remaining)
                    if len(batch) < len(wanted):
                        self.stopped = True
                        return False
        finally:
            if bar is not None:
                bar.close()
        return True

    def observations(self, units: Sequence[Unit]) -> dict[frozenset[int], FloatArray]:
        """Every known value expressible as the removal of a subset of ``units``.

        This is how a finer level reuses coarser measurements: removing a
        sentence is the removal of all its phrases, and has the same key.
        Measurements that also removed text outside ``units`` are not
        expressible and are left out.
        """
        by_segment: dict[int, list[tuple[int, int, int]]] = {}
        for i, unit in enumerate(units):
            for seg, start, end in unit.spans:
                by_segment.setdefault(seg, []).append((start, end, i))
        found: dict[frozenset[int], FloatArray] = {}
        for key, value in self.memo.items():
            hits: dict[int, int] = {}
            for seg, k_start, k_end in key:
                for start, end, i in by_segment.get(seg, ()):
                    if k_start <= start and end <= k_end:
                        hits[i] = hits.get(i, 0) + 1
            subset = frozenset(i for i, n in hits.items() if n == len(units[i].spans))
            if self.key(units, subset) == key:
                found[subset] = value
        return found

    def _trim(self, batch: list[RemovalKey]) -> list[RemovalKey]:
        if self.budget.max_seconds is not None and self.seconds >= self.budget.max_seconds:
            return []
        if self.budget.max_calls is not None:
            return batch[: max(0, self.budget.max_calls - self.calls)]
        return batch

    def _score(self, batch: list[RemovalKey]) -> None:
        prompts = [self.prompt(key) for key in batch]
        values = np.asarray(self.scalarizer.scalarize(prompts), dtype=float)
        expected = (len(batch), self.scalarizer.n_outputs)
        if values.shape != expected:
            msg = f"the scalarizer returned shape {values.shape}, expected {expected}"
            raise InvalidInputError(msg)
        self.calls += len(batch)
        for key, row in zip(batch, values, strict=True):
            self.memo[key] = row

    def _bar(self, total: int) -> Any:
        if not self.progress_bar:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm is a dependency
            return None
        return tqdm(total=total, desc="MExGen", unit="call", leave=False)
