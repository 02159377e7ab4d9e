"""Calibrate ``MExGenAttributor(support_threshold=...)`` on MDS dev data.

The attribution node marks an answer sentence unsupported when no source
sentence (post hoc) or none of its program leaves scores above
``support_threshold``. A score is the drop of the sentence's mean token
log-probability (nats/token) when a source sentence is removed, so 0 is the
natural "no effect" point, but model noise makes small positive scores
common even for sentences the sources do not contain. This script measures
where to put the line:

* **supported** sentences: reference summary sentences that have gold links
  to the (truncated) sources;
* **unsupported** sentences: reference sentences of the *next* example,
  attributed against this example's sources (a different news story, so
  nothing in the sources supports them).

For each sentence it records the largest source score (what the post-hoc
support check compares with the threshold), then prints the ROC AUC, the
true/false positive rates at a grid of thresholds, and the threshold with the
best balanced accuracy. Scorer: the package default (embedded SmolLM2 via
transformers); method C-LIME at sentence level, the node's defaults otherwise.

Usage::

    python -m benchmarks.support_calibration --limit 8 --max-sources 12
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.attribution_benchmark import answer_sentences, build_sources
from benchmarks.peers import common
from langchain_genprog.attribute.mexgen.clime import SAMPLINGS

RESULTS = Path(__file__).resolve().parent / "results"
GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)


def auc(positives: list[float], negatives: list[float]) -> float:
    """Probability that a random supported sentence outscores a random unsupported one."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def rates(positives: list[float], negatives: list[float], threshold: float) -> tuple[float, float]:
    """(share of supported sentences kept, share of unsupported sentences passed)."""
    tpr = sum(p > threshold for p in positives) / len(positives)
    fpr = sum(n > threshold for n in negatives) / len(negatives)
    return tpr, fpr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=8, help="MDS dev examples")
    parser.add_argument("--max-sources", type=int, default=12)
    parser.add_argument("--method", default="clime", choices=["loo", "clime", "lshap"])
    parser.add_argument("--sampling", default=None, choices=SAMPLINGS)
    parser.add_argument("--oversampling", type=float, default=None)
    parser.add_argument("--out", default=str(RESULTS / "support_calibration.json"))
    args = parser.parse_args()

    from langchain_genprog.attribute import MExGenAttributor
    from langchain_genprog.models import get_default_scorer

    examples = common.load_mds(limit=args.limit + 1, max_sources=args.max_sources)
    scorer = get_default_scorer()
    # Unset options keep the attributor's defaults: calibrate what ships.
    options = {
        k: v for k, v in (("sampling", args.sampling), ("oversampling", args.oversampling)) if v
    }
    attributor = MExGenAttributor(
        scorer,
        method=args.method,
        levels=("sentence",),
        max_candidates=None,
        seed=0,
        **options,
    )
    started = time.perf_counter()
    supported: list[float] = []
    unsupported: list[float] = []
    records: list[dict[str, Any]] = []
    for i, example in enumerate(examples[:-1]):
        sources = build_sources(example)
        foreign = examples[i + 1]
        runs = {
            "supported": (answer_sentences(example), example["gold"]),
            "unsupported": (answer_sentences(foreign), [[0]] * len(foreign["gold"])),
        }
        for label, (sentences, gold) in runs.items():
            result = attributor.attribute(sentences, sources)
            for row, links in zip(result.matrix, gold, strict=True):
                if not links:  # gold links cut by truncation: label unknown
                    continue
                best = float(np.nanmax(row)) if len(row) else 0.0
                (supported if label == "supported" else unsupported).append(best)
                records.append({"example": example["unique_id"], "label": label, "max": best})
        print(
            f"example {i}: {len(supported)} supported / {len(unsupported)} unsupported so far, "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )

    print(f"\nload average {os.getloadavg()[0]:.1f}; method {attributor.name} {options}")
    print(
        f"max source score: supported median {statistics.median(supported):.4f} "
        f"(n={len(supported)}), unsupported median {statistics.median(unsupported):.4f} "
        f"(n={len(unsupported)}); ROC AUC {auc(supported, unsupported):.3f}"
    )
    print("\n| threshold | supported kept | unsupported passed | balanced accuracy |")
    print("| --- | --- | --- | --- |")
    best = (0.0, -1.0)
    for threshold in GRID:
        tpr, fpr = rates(supported, unsupported, threshold)
        balanced = (tpr + 1 - fpr) / 2
        best = max(best, (threshold, balanced), key=lambda t: t[1])
        print(f"| {threshold:.3f} | {tpr:.2f} | {fpr:.2f} | {balanced:.2f} |")
    print(f"\nbest threshold on the grid: {best[0]} (balanced accuracy {best[1]:.2f})")
    Path(args.out).write_text(
        json.dumps({"args": vars(args), "records": records, "best": best}, indent=1)
    )


if __name__ == "__main__":
    main()
