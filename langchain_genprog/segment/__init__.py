"""Step 1 — segment: source documents into numbered sentences, and relevance pre-selection."""

from langchain_genprog.segment.sources import (
    SourceDocument,
    Sources,
    SourceSentence,
    split_sentences,
)

__all__ = ["SourceDocument", "SourceSentence", "Sources", "split_sentences"]
