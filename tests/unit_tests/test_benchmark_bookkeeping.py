"""Benchmarks' bookkeeping (no model): resume, redo, operation stats, summaries."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.grounding_benchmark import (
    METHODS,
    _done,
    _operation_stats,
    compare_runs,
    summarize,
)


def test_redo_drops_only_the_named_methods_rows(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    rows = [
        {"example": e, "method": m, "commit": "aaa"}
        for e in ("t0", "t1")
        for m in ("free", "default", "lead")
    ]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _done(results, []) == {(r["example"], r["method"]) for r in rows}
    left = _done(results, ["default"])
    assert left == {(e, m) for e in ("t0", "t1") for m in ("free", "lead")}
    kept = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["method"] for r in kept] == ["free", "lead", "free", "lead"]
    assert _done(tmp_path / "missing.jsonl", ["default"]) == set()


def test_operation_stats_count_ratios_copies_and_fallbacks() -> None:
    def node(operation: str, inputs: list[str], output: str, note: str | None = None) -> object:
        return SimpleNamespace(
            operation=operation, inputs=inputs, output=output, note=note, error=None
        )

    trace = [
        node("compression", ["one two three four"], "one two"),
        node("fusion", ["a b c d", "e f g h"], "a b e f g h", note="no fusion fits 75%"),
        node("paraphrase", ["x y z"], "x y z", note="kept verbatim"),
        node("extract", ["q"], "q"),
    ]
    stats = _operation_stats(trace)
    assert stats["compression"] == [0.5] and stats["fusion"] == [0.75]
    assert stats["paraphrase_copy"] == [1.0]
    assert stats["fallback"] == [0.0, 1.0, 1.0]


def _row(example: str, method: str, grounded: list[bool]) -> dict[str, object]:
    checks = [
        {
            "text": f"{method} {k}.",
            "cited": [k],
            "coverage": 1.0 if g else 0.2,
            "grounded": g,
            "missing_numbers": [] if g else ["7"],
        }
        for k, g in enumerate(grounded)
    ]
    return {
        "example": example,
        "method": method,
        "data": "mds",
        "error": None,
        "checks": checks,
        "mexgen_supported": grounded,
        "rouge1": 0.3,
        "rouge2": 0.1,
        "rougeL": 0.2,
        "answer_words": 10,
        "llm_calls": 2,
        "seconds": 5.0,
        "ops": {},
        "repairs": [],
    }


def test_summary_shows_before_after_where_free_grounded_least(tmp_path: Path) -> None:
    grounded = {"t0": [True, True], "t1": [False, True], "t2": [False, False]}
    rows = [
        _row(e, m, g if m == "free" else [True])
        for e, g in grounded.items()
        for m in ("free", "default", "lead", "alce")
    ]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = summarize([tmp_path], examples=2)
    shown = text.split("Before/after")[1]
    assert shown.index("*t2*") < shown.index("*t1*") and "*t0*" not in shown
    assert "free 0. [S0] — NOT grounded (20% of content words, numbers missing: ['7'])" in shown
    assert "default 0. [S0] — grounded (100% of content words)" in shown
    assert "Before/after" not in summarize([tmp_path])
    assert "Measured at: free at None; default at None" in text


def test_summary_scores_an_empty_answer_zero_and_states_the_budget(tmp_path: Path) -> None:
    rows = [{**_row("t0", m, [True]), "answer": m, "max_words": 50} for m in METHODS]
    rows[0] |= {"answer": "", "rouge1": None, "rouge2": None, "rougeL": None, "checks": []}
    rows += [{**_row("t1", m, [True]), "answer": m, "max_words": 50} for m in METHODS]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = summarize([tmp_path])
    free = next(line for line in text.splitlines() if line.startswith("| free |"))
    assert "| 0.15 | 0.05 | 0.1 |" in free  # (0 + 0.3) / 2 ...: the empty answer is not skipped
    assert "Word budget (`max_words`), every method: 50." in text


def test_compare_runs_uses_only_examples_both_runs_finished(tmp_path: Path) -> None:
    first, second = tmp_path / "budget", tmp_path / "no-budget"
    for folder, rouge, examples in ((first, 0.4, ("t0", "t1")), (second, 0.2, ("t0", "t2"))):
        folder.mkdir()
        rows = [
            {**_row(e, m, [True]), "answer": m, "rougeL": rouge} for e in examples for m in METHODS
        ]
        rows.append({**_row("t3", "free", [False]), "answer": "x", "rougeL": 0.9})  # incomplete
        (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = compare_runs(first, second)
    assert "The same 1 examples in `budget` and `no-budget`" in text
    assert "| free | 0.4 | 10.0 | 100.0% | 0.2 | 10.0 | 100.0% |" in text


def test_scaling_benchmark_redo_drops_only_the_named_methods(tmp_path: Path) -> None:
    from benchmarks.result_rows import drop_methods, row_keys

    out = tmp_path / "mds.jsonl"
    rows = [
        {"unique_id": u, "method": m} for u in ("a", "b") for m in ("example", "c2f", "lexical")
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert drop_methods(out, ["c2f"]) == 2
    assert row_keys(out) == {(u, m) for u in ("a", "b") for m in ("example", "lexical")}
    assert drop_methods(out, []) == 0 and drop_methods(tmp_path / "none.jsonl", ["c2f"]) == 0


def test_scaling_wall_ratios_pair_only_rows_of_one_process() -> None:
    from benchmarks.scaling_report import same_process

    assert same_process({"pid": 7}, {"pid": 7})
    assert not same_process({"pid": 7}, {"pid": 8})  # a --redo row next to an older peer row
    assert not same_process({"pid": None}, {"pid": None})  # rows from before pids were recorded
    assert not same_process({"pid": 7}, None)


def test_merge_rows_appends_only_rows_the_target_lacks(tmp_path: Path) -> None:
    from benchmarks.result_rows import merge_rows, read_rows

    target, source = tmp_path / "main" / "mds.jsonl", tmp_path / "side" / "mds.jsonl"
    target.parent.mkdir()
    source.parent.mkdir()
    target.write_text(
        "".join(json.dumps(r) + "\n" for r in [{"unique_id": "a", "method": "c2f", "v": 1}])
    )
    source.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"unique_id": "a", "method": "c2f", "v": 2},  # target's row is kept
                {"unique_id": "a", "method": "example"},
                {"unique_id": "b", "method": "c2f", "v": 3},
                {"unique_id": "b", "method": "c2f", "v": 4},  # a duplicate within the source
            ]
        )
    )
    assert merge_rows(source, target) == 2
    rows = read_rows(target)
    assert [(r["unique_id"], r["method"], r.get("v")) for r in rows] == [
        ("a", "c2f", 1),
        ("a", "example", None),
        ("b", "c2f", 3),
    ]
    assert merge_rows(source, target) == 0  # merging again adds nothing
    assert merge_rows(tmp_path / "missing.jsonl", target) == 0
    # a method to replace: the source's row wins, in place of the target's
    assert merge_rows(source, target, replace={"c2f"}) == 2
    rows = read_rows(target)
    assert sorted((r["unique_id"], r["method"], r.get("v")) for r in rows) == [
        ("a", "c2f", 2),
        ("a", "example", None),
        ("b", "c2f", 3),
    ]


def _counted(hits: int, gold: int, fidelity: float) -> dict[str, object]:
    return {"counts": {"2": {"hits": hits, "pred": 2, "gold": gold}}, "fidelity": [fidelity]}


def test_paired_table_compares_only_examples_both_methods_ran() -> None:
    from benchmarks.scaling_report import f1_of, paired_lines

    assert f1_of(np.array([1.0, 2.0, 2.0])) == 0.5  # P = R = 1/2
    runs = {
        "a": {"c2f": _counted(2, 2, 0.5), "context-cite-64": _counted(1, 2, 0.2)},
        "b": {"c2f": _counted(1, 2, 0.3), "context-cite-64": _counted(1, 2, 0.3)},
        "c": {"c2f": _counted(0, 2, 0.1)},  # context-cite-64 did not run here: left out
    }
    lines = paired_lines(runs)
    row = next(line for line in lines if line.startswith("| context-cite-64 "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # pooled over a and b: c2f 3 hits of 4 predicted / 4 gold, context-cite 2 of 4
    assert cells[1:5] == ["2", "0.750", "0.500", "+0.250"]
    assert cells[6] == "1 / 1 / 0"
    assert cells[7] == "+0.150"  # mean of +0.3 and 0.0
    low, high = (float(x) for x in cells[5].strip("[]").split(","))
    assert low <= 0.0 <= 0.25 <= high  # resampling b alone gives a tie, a alone +0.5
    assert paired_lines({"a": {"c2f": _counted(1, 2, 0.1)}}) == []


def test_scaling_schedule_runs_method_by_method_when_asked() -> None:
    from benchmarks.scaling_benchmark import schedule

    a, b = {"index": 0}, {"index": 1}
    assert schedule([a, b], ["c2f", "cc"], method_major=False) == [
        (a, ["c2f", "cc"]),
        (b, ["c2f", "cc"]),
    ]
    assert schedule([a, b], ["c2f", "cc"], method_major=True) == [
        (a, ["c2f"]),
        (b, ["c2f"]),
        (a, ["cc"]),
        (b, ["cc"]),
    ]


def test_wide_variant_grows_candidates_with_the_answer_and_is_a_valid_config() -> None:
    from benchmarks.scaling_benchmark import wide_options
    from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig

    assert wide_options(3)["max_fine_units"] == 15 and wide_options(3)["fine_rows"] == 16
    assert wide_options(8) == {
        "scheme": "coarse-to-fine",
        "screen": "blocks",
        "fine_per_output": None,
        "max_fine_units": 24,
        "fine_rows": 32,
    }
    assert wide_options(22)["max_fine_units"] == 31
    MExGenAttributorConfig(**wide_options(8))


def test_every_variant_of_ours_is_a_valid_config_and_labels_what_it_changes() -> None:
    from benchmarks.scaling_benchmark import METHODS, is_ours, method_options
    from langchain_genprog.attribute.mexgen_config import MExGenAttributorConfig

    ours = [m for m in METHODS if is_ours(m)]
    configs = {m: MExGenAttributorConfig(**method_options(m, 8)) for m in ours}
    default = MExGenAttributorConfig()
    assert configs["c2f"] == default
    assert configs["c2f-score"] == default.model_copy(update={"fusion": "score"})
    assert configs["c2f-full"] == default.model_copy(update={"fine_context": "full"})
    assert configs["c2f-rows32"].fine_rows == 32
    assert configs["c2f-rows32"].fine_per_output == default.fine_per_output
    assert configs["c2f-rr"].fine_per_output is None
    assert configs["c2f-ss8"].fine_per_output == 8
    rank_at_one = {"fusion": "rank", "measured_weight": 1.0}
    assert configs["c2f-mw1"] == default.model_copy(update=rank_at_one)
    with pytest.raises(ValueError, match="not one of ours"):
        method_options("context-cite-32", 8)


def test_screen_recall_replays_each_screen_through_the_shipped_candidate_pick() -> None:
    from benchmarks.scaling_report import screen_recall_lines

    # one answer sentence, four sources, gold S2 (index 2); the run measured one candidate
    run = {"unit_source": [0, 1, 2, 3], "screen": [[0.9, 0.1, 0.2, 0.3]], "candidates": [0]}
    runs = {
        "a": {
            "c2f-blocks": {"c2f": run},
            "lexical-overlap": {"scores": [[0.0, 0.1, 0.8, 0.2]]},
            "emb-cosine": {"scores": [[0.1, 0.0, 0.7, 0.3]]},
        },
        "b": {"c2f-blocks": {"c2f": run}},  # no cheap-signal rows: left out
    }
    (line, _) = screen_recall_lines({"a": {"gold": [[2]]}}, runs)
    assert "on the 1 `c2f-blocks` runs" in line and "recall of 1 gold links" in line
    # blocks alone pick S0; the priors S2; fused, two priors outvote the blocks
    assert "block gains alone **0.000**" in line
    assert "priors alone **1.000**" in line
    assert "block gains + priors **1.000**" in line
    assert screen_recall_lines({"a": {"gold": [[2]]}}, {}) == []


def test_c2f_details_name_units_by_source_index_past_skipped_blank_sentences() -> None:
    from benchmarks.scaling_benchmark import c2f_details
    from langchain_genprog.attribute.mexgen import Segment
    from langchain_genprog.attribute.mexgen.coarse_to_fine import (
        CoarseToFineResult,
        sentence_units,
    )

    # sources S1..S4 with S2 blank: the prompt has three segments, S1, S3, S4
    segments = [Segment(text=t, label=f"S{i}") for i, t in ((1, "a."), (3, "c."), (4, "d."))]
    units = sentence_units(segments)
    measured = np.array([[0.5], [np.nan], [0.2]])
    run = CoarseToFineResult(
        units=units, blocks=[], block_gain=np.zeros((0, 1)), screen=np.zeros((3, 1))
    )
    run.measured, run.candidates = measured, [0, 2]
    details = c2f_details(run, segments)
    assert details["unit_source"] == [0, 2, 3]  # not the segment indices 0, 1, 2
    assert details["candidates"] == [0, 3]
    assert details["measured"] == [[0.5, None, 0.2]]


def test_oracle_ceiling_counts_what_k_allows() -> None:
    from benchmarks.scaling_report import oracle_lines

    # one sentence with one gold link, one with three: at k = 2 the oracle hits 1 + 2
    examples = {"a": {"n_sources": 5, "gold": [[0], [1, 2, 3]]}}
    (line, _) = oracle_lines(examples, {"a": {"c2f": {}}})
    # k=1: 2 hits / 2 pred / 4 gold -> 0.667; k=2: 3 / 4 / 4 -> 0.750; k=3: 4 / 6 / 4 -> 0.800
    assert "**0.667 / 0.750 / 0.800**" in line and "on the 1 examples" in line
    assert oracle_lines(examples, {"a": {}}) == []


def test_wall_ratio_lines_name_every_example_above_the_limit() -> None:
    from benchmarks.scaling_report import wall_ratio_lines

    def pair(c2f_s: float, pid: int) -> dict[str, object]:
        return {
            "c2f": {"wall_time_s": c2f_s, "forward_tokens": 40, "pid": pid},
            "context-cite-32": {"wall_time_s": 10.0, "forward_tokens": 100, "pid": 1},
        }

    examples = {u: {"n_sources": n} for u, n in (("a", 20), ("b", 50), ("c", 90))}
    runs = {"a": pair(6.0, 1), "b": pair(3.0, 1), "c": pair(9.0, 2)}  # c: another process
    (line, _) = wall_ratio_lines(examples, runs)
    assert "on the 2 examples" in line and "largest **0.60** (N = 20)" in line
    assert "above 0.5: 0.60 (tokens 0.40) at N = 20." in line


def test_recall_counts_a_link_only_where_its_answer_sentence_was_measured() -> None:
    from benchmarks.scaling_report import recall_lines

    # a supersaturated run: sentence 0 read S0, S1; sentence 1 read S1, S2 (S2 shares S0's column)
    info = {
        "unit_source": [0, 1, 2],
        "candidates": [0, 1, 2],
        "measured": [[0.4, 0.1, None], [None, 0.3, 0.2]],
    }
    examples = {"a": {"gold": [[2], [2]]}}
    (line, _) = recall_lines(examples, {"a": {"c2f-ss8": {"c2f": info}}}, "c2f-ss8")
    assert "**0.500** (1/2" in line  # S2 is a candidate, but sentence 0 never read it
    assert recall_lines(examples, {"a": {}}, "c2f-ss8") == []


def test_answer_length_check_cuts_answer_and_gold_together_and_pairs_topics() -> None:
    from benchmarks.answer_length_check import cut, summary

    example = {"answer_sentences": ["a", "b", "c"], "gold": [[0], [1], [2]], "sources": ["x"]}
    short = cut(example, 2)
    assert short["answer_sentences"] == ["a", "b"] and short["gold"] == [[0], [1]]
    assert example["gold"] == [[0], [1], [2]]  # the example itself is left whole

    def row(uid: str, method: str, hits: int) -> dict:
        counts = {"2": {"hits": hits, "pred": 4, "gold": 4}}
        return {"unique_id": uid, "prefix": 3, "method": method, "counts": counts}

    methods = ("c2f-ss8", "c2f-rr", "lexical-overlap")
    rows = [row("t1", m, h) for m, h in zip(methods, (3, 1, 2), strict=True)]
    rows += [row("t2", m, h) for m, h in zip(methods, (2, 2, 2), strict=True)]
    rows.append(row("t3", "c2f-ss8", 4))  # a topic one method lacks is left out of the pairing
    line = summary(rows)[-1]
    assert line.startswith("| 3 sentences | 2 | 0.625 | 0.375 | 0.500 | +0.250 |")
    assert line.endswith("| 1 / 1 / 0 |")


def test_answer_length_fusion_check_pairs_the_two_rankings_of_each_run() -> None:
    from benchmarks.answer_length_check import fusion_summary

    def row(uid: str, rank_hits: int, score_hits: int, gain: list[float]) -> dict:
        def counts(hits: int) -> dict:
            return {"2": {"hits": hits, "pred": 4, "gold": 4}}

        return {
            "unique_id": uid,
            "prefix": 4,
            "method": "c2f-mw1",
            "rank_counts": counts(rank_hits),
            "score_counts": counts(score_hits),
            "fidelity_gain": gain,
        }

    rows = [row("t1", 2, 3, [0.0, 0.2, 0.0, 0.0]), row("t2", 2, 2, [0.0, 0.0, -0.4, 0.0])]
    rows.append({"unique_id": "t3", "prefix": 4, "method": "c2f-mw1"})  # flat scheme: no pair
    line = fusion_summary(rows)[-1]
    # F1@2 pooled: rank 4/8, score 5/8; fidelity per topic: +0.05 and -0.1
    assert line.startswith("| 4 sentences | 2 | 0.500 | 0.625 | +0.125 |")
    assert "| 1 / 1 / 0 | -0.025 |" in line
    assert line.endswith("| 2 of 8 |")


def _fused_row(uid: str, measured: np.ndarray, priors: list[np.ndarray], n: int) -> dict:
    """A stored c2f row whose scores are the attributor's rank fusion at weight 1."""
    from langchain_genprog.attribute.mexgen.fusion import rank_fusion

    order = list(range(n - 1, -1, -1))  # units name sources in another order
    signals = {"measured": measured, **{f"p{i}": p for i, p in enumerate(priors)}}
    fused = rank_fusion(signals)
    scores = np.full((measured.shape[1], n), -np.inf)
    scores[:, order] = fused.T
    nan_free = np.where(np.isnan(measured), None, measured)
    return {
        "unique_id": uid,
        "method": "c2f",
        "scores": scores.tolist(),
        "c2f": {"unit_source": order, "measured": nan_free.T.tolist()},
    }


