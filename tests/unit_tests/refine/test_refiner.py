from __future__ import annotations

import pytest

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.execute import ExecutionResult, NodeTrace, ProgramExecutor
from langchain_genprog.program.model import Program
from langchain_genprog.program.parser import parse_program
from langchain_genprog.refine import (
    EmbeddingNodeChecker,
    NodeCheck,
    NodeRef,
    ProgramRefiner,
    RefinementResult,
    RefinementRound,
)
from langchain_genprog.segment import Sources
from tests.unit_tests.fakes import ScriptedChatModel
from tests.unit_tests.refine.fakes import (
    BagOfWordsEmbeddings,
    join,
    operation_calls,
    operation_model,
    words,
)

DOCS = [
    "The council approved the park. It will cost two million dollars. Work starts in May.",
    "Residents wanted green space. The mayor praised the vote.",
]
S1, S2, S3, S4 = (
    "The council approved the park.",
    "It will cost two million dollars.",
    "Work starts in May.",
    "Residents wanted green space.",
)
NESTED = "- paraphrase(fusion(S1, S2))\n- paraphrase(S3)\n- S4"


@pytest.fixture
def sources() -> Sources:
    return Sources.from_documents(DOCS)


def program(text: str) -> Program:
    parsed = parse_program(text)
    assert not parsed.issues, parsed.issues
    return parsed.program


def run(
    llm: ScriptedChatModel, text: str, sources: Sources, **options: object
) -> tuple[Program, ExecutionResult, ProgramRefiner]:
    prog = program(text)
    execution = ProgramExecutor(llm, max_retries=0).execute(prog, sources)
    checker = EmbeddingNodeChecker(BagOfWordsEmbeddings())
    return prog, execution, ProgramRefiner(llm, checker, **options)  # type: ignore[arg-type]


def ref(line: int, path: str) -> NodeRef:
    return NodeRef(line=line, path=path)


def test_failing_node_is_rerun_with_feedback_and_its_ancestor_follows(sources: Sources) -> None:
    llm = operation_model()
    prog, execution, refiner = run(llm, NESTED, sources)
    assert execution.lines[0].text == S1  # the fusion copied its first input
    executed = len(llm.calls)
    assert executed == 3

    result = refiner.refine(prog, sources, execution)

    # Exactly two extra calls: the fusion (with feedback), then its parent; line 2 is untouched.
    extra = operation_calls(llm)[executed:]
    assert [(op, inputs) for op, inputs, _ in extra] == [
        ("fusion", [S1, S2]),
        ("paraphrase", [join([S1, S2])]),
    ]
    feedback = extra[0][2]
    assert feedback is not None
    assert feedback.startswith(f'Your previous answer "{S1}" was rejected: it copies input 1')
    assert f'leaves out input 2 ("{S2}")' in feedback
    assert extra[1][2] is None  # the ancestor passed: no feedback, only new input

    assert [line.text for line in result.execution.lines] == [join([S1, S2]), S3, S4]
    assert result.converged and result.still_failing == []
    assert result.changed_lines == [1]
    assert [r.round for r in result.rounds] == [0, 1]
    initial, first = result.rounds
    assert [(c.path, c.supported) for c in initial.checked] == [
        ("0.0", False),
        ("0", True),
        ("0", True),
    ]
    assert initial.failed == [ref(1, "0.0")] == initial.still_failing
    assert first.failed == [ref(1, "0.0")] and first.propagated == [ref(1, "0")]
    assert [c.supported for c in first.checked] == [True, True]
    assert first.still_failing == [] and first.kept == [] and first.stale == []
    assert (result.llm_calls, result.input_tokens, result.output_tokens) == (2, 20, 10)
    assert result.reruns == 2 and result.usage.checks == 5
    # The refined trace keeps the program's instruction-less node but records the feedback.
    by_key = {(t.line, t.path): t for t in result.execution.trace}
    assert by_key[(1, "0.0")].instruction == feedback
    assert by_key[(1, "0")].inputs == [join([S1, S2])]
    assert [(t.line, t.path) for t in result.execution.trace] == [
        (t.line, t.path) for t in execution.trace
    ]
    fusion = next(n for n in result.nodes if n.path == "0.0")
    assert [(v.round, v.trigger, v.adopted) for v in fusion.versions] == [
        (0, "execute", True),
        (1, "check", True),
    ]
    parent = next(n for n in result.nodes if (n.line, n.path) == (1, "0"))
    assert [v.trigger for v in parent.versions] == ["execute", "input"]
    assert {(n.line, n.path) for n in result.nodes} == {(1, "0.0"), (1, "0")}
    # The original execution is left as it was.
    assert execution.lines[0].text == S1


