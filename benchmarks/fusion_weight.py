"""Issue 10: the measured score's weight and form in the coarse-to-fine fusion.

The coarse-to-fine attributor ranks each answer sentence's sources by a
weighted mean: the fine pass's measured score (weight ``measured_weight``)
and each prior's percentile rank (lexical overlap, MiniLM cosine; weight 1).
The measurement enters by its percentile rank (``fusion="rank"``, the
default) or by its value min-max scaled over the measured sentences
(``fusion="score"``, an option since session 26: its adoption rule failed on
MultiNews). The fusion is the last step and calls
no model, so every variant can be read off one stored run: for a stored
``c2f-mw1`` row (the run of ``measured_weight=1`` and rank fusion, the default
until session 25), its fused ranks ``s`` and measured ranks ``m`` give the
priors' rank sum ``P = (1 + k)·s - m`` (``k = 2`` priors), and weight ``w``
ranks by ``(w·x + P) / (w + k)`` with ``x`` the measured ranks (``rank``) or
the scaled measured scores (``score``, from the row's stored measurement),
which is what the attributor computes (exact: the priors are not recomputed,
so nothing in them can drift).

Per weight it scores F1@1/2/3 against the gold links (no model) and
fidelity@2 with SmolLM2 (``Fidelity.score_against`` the stored row: two
full-prompt calls per answer sentence whose top-2 changed, none otherwise).
Examples that ran the flat scheme (9 sentences or fewer: one MDS topic, two
LFQA questions) fuse nothing and are left out. Rows go to
``benchmarks/results/fusion_weight/<data>.jsonl`` (resumable; rank fusion at
``--weights``, score fusion at ``--score-weights``)::

    python -m benchmarks.fusion_weight --data mds
    python -m benchmarks.fusion_weight --data lfqa
    python -m benchmarks.fusion_weight --summarize

``--promote W [--kind score]`` writes the ``c2f`` rows of
``attribution_scaling/`` as that variant's re-ranking of the ``c2f-mw1`` rows
(run metadata kept: the measurement, its calls, tokens and wall time are the
same run's), with the fidelity measured here, after relabelling the old
``c2f`` rows ``c2f-mw1``; ``--as NAME`` writes them under another name
(``--promote 2 --kind score --as c2f-score``: the labelled variant
``c2f-score`` of the full-size tables).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import attribution_benchmark as ab
from benchmarks import scaling_benchmark as sb
from benchmarks.bootstrap import interval, resampled_means
from benchmarks.result_rows import read_rows, row_keys
from benchmarks.scaling_report import (
    counts_of,
    fidelity_differences,
    paired_f1_cells,
    pooled_f1,
    read,
)

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "fusion_weight"
SUMMARY = RESULTS / "fusion_weight.md"
BASE = "c2f-mw1"
"""The stored run re-ranked: ``MExGenAttributor()`` with ``measured_weight=1``."""
N_PRIORS = 2
"""Priors in the benchmark's fusion: lexical and embedding (no program, so no leaves)."""
WEIGHTS = (1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0)
SCORE_WEIGHTS = (2.0,)
"""Score fusion was measured at the default weight only (the rule chosen before it ran)."""
PEER = "context-cite-64"
"""The peer whose fidelity@2 the issue's target names."""


def label(weight: float, kind: str = "rank") -> str:
    """The row name of a variant: ``c2f-mw3``, ``c2f-mw1.5`` (rank), ``c2f-score-mw2``."""
    return f"c2f-mw{weight:g}" if kind == "rank" else f"c2f-{kind}-mw{weight:g}"


def reweigh(
    row: dict[str, Any], weight: float, kind: str = "rank", base_weight: float = 1.0
) -> list[list[float]]:
    """The scores (answer sentences x sources) of ``row``'s run fused with ``weight``.

    Args:
        row: A stored rank-fusion run with its coarse-to-fine details.
        weight: The measured weight.
        kind: ``"rank"`` (the measurement's percentile ranks), ``"score"``
            (its values min-max scaled per answer sentence) or ``"none"``
            (the measured values alone, ``weight`` unused; unmeasured
            sentences score 0, as the attributor's matrix shows them).
        base_weight: The measured weight ``row`` was fused with (``c2f-mw1``: 1).

    Raises:
        ValueError: If the stored ranks are not a rank fusion of ``N_PRIORS``
            priors, or the kind is unknown.
    """
    from langchain_genprog.attribute.mexgen.fusion import (
        minmax_scaled,
        per_output,
        rank_features,
    )

    if kind not in ("rank", "score", "none"):
        raise ValueError(f"unknown fusion kind {kind!r}")
    info = row["c2f"]
    order = info["unit_source"]
    raw = np.array(info["measured"], dtype=float).T  # units x outputs, nan off the candidates
    measured = rank_features({"m": raw})["m"]
    stored = np.array(row["scores"], dtype=float)[:, order].T
    priors = (base_weight + N_PRIORS) * stored - base_weight * measured
    if priors.min() < -1e-9 or priors.max() > N_PRIORS + 1e-9:
        raise ValueError(f"{row['unique_id']}: stored scores are not a fusion of {N_PRIORS} priors")
    if kind == "none":
        fused = np.nan_to_num(raw, nan=0.0)
    else:
        if kind == "score":
            measured = per_output(raw, minmax_scaled)
        fused = (weight * measured + priors) / (weight + N_PRIORS)
    out = np.full((fused.shape[1], len(row["scores"][0])), -np.inf)
    out[:, order] = fused.T
    return out.tolist()


