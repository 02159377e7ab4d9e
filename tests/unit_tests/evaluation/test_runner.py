from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.cost import Cost
from langchain_genprog.evaluation.datasets import Example, GoldLink
from langchain_genprog.evaluation.judge import LexicalOverlapJudge
from langchain_genprog.evaluation.methods import MethodOutput, example_sources
from langchain_genprog.evaluation.runner import (
    REPORT_HTML,
    RESULTS_FILE,
    SUMMARY_CSV,
    SUMMARY_JSON,
    load_results,
    run_evaluation,
)
from langchain_genprog.evaluation.scoring import score_output
from langchain_genprog.models.scoring import TargetLogProbs
from tests.unit_tests.evaluation.helpers import OverlapScorer, attributed


def _example(k: int) -> Example:
    return Example(
        id=f"e{k}",
        question="What happened?",
        documents=[{"sentences": [f"The park {k} opened in May. ", "Rain fell all day."]}],
        reference=f"The park {k} opened in May. Rain fell.",
        gold=[
            GoldLink(answer_sentence=f"The park {k} opened in May.", doc_index=0, sent_index=0),
            GoldLink(answer_sentence="Rain fell.", doc_index=0, sent_index=1),
        ],
    )


EXAMPLES = [_example(k) for k in range(3)]


class FakeMethod:
    """Answers with the reference; ``cites`` picks each sentence's citations."""

    def __init__(
        self,
        name: str,
        cites: list[list[int]],
        *,
        fail_on: Callable[[Example], BaseException | None] = lambda e: None,
    ) -> None:
        self.name = name
        self.cites = cites
        self.fail_on = fail_on
        self.runs: list[str] = []

    def run(self, example: Example) -> MethodOutput:
        self.runs.append(example.id)
        error = self.fail_on(example)
        if error is not None:
            raise error
        assert example.reference is not None
        sentences = example.reference.split(". ")
        sentences = [s if s.endswith(".") else s + "." for s in sentences]
        answer, attribution = attributed(sentences, self.cites, method=self.name)
        return MethodOutput(
            answer=answer,
            attribution=attribution,
            cost=Cost(llm_calls=1, input_tokens=100, output_tokens=20, seconds=0.5),
            attributes_reference=True,
        )


def _lines(out: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (out / RESULTS_FILE).read_text().splitlines()]


def test_runs_scores_and_writes_every_file(tmp_path: Path) -> None:
    good = FakeMethod("good", [[1], [2]])
    half = FakeMethod("half", [[2], []])
    broken = FakeMethod("broken", [[1], [2]], fail_on=lambda e: RuntimeError("model down"))
    summary = run_evaluation(
        EXAMPLES,
        [good, half, broken],
        out_dir=tmp_path,
        judge=LexicalOverlapJudge(),
        scorer=OverlapScorer(),
        progress=False,
    )
    assert (summary.ran, summary.skipped, summary.failed) == (9, 0, 3)
    records = _lines(tmp_path)
    assert len(records) == 9
    assert {r["status"] for r in records if r["method"] == "broken"} == {"error"}
    assert all("model down" in str(r["error"]) for r in records if r["method"] == "broken")

    means = summary.methods
    assert means["good"]["examples"] == 3 and means["broken"]["failed"] == 3
    assert means["good"]["coverage"] == 1.0 and means["half"]["coverage"] == 0.5
    assert means["good"]["gold_f1_micro@all"] == 1.0
    assert means["half"]["gold_recall_micro@all"] == 0.0
    assert means["good"]["alce_recall"] == 1.0 and means["half"]["alce_recall"] == 0.0
    assert means["good"]["cost_total_tokens"] == 120
    # Citing the right sentence matters more than removing a random one.
    good_fidelity, half_fidelity = means["good"]["fidelity"], means["half"]["fidelity"]
    assert good_fidelity is not None and half_fidelity is not None
    assert good_fidelity > 0 > half_fidelity
    assert means["broken"].get("coverage") is None

    stored = json.loads((tmp_path / SUMMARY_JSON).read_text())
    assert stored == means
    with (tmp_path / SUMMARY_CSV).open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["method"] for r in rows] == ["good", "half", "broken"]
    assert rows[0]["coverage"] == "1" and rows[1]["coverage"] == "0.5"
    assert rows[2]["coverage"] == ""

    report = (tmp_path / REPORT_HTML).read_text()
    assert report.count("data:image/png;base64,") == 2  # bar charts + cost vs quality
    assert "Cost vs quality (alce_f1)" in report
    assert "model down" in report and "<th>half</th>" in report


