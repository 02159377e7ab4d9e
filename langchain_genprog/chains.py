"""A drop-in ``Runnable`` for RAG pipelines: question + documents → cited ``AIMessage``.

:class:`GenProgChain` is a thin adapter over the compiled GenerationPrograms
graph (:func:`~langchain_genprog.graph.create_genprog_graph`): it turns the
usual RAG input into the graph's input, runs the graph, and returns the final
``AIMessage`` — the answer as one text block whose ``Citation`` annotations
point each answer sentence at the source sentences it was built from, with
the program in ``response_metadata``. Everything the pipeline does happens in
the graph; the chain adds only what a LangChain user expects from a chain:

* the ``Runnable`` interface (``invoke``/``ainvoke``/``batch``/``stream``/
  ``astream``, ``with_config``, ``|`` composition), with the graph traced as a
  child run;
* an optional retriever, so that ``chain.invoke("question")`` fetches its own
  documents and the chain drops in where ``retriever | prompt | llm`` was;
* progress: the graph's per-step events (segment, each planner attempt, each
  executed operation, attribute) are re-dispatched as LangChain custom events
  named :data:`PROGRESS_EVENT`, visible in ``astream_events`` and callbacks;
* :meth:`GenProgChain.as_tool`, whose tool answers with ``[S#]`` markers that a
  model can read and returns the citations as the tool message's artifact.

Streaming yields the chain's output type, as a chat model does: the answer is
only known once the program has run and been attributed, so ``stream`` yields
one ``AIMessageChunk`` equal to the final message (with its citations). Use
``astream_events`` for progress, or stream the graph itself for LangGraph
stream modes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, cast

from langchain_core.callbacks import (
    AsyncCallbackManagerForChainRun,
    AsyncCallbackManagerForToolRun,
    CallbackManagerForChainRun,
    CallbackManagerForToolRun,
    adispatch_custom_event,
    dispatch_custom_event,
)
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.content import Citation
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import patch_config
from langchain_core.tools import BaseTool, ToolException
from langchain_core.tools.base import ArgsSchema
from langgraph.pregel import Pregel
from pydantic import BaseModel, ConfigDict, Field

from langchain_genprog.citations import citations_of, render_with_markers
from langchain_genprog.errors import GenProgError, InvalidInputError, ModelNotAvailableError
from langchain_genprog.graph.builder import create_genprog_graph

PROGRESS_EVENT = "genprog_progress"
"""Name of the custom events carrying the graph's progress (``on_custom_event``)."""

MARKERS_KEY = "answer_with_markers"
"""``response_metadata`` key of the answer rendered with ``[S#]`` markers."""

ChainInput = str | Mapping[str, Any] | BaseModel
"""What :class:`GenProgChain` accepts: a question (with a retriever) or a mapping."""

_INPUT_KEYS = frozenset({"question", "documents"})


class GenProgChainInput(BaseModel):
    """Input of a :class:`GenProgChain` without a retriever."""

    question: str | None = Field(
        default=None,
        description="The question to answer. Leave it out to summarize the documents.",
    )
    documents: list[Document | str] = Field(
        description=(
            "The source documents the answer must come from: LangChain documents or plain "
            "texts. Their sentences are numbered S1..SN and every answer sentence is cited "
            "to them."
        ),
        min_length=1,
    )


class GenProgRetrievalInput(BaseModel):
    """Input of a :class:`GenProgChain` built with a retriever."""

    question: str = Field(
        min_length=1,
        description="The question to answer; documents are retrieved for it.",
    )


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
        """Read a cited answer back from the ``AIMessage`` a :class:`GenProgChain` returns."""
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


