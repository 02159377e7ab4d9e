"""Issue 10: how well do the cheap priors find gold sources, on every dev example?

The coarse-to-fine scheme measures only a few candidate sentences per answer
(``max_fine_units``); what its candidates miss, no measurement can find. The
candidates come from the cheap priors (with ``screen="blocks"``, also from
block gains, which added no recall on the full-size run). This study
measures the priors, with no model call, on all 28 MDS dev topics
and all 44 LFQA dev questions, whole (every source and reference sentence):

* per answer sentence with gold links: recall of its gold sources among the
  top ``k`` of each prior (lexical overlap, embedding cosine, their rank
  fusion as the scheme computes it), for k = 1, 2, 4, 8, 16;
* per example: recall of all gold links among the candidates the scheme's
  round-robin over answer sentences would pick from the fused priors, for a
  budget of 16, 24 and 32 candidates (16 is the shipped ``max_fine_units``),
  with and without each pick's ±1 neighbours counted against the budget;
* the same for budgets that grow with the answer: ``k·A`` candidates for
  ``A`` answer sentences (at least 16), picked from the fused priors or from
  lexical overlap alone, with the mean budget they spend.

Run (a minute or two; the embeddings are the only cost)::

    python -m benchmarks.prior_recall > benchmarks/results/prior_recall.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.peers import common
from langchain_genprog.attribute.mexgen.fusion import rank_fusion
from langchain_genprog.attribute.priors import compute_priors

DATA = common.MDS_DEV.parent.parent
KS = (1, 2, 4, 8, 16)
BUDGETS = (16, 24, 32)
PER_SENTENCE = (2, 4, 6)
FLOOR = 16
OUT = "benchmarks/results/prior_recall.md"


def _order(column: np.ndarray) -> list[int]:
    return [int(i) for i in np.argsort(-column, kind="stable")]


def _round_robin(ranking: np.ndarray, budget: int, neighbours: int, n: int) -> set[int]:
    """The scheme's candidate pick: each answer sentence's next best, in turn."""
    orders = [_order(ranking[:, j]) for j in range(ranking.shape[1])]
    chosen: set[int] = set()
    for position in range(n):
        for order in orders:
            if len(chosen) >= budget:
                return chosen
            best = order[position]
            for k in range(best - neighbours, best + neighbours + 1):
                if 0 <= k < n and len(chosen) < budget:
                    chosen.add(k)
    return chosen


def study(example: dict[str, Any]) -> dict[str, Any]:
    sources, answers = example["sources"], example["answer_sentences"]
    priors = compute_priors(["lexical", "embedding"], answers, sources)
    signals = {**priors, "fused": rank_fusion(priors)}
    gold: list[list[int]] = example["gold"]
    per_k: dict[str, dict[int, list[float]]] = {s: {k: [] for k in KS} for s in signals}
    for j, links in enumerate(gold):
        if not links:
            continue
        for name, matrix in signals.items():
            order = _order(matrix[:, j])
            for k in KS:
                per_k[name][k].append(len(set(order[:k]) & set(links)) / len(links))
    linked = [(j, i) for j, links in enumerate(gold) for i in links]
    pool: dict[str, float] = {}
    for budget in BUDGETS:
        for neighbours in (0, 1):
            picked = _round_robin(signals["fused"], budget, neighbours, len(sources))
            hit = sum(1 for _, i in linked if i in picked)
            pool[f"{budget}{'+n' if neighbours else ''}"] = hit / len(linked) if linked else 0.0
    scaled: dict[str, tuple[float, int]] = {}
    for signal in ("fused", "lexical"):
        for per in PER_SENTENCE:
            budget = max(FLOOR, per * len(answers))
            picked = _round_robin(signals[signal], budget, 0, len(sources))
            hit = sum(1 for _, i in linked if i in picked)
            scaled[f"{signal} {per}·A"] = (hit / len(linked) if linked else 0.0, len(picked))
    return {
        "n": len(sources),
        "links": len(linked),
        "per_k": per_k,
        "pool": pool,
        "scaled": scaled,
    }


def table(name: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    rows = [r for r in rows if r["links"]]
    sizes = sorted(r["n"] for r in rows)
    out = [
        f"### {name}: {len(rows)} examples with gold links "
        f"(N: median {statistics.median(sizes):.0f}, max {sizes[-1]}), "
        f"{sum(r['links'] for r in rows)} links",
        "",
        "Recall of an answer sentence's gold sources among a prior's top k (mean over sentences):",
        "",
        "| prior | " + " | ".join(f"@{k}" for k in KS) + " |",
        "|---|" + "---|" * len(KS),
    ]
    for signal in ("lexical", "embedding", "fused"):
        cells = []
        for k in KS:
            values = [v for r in rows for v in r["per_k"][signal][k]]
            cells.append(f"{statistics.fmean(values):.3f}")
        out.append(f"| {signal} | " + " | ".join(cells) + " |")
    out += [
        "",
        "Recall of all gold links among the round-robin candidates of the fused priors "
        "(pooled over links; `+n`: each pick's ±1 neighbours count against the budget):",
        "",
        "| budget | " + " | ".join(rows[0]["pool"]) + " |",
        "|---|" + "---|" * len(rows[0]["pool"]) + "",
    ]
    pooled = []
    for key in rows[0]["pool"]:
        hit = sum(r["pool"][key] * r["links"] for r in rows)
        pooled.append(f"{hit / sum(r['links'] for r in rows):.3f}")
    out.append("| recall | " + " | ".join(pooled) + " |")
    return [*out, *_scaled_table(rows), ""]


def _scaled_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Recall when the candidate budget grows with the answer (``max(16, k·A)``)."""
    out = [
        "",
        f"Budgets that grow with the answer: max({FLOOR}, k·A) candidates for A answer "
        "sentences (no neighbours):",
        "",
        "| candidates from | k | recall | candidates (mean) | candidates (max) |",
        "|---|---|---|---|---|",
    ]
    links = sum(r["links"] for r in rows)
    for key in rows[0]["scaled"]:
        signal, per = key.split()
        hit = sum(r["scaled"][key][0] * r["links"] for r in rows)
        sizes = [r["scaled"][key][1] for r in rows]
        out.append(
            f"| {signal} | {per[:-2]} | {hit / links:.3f} | {statistics.fmean(sizes):.1f} "
            f"| {max(sizes)} |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    common.set_threads(args.threads)
    lines = ["# Cheap priors: recall of gold links (issue 10)", ""]
    lines += ["Regenerate: `python -m benchmarks.prior_recall > " + OUT + "`", ""]
    for name, folder in (("MDS dev", "MDS"), ("LFQA dev", "LFQA")):
        examples = common.load_mds(DATA / folder / "dev.json")
        rows = []
        for k, example in enumerate(examples, start=1):
            print(f"[{name} {k}/{len(examples)}] N={len(example['sources'])}", file=sys.stderr)
            rows.append(study(example))
        lines += table(name, rows)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
