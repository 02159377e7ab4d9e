"""Tools for agents: the text operations, cited answers, and post-hoc citations.

:class:`GenProgToolkit` hands an agent three levels of control:

* the four text operations (``paraphrase``, ``compression``, ``fusion``,
  ``extract``), for an agent that builds cited sentences itself;
* ``answer_with_citations``, which runs the whole GenerationPrograms graph
  (through :class:`~langchain_genprog.chains.GenProgChain`) on documents the
  agent passes;
* ``attribute_text``, which cites an answer the agent (or anyone) already
  wrote, with the post-hoc :func:`~langchain_genprog.attribute.posthoc.attribute`.

Both citing tools answer a model with text it can act on — each sentence
followed by ``[S#]`` markers, then the cited source sentences — and return the
structured citations as the ``ToolMessage`` artifact for the application.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForToolRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages.content import Citation
from langchain_core.tools import BaseTool, BaseToolkit
from langchain_core.tools.base import ArgsSchema
from pydantic import BaseModel, ConfigDict, Field

from langchain_genprog.attribute.base import Attributor, SentenceAttribution
from langchain_genprog.chains import GenProgChain
from langchain_genprog.citations import render_with_markers, to_citations
from langchain_genprog.cited_answer import as_tool_errors
from langchain_genprog.graph.builder import create_genprog_graph
from langchain_genprog.operations.tools import create_operation_tools
from langchain_genprog.segment.sources import Sources

_DOCUMENTS = (
    "The source documents, each as plain text, in a fixed order. Their sentences are "
    "numbered S1..SN in that order and the citations refer to those numbers."
)


class AnswerWithCitationsInput(BaseModel):
    """Arguments of the ``answer_with_citations`` tool."""

    question: str = Field(min_length=1, description="The question to answer.")
    documents: list[str] = Field(min_length=1, description=_DOCUMENTS)


class AttributeTextInput(BaseModel):
    """Arguments of the ``attribute_text`` tool."""

    answer: str = Field(min_length=1, description="The answer text to cite, one or more sentences.")
    documents: list[str] = Field(min_length=1, description=_DOCUMENTS)
    question: str | None = Field(
        default=None, description="The question the answer responds to, if any."
    )


class AttributedText(BaseModel):
    """The artifact of ``attribute_text``: per-sentence citations of a given answer.

    Attributes:
        answer: The answer as given; citation offsets index into it.
        answer_with_markers: Each sentence followed by its ``[S#]`` markers
            (``[uncited]`` when nothing supports it, ``(unsupported)`` when a
            measurement says its sources do not support it).
        sentences: Per answer sentence, the cited source ids with scores and
            the ``supported`` flag.
        citations: The same citations as LangChain ``Citation`` dicts (with the
            cited source text).
        method: The attribution method.
        complete: ``False`` when a budget stopped the measurement early.
    """

    model_config = ConfigDict(frozen=True)

    answer: str
    answer_with_markers: str
    sentences: list[SentenceAttribution] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    method: str
    complete: bool = True

    def to_text(self) -> str:
        """The marked answer, then the cited source sentences under their ids."""
        lines = [self.answer_with_markers]
        seen: dict[str, str] = {}
        for citation in self.citations:
            label = str((citation.get("extras") or {}).get("sentence_id") or "")
            if label and label not in seen:
                seen[label] = f"[{label}] {citation.get('cited_text', '')}"
        if seen:
            lines += ["", "Sources:", *seen.values()]
        unsupported = [s.sentence.index + 1 for s in self.sentences if s.supported is False]
        if unsupported:
            listed = ", ".join(str(i) for i in unsupported)
            lines += ["", f"Not supported by the sources: answer sentence(s) {listed}."]
        if not self.complete:
            lines += ["", "Note: the measurement stopped early (budget); citations may be partial."]
        return "\n".join(lines)


class AttributeTextTool(BaseTool):
    """Cite each sentence of a given answer to the sentences of given documents.

    Uses :func:`~langchain_genprog.attribute.posthoc.attribute`: with no
    ``attributor`` that is MExGen on the embedded local scorer (needs
    ``langchain-genprog[local]``). Unusable input (a blank answer, documents
    without text) comes back as the tool's error reply, ``status="error"``.

    Setup:
        .. code-block:: python

            from langchain_genprog.toolkit import AttributeTextTool

            tool = AttributeTextTool(attributor=MExGenAttributor(scorer))
            tool.invoke({"answer": "The park opens in May.", "documents": [text]})
    """

    name: str = "attribute_text"
    description: str = (
        "Check an answer that is already written against source documents: each answer "
        "sentence is cited to the source sentences that measurably support it. Returns the "
        "answer with [S#] markers after each sentence ([uncited] when nothing supports it), "
        "followed by the cited source sentences. Use it to verify or cite text you wrote "
        "yourself; use answer_with_citations to write a new cited answer."
    )
    args_schema: ArgsSchema | None = AttributeTextInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool = True

    attributor: Attributor | None = None
    """How to measure support; ``None`` uses ``attribute()``'s default (MExGen, local scorer)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def _run(
        self,
        answer: str,
        documents: list[str],
        question: str | None = None,
        run_manager: CallbackManagerForToolRun | None = None,
    ) -> tuple[str, AttributedText]:
        # Imported here: the post-hoc module pulls in the MExGen engine.
        from langchain_genprog.attribute.posthoc import attribute

        with as_tool_errors():
            sources = Sources.from_documents(list(documents))
            result = attribute(answer, sources, question, attributor=self.attributor)
        attributed = AttributedText(
            answer=answer,
            answer_with_markers=render_with_markers(result, answer=answer),
            sentences=result.sentences,
            citations=to_citations(result, sources),
            method=result.method,
            complete=result.complete,
        )
        return attributed.to_text(), attributed

    # ``BaseTool._arun`` runs ``_run`` in an executor: attribution is CPU-bound
    # scoring and must stay off the event loop anyway.


