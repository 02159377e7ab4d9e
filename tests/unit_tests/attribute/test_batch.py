"""``genprog attribute --batch``: a JSONL of answers in, a JSONL of citations out."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from langchain_genprog import cli
from langchain_genprog.attribute import posthoc
from langchain_genprog.attribute.batch import attribute_batch, read_attribute_batch
from langchain_genprog.models.loading import chatml_prompt, load_log_prob_scorer
from langchain_genprog.models.scoring import TargetLogProbs

PARK = "The council approved the park. The park opened in May."
RAIN = {"page_content": "Rain fell all day. The mayor was pleased.", "metadata": {"title": "B"}}
GOOD = [
    {"id": "one", "answer": "The park opened in May.", "documents": [PARK, RAIN]},
    {"id": 2, "answer": "The mayor was pleased.", "documents": [RAIN], "question": "Mood?"},
]
BAD = [
    "{not json",
    json.dumps({"id": "no-docs", "answer": "Something."}),
    json.dumps({"id": "blank", "answer": "", "documents": ["A sentence here."]}),
]


class WordScorer:
    """Each answer word scores -5, or -2 when the prompt still contains it: overlap support."""

    def __init__(self) -> None:
        self.calls = 0

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        self.calls += len(prompts)
        spans = [m.span() for m in re.finditer(r"\w+", target)]
        out = []
        for prompt in prompts:
            present = set(re.findall(r"\w+", prompt.lower()))
            values = [-2.0 if target[s:e].lower() in present else -5.0 for s, e in spans]
            out.append(TargetLogProbs(token_logprobs=values, token_offsets=spans))
        return out


@pytest.fixture
def batch_in(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    lines = [json.dumps(GOOD[0]), BAD[0], "", BAD[1], json.dumps(GOOD[1]), BAD[2]]
    path.write_text("\n".join(lines) + "\n")
    return path


def _lines(path: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_bad_lines_are_kept_as_located_errors(batch_in: Path) -> None:
    lines = read_attribute_batch(batch_in)
    assert [(line.line, line.id, line.item is not None) for line in lines] == [
        (1, "one", True),
        (2, "line-2", False),
        (4, "no-docs", False),
        (5, "2", True),
        (6, "blank", False),
    ]
    assert "not JSON" in str(lines[1].error)
    assert "documents: Field required" in str(lines[2].error)
    assert "answer: String should have at least 1 character" in str(lines[4].error)


def test_a_batch_cites_each_answer_and_records_each_bad_line(
    batch_in: Path, tmp_path: Path
) -> None:
    scorer = WordScorer()
    out = tmp_path / "out.jsonl"
    report = attribute_batch(batch_in, out, scorer, progress=False)
    assert (report.total, report.ok, report.failed) == (5, 2, 3)
    records = _lines(out)
    one = records["one"]
    assert one["status"] == "ok" and one["error"] is None and one["line"] == 1
    (sentence,) = one["citations"]
    assert sentence["text"] == "The park opened in May."
    top = sentence["citations"][0]
    assert (top["sentence_id"], top["doc_index"]) == ("S2", 0)
    assert top["text"] == "The park opened in May." and top["score"] > 0
    assert records["2"]["citations"][0]["citations"][0]["text"] == "The mayor was pleased."
    bad = records["no-docs"]
    assert bad["status"] == "error" and bad["citations"] == []
    assert bad["error"]["type"] == "InvalidInputError"
    assert bad["error"]["message"].startswith("line 4: documents: Field required")
    assert records["line-2"]["error"]["message"].startswith("line 2: not JSON")

    calls = scorer.calls
    report = attribute_batch(batch_in, out, scorer, progress=False)
    assert scorer.calls == calls and report.skipped == 5 and report.ran == 0  # resumed


def test_cli_batch_resumes_and_exits_1_on_failed_items(
    batch_in: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = WordScorer()
    monkeypatch.setattr(posthoc, "default_scorer", lambda: scorer)
    out = tmp_path / "out.jsonl"
    args = ["attribute", "--batch", str(batch_in), "--out", str(out), "--method", "loo"]
    result = CliRunner().invoke(cli.main, [*args, "--concurrency", "2", "--quiet"])
    assert result.exit_code == 1, result.output
    assert "batch: 2/5 ok, 3 failed, 0 skipped (resumed), 5 ran" in result.stderr
    assert "3 item(s) failed; see their error in" in result.stderr
    assert len(_lines(out)) == 5

    fixed = batch_in.parent / "fixed.jsonl"
    fixed.write_text("\n".join(json.dumps(g) for g in GOOD) + "\n")
    calls = scorer.calls
    result = CliRunner().invoke(cli.main, ["attribute", "--batch", str(fixed), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "batch: 2/2 ok, 0 failed, 2 skipped (resumed), 0 ran" in result.stderr
    assert scorer.calls == calls


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--answer", "x"], "a batch takes --batch IN.jsonl --out OUT.jsonl"),
        (["--model", "smollm2"], "give --base-url"),
    ],
)
def test_cli_batch_misuse_explains_itself(batch_in: Path, extra: list[str], fragment: str) -> None:
    args = ["attribute", "--batch", str(batch_in), "--out", "o.jsonl", *extra]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code != 0 and fragment in result.output


def test_a_served_scorer_wraps_prompts_as_chatml() -> None:
    scorer = load_log_prob_scorer("openai:smollm2", "http://127.0.0.1:1/v1")
    assert scorer.model == "smollm2"  # type: ignore[attr-defined]
    assert scorer.render("Q") == chatml_prompt("Q")  # type: ignore[attr-defined]
    assert chatml_prompt("Q").startswith("<|im_start|>user\nQ<|im_end|>")
    raw = load_log_prob_scorer("m", "http://127.0.0.1:1/v1", template="none")
    assert raw.render("Q") == "Q"  # type: ignore[attr-defined]
