"""A fake chat model that counts operation calls, for the resume (durability) tests.

It plans a fixed program (in ``plan_mode="text"``) and performs operations by
rule (a fusion joins its inputs, paraphrase and compression copy theirs), so a
run's answer is known and passes the lexical grounding gate. Each operation
call is counted when it starts and when it finishes — in memory and, for the
tests that kill a process, as JSON lines appended to ``log_path`` — so a test
can tell which finished calls a resumed run made again.

It can also die mid-run: the ``crash_on``-th operation call raises
:class:`SimulatedCrash` (once per ``crash_marker`` file, or once per model
instance), which is a ``BaseException``, as a process being stopped is: no
retry loop or error report of the package catches it, so the run stops there
as it would when killed, and the checkpoint holds what finished before.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from pydantic import ConfigDict, Field, PrivateAttr

from tests.unit_tests.operations.fakes import parse_prompt

DOCS = [
    "The council approved the park on Monday. It will cost two million dollars.",
    "Residents wanted green space. The mayor praised the vote.",
]
OTHER_DOCS = [
    "The school opened a library on Friday. It holds ten thousand books.",
    "Parents asked for longer hours. The principal thanked the donors.",
]
"""Documents of the same shape (four sentences) for a second, independent thread."""
PROGRAM = "- paraphrase(fusion(S1, S2))\n- compression(S3)\n- fusion(S4, compression(S1))\n- S2"
"""Five model calls: three on sentences, then two on their outputs (``S2`` is copied)."""

OPERATION_CALLS = 5


class SimulatedCrash(BaseException):
    """The process stops mid-call (not an ``Exception``: nothing catches it)."""


def join(inputs: list[str]) -> str:
    """A fusion: every input, joined into one sentence."""
    parts = [inputs[0].rstrip(".")] + [t[0].lower() + t[1:].rstrip(".") for t in inputs[1:]]
    return " and ".join(parts) + "."


def call_key(operation: str, inputs: list[str]) -> str:
    """One operation call's identity: the operation and its inputs."""
    return f"{operation}({' | '.join(inputs)})"


class CountingModel(BaseChatModel):
    """Plans :data:`PROGRAM`, performs operations by rule, counts every operation call."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    program: str = PROGRAM
    delay: float = 0.0
    crash_on: int | None = None
    crash_marker: str | None = None
    log_path: str | None = None
    started: list[str] = Field(default_factory=list)
    finished: list[str] = Field(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _crashed: bool = PrivateAttr(default=False)

    @property
    def _llm_type(self) -> str:
        return "counting-fake"

    def _start(self, messages: list[BaseMessage]) -> str | None:
        """Record an operation call (``None`` for a planner call); maybe crash."""
        if "Program:" in messages[-1].text:
            self._log("plan", "planner")
            return None
        key = call_key(*parse_prompt(messages)[:2])
        with self._lock:
            self.started.append(key)
            count = len(self.started)
            self._log("start", key)
            crash = count == self.crash_on and self._first_crash()
        if crash:
            raise SimulatedCrash(f"stopped during operation call {count}: {key}")
        return key

    def _first_crash(self) -> bool:
        if self.crash_marker is None:
            first, self._crashed = not self._crashed, True
            return first
        marker = Path(self.crash_marker)
        if marker.exists():
            return False
        marker.write_text("crashed")
        return True

    def _finish(self, key: str | None) -> None:
        if key is not None:
            with self._lock:
                self.finished.append(key)
                self._log("done", key)

    def _log(self, event: str, key: str) -> None:
        if self.log_path is None:
            return
        record = {"event": event, "key": key, "pid": os.getpid(), "time": time.time()}
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    # The crash is raised around the call rather than inside ``_agenerate``:
    # langchain-core's async ``agenerate`` does not re-raise a ``BaseException``
    # that is not an ``Exception`` (it reads it as a result).
    def invoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        key = self._start(self._convert_input(input).to_messages())
        reply = super().invoke(input, config, **kwargs)
        self._finish(key)
        return reply

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        key = self._start(self._convert_input(input).to_messages())
        reply = await super().ainvoke(input, config, **kwargs)
        self._finish(key)
        return reply

    def _reply(self, messages: list[BaseMessage]) -> ChatResult:
        if "Program:" in messages[-1].text:
            text = self.program
        else:
            operation, inputs, _ = parse_prompt(messages)
            text = join(inputs) if operation == "fusion" else inputs[0]
        message = AIMessage(
            content=text,
            usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay and "Program:" not in messages[-1].text:
            time.sleep(self.delay)
        return self._reply(messages)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay and "Program:" not in messages[-1].text:
            await asyncio.sleep(self.delay)
        return self._reply(messages)


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The call log's records (a record cut short by a kill is skipped)."""
    records: list[dict[str, Any]] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
