"""The text operations as LangChain tools, and the one function that performs them.

:func:`run_operation` / :func:`arun_operation` are the single definition of an
operation call (prompt → one chat-model call → :func:`clean_output`); the
program executor and the tools both go through them, so a tool call in an
agent does exactly what a program node does.

The tools return ``content_and_artifact``: the content is the produced
sentence (what a model reads back), the artifact an :class:`OperationResult`
that carries the ``source_ids`` given in the call, so that a sentence built by
an agent with these tools stays cited to the source sentences it came from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from langchain_core.callbacks import (
    AsyncCallbackManagerForToolRun,
    CallbackManagerForToolRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import merge_configs
from langchain_core.tools import BaseTool
from langchain_core.tools.base import ArgsSchema
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.operations.grounded import (
    OperationMode,
    call_config,
    grounded_request,
    resolve_mode,
    rewrite_options,
    snap,
)
from langchain_genprog.operations.prompts import (
    InvalidOutputError,
    LLMOperation,
    build_messages,
    clean_output,
    normalize_text,
)
from langchain_genprog.operations.rewrites import Rewrite, word_count
from langchain_genprog.program.model import Operation

SourceId = Annotated[int, Field(ge=1)]


class OperationOutput(NamedTuple):
    """What one operation call produced.

    Attributes:
        text: The cleaned sentence.
        usage: Token usage reported by the model (``None`` for ``extract`` or
            when the model reports none).
        note: What a grounded operation did instead of its usual job (e.g.
            kept its input verbatim because nothing could be deleted), or ``None``.
    """

    text: str
    usage: UsageMetadata | None
    note: str | None = None


class OperationResult(BaseModel):
    """The artifact of an operation tool call: the sentence and its provenance."""

    model_config = ConfigDict(frozen=True)

    operation: Operation = Field(description="The operation that produced the text.")
    text: str = Field(description="The produced sentence.")
    source_ids: list[int] = Field(
        default_factory=list,
        description="Ids of the source sentences the text is built from (S3 -> 3).",
    )
    instruction: str | None = Field(
        default=None, description="The instruction the operation followed, if any."
    )


def extract_text(inputs: Sequence[str]) -> str:
    """``extract``: the single input, copied word for word (whitespace normalized).

    Raises:
        InvalidInputError: If there is not exactly one non-blank input.
    """
    if len(inputs) != 1:
        raise InvalidInputError(f"extract() takes exactly one input text, got {len(inputs)}")
    text = normalize_text(inputs[0])
    if not text:
        raise InvalidInputError("extract() got an empty input text")
    return text


def _operation_config(config: RunnableConfig | None, operation: str) -> RunnableConfig:
    # Tag the model run so traces show which operation a chat call performed.
    extra: RunnableConfig = {
        "tags": [f"genprog:{operation}"],
        "metadata": {"genprog_operation": operation},
    }
    return merge_configs(config, extra)


def run_operation(
    llm: BaseChatModel,
    operation: Operation,
    inputs: Sequence[str],
    instruction: str | None = None,
    *,
    mode: OperationMode = "auto",
    config: RunnableConfig | None = None,
) -> OperationOutput:
    """Perform one text operation with one model call (none for ``extract``).

    Args:
        llm: The chat model that rewrites the text.
        operation: ``paraphrase``, ``compression``, ``fusion`` or ``extract``.
        inputs: The input texts (one, or two or more for ``fusion``).
        instruction: Optional guidance passed into the prompt.
        mode: ``auto`` (default: grounded for models with grammar support,
            such as the embedded one, free for the others), ``free`` (the
            model writes the output, bounded in length by the inputs) or
            ``grounded`` (the model picks one of the rewrites built from the
            inputs, see :mod:`~langchain_genprog.operations.grounded`).
        config: Runnable config (callbacks, tags) for the model call.

    Returns:
        The sentence, the call's token usage and, in grounded mode, a note
        when the operation had to keep its input.

    Raises:
        InvalidInputError: On an unknown operation or mode, or wrong/blank inputs.
        InvalidOutputError: If the reply holds no usable sentence, or a free
            reply is longer than its inputs allow (with the call's ``usage``
            attached, since its tokens were spent).
        Exception: Whatever the model raises is propagated unchanged, so that
            the caller's retry policy can see it.
    """
    if operation == "extract":
        return OperationOutput(extract_text(inputs), None)
    request = _Request.build(llm, operation, inputs, instruction, mode, config)
    if request.answer is not None:
        return request.answer
    reply = llm.invoke(request.messages, config=request.config, **request.kwargs)
    return request.finish(reply)


async def arun_operation(
    llm: BaseChatModel,
    operation: Operation,
    inputs: Sequence[str],
    instruction: str | None = None,
    *,
    mode: OperationMode = "auto",
    config: RunnableConfig | None = None,
) -> OperationOutput:
    """Async :func:`run_operation` (same arguments, results and errors)."""
    if operation == "extract":
        return OperationOutput(extract_text(inputs), None)
    # Building a grounded request parses the inputs (and may load spaCy on first
    # use): CPU work and imports that must not block the event loop.
    request = await asyncio.to_thread(
        _Request.build, llm, operation, inputs, instruction, mode, config
    )
    if request.answer is not None:
        return request.answer
    reply = await llm.ainvoke(request.messages, config=request.config, **request.kwargs)
    return request.finish(reply)


class _Request(NamedTuple):
    """One operation's model call, prepared once for the sync and async paths."""

    messages: list[BaseMessage]
    config: RunnableConfig
    kwargs: dict[str, Any]
    options: list[Rewrite]
    note: str | None
    max_words: int
    answer: OperationOutput | None

    @classmethod
    def build(
        cls,
        llm: BaseChatModel,
        operation: Operation,
        inputs: Sequence[str],
        instruction: str | None,
        mode: OperationMode,
        config: RunnableConfig | None,
    ) -> _Request:
        op = _llm_operation(operation)
        messages = build_messages(op, inputs, instruction)  # validates the inputs
        tagged = _operation_config(config, operation)
        max_words = _max_words(op, inputs)
        if resolve_mode(llm, mode) == "free":
            kwargs = _length_kwargs(llm, inputs)
            return cls(messages, tagged, kwargs, [], None, max_words, None)
        options, note = rewrite_options(op, inputs)
        if len(options) == 1:  # nothing to choose: no model call
            answer = OperationOutput(options[0].text, None, note or None)
            return cls(messages, tagged, {}, options, note, max_words, answer)
        messages, kwargs = grounded_request(llm, op, inputs, options, instruction)
        return cls(messages, call_config(tagged), kwargs, options, note or None, max_words, None)

    def finish(self, reply: BaseMessage) -> OperationOutput:
        """The operation's output from the model's reply (its text and token usage)."""
        raw, usage = reply.text, getattr(reply, "usage_metadata", None)
        if self.options:
            return OperationOutput(snap(raw, self.options).text, usage, self.note)
        try:
            text = clean_output(raw)
        except InvalidOutputError as err:
            err.usage = usage
            raise
        if word_count(text) > self.max_words:
            msg = (
                f"the reply has {word_count(text)} words, more than the {self.max_words} "
                f"its inputs allow (a runaway generation): {text[:80]!r}..."
            )
            raise InvalidOutputError(msg, raw=raw, usage=usage)
        return OperationOutput(text, usage)


