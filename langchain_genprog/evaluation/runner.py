"""Run methods over examples, score them, and write a resumable record and a report.

Each (example, method) pair is run once and written as one JSON line to
``results.jsonl`` as soon as it finishes, so a long run that is interrupted
(or crashes) loses at most the pair in progress: a rerun with the same
``out_dir`` reads the file and skips every finished pair. After the loop the
summary (mean of every metric per method) is written as ``summary.csv`` and
``summary.json``, and ``report.html`` shows it with plots embedded as PNG.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from langchain_genprog.attribute.base import AttributionResult
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.datasets import Example
from langchain_genprog.evaluation.methods import Method, MethodOutput, example_sources
from langchain_genprog.evaluation.metrics import (
    Cost,
    CountingScorer,
    EntailmentJudge,
    alce_citation_scores,
    align_gold,
    answer_length,
    coverage,
    drop_and_hold,
    gold_citation_scores,
    ranked_citations,
)
from langchain_genprog.models.scoring import LogProbScorer
from langchain_genprog.segment.selection import select_sentences
from langchain_genprog.segment.sources import Sources

RESULTS_FILE = "results.jsonl"
SUMMARY_CSV = "summary.csv"
SUMMARY_JSON = "summary.json"
REPORT_HTML = "report.html"

MetricValues = dict[str, float | None]

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


class EvaluationSummary(BaseModel):
    """What :func:`run_evaluation` did and where it wrote it.

    Attributes:
        out_dir: The output directory.
        results: Path of ``results.jsonl``.
        summary_csv: Path of ``summary.csv``.
        summary_json: Path of ``summary.json``.
        report: Path of ``report.html``.
        methods: Per method, the mean of each metric over its finished examples,
            plus ``examples`` (finished) and ``failed`` counts.
        ran: Pairs run in this call.
        skipped: Pairs already finished by an earlier run.
        failed: Pairs that ended in an error in this call.
    """

    out_dir: str
    results: str
    summary_csv: str
    summary_json: str
    report: str
    methods: dict[str, MetricValues] = Field(default_factory=dict)
    ran: int = 0
    skipped: int = 0
    failed: int = 0


def run_evaluation(
    examples: Iterable[Example],
    methods: Sequence[Method] | Mapping[str, Method],
    *,
    out_dir: str | Path,
    limit: int | None = None,
    judge: EntailmentJudge | None = None,
    scorer: LogProbScorer | None = None,
    progress: bool = True,
    top_ks: Sequence[int | None] = (1, 3, None),
    retry_failed: bool = False,
    drop_hold_seed: int = 0,
    drop_hold_context: int | None = 40,
) -> EvaluationSummary:
    """Run every method on every example, score the outputs, and write the report.

    Metrics always computed: coverage, answer length, cost. With gold links
    and a method that attributes the reference: gold precision/recall/F1 at
    each ``top_ks``. With ``judge``: ALCE citation recall/precision. With
    ``scorer``: drop-and-hold and its random control.

    Args:
        examples: The examples (ids must be unique: they key resumption).
        methods: The methods, as a list (keyed by ``name``) or a name → method map.
        out_dir: Output directory (created if needed; reused to resume).
        limit: Use only the first ``limit`` examples.
        judge: Entailment judge for ALCE metrics.
        scorer: Log-prob scorer for drop-and-hold.
        progress: Show a progress bar on stderr.
        top_ks: Cut-offs for the gold metrics (``None`` = all citations).
        retry_failed: Rerun pairs whose earlier run ended in an error (by
            default they count as finished, so a deterministic failure is not
            paid for twice).
        drop_hold_seed: Seed of drop-and-hold's random control.
        drop_hold_context: Drop-and-hold's full context: the this-many most
            relevant source sentences (BM25 against the question) plus every
            cited one; ``None`` uses all sources. Every condition re-scores the
            answer under this context, so it bounds the scorer's cost.

    Raises:
        InvalidInputError: On duplicate example ids or method names, no methods,
            or a ``top_ks`` entry below 1.
    """
    named = _named_methods(methods)
    bad_ks = [k for k in top_ks if k is not None and k < 1]
    if bad_ks:
        raise InvalidInputError(f"top_ks must be at least 1 (or None for all), got {bad_ks}")
    chosen = _take(examples, limit)
    ids = [e.id for e in chosen]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidInputError(f"example ids must be unique; repeated: {duplicates[:5]}")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / RESULTS_FILE
    records = load_results(results_path)
    finished = {
        key for key, record in records.items() if record["status"] == "ok" or not retry_failed
    }
    pairs = [(e, name) for e in chosen for name in named]
    todo = [(e, name) for e, name in pairs if (e.id, name) not in finished]
    ran = failed = 0
    bar = _progress(len(todo), enabled=progress)
    with results_path.open("a", encoding="utf-8") as handle:
        for example, name in todo:
            bar.set_description(f"{name} {example.id}")
            record = evaluate_pair(
                example,
                named[name],
                name=name,
                judge=judge,
                scorer=scorer,
                top_ks=top_ks,
                drop_hold_seed=drop_hold_seed,
                drop_hold_context=drop_hold_context,
            )
            handle.write(json.dumps(_finite_json(record), ensure_ascii=False) + "\n")
            handle.flush()
            records[(example.id, name)] = record
            ran += 1
            failed += record["status"] != "ok"
            bar.update(1)
    bar.close()

    wanted = {(e.id, name) for e, name in pairs}
    current = [records[key] for key in sorted(wanted, key=_pair_order(pairs)) if key in records]
    summary = summarize(current, list(named))
    paths = {
        "summary_csv": out / SUMMARY_CSV,
        "summary_json": out / SUMMARY_JSON,
        "report": out / REPORT_HTML,
    }
    write_summary_csv(summary, paths["summary_csv"])
    paths["summary_json"].write_text(
        json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    write_report(summary, current, paths["report"], examples=len(chosen))
    return EvaluationSummary(
        out_dir=str(out),
        results=str(results_path),
        summary_csv=str(paths["summary_csv"]),
        summary_json=str(paths["summary_json"]),
        report=str(paths["report"]),
        methods=summary,
        ran=ran,
        skipped=len(pairs) - len(todo),
        failed=failed,
    )


def evaluate_pair(
    example: Example,
    method: Method,
    *,
    name: str | None = None,
    judge: EntailmentJudge | None = None,
    scorer: LogProbScorer | None = None,
    top_ks: Sequence[int | None] = (1, 3, None),
    drop_hold_seed: int = 0,
    drop_hold_context: int | None = 40,
) -> dict[str, Any]:
    """Run one method on one example and score it; never raises for a method failure.

    Args:
        example: The example.
        method: The method.
        name: The method's name in the record (default ``method.name``).
        judge: Entailment judge for ALCE metrics.
        scorer: Log-prob scorer for drop-and-hold.
        top_ks: Cut-offs for the gold metrics.
        drop_hold_seed: Seed of drop-and-hold's random control.
        drop_hold_context: Size of drop-and-hold's relevance-selected context.

    Returns:
        The JSON-ready record written to ``results.jsonl``: ``example_id``,
        ``method``, ``status`` (``ok``/``error``), ``error``, ``metrics``
        (flat name → value), ``cost``, ``eval_cost`` (judge and scorer spent
        on scoring), ``answer``, ``attribution``, ``attributes_reference``,
        ``metadata``.
    """
    record: dict[str, Any] = {
        "example_id": example.id,
        "method": name or method.name,
        "status": "ok",
        "error": None,
    }
    started = time.perf_counter()
    try:
        output = method.run(example)
    except Exception as err:  # a failing method is a result, not a crash
        record.update(
            status="error",
            error=f"{type(err).__name__}: {err}",
            cost=Cost(seconds=time.perf_counter() - started).model_dump(),
        )
        return record
    if output.cost.seconds <= 0:
        output.cost.seconds = time.perf_counter() - started
    record.update(
        answer=output.answer,
        attributes_reference=output.attributes_reference,
        cost=output.cost.model_dump(),
        attribution=output.attribution.model_dump(mode="json"),
        metadata=_jsonable(output.metadata),
    )
    try:
        metrics, eval_cost = score_output(
            example,
            output,
            judge=judge,
            scorer=scorer,
            top_ks=top_ks,
            drop_hold_seed=drop_hold_seed,
            drop_hold_context=drop_hold_context,
        )
    except Exception as err:  # keep the answer; the scoring can be retried
        record.update(status="error", error=f"scoring failed: {type(err).__name__}: {err}")
        return record
    record.update(metrics=metrics, eval_cost=eval_cost)
    return record


def score_output(
    example: Example,
    output: MethodOutput,
    *,
    judge: EntailmentJudge | None = None,
    scorer: LogProbScorer | None = None,
    top_ks: Sequence[int | None] = (1, 3, None),
    drop_hold_seed: int = 0,
    drop_hold_context: int | None = 40,
) -> tuple[MetricValues, dict[str, Any]]:
    """Every applicable metric of one output, as a flat ``name → value`` dict.

    Arguments are as for :func:`evaluate_pair`.

    Returns:
        The metrics (``None`` where undefined) and the evaluation's own cost
        (``judge_calls``, ``scorer_calls``, ``forward_passes``, ``seconds``).
    """
    started = time.perf_counter()
    sources = example_sources(example)
    attribution = output.attribution
    metrics: MetricValues = {"coverage": coverage(attribution, sources)}
    length = answer_length(output.answer, attribution)
    metrics.update(
        answer_chars=float(length.chars),
        answer_words=float(length.words),
        answer_sentences=float(length.sentences),
        citations_per_sentence=length.citations_per_sentence,
    )
    cost = output.cost
    metrics.update(
        cost_llm_calls=float(cost.llm_calls),
        cost_input_tokens=float(cost.input_tokens),
        cost_output_tokens=float(cost.output_tokens),
        cost_total_tokens=float(cost.total_tokens),
        cost_forward_passes=float(cost.forward_passes),
        cost_embedding_calls=float(cost.embedding_calls),
        cost_seconds=cost.seconds,
    )
    eval_cost: dict[str, Any] = {"judge_calls": 0, "scorer_calls": 0, "forward_passes": 0}

    if output.attributes_reference and example.gold:
        sentences = [item.sentence for item in attribution.sentences]
        alignment = align_gold(example, sources, sentences)
        predicted = ranked_citations(attribution, sources)
        metrics["gold_sentences"] = float(alignment.evaluable)
        metrics["gold_unmatched"] = float(len(alignment.unmatched))
        for k in top_ks:
            scores = gold_citation_scores(predicted, alignment.per_sentence, k=k)
            tag = "all" if k is None else str(k)
            for kind, prf in (("micro", scores.micro), ("macro", scores.macro)):
                metrics[f"gold_precision_{kind}@{tag}"] = prf.precision if prf else None
                metrics[f"gold_recall_{kind}@{tag}"] = prf.recall if prf else None
                metrics[f"gold_f1_{kind}@{tag}"] = prf.f1 if prf else None

    if judge is not None:
        alce = alce_citation_scores(attribution, sources, judge)
        metrics.update(alce_recall=alce.recall, alce_precision=alce.precision, alce_f1=alce.f1)
        eval_cost["judge_calls"] = alce.judge_calls

    if scorer is not None and attribution.sentences:
        counted = CountingScorer(scorer)
        dh = drop_and_hold(
            output.answer,
            attribution,
            sources,
            counted,
            question=example.question,
            context_ids=_drop_hold_context(example, sources, attribution, drop_hold_context),
            seed=drop_hold_seed,
        )
        metrics.update(
            drop_mean=dh.mean_drop,
            hold_mean=dh.mean_hold,
            hold_share_mean=dh.mean_hold_share,
            random_drop_mean=dh.mean_random_drop,
            fidelity=dh.fidelity,
            fidelity_win_rate=dh.win_rate,
        )
        eval_cost["scorer_calls"] = counted.calls
        eval_cost["forward_passes"] = counted.forward_passes
    eval_cost["seconds"] = time.perf_counter() - started
    return {k: _clean(v) for k, v in metrics.items()}, eval_cost


def _drop_hold_context(
    example: Example, sources: Sources, attribution: AttributionResult, size: int | None
) -> list[int] | None:
    if size is None:
        return None
    ranked = select_sentences(
        sources, example.question, max_sentences=size, content_only=False
    ).ranked_ids
    citable = set(sources.citable_ids)
    cited = sorted({sid for ids in ranked_citations(attribution) for sid in ids} & citable)
    return list(dict.fromkeys([*ranked, *cited]))


def load_results(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Read ``results.jsonl``: the last record per (example id, method).

    A line cut short by a crash is dropped and the file is rewritten without
    it, so that new records are never appended onto a broken line.
    """
    records: dict[tuple[str, str], dict[str, Any]] = {}
    if not path.exists():
        return records
    good: list[str] = []
    broken = False
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            key = (str(record["example_id"]), str(record["method"]))
            record["status"] = str(record["status"])
        except (json.JSONDecodeError, KeyError, TypeError):
            broken = True
            continue
        records[key] = record
        good.append(line)
    if broken or (text and not text.endswith("\n")):
        path.write_text("".join(f"{line}\n" for line in good), encoding="utf-8")
    return records


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
        for key in _ordered(values):
            items = values[key]
            entry[key] = sum(items) / len(items) if items else None
        summary[name] = entry
    return summary


