"""One way from a model name to a LangChain chat model, for the CLI, the server and the evaluation.

Every entrance that takes a model *name* — ``genprog answer --model``,
``genprog eval --model/--judge-model``, the served graph's ``GENPROG_*``
variables, :func:`~langchain_genprog.evaluation.cli_support.eval_command_impl`
— resolves it here, so a name means the same model everywhere and a new kind
of model is added in one place. The names:

``embedded``
    The shared in-process SmolLM2-135M-Instruct
    (:func:`~langchain_genprog.models.llamacpp_chat.get_default_chat_model`,
    needs the ``[local]`` extra).
``PROVIDER:NAME``
    Any provider LangChain's ``init_chat_model`` knows (``anthropic:...``,
    ``ollama:...``), needing ``langchain`` and the provider's package.
    ``openai:NAME`` is built directly with ``langchain-openai`` (the
    ``[openai]`` extra), so serving an OpenAI-compatible endpoint does not need
    ``langchain``.
``NAME`` with ``base_url``
    The model ``NAME`` on an OpenAI-compatible server (vLLM, the llama.cpp
    server, Ollama's ``/v1``): the same as ``openai:NAME``.

Decoding is greedy (``temperature=0``) unless asked otherwise: the program and
its operations should not vary from run to run.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any, ClassVar

from langchain_core.language_models import BaseChatModel, LanguageModelInput

from langchain_genprog.errors import InvalidInputError, ModelNotAvailableError

if TYPE_CHECKING:
    from langchain_genprog.models.scoring import LogProbScorer

EMBEDDED = "embedded"
"""The name of the embedded default chat model."""

_OPENAI_EXTRA = "pip install 'langchain-genprog[openai]'"

__all__ = ["EMBEDDED", "chatml_prompt", "load_chat_model", "load_log_prob_scorer"]


def load_chat_model(
    spec: str | BaseChatModel = EMBEDDED,
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    grammar_field: str | None = None,
    temperature: float = 0.0,
) -> BaseChatModel:
    """The chat model a name stands for (see the module docs for the names).

    Args:
        spec: ``embedded``, ``PROVIDER:NAME``, a bare ``NAME`` with
            ``base_url``, or a chat model, returned unchanged so that callers
            can accept either.
        base_url: Endpoint of the provider; with ``openai:NAME`` or a bare
            name, an OpenAI-compatible server such as
            ``http://127.0.0.1:8080/v1``.
        api_key: The provider's key; default: its usual environment variable.
            An OpenAI-compatible ``base_url`` without any key gets ``none``,
            which local servers accept.
        grammar_field: For OpenAI-compatible servers that take a GBNF grammar
            in the request body (the llama.cpp server: ``grammar``): the field
            to send the planner's grammar in, so a small served model writes
            programs under a grammar as the embedded one does.
        temperature: Sampling temperature of a named (not embedded) model.

    Raises:
        InvalidInputError: On a blank or unknown name, or options that do not
            apply to it (``base_url`` with ``embedded``, ``grammar_field`` with
            a provider other than OpenAI-compatible, options with a model object).
        ModelNotAvailableError: If the packages the model needs are missing.
    """
    if isinstance(spec, BaseChatModel):
        if base_url or api_key or grammar_field:
            msg = "base_url, api_key and grammar_field apply to a model name, not a model object"
            raise InvalidInputError(msg)
        return spec
    name = spec.strip()
    if name == EMBEDDED:
        return _embedded(base_url, api_key, grammar_field)
    provider, sep, model = name.partition(":")
    if not sep and base_url:
        provider, model = "openai", name
    if not model.strip() or (sep and not provider.strip()):
        msg = f"model {spec!r}: give 'embedded', PROVIDER:NAME or a NAME with base_url"
        raise InvalidInputError(msg)
    if provider == "openai":
        return _openai_compatible(model, base_url, api_key, grammar_field, temperature)
    if grammar_field:
        msg = f"grammar_field needs an OpenAI-compatible server (openai:NAME), not {spec!r}"
        raise InvalidInputError(msg)
    return _init_chat_model(name, base_url, api_key, temperature)


def _embedded(
    base_url: str | None, api_key: str | None, grammar_field: str | None
) -> BaseChatModel:
    """The shared embedded model; server options are refused rather than ignored."""
    if base_url or api_key or grammar_field:
        msg = (
            "the embedded model runs in-process; base_url, api_key and grammar_field are for "
            "a served model (give its NAME or PROVIDER:NAME)"
        )
        raise InvalidInputError(msg)
    from langchain_genprog.models.llamacpp_chat import get_default_chat_model

    model: BaseChatModel = get_default_chat_model()
    return model


def _openai_compatible(
    model: str,
    base_url: str | None,
    api_key: str | None,
    grammar_field: str | None,
    temperature: float,
) -> BaseChatModel:
    """``ChatOpenAI`` (or its grammar-sending subclass) for OpenAI or a compatible server."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as err:
        msg = f"model 'openai:{model}' needs langchain-openai: {_OPENAI_EXTRA}"
        raise ModelNotAvailableError(msg) from err
    options: dict[str, Any] = {"model": model, "temperature": temperature}
    if base_url:
        options["base_url"] = base_url
        if api_key is None and not os.environ.get("OPENAI_API_KEY"):
            api_key = "none"
    if api_key is not None:
        options["api_key"] = api_key
    if grammar_field:
        grammar_model: BaseChatModel = grammar_chat_openai_class()(
            grammar_field=grammar_field, **options
        )
        return grammar_model
    chat: BaseChatModel = ChatOpenAI(**options)
    return chat


