"""MExGenAttributor with a fake LogProbScorer whose answer log-probs are known sums."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.documents import Document

from langchain_genprog.attribute.base import AnswerSentence, Attributor
from langchain_genprog.attribute.mexgen import Budget
from langchain_genprog.attribute.mexgen_node import MExGenAttributor, answer_target
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.segment.sources import Sources
from tests.unit_tests.fakes import ScriptedChatModel

from .fakes import CommaSegmenter, KeywordScorer
from .test_scalarizers import BagOfWordsEmbeddings

DOCS = [
    Document(
        page_content=(
            "The Eiffel Tower is in Paris. It was completed in 1889, for the World Fair. "
            "Millions of tourists visit it every year."
        ),
        metadata={"title": "Eiffel"},
    ),
    Document(
        page_content=(
            "The Colosseum stands in Rome. Its construction began under emperor Vespasian. "
            "It could hold fifty thousand spectators."
        ),
        metadata={"title": "Colosseum"},
    ),
]
ANSWER = "The tower was finished in 1889. The Colosseum is in Rome. It held 50,000 people."
# Answer sentence k's log-prob rises by these weights when the words are in the prompt.
SUPPORT = [{"1889": 2.0, "Fair": 0.3}, {"Rome": 1.5}, {"thousand": 1.0, "spectators": 0.8}]
LEAVES = [[2], [4], [5]]  # the last program leaf (S5) does not support its sentence


def answer_sentences(answer: str = ANSWER, leaves=LEAVES) -> list[AnswerSentence]:
    out, cursor = [], 0
    for index, text in enumerate(answer.replace(". ", ".|").split("|")):
        start = answer.index(text, cursor)
        cursor = start + len(text)
        out.append(
            AnswerSentence(index=index, text=text, start=start, end=cursor, leaf_ids=leaves[index])
        )
    return out


@pytest.fixture
def sources() -> Sources:
    return Sources.from_documents(DOCS)


@pytest.fixture
def scorer() -> KeywordScorer:
    sentences = answer_sentences()
    return KeywordScorer(SUPPORT, [(s.start, s.end) for s in sentences])


def test_is_an_attributor(scorer: KeywordScorer) -> None:
    attributor = MExGenAttributor(scorer, levels=("sentence",))
    assert isinstance(attributor, Attributor)
    assert attributor.name == "mexgen-clime"


@pytest.mark.parametrize("method", ["clime", "lshap", "loo"])
def test_sentence_level_citations_and_support(sources, scorer, method: str) -> None:
    attributor = MExGenAttributor(scorer, method=method, levels=("sentence",), top_k=1)
    result = attributor.attribute(answer_sentences(), sources, question="Tell me about monuments.")
    assert result.method == f"mexgen-{method}"
    assert result.complete
    assert result.unit_ids == [1, 2, 3, 4, 5, 6]
    expected = np.zeros((3, 6))
    expected[0, 1], expected[1, 3], expected[2, 5] = 2.3, 1.5, 1.8
    np.testing.assert_allclose(result.matrix, expected, atol=1e-9)
    assert result.model_calls == scorer.calls > 0

    first, second, third = result.sentences
    assert [c.sentence_id for c in first.citations] == [2]
    assert first.citations[0].from_program and first.citations[0].score == pytest.approx(2.3)
    assert first.citations[0].method == f"mexgen-{method}"
    assert first.citations[0].level == "sentence" and first.citations[0].span is None
    assert first.supported is True and first.note is None
    assert second.supported is True
    # Measured support is S6; the program leaf S5 is still cited, flagged as the program's.
    assert [(c.sentence_id, c.from_program) for c in third.citations] == [(6, False), (5, True)]
    assert third.citations[1].score == pytest.approx(0.0, abs=1e-9)
    assert third.supported is False
    assert "S5" in third.note and "do not measurably support" in third.note


def test_one_model_call_per_perturbation_scores_all_answer_sentences(sources, scorer) -> None:
    result = MExGenAttributor(scorer, method="loo", levels=("sentence",), batch_size=4).attribute(
        answer_sentences(), sources
    )
    assert result.model_calls == 1 + 6
    assert scorer.batch_sizes == [4, 3]
    # The prompt numbers the sources and keeps document headers fixed.
    original = scorer.prompts[0]
    assert "# Eiffel\nS1: The Eiffel Tower is in Paris.\nS2:" in original
    assert "# Colosseum" in original


def test_leaf_outside_top_k_is_flagged(sources) -> None:
    sentences = answer_sentences(leaves=[[2], [4], [5]])
    support = [{"1889": 2.0}, {"Rome": 1.5}, {"thousand": 1.0, "Vespasian": 0.2}]
    scorer = KeywordScorer(support, [(s.start, s.end) for s in sentences])
    result = MExGenAttributor(scorer, method="loo", levels=("sentence",), top_k=1).attribute(
        sentences, sources
    )
    third = result.sentences[2]
    # S5 does support it a little (sum > 0), but S6 supports it more.
    assert third.supported is False
    assert "none of its program leaves (S5)" in third.note


def test_phrase_refinement_reports_the_span_that_mattered(sources, scorer) -> None:
    attributor = MExGenAttributor(
        scorer, levels=("sentence", "phrase"), top_k=1, segmenter=CommaSegmenter()
    )
    result = attributor.attribute(answer_sentences(), sources)
    citation = result.sentences[0].citations[0]
    assert citation.sentence_id == 2 and citation.level == "phrase"
    text = sources.sentence(2).text
    assert text[citation.span[0] : citation.span[1]] == "It was completed in 1889, "
    assert citation.score == pytest.approx(2.0, abs=1e-9)
    # The sentence-level matrix is unchanged by the refinement.
    assert result.matrix[0][1] == pytest.approx(2.3)


def test_phrase_level_uses_loo_by_default_and_costs_less(sources, scorer) -> None:
    def run(**options):
        attributor = MExGenAttributor(
            scorer, levels=("sentence", "phrase"), top_k=1, segmenter=CommaSegmenter(), **options
        )
        return attributor.attribute(answer_sentences(), sources)

    loo_phrases, clime_phrases = run(), run(refine_method=None)
    # The scorer is additive, so both estimators find the same phrase and score.
    for result in (loo_phrases, clime_phrases):
        citation = result.sentences[0].citations[0]
        assert citation.level == "phrase" and citation.score == pytest.approx(2.0, abs=1e-9)
    assert loo_phrases.model_calls < clime_phrases.model_calls


def test_phrase_refinement_with_spacy(sources, scorer) -> None:
    from langchain_genprog.attribute.mexgen import SpacySegmenter
    from langchain_genprog.attribute.mexgen.segmenter import load_spacy
    from langchain_genprog.errors import ModelNotAvailableError

    try:
        load_spacy()
    except ModelNotAvailableError:  # pragma: no cover
        pytest.skip("spaCy English pipeline not installed")
    # Short phrases, so that even these short sentences are split.
    result = MExGenAttributor(
        scorer,
        levels=("sentence", "phrase"),
        top_k=1,
        segmenter=SpacySegmenter(max_phrase_length=3),
    ).attribute(answer_sentences(), sources)
    for item, keyword in zip(result.sentences, ["1889", "Rome", "thousand"], strict=True):
        best = item.citations[0]
        assert best.level == "phrase"
        text = sources.sentence(best.sentence_id).text
        assert keyword in text[best.span[0] : best.span[1]] != text


def test_single_phrase_sentence_is_cited_as_a_sentence(sources, scorer) -> None:
    # "The Colosseum stands in Rome." has no comma: its only phrase is the
    # sentence itself, which tells nothing new (and its removal is reused).
    result = MExGenAttributor(
        scorer, method="loo", levels=("sentence", "phrase"), segmenter=CommaSegmenter()
    ).attribute(answer_sentences(), sources)
    rome = result.sentences[1].citations[0]
    assert (rome.sentence_id, rome.level, rome.span) == (4, "sentence", None)
    assert rome.score == pytest.approx(1.5)
    # S2 has two comma phrases: 2 new calls; S4 and S6 removals are reused.
    assert result.model_calls == 7 + 2


def test_neighbourhood_when_sources_are_many(sources) -> None:
    docs = [f"Filler sentence number {i} about nothing." for i in range(30)]
    many = Sources.from_documents([" ".join(docs), *DOCS])
    sentences = answer_sentences(leaves=[[32], [34], [35]])
    scorer = KeywordScorer(SUPPORT, [(s.start, s.end) for s in sentences])
    attributor = MExGenAttributor(
        scorer, method="loo", levels=("sentence",), max_candidates=10, lexical_top_m=1
    )
    candidates = attributor.candidates(sentences, many)
    # Leaves ± 1 in their documents, plus each answer sentence's best lexical match.
    assert set(candidates) >= {31, 32, 33, 34, 35, 36}
    assert len(candidates) < 12
    result = attributor.attribute(sentences, many)
    assert result.unit_ids == candidates
    assert result.model_calls == 1 + len(candidates)
    assert "Filler sentence number 7 " not in scorer.prompts[0]
    assert [c.sentence_id for c in result.sentences[0].citations][:1] == [32]


def test_budget_stop_marks_result_incomplete(sources, scorer) -> None:
    result = MExGenAttributor(
        scorer, method="loo", levels=("sentence",), budget=Budget(max_calls=3)
    ).attribute(answer_sentences(), sources)
    assert not result.complete
    assert result.model_calls == 3
    # Only S1 and S2 were measured: S2 is still found for the first sentence...
    assert result.sentences[0].citations[0].sentence_id == 2
    # ...but nothing is known about S4's support of the second one.
    assert result.sentences[1].supported is None
    assert result.matrix[1] == [0.0] * 6


def test_text_only_mode_with_a_chat_model_and_embeddings(sources) -> None:
    answer = "Paris is big. Rome is old."

    def respond(messages, kwargs):
        prompt = messages[-1].content
        parts = []
        if "Eiffel Tower is in Paris" in prompt:
            parts.append("Paris is big.")
        if "stands in Rome" in prompt:
            parts.append("Rome is old.")
        return " ".join(parts)

    sentences = [
        AnswerSentence(index=0, text="Paris is big.", start=0, end=13),
        AnswerSentence(index=1, text="Rome is old.", start=14, end=26),
    ]
    assert answer[14:26] == "Rome is old."
    model = ScriptedChatModel(respond=respond)
    attributor = MExGenAttributor(
        None,
        chat_model=model,
        embeddings=BagOfWordsEmbeddings(),
        method="loo",
        levels=("sentence",),
    )
    result = attributor.attribute(sentences, sources)
    assert [s.citations[0].sentence_id for s in result.sentences] == [1, 4]
    assert len(model.calls) == result.model_calls == 7


def test_blank_answer_and_no_sentences(sources, scorer) -> None:
    attributor = MExGenAttributor(scorer, levels=("sentence",))
    empty = attributor.attribute([], sources)
    assert empty.sentences == [] and empty.model_calls == 0
    blank = attributor.attribute([AnswerSentence(index=0, text=" ", start=0, end=1)], sources)
    assert blank.sentences[0].citations == [] and blank.model_calls == 0


def test_answer_target_keeps_offsets() -> None:
    sentences = [
        AnswerSentence(index=0, text="A b.", start=10, end=14),
        AnswerSentence(index=1, text="C d.", start=16, end=20),
    ]
    assert answer_target(sentences) == ("A b.  C d.", [(0, 4), (6, 10)])
    broken = [
        AnswerSentence(index=0, text="A b.", start=0, end=9),
        AnswerSentence(index=1, text="C d.", start=3, end=7),
    ]
    assert answer_target(broken) == ("A b. C d.", [(0, 4), (5, 9)])


@pytest.mark.parametrize(
    "options",
    [
        {"levels": ("phrase",)},
        {"levels": ("document", "sentence")},
        {"top_k": 0},
        {"max_candidates": 0},
        {"method": "shap"},
        {"oversampling": -1.0},
    ],
)
def test_bad_options_raise(scorer, options) -> None:
    with pytest.raises(InvalidInputError):
        MExGenAttributor(scorer, **options)


def test_needs_a_scorer_or_a_text_only_pair() -> None:
    with pytest.raises(InvalidInputError, match="LogProbScorer"):
        MExGenAttributor(None, chat_model=ScriptedChatModel())


def test_neighbourhood_never_empty() -> None:
    many = Sources.from_documents([" ".join(f"Filler number {i} here." for i in range(30))])
    sentences = [AnswerSentence(index=0, text="Zebras gallop.", start=0, end=14)]
    attributor = MExGenAttributor(KeywordScorer([{}], [(0, 14)]), max_candidates=5)
    assert len(attributor.candidates(sentences, many)) == 5


@pytest.mark.parametrize(("screen", "coarse_calls"), [("auto", 0), ("blocks", 3)])
def test_coarse_to_fine_scheme_cites_measured_support(
    sources, scorer, screen: str, coarse_calls: int
) -> None:
    attributor = MExGenAttributor(
        scorer,
        scheme="coarse-to-fine",
        levels=("sentence",),
        priors=("lexical", "leaves"),
        screen=screen,
    )
    result = attributor.attribute(answer_sentences(), sources, question="Monuments?")
    assert result.complete and result.unit_ids == [1, 2, 3, 4, 5, 6]
    assert result.model_calls == scorer.calls
    # the priors pick the candidates for free; blocks add two documents of three
    # sentences scored alone plus the empty prompt; then one design over the six
    assert result.model_calls == coarse_calls + 16
    first, second, third = result.sentences
    assert first.citations[0].sentence_id == 2 and first.supported is True
    assert second.citations[0].sentence_id == 4 and second.supported is True
    # measured support is S6; the program leaf S5 measures nothing and is flagged
    assert third.citations[0].sentence_id == 6
    assert third.supported is False and "S5" in third.note
    # the matrix is the fused ranking: the supporting sentence ranks first, except that
    # the leaves prior lifts a program leaf (S5) too; citing still needs measured support
    assert [int(np.argmax(row)) for row in result.matrix[:2]] == [1, 3]
    third_row = result.matrix[2]
    assert third_row[5] > max(third_row[i] for i in (0, 1, 2, 3))


def test_coarse_to_fine_budget_too_small_for_the_coarse_pass(sources, scorer) -> None:
    from langchain_genprog.errors import BudgetExhaustedError

    attributor = MExGenAttributor(
        scorer,
        scheme="coarse-to-fine",
        priors=("lexical",),
        screen="blocks",
        budget=Budget(max_calls=2),
    )
    with pytest.raises(BudgetExhaustedError, match="coarse pass"):
        attributor.attribute(answer_sentences(), sources)
    assert scorer.calls == 0


def test_coarse_to_fine_priors_screen_with_a_small_budget_is_partial(sources, scorer) -> None:
    attributor = MExGenAttributor(
        scorer, scheme="coarse-to-fine", priors=("lexical",), budget=Budget(max_calls=2)
    )
    result = attributor.attribute(answer_sentences(), sources)
    assert not result.complete and scorer.calls <= 2


def test_priors_screen_needs_a_prior_for_the_answer(sources, scorer) -> None:
    with pytest.raises(InvalidInputError, match="needs priors"):
        MExGenAttributor(scorer, scheme="coarse-to-fine", priors=(), screen="priors")
    # only program leaves, and the answer has none: 'priors' cannot rank, 'auto' uses blocks
    bare = [s.model_copy(update={"leaf_ids": []}) for s in answer_sentences()]
    strict = MExGenAttributor(scorer, scheme="coarse-to-fine", priors=("leaves",), screen="priors")
    with pytest.raises(InvalidInputError, match="no prior applies"):
        strict.attribute(bare, sources)
    auto = MExGenAttributor(scorer, scheme="coarse-to-fine", priors=("leaves",))
    assert auto.attribute(bare, sources).model_calls == 3 + 16


def test_coarse_to_fine_options_are_checked() -> None:
    from langchain_genprog.attribute import MExGenAttributorConfig

    for bad in ({"max_fine_units": 0}, {"fine_rows": 1}, {"priors": ("bm25",)}, {"block_size": 0}):
        with pytest.raises(InvalidInputError):
            MExGenAttributorConfig(scheme="coarse-to-fine", **bad)


class TargetRecordingScorer(KeywordScorer):
    """Records the target of every call alongside its prompt."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.targets: list[str] = []

    def score(self, prompts, target):
        self.targets.extend([target] * len(prompts))
        return super().score(prompts, target)


