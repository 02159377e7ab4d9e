from __future__ import annotations

import pytest

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.plan import ProgramPlanner
from langchain_genprog.plan.budget import (
    WordBudget,
    fit_to_budget,
    node_words,
    sentences_within,
)
from langchain_genprog.program.parser import parse_program
from langchain_genprog.segment import Sources
from tests.unit_tests.fakes import ScriptedChatModel

# Word counts: S1 10, S2 10, S3 5, S4 20 (numbers are words too).
DOCS = [
    "One two three four five six seven eight nine ten. "
    "Alpha beta gamma delta epsilon zeta eta theta iota kappa. Red green blue cyan teal.",
    "The council met on Monday and voted 7 to 2 for a new park that will cost 2 million dollars.",
]


@pytest.fixture
def sources() -> Sources:
    return Sources.from_documents(DOCS)


def _line(text: str, sources: Sources) -> float:
    return node_words(parse_program(text).program.lines[0].root, sources)


def test_expected_words_follow_the_operations_bounds(sources: Sources) -> None:
    assert [len(sources.sentence(i).text.split()) for i in (1, 2, 3, 4)] == [10, 10, 5, 20]
    assert _line("- S4", sources) == 20
    assert _line("- paraphrase(S4)", sources) == 20
    assert _line("- compression(S4)", sources) == pytest.approx(14)  # 0.7 x 20
    assert _line("- fusion(S1, S2)", sources) == pytest.approx(15)  # 0.75 x 20
    assert _line("- fusion(S1, compression(S4))", sources) == pytest.approx(0.75 * (10 + 14))


def test_the_first_line_that_overspends_ends_the_program(sources: Sources) -> None:
    program = parse_program("- S1\n- S4\n- S3").program
    kept, left_out = fit_to_budget(program, sources, max_words=25)
    assert kept.render() == "- S1"
    # S3 would still fit after S1, but the answer does not skip a line and go on.
    assert [issue.line for issue in left_out] == [2, 3]
    assert "max_words=25" in left_out[0].message and "15 words left" in left_out[0].message
    assert "about 20" in left_out[0].message and left_out[0].text == "- S4"
    assert left_out[1].text == "- S3"


def test_the_first_line_is_kept_whatever_the_budget(sources: Sources) -> None:
    program = parse_program("- S4\n- S3").program
    kept, left_out = fit_to_budget(program, sources, max_words=1)
    assert kept.render() == "- S4" and [i.line for i in left_out] == [2]
    unchanged, none = fit_to_budget(program, sources, max_words=25)
    assert unchanged == program and none == []


def test_budget_rejects_a_non_positive_bound(sources: Sources) -> None:
    with pytest.raises(InvalidInputError, match="max_words"):
        WordBudget(0)
    with pytest.raises(InvalidInputError, match="max_words"):
        ProgramPlanner(ScriptedChatModel(replies=[]), max_words=0)


def test_written_sentences_are_cut_by_the_same_rule() -> None:
    texts = ["a b c d e f", "g h i j", "k l"]
    assert sentences_within(texts, 10) == 2
    assert sentences_within(texts, 12) == 3
    assert sentences_within(texts, 1) == 1
    assert sentences_within([], 5) == 0


def test_text_mode_reports_the_lines_left_out(sources: Sources) -> None:
    llm = ScriptedChatModel(replies=["- S1\n- fusion(S2, S3)\n- S4"])
    result = ProgramPlanner(llm, mode="text", max_words=22).plan(sources, "q")
    assert result.program.render() == "- S1\n- fusion(S2, S3)"  # 10 + 11.25 words
    assert [(i.line, i.text) for i in result.issues] == [(3, "- S4")]


def test_grammar_mode_stops_planning_at_the_budget(sources: Sources) -> None:
    llm = ScriptedChatModel(
        replies=["- compression(S4)\n", "- fusion(S1, S2)\n", "- S3\n"], supports_grammar=True
    )
    planner = ProgramPlanner(llm, max_words=20, require_operation=False)
    result = planner.plan(sources, "q", ranked_ids=[4, 1, 2, 3])
    assert result.program.render() == "- compression(S4)"  # 14 words; the fusion needs 15
    assert len(llm.calls) == 2  # no line is planned after the budget is spent
    assert [(i.line, i.text) for i in result.issues] == [(2, "- fusion(S1, S2)")]
    assert "left out" in result.issues[0].message


def test_without_a_budget_nothing_changes(sources: Sources) -> None:
    llm = ScriptedChatModel(replies=["- S1\n- S4\n- S3"])
    result = ProgramPlanner(llm, mode="text").plan(sources, "q")
    assert len(result.program.lines) == 3 and result.issues == []
