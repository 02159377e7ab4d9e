"""Dataset loaders: the Attribute-First-then-Generate format and our own JSONL.

Both produce :class:`Example` objects whose documents carry pre-split
sentences (``metadata["sentences"]``), so the numbering S1..SN matches the
dataset's own sentence indices and gold links can be compared directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from pydantic import BaseModel, Field

from langchain_genprog.documents import iter_jsonl
from langchain_genprog.errors import InvalidInputError


class GoldLink(BaseModel):
    """A gold alignment: answer sentence → one source sentence.

    Attributes:
        answer_sentence: The reference sentence (as written in the response).
        doc_index: 0-based document index.
        sent_index: 0-based sentence index inside the document.
    """

    answer_sentence: str
    doc_index: int
    sent_index: int


class Example(BaseModel):
    """One evaluation example.

    Attributes:
        id: Unique id.
        question: The question, or ``None`` for summarization.
        documents: Each document's sentences (already split) and metadata.
        reference: Reference answer, if any.
        gold: Gold links from reference sentences to source sentences.
    """

    id: str
    question: str | None = None
    documents: list[dict[str, Any]] = Field(default_factory=list)
    reference: str | None = None
    gold: list[GoldLink] = Field(default_factory=list)

    def to_documents(self) -> list[Document]:
        """LangChain documents whose ``metadata["sentences"]`` keeps the dataset's split."""
        docs: list[Document] = []
        for k, doc in enumerate(self.documents):
            metadata = {key: v for key, v in doc.items() if key not in ("sentences", "text")}
            sentences = doc.get("sentences")
            if sentences:
                metadata["sentences"] = list(sentences)
                text = doc.get("text") or " ".join(sentences)
            elif doc.get("text"):
                text = doc["text"]
            else:
                msg = f"example {self.id}: document {k} has neither 'text' nor 'sentences'"
                raise InvalidInputError(msg)
            docs.append(Document(page_content=text, metadata=metadata))
        return docs


def load_aftg(path: str | Path, *, limit: int | None = None) -> list[Example]:
    """Load an Attribute-First-then-Generate split (JSON Lines, one example per line).

    Args:
        path: e.g. ``.../attribute-first-then-generate/MDS/dev.json``.
        limit: Read at most this many examples.

    Raises:
        InvalidInputError: If the file is missing or a line is not an example.
    """
    return list(_take(_iter_aftg(Path(path)), limit))


def _iter_aftg(path: Path) -> Iterator[Example]:
    for number, record in iter_jsonl(path):
        try:
            docs = record["documents"]
            names = [d.get("documentFile", f"doc{k}") for k, d in enumerate(docs)]
            documents = [
                {
                    "sentences": [s for s in d["documentText"]],
                    "title": d.get("documentTitle") or d.get("documentFile") or f"Document {k + 1}",
                    "documentFile": d.get("documentFile"),
                    "url": d.get("documentUrl"),
                }
                for k, d in enumerate(docs)
            ]
            gold = [
                GoldLink(
                    answer_sentence=h["scuSentence"],
                    doc_index=names.index(h["documentFile"]),
                    sent_index=int(h["sent_idx"]),
                )
                for h in record.get("set_of_highlights_in_context", [])
                if h.get("documentFile") in names
            ]
        except (KeyError, TypeError, ValueError) as err:
            msg = f"{path}:{number}: not an Attribute-First-then-Generate example ({err!r})"
            raise InvalidInputError(msg) from err
        yield Example(
            id=str(record.get("unique_id", number)),
            question=(record.get("query") or "").strip() or None,
            documents=documents,
            reference=record.get("response"),
            gold=gold,
        )


def load_jsonl(path: str | Path, *, limit: int | None = None) -> list[Example]:
    """Load our own JSONL format: one example per line.

    Each line: ``{"id": str, "question": str|null, "documents": [{"text": str}
    | {"sentences": [str, ...]} , ...], "reference": str|null, "gold":
    [{"answer_sentence": str, "doc_index": int, "sent_index": int}, ...]}``.
    Documents given as ``text`` are split into sentences when used.
    """
    examples: list[Example] = []
    for number, record in iter_jsonl(path):
        try:
            examples.append(Example.model_validate(record))
        except ValueError as err:
            raise InvalidInputError(f"{path}:{number}: {err}") from err
        if limit is not None and len(examples) >= limit:
            break
    return examples


def _take(items: Iterator[Example], limit: int | None) -> Iterator[Example]:
    for k, item in enumerate(items):
        if limit is not None and k >= limit:
            return
        yield item
