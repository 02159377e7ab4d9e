"""Cited answers as data and as a tool: what a program or an agent reads back.

:class:`CitedAnswer` is the cited ``AIMessage`` in a form a program (or a tool
artifact) uses directly; :class:`CitedAnswerTool` serves a cited-answer chain
to an agent, replying with ``[S#]`` markers a model can read and returning the
citations as the artifact. They sit apart from the chain, which only composes
retrieval, the graph and the final message, and depend on nothing but the
message the chain returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.messages import AIMessage
from langchain_core.messages.content import Citation
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import patch_config
from langchain_core.tools import BaseTool, ToolException
from langchain_core.tools.base import ArgsSchema
from pydantic import BaseModel, ConfigDict, Field

from langchain_genprog.citations import citations_of
from langchain_genprog.errors import GenProgError, ModelNotAvailableError

MARKERS_KEY = "answer_with_markers"
"""``response_metadata`` key of the answer rendered with ``[S#]`` markers."""


class CitedAnswer(BaseModel):
    """A cited answer in a form a program (or a tool artifact) can use directly.

    Attributes:
        answer: The answer text; citation offsets index into it.
        answer_with_markers: The answer with ``[S#]`` markers after each sentence.
        citations: The ``Citation`` annotations of the answer, in answer order.
        program: The program that produced the answer, one line per sentence.
        failures: Program lines that failed and were left out of the answer.

    A ``ToolMessage`` artifact read back from a LangGraph checkpoint is a plain
    dict (messages are stored by value); ``CitedAnswer.model_validate(artifact)``
    restores it.
    """

    model_config = ConfigDict(frozen=True)

    answer: str
    answer_with_markers: str
    citations: list[Citation] = Field(default_factory=list)
    program: str | None = None
    failures: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def from_message(cls, message: AIMessage) -> CitedAnswer:
        """Read a cited answer back from the ``AIMessage`` a ``GenProgChain`` returns."""
        metadata = message.response_metadata
        answer = message.text
        program = metadata.get("program")
        return cls(
            answer=answer,
            answer_with_markers=str(metadata.get(MARKERS_KEY) or answer),
            citations=citations_of(message),
            program=str(program) if program is not None else None,
            failures=list(metadata.get("failures") or []),
        )

    def to_text(self) -> str:
        """The answer with markers, then each cited source sentence by its id.

        This is what a model reads back from a tool call: the ids alone would
        mean nothing to it, so the cited sentences are listed under them.
        """
        lines = [self.answer_with_markers]
        seen: dict[str, str] = {}
        for citation in self.citations:
            extras = citation.get("extras") or {}
            label = str(extras.get("sentence_id") or "")
            if not label or label in seen:
                continue
            title = citation.get("title")
            shown = citation.get("cited_text", "")
            seen[label] = f"[{label}] ({title}) {shown}" if title else f"[{label}] {shown}"
        if seen:
            lines += ["", "Sources:", *seen.values()]
        if self.failures:
            lines += [
                "",
                f"Note: {len(self.failures)} program line(s) failed and were left out.",
            ]
        return "\n".join(lines)


class CitedAnswerTool(BaseTool):
    """A cited-answer chain as a tool (see :meth:`~langchain_genprog.chains.GenProgChain.as_tool`).

    Invoked with a tool call it returns a ``ToolMessage`` whose content is
    :meth:`CitedAnswer.to_text` and whose ``artifact`` is the
    :class:`CitedAnswer`. When the request cannot be answered (no usable
    documents, no valid program within the planner's retries) the error is
    the tool's reply (``status="error"``), so an agent can react instead of
    crashing; a missing embedded model still raises.
    """

    chain: Runnable[Any, AIMessage]
    """The chain that answers (a :class:`~langchain_genprog.chains.GenProgChain`, or any
    runnable that takes ``question``/``documents`` and returns a cited message)."""

    name: str = "answer_with_citations"
    description: str = ""
    args_schema: ArgsSchema | None = None
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool = True

    def _request(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        config: RunnableConfig,
        run_manager: CallbackManagerForToolRun | AsyncCallbackManagerForToolRun | None,
    ) -> tuple[dict[str, Any], RunnableConfig]:
        """The chain's input and config, the same for :meth:`_run` and :meth:`_arun`.

        A bare string for a one-field schema arrives positionally; the chain
        runs as a child of the tool's run.
        """
        chain_input = {"question": args[0]} if args else kwargs
        child = patch_config(config, callbacks=run_manager.get_child() if run_manager else None)
        return chain_input, child

    def _run(
        self,
        *args: Any,
        config: RunnableConfig,
        run_manager: CallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> tuple[str, CitedAnswer]:
        chain_input, child = self._request(args, kwargs, config, run_manager)
        with as_tool_errors():
            message = self.chain.invoke(chain_input, child)
        return _reply(message)

    async def _arun(
        self,
        *args: Any,
        config: RunnableConfig,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> tuple[str, CitedAnswer]:
        chain_input, child = self._request(args, kwargs, config, run_manager)
        with as_tool_errors():
            message = await self.chain.ainvoke(chain_input, child)
        return _reply(message)


def _reply(message: AIMessage) -> tuple[str, CitedAnswer]:
    """The tool's content (what a model reads back) and artifact for the chain's message."""
    answer = CitedAnswer.from_message(message)
    return answer.to_text(), answer


@contextmanager
def as_tool_errors() -> Iterator[None]:
    """Re-raise a request's :class:`GenProgError` as a ``ToolException``.

    Inside a tool these are answers a model can act on (fix the documents,
    rephrase the question), so the tool returns them as its reply. A missing
    embedded model is a deployment problem and propagates unchanged.
    """
    try:
        yield
    except ModelNotAvailableError:
        raise
    except GenProgError as err:
        raise ToolException(f"{type(err).__name__}: {err}") from err


def tool_description(*, retrieves: bool) -> str:
    """The default description of a cited-answer tool, written for the model that calls it."""
    where = (
        "from documents it retrieves for the question"
        if retrieves
        else "using only the given documents"
    )
    return (
        f"Answer a question {where}, with every answer sentence cited to the source "
        "sentences it was built from. Returns the answer with [S#] markers after each "
        "sentence, followed by the cited source sentences (S# numbers the sentences of "
        "the documents in order). Use it when an answer must be grounded and verifiable."
    )
