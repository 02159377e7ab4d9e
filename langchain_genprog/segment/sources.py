"""Source documents → globally numbered sentences S1..SN.

Every later step speaks in these ids: the planner cites ``S7``, the executor
records which ids reach each answer sentence, and the attributor scores them.
Because each sentence keeps its document index, in-document index and character
offsets, any citation can be mapped back to the exact source text.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.documents import Document
from pydantic import BaseModel, ConfigDict, Field

from langchain_genprog._text import display_text, display_title
from langchain_genprog.errors import InvalidSourcesError
from langchain_genprog.limits import MAX_BLOCK_CHARS
from langchain_genprog.segment.blocks import split_blocks
from langchain_genprog.segment.documents import (
    SENTENCES_METADATA_KEY,
    check_count,
    check_total,
    document_text,
)

__all__ = [
    "SENTENCES_METADATA_KEY",
    "SentenceSplitter",
    "SourceDocument",
    "SourceSentence",
    "Sources",
    "split_sentences",
]

SentenceSplitter = Callable[[str], list[tuple[int, int]]]
"""Maps a text to the ``(start, end)`` character spans of its sentences."""


class SourceSentence(BaseModel):
    """One numbered source sentence.

    Attributes:
        id: Global 1-based id; rendered as ``S{id}``.
        doc_index: 0-based index of the document it comes from.
        sent_index: 0-based index of the sentence inside its document.
        start: Character offset of the sentence in its document's text.
        end: End offset (exclusive) in its document's text.
        text: The sentence text, ``document.text[start:end]``.
    """

    model_config = ConfigDict(frozen=True)

    id: int = Field(ge=1)
    doc_index: int = Field(ge=0)
    sent_index: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str

    @property
    def label(self) -> str:
        """The id as the planner writes it, e.g. ``S7``."""
        return f"S{self.id}"


class SourceDocument(BaseModel):
    """A source document with its sentence ids.

    Attributes:
        index: 0-based position in the input list.
        text: Full document text (sentences index into it).
        metadata: The input ``Document.metadata`` (minus pre-split sentences).
        sentence_ids: Global ids of this document's sentences, in order.
    """

    index: int
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    sentence_ids: list[int] = Field(default_factory=list)

    @property
    def title(self) -> str:
        """A human-readable title: metadata ``title``/``source`` or ``Document N``.

        The title is shown to models (as a ``# title`` line in the planner
        prompt) and in citations, so it is one bounded line with no control
        characters: a title made of ``Report``, a line break and ``S1: ...``
        cannot forge a source line.
        """
        for key in ("title", "documentTitle", "source", "documentFile"):
            value = self.metadata.get(key)
            shown = display_title(value) if value else ""
            if shown:
                return shown
        return f"Document {self.index + 1}"


class Sources(BaseModel):
    """Documents and their globally numbered sentences."""

    documents: list[SourceDocument]
    sentences: list[SourceSentence]

    @property
    def ids(self) -> list[int]:
        """All sentence ids, ``1..N``."""
        return [s.id for s in self.sentences]

    @property
    def citable_ids(self) -> list[int]:
        """Ids of sentences with text (blank pre-split sentences are never cited)."""
        return [s.id for s in self.sentences if s.text.strip()]

    def global_id(self, doc_index: int, sent_index: int) -> int:
        """The global id of a document's ``sent_index``-th sentence."""
        return self.documents[doc_index].sentence_ids[sent_index]

    def __len__(self) -> int:
        return len(self.sentences)

    def has(self, sentence_id: int) -> bool:
        """Whether ``S{sentence_id}`` exists."""
        return 1 <= sentence_id <= len(self.sentences)

    def sentence(self, sentence_id: int) -> SourceSentence:
        """Return sentence ``S{sentence_id}``.

        Raises:
            KeyError: If no such sentence exists.
        """
        if not self.has(sentence_id):
            msg = f"S{sentence_id} does not exist; valid ids are S1..S{len(self.sentences)}"
            raise KeyError(msg)
        return self.sentences[sentence_id - 1]

    def render(self, ids: Sequence[int] | None = None, *, with_documents: bool = True) -> str:
        """Render sentences as ``S1: text`` lines, grouped under document headers.

        Args:
            ids: The sentences to show (default: all), kept in source order.
            with_documents: Whether to print a ``Document N`` header per document.
        """
        chosen = sorted(set(self.ids if ids is None else ids))
        lines: list[str] = []
        current_doc = -1
        for sid in chosen:
            sent = self.sentence(sid)
            if with_documents and sent.doc_index != current_doc:
                current_doc = sent.doc_index
                lines.append(f"# {self.documents[current_doc].title}")
            shown = display_text(sent.text)
            if shown:
                lines.append(f"{sent.label}: {shown}")
        return "\n".join(lines)

    @classmethod
    def from_documents(
        cls,
        documents: Sequence[Document | str | bytes],
        *,
        splitter: SentenceSplitter | None = None,
    ) -> Sources:
        """Number the sentences of ``documents``.

        A document whose ``metadata["sentences"]`` holds a list of strings is
        taken as already split (as in the Attribute-First-then-Generate data);
        the other documents are split with ``splitter``.

        Args:
            documents: ``Document`` objects, plain strings, or UTF-8 bytes.
            splitter: Sentence splitter; defaults to :func:`split_sentences`.

        Raises:
            InvalidSourcesError: On an empty list, a blank document, bytes that
                are not UTF-8, pre-split sentences that are not in the text, or
                input past the limits in :mod:`langchain_genprog.limits`.
        """
        if isinstance(documents, (str, bytes, Document)):
            msg = "documents must be a list of documents, not a single document; wrap it in [...]"
            raise InvalidSourcesError(msg)
        if len(documents) == 0:
            raise InvalidSourcesError("no source documents were given; pass at least one document")
        check_count(documents)
        texts = [document_text(raw, k) for k, raw in enumerate(documents)]
        check_total(sum(len(text) for text, _ in texts))
        split = splitter or split_sentences
        docs: list[SourceDocument] = []
        sentences: list[SourceSentence] = []
        for doc_index, (text, metadata) in enumerate(texts):
            presplit = metadata.pop(SENTENCES_METADATA_KEY, None)
            spans = (
                _locate_presplit(text, presplit, doc_index) if presplit is not None else split(text)
            )
            if presplit is None:
                spans = [(s, e) for s, e in spans if text[s:e].strip()]
            if not any(text[s:e].strip() for s, e in spans):
                msg = f"document {doc_index} has no sentences after splitting"
                raise InvalidSourcesError(msg)
            doc = SourceDocument(index=doc_index, text=text, metadata=metadata)
            for sent_index, (start, end) in enumerate(spans):
                sid = len(sentences) + 1
                sentences.append(
                    SourceSentence(
                        id=sid,
                        doc_index=doc_index,
                        sent_index=sent_index,
                        start=start,
                        end=end,
                        text=text[start:end],
                    )
                )
                doc.sentence_ids.append(sid)
            docs.append(doc)
        return cls(documents=docs, sentences=sentences)


