"""Prompts for the text operations and the clean-up of what models return.

The prompts are our own wording, written for the smallest model we ship
(SmolLM2-135M-Instruct) as much as for large ones: a short system message
that states the task (and the optional instruction) and asks for the sentence
only, and a user message that holds nothing but the input text(s). Long
instructions or worked examples make a 135M model copy them instead of doing
the task, so there are none.

Source text always enters a prompt through a template *variable*: the text is
never formatted into the template string itself, so braces, quotes or
``{variables}`` inside a source sentence are passed through untouched.

Even a well-prompted model sometimes answers ``Sure! Here is the paraphrase:``
followed by the sentence in quotes. :func:`clean_output` removes such
wrappers and keeps the first line that reads like a sentence; if nothing is
left it raises :class:`InvalidOutputError`, which the executor treats as a
failed attempt and retries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from langchain_core.messages import BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.prompts import ChatPromptTemplate

from langchain_genprog._text import display_text
from langchain_genprog.errors import InvalidInputError, OperationError
from langchain_genprog.limits import MAX_OUTPUT_SENTENCE_CHARS

LLMOperation = Literal["paraphrase", "compression", "fusion"]
"""The operations that call a model (``extract`` copies its input instead)."""

LLM_OPERATIONS: tuple[LLMOperation, ...] = ("paraphrase", "compression", "fusion")

# The task lives in the system message and the user message holds only the
# input text(s). Measured on SmolLM2-135M over MDS sentences: with the task
# written *above* the inputs in the user message, the model answered with the
# task itself ("Combine these sentences into one sentence ...") for 2 of 3
# fusions; with this layout it answered with a sentence every time.
PARAPHRASE_SYSTEM = (
    "Rewrite the user's sentence in different words, keeping its meaning. "
    "Reply with the sentence only.{instruction}"
)

COMPRESSION_SYSTEM = (
    "Shorten the user's sentence to its key fact. Reply with one short sentence only.{instruction}"
)

FUSION_SYSTEM = (
    "Merge the user's sentences into one short sentence that keeps their facts. "
    "Reply with the sentence only.{instruction}"
)

PARAPHRASE_PROMPT = ChatPromptTemplate.from_messages(
    [("system", PARAPHRASE_SYSTEM), ("human", "{text}")]
)
"""Variables: ``text``, ``instruction`` (use :func:`format_instruction`)."""

COMPRESSION_PROMPT = ChatPromptTemplate.from_messages(
    [("system", COMPRESSION_SYSTEM), ("human", "{text}")]
)
"""Variables: ``text``, ``instruction`` (use :func:`format_instruction`)."""

FUSION_PROMPT = ChatPromptTemplate.from_messages([("system", FUSION_SYSTEM), ("human", "{texts}")])
"""Variables: ``texts`` (use :func:`format_numbered`), ``instruction``."""

PROMPTS: dict[LLMOperation, ChatPromptTemplate] = {
    "paraphrase": PARAPHRASE_PROMPT,
    "compression": COMPRESSION_PROMPT,
    "fusion": FUSION_PROMPT,
}


class InvalidOutputError(OperationError):
    """A model answered, but nothing usable was left after clean-up.

    Raised for an empty reply, a reply that is only a preamble (``Here is the
    paraphrase:``), or one with no letters or digits. It is a separate class
    so that callers can tell a bad answer (worth a retry, and the tokens were
    spent) from a failed call.

    Attributes:
        raw: The model's reply as received.
        usage: Token usage of the call that produced it, if the model reported it.
    """

    def __init__(self, message: str, *, raw: str = "", usage: UsageMetadata | None = None):
        self.raw = raw
        self.usage = usage
        super().__init__(message)


def normalize_text(text: str) -> str:
    """Collapse runs of whitespace (including newlines) to single spaces; drop control characters.

    Source sentences keep the line breaks (and whatever NUL or escape bytes)
    of their document, so that their offsets stay exact; inside a prompt or an
    answer sentence those are noise, or worse.
    """
    return display_text(text)


def format_instruction(instruction: str | None) -> str:
    """The optional instruction as the text that follows the input in a prompt.

    Returns ``""`` when there is no instruction, so that the prompt of an
    uninstructed operation carries no empty ``Instruction:`` line (tiny models
    tend to fill such a line in).
    """
    if instruction is None or not instruction.strip():
        return ""
    return f" Also: {normalize_text(instruction)}"


def format_numbered(texts: Sequence[str]) -> str:
    """Fusion inputs, one sentence per line (labels get copied by small models)."""
    return "\n".join(normalize_text(t) for t in texts)


def build_messages(
    operation: LLMOperation, inputs: Sequence[str], instruction: str | None = None
) -> list[BaseMessage]:
    """The chat messages that ask a model to perform ``operation`` on ``inputs``.

    Args:
        operation: ``paraphrase``, ``compression`` or ``fusion``.
        inputs: One text for ``paraphrase``/``compression``, two or more for ``fusion``.
        instruction: Optional guidance such as ``"focus on the date"``.

    Raises:
        InvalidInputError: On an unknown operation, the wrong number of inputs,
            or a blank input.
    """
    if operation not in PROMPTS:
        msg = (
            f"unknown model operation {operation!r}; expected one of {', '.join(LLM_OPERATIONS)}"
            " (extract copies its input and needs no prompt)"
        )
        raise InvalidInputError(msg)
    texts = [normalize_text(t) for t in inputs]
    if any(not t for t in texts):
        raise InvalidInputError(f"{operation}() got an empty input text")
    extra = format_instruction(instruction)
    if operation == "fusion":
        if len(texts) < 2:
            msg = f"fusion() needs at least two input texts, got {len(texts)}"
            raise InvalidInputError(msg)
        return PROMPTS[operation].format_messages(texts=format_numbered(texts), instruction=extra)
    if len(texts) != 1:
        raise InvalidInputError(f"{operation}() takes exactly one input text, got {len(texts)}")
    return PROMPTS[operation].format_messages(text=texts[0], instruction=extra)


_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
_FILLER = r"(?:sure|okay|ok|certainly|of course|absolutely|alright|great)"
_FILLER_ONLY = re.compile(rf"^{_FILLER}[\s!,.]*$", re.IGNORECASE)
_HERE_IS = re.compile(
    rf"^(?:{_FILLER}[\s!,.-]*)?here(?:'s|’s| is| are)\b[^:\n]{{0,80}}:\s*", re.IGNORECASE
)
_HERE_IS_LINE = re.compile(
    r"^(?:\w+[\s!,.-]*)?here(?:'s|’s| is| are)\b.{0,60}\b(?:paraphrase|version|sentence|"
    r"rewrite|compression|summary|combination|fusion)\b[^.]*[.:!]?$",
    re.IGNORECASE,
)
_LABEL = re.compile(
    r"^(?:the\s+)?(?:paraphrased?|rewritten|reworded|rephrased|compressed|compression|"
    r"shortened|short|fused|fusion|combined|merged|new|final|output|answer|result|response)"
    r"(?:\s+(?:sentence|version|text|statement))?\s*:\s*"
    r"|^sentence(?:\s+\d{1,2})?\s*:\s*",
    re.IGNORECASE,
)
_ECHOED = re.compile(r"^(?:instruction|task|input)\s*:", re.IGNORECASE)
_BULLET = re.compile(r"^(?:[-*•]\s+|\d{1,2}[.)]\s+)")
_WRAP = ("**", "__", "`")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“"}
_WORDLIKE = re.compile(r"\w")


def _strip_wrappers(line: str) -> str:
    """Remove markdown emphasis, bullets, labels and enclosing quotes from one line."""
    previous = None
    while line != previous:
        previous = line
        line = line.strip()
        for mark in _WRAP:
            if line.startswith(mark) and line.endswith(mark) and len(line) > 2 * len(mark):
                line = line[len(mark) : -len(mark)]
        # "**Paraphrase:** text" -> "Paraphrase: text" before the label is removed.
        line = re.sub(r"^(\*\*|__)([^*_]{1,40}:)\1\s*", r"\2 ", line)
        line = _BULLET.sub("", line)
        line = _HERE_IS.sub("", line)
        line = _LABEL.sub("", line)
        line = _strip_quotes(line)
    return line.strip()


def _strip_quotes(line: str) -> str:
    """Drop quotes that enclose the whole line (``"Text."`` or ``"Text".``)."""
    if len(line) < 2 or line[0] not in _QUOTES:
        return line
    close = _QUOTES[line[0]]
    body = line[1:]
    trailing = ""
    if body and body[-1] in ".!?" and len(body) > 1 and body[-2] == close:
        body, trailing = body[:-1], body[-1]
    if not body.endswith(close):
        return line
    inner = body[: -len(close)]
    if line[0] in inner or close in inner:  # a quote inside: the quotes are part of the text
        return line
    return inner.strip() + trailing


def _is_sentence_like(line: str) -> bool:
    """Whether a cleaned line can be an answer sentence (not a preamble or a rule)."""
    return (
        bool(_WORDLIKE.search(line))
        and not line.endswith(":")
        and not _FILLER_ONLY.match(line)
        and not _ECHOED.match(line)
    )


def _degenerate(sentence: str, *, n: int = 5, repeats: int = 3) -> bool:
    """Whether some ``n``-word sequence occurs ``repeats`` times or more.

    Small models under greedy decoding sometimes loop ("in 11 States, Pick
    Governors ... and in 11 States, Pick Governors ..."). Such a reply is not
    an answer sentence; rejecting it makes the node's failure visible (and
    retried) instead of pasting the loop into the answer.
    """
    return has_repeated_ngram(sentence.lower().split(), n=n, repeats=repeats)


def has_repeated_ngram(words: Sequence[str], *, n: int, repeats: int) -> bool:
    """Whether some run of ``n`` consecutive ``words`` occurs ``repeats`` times or more."""
    counts: dict[tuple[str, ...], int] = {}
    for k in range(len(words) - n + 1):
        gram = tuple(words[k : k + n])
        counts[gram] = counts.get(gram, 0) + 1
        if counts[gram] >= repeats:
            return True
    return False


_PROGRAM_CALL = re.compile(
    r"\b(?:paraphrase|compression|fusion|extract)\s*\([^()]*\b[Ss]\d+\b", re.IGNORECASE
)
_SENTENCE_ID = re.compile(r"\b[Ss]\d+\b")
_LETTER = re.compile(r"[^\W\d_]")
_LATIN_WORD = re.compile(r"\b[A-Za-z]+\b")
_VOWELS = frozenset("aeiouy")
_CONSONANT_RUN = re.compile(r"[b-df-hj-np-tv-xz]{5,}")
_TRIPLE = re.compile(r"([a-z])\1\1")


def _is_program_line(line: str) -> bool:
    """Whether a line is a program line (``fusion(S1, S2)``) or only sentence ids.

    A model that copies the planner's notation instead of doing the operation
    would otherwise put a program line into the answer.
    """
    if _PROGRAM_CALL.search(line):
        return True
    return bool(_SENTENCE_ID.search(line)) and not _LETTER.search(_SENTENCE_ID.sub("", line))


def _implausible_word(word: str) -> bool:
    """Whether a Latin-script word cannot be a word of any European language.

    Judged on letters alone, so it holds for every model: no vowel, almost no
    vowels, five consonants in a row, or one letter three times running.
    Acronyms (all capitals) and short words are never judged.
    """
    if len(word) < 4 or word.isupper():
        return False
    lowered = word.lower()
    vowels = sum(1 for ch in lowered if ch in _VOWELS)
    return (
        vowels == 0
        or vowels / len(lowered) < 0.2
        or bool(_CONSONANT_RUN.search(lowered))
        or bool(_TRIPLE.search(lowered))
    )


def nonsense_reason(sentence: str) -> str | None:
    """Why ``sentence`` is not prose at all, or ``None`` if it may be.

    This rejects only what no reading could take for a sentence — keyboard
    mash, symbol soup, one word over and over. Whether a real sentence is
    *supported* by its inputs is the refiner's and attributor's business.
    """
    if not _LETTER.search(sentence):
        return "it has no words"
    visible = [ch for ch in sentence if not ch.isspace()]
    if len(visible) >= 12 and sum(ch.isalnum() for ch in visible) < 0.25 * len(visible):
        return "it is mostly symbols"
    words = sentence.lower().split()
    if len(words) >= 4 and len(set(words)) == 1:
        return "it repeats one word"
    judged = [w for w in _LATIN_WORD.findall(sentence) if len(w) >= 4 and not w.isupper()]
    odd = sum(1 for w in judged if _implausible_word(w))
    if len(judged) >= 3 and odd * 2 >= len(judged):
        return f"{odd} of its {len(judged)} words are not words"
    return None


def _check_sentence(sentence: str, raw: str) -> str:
    """Raise :class:`InvalidOutputError` unless ``sentence`` can be an answer sentence."""
    shown = sentence[:80]
    if len(sentence) > MAX_OUTPUT_SENTENCE_CHARS:
        msg = (
            f"the reply is {len(sentence):,} characters long, more than one sentence may be "
            f"(langchain_genprog.limits.MAX_OUTPUT_SENTENCE_CHARS = {MAX_OUTPUT_SENTENCE_CHARS:,}) "
            f"(reply: {shown!r}...)"
        )
        raise InvalidOutputError(msg, raw=raw)
    if _degenerate(sentence):
        msg = f"the model looped, repeating the same words (reply: {shown!r}...)"
        raise InvalidOutputError(msg, raw=raw)
    reason = nonsense_reason(sentence)
    if reason is not None:
        msg = f"the reply is not prose: {reason} (reply: {shown!r})"
        raise InvalidOutputError(msg, raw=raw)
    return sentence


def clean_output(text: str) -> str:
    """Reduce a model reply to the one sentence it was asked for.

    Removes reasoning blocks (``<think>...</think>``), filler and preambles
    (``Sure! Here is the paraphrase:``), labels (``Rewritten sentence:``),
    list bullets, markdown emphasis and quotes around the whole line, then
    keeps the first line that still reads like a sentence. Within that line
    nothing is cut: splitting sentences with a regex would break
    abbreviations and decimals (``Dr. Smith paid $3.5 million.``).

    Lines that are program notation (``fusion(S1, S2)``) are never taken for
    the sentence, and the sentence kept must be prose: a loop, keyboard mash,
    symbol soup or a reply longer than
    :data:`~langchain_genprog.limits.MAX_OUTPUT_SENTENCE_CHARS` is rejected.
    Control characters are dropped.

    Args:
        text: The model's reply.

    Returns:
        The sentence, whitespace-normalized.

    Raises:
        InvalidOutputError: If nothing usable remains (the executor retries,
            then reports the node as failed).
    """
    body = _THINK.sub("", text)
    candidates = [normalize_text(_strip_wrappers(raw)) for raw in body.splitlines()]
    candidates = [line for line in candidates if _is_sentence_like(line)]
    if len(candidates) > 1 and _HERE_IS_LINE.match(candidates[0]):
        # "Here is a paraphrase of the sentence." introduces the next line; alone,
        # it may be a real sentence and is kept.
        candidates.pop(0)
    prose = [line for line in candidates if not _is_program_line(line)]
    if prose:
        return _check_sentence(prose[0], text)
    shown = normalize_text(text)[:80]
    if candidates:
        msg = f"the model answered with program notation, not a sentence (reply: {shown!r})"
    elif shown:
        msg = f"the model returned no usable sentence (reply: {shown!r})"
    else:
        msg = "the model returned an empty reply"
    raise InvalidOutputError(msg, raw=text)
