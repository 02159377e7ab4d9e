"""Structured-output front end: a JSON schema for programs.

Models with native structured output (OpenAI, Anthropic, Ollama, vLLM ...) can
return a program as JSON through ``with_structured_output(ProgramSpec)``
instead of the text syntax. The spec is converted to the same
:class:`~langchain_genprog.program.model.Program` and validated the same way.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from langchain_genprog.errors import ProgramIssue
from langchain_genprog.program.model import Call, Program, ProgramLine, SentenceRef

_ID = re.compile(r"^\s*[Ss]?(\d+)\s*$")


class OperationSpec(BaseModel):
    """One text operation applied to source sentences or to other operations."""

    operation: Literal["paraphrase", "compression", "fusion", "extract"] = Field(
        description=(
            "paraphrase: reword one input; compression: shorten one input keeping its key "
            "fact; fusion: merge two or more inputs into one sentence; extract: copy one "
            "source sentence verbatim"
        )
    )
    inputs: list[str | OperationSpec] = Field(
        description="Inputs: source sentence ids such as 'S3', or nested operations"
    )
    instruction: str | None = Field(
        default=None, description="Optional short guidance for this operation"
    )


class ProgramSpec(BaseModel):
    """A program: one entry per answer sentence, in answer order."""

    sentences: list[str | OperationSpec] = Field(
        description=(
            "One entry per answer sentence: a source id such as 'S3' (copied as is) or an "
            "operation tree over source ids"
        )
    )


def spec_to_program(spec: ProgramSpec) -> tuple[Program, list[ProgramIssue]]:
    """Convert a structured program to the program model.

    Returns:
        The converted lines and an issue for each entry that could not be read
        (e.g. an input that is not a sentence id).
    """
    lines: list[ProgramLine] = []
    issues: list[ProgramIssue] = []
    for number, entry in enumerate(spec.sentences, start=1):
        try:
            root = _convert(entry)
        except ValueError as err:
            issues.append(ProgramIssue(line=number, message=str(err), text=_show(entry)))
            continue
        lines.append(ProgramLine(index=number, root=root, source_text=root.render()))
    return Program(lines=lines), issues


def program_to_spec(program: Program) -> ProgramSpec:
    """Inverse of :func:`spec_to_program` (used for few-shot examples and JSON output)."""
    return ProgramSpec(sentences=[_to_spec(line.root) for line in program.lines])


def _convert(entry: str | OperationSpec) -> SentenceRef | Call:
    if isinstance(entry, str):
        match = _ID.match(entry)
        if match is None:
            msg = f"input {entry!r} is not a sentence id like 'S3'"
            raise ValueError(msg)
        return SentenceRef(id=int(match.group(1)))
    return Call(
        operation=entry.operation,
        inputs=[_convert(child) for child in entry.inputs],
        instruction=(entry.instruction or "").strip() or None,
    )


def _to_spec(node: SentenceRef | Call) -> str | OperationSpec:
    if isinstance(node, SentenceRef):
        return node.render()
    return OperationSpec(
        operation=node.operation,
        inputs=[_to_spec(child) for child in node.inputs],
        instruction=node.instruction,
    )


def _show(entry: str | OperationSpec) -> str:
    return entry if isinstance(entry, str) else entry.model_dump_json(exclude_none=True)
