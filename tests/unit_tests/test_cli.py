from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def test_answer_max_words_leaves_out_and_reports_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "load_chat_model", lambda model, base_url: grammar_model())
    doc = tmp_path / "park.txt"
    doc.write_text(
        "The council approved the park. The park opened in May. The mayor was pleased. "
        "Rain fell all day. Children played on the grass. The band played until dark."
    )
    args = ["answer", str(doc), "-q", "What happened?", "--quiet"]
    unbounded = CliRunner().invoke(cli.main, args)
    bounded = CliRunner().invoke(cli.main, [*args, "--max-words", "1"])
    assert unbounded.exit_code == 0 and bounded.exit_code == 0, bounded.output
    assert "2 cited sentences" in unbounded.output and "left out" not in unbounded.output
    assert "1 cited sentences" in bounded.output
    assert "planner issue: line 2" in bounded.output and "max_words=1" in bounded.output


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


@pytest.fixture
def attributed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, int]]:
    """``(config, model calls)`` of each post hoc attribution the CLI runs, on a keyword scorer."""
    spans = [(0, 23), (24, len(ANSWER))]
    monkeypatch.setattr(
        posthoc, "default_scorer", lambda: KeywordScorer([{"opened": 3.0}, {"mayor": 3.0}], spans)
    )
    seen: list[tuple[Any, int]] = []
    original = posthoc.attribute

    def spy(*args, **options):
        result = original(*args, **options)
        seen.append((options["config"], result.model_calls))
        return result

    monkeypatch.setattr(posthoc, "attribute", spy)
    return seen


def test_attribute_command_passes_the_sampling_design(
    docs: list[str], attributed: list[tuple[Any, int]]
) -> None:
    for design in ("constrained", "orthogonal"):
        result = CliRunner().invoke(
            cli.main, ["attribute", *docs, "--answer", ANSWER, "--sampling", design, "--quiet"]
        )
        assert result.exit_code == 0, result.output
        assert "The park opened in May. [S2]" in result.output
    # 4 units: constrained C-LIME measures the empty set, 4 singletons and 6 pairs;
    # the orthogonal design 5 blocks of 8 rows, with repeats measured once.
    seen = [(config.sampling, calls) for config, calls in attributed]
    assert seen[0] == ("constrained", 11)
    assert seen[1][0] == "orthogonal" and seen[1][1] != 11


def test_attribute_command_passes_the_screen(
    docs: list[str], attributed: list[tuple[Any, int]]
) -> None:
    for screen in ("priors", "blocks"):
        args = ["attribute", *docs, "--answer", ANSWER, "--scheme", "coarse-to-fine"]
        result = CliRunner().invoke(cli.main, [*args, "--screen", screen, "--quiet"])
        assert result.exit_code == 0, result.output
    # the priors pick the candidates for free; blocks add their coarse calls
    seen = [(config.screen, calls) for config, calls in attributed]
    assert seen[0] == ("priors", 16)
    assert seen[1][0] == "blocks" and seen[1][1] > 16


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
    monkeypatch.setattr(cli_support, "load_chat_model", lambda model, base_url: grammar_model())
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
        options = attributor.config
        seen.update(method=options.method, levels=options.levels, budget=options.budget)
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


