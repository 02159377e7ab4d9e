from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.alce import alce_citation_scores
from langchain_genprog.evaluation.common import ranked_citations
from langchain_genprog.evaluation.cost import Cost, CostTracker, CountingScorer
from langchain_genprog.evaluation.coverage import answer_length, coverage
from langchain_genprog.evaluation.datasets import Example, GoldLink, load_aftg
from langchain_genprog.evaluation.drop_hold import drop_and_hold
from langchain_genprog.evaluation.gold import align_gold, gold_citation_scores
from langchain_genprog.evaluation.judge import LexicalOverlapJudge, LLMJudge, parse_yes_no
from langchain_genprog.segment.sources import Sources, split_sentences
from tests.unit_tests.evaluation.helpers import SupportScorer, attributed
from tests.unit_tests.fakes import ScriptedChatModel

# --------------------------------------------------------------------------- gold


def test_gold_scores_hand_computed_all_and_top1() -> None:
    predicted = [[1, 2, 3], [4], [7]]
    gold = [{1, 5}, {4}, set()]  # the third sentence has no gold: skipped

    full = gold_citation_scores(predicted, gold)
    assert full.sentences == 2
    assert full.micro is not None and full.macro is not None
    # micro: 2 hits / 4 predicted, 2 hits / 3 gold
    assert full.micro.precision == pytest.approx(0.5)
    assert full.micro.recall == pytest.approx(2 / 3)
    assert full.micro.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # macro: sentence 0 p=1/3 r=1/2 f1=0.4; sentence 1 all 1
    assert full.macro.precision == pytest.approx((1 / 3 + 1) / 2)
    assert full.macro.recall == pytest.approx(0.75)
    assert full.macro.f1 == pytest.approx(0.7)

    top1 = gold_citation_scores(predicted, gold, k=1)
    assert top1.k == 1
    assert top1.micro is not None and top1.macro is not None
    assert top1.micro.precision == pytest.approx(1.0)
    assert top1.micro.recall == pytest.approx(2 / 3)
    assert top1.micro.f1 == pytest.approx(0.8)
    assert top1.macro.f1 == pytest.approx((2 / 3 + 1) / 2)


def test_gold_scores_empty_prediction_and_duplicates() -> None:
    silent = gold_citation_scores([[]], [{1}])
    assert silent.micro is not None and silent.macro is not None
    assert (silent.micro.precision, silent.micro.recall, silent.micro.f1) == (0.0, 0.0, 0.0)
    assert silent.macro.precision == 0.0

    dup = gold_citation_scores([[1, 1, 2]], [{2}], k=2)  # top-2 is [1, 2], not [1, 1]
    assert dup.micro is not None
    assert dup.micro.precision == pytest.approx(0.5) and dup.micro.recall == 1.0


def test_gold_scores_without_gold_and_bad_input() -> None:
    none = gold_citation_scores([[1]], [set()])
    assert none.sentences == 0 and none.micro is None and none.macro is None
    with pytest.raises(InvalidInputError, match="predicted has 2 sentences"):
        gold_citation_scores([[1], [2]], [{1}])
    with pytest.raises(InvalidInputError, match="k must be at least 1"):
        gold_citation_scores([[1]], [{1}], k=0)


def _example(gold: list[tuple[str, int, int]]) -> Example:
    return Example(
        id="x",
        documents=[
            {"sentences": ["Park opens. ", "It cost a lot. ", "Mayor spoke."]},
            {"sentences": ["Rain fell. ", "Crowds came."]},
        ],
        gold=[GoldLink(answer_sentence=a, doc_index=d, sent_index=s) for a, d, s in gold],
    )


def test_align_gold_is_robust_to_whitespace_quotes_and_splits() -> None:
    example = _example(
        [
            ("The  park\nopened   in May.", 0, 0),  # whitespace differs
            ('The mayor said "it is great," and crowds came.', 0, 2),  # split in two below
            ('The mayor said "it is great," and crowds came.', 1, 1),
            ("It rained.", 1, 0),  # matches nothing
        ]
    )
    sources = Sources.from_documents(example.to_documents())
    answer = [
        "The park opened in May.",
        'The mayor said "it is great,"',
        "and crowds came.",
        "Click for more.",
    ]
    alignment = align_gold(example, sources, answer)
    s = sources.global_id
    assert alignment.per_sentence == [
        [s(0, 0)],
        sorted([s(0, 2), s(1, 1)]),
        sorted([s(0, 2), s(1, 1)]),
        [],
    ]
    assert alignment.unmatched == ["It rained."]
    assert alignment.evaluable == 3


