"""Which source sentences carry content worth citing.

Web and news documents come with text that is not content: datelines
(``SAN FRANCISCO (MarketWatch) --``), bylines, photo captions and page
furniture (``Enlarge this image toggle caption``), scraped markup (``<HR></BLOCKQUOTE>``),
sentences cut off by the
source (``... a proxy for a ...``) or left without final punctuation
(headlines, references), questions (a source's rhetorical
question is not a fact to cite), one-word fragments left
by the sentence splitter, and the same sentence repeated across documents.
A planner that is offered them builds answer sentences out of them — and
then cites them. They are therefore not offered; every sentence left out is
reported with its reason, and stays citable by anything that measures.
"""

from __future__ import annotations

import re

from langchain_genprog.segment.sources import Sources
from langchain_genprog.segment.words import content_words, near_duplicate, tokens

MIN_CONTENT_WORDS = 2
"""Fewer content words than this and a sentence is a fragment."""

MIN_WORDS = 3
"""Fewer words than this and a sentence is a fragment."""

NEAR_DUPLICATE = 0.8
"""Content-word Jaccard similarity at which a later sentence repeats an earlier one."""

_BOILERPLATE = re.compile(
    r"enlarge this image|toggle caption|click here|sign up for|subscribe to|"
    r"all rights reserved|copyright ©|\(photo:|photo credit|getty images|"
    r"follow (?:us|him|her) on|share this|read more:|advertisement|"
    r"this material may not be published|image \d+ of \d+",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>|\|\||(?:\|[^|]*){3,}")
"""HTML tags, and table rows (``|17.||Elizabeth Anderson, ...|``) scraped as text."""
_CONTINUATION = re.compile(
    r"^\s*(?:\[[a-z]|(?:and|or|but|nor|so|because|which|who|whom|whose|that|of|to|for|with|as|if|"
    r"when|while|than)\b)",
)
"""A lower-case connective, or an editor's bracket, opening a piece cut out of a sentence."""
_BYLINE = re.compile(
    r"^\s*(?:[Bb]y|[Pp]osted by|[Ww]ritten by|[Rr]eporting by)\s+[A-Z][\w.'-]*(?:\s+\S+){0,5}$"
    r"|^\s*\(\s*(?:[Rr]eporting|[Ww]riting|[Ee]diting|[Aa]dditional reporting) by\b[^()]*\)\s*$"
)
_TERMINATED = re.compile(r"[.!?:;][\"'”’)\]]*$")
"""Final punctuation, possibly inside closing quotes or brackets."""
_SPLIT_WORD = re.compile(r"^-\w|\w-$")
"""A hyphenated word cut in two by the sentence splitter (``Kiss-`` / ``-In event``)."""
_DATELINE_ONLY = re.compile(r"^\s*[A-Z][A-Z .,'&/-]{1,50}(?:\([^()]{1,40}\))?\s*(?:--|—|–|-)?\s*$")


def non_content_reason(text: str) -> str | None:
    """Why ``text`` is not content (``None`` when it is)."""
    stripped = " ".join(text.split())
    if _DATELINE_ONLY.match(stripped):
        return "dateline"
    if _BYLINE.match(stripped):
        return "byline"
    if _BOILERPLATE.search(stripped):
        return "boilerplate"
    if _MARKUP.search(stripped):
        return "markup"
    if stripped.endswith(("...", "…")):
        return "truncated"
    if stripped.rstrip("\"'”’)").endswith("?"):
        return "question"
    if _CONTINUATION.match(stripped) or _SPLIT_WORD.search(stripped):
        return "fragment"
    if len(content_words(stripped)) < MIN_CONTENT_WORDS or len(tokens(stripped)) < MIN_WORDS:
        return "fragment"
    if not _TERMINATED.search(stripped):
        # A headline, a reference, or a sentence the source cut off ("It
        # turns out that the Facebook event for the John Snow Kiss"): on the
        # dev sets, 2.6 % of sentences, and nearly all of them are not prose.
        return "unterminated"
    return None


def filter_content(sources: Sources, ids: list[int]) -> tuple[list[int], dict[int, str]]:
    """Keep the ids of sentences that carry content, in order.

    Args:
        sources: The numbered sources.
        ids: Candidate sentence ids, in the order to keep (e.g. by relevance):
            of two near-duplicates, the one that comes first here is kept.

    Returns:
        The kept ids and, for each left-out id, why (``dateline``, ``byline``,
        ``boilerplate``, ``markup``, ``truncated``, ``question``, ``fragment``,
        ``unterminated``, ``no verb``, ``repeats S<k>``).
    """
    kept: list[int] = []
    seen: list[tuple[int, set[str]]] = []
    filtered: dict[int, str] = {}
    reasons = {sid: non_content_reason(sources.sentence(sid).text) for sid in ids}
    reasons.update(_verbless({sid for sid, why in reasons.items() if why is None}, sources))
    for sid in ids:
        text = sources.sentence(sid).text
        reason = reasons[sid]
        words = set(content_words(text))
        if reason is None:
            other = near_duplicate(words, seen, NEAR_DUPLICATE)
            reason = None if other is None else f"repeats S{other}"
        if reason is not None:
            filtered[sid] = reason
            continue
        kept.append(sid)
        seen.append((sid, words))
    return kept, filtered


def _verbless(ids: set[int], sources: Sources) -> dict[int, str]:
    """``no verb`` for each of ``ids`` whose sentence has none (needs spaCy's tagger).

    A sentence without a verb states nothing: on the dev sets, 12 % of the
    sentences the other checks keep, nearly all references and citations
    (``International Organization 50 ( 2 ): 213 – 36 .``), list labels and
    titles. Without spaCy (it comes with the ``local`` extra) this check is
    skipped.
    """
    from langchain_genprog.models.spacy_pipeline import verb_flags

    ordered = sorted(ids)
    flags = verb_flags([" ".join(sources.sentence(sid).text.split()) for sid in ordered])
    if flags is None:
        return {}
    return {sid: "no verb" for sid, has in zip(ordered, flags, strict=True) if not has}
