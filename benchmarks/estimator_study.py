"""Compare attribution estimators offline, on removal games measured once by ``value_tables``.

Every estimator here is our engine's own ``estimate`` (LOO, C-LIME in both
samplings, dense or sparse) or a named alternative fit, fed only values from
the tables — so two estimators differ only in which subsets they would have
asked for and how they fit them, never in model noise. Fidelity@2 is computed
exactly as ``attribution_benchmark.Fidelity`` does (the tables hold every pair,
hence every possible top-2 and the shared random pairs), and F1@k against the
gold links. ``--check RUN`` recomputes a benchmark run's fidelity from the
tables, to show the two agree.

    python -m benchmarks.estimator_study benchmarks/results/tables --ids test0,test1
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.attribution_benchmark import KS, TIE, citation_counts, prf, top_k
from benchmarks.bootstrap import interval, resampled_means
from langchain_genprog.attribute.mexgen import CLIME, LeaveOneOut
from langchain_genprog.attribute.mexgen.method import Plan, by_size

Table = dict[str, Any]
PlanOf = Callable[[Table], Plan]
Fit = Callable[[Table, Plan], np.ndarray]


def load(path: Path) -> Table:
    raw = json.loads(path.read_text())
    raw["v"] = {frozenset(s): np.asarray(v, dtype=float) for s, v in raw["values"]}
    raw["half"] = [frozenset(s) for s in raw["bernoulli_order"]]
    raw["quarter"] = [frozenset(s) for s in raw.get("quarter_order", [])]
    return raw


def n_out(table: Table) -> int:
    return len(table["answer_sentences"])


# --------------------------------------------------------------------------- plans


def engine_plan(method: Any) -> PlanOf:
    """The plan our engine would make (seed 0); C-LIME's constrained plans lie in the table."""
    return lambda t: method.plan(t["n_sources"], np.random.default_rng(0))


def drawn_plan(
    half: int = 0, quarter: int = 0, singles: bool = False, size_decay: float | None = None
) -> PlanOf:
    """The empty set, optionally every singleton, and the first draws of each kernel.

    ``size_decay``: weight a subset by ``size_decay ** |S|`` (LIME's distance kernel:
    removals close to the original count more), instead of all alike.
    """

    def plan_of(table: Table) -> Plan:
        subsets: list[frozenset[int]] = [frozenset()]
        if singles:
            subsets += [frozenset({i}) for i in range(table["n_sources"])]
        subsets += table["half"][:half] + table["quarter"][:quarter]
        subsets = list(dict.fromkeys(subsets))
        weights = {s: 1.0 if size_decay is None else float(size_decay ** len(s)) for s in subsets}
        return Plan(tiers=by_size(subsets), weights=weights)

    return plan_of


def orthogonal_plan(seed: int, rows: int) -> PlanOf:
    """``CLIME(sampling="orthogonal")``'s own plan for about ``rows`` rows (seeded)."""

    def plan_of(table: Table) -> Plan:
        n = table["n_sources"]
        method = CLIME(sampling="orthogonal", oversampling=rows / n)
        return method.plan(n, np.random.default_rng(seed))

    return plan_of


# --------------------------------------------------------------------------- fits


def engine_fit(method: Any) -> Fit:
    """Our engine's own ``estimate``."""

    def fit(table: Table, plan: Plan) -> np.ndarray:
        obs = {s: table["v"][s] for s in plan.subsets}
        return method.estimate(table["n_sources"], n_out(table), obs, plan)

    return fit


