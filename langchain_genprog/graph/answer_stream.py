"""The answer's own stream: each sentence, once final, as an ``AIMessageChunk`` with its citations.

``stream_mode="messages"`` shows what chat models stream through callbacks
(and messages that nodes write to the state). An answer sentence is final when
the grounding gate passes it, long before ``finalize`` writes the message, so
the nodes hand its chunk to :class:`AnswerStream`, a tiny chat model that
"generates" exactly the chunks it is given. Through it the chunks reach
everything that listens to chat models the usual way — ``stream_mode=
"messages"`` (and LangGraph's v3 event stream), ``astream_events``, tracing —
with the node's metadata (``langgraph_node`` is ``ground`` or ``finalize``)
and the tag :data:`ANSWER_TAG`, which tells them apart from the tokens of the
planner and the operations (which stream in the same mode).

Every chunk has the final message's id, so LangGraph does not stream the
message again when ``finalize`` writes it (it skips ids it has streamed), and
a client that adds the chunks up holds the final message (see
:func:`~langchain_genprog.citations.build_message`). Each call of the model
is one chat-model run, and LangChain ends every run with a chunk whose
``chunk_position`` is ``"last"``; the last chunk of each call is marked so
itself rather than followed by an empty chunk with another id. The answer
ends with the chunk that carries the ``response_metadata`` (from
``finalize``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from langchain_genprog.citations import message_from_chunks

ANSWER_TAG = "genprog:answer"
"""Tag of the answer's chunks in ``stream_mode="messages"`` (``metadata["tags"]``)."""

RUN_NAME = "genprog_answer"
"""Run name of each emission (in traces and ``astream_events``)."""


class AnswerStream(BaseChatModel):
    """A chat model whose reply is the given chunks: how a node streams answer sentences.

    Not a model anyone should prompt: it ignores its input. Its cache is off
    (a global LLM cache would otherwise replay the first emission for every
    later one, as they share the empty prompt) and its output version fixed,
    so the chunks reach the callbacks exactly as built.

    Attributes:
        chunks: What the next call streams, in order.
    """

    chunks: list[AIMessageChunk]
    cache: BaseCache | bool | None = Field(default=False, exclude=True)
    output_version: str | None = "v0"

    @property
    def _llm_type(self) -> str:
        return "genprog-answer"

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """Yield the chunks (LangChain reports each to the run's callbacks)."""
        for chunk in self.chunks:  # copies: LangChain sets fields of what it streams
            yield ChatGenerationChunk(message=chunk.model_copy())

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """The chunks added up, when nothing listens for a stream."""
        return ChatResult(generations=[ChatGeneration(message=message_from_chunks(self.chunks))])


def stream_answer(chunks: Sequence[AIMessageChunk]) -> None:
    """Stream answer chunks from inside a node, as one run of :class:`AnswerStream`.

    The run inherits the node's config (callbacks, metadata) from the context,
    as any model call inside a node does; outside a graph it streams to no one.
    Nothing runs for no chunks.

    Args:
        chunks: The chunks, in answer order (from
            :func:`~langchain_genprog.citations.sentence_chunks`).
    """
    if not chunks:
        return
    last = chunks[-1].model_copy(update={"chunk_position": "last"})
    model = AnswerStream(chunks=[*chunks[:-1], last])
    model.invoke([], config={"tags": [ANSWER_TAG], "run_name": RUN_NAME})


def is_answer_chunk(metadata: dict[str, Any]) -> bool:
    """Whether a ``stream_mode="messages"`` item is the answer's (by its metadata's tags)."""
    return ANSWER_TAG in (metadata.get("tags") or [])
