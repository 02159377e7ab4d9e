"""Concurrent requests to a real OpenAI-compatible server give the sequential results.

A real ``python -m llama_cpp.server`` on loopback (the ``base_url`` fixture of
this folder's conftest) serves the embedded SmolLM2 GGUF. The client side
counts the requests in flight in an httpx transport: with a bound above 1 the
executor's independent operations and the scorer's perturbations are really
sent at once (llama-cpp-python's server then queues them: it has no parallel
slots, see ``benchmarks/concurrency_benchmark.py``), and what comes back is
what the sequential path gets.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from integration_tests.server.conftest import MODEL_ALIAS
from langchain_genprog.execute.executor import ProgramExecutor
from langchain_genprog.models.openai_scorer import OpenAICompletionsLogProbScorer
from langchain_genprog.program.parser import parse_program
from langchain_genprog.segment.sources import Sources

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.timeout(180)]

DOCUMENTS = [
    "The council approved the park. It will cost two million dollars. Work starts in May.",
    "Residents asked for green space. The mayor praised the vote.",
]


class InFlight(httpx.BaseTransport):
    """Counts requests in flight (until their body is read) on the client side."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lock = threading.Lock()
        self.now = self.most = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            response = self.inner.handle_request(request)
            response.read()
            return response
        finally:
            with self.lock:
                self.now -= 1


def _execute(url: str, limit: int, counter: InFlight) -> list[str]:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        base_url=url,
        api_key="none",
        model=MODEL_ALIAS,
        temperature=0,
        max_tokens=40,
        http_client=httpx.Client(transport=counter, timeout=120),
    )
    program = parse_program("- paraphrase(S1)\n- paraphrase(S2)\n- paraphrase(S4)").program
    result = ProgramExecutor(llm, max_concurrency=limit, max_retries=0).execute(
        program, Sources.from_documents(DOCUMENTS)
    )
    return [t.output or f"error: {t.error}" for t in result.trace]


def test_independent_operations_are_sent_concurrently(base_url: str) -> None:
    sequential, concurrent = InFlight(), InFlight()
    expected = _execute(base_url, 1, sequential)
    assert _execute(base_url, 3, concurrent) == expected
    assert sequential.most == 1
    assert concurrent.most > 1


def test_perturbations_are_scored_concurrently(base_url: str) -> None:
    def template(prompt: str) -> str:
        return f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"

    prompts = [" ".join(DOCUMENTS[:k]) + "\nWhat was approved?" for k in (0, 1, 2)]
    prompts.append(DOCUMENTS[1] + "\nWhat was approved?")
    target = "The council approved the park."
    results = {}
    for limit in (1, 3):
        counter = InFlight()
        scorer = OpenAICompletionsLogProbScorer(
            base_url, MODEL_ALIAS, chat_template=template, max_concurrency=limit, transport=counter
        )
        results[limit] = scorer.score(prompts, target)
        scorer.close()
        assert counter.most == (1 if limit == 1 else 3)
    for got, want in zip(results[3], results[1], strict=True):
        assert got.token_offsets == want.token_offsets
        assert got.token_logprobs == pytest.approx(want.token_logprobs, abs=1e-3)