def test_fusion_weight_reweighs_a_stored_run_as_the_attributor_would() -> None:
    from benchmarks.fusion_weight import reweigh
    from langchain_genprog.attribute.mexgen.fusion import rank_fusion

    rng = np.random.default_rng(3)
    measured = rng.normal(size=(6, 2))
    measured[[1, 4], 0] = np.nan  # not measured for the first answer sentence
    priors = [rng.random((6, 2)), rng.random((6, 2))]
    row = _fused_row("t1", measured, priors, 6)
    for weight in (1.0, 3.0, 100.0):
        signals = {"measured": measured, "p0": priors[0], "p1": priors[1]}
        expected = rank_fusion(signals, {"measured": weight})[::-1].T
        assert np.allclose(reweigh(row, weight), expected)
        scaled = rank_fusion(signals, {"measured": weight}, scaled=("measured",))[::-1].T
        assert np.allclose(reweigh(row, weight, "score"), scaled)
    # measured alone: the values, unmeasured sentences at 0 as the attributor's matrix shows them
    alone = reweigh(row, 2.0, "none")
    assert np.allclose(alone, np.nan_to_num(measured, nan=0.0)[::-1].T)
    # a run fused at weight 2 decodes to the same priors
    at_two = {**row, "scores": reweigh(row, 2.0)}
    for weight in (1.0, 3.0):
        assert np.allclose(reweigh(at_two, weight, base_weight=2.0), reweigh(row, weight))
    with pytest.raises(ValueError, match="unknown fusion kind"):
        reweigh(row, 2.0, "borda")
    # scores that no fusion of two priors gives are refused, not re-ranked
    bad = {**row, "scores": (np.array(row["scores"]) * 5).tolist()}
    with pytest.raises(ValueError, match="not a fusion"):
        reweigh(bad, 2.0)


