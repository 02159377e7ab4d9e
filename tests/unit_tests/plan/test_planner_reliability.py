"""Issue 11, items 3 and 7: planner calls are retried, replies and issues are bounded."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableLambda

from langchain_genprog.errors import PlanningError, ProgramIssue, cap_issues
from langchain_genprog.graph import create_genprog_graph
from langchain_genprog.limits import MAX_ISSUES, MAX_PLANNER_REPLY_LINES
from langchain_genprog.plan import ProgramPlanner
from langchain_genprog.program.parser import parse_program
from langchain_genprog.program.schema import ProgramSpec
from langchain_genprog.segment import Sources
from tests.unit_tests.fakes import ScriptedChatModel

DOCS = [
    "The council approved the park. It will cost two million dollars. Work starts in May.",
    "Residents wanted green space. The mayor praised the vote.",
]


class FlakyPlanner(ScriptedChatModel):
    """Raises ``error`` on the first ``failures`` calls, then answers like its script."""

    failures: int = 1
    error: str = "runtime"
    raised: int = 0

    def _fail(self) -> bool:
        if self.failures < 0 or self.raised < self.failures:
            self.raised += 1
            if self.error == "timeout":
                raise TimeoutError("the provider timed out")
            raise RuntimeError("connection reset")
        return False

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self._fail()
        return super()._generate(messages, *args, **kwargs)

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        def call(_: Any) -> Any:
            self._fail()
            return ProgramSpec.model_validate({"sentences": ["S1"]})

        return RunnableLambda(call)


def _operation(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
    if "Program:" in messages[-1].text:
        return "- paraphrase(S1)"
    return "The council backed the park."


def test_transient_planner_failure_is_retried() -> None:
    # Before: the RuntimeError of the first call ended the run.
    sources = Sources.from_documents(DOCS)
    llm = FlakyPlanner(replies=["- paraphrase(S1)"], failures=1)
    result = ProgramPlanner(llm, mode="text").plan(sources, "q")
    assert result.program.render() == "- paraphrase(S1)"
    assert llm.raised == 1 and result.retries == 0


@pytest.mark.parametrize("mode", ["text", "structured", "grammar"])
def test_persistent_timeout_is_a_typed_planning_error(mode: str) -> None:
    # Before: the TimeoutError escaped untyped.
    sources = Sources.from_documents(DOCS)
    llm = FlakyPlanner(failures=-1, error="timeout", supports_grammar=mode == "grammar")
    planner = ProgramPlanner(llm, mode=mode, max_call_retries=2)  # type: ignore[arg-type]
    with pytest.raises(PlanningError, match=r"failed 3 time.*TimeoutError") as info:
        planner.plan(sources, "q")
    assert isinstance(info.value.__cause__, TimeoutError)
    assert llm.raised == 3


async def test_persistent_timeout_is_typed_in_async_runs() -> None:
    sources = Sources.from_documents(DOCS)
    llm = FlakyPlanner(failures=-1, error="timeout")
    with pytest.raises(PlanningError, match="TimeoutError"):
        await ProgramPlanner(llm, mode="text").aplan(sources, "q")
    graph = create_genprog_graph(FlakyPlanner(failures=-1, error="timeout"), plan_mode="text")
    with pytest.raises(PlanningError, match="TimeoutError"):
        await graph.ainvoke({"question": "q", "documents": DOCS})


def test_graph_survives_one_planner_failure() -> None:
    # The gate would regenerate "backed" (a word not in the source): off, this is the planner.
    graph = create_genprog_graph(
        FlakyPlanner(respond=_operation, failures=1), plan_mode="text", grounding="off"
    )
    state = graph.invoke({"question": "q", "documents": DOCS})
    assert state["answer"] == "The council backed the park."


def test_structured_parse_error_is_still_a_reprompt_not_a_call_retry() -> None:
    calls: list[int] = []

    class BadJson(ScriptedChatModel):
        def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            def call(_: Any) -> Any:
                calls.append(1)
                raise OutputParserException("not json")

            return RunnableLambda(call)

    sources = Sources.from_documents(DOCS)
    result = ProgramPlanner(BadJson(), mode="structured", max_retries=0).plan(sources, "q")
    assert len(calls) == 1
    assert result.issues and "structured output failed: not json" in result.issues[0].message


def test_structured_call_failure_is_retried() -> None:
    sources = Sources.from_documents(DOCS)
    llm = FlakyPlanner(failures=2)
    result = ProgramPlanner(llm, mode="structured").plan(sources, "q")
    assert result.program.render() == "- S1" and llm.raised == 2


def test_repeated_keyword_is_a_located_issue() -> None:
    # Before: parsed as instruction="b", with no issue.
    parsed = parse_program('- S2\n- fusion(S1, S2, instruction="a", instruction="b")')
    assert [line.index for line in parsed.program.lines] == [1]
    [issue] = parsed.issues
    assert issue.line == 2 and "repeats `instruction=`" in issue.message
    assert "**" in parse_program("- fusion(S1, S2, **kw)").issues[0].message


def test_huge_planner_reply_is_read_only_up_to_the_limit() -> None:
    # Before: a 50,000-line reply was parsed whole.
    reply = "- paraphrase(S1)\n" + "- nope(S1)\n" * 50_000
    parsed = parse_program(reply)
    assert len(parsed.program.lines) == 1
    cut = [issue for issue in parsed.issues if issue.line == 0]
    assert any("only the first 100,000 were read" in issue.message for issue in cut)
    assert any(f"only the first {MAX_PLANNER_REPLY_LINES} were read" in i.message for i in cut)
    assert max(issue.line for issue in parsed.issues) <= MAX_PLANNER_REPLY_LINES


def test_looping_plan_keeps_a_bounded_number_of_issues() -> None:
    # Before: a 5,000-line looping plan put 4,999 issues in the message metadata.
    sources = Sources.from_documents(DOCS)
    loop = "- paraphrase(S1)\n" * 5_000
    llm = ScriptedChatModel(replies=[loop])
    result = ProgramPlanner(llm, mode="text", max_retries=0).plan(sources, "q")
    assert len(result.program.lines) == 1
    assert len(result.issues) == MAX_ISSUES + 1
    assert "more issues" in result.issues[-1].message
    assert len(result.attempts[0].issues) == MAX_ISSUES + 1


def test_cap_issues_counts_what_it_leaves_out() -> None:
    issues = [ProgramIssue(line=k, message="bad") for k in range(1, 31)]
    capped = cap_issues(issues, limit=5)
    assert capped[:5] == issues[:5]
    assert capped[5].message == "... and 25 more issues (lines 6-30), not listed one by one"
    assert cap_issues(issues[:3], limit=5) == issues[:3]
