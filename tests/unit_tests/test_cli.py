from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from langchain_genprog import cli
from langchain_genprog.attribute import posthoc
from tests.unit_tests.attribute.fakes import KeywordScorer
from tests.unit_tests.graph.test_graph import grammar_model

ANSWER = "The park opened in May. The mayor was pleased."


@pytest.fixture
def docs(tmp_path: Path) -> list[str]:
    a = tmp_path / "a.txt"
    a.write_text("The council approved the park. The park opened in May.")
    b = tmp_path / "b.txt"
    b.write_text("The mayor was pleased with the vote. Rain fell all day.")
    return [str(a), str(b)]


def test_answer_prints_cited_answer_and_writes_json_and_html(
    docs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "load_chat_model", lambda model, base_url: grammar_model())
    out, page = tmp_path / "r.json", tmp_path / "r.html"
    result = CliRunner().invoke(
        cli.main,
        ["answer", *docs, "-q", "When did the park open?", "--json", str(out), "--html", str(page)],
    )
    assert result.exit_code == 0, result.output
    assert "Answer:" in result.output and "[S" in result.output and "Program:\n- " in result.output
    data = json.loads(out.read_text())
    assert data["citations"] and data["trace"] and data["failures"] == []
    assert "src-S1" in page.read_text()


def test_attribute_command_with_scorer(
    docs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = [(0, 23), (24, len(ANSWER))]
    scorer = KeywordScorer([{"opened": 3.0}, {"mayor": 3.0}], spans)
    monkeypatch.setattr(posthoc, "default_scorer", lambda: scorer)
    out = tmp_path / "a.json"
    result = CliRunner().invoke(
        cli.main,
        ["attribute", *docs, "--answer", ANSWER, "--method", "loo", "--json", str(out), "--quiet"],
    )
    assert result.exit_code == 0, result.output
    assert "The park opened in May. [S2]" in result.output
    assert "The mayor was pleased. [S3]" in result.output
    data = json.loads(out.read_text())
    assert data["attribution"]["complete"] is True
    assert scorer.calls > 0


def test_attribute_command_passes_the_sampling_design(
    docs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = [(0, 23), (24, len(ANSWER))]
    monkeypatch.setattr(
        posthoc, "default_scorer", lambda: KeywordScorer([{"opened": 3.0}, {"mayor": 3.0}], spans)
    )
    seen: list[object] = []
    original = posthoc.attribute

    def spy(*args, **options):
        result = original(*args, **options)
        seen.append((options["sampling"], result.model_calls))
        return result

    monkeypatch.setattr(posthoc, "attribute", spy)
    for design in ("constrained", "orthogonal"):
        result = CliRunner().invoke(
            cli.main, ["attribute", *docs, "--answer", ANSWER, "--sampling", design, "--quiet"]
        )
        assert result.exit_code == 0, result.output
        assert "The park opened in May. [S2]" in result.output
    # 4 units: constrained C-LIME measures the empty set, 4 singletons and 6 pairs;
    # the orthogonal design 5 blocks of 8 rows, with repeats measured once.
    assert seen[0] == ("constrained", 11)
    assert seen[1][0] == "orthogonal" and seen[1][1] != 11


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["answer"], "exactly one of"),
        (["attribute", "--jsonl", "missing.jsonl"], "does not exist"),
    ],
)
def test_bad_invocations_explain_themselves(args: list[str], fragment: str) -> None:
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code != 0
    assert fragment in result.output


def test_attribute_needs_an_answer(docs: list[str]) -> None:
    result = CliRunner().invoke(cli.main, ["attribute", *docs])
    assert result.exit_code != 0 and "--answer" in result.output


def test_eval_command_runs_the_embedding_baseline_on_references(
    mds_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from langchain_genprog.evaluation import cli_support

    monkeypatch.setattr(
        cli_support, "_default_embeddings", lambda: DeterministicFakeEmbedding(size=16)
    )
    monkeypatch.setattr(cli, "load_chat_model", lambda model, base_url: grammar_model())
    args = [
        "eval",
        "--data",
        str(mds_path),
        "--methods",
        "posthoc-embed",
        "--limit",
        "1",
        "--posthoc-answer",
        "reference",
        "--out",
        str(tmp_path / "ev"),
    ]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    assert "posthoc-embed:" in result.output and "ran 1 pairs" in result.output
    assert (tmp_path / "ev" / "report.html").exists()
    again = CliRunner().invoke(cli.main, args)
    assert "ran 0 pairs, skipped 1" in again.output  # resumable


def test_eval_passes_the_mexgen_options_to_the_attributor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_genprog.evaluation import cli_support

    seen: dict[str, object] = {}

    def fake_impl(*args: object, attributor_factory: object, **kwargs: object) -> object:
        attributor = attributor_factory(object())  # type: ignore[operator]
        options = attributor._engine_options
        seen.update(method=options["method"], levels=options["levels"], budget=options["budget"])
        raise cli_support.InvalidInputError("stop here")

    monkeypatch.setattr(cli_support, "eval_command_impl", fake_impl)
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    args = ["eval", "--data", str(data), "--mexgen-method", "loo"]
    result = CliRunner().invoke(cli.main, [*args, "--mexgen-max-calls", "7"])
    assert result.exit_code == 1 and "stop here" in result.output
    assert seen["method"] == "loo" and seen["levels"] == ("sentence",)
    assert seen["budget"] is not None and seen["budget"].max_calls == 7  # type: ignore[attr-defined]
    CliRunner().invoke(cli.main, [*args, "--mexgen-levels", "sentence,phrase"])
    assert seen["levels"] == ("sentence", "phrase") and seen["budget"] is None