def _max_words(operation: LLMOperation, inputs: Sequence[str]) -> int:
    """The most words a free reply may have before it counts as a runaway.

    A guard, not the operation's target: a free model may reword, so a
    compression gets two words of slack over its input (grounded operations
    enforce the real bounds, e.g. 70 % of the input for a compression).
    """
    total = sum(word_count(t) for t in inputs)
    if operation == "compression":
        return total + 2
    if operation == "paraphrase":
        return int(total * 1.5) + 5
    return total + 5


def _length_kwargs(llm: BaseChatModel, inputs: Sequence[str]) -> dict[str, Any]:
    """A token budget for a free reply, for models that take ``max_tokens``.

    Twice the inputs' tokens is room for any rewrite; a model that would loop
    is cut there (and the reply then fails the word bound, so it is retried
    and reported, not pasted in).
    """
    if "max_tokens" not in getattr(type(llm), "model_fields", {}):
        return {}
    counter = getattr(llm, "count_tokens", None)
    text = " ".join(inputs)
    tokens = int(counter(text)) if callable(counter) else len(text) // 3 + 1
    return {"max_tokens": 2 * tokens + 16}


def _llm_operation(operation: str) -> LLMOperation:
    if operation == "paraphrase":
        return "paraphrase"
    if operation == "compression":
        return "compression"
    if operation == "fusion":
        return "fusion"
    msg = f"unknown operation {operation!r}; expected paraphrase, compression, fusion or extract"
    raise InvalidInputError(msg)


