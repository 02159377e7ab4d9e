from __future__ import annotations

from collections.abc import Iterator

import pytest

from langchain_genprog.models.llamacpp_chat import ChatLocalLlama
from langchain_genprog.models.llamacpp_scorer import LlamaCppLogProbScorer
from langchain_genprog.models.transformers_scorer import TransformersLogProbScorer

DOCUMENT = [
    "The city council approved the new riverside park on Monday after a long debate.",
    "Construction will start in March and the park should open in late May.",
    "The park covers ten acres and includes a playground, a dog run and a small pier.",
    "Critics on the council said the cost of four million dollars was too high.",
    "The mayor praised the plan as the biggest investment in green space in decades.",
]
TARGET = "The council approved a ten-acre riverside park, which should open in late May."


@pytest.fixture(scope="session")
def target() -> str:
    return TARGET


@pytest.fixture(scope="session")
def prompts() -> list[str]:
    """The full prompt and each leave-one-sentence-out perturbation (MExGen style)."""
    full = " ".join(DOCUMENT)
    drops = [" ".join(DOCUMENT[:i] + DOCUMENT[i + 1 :]) for i in range(len(DOCUMENT))]
    return [f"{text}\n\nSummarize the text in one sentence." for text in [full, *drops]]


@pytest.fixture(scope="session")
def chat_model() -> ChatLocalLlama:
    return ChatLocalLlama(n_ctx=2048, max_tokens=96)


@pytest.fixture(scope="session")
def reproducible_chat_model() -> ChatLocalLlama:
    """Evaluates every prompt from scratch, so equal calls give bit-equal greedy replies.

    With ``reuse_prompt_cache=True`` (the default) the second of two equal
    calls reuses the first call's KV cache; llama.cpp's numerics depend on how
    the prompt was split into batches, and a 135M model's near-tied logits
    then flip a token now and then (seen in CI).
    """
    return ChatLocalLlama(n_ctx=2048, max_tokens=96, reuse_prompt_cache=False)


@pytest.fixture(scope="session")
def transformers_scorer() -> Iterator[TransformersLogProbScorer]:
    yield TransformersLogProbScorer()


@pytest.fixture(scope="session")
def llamacpp_scorer() -> LlamaCppLogProbScorer:
    return LlamaCppLogProbScorer(n_ctx=2048)
