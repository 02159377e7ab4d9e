"""Small pieces every metric family shares: word tokens, F1, ranked citation ids.

They sit apart so that gold scoring, the judge, ALCE and drop-and-hold can
each import them without importing one another.
"""

from __future__ import annotations

import re

from langchain_genprog.attribute.base import AttributionResult
from langchain_genprog.segment.sources import Sources

_TOKEN = re.compile(r"\w+")


def normalize_tokens(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation, quotes and whitespace are dropped.

    Gold alignments store answer sentences as they were annotated, which can
    differ from a fresh split of the reference in whitespace, line breaks and
    the odd dropped quotation mark; comparing word tokens ignores all of that.
    """
    return _TOKEN.findall(text.lower())


def ranked_citations(
    attribution: AttributionResult, sources: Sources | None = None
) -> list[list[int]]:
    """Per answer sentence, its cited source ids in the attributor's order, deduplicated.

    Args:
        attribution: The attribution (citations are stored most important first).
        sources: If given, ids that do not exist in it are dropped.
    """
    out: list[list[int]] = []
    for item in attribution.sentences:
        ids = [c.sentence_id for c in item.citations]
        if sources is not None:
            ids = [sid for sid in ids if sources.has(sid)]
        out.append(list(dict.fromkeys(ids)))
    return out


def f1_score(p: float, r: float) -> float:
    """Harmonic mean of precision and recall; 0 when both are 0 (not a division by zero)."""
    return 2 * p * r / (p + r) if p + r > 0 else 0.0
