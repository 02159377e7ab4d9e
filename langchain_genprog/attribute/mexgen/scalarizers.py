"""Scalarizers: how much of the original output a (perturbed) prompt still supports.

A scalarizer maps each prompt to a *vector* with one value per output part
(per answer sentence): one model call per perturbation then scores every
answer sentence at once, and the attribution of all answer sentences costs
the same as the attribution of one. Higher values mean the prompt supports
that part of the original output better; attribution scores are drops in
these values when units are removed.

Two families are provided:

* :class:`LogProbScalarizer` — the log-probability of the original output
  under teacher forcing, through any
  :class:`~langchain_genprog.models.scoring.LogProbScorer` (local model,
  completions endpoint with prompt log-probs). The scoring model may differ
  from the model that wrote the answer.
* :class:`TextSimilarityScalarizer` — for black-box chat models that expose no
  log-probs: regenerate under the perturbed prompt and compare with the
  original output sentence by sentence through embeddings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models.scoring import LogProbScorer

FloatArray = npt.NDArray[np.float64]
"""A float array (scores, values)."""

SpanSplitter = Callable[[str], list[tuple[int, int]]]
"""Maps a text to the ``(start, end)`` spans of its sentences."""


@runtime_checkable
class Scalarizer(Protocol):
    """Scores prompts against a fixed original output, one value per output part."""

    @property
    def n_outputs(self) -> int:
        """Number of values per prompt (e.g. answer sentences)."""
        ...

    def scalarize(self, prompts: Sequence[str]) -> FloatArray:
        """Return an array of shape ``(len(prompts), n_outputs)``."""
        ...


def _check_spans(target: str, spans: Sequence[tuple[int, int]] | None) -> list[tuple[int, int]]:
    if not target.strip():
        raise InvalidInputError("the output to explain is empty")
    if spans is None:
        return [(0, len(target))]
    checked = [(int(s), int(e)) for s, e in spans]
    if not checked:
        raise InvalidInputError("at least one output span is needed")
    for s, e in checked:
        if not 0 <= s < e <= len(target):
            msg = f"output span ({s}, {e}) is not inside the output (length {len(target)})"
            raise InvalidInputError(msg)
    return checked


class LogProbScalarizer:
    """Teacher-forced log-probability of the original output, per output span.

    Every batch of prompts goes to the scorer in a single ``score`` call, so a
    backend can batch the forward passes and reuse the KV cache of prompts
    that share a prefix.

    Args:
        scorer: Any :class:`~langchain_genprog.models.scoring.LogProbScorer`.
        target: The original output whose probability is measured.
        spans: Character spans of the output parts (e.g. answer sentences);
            default: the whole output as one part.
        reduce: ``"mean"`` (average token log-prob, MExGen's default: not
            biased towards long sentences) or ``"sum"`` (log-probability of the
            whole span).
    """

    def __init__(
        self,
        scorer: LogProbScorer,
        target: str,
        spans: Sequence[tuple[int, int]] | None = None,
        *,
        reduce: Literal["mean", "sum"] = "mean",
    ) -> None:
        if reduce not in ("mean", "sum"):
            raise InvalidInputError("reduce must be 'mean' or 'sum'")
        self.scorer = scorer
        self.target = target
        self.spans = _check_spans(target, spans)
        self.reduce: Literal["mean", "sum"] = reduce

    @property
    def n_outputs(self) -> int:
        """Number of output spans."""
        return len(self.spans)

    def scalarize(self, prompts: Sequence[str]) -> FloatArray:
        """Log-prob of each output span after each prompt.

        A span that holds no token (e.g. only whitespace) scores 0 under every
        prompt, hence gets zero attribution.
        """
        if not prompts:
            return np.zeros((0, self.n_outputs))
        results = self.scorer.score(list(prompts), self.target)
        if len(results) != len(prompts):
            msg = f"the scorer returned {len(results)} results for {len(prompts)} prompts"
            raise InvalidInputError(msg)
        rows = [r.span_scores(self.spans, reduce=self.reduce) for r in results]
        values: FloatArray = np.nan_to_num(np.vstack(rows).astype(float), nan=0.0)
        return values


class TextSimilarityScalarizer:
    """Regenerate with any LangChain model and compare with the original by embeddings.

    For output part ``k`` (an original sentence) and a perturbed prompt, the
    value is the highest cosine similarity between the part and any sentence
    of the text the model writes under that prompt: it stays high while the
    model still says the same thing, wherever it says it. An empty generation
    scores 0.

    Args:
        model: Chat model or LLM that regenerates the output.
        embeddings: Any LangChain ``Embeddings``.
        reference: The original output.
        spans: Character spans of the output parts; default: its sentences
            (with ``splitter``).
        splitter: Splits generations into sentences; default
            :func:`langchain_genprog.segment.sources.split_sentences`.
        max_concurrency: Parallel model calls per batch (``None``: the
            model's default).
    """

    def __init__(
        self,
        model: BaseLanguageModel[Any],
        embeddings: Embeddings,
        reference: str,
        spans: Sequence[tuple[int, int]] | None = None,
        *,
        splitter: SpanSplitter | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        if splitter is None:
            from langchain_genprog.segment.sources import split_sentences

            splitter = split_sentences
        self.model = model
        self.embeddings = embeddings
        self.reference = reference
        self.splitter = splitter
        self.spans = _check_spans(reference, spans if spans is not None else splitter(reference))
        self.max_concurrency = max_concurrency
        self._reference_vectors: FloatArray | None = None

    @property
    def n_outputs(self) -> int:
        """Number of original sentences compared."""
        return len(self.spans)

    def generate(self, prompts: Sequence[str]) -> list[str]:
        """Regenerate an output for each prompt (one model call each)."""
        config = (
            RunnableConfig(max_concurrency=self.max_concurrency)
            if self.max_concurrency is not None
            else None
        )
        replies = self.model.batch(list(prompts), config=config)
        return [_reply_text(reply) for reply in replies]

    def scalarize(self, prompts: Sequence[str]) -> FloatArray:
        """Per original sentence, its best cosine similarity to the regenerated sentences."""
        if not prompts:
            return np.zeros((0, self.n_outputs))
        reference = self._reference()
        pieces: list[list[str]] = []
        for text in self.generate(prompts):
            spans = self.splitter(text) if text.strip() else []
            pieces.append([text[s:e] for s, e in spans if text[s:e].strip()])
        flat = [p for group in pieces for p in group]
        vectors = (
            _unit_rows(np.asarray(self.embeddings.embed_documents(flat), dtype=float))
            if flat
            else None
        )
        out = np.zeros((len(prompts), self.n_outputs))
        cursor = 0
        for row, group in enumerate(pieces):
            if group and vectors is not None:
                sims = reference @ vectors[cursor : cursor + len(group)].T
                out[row] = sims.max(axis=1)
            cursor += len(group)
        return out

    def _reference(self) -> FloatArray:
        if self._reference_vectors is None:
            texts = [self.reference[s:e] for s, e in self.spans]
            vectors = np.asarray(self.embeddings.embed_documents(texts), dtype=float)
            self._reference_vectors = _unit_rows(vectors)
        return self._reference_vectors


def _unit_rows(matrix: FloatArray) -> FloatArray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _reply_text(reply: Any) -> str:
    if isinstance(reply, BaseMessage):
        return reply.text
    return str(reply)
