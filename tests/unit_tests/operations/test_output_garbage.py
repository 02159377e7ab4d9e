"""Issue 11, items 7 and 8: replies that are not prose are rejected, retried, then reported."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_genprog.execute import ProgramExecutor
from langchain_genprog.limits import MAX_OUTPUT_SENTENCE_CHARS
from langchain_genprog.operations import InvalidOutputError, clean_output
from langchain_genprog.operations.prompts import nonsense_reason
from langchain_genprog.program.parser import parse_program
from langchain_genprog.segment import Sources
from tests.unit_tests.fuzz import fuzz
from tests.unit_tests.operations.fakes import EchoChatModel


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        ("fusion(S1, S999)", "program notation"),
        ("- paraphrase(compression(S7))", "program notation"),
        ('Fusion(S2, S3, instruction="merge")', "program notation"),
        ("S1, S2.", "program notation"),
        ("xkcd qwrtp zzzv bnmlk fghjd.", "not prose"),
        ("Vbnrt xqzlp mmmm wkrtsj pqvb.", "not prose"),
        ("blah blah blah blah blah", "repeats one word"),
        ("#### @@@ !!! a ~~~ ^^^ %%%", "mostly symbols"),
        ("12345 678.", "no words"),
        ("word " * (MAX_OUTPUT_SENTENCE_CHARS // 4), "MAX_OUTPUT_SENTENCE_CHARS"),
    ],
)
def test_garbage_replies_are_invalid_outputs(reply: str, fragment: str) -> None:
    # Before: each of these became an answer sentence.
    with pytest.raises(InvalidOutputError, match=fragment):
        clean_output(reply)


@pytest.mark.parametrize(
    "kept",
    [
        "The strengths of the rhythm section were praised.",
        "NASA and the FBI met at 3 p.m. in Washington.",
        "Die Angstschweißausbrüche der Schüler nahmen zu.",
        "株式会社は2024年に設立された。",
        "The fusion (merger) of the two firms closed in May.",
        "Model S3 sold 40,000 units.",
        "GDP rose 3.5% (q/q) in Q3.",
    ],
)
def test_real_sentences_are_kept(kept: str) -> None:
    assert clean_output(kept) == kept
    assert nonsense_reason(kept) is None


def test_program_line_followed_by_prose_keeps_the_prose() -> None:
    assert clean_output("fusion(S1, S2)\nThe park opened in May.") == "The park opened in May."


def test_control_characters_never_reach_an_answer() -> None:
    assert clean_output("The park\x00 opened\x1b in May.\u202e") == "The park opened in May."


def test_program_line_reply_is_retried_then_reported() -> None:
    sources = Sources.from_documents(["The park opened. It cost a lot."])
    llm = EchoChatModel(reply="fusion(S1, S999)")
    program = parse_program("- paraphrase(S1)\n- S2").program
    result = ProgramExecutor(llm, max_retries=2).execute(program, sources)
    assert len(llm.calls) == 3  # retried like any failed call
    first, second = result.lines
    assert not first.ok and "program notation" in (first.error or "")
    assert second.ok and second.text == "It cost a lot."
    assert [failure.line for failure in result.failures] == [1]


def test_nul_in_sources_is_not_copied_into_extracted_answers() -> None:
    sources = Sources.from_documents(["The park\x00 opened.\x07 It cost a lot."])
    # The stored sentence keeps its exact text (offsets map to the original) ...
    assert "\x00" in sources.sentence(1).text
    program = parse_program("- S1\n- extract(S2)").program
    result = ProgramExecutor(EchoChatModel()).execute(program, sources)
    # ... but what is copied into the answer is clean.
    assert [line.text for line in result.lines] == ["The park opened.", "It cost a lot."]
    assert "\x00" not in sources.render()


@fuzz(300)
@given(st.text(max_size=200))
def test_clean_output_returns_one_clean_line_or_raises_invalid_output(reply: str) -> None:
    try:
        sentence = clean_output(reply)
    except InvalidOutputError:
        return
    assert sentence and sentence == sentence.strip() and "\n" not in sentence
    assert not any(ch in sentence for ch in "\x00\x1b\u202e")