def test_per_sentence_targets_measure_each_sentence_on_its_own_neighbourhood(sources) -> None:
    sentences = answer_sentences()
    scorer = TargetRecordingScorer(SUPPORT, [(s.start, s.end) for s in sentences])
    options = {"method": "loo", "levels": ("sentence",), "max_candidates": 1, "lexical_top_m": 0}
    together = MExGenAttributor(
        KeywordScorer(SUPPORT, [(s.start, s.end) for s in sentences]), **options
    ).attribute(sentences, sources)
    progress: list[tuple[int, int]] = []
    apart = MExGenAttributor(
        scorer, targets="sentence", on_progress=lambda d, t: progress.append((d, t)), **options
    ).attribute(sentences, sources)
    # Progress counts on across the sentences' designs and ends at the calls made.
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert progress[-1] == (11, 11)
    # Leaves ±1 per sentence: {1,2,3}, {4,5} (S4 opens its document), {4,5,6}; LOO = c + 1 calls.
    assert apart.model_calls == scorer.calls == 4 + 3 + 4
    first = [p for p, t in zip(scorer.prompts, scorer.targets, strict=True) if t == ANSWER[:31]]
    assert len(first) == 4 and all("S4:" not in p and "S2:" in first[0] for p in first)
    # Each sentence is scored after the answer before it: targets are the answer's prefixes.
    assert sorted(set(scorer.targets), key=len) == [ANSWER[:31], ANSWER[:57], ANSWER]
    assert apart.unit_ids == [1, 2, 3, 4, 5, 6]
    expected = np.zeros((3, 6))
    expected[0, 1], expected[1, 3], expected[2, 5] = 2.3, 1.5, 1.8
    np.testing.assert_allclose(apart.matrix, expected, atol=1e-9)
    np.testing.assert_allclose(apart.matrix, together.matrix, atol=1e-9)
    assert [s.supported for s in apart.sentences] == [True, True, False]
    assert [s.supported for s in together.sentences] == [True, True, False]
    assert "S5" in apart.sentences[2].note