def test_passing_program_costs_no_model_call(sources: Sources) -> None:
    llm = operation_model(fusion=lambda inputs, _: join(inputs))
    prog, execution, refiner = run(llm, NESTED, sources)
    executed = len(llm.calls)
    result = refiner.refine(prog, sources, execution)
    assert len(llm.calls) == executed
    assert result.execution == execution
    assert len(result.rounds) == 1 and result.converged and result.nodes == []
    assert result.llm_calls == 0


def test_node_that_never_passes_is_bounded_and_reported(sources: Sources) -> None:
    llm = operation_model(fusion=lambda inputs, _: inputs[0])  # ignores feedback
    prog, execution, refiner = run(llm, NESTED, sources, max_rounds=3)
    executed = len(llm.calls)
    result = refiner.refine(prog, sources, execution)

    # One re-run per round, no more; the same output is not "better", so the parent never moves.
    extra = operation_calls(llm)[executed:]
    assert [op for op, _, _ in extra] == ["fusion"] * 3
    assert [r.round for r in result.rounds] == [0, 1, 2, 3]
    assert all(r.kept == [ref(1, "0.0")] for r in result.rounds[1:])
    assert all(r.propagated == [] for r in result.rounds)
    assert not result.converged
    assert [(c.line, c.path, c.operation) for c in result.still_failing] == [(1, "0.0", "fusion")]
    assert "leaves out input 2" in result.still_failing[0].reason
    assert result.execution.lines == execution.lines
    assert result.summary()["still_failing"][0]["path"] == "0.0"
    fusion = result.nodes[0]
    assert [v.adopted for v in fusion.versions] == [True, False, False, False]
    assert fusion.current.round == 0 and fusion.reruns == 3


def test_the_best_of_several_failing_outputs_is_kept(sources: Sources) -> None:
    partial = "The council approved the park and it will cost"
    replies = iter([S1, partial, "Bananas are yellow."])
    llm = operation_model(fusion=lambda inputs, _: next(replies))
    prog, execution, refiner = run(llm, NESTED, sources, max_rounds=2)
    executed = len(llm.calls)
    result = refiner.refine(prog, sources, execution)

    extra = [(op, inputs) for op, inputs, _ in operation_calls(llm)[executed:]]
    # Round 1: a better (still failing) fusion is adopted and its parent re-runs on it.
    # Round 2: a worse one is not adopted, so the parent is left alone.
    assert extra == [("fusion", [S1, S2]), ("paraphrase", [partial]), ("fusion", [S1, S2])]
    assert result.execution.lines[0].text == partial
    assert [c.path for c in result.still_failing] == ["0.0"]
    assert result.rounds[1].kept == [] and result.rounds[2].kept == [ref(1, "0.0")]
    fusion = result.nodes[0]
    assert [v.adopted for v in fusion.versions] == [True, True, False]
    assert fusion.current.trace.output == partial
    scores = [v.check.score for v in fusion.versions if v.check is not None]
    assert scores[1] > max(scores[0], scores[2])
    # The feedback of round 2 is about the output rejected in round 1.
    second_feedback = operation_calls(llm)[-1][2]
    assert second_feedback is not None and f'"{partial}"' in second_feedback


def test_failed_operation_is_rerun_and_unblocks_its_ancestor(sources: Sources) -> None:
    def paraphrase(inputs: list[str], instruction: str | None) -> str:
        return inputs[0] if instruction else ""  # an empty reply until told

    llm = operation_model(fusion=lambda inputs, _: join(inputs), paraphrase=paraphrase)
    prog, execution, refiner = run(llm, "- fusion(paraphrase(S3), S4)", sources)
    assert execution.lines[0].error is not None and "input failed" in execution.lines[0].error
    result = refiner.refine(prog, sources, execution)
    assert result.execution.lines[0].error is None
    assert result.execution.lines[0].text == join([S3, S4])
    initial = result.rounds[0]
    assert [(c.path, c.checker) for c in initial.checked] == [("0.0", "executor")]
    assert "the operation failed" in initial.checked[0].reason
    assert result.rounds[1].propagated == [ref(1, "0")]
    assert result.converged and result.changed_lines == [1]
    feedback = operation_calls(llm)[-2][2]
    assert feedback is not None and '"(none)" was rejected: the operation failed' in feedback

    # Without rerun_errors the failure stays as the executor reported it.
    llm = operation_model(fusion=lambda inputs, _: join(inputs), paraphrase=paraphrase)
    prog, execution, refiner = run(llm, "- fusion(paraphrase(S3), S4)", sources, rerun_errors=False)
    result = refiner.refine(prog, sources, execution)
    assert result.execution == execution and result.rounds[0].checked == []


