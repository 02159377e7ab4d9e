"""Semantic validation of a parsed program.

Parsing guarantees the *shape* of each line; validation checks that it can be
executed against these sources: every id exists (and is among the candidates
the planner was shown), each operation has the right number of inputs, trees
are not absurdly deep or wide, and no line repeats another. Each fault is a
:class:`ProgramIssue` naming the line, so the planner can be re-prompted with
precise feedback.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from pydantic import BaseModel, Field

from langchain_genprog.errors import ProgramIssue
from langchain_genprog.program.model import (
    UNARY_OPERATIONS,
    Call,
    Program,
    ProgramLine,
    SentenceRef,
    depth,
    iter_nodes,
)


class ProgramLimits(BaseModel):
    """Bounds a valid program must respect.

    Attributes:
        max_depth: Most nested calls on one path (``fusion(paraphrase(S1), S2)`` is 2).
        max_fan_in: Most inputs to one ``fusion``.
        max_lines: Most answer sentences.
        allow_duplicates: Whether two identical lines are allowed (small models
            tend to repeat themselves; by default a repeat is an issue).
    """

    max_depth: int = Field(default=3, ge=1)
    max_fan_in: int = Field(default=4, ge=2)
    max_lines: int = Field(default=12, ge=1)
    allow_duplicates: bool = False


@dataclass
class ValidationResult:
    """Valid lines (renumbered 1..n in order) and an issue per rejected line."""

    program: Program
    issues: list[ProgramIssue]


def validate_line(
    line: ProgramLine,
    valid_ids: Collection[int],
    limits: ProgramLimits,
    *,
    candidate_ids: Collection[int] | None = None,
) -> list[ProgramIssue]:
    """Return every fault of one line (empty when it is valid).

    Args:
        line: The line to check.
        valid_ids: Ids that exist in the sources.
        limits: Depth and fan-in bounds.
        candidate_ids: When given, ids the planner was offered; others are faults.
    """
    issues: list[ProgramIssue] = []

    def fault(message: str) -> None:
        issues.append(ProgramIssue(line=line.index, message=message, text=line.source_text))

    for node in iter_nodes(line.root):
        if isinstance(node, SentenceRef):
            if node.id not in valid_ids:
                top = max(valid_ids, default=0)
                fault(f"S{node.id} does not exist; sentence ids run from S1 to S{top}")
            elif candidate_ids is not None and node.id not in candidate_ids:
                fault(f"S{node.id} was not among the sentences offered; cite only listed ids")
            continue
        assert isinstance(node, Call)
        n = len(node.inputs)
        if node.operation in UNARY_OPERATIONS and n != 1:
            fault(f"{node.operation}() takes exactly one input, got {n}")
        elif node.operation == "fusion" and n < 2:
            fault(f"fusion() needs at least two inputs, got {n}; use paraphrase() for one")
        elif node.operation == "fusion" and n > limits.max_fan_in:
            fault(f"fusion() has {n} inputs; at most {limits.max_fan_in} are allowed")
        leaf_inputs = [c.id for c in node.inputs if isinstance(c, SentenceRef)]
        if len(leaf_inputs) != len(set(leaf_inputs)):
            fault(f"{node.operation}() repeats an input; give each sentence once")
        if node.operation == "extract" and node.inputs and isinstance(node.inputs[0], Call):
            fault("extract() copies a source sentence verbatim; its input must be an id like S3")
    d = depth(line.root)
    if d > limits.max_depth:
        fault(f"the call tree is {d} levels deep; at most {limits.max_depth} are allowed")
    return issues


def validate_program(
    program: Program,
    valid_ids: Collection[int],
    limits: ProgramLimits | None = None,
    *,
    candidate_ids: Collection[int] | None = None,
) -> ValidationResult:
    """Split a program into its valid lines and located issues.

    Valid lines keep their order and are renumbered ``1..n`` so that line ``k``
    of the result is answer sentence ``k``; each issue keeps the line number
    the planner wrote.

    Args:
        program: Parsed program.
        valid_ids: Ids that exist in the sources.
        limits: Bounds; defaults to :class:`ProgramLimits`.
        candidate_ids: Ids the planner was shown, if it was shown a subset.
    """
    limits = limits or ProgramLimits()
    ids = valid_ids if isinstance(valid_ids, (set, frozenset)) else set(valid_ids)
    issues: list[ProgramIssue] = []
    kept: list[ProgramLine] = []
    seen: dict[str, int] = {}
    for line in program.lines:
        line_issues = validate_line(line, ids, limits, candidate_ids=candidate_ids)
        rendered = line.root.render()
        if not line_issues and not limits.allow_duplicates and rendered in seen:
            line_issues.append(
                ProgramIssue(
                    line=line.index,
                    message=f"repeats line {seen[rendered]}; each answer sentence must be new",
                    text=line.source_text,
                )
            )
        if line_issues:
            issues.extend(line_issues)
            continue
        if len(kept) >= limits.max_lines:
            issues.append(
                ProgramIssue(
                    line=line.index,
                    message=f"more than {limits.max_lines} lines; the rest were not executed",
                    text=line.source_text,
                )
            )
            continue
        seen[rendered] = line.index
        kept.append(line.model_copy(update={"index": len(kept) + 1}))
    return ValidationResult(program=Program(lines=kept), issues=issues)
