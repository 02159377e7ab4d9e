"""Load benchmark: N concurrent graph runs against a bounded, latency-injecting fake model.

Not a timed test: it measures how the compiled graph behaves under concurrency
with no real model in the way.

* The fake chat model sleeps ``--latency`` seconds per call (planner calls
  ``--plan-latency``) and lets at most ``--provider-limit`` calls run at once,
  as a rate-limited provider would; calls beyond it queue.
* Each run gets its own documents, marked with a unique token (``R017Q``). The
  planner reply cites that run's sentences and each operation echoes its own
  input, so a run whose answer or citations contain another run's token (or
  miss its own) is **cross-talk**, counted in the table.
* Throughput is runs per second of wall time, with the CPU time per run (the
  graph's own overhead: with the model's latency overlapped, it is what bounds
  throughput on a small machine); peak memory is the Python heap peak during
  the batch (``tracemalloc``) and the process's maximum RSS so far.

Usage::

    python benchmarks/load_benchmark.py [--ns 1 8 32 64] [--latency 0.05] [--out results/load.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from langchain_genprog import create_genprog_graph
from langchain_genprog.citations import citations_of

_TOKEN = re.compile(r"R\d{3}Q")


class LatencyChatModel(BaseChatModel):
    """A fake provider: fixed latency, bounded concurrency, deterministic replies."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    latency: float = 0.05
    plan_latency: float = 0.1
    provider_limit: int = 16
    calls: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _slots: threading.BoundedSemaphore | None = PrivateAttr(default=None)
    _in_flight: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "latency-fake"

    def _reply(self, messages: list[BaseMessage]) -> tuple[str, float]:
        human = messages[-1].text
        if human.rstrip().endswith("Program:"):  # the planner prompt
            ids = re.findall(r"^(S\d+):", human, re.MULTILINE)
            return f"- fusion({ids[0]}, {ids[1]})\n- paraphrase({ids[2]})", self.plan_latency
        first = human.splitlines()[0].rstrip(".")
        return f"In short, {first[0].lower()}{first[1:]}.", self.latency

    def _enter(self) -> None:
        with self._lock:
            if self._slots is None:
                self._slots = threading.BoundedSemaphore(self.provider_limit)
            self.calls += 1

    def _track(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _result(self, text: str) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._enter()
        text, delay = self._reply(messages)
        assert self._slots is not None
        with self._slots:
            self._track(1)
            time.sleep(delay)
            self._track(-1)
        return self._result(text)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._enter()
        text, delay = self._reply(messages)
        assert self._slots is not None
        while not self._slots.acquire(blocking=False):  # never block the event loop
            await asyncio.sleep(0.001)
        try:
            self._track(1)
            await asyncio.sleep(delay)
            self._track(-1)
        finally:
            self._slots.release()
        return self._result(text)


def run_input(k: int) -> dict[str, Any]:
    """Run ``k``'s question and documents, every sentence carrying its token."""
    token = f"R{k:03d}Q"
    docs = [
        Document(
            page_content=(
                f"The council of town {token} approved the park. "
                f"The park in {token} will cost {k + 2} million dollars. "
                f"Work in {token} starts in May."
            ),
            metadata={"title": f"News {token}"},
        ),
        f"Residents of {token} wanted green space. The mayor of {token} praised the vote.",
    ]
    return {"question": f"What did {token} decide?", "documents": docs}


def cross_talk(k: int, state: dict[str, Any]) -> int:
    """How many foreign tokens (or a missing own token) run ``k``'s result shows."""
    own = f"R{k:03d}Q"
    answer = state.get("answer", "")
    seen = set(_TOKEN.findall(answer))
    for citation in citations_of(state["messages"][-1]):
        seen.update(_TOKEN.findall(str(citation.get("cited_text", ""))))
    return len(seen - {own}) + (0 if own in seen else 1)


async def measure(n: int, args: argparse.Namespace) -> dict[str, Any]:
    llm = LatencyChatModel(
        latency=args.latency, plan_latency=args.plan_latency, provider_limit=args.provider_limit
    )
    graph = create_genprog_graph(llm, plan_mode="text", max_concurrency=args.max_concurrency)
    inputs = [run_input(k) for k in range(n)]
    tracemalloc.reset_peak()
    started, cpu = time.perf_counter(), time.process_time()
    states = await graph.abatch(inputs, config={"max_concurrency": n})
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    _, heap_peak = tracemalloc.get_traced_memory()
    errors = sum(cross_talk(k, state) for k, state in enumerate(states))
    return {
        "n": n,
        "wall": wall,
        "throughput": n / wall,
        "cpu_ms": 1000 * cpu / n,
        "calls": llm.calls,
        "max_in_flight": llm.max_in_flight,
        "heap_mb": heap_peak / 2**20,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cross_talk": errors,
    }


def table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    load = os.getloadavg()[0]
    head = (
        f"Fake model: {args.latency * 1000:.0f} ms per operation call, "
        f"{args.plan_latency * 1000:.0f} ms per planner call, at most {args.provider_limit} calls "
        f"in flight; graph max_concurrency={args.max_concurrency}; 2 operation calls + 1 planner "
        f"call per run; load average {load:.1f} on {os.cpu_count()} cores.\n\n"
        "| N runs | wall (s) | runs/s | CPU ms/run | model calls | peak calls in flight "
        "| peak heap (MB) | max RSS (MB) | cross-talk |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r['n']} | {r['wall']:.2f} | {r['throughput']:.1f} | {r['cpu_ms']:.0f} | {r['calls']} "
        f"| {r['max_in_flight']} | {r['heap_mb']:.1f} | {r['rss_mb']:.0f} | {r['cross_talk']} |\n"
        for r in rows
    )
    return head + body


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--plan-latency", type=float, default=0.1)
    parser.add_argument("--provider-limit", type=int, default=16)
    parser.add_argument("--max-concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    tracemalloc.start()
    await measure(1, args)  # warm-up: imports, pySBD rules, compiled graph code
    rows = [await measure(n, args) for n in args.ns]
    text = table(rows, args)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("# Load benchmark\n\n" + text)


if __name__ == "__main__":
    asyncio.run(main())
