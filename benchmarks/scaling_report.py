"""Summary of ``scaling_benchmark`` runs: the table, the cross-fitted fusion, the plot.

Reads ``OUT/<data>.jsonl`` (one line per example and method) and writes a
markdown summary: per data set and method F1@1/2/3 against gold links,
fidelity@2, scorer calls (our ``model_calls``; the peers' forward passes),
forward tokens, the median per-example wall-time ratio to context-cite-32,
the median ratio of attribution time to generating the answer, and the
examples done. ``c2f-measured`` and ``c2f-logit`` are re-rankings of the
``c2f`` run (no model call): measured scores alone, and a logistic fusion of
rank features fitted on the other fold (example index parity), never on the
example it ranks. Also: the recall of gold links among the sentences the
fine pass measured (what the priors and the coarse pass let through), and a
log-log fit of calls and wall time against N per method (the plot).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import attribution_benchmark as ab
from benchmarks.bootstrap import interval, resampled_indices, resampled_means
from benchmarks.result_rows import read_rows

KS = (1, 2, 3)
ORDER = (
    "c2f",
    "c2f-measured",
    "c2f-logit",
    "c2f-rr",
    "c2f-blocks",
    "c2f-mw1",
    "c2f-score",
    "c2f-full",
    "c2f-full-score",
    "c2f-full-none",
    "c2f-ss8",
    "c2f-ss5",
    "c2f-rows32",
    "c2f-wide",
    "default-shipped",
    "context-cite-32",
    "context-cite-64",
    "attribot-hier",
    "lexical-overlap",
    "emb-cosine",
)


def read(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, dict[str, Any]]]]:
    examples: dict[str, dict[str, Any]] = {}
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for rec in read_rows(path):
        if rec["method"] == "example":
            examples[rec["unique_id"]] = rec
        elif "skipped" not in rec:
            runs.setdefault(rec["unique_id"], {})[rec["method"]] = rec
    return examples, runs


def _features(run: dict[str, Any], lex: list[list[float]], emb: list[list[float]]):
    from langchain_genprog.attribute.mexgen.fusion import rank_features

    info = run["c2f"]
    measured = np.array(info["measured"], dtype=float).T  # units x outputs
    order = info["unit_source"]
    signals = {
        "measured": measured,
        "screen": np.array(info["screen"], dtype=float).T,
        "lexical": np.array(lex, dtype=float).T[order],
        "embedding": np.array(emb, dtype=float).T[order],
    }
    return rank_features(signals), order


def derive(examples, runs) -> None:
    """Add ``c2f-measured`` and cross-fitted ``c2f-logit`` runs next to each ``c2f`` run."""
    from langchain_genprog.attribute.mexgen.fusion import fit_logistic_weights, logistic_fusion

    feats: dict[str, Any] = {}
    for uid, by_method in runs.items():
        needed = ("c2f", "lexical-overlap", "emb-cosine")
        if all(m in by_method for m in needed) and "c2f" in by_method["c2f"]:
            f, order = _features(
                by_method["c2f"],
                by_method["lexical-overlap"]["scores"],
                by_method["emb-cosine"]["scores"],
            )
            gold = examples[uid]["gold"]
            labels = np.zeros(f["measured"].shape)
            pos = {src: i for i, src in enumerate(order)}
            for j, links in enumerate(gold):
                for src in links:
                    if src in pos:
                        labels[pos[src], j] = 1.0
            has_gold = np.array([bool(g) for g in gold])
            feats[uid] = (f, order, labels, has_gold)
    for uid, (f, order, _labels, _has) in feats.items():
        n = examples[uid]["n_sources"]
        by_method = runs[uid]
        meas = np.nan_to_num(np.array(by_method["c2f"]["c2f"]["measured"], dtype=float), nan=-1e9)
        by_method["c2f-measured"] = _rerun(by_method["c2f"], _spread(meas, order, n))
        parity = examples[uid]["index"] % 2
        train = [(g[0], g[2], g[3]) for u, g in feats.items() if examples[u]["index"] % 2 != parity]
        if not train:
            continue
        weights = fit_logistic_weights(
            [{k: v[:, h] for k, v in ff.items()} for ff, _, h in train],
            [lab[:, h] for _, lab, h in train],
        )
        prob = logistic_fusion(f, weights).T
        run = _rerun(by_method["c2f"], _spread(prob, order, n))
        run["weights"] = weights
        by_method["c2f-logit"] = run


def _spread(matrix: np.ndarray, order: list[int], n: int) -> list[list[float]]:
    out = np.full((matrix.shape[0], n), -1e9)
    out[:, order] = matrix
    return out.tolist()


def _rerun(base: dict[str, Any], scores: list[list[float]]) -> dict[str, Any]:
    return {**base, "scores": scores, "derived": True}


def score_runs(examples, runs, scorer=None) -> None:
    """Counts for every run (derived ones have no fidelity: it needs the model)."""
    for uid, by_method in runs.items():
        ex = {"gold": examples[uid]["gold"]}
        for run in by_method.values():
            counts = ab.citation_counts(ex, run["scores"])
            run["counts"] = {str(k): v for k, v in counts.items()}


def calls_of(run: dict[str, Any]) -> int:
    return int(run.get("model_calls") or run.get("forward_calls") or 0)


def same_process(run: dict[str, Any], other: dict[str, Any] | None) -> bool:
    """Whether two rows were measured by one process, one after the other.

    Wall time follows the machine's load, so a wall-time ratio is read only
    between rows of one process (its ``pid``); rows re-measured later (``--redo``)
    are compared on forward tokens, which do not depend on the load.
    """
    return other is not None and run.get("pid") is not None and run.get("pid") == other.get("pid")


def pooled_f1(counts: Iterable[dict[str, dict[str, int]]]) -> list[float]:
    """F1@k for each k of ``KS`` over the pooled counts of examples (keyed ``"1"``, ``"2"`` ...)."""
    totals = {k: {"hits": 0, "pred": 0, "gold": 0} for k in KS}
    for example in counts:
        for k in KS:
            for key in totals[k]:
                totals[k][key] += example[str(k)][key]
    return [ab.prf(totals[k])[2] for k in KS]


def table(examples, runs, data: str) -> list[str]:
    lines = [
        f"### {data.upper()}: {len(examples)} examples "
        f"(N = {sorted(e['n_sources'] for e in examples.values())})",
        "",
        "| method | ex | F1@1 | F1@2 | F1@3 | fidelity@2 | scorer calls (median) | fwd tokens "
        "(median) | fwd tokens / context-cite-32 (median) | wall s (median) "
        "| wall / context-cite-32 (median) | attribution / generation (median) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in ORDER:
        per = [(uid, r[m]) for uid, r in runs.items() if m in r]
        if not per:
            continue
        f1 = pooled_f1(r["counts"] for _, r in per)
        fid = [x for _, r in per for x in (r.get("fidelity") or [])]
        ratios = [
            r["wall_time_s"] / runs[uid]["context-cite-32"]["wall_time_s"]
            for uid, r in per
            if same_process(r, runs[uid].get("context-cite-32"))
        ]
        token_ratios = [
            r["forward_tokens"] / runs[uid]["context-cite-32"]["forward_tokens"]
            for uid, r in per
            if "context-cite-32" in runs[uid] and runs[uid]["context-cite-32"]["forward_tokens"]
        ]
        gen = [
            r["wall_time_s"] / examples[uid]["generation_s"]
            for uid, r in per
            if examples[uid].get("generation_s")
        ]
        derived = per[0][1].get("derived")
        label = f"{m} (re-ranking of c2f's run)" if derived else m
        lines.append(
            f"| {label} | {len(per)} | {f1[0]:.3f} | {f1[1]:.3f} | {f1[2]:.3f} "
            f"| {np.mean(fid) if fid and not derived else float('nan'):.3f} "
            f"| {statistics.median(calls_of(r) for _, r in per):g} "
            f"| {statistics.median(r['forward_tokens'] for _, r in per):,.0f} "
            f"| {statistics.median(token_ratios) if token_ratios else float('nan'):.2f} "
            f"| {statistics.median(r['wall_time_s'] for _, r in per):.1f} "
            f"| {statistics.median(ratios) if ratios else float('nan'):.2f} "
            f"| {statistics.median(gen) if gen else float('nan'):.2f} |"
        )
    return lines


def wall_ratio_lines(examples, runs, method: str = "c2f", limit: float = 0.5) -> list[str]:
    """The largest same-process wall and token ratios to context-cite-32, and each above ``limit``.

    The issue's target is ``limit`` at *every* size, which a median hides.
    """
    pairs = []
    for uid, r in runs.items():
        cc = r.get("context-cite-32")
        if method in r and same_process(r[method], cc) and cc["forward_tokens"]:
            wall = r[method]["wall_time_s"] / cc["wall_time_s"]
            tokens = r[method]["forward_tokens"] / cc["forward_tokens"]
            pairs.append((wall, tokens, examples[uid]["n_sources"]))
    if not pairs:
        return []
    over = sorted(p for p in pairs if p[0] > limit)
    shown = ", ".join(f"{w:.2f} (tokens {t:.2f}) at N = {n}" for w, t, n in over) or "none"
    worst = max(pairs)
    return [
        f"`{method}` wall time / context-cite-32 on the {len(pairs)} examples measured in one "
        f"process: largest **{worst[0]:.2f}** (N = {worst[2]}), above {limit:g}: {shown}.",
        "",
    ]


def f1_of(counts: np.ndarray) -> np.ndarray:
    """F1 of pooled ``(hits, predicted, gold)`` counts (last axis): ``2·hits / (pred + gold)``."""
    total = counts[..., 1] + counts[..., 2]
    return np.where(total > 0, 2 * counts[..., 0] / np.maximum(total, 1), 0.0)


def counts_of(runs, uids: list[str], method: str, k: int = 2) -> np.ndarray:
    """``(len(uids), 3)`` per-example ``(hits, predicted, gold)`` counts of ``method`` at ``k``."""
    keys = ("hits", "pred", "gold")
    return np.array([[runs[u][method]["counts"][str(k)][key] for key in keys] for u in uids], float)


def paired_f1_cells(ours: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Table cells of two methods paired on the same examples (rows of :func:`counts_of`).

    Pooled F1 of each, their difference, its bootstrap interval (examples
    resampled with replacement) and the examples won / tied / lost.
    """
    draws = resampled_indices(len(ours), rng)
    boot = f1_of(ours[draws].sum(axis=1)) - f1_of(other[draws].sum(axis=1))
    per_example = f1_of(ours) - f1_of(other)
    won, lost = int((per_example > 0).sum()), int((per_example < 0).sum())
    f1_ours, f1_other = f1_of(ours.sum(axis=0)), f1_of(other.sum(axis=0))
    return [
        f"{f1_ours:.3f}",
        f"{f1_other:.3f}",
        f"{f1_ours - f1_other:+.3f}",
        interval(boot),
        f"{won} / {len(ours) - won - lost} / {lost}",
    ]


