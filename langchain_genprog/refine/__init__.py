"""Localized (module-level) refinement: check each executed node, re-run only what fails.

The step between execution and attribution: ``segment → plan → execute →
refine → attribute``. A :class:`NodeChecker` judges each model-written node
against its own inputs; :class:`ProgramRefiner` re-runs the failing nodes with
the checker's reason as feedback, then the ancestors whose inputs changed, for
a bounded number of rounds, and reports every check, re-run and extra call in
a :class:`RefinementResult`.
"""

from langchain_genprog.program.model import NodeRef  # the refiner's reports use the program's key
from langchain_genprog.refine.checks import (
    BaseNodeChecker,
    CheckUsage,
    EmbeddingNodeChecker,
    JudgeNodeChecker,
    NodeCheck,
    NodeChecker,
    ScorerNodeChecker,
    SupportJudge,
    looping,
    precheck,
)
from langchain_genprog.refine.refiner import (
    DEFAULT_FEEDBACK,
    FeedbackBuilder,
    NodeRefinement,
    NodeVersion,
    ProgramRefiner,
    RefinementResult,
    RefinementRound,
)

__all__ = [
    "DEFAULT_FEEDBACK",
    "BaseNodeChecker",
    "CheckUsage",
    "EmbeddingNodeChecker",
    "FeedbackBuilder",
    "JudgeNodeChecker",
    "NodeCheck",
    "NodeChecker",
    "NodeRef",
    "NodeRefinement",
    "NodeVersion",
    "ProgramRefiner",
    "RefinementResult",
    "RefinementRound",
    "ScorerNodeChecker",
    "SupportJudge",
    "looping",
    "precheck",
]
