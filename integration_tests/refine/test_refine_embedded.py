"""Localized refinement with the embedded SmolLM2-135M model and MiniLM embeddings.

Whether the tiny model's fusion passes its check varies with the model build,
so the test does not assert *that* refinement repairs anything: it asserts
that whatever happened is reported consistently — every round re-runs exactly
what the previous one left failing (plus ancestors), every re-run is in a
node's history, the refined execution holds each node's current version, and
citations (program leaves) do not move. One round and no retries bound it to
at most five model calls (about a minute on two busy cores, seconds when idle).
"""

from __future__ import annotations

import pytest

from langchain_genprog.execute import ProgramExecutor
from langchain_genprog.program.parser import parse_program_strict
from langchain_genprog.refine import EmbeddingNodeChecker, NodeRef, ProgramRefiner
from langchain_genprog.segment import Sources

pytestmark = pytest.mark.slow

DOCS = [
    "Voters in 11 states will pick their governors tonight. "
    "Democrats are defending eight of the 11 governorships up for grabs.",
    "Republicans appear on track to increase their number of governors by at least one.",
]


def test_refinement_report_is_consistent(embedded_llm) -> None:  # type: ignore[no-untyped-def]
    sources = Sources.from_documents(DOCS)
    program = parse_program_strict("- fusion(S1, S2)\n- paraphrase(S3)")
    executor = ProgramExecutor(embedded_llm, max_concurrency=1, max_retries=0)
    execution = executor.execute(program, sources)
    refiner = ProgramRefiner(
        embedded_llm, EmbeddingNodeChecker(), max_rounds=1, max_concurrency=1, max_retries=0
    )
    result = refiner.refine(program, sources, execution)

    # Round 0 checked every node that produced a sentence (or failed by itself).
    initial = result.rounds[0]
    assert {(c.line, c.path) for c in initial.checked} == {(1, "0"), (2, "0")}
    assert {(r.line, r.path) for r in initial.failed} == {
        (c.line, c.path) for c in initial.checked if not c.supported
    }
    assert len(result.rounds) == (2 if initial.failed else 1)
    for previous, current in zip(result.rounds, result.rounds[1:], strict=False):
        assert current.failed == previous.still_failing
        assert current.llm_calls >= len(current.failed)
    # Every re-run is recorded in its node's history, and the totals add up.
    reruns = [v for node in result.nodes for v in node.versions if v.round > 0]
    assert len(reruns) == sum(len(r.failed) + len(r.propagated) for r in result.rounds[1:])
    assert result.llm_calls == sum(v.trace.attempts for v in reruns)
    # The refined execution holds each node's current version; lines follow their roots.
    by_key = {(t.line, t.path): t for t in result.execution.trace}
    for node in result.nodes:
        assert by_key[(node.line, node.path)] == node.current.trace
    for line in result.execution.lines:
        root = by_key[(line.line, "0")]
        assert line.text == ("" if root.error else root.output)
    # Still failing = nodes whose current verdict fails after the last round.
    last = result.rounds[-1]
    assert [NodeRef(line=c.line, path=c.path) for c in result.still_failing] == last.still_failing
    assert all(not c.supported for c in result.still_failing)
    # Citations by construction do not move.
    assert [line.leaf_ids for line in result.execution.lines] == [[1, 2], [3]]
    assert result.usage.checks >= len(initial.checked)
