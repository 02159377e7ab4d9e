"""The compared methods, behind one interface: ``run(example) -> MethodOutput``.

Every method sees the same numbered source sentences (the example's own
split, via :func:`example_sources`) and, where it generates, the same chat
model, so that differences in the metrics come from how citations are made:

* :class:`GenerationProgramsMethod` — the program's leaves are the citations
  (by construction, no measurement);
* :class:`GenerationProgramsMExGenMethod` — the same graph with a measuring
  attributor (MExGen) in its attribute node;
* :class:`GenerationProgramsRefineMethod` — the same graph with localized
  refinement (failing program nodes re-run with feedback) before the
  program-leaf citations;
* :class:`ALCEMethod` — generation-time citations: the model writes ``[S#]``
  markers, which are parsed and stripped (:func:`parse_cited_answer`);
* :class:`PosthocMExGenMethod` — a plain answer, attributed afterwards by
  MExGen perturbation;
* :class:`PosthocEmbeddingMethod` — a plain answer, each sentence cited to its
  most similar source sentences by embedding cosine.

The post-hoc methods can also attribute the dataset's *reference* answer
(``answer_from="reference"``), which is what makes gold-link metrics
applicable to them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict, Unpack

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    Attributor,
    CitedSource,
    SentenceAttribution,
    join_sentences,
)
from langchain_genprog.attribute.mexgen.config import MExGenConfig
from langchain_genprog.attribute.mexgen_node import MExGenAttributor
from langchain_genprog.attribute.posthoc import attribute as posthoc_attribute
from langchain_genprog.attribute.posthoc import default_scorer, split_answer
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.cost import Cost, CostTracker
from langchain_genprog.evaluation.datasets import Example
from langchain_genprog.graph.builder import create_genprog_graph
from langchain_genprog.graph.state import GenProgInput
from langchain_genprog.models.scoring import LogProbScorer
from langchain_genprog.plan.budget import check_max_words, sentences_within
from langchain_genprog.refine.checks import EmbeddingNodeChecker, NodeChecker
from langchain_genprog.refine.refiner import ProgramRefiner
from langchain_genprog.segment.selection import select_sentences
from langchain_genprog.segment.sources import Sources, split_sentences

AnswerFrom = Literal["generate", "reference"]
"""Where a post-hoc method's answer comes from: the chat model, or the example's reference."""


class MethodOutput(BaseModel):
    """What one method produced for one example.

    Attributes:
        answer: The answer text (citations' offsets index into it).
        attribution: Per-sentence citations, as global source ids.
        cost: What producing the answer and its citations spent.
        attributes_reference: Whether ``answer`` is the example's reference,
            so that gold links apply to it.
        metadata: Method-specific details (program, parse problems ...).
    """

    answer: str
    attribution: AttributionResult
    cost: Cost = Field(default_factory=Cost)
    attributes_reference: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class Method(Protocol):
    """A compared method."""

    name: str

    def run(self, example: Example) -> MethodOutput:
        """Answer (or take the reference of) ``example`` and cite it."""
        ...


def example_sources(example: Example) -> Sources:
    """The example's numbered sentences, exactly as every method and metric sees them."""
    return Sources.from_documents(example.to_documents())


# --------------------------------------------------------------------------- #
# (a), (b) GenerationPrograms
# --------------------------------------------------------------------------- #


class GenerationProgramsMethod:
    """The GenerationPrograms graph; citations are each sentence's program leaves.

    Args:
        llm: The chat model that plans and executes.
        attributor: The graph's attribute step; ``None`` keeps program-leaf
            citations (no measurement).
        name: Name in results (default ``genprog``).
        **graph_options: Passed to
            :func:`~langchain_genprog.graph.builder.create_genprog_graph`
            (``max_sentences``, ``plan_mode`` ...).
    """

    name = "genprog"

    def __init__(
        self,
        llm: BaseChatModel,
        *,
        attributor: Attributor | None = None,
        name: str | None = None,
        **graph_options: Any,
    ) -> None:
        if name:
            self.name = name
        self.graph = create_genprog_graph(llm, attributor=attributor, **graph_options)

    def run(self, example: Example) -> MethodOutput:
        """Run the graph on the example's documents and question."""
        tracker = CostTracker()
        started = time.perf_counter()
        inputs: GenProgInput = {
            "question": example.question,
            "documents": list(example.to_documents()),
        }
        state = self.graph.invoke(inputs, config={"callbacks": [tracker]})
        attribution: AttributionResult = state["attribution"]
        cost = tracker.cost.model_copy(
            update={
                "forward_passes": attribution.model_calls,
                "seconds": time.perf_counter() - started,
            }
        )
        plan = state["plan"]
        execution = state["execution"]
        metadata: dict[str, Any] = {
            "program": plan.program.render(),
            "plan_retries": plan.retries,
            "plan_issues": [str(i) for i in plan.issues],
            "failures": [{"line": f.line, "error": f.error} for f in execution.failures],
            "selection": state["selection"].describe(),
            "attribution_complete": attribution.complete,
        }
        grounding = state.get("grounding")
        if grounding is not None:
            metadata["grounding"] = grounding.summary()
        refinement = state.get("refinement")
        if refinement is not None:
            # The refiner's model calls and tokens already reached the tracker
            # (they run inside the graph); its checks add embedding, judge
            # (chat-model calls, also tracked) and scorer usage.
            usage = refinement.usage
            cost = cost + Cost(
                embedding_calls=usage.embedding_calls,
                scorer_calls=usage.scorer_calls,
                forward_passes=usage.forward_passes,
            )
            metadata["refinement"] = refinement.summary() | {
                "judge_calls": usage.judge_calls,
                "embedding_calls": usage.embedding_calls,
                "forward_passes": usage.forward_passes,
            }
        return MethodOutput(
            answer=state["answer"], attribution=attribution, cost=cost, metadata=metadata
        )


class GenerationProgramsMExGenMethod(GenerationProgramsMethod):
    """GenerationPrograms with a measuring attributor (MExGen) in the graph.

    Args:
        llm: The chat model.
        attributor: e.g. ``MExGenAttributor(scorer)``; its ``model_calls`` are
            reported as scorer forward passes.
        name: Name in results (default ``genprog-mexgen``).
        **graph_options: As for :class:`GenerationProgramsMethod`.
    """

    name = "genprog-mexgen"

    def __init__(
        self,
        llm: BaseChatModel,
        attributor: Attributor,
        *,
        name: str | None = None,
        **graph_options: Any,
    ) -> None:
        super().__init__(llm, attributor=attributor, name=name, **graph_options)


class GenerationProgramsRefineMethod(GenerationProgramsMethod):
    """GenerationPrograms with localized refinement; citations from the program.

    After execution every model-written node is checked against its own
    inputs, and only the failing nodes (then their ancestors) are re-run with
    the checker's reason as feedback
    (:class:`~langchain_genprog.refine.ProgramRefiner`). Re-running a node
    never changes its leaves, so citations stay those of the program; what
    refinement changes is whether the sentence says what its sources say.
    The extra model calls and tokens are part of the method's cost (they are
    tracked like every other call), the checker's embedding or scorer calls
    are added to ``embedding_calls`` / ``forward_passes``, and the refinement
    summary is in the metadata.

    Args:
        llm: The chat model that plans, executes and re-runs.
        refiner: A :class:`~langchain_genprog.refine.ProgramRefiner`, or a
            :class:`~langchain_genprog.refine.NodeChecker` to refine with
            ``llm``; ``None`` uses an
            :class:`~langchain_genprog.refine.EmbeddingNodeChecker` over the
            embedded all-MiniLM-L6-v2.
        name: Name in results (default ``genprog+refine``).
        **graph_options: As for :class:`GenerationProgramsMethod`.

    Raises:
        ModelNotAvailableError: If ``refiner`` is ``None`` and the embedded
            embeddings are not installed.
    """

    name = "genprog+refine"

    def __init__(
        self,
        llm: BaseChatModel,
        refiner: ProgramRefiner | NodeChecker | None = None,
        *,
        name: str | None = None,
        **graph_options: Any,
    ) -> None:
        if refiner is None:
            refiner = EmbeddingNodeChecker()
        super().__init__(llm, name=name, refiner=refiner, **graph_options)


# --------------------------------------------------------------------------- #
# Shared prompting for the answer-writing baselines
# --------------------------------------------------------------------------- #

_ANSWER_RULES = {
    True: (
        "After each sentence, before its final period, write the ids of the source sentences "
        "that support it in square brackets, e.g. [S3] or [S3][S7]. "
        "Cite only ids listed in the sources."
    ),
    False: "Do not mention sentence ids and do not add citations.",
}

_EXAMPLE = {
    True: (
        "The council approved a riverside park on Monday [S1]. It will cost about $2 million [S2]."
    ),
    False: "The council approved a riverside park on Monday. It will cost about $2 million.",
}

ANSWER_SYSTEM = """You answer from numbered source sentences only.
Write at most {max_sentences} sentences. Use only facts stated in the sources. {rules}
Write only the answer.

Example
Sources:
S1: The city council approved the new riverside park on Monday.
S2: Construction of the park will cost about $2 million and start in May.
Question: What did the council decide?
Answer: {example}"""

ANSWER_HUMAN = """Sources:
{sources}

{task}
Answer:"""

ANSWER_PROMPT = ChatPromptTemplate.from_messages(
    [("system", ANSWER_SYSTEM), ("human", ANSWER_HUMAN)]
)
"""Variables: ``max_sentences``, ``rules``, ``example``, ``sources``, ``task``."""


def _task(question: str | None) -> str:
    if question and question.strip():
        return f"Question: {question.strip()}"
    return "Task: summarize the sources in a few sentences."


class _AnswerWriter:
    """Writes an answer over the offered sentences, with or without ``[S#]`` markers."""

    def __init__(
        self,
        llm: BaseChatModel,
        *,
        cite: bool,
        max_sentences: int,
        source_token_budget: int | None,
        prompt: ChatPromptTemplate,
        content_only: bool = False,
    ) -> None:
        if max_sentences < 1:
            raise InvalidInputError(f"max_sentences must be at least 1, got {max_sentences}")
        self.llm = llm
        self.cite = cite
        self.max_sentences = max_sentences
        budget = source_token_budget
        if budget is None and isinstance(getattr(llm, "n_ctx", None), int):
            budget = int(llm.n_ctx) // 2  # type: ignore[attr-defined]
        self.budget = budget
        self.prompt = prompt
        self.content_only = content_only

    def write(self, example: Example, sources: Sources, tracker: CostTracker) -> tuple[str, str]:
        """Return the raw reply and the offered-sentence description."""
        count: Callable[[str], int] | None = getattr(self.llm, "count_tokens", None)
        selection = select_sentences(
            sources,
            example.question,
            token_budget=self.budget,
            count_tokens=count,
            content_only=self.content_only,
        )
        messages = self.prompt.format_messages(
            max_sentences=self.max_sentences,
            rules=_ANSWER_RULES[self.cite],
            example=_EXAMPLE[self.cite],
            sources=sources.render(selection.ranked_ids),
            task=_task(example.question),
        )
        reply = self.llm.invoke(messages, config={"callbacks": [tracker]})
        return reply.text, selection.describe()


# --------------------------------------------------------------------------- #
# (c) ALCE-style generation-time citations
# --------------------------------------------------------------------------- #

_ID = r"S?\s*\d+"
_SEP = r"\s*(?:,|;|&|\band\b|-|–)\s*"
_MARKER = re.compile(
    rf"\[\s*(?P<square>{_ID}(?:{_SEP}{_ID})*)\s*\]"
    rf"|\(\s*(?P<round>S\s*\d+(?:{_SEP}{_ID})*)\s*\)",
    flags=re.IGNORECASE,
)
_RANGE = re.compile(r"S?\s*(\d+)\s*[-–]\s*S?\s*(\d+)", flags=re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
_LABEL = re.compile(r"^\s*(?:\*\*)?answer(?:\*\*)?\s*:\s*", flags=re.IGNORECASE)
_TRAILER = re.compile(
    r"\n\s*(?:\*\*)?(?:references|sources|citations)(?:\*\*)?\s*:.*\Z",
    flags=re.IGNORECASE | re.DOTALL,
)
_MAX_RANGE = 20


class ParsedAnswer(BaseModel):
    """An answer with its ``[S#]`` markers turned into citations.

    Attributes:
        answer: The text without markers (sentences joined by single spaces).
        sentences: Its sentences, with offsets into ``answer``.
        citations: Per sentence, the cited ids in order of appearance.
        invalid: Cited ids that do not exist in the sources (dropped).
    """

    model_config = ConfigDict(frozen=True)

    answer: str
    sentences: list[AnswerSentence] = Field(default_factory=list)
    citations: list[list[int]] = Field(default_factory=list)
    invalid: list[int] = Field(default_factory=list)

    def head(self, max_sentences: int, max_words: int | None = None) -> ParsedAnswer:
        """The first ``max_sentences`` sentences (offsets are unchanged: they are a prefix).

        With ``max_words``, also only the sentences before the first one that
        would take the answer past that many words (the first is always kept).
        """
        count = min(len(self.sentences), max_sentences)
        if max_words is not None:
            count = min(count, sentences_within([s.text for s in self.sentences], max_words))
        if count == len(self.sentences):
            return self
        kept = self.sentences[:count]
        return self.model_copy(
            update={
                "answer": self.answer[: kept[-1].end] if kept else "",
                "sentences": kept,
                "citations": self.citations[:count],
            }
        )


def _marker_ids(body: str) -> list[int]:
    ids: list[int] = []
    for match in _RANGE.finditer(body):
        lo, hi = int(match.group(1)), int(match.group(2))
        if lo <= hi <= lo + _MAX_RANGE:
            ids.extend(range(lo, hi + 1))
        else:
            ids.extend([lo, hi])
    rest = _RANGE.sub(" ", body)
    ids.extend(int(n) for n in _NUMBER.findall(rest))
    return ids


def parse_cited_answer(text: str, sources: Sources | None = None) -> ParsedAnswer:
    """Parse inline citation markers and strip them from the text.

    Accepted forms: ``[S3]``, ``[S3][S5]``, ``[S3, S5]``, ``[S3; S5]``,
    ``[S3-S5]`` (a short range), ``[3]``, ``[3, 5]`` and ``(S3)``; bare
    numbers in parentheses are left alone because they are usually years or
    counts. A marker belongs to the sentence it stands in, or — when placed
    after the sentence's final period — to the sentence before it. A leading
    ``Answer:`` label and a trailing ``References:`` block are dropped.

    Args:
        text: The model's reply.
        sources: If given, ids outside it are dropped and listed in ``invalid``.
    """
    body = _TRAILER.sub("", _LABEL.sub("", text.strip()))
    pieces: list[str] = []
    markers: list[tuple[int, list[int]]] = []
    length = 0
    cursor = 0
    for match in _MARKER.finditer(body):
        before = body[cursor : match.start()]
        kept = before.rstrip(" \t")
        after = body[match.end() : match.end() + 1]
        if kept != before and after[:1].isalnum():
            kept += " "  # "word [S1]next" must not glue "wordnext"
        pieces.append(kept)
        length += len(kept)
        markers.append((length, _marker_ids(match.group("square") or match.group("round"))))
        cursor = match.end()
    pieces.append(body[cursor:])
    stripped = "".join(pieces)

    spans = [(s, e) for s, e in split_sentences(stripped) if stripped[s:e].strip()]
    per_sentence: list[list[int]] = [[] for _ in spans]
    for position, ids in markers:
        if not spans:
            break
        owner = 0
        for k, (start, _) in enumerate(spans):
            if start <= position:
                owner = k
        # A marker right at the start of a sentence after a gap was written
        # after the previous sentence's period: "One. [S1] Two."
        start, _ = spans[owner]
        if owner > 0 and position == start and stripped[:position].rstrip() != stripped[:position]:
            owner -= 1
        per_sentence[owner].extend(ids)

    answer, sentences = join_sentences([" ".join(stripped[s:e].split()) for s, e in spans])
    invalid: list[int] = []
    citations: list[list[int]] = []
    for ids in per_sentence:
        unique = list(dict.fromkeys(ids))
        if sources is not None:
            invalid.extend(sid for sid in unique if not sources.has(sid))
            unique = [sid for sid in unique if sources.has(sid)]
        citations.append(unique)
    return ParsedAnswer(
        answer=answer,
        sentences=sentences,
        citations=citations,
        invalid=list(dict.fromkeys(invalid)),
    )


class ALCEMethod:
    """Generation-time citations: the model cites ``[S#]`` while answering (ALCE-style).

    Args:
        llm: The chat model.
        max_sentences: Most answer sentences requested; a longer reply is cut there.
        source_token_budget: Most tokens of source sentences in the prompt
            (default: half the model's ``n_ctx`` if it declares one, like the
            graph), chosen by the same relevance ranking as the graph's.
        prompt: The answer prompt (see :data:`ANSWER_PROMPT`).
        name: Name in results (default ``alce``).
        max_words: Word budget of the answer (``None``: none): the reply is cut
            before the first sentence that would overspend it, the first
            sentence always kept (the graph's ``max_words`` stops its planner
            the same way). The prompt is unchanged.
    """

    name = "alce"

    def __init__(
        self,
        llm: BaseChatModel,
        *,
        max_sentences: int = 5,
        source_token_budget: int | None = None,
        prompt: ChatPromptTemplate = ANSWER_PROMPT,
        name: str | None = None,
        max_words: int | None = None,
    ) -> None:
        if name:
            self.name = name
        check_max_words(max_words)
        self.max_words = max_words
        self.writer = _AnswerWriter(
            llm,
            cite=True,
            max_sentences=max_sentences,
            source_token_budget=source_token_budget,
            prompt=prompt,
        )

    def run(self, example: Example) -> MethodOutput:
        """Answer with markers, then parse them into citations."""
        tracker = CostTracker()
        started = time.perf_counter()
        sources = example_sources(example)
        raw, offered = self.writer.write(example, sources, tracker)
        # A model that rambles past the requested length is cut there, so that
        # every method is compared on answers of at most ``max_sentences``.
        full = parse_cited_answer(raw, sources)
        parsed = full.head(self.writer.max_sentences, self.max_words)
        attribution = AttributionResult(
            method=self.name,
            sentences=[
                SentenceAttribution(
                    sentence=sentence,
                    citations=[CitedSource(sentence_id=sid, method=self.name) for sid in ids],
                )
                for sentence, ids in zip(parsed.sentences, parsed.citations, strict=True)
            ],
        )
        cost = tracker.cost.model_copy(update={"seconds": time.perf_counter() - started})
        return MethodOutput(
            answer=parsed.answer,
            attribution=attribution,
            cost=cost,
            metadata={
                "raw": raw,
                "invalid_citations": parsed.invalid,
                "sentences_dropped": len(full.sentences) - len(parsed.sentences),
                "selection": offered,
            },
        )


# --------------------------------------------------------------------------- #
# (d), (e) Plain answer + post-hoc attribution
# --------------------------------------------------------------------------- #


class PlainAnswerOptions(TypedDict, total=False):
    """How a post-hoc method gets the answer it attributes (keyword arguments of both).

    Attributes:
        answer_from: ``generate`` an answer (default), or attribute the ``reference``.
        max_sentences: Most answer sentences requested (default 5); a longer
            reply is cut there.
        source_token_budget: As for :class:`ALCEMethod`.
        prompt: The answer prompt (default :data:`ANSWER_PROMPT`).
        name: Name in results (default: the method's own).
    """

    answer_from: AnswerFrom
    max_sentences: int
    source_token_budget: int | None
    prompt: ChatPromptTemplate
    name: str | None


class _PlainAnswerMethod:
    """Shared part of the post-hoc methods: a plain answer, or the reference.

    It takes the :class:`PlainAnswerOptions`, so that each post-hoc method
    declares only its own attribution options.
    """

    name = "posthoc"

    def __init__(
        self,
        llm: BaseChatModel | None,
        *,
        answer_from: AnswerFrom = "generate",
        max_sentences: int = 5,
        source_token_budget: int | None = None,
        prompt: ChatPromptTemplate = ANSWER_PROMPT,
        name: str | None = None,
    ) -> None:
        if answer_from not in ("generate", "reference"):
            msg = f"answer_from must be 'generate' or 'reference', got {answer_from!r}"
            raise InvalidInputError(msg)
        if answer_from == "generate" and llm is None:
            raise InvalidInputError("answer_from='generate' needs a chat model")
        if name:
            self.name = name
        self.answer_from = answer_from
        self.writer = (
            _AnswerWriter(
                llm,
                cite=False,
                max_sentences=max_sentences,
                source_token_budget=source_token_budget,
                prompt=prompt,
            )
            if llm is not None
            else None
        )

    def _answer(
        self, example: Example, sources: Sources, tracker: CostTracker
    ) -> tuple[str, dict[str, Any]]:
        if self.answer_from == "reference":
            if not example.reference or not example.reference.strip():
                raise InvalidInputError(f"example {example.id} has no reference answer")
            return example.reference.strip(), {}
        assert self.writer is not None  # checked in __init__
        raw, offered = self.writer.write(example, sources, tracker)
        # Models sometimes cite anyway; a plain answer must not carry markers.
        full = parse_cited_answer(raw)
        parsed = full.head(self.writer.max_sentences)
        return parsed.answer, {
            "raw": raw,
            "sentences_dropped": len(full.sentences) - len(parsed.sentences),
            "selection": offered,
        }

    def _attribute(
        self, example: Example, answer: str, sources: Sources
    ) -> tuple[AttributionResult, Cost]:
        raise NotImplementedError

    def run(self, example: Example) -> MethodOutput:
        """Answer (or take the reference), then attribute the answer post hoc."""
        tracker = CostTracker()
        started = time.perf_counter()
        sources = example_sources(example)
        answer, metadata = self._answer(example, sources, tracker)
        attribution, extra = self._attribute(example, answer, sources)
        cost = tracker.cost + extra
        cost.seconds = time.perf_counter() - started
        return MethodOutput(
            answer=answer,
            attribution=attribution,
            cost=cost,
            attributes_reference=self.answer_from == "reference",
            metadata=metadata,
        )


class PosthocAttributeFn(Protocol):
    """A custom post-hoc attribution function.

    It attributes ``answer`` to ``documents`` and returns an
    :class:`AttributionResult` whose sentence offsets index into ``answer``
    and whose ids number the sentences as ``Sources.from_documents(documents)``
    does (:func:`langchain_genprog.attribute.posthoc.attribute` fits).
    """

    def __call__(
        self, answer: str, documents: Sequence[Document], question: str | None = None
    ) -> AttributionResult:
        """Attribute ``answer`` post hoc."""
        ...


class PosthocMExGenMethod(_PlainAnswerMethod):
    """A plain answer attributed afterwards by MExGen perturbation.

    By default the answer goes through
    :func:`langchain_genprog.attribute.posthoc.attribute` with one
    :class:`~langchain_genprog.attribute.mexgen_node.MExGenAttributor` built
    here once (from ``scorer`` and ``attributor_options``), so a scorer is
    loaded once per evaluation rather than once per example. Pass
    ``attributor`` to use another attributor, or ``attribute_fn`` to replace
    the post-hoc step altogether.

    Args:
        llm: The chat model (unused with ``answer_from="reference"``).
        scorer: Log-prob scorer for MExGen; ``None`` loads the embedded one
            (unless ``attributor_options`` hold a text-only ``chat_model`` and
            ``embeddings`` pair).
        attributor: Any :class:`Attributor`, used as is.
        attribute_fn: A post-hoc function (see :class:`PosthocAttributeFn`).
        attributor_options: Options of the ``MExGenAttributor`` built here: its
            :class:`~langchain_genprog.attribute.mexgen_config.MExGenAttributorConfig`,
            or its keyword arguments (``method``, ``levels``, ``top_k``,
            ``budget``, ``config`` ... and, for the text-only mode,
            ``chat_model`` and ``embeddings``).
        **answer_options: How the answer is obtained (see
            :class:`PlainAnswerOptions`); the default ``name`` is ``posthoc-mexgen``.

    Raises:
        InvalidInputError: If both ``attributor`` and ``attribute_fn`` are given.
        ModelNotAvailableError: If the embedded scorer is needed but not installed.
    """

    name = "posthoc-mexgen"

    def __init__(
        self,
        llm: BaseChatModel | None,
        *,
        scorer: LogProbScorer | None = None,
        attributor: Attributor | None = None,
        attribute_fn: PosthocAttributeFn | None = None,
        attributor_options: MExGenConfig | dict[str, Any] | None = None,
        **answer_options: Unpack[PlainAnswerOptions],
    ) -> None:
        super().__init__(llm, **answer_options)
        if attributor is not None and attribute_fn is not None:
            raise InvalidInputError("give attributor or attribute_fn, not both")
        if attributor is None and attribute_fn is None:
            options = (
                {"config": attributor_options}
                if isinstance(attributor_options, MExGenConfig)
                else dict(attributor_options or {})
            )
            text_only = options.get("chat_model") is not None and options.get("embeddings")
            if scorer is None and not text_only:
                scorer = default_scorer()
            attributor = MExGenAttributor(scorer, **options)
        self.attributor = attributor
        self.attribute_fn = attribute_fn

    def _attribute(
        self, example: Example, answer: str, sources: Sources
    ) -> tuple[AttributionResult, Cost]:
        if self.attribute_fn is None:
            result = posthoc_attribute(
                answer, sources, example.question, attributor=self.attributor
            )
        else:
            result = self.attribute_fn(answer, example.to_documents(), example.question)
            if not isinstance(result, AttributionResult):
                msg = (
                    f"attribute_fn returned {type(result).__name__}; expected an AttributionResult"
                )
                raise InvalidInputError(msg)
        return result, Cost(forward_passes=result.model_calls)


class PosthocEmbeddingMethod(_PlainAnswerMethod):
    """A plain answer; each sentence cites its ``top_k`` most similar source sentences.

    Similarity is the cosine of embeddings from any LangChain ``Embeddings``;
    the full answer × source matrix is kept in the result. It costs two
    embedding calls per example and no generation beyond the answer.

    Args:
        llm: The chat model (unused with ``answer_from="reference"``).
        embeddings: Any LangChain embeddings.
        top_k: Citations per answer sentence.
        **answer_options: How the answer is obtained (see
            :class:`PlainAnswerOptions`); the default ``name`` is ``posthoc-embed``.
    """

    name = "posthoc-embed"

    def __init__(
        self,
        llm: BaseChatModel | None,
        embeddings: Embeddings,
        *,
        top_k: int = 2,
        **answer_options: Unpack[PlainAnswerOptions],
    ) -> None:
        super().__init__(llm, **answer_options)
        if top_k < 1:
            raise InvalidInputError(f"top_k must be at least 1, got {top_k}")
        self.embeddings = embeddings
        self.top_k = top_k

    def _attribute(
        self, example: Example, answer: str, sources: Sources
    ) -> tuple[AttributionResult, Cost]:
        sentences = split_answer(answer)
        unit_ids = sources.citable_ids
        if not sentences:
            return AttributionResult(method=self.name, unit_ids=unit_ids), Cost()
        source_vectors = _unit_rows(
            self.embeddings.embed_documents([sources.sentence(s).text for s in unit_ids])
        )
        answer_vectors = _unit_rows(self.embeddings.embed_documents([s.text for s in sentences]))
        similarity = answer_vectors @ source_vectors.T
        items: list[SentenceAttribution] = []
        for row, sentence in zip(similarity, sentences, strict=True):
            order = sorted(range(len(unit_ids)), key=lambda j: (-row[j], j))[: self.top_k]
            items.append(
                SentenceAttribution(
                    sentence=sentence,
                    citations=[
                        CitedSource(sentence_id=unit_ids[j], score=float(row[j]), method=self.name)
                        for j in order
                    ],
                )
            )
        result = AttributionResult(
            sentences=items,
            method=self.name,
            matrix=[[float(v) for v in row] for row in similarity],
            unit_ids=list(unit_ids),
        )
        return result, Cost(embedding_calls=2)


def _unit_rows(vectors: list[list[float]]) -> np.ndarray:
    array = np.asarray(vectors, dtype=float)
    if array.ndim != 2:
        raise InvalidInputError("the embeddings returned vectors of unequal length")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    result: np.ndarray = array / np.maximum(norms, 1e-12)
    return result
