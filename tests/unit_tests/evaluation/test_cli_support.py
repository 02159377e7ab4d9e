from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.cli_support import (
    METHOD_NAMES,
    build_methods,
    eval_command_impl,
    load_examples,
)
from langchain_genprog.evaluation.methods import (
    ALCEMethod,
    GenerationProgramsMExGenMethod,
    PosthocMExGenMethod,
)
from tests.unit_tests.evaluation.helpers import OverlapScorer, WordEmbeddings
from tests.unit_tests.evaluation.test_methods import RecordingAttributor
from tests.unit_tests.fakes import ScriptedChatModel


def _first_two_sources(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
    return "The GOP could gain governors [S1][S3]. Polls show close races [S6]."


def test_eval_command_on_first_mds_example(mds_path: Path, tmp_path: Path) -> None:
    llm = ScriptedChatModel(respond=_first_two_sources)
    summary = eval_command_impl(
        str(mds_path),
        "aftg",
        ["alce", "posthoc-embed"],
        llm,
        1,
        str(tmp_path),
        judge="lexical",
        embeddings=WordEmbeddings(),
        posthoc_answer="reference",
        progress=False,
    )
    assert summary.ran == 2 and summary.failed == 0
    alce, embed = summary.methods["alce"], summary.methods["posthoc-embed"]
    assert alce["coverage"] == 1.0 and alce["citations_per_sentence"] == 1.5
    assert "gold_f1_micro@all" not in alce  # a generated answer has no gold links
    assert embed["gold_sentences"] == 6  # the reference's sentences with gold links
    assert embed["gold_precision_micro@1"] is not None
    assert embed["alce_recall"] is not None
    assert json.loads(Path(summary.summary_json).read_text()) == summary.methods
    assert Path(summary.report).exists()


def test_load_examples_formats(mds_path: Path, tmp_path: Path) -> None:
    assert len(load_examples(mds_path, "aftg", limit=2)) == 2
    own = tmp_path / "own.jsonl"
    own.write_text(json.dumps({"id": "a", "documents": [{"text": "One. Two."}]}) + "\n")
    assert [e.id for e in load_examples(own, "jsonl")] == ["a"]
    with pytest.raises(InvalidInputError, match="unknown data format"):
        load_examples(own, "csv")  # type: ignore[arg-type]


def test_build_methods_names_and_injection() -> None:
    llm = ScriptedChatModel()
    methods = build_methods(
        ["alce", "genprog-mexgen", "posthoc-mexgen"],
        llm,
        scorer=OverlapScorer(),
        attributor_factory=lambda scorer: RecordingAttributor(),
    )
    assert [m.name for m in methods] == ["alce", "genprog-mexgen", "posthoc-mexgen"]
    assert isinstance(methods[0], ALCEMethod)
    assert isinstance(methods[1], GenerationProgramsMExGenMethod)
    assert isinstance(methods[2], PosthocMExGenMethod)
    assert set(METHOD_NAMES) == {
        "genprog",
        "genprog-mexgen",
        "genprog+refine",
        "alce",
        "posthoc-mexgen",
        "posthoc-embed",
    }
    with pytest.raises(InvalidInputError, match="unknown method"):
        build_methods(["magic"], llm)
    with pytest.raises(InvalidInputError, match="once"):
        build_methods(["alce", "alce"], llm)
    with pytest.raises(InvalidInputError, match="at least one"):
        build_methods([], llm)
