"""The OpenAI-compatible scorer sends an attribution's perturbations concurrently, bounded.

A fake server (an ``httpx.MockTransport`` called from the scorer's threads)
answers after a random delay, so responses come back out of order, and counts
the requests in flight. The bound is the smaller of the scorer's own and the
caller's LangChain ``max_concurrency``; the graph passes its run's.
"""

from __future__ import annotations

import json
import random
import threading
import time
import zlib
from typing import Any

import httpx
import pytest

from langchain_genprog.attribute.mexgen_node import MExGenAttributor
from langchain_genprog.graph import create_genprog_graph
from langchain_genprog.graph.configuration import bounded_requests
from langchain_genprog.models.openai_scorer import (
    DEFAULT_MAX_CONCURRENCY,
    OpenAICompletionsLogProbScorer,
)
from tests.unit_tests.graph.test_configuration import INPUT, copying_model
from tests.unit_tests.models.test_openai_scorer import echo_body


class SlowEchoServer:
    """Echo log-probs that depend on the whole prompt; random latency; in-flight counter."""

    def __init__(self, delay: float = 0.02, seed: int = 0) -> None:
        self.delay = delay
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.in_flight += 1
            self.requests += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            pause = self.delay * self.random.uniform(0.2, 1.8)
        try:
            time.sleep(pause)
            prompt = json.loads(request.content)["prompt"]
            words = prompt.split(" ")
            pieces = [words[0]] + [" " + w for w in words[1:]]
            # Each prompt gets its own values: a result put back at the wrong index shows.
            salt = zlib.crc32(prompt.encode()) % 1000 / 1000
            values: list[float | None] = [None] + [-1.0 - salt - i for i in range(1, len(pieces))]
            return httpx.Response(200, json=echo_body(pieces, values, " !"))
        finally:
            with self.lock:
                self.in_flight -= 1


def _scorer(server: SlowEchoServer, **options: Any) -> OpenAICompletionsLogProbScorer:
    return OpenAICompletionsLogProbScorer(
        "http://server/v1", "smol", transport=httpx.MockTransport(server), **options
    )


PROMPTS = [f"context {'with ' * k}source {k}" for k in range(12)]
TARGET = " The park opens."


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_in_flight_is_bounded_and_results_match_the_sequential_path(limit: int) -> None:
    sequential = _scorer(SlowEchoServer(delay=0.0), max_concurrency=1).score(PROMPTS, TARGET)
    server = SlowEchoServer()
    results = _scorer(server, max_concurrency=limit).score(PROMPTS, TARGET)
    assert server.max_in_flight == limit  # bounded, and the bound is used
    assert server.requests == len(PROMPTS)
    assert results == sequential  # each result at its prompt's index


def test_the_callers_langchain_bound_applies() -> None:
    server = SlowEchoServer()
    scorer = _scorer(server)  # no bound of its own
    assert scorer.concurrency() == DEFAULT_MAX_CONCURRENCY
    with bounded_requests(2):
        assert scorer.concurrency() == 2
        scorer.score(PROMPTS, TARGET)
    assert server.max_in_flight == 2
    # The smaller bound wins, whichever side sets it.
    with bounded_requests(3):
        assert _scorer(server, max_concurrency=1).concurrency() == 1
        with bounded_requests(8):  # an outer, lower bound is kept
            assert _scorer(server, max_concurrency=6).concurrency() == 3


@pytest.mark.parametrize("limit", [1, 2])
def test_the_graph_runs_bound_reaches_the_attribution(limit: int) -> None:
    def run(server: SlowEchoServer, run_limit: int) -> dict[str, Any]:
        attributor = MExGenAttributor(_scorer(server), method="loo", levels=("sentence",))
        graph = create_genprog_graph(copying_model(), plan_mode="text", attributor=attributor)
        return dict(graph.invoke(INPUT, context={"max_concurrency": run_limit}))

    sequential = run(SlowEchoServer(delay=0.0), 1)["attribution"]
    server = SlowEchoServer()
    attribution = run(server, limit)["attribution"]
    assert server.max_in_flight == limit
    assert attribution.matrix == sequential.matrix
    assert [s.citations for s in attribution.sentences] == [
        s.citations for s in sequential.sentences
    ]
