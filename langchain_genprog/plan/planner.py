"""The planner: ask a chat model for a program, validate it, re-prompt on faults.

Three decoders share one validation loop:

* ``text`` — the paper's text syntax, parsed with the whitelist AST parser;
  works with any chat model.
* ``structured`` — ``with_structured_output(ProgramSpec)`` for models with
  native structured output (OpenAI, Anthropic, Ollama, vLLM ...).
* ``grammar`` — line-by-line constrained decoding for models that accept a
  GBNF ``grammar`` (the embedded llama.cpp model). Each line may cite only
  the most relevant ids *not used yet*, which stops a small model from copying
  its example or repeating a line, and ``END`` finishes the program.

Invalid output is never dropped: each faulty line becomes a located
:class:`~langchain_genprog.errors.ProgramIssue`; the planner re-prompts with
those messages (bounded retries) and keeps the best attempt; what still fails
is returned in :class:`PlanResult.issues`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, Literal, TypeVar

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from pydantic import BaseModel, Field, ValidationError

from langchain_genprog.errors import (
    GenProgError,
    InvalidInputError,
    PlanningError,
    ProgramIssue,
    cap_issues,
)
from langchain_genprog.plan import prompts
from langchain_genprog.plan.budget import WordBudget, check_max_words, fit_to_budget
from langchain_genprog.program.grammar import END_MARKER, program_line_grammar
from langchain_genprog.program.model import Program, ProgramLine
from langchain_genprog.program.parser import parse_program
from langchain_genprog.program.schema import ProgramSpec, spec_to_program
from langchain_genprog.program.validation import ProgramLimits, validate_program
from langchain_genprog.segment.sources import Sources

PlanMode = Literal["auto", "text", "structured", "grammar"]
_T = TypeVar("_T")


class PlanAttempt(BaseModel):
    """One call (or, in grammar mode, one line-by-line pass) of the planner.

    Attributes:
        raw: What the model returned (text, or the structured spec as JSON).
        valid_lines: How many lines passed validation.
        issues: Faults found in this attempt.
        seconds: Wall time.
        llm_calls: Model calls made.
    """

    raw: str
    valid_lines: int
    issues: list[ProgramIssue] = Field(default_factory=list)
    seconds: float = 0.0
    llm_calls: int = 1


class PlanResult(BaseModel):
    """The chosen program and everything that went wrong on the way.

    Attributes:
        program: Valid lines only, numbered 1..n in answer order.
        issues: Faults of the chosen attempt that remain (reported, not dropped).
        attempts: Every attempt, in order (retries are ``len(attempts) - 1``).
        mode: The decoder used.
    """

    program: Program
    issues: list[ProgramIssue] = Field(default_factory=list)
    attempts: list[PlanAttempt] = Field(default_factory=list)
    mode: str = "text"

    @property
    def retries(self) -> int:
        """Re-prompts needed after the first attempt."""
        return max(0, len(self.attempts) - 1)


class ProgramPlanner:
    """Writes and validates a program over numbered sources.

    Args:
        llm: Any LangChain chat model.
        mode: Decoder (see module docs). ``auto`` picks ``grammar`` for models
            that declare ``supports_grammar = True`` and ``text`` otherwise.
        limits: Depth, fan-in and length bounds of a valid program.
        max_retries: Re-prompts after an attempt with faults.
        max_sentences: Most answer sentences to plan.
        max_words: Word budget of the answer (``None``: none): planning stops
            before a line whose expected words would overspend it, the first
            line always planned; lines left out are reported as issues. See
            :mod:`langchain_genprog.plan.budget`.
        grammar_candidates: In grammar mode, how many of the most relevant unused
            ids each new line may cite.
        allow_instructions: In grammar mode, whether lines may carry an
            ``instruction="..."`` (off by default: tiny models write noise there).
        require_operation: In grammar mode, whether each line must apply an
            operation; without it small models only copy sentences verbatim.
        max_call_retries: Extra attempts of a model call that raises (a
            timeout, a rate limit, a dropped connection), with the policy
            operation calls use in
            :class:`~langchain_genprog.execute.ProgramExecutor`: every
            exception but the package's own typed errors is retried. When the
            attempts run out, :class:`~langchain_genprog.errors.PlanningError`
            is raised (the run cannot go on without a program). Distinct from
            ``max_retries``, which re-prompts after a *reply* with faults.
        retry_backoff: Seconds to wait before the first call retry, doubled for
            each further one.
        leaf_operations: In grammar mode, which unary operations can do their
            job on a sentence, given its raw text (``None``: all of them).
            Grounded operations pass
            :func:`~langchain_genprog.operations.grounded.leaf_operations`, so
            a line never asks to compress a sentence with nothing to delete,
            or to paraphrase one that has no reordering.
        fusable: In grammar mode, whether a fusion of sentences (their raw
            texts) can meet its length bound (``None``: always); grounded
            operations pass :func:`~langchain_genprog.operations.grounded.fusion_fits`.
        max_fusion_inputs: In grammar mode, most inputs of one fusion (at most
            the limits' ``max_fan_in``). Grounded fusions join their inputs'
            parts with ``", and"``/``";"``: three make a run-on sentence about
            twice a reference sentence's length, so the grounded graph asks for 2.

    Raises:
        InvalidInputError: On a negative or zero bound.
    """

    def __init__(
        self,
        llm: BaseChatModel,
        *,
        mode: PlanMode = "auto",
        limits: ProgramLimits | None = None,
        max_retries: int = 2,
        max_sentences: int = 5,
        grammar_candidates: int = 6,
        allow_instructions: bool = False,
        require_operation: bool = True,
        max_call_retries: int = 2,
        retry_backoff: float = 0.0,
        leaf_operations: Callable[[str], Collection[str]] | None = None,
        fusable: Callable[[Sequence[str]], bool] | None = None,
        max_fusion_inputs: int = 3,
        max_words: int | None = None,
    ) -> None:
        if max_retries < 0 or max_sentences < 1 or grammar_candidates < 1:
            raise InvalidInputError(
                "max_retries must be >= 0, max_sentences and grammar_candidates >= 1"
            )
        check_max_words(max_words)
        if max_fusion_inputs < 2:
            raise InvalidInputError("max_fusion_inputs must be at least 2")
        if max_call_retries < 0 or retry_backoff < 0:
            raise InvalidInputError("max_call_retries and retry_backoff must be >= 0")
        self.max_call_retries = max_call_retries
        self.retry_backoff = retry_backoff
        self.llm = llm
        self.mode: PlanMode = mode
        self.limits = (limits or ProgramLimits()).model_copy(update={"max_lines": max_sentences})
        self.max_retries = max_retries
        self.max_sentences = max_sentences
        self.grammar_candidates = grammar_candidates
        self.allow_instructions = allow_instructions
        self.require_operation = require_operation
        self.leaf_operations = leaf_operations
        self.fusable = fusable
        self.max_fusion_inputs = max_fusion_inputs
        self.max_words = max_words

    @property
    def resolved_mode(self) -> Literal["text", "structured", "grammar"]:
        """The decoder ``auto`` resolves to for this model."""
        if self.mode != "auto":
            return self.mode
        return "grammar" if getattr(self.llm, "supports_grammar", False) else "text"

    def plan(
        self,
        sources: Sources,
        question: str | None = None,
        *,
        ranked_ids: Sequence[int] | None = None,
        on_attempt: Callable[[PlanAttempt], None] | None = None,
    ) -> PlanResult:
        """Plan a program for ``question`` (or a summary when it is ``None``).

        Args:
            sources: Numbered sources.
            question: The question; ``None`` or blank means "summarize".
            ranked_ids: Ids offered to the planner, most relevant first
                (default: all, in source order).
            on_attempt: Called after each attempt (progress reporting).
        """
        offered = list(ranked_ids) if ranked_ids is not None else sources.ids
        if not offered:
            raise InvalidInputError("no source sentences were offered to the planner")
        mode = self.resolved_mode
        if mode == "grammar":
            return self._plan_by_grammar(sources, question, offered, on_attempt)
        result = self._plan_with_retries(sources, question, offered, mode, on_attempt)
        if self.max_words is None:
            return result
        program, left_out = fit_to_budget(result.program, sources, self.max_words)
        issues = cap_issues(result.issues + left_out)
        return result.model_copy(update={"program": program, "issues": issues})

    async def aplan(
        self,
        sources: Sources,
        question: str | None = None,
        *,
        ranked_ids: Sequence[int] | None = None,
        on_attempt: Callable[[PlanAttempt], None] | None = None,
    ) -> PlanResult:
        """Async :meth:`plan` (runs the model calls off the event loop)."""
        import asyncio

        return await asyncio.to_thread(
            self.plan, sources, question, ranked_ids=ranked_ids, on_attempt=on_attempt
        )

    # -- text / structured ---------------------------------------------------

    def _plan_with_retries(
        self,
        sources: Sources,
        question: str | None,
        offered: list[int],
        mode: Literal["text", "structured"],
        on_attempt: Callable[[PlanAttempt], None] | None,
    ) -> PlanResult:
        messages: list[BaseMessage] = plan_messages(sources, question, offered)
        attempts: list[PlanAttempt] = []
        best: tuple[Program, list[ProgramIssue]] | None = None
        for _ in range(self.max_retries + 1):
            started = time.perf_counter()
            raw, program, issues = self._call(messages, mode)
            checked = validate_program(
                program, set(sources.ids), self.limits, candidate_ids=set(offered)
            )
            issues = sorted(issues + checked.issues, key=lambda i: i.line)
            attempt = PlanAttempt(
                raw=raw,
                valid_lines=len(checked.program.lines),
                issues=cap_issues(issues),
                seconds=time.perf_counter() - started,
            )
            attempts.append(attempt)
            if on_attempt:
                on_attempt(attempt)
            if best is None or _better(checked.program, issues, *best):
                best = (checked.program, issues)
            if not issues and checked.program.lines:
                break
            feedback = "\n".join(f"- {issue}" for issue in attempt.issues) or (
                "- the program has no lines"
            )
            messages = [
                *messages,
                AIMessage(content=raw),
                HumanMessage(content=prompts.RETRY.format(issues=feedback)),
            ]
        assert best is not None
        program, issues = best
        if not program.lines and not issues:
            issues = [ProgramIssue(line=0, message="the planner wrote no program lines")]
        return PlanResult(program=program, issues=cap_issues(issues), attempts=attempts, mode=mode)

    def _call(
        self, messages: list[BaseMessage], mode: Literal["text", "structured"]
    ) -> tuple[str, Program, list[ProgramIssue]]:
        if mode == "structured":
            spec = self._invoke(lambda: self._structured(messages))
            if isinstance(spec, Exception):  # the provider's own parse/validation error
                issue = ProgramIssue(line=0, message=f"structured output failed: {spec}")
                return "", Program(), [issue]
            if not isinstance(spec, ProgramSpec):
                spec = ProgramSpec.model_validate(spec)
            program, issues = spec_to_program(spec)
            return spec.model_dump_json(exclude_none=True), program, issues
        reply = self._invoke(lambda: self.llm.invoke(messages))
        raw = reply.text if isinstance(reply, BaseMessage) else str(reply)
        parsed = parse_program(raw)
        return raw, parsed.program, parsed.issues

    def _structured(self, messages: list[BaseMessage]) -> Any:
        """A structured-output call; a reply that does not parse is returned, not raised.

        A reply that fails to parse is a fault of the *program* (re-prompted
        with the message), not of the call, so it must not be retried as a
        call failure; nor is a model without structured output.
        """
        try:
            return self.llm.with_structured_output(ProgramSpec).invoke(messages)
        except (OutputParserException, ValidationError, ValueError, NotImplementedError) as err:
            return err

    def _invoke(self, call: Callable[[], _T]) -> _T:
        """Make one model call, retrying a failure as operation calls are retried.

        Raises:
            PlanningError: When every attempt raised (chained to the last
                error, which the message names).
            GenProgError: The package's own typed errors, at once (they are
                deterministic, e.g. a missing local model).
        """
        attempts = self.max_call_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return call()
            except GenProgError:
                raise
            except Exception as err:
                if attempt == attempts:
                    msg = (
                        f"the planner's model call failed {attempts} time(s); last error: "
                        f"{type(err).__name__}: {err}"
                    )
                    raise PlanningError(msg) from err
                if self.retry_backoff:
                    time.sleep(self.retry_backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- grammar (line by line) -----------------------------------------------

    def _plan_by_grammar(
        self,
        sources: Sources,
        question: str | None,
        offered: list[int],
        on_attempt: Callable[[PlanAttempt], None] | None,
    ) -> PlanResult:
        started = time.perf_counter()
        rendered_sources = sources.render(offered)
        task = prompts.task_text(question)
        lines: list[ProgramLine] = []
        issues: list[ProgramIssue] = []
        raws: list[str] = []
        used: set[int] = set()
        applicable = _LeafOperations(sources, self.leaf_operations)
        budget = WordBudget(self.max_words) if self.max_words is not None else None
        calls = failures = 0
        while len(lines) < self.max_sentences:
            candidates = [sid for sid in offered if sid not in used][: self.grammar_candidates]
            if not candidates:
                break
            grammar = program_line_grammar(
                candidates,
                max_depth=min(self.limits.max_depth, 2),
                max_fan_in=min(self.limits.max_fan_in, self.max_fusion_inputs),
                allow_instruction=self.allow_instructions,
                allow_end=bool(lines),
                require_operation=self.require_operation,
                compressible=applicable.ids("compression", candidates),
                paraphrasable=applicable.ids("paraphrase", candidates),
                fusable=applicable.fusable(self.fusable),
            )
            so_far = "\n".join(line.render() for line in lines) or "(empty)"
            messages = prompts.NEXT_LINE_PROMPT.format_messages(
                sources=rendered_sources, task=task, so_far=so_far
            )
            reply = self._invoke(functools.partial(self.llm.invoke, messages, grammar=grammar))
            calls += 1
            raw = reply.text.strip()
            raws.append(raw)
            if raw == END_MARKER:
                break
            number = len(lines) + 1
            parsed = parse_program(raw)
            program = Program(
                lines=[ln.model_copy(update={"index": number}) for ln in parsed.program.lines]
            )
            checked = validate_program(
                program, set(sources.ids), self.limits, candidate_ids=set(candidates)
            )
            found = [
                ProgramIssue(line=number, message=i.message, text=i.text)
                for i in parsed.issues + checked.issues
            ]
            if found or not checked.program.lines:
                # The grammar makes this rare. Report the line, keep its ids
                # from being offered again, and stop after repeated failures.
                issues.extend(found or [ProgramIssue(line=number, message="empty line")])
                used.update(candidates[:1] if not parsed.program.lines else parsed.program.leaves())
                failures += 1
                if failures >= 2:
                    break
                continue
            line = checked.program.lines[0].model_copy(update={"index": number})
            over = budget.admit(line, sources) if budget is not None else None
            if over is not None:
                issues.append(over)
                break
            lines.append(line)
            used.update(line.leaves())
        attempt = PlanAttempt(
            raw="\n".join(raws),
            valid_lines=len(lines),
            issues=issues,
            seconds=time.perf_counter() - started,
            llm_calls=calls,
        )
        if on_attempt:
            on_attempt(attempt)
        return PlanResult(
            program=Program(lines=lines), issues=issues, attempts=[attempt], mode="grammar"
        )


class _LeafOperations:
    """``leaf_operations`` per sentence id, each sentence parsed once per plan."""

    def __init__(self, sources: Sources, rule: Callable[[str], Collection[str]] | None) -> None:
        self.sources = sources
        self.rule = rule
        self.found: dict[int, Collection[str]] = {}

    def ids(self, operation: str, candidates: Sequence[int]) -> list[int] | None:
        """The candidates ``operation`` applies to (``None``: no rule, all)."""
        if self.rule is None:
            return None
        for sid in candidates:
            if sid not in self.found:
                self.found[sid] = self.rule(self.sources.sentence(sid).text)
        return [sid for sid in candidates if operation in self.found[sid]]

    def fusable(
        self, rule: Callable[[Sequence[str]], bool] | None
    ) -> Callable[[tuple[int, ...]], bool] | None:
        """``rule`` over sentence ids (``None``: no rule)."""
        if rule is None:
            return None
        return lambda ids: rule([self.sources.sentence(sid).text for sid in ids])


def plan_messages(
    sources: Sources, question: str | None, offered: Sequence[int]
) -> list[BaseMessage]:
    """The first planner messages: system prompt, sources and task."""
    return prompts.PLAN_PROMPT.format_messages(
        sources=sources.render(offered), task=prompts.task_text(question)
    )


def _better(
    program: Program, issues: list[ProgramIssue], best_program: Program, best_issues: list[Any]
) -> bool:
    return (len(program.lines), -len(issues)) > (len(best_program.lines), -len(best_issues))
