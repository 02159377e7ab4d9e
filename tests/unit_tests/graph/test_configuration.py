"""Per-run options: the graph's context schema, build-time defaults and run overrides."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.graph import GenProgContext, build_genprog_graph, create_genprog_graph
from tests.unit_tests.fakes import ScriptedChatModel

DOCS = [
    "The council approved the park on Monday. It will cost two million dollars.",
    "Residents wanted green space. The mayor praised the vote.",
]
INPUT = {"question": "What did the council decide?", "documents": DOCS}


def copying_model(fail: bool = False) -> ScriptedChatModel:
    """Plans three verbatim-copy lines (text syntax); each operation call fails if ``fail``."""

    def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        if "You write programs" in messages[0].text:  # the planner
            return "- paraphrase(S1)\n- paraphrase(S2)\n- paraphrase(S3)"
        if fail:
            raise RuntimeError("model crashed")
        return "A paraphrase of a source sentence."

    return ScriptedChatModel(respond=respond)


def test_run_context_overrides_max_sentences() -> None:
    graph = create_genprog_graph(copying_model(), plan_mode="text")
    assert len(graph.invoke(INPUT)["answer_sentences"]) == 3
    state = graph.invoke(INPUT, context={"max_sentences": 1})
    assert len(state["answer_sentences"]) == 1
    assert len(state["plan"].program.lines) == 1
    # The next run without a context is back to the graph's defaults.
    assert len(graph.invoke(INPUT)["answer_sentences"]) == 3


def test_build_time_options_are_the_defaults_a_context_starts_from() -> None:
    graph = create_genprog_graph(copying_model(), plan_mode="text", max_sentences=2)
    assert len(graph.invoke(INPUT)["answer_sentences"]) == 2
    # Naming one option keeps the other build-time options (plan_mode stays "text").
    state = graph.invoke(INPUT, context={"max_sentences": 3})
    assert len(state["answer_sentences"]) == 3
    assert state["plan"].mode == "text"


async def test_context_as_an_object_and_async() -> None:
    graph = create_genprog_graph(copying_model(), plan_mode="text")
    state = await graph.ainvoke(INPUT, context=GenProgContext(max_sentences=2))
    assert len(state["answer_sentences"]) == 2


def test_run_context_sets_node_retries() -> None:
    llm = copying_model(fail=True)
    graph = create_genprog_graph(llm, plan_mode="text", max_sentences=1, max_plan_retries=0)
    state = graph.invoke(INPUT, context={"max_node_retries": 0})
    assert state["execution"].trace[0].attempts == 1
    state = graph.invoke(INPUT, context={"max_node_retries": 3})
    assert state["execution"].trace[0].attempts == 4
    assert "model crashed" in state["messages"][-1].response_metadata["failures"][0]["error"]


def test_stream_with_context() -> None:
    graph = create_genprog_graph(copying_model(), plan_mode="text")
    events = list(graph.stream(INPUT, context={"max_sentences": 2}, stream_mode="custom"))
    assert sum(1 for e in events if e["step"] == "execute") == 2


@pytest.mark.parametrize(
    ("context", "fragment"),
    [
        ({"max_sentences": 0}, "max_sentences"),
        ({"plan_mode": "telepathy"}, "plan_mode"),
        ({"max_sentencs": 2}, "max_sentencs"),
    ],
)
def test_bad_context_raises_a_typed_error(context: dict[str, Any], fragment: str) -> None:
    graph = create_genprog_graph(copying_model(), plan_mode="text")
    with pytest.raises(InvalidInputError, match=fragment):
        graph.invoke(INPUT, context=context)


def test_bad_build_time_options_raise_when_the_graph_is_built() -> None:
    with pytest.raises(InvalidInputError, match="max_concurrency"):
        build_genprog_graph(copying_model(), max_concurrency=0)


def test_context_schema_shows_the_build_time_defaults() -> None:
    graph = create_genprog_graph(copying_model(), plan_mode="text", max_sentences=2)
    schema = graph.get_context_jsonschema()
    assert schema is not None
    fields = schema["properties"]
    assert fields["max_sentences"]["default"] == 2
    assert fields["max_sentences"]["minimum"] == 1
    assert fields["plan_mode"]["default"] == "text"
    assert all(field.get("description") for field in fields.values())


def test_merged_applies_only_the_named_options() -> None:
    defaults = GenProgContext(plan_mode="text", max_sentences=2)
    assert defaults.merged(None) is defaults
    assert defaults.merged({}) is defaults
    merged = defaults.merged({"max_concurrency": 1})
    assert (merged.plan_mode, merged.max_sentences, merged.max_concurrency) == ("text", 2, 1)
    assert defaults.merged(GenProgContext(max_sentences=4)).plan_mode == "text"
    with pytest.raises(InvalidInputError, match="mapping"):
        defaults.merged(3)  # type: ignore[arg-type]
