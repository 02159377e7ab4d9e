"""The one model loader the CLI, the server and the evaluation share (no model is loaded)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from langchain_core.language_models import BaseChatModel

import langchain_genprog
from langchain_genprog.errors import InvalidInputError, ModelNotAvailableError
from langchain_genprog.models import llamacpp_chat
from langchain_genprog.models.loading import load_chat_model
from tests.unit_tests.graph.test_graph import grammar_model


def test_a_model_object_is_returned_unchanged() -> None:
    model = grammar_model()
    assert load_chat_model(model) is model
    with pytest.raises(InvalidInputError, match="not a model object"):
        load_chat_model(model, "http://127.0.0.1:8080/v1")


def test_embedded_is_the_shared_default(monkeypatch: pytest.MonkeyPatch) -> None:
    model = grammar_model()
    monkeypatch.setattr(llamacpp_chat, "get_default_chat_model", lambda: model)
    assert load_chat_model() is model
    assert load_chat_model(" embedded ") is model
    with pytest.raises(InvalidInputError, match="runs in-process"):
        load_chat_model("embedded", "http://127.0.0.1:8080/v1")


@pytest.mark.parametrize("spec", ["", "   ", ":gpt-4o", "openai:", "no-provider-given"])
def test_names_that_say_nothing_are_input_errors(spec: str) -> None:
    pytest.importorskip("langchain")
    with pytest.raises(InvalidInputError):
        load_chat_model(spec)


def test_openai_compatible_server_by_bare_name(monkeypatch: pytest.MonkeyPatch) -> None:
    chat_openai = pytest.importorskip("langchain_openai").ChatOpenAI
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = load_chat_model("qwen2.5", "http://127.0.0.1:8080/v1")
    assert isinstance(model, chat_openai)
    assert model.model_name == "qwen2.5" and model.temperature == 0.0
    assert model.openai_api_base == "http://127.0.0.1:8080/v1"
    assert model.openai_api_key.get_secret_value() == "none"  # local servers accept any key
    # A served name with a colon (an Ollama tag) stays whole after ``openai:``.
    tagged = load_chat_model("openai:qwen2.5:0.5b", "http://127.0.0.1:8080/v1", api_key="k")
    assert tagged.model_name == "qwen2.5:0.5b"  # type: ignore[attr-defined]
    assert tagged.openai_api_key.get_secret_value() == "k"  # type: ignore[attr-defined]


def test_grammar_field_makes_a_grammar_sending_model() -> None:
    pytest.importorskip("langchain_openai")
    model = load_chat_model("smollm2", "http://127.0.0.1:8080/v1", grammar_field="grammar")
    assert getattr(model, "supports_grammar", False) is True
    with pytest.raises(InvalidInputError, match="OpenAI-compatible"):
        load_chat_model("anthropic:claude", grammar_field="grammar")


def test_other_providers_go_through_init_chat_model() -> None:
    pytest.importorskip("langchain")
    pytest.importorskip("langchain_openai")
    model = load_chat_model("openai:gpt-4o-mini", api_key="sk-test", temperature=0.5)
    assert isinstance(model, BaseChatModel)
    with pytest.raises(InvalidInputError, match="write openai:NAME"):
        load_chat_model("qwen2.5:0.5b", "http://127.0.0.1:8080/v1")


def test_missing_packages_are_typed_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_openai", None)
    with pytest.raises(ModelNotAvailableError, match=r"langchain-genprog\[openai\]"):
        load_chat_model("openai:gpt-4o-mini")
    monkeypatch.setitem(sys.modules, "langchain.chat_models", None)
    with pytest.raises(ModelNotAvailableError, match="pip install langchain"):
        load_chat_model("anthropic:claude-3-5-haiku-latest")


def test_nothing_in_the_package_imports_the_cli_or_the_server() -> None:
    """The entrances sit on top: models come from ``models.loading``, never from the CLI.

    Function-local imports count too: they close an import circle just the same.
    """
    package = Path(langchain_genprog.__file__).parent
    entrances = {"langchain_genprog.cli", "langchain_genprog.server"}
    offenders = []
    for path in package.rglob("*.py"):
        if path.name in {"cli.py", "server.py"} and path.parent == package:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if entrances & set(names):
                offenders.append(f"{path.relative_to(package)}:{node.lineno}")
    assert offenders == []
