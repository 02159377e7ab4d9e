"""Deterministic fake chat models for the operation and executor tests.

``EchoChatModel`` reads the operation prompt back (which operation, which
input texts, which instruction) and answers with a visible transform of the
inputs, e.g. ``P(The park opened.)``, so tests can check that the right text
reached the right call and that outputs flow into parent nodes. It records
every call, the number of calls in flight, and can be told to fail.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

TAGS = {"paraphrase": "P", "compression": "C", "fusion": "F"}


def parse_prompt(messages: list[BaseMessage]) -> tuple[str, list[str], str | None]:
    """(operation, inputs, instruction) read from an operation prompt."""
    system, human = messages[0].text, messages[-1].text
    first = system.lower()
    if first.startswith("rewrite"):
        operation = "paraphrase"
    elif first.startswith("shorten"):
        operation = "compression"
    elif first.startswith("merge"):
        operation = "fusion"
    else:  # pragma: no cover - a prompt the fake does not know
        raise AssertionError(f"unexpected prompt: {system!r}")
    inputs = human.splitlines()
    found = re.search(r" Also: (.*)$", system)
    return operation, inputs, found.group(1) if found else None


def echo(operation: str, inputs: list[str], instruction: str | None) -> str:
    """The fake's answer: ``P(x)``, ``C(x)``, ``F(x + y)``, with ``[instruction]``."""
    body = " + ".join(inputs)
    suffix = f" [{instruction}]" if instruction else ""
    return f"{TAGS[operation]}({body}){suffix}"


class EchoChatModel(BaseChatModel):
    """Answers operation prompts with :func:`echo`, optionally failing first.

    Attributes:
        delay: Seconds each call takes (to observe concurrency).
        fail_when: Substring of an input that makes the call fail.
        fail_times: How many times matching calls fail before succeeding
            (``-1``: always).
        fail_with: ``"raise"`` (an exception) or ``"empty"`` (an empty reply,
            which the operation rejects as unusable).
        reply: Fixed raw reply, overriding the echo (to test clean-up).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    delay: float = 0.0
    fail_when: str | None = None
    fail_times: int = 0
    fail_with: str = "raise"
    reply: str | None = None
    calls: list[tuple[str, list[str], str | None]] = Field(default_factory=list)
    raw_messages: list[list[BaseMessage]] = Field(default_factory=list)
    max_in_flight: int = 0
    _in_flight: int = PrivateAttr(default=0)
    _failures: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "echo-fake"

    def _enter(self, messages: list[BaseMessage]) -> tuple[str, list[str], str | None]:
        parsed = parse_prompt(messages)
        with self._lock:
            self.calls.append(parsed)
            self.raw_messages.append(list(messages))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        return parsed

    def _leave(self, parsed: tuple[str, list[str], str | None]) -> ChatResult:
        with self._lock:
            self._in_flight -= 1
            failing = self.fail_when is not None and any(self.fail_when in t for t in parsed[1])
            if failing and (self.fail_times < 0 or self._failures < self.fail_times):
                self._failures += 1
            else:
                failing = False
        if failing and self.fail_with == "raise":
            raise RuntimeError(f"model unavailable for {parsed[0]}")
        text = "" if failing else (self.reply if self.reply is not None else echo(*parsed))
        message = AIMessage(
            content=text,
            usage_metadata={"input_tokens": 10, "output_tokens": 3, "total_tokens": 13},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        parsed = self._enter(messages)
        if self.delay:
            time.sleep(self.delay)
        return self._leave(parsed)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        parsed = self._enter(messages)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._leave(parsed)