def write_summary_csv(summary: Mapping[str, MetricValues], path: Path) -> None:
    """One row per method, one column per metric (blank where undefined)."""
    columns = _ordered({k for entry in summary.values() for k in entry})
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", *columns])
        for name, entry in summary.items():
            row = [name] + [_fmt(entry.get(c)) for c in columns]
            writer.writerow(row)


def write_report(
    summary: Mapping[str, MetricValues],
    records: Sequence[dict[str, Any]],
    path: Path,
    *,
    examples: int | None = None,
) -> None:
    """Write ``report.html``: summary table, metric bar charts, cost-vs-quality plots, failures.

    Plots need matplotlib (rendered with the Agg backend, no display); without
    it the report keeps its tables and says how to get the plots.
    """
    columns = _ordered({k for entry in summary.values() for k in entry})
    figures: list[tuple[str, str]] = []
    note = ""
    try:
        figures = _figures(summary)
    except ImportError:
        note = "<p><em>Install matplotlib to see plots in this report.</em></p>"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>genprog evaluation</title>',
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "table{border-collapse:collapse;font-size:0.85em}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}img{max-width:100%}</style>",
        "</head><body>",
        "<h1>Evaluation report</h1>",
        f"<p>{len(summary)} method(s)"
        + (f", {examples} example(s)" if examples is not None else "")
        + f", {len(records)} result(s). Values are means over each method's finished"
        " examples; blank cells are undefined (e.g. gold metrics for generated answers).</p>",
        "<h2>Summary</h2>",
        _table(summary, columns),
        note,
        _LEGEND,
    ]
    for title, data in figures:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">')
    failures = [r for r in records if r["status"] != "ok"]
    if failures:
        parts.append("<h2>Failures</h2><ul>")
        parts.extend(
            f"<li>{html.escape(str(r['method']))} / {html.escape(str(r['example_id']))}: "
            f"{html.escape(str(r.get('error')))}</li>"
            for r in failures
        )
        parts.append("</ul>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


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


def _figures(summary: Mapping[str, MetricValues]) -> list[tuple[str, str]]:
    from matplotlib.figure import Figure

    names = list(summary)
    figures: list[tuple[str, str]] = []
    shown = [m for m in BAR_METRICS if any(summary[n].get(m) is not None for n in names)]
    if shown and names:
        cols = min(3, len(shown))
        rows = math.ceil(len(shown) / cols)
        fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
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
        figures.append(("Metrics per method", _png(fig)))

    quality = next(
        (m for m in QUALITY_METRICS if any(summary[n].get(m) is not None for n in names)), None
    )
    if quality is not None and names:
        fig = Figure(figsize=(10, 4), layout="constrained")
        axes = fig.subplots(1, 2, squeeze=False)
        for ax, cost_metric, label in (
            (axes[0][0], "cost_seconds", "seconds per example"),
            (axes[0][1], "cost_total_tokens", "tokens per example"),
        ):
            for n in names:
                x, y = _num(summary[n].get(cost_metric)), _num(summary[n].get(quality))
                ax.scatter([x], [y], s=40)
                ax.annotate(n, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
            ax.set_xlabel(label)
            ax.set_ylabel(quality)
            ax.grid(alpha=0.3)
        figures.append((f"Cost vs quality ({quality})", _png(fig)))
    return figures


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(summary: Mapping[str, MetricValues], columns: Sequence[str]) -> str:
    # Metrics as rows and methods as columns: there are many more metrics than methods.
    names = list(summary)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["metric", *names])
    rows = [
        "<tr><td>"
        + html.escape(metric)
        + "</td>"
        + "".join(f"<td>{_fmt(summary[n].get(metric))}</td>" for n in names)
        + "</tr>"
        for metric in columns
    ]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


_FIRST = ("examples", "failed", "coverage")


def _ordered(keys: Iterable[str]) -> list[str]:
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


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    if float(value).is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:.4g}"


