"""The typed program model: one call tree per answer sentence.

The program is the single source of truth for citations by construction: the
text syntax, the structured-output schema, JSON and the final ``Citation``
annotations are all views of these objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Operation = Literal["paraphrase", "compression", "fusion", "extract"]
"""The text operations a program may call."""

OPERATIONS: tuple[Operation, ...] = ("paraphrase", "compression", "fusion", "extract")

UNARY_OPERATIONS: frozenset[str] = frozenset({"paraphrase", "compression", "extract"})
"""Operations that take exactly one input; ``fusion`` takes two or more."""


class SentenceRef(BaseModel):
    """A leaf: source sentence ``S{id}``."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["ref"] = "ref"
    id: int

    def render(self) -> str:
        """Text syntax of this leaf, e.g. ``S3``."""
        return f"S{self.id}"


class Call(BaseModel):
    """An operation applied to inputs (leaves or nested calls)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["call"] = "call"
    operation: Operation
    inputs: list[Node]
    instruction: str | None = None

    def render(self) -> str:
        """Text syntax of this call, e.g. ``fusion(S1, paraphrase(S3), instruction="...")``."""
        parts = [child.render() for child in self.inputs]
        if self.instruction:
            parts.append(f"instruction={_quote(self.instruction)}")
        return f"{self.operation}({', '.join(parts)})"


Node = Annotated[SentenceRef | Call, Field(discriminator="kind")]
Call.model_rebuild()


class ProgramLine(BaseModel):
    """The call tree of one answer sentence.

    Attributes:
        index: 1-based position of the line in the program.
        root: The outermost node (a bare ``S3`` means "copy S3 verbatim").
        source_text: The line as the planner wrote it, when parsed from text.
    """

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=1)
    root: Node
    source_text: str = ""

    def render(self) -> str:
        """Text syntax of this line, ``- <call tree>``."""
        return f"- {self.root.render()}"

    def leaves(self) -> list[int]:
        """Sentence ids at the leaves of the tree, first occurrence order, no repeats."""
        seen: dict[int, None] = {}
        for node in iter_nodes(self.root):
            if isinstance(node, SentenceRef):
                seen.setdefault(node.id, None)
        return list(seen)


class Program(BaseModel):
    """A whole program: lines in answer order."""

    lines: list[ProgramLine] = Field(default_factory=list)

    def render(self) -> str:
        """The paper's text syntax, one ``- ...`` line per answer sentence."""
        return "\n".join(line.render() for line in self.lines)

    def leaves(self) -> list[int]:
        """All sentence ids the program uses, first occurrence order."""
        seen: dict[int, None] = {}
        for line in self.lines:
            for sid in line.leaves():
                seen.setdefault(sid, None)
        return list(seen)


def iter_nodes(node: SentenceRef | Call) -> Iterator[SentenceRef | Call]:
    """Yield ``node`` and its descendants in post-order (inputs before the call)."""
    if isinstance(node, Call):
        for child in node.inputs:
            yield from iter_nodes(child)
    yield node


def depth(node: SentenceRef | Call) -> int:
    """Number of nested calls on the longest path (a leaf has depth 0)."""
    if isinstance(node, SentenceRef):
        return 0
    return 1 + max((depth(child) for child in node.inputs), default=0)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'
