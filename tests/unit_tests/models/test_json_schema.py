from __future__ import annotations

import json
from typing import Any

import pytest

from langchain_genprog.models._json_schema import bound_recursion
from langchain_genprog.program.schema import ProgramSpec


def depth_of_operations(node: dict[str, Any]) -> int:
    """How many OperationSpec levels a bounded ProgramSpec schema allows."""
    item = node["properties"]["sentences"]["items"]
    depth = 0
    while True:
        objects = [o for o in item.get("anyOf", []) if o.get("type") == "object"]
        if not objects:
            return depth
        depth += 1
        inputs = objects[0]["properties"]["inputs"]
        item = inputs["items"]


@pytest.mark.parametrize("max_depth", [1, 2, 3])
def test_program_spec_is_unrolled_to_the_bound(max_depth: int) -> None:
    bounded = bound_recursion(ProgramSpec.model_json_schema(), max_depth)
    assert "$ref" not in json.dumps(bounded)
    assert "$defs" not in bounded
    assert depth_of_operations(bounded) == max_depth


def test_non_recursive_refs_are_inlined_unchanged() -> None:
    schema = {
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/Point", "description": "first"}},
        "required": ["a"],
    }
    bounded = bound_recursion(schema, 1)
    assert bounded["properties"]["a"] == {
        "type": "object",
        "properties": {"x": {"type": "number"}},
        "description": "first",
    }


def test_required_recursion_without_exit_cannot_be_bounded() -> None:
    schema = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"next": {"$ref": "#/$defs/Node"}},
                "required": ["next"],
            }
        },
        "$ref": "#/$defs/Node",
    }
    with pytest.raises(ValueError, match="cannot be satisfied"):
        bound_recursion(schema, 2)


def test_optional_recursion_and_item_arrays_are_cut() -> None:
    schema = {
        "$defs": {
            "Tree": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "parent": {"$ref": "#/$defs/Tree"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
                },
                "required": ["label"],
            }
        },
        "$ref": "#/$defs/Tree",
    }
    bounded = bound_recursion(schema, 1)
    assert set(bounded["properties"]) == {"label", "children"}
    assert bounded["properties"]["children"] == {"type": "array", "maxItems": 0}
    with pytest.raises(ValueError):
        bound_recursion(schema, 0)


def test_max_items_caps_every_array() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "array", "items": {"type": "string"}},
            "b": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        },
    }
    bounded = bound_recursion(schema, 1, max_items=4)
    assert bounded["properties"]["a"]["maxItems"] == 4
    assert bounded["properties"]["b"]["maxItems"] == 2
    assert "maxItems" not in bound_recursion(schema, 1)["properties"]["a"]