class GenProgChain(RunnableSerializable[ChainInput, AIMessage]):
    """Answers a question from documents with sentence-level citations.

    A ``Runnable`` over the compiled GenerationPrograms graph: the graph does
    the work (segment → plan → execute → attribute → finalize), the chain adapts
    RAG-style input and output. Build it with :func:`create_genprog_chain`.

    Input:
        ``{"question": str | None, "documents": [Document | str, ...]}``; with
        a ``retriever``, a plain question string (or ``{"question": str}``)
        and the documents are retrieved for it.

    Output:
        The graph's final ``AIMessage``: one text block with ``Citation``
        annotations, ``response_metadata`` with the ``program``, the planner's
        remaining issues, failed lines, and the answer with ``[S#]`` markers
        (:data:`MARKERS_KEY`).

    Example:
        .. code-block:: python

            from langchain_core.vectorstores import InMemoryVectorStore
            from langchain_genprog.chains import create_genprog_chain

            store = InMemoryVectorStore.from_documents(docs, embeddings)
            chain = create_genprog_chain(llm, retriever=store.as_retriever(k=4))
            message = chain.invoke("Who won the vote?")
            message.content_blocks[0]["annotations"]  # Citation dicts
            message.response_metadata["program"]  # e.g. "- paraphrase(S3)"

    Attributes:
        graph: The compiled GenerationPrograms graph.
        retriever: Fetches documents for a question when the input has none.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    graph: Pregel[Any, Any, Any, Any]
    retriever: Runnable[str, list[Document]] | None = None

    # -- schema -----------------------------------------------------------------

    @property
    def OutputType(self) -> type[AIMessage]:
        """The output type: the cited ``AIMessage``."""
        return AIMessage

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """The pydantic input schema (also the args schema of :meth:`as_tool`).

        With a retriever only the question is needed; without one the
        documents are required and the question is optional (summary).
        """
        return GenProgRetrievalInput if self.retriever is not None else GenProgChainInput

    # -- input / output ---------------------------------------------------------

    def _split_input(self, value: ChainInput) -> tuple[str | None, list[Any] | None]:
        if isinstance(value, BaseModel):
            value = value.model_dump(exclude_unset=True)
        if isinstance(value, str):
            if self.retriever is None:
                raise InvalidInputError(
                    "a plain question string needs a chain built with retriever=...; "
                    "otherwise pass {'question': ..., 'documents': [...]}"
                )
            return _clean_question(value), None
        if not isinstance(value, Mapping):
            raise InvalidInputError(
                "GenProgChain takes {'question': ..., 'documents': [...]} "
                f"or a question string, got {type(value).__name__}"
            )
        unknown = sorted(set(value) - _INPUT_KEYS)
        if unknown:
            raise InvalidInputError(
                f"unexpected input key(s) {unknown}; expected 'question' and 'documents'"
            )
        raw_question = value.get("question")
        if raw_question is not None and not isinstance(raw_question, str):
            msg = f"question must be a string, got {type(raw_question).__name__}"
            raise InvalidInputError(msg)
        question = _clean_question(raw_question)
        documents = value.get("documents")
        if documents is None:
            if self.retriever is None:
                raise InvalidInputError(
                    "the input has no 'documents'; pass them, or build the chain "
                    "with retriever=... to retrieve them for the question"
                )
            if question is None:
                raise InvalidInputError("a chain with a retriever needs a non-blank question")
            return question, None
        if isinstance(documents, (str, bytes)) or not isinstance(documents, Sequence):
            raise InvalidInputError("'documents' must be a list of documents or strings")
        return question, list(documents)

    def _output(self, state: Mapping[str, Any] | None) -> AIMessage:
        messages = (state or {}).get("messages") or []
        message = messages[-1] if messages else None
        if not isinstance(message, AIMessage):
            raise GenProgError("the graph finished without a final AIMessage")
        attribution = (state or {}).get("attribution")
        if attribution is None:
            return message
        marked = render_with_markers(attribution, answer=state.get("answer") if state else None)
        metadata = {**message.response_metadata, MARKERS_KEY: marked}
        return message.model_copy(update={"response_metadata": metadata})

    # -- sync -------------------------------------------------------------------

    def _run(self, value: ChainInput, config: RunnableConfig) -> AIMessage:
        question, documents = self._split_input(value)
        if documents is None:  # only with a retriever and a question (see _split_input)
            assert self.retriever is not None and question is not None
            documents = list(self.retriever.invoke(question, config))
        final: Mapping[str, Any] | None = None
        graph_input = {"question": question, "documents": documents}
        for mode, chunk in self.graph.stream(graph_input, config, stream_mode=["custom", "values"]):
            if mode == "custom":
                dispatch_custom_event(PROGRESS_EVENT, chunk, config=config)
            elif isinstance(chunk, Mapping):
                final = chunk
        return self._output(final)

    def _invoke(
        self,
        value: ChainInput,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> AIMessage:
        return self._run(value, config)

    def invoke(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Answer with citations (see the class docs for input and output)."""
        return self._call_with_config(self._invoke, input, config, run_type="chain", **kwargs)

    def _transform(
        self,
        values: Iterator[ChainInput],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> Iterator[AIMessage]:
        value = _last(values)
        yield _to_chunk(self._run(value, config))

    def stream(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> Iterator[AIMessage]:
        """Yield the answer as one ``AIMessageChunk`` with its citations.

        The chunk's ``content`` and ``response_metadata`` equal :meth:`invoke`'s
        message, so ``sum`` over the stream (or an output parser after the chain)
        behaves as with a chat model. Progress goes to custom events.
        """
        yield from self._transform_stream_with_config(
            iter([input]), self._transform, config, run_type="chain", **kwargs
        )

    # -- async ------------------------------------------------------------------

    async def _arun(self, value: ChainInput, config: RunnableConfig) -> AIMessage:
        question, documents = self._split_input(value)
        if documents is None:
            assert self.retriever is not None and question is not None
            documents = list(await self.retriever.ainvoke(question, config))
        final: Mapping[str, Any] | None = None
        graph_input = {"question": question, "documents": documents}
        async for mode, chunk in self.graph.astream(
            graph_input, config, stream_mode=["custom", "values"]
        ):
            if mode == "custom":
                await adispatch_custom_event(PROGRESS_EVENT, chunk, config=config)
            elif isinstance(chunk, Mapping):
                final = chunk
        return self._output(final)

    async def _ainvoke(
        self,
        value: ChainInput,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> AIMessage:
        return await self._arun(value, config)

    async def ainvoke(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Async :meth:`invoke` (operations run concurrently on the event loop)."""
        return await self._acall_with_config(
            self._ainvoke, input, config, run_type="chain", **kwargs
        )

    async def _atransform(
        self,
        values: AsyncIterator[ChainInput],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
    ) -> AsyncIterator[AIMessage]:
        value: ChainInput | None = None
        async for item in values:
            value = item
        if value is None:
            raise InvalidInputError("the chain received no input")
        yield _to_chunk(await self._arun(value, config))

    async def astream(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[AIMessage]:
        """Async :meth:`stream`."""

        async def once() -> AsyncIterator[ChainInput]:
            yield input

        async for chunk in self._atransform_stream_with_config(
            once(), self._atransform, config, run_type="chain", **kwargs
        ):
            yield chunk

    # -- tool -------------------------------------------------------------------

    def as_tool(
        self,
        args_schema: type[BaseModel] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        arg_types: dict[str, type] | None = None,
    ) -> BaseTool:
        """A tool that answers with citations; its args schema is the input schema.

        Unlike the generic ``Runnable.as_tool`` (which would hand the model a
        stringified ``AIMessage``), the tool responds with
        ``content_and_artifact``: the content is the answer with ``[S#]``
        markers followed by the cited source sentences, the artifact a
        :class:`CitedAnswer` with the ``Citation`` dicts.

        Args:
            args_schema: Tool arguments; default :meth:`get_input_schema`. Any
                schema whose fields are ``question`` and/or ``documents`` works,
                e.g. one that takes the documents as plain strings.
            name: Tool name (default ``answer_with_citations``).
            description: Tool description (default explains the tool to a model).
            arg_types: As in ``Runnable.as_tool``, used only without ``args_schema``.
        """
        schema: type[BaseModel]
        if args_schema is not None:
            schema = args_schema
        elif arg_types:
            resolved = super().as_tool(arg_types=arg_types).args_schema
            if not (isinstance(resolved, type) and issubclass(resolved, BaseModel)):
                raise InvalidInputError("arg_types did not resolve to a pydantic schema")
            schema = resolved
        else:
            schema = self.get_input_schema()
        return CitedAnswerTool(
            chain=self,
            name=name or "answer_with_citations",
            description=description or _tool_description(retrieves=self.retriever is not None),
            args_schema=schema,
        )


class CitedAnswerTool(BaseTool):
    """A :class:`GenProgChain` as a tool (see :meth:`GenProgChain.as_tool`).

    Invoked with a tool call it returns a ``ToolMessage`` whose content is
    :meth:`CitedAnswer.to_text` and whose ``artifact`` is the
    :class:`CitedAnswer`. When the request cannot be answered (no usable
    documents, no valid program within the planner's retries) the error is
    the tool's reply (``status="error"``), so an agent can react instead of
    crashing; a missing embedded model still raises.
    """

    chain: GenProgChain
    """The chain that answers."""

    name: str = "answer_with_citations"
    description: str = ""
    args_schema: ArgsSchema | None = None
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool = True

    def _chain_input(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ChainInput:
        if args:  # a bare string for a one-field schema arrives positionally
            return args[0] if self.chain.retriever is not None else {"question": args[0]}
        return kwargs

    def _run(
        self,
        *args: Any,
        config: RunnableConfig,
        run_manager: CallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> tuple[str, CitedAnswer]:
        child = patch_config(config, callbacks=run_manager.get_child() if run_manager else None)
        with as_tool_errors():
            message = self.chain.invoke(self._chain_input(args, kwargs), child)
        answer = CitedAnswer.from_message(message)
        return answer.to_text(), answer

    async def _arun(
        self,
        *args: Any,
        config: RunnableConfig,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> tuple[str, CitedAnswer]:
        child = patch_config(config, callbacks=run_manager.get_child() if run_manager else None)
        with as_tool_errors():
            message = await self.chain.ainvoke(self._chain_input(args, kwargs), child)
        answer = CitedAnswer.from_message(message)
        return answer.to_text(), answer


def create_genprog_chain(
    llm: BaseChatModel | None = None,
    *,
    retriever: Runnable[str, list[Document]] | None = None,
    **graph_options: Any,
) -> GenProgChain:
    """Build a :class:`GenProgChain` over a new GenerationPrograms graph.

    Args:
        llm: Chat model that plans and executes; ``None`` uses the embedded
            SmolLM2-135M-Instruct (needs ``langchain-genprog[local]``).
        retriever: Any ``Runnable[str, list[Document]]`` (e.g.
            ``vectorstore.as_retriever()``); with it the chain takes a plain
            question and retrieves its own documents.
        **graph_options: Passed to :func:`~langchain_genprog.graph.create_genprog_graph`
            (``attributor``, ``max_sentences``, ``plan_mode``, ``name`` ...).

    Returns:
        The chain.
    """
    return GenProgChain(graph=create_genprog_graph(llm, **graph_options), retriever=retriever)


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


def _clean_question(question: str | None) -> str | None:
    if question is None:
        return None
    stripped = question.strip()
    return stripped or None


def _last(values: Iterator[ChainInput]) -> ChainInput:
    found: ChainInput | None = None
    for item in values:
        found = item
    if found is None:
        raise InvalidInputError("the chain received no input")
    return found


def _to_chunk(message: AIMessage) -> AIMessageChunk:
    return AIMessageChunk(
        content=cast(Any, message.content),
        response_metadata=dict(message.response_metadata),
        id=message.id,
        chunk_position="last",
    )


def _tool_description(*, retrieves: bool) -> str:
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


__all__ = [
    "MARKERS_KEY",
    "PROGRESS_EVENT",
    "CitedAnswer",
    "CitedAnswerTool",
    "GenProgChain",
    "GenProgChainInput",
    "GenProgRetrievalInput",
    "as_tool_errors",
    "create_genprog_chain",
]
