from __future__ import annotations

import re

import pytest

from langchain_genprog.program import program_line_grammar


def test_grammar_lists_only_candidate_ids() -> None:
    grammar = program_line_grammar([7, 3, 7, 12])
    sid_rule = next(line for line in grammar.splitlines() if line.startswith("sid ::="))
    assert re.findall(r'"S(\d+)"', sid_rule) == ["7", "3", "12"]


def test_grammar_has_one_rule_per_level_and_optional_end() -> None:
    grammar = program_line_grammar([1, 2], max_depth=3, allow_end=True)
    for level in (1, 2, 3):
        assert f"e{level} ::=" in grammar
    assert grammar.startswith('root ::= ("- " e3 "\\n") | "END"')
    assert "END" not in program_line_grammar([1], allow_end=False)


def test_fan_in_bound_nests_optional_inputs() -> None:
    grammar = program_line_grammar([1, 2], max_depth=1, max_fan_in=4)
    fusion = next(line for line in grammar.splitlines() if line.startswith("fu1 ::="))
    assert fusion.count('(", " e0') == 2


def test_instruction_rule_only_when_allowed() -> None:
    assert "instr ::=" not in program_line_grammar([1])
    assert "instr ::=" in program_line_grammar([1], allow_instruction=True)


@pytest.mark.parametrize("kwargs", [{"candidate_ids": []}, {"candidate_ids": [1], "max_depth": 0}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        program_line_grammar(**kwargs)
