"""The OpenAI-compatible serving path: the pipeline over HTTP to a llama.cpp server.

A real ``python -m llama_cpp.server`` serves the embedded SmolLM2-135M GGUF on
loopback; the graph talks to it only through ``langchain-openai``'s
``ChatOpenAI`` — as it would to vLLM, Ollama or OpenAI — configured the way
the served graph is (:mod:`langchain_genprog.server`).

* Text-mode planning (any OpenAI-compatible model): every planner reply
  travels back and is parsed; a 135M model answers in prose, which the
  planner reports as located issues instead of dropping, while the executor
  still performs operations over the API.
* Grammar-mode planning (``GENPROG_GRAMMAR_FIELD=grammar``): the per-line GBNF
  grammar goes in the request body, so the small model writes valid programs
  and the answer comes back cited end to end.
"""

from __future__ import annotations

from typing import Any

import pytest

from integration_tests.server.conftest import MODEL_ALIAS
from langchain_genprog.citations import citations_of
from langchain_genprog.errors import PlanningError
from langchain_genprog.execute.executor import ProgramExecutor
from langchain_genprog.graph import create_genprog_graph
from langchain_genprog.program.parser import parse_program
from langchain_genprog.segment.sources import Sources

pytestmark = [pytest.mark.slow, pytest.mark.server]

DOCUMENTS = [
    "The council approved the riverside park on Monday. It will cost two million dollars. "
    "Work starts in May.",
    "Residents had asked for more green space. The mayor praised the vote.",
]
QUESTION = "What did the council decide?"


def _check_cited(state: dict[str, Any]) -> None:
    message = state["messages"][-1]
    citations = citations_of(message)
    assert citations, "the answer carries no citations"
    sources = state["sources"]
    for citation in citations:
        sid = citation["extras"]["source_sentence"]
        assert citation["cited_text"] == sources.sentence(sid).text
        assert 0 <= citation["start_index"] < citation["end_index"] <= len(message.text)


def test_text_mode_planner_and_executor_over_the_api(base_url: str) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=base_url, api_key="none", model=MODEL_ALIAS, temperature=0)
    graph = create_genprog_graph(llm, plan_mode="text", max_sentences=2, max_plan_retries=1)
    try:
        state = graph.invoke({"question": QUESTION, "documents": DOCUMENTS})
    except PlanningError as err:
        # The model's prose reached the planner and was located, not dropped.
        assert err.issues and all(issue.line >= 1 and issue.text for issue in err.issues)
        assert "attempt(s)" in str(err)
    else:
        assert state["plan"].mode == "text"
        _check_cited(state)

    # The operations themselves go through the same API, one call per node.
    sources = Sources.from_documents(DOCUMENTS)
    program = parse_program("- fusion(S1, compression(S2))\n- paraphrase(S5)").program
    result = ProgramExecutor(llm, max_retries=1).execute(program, sources)
    calls = [t for t in result.trace if t.operation != "extract"]
    assert len(calls) == 3
    assert all(t.output or t.error for t in calls)
    produced = [line for line in result.lines if line.ok]
    assert produced and all(line.text for line in produced)
    expected = {1: [1, 2], 2: [5]}
    assert all(line.leaf_ids == expected[line.line] for line in produced)
    assert any(t.input_tokens for t in calls)  # usage reported by the server


def test_served_graph_with_grammar_over_the_api(base_url: str) -> None:
    from langchain_genprog.server import ServerSettings, make_graph

    settings = ServerSettings.from_env(
        {
            "GENPROG_BASE_URL": base_url,
            "GENPROG_MODEL_NAME": MODEL_ALIAS,
            "GENPROG_GRAMMAR_FIELD": "grammar",
            "GENPROG_MAX_SENTENCES": "2",
        }
    )
    graph = make_graph(settings)
    state = graph.invoke({"question": QUESTION, "documents": DOCUMENTS})
    plan = state["plan"]
    assert plan.mode == "grammar"
    assert plan.issues == []  # the server decoded under the grammar: only valid lines
    assert 1 <= len(plan.program.lines) <= 2
    _check_cited(state)
    assert state["messages"][-1].response_metadata["program"] == plan.program.render()