def test_per_sentence_targets_are_a_flat_scheme_option() -> None:
    with pytest.raises(InvalidInputError, match="flat-scheme option"):
        MExGenAttributor(KeywordScorer([], []), scheme="coarse-to-fine", targets="sentence")


@pytest.mark.parametrize(
    ("options", "n_sentences", "expected"),
    [
        ({}, 16, "coarse-to-fine"),  # the default: C-LIME over more than max_fine_units
        ({}, 15, "coarse-to-fine"),  # flat: a 32-row fold-over design; the fine pass: 16
        ({}, 10, "coarse-to-fine"),
        ({}, 9, "flat"),  # flat: one 16-row block, no more calls than the fine pass
        ({}, 4, "flat"),  # flat: 8 rows
        ({"method": "loo"}, 400, "flat"),  # a chosen estimator is honoured
        ({"targets": "sentence"}, 400, "flat"),
        ({"max_fine_units": 40, "fine_rows": 64}, 30, "flat"),  # 64 flat rows: not more
        ({"scheme": "flat"}, 400, "flat"),
        ({"scheme": "coarse-to-fine"}, 3, "coarse-to-fine"),
    ],
)
def test_auto_scheme_resolution(options, n_sentences: int, expected: str) -> None:
    from langchain_genprog.attribute import MExGenAttributorConfig

    assert MExGenAttributorConfig(**options).scheme_for(n_sentences) == expected


