"""How (perturbed) segments are laid out into the prompt the scalarizer sees.

MExGen measures how the model's output changes when parts of its input are
removed, so the prompt must be built the same way for the original input and
for every perturbation: only the removed units' text changes, while the
instruction, the question and the numbering stay fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from langchain_genprog.attribute.mexgen.units import Segment

PromptRenderer = Callable[[Sequence[Segment], Sequence[str]], str]
"""Any ``(segments, texts) -> prompt`` function; ``texts[i]`` is segment ``i``'s current text."""


class ContextTemplate(BaseModel):
    """Instruction, numbered or plain source units, and question.

    The prompt is the non-empty parts ``instruction``, context and question,
    separated by a blank line. The context joins the segments with
    ``separator``; a segment with a label is written with ``unit_format``
    (e.g. ``S7: text``), one without (a header) as its bare text. A removed
    unit's text is replaced, its label kept: the model still sees that a
    source sentence existed there.

    Attributes:
        instruction: Text before the context.
        question: The question, if any.
        unit_format: Format of a labelled segment, with ``{label}`` and ``{text}``.
        separator: Joins segments; ``" "`` gives an unnumbered running text.
        context_header: Line written before the context (empty for none).
        question_format: Format of the question part, with ``{question}``.
    """

    model_config = ConfigDict(frozen=True)

    instruction: str = ""
    question: str | None = None
    unit_format: str = "{label}: {text}"
    separator: str = "\n"
    context_header: str = ""
    question_format: str = "Question: {question}"

    def context(self, segments: Sequence[Segment], texts: Sequence[str]) -> str:
        """Join the (perturbed) segment texts into the context block."""
        lines = [
            self.unit_format.format(label=seg.label, text=text) if seg.label else text
            for seg, text in zip(segments, texts, strict=True)
        ]
        body = self.separator.join(lines)
        return f"{self.context_header}\n{body}" if self.context_header else body

    def render(self, segments: Sequence[Segment], texts: Sequence[str]) -> str:
        """The full prompt for one (perturbed) input."""
        parts = [self.instruction.strip(), self.context(segments, texts)]
        if self.question and self.question.strip():
            parts.append(self.question_format.format(question=self.question.strip()))
        return "\n\n".join(part for part in parts if part)

    def __call__(self, segments: Sequence[Segment], texts: Sequence[str]) -> str:
        """Alias of :meth:`render`, so a template is a :data:`PromptRenderer`."""
        return self.render(segments, texts)