# --------------------------------------------------------------------------- schemas

_INSTRUCTION = (
    "Optional guidance for how to rewrite, e.g. 'use simpler words' or 'focus on the date'."
)
_SOURCE_IDS = (
    "Ids of the numbered source sentences the input comes from (e.g. [3] for S3). "
    "They are returned with the result so the output stays cited; they do not change the text."
)


class ParaphraseInput(BaseModel):
    """Arguments of the ``paraphrase`` tool."""

    text: str = Field(min_length=1, description="The sentence to reword.")
    instruction: str | None = Field(default=None, description=_INSTRUCTION)
    source_ids: list[SourceId] = Field(default_factory=list, description=_SOURCE_IDS)


class CompressionInput(BaseModel):
    """Arguments of the ``compression`` tool."""

    text: str = Field(min_length=1, description="The sentence to shorten.")
    instruction: str | None = Field(default=None, description=_INSTRUCTION)
    source_ids: list[SourceId] = Field(default_factory=list, description=_SOURCE_IDS)


class FusionInput(BaseModel):
    """Arguments of the ``fusion`` tool."""

    texts: list[str] = Field(
        min_length=2, description="Two or more sentences to merge into one, in order."
    )
    instruction: str | None = Field(default=None, description=_INSTRUCTION)
    source_ids: list[SourceId] = Field(default_factory=list, description=_SOURCE_IDS)


class ExtractInput(BaseModel):
    """Arguments of the ``extract`` tool."""

    text: str = Field(min_length=1, description="The source sentence to quote word for word.")
    source_ids: list[SourceId] = Field(default_factory=list, description=_SOURCE_IDS)


# --------------------------------------------------------------------------- tools


class _CallOptions(TypedDict):
    """The keyword arguments a tool passes to :func:`run_operation`."""

    mode: OperationMode
    config: RunnableConfig


class _ModelOperationTool(BaseTool):
    """Shared body of the tools that call a chat model."""

    llm: BaseChatModel
    """The chat model that performs the operation."""

    operation_mode: OperationMode = "auto"
    """``auto``: grounded (no word outside the inputs) for grammar models, else free."""

    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    operation: ClassVar[LLMOperation]

    def _options(
        self, run_manager: CallbackManagerForToolRun | AsyncCallbackManagerForToolRun | None
    ) -> _CallOptions:
        """The keyword arguments of the operation call (the tool run's child callbacks)."""
        config: RunnableConfig = {"callbacks": run_manager.get_child()} if run_manager else {}
        return {"mode": self.operation_mode, "config": config}

    def _result(
        self, out: OperationOutput, instruction: str | None, source_ids: list[int] | None
    ) -> tuple[str, OperationResult]:
        """The tool's content and artifact for what the call produced."""
        return out.text, OperationResult(
            operation=self.operation,
            text=out.text,
            source_ids=list(dict.fromkeys(source_ids or [])),
            instruction=instruction or None,
        )


class _OneTextTool(_ModelOperationTool):
    """An operation on one text (``paraphrase``, ``compression``)."""

    def _run(
        self,
        text: str,
        instruction: str | None = None,
        source_ids: list[int] | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, OperationResult]:
        options = self._options(run_manager)
        out = run_operation(self.llm, self.operation, [text], instruction, **options)
        return self._result(out, instruction, source_ids)

    async def _arun(
        self,
        text: str,
        instruction: str | None = None,
        source_ids: list[int] | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, OperationResult]:
        options = self._options(run_manager)
        out = await arun_operation(self.llm, self.operation, [text], instruction, **options)
        return self._result(out, instruction, source_ids)


class ParaphraseTool(_OneTextTool):
    """Reword one sentence while keeping its meaning.

    Setup:
        .. code-block:: python

            from langchain_genprog.operations import ParaphraseTool

            tool = ParaphraseTool(llm=chat_model)

    Invocation with a tool call returns a ``ToolMessage`` whose ``artifact``
    is an :class:`OperationResult`:

        .. code-block:: python

            msg = tool.invoke(
                {
                    "type": "tool_call",
                    "id": "1",
                    "name": "paraphrase",
                    "args": {"text": "The council approved the park.", "source_ids": [1]},
                }
            )
            msg.content  # the reworded sentence
            msg.artifact.source_ids  # [1]
    """

    name: str = "paraphrase"
    description: str = (
        "Reword one sentence in different words while keeping its meaning and facts. "
        "Returns exactly one sentence. Use it to restate a source sentence in the answer; "
        "pass the source sentence ids so the result stays cited."
    )
    args_schema: ArgsSchema | None = ParaphraseInput
    operation: ClassVar[LLMOperation] = "paraphrase"


