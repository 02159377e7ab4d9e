from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    CitedSource,
    SentenceAttribution,
)
from langchain_genprog.attribute.posthoc import split_answer
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.datasets import Example
from langchain_genprog.evaluation.methods import (
    ALCEMethod,
    GenerationProgramsMethod,
    GenerationProgramsMExGenMethod,
    Method,
    PosthocEmbeddingMethod,
    PosthocMExGenMethod,
    example_sources,
    parse_cited_answer,
)
from langchain_genprog.segment.sources import Sources
from tests.unit_tests.evaluation.helpers import OverlapScorer, WordEmbeddings
from tests.unit_tests.fakes import ScriptedChatModel

SOURCES = Sources.from_documents(["One. Two. Three. Four. Five. Six."])

# ------------------------------------------------------------------ marker parsing


@pytest.mark.parametrize(
    ("reply", "answer", "citations"),
    [
        (
            "The park opened [S1][S3]. It cost $2 million [S2, S4].",
            "The park opened. It cost $2 million.",
            [[1, 3], [2, 4]],
        ),
        ("Rain fell [3]. Crowds came [1, 2].", "Rain fell. Crowds came.", [[3], [1, 2]]),
        (
            "The park opened. [S1] It cost a lot. [S2]",
            "The park opened. It cost a lot.",
            [[1], [2]],
        ),
        ("A fact [S2; S5]. Another [S3-S5].", "A fact. Another.", [[2, 5], [3, 4, 5]]),
        ("Twice [S1] [S1][ S2 ,S3 ].", "Twice.", [[1, 2, 3]]),
        ("It rose (S4) in 2012 (2012).", "It rose in 2012 (2012).", [[4]]),
        ("The park [S1]opened.", "The park opened.", [[1]]),
        ("Answer: It opened [S2].\n\nReferences: [S2] Two.", "It opened.", [[2]]),
        ("No citations here. None at all.", "No citations here. None at all.", [[], []]),
        ("[S6] Leading marker. Next one [S5].", "Leading marker. Next one.", [[6], [5]]),
        ("Line one [S1].\nLine two [s2].", "Line one. Line two.", [[1], [2]]),
    ],
)
def test_parse_cited_answer(reply: str, answer: str, citations: list[list[int]]) -> None:
    parsed = parse_cited_answer(reply, SOURCES)
    assert parsed.answer == answer
    assert parsed.citations == citations
    assert parsed.invalid == []
    for sentence in parsed.sentences:
        assert parsed.answer[sentence.start : sentence.end] == sentence.text


def test_parse_cited_answer_drops_invalid_ids() -> None:
    parsed = parse_cited_answer("It happened [S2][S99]. Then [S0].", SOURCES)
    assert parsed.citations == [[2], []]
    assert parsed.invalid == [99, 0]
    unchecked = parse_cited_answer("It happened [S2][S99].")
    assert unchecked.citations == [[2, 99]] and unchecked.invalid == []


# ------------------------------------------------------------------------ methods

EXAMPLE = Example(
    id="e1",
    question="When did the park open?",
    documents=[
        {"sentences": ["The park opened in May. ", "It cost two million dollars."]},
        {"sentences": ["Crowds came to the park. ", "The mayor spoke."]},
    ],
    reference="The park opened in May. The mayor spoke to crowds.",
)


def test_alce_method_parses_markers_and_counts_cost() -> None:
    llm = ScriptedChatModel(replies=["The park opened in May [S1]. It cost a lot [S2][S9]."])
    method = ALCEMethod(llm, max_sentences=3)
    assert isinstance(method, Method)
    out = method.run(EXAMPLE)
    assert out.answer == "The park opened in May. It cost a lot."
    assert [[c.sentence_id for c in s.citations] for s in out.attribution.sentences] == [
        [1],
        [2],
    ]
    assert out.metadata["invalid_citations"] == [9]
    assert (out.cost.llm_calls, out.cost.input_tokens, out.cost.output_tokens) == (1, 10, 5)
    assert out.cost.seconds > 0
    assert not out.attributes_reference
    messages: list[BaseMessage] = llm.calls[0][0]
    assert "at most 3 sentences" in messages[0].text
    assert "[S3]" in messages[0].text  # the citation instruction
    assert "S1: The park opened in May." in messages[-1].text
    assert "Question: When did the park open?" in messages[-1].text


