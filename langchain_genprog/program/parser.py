"""Parse the paper's text syntax into a :class:`Program` — without ever evaluating it.

A line such as ``- fusion(paraphrase(S1), S5, instruction="...")`` is valid
Python expression syntax, so Python's own ``ast`` module gives a robust
tokenizer and tree for free (quotes, escapes, nesting). The tree is then walked
with a strict whitelist: calls to known operation names, ``S<digits>`` names and
an ``instruction=`` string keyword. Anything else is a located
:class:`ProgramIssue`; nothing is ever passed to ``eval`` or ``exec``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from langchain_genprog.errors import InvalidProgramError, ProgramIssue
from langchain_genprog.limits import MAX_PLANNER_REPLY_CHARS, MAX_PLANNER_REPLY_LINES
from langchain_genprog.program.model import OPERATIONS, Call, Program, ProgramLine, SentenceRef

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|line\s*\d+\s*:)\s*", re.IGNORECASE)
_SENTENCE_NAME = re.compile(r"^[Ss](\d+)$")
_FENCE = re.compile(r"^\s*```")
_KEYWORDS = frozenset({"instruction"})
MAX_LINE_CHARS = 2000
"""Longer lines are rejected before parsing (bounds parser time and recursion)."""


@dataclass
class ParseResult:
    """The lines that parsed, and a located issue for each one that did not.

    Attributes:
        program: The parsed lines; ``ProgramLine.index`` is the line number
            among the non-blank lines of the input.
        issues: One entry per line that failed to parse.
    """

    program: Program
    issues: list[ProgramIssue] = field(default_factory=list)


def parse_program(
    text: str,
    *,
    max_chars: int = MAX_PLANNER_REPLY_CHARS,
    max_lines: int = MAX_PLANNER_REPLY_LINES,
) -> ParseResult:
    """Parse a program written in the text syntax, line by line.

    Blank lines and Markdown code fences are ignored; every other line must be
    one call tree (an optional bullet such as ``-`` or ``1.`` may precede it).
    A line that fails is reported in :attr:`ParseResult.issues` and the other
    lines are still parsed, so one bad line never hides the rest.

    A reply longer than ``max_chars`` characters or ``max_lines`` non-blank
    lines is read only that far (a looping model can write megabytes); what
    was not read is reported as one issue, never dropped silently.

    Args:
        text: The planner's output.
        max_chars: Most characters read
            (:data:`~langchain_genprog.limits.MAX_PLANNER_REPLY_CHARS`).
        max_lines: Most non-blank lines read
            (:data:`~langchain_genprog.limits.MAX_PLANNER_REPLY_LINES`).

    Returns:
        The parsed program and the issues found.
    """
    lines: list[ProgramLine] = []
    issues: list[ProgramIssue] = []
    number = 0
    for raw in _bounded_lines(text, max_chars, max_lines, issues):
        number += 1
        body = _BULLET.sub("", raw, count=1).strip().rstrip(";,")
        try:
            root = parse_expression(body)
        except _Fault as fault:
            issues.append(ProgramIssue(line=number, message=str(fault), text=raw))
            continue
        lines.append(ProgramLine(index=number, root=root, source_text=raw))
    issues.sort(key=lambda issue: issue.line or max_lines + 1)
    return ParseResult(program=Program(lines=lines), issues=issues)


def _bounded_lines(
    text: str, max_chars: int, max_lines: int, issues: list[ProgramIssue]
) -> list[str]:
    """The non-blank, non-fence lines to parse; an issue for anything cut off."""
    kept = text[:max_chars] if len(text) > max_chars else text
    candidates = [raw for raw in kept.splitlines() if raw.strip() and not _FENCE.match(raw)]
    if len(text) > max_chars:
        issues.append(
            ProgramIssue(
                line=0,
                message=(
                    f"the reply has {len(text):,} characters; only the first {max_chars:,} were "
                    "read (langchain_genprog.limits.MAX_PLANNER_REPLY_CHARS); write one short "
                    "line per answer sentence"
                ),
            )
        )
    if len(candidates) > max_lines:
        issues.append(
            ProgramIssue(
                line=0,
                message=(
                    f"the reply has {len(candidates):,} lines; only the first {max_lines} were "
                    "read (langchain_genprog.limits.MAX_PLANNER_REPLY_LINES)"
                ),
            )
        )
    return candidates[:max_lines]


def parse_program_strict(text: str) -> Program:
    """Parse ``text`` and raise if any line fails.

    Raises:
        InvalidProgramError: Listing every line that failed.
    """
    result = parse_program(text)
    if result.issues:
        raise InvalidProgramError(result.issues)
    if not result.program.lines:
        raise InvalidProgramError([ProgramIssue(line=0, message="the program has no lines")])
    return result.program


class _Fault(ValueError):
    """A parse fault inside one line (turned into a ProgramIssue)."""


def parse_expression(expression: str) -> SentenceRef | Call:
    """Parse one call tree, e.g. ``compression(S5, instruction="keep the date")``.

    Raises:
        ValueError: With a message that says what is wrong.
    """
    if not expression:
        raise _Fault("empty line")
    if len(expression) > MAX_LINE_CHARS:
        raise _Fault(f"line is longer than {MAX_LINE_CHARS} characters; one call tree per line")
    try:
        tree = ast.parse(expression, mode="eval")
    except (RecursionError, MemoryError, ValueError):
        raise _Fault("line is nested too deeply or contains a null byte") from None
    except SyntaxError as err:
        detail = err.msg or "invalid syntax"
        raise _Fault(
            f'not a call tree ({detail}); write e.g. fusion(S1, paraphrase(S2), instruction="...")'
        ) from None
    return _walk(tree.body)


def _walk(node: ast.expr) -> SentenceRef | Call:
    if isinstance(node, ast.Name):
        match = _SENTENCE_NAME.match(node.id)
        if match is None:
            raise _Fault(f"`{node.id}` is neither a sentence id like S3 nor a call")
        return SentenceRef(id=int(match.group(1)))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _Fault("only plain operation names may be called, e.g. paraphrase(S1)")
        name = node.func.id.lower()
        if name not in OPERATIONS:
            raise _Fault(f"unknown operation `{node.func.id}`; use one of {', '.join(OPERATIONS)}")
        instruction = _instruction(name, node.keywords)
        inputs: list[SentenceRef | Call] = []
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                raise _Fault(
                    f"{name}() got a quoted string as input; inputs are sentence ids or calls, "
                    'and free text goes in instruction="..."'
                )
            inputs.append(_walk(arg))
        return Call(operation=name, inputs=inputs, instruction=instruction)
    raise _Fault(
        f"unexpected {type(node).__name__} expression; a line is a sentence id or an operation call"
    )


def _instruction(name: str, keywords: list[ast.keyword]) -> str | None:
    """The ``instruction="..."`` of a call; every other keyword, or a repeat, is a fault.

    Python's parser accepts ``f(instruction="a", instruction="b")`` (only its
    compiler rejects the repeat), so a repeated keyword is checked here rather
    than letting the last one win silently.
    """
    instruction: str | None = None
    seen: set[str] = set()
    for keyword in keywords:
        if keyword.arg is None:
            raise _Fault(f'{name}() got **-unpacking; only instruction="..." is allowed')
        if keyword.arg not in _KEYWORDS:
            raise _Fault(f'unknown keyword `{keyword.arg}`; only instruction="..." is allowed')
        if keyword.arg in seen:
            raise _Fault(f"{name}() repeats `{keyword.arg}=`; give it once")
        seen.add(keyword.arg)
        value = keyword.value
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            raise _Fault("instruction must be a quoted string")
        instruction = value.value.strip() or None
    return instruction
