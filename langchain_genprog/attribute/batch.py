"""Post hoc attribution as a resumable batch job (``genprog attribute --batch``).

Input: a JSONL file, one item per line — ``id``, ``answer`` (text), ``documents``
(strings or ``{"page_content", "metadata"}`` objects) and an optional
``question``. Output: a JSONL file, one line per item as it finishes — ``id``,
``status``, ``citations`` (per answer sentence, the cited source sentences with
their ids, texts and scores) and ``error``. The loop, the concurrency limit and
resumption are :mod:`langchain_genprog.batch`'s; this module is the item's
schema and its work.

Each input line is validated on its own: a line that is not JSON or misses a
field becomes that item's failure record (``InvalidInputError`` naming the
line), so one bad line never stops the other items.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from langchain_core.documents import Document
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from langchain_genprog.attribute.base import AttributionResult
from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig
from langchain_genprog.batch import BatchJournal, BatchReport, ItemError, run_batch
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models.scoring import LogProbScorer
from langchain_genprog.segment.sources import Sources

__all__ = [
    "AttributeBatchItem",
    "AttributeBatchRecord",
    "BatchCitation",
    "BatchDocument",
    "BatchLine",
    "SentenceCitations",
    "attribute_batch",
    "read_attribute_batch",
]


class BatchDocument(BaseModel):
    """A source document of a batch item, as LangChain's ``Document`` serializes."""

    model_config = ConfigDict(extra="forbid")

    page_content: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class AttributeBatchItem(BaseModel):
    """One input line of ``genprog attribute --batch``.

    Attributes:
        id: The item's id (unique in the file; it keys resumption). A number
            is accepted and kept as its string.
        answer: The answer text to attribute.
        documents: Its sources: strings or ``{"page_content", "metadata"}``.
        question: The question the answer responds to, if any.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    documents: list[str | BatchDocument] = Field(min_length=1)
    question: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def to_documents(self) -> list[Document]:
        """The sources as LangChain documents."""
        return [
            Document(page_content=d) if isinstance(d, str) else Document(**d.model_dump())
            for d in self.documents
        ]


class BatchLine(BaseModel):
    """One line of the input file: the item, or why it cannot be used.

    Attributes:
        line: 1-based line number in the input file.
        id: The item's id; ``line-N`` when the line has no usable id.
        item: The validated item, or ``None``.
        error: What is wrong with the line, or ``None``.
    """

    line: int
    id: str
    item: AttributeBatchItem | None = None
    error: str | None = None


class BatchCitation(BaseModel):
    """One cited source sentence of an answer sentence."""

    sentence_id: str
    """``S#``, the source sentence's global id."""
    doc_index: int
    text: str
    score: float | None = None


class SentenceCitations(BaseModel):
    """An answer sentence and the source sentences cited for it."""

    answer_sentence: int
    text: str
    citations: list[BatchCitation] = Field(default_factory=list)
    supported: bool | None = None


class AttributeBatchRecord(BaseModel):
    """One output line of ``genprog attribute --batch``.

    Attributes:
        id: The input item's id.
        line: Its line in the input file.
        status: ``ok`` or ``error``.
        citations: Per answer sentence, its cited sources (empty on error).
        model_calls: Scorer calls MExGen made.
        complete: ``False`` when a ``--max-calls``/``--max-seconds`` budget cut it short.
        seconds: Wall time of the item.
        error: Type and message of the failure, or ``None``.
    """

    id: str
    line: int
    status: Literal["ok", "error"]
    citations: list[SentenceCitations] = Field(default_factory=list)
    model_calls: int = 0
    complete: bool = True
    seconds: float = 0.0
    error: ItemError | None = None


