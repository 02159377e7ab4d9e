"""Measure each MDS example's removal game once, so estimators can be compared offline.

The attribution benchmark runs every method end to end, which is the honest
comparison but costs minutes of model time per method and example. Choosing
*between estimator settings* (sampling kernel, budget, fit) does not need new
model calls if the values ``v(S)`` they would ask for are already known. This
script measures, per example and with the embedded SmolLM2 scorer:

* the empty set, every single source removed, every pair removed — which also
  covers every removal set the benchmark's fidelity@2 can ask for (the top-2
  of any ranking, and the random pairs);
* ``--bernoulli`` distinct subsets drawn with each source removed with
  probability ½ (seeded, in draw order, so a budget of ``n`` is the first ``n``),
  and ``--sparse`` more with probability ¼ (removals closer to the original);
* the plans of ``CLIME(sampling="orthogonal")`` for each ``--orthogonal
  SEED:ROWS`` (fold-over Hadamard designs), with their weights.

Run again on a directory that has tables, it measures only what is missing
(e.g. a design added later) and keeps every value already there.

Values are the benchmark's own ``Fidelity`` scalarizer (mean token log-prob
of each answer sentence, same prompt layout), so a fidelity computed from a
table equals the one the benchmark would measure. ``benchmarks/estimator_study.py``
reads the tables.

    python -m benchmarks.value_tables --skip 15 --limit 8 --out-dir benchmarks/results/tables
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import combinations
from pathlib import Path

import numpy as np

from benchmarks.attribution_benchmark import Fidelity
from benchmarks.peers import common

OUT = Path(__file__).parent / "results" / "tables"


def bernoulli_draws(n_units: int, count: int, seed: int, p: float = 0.5) -> list[frozenset[int]]:
    """``count`` distinct non-empty subsets, each unit in with probability ``p``, in draw order."""
    rng = np.random.default_rng(seed)
    seen: dict[frozenset[int], None] = {}
    limit = 2**n_units - 1
    while len(seen) < min(count, limit):
        mask = rng.random(n_units) < p
        subset = frozenset(int(i) for i in np.flatnonzero(mask))
        if subset:
            seen.setdefault(subset)
    return list(seen)


def orthogonal_design(n_units: int, key: str) -> dict[frozenset[int], float]:
    """The plan (subset -> weight) of ``CLIME(sampling="orthogonal")`` for ``SEED:ROWS``."""
    from langchain_genprog.attribute.mexgen import CLIME

    seed, rows = (int(x) for x in key.split(":"))
    method = CLIME(sampling="orthogonal", oversampling=rows / n_units)
    return dict(method.plan(n_units, np.random.default_rng(seed)).weights)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_common_args(parser)
    parser.add_argument("--bernoulli", type=int, default=64, help="subsets with p = 1/2")
    parser.add_argument("--sparse", type=int, default=48, help="subsets with p = 1/4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--orthogonal",
        default="0:64,1:32",
        help="orthogonal designs to measure, as SEED:ROWS pairs",
    )
    parser.add_argument("--out-dir", default=str(OUT))
    args = parser.parse_args(argv)
    common.set_threads(args.threads)

    from langchain_genprog.models import TransformersLogProbScorer

    model, tokenizer = common.load_smollm2()
    scorer = TransformersLogProbScorer(model, tokenizer, batch_size=1)
    examples = common.load_mds_from_args(args)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for ex in examples:
        path = out_dir / f"{ex['unique_id']}.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        n = len(ex["sources"])
        fid = Fidelity(ex, scorer)
        fid.cache.update({frozenset(s): np.asarray(v) for s, v in old.get("values", [])})
        small = [frozenset(), *(frozenset(c) for k in (1, 2) for c in combinations(range(n), k))]
        draws = bernoulli_draws(n, args.bernoulli, args.seed)
        sparse = bernoulli_draws(n, args.sparse, args.seed + 1, p=0.25)
        designs = {key: orthogonal_design(n, key) for key in args.orthogonal.split(",") if key}
        wanted = small + draws + sparse + [s for plan in designs.values() for s in plan]
        before = len(fid.cache)
        t0 = time.perf_counter()
        fid.ensure(wanted)
        seconds = time.perf_counter() - t0 + old.get("seconds", 0.0)
        record = {
            "unique_id": ex["unique_id"],
            "n_sources": n,
            "answer_sentences": ex["answer_sentences"],
            "gold": ex["gold"],
            "random_pairs": [[sorted(s) for s in sets] for sets in fid.random_sets],
            "bernoulli_order": [sorted(s) for s in draws],
            "quarter_order": [sorted(s) for s in sparse],
            "orthogonal": {
                key: [[sorted(s), w] for s, w in plan.items()] for key, plan in designs.items()
            },
            "values": [[sorted(s), v.tolist()] for s, v in fid.cache.items()],
            "seconds": seconds,
            "seed": args.seed,
        }
        path.write_text(json.dumps(record))
        print(
            f"{ex['unique_id']}: {len(fid.cache)} subsets ({len(fid.cache) - before} new), "
            f"{n} sources, "
            f"{len(ex['answer_sentences'])} sentences, {seconds:.0f}s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
