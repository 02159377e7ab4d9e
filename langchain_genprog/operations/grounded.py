"""Grounded operations: the model chooses among rewrites built from the inputs.

In grounded mode an operation's output is one of the rewrites that
:mod:`~langchain_genprog.operations.rewrites` builds from the node's own
inputs (deletions for ``compression``, reorderings for ``paraphrase``,
ordered parts joined by ``", and"``/``";"`` for ``fusion``). The model still
does the operation's job — it picks which rewrite answers the prompt (and the
instruction) best — but it cannot add a word that is in none of the inputs:

* a model that supports grammars (the embedded llama.cpp model) decodes under
  a GBNF grammar whose language is exactly the set of rewrites, in one call;
* any other chat model is shown the numbered rewrites and answers with a
  number.

Whatever the model replies, the output is snapped to a rewrite, so the
guarantee does not rest on the model or its grammar support. When no rewrite
exists (nothing can be deleted within the length bound, no reordering applies)
the input is kept verbatim and the reason is returned as the output's
``note`` — reported in the trace, never hidden.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.operations.prompts import LLMOperation, build_messages, normalize_text
from langchain_genprog.operations.rewrites import (
    Rewrite,
    compressions,
    fusions,
    leaf_text,
    paraphrases,
    strip_preamble,
    word_count,
)
from langchain_genprog.operations.rewrites.fusions import shortest_part

OperationMode = Literal["auto", "grounded", "free"]
"""How operations are decoded.

