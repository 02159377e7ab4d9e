"""Issue 10: are gains seen on short LFQA answers answer-length effects? (MultiNews, cut short)

On the full-size run the supersaturated fine pass (``fine_per_output=8``, ``c2f-ss8``)
beats the round-robin one (``None``) on MultiNews, whose answers all have 5–22
sentences, and loses to it on LFQA answers of 3–4 sentences (F1@2 0.436 vs
0.496 on 19 questions). A rule "round-robin up to 4 answer sentences" would
take the better of each, but answer length and data set coincide there, so the
rule would be chosen on the very data it is scored on. This check separates
the two: every MultiNews topic, every source sentence, the reference answer
cut to its first ``A`` sentences (their gold links kept), attributed by both
designs (``c2f-ss8``: the shipped default until session 24, when this check
ran; ``c2f-rr``) and by lexical overlap. If round-robin wins here too, length is the
cause; if not, the LFQA lead belongs to the data (one-topic answers).

Cutting the answer is the point of this check, not a shortcut: the headline
benchmark (:mod:`benchmarks.scaling_benchmark`) keeps every answer sentence.

Run (about 20 min per prefix on 2 cores), then write the table::

    python -m benchmarks.answer_length_check --prefix 3,4
    python -m benchmarks.answer_length_check --summarize

**Fusion check (session 26).** On the full-size run, scaling the measured
score instead of ranking it (``fusion="score"``) raised LFQA F1@2 and
fidelity@2 and lowered MultiNews fidelity@2 a little; answer length and data
set coincide there too (LFQA answers get the round-robin design, MultiNews
answers the supersaturated one). ``--fusion`` runs ``c2f-mw1`` (rank fusion,
measured weight 1; at 3–4 sentences the round-robin design) on the same cut
answers, storing its measurement, and re-ranks each run with rank fusion at
weight 2 (the default) and score fusion at weight 2 (:func:`fusion_weight.reweigh`:
no model call). Fidelity@2 of the two rankings is compared directly: for each
answer sentence whose top two differ, ``lp(rank's top 2 removed) - lp(score's
top 2 removed)`` (two full-prompt calls; the random baseline cancels in the
difference, so it is not measured)::

    python -m benchmarks.answer_length_check --fusion --prefix 3,4
    python -m benchmarks.answer_length_check --fusion --summarize
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import attribution_benchmark as ab
from benchmarks import scaling_benchmark as sb
from benchmarks.bootstrap import interval, resampled_means
from benchmarks.peers import common
from benchmarks.result_rows import read_rows, row_keys
from benchmarks.scaling_report import counts_of, f1_of, paired_f1_cells

OUT = Path(__file__).resolve().parent / "results" / "answer_length_check"
SUMMARY = Path(__file__).resolve().parent / "results" / "answer_length_check.md"
METHODS = ("c2f-ss8", "c2f-rr", "lexical-overlap")
N_MDS = 28
FUSION_RUN = "c2f-mw1"
"""The measured run the fusion check re-ranks (rank fusion at weight 1, as ``fusion_weight``)."""
FUSION_OUT = Path(__file__).resolve().parent / "results" / "answer_length_fusion"
FUSION_SUMMARY = Path(__file__).resolve().parent / "results" / "answer_length_fusion.md"


def cut(example: dict[str, Any], prefix: int) -> dict[str, Any]:
    """``example`` with its answer cut to the first ``prefix`` sentences (their gold kept)."""
    return dict(
        example,
        answer_sentences=example["answer_sentences"][:prefix],
        gold=example["gold"][:prefix],
    )


def run(prefixes: list[int], out: Path, methods: tuple[str, ...] = METHODS) -> None:
    """Append one row per (topic, prefix, method) that ``out`` lacks.

    A run of :data:`FUSION_RUN` also keeps its scores and measurement (``c2f``)
    and, compared right away, the two re-rankings' fidelity difference
    (:func:`fusion_pair`).
    """
    from langchain_genprog.models import TransformersLogProbScorer

    common.set_threads(1)
    model, tokenizer = common.load_smollm2()
    scorer = TransformersLogProbScorer(model, tokenizer, batch_size=1)
    done = row_keys(out)
    for example in sb.load("mds", list(range(N_MDS))):
        for prefix in prefixes:
            if len(example["answer_sentences"]) <= prefix:
                continue  # nothing cut: the full-size run has it
            short = cut(example, prefix)
            uid = f"{example['unique_id']}#A{prefix}"
            for method in methods:
                if (uid, method) in done:
                    continue
                res = sb.run_method(method, short, model, tokenizer, scorer)
                counts = ab.citation_counts(short, res["scores"])
                row = {
                    "unique_id": uid,
                    "index": example["index"],
                    "prefix": prefix,
                    "method": method,
                    "n_sources": len(example["sources"]),
                    "counts": {str(k): v for k, v in counts.items()},
                    "wall_time_s": res["wall_time_s"],
                    "forward_tokens": res["forward_tokens"],
                    "pid": os.getpid(),
                }
                if method == FUSION_RUN and "c2f" in res:
                    row.update(scores=res["scores"], c2f=res["c2f"])
                    row.update(fusion_pair(short, row, scorer))
                sb.append(out, row)
                f1 = ab.prf(counts[2])[2]
                print(f"{example['index']} A={prefix} {method}: F1@2 {f1:.3f}", flush=True)


def fusion_pair(example: dict[str, Any], row: dict[str, Any], scorer) -> dict[str, Any]:
    """Rank fusion (weight 2) and score fusion (weight 2) of one stored run, compared.

    Returns:
        ``rank_counts`` and ``score_counts`` (citation counts of each
        ranking) and ``fidelity_gain``: per answer sentence, score's
        fidelity@2 minus rank's (``0`` where their top two agree).
    """
    from benchmarks.fusion_weight import reweigh

    rank, score = reweigh(row, 2.0, "rank"), reweigh(row, 2.0, "score")
    # against rank's ranking with fidelity 0: lp(rank's top 2) - lp(score's), 0 where they agree
    gain = ab.Fidelity(example, scorer, k=2).score_against(score, rank, [0.0] * len(rank))
    return {
        "rank_counts": {str(k): v for k, v in ab.citation_counts(example, rank).items()},
        "score_counts": {str(k): v for k, v in ab.citation_counts(example, score).items()},
        "fidelity_gain": gain,
    }


def fusion_summary(rows: list[dict[str, Any]]) -> list[str]:
    """Per prefix: score - rank fusion (weight 2), F1@2 and fidelity@2, paired over topics."""
    lines = [
        "| answer cut to | topics | rank fusion F1@2 | score fusion F1@2 | F1@2 score - rank "
        "| 95 % CI | topics won / tied / lost | fidelity@2 score - rank | 95 % CI "
        "| answer sentences whose top 2 differ |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rng = np.random.default_rng(0)
    for prefix in sorted({r["prefix"] for r in rows}):
        kept = [r for r in rows if r["prefix"] == prefix and "fidelity_gain" in r]
        by_uid = {
            r["unique_id"]: {
                "score": {"counts": r["score_counts"]},
                "rank": {"counts": r["rank_counts"]},
            }
            for r in kept
        }
        uids = list(by_uid)
        cells = paired_f1_cells(
            counts_of(by_uid, uids, "score"), counts_of(by_uid, uids, "rank"), rng
        )
        gains = np.array([np.mean(r["fidelity_gain"]) for r in kept])
        changed = sum(g != 0 for r in kept for g in r["fidelity_gain"])
        total = sum(len(r["fidelity_gain"]) for r in kept)
        fidelity = f"{gains.mean():+.3f} | {interval(resampled_means(gains, rng))}"
        lines.append(
            f"| {prefix} sentences | {len(uids)} | {cells[1]} | {cells[0]} "
            f"| {' | '.join(cells[2:])} | {fidelity} | {changed} of {total} |"
        )
    return lines


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """Per prefix: pooled F1@2 of each method and c2f-ss8 - c2f-rr paired over topics."""
    lines = [
        "| answer cut to | topics | c2f-ss8 | c2f-rr | lexical-overlap | c2f-ss8 - c2f-rr "
        "| 95 % CI | topics won / tied / lost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rng = np.random.default_rng(0)
    for prefix in sorted({r["prefix"] for r in rows}):
        by_uid: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r["prefix"] == prefix:
                by_uid.setdefault(r["unique_id"], {})[r["method"]] = r
        uids = [u for u, m in by_uid.items() if all(name in m for name in METHODS)]
        ours, other, lexical = (counts_of(by_uid, uids, name) for name in METHODS)
        ss8, rr, *paired = paired_f1_cells(ours, other, rng)
        cells = [ss8, rr, f"{f1_of(lexical.sum(axis=0)):.3f}", *paired]
        lines.append(f"| {prefix} sentences | {len(uids)} | {' | '.join(cells)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prefix", default="3,4", help="answer lengths to cut to, comma-separated")
    parser.add_argument("--out-dir", default=None)
    parser.add_argument("--fusion", action="store_true", help="the fusion check (session 26)")
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out_dir or (FUSION_OUT if args.fusion else OUT)) / "mds.jsonl"
    if args.summarize:
        text = "\n".join(_fusion_report(out) if args.fusion else _design_report(out))
        (FUSION_SUMMARY if args.fusion else SUMMARY).write_text(text)
        print(text)
        return 0
    methods = (FUSION_RUN,) if args.fusion else METHODS
    run([int(p) for p in args.prefix.split(",") if p], out, methods)
    return 0


def _design_report(out: Path) -> list[str]:
    return [
        "# Short answers on MultiNews: supersaturated (c2f-ss8) vs round-robin (c2f-rr)",
        "",
        "Produced by `python -m benchmarks.answer_length_check --summarize` (see its "
        "docstring); F1@2 against the gold links of the kept answer sentences, pooled "
        "over topics; interval: topics resampled (seed 0).",
        "",
        *summary(read_rows(out)),
        "",
    ]


def _fusion_report(out: Path) -> list[str]:
    return [
        "# Short answers on MultiNews: score fusion vs rank fusion (measured weight 2)",
        "",
        "Produced by `python -m benchmarks.answer_length_check --fusion --summarize` (see "
        "its docstring): one measured run per topic and cut (`c2f-mw1`, round-robin), "
        "ranked both ways; F1@2 pooled over topics; fidelity@2 difference averaged per "
        "topic over its answer sentences; intervals: topics resampled (seed 0).",
        "",
        *fusion_summary(read_rows(out)),
        "",
    ]


if __name__ == "__main__":
    raise SystemExit(main())