def test_align_gold_short_sentences_do_not_match_by_containment() -> None:
    example = _example([("Yes, the park opened in May after years of delay.", 0, 0)])
    sources = Sources.from_documents(example.to_documents())
    alignment = align_gold(example, sources, ["Yes.", "No."])
    assert alignment.per_sentence == [[], []]
    assert alignment.unmatched == ["Yes, the park opened in May after years of delay."]


def test_align_gold_fuzzy_fallback() -> None:
    example = _example([("The park finally opened in May 2020 to large crowds.", 0, 0)])
    sources = Sources.from_documents(example.to_documents())
    close = align_gold(example, sources, ["The park opened in May 2020 to large crowds."])
    assert close.per_sentence == [[1]]
    far = align_gold(example, sources, ["A park opened."])
    assert far.per_sentence == [[]]


def test_align_gold_rejects_links_outside_sources() -> None:
    example = _example([("Anything here.", 0, 9)])
    sources = Sources.from_documents(example.to_documents())
    with pytest.raises(InvalidInputError, match="outside the sources"):
        align_gold(example, sources, ["Anything here."])


def test_align_gold_first_mds_example(mds_path: Path) -> None:
    example = load_aftg(mds_path, limit=1)[0]
    sources = Sources.from_documents(example.to_documents())
    assert example.reference is not None
    answer = [example.reference[a:b] for a, b in split_sentences(example.reference)]
    alignment = align_gold(example, sources, answer)
    assert len(alignment.per_sentence) == 7
    assert alignment.unmatched == []
    g = sources.global_id
    assert alignment.per_sentence[0] == sorted([g(0, 0), g(0, 1), g(0, 2), g(1, 1)])
    assert alignment.per_sentence[2] == [g(0, 5)]
    # The gold string lost the opening quote; the split sentence keeps it.
    assert answer[5].startswith('"A Romney')
    assert alignment.per_sentence[5] == sorted([g(0, 17), g(0, 18), g(1, 16), g(1, 17)])
    assert alignment.per_sentence[6] == []  # "Click for NPR's ..." has no gold link
    # Every gold link lands on exactly one answer sentence here.
    links = {(k.answer_sentence, k.doc_index, k.sent_index) for k in example.gold}
    assert sum(len(ids) for ids in alignment.per_sentence) == len(links) == 21

    # A perfect attributor scores 1.
    perfect = gold_citation_scores(alignment.per_sentence, alignment.per_sentence)
    assert perfect.micro is not None and perfect.micro.f1 == 1.0
    assert perfect.sentences == 6


def test_ranked_citations_keeps_order_dedupes_and_drops_invalid() -> None:
    _, attribution = attributed(["A.", "B."], [[3, 1, 3], [99, 2]])
    sources = Sources.from_documents(["One. Two. Three."])
    assert ranked_citations(attribution) == [[3, 1], [99, 2]]
    assert ranked_citations(attribution, sources) == [[3, 1], [2]]


# --------------------------------------------------------------------- drop/hold

FOUR = Sources.from_documents(["Alpha fact. Beta fact. Gamma fact. Filler text."])


def test_drop_and_hold_hand_computed() -> None:
    # Sentence 0 needs S1 and cites it; sentence 1 needs S2+S3 and cites both;
    # sentence 2 cites nothing. Each sentence has two tokens, so the full
    # context gives 2 * -0.5 = -1 and no context 2 * -3 = -6.
    answer, attribution = attributed(["Alpha one.", "Beta two.", "Loose end."], [[1], [2, 3], []])
    spans = [(s.sentence.start, s.sentence.end) for s in attribution.sentences]
    scorer = SupportScorer(spans, [{1}, {2, 3}, set()])
    scores = drop_and_hold(answer, attribution, FOUR, scorer, question="What?")

    s0, s1, s2 = scores.sentences
    assert (s0.full, s0.empty) == (-1.0, -6.0)
    assert s0.drop == pytest.approx(5.0) and s1.drop == pytest.approx(5.0)
    assert s0.hold == pytest.approx(0.0) and s0.hold_share == pytest.approx(1.0)
    # Removing as many random *other* sources never touches the support here.
    assert s0.random_drop == pytest.approx(0.0) and s1.random_drop == pytest.approx(0.0)
    assert s2.cited == [] and s2.drop is None and s2.hold is None and s2.random_drop is None
    assert scores.mean_drop == pytest.approx(5.0)
    assert scores.fidelity == pytest.approx(5.0)
    assert scores.win_rate == 1.0
    # One call per condition: full, empty, drop, hold, random.
    assert scores.scorer_calls == 5 == len(scorer.calls)
    assert [len(c) for c in scorer.calls] == [1, 1, 2, 2, 2]
    assert scores.forward_passes == 8
    assert "Question: What?" in scorer.calls[0][0]
    assert "S1:" not in scorer.calls[2][0] and "S2:" in scorer.calls[2][0]  # drop of sentence 0
    assert "S1:" in scorer.calls[3][0] and "S2:" not in scorer.calls[3][0]  # hold of sentence 0


