"""Cheap priors: which source sentences an answer sentence probably came from.

Word overlap and embedding cosine cost no model call (the embeddings one
encoder pass), and on answers that copy or paraphrase their sources they rank
source sentences about as well as a log-prob measurement. The coarse-to-fine
scheme uses them twice: to pick the sentences the fine design measures (their
*recall* of gold links decides what can be found at all; the attribution
benchmark reports it) and as signals of the fused ranking.

Each prior is a matrix ``(n_sources, n_answer_sentences)``; higher = more
likely a source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
from langchain_core.embeddings import Embeddings

from langchain_genprog.attribute.mexgen.scalarizers import FloatArray
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.segment.selection import lexical_overlap

PriorName = Literal["lexical", "embedding", "leaves"]
"""``lexical``: share of the answer sentence's content words in the source;
``embedding``: cosine of their embeddings; ``leaves``: 1 for the answer
sentence's program leaves."""

PRIOR_NAMES: tuple[str, ...] = get_args(PriorName)


def lexical_prior(answers: Sequence[str], sources: Sequence[str]) -> FloatArray:
    """Share of each answer sentence's content words found in each source sentence."""
    return np.array([[lexical_overlap(a, s) for a in answers] for s in sources], dtype=float)


def embedding_prior(
    embeddings: Embeddings, answers: Sequence[str], sources: Sequence[str]
) -> FloatArray:
    """Cosine similarity of each source sentence and each answer sentence."""
    a = _unit(np.asarray(embeddings.embed_documents(list(answers)), dtype=float))
    s = _unit(np.asarray(embeddings.embed_documents(list(sources)), dtype=float))
    return np.asarray(s @ a.T, dtype=float)


def leaves_prior(leaves: Sequence[Sequence[int]], source_ids: Sequence[int]) -> FloatArray:
    """1 where a source sentence id is among an answer sentence's program leaves."""
    out = np.zeros((len(source_ids), len(leaves)))
    row = {sid: i for i, sid in enumerate(source_ids)}
    for j, ids in enumerate(leaves):
        for sid in ids:
            if sid in row:
                out[row[sid], j] = 1.0
    return out


def compute_priors(
    names: Sequence[str],
    answers: Sequence[str],
    sources: Sequence[str],
    *,
    source_ids: Sequence[int] = (),
    leaves: Sequence[Sequence[int]] = (),
    embeddings: Embeddings | None = None,
) -> dict[str, FloatArray]:
    """The named priors; ``leaves`` only when some answer sentence has leaves.

    Raises:
        InvalidInputError: On an unknown name.
        ModelNotAvailableError: For ``embedding`` without ``embeddings`` when
            the embedded model cannot load.
    """
    unknown = [n for n in names if n not in PRIOR_NAMES]
    if unknown:
        msg = f"unknown prior(s) {unknown}; use {', '.join(PRIOR_NAMES)}"
        raise InvalidInputError(msg)
    out: dict[str, FloatArray] = {}
    if "lexical" in names:
        out["lexical"] = lexical_prior(answers, sources)
    if "embedding" in names:
        if embeddings is None:
            from langchain_genprog.models.embeddings import default_embeddings

            embeddings = default_embeddings()
        out["embedding"] = embedding_prior(embeddings, answers, sources)
    if "leaves" in names and any(leaves):
        out["leaves"] = leaves_prior(leaves, source_ids)
    return out


def _unit(matrix: FloatArray) -> FloatArray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)
