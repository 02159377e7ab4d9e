"""A scripted model that plans and executes like a (very literal) real one.

``respond`` answers the planner's prompt with a valid program over the first
sentence ids the prompt offers, and each operation prompt with its input
sentence(s) — so the answer is made of source text and every citation can be
checked against the sources. Used by the chain and toolkit tests.
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import BaseMessage

from tests.unit_tests.fakes import ScriptedChatModel


def offered_ids(prompt: str) -> list[int]:
    """Sentence ids listed in a planner prompt, in the order shown."""
    return [int(i) for i in re.findall(r"^S(\d+): ", prompt, flags=re.MULTILINE)]


def program_for(ids: list[int]) -> str:
    """``fusion`` of the first two offered ids (the second compressed), then a paraphrase."""
    if len(ids) >= 3:
        return f"- fusion(S{ids[0]}, compression(S{ids[1]}))\n- paraphrase(S{ids[2]})"
    return "\n".join(f"- paraphrase(S{i})" for i in ids)


def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
    human = messages[-1].text
    if human.rstrip().endswith("Program:"):
        return program_for(offered_ids(human))
    if human.startswith("Your program has these problems"):
        # Obey the usual complaint, "more than N lines": keep the lines before it.
        first = next(m.text for m in messages if m.type == "human")
        match = re.search(r"line (\d+) `", human)
        keep = int(match.group(1)) - 1 if match else 1
        return "\n".join(program_for(offered_ids(first)).splitlines()[:keep])
    if not messages[0].text.startswith(("Rewrite", "Shorten", "Merge")):
        raise AssertionError(f"unexpected prompt: {messages[0].text!r}")
    return " ".join(text.strip() for text in human.splitlines())


def genprog_model() -> ScriptedChatModel:
    return ScriptedChatModel(respond=respond)


def planner_calls(model: ScriptedChatModel) -> list[str]:
    return [m[-1].text for m, _ in model.calls if m[-1].text.rstrip().endswith("Program:")]
