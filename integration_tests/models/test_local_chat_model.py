from __future__ import annotations

import threading

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models import get_default_chat_model
from langchain_genprog.models.llamacpp_chat import ChatLocalLlama
from langchain_genprog.program import (
    OperationSpec,
    ProgramSpec,
    parse_program,
    program_line_grammar,
    spec_to_program,
)

pytestmark = pytest.mark.slow


def test_invoke_reports_usage_and_finish_reason(chat_model: ChatLocalLlama) -> None:
    reply = chat_model.invoke([SystemMessage("Answer briefly."), HumanMessage("Name a colour.")])
    assert isinstance(reply.content, str) and reply.content.strip()
    usage = reply.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 5 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert reply.response_metadata["finish_reason"] in {"stop", "length"}
    assert reply.response_metadata["model_name"].startswith("SmolLM2-135M")


def test_max_tokens_and_stop(reproducible_chat_model: ChatLocalLlama) -> None:
    chat_model = reproducible_chat_model
    short = chat_model.invoke("Write a long story about a cat.", max_tokens=5)
    assert short.response_metadata["finish_reason"] == "length"
    assert short.usage_metadata is not None and short.usage_metadata["output_tokens"] <= 5
    question = "Count from 1 to 20, separated by commas."
    free = str(chat_model.invoke(question, max_tokens=40).content)
    assert len(free) > 12
    marker = free[8:12]  # greedy decoding: the same text comes again, cut here
    stopped = chat_model.invoke(question, max_tokens=40, stop=[marker])
    assert stopped.content == free[: free.index(marker)]
    assert stopped.response_metadata["finish_reason"] == "stop"


def test_stream_matches_invoke(reproducible_chat_model: ChatLocalLlama) -> None:
    chat_model = reproducible_chat_model
    question = "Why is the sky blue? Answer in one sentence."
    whole = chat_model.invoke(question, max_tokens=20)
    chunks = list(chat_model.stream(question, max_tokens=20))
    assert len([c for c in chunks if c.content]) > 3  # token by token
    assert "".join(str(c.content) for c in chunks) == whole.content
    assert chunks[-1].usage_metadata is not None
    assert chunks[-1].usage_metadata["output_tokens"] == pytest.approx(
        whole.usage_metadata["output_tokens"] if whole.usage_metadata else 0, abs=2
    )
    assert chunks[-1].usage_metadata["input_tokens"] == (
        whole.usage_metadata["input_tokens"] if whole.usage_metadata else -1
    )


def test_program_line_grammar_always_parses(chat_model: ChatLocalLlama) -> None:
    ids = [3, 7, 12]
    grammar = program_line_grammar(ids, allow_end=False)
    sources = "\n".join(
        f"S{i}: {text}"
        for i, text in zip(
            ids,
            ["The park opens in May.", "It covers ten acres.", "Critics called it costly."],
            strict=True,
        )
    )
    for task in ["Summarize the park news.", "What is criticized?", "How big is it?"]:
        reply = chat_model.invoke(
            f"Sources:\n{sources}\n\nWrite one program line answering: {task}", grammar=grammar
        )
        parsed = parse_program(str(reply.content))
        assert not parsed.issues, (reply.content, parsed.issues)
        assert len(parsed.program.lines) == 1
        assert set(parsed.program.leaves()) <= set(ids), reply.content


def test_grammar_through_bind_and_bad_grammar(chat_model: ChatLocalLlama) -> None:
    yes_no = chat_model.bind(grammar='root ::= "yes" | "no"')
    assert yes_no.invoke("Is water wet? Answer yes or no.").content in {"yes", "no"}
    with pytest.raises(InvalidInputError, match="GBNF"):
        chat_model.invoke("hi", grammar="root ::= undefined-rule")


class City(BaseModel):
    name: str
    country: str
    population_millions: float


def test_structured_output_small_schema(chat_model: ChatLocalLlama) -> None:
    city = chat_model.with_structured_output(City).invoke(
        "Paris is the capital of France and has about 2.1 million inhabitants. "
        "Give the city as JSON with name, country and population_millions."
    )
    assert isinstance(city, City)
    assert city.name


def test_structured_output_dict_schema(chat_model: ChatLocalLlama) -> None:
    schema = {
        "title": "Answer",
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"],
    }
    result = chat_model.with_structured_output(schema).invoke("Is the sun hot? Reply as JSON.")
    assert result in ({"answer": "yes"}, {"answer": "no"})


def _operation_depth(entry: object) -> int:
    if isinstance(entry, OperationSpec):
        return 1 + max((_operation_depth(child) for child in entry.inputs), default=0)
    return 0


def test_structured_output_recursive_program_spec(chat_model: ChatLocalLlama) -> None:
    runnable = chat_model.with_structured_output(
        ProgramSpec, include_raw=True, max_recursion_depth=2, max_items=4
    )
    for request in [
        "Write a program as JSON: fuse S1 and S2 into one sentence.",
        "Write a program as JSON: paraphrase a compression of S4, then extract S2.",
    ]:
        out = runnable.invoke(request, max_tokens=160)
        assert isinstance(out, dict)
        raw = str(out["raw"].content)
        assert out["parsing_error"] is None, raw
        spec = ProgramSpec.model_validate_json(raw)  # complete JSON, not a repaired prefix
        assert spec == out["parsed"]
        assert 1 <= len(spec.sentences) <= 4
        assert all(_operation_depth(entry) <= 2 for entry in spec.sentences)
        _program, _issues = spec_to_program(spec)


def test_calls_from_threads_are_serialized(chat_model: ChatLocalLlama) -> None:
    questions = [f"Say the number {n} in words." for n in range(3)]
    expected = [chat_model.invoke(q, max_tokens=8).content for q in questions]
    got: dict[int, object] = {}

    def run(k: int) -> None:
        got[k] = chat_model.invoke(questions[k], max_tokens=8).content

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [got[k] for k in range(len(questions))] == expected


def test_default_chat_model_is_shared() -> None:
    first = get_default_chat_model()
    assert first is get_default_chat_model()
    assert first.n_ctx == 4096
    assert first.count_tokens("The park opens in May.") > 3
