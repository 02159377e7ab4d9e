"""Issue 10: is the round-robin's lead on short LFQA answers an answer-length effect?

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
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import attribution_benchmark as ab
from benchmarks import scaling_benchmark as sb
from benchmarks.peers import common
from benchmarks.result_rows import read_rows, row_keys
from benchmarks.scaling_report import counts_of, f1_of, paired_f1_cells

OUT = Path(__file__).resolve().parent / "results" / "answer_length_check"
SUMMARY = Path(__file__).resolve().parent / "results" / "answer_length_check.md"
METHODS = ("c2f-ss8", "c2f-rr", "lexical-overlap")
N_MDS = 28


def cut(example: dict[str, Any], prefix: int) -> dict[str, Any]:
    """``example`` with its answer cut to the first ``prefix`` sentences (their gold kept)."""
    return dict(
        example,
        answer_sentences=example["answer_sentences"][:prefix],
        gold=example["gold"][:prefix],
    )


def run(prefixes: list[int], out: Path) -> None:
    """Append one row per (topic, prefix, method) that ``out`` lacks."""
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
            for method in METHODS:
                if (uid, method) in done:
                    continue
                res = sb.run_method(method, short, model, tokenizer, scorer)
                counts = ab.citation_counts(short, res["scores"])
                sb.append(
                    out,
                    {
                        "unique_id": uid,
                        "index": example["index"],
                        "prefix": prefix,
                        "method": method,
                        "n_sources": len(example["sources"]),
                        "counts": {str(k): v for k, v in counts.items()},
                        "wall_time_s": res["wall_time_s"],
                        "forward_tokens": res["forward_tokens"],
                        "pid": os.getpid(),
                    },
                )
                f1 = ab.prf(counts[2])[2]
                print(f"{example['index']} A={prefix} {method}: F1@2 {f1:.3f}", flush=True)


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
    parser.add_argument("--out-dir", default=str(OUT))
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out_dir) / "mds.jsonl"
    if args.summarize:
        text = "\n".join(
            [
                "# Short answers on MultiNews: supersaturated (c2f-ss8) vs round-robin (c2f-rr)",
                "",
                "Produced by `python -m benchmarks.answer_length_check --summarize` (see its "
                "docstring); F1@2 against the gold links of the kept answer sentences, pooled "
                "over topics; interval: topics resampled (seed 0).",
                "",
                *summary(read_rows(out)),
                "",
            ]
        )
        SUMMARY.write_text(text)
        print(text)
        return 0
    run([int(p) for p in args.prefix.split(",") if p], out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