def test_zero_rounds_only_checks(sources: Sources) -> None:
    llm = operation_model()
    prog, execution, refiner = run(llm, NESTED, sources, max_rounds=0)
    executed = len(llm.calls)
    result = refiner.refine(prog, sources, execution)
    assert len(llm.calls) == executed
    assert len(result.rounds) == 1 and [c.path for c in result.still_failing] == ["0.0"]
    assert result.execution == execution


async def test_arefine_agrees_with_refine(sources: Sources) -> None:
    llm = operation_model()
    prog, execution, refiner = run(llm, NESTED, sources)
    sync = refiner.refine(prog, sources, execution)
    asynchronous = await refiner.arefine(prog, sources, execution)
    assert asynchronous.execution.lines == sync.execution.lines
    assert [r.model_dump(exclude={"seconds"}) for r in asynchronous.rounds] == [
        r.model_dump(exclude={"seconds"}) for r in sync.rounds
    ]
    assert asynchronous.llm_calls == sync.llm_calls == 2


def test_callbacks_and_plain_checker_and_custom_feedback(sources: Sources) -> None:
    class MillionChecker:
        """A plain NodeChecker (no batching): a fusion must mention the cost."""

        def __init__(self) -> None:
            self.seen = 0

        def check(self, trace: NodeTrace) -> NodeCheck:
            self.seen += 1
            ok = trace.operation != "fusion" or "million" in words(trace.output)
            return NodeCheck(
                line=0,  # wrong on purpose: the refiner pins verdicts to their nodes
                path="?",
                operation="?",
                supported=ok,
                score=float(ok),
                reason="" if ok else "the cost is missing",
            )

    llm = operation_model()
    prog = program(NESTED)
    execution = ProgramExecutor(llm).execute(prog, sources)
    checker = MillionChecker()
    refiner = ProgramRefiner(
        llm, checker, feedback=lambda trace, check: f"rejected, {check.reason}; fix {trace.path}"
    )
    checks: list[NodeCheck] = []
    rounds: list[RefinementRound] = []
    reruns: list[NodeTrace] = []
    result = refiner.refine(
        prog,
        sources,
        execution,
        on_check=checks.append,
        on_round=rounds.append,
        on_node=reruns.append,
    )
    assert result.converged and result.checker == "MillionChecker"
    assert [(c.line, c.path) for c in checks] == [
        (1, "0.0"),
        (1, "0"),
        (2, "0"),
        (1, "0.0"),
        (1, "0"),
    ]
    assert checks[0].reason == "the cost is missing" and checks[0].checker == "MillionChecker"
    assert [r.round for r in rounds] == [0, 1] and rounds == result.rounds
    assert [(t.path, t.operation) for t in reruns] == [("0.0", "fusion"), ("0", "paraphrase")]
    assert reruns[0].instruction == "rejected, the cost is missing; fix 0.0"
    assert checker.seen == 5 == result.usage.checks


def test_program_instruction_is_kept_in_front_of_the_feedback(sources: Sources) -> None:
    llm = operation_model()
    prog, execution, refiner = run(
        llm, '- fusion(S1, S2, instruction="focus on the cost")', sources
    )
    refiner.refine(prog, sources, execution)
    instruction = operation_calls(llm)[-1][2]
    assert instruction is not None
    assert instruction.startswith("focus on the cost. Your previous answer")


def test_mismatched_execution_and_bad_arguments(sources: Sources) -> None:
    llm = operation_model()
    _, execution, refiner = run(llm, NESTED, sources)
    with pytest.raises(InvalidInputError, match=r"no trace for line 1 node 0\.1"):
        refiner.refine(program("- fusion(S1, paraphrase(S2))"), sources, execution)
    with pytest.raises(InvalidInputError, match="compression in the program"):
        refiner.refine(
            program("- compression(fusion(S1, S2))\n- paraphrase(S3)\n- S4"), sources, execution
        )
    with pytest.raises(InvalidInputError, match="max_rounds"):
        ProgramRefiner(llm, refiner.checker, max_rounds=-1)
    with pytest.raises(InvalidInputError, match="check"):
        ProgramRefiner(llm, object())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="max_concurrency"):
        ProgramRefiner(llm, refiner.checker, max_concurrency=0)


def test_result_round_trips_through_json(sources: Sources) -> None:
    llm = operation_model()
    prog, execution, refiner = run(llm, NESTED, sources)
    result = refiner.refine(prog, sources, execution)
    again = RefinementResult.model_validate_json(result.model_dump_json())
    assert again == result and again.changed_lines == [1]
