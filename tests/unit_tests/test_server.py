"""The served graph's configuration from the environment (no server is started here)."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from langgraph.pregel import Pregel

from langchain_genprog.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module imported fresh with an OpenAI-compatible endpoint configured.

    Building the graph makes no request, so no server needs to run; the
    embedded model is never loaded.
    """
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("GENPROG_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("GENPROG_MODEL_NAME", "smollm2")
    monkeypatch.setenv("GENPROG_MAX_SENTENCES", "3")
    monkeypatch.delitem(sys.modules, "langchain_genprog.server", raising=False)
    module = importlib.import_module("langchain_genprog.server")
    yield module
    sys.modules.pop("langchain_genprog.server", None)


def test_langgraph_json_serves_the_module_graph() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["graphs"] == {"genprog": "./langchain_genprog/server.py:graph"}
    assert config["dependencies"] == ["."]


def test_module_graph_is_compiled_without_a_checkpointer(server: ModuleType) -> None:
    assert isinstance(server.graph, Pregel)
    assert server.graph.name == "genprog"
    assert server.graph.checkpointer is None  # the server provides persistence
    assert list(server.graph.nodes) == [
        "__start__",
        "segment",
        "plan",
        "execute",
        "attribute",
        "ground",
        "repair",
        "finalize",
    ]


def test_settings_defaults(server: ModuleType) -> None:
    settings = server.ServerSettings.from_env({})
    assert settings.model == "embedded"
    assert settings.plan_mode == "auto" and settings.max_sentences == 5
    assert server.chat_model_from_settings(settings) is None  # the builder's embedded default


def test_openai_compatible_settings_build_chat_openai(server: ModuleType) -> None:
    from langchain_openai import ChatOpenAI

    settings = server.ServerSettings.from_env(
        {
            "GENPROG_BASE_URL": "http://127.0.0.1:8080/v1",
            "GENPROG_MODEL_NAME": "local-model",
            "GENPROG_PLAN_MODE": "text",
            "GENPROG_MAX_SENTENCES": "2",
        }
    )
    assert settings.model == "openai-compatible" and settings.api_key == "none"
    assert settings.plan_mode == "text" and settings.max_sentences == 2
    model = server.chat_model_from_settings(settings)
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://127.0.0.1:8080/v1"
    assert model.model_name == "local-model"
    assert model.openai_api_key.get_secret_value() == "none"
    assert model.temperature == 0.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GENPROG_BASE_URL": "http://x/v1"}, "GENPROG_MODEL_NAME"),
        ({"GENPROG_MODEL": "gpt"}, "is not known"),
        ({"GENPROG_PLAN_MODE": "free"}, "GENPROG_PLAN_MODE"),
        ({"GENPROG_MAX_SENTENCES": "many"}, "not an integer"),
        ({"GENPROG_MAX_SENTENCES": "0"}, "at least 1"),
    ],
)
def test_bad_settings_are_typed_errors(
    server: ModuleType, env: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        server.ServerSettings.from_env(env)


def test_grammar_field_sends_the_planner_grammar_in_the_request_body(server: ModuleType) -> None:
    from langchain_core.messages import HumanMessage

    from langchain_genprog.plan.planner import ProgramPlanner

    settings = server.ServerSettings.from_env(
        {
            "GENPROG_BASE_URL": "http://127.0.0.1:8080/v1",
            "GENPROG_MODEL_NAME": "smollm2",
            "GENPROG_GRAMMAR_FIELD": "grammar",
        }
    )
    model = server.chat_model_from_settings(settings)
    assert ProgramPlanner(model).resolved_mode == "grammar"
    payload = model._get_request_payload([HumanMessage("hi")], grammar='root ::= "END"')
    assert payload["extra_body"] == {"grammar": 'root ::= "END"'}
    assert "grammar" not in payload
    plain = model._get_request_payload([HumanMessage("hi")])
    assert "extra_body" not in plain or "grammar" not in (plain["extra_body"] or {})
