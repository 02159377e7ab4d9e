from __future__ import annotations

import re
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.plan import ProgramPlanner
from langchain_genprog.program.schema import ProgramSpec
from langchain_genprog.segment import Sources
from tests.unit_tests.fakes import ScriptedChatModel

DOCS = [
    "The council approved the park. It will cost two million dollars. Work starts in May.",
    "Residents wanted green space. The mayor praised the vote.",
]


@pytest.fixture
def sources() -> Sources:
    return Sources.from_documents(DOCS)


def test_text_mode_valid_first_time(sources: Sources) -> None:
    llm = ScriptedChatModel(replies=["- fusion(S1, compression(S2))\n- paraphrase(S4)"])
    result = ProgramPlanner(llm, mode="text").plan(sources, "What was decided?")
    assert result.issues == [] and result.retries == 0
    assert result.program.render() == "- fusion(S1, compression(S2))\n- paraphrase(S4)"
    prompt = llm.calls[0][0][-1].text
    assert "S5: The mayor praised the vote." in prompt
    assert "Question: What did the council decide?" not in prompt  # example stays in system
    assert "Question: What was decided?" in prompt


def test_reprompts_with_located_issues_then_succeeds(sources: Sources) -> None:
    llm = ScriptedChatModel(replies=["Sure! Here it is:\n- paraphrase(S99)", "- paraphrase(S3)"])
    result = ProgramPlanner(llm, mode="text").plan(sources, None)
    assert result.retries == 1
    assert result.issues == []
    retry_prompt = llm.calls[1][0][-1].text
    assert "line 1 `Sure! Here it is:`" in retry_prompt
    assert "S99 does not exist" in retry_prompt
    assert "Task: summarize" in llm.calls[0][0][-1].text


def test_failure_after_retries_is_reported_not_dropped(sources: Sources) -> None:
    llm = ScriptedChatModel(replies=["garbage"] * 3)
    result = ProgramPlanner(llm, mode="text", max_retries=2).plan(sources, "q")
    assert len(result.attempts) == 3
    assert result.program.lines == []
    assert result.issues and "neither a sentence id" in result.issues[0].message


def test_keeps_best_attempt(sources: Sources) -> None:
    llm = ScriptedChatModel(replies=["- S1\n- S2\n- nope(S3)", "- S1", "- S1\nbad"])
    result = ProgramPlanner(llm, mode="text", max_retries=2).plan(sources, "q")
    assert [line.root.render() for line in result.program.lines] == ["S1", "S2"]
    assert len(result.issues) == 1


def test_braces_in_sources_do_not_break_prompting() -> None:
    sources = Sources.from_documents(['He said "{x}" and {y}. Then left.'])
    llm = ScriptedChatModel(replies=["- S1"])
    ProgramPlanner(llm, mode="text").plan(sources, "What about {z}?")
    assert "{x}" in llm.calls[0][0][-1].text and "{z}" in llm.calls[0][0][-1].text


def test_offered_subset_is_enforced(sources: Sources) -> None:
    llm = ScriptedChatModel(replies=["- S1", "- S2"])
    result = ProgramPlanner(llm, mode="text").plan(sources, "q", ranked_ids=[2, 3])
    assert result.retries == 1
    assert result.program.render() == "- S2"
    assert "S1:" not in llm.calls[0][0][-1].text


