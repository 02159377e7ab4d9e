"""Standard tool tests against the embedded default model (SmolLM2-135M-Instruct).

Run with ``pytest integration_tests/operations -m slow``; needs
``langchain-genprog[local]``. Skipped when the model runtime is not installed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests

from langchain_genprog.errors import ModelNotAvailableError
from langchain_genprog.operations import CompressionTool, ExtractTool, FusionTool, ParaphraseTool

pytestmark = pytest.mark.slow


@lru_cache(maxsize=1)
def _load() -> BaseChatModel:
    from langchain_genprog.models import get_default_chat_model

    return get_default_chat_model()


def default_model() -> BaseChatModel:
    try:
        return _load()
    except (ModelNotAvailableError, ImportError) as err:
        pytest.skip(f"embedded default model not available: {err}")


class TestParaphraseToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ParaphraseTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"llm": default_model()}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {
            "text": "The city council approved the new riverside park on Monday.",
            "source_ids": [1],
        }


class TestCompressionToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return CompressionTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"llm": default_model()}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {
            "text": "Construction of the park will cost about $2 million and start in May.",
            "instruction": "keep the cost",
            "source_ids": [2],
        }


class TestFusionToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return FusionTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"llm": default_model()}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {
            "texts": [
                "The city council approved the new riverside park on Monday.",
                "Construction of the park will start in May.",
            ],
            "source_ids": [1, 2],
        }


class TestExtractToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ExtractTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"text": "The mayor called the vote a historic day for the city.", "source_ids": [4]}
