"""Splitting text into sentences, phrases and words with a spaCy dependency parse.

MExGen's phrase level follows the syntax rather than a fixed window: a
sentence whose parse subtree is too long is cut into the subtrees of its
root's children plus the root itself, recursively, so that every phrase is a
syntactic constituent ("over the lazy dog", "in 1903 and in Chemistry") of at
most ``max_phrase_length`` content tokens. Punctuation and lone function words
(auxiliaries, negation, determiners, conjunctions, markers) then join a
neighbour, because removing "not" or "the" on its own says little about which
*content* the answer relied on.

Every split returns ``(start, end)`` spans that tile the text exactly
(whitespace included), so removing all the phrases of a sentence is the same
perturbation as removing the sentence.
"""

from __future__ import annotations

from typing import Any

from langchain_genprog.attribute.mexgen.units import Level, has_content
from langchain_genprog.models.spacy_pipeline import load_spacy

_FUNCTION_DEPS = frozenset(
    {"aux", "auxpass", "neg", "cc", "mark", "det", "case", "prep", "predet", "preconj", "expl"}
)
"""Dependency labels of tokens that, when alone as a phrase, join the next phrase."""


class SpacySegmenter:
    """Sentence, phrase and word spans from a spaCy parse.

    Args:
        model: spaCy pipeline name (default: the embedded one, see
            :mod:`~langchain_genprog.models.spacy_pipeline`).
        max_phrase_length: Longest phrase, in non-punctuation tokens, before
            it is split further (MExGen's default is 10).
    """

    def __init__(self, model: str | None = None, *, max_phrase_length: int = 10) -> None:
        if max_phrase_length < 1:
            raise ValueError("max_phrase_length must be at least 1")
        self.model = model
        self.max_phrase_length = max_phrase_length

    @property
    def nlp(self) -> Any:
        """The loaded spaCy pipeline (loaded on first use)."""
        return load_spacy(self.model)

    def split(self, text: str, level: Level) -> list[tuple[int, int]]:
        """Spans of ``level`` that tile ``text``.

        ``document`` returns the whole text; the other levels parse it.
        """
        if level == "document" or not text.strip():
            return [(0, len(text))] if text else []
        doc = self.nlp(text)
        if level == "sentence":
            starts = [sent.start for sent in doc.sents]
        elif level == "word":
            starts = _word_starts(doc)
        else:
            starts = []
            for sent in doc.sents:
                starts.extend(self._phrase_starts(sent))
        return _tile(doc, sorted(set(starts)), len(text))

    def sentences(self, text: str) -> list[tuple[int, int]]:
        """Sentence spans of ``text``."""
        return self.split(text, "sentence")

    def phrases(self, text: str) -> list[tuple[int, int]]:
        """Phrase spans of ``text``."""
        return self.split(text, "phrase")

    def words(self, text: str) -> list[tuple[int, int]]:
        """Word spans of ``text`` (punctuation stays with the preceding word)."""
        return self.split(text, "word")

    def _phrase_starts(self, sent: Any) -> list[int]:
        """Token indices where the phrases of one spaCy sentence start."""
        pieces: list[tuple[int, int]] = []
        self._split_subtree(sent.root, sent.start, sent.end, pieces)
        covered = {i for start, end in pieces for i in range(start, end)}
        # Tokens outside the root's subtree (rare parser quirks) become their own runs.
        for i in range(sent.start, sent.end):
            if i not in covered:
                pieces.append((i, i + 1))
        pieces.sort()
        return _merge_small(sent.doc, pieces)

    def _split_subtree(self, head: Any, lo: int, hi: int, out: list[tuple[int, int]]) -> None:
        """Append the phrases of ``head``'s subtree (restricted to tokens ``lo:hi``)."""
        left, right = max(head.left_edge.i, lo), min(head.right_edge.i + 1, hi)
        tokens = [t for t in head.subtree if lo <= t.i < hi]
        contiguous = len(tokens) == right - left
        if contiguous and _content_length(head.doc[left:right]) <= self.max_phrase_length:
            out.append((left, right))
            return
        if not contiguous:
            # A non-projective subtree: keep its contiguous runs whole.
            run_start = prev = tokens[0].i
            for token in tokens[1:]:
                if token.i != prev + 1:
                    out.append((run_start, prev + 1))
                    run_start = token.i
                prev = token.i
            out.append((run_start, prev + 1))
            return
        out.append((head.i, head.i + 1))
        for child in head.children:
            if lo <= child.i < hi:
                self._split_subtree(child, lo, hi, out)


def _content_length(span: Any) -> int:
    return sum(1 for t in span if not (t.is_punct or t.is_space))


def _merge_small(doc: Any, pieces: list[tuple[int, int]]) -> list[int]:
    """Join punctuation-only pieces to the left and lone function words to the right.

    A function word carried into a long phrase may push it one token over the
    length limit; that is accepted rather than leaving "the" alone.
    """
    merged: list[list[int]] = []
    carry: int | None = None  # start of function words waiting for the next piece
    for start, end in pieces:
        lone_function_word = end - start == 1 and doc[start].dep_ in _FUNCTION_DEPS
        punctuation = not has_content(doc[start:end].text)
        if carry is not None and not punctuation:
            start, carry = carry, None
        if punctuation:
            if merged:
                merged[-1][1] = end
            elif carry is None:
                carry = start
        elif lone_function_word:
            carry = start
        else:
            merged.append([start, end])
    if carry is not None:
        if merged:
            merged[-1][1] = pieces[-1][1]
        else:
            merged.append([carry, pieces[-1][1]])
    return [start for start, _ in merged]


def _word_starts(doc: Any) -> list[int]:
    return [token.i for token in doc if has_content(token.text)]


def _tile(doc: Any, starts: list[int], length: int) -> list[tuple[int, int]]:
    """Character spans from token start indices; the first starts at 0, the last ends at the end."""
    if not starts:
        return [(0, length)]
    offsets = [doc[i].idx for i in starts]
    offsets[0] = 0
    ends = [*offsets[1:], length]
    return [(s, e) for s, e in zip(offsets, ends, strict=True) if e > s]