def _locate_presplit(text: str, sentences: Any, doc_index: int) -> list[tuple[int, int]]:
    if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
        msg = f"document {doc_index}: metadata['sentences'] must be a list of strings"
        raise InvalidSourcesError(msg)
    spans: list[tuple[int, int]] = []
    cursor = 0
    # Blank pre-split sentences are kept (never offered to the planner) so that
    # in-document indices stay aligned with the dataset's own (e.g. gold links).
    for k, sentence in enumerate(sentences):
        start = text.find(sentence, cursor)
        if start < 0:
            msg = (
                f"document {doc_index}: pre-split sentence {k} ({sentence[:40]!r}...) "
                "does not occur in page_content after the previous sentence"
            )
            raise InvalidSourcesError(msg)
        spans.append((start, start + len(sentence)))
        cursor = start + len(sentence)
    return spans


_SPACE = re.compile(r"\s+")


def split_sentences(text: str, *, max_chars: int = MAX_BLOCK_CHARS) -> list[tuple[int, int]]:
    """Split ``text`` into sentence spans with pySBD.

    pySBD is rule-based (no model download) and handles abbreviations,
    decimals and quotes far better than a regex. Its time grows faster than
    linearly with its input, so the text is first cut into bounded blocks at
    paragraph breaks (and, in a very long paragraph, at the safest boundary;
    see :mod:`~langchain_genprog.segment.blocks`) and each block is split on
    its own, which keeps the whole near-linear. pySBD's own character spans
    drift on some inputs, so each segment is located in the text again here,
    which guarantees ``text[start:end]`` is exactly the sentence.
    """
    import pysbd

    segmenter = _segmenter(pysbd)
    spans: list[tuple[int, int]] = []
    for start, end in split_blocks(text, max_chars, abbreviations=_abbreviations()):
        spans.extend(_locate_segments(text, start, end, _segments(segmenter, text[start:end])))
    return _tile(text, spans)