def test_rambling_replies_are_cut_to_max_sentences() -> None:
    reply = "One fact [S1]. Two facts [S2]. Three facts [S3]. Four facts [S4]."
    alce = ALCEMethod(ScriptedChatModel(replies=[reply]), max_sentences=2).run(EXAMPLE)
    assert alce.answer == "One fact. Two facts."
    assert [[c.sentence_id for c in s.citations] for s in alce.attribution.sentences] == [
        [1],
        [2],
    ]
    assert alce.metadata["sentences_dropped"] == 2

    plain = PosthocEmbeddingMethod(
        ScriptedChatModel(replies=[reply]), WordEmbeddings(), max_sentences=3
    ).run(EXAMPLE)
    assert plain.answer == "One fact. Two facts. Three facts."
    assert len(plain.attribution.sentences) == 3
    assert plain.metadata["sentences_dropped"] == 1


def test_alce_replies_are_cut_to_the_word_budget() -> None:
    reply = "One fact here [S1]. Two more facts [S2]. Three [S3]."
    alce = ALCEMethod(ScriptedChatModel(replies=[reply]), max_sentences=3, max_words=6).run(EXAMPLE)
    assert alce.answer == "One fact here. Two more facts."  # 6 words; "Three" makes 7
    assert alce.metadata["sentences_dropped"] == 1
    tight = ALCEMethod(ScriptedChatModel(replies=[reply]), max_words=2).run(EXAMPLE)
    assert tight.answer == "One fact here."  # the first sentence is kept whatever the budget
    assert [[c.sentence_id for c in s.citations] for s in tight.attribution.sentences] == [[1]]
    with pytest.raises(InvalidInputError, match="max_words"):
        ALCEMethod(ScriptedChatModel(replies=[]), max_words=0)


def test_embedding_method_on_reference_cites_most_similar() -> None:
    embeddings = WordEmbeddings()
    method = PosthocEmbeddingMethod(None, embeddings, top_k=1, answer_from="reference")
    out = method.run(EXAMPLE)
    assert out.attributes_reference
    assert out.answer == EXAMPLE.reference
    cited = [[c.sentence_id for c in s.citations] for s in out.attribution.sentences]
    assert cited == [[1], [4]]
    assert out.attribution.unit_ids == [1, 2, 3, 4]
    assert out.attribution.matrix is not None and len(out.attribution.matrix) == 2
    assert out.attribution.matrix[0][0] == pytest.approx(1.0)
    assert (out.cost.embedding_calls, out.cost.llm_calls) == (2, 0)
    assert embeddings.calls == 2


def test_embedding_method_generates_plain_answer_without_markers() -> None:
    llm = ScriptedChatModel(replies=["The park opened in May [S1]. The mayor spoke."])
    method = PosthocEmbeddingMethod(llm, WordEmbeddings(), top_k=2)
    out = method.run(EXAMPLE)
    assert out.answer == "The park opened in May. The mayor spoke."  # stray marker stripped
    assert [len(s.citations) for s in out.attribution.sentences] == [2, 2]
    assert out.cost.llm_calls == 1
    assert "Do not mention sentence ids" in llm.calls[0][0][0].text


def test_method_argument_checks() -> None:
    with pytest.raises(InvalidInputError, match="needs a chat model"):
        PosthocEmbeddingMethod(None, WordEmbeddings())
    with pytest.raises(InvalidInputError, match="top_k"):
        PosthocEmbeddingMethod(None, WordEmbeddings(), top_k=0, answer_from="reference")
    with pytest.raises(InvalidInputError, match="max_sentences"):
        ALCEMethod(ScriptedChatModel(), max_sentences=0)
    no_reference = EXAMPLE.model_copy(update={"reference": None})
    method = PosthocEmbeddingMethod(None, WordEmbeddings(), answer_from="reference")
    with pytest.raises(InvalidInputError, match="no reference"):
        method.run(no_reference)


class RecordingAttributor:
    """Cites every answer sentence to S1 with a score, like a measuring attributor."""

    name = "fake-mexgen"

    def __init__(self) -> None:
        self.seen: list[tuple[list[AnswerSentence], str | None]] = []

    def attribute(
        self,
        sentences: Sequence[AnswerSentence],
        sources: Sources,
        *,
        question: str | None = None,
    ) -> AttributionResult:
        self.seen.append((list(sentences), question))
        return AttributionResult(
            method=self.name,
            model_calls=7,
            sentences=[
                SentenceAttribution(
                    sentence=s,
                    citations=[CitedSource(sentence_id=1, score=0.9, method=self.name)],
                )
                for s in sentences
            ],
        )