def lasso_cc(alpha: float = 0.01) -> Fit:
    """context-cite's solver: Lasso on standardized *kept* masks, with intercept."""

    def fit(table: Table, plan: Plan) -> np.ndarray:
        from sklearn.linear_model import Lasso

        d, subsets = table["n_sources"], plan.subsets
        kept = np.ones((len(subsets), d))
        for r, s in enumerate(subsets):
            kept[r, list(s)] = 0.0
        y = np.vstack([table["v"][s] for s in subsets])
        mu, sd = kept.mean(0), kept.std(0)
        sd[sd == 0] = 1.0
        out = np.zeros((d, y.shape[1]))
        for j in range(y.shape[1]):
            model = Lasso(alpha=alpha, random_state=0).fit((kept - mu) / sd, y[:, j])
            out[:, j] = model.coef_ / sd
        return out

    return fit


def oracle(table: Table, plan: Plan) -> np.ndarray:
    """Not an estimator: the pair whose joint removal drops each sentence most (headroom)."""
    del plan
    d, base = table["n_sources"], table["v"][frozenset()]
    out = np.zeros((d, n_out(table)))
    for j in range(n_out(table)):
        best = max(
            (frozenset({a, b}) for a in range(d) for b in range(a + 1, d)),
            key=lambda s: base[j] - table["v"][s][j],
        )
        out[list(best), j] = 1.0
    return out


def all_pairs(table: Table) -> Plan:
    d = table["n_sources"]
    subsets = [frozenset({a, b}) for a in range(d) for b in range(a + 1, d)]
    return Plan(tiers=(tuple(subsets),))


