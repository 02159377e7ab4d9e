"""langchain-genprog: verifiable, sentence-level cited answers for LangChain and LangGraph.

The pipeline, one subpackage per step:

* :mod:`~langchain_genprog.segment` — documents → numbered sentences S1..SN;
* :mod:`~langchain_genprog.plan` — a chat model writes a *program* of text
  operations (:mod:`~langchain_genprog.program`);
* :mod:`~langchain_genprog.execute` — the program runs, one model call per
  operation (:mod:`~langchain_genprog.operations`);
* :mod:`~langchain_genprog.refine` — optional localized refinement: each node
  is checked against its own inputs and only the failing ones are re-run;
* :mod:`~langchain_genprog.attribute` — citations by construction, measured
  with MExGen when asked;
* :mod:`~langchain_genprog.graph` — the LangGraph state machine wiring them.

The post hoc API is ``langchain_genprog.attribute.attribute`` (not re-exported
here: the name would shadow the ``attribute`` subpackage). Embedded default
models (:mod:`~langchain_genprog.models`) are imported lazily:
``import langchain_genprog`` never loads torch or llama.cpp.
"""

from __future__ import annotations

from langchain_genprog.attribute import (
    AnswerSentence,
    AttributionResult,
    Attributor,
    CitedSource,
    MExGenAttributor,
    ProgramLeavesAttributor,
    SentenceAttribution,
)
from langchain_genprog.chains import GenProgChain, create_genprog_chain
from langchain_genprog.citations import build_message, citations_of, render_with_markers
from langchain_genprog.errors import (
    BudgetExhaustedError,
    GenProgError,
    InvalidInputError,
    InvalidProgramError,
    InvalidSourcesError,
    ModelNotAvailableError,
    OperationError,
    PlanningError,
    ProgramIssue,
)
from langchain_genprog.execute import ExecutionResult, NodeTrace, ProgramExecutor
from langchain_genprog.graph import (
    GenProgInput,
    GenProgState,
    build_genprog_graph,
    create_genprog_graph,
)
from langchain_genprog.operations import create_operation_tools
from langchain_genprog.plan import PlanResult, ProgramPlanner
from langchain_genprog.program import Program, parse_program, validate_program
from langchain_genprog.refine import (
    EmbeddingNodeChecker,
    JudgeNodeChecker,
    NodeCheck,
    NodeChecker,
    ProgramRefiner,
    RefinementResult,
    ScorerNodeChecker,
)
from langchain_genprog.segment import Sources, SourceSentence
from langchain_genprog.toolkit import GenProgToolkit

__version__ = "0.1.0"

__all__ = [
    "AnswerSentence",
    "AttributionResult",
    "Attributor",
    "BudgetExhaustedError",
    "CitedSource",
    "EmbeddingNodeChecker",
    "ExecutionResult",
    "GenProgChain",
    "GenProgError",
    "GenProgInput",
    "GenProgState",
    "GenProgToolkit",
    "InvalidInputError",
    "InvalidProgramError",
    "InvalidSourcesError",
    "JudgeNodeChecker",
    "MExGenAttributor",
    "ModelNotAvailableError",
    "NodeCheck",
    "NodeChecker",
    "NodeTrace",
    "OperationError",
    "PlanResult",
    "PlanningError",
    "Program",
    "ProgramExecutor",
    "ProgramIssue",
    "ProgramLeavesAttributor",
    "ProgramPlanner",
    "ProgramRefiner",
    "RefinementResult",
    "ScorerNodeChecker",
    "SentenceAttribution",
    "SourceSentence",
    "Sources",
    "build_genprog_graph",
    "build_message",
    "citations_of",
    "create_genprog_chain",
    "create_genprog_graph",
    "create_operation_tools",
    "parse_program",
    "render_with_markers",
    "validate_program",
]
