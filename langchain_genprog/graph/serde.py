"""Checkpoint serialization: the graph's state types, registered with LangGraph's serializer.

The state holds pydantic models (``Sources``, ``PlanResult``,
``ExecutionResult`` ...). LangGraph's ``JsonPlusSerializer`` stores each with
its module and class name and, when reading a checkpoint back, imports only
the classes it was told about: in its default (permissive) mode it still
imports the others but logs "Deserializing unregistered type ... This will be
blocked in a future version"; in strict mode (``LANGGRAPH_STRICT_MSGPACK=true``,
the future default) a compiled graph registers its own schema's types.

So the package registers its state types itself, the way LangGraph asks for:
:func:`genprog_serializer` is a serializer whose msgpack allowlist holds them
(pass it to any saver: ``SqliteSaver(conn, serde=genprog_serializer())``), and
:func:`with_genprog_types`, which :func:`~langchain_genprog.create_genprog_graph`
applies to the checkpointer it is given, gives a saver with the default
serializer such a serializer (on a shallow copy; the saver passed in is not
changed). With an allowlist, types outside it are blocked rather than warned
about, in both modes: the graph's state has no other.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
from typing import Any, Literal, get_args, get_origin, get_type_hints

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Checkpointer
from pydantic import BaseModel
from typing_extensions import is_typeddict

from langchain_genprog.graph.state import GenProgState


def state_types(schema: Any = GenProgState) -> frozenset[tuple[str, str]]:
    """``(module, name)`` of every class a checkpoint of ``schema`` may hold.

    Pydantic models, dataclasses and enums reachable from the schema's fields
    (through containers, unions and nested models).
    """
    found: set[tuple[str, str]] = set()
    _collect(schema, found, set())
    return frozenset(found)


def _collect(tp: Any, found: set[tuple[str, str]], seen: set[int]) -> None:
    if id(tp) in seen:
        return
    seen.add(id(tp))
    if get_origin(tp) is Literal:
        return
    if get_origin(tp) is not None:  # list[X], X | None, Annotated[X, ...], dict[K, V] ...
        for arg in get_args(tp):
            _collect(arg, found, seen)
        return
    if is_typeddict(tp):
        for hint in get_type_hints(tp).values():
            _collect(hint, found, seen)
        return
    if not isinstance(tp, type):
        return
    if issubclass(tp, BaseModel):
        found.add((tp.__module__, tp.__name__))
        for field in tp.model_fields.values():
            _collect(field.annotation, found, seen)
    elif dataclasses.is_dataclass(tp):
        found.add((tp.__module__, tp.__name__))
        for hint in get_type_hints(tp).values():
            _collect(hint, found, seen)
    elif issubclass(tp, enum.Enum):
        found.add((tp.__module__, tp.__name__))


def genprog_serializer(*, pickle_fallback: bool = False) -> JsonPlusSerializer:
    """LangGraph's serializer with the graph's state types on its msgpack allowlist.

    Args:
        pickle_fallback: As ``JsonPlusSerializer``'s (pickle what msgpack cannot store).

    Example:
        .. code-block:: python

            from langgraph.checkpoint.sqlite import SqliteSaver
            from langchain_genprog.graph import genprog_serializer

            saver = SqliteSaver(connection, serde=genprog_serializer())
    """
    return JsonPlusSerializer(
        pickle_fallback=pickle_fallback, allowed_msgpack_modules=sorted(state_types())
    )


def with_genprog_types(checkpointer: Checkpointer) -> Checkpointer:
    """``checkpointer`` with the graph's state types registered with its serializer.

    A saver whose serializer is LangGraph's default in permissive mode gets a
    shallow copy with :func:`genprog_serializer` (same connection, same
    threads); one with an allowlist (strict mode, or set by its owner) gets
    the types added to it; any other is returned as it is.
    """
    if not isinstance(checkpointer, BaseCheckpointSaver):
        return checkpointer  # None / True / False: nothing to serialize with
    serde = checkpointer.serde
    if not isinstance(serde, JsonPlusSerializer):
        return checkpointer  # a serializer of the caller's own: theirs to configure
    if getattr(serde, "_allowed_msgpack_modules", None) is True:  # permissive default
        clone = copy.copy(checkpointer)
        clone.serde = genprog_serializer(pickle_fallback=serde.pickle_fallback)
        return clone
    return checkpointer.with_allowlist(state_types())
