"""Grounded operations and the grounding gate on the embedded SmolLM2 model."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_genprog import create_genprog_graph
from langchain_genprog.evaluation.datasets import load_aftg
from langchain_genprog.ground import lexical_verdict
from langchain_genprog.operations import run_operation
from langchain_genprog.operations.rewrites import ADDED_WORDS, compressions
from langchain_genprog.segment.words import new_words

pytestmark = pytest.mark.slow

SENTENCE = (
    "SAN FRANCISCO (MarketWatch) -- Nasdaq halted trading for three hours on Thursday "
    "because of a problem with a data feed, the exchange said."
)
OTHER = "The estimated cost of the responses to these false alarms is $500,000."


def test_grammar_decoding_picks_one_of_the_rewrites(embedded_llm) -> None:  # type: ignore[no-untyped-def]
    options = [r.text for r in compressions(SENTENCE)]
    assert len(options) > 1  # a real choice, made by the model under the grammar
    out = run_operation(embedded_llm, "compression", [SENTENCE], mode="grounded")
    assert out.text in options
    assert out.usage and out.usage["output_tokens"] > 0  # the model chose; no fallback
    fused = run_operation(embedded_llm, "fusion", [SENTENCE, OTHER], mode="grounded")
    assert [w for w in new_words(fused.text, [SENTENCE, OTHER]) if w not in ADDED_WORDS] == []


def test_default_graph_answers_are_grounded_and_measured(embedded_llm, mds_path: Path) -> None:  # type: ignore[no-untyped-def]
    example = load_aftg(mds_path, limit=3)[2]
    graph = create_genprog_graph(embedded_llm, max_sentences=3)
    state = graph.invoke({"question": example.question, "documents": example.to_documents()})
    report = state["grounding"]
    assert state["answer_sentences"] and not report.failing()
    assert report.measured >= 1  # the embedded model's answers are measured, not only checked
    sources = state["sources"]
    for sentence in state["answer_sentences"]:
        cited = [sources.sentence(s).text for s in sentence.leaf_ids]
        verdict = lexical_verdict(sentence.text, cited)
        assert verdict.grounded and not verdict.missing_numbers, sentence.text
    metadata = state["messages"][-1].response_metadata["grounding"]
    assert metadata["passed"] == len(state["answer_sentences"])
