"""Relevance pre-selection: which source sentences the planner is shown.

A model has a finite context, and the sources may not fit. Rather than
truncating (which silently drops the end of the last documents), sentences are
ranked by relevance — BM25 against the question, or, for summaries, against
the sources themselves (centrality) — and the best are offered until a token
budget is spent. The ranking also guides small models: the planner's grammar
offers the most relevant unused ids first. What was left out is recorded in
:class:`Selection` and reported with the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, Field

from langchain_genprog.segment.content import filter_content
from langchain_genprog.segment.sources import Sources

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have"),
        *("he", "her", "his", "in", "is", "it", "its", "of", "on", "or", "that", "the"),
        *("their", "they", "this", "to", "was", "were", "will", "with", "which", "who"),
        *("what", "when", "where", "why", "how"),
    }
)


class Selection(BaseModel):
    """The sentences offered to the planner, most relevant first.

    Attributes:
        ranked_ids: Offered sentence ids, most relevant first.
        total: Number of source sentences.
        method: ``all`` (everything fit), ``bm25`` or ``embeddings``.
        token_budget: The budget the offered sentences had to fit, if any.
        filtered: Sentences not offered because they carry no content
            (dateline, byline, boilerplate, fragment, or a near-duplicate of
            an offered one), with the reason; see
            :mod:`~langchain_genprog.segment.content`.
    """

    ranked_ids: list[int] = Field(default_factory=list)
    total: int = 0
    method: str = "all"
    token_budget: int | None = None
    filtered: dict[int, str] = Field(default_factory=dict)

    @property
    def dropped(self) -> int:
        """How many sentences were not offered."""
        return self.total - len(self.ranked_ids)

    def describe(self) -> str:
        """One line for users: what was offered and why."""
        filtered = ""
        if self.filtered:
            shown = ", ".join(f"S{sid} ({why})" for sid, why in sorted(self.filtered.items()))
            filtered = f"; {len(self.filtered)} carried no content: {shown}"
        over_budget = self.dropped - len(self.filtered)
        if over_budget == 0:
            offered = len(self.ranked_ids)
            head = (
                f"all {self.total} source sentences offered to the planner"
                if not self.filtered
                else f"{offered} of {self.total} source sentences offered to the planner"
            )
            return head + filtered
        return (
            f"{len(self.ranked_ids)} of {self.total} source sentences offered to the planner "
            f"(ranked by {self.method}, {self.token_budget}-token budget); "
            f"{over_budget} sentences were left out{filtered}"
        )


def tokenize(text: str) -> list[str]:
    """Lower-cased content words (used for BM25 and lexical overlap)."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def rank_sentences(
    sources: Sources,
    query: str | None = None,
    *,
    embeddings: Embeddings | None = None,
) -> tuple[list[int], str]:
    """Rank all source sentences by relevance.

    Args:
        sources: Numbered sources.
        query: The question; ``None`` ranks by centrality (summarization).
        embeddings: If given, rank by cosine similarity of embeddings instead of BM25.

    Returns:
        Sentence ids, most relevant first, and the method name.
    """
    texts = [s.text for s in sources.sentences]
    if embeddings is not None:
        vectors = np.asarray(embeddings.embed_documents(texts), dtype=float)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        if query:
            q = np.asarray(embeddings.embed_query(query), dtype=float)
            q /= np.linalg.norm(q) + 1e-12
            scores = vectors @ q
        else:
            scores = vectors @ vectors.mean(axis=0)
        method = "embeddings"
    else:
        from rank_bm25 import BM25Okapi

        corpus = [tokenize(t) or ["<empty>"] for t in texts]
        bm25 = BM25Okapi(corpus)
        if query:
            scores = np.asarray(bm25.get_scores(tokenize(query)), dtype=float)
        else:
            # Centrality: a sentence that shares many (idf-weighted) words with
            # the rest of the sources is a good summary candidate.
            scores = np.zeros(len(texts))
            for k, words in enumerate(corpus):
                scores[k] = float(np.sum(bm25.get_scores(words))) / max(len(words), 1) ** 0.5
        method = "bm25"
    # Stable ranking: ties keep source order (earlier sentences first).
    order = sorted(range(len(texts)), key=lambda k: (-scores[k], k))
    return [sources.sentences[k].id for k in order], method


def select_sentences(
    sources: Sources,
    query: str | None = None,
    *,
    token_budget: int | None = None,
    max_sentences: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
    embeddings: Embeddings | None = None,
    content_only: bool = True,
) -> Selection:
    """Rank sentences and keep the most relevant ones that fit the budget.

    Args:
        sources: Numbered sources.
        query: The question, or ``None`` for summarization.
        token_budget: Most tokens the offered sentences may take (``None``: no limit).
        max_sentences: Most sentences to offer (``None``: no limit).
        count_tokens: Token counter; defaults to a 4-characters-per-token estimate.
        embeddings: Optional embeddings for semantic ranking.
        content_only: Leave out sentences that carry no content (reported in
            ``filtered``); when that would leave nothing, nothing is left out.
    """
    ranked, method = rank_sentences(sources, query, embeddings=embeddings)
    citable = set(sources.citable_ids)
    ranked = [sid for sid in ranked if sid in citable]
    filtered: dict[int, str] = {}
    if content_only:
        content, filtered = filter_content(sources, ranked)
        if content:
            ranked = content
        else:
            filtered = {}
    count = count_tokens or _estimate_tokens
    kept: list[int] = []
    used = 0
    for sid in ranked:
        if max_sentences is not None and len(kept) >= max_sentences:
            break
        cost = count(sources.sentence(sid).text) + 4  # "S12: " and newline
        if token_budget is not None and used + cost > token_budget and kept:
            continue
        kept.append(sid)
        used += cost
    if len(kept) == len(ranked):
        method = "all"
    return Selection(
        ranked_ids=kept,
        total=len(citable),
        method=method,
        token_budget=token_budget,
        filtered=filtered,
    )


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def lexical_overlap(a: str, b: str) -> float:
    """Share of ``a``'s content words that occur in ``b`` (0..1)."""
    wa = set(tokenize(a))
    if not wa:
        return 0.0
    return len(wa & set(tokenize(b))) / len(wa)


def ranked_subset(ranked: Sequence[int], exclude: set[int], k: int) -> list[int]:
    """The first ``k`` ids of ``ranked`` not in ``exclude``."""
    return [sid for sid in ranked if sid not in exclude][:k]
