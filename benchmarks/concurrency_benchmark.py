"""Concurrency benchmark: one answer and one attribution against real local model servers.

Issue 13, item 2. The bundled SmolLM2-135M GGUF is served on loopback with 1, 2
and 4 parallel *slots*, and the client sends at most 1, 2 or 4 requests at once
(the graph's ``max_concurrency``; the scorer's). Two kinds of server, named as
they are in the table:

* ``llama_cpp.server`` (llama-cpp-python 0.3.16): it serializes every request
  behind one lock (``llama_outer_lock``/``llama_inner_lock`` in
  ``llama_cpp/server/app.py``), so it has no slots. *N slots* are N server
  processes, the client sending each request to the process with the fewest
  requests in flight (:class:`MeteredTransport`). Each process has
  ``--threads`` threads (default 1), so N processes use N threads. Serves both
  workloads (its ``/v1/completions`` returns prompt log-probs with ``echo``).
* ``llama-server`` (llama.cpp's own server, built from the sources vendored in
  the llama-cpp-python 0.3.16 sdist from PyPI): one process, ``--parallel N``
  slots with continuous batching, ``--threads`` threads in all. It does not echo
  prompt log-probs, so it serves the answer workload only.

Workloads, on the package's bundled example (three short reports and a question):

* **answer**: the whole graph over the server (grammar planning, grounded
  operations, lexical gate), ``max_sentences=3``, ``max_concurrency=c``;
* **attribution**: :class:`~langchain_genprog.attribute.mexgen_node.MExGenAttributor`
  (C-LIME, orthogonal design, sentence level) of one fixed answer through
  :class:`~langchain_genprog.models.openai_scorer.OpenAICompletionsLogProbScorer`
  with ``max_concurrency=c``.

Requests in flight, requests and tokens are measured on the client side, in an
httpx transport under ``ChatOpenAI`` and the scorer. Mean in flight is total
request time / wall time (Little's law). Every cell is checked against the
sequential path of the same server kind (1 slot, concurrency 1): same answer
text and program; attribution scores within ``--atol``, same citations.

Usage::

    python -m benchmarks.concurrency_benchmark --runs 3 --out benchmarks/results/concurrency.md
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from langchain_genprog.attribute.mexgen_node import MExGenAttributor
from langchain_genprog.examples import sample_documents, sample_question
from langchain_genprog.graph import create_genprog_graph
from langchain_genprog.models._resources import default_model_path
from langchain_genprog.models.loading import grammar_chat_openai_class
from langchain_genprog.models.openai_scorer import OpenAICompletionsLogProbScorer

MODEL = "smollm2"
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
BASE_PORT = 18500
START_TIMEOUT = 180.0


def smollm2_template(prompt: str) -> str:
    """SmolLM2's chat template (default system prompt) up to the assistant's reply."""
    return (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
    )


# --------------------------------------------------------------------- metering


@dataclass
class Meter:
    """Requests seen by the client: in flight now and at most, their time and tokens."""

    in_flight: int = 0
    max_in_flight: int = 0
    requests: int = 0
    busy_seconds: float = 0.0
    tokens: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self) -> None:
        with self.lock:
            self.max_in_flight = self.requests = self.tokens = 0
            self.busy_seconds = 0.0


class MeteredTransport(httpx.BaseTransport):
    """Counts requests in flight; sends each to the server port with the fewest in flight."""

    def __init__(self, ports: list[int], meter: Meter) -> None:
        self.ports = ports
        self.meter = meter
        self.busy = dict.fromkeys(ports, 0)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.meter.lock:
            port = min(self.ports, key=lambda p: self.busy[p])
            self.busy[port] += 1
            self.meter.in_flight += 1
            self.meter.requests += 1
            self.meter.max_in_flight = max(self.meter.max_in_flight, self.meter.in_flight)
        request.url = request.url.copy_with(port=port)
        request.headers["host"] = f"127.0.0.1:{port}"
        start = time.perf_counter()
        try:
            response = self.inner.handle_request(request)
            body = response.read()  # the request is in flight until its body is in
        finally:
            with self.meter.lock:
                self.busy[port] -= 1
                self.meter.in_flight -= 1
                self.meter.busy_seconds += time.perf_counter() - start
        usage = _usage(body)
        with self.meter.lock:
            self.meter.tokens += usage
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(response.status_code, headers=headers, content=body)


def _usage(body: bytes) -> int:
    """Prompt + completion tokens the server reports for one response."""
    try:
        usage = json.loads(body).get("usage") or {}
    except (ValueError, AttributeError):
        return 0
    return int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)


# ---------------------------------------------------------------------- servers


@dataclass(frozen=True)
class ServerKind:
    """How to start one kind of server with ``slots`` parallel slots."""

    name: str
    binary: str | None = None  # llama-server's path; None: llama_cpp.server processes

    def commands(self, slots: int, threads: int, gguf: Path) -> list[tuple[int, list[str]]]:
        """One ``(port, argv)`` per process to start."""
        if self.binary is None:
            first = BASE_PORT + 10  # not llama-server's port, which may linger a moment
            return [
                (first + k, self._python_server(first + k, str(threads), gguf))
                for k in range(slots)
            ]
        argv = [self.binary, "-m", str(gguf), "--alias", MODEL, "--host", "127.0.0.1"]
        argv += ["--port", str(BASE_PORT), "--ctx-size", str(4096 * slots), "--parallel"]
        argv += [str(slots), "--threads", str(threads), "--no-webui"]
        return [(BASE_PORT, argv)]

    @staticmethod
    def _python_server(port: int, threads: str, gguf: Path) -> list[str]:
        return [
            *(sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)),
            *("--model_alias", MODEL, "--host", "127.0.0.1", "--port", str(port)),
            *("--n_ctx", "4096", "--seed", "0", "--n_threads", threads),
            *("--n_threads_batch", threads),
        ]


@contextmanager
def serving(kind: ServerKind, slots: int, threads: int, log_dir: Path) -> Iterator[list[int]]:
    """Start the processes, wait until each answers, yield their ports, stop them."""
    gguf = default_model_path()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port, argv in kind.commands(slots, threads, gguf):
            log = (log_dir / f"{kind.name}-{slots}-{port}.log").open("wb")
            processes.append(
                subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            )
            # llama-server answers /v1/models while it is still loading; /health waits.
            _wait_ready(port, processes[-1], "/health" if kind.binary else "/v1/models")
        yield [port for port, _ in kind.commands(slots, threads, gguf)]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


def _wait_ready(port: int, process: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise RuntimeError(f"server on port {port} not up in {START_TIMEOUT:.0f} s")


# -------------------------------------------------------------------- workloads


@dataclass
class Sample:
    """One timed run of a workload and what the client saw."""

    seconds: float
    requests: int
    max_in_flight: int
    mean_in_flight: float
    tokens: int
    result: Any = None


def _timed(meter: Meter, work: Any) -> Sample:
    meter.reset()
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    return Sample(
        seconds=seconds,
        requests=meter.requests,
        max_in_flight=meter.max_in_flight,
        mean_in_flight=meter.busy_seconds / seconds,
        tokens=meter.tokens,
        result=result,
    )


def sample_inputs(docs: int) -> dict[str, Any]:
    """The bundled example's question over its first ``docs`` documents."""
    return {"question": sample_question(), "documents": sample_documents()[:docs]}


