from __future__ import annotations

import pytest

from langchain_genprog.errors import InvalidProgramError
from langchain_genprog.program import (
    Call,
    SentenceRef,
    parse_program,
    parse_program_strict,
)


def test_parses_nested_calls_with_instruction() -> None:
    result = parse_program('- fusion(paraphrase(S1), S5, instruction="keep the date")')
    assert result.issues == []
    (line,) = result.program.lines
    root = line.root
    assert isinstance(root, Call)
    assert root.operation == "fusion"
    assert root.instruction == "keep the date"
    assert isinstance(root.inputs[0], Call) and root.inputs[0].operation == "paraphrase"
    assert root.inputs[1] == SentenceRef(id=5)
    assert line.leaves() == [1, 5]


def test_render_round_trips() -> None:
    text = '- fusion(paraphrase(S1), compression(S2), instruction="say \\"why\\"")\n- S4'
    program = parse_program_strict(text)
    again = parse_program_strict(program.render())
    assert again.render() == program.render()
    assert program.lines[0].root.instruction == 'say "why"'


@pytest.mark.parametrize("bullet", ["- ", "* ", "1. ", "2) ", "Line 3: ", "  - "])
def test_accepts_common_bullets(bullet: str) -> None:
    result = parse_program(f"{bullet}paraphrase(S2)")
    assert result.issues == []
    assert result.program.lines[0].leaves() == [2]


def test_ignores_blank_lines_and_code_fences() -> None:
    result = parse_program("```\n- paraphrase(S1)\n\n- compression(S2)\n```")
    assert result.issues == []
    assert [line.index for line in result.program.lines] == [1, 2]


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("- summarize(S1)", "unknown operation `summarize`"),
        ("- paraphrase(S1", "not a call tree"),
        ("- __import__('os').system('rm -rf /')", "only plain operation names"),
        ("- paraphrase(x)", "neither a sentence id"),
        ('- paraphrase("The text")', "quoted string"),
        ("- paraphrase(S1, style='x')", "unknown keyword `style`"),
        ("- paraphrase(S1, instruction=3)", "instruction must be a quoted string"),
        ("- S1 + S2", "unexpected BinOp"),
        ("- lambda: 1", "unexpected Lambda"),
        ("- paraphrase(*S1)", "unexpected Starred"),
        ("Here is the program:", "not a call tree"),
    ],
)
def test_rejects_with_located_message(line: str, fragment: str) -> None:
    result = parse_program(f"- extract(S9)\n{line}")
    assert len(result.program.lines) == 1  # the good line survives
    (issue,) = result.issues
    assert issue.line == 2
    assert fragment in issue.message
    assert issue.text == line


def test_never_evaluates(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec must never be called")

    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    result = parse_program("- fusion(S1, S2)\n- __import__('os').getcwd()")
    assert len(result.program.lines) == 1 and len(result.issues) == 1


def test_overlong_and_deeply_nested_lines_are_faults() -> None:
    deep = "- " + "paraphrase(" * 400 + "S1" + ")" * 400
    long = "- fusion(" + ", ".join(f"S{i}" for i in range(1, 800)) + ")"
    result = parse_program(f"{deep}\n{long}")
    assert len(result.issues) == 2
    assert all("longer than" in i.message or "nested" in i.message for i in result.issues)


def test_strict_raises_with_every_issue() -> None:
    with pytest.raises(InvalidProgramError) as info:
        parse_program_strict("- nope(S1)\n- paraphrase(S1")
    assert len(info.value.issues) == 2
    assert "line 1" in str(info.value) and "line 2" in str(info.value)


def test_strict_rejects_empty_program() -> None:
    with pytest.raises(InvalidProgramError, match="no lines"):
        parse_program_strict("\n\n")