DENSE_BERN = engine_fit(CLIME(sampling="bernoulli"))
ESTIMATORS: dict[str, tuple[PlanOf, Fit]] = {
    "loo": (engine_plan(LeaveOneOut()), engine_fit(LeaveOneOut())),
    "clime-c10": (engine_plan(CLIME()), engine_fit(CLIME())),
    "clime-c2": (engine_plan(CLIME(oversampling=2)), engine_fit(CLIME(oversampling=2))),
}
for _n in (30, 64):
    ESTIMATORS |= {
        f"half{_n}-dense": (drawn_plan(half=_n), DENSE_BERN),
        f"half{_n}-nnz4": (
            drawn_plan(half=_n),
            engine_fit(CLIME(sampling="bernoulli", num_nonzeros=4)),
        ),
        f"half{_n}-lasso-cc": (drawn_plan(half=_n), lasso_cc()),
        f"half{_n}-decay.5": (drawn_plan(half=_n, size_decay=0.5), DENSE_BERN),
        f"single+half{_n - 12}": (drawn_plan(half=_n - 12, singles=True), DENSE_BERN),
        f"quarter{min(_n, 48)}": (drawn_plan(quarter=min(_n, 48)), DENSE_BERN),
        f"single+quarter{min(_n - 12, 48)}": (
            drawn_plan(quarter=min(_n - 12, 48), singles=True),
            DENSE_BERN,
        ),
        f"half{_n // 2}+quarter{_n - _n // 2}": (
            drawn_plan(half=_n // 2, quarter=_n - _n // 2),
            DENSE_BERN,
        ),
    }
for _seed, _rows in ((0, 16), (1, 16), (0, 32), (1, 32), (0, 64)):
    ESTIMATORS |= {
        f"ortho{_rows}-s{_seed}": (orthogonal_plan(_seed, _rows), DENSE_BERN),
        f"ortho{_rows}-s{_seed}-nnz4": (
            orthogonal_plan(_seed, _rows),
            engine_fit(CLIME(sampling="orthogonal", num_nonzeros=4)),
        ),
    }
ESTIMATORS["oracle-pair"] = (all_pairs, oracle)


# --------------------------------------------------------------------------- metrics


def fidelity(table: Table, scores: np.ndarray) -> list[float]:
    """``attribution_benchmark.Fidelity.score`` from the table's values."""
    out = []
    for j in range(n_out(table)):
        top = frozenset(top_k(list(scores[:, j]), 2))
        rand = float(np.mean([table["v"][frozenset(s)][j] for s in table["random_pairs"][j]]))
        out.append(rand - float(table["v"][top][j]))
    return out


def evaluate(tables: list[Table], names: list[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for name in names:
        counts = {k: {"hits": 0, "pred": 0, "gold": 0} for k in KS}
        fids, per_ex, used = [], {}, []
        plan_of, fit = ESTIMATORS[name]
        for t in tables:
            plan = plan_of(t)
            scores = fit(t, plan)
            per_sentence = [list(scores[:, j]) for j in range(n_out(t))]
            for k, c in citation_counts(t, per_sentence).items():
                for key in c:
                    counts[k][key] += c[key]
            f = fidelity(t, scores)
            fids.extend(f)
            per_ex[t["unique_id"]] = float(np.mean(f))
            used.append(len(plan.subsets))
        rows[name] = {
            "f1": {k: prf(counts[k])[2] for k in KS},
            "fidelity": float(np.mean(fids)),
            "per_example": per_ex,
            "median_rows": statistics.median(used),
        }
    return rows


def report(rows: dict[str, dict[str, Any]], ref: str | None) -> str:
    head = "| estimator | rows | F1@1 | F1@2 | F1@3 | fidelity@2 |"
    if ref:
        head += f" Δ vs {ref} | 95 % CI | W/T/L |"
    lines = [head, "| " + " | ".join("---" for _ in range(head.count("|") - 1)) + " |"]
    for name, r in rows.items():
        line = (
            f"| {name} | {r['median_rows']:.0f} | {r['f1'][1]:.3f} | {r['f1'][2]:.3f} "
            f"| {r['f1'][3]:.3f} | {r['fidelity']:.3f} |"
        )
        if ref:
            diffs = [r["per_example"][u] - rows[ref]["per_example"][u] for u in r["per_example"]]
            w = sum(x > TIE for x in diffs)
            los = sum(x < -TIE for x in diffs)
            boot = resampled_means(diffs, np.random.default_rng(0))
            line += (
                f" {np.mean(diffs):+.3f} | {interval(boot)} | {w}/{len(diffs) - w - los}/{los} |"
            )
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tables", help="directory written by benchmarks.value_tables")
    parser.add_argument("--ids", default="", help="comma-separated example ids (default: all)")
    parser.add_argument("--estimators", default=",".join(ESTIMATORS))
    parser.add_argument("--ref", default=None, help="estimator to pair the others with")
    parser.add_argument("--check", default=None, help="a benchmark attribution.json to re-score")
    parser.add_argument("--out", default=None, help="also write the report (Markdown) here")
    args = parser.parse_args(argv)
    ids = {i for i in args.ids.split(",") if i}
    tables = [load(p) for p in sorted(Path(args.tables).glob("*.json")) if not ids or p.stem in ids]
    partial = [t["unique_id"] for t in tables if "orthogonal" not in t]
    tables = [t for t in tables if "orthogonal" in t]
    if partial:
        print(f"skipped (no orthogonal designs measured yet): {partial}")
    print(f"{len(tables)} examples: {[t['unique_id'] for t in tables]}")
    if args.check:
        run = json.loads(Path(args.check).read_text())
        by_id = {t["unique_id"]: t for t in tables}
        worst = 0.0
        for ex in run["examples"]:
            t = by_id.get(ex["unique_id"])
            if t is None:
                continue
            for res in ex["methods"].values():
                mine = fidelity(t, np.asarray(res["scores"], dtype=float).T)
                gaps = (abs(a - b) for a, b in zip(mine, res["fidelity"], strict=True))
                worst = max(worst, *gaps)
        print(f"largest |fidelity(table) - fidelity(run)|: {worst:.4f}")
    names = [n for n in args.estimators.split(",") if n]
    text = report(evaluate(tables, names), args.ref)
    print(text)
    if args.out:
        command = "python -m benchmarks.estimator_study " + " ".join(argv or sys.argv[1:])
        ids = ", ".join(t["unique_id"] for t in tables)
        Path(args.out).write_text(
            f"```bash\n{command}\n```\n\n{len(tables)} examples: {ids}\n\n{text}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
