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

The top level names only what an application touches: the graph and chain
builders, the toolkit, the two main attributors, reading citations back, the
errors worth catching, :class:`Sources` and the graph's input/state types. Each
step's own classes (planner, executor, refiner, node checkers, program model)
are imported from their subpackage, e.g.
``from langchain_genprog.refine import EmbeddingNodeChecker``; ``__all__`` is
pinned by ``tests/unit_tests/test_imports.py``.

The post hoc API is ``langchain_genprog.attribute.attribute`` (not re-exported
here: the name would shadow the ``attribute`` subpackage). Embedded default
models (:mod:`~langchain_genprog.models`) are imported lazily:
``import langchain_genprog`` never loads torch or llama.cpp.
"""

from __future__ import annotations

from importlib import metadata

from langchain_genprog.attribute import (
    AttributionResult,
    MExGenAttributor,
    ProgramLeavesAttributor,
)
from langchain_genprog.chains import GenProgChain, create_genprog_chain
from langchain_genprog.citations import citations_of, render_with_markers
from langchain_genprog.errors import (
    GenProgError,
    InvalidInputError,
    InvalidSourcesError,
    ModelNotAvailableError,
    PlanningError,
)
from langchain_genprog.graph import (
    GenProgInput,
    GenProgState,
    build_genprog_graph,
    create_genprog_graph,
)
from langchain_genprog.segment import Sources
from langchain_genprog.toolkit import GenProgToolkit

try:
    __version__ = metadata.version("langchain-genprog")
except metadata.PackageNotFoundError:  # pragma: no cover - a source tree on sys.path
    # Running from a checkout that was never installed: there is no metadata to read.
    __version__ = "0+unknown"

__all__ = [
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