def _segments(segmenter: Any, block: str) -> list[str]:
    """The sentences pySBD finds in ``block``, without its character-span pass.

    ``Segmenter.segment`` ends by finding each sentence in the text with a new
    regular expression per sentence, searched from the start of the text: that
    is quadratic, and the thousands of one-off patterns evict pySBD's own
    compiled rules from the ``re`` cache. The sentences are located here with
    ``str.find`` instead, so only the processing step is taken from pySBD.
    """
    processor = getattr(segmenter, "processor", None)
    if callable(processor):
        sentences = processor(block).process()
        if isinstance(sentences, list):
            return [s for s in sentences if isinstance(s, str)]
    segments: list[str] = segmenter.segment(block)
    return segments


def _locate_segments(
    text: str, start: int, end: int, segments: Sequence[str]
) -> list[tuple[int, int]]:
    """Find each segment of the block ``text[start:end]`` in ``text``, in order."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for segment in segments:
        piece = segment.strip()
        if not piece:
            continue
        found = text.find(piece, cursor, end)
        if found < 0:  # pySBD normalised whitespace inside the piece
            pattern = r"\s+".join(re.escape(tok) for tok in _SPACE.split(piece))
            match = re.compile(pattern).search(text, cursor, end)
            if match is None:
                continue
            found, stop = match.start(), match.end()
        else:
            stop = found + len(piece)
        spans.append((found, stop))
        cursor = stop
    return spans


def _tile(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Stretch spans so that no non-whitespace character falls between them.

    Text the segmenter skipped is attached to the following sentence (or the
    last one), so nothing in a source is ever silently left unnumbered.
    """
    if not spans:
        return [(0, len(text))] if text.strip() else []
    tiled: list[tuple[int, int]] = []
    prev_end = 0
    for start, end in spans:
        gap = text[prev_end:start]
        if gap.strip():
            start = prev_end + (len(gap) - len(gap.lstrip()))
        tiled.append((start, end))
        prev_end = end
    tail = text[prev_end:]
    if tail.strip():
        last_start, _ = tiled[-1]
        tiled[-1] = (last_start, len(text.rstrip()))
    return tiled


_SEGMENTERS = threading.local()


@functools.cache
def _abbreviations() -> frozenset[str]:
    """The English abbreviations pySBD knows, so that no block is cut after one."""
    try:
        from pysbd.lang.english import English

        return frozenset(English.Abbreviation.ABBREVIATIONS)
    except (ImportError, AttributeError):  # another pySBD layout: the short-word rule remains
        return frozenset()


def _segmenter(pysbd: Any) -> Any:
    # pySBD's Segmenter keeps the text being split on the instance, so one
    # shared instance garbles concurrent calls (e.g. graph.batch); keep one
    # per thread.
    segmenter = getattr(_SEGMENTERS, "en", None)
    if segmenter is None:
        segmenter = pysbd.Segmenter(language="en", clean=False)
        _SEGMENTERS.en = segmenter
    return segmenter
