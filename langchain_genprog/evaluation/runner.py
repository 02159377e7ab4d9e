"""Run methods over examples, score them, and write a resumable record and a report.

Each (example, method) pair is run once and written as one JSON line to
``results.jsonl`` as soon as it finishes, so a long run that is interrupted
(or crashes) loses at most the pairs in progress: a rerun with the same
``out_dir`` reads the file and skips every finished pair. The loop, its
concurrency limit and the file are :mod:`langchain_genprog.batch`'s. After the loop the
summary (mean of every metric per method) is written as ``summary.csv`` and
``summary.json``, and ``report.html`` shows it with plots embedded as PNG.

The metrics themselves live by family (:mod:`~langchain_genprog.evaluation.gold`,
:mod:`~langchain_genprog.evaluation.alce`, :mod:`~langchain_genprog.evaluation.drop_hold`,
:mod:`~langchain_genprog.evaluation.coverage`, :mod:`~langchain_genprog.evaluation.cost`),
one output is scored by :mod:`~langchain_genprog.evaluation.scoring`, and the
page is drawn by :mod:`~langchain_genprog.evaluation.report`; this module is
only the loop and its files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from langchain_genprog.batch import (
    BatchJournal,
    BatchOptions,
    BatchReport,
    ItemError,
    run_batch,
)
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.cost import Cost
from langchain_genprog.evaluation.datasets import Example
from langchain_genprog.evaluation.judge import EntailmentJudge
from langchain_genprog.evaluation.methods import Method
from langchain_genprog.evaluation.report import write_report
from langchain_genprog.evaluation.scoring import MetricValues, score_output
from langchain_genprog.evaluation.summary import summarize, write_summary_csv
from langchain_genprog.models.scoring import LogProbScorer

RESULTS_FILE = "results.jsonl"
SUMMARY_CSV = "summary.csv"
SUMMARY_JSON = "summary.json"
REPORT_HTML = "report.html"


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
        batch: The batch's own counts (ok and failed over the whole file, seconds).
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
    batch: BatchReport | None = None


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
    concurrency: int = 1,
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
        concurrency: Pairs run at once (threads; the methods' models must be
            thread-safe, as the embedded ones and LangChain's clients are).

    Raises:
        InvalidInputError: On duplicate example ids or method names, no methods,
            a ``top_ks`` entry below 1, or ``concurrency`` below 1.
    """
    named = _named_methods(methods)
    _check_top_ks(top_ks)
    chosen = _unique(_take(examples, limit))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    journal = BatchJournal(out / RESULTS_FILE, key_of=_pair_key)
    options: dict[str, Any] = {
        "judge": judge,
        "scorer": scorer,
        "top_ks": top_ks,
        "drop_hold_seed": drop_hold_seed,
        "drop_hold_context": drop_hold_context,
    }
    pairs = [(e, name) for e in chosen for name in named]
    batch: BatchOptions = {
        "concurrency": concurrency,
        "retry_failed": retry_failed,
        "progress": progress,
    }
    report = _run_pairs(pairs, named, journal, options, batch)
    current = [journal.records[k] for e, n in pairs if (k := (e.id, n)) in journal.records]
    summary = summarize(current, list(named))
    written = _write_outputs(out, summary, current, examples=len(chosen))
    return EvaluationSummary(
        out_dir=str(out),
        results=str(journal.path),
        **written,
        methods=summary,
        ran=report.ran,
        skipped=report.skipped,
        failed=report.failed_now,
        batch=report,
    )


def _run_pairs(
    pairs: Sequence[tuple[Example, str]],
    named: Mapping[str, Method],
    journal: BatchJournal,
    options: Mapping[str, Any],
    batch: BatchOptions,
) -> BatchReport:
    """Run and append each pair as it finishes (:func:`~langchain_genprog.batch.run_batch`)."""
    with_failure: BatchOptions = {**batch, "failure": _pair_failure}
    return run_batch(
        pairs,
        lambda pair: evaluate_pair(pair[0], named[pair[1]], name=pair[1], **options),
        journal,
        key=lambda pair: (pair[0].id, pair[1]),
        **with_failure,
    )


def _check_top_ks(top_ks: Sequence[int | None]) -> None:
    bad_ks = [k for k in top_ks if k is not None and k < 1]
    if bad_ks:
        raise InvalidInputError(f"top_ks must be at least 1 (or None for all), got {bad_ks}")


def _pair_key(record: Mapping[str, Any]) -> Hashable:
    return (str(record["example_id"]), str(record["method"]))


def _pair_failure(pair: tuple[Example, str], err: Exception) -> dict[str, Any]:
    """The record of a pair whose run raised past :func:`evaluate_pair` (it catches its own)."""
    return {
        "example_id": pair[0].id,
        "method": pair[1],
        "status": "error",
        "error": f"{type(err).__name__}: {err}",
        "error_type": ItemError.from_exception(err).type,
    }


def _write_outputs(
    out: Path,
    summary: dict[str, MetricValues],
    records: Sequence[dict[str, Any]],
    *,
    examples: int,
) -> dict[str, str]:
    """Write ``summary.csv``, ``summary.json`` and ``report.html``; return their paths."""
    paths = {
        "summary_csv": out / SUMMARY_CSV,
        "summary_json": out / SUMMARY_JSON,
        "report": out / REPORT_HTML,
    }
    write_summary_csv(summary, paths["summary_csv"])
    paths["summary_json"].write_text(
        json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    write_report(summary, records, paths["report"], examples=examples)
    return {key: str(path) for key, path in paths.items()}


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


def load_results(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Read ``results.jsonl``: the last record per (example id, method).

    A line cut short by a crash is dropped and the file is rewritten without
    it, so that new records are never appended onto a broken line.
    """
    records = BatchJournal(path, key_of=_pair_key).load()
    return {(str(k[0]), str(k[1])): r for k, r in records.items() if isinstance(k, tuple)}


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


def _unique(examples: list[Example]) -> list[Example]:
    ids = [e.id for e in examples]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidInputError(f"example ids must be unique; repeated: {duplicates[:5]}")
    return examples
