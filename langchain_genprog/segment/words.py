"""Words as the grounding checks count them: tokens, content words, numbers.

The word list and the suffix folding are written here rather than taken from
spaCy or NLTK so that the checks run in the core install (no model, no
download) and give the same verdict everywhere; they only need to be good
enough to tell "copied or lightly reworded" from "not in the source".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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


def new_words(output: str, inputs: Sequence[str]) -> list[str]:
    """Tokens of ``output`` that occur in none of ``inputs`` (function words included).

    The strict form of the check, used on constrained operations: their output
    may only reuse the inputs' words and a closed list of joining words.
    """
    seen = {t for text in inputs for t in tokens(text)}
    return [t for t in tokens(output) if t not in seen]


def near_duplicate(
    words: set[str], earlier: Sequence[tuple[int, set[str]]], threshold: float
) -> int | None:
    """The key of the first earlier word set as similar to ``words`` as ``threshold``.

    Similarity is the Jaccard index of content words: a sentence that says the
    same as one before it. ``None`` when there is none.
    """
    for key, other in earlier:
        union = words | other
        if union and len(words & other) / len(union) >= threshold:
            return key
    return None
