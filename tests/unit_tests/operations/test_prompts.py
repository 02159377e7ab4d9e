from __future__ import annotations

import pytest

from langchain_genprog.errors import InvalidInputError, OperationError
from langchain_genprog.operations import InvalidOutputError, build_messages, clean_output
from langchain_genprog.operations.prompts import (
    COMPRESSION_PROMPT,
    FUSION_PROMPT,
    PARAPHRASE_PROMPT,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The park opens in May.", "The park opens in May."),
        ('Sure! Here is the paraphrase:\n"The park opens in May."', "The park opens in May."),
        ("Here's a shorter version: The park opens in May.", "The park opens in May."),
        ("**Paraphrase:** The park opens in May.", "The park opens in May."),
        ('Rewritten sentence: "The park opens in May".', "The park opens in May."),
        (
            "Combined sentence: The park, approved Monday, opens in May.",
            "The park, approved Monday, opens in May.",
        ),
        ("“The park opens in May.”", "The park opens in May."),
        ("Here is a paraphrase of the sentence.\nThe park opens in May.", "The park opens in May."),
        ("Okay!\n\n- The park opens in May.\n- It cost $2 million.", "The park opens in May."),
        (
            "<think>The user wants one sentence.</think>\nThe park opens in May.",
            "The park opens in May.",
        ),
        ("Instruction: be brief\nSentence: The park opens in May.", "The park opens in May."),
        ("  The park\n", "The park"),
    ],
)
def test_clean_output_strips_wrappers(raw: str, expected: str) -> None:
    assert clean_output(raw) == expected


@pytest.mark.parametrize(
    "kept",
    [
        '"Stop," she said, "the park is closed."',  # quotes inside belong to the text
        "Sure enough, the bridge collapsed.",  # "Sure" is not always filler
        "Dr. Smith paid $3.5 million. He left.",  # no regex sentence cutting
        'The JSON was {"a": 1} and {b}.',
        "Here is the sentence the judge read aloud.",  # a preamble only when text follows
    ],
)
def test_clean_output_keeps_real_text(kept: str) -> None:
    assert clean_output(kept) == kept


@pytest.mark.parametrize("raw", ["", "   \n ", '"..."', "Here is the paraphrase:", "Sure!", "---"])
def test_clean_output_rejects_unusable(raw: str) -> None:
    with pytest.raises(InvalidOutputError) as info:
        clean_output(raw)
    assert isinstance(info.value, OperationError)
    assert info.value.raw == raw


def test_prompts_variables() -> None:
    assert set(PARAPHRASE_PROMPT.input_variables) == {"text", "instruction"}
    assert set(COMPRESSION_PROMPT.input_variables) == {"text", "instruction"}
    assert set(FUSION_PROMPT.input_variables) == {"texts", "instruction"}


def test_braces_and_quotes_pass_through_templating() -> None:
    tricky = 'He wrote "{name}" and {{x}} then \'}{\' in f"{x!r}".'
    messages = build_messages("paraphrase", [tricky], instruction='keep "{quotes}"')
    assert messages[-1].text == tricky
    assert messages[0].text.endswith('Also: keep "{quotes}"')


def test_fusion_lists_inputs_one_per_line_normalized() -> None:
    messages = build_messages("fusion", ["First\n  one.", "Second {two}."])
    assert messages[-1].text == "First one.\nSecond {two}."
    assert "Also" not in messages[0].text  # no empty instruction for tiny models


def test_system_holds_the_task_and_asks_for_one_sentence() -> None:
    for operation, inputs in [
        ("compression", ["A."]),
        ("paraphrase", ["A."]),
        ("fusion", ["A.", "B."]),
    ]:
        system = build_messages(operation, inputs)[0].text  # type: ignore[arg-type]
        assert "sentence only" in system
        assert inputs[0] not in system  # the task is in the system message, inputs are not


@pytest.mark.parametrize(
    ("operation", "inputs"),
    [
        ("fusion", ["only one"]),
        ("paraphrase", ["a", "b"]),
        ("compression", []),
        ("paraphrase", ["   "]),
        ("extract", ["a"]),
        ("summarize", ["a"]),
    ],
)
def test_build_messages_rejects_bad_calls(operation: str, inputs: list[str]) -> None:
    with pytest.raises(InvalidInputError):
        build_messages(operation, inputs)  # type: ignore[arg-type]


def test_clean_output_rejects_a_looping_reply() -> None:
    loop = "In 11 States, Pick Governors Jim Cole, and " * 4
    with pytest.raises(InvalidOutputError, match="looped"):
        clean_output(loop)
    # Repeating a short phrase twice is ordinary language, not a loop.
    assert clean_output("The vote was close, very close, and the vote was close again.")
