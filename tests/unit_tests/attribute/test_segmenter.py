"""Phrase and word segmentation with the spaCy dependency parse."""

from __future__ import annotations

import pytest

from langchain_genprog.attribute.mexgen import SpacySegmenter
from langchain_genprog.attribute.mexgen.segmenter import load_spacy
from langchain_genprog.errors import ModelNotAvailableError

try:
    load_spacy()
except ModelNotAvailableError:  # pragma: no cover - the [local] extra is missing
    pytest.skip("spaCy English pipeline not installed", allow_module_level=True)

SENTENCE = "The quick brown fox jumped over the lazy dog in the park near the river."


@pytest.fixture(scope="module")
def segmenter() -> SpacySegmenter:
    return SpacySegmenter()


def pieces(text: str, spans) -> list[str]:
    return [text[s:e] for s, e in spans]


def test_phrases_follow_the_parse(segmenter: SpacySegmenter) -> None:
    assert pieces(SENTENCE, segmenter.phrases(SENTENCE)) == [
        "The quick brown fox ",
        "jumped ",
        "over the lazy dog in the park ",
        "near the river.",
    ]


def test_short_sentence_is_one_phrase(segmenter: SpacySegmenter) -> None:
    text = "Paris is the capital of France."
    assert segmenter.phrases(text) == [(0, len(text))]


def test_lone_function_words_join_the_next_phrase(segmenter: SpacySegmenter) -> None:
    text = "It has not been decided yet whether the bridge over the river will be rebuilt."
    phrases = pieces(text, segmenter.split(text, "phrase"))
    assert "not " not in phrases and "has " not in phrases
    assert any(p.startswith("has not") for p in phrases)


@pytest.mark.parametrize("level", ["sentence", "phrase", "word"])
@pytest.mark.parametrize(
    "text",
    [
        SENTENCE,
        "Marie Curie, who was born in Warsaw, won the Nobel Prize in Physics in 1903 "
        "and in Chemistry in 1911.",
        '  Two sentences here.  And "quoted" words, too!  ',
        "...",
    ],
)
def test_spans_tile_the_text(segmenter: SpacySegmenter, level, text: str) -> None:
    spans = segmenter.split(text, level)
    assert "".join(pieces(text, spans)) == text
    assert all(e > s for s, e in spans)


def test_words_keep_punctuation_with_the_previous_word(segmenter: SpacySegmenter) -> None:
    assert pieces("Hello, world.", segmenter.words("Hello, world.")) == ["Hello, ", "world."]


def test_max_phrase_length_controls_the_split(segmenter: SpacySegmenter) -> None:
    long = SpacySegmenter(max_phrase_length=30).phrases(SENTENCE)
    short = SpacySegmenter(max_phrase_length=3).phrases(SENTENCE)
    assert long == [(0, len(SENTENCE))]
    assert len(short) > len(segmenter.phrases(SENTENCE))


def test_sentences(segmenter: SpacySegmenter) -> None:
    text = "The cat sat. The dog ran away quickly."
    assert pieces(text, segmenter.sentences(text)) == ["The cat sat. ", "The dog ran away quickly."]


def test_unknown_pipeline_is_a_typed_error() -> None:
    with pytest.raises(ModelNotAvailableError):
        load_spacy("no_such_pipeline_xyz")
