from __future__ import annotations

from langchain_genprog.evaluation.cli_support import METHOD_NAMES, build_methods
from langchain_genprog.evaluation.datasets import Example
from langchain_genprog.evaluation.methods import (
    GenerationProgramsMethod,
    GenerationProgramsRefineMethod,
)
from langchain_genprog.refine import EmbeddingNodeChecker
from tests.unit_tests.refine.fakes import BagOfWordsEmbeddings, join, operation_model

EXAMPLE = Example(
    id="e1",
    question="What did the council decide?",
    documents=[
        {"sentences": ["The council approved the park. ", "It will cost two million dollars."]},
        {"sentences": ["Crowds came to the park. ", "The mayor spoke."]},
    ],
)
PROGRAM = "- fusion(S1, S2)\n- paraphrase(S4)"


def test_refine_method_reports_refined_answer_and_extra_cost() -> None:
    embeddings = BagOfWordsEmbeddings()
    method = GenerationProgramsRefineMethod(
        operation_model(program=PROGRAM), EmbeddingNodeChecker(embeddings), plan_mode="text"
    )
    assert method.name == "genprog+refine"
    out = method.run(EXAMPLE)
    plain = GenerationProgramsMethod(operation_model(program=PROGRAM), plan_mode="text").run(
        EXAMPLE
    )
    fused = join(["The council approved the park.", "It will cost two million dollars."])
    assert out.answer == f"{fused} The mayor spoke."
    assert plain.answer == "The council approved the park. The mayor spoke."
    cited = [[c.sentence_id for c in s.citations] for s in out.attribution.sentences]
    assert cited == [[1, 2], [4]]  # citations from the program, unchanged by refinement
    # Plan + 2 operations, then one re-run of the failing fusion.
    assert plain.cost.llm_calls == 3 and out.cost.llm_calls == 4
    assert out.cost.input_tokens == plain.cost.input_tokens + 10
    assert out.cost.embedding_calls == embeddings.calls == 2  # initial check, then the re-run
    summary = out.metadata["refinement"]
    assert summary["reruns"] == 1 and summary["llm_calls"] == 1
    assert summary["still_failing"] == [] and summary["changed_lines"] == [1]


def test_refine_method_is_registered_for_the_cli() -> None:
    assert "genprog+refine" in METHOD_NAMES
    llm = operation_model(program=PROGRAM)
    (method,) = build_methods(["genprog+refine"], llm, embeddings=BagOfWordsEmbeddings())
    assert isinstance(method, GenerationProgramsRefineMethod)
    assert method.name == "genprog+refine"
    assert "refine" in method.graph.get_graph().nodes
