from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

import pytest

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.execute import (
    ExecutionResult,
    NodeTrace,
    ProgramExecutor,
    aexecute_program,
    execute_program,
)
from langchain_genprog.program.model import Call, Program, ProgramLine, SentenceRef
from langchain_genprog.program.parser import parse_program
from langchain_genprog.segment import Sources
from tests.unit_tests.operations.fakes import EchoChatModel

DOCS = [
    "The council approved the park. It will cost {two} million dollars. Work starts in May.",
    'Residents wanted "green" space. The mayor praised the vote.',
]
S1 = "The council approved the park."
S2 = "It will cost {two} million dollars."
S3 = "Work starts in May."
S4 = 'Residents wanted "green" space.'
S5 = "The mayor praised the vote."


@pytest.fixture
def sources() -> Sources:
    return Sources.from_documents(DOCS)


def program(text: str) -> Program:
    parsed = parse_program(text)
    assert not parsed.issues, parsed.issues
    return parsed.program


MIXED = program(
    "- fusion(paraphrase(S1), compression(S2))\n"
    "- paraphrase(S3)\n"
    "- S4\n"
    '- fusion(S1, paraphrase(compression(S5)), instruction="mention the {vote}")'
)


def _strip_timing(result: ExecutionResult) -> dict[str, Any]:
    dumped = result.model_dump()
    for node in dumped["trace"]:
        node.pop("seconds")
    return dumped


def test_outputs_flow_innermost_first(sources: Sources) -> None:
    llm = EchoChatModel()
    result = ProgramExecutor(llm).execute(MIXED, sources)

    assert [line.text for line in result.lines] == [
        f"F(P({S1}) + C({S2}))",
        f"P({S3})",
        S4,
        f"F({S1} + P(C({S5}))) [mention the {{vote}}]",
    ]
    assert [line.leaf_ids for line in result.lines] == [[1, 2], [3], [4], [1, 5]]
    assert all(line.ok for line in result.lines)
    assert result.failures == []
    assert [line.program for line in result.lines] == [line.render() for line in MIXED.lines]
    # Every call sees the finished outputs of its inputs: innermost first.
    outputs_seen = [inp for _, inputs, _ in llm.calls for inp in inputs]
    assert f"P(C({S5}))" in outputs_seen
    assert llm.calls.index(("compression", [S5], None)) < llm.calls.index(
        ("paraphrase", [f"C({S5})"], None)
    )


def test_level_batching_counts_calls(sources: Sources) -> None:
    llm = EchoChatModel()
    ProgramExecutor(llm, max_concurrency=8).execute(MIXED, sources)
    ops = [(op, tuple(inputs)) for op, inputs, _ in llm.calls]
    # 7 model calls: the bare S4 line makes none.
    assert len(ops) == 7
    level1 = {
        ("paraphrase", (S1,)),
        ("compression", (S2,)),
        ("paraphrase", (S3,)),
        ("compression", (S5,)),
    }
    level2 = {
        ("fusion", (f"P({S1})", f"C({S2})")),
        ("paraphrase", (f"C({S5})",)),
    }
    assert set(ops[:4]) == level1
    assert set(ops[4:6]) == level2
    assert ops[6] == ("fusion", (S1, f"P(C({S5}))"))


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_concurrency_is_bounded_and_used(sources: Sources, limit: int) -> None:
    llm = EchoChatModel(delay=0.1)
    ProgramExecutor(llm, max_concurrency=limit).execute(MIXED, sources)
    # Level 1 holds four independent calls from three different lines.
    assert llm.max_in_flight == limit


@pytest.mark.parametrize("limit", [1, 3])
async def test_async_concurrency_is_bounded_and_used(sources: Sources, limit: int) -> None:
    llm = EchoChatModel(delay=0.1)
    await ProgramExecutor(llm, max_concurrency=limit).aexecute(MIXED, sources)
    assert llm.max_in_flight == limit


