"""Scalarizers return one value per output part for each prompt."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from langchain_genprog.attribute.mexgen import LogProbScalarizer, TextSimilarityScalarizer
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models.scoring import TargetLogProbs
from tests.unit_tests.fakes import ScriptedChatModel

TARGET = "Paris is big. It is old."
SPANS = [(0, 13), (14, 24)]


class TokenScorer:
    """Three tokens: 'Paris is' (-1), ' big.' (-2), ' It is old.' (prompt-dependent)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def score(self, prompts, target):
        self.calls.append(list(prompts))
        return [
            TargetLogProbs(
                token_logprobs=[-1.0, -2.0, -0.5 if "old" in p else -4.0],
                token_offsets=[(0, 8), (8, 13), (13, 24)],
            )
            for p in prompts
        ]


def test_logprob_scalarizer_mean_and_sum_per_sentence() -> None:
    scorer = TokenScorer()
    mean = LogProbScalarizer(scorer, TARGET, SPANS, reduce="mean")
    total = LogProbScalarizer(scorer, TARGET, SPANS, reduce="sum")
    np.testing.assert_allclose(mean.scalarize(["old city", "x"]), [[-1.5, -0.5], [-1.5, -4.0]])
    np.testing.assert_allclose(total.scalarize(["old city"]), [[-3.0, -0.5]])
    assert mean.n_outputs == 2
    # One scorer call for the whole batch.
    assert scorer.calls[0] == ["old city", "x"]


def test_logprob_scalarizer_defaults_to_whole_output() -> None:
    values = LogProbScalarizer(TokenScorer(), TARGET, reduce="sum").scalarize(["old"])
    np.testing.assert_allclose(values, [[-3.5]])


@pytest.mark.parametrize(
    ("target", "spans", "reduce"),
    [("", None, "mean"), (TARGET, [(0, 99)], "mean"), (TARGET, [], "mean"), (TARGET, None, "max")],
)
def test_logprob_scalarizer_rejects_bad_input(target, spans, reduce) -> None:
    with pytest.raises(InvalidInputError):
        LogProbScalarizer(TokenScorer(), target, spans, reduce=reduce)


class BagOfWordsEmbeddings(Embeddings):
    """Counts of a tiny vocabulary: cosine similarity is easy to compute by hand."""

    VOCAB = ("paris", "big", "old", "rome")

    def __init__(self) -> None:
        self.calls = 0

    def embed_documents(self, texts):
        self.calls += 1
        return [[float(t.lower().count(w)) for w in self.VOCAB] for t in texts]

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def test_text_similarity_scalarizer_compares_regenerated_sentences() -> None:
    def respond(messages, kwargs):
        prompt = messages[-1].content
        return "Paris is big." if "keep" in prompt else "Rome is old. Nothing else."

    model = ScriptedChatModel(respond=respond)
    embeddings = BagOfWordsEmbeddings()
    scalarizer = TextSimilarityScalarizer(model, embeddings, "Paris is big. Paris is old.")
    values = scalarizer.scalarize(["keep", "drop", "keep"])
    assert scalarizer.n_outputs == 2
    # "Paris is big." vs "Paris is big." = 1; "Paris is old." vs it = 1/2.
    np.testing.assert_allclose(values[0], [1.0, 0.5])
    # vs "Rome is old.": "Paris is big." shares nothing; "Paris is old." = 1/2.
    np.testing.assert_allclose(values[1], [0.0, 0.5])
    assert len(model.calls) == 3
    # Reference embedded once, generations once per batch.
    assert embeddings.calls == 2


def test_text_similarity_scalarizer_empty_generation_scores_zero() -> None:
    model = ScriptedChatModel(replies=["  "])
    scalarizer = TextSimilarityScalarizer(model, BagOfWordsEmbeddings(), "Paris is big.")
    np.testing.assert_allclose(scalarizer.scalarize(["p"]), [[0.0]])