def test_fusion_weight_promotion_relabels_the_measured_run_once(tmp_path, monkeypatch) -> None:
    import benchmarks.fusion_weight as fw
    import benchmarks.scaling_benchmark as sb
    from benchmarks.result_rows import read_rows

    monkeypatch.setattr(sb, "OUT", tmp_path / "scaling")
    monkeypatch.setattr(fw, "OUT", tmp_path / "sweep")
    measured = np.array([[1.0], [0.0], [2.0]])
    run = _fused_row("t1", measured, [np.array([[0.1], [0.9], [0.5]])] * 2, 3)
    run.update(fidelity=[0.2], wall_time_s=5.0, pid=7)
    flat = {"unique_id": "t2", "method": "c2f", "scores": [[1.0, 0.0]], "pid": 7}
    peer = {"unique_id": "t1", "method": "context-cite-64", "scores": [[0.0, 1.0, 2.0]]}
    sb.append(sb.OUT / "mds.jsonl", run)
    sb.append(sb.OUT / "mds.jsonl", flat)
    sb.append(sb.OUT / "mds.jsonl", peer)
    (sb.OUT / "lfqa.jsonl").write_text("")
    assert set(fw.base_rows("mds")) == {"t1"}
    with pytest.raises(ValueError, match="no c2f-mw3 row"):
        fw.promote("mds", 3.0)
    swept = {"unique_id": "t1", "method": "c2f-mw3", "scores": fw.reweigh(run, 3.0)}
    swept.update(counts={"2": {"hits": 1, "pred": 2, "gold": 1}}, fidelity=[0.3])
    sb.append(fw.OUT / "mds.jsonl", swept)
    assert fw.promote("mds", 3.0) == 2
    assert fw.promote("mds", 3.0) == 2  # a second promotion replaces the rows of the first
    rows = {(r["unique_id"], r["method"]): r for r in read_rows(sb.OUT / "mds.jsonl")}
    assert sorted(rows) == [
        ("t1", "c2f"),
        ("t1", "c2f-mw1"),
        ("t1", "context-cite-64"),
        ("t2", "c2f"),
        ("t2", "c2f-mw1"),
    ]
    new, old = rows[("t1", "c2f")], rows[("t1", "c2f-mw1")]
    assert old["scores"] == run["scores"] and old["fidelity"] == [0.2]
    assert new["scores"] == swept["scores"] and new["fidelity"] == [0.3]
    assert new["pid"] == 7 and new["wall_time_s"] == 5.0 and new["measured_weight"] == 3.0
    assert rows[("t2", "c2f")]["scores"] == flat["scores"]  # flat scheme: nothing fused
    assert fw.base_rows("mds")["t1"]["method"] == "c2f-mw1"
    # another variant under another name leaves the c2f rows alone
    scored = {**swept, "method": "c2f-score-mw2", "scores": fw.reweigh(run, 2.0, "score")}
    sb.append(fw.OUT / "mds.jsonl", scored)
    assert fw.promote("mds", 2.0, "score", method="c2f-score") == 2
    rows = {(r["unique_id"], r["method"]): r for r in read_rows(sb.OUT / "mds.jsonl")}
    assert rows[("t1", "c2f")]["scores"] == swept["scores"]
    assert rows[("t1", "c2f-score")]["scores"] == scored["scores"]
    assert rows[("t1", "c2f-score")]["fusion"] == "score"


