"""The graph's progress events, as typed ``stream_mode="custom"`` payloads.

A long run (a small local model can take minutes) must show that it moves, so
every node reports its steps through LangGraph's stream writer: one event per
planner attempt, per executed operation and, with a refiner, per node check,
re-run and round. Each event is a plain dict — what LangGraph clients and the
Server API carry — typed here as a ``TypedDict`` whose ``step`` (and, for the
refiner, ``kind``) says which one it is. The constructors below are the only
place the payloads are written, so their keys cannot drift between nodes.
"""

from __future__ import annotations

from typing import Literal, cast

from typing_extensions import NotRequired, TypedDict

from langchain_genprog.execute.trace import NodeTrace
from langchain_genprog.ground.gate import GroundingReport, Repair
from langchain_genprog.plan.planner import PlanAttempt
from langchain_genprog.refine.checks import NodeCheck
from langchain_genprog.refine.refiner import RefinementRound
from langchain_genprog.segment.selection import Selection


class SegmentEvent(TypedDict):
    """The sources were split and the planner's sentences selected."""

    step: Literal["segment"]
    message: str
    """What was offered to the planner (and how much was left out)."""


class PlanEvent(TypedDict):
    """One planner attempt finished."""

    step: Literal["plan"]
    valid_lines: int
    issues: list[str]
    seconds: float


class _TraceFields(TypedDict):
    line: int
    path: str
    operation: str
    output: str
    error: str | None
    seconds: float


class NodeEvent(_TraceFields):
    """One program node ran: in ``execute``, or re-run (``kind="rerun"``) in ``refine``."""

    step: Literal["execute", "refine"]
    kind: NotRequired[Literal["rerun"]]


class CheckEvent(TypedDict):
    """The refiner judged one node against its own inputs."""

    step: Literal["refine"]
    kind: Literal["check"]
    line: int
    path: str
    operation: str
    supported: bool
    score: float
    reason: str


class RoundEvent(TypedDict):
    """A refinement round ended (round 0 is the check of the first execution)."""

    step: Literal["refine"]
    kind: Literal["round"]
    round: int
    failed: list[str]
    propagated: list[str]
    still_failing: list[str]
    seconds: float


class AttributeEvent(TypedDict):
    """Attribution started (it may be the longest step, with MExGen)."""

    step: Literal["attribute"]
    method: str


class GroundEvent(TypedDict):
    """The grounding gate judged the answer's sentences."""

    step: Literal["ground"]
    round: int
    passed: int
    failing: list[str]
    """``line N: reason`` for each sentence that failed."""
    seconds: float


class RepairEvent(TypedDict):
    """The gate repaired one failing sentence (re-executed, replaced or dropped)."""

    step: Literal["repair"]
    line: int
    action: str
    before: str
    after: str
    reason: str


GenProgEvent = (
    SegmentEvent
    | PlanEvent
    | NodeEvent
    | CheckEvent
    | RoundEvent
    | AttributeEvent
    | GroundEvent
    | RepairEvent
)
"""Any event the graph writes to the custom stream."""


def segment_event(selection: Selection) -> SegmentEvent:
    """The event of the ``segment`` node."""
    return {"step": "segment", "message": selection.describe()}


def plan_event(attempt: PlanAttempt) -> PlanEvent:
    """The event of one planner attempt."""
    return {
        "step": "plan",
        "valid_lines": attempt.valid_lines,
        "issues": [str(i) for i in attempt.issues],
        "seconds": round(attempt.seconds, 3),
    }


def execute_event(trace: NodeTrace) -> NodeEvent:
    """The event of one node executed by the ``execute`` node."""
    # ``cast``: mypy wants the optional ``kind`` in the unpacked fields.
    return cast(NodeEvent, {"step": "execute", **_trace_fields(trace)})


def rerun_event(trace: NodeTrace) -> NodeEvent:
    """The event of one node re-run by the ``refine`` node."""
    return {"step": "refine", "kind": "rerun", **_trace_fields(trace)}


def check_event(check: NodeCheck) -> CheckEvent:
    """The event of one node check by the ``refine`` node."""
    return {
        "step": "refine",
        "kind": "check",
        "line": check.line,
        "path": check.path,
        "operation": check.operation,
        "supported": check.supported,
        "score": round(check.score, 4),
        "reason": check.reason,
    }


def round_event(record: RefinementRound) -> RoundEvent:
    """The event closing one refinement round."""
    return {
        "step": "refine",
        "kind": "round",
        "round": record.round,
        "failed": [str(ref) for ref in record.failed],
        "propagated": [str(ref) for ref in record.propagated],
        "still_failing": [str(ref) for ref in record.still_failing],
        "seconds": round(record.seconds, 3),
    }


def attribute_event(method: str) -> AttributeEvent:
    """The event of the ``attribute`` node."""
    return {"step": "attribute", "method": method}


def ground_event(report: GroundingReport) -> GroundEvent:
    """The event of the ``ground`` node."""
    return {
        "step": "ground",
        "round": report.round,
        "passed": sum(v.passed for v in report.verdicts.values()),
        "failing": [f"line {v.line}: {v.reason}" for v in report.failing()],
        "seconds": round(report.seconds, 3),
    }


def repair_event(repair: Repair) -> RepairEvent:
    """The event of one repair by the ``repair`` node."""
    return {
        "step": "repair",
        "line": repair.line,
        "action": repair.action,
        "before": repair.before,
        "after": repair.after,
        "reason": repair.reason,
    }


def _trace_fields(trace: NodeTrace) -> _TraceFields:
    return {
        "line": trace.line,
        "path": trace.path,
        "operation": trace.operation,
        "output": trace.output,
        "error": trace.error,
        "seconds": round(trace.seconds, 3),
    }
