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


ROOT_PATH = "0"
"""The path of a line's outermost node; the ``k``-th input of node ``p`` is at ``p.k``."""


class NodeRef(BaseModel):
    """The key of a program node: its line and its path in that line's tree.

    The one key every step uses for a node — the executor's schedule, the
    trace (:attr:`~langchain_genprog.execute.trace.NodeTrace.ref`), the
    refiner's records — so that they always agree on which node is meant.

    Attributes:
        line: 1-based program line (= answer sentence).
        path: ``"0"`` for the root, ``"0.1"`` for the root's second input, ...
    """

    model_config = ConfigDict(frozen=True)

    line: int
    path: str

    def __str__(self) -> str:
        return f"line {self.line} node {self.path}"

    @classmethod
    def root(cls, line: int) -> NodeRef:
        """The key of line ``line``'s outermost node."""
        return cls(line=line, path=ROOT_PATH)


class ProgramNode(BaseModel):
    """One node of a program, as the steps that run or check it see it.

    A node is a call, or a line whose root is a bare ``S3`` (a verbatim copy,
    with operation ``extract`` and that sentence as its one input). Sentence
    refs inside a call are not nodes: they are its leaf inputs.

    Attributes:
        ref: The node's key.
        operation: The operation (``extract`` for a bare-sentence line).
        instruction: The call's instruction, if any.
        inputs: Per input, in order: a leaf's sentence id, or a child node's key.
        parent: The key of the call this node is an input of (``None`` at the root).
        height: ``0`` for a bare-sentence line, else one more than its highest
            child call (a call on leaves only has height 1). Every node of one
            height depends only on lower ones, so each height can run at once.
        leaf_ids: Sentence ids at the node's leaves, first occurrence order, no repeats.
    """

    model_config = ConfigDict(frozen=True)

    ref: NodeRef
    operation: str
    instruction: str | None = None
    inputs: tuple[int | NodeRef, ...]
    parent: NodeRef | None = None
    height: int
    leaf_ids: tuple[int, ...]


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

    def nodes(self) -> list[ProgramNode]:
        """The line's nodes in post-order (inputs before the call, left to right)."""
        if isinstance(self.root, SentenceRef):
            leaf = self.root.id
            ref = NodeRef.root(self.index)
            return [
                ProgramNode(
                    ref=ref, operation="extract", inputs=(leaf,), height=0, leaf_ids=(leaf,)
                )
            ]
        nodes: list[ProgramNode] = []
        _add_nodes(self.root, NodeRef.root(self.index), None, nodes)
        return nodes

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

    def nodes(self) -> list[ProgramNode]:
        """Every node, line by line, each line in post-order (the order they are traced in)."""
        return [node for line in self.lines for node in line.nodes()]

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


def _add_nodes(
    call: Call, ref: NodeRef, parent: NodeRef | None, nodes: list[ProgramNode]
) -> ProgramNode:
    """Append ``call``'s nested calls, then ``call`` itself, to ``nodes``; return its node."""
    inputs: list[int | NodeRef] = []
    leaves: dict[int, None] = {}
    height = 0
    for k, child in enumerate(call.inputs):
        if isinstance(child, SentenceRef):
            inputs.append(child.id)
            leaves.setdefault(child.id, None)
            continue
        below = _add_nodes(child, NodeRef(line=ref.line, path=f"{ref.path}.{k}"), ref, nodes)
        inputs.append(below.ref)
        leaves.update(dict.fromkeys(below.leaf_ids))
        height = max(height, below.height)
    node = ProgramNode(
        ref=ref,
        operation=call.operation,
        instruction=call.instruction,
        inputs=tuple(inputs),
        parent=parent,
        height=height + 1,
        leaf_ids=tuple(leaves),
    )
    nodes.append(node)
    return node


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'
