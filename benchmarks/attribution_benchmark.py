"""Issue 3 benchmark: our MExGen attributor vs icx360, context-cite and baselines.

One process, one SmolLM2-135M-Instruct model object (loaded by
``benchmarks.peers.common.load_smollm2``), the same truncated MDS dev
examples (``common.load_mds``) and the same prompt layout
(``Context: s0 s1 ...\\n\\nQuery: Summarize the documents above.`` as the user
turn of the SmolLM2 chat template) for every method.

Methods:

* ``ours-loo`` / ``ours-clime`` / ``ours-lshap`` - ``MExGenAttributor`` at sentence
  level; ``ours-clime-c2`` - C-LIME with oversampling 2 (about 2·d perturbations
  instead of 10·d: the budget of context-cite-32 on ~16 units);
  ``ours-clime-bern`` - C-LIME with ``sampling="bernoulli"`` (each sentence
  removed with probability 1/2), oversampling 2.5 (<= 32 calls on 12 units)
  and a sparse fit of 4 units (settings picked on MDS dev ``test0`` and
  ``test10`` in a scratch run before the final one); ``ours-clime-bern64`` -
  the same with oversampling 5.25 (<= 64 calls on 12 units: context-cite-64's
  budget);
  ``ours-clime-multi`` - C-LIME with levels ("sentence", "phrase") and LOO at
  the phrase level (``refine_method="loo"``; sentence-level scores used for
  ranking; the phrase pass is extra cost).
  Scorer: ``TransformersLogProbScorer`` wrapping the shared model (by default
  one prompt at a time, each reusing the KV cache of its common prefix with
  the previous, sorted, perturbation).
* ``icx360-clime`` / ``icx360-lshap`` - ``benchmarks/peers/icx360_runner.py``.
* ``context-cite-32`` / ``context-cite-64`` - ``benchmarks/peers/contextcite_runner.py``.
* ``emb-cosine`` (MiniLM, ``default_embeddings()``) and ``lexical-overlap``
  (``segment.selection.lexical_overlap``) baselines (no LM forward passes).

Metrics: micro P/R/F1 of the top-k sources (k=1,2,3) against the gold links of
each answer sentence (sentences without gold after truncation are skipped),
fidelity@2 (see ``fidelity``), forward passes (calls/rows/tokens of
``model.forward``), wall time and its ratio to ``ours-clime``.

Run inside the peers venv from the repo root::

    /work/peers-venv/bin/python -m benchmarks.attribution_benchmark \\
        --limit 3 --max-sources 12 --max-answer-sentences 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

from benchmarks.bootstrap import interval, resampled_means
from benchmarks.peers import common

RESULTS = Path(__file__).resolve().parent / "results"
OURS_CONFIG: dict[str, dict[str, Any]] = {
    "ours-loo": {"method": "loo"},
    "ours-clime": {"method": "clime"},
    "ours-clime-c2": {"method": "clime", "oversampling": 2.0},
    "ours-clime-bern": {
        "method": "clime",
        "sampling": "bernoulli",
        "oversampling": 2.5,
        "num_nonzeros": 4,
    },
    "ours-clime-bern64": {
        "method": "clime",
        "sampling": "bernoulli",
        "oversampling": 5.25,
        "num_nonzeros": 4,
    },
    "ours-clime-ortho": {"method": "clime", "sampling": "orthogonal", "oversampling": 2.5},
    "ours-lshap": {"method": "lshap"},
    "ours-clime-multi": {
        "method": "clime",
        "levels": ("sentence", "phrase"),
        "refine_method": "loo",
    },
}
"""Each of our variants, over ``OURS_DEFAULTS``: what the attributor gets and the run records."""
OURS_DEFAULTS: dict[str, Any] = {
    "levels": ("sentence",),
    "oversampling": 10.0,
    "sampling": "constrained",
    "num_nonzeros": None,
    "refine_method": None,
}
OURS = tuple(OURS_CONFIG)
PEERS = ("icx360-clime", "icx360-lshap", "context-cite-32", "context-cite-64")
BASELINES = ("emb-cosine", "lexical-overlap")
ALL_METHODS = OURS + PEERS + BASELINES
KS = (1, 2, 3)


# --------------------------------------------------------------------------- our engine


def peer_template(query: str):
    """A ContextTemplate rendering exactly the peers' prompt (see benchmarks/peers/README.md).

    ``Context: {s0} {s1} ...\\n\\nQuery: {query}``; a removed unit (replacement
    ``""``) disappears together with its separator, as in context-cite.
    """
    from langchain_genprog.attribute.mexgen.template import ContextTemplate

    before, after = common.template_affixes(query)

    class PeerTemplate(ContextTemplate):
        def render(self, segments, texts) -> str:
            return before + " ".join(t for t in texts if t) + after

    return PeerTemplate()


def build_sources(example: dict[str, Any]):
    """``Sources`` with ids 1..N in the order of ``example["sources"]`` (grouped by document)."""
    from langchain_core.documents import Document

    from langchain_genprog.segment.sources import Sources

    docs: list[tuple[str, list[str]]] = []
    for (doc_file, _), text in zip(example["source_ids"], example["sources"], strict=True):
        if not docs or docs[-1][0] != doc_file:
            docs.append((doc_file, []))
        docs[-1][1].append(common.clean(text))
    documents = [
        Document(page_content=" ".join(sents), metadata={"sentences": sents, "title": name})
        for name, sents in docs
    ]
    sources = Sources.from_documents(documents)
    assert [s.text for s in sources.sentences] == [common.clean(s) for s in example["sources"]]
    return sources


def answer_sentences(example: dict[str, Any]):
    from langchain_genprog.attribute import AnswerSentence

    out, cursor = [], 0
    for i, text in enumerate(example["answer_sentences"]):
        out.append(AnswerSentence(index=i, text=text, start=cursor, end=cursor + len(text)))
        cursor += len(text) + 1
    return out


def run_ours(name: str, example, model, scorer) -> dict[str, Any]:
    from langchain_genprog.attribute import MExGenAttributor

    config = {**OURS_DEFAULTS, **OURS_CONFIG[name]}
    query = example["question"] or common.DEFAULT_QUERY
    with common.ForwardCounter(model) as counter, common.Stopwatch() as sw:
        sources = build_sources(example)
        attributor = MExGenAttributor(
            scorer,
            method=config["method"],
            sampling=config["sampling"],
            refine_method=config["refine_method"],
            levels=config["levels"],
            top_k=3,
            max_candidates=None,
            with_documents=False,
            template=peer_template(query),
            batch_size=scorer.batch_size,
            oversampling=config["oversampling"],
            num_nonzeros=config["num_nonzeros"],
            seed=0,
        )
        result = attributor.attribute(answer_sentences(example), sources)
    n = len(example["sources"])
    scores = []
    for row in result.matrix:
        vec = [0.0] * n
        for sid, value in zip(result.unit_ids, row, strict=True):
            vec[sid - 1] = float(value)
        scores.append(vec)
    return {
        "method": name,
        "scores": scores,
        "wall_time_s": sw.seconds,
        **counter.snapshot(),
        "model_calls": result.model_calls,
        "complete": result.complete,
        "config": {**config, "levels": list(config["levels"]), "batch_size": scorer.batch_size},
    }


# --------------------------------------------------------------------------- baselines


def run_baseline(name: str, example) -> dict[str, Any]:
    with common.Stopwatch() as sw:
        srcs = [common.clean(s) for s in example["sources"]]
        if name == "emb-cosine":
            from langchain_genprog.models import default_embeddings

            emb = default_embeddings()
            a = np.asarray(emb.embed_documents(example["answer_sentences"]), dtype=float)
            s = np.asarray(emb.embed_documents(srcs), dtype=float)
            a /= np.linalg.norm(a, axis=1, keepdims=True) + 1e-12
            s /= np.linalg.norm(s, axis=1, keepdims=True) + 1e-12
            scores = (a @ s.T).tolist()
        else:
            from langchain_genprog.segment.selection import lexical_overlap

            scores = [[lexical_overlap(a, b) for b in srcs] for a in example["answer_sentences"]]
    return {
        "method": name,
        "scores": scores,
        "wall_time_s": sw.seconds,
        "forward_calls": 0,
        "forward_rows": 0,
        "forward_tokens": 0,
    }


def run_method(name: str, example, model, tokenizer, scorer) -> dict[str, Any]:
    args = (example["sources"], example["question"], example["answer_sentences"], model, tokenizer)
    if name in OURS:
        return run_ours(name, example, model, scorer)
    if name.startswith("icx360-"):
        from benchmarks.peers import icx360_runner

        return icx360_runner.run(*args, method=name.split("-")[1], batch_size=1, seed=0)
    if name.startswith("context-cite-"):
        from benchmarks.peers import contextcite_runner

        return contextcite_runner.run(*args, num_ablations=int(name.rsplit("-", 1)[1]))
    return run_baseline(name, example)


# --------------------------------------------------------------------------- metrics


def top_k(scores: list[float], k: int) -> list[int]:
    s = np.asarray(scores, dtype=float)
    s = np.nan_to_num(s, nan=-np.inf)
    return [int(i) for i in np.argsort(-s, kind="stable")[:k]]


def citation_counts(example, scores) -> dict[int, dict[str, int]]:
    """Per k: hits, predicted, gold (over answer sentences with gold links)."""
    out = {k: {"hits": 0, "pred": 0, "gold": 0} for k in KS}
    for j, gold in enumerate(example["gold"]):
        if not gold or j >= len(scores):
            continue
        for k in KS:
            pred = top_k(scores[j], k)
            out[k]["hits"] += len(set(pred) & set(gold))
            out[k]["pred"] += len(pred)
            out[k]["gold"] += len(gold)
    return out


def prf(c: dict[str, int]) -> tuple[float, float, float]:
    p = c["hits"] / c["pred"] if c["pred"] else float("nan")
    r = c["hits"] / c["gold"] if c["gold"] else float("nan")
    f = 2 * p * r / (p + r) if c["pred"] and c["gold"] and (p + r) > 0 else 0.0
    return p, r, f


class Fidelity:
    """Log-prob drop of an answer sentence when its top-k sources are removed, minus random.

    Scored with our ``LogProbScalarizer`` over the whole answer (each sentence's
    mean token log-prob in the context of the preceding answer sentences, as
    ours and context-cite score it), same prompt layout as every method.
    ``fidelity = mean_r[lp(remove random_r)] - lp(remove top-k)``
    (= drop(top-k) - mean drop(random)), with ``n_random`` random k-subsets per
    answer sentence shared by all methods. Results are cached per removal set.
    """

    def __init__(self, example, scorer, k: int = 2, n_random: int = 4, seed: int = 0):
        from langchain_genprog.attribute.mexgen.scalarizers import LogProbScalarizer
        from langchain_genprog.attribute.mexgen_node import answer_target

        self.example, self.k = example, k
        self.parts = [common.clean(s) for s in example["sources"]]
        self.before, self.after = common.template_affixes(
            example["question"] or common.DEFAULT_QUERY
        )
        target, spans = answer_target(answer_sentences(example))
        self.scalarizer = LogProbScalarizer(scorer, target, spans, reduce="mean")
        self.cache: dict[frozenset[int], np.ndarray] = {}
        rng = random.Random(seed)
        n = len(self.parts)
        self.random_sets = [
            [frozenset(rng.sample(range(n), min(k, n))) for _ in range(n_random)]
            for _ in example["answer_sentences"]
        ]
        self.seconds = 0.0

    def prompt(self, removed: frozenset[int]) -> str:
        return (
            self.before
            + " ".join(p for i, p in enumerate(self.parts) if i not in removed)
            + (self.after)
        )

    def ensure(self, sets: list[frozenset[int]]) -> None:
        todo = list(dict.fromkeys(s for s in sets if s not in self.cache))
        if not todo:
            return
        t0 = time.perf_counter()
        values = self.scalarizer.scalarize([self.prompt(s) for s in todo])
        for s, v in zip(todo, values, strict=True):
            self.cache[s] = np.asarray(v, dtype=float)
        self.seconds += time.perf_counter() - t0

    def random_baseline(self) -> None:
        self.ensure([frozenset()] + [s for sets in self.random_sets for s in sets])

    def score(self, scores: list[list[float]]) -> list[float]:
        tops = [frozenset(top_k(row, self.k)) for row in scores]
        self.ensure(tops)
        out = []
        for j, top in enumerate(tops):
            rand = float(np.mean([self.cache[s][j] for s in self.random_sets[j]]))
            out.append(rand - float(self.cache[top][j]))
        return out

    def score_against(
        self, scores: list[list[float]], ref_scores: list[list[float]], ref_fidelity: list[float]
    ) -> list[float]:
        """:meth:`score`, from a stored row of this example instead of the random sets.

        ``fidelity = rand - lp(top)`` and the stored row gives ``rand =
        ref_fidelity + lp(ref_top)``, so an answer sentence whose top-k is the
        reference's keeps its fidelity (no call) and one whose top-k changed
        costs two full-prompt calls (its top-k and the reference's), not the
        ``n_random + 1`` per sentence of a fresh baseline. Exact for the same
        scorer and prompt (the random sets are seeded).
        """
        tops = [frozenset(top_k(row, self.k)) for row in scores]
        refs = [frozenset(top_k(row, self.k)) for row in ref_scores]
        changed = [j for j, (a, b) in enumerate(zip(tops, refs, strict=True)) if a != b]
        self.ensure([refs[j] for j in changed] + [tops[j] for j in changed])
        out = [float(f) for f in ref_fidelity]
        for j in changed:
            out[j] += float(self.cache[refs[j]][j]) - float(self.cache[tops[j]][j])
        return out


# --------------------------------------------------------------------------- report


def summarize(raw: dict[str, Any], methods: list[str]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for m in methods:
        per_ex = [e["methods"][m] for e in raw["examples"] if m in e["methods"]]
        if not per_ex:
            continue
        totals = {k: {"hits": 0, "pred": 0, "gold": 0} for k in KS}
        for r in per_ex:
            for k in KS:
                for key in totals[k]:
                    totals[k][key] += r["counts"][str(k)][key]
        fid = [x for r in per_ex for x in r["fidelity"]]
        row = {
            "examples": len(per_ex),
            "wall_time_s": sum(r["wall_time_s"] for r in per_ex),
            "forward_calls": sum(r["forward_calls"] for r in per_ex),
            "forward_rows": sum(r["forward_rows"] for r in per_ex),
            "forward_tokens": sum(r["forward_tokens"] for r in per_ex),
            "fidelity": float(np.mean(fid)) if fid else float("nan"),
            "median_wall_time_s": statistics.median(r["wall_time_s"] for r in per_ex),
            "median_forward_rows": statistics.median(r["forward_rows"] for r in per_ex),
            "median_f1_at_2": statistics.median(
                prf({k: v for k, v in r["counts"]["2"].items()})[2] for r in per_ex
            ),
            "median_fidelity": statistics.median(
                float(np.mean(r["fidelity"])) for r in per_ex if r["fidelity"]
            )
            if any(r["fidelity"] for r in per_ex)
            else float("nan"),
        }
        for k in KS:
            p, r_, f = prf(totals[k])
            row[f"p@{k}"], row[f"r@{k}"], row[f"f1@{k}"] = p, r_, f
        rows[m] = row
    ref_examples = {e["unique_id"] for e in raw["examples"] if "ours-clime" in e["methods"]}
    ref = rows.get("ours-clime", {}).get("wall_time_s")
    for m, row in rows.items():
        # ratio only over examples both methods finished
        both = [e for e in raw["examples"] if m in e["methods"] and e["unique_id"] in ref_examples]
        num = sum(e["methods"][m]["wall_time_s"] for e in both)
        den = sum(e["methods"]["ours-clime"]["wall_time_s"] for e in both)
        row["time_ratio"] = num / den if den and ref else float("nan")
    return rows


def fmt(x: float, nd: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def table(rows: dict[str, dict[str, Any]]) -> str:
    head = (
        "| method | ex | P@1 | R@1 | F1@1 | P@2 | R@2 | F1@2 | P@3 | R@3 | F1@3 "
        "| fidelity@2 | fwd calls | fwd rows | fwd tokens | wall s | time / ours-clime |"
    )
    lines = [head, "|" + " --- |" * 17]
    for m, r in rows.items():
        cells = [m, str(r["examples"])]
        for k in KS:
            cells += [fmt(r[f"p@{k}"]), fmt(r[f"r@{k}"]), fmt(r[f"f1@{k}"])]
        cells += [
            fmt(r["fidelity"]),
            str(r["forward_calls"]),
            str(r["forward_rows"]),
            str(r["forward_tokens"]),
            fmt(r["wall_time_s"], 1),
            fmt(r["time_ratio"], 2),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def medians_table(rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| method | median wall s / example | median fwd rows / example "
        "| median F1@2 / example | median fidelity@2 / example |",
        "| --- | --- | --- | --- | --- |",
    ]
    for m, r in rows.items():
        lines.append(
            f"| {m} | {fmt(r['median_wall_time_s'], 1)} | {r['median_forward_rows']:g} "
            f"| {fmt(r['median_f1_at_2'])} | {fmt(r['median_fidelity'])} |"
        )
    return "\n".join(lines)


PAIRED_REFS = ("context-cite-32", "context-cite-64")
TIE = 0.005
"""Fidelity differences below this (nats/token) count as ties."""


def paired_table(raw: dict[str, Any], methods: list[str], ref: str) -> str:
    """Each method against ``ref`` on the examples both ran: fidelity and wall time, paired.

    Pooled means hide that one example with large log-prob drops (a summary
    that copies its sources) can outweigh all others; paired per-example
    differences, win/tie/loss counts and a bootstrap interval (examples
    resampled, 10,000 draws, seed 0) say whether a gap is more than noise.
    """
    lines = [
        f"| method | examples | fidelity@2 − {ref}: median | mean | 95 % CI of mean "
        f"| wins / ties / losses | wall / {ref}: median |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    rng = np.random.default_rng(0)
    for m in methods:
        if m == ref:
            continue
        pairs = [
            (e["methods"][m], e["methods"][ref])
            for e in raw["examples"]
            if m in e["methods"] and ref in e["methods"]
        ]
        if not pairs:
            continue
        diffs = [float(np.mean(a["fidelity"]) - np.mean(b["fidelity"])) for a, b in pairs]
        wins = sum(d > TIE for d in diffs)
        losses = sum(d < -TIE for d in diffs)
        ratios = [a["wall_time_s"] / b["wall_time_s"] for a, b in pairs if b["wall_time_s"]]
        lines.append(
            f"| {m} | {len(pairs)} | {statistics.median(diffs):+.3f} | {np.mean(diffs):+.3f} "
            f"| {interval(resampled_means(diffs, rng))} "
            f"| {wins} / {len(diffs) - wins - losses} / {losses} "
            f"| {fmt(statistics.median(ratios), 2) if ratios else 'n/a'} |"
        )
    return "\n".join(lines)


def write_report(raw: dict[str, Any], methods: list[str], out_dir: Path, final: bool) -> str:
    rows = summarize(raw, methods)
    raw["summary"] = rows
    n_sent = sum(len(e["answer_sentences"]) for e in raw["examples"])
    n_gold = sum(1 for e in raw["examples"] for g in e["gold"] if g)
    md = [
        "# Attribution benchmark (issue 3)",
        "",
        "Command:",
        "",
        "```bash",
        raw["command"],
        "```",
        "",
        f"Status: {'complete' if final else 'PARTIAL (run still in progress or interrupted)'}; "
        f"started {raw['started']}, written {time.strftime('%Y-%m-%d %H:%M:%S')} UTC.",
        f"Examples: {len(raw['examples'])} MDS dev; sources per example: "
        f"{[len(e['sources']) for e in raw['examples']]} (of "
        f"{[e['n_sources_full'] for e in raw['examples']]}); answer sentences: {n_sent} "
        f"({n_gold} with gold links after truncation). Torch threads: {raw['threads']}; "
        f"load average at start {raw['loadavg_start']}, at write {os.getloadavg()[0]:.1f}.",
        "",
        table(rows),
        "",
        "Per-example medians:",
        "",
        medians_table(rows),
        "",
    ]
    for ref in PAIRED_REFS:
        if any(ref in e["methods"] for e in raw["examples"]):
            md += [
                f"Paired with {ref} (per example; ties: |difference| < {TIE}):",
                "",
                paired_table(raw, methods, ref),
                "",
            ]
    text = "\n".join(md)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "attribution.md").write_text(text)
    (out_dir / "attribution.json").write_text(json.dumps(raw, indent=1, default=float))
    return text


# --------------------------------------------------------------------------- main


def combine(dirs: list[str], out_dir: Path, argv: list[str]) -> int:
    """Pool the examples of several runs (each one process) into one table.

    Every per-example number (scores, forward counts, wall times, fidelity) comes
    from its own run; time ratios are formed per example inside its run.
    """
    runs = [json.loads((Path(d) / "attribution.json").read_text()) for d in dirs]
    methods = list(dict.fromkeys(m for r in runs for e in r["examples"] for m in e["methods"]))
    pooled = {
        "command": "\n".join(
            ["# pooled with: python -m benchmarks.attribution_benchmark " + " ".join(argv)]
            + [r["command"] for r in runs]
        ),
        "started": min(r["started"] for r in runs),
        "threads": runs[0]["threads"],
        "loadavg_start": [r["loadavg_start"] for r in runs],
        "runs": [
            {"dir": d, "command": r["command"], "started": r["started"]}
            for d, r in zip(dirs, runs, strict=True)
        ],
        "examples": [e for r in runs for e in r["examples"]],
    }
    final = all(
        r.get("complete") or "Status: complete" in (Path(d) / "attribution.md").read_text()
        for d, r in zip(dirs, runs, strict=True)
    )
    print(write_report(pooled, methods, out_dir, final=final))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv_list = list(argv if argv is not None else sys.argv[1:])
    if argv_list[:1] == ["--combine"]:
        *dirs, out = argv_list[1:]
        return combine(dirs, Path(out), argv_list)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_common_args(parser)
    parser.add_argument("--methods", default=",".join(ALL_METHODS))
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="our scorer's batch size (1: incremental prefix KV reuse, fastest on CPU)",
    )
    parser.add_argument("--fidelity-k", type=int, default=2)
    parser.add_argument("--fidelity-random", type=int, default=4)
    parser.add_argument("--out-dir", default=str(RESULTS))
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(ALL_METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}")
    if "ours-clime" not in methods:
        print("note: time ratios need ours-clime", file=sys.stderr)
    common.set_threads(args.threads)

    from langchain_genprog.models import TransformersLogProbScorer

    t0 = time.perf_counter()
    model, tokenizer = common.load_smollm2()
    scorer = TransformersLogProbScorer(model, tokenizer, batch_size=args.batch_size)
    print(f"model loaded in {time.perf_counter() - t0:.1f}s", flush=True)

    # same prompt tokens for ours and the peers (the peers render the user turn themselves)
    query = common.DEFAULT_QUERY
    before, after = common.template_affixes(query)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": before + "a b" + after}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert (
        scorer.prompt_ids(before + "a b" + after)
        == tokenizer(text, add_special_tokens=False)["input_ids"]
    )

    examples = common.load_mds_from_args(args)
    raw: dict[str, Any] = {
        "command": " ".join(
            shlex.quote(a) for a in [sys.executable, "-m", "benchmarks.attribution_benchmark"]
        )
        + " "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "threads": args.threads,
        "loadavg_start": round(os.getloadavg()[0], 1),
        "args": vars(args),
        "examples": [],
    }
    out_dir = Path(args.out_dir)
    for ei, ex in enumerate(examples):
        print(
            f"\n=== example {ei} {ex['unique_id']}: {len(ex['sources'])}/{ex['n_sources_full']} "
            f"sources, {len(ex['answer_sentences'])} answer sentences, gold {ex['gold']}",
            flush=True,
        )
        record = {
            k: ex[k]
            for k in (
                "unique_id",
                "sources",
                "source_ids",
                "n_sources_full",
                "answer_sentences",
                "gold",
            )
        }
        record["methods"] = {}
        raw["examples"].append(record)
        fid = Fidelity(ex, scorer, k=args.fidelity_k, n_random=args.fidelity_random)
        fid.random_baseline()
        for m in methods:
            res = run_method(m, ex, model, tokenizer, scorer)
            counts = citation_counts(ex, res["scores"])
            res["counts"] = {str(k): v for k, v in counts.items()}
            res["fidelity"] = fid.score(res["scores"])
            record["methods"][m] = res
            f2 = prf(counts[2])[2]
            print(
                f"  {m:<18} wall {res['wall_time_s']:7.1f}s  fwd calls {res['forward_calls']:5d}"
                f"  rows {res['forward_rows']:5d}  F1@2 {f2:.3f}"
                f"  fid@2 {np.mean(res['fidelity']):+.3f}"
                f"  top1 {[top_k(s, 1)[0] for s in res['scores']]}",
                flush=True,
            )
            write_report(raw, methods, out_dir, final=False)
        record["fidelity_seconds"] = fid.seconds
    raw["complete"] = True
    print()
    print(write_report(raw, methods, out_dir, final=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
