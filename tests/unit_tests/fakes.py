"""Scripted fake chat models for offline unit tests (never shipped)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field


class ScriptedChatModel(BaseChatModel):
    """Returns scripted replies in order (or computes them from the prompt).

    Records every call's messages and keyword arguments so tests can check
    what the pipeline asked for (e.g. the grammar it passed).
    """

    replies: list[str] = Field(default_factory=list)
    respond: Callable[[list[BaseMessage], dict[str, Any]], str] | None = None
    supports_grammar: bool = False
    calls: list[tuple[list[BaseMessage], dict[str, Any]]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append((list(messages), dict(kwargs)))
        if self.respond is not None:
            text = self.respond(messages, kwargs)
        elif self.replies:
            text = self.replies.pop(0)
        else:
            raise RuntimeError("ScriptedChatModel ran out of replies")
        message = AIMessage(
            content=text,
            usage_metadata={"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def first_choice(grammar: str) -> str:
    """What a grammar-following model answers under a choice grammar: its first literal."""
    match = re.search(r'root ::= "((?:[^"\\]|\\.)*)"', grammar)
    assert match, grammar
    return match.group(1).replace('\\"', '"').replace("\\\\", "\\")