def paired_lines(runs, ref: str = "c2f", k: int = 2) -> list[str]:
    """``ref`` against every other method on the examples both ran, paired.

    Pooled F1 over a few dozen examples moves by a few hundredths when one
    topic changes, so a target such as "above context-cite-64" is read from
    the difference on the *same* examples and its bootstrap interval
    (examples resampled with replacement, seed 0), with per-example wins,
    ties and losses; fidelity@2 likewise (mean of per-example differences).
    """
    lines = [
        f"| {ref} against | ex | F1@{k}: {ref} | other | difference | 95 % CI "
        f"| examples won / tied / lost | fidelity@2 difference | 95 % CI |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rng = np.random.default_rng(0)
    for m in ORDER:
        common = [uid for uid, r in runs.items() if ref in r and m in r and m != ref]
        if not common or runs[common[0]][m].get("derived"):
            continue
        ours, other = (counts_of(runs, common, name, k) for name in (ref, m))
        f1_cells = " | ".join(paired_f1_cells(ours, other, rng))
        fid = fidelity_differences(runs, common, ref, m)
        lines.append(
            f"| {m} | {len(common)} | {f1_cells} "
            f"| {f'{np.mean(fid):+.3f}' if fid.size else 'n/a'} "
            f"| {interval(resampled_means(fid, rng)) if fid.size else 'n/a'} |"
        )
    return lines if len(lines) > 2 else []


def fidelity_differences(runs, common: list[str], ref: str, other: str) -> np.ndarray:
    """Per-example mean fidelity@2 of ``ref`` minus ``other``, where both have it."""
    pairs = [(runs[u][ref].get("fidelity"), runs[u][other].get("fidelity")) for u in common]
    return np.array([np.mean(a) - np.mean(b) for a, b in pairs if a and b], dtype=float)


def recall_lines(examples, runs, method: str = "c2f", chosen_by: str = "") -> list[str]:
    """Recall of gold links among what ``method``'s fine pass measured *for their answer sentence*.

    A round-robin run measures every candidate for every answer sentence; a
    supersaturated one (``c2f-ss``) reads each column as one unit per answer
    sentence, so a link counts only where its answer sentence's score exists.
    """
    hit = total = 0
    sizes = []
    for uid, r in runs.items():
        info = r.get(method, {}).get("c2f")
        if not info:
            continue
        sizes.append(len(info["candidates"]))
        source = info["unit_source"]
        for j, links in enumerate(examples[uid]["gold"]):
            read = {source[u] for u, v in enumerate(info["measured"][j]) if v is not None}
            total += len(links)
            hit += len(read.intersection(links))
    if not total:
        return []
    return [
        f"Recall of gold links among the sentences {method}'s fine pass measured for their answer "
        f"sentence (chosen by {chosen_by}the lexical + embedding priors): **{hit / total:.3f}** "
        f"({hit}/{total}; candidates per example: {sizes}).",
        "",
    ]


def oracle_lines(examples, runs, method: str = "c2f") -> list[str]:
    """F1@k of a ranking that puts every gold link first, on the examples ``method`` ran.

    The ceiling of the table's F1 columns: an answer sentence with one gold
    link caps precision at 1/2 for k = 2, one with three caps recall at 2/3.
    """
    counts = []
    for uid, r in runs.items():
        if method not in r:
            continue
        ex = examples[uid]
        scores = [
            [1.0 if i in links else 0.0 for i in range(ex["n_sources"])] for links in ex["gold"]
        ]
        found = ab.citation_counts({"gold": ex["gold"]}, scores)
        counts.append({str(k): c for k, c in found.items()})
    if not counts:
        return []
    f1s = " / ".join(f"{f:.3f}" for f in pooled_f1(counts))
    return [
        f"Ceiling: an oracle ranking every gold link first scores F1@1/2/3 **{f1s}** on the "
        f"{len(counts)} examples `{method}` ran.",
        "",
    ]


def screen_recall_lines(examples, runs, method: str = "c2f-blocks") -> list[str]:
    """What each screen would have picked on ``method``'s runs: blocks, priors, or both.

    The block gains (``screen``) of the runs that scored blocks, and the
    lexical and embedding rows of the same examples, go through the shipped
    :meth:`CoarseToFine.candidates` (no model call) with the run's candidate
    budget; recall is of all gold links, as above. This is the evidence for
    ``screen="priors"``: if the blocks added recall, the priors alone would
    fall short of both.
    """
    from langchain_genprog.attribute.mexgen.coarse_to_fine import CoarseToFine

    pickers = {"block gains alone": (True, False), "priors alone": (False, True)}
    pickers["block gains + priors"] = (True, True)
    hit = dict.fromkeys(pickers, 0)
    total = n = 0
    for uid, r in runs.items():
        info = r.get(method, {}).get("c2f")
        if not info or "lexical-overlap" not in r or "emb-cosine" not in r:
            continue
        order = info["unit_source"]
        screen = np.array(info["screen"], dtype=float).T
        priors = {
            name: np.array(r[row]["scores"], dtype=float).T[order]
            for name, row in (("lexical", "lexical-overlap"), ("embedding", "emb-cosine"))
        }
        engine = CoarseToFine(None, max_fine_units=len(info["candidates"]))  # type: ignore[arg-type]
        for name, (blocks, with_priors) in pickers.items():
            signals = priors if with_priors else {}
            chosen = engine.candidates(screen if blocks else None, signals, [])
            picked = {order[i] for i in chosen}
            hit[name] += sum(len(picked.intersection(links)) for links in examples[uid]["gold"])
        total += sum(len(links) for links in examples[uid]["gold"])
        n += 1
    if not total:
        return []
    shares = ", ".join(f"{name} **{hit[name] / total:.3f}**" for name in pickers)
    return [
        f"Candidates each screen would pick, replayed on the {n} `{method}` runs' stored block "
        f"gains and priors (same budget; recall of {total} gold links): {shares}.",
        "",
    ]


def fit_exponent(ns: list[float], ys: list[float]) -> float:
    x = np.log(np.asarray(ns, dtype=float))
    y = np.log(np.maximum(np.asarray(ys, dtype=float), 1e-9))
    if len(set(ns)) < 2:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def scaling_lines(all_examples, all_runs, plot: Path | None) -> list[str]:
    lines = [
        "| method | points | calls ~ N^b: b | wall ~ N^b: b |",
        "|---|---|---|---|",
    ]
    series: dict[str, list[tuple[int, int, float]]] = {}
    for examples, runs in zip(all_examples, all_runs, strict=True):
        for uid, r in runs.items():
            for m, run in r.items():
                if run.get("derived") or m in ("lexical-overlap", "emb-cosine"):
                    continue
                series.setdefault(m, []).append(
                    (examples[uid]["n_sources"], calls_of(run), run["wall_time_s"])
                )
    for m in ORDER:
        pts = series.get(m)
        if not pts:
            continue
        ns = [p[0] for p in pts]
        lines.append(
            f"| {m} | {len(pts)} | {fit_exponent(ns, [p[1] for p in pts]):.2f} "
            f"| {fit_exponent(ns, [p[2] for p in pts]):.2f} |"
        )
    if plot is not None and series:
        _plot(series, plot)
        lines += ["", f"![calls and wall time vs N]({plot.name})"]
    return lines


def _plot(series, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for m, pts in sorted(series.items()):
        pts = sorted(pts)
        ns = [p[0] for p in pts]
        axes[0].plot(ns, [p[1] for p in pts], "o-", label=m)
        axes[1].plot(ns, [p[2] for p in pts], "o-", label=m)
    for ax, name in zip(axes, ("scorer calls", "wall s"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("source sentences N")
        ax.set_ylabel(name)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


NOTES = """
## Caveats

* PARTIAL: the `ex` column says how many examples each method finished. `c2f`, lexical overlap
  and embedding cosine are meant to cover every dev example; context-cite takes 2-6 min per MDS
  topic and LFQA question here, AttriBoT and the old flat default 8-11 min, so they ran on fewer.
  Rerun `scaling_benchmark` without `--examples` to complete (done lines are skipped).
* Wall times drift with the machine's load (each row records its load average: 1-13 on 2 cores
  over the runs), forward tokens hardly (within 2 % when a row is measured again: the
  scorer's prefix cache carries over from the previous call). Medians of per-example ratios use
  only examples where both methods ran, and wall-time ratios only rows of one process (`pid`):
  rows measured again after a change (`--redo`), or by another process, count in the token ratio
  only.
* `c2f` is `MExGenAttributor()` as it ships: on inputs of at most 9 sentences (one MDS topic,
  two LFQA questions) that is the flat design, whose rows have no coarse-to-fine details (the
  re-rankings and the candidate recall leave them out). `c2f-rr` (15 candidates round-robin, the
  default of session 21) and `c2f-blocks` (the block pass, the default until session 21) keep the
  rows measured before; where context-cite-32 was measured again next to the new `c2f`, the older
  rows lost their same-process partner and count in the token ratio only. The `c2f` rows of
  session 22 take fidelity's random baseline from the `c2f-rr` row of the example, which took it
  from `c2f-blocks` (`--fidelity-from`, exact: see `benchmarks/README.md`). Since session 24
  the default's `fine_per_output="auto"` is the round-robin on answers of up to 4 sentences and
  8 per sentence above: every MDS answer has 5 or more, so the MDS `c2f` rows of session 22
  stand; on LFQA `c2f` was measured again (next to context-cite-32 where the time allowed) and
  the rows of session 22 are `c2f-ss8` (`fine_per_output=8`). `c2f-wide`, `c2f-ss5` and
  `c2f-rows32` are labelled variants (session 23 measured the last two with `--fidelity-from
  c2f`), not the default. Since session 25 the default's `measured_weight` is 2: the rows
  measured until then are `c2f-mw1`, and the `c2f` rows are the same runs re-ranked with weight
  2 (`benchmarks/fusion_weight.py --promote 2`; the fusion is the last step and calls no model,
  so calls, tokens and wall time are the run's own), with fidelity@2 measured for the new
  ranking. Measuring the new default afresh on 6 examples gave the same scores
  (`benchmarks/README.md`). `c2f-score` (`fusion="score"`, an option since session 26) is
  made the same way: the `c2f-mw1` runs re-ranked with the measured score scaled, not ranked.
  `c2f-full` (`fine_context="full"`, an option since session 27) is its own run (the fine
  design on the whole prompt, only the candidates perturbed), and `c2f-full-score` /
  `c2f-full-none` are that run ranked with `fusion="score"` / by the measurement alone
  (`benchmarks/fine_context.py`), in another process than context-cite-32: no wall ratio.
* The exponent fits pool MDS and LFQA (different answer lengths); read them as a sketch. Calls of
  AttriBoT scale with the number of answer sentences (one run per sentence).
* `fidelity@2` is n/a where the full prompt exceeds the 8,192-token window, as are context-cite and
  AttriBoT (their prompts hold the whole input).
"""


def write_summary(out_dir: Path, summary: Path) -> str:
    md = [
        "# Attribution at full size (issue 10) — PARTIAL",
        "",
        "Produced by `python -m benchmarks.scaling_benchmark --summarize` from "
        f"`{out_dir.name}/*.jsonl` next to this file (see the modules' docstrings).",
        "",
    ]
    all_examples, all_runs = [], []
    for data in ("mds", "lfqa"):
        path = out_dir / f"{data}.jsonl"
        if not path.exists():
            continue
        examples, runs = read(path)
        derive(examples, runs)
        score_runs(examples, runs)
        all_examples.append(examples)
        all_runs.append(runs)
        md += [*table(examples, runs, data), "", *wall_ratio_lines(examples, runs)]
        md += oracle_lines(examples, runs)
        md += recall_lines(examples, runs)
        md += recall_lines(examples, runs, "c2f-rr")
        md += recall_lines(examples, runs, "c2f-blocks", "the block gains and ")
        md += screen_recall_lines(examples, runs)
        paired = paired_lines(runs)
        if paired:
            md += [f"Paired on the examples both ran ({data.upper()}):", "", *paired, ""]
    md += ["## Scaling", "", *scaling_lines(all_examples, all_runs, out_dir / "scaling.png")]
    text = "\n".join(md) + "\n" + NOTES
    summary.write_text(text)
    return text
