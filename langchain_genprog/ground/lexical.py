"""The cheap grounding check: are a sentence's content words and numbers in its sources?

A citation promises that the cited source sentences say what the answer
sentence says. The first, cheapest test of that promise needs no model: every
name, number and content word of the answer sentence should occur in the
sentences it cites. It cannot prove support (``"Smith beat Jones"`` and
``"Jones beat Smith"`` share every word), but it catches what small models
actually do wrong — invented topics, names and numbers — and it decides where
the costlier measurement (MExGen) is worth spending.

The word list and the suffix folding are written here rather than taken from
spaCy or NLTK so that the check runs in the core install (no model, no
download) and gives the same verdict everywhere; they only need to be good
enough to tell "copied or lightly reworded" from "not in the source".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MIN_COVERAGE = 0.7
"""Share of content words that must be found in the cited sources (the issue's bar)."""

_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|\d+(?:[.,:/]\d+)*")
_NUMBER_WORD_SEP = re.compile(r"[,]")

FUNCTION_WORDS = frozenset(
    {
        *("a", "an", "the", "this", "that", "these", "those", "some", "any", "each", "every"),
        *("all", "both", "either", "neither", "no", "not", "nor", "and", "or", "but", "so"),
        *("yet", "if", "then", "than", "as", "because", "while", "when", "where", "whereas"),
        *("after", "before", "since", "until", "unless", "though", "although", "whether"),
        *("of", "in", "on", "at", "to", "for", "from", "by", "with", "without", "about"),
        *("into", "onto", "over", "under", "between", "among", "through", "during", "within"),
        *("against", "across", "along", "around", "behind", "beyond", "up", "down", "out"),
        *("off", "per", "via", "upon", "according", "also", "too", "very", "just", "only"),
        *("i", "me", "my", "we", "us", "our", "you", "your", "he", "him", "his", "she", "her"),
        *("it", "its", "they", "them", "their", "who", "whom", "whose", "which", "what"),
        *("how", "why", "there", "here", "be", "is", "am", "are", "was", "were", "been"),
        *("being", "have", "has", "had", "having", "do", "does", "did", "will", "would"),
        *("shall", "should", "can", "could", "may", "might", "must", "s", "t", "n't"),
        *("said", "says", "say", "told", "added", "noted", "stated", "reported", "such"),
        *("more", "most", "other", "another", "same", "own", "now", "still", "even"),
    }
)
"""Words that carry no checkable content (function words and reporting verbs).

Reporting verbs are here because fusing "X said A" with "Y said B" may keep
only one "said"; whether a claim is attributed is the measurement's job.
"""


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


def tokens(text: str) -> list[str]:
    """Lower-cased word and number tokens (``"$1,200"`` → ``"1200"``)."""
    found = []
    for match in _TOKEN.findall(text):
        token = match.lower().replace("’", "'")
        if token[0].isdigit():
            token = _NUMBER_WORD_SEP.sub("", token)
        elif token.endswith("'s"):
            token = token[:-2]
        found.append(token)
    return found


def fold(word: str) -> str:
    """A crude suffix fold so that inflected forms match (``approved`` ~ ``approves``).

    Only for comparison; numbers are returned unchanged.
    """
    if word[0].isdigit() or len(word) <= 4:
        return word
    for suffix in ("ingly", "edly", "ing", "ies", "ied", "es", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Distinct content words and numbers of ``text``, in order of first occurrence."""
    return list(dict.fromkeys(t for t in tokens(text) if t not in FUNCTION_WORDS))


def is_number(token: str) -> bool:
    """Whether a token from :func:`tokens` is a number."""
    return token[0].isdigit()


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


def new_words(output: str, inputs: Sequence[str]) -> list[str]:
    """Tokens of ``output`` that occur in none of ``inputs`` (function words included).

    The strict form of the check, used on constrained operations: their output
    may only reuse the inputs' words and a closed list of joining words.
    """
    seen = {t for text in inputs for t in tokens(text)}
    return [t for t in tokens(output) if t not in seen]
