"""What a method spends: model calls, tokens, scorer passes, embeddings, seconds.

:class:`Cost` adds up field by field; :class:`CostTracker` is a LangChain
callback handler that counts chat-model calls and their reported tokens over a
whole run, and :class:`CountingScorer` counts a log-prob scorer's passes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from pydantic import BaseModel

from langchain_genprog.graph.answer_stream import ANSWER_TAG
from langchain_genprog.models.scoring import LogProbScorer, TargetLogProbs


class Cost(BaseModel):
    """What producing (or checking) an answer spent; ``a + b`` adds field by field.

    Attributes:
        llm_calls: Chat-model calls.
        input_tokens: Prompt tokens the models reported.
        output_tokens: Completion tokens the models reported.
        scorer_calls: ``LogProbScorer.score`` calls.
        forward_passes: Prompts scored (each a forward pass of the scorer).
        embedding_calls: ``Embeddings`` calls.
        seconds: Wall time.
    """

    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    scorer_calls: int = 0
    forward_passes: int = 0
    embedding_calls: int = 0
    seconds: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Cost) -> Cost:
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(
            llm_calls=self.llm_calls + other.llm_calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            scorer_calls=self.scorer_calls + other.scorer_calls,
            forward_passes=self.forward_passes + other.forward_passes,
            embedding_calls=self.embedding_calls + other.embedding_calls,
            seconds=self.seconds + other.seconds,
        )

    def __radd__(self, other: object) -> Cost:
        # Lets ``sum(costs)`` start from its default 0.
        if other == 0:
            return self
        if isinstance(other, Cost):
            return other + self
        return NotImplemented


class CostTracker(BaseCallbackHandler):
    """A callback handler that counts chat-model calls and their reported tokens.

    Pass it in ``config={"callbacks": [tracker]}`` to a graph or model call:
    LangChain hands the callbacks down to every nested model call, including
    those the executor makes concurrently, so one tracker sees a whole run.
    Token counts come from each reply's ``usage_metadata`` (or, for older
    integrations, ``llm_output["token_usage"]``); models that report nothing
    add calls but no tokens. The graph's answer stream (runs tagged
    :data:`~langchain_genprog.graph.answer_stream.ANSWER_TAG`) replays
    finished sentences through a chat-model run; those runs cost nothing and
    are not counted.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.llm_calls = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self._started = time.perf_counter()

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        """Count one call per prompt batch entry (not the answer stream's runs)."""
        if ANSWER_TAG in (kwargs.get("tags") or []):
            return
        with self._lock:
            self.llm_calls += max(len(messages), 1)

    def on_llm_start(
        self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """Count completion-model calls (chat models go through ``on_chat_model_start``)."""
        with self._lock:
            self.llm_calls += max(len(prompts), 1)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Add the tokens the reply reports."""
        inputs = outputs = 0
        found = False
        for generations in response.generations:
            for generation in generations:
                usage = (
                    getattr(generation.message, "usage_metadata", None)
                    if isinstance(generation, ChatGeneration)
                    else None
                )
                if usage:
                    inputs += int(usage.get("input_tokens", 0) or 0)
                    outputs += int(usage.get("output_tokens", 0) or 0)
                    found = True
        if not found and response.llm_output:
            usage_dict = response.llm_output.get("token_usage") or {}
            inputs += int(usage_dict.get("prompt_tokens", 0) or 0)
            outputs += int(usage_dict.get("completion_tokens", 0) or 0)
        with self._lock:
            self.input_tokens += inputs
            self.output_tokens += outputs

    @property
    def cost(self) -> Cost:
        """The calls and tokens seen so far, with the seconds since creation."""
        with self._lock:
            return Cost(
                llm_calls=self.llm_calls,
                input_tokens=self.input_tokens,
                output_tokens=self.output_tokens,
                seconds=time.perf_counter() - self._started,
            )


class CountingScorer:
    """Wraps a :class:`LogProbScorer` and counts its calls and forward passes."""

    def __init__(self, scorer: LogProbScorer) -> None:
        """Wrap ``scorer``."""
        self.scorer = scorer
        self.calls = 0
        self.forward_passes = 0
        self._lock = threading.Lock()

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        """Delegate to the wrapped scorer, counting one call and ``len(prompts)`` passes."""
        with self._lock:
            self.calls += 1
            self.forward_passes += len(prompts)
        return self.scorer.score(prompts, target)

    @property
    def cost(self) -> Cost:
        """The scorer usage so far as a :class:`Cost`."""
        return Cost(scorer_calls=self.calls, forward_passes=self.forward_passes)