def test_default_attributor_runs_coarse_to_fine_on_many_sentences() -> None:
    filler = [f"Filler sentence number {i} about nothing." for i in range(30)]
    many = Sources.from_documents([" ".join(filler), *DOCS])
    sentences = answer_sentences(leaves=[[32], [34], [35]])
    scorer = KeywordScorer(SUPPORT, [(s.start, s.end) for s in sentences])
    result = MExGenAttributor(scorer, priors=("lexical", "leaves")).attribute(sentences, many)
    # every one of the 36 sentences is covered; the priors pick 15, 16 fine rows measure them
    assert result.unit_ids == list(range(1, 37))
    assert result.model_calls == scorer.calls == 16
    assert max(len(p) for p in scorer.prompts) < len(" ".join(filler))
    first, second, third = result.sentences
    assert first.citations[0].sentence_id == 32 and first.supported is True
    assert second.citations[0].sentence_id == 34 and second.supported is True
    assert third.supported is False  # its leaf S35 does not support it; S36 does


def test_full_fine_context_keeps_every_sentence_in_every_prompt() -> None:
    filler = [f"Filler sentence number {i} about nothing." for i in range(30)]
    many = Sources.from_documents([" ".join(filler), *DOCS])
    sentences = answer_sentences(leaves=[[32], [34], [35]])
    scorer = KeywordScorer(SUPPORT, [(s.start, s.end) for s in sentences])
    attributor = MExGenAttributor(scorer, priors=("lexical", "leaves"), fine_context="full")
    result = attributor.attribute(sentences, many)
    assert result.model_calls == scorer.calls == 16
    # 15 candidates are perturbed; the other 21 sentences stay in all 16 prompts
    kept = [f for f in filler if all(f in p for p in scorer.prompts)]
    assert len(kept) >= len(filler) - 15
    first, second, _ = result.sentences
    assert first.citations[0].sentence_id == 32 and first.supported is True
    assert second.citations[0].sentence_id == 34 and second.supported is True