def test_grammar_mode_line_by_line_without_reuse(sources: Sources) -> None:
    def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        grammar = kwargs["grammar"]
        ids = re.findall(
            r'"S(\d+)"', next(ln for ln in grammar.splitlines() if ln.startswith("sid"))
        )
        if "END" in grammar and len(ids) < 3:
            return "END"
        return f"- fusion(S{ids[0]}, S{ids[1]})\n"

    llm = ScriptedChatModel(respond=respond, supports_grammar=True)
    planner = ProgramPlanner(llm, grammar_candidates=3)
    assert planner.resolved_mode == "grammar"
    result = planner.plan(sources, "cost?", ranked_ids=[2, 1, 3, 4, 5])
    assert result.program.render() == "- fusion(S2, S1)\n- fusion(S3, S4)"
    first_grammar = llm.calls[0][1]["grammar"]
    assert "END" not in first_grammar  # at least one line is required
    second_ids = re.findall(
        r'"S(\d+)"', llm.calls[1][1]["grammar"].split("sid ::=")[1].splitlines()[0]
    )
    assert second_ids == ["3", "4", "5"]  # used ids are no longer offered
    assert "- fusion(S2, S1)" in llm.calls[1][0][-1].text  # program so far is shown
    assert result.mode == "grammar" and result.attempts[0].llm_calls == 3


def test_grammar_mode_offers_unary_operations_only_where_they_apply(sources: Sources) -> None:
    seen: list[str] = []

    def applies(text: str) -> set[str]:
        seen.append(text)
        return {"compression"} if "two million" in text else set()

    llm = ScriptedChatModel(replies=["- compression(S2)\n", "END"], supports_grammar=True)
    planner = ProgramPlanner(llm, grammar_candidates=3, leaf_operations=applies)
    result = planner.plan(sources, "cost?", ranked_ids=[2, 1, 3])
    assert result.program.render() == "- compression(S2)"
    grammar = llm.calls[0][1]["grammar"]
    assert 'u2 ::= "compression(S2" ")"' in grammar and "un1 ::= u2\n" in grammar
    assert "paraphrase(S" not in grammar
    assert len(seen) == 3  # each offered sentence is judged once per plan


def test_grammar_mode_offers_only_fusions_that_fit(sources: Sources) -> None:
    asked: list[list[str]] = []

    def fits(texts: list[str]) -> bool:
        asked.append(texts)
        return any("two million" in t for t in texts)

    llm = ScriptedChatModel(replies=["- fusion(S1, S2)\n", "END"], supports_grammar=True)
    planner = ProgramPlanner(llm, grammar_candidates=3, fusable=fits)
    planner.plan(sources, "cost?", ranked_ids=[1, 2, 3])
    grammar = llm.calls[0][1]["grammar"]
    fu1 = next(line for line in grammar.splitlines() if line.startswith("fu1 ::="))
    assert '"S1, S2"' in fu1 and '"S2, S3"' in fu1 and '"S1, S3"' not in fu1
    assert all(isinstance(t, str) for texts in asked for t in texts)


def test_grammar_mode_bounds_the_inputs_of_a_fusion(sources: Sources) -> None:
    llm = ScriptedChatModel(replies=["- fusion(S1, S2)\n", "END"], supports_grammar=True)
    ProgramPlanner(llm, grammar_candidates=3, max_fusion_inputs=2).plan(
        sources, "cost?", ranked_ids=[1, 2, 3]
    )
    fu1 = next(
        line for line in llm.calls[0][1]["grammar"].splitlines() if line.startswith("fu1 ::=")
    )
    assert '"S1, S2"' in fu1 and '"S1, S2, S3"' not in fu1
    with pytest.raises(InvalidInputError, match="max_fusion_inputs"):
        ProgramPlanner(llm, max_fusion_inputs=1)


def test_structured_mode_uses_schema(sources: Sources) -> None:
    class StructuredFake(ScriptedChatModel):
        def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            from langchain_core.runnables import RunnableLambda

            assert schema is ProgramSpec
            return RunnableLambda(
                lambda _: ProgramSpec.model_validate(
                    {"sentences": [{"operation": "paraphrase", "inputs": ["S2"]}, "S7"]}
                )
            )

    result = ProgramPlanner(StructuredFake(), mode="structured", max_retries=0).plan(sources, "q")
    assert result.program.render() == "- paraphrase(S2)"
    assert "S7 does not exist" in result.issues[0].message


def test_invalid_options() -> None:
    with pytest.raises(InvalidInputError):
        ProgramPlanner(ScriptedChatModel(), max_sentences=0)
