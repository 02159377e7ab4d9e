"""Post hoc attribution of an answer written by anything."""

from __future__ import annotations

import sys

import pytest
from langchain_core.documents import Document

from langchain_genprog.attribute.base import AttributionResult
from langchain_genprog.attribute.posthoc import attribute, default_scorer, split_answer
from langchain_genprog.errors import InvalidInputError, InvalidSourcesError, ModelNotAvailableError
from langchain_genprog.segment.sources import Sources

from .fakes import KeywordScorer

DOCS = [
    Document(page_content="Water boils at 100 degrees. Ice melts at zero degrees."),
    "The moon orbits the Earth. It has no atmosphere.",
]
ANSWER = "Water boils at 100 degrees. The moon has no air. Cats are mammals."
SUPPORT = [{"boils": 1.0, "100": 1.0}, {"atmosphere": 2.0, "moon": 0.5}, {}]


def scorer_for(answer: str) -> KeywordScorer:
    return KeywordScorer(SUPPORT, [(s.start, s.end) for s in split_answer(answer)])


def test_split_answer_offsets() -> None:
    sentences = split_answer(ANSWER)
    assert [s.text for s in sentences] == [
        "Water boils at 100 degrees.",
        "The moon has no air.",
        "Cats are mammals.",
    ]
    assert all(ANSWER[s.start : s.end] == s.text for s in sentences)
    assert [s.index for s in sentences] == [0, 1, 2]


def test_posthoc_attribute_cites_and_flags_unsupported() -> None:
    scorer = scorer_for(ANSWER)
    result = attribute(
        ANSWER, DOCS, "Tell me facts.", scorer=scorer, method="loo", levels=("sentence",)
    )
    assert isinstance(result, AttributionResult)
    assert result.unit_ids == [1, 2, 3, 4]
    water, moon, cats = result.sentences
    assert water.citations[0].sentence_id == 1 and not water.citations[0].from_program
    assert [c.sentence_id for c in moon.citations] == [4, 3]
    assert water.supported is True and moon.supported is True
    assert cats.citations == [] and cats.supported is False
    assert "no source sentence" in cats.note
    # The question is in every prompt, never perturbed.
    assert all("Question: Tell me facts." in p for p in scorer.prompts)


def test_posthoc_accepts_numbered_sources_and_a_custom_attributor() -> None:
    sources = Sources.from_documents(DOCS)

    class Nothing:
        name = "nothing"

        def attribute(self, sentences, sources, *, question=None):
            return AttributionResult(method=self.name)

    assert attribute(ANSWER, sources, attributor=Nothing()).method == "nothing"


def test_posthoc_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError):
        attribute("  ", DOCS, scorer=scorer_for(ANSWER))
    with pytest.raises(InvalidSourcesError):
        attribute(ANSWER, [], scorer=scorer_for(ANSWER))


def test_default_scorer_missing_is_a_typed_error(monkeypatch) -> None:
    import langchain_genprog.models as models

    monkeypatch.setattr(models, "_scorer", None)
    # Neither backend is installed: transformers (the default) nor llama.cpp (the fallback).
    for module in ("torch", "transformers", "llama_cpp"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ModelNotAvailableError, match="llama"):
        default_scorer()
    with pytest.raises(ModelNotAvailableError):
        attribute(ANSWER, DOCS)


def test_small_drops_are_not_support_by_default() -> None:
    # "Cats" gains a little from a source word (0.03 nats, under the calibrated
    # 0.05 default): noise-sized drops do not make a sentence supported.
    support = [SUPPORT[0], SUPPORT[1], {"moon": 0.03}]
    spans = [(s.start, s.end) for s in split_answer(ANSWER)]
    options = {"method": "loo", "levels": ("sentence",)}
    default = attribute(ANSWER, DOCS, scorer=KeywordScorer(support, spans), **options)
    assert default.sentences[2].supported is False
    assert default.sentences[0].supported is True
    # ... nor cited: a citation is a measured support, on the same line.
    assert default.sentences[2].citations == []
    lenient = attribute(
        ANSWER, DOCS, scorer=KeywordScorer(support, spans), support_threshold=0.0, **options
    )
    assert lenient.sentences[2].supported is True
    assert [c.sentence_id for c in lenient.sentences[2].citations] == [3]


async def test_aattribute_matches_attribute() -> None:
    from langchain_genprog.attribute import aattribute

    options = {"method": "loo", "levels": ("sentence",)}
    sync = attribute(ANSWER, DOCS, "Tell me facts.", scorer=scorer_for(ANSWER), **options)
    async_result = await aattribute(
        ANSWER, DOCS, "Tell me facts.", scorer=scorer_for(ANSWER), **options
    )
    assert async_result.model_dump(exclude={"seconds"}) == sync.model_dump(exclude={"seconds"})
