"""GenProgToolkit: the tools on their own and inside a real ``create_agent`` loop.

Models are scripted (the toolkit's model plans and executes literally, the
agent's model calls a tool and then answers); the tools, the graph, the
MExGen attributor and the agent are real.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field

from langchain_genprog.attribute.mexgen_node import MExGenAttributor
from langchain_genprog.chains import CitedAnswer
from langchain_genprog.models.scoring import TargetLogProbs
from langchain_genprog.toolkit import (
    AnswerWithCitationsInput,
    AttributedText,
    AttributeTextInput,
    GenProgToolkit,
)
from tests.unit_tests.chain_fakes import genprog_model, planner_calls
from tests.unit_tests.fakes import ScriptedChatModel

try:  # langchain (the agents package) is a test-only dependency
    from langchain.agents import create_agent
except ImportError:  # pragma: no cover - reported as a skip
    create_agent = None

needs_langchain = pytest.mark.skipif(create_agent is None, reason="pip install langchain")

PARK = [
    "The council approved the park. It will cost two million dollars. Work starts in May.",
    "Residents wanted green space. The mayor praised the vote.",
]
MARKED = (
    "The council approved the park. It will cost two million dollars. [S1][S2] "
    "Work starts in May. [S3]"
)


class OverlapScorer:
    """A ``LogProbScorer``: an answer word is likely (log-prob 0) when the prompt
    still contains it, unlikely (-4) otherwise — so removing the source sentence
    that holds an answer sentence's words lowers that sentence's score."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        self.prompts.extend(prompts)
        tokens = [(m.start(), m.end(), _word(m.group())) for m in re.finditer(r"\S+", target)]
        results = []
        for prompt in prompts:
            present = {_word(w) for w in prompt.split()}
            results.append(
                TargetLogProbs(
                    token_logprobs=[0.0 if word in present else -4.0 for *_, word in tokens],
                    token_offsets=[(start, end) for start, end, _ in tokens],
                )
            )
        return results


def _word(text: str) -> str:
    return text.strip(".,;:!?\"'()").lower()


def mexgen(scorer: OverlapScorer) -> MExGenAttributor:
    return MExGenAttributor(scorer, method="loo", levels=("sentence",))


def tools_by_name(toolkit: GenProgToolkit) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in toolkit.get_tools()}


# --------------------------------------------------------------------------- the tools


def test_get_tools_names_schemas_and_descriptions() -> None:
    tools = GenProgToolkit(llm=genprog_model()).get_tools()
    assert [t.name for t in tools] == [
        "paraphrase",
        "compression",
        "fusion",
        "extract",
        "answer_with_citations",
        "attribute_text",
    ]
    for tool in tools:
        assert isinstance(tool.args_schema, type) and issubclass(tool.args_schema, BaseModel)
        assert len(tool.description) > 60
        assert tool.response_format == "content_and_artifact"
    by_name = {t.name: t for t in tools}
    assert by_name["answer_with_citations"].args_schema is AnswerWithCitationsInput
    assert by_name["attribute_text"].args_schema is AttributeTextInput
    # What a provider receives: plain JSON types a model can fill in.
    spec = convert_to_openai_tool(by_name["answer_with_citations"])["function"]["parameters"]
    assert spec["required"] == ["question", "documents"]
    assert spec["properties"]["documents"] == {
        "description": AnswerWithCitationsInput.model_fields["documents"].description,
        "items": {"type": "string"},
        "minItems": 1,
        "type": "array",
    }
    spec = convert_to_openai_tool(by_name["attribute_text"])["function"]["parameters"]
    assert spec["required"] == ["answer", "documents"]


def test_operation_tools_use_the_toolkit_model() -> None:
    model = genprog_model()
    fusion = tools_by_name(GenProgToolkit(llm=model))["fusion"]
    message = fusion.invoke(
        {
            "type": "tool_call",
            "id": "f",
            "name": "fusion",
            "args": {"texts": ["The park opens.", "It is big."], "source_ids": [1, 2]},
        }
    )
    assert message.content == "The park opens. It is big."
    assert message.artifact.source_ids == [1, 2]
    assert len(model.calls) == 1


def test_answer_with_citations_tool() -> None:
    model = genprog_model()
    tool = tools_by_name(GenProgToolkit(llm=model))["answer_with_citations"]
    message = tool.invoke(
        {
            "type": "tool_call",
            "id": "a",
            "name": tool.name,
            "args": {"question": "What was decided?", "documents": PARK},
        }
    )
    assert message.content.splitlines()[0] == MARKED
    assert "[S3] (Document 1) Work starts in May." in message.content
    artifact = message.artifact
    assert isinstance(artifact, CitedAnswer)
    assert [c["cited_text"] for c in artifact.citations] == [
        "The council approved the park.",
        "It will cost two million dollars.",
        "Work starts in May.",
    ]
    assert "Question: What was decided?" in planner_calls(model)[0]


def test_answer_with_citations_measures_support_with_the_attributor() -> None:
    scorer = OverlapScorer()
    toolkit = GenProgToolkit(llm=genprog_model(), attributor=mexgen(scorer))
    tool = tools_by_name(toolkit)["answer_with_citations"]
    message = tool.invoke(
        {
            "type": "tool_call",
            "id": "a",
            "name": tool.name,
            "args": {"question": "q", "documents": PARK},
        }
    )
    artifact = message.artifact
    assert scorer.prompts, "the attributor did not score anything"
    by_sentence: dict[int, list[str]] = {}
    for citation in artifact.citations:
        extras = citation["extras"]
        assert extras["method"] == "mexgen-loo" and extras["supported"] is True
        by_sentence.setdefault(extras["answer_sentence"], []).append(extras["sentence_id"])
    # The measured top sources are the program's own leaves.
    assert sorted(by_sentence[0]) == ["S1", "S2"] and by_sentence[1] == ["S3"]


