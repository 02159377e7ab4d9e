"""A run stopped during ``execute`` resumes without paying again for finished operations."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from langchain_genprog.graph import create_genprog_graph
from tests.unit_tests.counting import DOCS, OPERATION_CALLS, CountingModel, SimulatedCrash

QUESTION = {"question": "What did the council decide?", "documents": DOCS}


def _graph(llm: CountingModel, **options: Any) -> Any:
    options.setdefault("max_concurrency", 1)
    return create_genprog_graph(llm, plan_mode="text", checkpointer=InMemorySaver(), **options)


def _expected_answer() -> str:
    return str(_graph(CountingModel()).invoke(QUESTION, _thread("reference"))["answer"])


def _thread(name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


@pytest.mark.parametrize("crash_on", range(1, OPERATION_CALLS + 1))
def test_resume_makes_only_the_calls_that_had_not_finished(crash_on: int) -> None:
    llm = CountingModel(crash_on=crash_on)
    graph, config = _graph(llm), _thread(f"crash-{crash_on}")
    with pytest.raises(SimulatedCrash):
        graph.invoke(QUESTION, config)
    finished = list(llm.finished)
    assert len(finished) >= crash_on - 1  # calls already started go on
    before = len(llm.started)

    state = graph.invoke(None, config)

    remade = llm.started[before:]
    assert not set(remade) & set(finished), "a finished operation was called again"
    assert len(remade) == OPERATION_CALLS - len(finished)
    assert state["answer"] == _expected_answer()
    assert not state["execution"].failures


@pytest.mark.parametrize("crash_on", [1, 2, 3])
def test_calls_in_flight_at_a_stop_finish_and_are_kept(crash_on: int) -> None:
    # The first level's three calls run at once; one stops the run. The others
    # that had started finish and are saved; none starts after the stop.
    llm = CountingModel(crash_on=crash_on, delay=0.05)
    graph, config = _graph(llm, max_concurrency=3), _thread(f"parallel-{crash_on}")
    with pytest.raises(SimulatedCrash):  # the cause, not the calls it kept from starting
        graph.invoke(QUESTION, config)
    finished, before = list(llm.finished), len(llm.started)
    assert len(finished) == before - 1 and before <= 3

    state = graph.invoke(None, config)

    remade = llm.started[before:]
    assert not set(remade) & set(finished)
    assert len(remade) == OPERATION_CALLS - len(finished)
    assert state["answer"] == _expected_answer()


@pytest.mark.parametrize("crash_on", [1, 3, OPERATION_CALLS])
async def test_async_resume_makes_only_the_calls_that_had_not_finished(crash_on: int) -> None:
    llm = CountingModel(crash_on=crash_on)
    graph, config = _graph(llm), _thread(f"async-crash-{crash_on}")
    with pytest.raises(SimulatedCrash):
        await graph.ainvoke(QUESTION, config)
    finished = list(llm.finished)
    before = len(llm.started)

    state = await graph.ainvoke(None, config)

    remade = llm.started[before:]
    assert not set(remade) & set(finished)
    assert len(remade) == OPERATION_CALLS - len(finished)
    assert state["answer"] == _expected_answer()


def test_resume_from_sqlite_repeats_nothing_and_warns_about_no_type(tmp_path: Any) -> None:
    import sqlite3

    from langgraph.checkpoint.serde.event_hooks import register_serde_event_listener
    from langgraph.checkpoint.sqlite import SqliteSaver

    events: list[Any] = []
    unregister = register_serde_event_listener(events.append)
    try:
        path = tmp_path / "threads.sqlite"
        llm = CountingModel(crash_on=4)
        saver = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
        graph = create_genprog_graph(llm, plan_mode="text", max_concurrency=1, checkpointer=saver)
        config = _thread("sqlite")
        with pytest.raises(SimulatedCrash):
            graph.invoke(QUESTION, config)
        finished, before = list(llm.finished), len(llm.started)
        # Another graph over the same file, as after a restart.
        reopened = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
        graph = create_genprog_graph(llm, plan_mode="text", checkpointer=reopened)
        state = graph.invoke(None, config)
        assert not set(llm.started[before:]) & set(finished)
        assert len(llm.started[before:]) == OPERATION_CALLS - len(finished)
        assert state["answer"] == _expected_answer()
        saved = graph.get_state(config).values
        assert type(saved["execution"]).__name__ == "ExecutionResult"
    finally:
        unregister()
    # No "unregistered type" warning (default mode), nothing blocked (strict mode).
    assert events == []


def test_streamed_progress_reports_recalled_operations_too() -> None:
    llm = CountingModel(crash_on=3)
    graph, config = _graph(llm), _thread("stream")
    with pytest.raises(SimulatedCrash):
        graph.invoke(QUESTION, config)
    executed = [
        chunk
        for chunk in graph.stream(None, config, stream_mode="custom")
        if chunk["step"] == "execute"
    ]
    # Every operation node is reported once, whether it ran now or was recalled.
    assert len(executed) == OPERATION_CALLS + 1  # and the verbatim line `S2`
    assert all(event["error"] is None for event in executed)


def test_a_repair_stopped_midway_resumes_without_repeating_its_finished_calls() -> None:
    from tests.unit_tests.ground.test_gate import INPUT, fabricating_model

    # Every sentence fails the gate; repair regenerates all three lines, two of
    # them with a model call (the third has a single grounded rewrite).
    llm = fabricating_model("- fusion(S1, S2)\n- fusion(S2, S3)\n- fusion(S1, S4)")
    respond = llm.respond
    assert respond is not None
    grounded: list[str] = []

    def crash_on_second_regeneration(messages: list[Any], kwargs: dict[str, Any]) -> str:
        if "Options:" in messages[-1].text:
            grounded.append(messages[-1].text)
            if len(grounded) == 2:
                raise SimulatedCrash("stopped during the second regeneration")
        return respond(messages, kwargs)

    llm.respond = crash_on_second_regeneration
    graph = create_genprog_graph(
        llm, plan_mode="text", max_concurrency=1, checkpointer=InMemorySaver()
    )
    config = _thread("repair")
    with pytest.raises(SimulatedCrash):
        graph.invoke(INPUT, config)
    calls_before = len(llm.calls)

    state = graph.invoke(None, config)

    # One call on resume: the regeneration that stopped. Not the finished one,
    # nor the planner or the two free operations of `execute`.
    assert len(llm.calls) - calls_before == 1 and len(grounded) == 3
    assert [r.action for r in state["grounding"].repairs] == ["regenerated"] * 3
