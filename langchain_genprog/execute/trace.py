"""What execution records: one trace entry per executed node, one result per line."""

from __future__ import annotations

from pydantic import BaseModel, Field

from langchain_genprog.program.model import NodeRef


class NodeTrace(BaseModel):
    """The record of one executed operation (or one verbatim leaf copy).

    Attributes:
        line: 1-based program line (= answer sentence) the node belongs to.
        path: Position of the node in its tree, e.g. ``"0"`` for the root and
            ``"0.1"`` for the root's second input.
        operation: ``paraphrase``, ``compression``, ``fusion``, ``extract``.
        inputs: Input texts, in order.
        input_ids: For each input, the sentence ids at its leaves.
        instruction: The node's instruction, if any.
        output: The produced text ("" when the node failed).
        leaf_ids: All sentence ids at this node's leaves.
        seconds: Wall time of the node's model call(s).
        attempts: Model calls made (retries included; 0 for ``extract``).
        input_tokens: Prompt tokens reported by the model, if any.
        output_tokens: Completion tokens reported by the model, if any.
        error: Why the node failed, or ``None``.
        note: What a grounded operation did instead of its usual job (kept
            its input verbatim, relaxed its length bound), or ``None``.
    """

    line: int
    path: str
    operation: str
    inputs: list[str] = Field(default_factory=list)
    input_ids: list[list[int]] = Field(default_factory=list)
    instruction: str | None = None
    output: str = ""
    leaf_ids: list[int] = Field(default_factory=list)
    seconds: float = 0.0
    attempts: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str | None = None
    note: str | None = None

    @property
    def ref(self) -> NodeRef:
        """The traced node's key in the program."""
        return NodeRef(line=self.line, path=self.path)


class LineResult(BaseModel):
    """The outcome of one program line: an answer sentence or a reported failure.

    Attributes:
        line: 1-based program line.
        program: The line in text syntax.
        text: The answer sentence ("" when ``error`` is set).
        leaf_ids: Sentence ids the answer sentence is cited to, by construction.
        error: Why the line produced no sentence, or ``None``.
    """

    line: int
    program: str
    text: str = ""
    leaf_ids: list[int] = Field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the line produced a sentence."""
        return self.error is None


class ExecutionResult(BaseModel):
    """Every line's result plus the per-node trace."""

    lines: list[LineResult] = Field(default_factory=list)
    trace: list[NodeTrace] = Field(default_factory=list)

    @property
    def failures(self) -> list[LineResult]:
        """Lines that produced no sentence."""
        return [line for line in self.lines if not line.ok]
