"""Repairs of answer sentences that failed the grounding gate.

Two repairs, in order, each reported as a :class:`~langchain_genprog.ground.gate.Repair`:

1. **Regenerate** (while rounds remain, and only for lines whose operations
   ran free-form): re-execute just the failing program lines with grounded
   operations, which cannot add a word that is not in their inputs. This is
   the paper's localized refinement, at the granularity the gate measures:
   one answer sentence, its own call tree, nothing else re-run.
2. **Replace or drop** (the last resort): the sentence becomes a verbatim copy
   of its best-supported cited source — the one the measurement scored
   highest, else the one sharing most of its content words — or, when it
   repeats another line or cites nothing usable, is dropped. A copy is true
   to its source by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_genprog.attribute.base import AttributionResult
from langchain_genprog.execute.executor import ProgramExecutor
from langchain_genprog.execute.trace import ExecutionResult, LineResult
from langchain_genprog.ground.gate import Repair, SentenceVerdict
from langchain_genprog.ground.lexical import lexical_verdict
from langchain_genprog.operations.prompts import normalize_text
from langchain_genprog.operations.rewrites import leaf_text
from langchain_genprog.program.model import Program
from langchain_genprog.segment.content import non_content_reason
from langchain_genprog.segment.sources import Sources


def regenerate(
    executor: ProgramExecutor,
    program: Program,
    sources: Sources,
    execution: ExecutionResult,
    failing: Sequence[SentenceVerdict],
    round_: int,
) -> tuple[ExecutionResult, list[Repair]]:
    """Re-execute the failing lines with grounded operations.

    Args:
        executor: An executor whose ``operation_mode`` is ``grounded``.
        program: The program (only the failing lines are run).
        sources: The numbered sources.
        execution: The current execution (its other lines are kept).
        failing: The verdicts of the lines to regenerate.
        round_: The repair round, for the report.

    Returns:
        The execution with those lines replaced, and one repair per line.
    """
    wanted = {v.line for v in failing}
    subset = Program(lines=[line for line in program.lines if line.index in wanted])
    redone = executor.execute(subset, sources)
    return _merge_lines(execution, redone, failing, round_)


def _merge_lines(
    execution: ExecutionResult,
    redone: ExecutionResult,
    failing: Sequence[SentenceVerdict],
    round_: int,
) -> tuple[ExecutionResult, list[Repair]]:
    new = {line.line: line for line in redone.lines}
    reasons = {v.line: v for v in failing}
    repairs = [
        Repair(
            line=n,
            round=round_,
            action="regenerated",
            before=reasons[n].text,
            after=new[n].text,
            reason=reasons[n].reason,
        )
        for n in sorted(new)
    ]
    lines = [new.get(line.line, line) for line in execution.lines]
    trace = [t for t in execution.trace if t.line not in new] + list(redone.trace)
    return execution.model_copy(update={"lines": lines, "trace": trace}), repairs


def replace_or_drop(
    execution: ExecutionResult,
    failing: Sequence[SentenceVerdict],
    sources: Sources,
    attribution: AttributionResult,
    round_: int,
) -> tuple[ExecutionResult, list[Repair]]:
    """The last resort: copy each failing sentence's best source, or drop the sentence.

    A dropped line keeps its place in ``execution.lines`` with an ``error``
    that says why, so it shows in the run's failures; nothing disappears.
    """
    by_line = {v.line: v for v in failing}
    in_answer = {
        normalize_text(line.text)
        for line in execution.lines
        if line.ok and line.line not in by_line
    }
    lines: list[LineResult] = []
    repairs: list[Repair] = []
    for line in execution.lines:
        verdict = by_line.get(line.line)
        if verdict is None:
            lines.append(line)
            continue
        source = None if verdict.repeats is not None else best_source(verdict, sources, attribution)
        if source is not None and _copy(sources, source) in in_answer:
            source = None  # its best source is already in the answer: a copy would repeat it
        if source is None:
            why = f"dropped by the grounding gate: {verdict.reason}"
            lines.append(line.model_copy(update={"text": "", "leaf_ids": [], "error": why}))
            repairs.append(_repair(verdict, round_, "dropped"))
            continue
        copy = _copy(sources, source)
        in_answer.add(copy)
        lines.append(line.model_copy(update={"text": copy, "leaf_ids": [source]}))
        repairs.append(_repair(verdict, round_, "replaced", after=copy, source_id=source))
    return execution.model_copy(update={"lines": lines}), repairs


def _copy(sources: Sources, sid: int) -> str:
    return leaf_text(sources.sentence(sid).text)


def best_source(
    verdict: SentenceVerdict, sources: Sources, attribution: AttributionResult
) -> int | None:
    """The cited source that supports the failed sentence best, if any carries content.

    Measured scores decide when there are any; otherwise the share of the
    sentence's content words the source contains.
    """
    candidates = [
        sid
        for sid in verdict.cited
        if sources.has(sid) and non_content_reason(sources.sentence(sid).text) is None
    ]
    if not candidates:
        return None
    scores = _measured_scores(verdict.text, attribution)
    if any(scores.get(sid) is not None for sid in candidates):
        return max(candidates, key=lambda sid: (scores.get(sid) or float("-inf"), -sid))

    def overlap(sid: int) -> float:
        return lexical_verdict(verdict.text, [sources.sentence(sid).text]).coverage

    return max(candidates, key=lambda sid: (overlap(sid), -sid))


def _measured_scores(text: str, attribution: AttributionResult) -> dict[int, float | None]:
    for item in attribution.sentences:
        if item.sentence.text == text:
            return {c.sentence_id: c.score for c in item.citations}
    return {}


def _repair(
    verdict: SentenceVerdict,
    round_: int,
    action: str,
    *,
    after: str = "",
    source_id: int | None = None,
) -> Repair:
    return Repair(
        line=verdict.line,
        round=round_,
        action=action,
        before=verdict.text,
        after=after,
        source_id=source_id,
        reason=verdict.reason,
    )