def _num(value: float | None) -> float:
    return float(value) if value is not None else math.nan


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _finite_json(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with ``None``, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _named_methods(methods: Sequence[Method] | Mapping[str, Method]) -> dict[str, Method]:
    if isinstance(methods, Mapping):
        named = dict(methods)
    else:
        named = {}
        for method in methods:
            if method.name in named:
                raise InvalidInputError(f"two methods are named {method.name!r}; rename one")
            named[method.name] = method
    if not named:
        raise InvalidInputError("no methods to evaluate")
    return named


def _take(examples: Iterable[Example], limit: int | None) -> list[Example]:
    if limit is not None and limit < 0:
        raise InvalidInputError(f"limit must be at least 0, got {limit}")
    chosen: list[Example] = []
    for example in examples:
        if limit is not None and len(chosen) >= limit:
            break
        chosen.append(example)
    return chosen


def _pair_order(pairs: Sequence[tuple[Example, str]]) -> Any:
    order = {(e.id, name): k for k, (e, name) in enumerate(pairs)}
    return lambda key: order[key]


class _NoBar:
    def set_description(self, text: str) -> None:
        """Do nothing."""

    def update(self, n: int) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


def _progress(total: int, *, enabled: bool) -> Any:
    if not enabled or total == 0:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, unit="run")
