from __future__ import annotations

import pytest

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.execute.trace import NodeTrace
from langchain_genprog.refine import (
    CheckUsage,
    EmbeddingNodeChecker,
    JudgeNodeChecker,
    NodeChecker,
    ScorerNodeChecker,
    looping,
    precheck,
)
from tests.unit_tests.refine.fakes import BagOfWordsEmbeddings, OverlapScorer, join, words

A = "The council approved the park."
B = "It will cost two million dollars."


def node(operation: str, inputs: list[str], output: str, **extra: object) -> NodeTrace:
    return NodeTrace(line=1, path="0", operation=operation, inputs=inputs, output=output, **extra)


# ------------------------------------------------------------------ model-free checks


def test_precheck_rejects_empty_looping_and_runaway_outputs() -> None:
    assert precheck(node("paraphrase", [A], A), checker="x") is None
    empty = precheck(node("paraphrase", [A], " ... "), checker="x")
    assert empty is not None and not empty.supported and "empty" in empty.reason
    loop = precheck(
        node("paraphrase", [A], "the park is open, the park is open, the park is open"), checker="x"
    )
    assert loop is not None and not loop.supported and "repeats" in loop.reason
    long = " ".join(f"word{k}" for k in range(40))
    runaway = precheck(node("paraphrase", [A], long), checker="x")
    assert runaway is not None and not runaway.supported and "longer" in runaway.reason
    failed = precheck(node("fusion", [A, B], "", error="boom"), checker="x")
    assert failed is not None and not failed.supported and "boom" in failed.reason
    copy = precheck(node("extract", [A], A), checker="x")
    assert copy is not None and copy.supported
    assert looping("a b c a b c a b c") and not looping("a b c a b c")


# ------------------------------------------------------------------ embeddings


def test_embedding_checker_catches_a_fusion_that_copies_one_input() -> None:
    checker = EmbeddingNodeChecker(BagOfWordsEmbeddings())
    copied = checker.check(node("fusion", [A, B], A))
    assert not copied.supported
    assert copied.reason.startswith("it copies input 1 and leaves out input 2")
    assert B in copied.reason
    assert copied.details["similarity_2"] < copied.details["threshold_2"]
    fused = checker.check(node("fusion", [A, B], join([A, B])))
    assert fused.supported and fused.score > copied.score
    assert isinstance(checker, NodeChecker)


def test_embedding_checker_threshold_follows_input_redundancy() -> None:
    # Near-duplicate inputs: copying one of them covers the other (threshold capped).
    a2 = "The council approved the new park."
    checker = EmbeddingNodeChecker(BagOfWordsEmbeddings(), max_threshold=0.85)
    verdict = checker.check(node("fusion", [A, a2], A))
    assert verdict.supported, verdict
    # Related but distinct inputs: the copy is exactly as close as the inputs are: fails.
    c = "The council approved the budget on Monday."
    assert not checker.check(node("fusion", [A, c], A)).supported
    assert checker.check(node("fusion", [A, c], join([A, c]))).supported


def test_embedding_checker_unary_drift_and_usage_with_cache() -> None:
    embeddings = BagOfWordsEmbeddings()
    checker = EmbeddingNodeChecker(embeddings)
    usage = CheckUsage()
    verdicts = checker.check_many(
        [
            node("paraphrase", [A], "The park was approved by the council."),
            node("compression", [B], "Bananas are yellow."),
            node("paraphrase", [A], ""),  # decided without embeddings
        ],
        usage=usage,
    )
    assert [v.supported for v in verdicts] == [True, False, False]
    assert verdicts[1].reason == "it does not say what its input says"
    assert verdicts[1].details["similarity"] < verdicts[1].details["threshold"]
    assert usage.checks == 3 and usage.embedding_calls == 1 and embeddings.calls == 1
    # Inputs and outputs already embedded are not embedded again.
    checker.check_many(
        [node("paraphrase", [A], "The park was approved by the council.")], usage=usage
    )
    assert embeddings.calls == 1 and usage.embedding_calls == 1 and usage.checks == 4


async def test_embedding_checker_async_agrees_with_sync() -> None:
    traces = [node("fusion", [A, B], A), node("paraphrase", [B], B)]
    sync = EmbeddingNodeChecker(BagOfWordsEmbeddings()).check_many(traces)
    usage = CheckUsage()
    asynchronous = await EmbeddingNodeChecker(BagOfWordsEmbeddings()).acheck_many(
        traces, usage=usage
    )
    assert asynchronous == sync and usage.embedding_calls == 1
    one = await EmbeddingNodeChecker(BagOfWordsEmbeddings()).acheck(traces[1])
    assert one.supported


def test_embedding_checker_argument_checks() -> None:
    with pytest.raises(InvalidInputError, match="margin"):
        EmbeddingNodeChecker(BagOfWordsEmbeddings(), margin=2.0)
    with pytest.raises(InvalidInputError, match="cache_size"):
        EmbeddingNodeChecker(BagOfWordsEmbeddings(), cache_size=-1)
    with pytest.raises(InvalidInputError, match="max_growth"):
        EmbeddingNodeChecker(BagOfWordsEmbeddings(), max_growth=0)


# ------------------------------------------------------------------ judge


class ContainmentJudge:
    """Entailed when every hypothesis word is in the premise."""

    def __init__(self) -> None:
        self.calls = 0

    def entails(self, premise: str, hypothesis: str) -> bool:
        self.calls += 1
        return set(words(hypothesis)) - {"and"} <= set(words(premise))


def test_judge_checker_entailment_and_optional_coverage() -> None:
    judge = ContainmentJudge()
    plain = JudgeNodeChecker(judge)
    usage = CheckUsage()
    verdicts = plain.check_many(
        [node("fusion", [A, B], A), node("paraphrase", [A], "The mayor resigned.")], usage=usage
    )
    assert [v.supported for v in verdicts] == [True, False]  # a copy *is* entailed
    assert verdicts[1].reason == "its inputs do not entail it"
    assert usage.judge_calls == 2 == judge.calls

    strict = JudgeNodeChecker(ContainmentJudge(), check_coverage=True)
    copied = strict.check(node("fusion", [A, B], A))
    assert not copied.supported and "leaves out input 2" in copied.reason
    assert copied.score == pytest.approx(2 / 3)
    assert strict.check(node("fusion", [A, B], join([A, B]))).supported
    with pytest.raises(InvalidInputError, match="entails"):
        JudgeNodeChecker(object())  # type: ignore[arg-type]


# ------------------------------------------------------------------ scorer


def test_scorer_checker_gain_and_left_out_inputs() -> None:
    scorer = OverlapScorer()
    checker = ScorerNodeChecker(scorer)
    usage = CheckUsage()
    copied, fused, invented = checker.check_many(
        [
            node("fusion", [A, B], A),
            node("fusion", [A, B], join([A, B])),
            node("paraphrase", [A], "Bananas are yellow."),
        ],
        usage=usage,
    )
    assert not copied.supported and "does not use input 2" in copied.reason
    assert copied.details["input_gain_1"] > 0 and copied.details["input_gain_2"] == 0
    assert fused.supported and fused.details["gain"] > 1
    assert not invented.supported and invented.reason == "its inputs do not make it more likely"
    assert usage.scorer_calls == 3 and usage.forward_passes == 4 + 4 + 2
    assert [len(p) for p in scorer.calls] == [4, 4, 2]
