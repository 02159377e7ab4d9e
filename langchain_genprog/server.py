"""The graph served by LangGraph Server (``langgraph dev`` / ``langgraph up``).

``langgraph.json`` at the repository root points at :data:`graph`. The server
owns persistence (threads, checkpoints), so the graph is compiled without a
checkpointer; which model it uses is read from the environment, because a
deployment is configured there and not in code:

``GENPROG_MODEL``
    ``embedded`` (default): the embedded SmolLM2-135M-Instruct through
    llama.cpp, fully offline (needs ``langchain-genprog[local]``).
``GENPROG_BASE_URL``
    URL of an OpenAI-compatible server (vLLM, llama.cpp server, Ollama,
    OpenAI ...), e.g. ``http://127.0.0.1:8080/v1``. When set it wins over
    ``GENPROG_MODEL`` and the model is ``langchain-openai``'s ``ChatOpenAI``.
``GENPROG_MODEL_NAME``
    The model name sent to that server (required with ``GENPROG_BASE_URL``).
``GENPROG_API_KEY``
    Its API key (default ``none``, which local servers accept).
``GENPROG_GRAMMAR_FIELD``
    For servers that accept a GBNF grammar in the request body (the llama.cpp
    server: ``grammar``), the field to send it in. The planner then writes the
    program line by line under a grammar, as with the embedded model — the
    only way a very small model writes valid programs. Unset: plain requests.
``GENPROG_PLAN_MODE``
    Planner decoder: ``auto`` (default), ``text``, ``structured`` or ``grammar``.
``GENPROG_MAX_SENTENCES``
    Most answer sentences (default 5).

Send ``{"question": ..., "documents": [...]}`` with documents as strings or
``{"page_content": ..., "metadata": ...}`` dicts; the final state's last
message is the cited ``AIMessage``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.graph.builder import create_genprog_graph
from langchain_genprog.graph.configuration import GenProgContext
from langchain_genprog.graph.state import GenProgInput, GenProgState
from langchain_genprog.models.loading import load_chat_model
from langchain_genprog.plan.planner import PlanMode

_PLAN_MODES: tuple[PlanMode, ...] = ("auto", "text", "structured", "grammar")


class ServerSettings(BaseModel):
    """The served graph's configuration (see the module docs for the variables).

    Attributes:
        model: ``embedded`` or ``openai-compatible``.
        base_url: OpenAI-compatible endpoint, for ``openai-compatible``.
        model_name: Model name sent to that endpoint.
        api_key: Its API key.
        grammar_field: Request-body field for a GBNF grammar, if the server takes one.
        plan_mode: Planner decoder.
        max_sentences: Most answer sentences.
    """

    model: str = "embedded"
    base_url: str | None = None
    model_name: str | None = None
    api_key: str = "none"
    grammar_field: str | None = None
    plan_mode: PlanMode = "auto"
    max_sentences: int = Field(default=5, ge=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """Read the ``GENPROG_*`` variables.

        Raises:
            InvalidInputError: On an unknown model or plan mode, a base URL
                without a model name, or a non-integer sentence count.
        """
        env = os.environ if environ is None else environ
        base_url = env.get("GENPROG_BASE_URL", "").strip() or None
        model = env.get("GENPROG_MODEL", "").strip() or "embedded"
        model_name = env.get("GENPROG_MODEL_NAME", "").strip() or None
        if base_url is not None:
            model = "openai-compatible"
            if model_name is None:
                raise InvalidInputError(
                    "GENPROG_BASE_URL is set but GENPROG_MODEL_NAME is not; "
                    "set it to the model name the server expects"
                )
        elif model != "embedded":
            raise InvalidInputError(
                f"GENPROG_MODEL={model!r} is not known: use 'embedded', or set "
                "GENPROG_BASE_URL and GENPROG_MODEL_NAME for an OpenAI-compatible server"
            )
        raw_mode = env.get("GENPROG_PLAN_MODE", "").strip() or "auto"
        plan_mode = next((m for m in _PLAN_MODES if m == raw_mode), None)
        if plan_mode is None:
            raise InvalidInputError(
                f"GENPROG_PLAN_MODE={raw_mode!r}; expected one of {', '.join(_PLAN_MODES)}"
            )
        raw_max = env.get("GENPROG_MAX_SENTENCES", "").strip() or "5"
        try:
            max_sentences = int(raw_max)
        except ValueError as err:
            msg = f"GENPROG_MAX_SENTENCES={raw_max!r} is not an integer"
            raise InvalidInputError(msg) from err
        if max_sentences < 1:
            raise InvalidInputError("GENPROG_MAX_SENTENCES must be at least 1")
        return cls(
            model=model,
            base_url=base_url,
            model_name=model_name,
            api_key=env.get("GENPROG_API_KEY", "").strip() or "none",
            grammar_field=env.get("GENPROG_GRAMMAR_FIELD", "").strip() or None,
            plan_mode=plan_mode,
            max_sentences=max_sentences,
        )


def chat_model_from_settings(settings: ServerSettings) -> BaseChatModel | None:
    """The chat model the settings name; ``None`` means the graph's embedded default.

    The model is built by :func:`~langchain_genprog.models.loading.load_chat_model`,
    the loader the CLI and the evaluation use too.

    Raises:
        InvalidInputError: If an OpenAI-compatible model has no name.
        ModelNotAvailableError: If ``langchain-openai`` is needed but missing.
    """
    if settings.model != "openai-compatible":
        return None
    # ``openai:`` keeps a served name with a colon (Ollama's ``qwen2.5:0.5b``) whole.
    return load_chat_model(
        f"openai:{settings.model_name or ''}",
        settings.base_url,
        api_key=settings.api_key,
        grammar_field=settings.grammar_field,
    )


def make_graph(
    settings: ServerSettings | None = None, **options: Any
) -> CompiledStateGraph[GenProgState, GenProgContext, GenProgInput, GenProgState]:
    """Compile the served graph (no checkpointer: the server provides one).

    Args:
        settings: Configuration; default :meth:`ServerSettings.from_env`.
        **options: Further :func:`~langchain_genprog.graph.build_genprog_graph` options.
    """
    settings = settings or ServerSettings.from_env()
    return create_genprog_graph(
        chat_model_from_settings(settings),
        name="genprog",
        plan_mode=settings.plan_mode,
        max_sentences=settings.max_sentences,
        **options,
    )


graph = make_graph()
"""The graph ``langgraph.json`` serves, configured from the environment at import."""

__all__ = ["ServerSettings", "chat_model_from_settings", "graph", "make_graph"]
