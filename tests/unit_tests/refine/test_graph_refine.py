from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from langchain_genprog.citations import citations_of
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.graph import build_genprog_graph, create_genprog_graph
from langchain_genprog.refine import EmbeddingNodeChecker, ProgramRefiner, RefinementResult
from tests.unit_tests.refine.fakes import BagOfWordsEmbeddings, join, operation_model

DOCS = [
    "The council approved the park on Monday. It will cost two million dollars.",
    "Residents wanted green space. The mayor praised the vote.",
]
S1 = "The council approved the park on Monday."
S2 = "It will cost two million dollars."
PROGRAM = "- paraphrase(fusion(S1, S2))\n- compression(S3)"


def checker() -> EmbeddingNodeChecker:
    return EmbeddingNodeChecker(BagOfWordsEmbeddings())


def test_graph_with_refiner_repairs_the_failing_node_end_to_end() -> None:
    llm = operation_model(program=PROGRAM)
    graph = create_genprog_graph(
        llm, plan_mode="text", refiner=checker(), checkpointer=InMemorySaver()
    )
    config: dict[str, Any] = {"configurable": {"thread_id": "refine-1"}}
    events: list[dict[str, Any]] = []
    steps: list[str] = []
    for mode, chunk in graph.stream(
        {"question": "What did the council decide?", "documents": DOCS},
        config,
        stream_mode=["custom", "updates"],
    ):
        if mode == "custom":
            events.append(chunk)
        else:
            steps.extend(name for name in chunk if name != "genprog_operation")
    assert steps == ["segment", "plan", "execute", "refine", "attribute", "ground", "finalize"]

    state = graph.get_state(config).values
    refinement = state["refinement"]
    assert isinstance(refinement, RefinementResult)
    assert refinement.rounds[0].failed and refinement.converged
    assert refinement.llm_calls == 2  # the fusion and its parent, nothing else
    fused = join([S1, S2])
    assert state["execution"].lines[0].text == fused
    assert state["answer"].startswith(fused)
    assert state["answer_sentences"][0].text == fused
    # Citations are still the program's leaves.
    message = state["messages"][-1]
    first = {
        c["extras"]["source_sentence"]
        for c in citations_of(message)
        if c["extras"]["answer_sentence"] == 0
    }
    assert first == {1, 2}
    assert message.response_metadata["refinement"]["changed_lines"] == [1]
    assert message.response_metadata["refinement"]["reruns"] == 2

    refine_events = [e for e in events if e["step"] == "refine"]
    kinds = [e["kind"] for e in refine_events]
    assert kinds.count("round") == 2 and kinds.count("rerun") == 2
    assert kinds.count("check") == 3 + 2  # three nodes at first, then the two re-runs
    failed_check = next(e for e in refine_events if e["kind"] == "check" and not e["supported"])
    assert "leaves out input 2" in failed_check["reason"]


async def test_graph_with_refiner_async_and_explicit_refiner() -> None:
    llm = operation_model(program=PROGRAM)
    refiner = ProgramRefiner(llm, checker(), max_rounds=1)
    graph = create_genprog_graph(llm, plan_mode="text", refiner=refiner)
    state = await graph.ainvoke({"question": "council", "documents": DOCS})
    assert state["refinement"].max_rounds == 1
    assert state["execution"].lines[0].text == join([S1, S2])


def test_graph_without_refiner_is_unchanged() -> None:
    llm = operation_model(program=PROGRAM)
    graph = build_genprog_graph(llm, plan_mode="text")
    assert "refine" not in graph.nodes
    state = graph.compile().invoke({"question": "council", "documents": DOCS})
    assert "refinement" not in state
    assert state["execution"].lines[0].text == S1  # the copy stays
    assert "refinement" not in state["messages"][-1].response_metadata
    with pytest.raises(InvalidInputError, match="refiner must be"):
        build_genprog_graph(llm, refiner=object())  # type: ignore[arg-type]
