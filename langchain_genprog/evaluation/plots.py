"""The evaluation report's plots, drawn with matplotlib (the ``[eval]`` extra).

matplotlib is the heaviest thing the harness needs and nothing else in the
package uses it, so it is not a core dependency: :func:`require_matplotlib`
turns its absence into an :class:`~langchain_genprog.errors.ExtraNotInstalledError`
that names the extra, and the report then keeps its tables and says so.
Figures are drawn on the object API (``Figure``), never ``pyplot``, so no
display backend or global state is involved.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

from langchain_genprog.errors import ExtraNotInstalledError
from langchain_genprog.evaluation.scoring import MetricValues

QUALITY_METRICS = (
    "alce_f1",
    "gold_f1_micro@all",
    "fidelity",
    "coverage",
)
"""Candidates for the y axis of the cost-vs-quality plot, in order of preference."""

BAR_METRICS = (
    "coverage",
    "alce_recall",
    "alce_precision",
    "gold_f1_micro@1",
    "gold_f1_micro@all",
    "drop_mean",
    "hold_share_mean",
    "fidelity",
    "answer_words",
    "citations_per_sentence",
)
"""Metrics shown as bar charts in the report, when present."""


def require_matplotlib() -> type[Any]:
    """The ``Figure`` class of matplotlib, imported on first use.

    Raises:
        ExtraNotInstalledError: If matplotlib is not installed (it comes with
            ``langchain-genprog[eval]``).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ExtraNotInstalledError("the evaluation report's plots", "eval", "matplotlib") from err
    return Figure


def summary_figures(summary: Mapping[str, MetricValues]) -> list[tuple[str, bytes]]:
    """The report's figures as ``(title, PNG bytes)``: metric bars, then cost vs quality.

    Raises:
        ExtraNotInstalledError: If matplotlib is not installed.
    """
    figure = require_matplotlib()
    names = list(summary)
    figures: list[tuple[str, bytes]] = []
    if not names:
        return figures
    shown = [m for m in BAR_METRICS if any(summary[n].get(m) is not None for n in names)]
    if shown:
        figures.append(("Metrics per method", _bars(figure, summary, shown)))
    quality = next(
        (m for m in QUALITY_METRICS if any(summary[n].get(m) is not None for n in names)), None
    )
    if quality is not None:
        figures.append((f"Cost vs quality ({quality})", _cost_vs_quality(figure, summary, quality)))
    return figures


def _bars(figure: type[Any], summary: Mapping[str, MetricValues], shown: list[str]) -> bytes:
    names = list(summary)
    cols = min(3, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig = figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, metric in enumerate(shown):
        ax = axes[k // cols][k % cols]
        values = [_num(summary[n].get(metric)) for n in names]
        bars = ax.bar(range(len(names)), [0.0 if math.isnan(v) else v for v in values])
        ax.bar_label(
            bars,
            labels=["n/a" if math.isnan(v) else f"{v:.3g}" for v in values],
            fontsize=7,
        )
        ax.margins(y=0.15)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(metric, fontsize=10)
    for k in range(len(shown), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    return _png(fig)


def _cost_vs_quality(figure: type[Any], summary: Mapping[str, MetricValues], quality: str) -> bytes:
    fig = figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2, squeeze=False)
    for ax, cost_metric, label in (
        (axes[0][0], "cost_seconds", "seconds per example"),
        (axes[0][1], "cost_total_tokens", "tokens per example"),
    ):
        for n in summary:
            x, y = _num(summary[n].get(cost_metric)), _num(summary[n].get(quality))
            ax.scatter([x], [y], s=40)
            ax.annotate(n, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_xlabel(label)
        ax.set_ylabel(quality)
        ax.grid(alpha=0.3)
    return _png(fig)


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _num(value: float | None) -> float:
    return float(value) if value is not None else math.nan
