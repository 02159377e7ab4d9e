from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from pydantic import ValidationError

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.operations import (
    CompressionTool,
    ExtractTool,
    FusionTool,
    InvalidOutputError,
    OperationResult,
    ParaphraseTool,
    arun_operation,
    create_operation_tools,
    run_operation,
)
from tests.unit_tests.operations.fakes import EchoChatModel


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_call", "id": "call-1", "name": name, "args": args}


def test_create_operation_tools_names() -> None:
    tools = create_operation_tools(EchoChatModel())
    assert [t.name for t in tools] == ["paraphrase", "compression", "fusion", "extract"]
    assert all(t.response_format == "content_and_artifact" for t in tools)
    assert all(len(t.description) > 40 for t in tools)


@pytest.mark.parametrize(
    ("tool", "required", "optional"),
    [
        (ParaphraseTool(llm=EchoChatModel()), {"text"}, {"instruction", "source_ids"}),
        (CompressionTool(llm=EchoChatModel()), {"text"}, {"instruction", "source_ids"}),
        (FusionTool(llm=EchoChatModel()), {"texts"}, {"instruction", "source_ids"}),
        (ExtractTool(), {"text"}, {"source_ids"}),
    ],
)
def test_tool_call_schema(tool: Any, required: set[str], optional: set[str]) -> None:
    schema = tool.tool_call_schema.model_json_schema()
    assert set(schema["required"]) == required
    assert set(schema["properties"]) == required | optional
    for prop in schema["properties"].values():
        assert prop.get("description"), prop
    assert "llm" not in schema["properties"]


def test_fusion_schema_needs_two_texts() -> None:
    tool: Any = FusionTool(llm=EchoChatModel())
    schema = tool.tool_call_schema.model_json_schema()
    assert schema["properties"]["texts"]["minItems"] == 2
    with pytest.raises(ValidationError):
        FusionTool(llm=EchoChatModel()).invoke({"texts": ["only one"]})


def test_source_ids_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        ParaphraseTool(llm=EchoChatModel()).invoke({"text": "A.", "source_ids": [0]})


def test_paraphrase_tool_call_returns_content_and_artifact() -> None:
    llm = EchoChatModel()
    tool = ParaphraseTool(llm=llm)
    msg = tool.invoke(
        _call(
            "paraphrase",
            {"text": "The park opened.", "source_ids": [3, 3, 1], "instruction": "be brief"},
        )
    )
    assert isinstance(msg, ToolMessage)
    assert msg.content == "P(The park opened.) [be brief]"
    assert msg.artifact == OperationResult(
        operation="paraphrase",
        text="P(The park opened.) [be brief]",
        source_ids=[3, 1],
        instruction="be brief",
    )
    assert llm.calls == [("paraphrase", ["The park opened."], "be brief")]


def test_plain_invoke_returns_text_only() -> None:
    out = CompressionTool(llm=EchoChatModel()).invoke({"text": "A long sentence."})
    assert out == "C(A long sentence.)"


async def test_async_fusion_tool() -> None:
    llm = EchoChatModel()
    msg = await FusionTool(llm=llm).ainvoke(
        _call("fusion", {"texts": ["A {x}.", 'B "y".', "C."], "source_ids": [1, 2, 5]})
    )
    assert msg.content == 'F(A {x}. + B "y". + C.)'
    assert msg.artifact.operation == "fusion"
    assert msg.artifact.source_ids == [1, 2, 5]
    assert msg.artifact.instruction is None


def test_braces_and_quotes_reach_the_model_verbatim() -> None:
    llm = EchoChatModel()
    text = 'The config was {"a": {b}} and she said "{hi}".'
    out = ParaphraseTool(llm=llm).invoke({"text": text, "instruction": "keep {b}"})
    assert llm.calls == [("paraphrase", [text], "keep {b}")]
    assert out == f"P({text}) [keep {{b}}]"


def test_extract_tool_makes_no_model_call() -> None:
    msg = ExtractTool().invoke(_call("extract", {"text": "  Word  for\nword. ", "source_ids": [7]}))
    assert msg.content == "Word for word."
    assert msg.artifact == OperationResult(
        operation="extract", text="Word for word.", source_ids=[7]
    )


async def test_extract_tool_async() -> None:
    assert await ExtractTool().ainvoke({"text": "Same."}) == "Same."


def test_tool_passes_callbacks_to_model() -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Recorder(BaseCallbackHandler):
        def __init__(self) -> None:
            self.models: list[Any] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            self.models.append(kwargs.get("tags"))

    recorder = Recorder()
    ParaphraseTool(llm=EchoChatModel()).invoke({"text": "A."}, config={"callbacks": [recorder]})
    assert len(recorder.models) == 1
    assert "genprog:paraphrase" in recorder.models[0]


def test_unusable_reply_raises_with_usage() -> None:
    llm = EchoChatModel(reply="Here is the paraphrase:")
    with pytest.raises(InvalidOutputError) as info:
        run_operation(llm, "paraphrase", ["A."])
    assert info.value.usage is not None and info.value.usage["input_tokens"] == 10
    with pytest.raises(InvalidOutputError):
        ParaphraseTool(llm=llm).invoke({"text": "A."})


def test_run_operation_cleans_reply_and_reports_usage() -> None:
    llm = EchoChatModel(reply='Sure! Here is the shorter sentence:\n"Short."')
    out = run_operation(llm, "compression", ["A much longer sentence."])
    assert out.text == "Short."
    assert out.usage == {"input_tokens": 10, "output_tokens": 3, "total_tokens": 13}


async def test_arun_operation_matches_sync() -> None:
    llm = EchoChatModel()
    sync = run_operation(llm, "fusion", ["A.", "B."], "merge")
    async_ = await arun_operation(llm, "fusion", ["A.", "B."], "merge")
    assert sync == async_


def test_run_operation_extract_needs_no_model() -> None:
    llm = EchoChatModel()
    assert run_operation(llm, "extract", ["Verbatim  text."]) == ("Verbatim text.", None, None)
    assert llm.calls == []
    with pytest.raises(InvalidInputError):
        run_operation(llm, "extract", ["a", "b"])


def test_blank_input_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError):
        ParaphraseTool(llm=EchoChatModel()).invoke({"text": "   "})
