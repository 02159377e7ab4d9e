from __future__ import annotations

from langchain_genprog.program import (
    ProgramLimits,
    ProgramSpec,
    parse_program,
    spec_to_program,
    validate_program,
)
from langchain_genprog.program.schema import OperationSpec, program_to_spec


def _validate(text: str, ids: range = range(1, 11), **kw: object):
    return validate_program(parse_program(text).program, set(ids), **kw)  # type: ignore[arg-type]


def test_unknown_id_names_the_valid_range() -> None:
    result = _validate("- paraphrase(S999)")
    (issue,) = result.issues
    assert "S999 does not exist" in issue.message and "S1 to S10" in issue.message
    assert result.program.lines == []


def test_ids_outside_candidates_are_rejected() -> None:
    result = _validate("- paraphrase(S3)\n- paraphrase(S4)", candidate_ids={3})
    assert len(result.program.lines) == 1
    assert "not among the sentences offered" in result.issues[0].message


def test_arity_rules() -> None:
    result = _validate(
        "- paraphrase(S1, S2)\n- fusion(S1)\n- compression()\n- fusion(S1, S2, S3, S4, S5)"
    )
    messages = [i.message for i in result.issues]
    assert any("exactly one input, got 2" in m for m in messages)
    assert any("at least two inputs, got 1" in m for m in messages)
    assert any("exactly one input, got 0" in m for m in messages)
    assert any("5 inputs; at most 4" in m for m in messages)
    assert result.program.lines == []


def test_depth_limit() -> None:
    result = _validate(
        "- paraphrase(compression(paraphrase(compression(S1))))",
        limits=ProgramLimits(max_depth=3),
    )
    assert "4 levels deep; at most 3" in result.issues[0].message


def test_extract_requires_a_sentence() -> None:
    result = _validate("- extract(paraphrase(S1))")
    assert "verbatim" in result.issues[0].message


def test_duplicates_reported_and_valid_lines_renumbered() -> None:
    result = _validate("- paraphrase(S9)\n- paraphrase(S1)\n- paraphrase(S1)\n- S2")
    assert [line.index for line in result.program.lines] == [1, 2, 3]
    assert [line.root.render() for line in result.program.lines] == [
        "paraphrase(S9)",
        "paraphrase(S1)",
        "S2",
    ]
    lines = sorted(i.line for i in result.issues)
    assert lines == [3]  # the repeat of line 2 (S9 is valid here)
    assert "repeats line 2" in result.issues[0].message
    assert result.issues[0].text == "- paraphrase(S1)"


def test_max_lines_reports_the_rest() -> None:
    result = _validate("- S1\n- S2\n- S3", limits=ProgramLimits(max_lines=2))
    assert len(result.program.lines) == 2
    assert "more than 2 lines" in result.issues[0].message


def test_structured_spec_converts_and_reports_bad_entries() -> None:
    spec = ProgramSpec(
        sentences=[
            OperationSpec(
                operation="fusion",
                inputs=["S1", OperationSpec(operation="compression", inputs=["s2"])],
            ),
            "S3",
            OperationSpec(operation="paraphrase", inputs=["the text"]),
        ]
    )
    program, issues = spec_to_program(spec)
    assert [line.root.render() for line in program.lines] == ["fusion(S1, compression(S2))", "S3"]
    assert issues[0].line == 3 and "not a sentence id" in issues[0].message
    assert program_to_spec(program).sentences[1] == "S3"


def test_program_spec_json_schema_is_recursive() -> None:
    schema = ProgramSpec.model_json_schema()
    assert "OperationSpec" in schema["$defs"]