def run_answer(
    ports: list[int], concurrency: int, meter: Meter, args: argparse.Namespace
) -> Sample:
    """The graph end to end over the server(s); result: (answer, program, state)."""
    llm = grammar_chat_openai_class()(
        model=MODEL,
        base_url=f"http://127.0.0.1:{ports[0]}/v1",
        api_key="none",
        temperature=0,
        grammar_field="grammar",  # as load_chat_model(..., grammar_field="grammar")
        max_retries=0,
        http_client=httpx.Client(transport=MeteredTransport(ports, meter), timeout=300),
    )
    graph = create_genprog_graph(llm, max_sentences=args.max_sentences, max_concurrency=concurrency)
    inputs = sample_inputs(args.docs)

    def work() -> tuple[str, str, dict[str, Any]]:
        state = graph.invoke(inputs)
        return state["answer"], state["plan"].program.render(), state

    return _timed(meter, work)


def run_attribution(
    ports: list[int],
    concurrency: int,
    meter: Meter,
    state: dict[str, Any],
    args: argparse.Namespace,
) -> Sample:
    """MExGen of ``state``'s answer through the scorer; result: the AttributionResult."""
    scorer = OpenAICompletionsLogProbScorer(
        f"http://127.0.0.1:{ports[0]}/v1",
        MODEL,
        chat_template=smollm2_template,
        max_concurrency=concurrency,
        transport=MeteredTransport(ports, meter),
        timeout=300,
    )
    attributor = MExGenAttributor(scorer, method=args.method, levels=("sentence",))
    sentences, sources = state["answer_sentences"], state["sources"]
    return _timed(
        meter,
        lambda: attributor.attribute(sentences, sources, question=sample_question()),
    )