def reranked_fields(
    example: dict[str, Any],
    base: dict[str, Any],
    weight: float,
    kind: str,
    fidelity: ab.Fidelity | None,
    base_weight: float = 1.0,
) -> dict[str, Any]:
    """``scores``, ``counts`` and (with ``fidelity``) ``fidelity`` of ``base`` re-ranked.

    Fidelity@2 comes from :meth:`Fidelity.score_against` the stored ``base``
    row: two full-prompt calls per answer sentence whose top two changed.
    """
    scores = reweigh(base, weight, kind, base_weight)
    counts = ab.citation_counts(example, scores)
    fields: dict[str, Any] = {"scores": scores, "counts": {str(k): v for k, v in counts.items()}}
    if fidelity is not None:
        fields["fidelity"] = fidelity.score_against(scores, base["scores"], base["fidelity"])
    return fields


def base_rows(data: str) -> dict[str, dict[str, Any]]:
    """The stored ``c2f-mw1`` rows with coarse-to-fine details, by example id.

    Before :func:`promote` first ran they are still named ``c2f`` (the rows
    it writes are marked ``reranked_from``).
    """
    rows = read_rows(sb.OUT / f"{data}.jsonl")
    measured = [r for r in rows if r["method"] in (BASE, "c2f") and "reranked_from" not in r]
    return {r["unique_id"]: r for r in measured if "c2f" in r}


def measure(data: str, variants: list[tuple[str, float]]) -> None:
    """Append one row per (example, variant) not yet in ``OUT/<data>.jsonl``.

    Args:
        data: ``"mds"`` or ``"lfqa"``.
        variants: ``(kind, weight)`` pairs (:func:`reweigh`).
    """
    from langchain_genprog.models import TransformersLogProbScorer

    out = OUT / f"{data}.jsonl"
    done = row_keys(out)
    bases = base_rows(data)
    examples, _ = read(sb.OUT / f"{data}.jsonl")
    model, tokenizer = sb.common.load_smollm2()
    scorer = TransformersLogProbScorer(model, tokenizer, batch_size=1)
    for ex in sb.load(data, sorted(examples[u]["index"] for u in bases)):
        uid, base = ex["unique_id"], bases[ex["unique_id"]]
        fidelity = ab.Fidelity(ex, scorer, k=2) if base.get("fidelity") else None
        t0 = time.perf_counter()
        for kind, w in variants:
            if (uid, label(w, kind)) in done:
                continue
            row = {"unique_id": uid, "method": label(w, kind), "weight": w, "kind": kind}
            sb.append(out, {**row, **reranked_fields(ex, base, w, kind, fidelity)})
        print(f"{data} {ex['index']} {uid[:12]}: {time.perf_counter() - t0:.0f}s", flush=True)


