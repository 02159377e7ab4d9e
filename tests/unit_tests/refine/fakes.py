"""Fakes for the refinement tests: bag-of-words embeddings and a scripted operation model."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.messages import BaseMessage

from langchain_genprog.models.scoring import TargetLogProbs
from tests.unit_tests.fakes import ScriptedChatModel
from tests.unit_tests.operations.fakes import parse_prompt

_WORD = re.compile(r"[a-z0-9]+")
DIM = 2048


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class BagOfWordsEmbeddings(Embeddings):
    """Word-count vectors hashed into a fixed dimension: cosine = word overlap, exactly known."""

    def __init__(self) -> None:
        self.calls = 0
        self.embedded: list[str] = []

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * DIM
        for word in words(text):
            vector[zlib.crc32(word.encode()) % DIM] += 1.0
        return vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self.embedded.extend(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def join(inputs: Sequence[str]) -> str:
    """A 'real' fusion: every input, joined into one sentence."""
    parts = [inputs[0].rstrip(".")] + [t[0].lower() + t[1:].rstrip(".") for t in inputs[1:]]
    return " and ".join(parts) + "."


def copy_first_unless_told(inputs: list[str], instruction: str | None) -> str:
    """The 135M model's frequent fusion failure, fixed once the feedback says so."""
    if instruction and "rejected" in instruction:
        return join(inputs)
    return inputs[0]


Behaviour = Callable[[list[str], str | None], str]


def operation_model(
    fusion: Behaviour = copy_first_unless_told,
    paraphrase: Behaviour | None = None,
    compression: Behaviour | None = None,
    program: str | None = None,
) -> ScriptedChatModel:
    """A chat model that performs operations by rule (and plans ``program`` in text mode).

    Paraphrase and compression echo their input unless told otherwise.
    """
    rules: dict[str, Behaviour] = {
        "fusion": fusion,
        "paraphrase": paraphrase or (lambda inputs, _: inputs[0]),
        "compression": compression or (lambda inputs, _: inputs[0]),
    }

    def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        if program is not None and "Program:" in messages[-1].text:
            return program
        operation, inputs, instruction = parse_prompt(messages)
        return rules[operation](inputs, instruction)

    return ScriptedChatModel(respond=respond)


def operation_calls(llm: ScriptedChatModel) -> list[tuple[str, list[str], str | None]]:
    """The operation calls a scripted model received (planner calls left out)."""
    out: list[tuple[str, list[str], str | None]] = []
    for messages, _ in llm.calls:
        if "Program:" in messages[-1].text:
            continue
        out.append(parse_prompt(messages))
    return out


class OverlapScorer:
    """A log-prob scorer: a target word shown in the prompt gets -0.5, any other -3."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        self.calls.append(list(prompts))
        tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", target)]
        out: list[TargetLogProbs] = []
        for prompt in prompts:
            shown = set(words(prompt))
            logprobs = [-0.5 if set(words(target[s:e])) <= shown else -3.0 for s, e in tokens]
            out.append(TargetLogProbs(token_logprobs=logprobs, token_offsets=tokens))
        return out