def test_fusion_weight_summary_pairs_each_weight_with_weight_one_and_the_peer(
    tmp_path, monkeypatch
) -> None:
    import benchmarks.fusion_weight as fw
    import benchmarks.scaling_benchmark as sb

    monkeypatch.setattr(sb, "OUT", tmp_path / "scaling")
    monkeypatch.setattr(fw, "OUT", tmp_path / "sweep")

    def row(uid: str, method: str, hits: int, fidelity: float) -> dict:
        counts = {str(k): {"hits": hits, "pred": 2, "gold": 2} for k in (1, 2, 3)}
        return {"unique_id": uid, "method": method, "counts": counts, "fidelity": [fidelity]}

    for uid in ("t1", "t2"):
        sb.append(sb.OUT / "mds.jsonl", {"unique_id": uid, "method": "example", "index": 0})
    sb.append(sb.OUT / "mds.jsonl", row("t1", "context-cite-64", 2, 0.5))  # t2 has no peer row
    for uid, hits in (("t1", 1), ("t2", 2)):
        sb.append(fw.OUT / "mds.jsonl", row(uid, "c2f-mw1", hits, 0.2))
        sb.append(fw.OUT / "mds.jsonl", row(uid, "c2f-mw3", 2, 0.4))
        sb.append(fw.OUT / "mds.jsonl", row(uid, "c2f-score-mw3", 2, 0.6))
    lines = fw.summary_lines("mds", (1.0, 3.0), (3.0,))
    one, three, score = lines[4:7]
    assert one.startswith("| 1 | 2 | 0.750 | 0.750 | 0.750 | 0.200 | +0.000 ")
    assert three.startswith("| 3 | 2 | 1.000 | 1.000 | 1.000 | 0.400 | +0.250 ")
    # against weight 1 on both examples; against context-cite-64 on the one it ran
    assert "| +0.200 [+0.200, +0.200] | 1 | +0.000 " in three
    assert three.endswith("| -0.100 [-0.100, -0.100] |")
    assert score.startswith("| 3, score | 2 | 1.000 | 1.000 | 1.000 | 0.600 | +0.250 ")
    # score fusion against rank fusion at the same weight: same F1, fidelity +0.2
    assert lines[-2] == "| 3 | 2 | +0.000 [+0.000, +0.000] | +0.200 [+0.200, +0.200] |"


