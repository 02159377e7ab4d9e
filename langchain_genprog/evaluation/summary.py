"""Per-method means of the stored metrics, and their CSV form.

Kept apart from the run loop so that a finished ``results.jsonl`` can be
re-summarized (or summarized differently) without running anything.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_genprog.evaluation.scoring import MetricValues


def summarize(records: Sequence[dict[str, Any]], methods: Sequence[str]) -> dict[str, MetricValues]:
    """Mean of every metric per method over its finished examples (undefined values skipped).

    Each method's entry also holds ``examples`` (finished) and ``failed`` counts.
    """
    summary: dict[str, MetricValues] = {}
    for name in methods:
        own = [r for r in records if r["method"] == name]
        ok = [r for r in own if r["status"] == "ok"]
        values: dict[str, list[float]] = {}
        for record in ok:
            for key, value in (record.get("metrics") or {}).items():
                values.setdefault(key, [])
                if isinstance(value, (int, float)) and math.isfinite(value):
                    values[key].append(float(value))
        entry: MetricValues = {"examples": float(len(ok)), "failed": float(len(own) - len(ok))}
        for key in ordered_metrics(values):
            items = values[key]
            entry[key] = sum(items) / len(items) if items else None
        summary[name] = entry
    return summary


def write_summary_csv(summary: Mapping[str, MetricValues], path: Path) -> None:
    """One row per method, one column per metric (blank where undefined)."""
    columns = ordered_metrics({k for entry in summary.values() for k in entry})
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", *columns])
        for name, entry in summary.items():
            row = [name] + [format_value(entry.get(c)) for c in columns]
            writer.writerow(row)


_FIRST = ("examples", "failed", "coverage")


def ordered_metrics(keys: Iterable[str]) -> list[str]:
    """Counts and coverage first, then quality metrics, then lengths, costs last."""
    present = set(keys)

    def rank(key: str) -> tuple[int, str]:
        if key in _FIRST:
            return (_FIRST.index(key), "")
        if key.startswith("cost_"):
            return (9, key)
        if key.startswith(("answer_", "citations_")):
            return (8, key)
        return (5, key)

    return sorted(present, key=rank)


def format_value(value: float | None) -> str:
    """A metric as a short string: whole numbers bare, others to 4 digits, blank if undefined."""
    if value is None or not math.isfinite(value):
        return ""
    if float(value).is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:.4g}"
