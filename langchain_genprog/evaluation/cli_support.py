"""Plumbing for ``genprog eval``: method names → methods, and the command's body.

The click command in :mod:`langchain_genprog.cli` only parses options and
calls :func:`eval_command_impl`; everything testable lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, get_args

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from langchain_genprog.attribute.base import Attributor
from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig
from langchain_genprog.attribute.mexgen_node import MExGenAttributor
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.datasets import Example, load_aftg, load_jsonl
from langchain_genprog.evaluation.judge import EntailmentJudge, LexicalOverlapJudge, LLMJudge
from langchain_genprog.evaluation.methods import (
    ALCEMethod,
    AnswerFrom,
    GenerationProgramsMethod,
    GenerationProgramsMExGenMethod,
    GenerationProgramsRefineMethod,
    Method,
    PosthocEmbeddingMethod,
    PosthocMExGenMethod,
)
from langchain_genprog.evaluation.runner import EvaluationSummary, run_evaluation
from langchain_genprog.models.loading import load_chat_model
from langchain_genprog.models.scoring import LogProbScorer
from langchain_genprog.refine.checks import EmbeddingNodeChecker

MethodName = Literal[
    "genprog", "genprog-mexgen", "genprog+refine", "alce", "posthoc-mexgen", "posthoc-embed"
]
"""Names accepted by ``genprog eval --method``."""

METHOD_NAMES: tuple[str, ...] = get_args(MethodName)

JudgeName = Literal["none", "llm", "lexical"]
"""``llm``: the chat model as entailment judge; ``lexical``: word-overlap proxy."""

DataFormat = Literal["aftg", "jsonl"]

AttributorFactory = Callable[[LogProbScorer], Attributor]
"""Builds the MExGen attributor from a scorer (default: :func:`mexgen_attributors` ``()``)."""


def mexgen_attributors(config: MExGenAttributorConfig | None = None) -> AttributorFactory:
    """The factory of ``MExGenAttributor(scorer, config=config)`` (``genprog eval --mexgen-*``).

    The scorer is loaded only when a MExGen method is asked for, so the
    configuration travels to it as this factory.

    Args:
        config: The attributor's options (``None``: its defaults).
    """

    def factory(scorer: LogProbScorer) -> Attributor:
        return MExGenAttributor(scorer, config=config)

    return factory


def load_examples(data: str | Path, fmt: DataFormat, *, limit: int | None = None) -> list[Example]:
    """Load examples in the Attribute-First-then-Generate (``aftg``) or our ``jsonl`` format.

    Raises:
        InvalidInputError: On an unknown format or an unreadable file.
    """
    if fmt == "aftg":
        return load_aftg(data, limit=limit)
    if fmt == "jsonl":
        return load_jsonl(data, limit=limit)
    raise InvalidInputError(f"unknown data format {fmt!r}; expected 'aftg' or 'jsonl'")


def build_methods(
    names: Sequence[str],
    llm: BaseChatModel,
    *,
    scorer: LogProbScorer | None = None,
    embeddings: Embeddings | None = None,
    attributor_factory: AttributorFactory | None = None,
    top_k: int = 2,
    max_sentences: int = 5,
    posthoc_answer: AnswerFrom = "generate",
) -> list[Method]:
    """Instantiate the named methods over one chat model.

    Args:
        names: Method names from :data:`METHOD_NAMES` (each at most once).
        llm: The chat model every method uses.
        scorer: Log-prob scorer for the MExGen methods (default: the embedded one).
        embeddings: Embeddings for ``posthoc-embed`` and for the node checker of
            ``genprog+refine`` (default: the embedded one).
        attributor_factory: Builds the MExGen attributor from the scorer.
        top_k: Citations per sentence of ``posthoc-embed``.
        max_sentences: Most answer sentences for every method.
        posthoc_answer: Post-hoc methods attribute a ``generate``-d answer or the
            ``reference`` (which enables gold-link metrics).

    Raises:
        InvalidInputError: On an unknown or repeated name.
        ModelNotAvailableError: If a default scorer or embeddings is needed but
            not installed.
    """
    _check_method_names(names)

    def attributor() -> Attributor:
        nonlocal scorer
        if scorer is None:
            scorer = _default_scorer()
        factory = attributor_factory or mexgen_attributors()
        return factory(scorer)

    methods: list[Method] = []
    for name in names:
        if name == "genprog":
            methods.append(GenerationProgramsMethod(llm, max_sentences=max_sentences))
        elif name == "genprog-mexgen":
            methods.append(
                GenerationProgramsMExGenMethod(
                    llm, attributor(), name=name, max_sentences=max_sentences
                )
            )
        elif name == "genprog+refine":
            checker = EmbeddingNodeChecker(embeddings or _default_embeddings())
            methods.append(
                GenerationProgramsRefineMethod(llm, checker, name=name, max_sentences=max_sentences)
            )
        elif name == "alce":
            methods.append(ALCEMethod(llm, max_sentences=max_sentences))
        elif name == "posthoc-mexgen":
            methods.append(
                PosthocMExGenMethod(
                    llm,
                    attributor=attributor(),
                    answer_from=posthoc_answer,
                    max_sentences=max_sentences,
                )
            )
        else:
            methods.append(
                PosthocEmbeddingMethod(
                    llm,
                    embeddings or _default_embeddings(),
                    top_k=top_k,
                    answer_from=posthoc_answer,
                    max_sentences=max_sentences,
                )
            )
    return methods


def eval_command_impl(
    data: str,
    fmt: DataFormat,
    methods: Sequence[str],
    model: BaseChatModel | str,
    limit: int | None,
    out_dir: str,
    *,
    base_url: str | None = None,
    judge: JudgeName | EntailmentJudge = "none",
    judge_model: BaseChatModel | str | None = None,
    scorer: LogProbScorer | None = None,
    drop_hold: bool = False,
    drop_hold_context: int | None = 40,
    embeddings: Embeddings | None = None,
    attributor_factory: AttributorFactory | None = None,
    top_k: int = 2,
    max_sentences: int = 5,
    posthoc_answer: AnswerFrom = "generate",
    retry_failed: bool = False,
    progress: bool = True,
    concurrency: int = 1,
) -> EvaluationSummary:
    """The body of ``genprog eval``: load data, build methods, run, write the report.

    Args:
        data: Path of the dataset file.
        fmt: ``aftg`` (Attribute-First-then-Generate JSON Lines) or ``jsonl``.
        methods: Method names (see :data:`METHOD_NAMES`).
        model: A chat model, or a name for ``models.loading.load_chat_model``
            (``embedded``, ``provider:name``; a bare name with ``base_url``).
        limit: Evaluate only the first ``limit`` examples.
        out_dir: Output directory (reused to resume).
        base_url: Base URL of an OpenAI-compatible server (with a string model).
        judge: ``none``, ``llm`` (``judge_model`` or the main model), ``lexical``
            (word-overlap proxy, for smoke runs), or a judge object.
        judge_model: The judge's chat model or model string.
        scorer: Log-prob scorer of MExGen and drop-and-hold (default: embedded, lazily).
        drop_hold: Also compute drop-and-hold metrics with the scorer.
        drop_hold_context: Source sentences in drop-and-hold's context (``None``: all).
        embeddings: Embeddings for ``posthoc-embed`` and ``genprog+refine``.
        attributor_factory: Builds the MExGen attributor from the scorer.
        top_k: Citations per sentence for ``posthoc-embed``.
        max_sentences: Most answer sentences.
        posthoc_answer: ``generate`` or ``reference`` for the post-hoc methods.
        retry_failed: Rerun pairs that failed in an earlier run.
        progress: Show progress on stderr.
        concurrency: Pairs run at once (for a server that serves in parallel).

    Returns:
        Where everything was written and the per-method means.
    """
    examples = load_examples(data, fmt, limit=limit)
    if not examples:
        raise InvalidInputError(f"{data} holds no examples")
    llm = load_chat_model(model, base_url)
    if drop_hold and scorer is None:
        scorer = _default_scorer()
    built = build_methods(
        methods,
        llm,
        scorer=scorer,
        embeddings=embeddings,
        attributor_factory=attributor_factory,
        top_k=top_k,
        max_sentences=max_sentences,
        posthoc_answer=posthoc_answer,
    )
    return run_evaluation(
        examples,
        built,
        out_dir=out_dir,
        limit=limit,
        judge=_entailment_judge(judge, judge_model, llm, base_url),
        scorer=scorer if drop_hold else None,
        progress=progress,
        retry_failed=retry_failed,
        drop_hold_context=drop_hold_context,
        concurrency=concurrency,
    )


def _check_method_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in METHOD_NAMES]
    if unknown:
        msg = f"unknown method(s) {unknown}; choose from {', '.join(METHOD_NAMES)}"
        raise InvalidInputError(msg)
    if len(set(names)) != len(names):
        raise InvalidInputError(f"each method may be given once: {list(names)}")
    if not names:
        raise InvalidInputError(f"give at least one method: {', '.join(METHOD_NAMES)}")


def _entailment_judge(
    judge: JudgeName | EntailmentJudge,
    judge_model: BaseChatModel | str | None,
    llm: BaseChatModel,
    base_url: str | None,
) -> EntailmentJudge | None:
    """The judge ``genprog eval --judge`` names (``llm`` reuses the main model by default)."""
    if judge == "none":
        return None
    if judge == "llm":
        return LLMJudge(load_chat_model(judge_model, base_url) if judge_model else llm)
    if judge == "lexical":
        return LexicalOverlapJudge()
    if isinstance(judge, str):
        raise InvalidInputError(f"unknown judge {judge!r}; expected none, llm or lexical")
    return judge


def _default_scorer() -> LogProbScorer:
    from langchain_genprog.attribute.posthoc import default_scorer

    return default_scorer()


def _default_embeddings() -> Embeddings:
    """The shared embedded all-MiniLM-L6-v2 (``[local]`` extra)."""
    from langchain_genprog.models import default_embeddings

    return default_embeddings()