def test_eval_passes_concurrency_and_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_genprog.evaluation import cli_support

    seen: dict[str, object] = {}

    def fake_impl(*args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        raise cli_support.InvalidInputError("stop here")

    monkeypatch.setattr(cli_support, "eval_command_impl", fake_impl)
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    args = ["eval", "--data", str(data), "--concurrency", "4", "--quiet"]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 1 and "stop here" in result.output
    assert seen["concurrency"] == 4 and seen["progress"] is False
    result = CliRunner().invoke(cli.main, ["eval", "--data", str(data), "--concurrency", "0"])
    assert result.exit_code == 2 and "--concurrency" in result.output


def test_mexgen_options_are_validated_once_into_one_config(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("{}\n")
    result = CliRunner().invoke(
        cli.main, ["eval", "--data", str(data), "--mexgen-max-seconds", "-1"]
    )
    assert result.exit_code == 1
    assert "InvalidInputError: invalid MExGen options: budget.max_seconds" in result.output


# -- sources from the sample, stdin and a folder (no dataset needed) ---------------------------


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Replace the model loader; records the (model, base_url) each run asked for."""
    asked: list[tuple[str, str | None]] = []

    def load(model: str, base_url: str | None) -> object:
        asked.append((model, base_url))
        return grammar_model()

    monkeypatch.setattr(cli, "load_chat_model", load)
    return asked


def test_answer_sample_runs_with_no_data(
    fake_model: list[tuple[str, str | None]], tmp_path: Path
) -> None:
    from langchain_genprog.examples import sample_question

    out = tmp_path / "demo.json"
    result = CliRunner().invoke(cli.main, ["answer", "--sample", "--quiet", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Question: {sample_question()}" in result.output
    assert "[S" in result.output
    data = json.loads(out.read_text())
    assert data["question"] == sample_question()
    assert {s["doc_index"] for s in data["sources"]} == {0, 1, 2}
    assert data["sources"][0]["text"].startswith("The tidal pilot in Eskerby will cost")
    assert fake_model == [("embedded", None)]


def test_answer_reads_one_document_from_stdin(fake_model: list[tuple[str, str | None]]) -> None:
    text = "The council approved the park. The park opened in May. The mayor was pleased."
    result = CliRunner().invoke(
        cli.main, ["answer", "-", "-q", "When did the park open?", "--quiet"], input=text
    )
    assert result.exit_code == 0, result.output
    assert "Answer:" in result.output and "[S" in result.output


def test_answer_reads_a_folder_of_text_files(
    fake_model: list[tuple[str, str | None]], tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "b.md").write_text("The mayor was pleased with the vote. Rain fell all day.")
    (folder / "a.txt").write_text("The council approved the park. The park opened in May.")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")  # not plain text: skipped
    (folder / ".hidden.txt").write_text("An editor's swap file.")
    (folder / "sub").mkdir()
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        cli.main, ["answer", "--docs-dir", str(folder), "--quiet", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    sources = json.loads(out.read_text())["sources"]
    assert [(s["doc_index"], s["text"][:12]) for s in sources] == [
        (0, "The council "),
        (0, "The park ope"),
        (1, "The mayor wa"),
        (1, "Rain fell al"),
    ]


@pytest.mark.parametrize(
    ("setup", "args", "stdin", "fragment"),
    [
        ("empty-dir", ["--docs-dir", "{dir}"], None, "holds no plain-text files"),
        ("blank-file", ["{dir}/blank.txt"], None, "InvalidSourcesError"),
        ("none", ["-"], "  \n", "InvalidSourcesError: stdin is empty"),
        ("none", ["-", "-"], "text", "stdin (-) can be read only once"),
        ("blank-file", ["--sample", "{dir}/blank.txt"], None, "exactly one of"),
        ("none", ["--docs-dir", "{dir}/missing"], None, "does not exist"),
        ("latin1", ["{dir}/latin1.txt"], None, "is not UTF-8"),
    ],
)
def test_empty_or_missing_sources_are_typed_errors(
    fake_model: list[tuple[str, str | None]],
    tmp_path: Path,
    setup: str,
    args: list[str],
    stdin: str | None,
    fragment: str,
) -> None:
    if setup == "blank-file":
        (tmp_path / "blank.txt").write_text(" \n\n")
    elif setup == "latin1":
        (tmp_path / "latin1.txt").write_bytes("Caf\xe9 au lait.".encode("latin-1"))
    argv = ["answer", *(a.format(dir=tmp_path) for a in args), "--quiet"]
    result = CliRunner().invoke(cli.main, argv, input=stdin)
    assert result.exit_code != 0
    assert fragment in result.output
    assert fake_model == []  # the model is not loaded for input that cannot be used


def test_attribute_reads_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("The council approved the park. The park opened in May.")
    (folder / "b.txt").write_text("The mayor was pleased with the vote. Rain fell all day.")
    spans = [(0, 23), (24, len(ANSWER))]
    scorer = KeywordScorer([{"opened": 3.0}, {"mayor": 3.0}], spans)
    monkeypatch.setattr(posthoc, "default_scorer", lambda: scorer)
    result = CliRunner().invoke(
        cli.main,
        ["attribute", "--docs-dir", str(folder), "--answer", ANSWER, "--method", "loo", "--quiet"],
    )
    assert result.exit_code == 0, result.output
    assert "The park opened in May. [S2]" in result.output


def test_model_options_reach_the_one_loader(fake_model: list[tuple[str, str | None]]) -> None:
    result = CliRunner().invoke(
        cli.main,
        ["answer", "--sample", "--quiet", "--model", "smollm2", "--base-url", "http://h:1/v1"],
    )
    assert result.exit_code == 0, result.output
    assert fake_model == [("smollm2", "http://h:1/v1")]