def test_drop_and_hold_partial_citation_and_control() -> None:
    # Needs S1+S2 but cites only S1. The only other source is S2, so the
    # random control is forced to remove S2: it hurts as much as the citation.
    two = Sources.from_documents(["Alpha fact. Beta fact."])
    answer, attribution = attributed(["Alpha beta."], [[1]])
    scorer = SupportScorer([(0, len(answer))], [{1, 2}])
    scores = drop_and_hold(answer, attribution, two, scorer, random_repeats=3)
    (row,) = scores.sentences
    assert row.drop == pytest.approx(-1.0 - -3.5)
    assert row.hold == pytest.approx(-2.5)
    assert row.hold_share == pytest.approx(0.5)
    assert row.random_drop == pytest.approx(2.5)
    assert scores.fidelity == pytest.approx(0.0)
    assert scores.win_rate == 0.0
    assert [len(c) for c in scorer.calls] == [1, 1, 1, 1, 3]


def test_drop_and_hold_mean_reduce_and_no_gain() -> None:
    answer, attribution = attributed(["Alpha one."], [[4]])
    scorer = SupportScorer([(0, len(answer))], [set()])  # context never helps
    scores = drop_and_hold(answer, attribution, FOUR, scorer, reduce="mean")
    (row,) = scores.sentences
    assert row.full == pytest.approx(-3.0)  # per-token mean
    assert row.drop == pytest.approx(0.0)
    assert row.hold_share is None  # nothing to keep


def test_drop_and_hold_validates() -> None:
    answer, attribution = attributed(["Alpha one."], [[1]])
    scorer = SupportScorer([(0, len(answer))], [{1}])
    with pytest.raises(InvalidInputError, match="outside the answer"):
        drop_and_hold("short", attribution, FOUR, scorer)
    with pytest.raises(InvalidInputError, match="random_repeats"):
        drop_and_hold(answer, attribution, FOUR, scorer, random_repeats=0)

    class Broken:
        def score(self, prompts: Any, target: str) -> list[Any]:
            return []

    with pytest.raises(InvalidInputError, match="returned 0 results for 1 prompts"):
        drop_and_hold(answer, attribution, FOUR, Broken())


def test_counting_scorer() -> None:
    answer, attribution = attributed(["Alpha one."], [[1]])
    counted = CountingScorer(SupportScorer([(0, len(answer))], [{1}]))
    scores = drop_and_hold(answer, attribution, FOUR, counted)
    assert counted.calls == scores.scorer_calls == 5
    assert counted.cost.forward_passes == scores.forward_passes == 5


# -------------------------------------------------------------------------- ALCE

THREE = Sources.from_documents(["Fact one. Fact two. Filler three."])


class NeedsJudge:
    """Entails iff every required source text occurs in the premise."""

    def __init__(self, needs: dict[str, set[str]]) -> None:
        self.needs = needs
        self.calls: list[tuple[str, str]] = []

    def entails(self, premise: str, hypothesis: str) -> bool:
        self.calls.append((premise, hypothesis))
        need = self.needs.get(hypothesis)
        return bool(need) and all(n in premise for n in need or ())


def test_alce_recall_precision_hand_computed() -> None:
    judge = NeedsJudge(
        {
            "Claim A.": {"Fact one."},
            "Claim AB.": {"Fact one.", "Fact two."},
            "Claim B.": {"Fact two."},
            "Claim A again.": {"Fact one."},
            "Claim A once more.": {"Fact one."},
        }
    )
    _, attribution = attributed(
        ["Claim A.", "Claim AB.", "Claim B.", "Uncited.", "Claim A again.", "Claim A once more."],
        [[1], [1, 2, 3], [1], [], [1, 99], [1, 3]],
    )
    scores = alce_citation_scores(attribution, THREE, judge)
    rows = scores.sentences
    assert [r.supported for r in rows] == [True, True, False, False, False, True]
    assert rows[1].irrelevant == [3] and rows[1].precise == 2
    assert rows[5].irrelevant == [3] and rows[5].precise == 1  # S1 alone entails
    assert rows[4].precise == 0  # invalid id: unsupported, all citations imprecise
    assert scores.recall == pytest.approx(3 / 6)
    assert scores.citations == 1 + 3 + 1 + 0 + 2 + 2
    assert scores.precision == pytest.approx((1 + 2 + 0 + 0 + 0 + 1) / 9)
    assert scores.f1 == pytest.approx(2 * 0.5 * (4 / 9) / (0.5 + 4 / 9))
    # joint checks: 1 + 1 + 1 + 1 (the invalid and uncited sentences ask nothing);
    # sentence 1: 3 singles + 3 rests; sentence 5: 2 singles + 1 rest.
    assert scores.judge_calls == len(judge.calls) == 4 + 6 + 3
    assert ("Fact one.\nFact two.\nFiller three.", "Claim AB.") in judge.calls


