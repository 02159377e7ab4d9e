"""Each graph node on its own: a state in, an update and its progress events out, no graph."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from langchain_genprog.attribute.program_leaves import ProgramLeavesAttributor
from langchain_genprog.errors import InvalidInputError, PlanningError
from langchain_genprog.graph.configuration import GenProgContext
from langchain_genprog.graph.nodes import (
    AttributeNode,
    ExecuteNode,
    FinalizeNode,
    PlanNode,
    RefineNode,
    SegmentNode,
)
from langchain_genprog.graph.state import GenProgState
from langchain_genprog.refine import EmbeddingNodeChecker, ProgramRefiner
from tests.unit_tests.fakes import ScriptedChatModel
from tests.unit_tests.refine.fakes import BagOfWordsEmbeddings, join, operation_model

DOCS = [
    "The council approved the park on Monday. It will cost two million dollars.",
    "Residents wanted green space. The mayor praised the vote.",
]
S1 = "The council approved the park on Monday."
S2 = "It will cost two million dollars."
S3 = "Residents wanted green space."
PROGRAM = "- paraphrase(fusion(S1, S2))\n- compression(S3)"


TEXT = GenProgContext(plan_mode="text")


def runtime(events: list[dict[str, Any]], **context: Any) -> Runtime[GenProgContext]:
    """A run's runtime: its progress events go to ``events``; ``context`` is the run's options."""
    return Runtime(context=GenProgContext(**context), stream_writer=events.append)


def run(node: Any, state: GenProgState, events: list[dict[str, Any]]) -> GenProgState:
    """Apply a node's update to ``state`` (as the graph would) and return the new state."""
    update = node(state, runtime(events))
    return {**state, **update}  # type: ignore[typeddict-item]


def planned_state(llm: ScriptedChatModel) -> GenProgState:
    state: GenProgState = {"question": "What did the council decide?", "documents": DOCS}
    state = run(SegmentNode(llm), state, [])
    return run(PlanNode(llm, defaults=TEXT), state, [])


def test_segment_numbers_sentences_and_reports_the_selection() -> None:
    events: list[dict[str, Any]] = []
    state: GenProgState = {"documents": [{"page_content": DOCS[0]}, DOCS[1]]}
    update = SegmentNode(ScriptedChatModel())(state, runtime(events))
    assert len(update["sources"]) == 4
    assert update["selection"].ranked_ids
    assert events == [{"step": "segment", "message": update["selection"].describe()}]


def test_segment_budget_defaults_to_half_the_context_window() -> None:
    class Windowed(ScriptedChatModel):
        n_ctx: int = 64

    assert SegmentNode(Windowed()).token_budget(GenProgContext()) == 32
    assert SegmentNode(Windowed()).token_budget(GenProgContext(source_token_budget=10)) == 10
    assert SegmentNode(ScriptedChatModel()).token_budget(GenProgContext()) is None


def test_segment_budget_per_run_leaves_sentences_out() -> None:
    node = SegmentNode(ScriptedChatModel())
    state: GenProgState = {"question": "park", "documents": DOCS}
    assert node(state, runtime([]))["selection"].dropped == 0
    tight = node(state, runtime([], source_token_budget=12))["selection"]
    assert tight.dropped > 0 and len(tight.ranked_ids) < 4


def test_segment_rejects_bad_documents_with_typed_errors() -> None:
    node = SegmentNode(ScriptedChatModel())
    with pytest.raises(InvalidInputError, match="no 'documents'"):
        node({"question": "q"}, runtime([]))


def test_plan_uses_the_last_human_message_and_reports_attempts() -> None:
    llm = ScriptedChatModel(replies=["- fusion(S1, S2)"])
    state: GenProgState = {"messages": [HumanMessage("What about the park?")], "documents": DOCS}
    state = run(SegmentNode(llm), state, [])
    events: list[dict[str, Any]] = []
    update = PlanNode(llm)(state, runtime(events, plan_mode="text"))
    assert update["plan"].program.render() == "- fusion(S1, S2)"
    assert "Question: What about the park?" in llm.calls[0][0][-1].text
    assert [(e["step"], e["valid_lines"], e["issues"]) for e in events] == [("plan", 1, [])]


def test_plan_without_a_valid_line_raises_planning_error() -> None:
    llm = ScriptedChatModel(respond=lambda messages, kwargs: "no program")
    state = run(SegmentNode(llm), {"documents": DOCS}, [])
    with pytest.raises(PlanningError, match="2 attempt"):
        PlanNode(llm, defaults=TEXT)(state, runtime([], max_plan_retries=1))


