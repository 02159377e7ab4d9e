"""Per-run options of the graph: the LangGraph runtime context.

The graph declares :class:`GenProgContext` as its ``context_schema``, so each
run may set its own options — ``graph.invoke(inputs, context={"max_sentences": 1})``,
a LangGraph Server run's ``context``, or the form LangGraph Studio shows for the
schema — while ``build_genprog_graph``'s keyword arguments are the defaults a
run starts from. Only the options a run names override those defaults.

Adding an option is one field here (with a default and a description) and a
read of ``settings.<field>`` in the node that needs it.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping
from typing import Any

from langchain_core.runnables.config import ensure_config, var_child_runnable_config
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.ground.lexical import DEFAULT_MIN_COVERAGE
from langchain_genprog.operations.grounded import OperationMode
from langchain_genprog.plan.planner import PlanMode


class GenProgContext(BaseModel):
    """The options one run of the graph may set.

    Every field has the package default; a graph built with other keyword
    arguments declares a subclass with those as defaults (see
    :meth:`with_defaults`), so what LangGraph Studio shows is what a run gets.

    Raises:
        InvalidInputError: On construction, if an option is unknown or out of range.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # -- planning ------------------------------------------------------------
    plan_mode: PlanMode = Field(
        default="auto",
        description=(
            "Planner decoder: 'grammar' (line-by-line constrained decoding, for models "
            "that accept a GBNF grammar), 'text' (the paper's syntax, parsed), "
            "'structured' (structured output), or 'auto' (grammar when supported, else text)."
        ),
    )
    max_sentences: int = Field(default=5, ge=1, description="Most answer sentences.")
    max_words: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Word budget of the answer: planning stops before a line whose expected words "
            "(its leaves' words times its operations' length bounds) would overspend it; "
            "the first line is always planned and lines left out are reported as plan "
            "issues. Empty: no budget (max_sentences alone bounds the answer)."
        ),
    )
    content_only: bool = Field(
        default=True,
        description=(
            "Offer the planner only sentences that carry content: datelines, bylines, "
            "boilerplate, fragments and near-duplicates are left out (and reported)."
        ),
    )
    max_plan_retries: int = Field(
        default=2, ge=0, description="Re-prompts of the planner after an invalid program."
    )
    source_token_budget: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Most tokens of source sentences shown to the planner; the most relevant "
            "sentences are kept and the rest reported. Empty: half the model's context "
            "window when it declares one, else no limit."
        ),
    )
    # -- execution -----------------------------------------------------------
    max_concurrency: int = Field(
        default=4,
        ge=1,
        description=(
            "Model requests in flight at once: the independent operation calls of the "
            "program, and the perturbations an attribution or measurement scores (with a "
            "scorer that sends them concurrently, such as an OpenAI-compatible server's)."
        ),
    )
    max_node_retries: int = Field(
        default=2, ge=0, description="Retries of an operation call that fails."
    )
    operation_mode: OperationMode = Field(
        default="auto",
        description=(
            "How operations are decoded: 'grounded' (the model picks among rewrites built "
            "from the node's inputs, so no word outside them can appear), 'free' (the model "
            "writes freely; the grounding gate checks afterwards), or 'auto' (grounded for "
            "models that accept a grammar, such as the embedded one, else free)."
        ),
    )
    # -- grounding -----------------------------------------------------------
    min_coverage: float = Field(
        default=DEFAULT_MIN_COVERAGE,
        gt=0.0,
        le=1.0,
        description=(
            "Share of an answer sentence's content words that must occur in the sources "
            "it cites (every number must)."
        ),
    )
    max_regenerations: int = Field(
        default=1,
        ge=0,
        description=(
            "Rounds in which sentences that fail the grounding gate are re-executed with "
            "grounded operations before the last resort (a verbatim copy of the best "
            "source, or dropping the sentence; both reported)."
        ),
    )

    def __init__(self, **options: Any) -> None:
        try:
            super().__init__(**options)
        except ValidationError as err:
            raise InvalidInputError(f"invalid graph options: {_describe(err)}") from err

    def merged(self, overrides: GenProgContext | Mapping[str, Any] | None) -> GenProgContext:
        """These options with the ones ``overrides`` names replaced.

        Args:
            overrides: A run's context: options set explicitly (a mapping, or a
                :class:`GenProgContext` whose set fields count), or ``None``.

        Raises:
            InvalidInputError: If an override is unknown or out of range.
        """
        if overrides is None:
            return self
        if not isinstance(overrides, GenProgContext):
            if not isinstance(overrides, Mapping):
                msg = f"the graph's context must be a mapping, got {type(overrides).__name__}"
                raise InvalidInputError(msg)
            overrides = GenProgContext(**overrides)
        named = {name: getattr(overrides, name) for name in overrides.model_fields_set}
        return type(self)(**{**self.model_dump(), **named}) if named else self

    @classmethod
    def with_defaults(cls, defaults: GenProgContext) -> type[GenProgContext]:
        """A subclass whose field defaults are ``defaults`` (the graph's build-time options).

        It is the graph's ``context_schema``: LangGraph builds a run's context
        from it and LangGraph Studio shows its defaults.
        """
        fields: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            field = copy.copy(info)  # keeps the description and the bounds
            field.default = getattr(defaults, name)
            fields[name] = (info.annotation, field)
        return create_model(cls.__name__, __base__=cls, __doc__=cls.__doc__, **fields)


@contextlib.contextmanager
def bounded_requests(limit: int) -> Iterator[None]:
    """Run the body under a LangChain config whose ``max_concurrency`` is at most ``limit``.

    Nodes that hand work to components which take no config of their own
    (an attributor, the gate's measurer) use this so that the run's
    ``max_concurrency`` reaches the model requests those make: LangChain's
    ``batch`` and :class:`~langchain_genprog.models.openai_scorer.OpenAICompletionsLogProbScorer`
    read the ambient config, as a child runnable would. A lower bound already
    in the caller's config (``graph.invoke(..., config={"max_concurrency": 2})``)
    is kept.
    """
    config = ensure_config()
    current = config.get("max_concurrency")
    config["max_concurrency"] = limit if current is None else min(limit, current)
    token = var_child_runnable_config.set(config)
    try:
        yield
    finally:
        var_child_runnable_config.reset(token)


def _describe(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'context'}: {e['msg']}" for e in err.errors()
    )