class GenProgToolkit(BaseToolkit):
    """The GenerationPrograms tools for an agent.

    Setup:
        .. code-block:: python

            from langchain.agents import create_agent
            from langchain_genprog.toolkit import GenProgToolkit

            toolkit = GenProgToolkit(llm=small_model)
            agent = create_agent(big_model, tools=toolkit.get_tools())

    Tools:
        ``paraphrase``, ``compression``, ``fusion``, ``extract`` (one text
        operation each), ``answer_with_citations`` (question + documents →
        cited answer) and ``attribute_text`` (answer + documents → citations).

    Attributes:
        llm: The model that plans and executes programs and performs the
            operations; it may be smaller than the agent's own model.
        attributor: Used by ``answer_with_citations`` (default: program-leaf
            citations) and by ``attribute_text`` (default: MExGen on the embedded
            scorer). Pass a :class:`~langchain_genprog.attribute.mexgen_node.MExGenAttributor`
            to have both measure support.
        graph_options: Further options of the answering graph
            (``max_sentences``, ``plan_mode`` ...).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: BaseChatModel
    attributor: Attributor | None = None
    graph_options: dict[str, Any] = Field(default_factory=dict)

    def answer_chain(self) -> GenProgChain:
        """The chain behind ``answer_with_citations``."""
        options = dict(self.graph_options)
        if self.attributor is not None:
            options.setdefault("attributor", self.attributor)
        return GenProgChain(graph=create_genprog_graph(self.llm, **options))

    def get_tools(self) -> list[BaseTool]:
        """The six tools, operations first."""
        answer = self.answer_chain().as_tool(
            args_schema=AnswerWithCitationsInput,
            name="answer_with_citations",
            description=(
                "Answer a question using only the given documents. A program of text "
                "operations builds each answer sentence from numbered source sentences, so "
                "every sentence is cited. Returns the answer with [S#] markers after each "
                "sentence, followed by the cited source sentences. Pass the full text of "
                "each document."
            ),
        )
        return [
            *create_operation_tools(self.llm),
            answer,
            AttributeTextTool(attributor=self.attributor),
        ]


__all__ = [
    "AnswerWithCitationsInput",
    "AttributeTextInput",
    "AttributeTextTool",
    "AttributedText",
    "GenProgToolkit",
]