def read_attribute_batch(path: str | Path) -> list[BatchLine]:
    """Read and validate every line of a batch input file, keeping the bad ones as errors.

    Raises:
        InvalidInputError: If the file cannot be read as UTF-8 text.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"cannot read the batch input {path}: {err}") from err
    lines = [_parse_line(number, raw) for number, raw in enumerate(text.splitlines(), 1)]
    return [line for line in lines if line is not None]


def _parse_line(number: int, raw: str) -> BatchLine | None:
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        return BatchLine(line=number, id=f"line-{number}", error=f"not JSON ({err})")
    found = data.get("id") if isinstance(data, dict) else None
    key = str(found) if isinstance(found, (str, int)) and str(found).strip() else f"line-{number}"
    try:
        item = AttributeBatchItem.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in err.errors()
        )
        return BatchLine(line=number, id=key, error=problems)
    return BatchLine(line=number, id=item.id, item=item)


def _citations(result: AttributionResult, sources: Sources) -> list[SentenceCitations]:
    return [
        SentenceCitations(
            answer_sentence=s.sentence.index,
            text=s.sentence.text,
            supported=s.supported,
            citations=[
                BatchCitation(
                    sentence_id=f"S{c.sentence_id}",
                    doc_index=sources.sentence(c.sentence_id).doc_index,
                    text=sources.sentence(c.sentence_id).text,
                    score=c.score,
                )
                for c in s.citations
            ],
        )
        for s in result.sentences
    ]


def attribution_work(
    scorer: LogProbScorer | Callable[[], LogProbScorer | None] | None = None,
    config: MExGenAttributorConfig | None = None,
    *,
    top_k: int = 3,
) -> Callable[[BatchLine], dict[str, Any]]:
    """The work of one line: validate, attribute, and return its output record.

    Args:
        scorer: The log-prob scorer, or a function returning it (called per
            valid item, so a batch of only bad lines loads no model); ``None``:
            the embedded scorer.
        config: MExGen's options.
        top_k: Most citations per answer sentence.
    """
    from langchain_genprog.attribute.posthoc import attribute

    def work(line: BatchLine) -> dict[str, Any]:
        if line.item is None:
            raise InvalidInputError(f"line {line.line}: {line.error}")
        started = time.perf_counter()
        sources = Sources.from_documents(line.item.to_documents())
        result = attribute(
            line.item.answer,
            sources,
            line.item.question,
            scorer=scorer() if callable(scorer) else scorer,
            config=config,
            top_k=top_k,
        )
        record = AttributeBatchRecord(
            id=line.id,
            line=line.line,
            status="ok",
            citations=_citations(result, sources),
            model_calls=result.model_calls,
            complete=result.complete,
            seconds=round(time.perf_counter() - started, 3),
        )
        return record.model_dump(mode="json")

    return work


def _failure(line: BatchLine, err: Exception) -> dict[str, Any]:
    record = AttributeBatchRecord(
        id=line.id, line=line.line, status="error", error=ItemError.from_exception(err)
    )
    return record.model_dump(mode="json")


def attribute_batch(
    source: str | Path,
    out: str | Path,
    scorer: LogProbScorer | Callable[[], LogProbScorer | None] | None = None,
    *,
    config: MExGenAttributorConfig | None = None,
    top_k: int = 3,
    concurrency: int = 1,
    retry_failed: bool = False,
    progress: bool = True,
) -> BatchReport:
    """Attribute every answer of ``source`` (JSONL) and append its citations to ``out``.

    A rerun with the same ``out`` skips the items it already holds.

    Args:
        source: The input JSONL (see the module docs).
        out: The output JSONL, created or resumed.
        scorer: The log-prob scorer (or a function returning it); ``None``:
            the embedded one. For a model server:
            :func:`~langchain_genprog.models.loading.load_log_prob_scorer`.
        config: MExGen's options (``None``: the defaults).
        top_k: Most citations per answer sentence.
        concurrency: Items attributed at once.
        retry_failed: Run items again whose earlier record is a failure.
        progress: Progress bar on stderr.

    Raises:
        InvalidInputError: If the input is unreadable or repeats an id.
    """
    lines = read_attribute_batch(source)
    return run_batch(
        lines,
        attribution_work(scorer, config, top_k=top_k),
        BatchJournal(out),
        key=lambda line: line.id,
        failure=_failure,
        concurrency=concurrency,
        retry_failed=retry_failed,
        progress=progress,
    )
