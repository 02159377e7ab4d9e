"""The whole pipeline on the embedded SmolLM2 model: real planning, execution, citations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from langchain_genprog import citations_of, create_genprog_graph
from langchain_genprog.cli import main
from langchain_genprog.evaluation.datasets import load_aftg

pytestmark = pytest.mark.slow


def test_mds_example_gets_a_cited_answer(embedded_llm, mds_path: Path) -> None:  # type: ignore[no-untyped-def]
    example = load_aftg(mds_path, limit=1)[0]
    graph = create_genprog_graph(embedded_llm, max_sentences=3)
    state = graph.invoke({"question": example.question, "documents": example.to_documents()})
    plan = state["plan"]
    assert plan.mode == "grammar"
    assert 1 <= len(plan.program.lines) <= 3
    assert plan.issues == []  # the grammar only admits valid, new lines
    execution = state["execution"]
    assert len(execution.lines) == len(plan.program.lines)
    message = state["messages"][-1]
    citations = citations_of(message)
    assert citations, "every produced sentence is cited"
    sources = state["sources"]
    offered = set(state["selection"].ranked_ids)
    for citation in citations:
        sid = citation["extras"]["source_sentence"]
        assert sources.has(sid) and sid in offered
        assert citation["cited_text"] == sources.sentence(sid).text
        assert 0 <= citation["start_index"] < citation["end_index"] <= len(message.text)
    # Each node's trace carries what a verifier needs.
    calls = [t for t in execution.trace if t.operation != "extract"]
    assert calls and all(t.output or t.error for t in calls)
    assert all(t.input_tokens for t in calls if t.attempts)


async def test_async_streaming_progress(embedded_llm, mds_path: Path) -> None:  # type: ignore[no-untyped-def]
    example = load_aftg(mds_path, limit=2)[1]
    graph = create_genprog_graph(embedded_llm, max_sentences=2)
    events = []
    async for mode, chunk in graph.astream(
        {"documents": example.to_documents()}, stream_mode=["custom", "values"]
    ):
        if mode == "custom":
            events.append(chunk)
    assert {e["step"] for e in events} >= {"segment", "plan", "execute", "attribute"}


def test_cli_answer_on_mds_example(mds_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = CliRunner().invoke(
        main,
        [
            "answer",
            "--dataset",
            str(mds_path),
            "--example",
            "0",
            "--max-sentences",
            "3",
            "--json",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Answer:" in result.output and "Program:" in result.output
    assert "[S" in result.output
    data = json.loads(out.read_text())
    ids = {s["id"] for s in data["sources"]}
    assert data["citations"] and all(
        c["extras"]["source_sentence"] in ids for c in data["citations"]
    )
    assert data["trace"] and data["program"].startswith("- ")
