"""The grounding benchmark's bookkeeping (no model): resume, redo, operation stats."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from benchmarks.grounding_benchmark import _done, _operation_stats


def test_redo_drops_only_the_named_methods_rows(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    rows = [
        {"example": e, "method": m, "commit": "aaa"}
        for e in ("t0", "t1")
        for m in ("free", "default", "lead")
    ]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _done(results, []) == {(r["example"], r["method"]) for r in rows}
    left = _done(results, ["default"])
    assert left == {(e, m) for e in ("t0", "t1") for m in ("free", "lead")}
    kept = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["method"] for r in kept] == ["free", "lead", "free", "lead"]
    assert _done(tmp_path / "missing.jsonl", ["default"]) == set()


def test_operation_stats_count_ratios_copies_and_fallbacks() -> None:
    def node(operation: str, inputs: list[str], output: str, note: str | None = None) -> object:
        return SimpleNamespace(
            operation=operation, inputs=inputs, output=output, note=note, error=None
        )

    trace = [
        node("compression", ["one two three four"], "one two"),
        node("fusion", ["a b c d", "e f g h"], "a b e f g h", note="no fusion fits 75%"),
        node("paraphrase", ["x y z"], "x y z", note="kept verbatim"),
        node("extract", ["q"], "q"),
    ]
    stats = _operation_stats(trace)
    assert stats["compression"] == [0.5] and stats["fusion"] == [0.75]
    assert stats["paraphrase_copy"] == [1.0]
    assert stats["fallback"] == [0.0, 1.0, 1.0]