def test_trace_contents(sources: Sources) -> None:
    result = ProgramExecutor(EchoChatModel()).execute(MIXED, sources)
    by_key = {(t.line, t.path): t for t in result.trace}
    assert list(by_key) == [  # per line, innermost first
        (1, "0.0"),
        (1, "0.1"),
        (1, "0"),
        (2, "0"),
        (3, "0"),
        (4, "0.1.0"),
        (4, "0.1"),
        (4, "0"),
    ]
    root = by_key[(1, "0")]
    assert root.operation == "fusion"
    assert root.inputs == [f"P({S1})", f"C({S2})"]
    assert root.input_ids == [[1], [2]]
    assert root.leaf_ids == [1, 2]
    assert root.output == f"F(P({S1}) + C({S2}))"
    assert root.attempts == 1
    assert (root.input_tokens, root.output_tokens) == (10, 3)
    assert root.seconds >= 0 and root.error is None

    last = by_key[(4, "0")]
    assert last.instruction == "mention the {vote}"
    assert last.input_ids == [[1], [5]]
    assert by_key[(4, "0.1")].leaf_ids == [5]

    bare = by_key[(3, "0")]
    assert bare.operation == "extract"
    assert bare.output == S4 and bare.inputs == [S4]
    assert bare.attempts == 0 and bare.input_tokens is None


def test_extract_call_copies_verbatim(sources: Sources) -> None:
    llm = EchoChatModel()
    result = ProgramExecutor(llm).execute(
        program("- extract(S2)\n- fusion(extract(S4), S5)"), sources
    )
    assert result.lines[0].text == S2
    assert result.lines[1].text == f"F({S4} + {S5})"
    assert llm.calls == [("fusion", [S4, S5], None)]
    extract = next(t for t in result.trace if t.line == 2 and t.path == "0.0")
    assert extract.operation == "extract" and extract.attempts == 0 and extract.output == S4


def test_failing_node_fails_ancestors_only(sources: Sources) -> None:
    llm = EchoChatModel(fail_when="Work starts", fail_times=-1)
    prog = program(
        "- fusion(paraphrase(S1), compression(S3))\n"
        "- paraphrase(S2)\n"
        "- fusion(S5, paraphrase(fusion(S4, compression(S3))))"
    )
    result = ProgramExecutor(llm, max_retries=2).execute(prog, sources)

    first, second, third = result.lines
    assert second.ok and second.text == f"P({S2})"
    assert not first.ok and first.text == ""
    assert first.leaf_ids == [1, 3]  # the line's provenance is still reported
    assert first.error is not None
    assert first.error.startswith("input failed: 0.1 (compression): compression failed after 3")
    assert "RuntimeError: model unavailable" in first.error
    assert third.error is not None
    assert third.error.startswith("input failed: 0.1.0.1 (compression):")  # the root cause
    assert result.failures == [first, third]

    by_key = {(t.line, t.path): t for t in result.trace}
    failed = by_key[(1, "0.1")]
    assert failed.attempts == 3 and failed.output == ""
    assert failed.error is not None and failed.error.startswith("compression failed after 3")
    sibling = by_key[(1, "0.0")]
    assert sibling.error is None and sibling.output == f"P({S1})"
    parent = by_key[(1, "0")]
    assert parent.attempts == 0 and parent.inputs == [f"P({S1})", ""]
    assert parent.error == first.error
    assert by_key[(3, "0.1")].error == by_key[(3, "0")].error == third.error
    # The failed node was retried; ancestors were never called.
    assert sum(1 for op, _, _ in llm.calls if op == "compression") == 6
    assert not any(op == "fusion" and f"P({S1})" in inputs for op, inputs, _ in llm.calls)


def test_missing_sentence_is_reported(sources: Sources) -> None:
    prog = Program(
        lines=[
            ProgramLine(index=1, root=SentenceRef(id=42)),
            ProgramLine(index=2, root=Call(operation="paraphrase", inputs=[SentenceRef(id=9)])),
            ProgramLine(index=3, root=SentenceRef(id=1)),
        ]
    )
    llm = EchoChatModel()
    result = ProgramExecutor(llm).execute(prog, sources)
    assert result.lines[0].error == "S42 does not exist; valid ids are S1..S5"
    assert result.lines[1].error == "S9 does not exist; valid ids are S1..S5"
    assert result.lines[2].text == S1
    assert llm.calls == []


