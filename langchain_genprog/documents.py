"""Plain-text documents from files, a folder, a stream (stdin) or a JSONL file.

These are the inputs ``genprog answer`` and ``genprog attribute`` accept. They
sit apart from the CLI so that a script (or a notebook) reads sources exactly as
the command line does, and so that every way of giving no usable text fails
here, at the entrance, with an error that names the file — rather than later,
as a numbered document that :class:`~langchain_genprog.segment.Sources` finds empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from langchain_core.documents import Document

from langchain_genprog.errors import InvalidInputError, InvalidSourcesError

TEXT_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".text")
"""File endings :func:`documents_from_dir` reads as plain text."""

__all__ = [
    "TEXT_SUFFIXES",
    "documents_from_dir",
    "documents_from_files",
    "documents_from_jsonl",
    "documents_from_stream",
    "iter_jsonl",
]


def documents_from_files(paths: Iterable[str | Path]) -> list[Document]:
    """One document per UTF-8 text file, titled by its file name.

    Raises:
        InvalidInputError: If a file is missing or not UTF-8.
        InvalidSourcesError: If a file holds only whitespace.
    """
    return [_read_text_file(str(path)) for path in paths]


def documents_from_dir(folder: str | Path) -> list[Document]:
    """One document per plain-text file directly in ``folder``, in file-name order.

    Only names ending in :data:`TEXT_SUFFIXES` are read, and hidden files are
    skipped, so a folder of notes with an odd binary or editor file in it still
    works; sub-folders are not entered (the folder is the unit the user chose).

    Raises:
        InvalidInputError: If ``folder`` is not a directory or holds no text file.
        InvalidSourcesError: If a text file in it holds only whitespace.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInputError(f"{root} is not a directory")
    files = sorted(
        p
        for p in root.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in TEXT_SUFFIXES
    )
    if not files:
        endings = ", ".join(TEXT_SUFFIXES)
        raise InvalidInputError(f"{root} holds no plain-text files (names ending in {endings})")
    return documents_from_files(files)


def documents_from_stream(stream: IO[str], *, name: str = "stdin") -> list[Document]:
    """The whole stream as one document (``genprog answer -``).

    Raises:
        InvalidSourcesError: If the stream holds only whitespace.
    """
    text = stream.read()
    if not text.strip():
        raise InvalidSourcesError(f"{name} is empty: pipe the document's text in")
    return [Document(page_content=text, metadata={"source": name, "title": name})]


def documents_from_jsonl(path: str | Path) -> list[Document]:
    """Documents from JSON Lines with a ``page_content`` (or ``text``) string per line.

    An optional ``metadata`` object is kept; blank lines are skipped.

    Raises:
        InvalidInputError: On invalid JSON, a line without text, or no documents.
    """
    docs: list[Document] = []
    for number, record in iter_jsonl(path):
        text = record.get("page_content", record.get("text"))
        if not isinstance(text, str):
            raise InvalidInputError(f"{path}:{number}: needs a 'page_content' or 'text' string")
        docs.append(Document(page_content=text, metadata=record.get("metadata") or {}))
    if not docs:
        raise InvalidInputError(f"{path} holds no documents")
    return docs


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSON Lines file.

    Shared by every JSONL reader (documents here, evaluation datasets) so that
    they fail alike, naming the file and the line.

    Raises:
        InvalidInputError: If the file is missing, a line is not JSON, or not an object.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist or is not a file")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise InvalidInputError(f"{path}:{number}: invalid JSON ({err.msg})") from err
            if not isinstance(record, dict):
                raise InvalidInputError(f"{path}:{number}: expected a JSON object per line")
            yield number, record


def _read_text_file(path: str) -> Document:
    """The file as a document whose ``source`` is the path as the user wrote it."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise InvalidInputError(f"cannot read {path}: {err.strerror or err}") from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        msg = f"{path} is not UTF-8 (byte {err.start}); convert it, e.g. with iconv"
        raise InvalidInputError(msg) from err
    if not text.strip():
        raise InvalidSourcesError(f"{path} is empty")
    return Document(page_content=text, metadata={"source": path, "title": Path(path).name})