``grounded``: the output is one of the rewrites built from the inputs (see the
module docstring). ``free``: the model writes the output (the paper's
operations; the grounding gate checks it afterwards). ``auto``: grounded for
models that support grammars (the embedded default), free for the others.
"""

COMPRESSION_RATIOS: tuple[float, ...] = (0.7, 0.85)
"""Length bounds tried in turn for a compression (share of the input's words)."""

FUSION_RATIO = 0.75
"""Longest fusion, as a share of its inputs' words together."""

_CHOICE_SYSTEM = (
    "Pick the option that best performs the task on the user's text: {task} "
    "Reply with the option's number only.{instruction}"
)
_TASKS: dict[LLMOperation, str] = {
    "compression": "shorten it to its key fact.",
    "paraphrase": "restate it in other words.",
    "fusion": "merge the sentences into one.",
}
_NUMBER = re.compile(r"\d+")


def resolve_mode(llm: BaseChatModel, mode: OperationMode) -> Literal["grounded", "free"]:
    """The mode ``auto`` stands for with ``llm``.

    Raises:
        InvalidInputError: On an unknown mode.
    """
    if mode == "auto":
        return "grounded" if getattr(llm, "supports_grammar", False) else "free"
    if mode in ("grounded", "free"):
        return mode
    raise InvalidInputError(f"unknown operation mode {mode!r}; expected auto, grounded or free")


def rewrite_options(operation: LLMOperation, inputs: Sequence[str]) -> tuple[list[Rewrite], str]:
    """The rewrites an operation may choose from, and a note when they are a fallback.

    Returns:
        ``(rewrites, note)``: ``note`` is ``""`` when the rewrites meet the
        operation's usual bound, else it says what was done instead.
    """
    if operation == "fusion":
        found = fusions(inputs, max_ratio=FUSION_RATIO)
        total = sum(word_count(normalize_text(t)) for t in inputs)
        if found and all(r.words > FUSION_RATIO * total for r in found):
            return (
                found,
                f"no fusion fits {FUSION_RATIO:.0%} of the inputs; the shortest are offered",
            )
        return found, ""
    text = normalize_text(inputs[0])
    if operation == "paraphrase":
        found = paraphrases(text)
        if found:
            return found, ""
        kept = _as_rewrite(strip_preamble(text), "kept")
        return [kept], "no meaning-preserving reordering applies; the input is kept verbatim"
    for k, ratio in enumerate(COMPRESSION_RATIOS):
        found = compressions(text, max_ratio=ratio)
        if found:
            note = f"no deletion fits {COMPRESSION_RATIOS[0]:.0%} of the input" if k else ""
            return found, note + (f"; kept {ratio:.0%} at most" if k else "")
    kept = _as_rewrite(strip_preamble(text), "kept")
    return [kept], "nothing in the input can be deleted; the input is kept verbatim"


def leaf_operations(text: str) -> frozenset[LLMOperation]:
    """The unary operations that do their job on a source sentence, grounded.

    ``compression`` when a deletion fits the first length bound
    (:data:`COMPRESSION_RATIOS`), ``paraphrase`` when a meaning-preserving
    reordering exists. The grounded planner offers ``compression(S4)`` only
    for such sentences: elsewhere the operation would fall back to a verbatim
    copy that claims to be a compression.

    Args:
        text: The sentence's raw text (its leaf text is what operations see).
    """
    body = normalize_text(leaf_text(text))
    if not body:
        return frozenset()
    found: set[LLMOperation] = set()
    if compressions(body, max_ratio=COMPRESSION_RATIOS[0]):
        found.add("compression")
    if paraphrases(body):
        found.add("paraphrase")
    return frozenset(found)


def fusion_fits(texts: Sequence[str]) -> bool:
    """Whether a grounded fusion of these source sentences can fit :data:`FUSION_RATIO`.

    Each input contributes at least its shortest part (itself, or a
    compression) and ``"; "`` adds no word; when even the shortest parts
    together exceed the bound, the fusion could only fall back to its
    shortest rewrite (two short sentences with nothing to delete), so the
    grounded planner does not offer it.
    """
    lengths = [_fusion_lengths(normalize_text(leaf_text(t))) for t in texts]
    return sum(short for _, short in lengths) <= FUSION_RATIO * sum(words for words, _ in lengths)


@functools.lru_cache(maxsize=4096)
def _fusion_lengths(text: str) -> tuple[int, int]:
    """``(words, words of the shortest part)``: a plan asks for each sentence many times."""
    return word_count(text), shortest_part(text)


def _as_rewrite(text: str, how: str) -> Rewrite:
    return Rewrite(text, word_count(text), how)


def choice_grammar(options: Sequence[str]) -> str:
    """A GBNF grammar whose language is exactly ``options`` (one literal each)."""
    if not options:
        raise InvalidInputError("a choice grammar needs at least one option")
    literals = " | ".join(_gbnf_literal(text) for text in options)
    return f"root ::= {literals}\n"


def _gbnf_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'


def choice_messages(
    operation: LLMOperation,
    inputs: Sequence[str],
    options: Sequence[str],
    instruction: str | None,
) -> list[BaseMessage]:
    """Messages asking a model without grammar support to pick a numbered option."""
    extra = f" Also: {normalize_text(instruction)}" if instruction and instruction.strip() else ""
    system = _CHOICE_SYSTEM.format(task=_TASKS[operation], instruction=extra)
    listed = "\n".join(f"{k}. {text}" for k, text in enumerate(options, start=1))
    body = "\n".join(normalize_text(t) for t in inputs) + "\n\nOptions:\n" + listed
    return [SystemMessage(system), HumanMessage(body)]


def grounded_request(
    llm: BaseChatModel,
    operation: LLMOperation,
    inputs: Sequence[str],
    options: Sequence[Rewrite],
    instruction: str | None,
) -> tuple[list[BaseMessage], dict[str, Any]]:
    """The messages and call kwargs of a grounded operation's one model call."""
    texts = [r.text for r in options]
    if getattr(llm, "supports_grammar", False):
        longest = max(_count_tokens(llm, t) for t in texts)
        kwargs: dict[str, Any] = {"grammar": choice_grammar(texts), "max_tokens": longest + 8}
        return build_messages(operation, inputs, instruction), kwargs
    return choice_messages(operation, inputs, texts, instruction), {}


def snap(reply: str, options: Sequence[Rewrite]) -> Rewrite:
    """The option a reply stands for: itself, its number, else the closest by words.

    This is what makes the guarantee independent of the model: the output is
    always one of the options.
    """
    said = normalize_text(reply)
    for option in options:
        if option.text == said:
            return option
    number = _NUMBER.match(said)
    if number and 1 <= int(number.group()) <= len(options):
        return options[int(number.group()) - 1]
    words = set(said.lower().split())
    return max(options, key=lambda o: len(words & set(o.text.lower().split())))


def _count_tokens(llm: BaseChatModel, text: str) -> int:
    counter = getattr(llm, "count_tokens", None)
    if callable(counter):
        return int(counter(text))
    return len(text) // 3 + 1


def call_config(config: RunnableConfig | None) -> RunnableConfig:
    """The config of a grounded call (tagged so traces tell it from a free one)."""
    merged: RunnableConfig = dict(config or {})  # type: ignore[assignment]
    merged["tags"] = [*merged.get("tags", []), "genprog:grounded"]
    return merged
