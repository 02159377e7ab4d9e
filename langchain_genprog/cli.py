"""``genprog``: cited answers (and attribution) from the command line.

``genprog answer`` runs the whole graph over text files, a JSONL of
documents, or one example of an Attribute-First-then-Generate file, and prints
the answer with ``[S#]`` markers, the program and anything that failed.
Progress goes to stderr so stdout stays clean for piping.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel

from langchain_genprog.attribute.mexgen.clime import SAMPLINGS
from langchain_genprog.documents import (
    documents_from_dir,
    documents_from_files,
    documents_from_jsonl,
    documents_from_stream,
)
from langchain_genprog.errors import GenProgError, InvalidInputError
from langchain_genprog.models.loading import load_chat_model

if TYPE_CHECKING:
    from langchain_genprog.attribute.base import AttributionResult
    from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig
    from langchain_genprog.evaluation.datasets import Example
    from langchain_genprog.models.scoring import LogProbScorer
    from langchain_genprog.segment.sources import Sources


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


def load_documents(
    files: tuple[str, ...],
    jsonl: str | None,
    dataset: str | None,
    example: str | None,
    *,
    docs_dir: str | None = None,
    sample: bool = False,
) -> tuple[list[Document], str | None]:
    """Documents (and the dataset's or sample's question, if any) from the CLI's input options.

    Exactly one input must be chosen: guessing between, say, a folder and a
    piped stream would answer over sources the user did not mean.

    Raises:
        InvalidInputError: If not exactly one input is given, or it is unreadable.
        InvalidSourcesError: If a file or stdin holds only whitespace.
    """
    chosen = sum(bool(x) for x in (files, jsonl, dataset, docs_dir, sample))
    if chosen != 1:
        raise InvalidInputError(
            "give exactly one of: text FILES (- reads stdin), --docs-dir DIR, --jsonl PATH, "
            "--dataset PATH, --sample"
        )
    if dataset:
        return _dataset_documents(dataset, example)
    if sample:
        from langchain_genprog.examples import sample_documents, sample_question

        return sample_documents(), sample_question()
    if jsonl:
        return documents_from_jsonl(jsonl), None
    if docs_dir:
        return documents_from_dir(docs_dir), None
    if files.count("-") > 1:
        raise InvalidInputError("stdin (-) can be read only once")
    out: list[Document] = []
    for name in files:
        if name == "-":
            out.extend(documents_from_stream(sys.stdin))
        else:
            out.extend(documents_from_files([name]))
    return out, None


def _dataset_documents(dataset: str, example: str | None) -> tuple[list[Document], str | None]:
    chosen = _dataset_example(dataset, example)
    return chosen.to_documents(), chosen.question


def _dataset_example(dataset: str, example: str | None) -> Example:
    """One example of an Attribute-First-then-Generate file, by id or else by index.

    Raises:
        InvalidInputError: If ``example`` (default ``0``) is neither.
    """
    from langchain_genprog.evaluation.datasets import load_aftg

    examples = load_aftg(dataset)
    key = example or "0"
    match = [e for e in examples if e.id == key]
    if not match and key.isdigit() and int(key) < len(examples):
        match = [examples[int(key)]]
    if not match:
        msg = f"--example {key!r}: not an id or index of {dataset} ({len(examples)} examples)"
        raise InvalidInputError(msg)
    return match[0]


@click.group()
@click.version_option(package_name="langchain-genprog")
def main() -> None:
    """Verifiable answers over your sources, cited sentence by sentence."""


def input_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The source options ``answer`` and ``attribute`` share: FILES, a folder, JSONL, a dataset."""
    options = [
        click.argument(
            "files", nargs=-1, type=click.Path(exists=True, dir_okay=False, allow_dash=True)
        ),
        click.option(
            "--docs-dir",
            type=click.Path(exists=True, file_okay=False),
            help="A folder of plain-text files (.txt, .md), one document each.",
        ),
        click.option(
            "--jsonl", type=click.Path(exists=True, dir_okay=False), help="JSONL of documents."
        ),
        click.option(
            "--dataset",
            type=click.Path(exists=True, dir_okay=False),
            help="An Attribute-First-then-Generate file (e.g. MDS/dev.json).",
        ),
        click.option("--example", help="Example id or index in --dataset (default: 0)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command()
@input_options
@click.option(
    "--sample",
    is_flag=True,
    help="Answer the sample question over the sample documents shipped with the package.",
)
@click.option("-q", "--question", help="The question; omit to summarize the documents.")
@click.option(
    "--model", default="embedded", show_default=True, help="embedded, PROVIDER:NAME, or NAME."
)
@click.option("--base-url", help="Base URL of an OpenAI-compatible server serving --model NAME.")
@click.option("--max-sentences", default=5, show_default=True, type=click.IntRange(1, 30))
@click.option(
    "--max-words",
    type=click.IntRange(1, None),
    help="Word budget of the answer (planning stops before a sentence that overspends it).",
)
@click.option(
    "--max-concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Model requests in flight at once (independent operations, scored perturbations).",
)
@click.option(
    "--attributor",
    type=click.Choice(["program", "mexgen"]),
    default="program",
    show_default=True,
    help="program: cite program leaves; mexgen: also measure support with the local scorer.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the full result.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Write the HTML view.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def answer(
    files: tuple[str, ...],
    docs_dir: str | None,
    jsonl: str | None,
    dataset: str | None,
    example: str | None,
    sample: bool,
    question: str | None,
    model: str,
    base_url: str | None,
    max_sentences: int,
    max_words: int | None,
    max_concurrency: int,
    attributor: str,
    json_out: str | None,
    html_out: str | None,
    quiet: bool,
) -> None:
    """Answer QUESTION (or summarize) over FILES with per-sentence citations.

    FILES are UTF-8 text files; - reads one document from stdin.
    """
    try:
        documents, given_question = load_documents(
            files, jsonl, dataset, example, docs_dir=docs_dir, sample=sample
        )
        question = question or given_question
        started = time.perf_counter()
        state = _run_graph(
            documents,
            question,
            llm=load_chat_model(model, base_url),
            max_sentences=max_sentences,
            max_words=max_words,
            max_concurrency=max_concurrency,
            measure=attributor == "mexgen",
            quiet=quiet,
        )
        seconds = time.perf_counter() - started
    except GenProgError as err:
        raise click.ClickException(f"{type(err).__name__}: {err}") from err
    _report_answer(state, question, seconds)
    if json_out:
        Path(json_out).write_text(json.dumps(result_to_json(state, seconds), indent=2))
        click.echo(f"wrote {json_out}")
    if html_out:
        from langchain_genprog.render import write_html

        write_html(
            html_out,
            state["attribution"],
            state["sources"],
            question=question,
            program=state["plan"].program.render(),
        )
        click.echo(f"wrote {html_out}")
    if not state["answer_sentences"]:
        sys.exit(1)


def _run_graph(
    documents: list[Document],
    question: str | None,
    *,
    llm: BaseChatModel,
    max_sentences: int,
    max_concurrency: int,
    measure: bool,
    max_words: int | None = None,
    quiet: bool,
) -> dict[str, Any]:
    """Stream the graph, progress to stderr, and return its final state."""
    from langchain_genprog.graph import GenProgInput, create_genprog_graph

    attribute_with = None
    if measure:
        from langchain_genprog.attribute.mexgen_node import MExGenAttributor
        from langchain_genprog.models import get_default_scorer

        attribute_with = MExGenAttributor(get_default_scorer())
    graph = create_genprog_graph(
        llm,
        max_sentences=max_sentences,
        max_words=max_words,
        max_concurrency=max_concurrency,
        attributor=attribute_with,
    )
    state: dict[str, Any] = {}
    inputs: GenProgInput = {"question": question, "documents": list(documents)}
    for mode, chunk in graph.stream(inputs, stream_mode=["custom", "values"]):
        if mode == "values":
            state = cast(dict[str, Any], chunk)
        elif not quiet:
            _echo_err(_progress_line(chunk))
    return state


def _report_answer(state: dict[str, Any], question: str | None, seconds: float) -> None:
    """Print the cited answer, the program, what was left out and what failed."""
    from langchain_genprog.citations import render_with_markers

    plan, execution, attribution = state["plan"], state["execution"], state["attribution"]
    click.echo(f"Question: {question}" if question else "Task: summarize the sources")
    click.echo("\nAnswer:\n" + render_with_markers(attribution, answer=state["answer"]))
    click.echo("\nProgram:\n" + plan.program.render())
    click.echo(f"\nSources: {state['selection'].describe()}")
    for issue in plan.issues:
        click.echo(f"planner issue: {issue}")
    for failure in execution.failures:
        click.echo(f"failed line {failure.line} `{failure.program}`: {failure.error}")
    _echo_grounding(state.get("grounding"))
    click.echo(
        f"\n{len(state['answer_sentences'])} cited sentences, {plan.retries} plan retries, "
        f"{len(execution.failures)} failed lines, "
        f"{sum(1 for t in execution.trace if t.error)} failed nodes, {seconds:.1f} s"
    )


_MEXGEN_OPTIONS = (
    "method",
    "sampling",
    "levels",
    "scheme",
    "screen",
    "max_calls",
    "max_seconds",
)
"""The MExGen options of :func:`mexgen_options`, as the command receives them (unprefixed)."""


def mexgen_options(prefix: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The MExGen options shared by ``attribute`` and ``eval`` (``eval`` prefixes ``mexgen-``).

    The command receives them as one argument, ``mexgen``: the
    :class:`~langchain_genprog.attribute.mexgen_config.MExGenAttributorConfig`
    they describe, validated once here, so each command passes the object on
    instead of five loose values.
    """
    options = [
        click.option(
            f"--{prefix}method",
            type=click.Choice(["loo", "clime", "lshap"]),
            default="clime",
            show_default=True,
            help="MExGen algorithm.",
        ),
        click.option(
            f"--{prefix}sampling",
            type=click.Choice(SAMPLINGS),
            default="orthogonal",
            show_default=True,
            help="C-LIME's removal sets: at most K units (MExGen), or half the units at a time.",
        ),
        click.option(
            f"--{prefix}levels",
            type=click.Choice(["sentence", "sentence,phrase"]),
            default="sentence",
            show_default=True,
            help="Attribute sentences only, or refine the top sentences to phrases.",
        ),
        click.option(
            f"--{prefix}scheme",
            type=click.Choice(["auto", "flat", "coarse-to-fine"]),
            default="auto",
            show_default=True,
            help="coarse-to-fine: 16 rows whatever N over 15 candidates round-robin (answers "
            "of up to 4 sentences) or each answer sentence's 8 best (longer; see --screen); "
            "flat: one design over every candidate; auto: coarse-to-fine for C-LIME over "
            "more than 9 sentences.",
        ),
        click.option(
            f"--{prefix}screen",
            type=click.Choice(["auto", "priors", "blocks"]),
            default="auto",
            show_default=True,
            help="coarse-to-fine: pick the candidates by the lexical + embedding priors alone "
            "(no call), or also score blocks of sqrt(N) sentences alone (sqrt(N) + 1 calls).",
        ),
        click.option(
            f"--{prefix}max-calls",
            type=click.IntRange(1),
            help="Stop attributing after this many model calls (the result says so).",
        ),
        click.option(
            f"--{prefix}max-seconds", type=float, help="Stop attributing after this many seconds."
        ),
    ]
    param = prefix.replace("-", "_")

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def with_config(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(param + name) for name in _MEXGEN_OPTIONS}
            try:
                kwargs["mexgen"] = _mexgen_config(**values)
            except GenProgError as err:
                raise click.ClickException(f"{type(err).__name__}: {err}") from err
            return command(*args, **kwargs)

        for option in reversed(options):
            with_config = option(with_config)
        return with_config

    return decorate


def _mexgen_config(
    method: str,
    sampling: str,
    levels: str,
    scheme: str,
    screen: str,
    max_calls: int | None,
    max_seconds: float | None,
) -> MExGenAttributorConfig:
    """The configuration the MExGen options describe (no budget when no limit is set)."""
    from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig

    limited = max_calls is not None or max_seconds is not None
    options: dict[str, Any] = {  # strings from the command line: the config checks them
        "method": method,
        "sampling": sampling,
        "levels": tuple(levels.split(",")),
        "scheme": scheme,
        "screen": screen,
        "budget": {"max_calls": max_calls, "max_seconds": max_seconds} if limited else None,
    }
    return MExGenAttributorConfig(**options)


def _served_scorer(
    model: str, base_url: str | None, template: str
) -> Callable[[], LogProbScorer | None]:
    """The scorer ``--model/--base-url/--scorer-template`` name, checked now, loaded on use.

    ``embedded`` gives ``None``: the post hoc attribution loads its shared
    embedded scorer itself, only once an answer is to be scored.
    """
    from langchain_genprog.models.loading import EMBEDDED, load_log_prob_scorer

    if model.strip() == EMBEDDED and not base_url:
        return lambda: None
    try:
        scorer = load_log_prob_scorer(model, base_url, template=template)
    except GenProgError as err:
        raise click.ClickException(f"{type(err).__name__}: {err}") from err
    return lambda: scorer


def scorer_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--model/--base-url/--scorer-template``, given to the command as one ``scorer`` factory."""

    @functools.wraps(command)
    def with_scorer(*args: Any, **kwargs: Any) -> Any:
        kwargs["scorer"] = _served_scorer(
            kwargs.pop("model"), kwargs.pop("base_url"), kwargs.pop("scorer_template")
        )
        return command(*args, **kwargs)

    options = [
        click.option(
            "--model",
            default="embedded",
            show_default=True,
            help="Log-prob scorer: embedded, or a NAME served at --base-url.",
        ),
        click.option(
            "--base-url",
            help="OpenAI-compatible server whose /v1/completions scores --model NAME "
            "(vLLM, python -m llama_cpp.server), e.g. http://127.0.0.1:8000/v1.",
        ),
        click.option(
            "--scorer-template",
            type=click.Choice(["chatml", "none"]),
            default="chatml",
            show_default=True,
            help="How a served scorer's prompt is wrapped: a ChatML user turn, or as is.",
        ),
    ]
    for option in reversed(options):
        with_scorer = option(with_scorer)
    return with_scorer


concurrency_option = click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Items in flight at once (raise it for a model server that serves requests in parallel).",
)


def _run_attribute_batch(
    paths: tuple[str | None, str | None],
    scorer: Callable[[], LogProbScorer | None],
    mexgen: MExGenAttributorConfig,
    *,
    top_k: int,
    concurrency: int,
    retry_failed: bool,
    quiet: bool,
    single: tuple[Any, ...],
) -> None:
    """``genprog attribute --batch``: run, report on stderr, exit 1 if any item failed.

    ``single`` holds the one-answer options (FILES, --answer, --json ...):
    each batch line carries its own, so giving any is refused, not ignored.
    """
    batch_in, batch_out = paths
    if not (batch_in and batch_out) or any(single):
        raise click.UsageError(
            "a batch takes --batch IN.jsonl --out OUT.jsonl, and no FILES, --answer, "
            "--question, --json or --html (each line carries its own)"
        )
    from langchain_genprog.attribute.batch import attribute_batch

    try:
        report = attribute_batch(
            batch_in,
            batch_out,
            scorer,
            config=mexgen,
            top_k=top_k,
            concurrency=concurrency,
            retry_failed=retry_failed,
            progress=not quiet,
        )
    except GenProgError as err:
        raise click.ClickException(f"{type(err).__name__}: {err}") from err
    _echo_err(f"batch: {report.describe()}")
    if report.failed:
        _echo_err(f"batch: {report.failed} item(s) failed; see their error in {batch_out}")
        sys.exit(1)


@main.command(name="attribute")
@input_options
@click.option("-a", "--answer", "answer_text", help="The answer text to attribute.")
@click.option(
    "--answer-file", type=click.Path(exists=True, dir_okay=False), help="Read the answer here."
)
@click.option("-q", "--question", help="The question the answer responds to.")
@mexgen_options()
@click.option("--top-k", default=3, show_default=True, type=click.IntRange(1, 20))
@scorer_options
@click.option(
    "--batch",
    "batch_in",
    type=click.Path(exists=True, dir_okay=False),
    help=(
        "Attribute every line of this JSONL: "
        '{"id", "answer", "documents": [text or {"page_content", "metadata"}], "question"?}.'
    ),
)
@click.option(
    "--out",
    "batch_out",
    type=click.Path(dir_okay=False),
    help="With --batch: the JSONL of citations, one line per item; rerun to resume.",
)
@concurrency_option
@click.option("--retry-failed", is_flag=True, help="With --batch: rerun items that failed before.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the full result.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Write the HTML view.")
@click.option("--quiet", is_flag=True, help="No progress bar on stderr.")
def attribute_command(
    files: tuple[str, ...],
    docs_dir: str | None,
    jsonl: str | None,
    dataset: str | None,
    example: str | None,
    answer_text: str | None,
    answer_file: str | None,
    question: str | None,
    mexgen: MExGenAttributorConfig,
    top_k: int,
    scorer: Callable[[], LogProbScorer | None],
    batch_in: str | None,
    batch_out: str | None,
    concurrency: int,
    retry_failed: bool,
    json_out: str | None,
    html_out: str | None,
    quiet: bool,
) -> None:
    """Cite each sentence of an ANSWER written by anything to the sentences of FILES.

    Scores come from MExGen with the embedded local log-prob scorer, or with
    --model NAME --base-url URL from an OpenAI-compatible completions server.
    With --dataset, the example's reference answer is attributed unless
    --answer is given. With --batch IN.jsonl --out OUT.jsonl, every line of IN
    is attributed (--concurrency at once) and its citations appended to OUT as
    it finishes; rerunning the command resumes, skipping the items OUT holds.
    """
    from langchain_genprog.attribute.posthoc import attribute
    from langchain_genprog.segment.sources import Sources

    if batch_in or batch_out:
        single = (files, jsonl, dataset, docs_dir, answer_text, answer_file, question)
        _run_attribute_batch(
            (batch_in, batch_out),
            scorer,
            mexgen,
            top_k=top_k,
            concurrency=concurrency,
            retry_failed=retry_failed,
            quiet=quiet,
            single=(*single, json_out, html_out),
        )
        return
    try:
        documents, dataset_question = load_documents(
            files, jsonl, dataset, example, docs_dir=docs_dir
        )
        question = question or dataset_question
        if answer_file:
            answer_text = Path(answer_file).read_text(encoding="utf-8")
        if not answer_text and dataset:
            answer_text = _dataset_example(dataset, example).reference
        if not answer_text:
            raise InvalidInputError("give the answer with --answer TEXT or --answer-file PATH")
        sources = Sources.from_documents(documents)
        started = time.perf_counter()
        result = attribute(
            answer_text,
            sources,
            question,
            scorer=scorer(),
            config=mexgen,
            top_k=top_k,
            progress_bar=not quiet,
        )
        seconds = time.perf_counter() - started
    except GenProgError as err:
        raise click.ClickException(f"{type(err).__name__}: {err}") from err
    _report_attribution(result, seconds)
    _write_attribution(result, sources, answer_text, question, seconds, json_out, html_out)


def _write_attribution(
    result: AttributionResult,
    sources: Sources,
    answer_text: str,
    question: str | None,
    seconds: float,
    json_out: str | None,
    html_out: str | None,
) -> None:
    """Write the ``--json`` result and the ``--html`` view of one attribution, if asked."""
    if json_out:
        payload = {
            "answer": answer_text,
            "question": question,
            "attribution": result.model_dump(mode="json"),
            "sources": [s.model_dump(mode="json") for s in sources.sentences],
            "seconds": round(seconds, 3),
        }
        Path(json_out).write_text(json.dumps(payload, indent=2))
        click.echo(f"wrote {json_out}")
    if html_out:
        from langchain_genprog.render import write_html

        write_html(html_out, result, sources, question=question)
        click.echo(f"wrote {html_out}")


@main.command(name="eval")
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["aftg", "jsonl"]), default="aftg", show_default=True
)
@click.option(
    "--methods",
    default="genprog,alce,posthoc-embed",
    show_default=True,
    help=(
        "Comma-separated: genprog, genprog-mexgen, genprog+refine, alce, posthoc-mexgen, "
        "posthoc-embed."
    ),
)
@click.option("--model", default="embedded", show_default=True, help="embedded or PROVIDER:NAME.")
@click.option("--base-url", help="Base URL of an OpenAI-compatible server (with --model).")
@click.option("--limit", type=click.IntRange(1), help="Evaluate the first N examples.")
@click.option("--out", "out_dir", default="genprog-eval", show_default=True)
@click.option(
    "--judge", type=click.Choice(["none", "llm", "lexical"]), default="none", show_default=True
)
@click.option("--judge-model", help="Judge model (PROVIDER:NAME); default: --model.")
@click.option("--drop-hold", is_flag=True, help="Also measure drop-and-hold with the scorer.")
@click.option(
    "--posthoc-answer",
    type=click.Choice(["generate", "reference"]),
    default="generate",
    show_default=True,
    help="Post-hoc methods attribute a generated answer or the dataset's reference.",
)
@click.option("--max-sentences", default=5, show_default=True, type=click.IntRange(1, 30))
@click.option("--retry-failed", is_flag=True, help="Rerun pairs that failed before.")
@concurrency_option
@click.option("--quiet", is_flag=True, help="No progress bar on stderr.")
@mexgen_options("mexgen-")
def eval_command(
    data: str,
    fmt: str,
    methods: str,
    model: str,
    base_url: str | None,
    limit: int | None,
    out_dir: str,
    judge: str,
    judge_model: str | None,
    drop_hold: bool,
    posthoc_answer: str,
    max_sentences: int,
    retry_failed: bool,
    concurrency: int,
    quiet: bool,
    mexgen: MExGenAttributorConfig,
) -> None:
    """Compare citation methods on a dataset; resumable; writes JSON, CSV and an HTML report.

    Each (example, method) pair is appended to OUT/results.jsonl as it
    finishes (--concurrency pairs at once); rerunning the command resumes,
    skipping finished pairs (and failed ones unless --retry-failed).
    """
    from langchain_genprog.evaluation.cli_support import eval_command_impl, mexgen_attributors

    try:
        summary = eval_command_impl(
            data,
            fmt,  # type: ignore[arg-type]
            [m.strip() for m in methods.split(",") if m.strip()],
            model,
            limit,
            out_dir,
            base_url=base_url,
            judge=judge,  # type: ignore[arg-type]
            judge_model=judge_model,
            drop_hold=drop_hold,
            posthoc_answer=posthoc_answer,  # type: ignore[arg-type]
            max_sentences=max_sentences,
            retry_failed=retry_failed,
            concurrency=concurrency,
            progress=not quiet,
            attributor_factory=mexgen_attributors(mexgen),
        )
    except GenProgError as err:
        raise click.ClickException(f"{type(err).__name__}: {err}") from err
    for method, metrics in summary.methods.items():
        shown = ", ".join(
            f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
        )
        click.echo(f"{method}: {shown}")
    click.echo(f"ran {summary.ran} pairs, skipped {summary.skipped} finished ones")
    if summary.batch is not None:
        _echo_err(f"batch: {summary.batch.describe()}")
    click.echo(f"wrote {summary.summary_csv}, {summary.summary_json}, {summary.report}")


