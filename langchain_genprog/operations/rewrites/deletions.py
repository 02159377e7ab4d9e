"""Compressions: deletions of whole constituents, checked to leave a complete sentence."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from langchain_genprog.models.spacy_pipeline import parse
from langchain_genprog.operations.rewrites.text import (
    OBJECTS,
    Rewrite,
    balanced,
    has_other_complement,
    render,
    strip_preamble,
    tidy,
    word_count,
)

_CONDITIONAL_MARKS = frozenset({"if", "unless", "whether", "provided", "lest"})
_DANGLING = frozenset({"AUX", "ADP", "CCONJ", "SCONJ", "DET", "PART"})
"""Word classes a sentence cannot end on (what is left when a complement was cut)."""
_MAX_SPANS = 12
_MAX_DELETIONS = 3


def _removable(doc: Any) -> list[tuple[set[int], str]]:
    """Token sets that may be deleted, each a whole constituent with its punctuation."""
    spans: list[tuple[set[int], str]] = []
    roots = {sent.root.i for sent in doc.sents}
    for tok in doc:
        if tok.i in roots or not _deletable(tok):
            continue
        start, end = tok.left_edge.i, tok.right_edge.i + 1
        if tok.dep_ == "conj":
            start = _conj_start(tok, start)
        if any(r in range(start, end) for r in roots) or not _at_word_edges(doc, start, end):
            continue
        spans.append((_with_punctuation(doc, start, end), tok.dep_))
    spans.extend(_parentheticals(doc))
    unique: dict[frozenset[int], str] = {}
    for span, dep in spans:
        unique.setdefault(frozenset(span), dep)
    ranked = sorted(unique.items(), key=lambda item: -len(item[0]))[:_MAX_SPANS]
    return [(set(span), dep) for span, dep in ranked]


def _at_word_edges(doc: Any, start: int, end: int) -> bool:
    """Whether ``[start, end)`` is whole words (not "GOP" out of "GOP-held")."""
    opening = {"(", '"', "“", "'", "‘"}
    left = start == 0 or bool(doc[start - 1].whitespace_) or doc[start - 1].text in opening
    right = end == len(doc) or bool(doc[end - 1].whitespace_)
    right = right or (doc[end].is_punct and doc[end].text not in {"-", "/"})
    return left and right


def _deletable(tok: Any) -> bool:
    dep, head = tok.dep_, tok.head
    if tok.left_edge.i == tok.sent.start and not _subject_follows(tok):
        return False  # "Behind the fight are a few words": the phrase holds the clause up
    if _before_subject(tok) and not _followed_by_comma(tok):
        # "that only around 1968 did human rights become": the inversion needs
        # its phrase; "In his book The Last Utopia: Human Rights in History
        # (2010), Moyn argues" is a misparse at the colon. Set off by a comma
        # ("In 2008, the company ...") a fronted phrase can go.
        return False
    if dep == "appos":  # only when set off: "Smith, the mayor, said"
        return bool(tok.left_edge.i > 0 and tok.doc[tok.left_edge.i - 1].text in {",", "(", "--"})
    if dep in {"parataxis", "npadvmod"}:  # "..., officials said" / "tonight", on the main verb
        return bool(head.pos_ in {"VERB", "AUX"} and head.dep_ == "ROOT")
    if dep in {"relcl", "acl"} or (dep == "amod" and tok.right_edge.i > tok.i):
        # non-restrictive only: ", which met on Monday" / ", punishable by ..."
        return bool(tok.left_edge.i > 0 and tok.doc[tok.left_edge.i - 1].text == ",")
    if dep == "advcl":  # "because I hate them" may be all that "is" says
        marks = {c.lower_ for c in tok.children if c.dep_ == "mark"}
        fronted = tok.left_edge.i == tok.sent.start
        return not marks & _CONDITIONAL_MARKS and (fronted or has_other_complement(head, tok))
    if dep == "advmod":
        return bool(tok.left_edge.i == tok.sent.start and _followed_by_comma(tok))
    if dep == "prep":
        return bool(head.pos_ in {"VERB", "AUX"} and has_other_complement(head, tok))
    if dep == "conj":
        return bool(tok.pos_ in {"VERB", "AUX"} and head.dep_ == "ROOT")
    return False


def _subject_follows(tok: Any) -> bool:
    """Whether the main clause has its subject between ``tok``'s phrase and its verb."""
    root = tok.sent.root
    return any(
        c.dep_ in {"nsubj", "nsubjpass", "expl", "csubj"} and tok.right_edge.i < c.i < root.i
        for c in root.children
    )


