"""The LangGraph state machine wiring the steps: segment → plan → execute → (refine →) attribute."""

from langchain_genprog.graph.answer_stream import ANSWER_TAG
from langchain_genprog.graph.builder import build_genprog_graph, create_genprog_graph
from langchain_genprog.graph.configuration import GenProgContext
from langchain_genprog.graph.serde import genprog_serializer, with_genprog_types
from langchain_genprog.graph.state import GenProgInput, GenProgState

__all__ = [
    "ANSWER_TAG",
    "GenProgContext",
    "GenProgInput",
    "GenProgState",
    "build_genprog_graph",
    "create_genprog_graph",
    "genprog_serializer",
    "with_genprog_types",
]