def test_plan_run_options_override_the_defaults() -> None:
    llm = ScriptedChatModel(respond=lambda messages, kwargs: "- S1\n- S2\n- S3")
    state = run(SegmentNode(llm), {"documents": DOCS}, [])
    node = PlanNode(llm, defaults=GenProgContext(plan_mode="text", max_sentences=3))
    assert len(node(state, runtime([]))["plan"].program.lines) == 3
    assert len(node(state, runtime([], max_sentences=1))["plan"].program.lines) == 1


def test_plan_spends_the_runs_word_budget() -> None:
    llm = ScriptedChatModel(respond=lambda messages, kwargs: "- S1\n- S2\n- S3")
    state = run(SegmentNode(llm), {"documents": DOCS}, [])
    events: list[dict[str, Any]] = []
    update = PlanNode(llm, defaults=TEXT)(state, runtime(events, plan_mode="text", max_words=13))
    plan = update["plan"]
    assert plan.program.render() == "- S1\n- S2"  # 7 + 6 words; S3 (4 more) is left out
    assert [(i.line, i.text) for i in plan.issues] == [(3, "- S3")]
    assert PlanNode(llm).planner(GenProgContext()).max_words is None


def test_grounded_planning_bounds_fusions_and_free_planning_does_not() -> None:
    llm = ScriptedChatModel(respond=lambda messages, kwargs: "- S1", supports_grammar=True)
    node = PlanNode(llm)
    grounded = node.planner(GenProgContext(operation_mode="grounded"))
    free = node.planner(GenProgContext(operation_mode="free"))
    assert grounded.max_fusion_inputs == 2 and grounded.fusable is not None
    assert free.max_fusion_inputs == 3 and free.fusable is None


def test_execute_composes_the_answer_and_reports_each_node() -> None:
    llm = operation_model(program=PROGRAM)
    state = planned_state(llm)
    events: list[dict[str, Any]] = []
    update = ExecuteNode(llm)(state, runtime(events))
    assert [line.text for line in update["execution"].lines] == [S1, S3]
    assert update["answer"] == f"{S1} {S3}"
    assert [s.text for s in update["answer_sentences"]] == [S1, S3]
    assert [(e["step"], e["line"], e["path"]) for e in events] == [
        ("execute", 1, "0.0"),
        ("execute", 2, "0"),
        ("execute", 1, "0"),
    ]


async def test_execute_async_agrees_with_sync() -> None:
    llm = operation_model(program=PROGRAM)
    state = planned_state(llm)
    sync = ExecuteNode(llm)(state, runtime([]))
    events: list[dict[str, Any]] = []
    asynchronous = await ExecuteNode(llm).acall(state, runtime(events))
    assert asynchronous["answer"] == sync["answer"]
    assert len(events) == 3


def test_refine_repairs_the_failing_node_and_reports_checks_and_rounds() -> None:
    llm = operation_model(program=PROGRAM)
    state = planned_state(llm)
    state = run(ExecuteNode(llm), state, [])
    events: list[dict[str, Any]] = []
    update = RefineNode(llm, EmbeddingNodeChecker(BagOfWordsEmbeddings()))(state, runtime(events))
    assert update["execution"].lines[0].text == join([S1, S2])
    assert update["answer"].startswith(join([S1, S2]))
    assert update["refinement"].converged
    kinds = [e["kind"] for e in events]
    assert kinds.count("round") == 2 and kinds.count("rerun") == 2
    assert all(e["step"] == "refine" for e in events)


async def test_refine_async_with_an_explicit_refiner() -> None:
    llm = operation_model(program=PROGRAM)
    state = planned_state(llm)
    state = run(ExecuteNode(llm), state, [])
    refiner = ProgramRefiner(llm, EmbeddingNodeChecker(BagOfWordsEmbeddings()), max_rounds=1)
    update = await RefineNode(llm, refiner).acall(state, runtime([]))
    assert update["refinement"].max_rounds == 1
    assert update["execution"].lines[0].text == join([S1, S2])


def test_refine_rejects_what_is_not_a_refiner() -> None:
    with pytest.raises(InvalidInputError, match="refiner must be"):
        RefineNode(ScriptedChatModel(), object())  # type: ignore[arg-type]


def test_attribute_and_finalize_build_the_cited_message() -> None:
    llm = operation_model(program=PROGRAM)
    state = run(ExecuteNode(llm), planned_state(llm), [])
    events: list[dict[str, Any]] = []
    state = run(AttributeNode(ProgramLeavesAttributor()), state, events)
    assert events == [{"step": "attribute", "method": "program"}]
    assert state["attribution"].method == "program"
    update = FinalizeNode()(state, runtime([]))
    message = update["messages"][-1]
    assert isinstance(message, AIMessage) and message.text == state["answer"]
    assert message.response_metadata["program"] == PROGRAM
    assert message.response_metadata["failures"] == []
    assert "refinement" not in message.response_metadata
