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


def _language(grammar: str) -> re.Pattern[str]:
    """The grammar as a regular expression (it is finite: no rule refers to itself)."""
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines() if line)
    token = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\{\d+,\d+\}|[()|?]|[a-z][a-z0-9]*')

    def expand(body: str) -> str:
        out = []
        for tok in token.findall(body):
            if tok.startswith('"'):
                out.append(re.escape(tok[1:-1].replace('\\"', '"').replace("\\n", "\n")))
            elif tok[0].isalpha():
                out.append(f"(?:{expand(rules[tok])})")
            else:
                out.append("(?:" if tok == "(" else tok)
        return "".join(out)

    return re.compile(expand(rules["root"]))


def accepts(grammar: str, line: str) -> bool:
    return _language(grammar).fullmatch(line) is not None


def test_unrestricted_grammar_accepts_operations_on_any_candidate() -> None:
    grammar = program_line_grammar([1, 2, 3], require_operation=True)
    for line in ("- compression(S1)\n", "- paraphrase(S3)\n", "- fusion(S1, compression(S2))\n"):
        assert accepts(grammar, line), line
    assert not accepts(grammar, "- S1\n")
    assert not accepts(grammar, "- compression(S9)\n")


def test_unary_operations_only_where_they_apply() -> None:
    grammar = program_line_grammar(
        [1, 2, 3], require_operation=True, compressible=[2], paraphrasable=[3]
    )
    for line in (
        "- compression(S2)\n",
        "- paraphrase(S3)\n",
        "- fusion(S1, compression(S2))\n",
        "- compression(fusion(S1, S3))\n",  # a fusion's output is judged when it exists
        "- fusion(S1, S2)\n",
    ):
        assert accepts(grammar, line), line
    for line in (
        "- compression(S1)\n",
        "- compression(S3)\n",
        "- paraphrase(S2)\n",
        "- fusion(paraphrase(S1), S2)\n",
    ):
        assert not accepts(grammar, line), line


def test_nothing_applies_leaves_fusions() -> None:
    grammar = program_line_grammar(
        [1, 2], require_operation=True, compressible=[], paraphrasable=[]
    )
    assert accepts(grammar, "- fusion(S1, S2)\n")
    assert not accepts(grammar, "- compression(S1)\n")
    assert not accepts(grammar, "- S1\n")


def test_one_candidate_is_never_fused_with_itself() -> None:
    only = program_line_grammar([4], require_operation=True, compressible=[], paraphrasable=[])
    assert accepts(only, "- S4\n") and accepts(only, "END")
    assert not accepts(only, "- fusion(S4, S4)\n")
    squeezable = program_line_grammar([4], require_operation=True, compressible=[4])
    assert accepts(squeezable, "- compression(S4)\n")
    assert not accepts(squeezable, "- S4\n")


@pytest.mark.parametrize("ids", [[1, 2, 3], list(range(1, 12))])
def test_no_line_uses_a_sentence_twice_among_few_candidates(ids: list[int]) -> None:
    grammar = program_line_grammar(ids, max_depth=2, require_operation=True)
    assert accepts(grammar, "- compression(S1)\n")
    assert accepts(grammar, "- fusion(S2, compression(S1))\n")
    assert accepts(grammar, "- compression(fusion(S1, S2))\n")
    # A reordering needs one clause: a fusion's output has two.
    assert accepts(grammar, "- paraphrase(fusion(S1, S2))\n") == (len(ids) > 8)
    repeats = ("- fusion(S1, compression(S1))\n", "- fusion(paraphrase(S2), S2)\n")
    for line in repeats:
        # Enumerated (few candidates, as the planner offers) rules them out.
        assert accepts(grammar, line) == (len(ids) > 8), line


def test_leaf_fusions_only_of_sentences_that_can_meet_the_bound() -> None:
    def fusable(combo: tuple[int, ...]) -> bool:
        return 3 in combo  # say only S3 has something to delete

    grammar = program_line_grammar([1, 2, 3], require_operation=True, fusable=fusable)
    assert accepts(grammar, "- fusion(S1, S3)\n") and accepts(grammar, "- fusion(S1, S2, S3)\n")
    assert not accepts(grammar, "- fusion(S1, S2)\n")
    # A bounded fusion deletes from its inputs itself; over a compression it has nothing
    # left to delete and cannot meet its bound, so only a paraphrase nests, where it fits.
    assert not accepts(grammar, "- fusion(S1, compression(S3))\n")
    assert accepts(grammar, "- fusion(S1, paraphrase(S3))\n")
    assert accepts(grammar, "- fusion(paraphrase(S1), S3)\n")
    assert not accepts(grammar, "- fusion(paraphrase(S1), S2)\n")
    assert accepts(grammar, "- compression(fusion(S1, S3))\n")
    from llama_cpp import LlamaGrammar

    LlamaGrammar.from_string(grammar, verbose=False)


@pytest.mark.parametrize("depth", [1, 2])  # the planner writes at most depth 2
def test_nothing_to_fuse_or_apply_leaves_a_bare_id(depth: int) -> None:
    grammar = program_line_grammar(
        [1, 2],
        max_depth=depth,
        require_operation=True,
        compressible=[],
        paraphrasable=[],
        fusable=lambda combo: False,
    )
    assert accepts(grammar, "- S1\n") and accepts(grammar, "- S2\n")
    assert not accepts(grammar, "- fusion(S1, S2)\n")
    from llama_cpp import LlamaGrammar  # every rule it names exists

    LlamaGrammar.from_string(grammar, verbose=False)
