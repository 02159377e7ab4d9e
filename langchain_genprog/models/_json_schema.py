"""Bounding the recursion of a JSON schema before compiling it to a grammar.

A recursive schema such as ``ProgramSpec`` (an operation's inputs may be
operations) compiles to a recursive grammar, and a 135M-parameter model
under it happily nests ``{"operation": "fusion", "inputs": [{"operation":
"fusion", ...`` until it runs out of tokens. Inlining every ``$ref`` up to a
fixed depth, and dropping the alternatives that would go deeper, gives a
finite grammar whose replies still validate against the original schema.
"""

from __future__ import annotations

from typing import Any

_DROP: Any = object()
"""Marks a subschema that cannot be satisfied within the depth bound."""

_LIST_KEYS = frozenset({"allOf", "prefixItems"})
_CHOICE_KEYS = frozenset({"anyOf", "oneOf"})
_SCHEMA_KEYS = frozenset({"items", "additionalProperties", "not", "contains", "if", "then", "else"})
_MAP_KEYS = frozenset({"properties", "patternProperties"})
_DEF_KEYS = ("$defs", "definitions")


def bound_recursion(
    schema: dict[str, Any], max_depth: int, *, max_items: int | None = None
) -> dict[str, Any]:
    """Inline local ``$ref``s, allowing each definition at most ``max_depth`` times per path.

    Alternatives (``anyOf``/``oneOf``) and optional properties that would
    exceed the bound are removed; an array whose items are removed must be
    empty. The result has no ``$defs`` and accepts a subset of what
    ``schema`` accepts.

    Args:
        schema: A JSON schema whose ``$ref``s point into its ``$defs`` (or
            ``definitions``).
        max_depth: How often one definition may be nested in itself.
        max_items: If given, arrays without a smaller ``maxItems`` get this
            one (small models otherwise repeat list items until cut off).

    Raises:
        ValueError: If ``max_depth < 1`` or the root itself cannot be satisfied.
    """
    if max_depth < 1:
        raise ValueError("max_depth must be >= 1")
    if max_items is not None and max_items < 0:
        raise ValueError("max_items must be >= 0")
    definitions: dict[str, Any] = {}
    for key in _DEF_KEYS:
        definitions.update(schema.get(key) or {})
    bounded = _Bounder(definitions, max_depth, max_items).walk(schema, ())
    if bounded is _DROP:
        raise ValueError("the schema cannot be satisfied within the recursion bound")
    return dict(bounded)


class _Bounder:
    """One walk of :func:`bound_recursion`: the definitions and the bounds it inlines with.

    A subschema walked under ``stack`` (the definitions being inlined around
    it, outermost first) comes back bounded, or as ``_DROP`` when it cannot be
    satisfied without nesting a definition more than ``max_depth`` times.
    """

    def __init__(self, definitions: dict[str, Any], max_depth: int, max_items: int | None) -> None:
        self.definitions = definitions
        self.max_depth = max_depth
        self.max_items = max_items

    def target(self, ref: str) -> str | None:
        """The definition a local ``$ref`` names (``None`` for any other reference)."""
        for key in _DEF_KEYS:
            prefix = f"#/{key}/"
            if ref.startswith(prefix) and ref[len(prefix) :] in self.definitions:
                return ref[len(prefix) :]
        return None

    def walk(self, node: Any, stack: tuple[str, ...]) -> Any:
        """``node`` with its references inlined and its too-deep parts removed."""
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        name = self.target(ref) if isinstance(ref, str) else None
        if name is not None:
            if stack.count(name) >= self.max_depth:
                return _DROP
            inner = self.walk(self.definitions[name], (*stack, name))
            if inner is _DROP:
                return _DROP
            siblings = self.walk({k: v for k, v in node.items() if k != "$ref"}, stack)
            return {**inner, **siblings}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key not in _DEF_KEYS and self._keyword(node, key, value, stack, out) is _DROP:
                return _DROP
        if self.max_items is not None and out.get("type") == "array":
            out["maxItems"] = min(int(out.get("maxItems", self.max_items)), self.max_items)
        return out

    def _keyword(
        self,
        node: dict[str, Any],
        key: str,
        value: Any,
        stack: tuple[str, ...],
        out: dict[str, Any],
    ) -> Any:
        """Write the bounded ``key: value`` of ``node`` into ``out``; ``_DROP`` drops ``node``.

        Alternatives are dropped one by one (the node only when none is
        left), as are optional properties; a dropped ``allOf``/``prefixItems``
        part or required property drops the node; dropped ``items`` leave an
        array that must be empty.
        """
        if key in _CHOICE_KEYS and isinstance(value, list):
            kept = [w for w in (self.walk(v, stack) for v in value) if w is not _DROP]
            if not kept:
                return _DROP
            out[key] = kept
        elif key in _LIST_KEYS and isinstance(value, list):
            parts = [self.walk(v, stack) for v in value]
            if any(p is _DROP for p in parts):
                return _DROP
            out[key] = parts
        elif key in _MAP_KEYS and isinstance(value, dict):
            required = set(node.get("required") or [])
            kept_map: dict[str, Any] = {}
            for prop, sub in value.items():
                walked = self.walk(sub, stack)
                if walked is _DROP:
                    if prop in required:
                        return _DROP
                    continue
                kept_map[prop] = walked
            out[key] = kept_map
        elif key in _SCHEMA_KEYS and isinstance(value, dict):
            walked = self.walk(value, stack)
            if walked is _DROP:
                if key != "items" or (node.get("minItems") or 0) > 0:
                    return _DROP
                out["maxItems"] = 0
            else:
                out[key] = walked
        else:
            out[key] = value
        return None
