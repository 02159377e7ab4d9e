"""The benchmarks' JSON-lines results: one row per (example, method), appended as runs go."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Every row of a results file, in order (blank lines skipped)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def drop_methods(path: Path, methods: Collection[str]) -> int:
    """Remove the rows of ``methods`` (to measure them again after a change); how many went.

    The file is rewritten only when a row goes, so a resumed run that redoes
    nothing leaves it untouched.
    """
    if not path.exists() or not methods:
        return 0
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line)["method"] not in methods]
    if len(kept) < len(lines):
        path.write_text("".join(line + "\n" for line in kept))
    return len(lines) - len(kept)
