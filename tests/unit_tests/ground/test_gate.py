"""The grounding gate: fabricated sentences are repaired or replaced, and always reported."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    CitedSource,
    SentenceAttribution,
)
from langchain_genprog.citations import citations_of
from langchain_genprog.graph import create_genprog_graph
from langchain_genprog.ground import GroundingGate, lexical_verdict
from langchain_genprog.ground.gate import _copied_source
from langchain_genprog.segment.sources import Sources
from tests.unit_tests.fakes import ScriptedChatModel

DOCS = [
    "The council approved the new park on Monday. Construction will cost two million dollars.",
    "Residents had campaigned for more green space for a decade. The mayor praised the vote.",
]
INPUT = {"question": "What did the council decide?", "documents": DOCS}
FABRICATED = "The COVID-19 pandemic has brought many challenges to mental health in 2021."


def fabricating_model(program: str = "- paraphrase(S1)\n- paraphrase(S3)") -> ScriptedChatModel:
    """Plans ``program``; every free operation invents; a numbered choice picks option 1."""

    def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        if "You write programs" in messages[0].text:
            return program
        if "Options:" in messages[-1].text:
            return "1"
        return FABRICATED

    return ScriptedChatModel(respond=respond)


def test_lexical_verdict_catches_invented_words_and_numbers() -> None:
    verdict = lexical_verdict(FABRICATED, [DOCS[0]])
    assert not verdict.grounded and "2021" in verdict.missing_numbers
    copied = lexical_verdict("The council approved the park.", [DOCS[0]])
    assert copied.grounded and copied.coverage == 1.0
    number = lexical_verdict("The park will cost three million dollars.", [DOCS[0]])
    assert number.coverage < 1.0


def test_fabricated_sentences_are_regenerated_grounded_and_reported() -> None:
    graph = create_genprog_graph(fabricating_model(), plan_mode="text")
    state = graph.invoke(INPUT)
    assert "COVID" not in state["answer"]
    report = state["grounding"]
    assert [r.action for r in report.repairs] == ["regenerated", "regenerated"]
    assert all(r.before == FABRICATED for r in report.repairs)
    assert not report.failing()
    for sentence in state["answer_sentences"]:
        cited = [state["sources"].sentence(s).text for s in sentence.leaf_ids]
        assert lexical_verdict(sentence.text, cited).grounded
    metadata = state["messages"][-1].response_metadata["grounding"]
    assert metadata["passed"] == 2 and len(metadata["repairs"]) == 2


def test_last_resort_is_a_verbatim_copy_of_the_best_source() -> None:
    graph = create_genprog_graph(fabricating_model(), plan_mode="text", max_regenerations=0)
    events = list(graph.stream(INPUT, stream_mode="custom"))
    repairs = [e for e in events if e["step"] == "repair"]
    assert [r["action"] for r in repairs] == ["replaced", "replaced"]
    state = graph.invoke(INPUT)
    assert state["answer"] == (
        "The council approved the new park on Monday. "
        "Residents had campaigned for more green space for a decade."
    )
    assert [r.source_id for r in state["grounding"].repairs] == [1, 3]
    message = state["messages"][-1]
    assert [c["cited_text"].strip() for c in citations_of(message)] == [
        "The council approved the new park on Monday.",
        "Residents had campaigned for more green space for a decade.",
    ]


def test_repeated_sentences_are_dropped_and_reported() -> None:
    llm = ScriptedChatModel(
        respond=lambda m, kw: (
            "- S1\n- paraphrase(S1)\n- S2"
            if "You write programs" in m[0].text
            else "The council approved the new park on Monday."
        )
    )
    state = create_genprog_graph(llm, plan_mode="text").invoke(INPUT)
    assert state["answer"].count("The council approved") == 1
    dropped = [r for r in state["grounding"].repairs if r.action == "dropped"]
    assert len(dropped) == 1 and dropped[0].line == 2 and "repeats line 1" in dropped[0].reason
    failures = state["messages"][-1].response_metadata["failures"]
    assert any("dropped by the grounding gate" in f["error"] for f in failures)


class RefutingMeasurer:
    """Measures every sentence as unsupported (a scorer that sees no support)."""

    name = "fake-measure"

    def __init__(self) -> None:
        self.measured: list[str] = []

    def attribute(
        self, sentences: Sequence[AnswerSentence], sources: Sources, *, question: str | None = None
    ) -> AttributionResult:
        self.measured.extend(s.text for s in sentences)
        items = [
            SentenceAttribution(
                sentence=s,
                citations=[CitedSource(sentence_id=i, score=0.0) for i in s.leaf_ids],
                supported=False,
                note="removing its leaves does not lower its likelihood",
            )
            for s in sentences
        ]
        return AttributionResult(sentences=items, method=self.name, model_calls=len(sentences))


def test_measurement_runs_only_where_the_cheap_checks_pass() -> None:
    measurer = RefutingMeasurer()
    llm = ScriptedChatModel(
        respond=lambda m, kw: (
            "- S1\n- compression(S2)"
            if "You write programs" in m[0].text
            else "Construction will cost two million."
        )
    )
    graph = create_genprog_graph(llm, plan_mode="text", grounding=GroundingGate(measurer))
    state = graph.invoke(INPUT)
    # S1 is a verbatim copy (passes by identity, never measured); the compression is
    # measured and refuted, then regenerated with grounded operations: a 6-word sentence
    # has nothing to delete, so the grounded compression keeps it verbatim (and says so).
    assert measurer.measured == ["Construction will cost two million."]
    report = state["grounding"]
    assert [(r.line, r.action) for r in report.repairs] == [(2, "regenerated")]
    assert "does not lower its likelihood" in report.repairs[0].reason
    assert report.repairs[0].after == "Construction will cost two million dollars."
    assert not report.failing()
    notes = [t.note for t in state["execution"].trace if t.line == 2]
    assert notes and "kept verbatim" in (notes[-1] or "")


def test_run_context_sets_the_coverage_bar() -> None:
    llm = ScriptedChatModel(
        respond=lambda m, kw: (
            "- paraphrase(S1)"
            if "You write programs" in m[0].text
            else "The council approved the park near the river."
        )  # 'river' is not in S1
    )
    graph = create_genprog_graph(llm, plan_mode="text")
    strict = graph.invoke(INPUT, context={"min_coverage": 1.0})
    assert [r.action for r in strict["grounding"].repairs] == ["regenerated"]
    lenient = graph.invoke(INPUT, context={"min_coverage": 0.5})
    assert lenient["grounding"].repairs == []
    assert lenient["answer"] == "The council approved the park near the river."


def test_grounding_off_is_todays_graph() -> None:
    graph = create_genprog_graph(fabricating_model(), plan_mode="text", grounding="off")
    assert "ground" not in graph.nodes
    assert graph.invoke(INPUT)["answer"].count("COVID") == 2


def test_a_sentence_that_says_itself_twice_fails() -> None:
    twice = "The council approved the new park on Monday, and the council approved the new park."
    llm = ScriptedChatModel(
        respond=lambda m, kw: "- paraphrase(S1)" if "You write programs" in m[0].text else twice
    )
    state = create_genprog_graph(llm, plan_mode="text", max_regenerations=0).invoke(INPUT)
    (repair,) = state["grounding"].repairs
    assert repair.reason == "says the same words twice" and repair.action == "replaced"
    assert state["answer"] == "The council approved the new park on Monday."


def test_an_extract_without_its_headline_is_a_verbatim_copy() -> None:
    text = "Sure Things\nRepublican governors in Utah are expected to win."
    sources = Sources.from_documents([Document(page_content=text, metadata={"sentences": [text]})])
    assert _copied_source("Republican governors in Utah are expected to win.", [1], sources) == 1
    assert (
        _copied_source(
            "Sure Things Republican governors in Utah are expected to win.", [1], sources
        )
        == 1
    )
    assert _copied_source("Republican governors are expected to win.", [1], sources) is None