@pytest.mark.parametrize(
    ("options", "expected"),
    [({}, None), ({"fine_per_output": 2}, 2), ({"fine_per_output": None}, None)],
)
def test_coarse_to_fine_gets_the_per_output_of_the_answers_length(
    sources, scorer, monkeypatch, options, expected
) -> None:
    import langchain_genprog.attribute.coarse_to_fine_node as node

    seen: list[int | None] = []

    class Spy(node.CoarseToFine):
        def __init__(self, *args, **kwargs) -> None:
            seen.append(kwargs["per_output"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(node, "CoarseToFine", Spy)
    attributor = MExGenAttributor(scorer, scheme="coarse-to-fine", levels=("sentence",), **options)
    attributor.attribute(answer_sentences(), sources)
    # three answer sentences: "auto" is round-robin up to four, an explicit choice is kept
    assert seen == [expected]


@pytest.mark.parametrize(
    ("options", "weight", "scaled"),
    [
        ({}, 2.0, ()),
        ({"measured_weight": 1.0, "fusion": "score"}, 1.0, ("measured",)),
        ({"fusion": "rank"}, 2.0, ()),
    ],
)
def test_coarse_to_fine_fuses_with_the_configured_weight_and_kind(
    sources, scorer, monkeypatch, options, weight, scaled
) -> None:
    import langchain_genprog.attribute.coarse_to_fine_node as node
    from langchain_genprog.attribute.mexgen_config import FUSION_MEASURED_WEIGHT

    seen: list[tuple[dict[str, float] | None, tuple[str, ...]]] = []
    original = node.rank_fusion

    def spy(signals, weights=None, *, scaled=()):
        seen.append((weights, tuple(scaled)))
        return original(signals, weights, scaled=scaled)

    monkeypatch.setattr(node, "rank_fusion", spy)
    attributor = MExGenAttributor(scorer, scheme="coarse-to-fine", levels=("sentence",), **options)
    result = attributor.attribute(answer_sentences(), sources)
    assert FUSION_MEASURED_WEIGHT == 2.0
    assert attributor.config.fusion == options.get("fusion", "rank")
    assert seen == [({"measured": weight}, scaled)]
    # each answer sentence's measured support ranks first either way
    assert [int(np.argmax(row)) for row in result.matrix[:2]] == [1, 3]