def summary_lines(
    data: str, weights: tuple[float, ...], score_weights: tuple[float, ...] = ()
) -> list[str]:
    """The tables of one data set.

    Each variant against rank fusion at weight 1 and context-cite-64, then
    each score-fusion weight against rank fusion at the same weight.
    """
    _, scaled = read(sb.OUT / f"{data}.jsonl")
    runs = {u: {PEER: by[PEER]} for u, by in scaled.items() if PEER in by}
    for row in read_rows(OUT / f"{data}.jsonl"):
        runs.setdefault(row["unique_id"], {})[row["method"]] = row
    lines = [
        f"### {data.upper()}",
        "",
        "| fusion, measured weight | ex | F1@1 | F1@2 | F1@3 | fidelity@2 "
        "| F1@2 − weight 1 [95 % CI] | fidelity@2 − weight 1 [95 % CI] "
        "| ex with context-cite-64 | F1@2 − context-cite-64 [95 % CI] "
        "| fidelity@2 − context-cite-64 [95 % CI] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_weight_line(runs, w) for w in weights]
    lines += [_weight_line(runs, w, "score") for w in score_weights]
    if score_weights:
        lines += [
            "",
            "| score fusion against rank fusion at weight | ex | F1@2 [95 % CI] "
            "| fidelity@2 [95 % CI] |",
            "|---|---|---|---|",
            *(_versus_line(runs, w) for w in score_weights),
        ]
    return [*lines, ""]


def _versus_line(runs, weight: float) -> str:
    rng = np.random.default_rng(0)
    method, other = label(weight, "score"), label(weight)
    uids = [u for u in runs if method in runs[u] and other in runs[u]]
    diff = paired_f1_cells(counts_of(runs, uids, method), counts_of(runs, uids, other), rng)
    fid = _fidelity_cell(runs, uids, method, other, rng)
    return f"| {weight:g} | {len(uids)} | {diff[2]} {diff[3]} | {fid} |"


def _weight_line(runs, weight: float, kind: str = "rank") -> str:
    rng = np.random.default_rng(0)
    method, one, peer = label(weight, kind), label(1.0), PEER
    uids = [u for u in runs if method in runs[u] and one in runs[u]]
    both = [u for u in uids if runs[u].get(peer, {}).get("fidelity")]
    f1 = pooled_f1(runs[u][method]["counts"] for u in uids)
    fid = [x for u in uids for x in runs[u][method].get("fidelity") or []]
    vs_one = paired_f1_cells(counts_of(runs, uids, method), counts_of(runs, uids, one), rng)
    vs_peer = paired_f1_cells(counts_of(runs, both, method), counts_of(runs, both, peer), rng)
    name = f"{weight:g}" if kind == "rank" else f"{weight:g}, {kind}"
    return (
        f"| {name} | {len(uids)} | {' | '.join(f'{x:.3f}' for x in f1)} "
        f"| {np.mean(fid):.3f} | {vs_one[2]} {vs_one[3]} "
        f"| {_fidelity_cell(runs, uids, method, one, rng)} | {len(both)} "
        f"| {vs_peer[2]} {vs_peer[3]} | {_fidelity_cell(runs, both, method, peer, rng)} |"
    )


def _fidelity_cell(runs, uids: list[str], method: str, other: str, rng) -> str:
    """Mean per-example fidelity@2 difference and its bootstrap interval."""
    diffs = fidelity_differences(runs, uids, method, other)
    if not diffs.size:
        return "n/a"
    return f"{np.mean(diffs):+.3f} {interval(resampled_means(diffs, rng))}"


def promote(data: str, weight: float, kind: str = "rank", method: str = "c2f") -> int:
    """Write a variant's re-rankings as the ``method`` rows of ``attribution_scaling/<data>.jsonl``.

    The old ``c2f`` rows are relabelled ``c2f-mw1`` the first time; a later
    call replaces the ``method`` rows it wrote. Rows of the flat scheme (no
    fusion: ``N <= 9``) are copied as they are. How many rows were written.

    Raises:
        ValueError: If a coarse-to-fine row has no measured re-ranking for the variant.
    """
    path = sb.OUT / f"{data}.jsonl"
    rows = read_rows(path)
    if not any(r["method"] == BASE for r in rows):
        rows = [{**r, "method": BASE} if r["method"] == "c2f" else r for r in rows]
    rows = [r for r in rows if r["method"] != method]
    sweep = OUT / f"{data}.jsonl"
    swept = {(r["unique_id"], r["method"]): r for r in (read_rows(sweep) if sweep.exists() else [])}
    new = [_promoted(r, swept, weight, kind, method) for r in rows if r["method"] == BASE]
    path.write_text("".join(json.dumps(r, default=float) + "\n" for r in [*rows, *new]))
    return len(new)


def _promoted(
    row: dict[str, Any],
    swept: dict[tuple[str, str], dict[str, Any]],
    weight: float,
    kind: str,
    method: str,
) -> dict[str, Any]:
    out = {**row, "method": method, "reranked_from": BASE}
    if "c2f" not in row:
        return out  # the flat scheme: no fusion, the same ranking
    key = (row["unique_id"], label(weight, kind))
    if key not in swept:
        raise ValueError(f"{row['unique_id']}: no {key[1]} row; run --data first")
    new = swept[key]
    out.update(scores=new["scores"], counts=new["counts"], measured_weight=weight, fusion=kind)
    if row.get("fidelity"):
        out["fidelity"] = new["fidelity"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=("mds", "lfqa"))
    parser.add_argument("--weights", default=",".join(f"{w:g}" for w in WEIGHTS))
    parser.add_argument("--score-weights", default=",".join(f"{w:g}" for w in SCORE_WEIGHTS))
    parser.add_argument("--summarize", action="store_true")
    parser.add_argument("--promote", type=float, help="write this weight's c2f rows")
    parser.add_argument("--kind", choices=("rank", "score"), default="rank")
    parser.add_argument("--as", dest="method", default="c2f", help="the promoted rows' name")
    args = parser.parse_args(argv)
    weights = tuple(float(w) for w in args.weights.split(",") if w)
    score_weights = tuple(float(w) for w in args.score_weights.split(",") if w)
    if args.promote is not None:
        for data in ("mds", "lfqa"):
            written = promote(data, args.promote, args.kind, args.method)
            print(f"{data}: {written} {args.method} rows written", flush=True)
    elif args.summarize:
        lines = ["# The measurement in the coarse-to-fine fusion (issue 10)", "", __doc__, ""]
        for data in ("mds", "lfqa"):
            lines += summary_lines(data, weights, score_weights)
        SUMMARY.write_text("\n".join(lines))
        print(SUMMARY.read_text())
    elif args.data:
        sb.common.set_threads(1)
        variants = [("rank", w) for w in weights] + [("score", w) for w in score_weights]
        measure(args.data, variants)
    else:
        parser.error("give --data, --summarize or --promote")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
