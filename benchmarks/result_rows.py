"""The benchmarks' JSON-lines results: one row per (example, method), appended as runs go."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Every row of a results file, in order (blank lines skipped)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def row_keys(path: Path, id_field: str = "unique_id") -> set[tuple[Any, str]]:
    """The ``(example id, method)`` of every row of a results file (none if it is missing).

    What a resumed run skips; ``id_field`` names the example id (``unique_id``
    in the attribution results, ``example`` in the grounding ones).
    """
    if not path.exists():
        return set()
    return {(row[id_field], row["method"]) for row in read_rows(path)}


def drop_methods(path: Path, methods: Collection[str]) -> int:
    """Remove the rows of ``methods`` (to measure them again after a change); how many went.

    The file is rewritten only when a row goes, so a resumed run that redoes
    nothing leaves it untouched.
    """
    if not methods:
        return 0
    return _drop_rows(path, lambda row: row["method"] in methods)


def merge_rows(source: Path, target: Path, replace: Collection[str] = ()) -> int:
    """Append to ``target`` the rows of ``source`` it lacks; how many were added.

    Two processes must never append to one file, so a second process writes
    to its own directory and its rows are merged afterwards. A row is
    identified by its ``(unique_id, method)`` (the ``example`` row included),
    so an example's timing row is kept once and a method measured in both
    files keeps the row ``target`` already had — unless the method is in
    ``replace``: then ``source``'s row wins (a peer measured again next to a
    changed method, so that their wall times pair by process).
    """
    if not source.exists():
        return 0
    incoming = read_rows(source)
    redone = {_key(r) for r in incoming if r["method"] in replace}
    if redone:
        _drop_rows(target, lambda row: _key(row) in redone)
    have = row_keys(target)
    added = []
    for row in incoming:
        key = _key(row)
        if key not in have:
            have.add(key)
            added.append(json.dumps(row) + "\n")
    if added:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a") as fh:
            fh.writelines(added)
    return len(added)


def _drop_rows(path: Path, gone: Callable[[dict[str, Any]], bool]) -> int:
    """Remove the rows ``gone`` selects; how many went (rewritten only if one did)."""
    if not path.exists():
        return 0
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if not gone(json.loads(line))]
    if len(kept) < len(lines):
        path.write_text("".join(line + "\n" for line in kept))
    return len(lines) - len(kept)


def _key(row: dict[str, Any]) -> tuple[Any, str]:
    return (row["unique_id"], row["method"])
