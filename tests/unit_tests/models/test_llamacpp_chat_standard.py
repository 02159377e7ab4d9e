"""LangChain's standard unit tests for ``ChatLocalLlama``, on a fake llama.cpp runtime.

``ChatLocalLlama`` loads its GGUF in ``__init__``, and the suite constructs the
model many times (``test_init``, ``test_init_time`` ten times in a loop); the
``require`` hook that imports llama.cpp is therefore replaced by a fake runtime,
so no model file is read and the suite runs in a second without ``[local]``.
The real model runs the integration suite (``integration_tests/models``).
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.unit_tests import ChatModelUnitTests
from langchain_tests.unit_tests.chat_models import TEST_PYDANTIC_MODELS

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models import llamacpp_chat
from langchain_genprog.models.llamacpp_chat import ChatLocalLlama
from tests.unit_tests.models.test_llamacpp_chat import FakeGrammar, FakeLlama


@pytest.fixture(autouse=True)
def fake_llama_cpp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No model is loaded: llama.cpp is a fake and the embedded GGUF a stub file."""
    json_schema_to_gbnf = pytest.importorskip("llama_cpp.llama_grammar").json_schema_to_gbnf
    runtime = types.SimpleNamespace(
        Llama=FakeLlama,
        LlamaGrammar=FakeGrammar,
        llama_model_get_vocab=lambda model: "vocab",
        llama_sampler_init_grammar=lambda vocab, text, root: 1,
        llama_sampler_free=lambda sampler: None,
    )
    grammar_module = types.SimpleNamespace(json_schema_to_gbnf=json_schema_to_gbnf)

    def fake_require(module: str, **kwargs: Any) -> Any:
        return grammar_module if module == "llama_cpp.llama_grammar" else runtime

    gguf = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(llamacpp_chat, "require", fake_require)
    monkeypatch.setattr(llamacpp_chat, "default_model_path", lambda: gguf)


class TestChatLocalLlamaStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return ChatLocalLlama

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {}  # the embedded default model (a stub file here)

    @property
    def supports_model_override(self) -> bool:
        # One instance holds one GGUF; a per-call ``model=`` cannot switch it.
        return False

    @pytest.mark.xfail(
        reason=(
            "asks for method='function_calling' and 'json_mode' too; ChatLocalLlama has no "
            "tool calling and decodes structured output only under a JSON-schema grammar, so it "
            "refuses other methods with InvalidInputError instead of silently decoding another "
            "way (pinned by test_structured_output_refuses_other_methods); the json_schema "
            "part is checked below"
        ),
        raises=InvalidInputError,
        strict=True,
    )
    @pytest.mark.parametrize("schema", TEST_PYDANTIC_MODELS)
    def test_with_structured_output(self, model: BaseChatModel, schema: Any) -> None:
        super().test_with_structured_output(model, schema)

    @pytest.mark.xfail(
        reason=(
            "a per-call model= is refused (InvalidInputError: one instance serves one GGUF), "
            "so there is no overriding model for traces to report"
        ),
        raises=AssertionError,
        strict=True,
    )
    def test_standard_params_model_override(self, model: BaseChatModel) -> None:
        super().test_standard_params_model_override(model)


@pytest.mark.parametrize("schema", TEST_PYDANTIC_MODELS)
@pytest.mark.parametrize("strict", [None, False, True])
def test_json_schema_structured_output_with_any_strict(schema: Any, strict: bool | None) -> None:
    """The part of the standard ``test_with_structured_output`` that applies."""
    assert ChatLocalLlama().with_structured_output(schema, method="json_schema", strict=strict)


def test_a_per_call_model_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="model"):
        ChatLocalLlama().invoke("hi", model="other-model")


def test_the_standard_suite_loads_no_model() -> None:
    model = ChatLocalLlama()
    assert isinstance(model.client, FakeLlama)