# ----------------------------------------------------------------------- driver


@dataclass
class Cell:
    """The runs of one (server, slots, concurrency, workload) and its verdict."""

    server: str
    slots: int
    concurrency: int
    workload: str
    runs: list[Sample]
    same: bool
    detail: str

    @property
    def median_seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    def summary(self) -> dict[str, Any]:
        """The medians over runs (``result`` left out)."""
        keys = ("requests", "max_in_flight", "mean_in_flight", "tokens")
        median = {k: statistics.median(getattr(r, k) for r in self.runs) for k in keys}
        seconds = self.median_seconds
        return {
            "server": self.server,
            "slots": self.slots,
            "concurrency": self.concurrency,
            "workload": self.workload,
            "seconds": [round(r.seconds, 3) for r in self.runs],
            "median_seconds": round(seconds, 3),
            "max_in_flight": max(r.max_in_flight for r in self.runs),
            "mean_in_flight": round(median["mean_in_flight"], 2),
            "requests": median["requests"],
            "requests_per_s": round(median["requests"] / seconds, 2),
            "tokens_per_s": round(median["tokens"] / seconds, 1),
            "same_as_sequential": self.same,
            "detail": self.detail,
        }


def compare_answer(sample: Sample, reference: Sample | None) -> tuple[bool, str]:
    """Same answer text and program as the sequential path's."""
    if reference is None:
        return True, "the sequential path"
    answer, program, _ = sample.result
    ref_answer, ref_program, _ = reference.result
    same = answer == ref_answer and program == ref_program
    return same, "same answer and program" if same else f"differs: {answer!r}"


def compare_attribution(sample: Sample, reference: Sample | None, atol: float) -> tuple[bool, str]:
    """Scores within ``atol`` of the sequential path's, same citations."""
    if reference is None:
        return True, "the sequential path"
    got, ref = sample.result, reference.result
    diff = max(
        (
            abs(a - b)
            for row, ref_row in zip(got.matrix, ref.matrix, strict=True)
            for a, b in zip(row, ref_row, strict=True)
        ),
        default=0.0,
    )
    cites = [[c.sentence_id for c in s.citations] for s in got.sentences]
    ref_cites = [[c.sentence_id for c in s.citations] for s in ref.sentences]
    same = diff <= atol and cites == ref_cites
    return (
        same,
        f"max |score diff| {diff:.2g}, citations {'same' if cites == ref_cites else 'differ'}",
    )


def measure_kind(
    kind: ServerKind, args: argparse.Namespace, answer_state: dict[str, Any] | None
) -> tuple[list[Cell], dict[str, Any] | None]:
    """Every (slots, concurrency) cell of one server kind, the sequential path first."""
    cells: list[Cell] = []
    references: dict[str, Sample] = {}
    grid = args.python_cells if kind.binary is None and args.python_cells else None
    grid = grid or [(s, c) for s in args.slots for c in args.concurrency]
    for slots in dict.fromkeys(s for s, _ in grid):
        with serving(kind, slots, args.threads, args.log_dir) as ports:
            meter = Meter()
            run_answer(ports, 1, meter, args)  # warm-up: load pages, fill caches
            for concurrency in [c for s, c in grid if s == slots]:
                runs = [run_answer(ports, concurrency, meter, args) for _ in range(args.runs)]
                answer_state = answer_state or runs[0].result[2]
                ref = references.setdefault("answer", runs[0])
                same = [compare_answer(r, ref if r is not ref else None) for r in runs]
                cells.append(_cell(kind, slots, concurrency, "answer", runs, same))
                print(json.dumps(cells[-1].summary()), flush=True)
                if kind.binary is not None:
                    continue  # llama-server: no echoed prompt log-probs
                runs = [
                    run_attribution(ports, concurrency, meter, answer_state, args)
                    for _ in range(args.runs)
                ]
                ref = references.setdefault("attribution", runs[0])
                same = [
                    compare_attribution(r, ref if r is not ref else None, args.atol) for r in runs
                ]
                cells.append(_cell(kind, slots, concurrency, "attribution", runs, same))
                print(json.dumps(cells[-1].summary()), flush=True)
    return cells, answer_state


