"""Program execution: run each node's operation, innermost first, and trace it."""

from langchain_genprog.execute.executor import (
    NodeCallback,
    ProgramExecutor,
    aexecute_program,
    execute_program,
)
from langchain_genprog.execute.trace import ExecutionResult, LineResult, NodeTrace

__all__ = [
    "ExecutionResult",
    "LineResult",
    "NodeCallback",
    "NodeTrace",
    "ProgramExecutor",
    "aexecute_program",
    "execute_program",
]