def _before_subject(tok: Any) -> bool:
    """Whether ``tok``'s phrase comes before the subject of the clause it belongs to."""
    return any(
        c.dep_ in {"nsubj", "nsubjpass", "expl", "csubj"} and tok.right_edge.i < c.left_edge.i
        for c in tok.head.children
    )


def _followed_by_comma(tok: Any) -> bool:
    nxt = tok.right_edge.i + 1
    return bool(nxt < len(tok.doc) and tok.doc[nxt].text == ",")


def _conj_start(tok: Any, start: int) -> int:
    """A coordinated clause is deleted with its ``and``/``but`` (and a comma before it)."""
    for child in tok.head.children:
        if child.dep_ == "cc" and child.i < tok.i:
            start = min(start, child.i)
    return start


def _with_punctuation(doc: Any, start: int, end: int) -> set[int]:
    """Extend ``[start, end)`` by the commas or dashes that set it off."""
    span = set(range(start, end))
    before = doc[start - 1] if start > 0 else None
    after = doc[end] if end < len(doc) else None
    sets_off = {",", "--", "—", "–"}
    if before is not None and before.text in sets_off:
        span.add(before.i)
        resumes = end + 1 < len(doc) and doc[end + 1].pos_ in {"VERB", "AUX"}
        if after is not None and after.text == before.text and resumes:
            span.add(after.i)  # "X, who is Y, said" -> "X said": both marks go
    elif after is not None and after.text == "," and start == doc[start].sent.start:
        span.add(after.i)  # "However, X" -> "X"
    return span


def _parentheticals(doc: Any) -> Iterable[tuple[set[int], str]]:
    opened: int | None = None
    for tok in doc:
        if tok.text == "(":
            opened = tok.i
        elif tok.text == ")" and opened is not None:
            yield set(range(opened, tok.i + 1)), "parenthesis"
            opened = None


def _still_complete(doc: Any, drop: set[int]) -> bool:
    """Whether a verb is left, none that lost a phrase hangs, and nothing ends on a joint."""
    kept = [t for t in doc if t.i not in drop]
    if not any(t.pos_ in {"VERB", "AUX"} for t in kept):
        return False
    words = [t for t in kept if not t.is_punct]
    if words and words[-1].pos_ in _DANGLING:
        return False  # "... the monitor is." / "... a proxy for a."
    for tok in doc:
        if tok.i not in drop or tok.dep_ != "prep" or tok.head.i in drop:
            continue
        head = tok.head
        if not any(
            c.i > head.i and c.i not in drop and (c.dep_ in OBJECTS or c.dep_ == "prep")
            for c in head.children
        ):
            return False
    return True


def _deletion_rewrites(doc: Any) -> list[Rewrite]:
    if any(sent.root.pos_ not in {"VERB", "AUX"} for sent in doc.sents):
        return []  # a verbless or misparsed sentence: deletions would be guesses
    if any(tok.dep_ == "dep" for tok in doc):
        # The parser could not attach a word: in "A decision giving states the
        # ability ..., confers power on the states, Kousser says" it made
        # "decision" a loose word and "confers" a clause of "ability", which
        # then looked deletable and took the claim's verb with it.
        return []
    spans = _removable(doc)
    seen: dict[str, Rewrite] = {}
    for size in range(1, min(_MAX_DELETIONS, len(spans)) + 1):
        for combo in itertools.combinations(spans, size):
            drop = set().union(*(span for span, _ in combo))
            text = render(doc, drop)
            if not _still_complete(doc, drop):
                continue
            if text and balanced(text, doc.text) and text not in seen:
                how = "drop " + ", ".join(dep for _, dep in combo)
                seen[text] = Rewrite(text, word_count(text), how)
    return list(seen.values())


def compressions(
    text: str, *, max_ratio: float = 0.7, min_words: int = 4, limit: int = 24, nlp: Any = None
) -> list[Rewrite]:
    """Deletion-only compressions of ``text`` of at most ``max_ratio`` of its words.

    Args:
        text: The input sentence (or sentences).
        max_ratio: Longest allowed output, as a share of the input's words.
        min_words: Shortest allowed output.
        limit: Most rewrites returned (the longest ones that fit are kept:
            they lose the least content).
        nlp: A spaCy pipeline with a parser (default: the embedded one).

    Returns:
        The rewrites, longest first; empty when nothing can be removed.
    """
    source = " ".join(text.split())
    total = word_count(source)
    doc = parse(strip_preamble(text), nlp)
    pool = _deletion_rewrites(doc)
    dateline_free = tidy(doc.text)
    if word_count(dateline_free) < total:
        pool.append(Rewrite(dateline_free, word_count(dateline_free), "drop heading or dateline"))
    fits = [r for r in pool if min_words <= r.words <= max_ratio * total]
    fits.sort(key=lambda r: (-r.words, r.text))
    return fits[:limit]
