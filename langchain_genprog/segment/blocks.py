"""Cut a document into bounded blocks before sentence splitting.

pySBD's time grows faster than linearly with the length of its input (measured:
0.3 s at 25 KB, 9 s at 200 KB, minutes at 2 MB), so a long document is never
handed to it whole. It is cut into blocks first, at boundaries that are
sentence boundaries anyway, and each block is split on its own; offsets are
shifted back, so every sentence still indexes the original text exactly.

Boundaries, from safest to last resort:

1. a blank line (paragraph break): always a cut, whatever the block length;
2. inside a paragraph longer than the block limit, in the second half of the
   window: the last line break (pySBD ends a sentence at every line break
   anyway), else the last sentence end (``.``, ``!``, ``?`` followed by space
   and a capital or digit, or CJK ``。！？``) that does not follow an
   abbreviation (pySBD's own list, a single letter, or a dotted word such as
   ``U.S.`` or ``a.m.``), else the last space;
3. a hard cut at the limit (text with no space or punctuation at all).

Blank lines and line breaks never change pySBD's result, so only a line longer
than the block limit can be split differently than pySBD would split it whole
(at a sentence end it would almost always have chosen too). The cost is linear
in the document length.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator

from langchain_genprog.limits import MAX_BLOCK_CHARS

Span = tuple[int, int]

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|[。！？]+")
_WORD_BEFORE = re.compile(r"(\S+)$")
_SPACE = re.compile(r"\s")


def split_blocks(
    text: str,
    max_chars: int = MAX_BLOCK_CHARS,
    *,
    abbreviations: Collection[str] = frozenset(),
) -> list[Span]:
    """Spans of ``text`` to split one by one, in order, none longer than ``max_chars``.

    The spans do not overlap; what lies between them is whitespace only, so no
    character of the text is lost.

    Args:
        text: The document text.
        max_chars: Longest block (at least 2).
        abbreviations: Lower-case words (without their period) after which a
            period does not end a sentence, e.g. pySBD's English list.
    """
    limit = max(2, max_chars)
    abbrevs = abbreviations if isinstance(abbreviations, (set, frozenset)) else set(abbreviations)
    return [
        block
        for start, end in _paragraphs(text)
        for block in _bounded(text, start, end, limit, abbrevs)
    ]


def _paragraphs(text: str) -> Iterator[Span]:
    start = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        if text[start : match.start()].strip():
            yield start, match.start()
        start = match.end()
    if text[start:].strip():
        yield start, len(text)


def _bounded(
    text: str, start: int, end: int, limit: int, abbreviations: Collection[str]
) -> Iterator[Span]:
    while end - start > limit:
        cut = _best_cut(text, start, start + limit, abbreviations)
        yield start, cut
        start = cut
    yield start, end


def _best_cut(text: str, lo: int, hi: int, abbreviations: Collection[str]) -> int:
    """Where to end the block that starts at ``lo`` (``lo < cut <= hi``)."""
    floor = lo + (hi - lo) // 2
    newline = text.rfind("\n", floor, hi)
    if newline >= 0:
        return newline + 1
    sentence_end = _last_sentence_end(text, floor, hi, abbreviations)
    if sentence_end is not None:
        return sentence_end
    window = text[floor:hi]
    for k in range(len(window) - 1, -1, -1):
        if window[k].isspace():
            return floor + k + 1
    cut = hi
    # Never separate a combining mark from its base character.
    while cut > lo + 1 and unicodedata.combining(text[cut]):
        cut -= 1
    return cut


def _last_sentence_end(text: str, lo: int, hi: int, abbreviations: Collection[str]) -> int | None:
    best: int | None = None
    for match in _SENTENCE_END.finditer(text, lo, hi):
        if text[match.start()] == "." and _abbreviation_before(text, match.start(), abbreviations):
            continue
        best = match.end()
    return best


def _abbreviation_before(text: str, period: int, abbreviations: Collection[str]) -> bool:
    """Whether the period at ``period`` probably ends an abbreviation (``Dr.``, ``a.m.``)."""
    found = _WORD_BEFORE.search(text, max(0, period - 24), period)
    word = found.group(1).lstrip("\"'“‘([") if found else ""
    return len(word) <= 1 or "." in word or word.lower() in abbreviations
