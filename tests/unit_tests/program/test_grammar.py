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
    assert grammar.startswith('root ::= ("- " top "\\n") | "END"\ntop ::= e3\n')
    assert "END" not in program_line_grammar([1], allow_end=False)


def test_fan_in_bound_nests_optional_inputs() -> None:
    many = list(range(1, 12))  # too many to enumerate combinations
    grammar = program_line_grammar(many, max_depth=1, max_fan_in=4)
    fusion = next(line for line in grammar.splitlines() if line.startswith("fu1 ::="))
    assert fusion == 'fu1 ::= "fusion(" e0 ", " e0 (", " e0 (", " e0)?)? ")"'


def test_leaf_fusions_enumerate_distinct_ids() -> None:
    grammar = program_line_grammar([4, 9, 2], max_depth=1, max_fan_in=3)
    fusion = next(line for line in grammar.splitlines() if line.startswith("fu1 ::="))
    combos = re.findall(r'"(S[\d, S]+)"', fusion)
    assert combos == ["S4, S9", "S4, S2", "S9, S2", "S4, S9, S2"]


def test_require_operation_excludes_bare_ids_at_top() -> None:
    grammar = program_line_grammar([1, 2], max_depth=2, require_operation=True)
    assert "top ::= un2 | fu2" in grammar
    assert "top ::= e2" in program_line_grammar([1, 2], max_depth=2)


def test_instruction_rule_only_when_allowed() -> None:
    assert "instr ::=" not in program_line_grammar([1])
    assert "instr ::=" in program_line_grammar([1], allow_instruction=True)


@pytest.mark.parametrize("kwargs", [{"candidate_ids": []}, {"candidate_ids": [1], "max_depth": 0}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        program_line_grammar(**kwargs)
