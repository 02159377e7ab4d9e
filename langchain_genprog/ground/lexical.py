"""The cheap grounding check: are a sentence's content words and numbers in its sources?

A citation promises that the cited source sentences say what the answer
sentence says. The first, cheapest test of that promise needs no model: every
name, number and content word of the answer sentence should occur in the
sentences it cites. It cannot prove support (``"Smith beat Jones"`` and
``"Jones beat Smith"`` share every word), but it catches what small models
actually do wrong — invented topics, names and numbers — and it decides where
the costlier measurement (MExGen) is worth spending.

Words are compared as :mod:`~langchain_genprog.segment.words` defines them.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from langchain_genprog.segment.words import content_words, fold, is_number, tokens

DEFAULT_MIN_COVERAGE = 0.7
"""Share of content words that must be found in the cited sources (the issue's bar)."""


class LexicalVerdict(BaseModel):
    """How much of an answer sentence is found, word for word, in its cited sources.

    Attributes:
        coverage: Share of the sentence's content words found in the sources
            (1.0 when the sentence has no content word).
        content_words: Number of distinct content words in the sentence.
        missing_words: Content words found in no cited source.
        missing_numbers: Numbers found in no cited source (any one fails the check).
        grounded: ``coverage >= min_coverage`` and no missing number.
    """

    model_config = ConfigDict(frozen=True)

    coverage: float = Field(ge=0.0, le=1.0)
    content_words: int = Field(ge=0)
    missing_words: list[str] = Field(default_factory=list)
    missing_numbers: list[str] = Field(default_factory=list)
    grounded: bool

    def reason(self) -> str:
        """One line for reports: why the sentence passed or failed."""
        text = f"{self.coverage:.0%} of {self.content_words} content words in the cited sources"
        if self.missing_numbers:
            text += f"; numbers not in them: {', '.join(self.missing_numbers)}"
        if self.missing_words and not self.grounded:
            text += f"; missing: {', '.join(self.missing_words[:8])}"
        return text


def lexical_verdict(
    sentence: str,
    sources: Iterable[str],
    *,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> LexicalVerdict:
    """Check an answer sentence against the texts it cites.

    Args:
        sentence: The answer sentence.
        sources: The cited source sentences (their text).
        min_coverage: Share of content words that must be found.

    Returns:
        The verdict, with what is missing.
    """
    words = content_words(sentence)
    pool = [t for text in sources for t in tokens(text)]
    exact = set(pool)
    folded = {fold(t) for t in pool}
    missing = [w for w in words if w not in exact and fold(w) not in folded]
    numbers = [w for w in missing if is_number(w)]
    coverage = 1.0 - len(missing) / len(words) if words else 1.0
    return LexicalVerdict(
        coverage=coverage,
        content_words=len(words),
        missing_words=missing,
        missing_numbers=numbers,
        grounded=coverage >= min_coverage and not numbers,
    )
