"""What every rewrite shares: the ``Rewrite`` record, preambles, rendering and case."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_genprog._text import display_text
from langchain_genprog.segment.words import tokens

OBJECTS = frozenset({"dobj", "attr", "acomp", "xcomp", "ccomp", "dative", "oprd", "pobj"})
_DATELINE = re.compile(r"^\s*[A-Z][A-Z .,'&/-]{1,50}(?:\([^()]{1,40}\))?\s*(?:--|—|–|-)\s+")
_UPDATE_LABEL = re.compile(
    r"^\s*(?:Last\s+)?(?:UPDATED|UPDATE|Updated|Update)\s*:\s*(?:[\d/.-]+\s+)?"
)
_PAGE_LINE = re.compile(r"^\s*Page \d+ of \d+\s*$")
_DEMONYM = ("can", "ian", "ese", "ish", "democratic")
"""Endings of adjectives made from names ("Republican", "Chinese"), which keep their capital."""
_HEADING_WORDS = 8
"""Most words in a heading line (a headline or photo credit glued to a sentence)."""


@dataclass(frozen=True)
class Rewrite:
    """One allowed output of a grounded operation.

    Attributes:
        text: The rewritten sentence.
        words: Its word count (as :func:`~langchain_genprog.ground.lexical.tokens` counts).
        how: The edits that made it, for traces (e.g. ``"drop appos, prep"``).
    """

    text: str
    words: int
    how: str


def word_count(text: str) -> int:
    """Words and numbers in ``text`` (punctuation not counted)."""
    return len(tokens(text))


def strip_preamble(text: str) -> str:
    r"""The sentence without a heading line or dateline in front of it, whitespace normalized.

    Scraped news pages glue a headline or a photo credit to the first
    sentence after it (``"Sure Things\nRepublican governors ... are expected
    to win."``); a dateline opens a wire story (``"SAN FRANCISCO (MarketWatch)
    -- Stocks fell."``); a page opens with a counter or an update label
    (``"Page 1 of 1\n UPDATED: A photo ..."``, ``"Updated: 07/13/2022 Power
    is ..."``). None is part of the claim, and a parser reads the heading as
    the sentence's subject. Removing them is a deletion, so it is
    as grounded as the rest. A heading line is a leading line in title case
    with no final punctuation, followed by a line that starts a sentence; a
    hard-wrapped sentence ("The company said on\nTuesday ...") is not one.
    """
    lines = text.splitlines()
    k = 0
    while k < len(lines) - 1 and _is_heading(lines[k], lines[k + 1 :]):
        k += 1
    body = " ".join(" ".join(lines[k:]).split())
    stripped = _UPDATE_LABEL.sub("", _DATELINE.sub("", body, count=1), count=1)
    return stripped if word_count(stripped) >= 3 else body


def leaf_text(text: str) -> str:
    """A source sentence as a program leaf, an extract and a repair use it.

    :func:`strip_preamble` on the raw text (a heading is told apart by its
    own line, which normalizing removes), then display-normalized.
    """
    return display_text(strip_preamble(text))


def _is_heading(line: str, rest: Sequence[str]) -> bool:
    line, after = line.strip(), " ".join(" ".join(rest).split())
    if not line or _PAGE_LINE.match(line):
        return word_count(after) >= 3
    words = [w for w in line.split() if any(c.isalpha() for c in w)]
    capitalized = sum(1 for w in words if w[0].isupper() or w[0].isdigit())
    return (
        word_count(line) <= _HEADING_WORDS
        and line[-1] not in ".!?:;,\"'”’)"
        and bool(words)
        and capitalized >= 0.6 * len(words)
        and after[:1].isupper()
        and word_count(after) >= 3
    )


# --------------------------------------------------------------------------- rendering


def render(doc: Any, drop: set[int]) -> str:
    """The text of ``doc`` without the tokens in ``drop``, punctuation repaired.

    Where a deleted run had whitespace in it, one space joins the tokens
    around it ("in prison, a fine, the Guard said" never becomes "prisonthe").
    """
    kept = [tok for tok in doc if tok.i not in drop]
    if not kept:  # "(I tried some.)": the parenthesis is the whole sentence
        return ""
    parts: list[str] = []
    for tok, nxt in zip(kept, [*kept[1:], None], strict=True):
        parts.append(tok.text)
        if nxt is None:
            break
        gap = range(tok.i, nxt.i)
        parts.append(" " if any(doc[k].whitespace_ for k in gap) else "")
    return tidy("".join(parts))


def tidy(text: str) -> str:
    """Whitespace, stray punctuation and empty brackets repaired; capital first, period last."""
    text = " ".join(text.split())
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"\s+([,;:.!?)])", r"\1", text)
    text = re.sub(r"([,;:])(\s*[,;:])+", r"\1", text)
    text = re.sub(r"[,;:]\s*([.!?])", r"\1", text)
    text = re.sub(r"^[\s,;:.\-–—]+", "", text)
    text = " ".join(text.split())
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    if text and text[-1] not in ".!?\"'”’":
        text += "."
    return text


def balanced(text: str, reference: str = "") -> bool:
    """Quotes and brackets paired, or left exactly as unpaired as in ``reference``.

    Source sentences split by a sentence splitter often carry one half of a
    quotation; a rewrite may keep that half, but must not create a new one.
    """
    marks = ('"', "“", "”", "(", ")")
    if all(text.count(m) == reference.count(m) for m in marks) and reference:
        return True
    return (
        text.count('"') % 2 == 0
        and text.count("(") == text.count(")")
        and text.count("“") == text.count("”")
    )


def starts_name(first: Any) -> bool:
    """Whether a first word keeps its capital inside a sentence (a name, "I", an acronym)."""
    acronym = len(first.text) > 1 and first.text.isupper()  # "NASA", not the article "A"
    # "Republican governors", "Chinese officials": an adjective made from a name
    # keeps its capital (the embedded parser runs without NER, so by its ending)
    named = first.pos_ == "ADJ" and first.text[:1].isupper() and first.lower_.endswith(_DEMONYM)
    return bool(first.pos_ == "PROPN" or first.text == "I" or acronym or named)


def lower_first(span: Any, text: str | None = None) -> str:
    """A span's text (or ``text``, which it starts) with its first letter lower-cased.

    Names, "I" and acronyms keep their capital.
    """
    shown: str = span.text if text is None else text
    if starts_name(span[0]):
        return shown
    return shown[:1].lower() + shown[1:]


def lowerable(first: Any) -> bool:
    """Whether a sentence's first word can move inside a sentence without a guess at its case.

    A name keeps its capital and a function word ("The", "His") loses it; a
    capitalized noun or adjective may be either ("Thebes grew", "Gold's
    parents said" are names the tagger calls nouns), so a reordering that
    would move it is not offered rather than risk turning a name into a word.
    """
    return (
        starts_name(first)
        or not first.text[:1].isupper()
        or first.pos_ in {"DET", "PRON", "ADP", "SCONJ", "CCONJ", "PART", "AUX", "ADV"}
    )


def body(text: str) -> str:
    """A sentence without its final punctuation."""
    return text.rstrip().rstrip(".!?;:").rstrip()


def has_other_complement(head: Any, tok: Any) -> bool:
    """Whether ``head`` keeps a complement after it once ``tok`` is gone.

    "The calls originated from Annapolis" must keep "from Annapolis": without
    it the verb is left hanging. A fronted phrase does not count.
    """
    return any(
        c.i != tok.i and c.i > head.i and (c.dep_ in OBJECTS or c.dep_ == "prep")
        for c in head.children
    )


def root_sentence(doc: Any) -> Any:
    """The first sentence of a parse (a leaf is one sentence; a fusion's input starts one)."""
    return next(iter(doc.sents))