def test_attribute_text_cites_a_given_answer() -> None:
    scorer = OverlapScorer()
    tool = tools_by_name(GenProgToolkit(llm=genprog_model(), attributor=mexgen(scorer)))[
        "attribute_text"
    ]
    answer = "It will cost two million dollars. The mayor praised the vote. Cats are mammals."
    message = tool.invoke(
        {
            "type": "tool_call",
            "id": "t",
            "name": "attribute_text",
            "args": {"answer": answer, "documents": PARK, "question": "What about the park?"},
        }
    )
    lines = message.content.splitlines()
    assert lines[0] == (
        "It will cost two million dollars. [S2] The mayor praised the vote. [S5] "
        "Cats are mammals. [uncited] (unsupported)"
    )
    assert "[S2] It will cost two million dollars." in lines
    assert "[S5] The mayor praised the vote." in lines
    assert lines[-1] == "Not supported by the sources: answer sentence(s) 3."
    artifact = message.artifact
    assert isinstance(artifact, AttributedText)
    assert artifact.method == "mexgen-loo" and artifact.complete
    assert [[c.sentence_id for c in s.citations] for s in artifact.sentences] == [[2], [5], []]
    assert [s.supported for s in artifact.sentences] == [True, True, False]
    for citation in artifact.citations:
        assert answer[citation["start_index"] : citation["end_index"]] == citation["cited_text"]
    assert all("What about the park?" in p for p in scorer.prompts)


async def test_attribute_text_async() -> None:
    tool = tools_by_name(GenProgToolkit(llm=genprog_model(), attributor=mexgen(OverlapScorer())))[
        "attribute_text"
    ]
    content = await tool.ainvoke({"answer": "Work starts in May.", "documents": PARK})
    assert content.splitlines()[0] == "Work starts in May. [S3]"


# --------------------------------------------------------------------------- in an agent


class ToolCallingModel(BaseChatModel):
    """The agent's model: first calls ``answer_with_citations``, then answers
    with the first line of what the tool returned."""

    tool_args: dict[str, Any]
    bound_tools: list[list[str]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "tool-calling-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, AIMessage]:
        self.bound_tools.append([convert_to_openai_tool(t)["function"]["name"] for t in tools])
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if results:
            message = AIMessage(content=results[-1].text.splitlines()[0])
        else:
            call = {
                "name": "answer_with_citations",
                "args": self.tool_args,
                "id": "call-1",
                "type": "tool_call",
            }
            message = AIMessage(content="", tool_calls=[call])
        return ChatResult(generations=[ChatGeneration(message=message)])


@needs_langchain
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_agent_calls_answer_with_citations(mode: str) -> None:
    genprog_llm = genprog_model()
    agent_llm = ToolCallingModel(tool_args={"question": "What was decided?", "documents": PARK})
    agent = create_agent(agent_llm, tools=GenProgToolkit(llm=genprog_llm).get_tools())
    request = {"messages": [HumanMessage("What did the council decide? Cite the sources.")]}
    state = agent.invoke(request) if mode == "sync" else await agent.ainvoke(request)

    assert agent_llm.bound_tools[0] == [
        "paraphrase",
        "compression",
        "fusion",
        "extract",
        "answer_with_citations",
        "attribute_text",
    ]
    messages = state["messages"]
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    result = messages[2]
    assert result.name == "answer_with_citations" and result.status == "success"
    assert isinstance(result.artifact, CitedAnswer)
    assert [c["extras"]["sentence_id"] for c in result.artifact.citations] == ["S1", "S2", "S3"]
    assert result.artifact.program == "- fusion(S1, compression(S2))\n- paraphrase(S3)"
    # The toolkit's own model planned and executed the program inside the tool call.
    assert len(genprog_llm.calls) == 4
    assert messages[-1].text == MARKED


# --------------------------------------------------------------------------- failures


def test_unanswerable_requests_come_back_as_tool_errors() -> None:
    prose = ScriptedChatModel(respond=lambda messages, kwargs: "I think the park is nice.")
    tools = tools_by_name(GenProgToolkit(llm=prose, attributor=mexgen(OverlapScorer())))
    answer = tools["answer_with_citations"].invoke(
        {
            "type": "tool_call",
            "id": "a",
            "name": "answer_with_citations",
            "args": {"question": "q", "documents": PARK},
        }
    )
    assert answer.status == "error" and answer.artifact is None
    assert answer.content.startswith("PlanningError: the planner produced no valid program line")
    # Three attempts (first try and two re-prompts), each answered in prose.
    assert len(prose.calls) == 3

    blank = tools["attribute_text"].invoke(
        {
            "type": "tool_call",
            "id": "b",
            "name": "attribute_text",
            "args": {"answer": "   ", "documents": PARK},
        }
    )
    assert blank.status == "error"
    assert blank.content == "InvalidInputError: the answer to attribute is empty"


@needs_langchain
def test_agent_thread_keeps_the_citations_in_its_checkpoint() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    agent = create_agent(
        ToolCallingModel(tool_args={"question": "What was decided?", "documents": PARK}),
        tools=GenProgToolkit(llm=genprog_model()).get_tools(),
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "cited"}}
    agent.invoke({"messages": [HumanMessage("What did the council decide?")]}, config)
    stored = agent.get_state(config).values["messages"][2]
    restored = CitedAnswer.model_validate(stored.artifact)
    assert restored.answer_with_markers == MARKED
    assert [c["cited_text"] for c in restored.citations][-1] == "Work starts in May."