def _init_chat_model(
    name: str, base_url: str | None, api_key: str | None, temperature: float
) -> BaseChatModel:
    """Any other provider through LangChain's ``init_chat_model``, errors made typed."""
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as err:
        msg = f"model {name!r} needs `pip install langchain` and the provider's package"
        raise ModelNotAvailableError(msg) from err
    options: dict[str, Any] = {"temperature": temperature}
    if base_url:
        options["base_url"] = base_url
    if api_key is not None:
        options["api_key"] = api_key
    try:
        chat: BaseChatModel = init_chat_model(name, **options)
    except ImportError as err:
        raise ModelNotAvailableError(f"model {name!r}: {err}") from err
    except ValueError as err:
        hint = " (on an OpenAI-compatible server, write openai:NAME)" if base_url else ""
        raise InvalidInputError(f"model {name!r}: {err}{hint}") from err
    return chat


def chatml_prompt(prompt: str) -> str:
    """``prompt`` as a ChatML user turn awaiting the reply (SmolLM2, Qwen, ...).

    A server's ``/v1/completions`` scores raw text, so the chat template the
    embedded scorer applies must be applied before sending; ChatML also
    starts with these models' BOS text, which the llama.cpp server needs to
    align its echoed log-probs (see :mod:`~langchain_genprog.models.openai_scorer`).
    """
    return f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


def load_log_prob_scorer(
    spec: str = EMBEDDED,
    base_url: str | None = None,
    *,
    api_key: str | None = None,
    template: str = "chatml",
    max_concurrency: int = 4,
) -> LogProbScorer:
    """The log-prob scorer a name stands for: ``embedded``, or NAME on a completions server.

    MExGen needs prompt log-probabilities, which chat endpoints do not return,
    so a served scorer goes through ``/v1/completions`` with ``echo=True``
    (vLLM, the llama.cpp server) and the chat template is applied here.

    Args:
        spec: ``embedded`` (the in-process SmolLM2 scorer) or the model NAME on
            the server (``openai:NAME`` is accepted too).
        base_url: The server's API root, e.g. ``http://127.0.0.1:8000/v1``.
        api_key: Bearer token for the server (local servers ignore it).
        template: ``chatml`` (wrap each prompt as a ChatML user turn) or
            ``none`` (send the prompt as is).
        max_concurrency: Requests in flight at once per scoring call.

    Raises:
        InvalidInputError: On ``base_url`` with ``embedded``, a name without
            ``base_url``, or an unknown template.
        ModelNotAvailableError: If the embedded scorer is not installed.
    """
    name = spec.strip()
    if name == EMBEDDED:
        if base_url:
            msg = "the embedded scorer runs in-process; give the served model's NAME with base_url"
            raise InvalidInputError(msg)
        from langchain_genprog.models import get_default_scorer

        return get_default_scorer()
    if not base_url:
        msg = (
            f"scorer {spec!r}: log-probs come from the embedded model or an OpenAI-compatible "
            "completions server; give --base-url (e.g. http://127.0.0.1:8000/v1) or 'embedded'"
        )
        raise InvalidInputError(msg)
    if template not in ("chatml", "none"):
        raise InvalidInputError(f"unknown scorer template {template!r}; expected chatml or none")
    from langchain_genprog.models.openai_scorer import OpenAICompletionsLogProbScorer

    return OpenAICompletionsLogProbScorer(
        base_url,
        name.removeprefix("openai:"),
        api_key=api_key,
        chat_template=chatml_prompt if template == "chatml" else None,
        max_concurrency=max_concurrency,
    )


@functools.cache
def grammar_chat_openai_class() -> type[Any]:
    """``GrammarChatOpenAI``, defined on first use so ``langchain-openai`` stays optional."""
    from langchain_openai import ChatOpenAI

    class GrammarChatOpenAI(ChatOpenAI):
        """``ChatOpenAI`` for servers that take a GBNF grammar per request.

        The planner's grammar mode calls ``invoke(messages, grammar=...)``; this
        model sends that grammar in the request body's ``grammar_field``
        (through ``extra_body``), so the server constrains decoding exactly as
        the embedded llama.cpp model does.
        """

        supports_grammar: ClassVar[bool] = True
        grammar_field: str = "grammar"

        def _get_request_payload(
            self,
            input_: LanguageModelInput,
            *,
            stop: list[str] | None = None,
            **kwargs: Any,
        ) -> dict[str, Any]:
            grammar = kwargs.pop("grammar", None)
            payload: dict[str, Any] = super()._get_request_payload(input_, stop=stop, **kwargs)
            if grammar is not None:
                extra = dict(payload.get("extra_body") or {})
                extra[self.grammar_field] = grammar
                payload["extra_body"] = extra
            return payload

    return GrammarChatOpenAI
