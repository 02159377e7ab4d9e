"""The answer's word budget, spent while planning.

Each program line becomes one answer sentence, and its length follows from
its leaves and operations before any of them runs: a grounded compression
keeps at most 70 % of its input's words and a fusion at most 75 % of its
inputs' together (:mod:`langchain_genprog.operations.grounded`), an extract
or a paraphrase about as many as its input. So the budget is applied where it
costs nothing — the planner stops before a line that would overspend it —
instead of cutting an executed answer, which would waste the operations'
model calls and could leave a sentence half-said. For grounded operations the
estimate is an upper bound; for free-form ones (a model writing the text) it
is an estimate only, and the executed answer may differ.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_genprog.errors import InvalidInputError, ProgramIssue
from langchain_genprog.operations.grounded import COMPRESSION_RATIOS, FUSION_RATIO
from langchain_genprog.program.model import Call, Node, Program, ProgramLine
from langchain_genprog.segment.sources import Sources
from langchain_genprog.segment.words import tokens


def node_words(node: Node, sources: Sources) -> float:
    """Expected words of ``node``'s output: its leaves' words times its operations' bounds."""
    if not isinstance(node, Call):
        return float(len(tokens(sources.sentence(node.id).text)))
    inputs = sum(node_words(child, sources) for child in node.inputs)
    if node.operation == "compression":
        return inputs * COMPRESSION_RATIOS[0]
    if node.operation == "fusion":
        return inputs * FUSION_RATIO
    return inputs


def check_max_words(max_words: int | None) -> None:
    """Raise :class:`InvalidInputError` unless ``max_words`` is ``None`` or at least 1."""
    if max_words is not None and max_words < 1:
        raise InvalidInputError(f"max_words must be at least 1, got {max_words}")


class WordBudget:
    """Admit answer sentences while their words fit ``max_words``.

    The first sentence is always admitted — an answer needs a sentence, and a
    budget smaller than any sentence must not leave the question unanswered —
    and the first one that does not fit ends the answer: sentences are in
    answer order, so a later, shorter one would answer past a gap. One rule for
    planned lines (:meth:`admit`, expected words) and written text
    (:func:`sentences_within`, counted words).

    Args:
        max_words: Most words of the answer.

    Raises:
        InvalidInputError: If ``max_words`` is below 1.
    """

    def __init__(self, max_words: int) -> None:
        check_max_words(max_words)
        self.max_words = max_words
        self.spent = 0.0
        self.count = 0

    def spend(self, words: float) -> bool:
        """Spend ``words`` if the next sentence fits (or is the first); whether it did."""
        if self.count and self.spent + words > self.max_words:
            return False
        self.spent += words
        self.count += 1
        return True

    def admit(self, line: ProgramLine, sources: Sources) -> ProgramIssue | None:
        """Spend ``line``'s expected words, or say why it is left out (``None``: admitted)."""
        words = node_words(line.root, sources)
        left = self.max_words - self.spent
        if self.spend(words):
            return None
        return ProgramIssue(
            line=line.index,
            message=(
                f"left out: the answer's word budget (max_words={self.max_words}) has "
                f"{left:.0f} words left and this line needs about {words:.0f}"
            ),
            text=line.render(),
        )


def fit_to_budget(
    program: Program, sources: Sources, max_words: int
) -> tuple[Program, list[ProgramIssue]]:
    """The program's lines up to the first that overspends ``max_words``, and the rest reported.

    Used after a whole program is planned at once (text and structured
    modes); the grammar planner asks :class:`WordBudget` line by line and so
    stops early.
    """
    budget = WordBudget(max_words)
    for kept, line in enumerate(program.lines):
        issue = budget.admit(line, sources)
        if issue is not None:
            after = [_left_out_after(later) for later in program.lines[kept + 1 :]]
            return Program(lines=program.lines[:kept]), [issue, *after]
    return program, []


def sentences_within(sentences: Sequence[str], max_words: int) -> int:
    """How many leading ``sentences`` (written text) fit ``max_words``, by the same rule.

    For answers that are written before the budget can act (a model's whole
    reply, an extractive baseline): they are cut before the first sentence
    that would overspend it, the first always kept.
    """
    budget = WordBudget(max_words)
    for k, text in enumerate(sentences):
        if not budget.spend(len(tokens(text))):
            return k
    return len(sentences)


def _left_out_after(line: ProgramLine) -> ProgramIssue:
    return ProgramIssue(
        line=line.index, message="left out: after a line over the word budget", text=line.render()
    )