@pytest.mark.parametrize(("fail_with", "failures"), [("raise", 2), ("empty", 1)])
def test_retries_are_counted(sources: Sources, fail_with: str, failures: int) -> None:
    llm = EchoChatModel(fail_when="Work starts", fail_times=failures, fail_with=fail_with)
    result = ProgramExecutor(llm, max_retries=2).execute(program("- paraphrase(S3)"), sources)
    assert result.lines[0].text == f"P({S3})"
    (trace,) = result.trace
    assert trace.attempts == failures + 1
    assert len(llm.calls) == failures + 1
    # Tokens of every reply are counted, unusable replies included.
    replies = 1 if fail_with == "raise" else failures + 1
    assert trace.input_tokens == 10 * replies
    assert trace.output_tokens == 3 * replies


def test_retry_budget_exhausted(sources: Sources) -> None:
    llm = EchoChatModel(fail_when="Work starts", fail_times=1, fail_with="empty")
    result = ProgramExecutor(llm, max_retries=0).execute(program("- paraphrase(S3)"), sources)
    line = result.lines[0]
    assert line.error == (
        "paraphrase failed after 1 attempt(s): InvalidOutputError: "
        "the model returned an empty reply"
    )
    assert result.trace[0].attempts == 1


def test_retry_backoff_validation() -> None:
    with pytest.raises(InvalidInputError):
        ProgramExecutor(EchoChatModel(), max_concurrency=0)
    with pytest.raises(InvalidInputError):
        ProgramExecutor(EchoChatModel(), max_retries=-1)
    with pytest.raises(InvalidInputError):
        ProgramExecutor(EchoChatModel(), retry_backoff=-0.5)


async def test_async_equals_sync(sources: Sources) -> None:
    prog = program(
        "- fusion(paraphrase(S1), compression(S3))\n- S4\n- paraphrase(extract(S2))\n"
        "- fusion(S5, paraphrase(fusion(S4, compression(S2))))"
    )
    sync = ProgramExecutor(EchoChatModel(fail_when="Work", fail_times=-1)).execute(prog, sources)
    async_ = await ProgramExecutor(EchoChatModel(fail_when="Work", fail_times=-1)).aexecute(
        prog, sources
    )
    assert _strip_timing(sync) == _strip_timing(async_)
    assert sync.failures  # the comparison covers a failed line too


def test_on_node_fires_once_per_node(sources: Sources) -> None:
    seen: list[NodeTrace] = []
    threads: set[int] = set()

    def on_node(trace: NodeTrace) -> None:
        seen.append(trace)
        threads.add(threading.get_ident())

    llm = EchoChatModel(fail_when="praised", fail_times=-1)
    result = ProgramExecutor(llm, max_retries=0, on_node=on_node).execute(MIXED, sources)
    assert sorted((t.line, t.path) for t in seen) == sorted((t.line, t.path) for t in result.trace)
    assert {(t.line, t.path): t for t in seen} == {(t.line, t.path): t for t in result.trace}
    # Children are reported before their parents.
    order = [(t.line, t.path) for t in seen]
    assert order.index((4, "0.1.0")) < order.index((4, "0.1")) < order.index((4, "0"))
    assert result.lines[3].error is not None


async def test_on_node_async(sources: Sources) -> None:
    seen: list[str] = []
    await aexecute_program(
        EchoChatModel(), MIXED, sources, on_node=lambda t: seen.append(f"{t.line}:{t.path}")
    )
    assert len(seen) == 8


def test_on_node_errors_propagate(sources: Sources) -> None:
    def broken(trace: NodeTrace) -> None:
        raise ValueError("progress sink closed")

    with pytest.raises(ValueError, match="progress sink closed"):
        ProgramExecutor(EchoChatModel(), on_node=broken).execute(MIXED, sources)


def test_empty_program(sources: Sources) -> None:
    llm = EchoChatModel()
    result = execute_program(llm, Program(), sources)
    assert result == ExecutionResult()
    assert llm.calls == []


