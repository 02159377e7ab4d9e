"""Fusions: ordered parts of each input joined by a closed set of neutral joins."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_genprog.models.spacy_pipeline import load_spacy, parse
from langchain_genprog.operations.rewrites.deletions import compressions
from langchain_genprog.operations.rewrites.text import (
    Rewrite,
    balanced,
    body,
    lower_first,
    root_sentence,
    strip_preamble,
    tidy,
    word_count,
)
from langchain_genprog.segment.words import content_words, tokens

JOINS: tuple[str, ...] = (", and ", "; ")
"""The closed set of joins a fusion may add between its parts."""

_CONTAINED = 0.8
"""Share of an input's content words found in another input at which it adds nothing."""
_OPENER = re.compile(r"^(?:and yet|and|but|yet|so|also|however|still)\b,?\s+", re.IGNORECASE)
"""A connective a joined part may open with; the join supplies its own."""
_PARTS = 6
"""Most compressions of one input offered as its part of a fusion."""


@dataclass(frozen=True)
class _Part:
    text: str  # without final punctuation
    words: int
    how: str


def _parts(text: str, nlp: Any, *, first: bool) -> list[_Part]:
    source = strip_preamble(text)
    doc = parse(source, nlp)
    whole = _Part(body(tidy(source)), word_count(source), "whole")
    shorter = [
        _Part(body(r.text), r.words, r.how)
        for r in _spread(compressions(source, max_ratio=0.85, min_words=3, nlp=nlp), _PARTS)
    ]
    parts = [whole, *shorter]
    if first:
        return parts
    span = doc[:]
    return [_Part(lower_first(span, _without_opener(p.text)), p.words, p.how) for p in parts]


def shortest_part(text: str, nlp: Any = None) -> int:
    """Words of the shortest part ``text`` can contribute to a fusion (itself, or a compression)."""
    source = strip_preamble(text)
    found = compressions(source, max_ratio=0.85, min_words=3, nlp=nlp)
    return min([word_count(source), *(r.words for r in found)])


def _spread(rewrites: Sequence[Rewrite], most: int) -> list[Rewrite]:
    """At most ``most`` of ``rewrites`` (longest first), spread over their lengths.

    The longest alone would all be too long to fuse with a second sentence
    within the fusion's bound; the shortest alone would lose the most.
    """
    if len(rewrites) <= most:
        return list(rewrites)
    step = (len(rewrites) - 1) / (most - 1)
    return [rewrites[round(k * step)] for k in range(most)]


def _without_opener(text: str) -> str:
    """A joined part without its own opening conjunction ("And yet, X" after ", and")."""
    stripped = _OPENER.sub("", text, count=1)
    return stripped[:1].upper() + stripped[1:] if stripped and word_count(stripped) >= 3 else text


def _subject(doc: Any) -> tuple[str, int] | None:
    sent = root_sentence(doc)
    for child in sent.root.children:
        if child.dep_ in {"nsubj", "nsubjpass"} and child.left_edge.i == sent.start:
            return doc[sent.start : child.right_edge.i + 1].text, child.right_edge.i + 1
    return None


def _shared_subject(texts: Sequence[str], nlp: Any) -> list[Rewrite]:
    if len(texts) != 2:
        return []
    docs = [parse(strip_preamble(t), nlp) for t in texts]
    subjects = [_subject(doc) for doc in docs]
    if subjects[0] is None or subjects[1] is None:
        return []
    if subjects[0][0].lower() != subjects[1][0].lower():
        return []
    predicate = body(tidy(docs[1][subjects[1][1] :].text))
    text = tidy(f"{body(tidy(docs[0].text))} and {predicate[:1].lower()}{predicate[1:]}.")
    return [Rewrite(text, word_count(text), "shared subject")]


def fusions(
    texts: Sequence[str], *, max_ratio: float = 0.75, limit: int = 32, nlp: Any = None
) -> list[Rewrite]:
    """Fusions of ``texts``: ordered parts of each, joined by :data:`JOINS`.

    Args:
        texts: Two or more input sentences, in order.
        max_ratio: Longest allowed output, as a share of the inputs' words together.
        limit: Most rewrites returned; those that keep the most of their
            least-kept input come first, so that no input is all but dropped.
        nlp: A spaCy pipeline with a parser (default: the embedded one).

    Returns:
        The rewrites; when none is short enough, the shortest few that exist.
    """
    nlp = nlp or load_spacy()
    texts = _distinct(texts)
    if len(texts) == 1:  # fusion(S3, compression(S3)): one input says it all
        whole = tidy(strip_preamble(texts[0]))
        return [Rewrite(whole, word_count(whole), "one input contains the others")]
    total = sum(word_count(t) for t in texts)
    options = [_parts(t, nlp, first=k == 0) for k, t in enumerate(texts)]
    pool = list(_shared_subject(texts, nlp))
    for combo in itertools.product(*options):
        for join in JOINS:
            body = combo[0].text
            for k, part in enumerate(combo[1:], start=1):
                sep = join if k == len(combo) - 1 else "; "
                body = f"{body}{sep}{part.text}"
            text = tidy(body + ".")
            how = " + ".join(p.how for p in combo) + f" joined by {join.strip()!r}"
            pool.append(Rewrite(text, word_count(text), how))
    joined = " ".join(texts)
    unique = {r.text: r for r in pool if balanced(r.text, joined)}
    fits = [r for r in unique.values() if r.words <= max_ratio * total]
    if not fits:
        fits = sorted(unique.values(), key=lambda r: r.words)[:4]
    fits.sort(key=lambda r: (-_least_kept(r.text, texts), -r.words, r.text))
    return fits[:limit]


def _distinct(texts: Sequence[str]) -> list[str]:
    """The inputs without those whose content another input already holds.

    Joining a sentence with its own compression would say one thing twice.
    """
    words = [set(content_words(t)) for t in texts]
    kept = []
    for k, text in enumerate(texts):
        contained = any(
            j != k
            and words[k]
            and len(words[k] & words[j]) / len(words[k]) >= _CONTAINED
            and (len(words[j]) > len(words[k]) or (len(words[j]) == len(words[k]) and j < k))
            for j in range(len(texts))
        )
        if not contained:
            kept.append(text)
    return kept or [texts[0]]


def _least_kept(text: str, texts: Sequence[str]) -> float:
    """The smallest share of any input's words that ``text`` keeps."""
    kept = set(tokens(text))
    shares = []
    for source in texts:
        words = set(tokens(source))
        shares.append(len(words & kept) / len(words) if words else 1.0)
    return min(shares)
