"""The repository's ``langgraph.json`` served by a real ``langgraph dev`` on loopback.

Starts the server as a subprocess (bounded start-up, always terminated),
then talks to it only through ``langgraph_sdk``, as a front end would: a run
streamed with ``updates`` and ``custom`` modes, the thread's state and
history read back from its checkpoints, and a follow-up turn on the same
thread that reuses the checkpointed documents. The graph inside the server
uses the embedded SmolLM2 model (``GENPROG_MODEL=embedded``), on a small input.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration_tests.server.conftest import free_port, spawn_logged, stop, wait_until_up

pytestmark = [pytest.mark.slow, pytest.mark.server]

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 180.0
"""Seconds the server may take to answer ``/ok`` (imports and graph load included)."""

DOCUMENTS: list[Any] = [
    {
        "page_content": (
            "The council approved the riverside park on Monday. "
            "It will cost two million dollars. Work starts in May."
        ),
        "metadata": {"title": "Park news", "url": "https://example.org/park"},
    },
    "Residents had asked for more green space. The mayor praised the vote.",
]
SENTENCES = {
    "The council approved the riverside park on Monday.",
    "It will cost two million dollars.",
    "Work starts in May.",
    "Residents had asked for more green space.",
    "The mayor praised the vote.",
}


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("langgraph_api", reason="pip install 'langgraph-cli[inmem]'")
    executable = shutil.which("langgraph")
    if executable is None:
        pytest.skip("the langgraph CLI is not installed: pip install 'langgraph-cli[inmem]'")
    port = free_port()
    log = tmp_path_factory.mktemp("langgraph-dev") / "server.log"
    env = {
        **os.environ,
        "GENPROG_MODEL": "embedded",
        "GENPROG_MAX_SENTENCES": "2",
        "LANGSMITH_TRACING": "false",
        "LANGCHAIN_TRACING_V2": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    for name in ("GENPROG_BASE_URL", "GENPROG_MODEL_NAME", "GENPROG_PLAN_MODE"):
        env.pop(name, None)
    command = [
        executable,
        "dev",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(ROOT / "langgraph.json"),
    ]
    process = spawn_logged(command, log, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/ok", process, log, name="langgraph dev", timeout=START_TIMEOUT)
        yield url
    finally:
        stop(process)


def _final_message(values: dict[str, Any]) -> dict[str, Any]:
    message = values["messages"][-1]
    assert message["type"] == "ai"
    return dict(message)


def _check_cited(message: dict[str, Any]) -> list[dict[str, Any]]:
    (block,) = message["content"]
    assert block["type"] == "text" and block["text"]
    citations = [a for a in block["annotations"] if a["type"] == "citation"]
    assert citations, "the served answer carries no citations"
    for citation in citations:
        assert citation["cited_text"] in SENTENCES
        assert 0 <= citation["start_index"] < citation["end_index"] <= len(block["text"])
        assert citation["extras"]["sentence_id"].startswith("S")
    return citations


async def test_run_stream_state_history_and_second_turn(server_url: str) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=server_url, timeout=600)
    assistants = await client.assistants.search(graph_id="genprog")
    assert assistants, "the server did not register the genprog graph"
    thread = await client.threads.create()
    thread_id = thread["thread_id"]

    updates: list[dict[str, Any]] = []
    progress: list[dict[str, Any]] = []
    async for part in client.runs.stream(
        thread_id,
        "genprog",
        input={"question": "What did the council decide?", "documents": DOCUMENTS},
        stream_mode=["updates", "custom"],
    ):
        assert part.event != "error", part.data
        if part.event == "updates":
            updates.append(part.data)
        elif part.event == "custom":
            progress.append(part.data)

    # Operation calls are durable tasks: each one's trace is an update of its own.
    steps = [name for u in updates for name in u if name != "genprog_operation"]
    assert steps[:4] == ["segment", "plan", "execute", "attribute"]
    assert steps[-1] == "finalize" and "ground" in steps
    assert any("genprog_operation" in u for u in updates)
    steps = [p["step"] for p in progress]
    # The grounding gate judges last (after any repair round).
    assert steps[0] == "segment" and "plan" in steps and steps[-1] == "ground"
    assert any(p["step"] == "execute" and p["output"] for p in progress)
    streamed = updates[-1]["finalize"]["messages"][-1]
    citations = _check_cited(streamed)
    # The dict document's metadata survived the API: title and url are on its citations.
    park = [c for c in citations if c["extras"]["doc_index"] == 0]
    assert all(c["title"] == "Park news" and c["url"] == "https://example.org/park" for c in park)

    # The thread's checkpoint holds the whole state, pydantic fields included, as JSON.
    state = await client.threads.get_state(thread_id)
    values = state["values"]
    assert state["next"] == []
    assert _final_message(values)["content"] == streamed["content"]
    assert values["documents"] == DOCUMENTS
    assert [s["text"] for s in values["sources"]["sentences"]] == [
        "The council approved the riverside park on Monday.",
        "It will cost two million dollars.",
        "Work starts in May.",
        "Residents had asked for more green space.",
        "The mayor praised the vote.",
    ]
    program = values["plan"]["program"]["lines"]
    assert 1 <= len(program) <= 2
    assert len(values["attribution"]["sentences"]) == len(values["answer_sentences"])
    history = await client.threads.get_history(thread_id)
    nexts = [h["next"] for h in history]
    assert nexts[:3] == [[], ["finalize"], ["ground"]]  # a repair round adds entries between
    assert nexts[-4:] == [["execute"], ["plan"], ["segment"], ["__start__"]]

    # Second turn on the same thread: a chat follow-up with no documents; the
    # graph takes the question from the new human message and the documents
    # from the thread's checkpoint.
    second = await client.runs.wait(
        thread_id,
        "genprog",
        input={
            "question": None,
            "messages": [{"type": "human", "content": "What did the mayor say?"}],
        },
    )
    assert isinstance(second, dict)
    kinds = [m["type"] for m in second["messages"]]
    assert kinds == ["ai", "human", "ai"]
    _check_cited(_final_message(second))
    assert second["documents"] == DOCUMENTS
    history = await client.threads.get_history(thread_id, limit=50)
    assert len(history) > len(nexts)
    assert history[0]["values"]["messages"] == second["messages"]


async def test_per_run_context_through_the_sdk(server_url: str) -> None:
    """A run's ``context`` overrides the served graph's defaults, for that run only."""
    from langgraph_sdk import get_client

    client = get_client(url=server_url, timeout=600)
    inputs = {"question": "What did the council decide?", "documents": DOCUMENTS}
    thread = await client.threads.create()
    one = await client.runs.wait(
        thread["thread_id"], "genprog", input=inputs, context={"max_sentences": 1}
    )
    assert isinstance(one, dict)
    assert len(one["plan"]["program"]["lines"]) == 1
    (assistant, *_) = await client.assistants.search(graph_id="genprog")
    schemas = await client.assistants.get_schemas(assistant["assistant_id"])
    assert "max_sentences" in str(schemas)  # LangGraph Studio's form for the run context
