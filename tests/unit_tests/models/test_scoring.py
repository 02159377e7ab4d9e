from __future__ import annotations

import math

import numpy as np
import pytest

from langchain_genprog.models import LogProbScorer, TargetLogProbs

# "The park opens. It is big." tokenized BPE-style: leading spaces belong to the token.
TARGET = "The park opens. It is big."
TOKENS = [(0, 3), (3, 8), (8, 14), (14, 15), (15, 18), (18, 21), (21, 25), (25, 26)]
LOGPROBS = [-1.0, -2.0, -3.0, -0.5, -4.0, -1.5, -2.5, -0.25]
SENTENCES = [(0, 15), (16, 26)]


def test_sum_assigns_leading_space_tokens_to_the_sentence_they_start() -> None:
    scores = TargetLogProbs(token_logprobs=LOGPROBS, token_offsets=TOKENS)
    # " It" spans (15, 18) and starts at the space between the sentences: it
    # must count for the second sentence, not be lost in the gap.
    np.testing.assert_allclose(scores.span_scores(SENTENCES), [-6.5, -8.25])


def test_mean_and_empty_spans() -> None:
    scores = TargetLogProbs(token_logprobs=LOGPROBS, token_offsets=TOKENS)
    means = scores.span_scores([*SENTENCES, (40, 50)], reduce="mean")
    np.testing.assert_allclose(means[:2], [-6.5 / 4, -8.25 / 4])
    assert math.isnan(means[2])
    assert scores.span_scores([(40, 50)])[0] == 0.0


def test_each_token_counts_once_even_with_overlapping_spans() -> None:
    scores = TargetLogProbs(token_logprobs=LOGPROBS, token_offsets=TOKENS)
    total = scores.span_scores([(0, 26), (0, 26)])
    assert total[0] == pytest.approx(sum(LOGPROBS))
    assert total[1] == 0.0


def test_unknown_reduce_is_refused() -> None:
    scores = TargetLogProbs(token_logprobs=[-1.0], token_offsets=[(0, 1)])
    with pytest.raises(ValueError, match="reduce"):
        scores.span_scores([(0, 1)], reduce="max")


def test_backends_satisfy_the_protocol() -> None:
    from langchain_genprog.models.openai_scorer import OpenAICompletionsLogProbScorer

    scorer = OpenAICompletionsLogProbScorer("http://localhost:1/v1", "m")
    assert isinstance(scorer, LogProbScorer)
    scorer.close()
