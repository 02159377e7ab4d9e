"""The public surface, pinned (as LangChain partner packages pin theirs)."""

from __future__ import annotations

import importlib

import langchain_genprog
from langchain_genprog import __all__

EXPECTED_ALL = [
    "AttributionResult",
    "GenProgChain",
    "GenProgError",
    "GenProgInput",
    "GenProgState",
    "GenProgToolkit",
    "InvalidInputError",
    "InvalidSourcesError",
    "MExGenAttributor",
    "ModelNotAvailableError",
    "PlanningError",
    "ProgramLeavesAttributor",
    "Sources",
    "__version__",
    "build_genprog_graph",
    "citations_of",
    "create_genprog_chain",
    "create_genprog_graph",
    "render_with_markers",
]

# Names that left the top level, and the subpackage each is imported from now.
MOVED = {
    "langchain_genprog.attribute": [
        "AnswerSentence",
        "Attributor",
        "CitedSource",
        "SentenceAttribution",
    ],
    "langchain_genprog.citations": ["build_message"],
    "langchain_genprog.errors": [
        "BudgetExhaustedError",
        "InvalidProgramError",
        "OperationError",
        "ProgramIssue",
    ],
    "langchain_genprog.execute": ["ExecutionResult", "NodeTrace", "ProgramExecutor"],
    "langchain_genprog.operations": ["create_operation_tools"],
    "langchain_genprog.plan": ["PlanResult", "ProgramPlanner"],
    "langchain_genprog.program": ["Program", "parse_program", "validate_program"],
    "langchain_genprog.refine": [
        "EmbeddingNodeChecker",
        "JudgeNodeChecker",
        "NodeCheck",
        "NodeChecker",
        "ProgramRefiner",
        "RefinementResult",
        "ScorerNodeChecker",
    ],
    "langchain_genprog.segment": ["SourceSentence"],
}


def test_all_imports() -> None:
    assert sorted(EXPECTED_ALL) == sorted(__all__)
    for name in __all__:
        assert getattr(langchain_genprog, name) is not None


def test_moved_names_are_exported_by_their_subpackage() -> None:
    for module_name, names in MOVED.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert hasattr(module, name), f"{module_name}.{name}"
            if hasattr(module, "__all__"):
                assert name in module.__all__, f"{name} not in {module_name}.__all__"
            assert name not in __all__


def test_version_comes_from_the_package_metadata() -> None:
    from importlib import metadata

    assert langchain_genprog.__version__ == metadata.version("langchain-genprog")