def test_fine_context_reranks_the_full_prompt_run_and_applies_the_rule(
    tmp_path, monkeypatch
) -> None:
    import benchmarks.fine_context as fc
    import benchmarks.scaling_benchmark as sb
    from benchmarks.fusion_weight import reweigh

    monkeypatch.setattr(sb, "OUT", tmp_path)
    measured = np.array([[0.1], [0.0], [3.0]])
    base = _fused_row("t1", measured, [np.array([[0.9], [0.8], [0.1]])] * 2, 3)
    base["scores"] = reweigh(base, 2.0)  # the c2f-full run: rank fusion at weight 2
    base.update(method="c2f-full", fidelity=[0.2], forward_tokens=40, pid=3)
    example = {"gold": [[2]], "answer_sentences": ["a"], "sources": ["x", "y", "z"]}
    row = fc.reranked(example, base, "c2f-full-none", "none", 2.0, None)
    # the measurement alone puts unit 2 (source 0, reversed order) first
    assert int(np.argmax(row["scores"][0])) == 0
    assert row["reranked_from"] == "c2f-full" and row["forward_tokens"] == 40
    flat = {"unique_id": "t2", "method": "c2f-full", "scores": [[1.0, 0.0]]}
    assert fc.reranked(example, flat, "c2f-full-none", "none", 2.0, None)["scores"] == [[1.0, 0.0]]

    def counts(hits: int) -> dict:
        return {str(k): {"hits": hits, "pred": 2, "gold": 2} for k in (1, 2, 3)}

    def write(uid: str, method: str, hits: int, fidelity: float, tokens: int) -> None:
        sb.append(
            tmp_path / "mds.jsonl",
            {
                "unique_id": uid,
                "method": method,
                "counts": counts(hits),
                "fidelity": [fidelity],
                "forward_tokens": tokens,
            },
        )

    for uid in ("t1", "t2"):
        sb.append(tmp_path / "mds.jsonl", {"unique_id": uid, "method": "example", "index": 0})
        write(uid, "context-cite-64", 1, 0.5, 200)
        write(uid, "context-cite-32", 1, 0.4, 100)
        write(uid, "lexical-overlap", 1, 0.3, 0)
        write(uid, "c2f", 1, 0.4, 20)
        write(uid, "c2f-full", 2, 0.6, 45)  # above the peer, half its tokens: passes
        write(uid, "c2f-full-none", 2, 0.6, 60)  # too many tokens
        write(uid, "c2f-full-score", 2, 0.45, 45)  # below the peer's fidelity
    table, passes = fc.verdict_lines("mds")
    assert passes == {"c2f-full": True, "c2f-full-score": False, "c2f-full-none": False}
    assert table[4].startswith("| c2f-full | 2 | +0.500 [+0.500, +0.500] | +0.100 ")
    assert table[4].endswith("| 0.45 | yes |")
