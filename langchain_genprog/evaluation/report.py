"""``report.html``: the evaluation summary as one self-contained page.

The page is built with the package's one HTML toolkit
(:mod:`langchain_genprog.render.page`: escaping, page shell, tables, embedded
images), so the report and the attributed-answer view escape untrusted text
the same way. Plots come from :mod:`~langchain_genprog.evaluation.plots` and
need the ``[eval]`` extra; without it the report keeps its tables and names
the extra.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_genprog.errors import ExtraNotInstalledError
from langchain_genprog.evaluation.plots import summary_figures
from langchain_genprog.evaluation.scoring import MetricValues
from langchain_genprog.evaluation.summary import format_value, ordered_metrics
from langchain_genprog.render.page import escape, html_page, html_table, png_figure

_CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse;font-size:0.85em}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
    "th:first-child,td:first-child{text-align:left}img{max-width:100%}"
)

_LEGEND = """<details><summary>What the metrics mean</summary><ul>
<li><b>coverage</b>: share of answer sentences with at least one valid citation.</li>
<li><b>gold_*@k</b>: citations (top k) against the dataset's gold links; only for methods
that attribute the reference answer.</li>
<li><b>alce_recall / alce_precision</b>: the judge finds a sentence supported by its joint
citations / a citation needed (ALCE).</li>
<li><b>drop_mean</b>: log-prob lost when a sentence's citations are removed;
<b>random_drop_mean</b>: the same for as many random sources; <b>fidelity</b>: their
difference; <b>hold_share_mean</b>: share of the context's gain kept with only the citations.</li>
<li><b>cost_*</b>: per example; seconds are wall time on this machine.</li>
</ul></details>"""


def render_report(
    summary: Mapping[str, MetricValues],
    records: Sequence[dict[str, Any]],
    *,
    examples: int | None = None,
) -> str:
    """The report page: summary table, legend, metric bar charts, cost-vs-quality, failures.

    Args:
        summary: Per method, the mean of each metric (see
            :func:`~langchain_genprog.evaluation.summary.summarize`).
        records: The result records the summary was computed from.
        examples: How many examples were evaluated, for the intro line.
    """
    parts = [
        "<h1>Evaluation report</h1>",
        f"<p>{len(summary)} method(s)"
        + (f", {examples} example(s)" if examples is not None else "")
        + f", {len(records)} result(s). Values are means over each method's finished"
        " examples; blank cells are undefined (e.g. gold metrics for generated answers).</p>",
        "<h2>Summary</h2>",
        _summary_table(summary),
    ]
    try:
        figures = summary_figures(summary)
    except ExtraNotInstalledError as err:
        figures = []
        parts.append(f"<p><em>No plots: {escape(err)}</em></p>")
    parts.append(_LEGEND)
    parts.extend(png_figure(title, png) for title, png in figures)
    parts.append(_failures(records))
    return html_page("genprog evaluation", "\n".join(p for p in parts if p), css=_CSS)


def write_report(
    summary: Mapping[str, MetricValues],
    records: Sequence[dict[str, Any]],
    path: Path,
    *,
    examples: int | None = None,
) -> None:
    """Write :func:`render_report` to ``path`` as UTF-8."""
    path.write_text(render_report(summary, records, examples=examples), encoding="utf-8")


def _summary_table(summary: Mapping[str, MetricValues]) -> str:
    # Metrics as rows and methods as columns: there are many more metrics than methods.
    names = list(summary)
    columns = ordered_metrics({k for entry in summary.values() for k in entry})
    rows = [[metric, *(format_value(summary[n].get(metric)) for n in names)] for metric in columns]
    return html_table(["metric", *names], rows)


def _failures(records: Sequence[dict[str, Any]]) -> str:
    failures = [r for r in records if r["status"] != "ok"]
    if not failures:
        return ""
    items = "".join(
        f"<li>{escape(r['method'])} / {escape(r['example_id'])}: {escape(r.get('error'))}</li>"
        for r in failures
    )
    return f"<h2>Failures</h2><ul>{items}</ul>"
