"""LangChain's standard integration suites on the embedded models (slow: real models).

``ChatModelIntegrationTests`` runs on the embedded ``ChatLocalLlama``
(SmolLM2-135M-Instruct on llama.cpp) and ``EmbeddingsIntegrationTests`` on the
embedded all-MiniLM-L6-v2. What the model does not have is switched off
through the suite's own properties (tool calling, image/audio/PDF input, JSON
mode, a per-call model override); what a 135M model cannot be expected to do is
marked ``xfail`` with the reason, never made to pass.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import (
    ChatModelIntegrationTests,
    EmbeddingsIntegrationTests,
)

from langchain_genprog.models.embeddings import SentenceTransformerEmbeddings
from langchain_genprog.models.llamacpp_chat import ChatLocalLlama

pytestmark = pytest.mark.slow

_JOKE_LOOPS = (
    "SmolLM2-135M, asked for a cat joke under the Joke JSON-schema grammar, loops inside the "
    "'setup' string ('Situ pakai, sampu, sampu, ...') until the suite's max_tokens=100 cuts the "
    "reply, so the required 'punchline' never comes and parsing fails: the grammar guarantees a "
    "schema-valid prefix, not that a 135M model finishes it (our planner bounds its replies "
    "instead; structured output on a real schema is tested in test_local_chat_model.py)"
)
# Only the pydantic case fails; the TypedDict and JSON-schema cases pass (XPASS). The
# suite's own check (test_no_overrides_DO_NOT_OVERRIDE) admits an overridden test only
# when the method itself carries an xfail with a reason, so the mark is on the method.


class TestChatLocalLlamaIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatLocalLlama

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # A fresh KV cache per call: equal prompts then give equal greedy replies.
        return {"n_ctx": 2048, "reuse_prompt_cache": False}

    @property
    def has_tool_calling(self) -> bool:
        return False  # the GGUF chat template has no tools; tool messages are refused

    @property
    def supports_json_mode(self) -> bool:
        return False  # structured output is JSON-schema-constrained decoding only

    @property
    def supports_model_override(self) -> bool:
        return False  # one instance serves one GGUF

    @pytest.mark.xfail(reason=_JOKE_LOOPS, strict=False)
    @pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
    def test_structured_output(self, model: BaseChatModel, schema_type: str) -> None:
        super().test_structured_output(model, schema_type)

    @pytest.mark.xfail(reason=_JOKE_LOOPS, strict=False)
    @pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
    async def test_structured_output_async(self, model: BaseChatModel, schema_type: str) -> None:
        await super().test_structured_output_async(model, schema_type)

    @pytest.mark.xfail(reason=_JOKE_LOOPS, strict=False)
    def test_structured_output_pydantic_2_v1(self, model: BaseChatModel) -> None:
        super().test_structured_output_pydantic_2_v1(model)


class TestSentenceTransformerEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return SentenceTransformerEmbeddings