def test_config_reaches_the_model(sources: Sources) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Recorder(BaseCallbackHandler):
        def __init__(self) -> None:
            self.metadata: list[dict[str, Any]] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            self.metadata.append(kwargs.get("metadata") or {})

    recorder = Recorder()
    ProgramExecutor(EchoChatModel()).execute(
        program("- fusion(S1, paraphrase(S2))"), sources, config={"callbacks": [recorder]}
    )
    assert sorted(
        (m["genprog_line"], m["genprog_path"], m["genprog_operation"]) for m in recorder.metadata
    ) == [(1, "0", "fusion"), (1, "0.1", "paraphrase")]


class ThreadScheduler:
    """A CallScheduler that runs calls on a wide thread pool (as LangGraph's task
    runner does) and recalls the results it is given instead of running those calls."""

    def __init__(self, recalled: dict[tuple[int, str], NodeTrace] | None = None) -> None:
        self.recalled = recalled or {}
        self.submitted: list[tuple[int, str]] = []
        self.pool = concurrent.futures.ThreadPoolExecutor(16)

    def submit(self, node: NodeTrace, call: Any) -> concurrent.futures.Future[NodeTrace]:
        self.submitted.append((node.line, node.path))
        if (node.line, node.path) in self.recalled:
            done: concurrent.futures.Future[NodeTrace] = concurrent.futures.Future()
            done.set_result(self.recalled[node.line, node.path])
            return done
        return self.pool.submit(call)

    def asubmit(self, node: NodeTrace, call: Any) -> Any:
        self.submitted.append((node.line, node.path))
        if (node.line, node.path) in self.recalled:
            done = asyncio.get_running_loop().create_future()
            done.set_result(self.recalled[node.line, node.path])
            return done
        return asyncio.ensure_future(call())


def test_a_scheduler_gets_the_same_result_as_batching(sources: Sources) -> None:
    batched = ProgramExecutor(EchoChatModel()).execute(MIXED, sources)
    scheduler = ThreadScheduler()
    scheduled = ProgramExecutor(EchoChatModel(), scheduler=scheduler).execute(MIXED, sources)
    assert _strip_timing(scheduled) == _strip_timing(batched)
    # Submitted level by level, in program order within a level.
    heights = {(n.ref.line, n.ref.path): n.height for n in MIXED.nodes()}
    order = [heights[key] for key in scheduler.submitted]
    assert order == sorted(order) and len(order) == 7  # every call, `S4` needs none


async def test_async_scheduler_gets_the_same_result(sources: Sources) -> None:
    batched = await ProgramExecutor(EchoChatModel()).aexecute(MIXED, sources)
    executor = ProgramExecutor(EchoChatModel(), scheduler=ThreadScheduler())
    assert _strip_timing(await executor.aexecute(MIXED, sources)) == _strip_timing(batched)


@pytest.mark.parametrize("limit", [1, 2])
def test_the_executor_bounds_concurrency_under_a_scheduler(sources: Sources, limit: int) -> None:
    llm = EchoChatModel(delay=0.05)
    ProgramExecutor(llm, max_concurrency=limit, scheduler=ThreadScheduler()).execute(MIXED, sources)
    assert llm.max_in_flight == limit


async def test_recalled_results_are_reported_not_called(sources: Sources) -> None:
    first = ProgramExecutor(EchoChatModel()).execute(MIXED, sources)
    recalled = {(t.line, t.path): t for t in first.trace if t.line == 1}
    for run in ("sync", "async"):
        llm, seen = EchoChatModel(), []
        executor = ProgramExecutor(llm, scheduler=ThreadScheduler(recalled), on_node=seen.append)
        if run == "sync":
            result = executor.execute(MIXED, sources)
        else:
            result = await executor.aexecute(MIXED, sources)
        assert _strip_timing(result) == _strip_timing(first)
        assert len(llm.calls) == 7 - 3  # line 1 has three calls: recalled
        assert sorted((t.line, t.path) for t in seen) == sorted(
            (t.line, t.path) for t in first.trace
        )