def test_rerun_skips_finished_pairs_and_extends(tmp_path: Path) -> None:
    first = FakeMethod("m", [[1], [2]])
    run_evaluation(EXAMPLES, [first], out_dir=tmp_path, limit=2, progress=False)
    assert first.runs == ["e0", "e1"]

    again = FakeMethod("m", [[1], [2]])
    summary = run_evaluation(EXAMPLES, [again], out_dir=tmp_path, limit=2, progress=False)
    assert again.runs == [] and (summary.ran, summary.skipped) == (0, 2)
    assert summary.methods["m"]["examples"] == 2

    more = FakeMethod("m", [[1], [2]])
    other = FakeMethod("other", [[1], []])
    summary = run_evaluation(EXAMPLES, [more, other], out_dir=tmp_path, progress=False)
    assert more.runs == ["e2"] and other.runs == ["e0", "e1", "e2"]
    assert (summary.ran, summary.skipped) == (4, 2)
    assert len(_lines(tmp_path)) == 6
    assert summary.methods["m"]["examples"] == 3


def test_resumes_after_an_interrupted_run(tmp_path: Path) -> None:
    def interrupt(example: Example) -> BaseException | None:
        return KeyboardInterrupt() if example.id == "e1" else None

    crashing = FakeMethod("m", [[1], [2]], fail_on=interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(EXAMPLES, [crashing], out_dir=tmp_path, progress=False)
    assert [r["example_id"] for r in _lines(tmp_path)] == ["e0"]

    # A crash mid-write leaves a broken last line; it is dropped, not appended to.
    with (tmp_path / RESULTS_FILE).open("a") as handle:
        handle.write('{"example_id": "e1", "meth')
    resumed = FakeMethod("m", [[1], [2]])
    summary = run_evaluation(EXAMPLES, [resumed], out_dir=tmp_path, progress=False)
    assert resumed.runs == ["e1", "e2"]
    assert summary.failed == 0 and summary.methods["m"]["examples"] == 3
    assert [r["example_id"] for r in _lines(tmp_path)] == ["e0", "e1", "e2"]


def test_pairs_run_concurrently_and_resume(tmp_path: Path) -> None:
    def flaky(example: Example) -> BaseException | None:
        return ValueError("server said 503") if example.id == "e1" else None

    first = FakeMethod("m", [[1], [2]], fail_on=flaky)
    other = FakeMethod("n", [[1], []])
    summary = run_evaluation(
        EXAMPLES, [first, other], out_dir=tmp_path, progress=False, concurrency=3
    )
    assert (summary.ran, summary.failed) == (6, 1)
    assert summary.batch is not None and (summary.batch.ok, summary.batch.failed) == (5, 1)
    assert sorted(first.runs) == ["e0", "e1", "e2"]
    failed = [r for r in _lines(tmp_path) if r["status"] != "ok"]
    assert [(r["example_id"], r["method"]) for r in failed] == [("e1", "m")]
    assert "ValueError: server said 503" in str(failed[0]["error"])

    again = FakeMethod("m", [[1], [2]])
    summary = run_evaluation(
        EXAMPLES, [again, other], out_dir=tmp_path, progress=False, retry_failed=True, concurrency=2
    )
    assert again.runs == ["e1"] and (summary.ran, summary.skipped) == (1, 5)
    assert summary.methods["m"]["examples"] == 3 and summary.methods["m"]["failed"] == 0


def test_failed_pairs_are_kept_unless_retried(tmp_path: Path) -> None:
    flaky = FakeMethod("m", [[1], [2]], fail_on=lambda e: ValueError("oops"))
    run_evaluation(EXAMPLES[:1], [flaky], out_dir=tmp_path, progress=False)
    fixed = FakeMethod("m", [[1], [2]])
    summary = run_evaluation(EXAMPLES[:1], [fixed], out_dir=tmp_path, progress=False)
    assert fixed.runs == [] and summary.methods["m"]["failed"] == 1

    summary = run_evaluation(
        EXAMPLES[:1], [fixed], out_dir=tmp_path, progress=False, retry_failed=True
    )
    assert fixed.runs == ["e0"]
    assert summary.methods["m"]["failed"] == 0 and summary.methods["m"]["examples"] == 1
    (record,) = load_results(tmp_path / RESULTS_FILE).values()
    assert record["status"] == "ok"


def test_mapping_names_and_validation(tmp_path: Path) -> None:
    method = FakeMethod("internal", [[1], [2]])
    summary = run_evaluation(EXAMPLES[:1], {"shown": method}, out_dir=tmp_path, progress=False)
    assert list(summary.methods) == ["shown"]
    assert _lines(tmp_path)[0]["method"] == "shown"
    with pytest.raises(InvalidInputError, match="named 'x'"):
        run_evaluation(
            EXAMPLES,
            [FakeMethod("x", []), FakeMethod("x", [])],
            out_dir=tmp_path,
            progress=False,
        )
    with pytest.raises(InvalidInputError, match="unique"):
        run_evaluation([EXAMPLES[0], EXAMPLES[0]], [method], out_dir=tmp_path, progress=False)
    with pytest.raises(InvalidInputError, match="no methods"):
        run_evaluation(EXAMPLES, [], out_dir=tmp_path, progress=False)
    with pytest.raises(InvalidInputError, match="top_ks"):
        run_evaluation(EXAMPLES, [method], out_dir=tmp_path, progress=False, top_ks=(0,))


def test_report_without_optional_metrics(tmp_path: Path) -> None:
    summary = run_evaluation(
        EXAMPLES[:1], [FakeMethod("m", [[1], [2]])], out_dir=tmp_path, progress=False
    )
    assert "alce_recall" not in summary.methods["m"]
    report = (tmp_path / REPORT_HTML).read_text()
    assert "Cost vs quality (gold_f1_micro@all)" in report
    assert report.count("data:image/png;base64,") == 2


def test_drop_hold_context_is_bounded_and_keeps_citations() -> None:
    example = Example(
        id="long",
        question="When did the park open?",
        documents=[
            {
                "text": " ".join(f"Filler sentence number {k}." for k in range(30))
                + " The park opened in May."
            }
        ],
    )
    sources = example_sources(example)
    assert len(sources) == 31
    answer, attribution = attributed(["The park opened in May.", "Filler here."], [[31], [5]])
    output = MethodOutput(answer=answer, attribution=attribution)
    scorer = OverlapScorer()
    recorded: list[str] = []

    class Recording:
        def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
            recorded.extend(prompts)
            return scorer.score(prompts, target)

    metrics, eval_cost = score_output(example, output, scorer=Recording(), drop_hold_context=3)
    full = recorded[0]
    shown = re.findall(r"^S(\d+):", full, flags=re.MULTILINE)
    assert "31" in shown and "5" in shown  # cited sentences always stay
    assert len(shown) <= 3 + 2
    assert eval_cost["forward_passes"] == len(recorded)
    assert metrics["drop_mean"] is not None

    recorded.clear()
    score_output(example, output, scorer=Recording(), drop_hold_context=None)
    assert len(re.findall(r"^S\d+:", recorded[0], flags=re.MULTILINE)) == 31
