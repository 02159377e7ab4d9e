"""Grounding benchmark: are answer sentences supported by what they cite? (issue 14)

On the shared MDS dev (28 topics) and LFQA dev (44 questions) data, whole
inputs, the embedded model, one process, side by side per example:

* ``free``    — today's pipeline: free-form operations, no grounding gate, no
  content filter (``operation_mode="free", grounding="off", content_only=False``);
* ``default`` — the new default graph (grounded operations, content filter,
  grounding gate measured with MExGen on the embedded scorer);
* ``lead``    — extractive lead: the first content-bearing sentence of each
  document, cited to itself (no model);
* ``alce``    — ALCE-style prompting: the same model writes an answer with
  ``[S#]`` markers over the same offered sentences.

Per answer sentence: the content-word check (>= 70 % of its content words in
the sources it cites, no number missing from them), and MExGen's verdict
(leave-one-out over the cited sentences and their neighbours, every answer
sentence in one design — ``leaf_measurer(per_sentence=False)``, the gate's
measurer until it moved to one design per sentence; kept fixed so rows of
every commit compare — applied identically to every method). Per answer: ROUGE-1/2/L
against the reference, length, LLM calls, wall time and, for the default, the
share of time spent checking. Per operation (from the execution trace):
compression and fusion length ratios, and the share of paraphrases that are
verbatim copies.

Resumable: each (example, method) is one JSON line in ``OUT/results.jsonl``;
a rerun skips finished pairs. ``--summarize`` writes the tables.

Run (about 3-10 minutes per example; both data sets side by side on 2 cores)::

    python -m benchmarks.grounding_benchmark --data mds --threads 1 \\
        --out benchmarks/results/grounding/mds &
    python -m benchmarks.grounding_benchmark --data lfqa --threads 1 \\
        --out benchmarks/results/grounding/lfqa
    python -m benchmarks.grounding_benchmark --summarize benchmarks/results/grounding/mds \\
        benchmarks/results/grounding/lfqa > benchmarks/results/grounding.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.result_rows import drop_methods, read_rows, row_keys
from langchain_genprog.attribute.base import AnswerSentence, AttributionResult
from langchain_genprog.evaluation.cost import CostTracker
from langchain_genprog.evaluation.datasets import Example, load_aftg
from langchain_genprog.evaluation.methods import ALCEMethod, example_sources
from langchain_genprog.graph import create_genprog_graph
from langchain_genprog.ground.lexical import lexical_verdict
from langchain_genprog.ground.measure import leaf_measurer
from langchain_genprog.plan.budget import sentences_within
from langchain_genprog.segment.content import non_content_reason
from langchain_genprog.segment.sources import Sources
from langchain_genprog.segment.words import tokens

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "attribute-first-then-generate"
FILES = {"mds": DATA / "MDS" / "dev.json", "lfqa": DATA / "LFQA" / "dev.json"}
MAX_SENTENCES = {"mds": 5, "lfqa": 3}
MAX_WORDS: dict[str, int | None] = {"mds": None, "lfqa": 50}
"""Every method's word budget. LFQA references are short (median 38 words, third
quartile 62), and a grounded sentence is long (a fusion keeps most of two source
sentences): without a budget the default wrote 76 words where free-form wrote 36,
and ROUGE-L paid for the length (rows in ``results/grounding/lfqa-no-budget``).
The graphs' planner stops before a line that would overspend it; ``lead`` and
``alce`` are cut before the first sentence that would (the first always kept).
MDS references run 128-310 words: ``max_sentences`` alone bounds them."""
METHODS = ("free", "default", "lead", "alce")
ROUGE = ("rouge1", "rouge2", "rougeL")
OPERATION_STATS = ("compression", "fusion", "paraphrase_copy", "fallback")


def _rouge(answer: str, reference: str | None) -> dict[str, float | None]:
    if not reference or not answer:
        return {"rouge1": None, "rouge2": None, "rougeL": None}
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    scores = scorer.score(reference, answer)
    return {k: round(v.fmeasure, 4) for k, v in scores.items()}


def _sentence_checks(sentences: Sequence[AnswerSentence], sources: Sources) -> list[dict[str, Any]]:
    out = []
    for s in sentences:
        cited = [sources.sentence(i).text for i in s.leaf_ids if sources.has(i)]
        verdict = lexical_verdict(s.text, cited)
        out.append(
            {
                "text": s.text,
                "cited": list(s.leaf_ids),
                "coverage": round(verdict.coverage, 4),
                "grounded": verdict.grounded and bool(cited),
                "missing_numbers": verdict.missing_numbers,
            }
        )
    return out


def _measured(
    measurer: Any, sentences: list[AnswerSentence], sources: Sources, question: str | None
) -> tuple[list[bool | None], float]:
    started = time.perf_counter()
    cited = [s for s in sentences if s.leaf_ids]
    flags: dict[int, bool | None] = {s.index: False for s in sentences if not s.leaf_ids}
    if cited:
        result = measurer.attribute(cited, sources, question=question)
        for item in result.sentences:
            flags[item.sentence.index] = item.supported
    return [flags.get(s.index) for s in sentences], time.perf_counter() - started


def _sentences(attribution: AttributionResult) -> list[AnswerSentence]:
    """Answer sentences with their citations as ``leaf_ids`` (for every method alike)."""
    return [
        item.sentence.model_copy(update={"leaf_ids": [c.sentence_id for c in item.citations]})
        for item in attribution.sentences
    ]


def _operation_stats(trace: list[Any]) -> dict[str, list[float]]:
    """Length ratios, paraphrase copies, and fallbacks (a grounded operation's ``note``)."""
    stats: dict[str, list[float]] = {k: [] for k in OPERATION_STATS}
    for node in trace:
        if node.error or not node.output or node.operation == "extract":
            continue
        stats["fallback"].append(1.0 if getattr(node, "note", None) else 0.0)
        if node.operation == "paraphrase":
            copy = " ".join(node.output.split()) == " ".join(node.inputs[0].split())
            stats["paraphrase_copy"].append(1.0 if copy else 0.0)
            continue
        total = sum(len(tokens(t)) for t in node.inputs) or 1
        stats[node.operation].append(len(tokens(node.output)) / total)
    return stats


def run_graph(graph: Any, example: Example) -> dict[str, Any]:
    tracker = CostTracker()
    started = time.perf_counter()
    state = graph.invoke(
        {"question": example.question, "documents": list(example.to_documents())},
        config={"callbacks": [tracker]},
    )
    seconds = time.perf_counter() - started
    grounding = state.get("grounding")
    return {
        "answer": state["answer"],
        "sentences": _sentences(state["attribution"]),
        "llm_calls": tracker.cost.llm_calls,
        "seconds": seconds,
        "check_seconds": grounding.seconds if grounding else 0.0,
        "repairs": [r.model_dump() for r in grounding.repairs] if grounding else [],
        "filtered": len(state["selection"].filtered),
        "ops": _operation_stats(state["execution"].trace),
        "program": state["plan"].program.render(),
    }


def run_lead(
    example: Example, sources: Sources, max_sentences: int, max_words: int | None = None
) -> dict[str, Any]:
    picked: list[int] = []
    for doc in sources.documents:
        for sid in doc.sentence_ids:
            if non_content_reason(sources.sentence(sid).text) is None:
                picked.append(sid)
                break
    picked = picked[:max_sentences]
    if max_words is not None:
        texts = [sources.sentence(sid).text for sid in picked]
        picked = picked[: sentences_within(texts, max_words)]
    sentences, cursor, parts = [], 0, []
    for k, sid in enumerate(picked):
        text = " ".join(sources.sentence(sid).text.split())
        sentences.append(
            AnswerSentence(index=k, text=text, start=cursor, end=cursor + len(text), leaf_ids=[sid])
        )
        parts.append(text)
        cursor += len(text) + 1
    return {"answer": " ".join(parts), "sentences": sentences, "llm_calls": 0, "seconds": 0.0}


def run_alce(method: ALCEMethod, example: Example) -> dict[str, Any]:
    out = method.run(example)
    return {
        "answer": out.answer,
        "sentences": _sentences(out.attribution),
        "llm_calls": out.cost.llm_calls,
        "seconds": out.cost.seconds,
    }


def evaluate(
    data: str,
    out_dir: Path,
    limit: int | None,
    methods: Sequence[str],
    threads: int | None,
    redo: Sequence[str] = (),
    shard: tuple[int, int] | None = None,
) -> None:
    from langchain_genprog.models import ChatLocalLlama

    if threads:  # the scorer (torch) and the model (llama.cpp) each get this many
        import torch

        torch.set_num_threads(threads)
    llm = ChatLocalLlama(n_threads=threads)
    k, words = MAX_SENTENCES[data], MAX_WORDS[data]
    graphs = {
        "free": create_genprog_graph(
            llm,
            max_sentences=k,
            max_words=words,
            operation_mode="free",
            grounding="off",
            content_only=False,
        ),
        "default": create_genprog_graph(llm, max_sentences=k, max_words=words),
    }
    alce = ALCEMethod(llm, max_sentences=k, max_words=words)
    # The metric stays the whole-answer measurement (see the module docstring).
    measurer = leaf_measurer(per_sentence=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.jsonl"
    done = _done(results, redo)
    commit = _commit()
    examples = load_aftg(FILES[data], limit=limit)
    for n, example in enumerate(examples, start=1):
        if shard is not None and (n - 1) % shard[1] != shard[0]:
            continue
        sources = example_sources(example)
        for method in methods:
            if (example.id, method) in done:
                continue
            print(
                f"[{data} {n}/{len(examples)}] {example.id} {method}", file=sys.stderr, flush=True
            )
            try:
                if method in graphs:
                    got = run_graph(graphs[method], example)
                elif method == "lead":
                    got = run_lead(example, sources, k, words)
                else:
                    got = run_alce(alce, example)
                error = None
            except Exception as err:  # a failed run is a result too, never skipped silently
                got, error = (
                    {"answer": "", "sentences": [], "llm_calls": 0, "seconds": 0.0},
                    repr(err),
                )
            sentences = got.pop("sentences")
            measured, measure_seconds = _measured(measurer, sentences, sources, example.question)
            row = {
                "example": example.id,
                "method": method,
                "data": data,
                "commit": commit,
                "max_words": words,
                "error": error,
                **got,
                "checks": _sentence_checks(sentences, sources),
                "mexgen_supported": measured,
                "metric_measure_seconds": round(measure_seconds, 3),
                **_rouge(got["answer"], example.reference),
                "answer_words": len(tokens(got["answer"])),
                "source_sentences": len(sources.sentences),
            }
            with results.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


def _done(results: Path, redo: Sequence[str]) -> set[tuple[str, str]]:
    """Finished (example, method) pairs; the rows of the ``redo`` methods are dropped first.

    After a change to the default's generation only, ``--redo default`` keeps
    the baselines' rows (their code did not change) and measures the default
    again (the default was 44 % of the cost of the first examples of a full run).
    """
    drop_methods(results, redo)
    return row_keys(results, "example")


def _commit() -> str | None:
    """The checkout's commit, recorded on each row (a run may span commits: see --redo)."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def summarize(dirs: Sequence[Path], examples: int = 0) -> str:
    """The README tables: quality and cost per method, then the operations' own numbers.

    With ``examples``, each data set's section ends with that many before/after
    answers: the examples where the free-form pipeline grounded the smallest
    share of its sentences, next to the default's answer to the same input.
    """
    lines: list[str] = []
    for folder in dirs:
        rows = read_rows(folder / "results.jsonl")
        if not rows:
            continue
        pairs = {(r["example"], r["method"]) for r in rows}
        complete = {r["example"] for r in rows if all((r["example"], m) in pairs for m in METHODS)}
        by_method: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if row["example"] in complete:
                by_method.setdefault(row["method"], []).append(row)
        lines.append(
            f"\n### {rows[0]['data'].upper()} dev: {len(complete)} examples, every method\n"
        )
        lines.append(_commits_line(by_method))
        budgets = sorted({str(r.get("max_words")) for r in rows if r.get("max_words")})
        if budgets:
            lines.append(f"Word budget (`max_words`), every method: {', '.join(budgets)}.\n")
        lines.extend(_quality_table(by_method))
        lines.extend(_operations_table(by_method))
        if examples:
            lines.extend(_before_after(by_method, examples))
    return "\n".join(lines) + "\n"


def compare_runs(first: Path, second: Path) -> str:
    """Two runs of one data set side by side, on the examples both finished with every method.

    For a setting that changes every method (the LFQA word budget): each
    method's ROUGE-L, words and grounded share in either run, so a baseline is
    also seen at its own best setting, not only at the one the default needs.
    """
    runs = [_rows_by_key(folder) for folder in (first, second)]
    shared = sorted({e for e, _ in runs[0] if all((e, m) in run for run in runs for m in METHODS)})
    lines = [
        f"\n#### The same {len(shared)} examples in `{first.name}` and `{second.name}`\n",
        f"| method | ROUGE-L ({first.name}) | words | grounded "
        f"| ROUGE-L ({second.name}) | words | grounded |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in METHODS:
        cells = []
        for run in runs:
            kept = [run[e, method] for e in shared]
            checks = [c for r in kept for c in r["checks"]]
            rouge = _mean([v for r in kept if (v := _rouge_of(r, "rougeL")) is not None])
            words = _mean([r["answer_words"] for r in kept])
            cells.append(
                f"{rouge} | {words} | {_pct(sum(c['grounded'] for c in checks), len(checks))}"
            )
        lines.append(f"| {method} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def _rows_by_key(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["example"], r["method"]): r for r in read_rows(folder / "results.jsonl")}


def _commits_line(by_method: dict[str, list[dict[str, Any]]]) -> str:
    """Which commit measured each method's rows (a run may span commits: see --redo)."""
    parts = []
    for method in METHODS:
        commits = sorted({str(r.get("commit")) for r in by_method.get(method, [])})
        if commits:
            parts.append(f"{method} at {', '.join(commits)}")
    return "Measured at: " + "; ".join(parts) + ".\n"


def _quality_table(by_method: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [
        "| method | sentences | grounded (content words) | numbers missing | MExGen-supported "
        "| ROUGE-1 | ROUGE-2 | ROUGE-L | words | LLM calls | wall s (median) | check share |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method in METHODS:
        kept = by_method.get(method, [])
        if not kept:
            continue
        checks = [c for r in kept for c in r["checks"]]
        measured = [m for r in kept for m in r["mexgen_supported"] if m is not None]
        walls = [r["seconds"] for r in kept]
        checked = sum(r.get("check_seconds", 0.0) for r in kept)
        share = f"{checked / sum(walls):.0%}" if sum(walls) else ""
        grounded = _pct(sum(c["grounded"] for c in checks), len(checks))
        rouge = [_mean([v for r in kept if (v := _rouge_of(r, k)) is not None]) for k in ROUGE]
        lines.append(
            f"| {method} | {len(checks)} | {grounded} "
            f"| {sum(len(c['missing_numbers']) for c in checks)} "
            f"| {_pct(sum(measured), len(measured))} | {rouge[0]} | {rouge[1]} | {rouge[2]} "
            f"| {_mean([r['answer_words'] for r in kept])} "
            f"| {_mean([r['llm_calls'] for r in kept])} "
            f"| {round(statistics.median(walls), 1)} | {share} |"
        )
    return lines


def _rouge_of(row: dict[str, Any], key: str) -> float | None:
    """The row's ROUGE score; an empty answer scores 0 (it is not left out of the mean)."""
    if row[key] is None and not row["answer"]:
        return 0.0
    return row[key]


def _operations_table(by_method: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [
        "",
        "| method | compression ratio (mean) | fusion ratio (mean) | paraphrases copied "
        "| operations that fell back | repairs | failed runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in ("free", "default"):
        kept = by_method.get(method, [])
        if not kept:
            continue
        ops = {k: [x for r in kept for x in r.get("ops", {}).get(k, [])] for k in OPERATION_STATS}
        repairs: dict[str, int] = {}
        for r in kept:
            for rep in r.get("repairs", []):
                repairs[rep["action"]] = repairs.get(rep["action"], 0) + 1
        comp, fus, para, fell = (ops[k] for k in OPERATION_STATS)
        lines.append(
            f"| {method} | {_mean(comp)} (n={len(comp)}) | {_mean(fus)} (n={len(fus)}) "
            f"| {_pct(sum(para), len(para))} (n={len(para)}) "
            f"| {_pct(sum(fell), len(fell))} (n={len(fell)}) | {repairs or '-'} "
            f"| {sum(1 for r in kept if r['error'])} |"
        )
    walls = {
        m: {r["example"]: r["seconds"] for r in by_method.get(m, [])} for m in ("free", "default")
    }
    ratios = [
        walls["default"][e] / t for e, t in walls["free"].items() if t and e in walls["default"]
    ]
    if ratios:
        lines.append(
            f"\nWall time, default / free: median {statistics.median(ratios):.2f} per example"
        )
    return lines


def _before_after(by_method: dict[str, list[dict[str, Any]]], count: int) -> list[str]:
    """Free vs default on the examples where free grounded the smallest share of sentences."""
    default = {r["example"]: r for r in by_method.get("default", [])}
    free = [r for r in by_method.get("free", []) if r["checks"] and r["example"] in default]
    free.sort(
        key=lambda r: (sum(c["grounded"] for c in r["checks"]) / len(r["checks"]), r["example"])
    )
    lines = ["", f"Before/after ({min(count, len(free))} examples where free grounded least):"]
    for row in free[:count]:
        lines.append(f"\n*{row['example']}*\n")
        for method, shown in (("free", row), ("default", default[row["example"]])):
            lines.append(f"- **{method}**:")
            lines.extend(f"  - {_shown_sentence(c)}" for c in shown["checks"])
    return lines


def _shown_sentence(check: dict[str, Any]) -> str:
    """One answer sentence with its citations and the content-word verdict."""
    cited = "".join(f"[S{i}]" for i in check["cited"]) or "(no citation)"
    verdict = "grounded" if check["grounded"] else "NOT grounded"
    missing = f", numbers missing: {check['missing_numbers']}" if check["missing_numbers"] else ""
    text = " ".join(check["text"].split())
    return f"{text} {cited} — {verdict} ({check['coverage']:.0%} of content words{missing})"


def _pct(part: float, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data", choices=sorted(FILES))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--summarize", nargs="+", type=Path)
    parser.add_argument(
        "--examples",
        type=int,
        default=0,
        help="with --summarize: this many before/after answers per data set",
    )
    parser.add_argument(
        "--redo",
        nargs="+",
        default=[],
        choices=METHODS,
        help="drop these methods' rows first and measure them again: default after a "
        "change to grounded operations or the gate; default lead after one to the content "
        "filter; everything after one to the planner, the model or the measurer",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads for the model and the scorer (default: every core); "
        "1 each to run MDS and LFQA side by side on 2 cores",
    )
    parser.add_argument(
        "--shard",
        help="K/N: only examples K, K+N, K+2N ... (0-based), to run one data set as N "
        "processes with their own --out folders; concatenate their results.jsonl after",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("DIR_A", "DIR_B"),
        help="two runs of one data set, side by side on the examples both finished",
    )
    args = parser.parse_args()
    if args.compare:
        print(compare_runs(*args.compare))
        return
    if args.summarize:
        print(summarize(args.summarize, args.examples))
        return
    if not args.data or not args.out:
        parser.error("--data and --out are needed to run (or --summarize DIR ...)")
    shard = _shard(args.shard, parser) if args.shard else None
    evaluate(args.data, args.out, args.limit, args.methods, args.threads, args.redo, shard)


def _shard(text: str, parser: argparse.ArgumentParser) -> tuple[int, int]:
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        parser.error(f"--shard takes K/N with 0 <= K < N, got {text!r}")
    return int(index), int(count)


if __name__ == "__main__":
    main()