class CompressionTool(_OneTextTool):
    """Shorten one sentence to its key fact.

    Setup:
        .. code-block:: python

            from langchain_genprog.operations import CompressionTool

            tool = CompressionTool(llm=chat_model)
            tool.invoke({"text": "The park, approved on Monday, will open in May."})
    """

    name: str = "compression"
    description: str = (
        "Shorten one sentence to its key fact, dropping detail. Returns exactly one "
        "shorter sentence. Use it when only part of a source sentence answers the question; "
        "an instruction can say what to keep."
    )
    args_schema: ArgsSchema | None = CompressionInput
    operation: ClassVar[LLMOperation] = "compression"


class FusionTool(_ModelOperationTool):
    """Merge two or more sentences into one sentence that keeps their facts.

    Setup:
        .. code-block:: python

            from langchain_genprog.operations import FusionTool

            tool = FusionTool(llm=chat_model)
            tool.invoke(
                {
                    "texts": ["The park was approved.", "It will cost $2 million."],
                    "source_ids": [1, 2],
                }
            )
    """

    name: str = "fusion"
    description: str = (
        "Merge two or more sentences into one sentence that keeps the facts of each. "
        "Returns exactly one sentence. Use it to combine facts from several source "
        "sentences; pass all their ids so the result is cited to each of them."
    )
    args_schema: ArgsSchema | None = FusionInput
    operation: ClassVar[LLMOperation] = "fusion"

    def _run(
        self,
        texts: list[str],
        instruction: str | None = None,
        source_ids: list[int] | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, OperationResult]:
        options = self._options(run_manager)
        out = run_operation(self.llm, self.operation, list(texts), instruction, **options)
        return self._result(out, instruction, source_ids)

    async def _arun(
        self,
        texts: list[str],
        instruction: str | None = None,
        source_ids: list[int] | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, OperationResult]:
        options = self._options(run_manager)
        out = await arun_operation(self.llm, self.operation, list(texts), instruction, **options)
        return self._result(out, instruction, source_ids)


class ExtractTool(BaseTool):
    """Quote one source sentence word for word (no model call).

    It exists so that an agent can mark text as a verbatim quote with its
    provenance through the same interface as the rewriting operations.

    Setup:
        .. code-block:: python

            from langchain_genprog.operations import ExtractTool

            ExtractTool().invoke({"text": "The park opens in May.", "source_ids": [2]})
    """

    name: str = "extract"
    description: str = (
        "Quote one source sentence exactly, word for word, without rewriting it. "
        "Use it when the source wording should be kept; pass the sentence id."
    )
    args_schema: ArgsSchema | None = ExtractInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    def _run(
        self,
        text: str,
        source_ids: list[int] | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, OperationResult]:
        out = extract_text([text])
        return out, OperationResult(
            operation="extract", text=out, source_ids=list(dict.fromkeys(source_ids or []))
        )

    async def _arun(
        self,
        text: str,
        source_ids: list[int] | None = None,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
    ) -> tuple[str, OperationResult]:
        # No I/O: running inline avoids the thread hop of the default ``_arun``.
        return self._run(text, source_ids)


def create_operation_tools(llm: BaseChatModel) -> list[BaseTool]:
    """The four operation tools, ready for ``llm.bind_tools`` or an agent.

    Args:
        llm: The chat model that performs paraphrase, compression and fusion
            (it may differ from the agent's own model, e.g. a small local one).

    Returns:
        ``[ParaphraseTool, CompressionTool, FusionTool, ExtractTool]`` instances.
    """
    return [
        ParaphraseTool(llm=llm),
        CompressionTool(llm=llm),
        FusionTool(llm=llm),
        ExtractTool(),
    ]


__all__ = [
    "CompressionInput",
    "CompressionTool",
    "ExtractInput",
    "ExtractTool",
    "FusionInput",
    "FusionTool",
    "OperationOutput",
    "OperationResult",
    "ParaphraseInput",
    "ParaphraseTool",
    "arun_operation",
    "create_operation_tools",
    "extract_text",
    "run_operation",
]