def test_alce_empty_answer() -> None:
    _, attribution = attributed([], [])
    scores = alce_citation_scores(attribution, THREE, NeedsJudge({}))
    assert scores.recall is None and scores.precision is None and scores.f1 is None


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("Yes", True),
        ("**No.**", False),
        ("Answer: yes", True),
        ("The answer is no.", False),
        ("yes, because the passage says so (not a guess)", True),
        ("Not supported.", False),
        ("The passage doesn't support the claim.", False),
        ("<think>Is it yes or no? The passage says...</think>\nNo", False),
        ("TRUE", True),
        ("I am unsure.", None),
        ("", None),
    ],
)
def test_parse_yes_no(reply: str, verdict: bool | None) -> None:
    assert parse_yes_no(reply) is verdict


def test_llm_judge_parses_caches_and_counts() -> None:
    llm = ScriptedChatModel(replies=["**Yes.**", "The answer is no.", "Hmm, hard to say."])
    judge = LLMJudge(llm)
    assert judge.entails("Fact one.", "Claim A.") is True
    assert judge.entails("Fact one.", "Claim A.") is True  # cached: no call
    assert judge.entails("Fact one.", "Claim B.") is False
    assert judge.entails("Fact two.", "Claim B.") is False  # unparsable → not entailed
    assert judge.calls == 3 and judge.unparsed == 1
    prompt: list[BaseMessage] = llm.calls[0][0]
    assert "Fact one." in prompt[-1].text and "Claim A." in prompt[-1].text


def test_lexical_overlap_judge() -> None:
    judge = LexicalOverlapJudge(threshold=0.6)
    assert judge.entails("The council approved the park on Monday.", "Council approved park.")
    assert not judge.entails("The council approved the park.", "The mayor resigned in anger.")


# ------------------------------------------------------------ coverage and cost


def test_coverage_counts_only_valid_citations() -> None:
    doc = Example(id="b", documents=[{"sentences": ["Real one. ", "   ", "Real two."]}])
    sources = Sources.from_documents(doc.to_documents())
    assert sources.citable_ids == [1, 3]
    _, attribution = attributed(["A.", "B.", "C.", "D."], [[1], [], [99], [2]])
    assert coverage(attribution, sources) == pytest.approx(1 / 4)
    _, empty = attributed([], [])
    assert coverage(empty, sources) is None


def test_answer_length() -> None:
    answer, attribution = attributed(["One two three.", "Four."], [[1, 1, 2], []])
    length = answer_length(answer, attribution)
    assert (length.chars, length.words, length.sentences) == (len(answer), 4, 2)
    assert length.citations_per_sentence == pytest.approx(1.0)
    assert answer_length("  ").chars == 0


def test_cost_addition_and_sum() -> None:
    a = Cost(llm_calls=2, input_tokens=10, output_tokens=3, seconds=1.5)
    b = Cost(scorer_calls=1, forward_passes=7, embedding_calls=2, seconds=0.5)
    total = a + b
    assert total == Cost(
        llm_calls=2,
        input_tokens=10,
        output_tokens=3,
        scorer_calls=1,
        forward_passes=7,
        embedding_calls=2,
        seconds=2.0,
    )
    assert sum([a, b]) == total
    assert total.total_tokens == 13
    assert a == Cost(llm_calls=2, input_tokens=10, output_tokens=3, seconds=1.5)  # unchanged


def test_cost_tracker_counts_calls_and_tokens() -> None:
    llm = ScriptedChatModel(replies=["one", "two"])
    tracker = CostTracker()
    llm.invoke("hi", config={"callbacks": [tracker]})
    llm.invoke("again", config={"callbacks": [tracker]})
    cost = tracker.cost
    assert (cost.llm_calls, cost.input_tokens, cost.output_tokens) == (2, 20, 10)
    assert cost.seconds >= 0.0 and not math.isnan(cost.seconds)
