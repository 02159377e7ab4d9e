from __future__ import annotations

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from langchain_genprog.graph import genprog_serializer, with_genprog_types
from langchain_genprog.graph.serde import state_types


def test_state_types_cover_every_model_in_the_state() -> None:
    types = state_types()
    for name in ("Sources", "PlanResult", "ExecutionResult", "NodeTrace", "GroundingReport"):
        assert any(found == name for _, found in types), name
    assert ("langchain_genprog.errors", "ProgramIssue") in types  # a dataclass


def test_a_default_saver_gets_a_copy_with_the_types_registered() -> None:
    saver = InMemorySaver(serde=JsonPlusSerializer(allowed_msgpack_modules=True))
    registered = with_genprog_types(saver)
    assert registered is not saver and saver.serde is not registered.serde
    assert getattr(saver.serde, "_allowed_msgpack_modules", None) is True  # untouched
    allowed = getattr(registered.serde, "_allowed_msgpack_modules", set())
    assert ("langchain_genprog.plan.planner", "PlanResult") in allowed
    assert registered.storage is saver.storage  # same threads


def test_a_saver_with_an_allowlist_gets_the_types_added() -> None:
    own = ("my_app.models", "Thing")
    saver = InMemorySaver(serde=JsonPlusSerializer(allowed_msgpack_modules=[own]))
    allowed = getattr(with_genprog_types(saver).serde, "_allowed_msgpack_modules", set())
    assert own in allowed and ("langchain_genprog.segment.sources", "Sources") in allowed


def test_no_saver_and_foreign_serializers_are_left_alone() -> None:
    assert with_genprog_types(None) is None

    class Plain:
        def dumps_typed(self, obj: object) -> tuple[str, bytes]:
            return "bytes", b""

        def loads_typed(self, data: tuple[str, bytes]) -> object:
            return None

    saver = InMemorySaver(serde=Plain())  # type: ignore[arg-type]
    assert with_genprog_types(saver) is saver


def test_the_serializer_round_trips_the_state_types() -> None:
    from langchain_genprog.segment.sources import Sources

    serde = genprog_serializer()
    sources = Sources.from_documents(["One sentence here. Another one there."])
    assert serde.loads_typed(serde.dumps_typed(sources)) == sources
