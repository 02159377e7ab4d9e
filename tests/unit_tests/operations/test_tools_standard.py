from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ToolsUnitTests

from langchain_genprog.operations import CompressionTool, ExtractTool, FusionTool, ParaphraseTool
from tests.unit_tests.operations.fakes import EchoChatModel


class TestParaphraseToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ParaphraseTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"llm": EchoChatModel()}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {
            "text": "The council approved the riverside park on Monday.",
            "instruction": "use simpler words",
            "source_ids": [1],
        }


class TestCompressionToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return CompressionTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"llm": EchoChatModel()}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {
            "text": "Construction of the park will cost about $2 million and start in May.",
            "source_ids": [2],
        }


class TestFusionToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return FusionTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"llm": EchoChatModel()}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {
            "texts": [
                "The council approved the riverside park on Monday.",
                "Construction will start in May.",
            ],
            "instruction": "focus on the dates",
            "source_ids": [1, 2],
        }


class TestExtractToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return ExtractTool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"text": "The mayor called the vote a historic day.", "source_ids": [4]}
