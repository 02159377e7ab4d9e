from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from langchain_genprog.models import TargetLogProbs
from langchain_genprog.models.openai_scorer import (
    LogProbResponseError,
    OpenAICompletionsLogProbScorer,
    target_logprobs_from_echo,
)


def template(prompt: str) -> str:
    return f"<|user|>{prompt}<|assistant|>"


def echo_body(
    pieces: Sequence[str], values: Sequence[float | None], generated: str
) -> dict[str, Any]:
    """An OpenAI-style echo response: the prompt's tokens, then the generated one."""
    tokens = [*pieces, generated] if generated else list(pieces)
    logprobs = [*values, -0.1] if generated else list(values)
    offsets, position = [], 0
    for token in tokens:
        offsets.append(position)
        position += len(token)
    return {
        "choices": [
            {
                "index": 0,
                "text": "".join(pieces) + generated,
                "logprobs": {
                    "tokens": tokens,
                    "token_logprobs": logprobs,
                    "text_offset": offsets,
                    "top_logprobs": None,
                },
                "finish_reason": "length",
            }
        ]
    }


PROMPT_PIECES = ["<|user|>", "Hi", "<|assistant|>"]
TARGET_PIECES = ["The", " park", " opens", "."]
TARGET = "The park opens."


def test_parses_target_tokens_and_offsets() -> None:
    body = echo_body(
        PROMPT_PIECES + TARGET_PIECES, [None, -5.0, -0.2, -1.0, -2.0, -3.0, -0.5], " It"
    )
    result = target_logprobs_from_echo(body, sent_prompt=template("Hi") + TARGET, target=TARGET)
    assert result.token_logprobs == [-1.0, -2.0, -3.0, -0.5]
    assert result.token_offsets == [(0, 3), (3, 8), (8, 14), (14, 15)]


def test_token_shift_reads_neighbouring_values() -> None:
    body = echo_body(PROMPT_PIECES + TARGET_PIECES, [None, -5.0, -0.2, -1.0, -2.0, -3.0, -0.5], "")
    sent = template("Hi") + TARGET
    shifted = target_logprobs_from_echo(body, sent_prompt=sent, target=TARGET, token_shift=-1)
    assert shifted.token_logprobs == [-0.2, -1.0, -2.0, -3.0]
    with pytest.raises(LogProbResponseError, match="token_shift"):
        target_logprobs_from_echo(body, sent_prompt=sent, target=TARGET, token_shift=1)


def test_token_straddling_the_boundary_is_clipped_to_the_target() -> None:
    pieces = ["Q:", " x\nThe", " park", " opens", "."]
    body = echo_body(pieces, [None, -4.0, -2.0, -3.0, -0.5], "")
    result = target_logprobs_from_echo(body, sent_prompt="Q: x\n" + TARGET, target=TARGET)
    assert result.token_logprobs == [-4.0, -2.0, -3.0, -0.5]
    assert result.token_offsets[0] == (0, 3)


def test_special_tokens_missing_from_echo_do_not_matter() -> None:
    # llama-cpp-python echoes special tokens as empty strings, so its
    # text_offset does not index the sent prompt; alignment uses the end.
    pieces = ["", "Hi", "", *TARGET_PIECES]
    body = echo_body(pieces, [None, -5.0, -0.2, -1.0, -2.0, -3.0, -0.5], "")
    body["choices"][0]["text"] = template("Hi") + TARGET  # echo of what was sent
    result = target_logprobs_from_echo(body, sent_prompt=template("Hi") + TARGET, target=TARGET)
    assert result.token_logprobs == [-1.0, -2.0, -3.0, -0.5]


def test_misaligned_or_missing_logprobs_raise() -> None:
    body = echo_body(["Hi", " there"], [None, -1.0], "")
    with pytest.raises(LogProbResponseError, match="do not end with the target"):
        target_logprobs_from_echo(body, sent_prompt="Hi there", target=TARGET)
    with pytest.raises(LogProbResponseError, match="echo"):
        target_logprobs_from_echo({"choices": [{"text": "x"}]}, sent_prompt="x", target="x")


class Recorder:
    def __init__(self, respond: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.respond = respond
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        return self.respond(request)


def fake_server(request: httpx.Request) -> httpx.Response:
    """Tokenizes on spaces; a token's log-prob encodes its position from the end."""
    payload = json.loads(request.content)
    words = payload["prompt"].split(" ")
    pieces = [words[0]] + [" " + w for w in words[1:]]
    values: list[float | None] = [None] + [-float(len(pieces) - i) for i in range(1, len(pieces))]
    return httpx.Response(200, json=echo_body(pieces, values, " !"))


def test_score_sends_echo_requests_and_keeps_prompt_order() -> None:
    recorder = Recorder(fake_server)
    scorer = OpenAICompletionsLogProbScorer(
        "http://server/v1",
        "smol",
        api_key="secret",
        chat_template=lambda p: f"[{p}]",
        transport=httpx.MockTransport(recorder),
    )
    prompts = ["a b c", "d", "e f"]
    results = scorer.score(prompts, " x y")
    assert [r.token_logprobs for r in results] == [[-2.0, -1.0]] * 3
    assert results[0].token_offsets == [(0, 2), (2, 4)]
    sent = sorted(json.loads(r.content)["prompt"] for r in recorder.requests)
    assert sent == ["[a b c] x y", "[d] x y", "[e f] x y"]
    request = recorder.requests[0]
    assert request.url == "http://server/v1/completions"
    assert request.headers["authorization"] == "Bearer secret"
    payload = json.loads(request.content)
    assert payload["echo"] is True and payload["logprobs"] == 1 and payload["max_tokens"] == 1
    assert payload["model"] == "smol"
    scorer.close()


def test_http_errors_are_typed() -> None:
    scorer = OpenAICompletionsLogProbScorer(
        "http://server/v1",
        "smol",
        transport=httpx.MockTransport(lambda r: httpx.Response(500, text="boom")),
    )
    with pytest.raises(LogProbResponseError, match="500: boom"):
        scorer.score(["a"], " b")


class ReferenceScorer:
    def __init__(self, values: list[float]) -> None:
        self.values = values

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        offsets = [(i, i + 1) for i in range(len(self.values))]
        return [TargetLogProbs(token_logprobs=self.values, token_offsets=offsets) for _ in prompts]


def test_best_token_shift_finds_a_shifted_server() -> None:
    # The server reports each token's log-prob one index early (at i - 1).
    def shifted_server(request: httpx.Request) -> httpx.Response:
        pieces = ["Q", " a", " b", " c"]
        return httpx.Response(200, json=echo_body(pieces, [None, -9.0, -1.0, -2.0], " !"))

    scorer = OpenAICompletionsLogProbScorer(
        "http://server/v1", "smol", transport=httpx.MockTransport(shifted_server)
    )
    shift, error = scorer.best_token_shift(ReferenceScorer([-9.0, -1.0]), "Q a", " b c")
    assert (shift, error) == (-1, pytest.approx(0.0))
    shift, error = scorer.best_token_shift(ReferenceScorer([-1.0, -2.5]), "Q a", " b c")
    assert (shift, error) == (0, pytest.approx(0.25))
