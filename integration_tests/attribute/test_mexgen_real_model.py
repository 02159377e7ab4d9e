"""MExGen on the real embedded model: copied sentences must be found again.

Each answer sentence copies one source sentence verbatim, so under teacher
forcing the copied sentence is by far the best support of its answer
sentence; top-1 citations should recover (most of) the copies.
"""

from __future__ import annotations

import time

import pytest

from langchain_genprog.attribute.mexgen import CLIME
from langchain_genprog.attribute.posthoc import attribute
from langchain_genprog.errors import ModelNotAvailableError

pytestmark = pytest.mark.slow

DOCS = [
    "The Amazon river flows through Brazil, Peru and Colombia. "
    "It carries more water than any other river on Earth. "
    "The rainforest around it is home to jaguars and sloths. "
    "Deforestation has increased in the last decade.",
    "Mount Everest is the highest mountain above sea level. "
    "Its summit, first reached by Tenzing Norgay and Edmund Hillary in 1953, "
    "is 8,849 metres above sea level. "
    "Sherpa guides help most climbers reach the top.",
    "Honey never spoils if it is kept sealed. "
    "Bees produce honey from the nectar of flowers. "
    "A single hive can hold tens of thousands of bees.",
]
COPIED = [
    (
        "Its summit, first reached by Tenzing Norgay and Edmund Hillary in 1953, "
        "is 8,849 metres above sea level.",
        6,
    ),
    ("Bees produce honey from the nectar of flowers.", 9),
    ("It carries more water than any other river on Earth.", 2),
]
ANSWER = " ".join(text for text, _ in COPIED)


@pytest.fixture(scope="module")
def scorer():  # type: ignore[no-untyped-def]
    try:
        from langchain_genprog.models.transformers_scorer import TransformersLogProbScorer

        return TransformersLogProbScorer()
    except (ImportError, ModelNotAvailableError) as err:
        pytest.skip(f"embedded transformers scorer not available: {err}")


@pytest.mark.parametrize(
    ("method", "levels"),
    [
        ("loo", ("sentence",)),
        # C-LIME on the orthogonal design (32 rows for 10 units), phrases by LOO (flat: 10 units).
        ("clime", ("sentence", "phrase")),
        # MExGen's small removals, about 2 calls per unit to keep the test short.
        (CLIME(oversampling=2.0), ("sentence",)),
        (CLIME(sampling="bernoulli", oversampling=2.0, num_nonzeros=4), ("sentence",)),
    ],
    ids=["loo", "clime-phrase", "clime-constrained", "clime-bernoulli"],
)
def test_top1_recovers_copied_sentences(scorer, method, levels) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = attribute(
        ANSWER,
        DOCS,
        "Tell me three facts.",
        scorer=scorer,
        method=method,
        levels=levels,
    )
    elapsed = time.perf_counter() - started
    assert result.complete
    assert result.unit_ids == list(range(1, 11))
    top1 = [item.citations[0].sentence_id if item.citations else None for item in result.sentences]
    print(f"{method} {levels}: {result.model_calls} calls, {elapsed:.1f}s, top-1 {top1}")
    hits = sum(found == expected for found, (_, expected) in zip(top1, COPIED, strict=True))
    assert hits >= 2, (top1, result.matrix)
    for item, (_, expected) in zip(result.sentences, COPIED, strict=True):
        if item.citations and item.citations[0].sentence_id == expected:
            assert item.supported is True
    if "phrase" in levels:
        # The long copied sentence is split into phrases; the short ones stay whole.
        first = result.sentences[0].citations[0]
        if first.sentence_id == 6:
            assert first.level == "phrase" and first.span is not None


def test_default_covers_a_whole_input_in_fewer_calls_than_sentences(scorer) -> None:  # type: ignore[no-untyped-def]
    # Eight documents (30 citable sentences), the copies hidden among them:
    # the default (scheme="auto") runs coarse-to-fine, every sentence is a unit, the
    # priors pick 15 candidates for free and the calls are the 16 fine rows, not 2.5
    # per sentence.
    filler = [
        f"Report {k} covers the weather in town number {k}. It rained on {k} days. "
        f"The council met {k} times. Parking fees rose by {k} cents."
        for k in range(5)
    ]
    started = time.perf_counter()
    result = attribute(ANSWER, [*DOCS, *filler], "Tell me three facts.", scorer=scorer)
    elapsed = time.perf_counter() - started
    assert result.complete
    assert result.unit_ids == list(range(1, 31))
    top1 = [item.citations[0].sentence_id if item.citations else None for item in result.sentences]
    print(f"default on 30 sentences: {result.model_calls} calls, {elapsed:.1f}s, top-1 {top1}")
    assert result.model_calls == 16
    hits = sum(found == expected for found, (_, expected) in zip(top1, COPIED, strict=True))
    assert hits >= 2, (top1, result.matrix)
