"""The log-probability scorer protocol shared by every scoring backend.

MExGen's log-prob scalarizer needs one thing from a model: the log-probability
of each token of a fixed *target* (the original answer) given a (perturbed)
prompt, under teacher forcing. Backends — a local transformers model, an
OpenAI-compatible completions endpoint with prompt log-probs (vLLM, llama.cpp
server) — implement this protocol; everything above it is backend-agnostic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict


class TargetLogProbs(BaseModel):
    """Log-probabilities of a target's tokens given one prompt.

    Attributes:
        token_logprobs: One natural-log probability per target token.
        token_offsets: ``(start, end)`` character span of each token in the target.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    token_logprobs: list[float]
    token_offsets: list[tuple[int, int]]

    def span_scores(self, spans: Sequence[tuple[int, int]], *, reduce: str = "sum") -> np.ndarray:
        """Sum (or mean) the token log-probs falling inside each character span.

        A token belongs to the span containing its first non-space character,
        so every token is counted in at most one span. A span with no token
        scores 0 (sum) or ``nan`` (mean).

        Args:
            spans: ``(start, end)`` spans in the target, e.g. answer sentences.
            reduce: ``"sum"`` or ``"mean"``.
        """
        if reduce not in ("sum", "mean"):
            raise ValueError("reduce must be 'sum' or 'mean'")
        out = np.zeros(len(spans), dtype=float)
        counts = np.zeros(len(spans), dtype=int)
        for lp, (start, end) in zip(self.token_logprobs, self.token_offsets, strict=True):
            anchor = start if end <= start else min(end - 1, start + _lead_space(start, end))
            for k, (s, e) in enumerate(spans):
                if s <= anchor < e:
                    out[k] += lp
                    counts[k] += 1
                    break
        if reduce == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(counts > 0, out / np.maximum(counts, 1), np.nan)
        return out


def _lead_space(start: int, end: int) -> int:
    # Offsets of BPE tokens often include the leading space; anchoring on the
    # token's second character keeps " The" in the sentence it starts.
    return 1 if end - start > 1 else 0


@runtime_checkable
class LogProbScorer(Protocol):
    """Scores a fixed target under many prompts (teacher forcing)."""

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        """Log-probabilities of ``target``'s tokens after each prompt.

        Args:
            prompts: User-message texts (the backend applies its chat template,
                so that the target is scored as the assistant's reply).
            target: The text whose probability is measured.

        Returns:
            One :class:`TargetLogProbs` per prompt, in order.
        """
        ...
