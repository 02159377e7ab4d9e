"""A small example that ships with the package: three short documents and a question.

``genprog answer --sample`` (and ``make demo``) answers it, so the first
command of the README runs from a plain ``pip install`` or clone, with no
dataset next to it. The documents are self-written news-style reports about a
fictional town (public domain, see ``README.txt`` here), short enough for the
embedded 135M model to plan over in seconds.
"""

from __future__ import annotations

from importlib import resources

from langchain_core.documents import Document

from langchain_genprog.documents import documents_from_dir

__all__ = ["sample_documents", "sample_question"]


def sample_documents() -> list[Document]:
    """The three sample documents, read as ``genprog answer --docs-dir`` reads a folder.

    The package data is read in place: a wheel installs it as plain files.
    """
    folder = resources.files(__name__) / "sample"
    return documents_from_dir(str(folder))


def sample_question() -> str:
    """The question the sample documents answer."""
    return (resources.files(__name__) / "question.txt").read_text(encoding="utf-8").strip()