def _report_attribution(result: AttributionResult, seconds: float) -> None:
    """Print the answer with markers, each sentence's scored citations, and the cost."""
    from langchain_genprog.citations import render_with_markers

    click.echo(render_with_markers(result))
    for item in result.sentences:
        cited = ", ".join(
            f"S{c.sentence_id}={c.score:.3f}" if c.score is not None else f"S{c.sentence_id}"
            for c in item.citations
        )
        flag = "" if item.supported is not False else f"  UNSUPPORTED: {item.note}"
        click.echo(f"  [{item.sentence.index}] {cited}{flag}")
    state = "complete" if result.complete else "INCOMPLETE (budget reached)"
    click.echo(f"\n{result.method}: {result.model_calls} model calls, {seconds:.1f} s, {state}")


def result_to_json(state: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The full result as JSON: answer, citations, program, trace, failures."""
    from langchain_genprog.citations import citations_of

    message = state["messages"][-1]
    return {
        "question": state.get("question"),
        "answer": state["answer"],
        "citations": citations_of(message),
        "program": state["plan"].program.render(),
        "plan": state["plan"].model_dump(mode="json"),
        "selection": state["selection"].model_dump(mode="json"),
        "trace": [t.model_dump(mode="json") for t in state["execution"].trace],
        "lines": [line.model_dump(mode="json") for line in state["execution"].lines],
        "failures": [f.model_dump(mode="json") for f in state["execution"].failures],
        "attribution": state["attribution"].model_dump(mode="json"),
        "grounding": state["grounding"].summary() if state.get("grounding") else None,
        "sources": [s.model_dump(mode="json") for s in state["sources"].sentences],
        "seconds": round(seconds, 3),
    }


def _echo_grounding(report: Any) -> None:
    """The gate's verdict and every repair it made: a replacement is never silent."""
    if report is None:
        return
    for repair in report.repairs:
        change = f" -> {repair.after!r}" if repair.after else ""
        click.echo(
            f"grounding: line {repair.line} {repair.action} ({repair.reason}): "
            f"{repair.before!r}{change}"
        )
    passed = sum(v.passed for v in report.verdicts.values())
    click.echo(
        f"grounding: {passed} of {len(report.verdicts)} sentences supported by what they cite "
        f"({report.measured} measured, {len(report.repairs)} repairs, {report.seconds:.1f} s)"
    )


def _progress_line(event: Any) -> str:
    if not isinstance(event, dict):
        return str(event)
    step = event.get("step", "?")
    if step == "execute":
        status = f"error: {event['error']}" if event.get("error") else repr(event.get("output"))
        return f"[execute] line {event['line']} {event['operation']} ({event['seconds']}s) {status}"
    if step == "plan":
        issues = "; ".join(event.get("issues") or []) or "no issues"
        return f"[plan] {event['valid_lines']} valid lines in {event['seconds']}s ({issues})"
    if step == "ground":
        failing = "; ".join(event.get("failing") or []) or "none failing"
        return f"[ground] round {event['round']}: {event['passed']} passed ({failing})"
    if step == "repair":
        return f"[repair] line {event['line']} {event['action']}: {event['reason']}"
    rest = {k: v for k, v in event.items() if k != "step"}
    return f"[{step}] " + " ".join(f"{v}" for v in rest.values())


if __name__ == "__main__":  # pragma: no cover
    main()
