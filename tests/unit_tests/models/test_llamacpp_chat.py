"""ChatLocalLlama against a fake llama_cpp runtime: no model is loaded."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models import llamacpp_chat
from langchain_genprog.models.llamacpp_chat import ChatLocalLlama, convert_messages, json_schema_for
from langchain_genprog.program.schema import ProgramSpec


class FakeLlama:
    """Records calls; replies with scripted texts (one per call)."""

    def __init__(self, **kwargs: Any) -> None:
        self.init_kwargs = kwargs
        self.calls: list[dict[str, Any]] = []
        self.replies: list[str] = []
        self.model = object()
        self.metadata: dict[str, str] = {}
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(range(len(text.split())))

    def create_chat_completion(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        text = self.replies.pop(0)
        if kwargs.get("stream"):
            return self._stream(text)
        return {
            "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
        }

    @staticmethod
    def _stream(text: str) -> Iterator[dict[str, Any]]:
        yield {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
        for word in text.split(" "):
            yield {"choices": [{"delta": {"content": word + " "}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": "length"}]}


class FakeGrammar:
    def __init__(self, text: str) -> None:
        self.text = text

    @classmethod
    def from_string(cls, text: str, verbose: bool = True) -> FakeGrammar:
        return cls(text)


@pytest.fixture
def fake_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> types.SimpleNamespace:
    parsed: list[bytes] = []

    def init_grammar(vocab: object, text: bytes, root: bytes) -> int:
        parsed.append(text)
        return 0 if b"bogus" in text else 1  # a null pointer means "does not parse"

    # llama.cpp's JSON-schema converter is pure Python; only the model is faked.
    json_schema_to_gbnf = pytest.importorskip("llama_cpp.llama_grammar").json_schema_to_gbnf

    runtime = types.SimpleNamespace(
        Llama=FakeLlama,
        LlamaGrammar=FakeGrammar,
        llama_model_get_vocab=lambda model: "vocab",
        llama_sampler_init_grammar=init_grammar,
        llama_sampler_free=lambda sampler: None,
        llama_grammar=types.SimpleNamespace(json_schema_to_gbnf=json_schema_to_gbnf),
        parsed=parsed,
    )

    def fake_require(module: str, **kwargs: Any) -> Any:
        return runtime.llama_grammar if module == "llama_cpp.llama_grammar" else runtime

    monkeypatch.setattr(llamacpp_chat, "require", fake_require)
    gguf = tmp_path / "Tiny-Chat.Q4_0.gguf"
    gguf.write_bytes(b"GGUF")
    runtime.path = str(gguf)
    return runtime


def make_llm(
    runtime: types.SimpleNamespace, *replies: str, **kwargs: Any
) -> tuple[ChatLocalLlama, FakeLlama]:
    llm = ChatLocalLlama(model_path=runtime.path, **kwargs)
    client: FakeLlama = llm.client
    client.replies.extend(replies)
    return llm, client


def test_load_parameters(fake_runtime: types.SimpleNamespace) -> None:
    llm, client = make_llm(fake_runtime, n_ctx=2048, n_threads=3, seed=7)
    assert client.init_kwargs["n_ctx"] == 2048
    assert client.init_kwargs["n_threads"] == 3
    assert client.init_kwargs["seed"] == 7
    assert client.init_kwargs["verbose"] is False
    assert llm.model_name == "Tiny-Chat.Q4_0"
    assert llm._identifying_params["n_ctx"] == 2048
    assert ChatLocalLlama.supports_grammar is True


def test_missing_model_file_is_an_input_error(fake_runtime: types.SimpleNamespace) -> None:
    with pytest.raises(InvalidInputError, match="not a file"):
        ChatLocalLlama(model_path=fake_runtime.path + ".missing")


def test_invoke_returns_usage_and_metadata(fake_runtime: types.SimpleNamespace) -> None:
    llm, client = make_llm(fake_runtime, "Blue.")
    reply = llm.invoke([SystemMessage("Be brief."), HumanMessage("A colour?")])
    assert isinstance(reply, AIMessage)
    assert reply.content == "Blue."
    assert reply.usage_metadata == {"input_tokens": 11, "output_tokens": 3, "total_tokens": 14}
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.response_metadata["model_name"] == "Tiny-Chat.Q4_0"
    call = client.calls[0]
    assert call["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "A colour?"},
    ]
    assert call["temperature"] == 0.0
    assert "grammar" not in call


def test_prompt_cache_is_reused_unless_disabled(
    fake_runtime: types.SimpleNamespace,
) -> None:
    fresh, fresh_client = make_llm(fake_runtime, "a", "b", reuse_prompt_cache=False)
    fresh.invoke("x")
    list(fresh.stream("x"))
    assert fresh_client.resets == 2
    reusing, reusing_client = make_llm(fake_runtime, "a")
    reusing.invoke("x")
    assert reusing_client.resets == 0


def test_stop_and_sampling_kwargs_are_forwarded(fake_runtime: types.SimpleNamespace) -> None:
    llm, client = make_llm(fake_runtime, "a", stop=["\n\n"])
    llm.invoke("hi", stop=["END"], max_tokens=9, temperature=0.5)
    call = client.calls[0]
    assert call["stop"] == ["\n\n", "END"]
    assert call["max_tokens"] == 9
    assert call["temperature"] == 0.5


def test_unknown_kwargs_are_refused(fake_runtime: types.SimpleNamespace) -> None:
    llm, _ = make_llm(fake_runtime, "a")
    with pytest.raises(InvalidInputError, match="tools"):
        llm.invoke("hi", tools=[])


def test_grammar_is_checked_once_and_bound(fake_runtime: types.SimpleNamespace) -> None:
    llm, client = make_llm(fake_runtime, "yes", "no")
    grammar = 'root ::= "yes" | "no"'
    llm.invoke("?", grammar=grammar)
    llm.bind(grammar=grammar).invoke("?")
    assert [c["grammar"].text for c in client.calls] == [grammar, grammar]
    assert client.calls[0]["grammar"] is client.calls[1]["grammar"]  # cached
    assert fake_runtime.parsed == [grammar.encode()]


def test_bad_grammar_raises_before_sampling(fake_runtime: types.SimpleNamespace) -> None:
    llm, client = make_llm(fake_runtime, "x")
    with pytest.raises(InvalidInputError, match="GBNF"):
        llm.invoke("?", grammar="root ::= bogus")
    assert client.calls == []


def test_stream_yields_tokens_then_usage(fake_runtime: types.SimpleNamespace) -> None:
    llm, client = make_llm(fake_runtime, "one two three")
    chunks = list(llm.stream("count", grammar='root ::= "x"'))
    text = "".join(str(c.content) for c in chunks)
    assert text == "one two three "
    assert len([c for c in chunks if c.content]) == 3
    last = chunks[-1]
    assert last.response_metadata["finish_reason"] == "length"
    assert last.usage_metadata is not None
    assert last.usage_metadata["output_tokens"] == 3  # fake tokenizer: one token per word
    assert client.calls[0]["stream"] is True
    assert client.calls[0]["grammar"].text == 'root ::= "x"'


class City(BaseModel):
    name: str
    country: str


def test_structured_output_binds_a_json_grammar_and_parses(
    fake_runtime: types.SimpleNamespace,
) -> None:
    llm, client = make_llm(fake_runtime, '{"name": "Paris", "country": "France"}')
    city = llm.with_structured_output(City).invoke("Paris?")
    assert city == City(name="Paris", country="France")
    grammar = client.calls[0]["grammar"].text
    assert '"\\"name\\""' in grammar and '"\\"country\\""' in grammar


def test_structured_output_include_raw_reports_parse_errors(
    fake_runtime: types.SimpleNamespace,
) -> None:
    llm, _ = make_llm(fake_runtime, '{"name": "Paris"', '{"name": "Rome", "country": "Italy"}')
    runnable = llm.with_structured_output(City, include_raw=True)
    bad = runnable.invoke("?")
    assert isinstance(bad, dict)
    assert bad["parsed"] is None and bad["parsing_error"] is not None
    assert isinstance(bad["raw"], AIMessage)
    good = runnable.invoke("?")
    assert isinstance(good, dict)
    assert good["parsed"] == City(name="Rome", country="Italy") and good["parsing_error"] is None


def test_structured_output_refuses_other_methods(fake_runtime: types.SimpleNamespace) -> None:
    llm, _ = make_llm(fake_runtime)
    with pytest.raises(InvalidInputError, match="json_schema"):
        llm.with_structured_output(City, method="function_calling")


def test_structured_output_with_dict_schema_returns_dict(
    fake_runtime: types.SimpleNamespace,
) -> None:
    llm, _ = make_llm(fake_runtime, '{"n": 3}')
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert llm.with_structured_output(schema).invoke("?") == {"n": 3}


def test_recursive_schema_keeps_refs() -> None:
    schema = json_schema_for(ProgramSpec)
    assert "OperationSpec" in schema["$defs"]
    converter = pytest.importorskip("llama_cpp.llama_grammar")
    grammar = converter.json_schema_to_gbnf(json.dumps(schema))
    # The recursion survives as a rule that refers to itself through its inputs.
    assert "OperationSpec-inputs-item-1 ::= OperationSpec" in grammar


def test_convert_messages_roles_and_text() -> None:
    messages = [
        SystemMessage("sys"),
        HumanMessage(content=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
        AIMessage("reply"),
        ToolMessage("42", tool_call_id="c1"),
    ]
    converted = convert_messages(messages)
    assert [m["role"] for m in converted] == ["system", "user", "assistant", "tool"]
    assert converted[1]["content"] == "a\nb"
    assert all(set(m) == {"role", "content"} for m in converted)


def test_convert_messages_refuses_images() -> None:
    image = HumanMessage(
        content=[{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    )
    with pytest.raises(InvalidInputError, match="text content only"):
        convert_messages([image])


def test_structured_output_bounds_recursion(fake_runtime: types.SimpleNamespace) -> None:
    reply = '{"sentences": [{"operation": "fusion", "inputs": ["S1", "S2"]}]}'
    llm, client = make_llm(fake_runtime, reply, reply)
    spec = llm.with_structured_output(ProgramSpec).invoke("?")
    assert spec == ProgramSpec.model_validate_json(reply)
    grammar = client.calls[0]["grammar"].text
    # Unrolled: no rule refers back to OperationSpec, so nesting is finite.
    assert "OperationSpec" not in grammar
    llm.with_structured_output(ProgramSpec, max_recursion_depth=1).invoke("?")
    assert len(client.calls[1]["grammar"].text) < len(grammar)


def test_structured_output_parses_pydantic_v1_models(fake_runtime: types.SimpleNamespace) -> None:
    """Found by the standard suite: a ``pydantic.v1`` model came back as a plain dict."""
    from pydantic.v1 import BaseModel as BaseModelV1

    class Town(BaseModelV1):
        name: str
        river: str

    llm, client = make_llm(fake_runtime, '{"name": "Eskerby", "river": "Esk"}')
    town = llm.with_structured_output(Town).invoke("?")
    assert isinstance(town, Town) and town.river == "Esk"
    grammar = client.calls[0]["grammar"].text
    assert "name" in grammar and "river" in grammar
