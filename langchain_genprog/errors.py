"""Typed errors raised by langchain-genprog.

Every error a user can trigger by their input derives from :class:`GenProgError`
and says what to fix. Failures that happen *during* a run (a program line that
does not validate, an operation whose model call keeps failing) are not raised:
they are reported in the result so that nothing is lost silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_genprog.limits import MAX_ISSUES


class GenProgError(Exception):
    """Base class of every error raised by langchain-genprog."""


class InvalidSourcesError(GenProgError, ValueError):
    """The source documents cannot be used (empty list, blank text, bad encoding)."""


class InvalidInputError(GenProgError, ValueError):
    """An argument other than the sources is malformed (question, options, answer)."""


@dataclass(frozen=True)
class ProgramIssue:
    """One fault found in a program, located by its line.

    Attributes:
        line: 1-based index of the program line (0 when the fault is global).
        message: What is wrong and, where possible, how to fix it.
        text: The offending line as written by the planner, if known.
    """

    line: int
    message: str
    text: str = ""

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "program"
        shown = f" `{self.text.strip()}`" if self.text.strip() else ""
        return f"{where}{shown}: {self.message}"


def cap_issues(issues: Sequence[ProgramIssue], limit: int = MAX_ISSUES) -> list[ProgramIssue]:
    """The first ``limit`` issues, plus one issue that counts the rest.

    A planner that loops can write thousands of faulty lines; every one of them
    would otherwise travel into the re-prompt, the streamed events and the
    message metadata. The count keeps the report honest ("... and 4,979 more")
    while its size stays bounded.

    Args:
        issues: The issues, in the order they were found.
        limit: Most issues listed one by one
            (:data:`~langchain_genprog.limits.MAX_ISSUES`).
    """
    if len(issues) <= limit:
        return list(issues)
    rest = issues[limit:]
    lines = sorted({issue.line for issue in rest if issue.line})
    where = f" (lines {lines[0]}-{lines[-1]})" if lines else ""
    summary = ProgramIssue(
        line=0, message=f"... and {len(rest):,} more issues{where}, not listed one by one"
    )
    return [*issues[:limit], summary]


class InvalidProgramError(GenProgError, ValueError):
    """A program failed to parse or validate.

    Attributes:
        issues: Each fault, with the line it is on.
    """

    def __init__(self, issues: Sequence[ProgramIssue]) -> None:
        self.issues = list(issues)
        listed = "\n".join(f"  - {issue}" for issue in self.issues) or "  - (no details)"
        super().__init__(f"invalid program:\n{listed}")


class PlanningError(GenProgError, RuntimeError):
    """The planner produced no usable program line within its retry budget."""

    def __init__(self, message: str, issues: Sequence[ProgramIssue] = ()) -> None:
        self.issues = list(issues)
        super().__init__(message)


class OperationError(GenProgError, RuntimeError):
    """A text operation's model call failed after its retries."""


class ModelNotAvailableError(GenProgError, ImportError):
    """An embedded default model or its runtime is not installed.

    The message names the extra to install (usually ``langchain-genprog[local]``).
    """


class ExtraNotInstalledError(GenProgError, ImportError):
    """An optional feature's dependencies are not installed.

    Heavy dependencies that only one wing needs (matplotlib for the evaluation
    report's plots) are not installed with the core package; the message names
    the extra that brings them, e.g. ``pip install 'langchain-genprog[eval]'``.

    Attributes:
        extra: The extra to install.
    """

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        """Say which ``feature`` needs which ``missing`` module and ``extra``."""
        super().__init__(
            f"{feature} needs {missing}, which is not installed; "
            f"install it with: pip install 'langchain-genprog[{extra}]'"
        )
        self.extra = extra


class BudgetExhaustedError(GenProgError, RuntimeError):
    """A hard budget (model calls or seconds) was reached before any result was known."""


class ExecutionStoppedError(GenProgError, RuntimeError):
    """An operation call was not started because another one had stopped the run.

    A call that stops a run (a crash, a cancellation: anything its retry loop
    does not turn into a reported failure) ends the level; the calls still
    waiting for a slot are not started, as they would not be if the process
    had died. This error marks them: nothing of theirs is saved, so a resumed
    run makes them, and the run itself ends with the original cause.
    """