def test_posthoc_mexgen_with_attributor() -> None:
    attributor = RecordingAttributor()
    method = PosthocMExGenMethod(None, attributor=attributor, answer_from="reference")
    out = method.run(EXAMPLE)
    sentences, question = attributor.seen[0]
    assert [s.text for s in sentences] == ["The park opened in May.", "The mayor spoke to crowds."]
    assert all(out.answer[s.start : s.end] == s.text for s in sentences)
    assert question == EXAMPLE.question
    assert out.cost.forward_passes == 7
    assert out.attribution.method == "fake-mexgen"


def test_posthoc_mexgen_with_function() -> None:
    seen: dict[str, Any] = {}

    def attribute_fn(
        answer: str, documents: Sequence[Document], question: str | None = None
    ) -> AttributionResult:
        seen.update(answer=answer, documents=documents, question=question)
        sources = Sources.from_documents(documents)
        return RecordingAttributor().attribute(split_answer(answer), sources)

    method = PosthocMExGenMethod(None, attribute_fn=attribute_fn, answer_from="reference")
    out = method.run(EXAMPLE)
    assert seen["answer"] == EXAMPLE.reference
    assert len(seen["documents"]) == 2 and seen["question"] == EXAMPLE.question
    assert len(out.attribution.sentences) == 2

    def wrong(answer: str, documents: Sequence[Document], question: str | None = None) -> Any:
        return "not an attribution"

    bad = PosthocMExGenMethod(None, attribute_fn=wrong, answer_from="reference")
    with pytest.raises(InvalidInputError, match="expected an AttributionResult"):
        bad.run(EXAMPLE)
    with pytest.raises(InvalidInputError, match="not both"):
        PosthocMExGenMethod(
            None,
            attributor=RecordingAttributor(),
            attribute_fn=attribute_fn,
            answer_from="reference",
        )


def test_posthoc_mexgen_default_runs_real_mexgen_with_a_fake_scorer() -> None:
    # The default path: posthoc.attribute with one MExGenAttributor built once.
    scorer = OverlapScorer()
    method = PosthocMExGenMethod(
        None,
        scorer=scorer,
        attributor_options={"levels": ("sentence",), "method": "loo", "top_k": 1},
        answer_from="reference",
    )
    out = method.run(EXAMPLE)
    cited = [[c.sentence_id for c in s.citations] for s in out.attribution.sentences]
    # "The park opened in May." is S1's words; "The mayor spoke to crowds." is S4's and S3's.
    assert cited[0] == [1]
    assert cited[1][0] in (3, 4)
    assert out.cost.forward_passes == out.attribution.model_calls > 0
    assert scorer.prompts > 0


def _planner_and_operations(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
    if "Program:" in messages[-1].text:
        return "- paraphrase(S1)\n- fusion(S3, S4)"
    return "A rewritten sentence."


def test_generation_programs_method_cites_program_leaves() -> None:
    llm = ScriptedChatModel(respond=_planner_and_operations)
    # The gate would drop the repeated, unsupported sentence: this test is the plumbing.
    out = GenerationProgramsMethod(llm, plan_mode="text", grounding="off").run(EXAMPLE)
    assert out.answer == "A rewritten sentence. A rewritten sentence."
    cited = [[c.sentence_id for c in s.citations] for s in out.attribution.sentences]
    assert cited == [[1], [3, 4]]
    assert all(c.from_program for s in out.attribution.sentences for c in s.citations)
    assert out.metadata["program"] == "- paraphrase(S1)\n- fusion(S3, S4)"
    assert out.cost.llm_calls == 3  # plan + paraphrase + fusion
    assert (out.cost.input_tokens, out.cost.output_tokens) == (30, 15)


def test_generation_programs_with_measuring_attributor() -> None:
    llm = ScriptedChatModel(respond=_planner_and_operations)
    method = GenerationProgramsMExGenMethod(llm, RecordingAttributor(), plan_mode="text")
    assert method.name == "genprog-mexgen"
    out = method.run(EXAMPLE)
    assert out.attribution.method == "fake-mexgen"
    assert out.cost.forward_passes == 7
    assert example_sources(EXAMPLE).ids == [1, 2, 3, 4]