def _cell(
    kind: ServerKind,
    slots: int,
    concurrency: int,
    workload: str,
    runs: list[Sample],
    verdicts: list[tuple[bool, str]],
) -> Cell:
    failed = [detail for ok, detail in verdicts if not ok]
    detail = failed[0] if failed else verdicts[-1][1]
    return Cell(kind.name, slots, concurrency, workload, runs, not failed, detail)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def render(rows: list[dict[str, Any]], header: list[str]) -> str:
    """The markdown table of cell summaries, with two speed-ups per cell.

    ``vs 1/1``: against the same server kind's 1 slot / concurrency 1 (what a
    user gains from slots and concurrency together); ``vs c=1``: against the
    same slots at concurrency 1 (what the client's concurrency alone gains).
    """
    seconds = {
        (r["server"], r["workload"], r["slots"], r["concurrency"]): r["median_seconds"]
        for r in rows
    }
    lines = [
        *header,
        "",
        "| server | slots | concurrency | workload | wall s (median) | vs 1/1 | vs c=1 "
        "| requests | in flight max / mean | req/s | tok/s | same as sequential |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        kind = (r["server"], r["workload"])
        base = seconds.get((*kind, 1, 1))
        same_slots = seconds.get((*kind, r["slots"], 1))
        lines.append(
            f"| {r['server']} | {r['slots']} | {r['concurrency']} | {r['workload']} "
            f"| {r['median_seconds']:.2f} | {_ratio(base, r)} | {_ratio(same_slots, r)} "
            f"| {r['requests']:g} | {r['max_in_flight']} / {r['mean_in_flight']:.2f} "
            f"| {r['requests_per_s']:.2f} | {r['tokens_per_s']:.0f} "
            f"| {'yes' if r['same_as_sequential'] else 'NO'}: {r['detail']} |"
        )
    return "\n".join(lines) + "\n"


def _ratio(base: float | None, row: dict[str, Any]) -> str:
    return f"{base / row['median_seconds']:.2f}x" if base else "-"


def _header(args: argparse.Namespace, load: tuple[str, str]) -> list[str]:
    return [
        f"Command: `python -m benchmarks.concurrency_benchmark {' '.join(sys.argv[1:])}`",
        f"Load before: `{load[0]}`; after: `{load[1]}`; cores: {os.cpu_count()}.",
        f"Workload: the bundled example's question over its first {args.docs} document(s), "
        f"max_sentences={args.max_sentences}; attribution: MExGen {args.method}, sentence "
        "level, of the first answer measured (the first server kind's 1 slot / concurrency 1). "
        f"Threads per server process: {args.threads}. Median of {args.runs} run(s) per cell.",
    ]


def _load_rows(paths: list[Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        text = path.read_text()
        if path.suffix == ".json":
            rows += json.loads(text)
        else:
            rows += [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return rows


def _cells(text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (cell.split("x") for cell in text.split(","))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--python-cells",
        type=_cells,
        help="llama_cpp.server's (slots, concurrency) cells, e.g. 1x1,1x4,2x2,4x4 "
        "(default: every --slots x --concurrency).",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--docs", type=int, default=1, help="Sample documents used (of 3).")
    parser.add_argument("--max-sentences", type=int, default=2)
    parser.add_argument("--method", choices=["loo", "clime"], default="loo")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="Threads of each server process (1: on a loaded machine, more threads spin).",
    )
    parser.add_argument("--atol", type=float, default=1e-3, help="Score tolerance (nats/token).")
    parser.add_argument("--llama-server", help="Path of llama.cpp's llama-server binary.")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/concurrency.md"))
    parser.add_argument(
        "--render",
        type=Path,
        nargs="+",
        help="Only print the table of saved summaries (.json/.jsonl).",
    )
    args = parser.parse_args()
    # A stopped run stops its servers too (the context managers' finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.log_dir = args.out.parent / "concurrency_logs"
    args.log_dir.mkdir(parents=True, exist_ok=True)
    kinds = [ServerKind("llama_cpp.server")]
    if args.llama_server:  # first: the fast one; its first answer is the one attributed
        kinds.insert(0, ServerKind("llama-server", binary=args.llama_server))
    if args.render:
        print(render(_load_rows(args.render), []))
        return
    before = _uptime()
    cells: list[Cell] = []
    state: dict[str, Any] | None = None
    for kind in kinds:
        found, state = measure_kind(kind, args, state)
        cells += found
    rows = [cell.summary() for cell in cells]
    args.out.write_text(render(rows, _header(args, (before, _uptime()))))
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
