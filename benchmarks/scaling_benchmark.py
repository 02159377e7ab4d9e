"""Issue 10 benchmark: attribution at full size (every source and answer sentence).

One process, one SmolLM2-135M-Instruct model object, the common prompt of
``benchmarks/peers`` for every LM method, whole MDS topics and LFQA questions
(no truncation of sources or answer). Methods:

* ``c2f`` - ``MExGenAttributor()`` as it ships (``scheme="auto"``, sentences):
  coarse-to-fine above 9 citable sentences - every MDS topic but one and all
  but two LFQA questions - and the flat C-LIME design at or below 9 (those
  rows carry no coarse-to-fine details, so the re-rankings below skip them).
  The lexical + embedding priors pick the candidates (``fine_per_output=
  "auto"``): on answers of 5+ sentences (every MDS topic) each answer
  sentence's 8 best, measured by a 16-row supersaturated design in which
  candidates of different answer sentences share columns; on answers of up to
  4 (43 of 44 LFQA questions) 15 round-robin, a column each (as ``c2f-rr``).
  Rank fusion of the measurement and the priors.
* ``c2f-rr`` - the default of session 21 (``fine_per_output=None``): 15
  candidates round-robin over the answer sentences, a column each. Its rows
  were measured as ``c2f`` and relabelled when the default changed (the flat
  rows at N <= 9 count for both).
* ``c2f-ss<K>`` - the supersaturated design with ``fine_per_output=K``.
* ``c2f-mw<W>`` - the shipped scheme with ``measured_weight=W`` in the rank
  fusion. ``c2f-mw1`` is the default until session 25, whose rows were
  measured as ``c2f``; the ``c2f`` rows since are that run re-ranked with the
  new weight (``benchmarks/fusion_weight.py --promote``: the fusion is the
  last step and calls no model), with fidelity@2 measured for the new ranking.
* ``c2f-score`` - the shipped scheme with ``fusion="score"`` (the measured
  score min-max scaled, not ranked, in the fusion; session 26). Its rows are
  the ``c2f-mw1`` runs re-ranked (``fusion_weight.py --promote 2 --kind score
  --as c2f-score``), with fidelity@2 measured for the new ranking.
* ``c2f-full`` - the shipped scheme with ``fine_context="full"`` (session
  27): the fine design perturbs the same candidates, but every prompt keeps
  the rest of the input, so each candidate is measured where the model reads
  it (16 full-length prompts instead of 16 short ones).
* ``c2f-rows<R>`` - the shipped scheme with ``fine_rows=R`` (``R - 1``
  columns, so less sharing; ``R`` fine calls instead of 16): what more
  measurement buys in fidelity, a labelled variant.
* ``c2f-blocks`` - the default until session 21 (``screen="blocks"``,
  round-robin candidates): blocks
  of ``ceil(sqrt(N))`` sentences are also scored alone (``sqrt(N) + 1``
  calls) and their gains join the priors in picking the candidates.
  ``c2f-measured`` and ``c2f-logit`` are *the same run* ranked differently:
  by the measured scores alone, and by a logistic fusion fitted on the
  examples of the other fold (cross-fitted by example index parity; never
  on the example it ranks).
* ``c2f-wide`` - coarse-to-fine with ``3·A`` candidates (15 to 31, ``A``
  answer sentences) and a 32-row design past 15 (:func:`wide_options`): a
  labelled variant, not what ships.
* ``default-shipped`` - the previous default, as it shipped until ``scheme="auto"``:
  ``MExGenAttributor(scheme="flat", levels=("sentence", "phrase"))`` (C-LIME
  orthogonal c=2.5, phrase LOO, ``max_candidates=40`` neighbourhood), with the
  common prompt. The row name stays for the rows measured before.
* ``context-cite-32`` / ``-64`` - ``peers/contextcite_runner.py``.
* ``attribot-hier`` - ``peers/attribot_runner.py`` (AttriBoT's hierarchical LOO
  with its KV cache, ``keep_paragraphs=3``, paragraphs = our blocks).
* ``lexical-overlap`` / ``emb-cosine`` - the cheap signals alone.

Methods whose prompt must hold the whole input (context-cite, AttriBoT,
fidelity) are skipped, and say so, when it exceeds the model's window.

Results append to ``OUT/<data>.jsonl``, one line per (example, method) and one
``example`` line; a rerun skips what is there (resumable). ``--summarize``
writes ``benchmarks/results/attribution_scaling.md`` and the plot::

    python -m benchmarks.scaling_benchmark --data mds --examples 2,1,10,13
    python -m benchmarks.scaling_benchmark --summarize

Two processes never append to one file: give the second its own
``--out-dir`` and merge its rows afterwards with ``--merge DIR``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np

from benchmarks import attribution_benchmark as ab
from benchmarks.peers import common
from benchmarks.result_rows import drop_methods, merge_rows, read_rows, row_keys

DATA = common.MDS_DEV.parent.parent
OUT = Path(__file__).resolve().parent / "results" / "attribution_scaling"
SUMMARY = Path(__file__).resolve().parent / "results" / "attribution_scaling.md"
WINDOW = 8192
"""SmolLM2-135M's context window (max_position_embeddings), in tokens."""
METHODS = (
    "lexical-overlap",
    "emb-cosine",
    "c2f",
    "c2f-mw1",
    "c2f-score",
    "c2f-full",
    "c2f-rr",
    "c2f-blocks",
    "c2f-ss8",
    "c2f-rows32",
    "c2f-wide",
    "default-shipped",
    "context-cite-32",
    "attribot-hier",
    "context-cite-64",
)
DERIVED = ("c2f-measured", "c2f-logit")
NEEDS_WINDOW = ("context-cite-32", "context-cite-64", "attribot-hier", "c2f-full")


def load(data: str, indices: list[int]) -> list[dict[str, Any]]:
    path = DATA / ("MDS" if data == "mds" else "LFQA") / "dev.json"
    rows = common.load_mds(path)
    return [dict(rows[i], index=i) for i in indices]


def append(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=float) + "\n")


def blocks_of(example: dict[str, Any]) -> list[list[int]]:
    """The coarse-to-fine blocks (documents cut at ceil(sqrt(N)) sentences) as index lists."""
    from langchain_genprog.attribute.mexgen.blocks import default_block_size

    size = default_block_size(len(example["sources"]))
    out: list[list[int]] = []
    prev = None
    for i, (doc, _) in enumerate(example["source_ids"]):
        if not out or doc != prev or len(out[-1]) >= size:
            out.append([])
        out[-1].append(i)
        prev = doc
    return out


def run_ours(name: str, example: dict[str, Any], model, scorer) -> dict[str, Any]:
    """``c2f``, its labelled variants, or ``default-shipped`` through ``MExGenAttributor``."""
    import langchain_genprog.attribute.coarse_to_fine_node as node
    from langchain_genprog.attribute import MExGenAttributor

    query = example["question"] or common.DEFAULT_QUERY
    common_prompt = {"with_documents": False, "template": ab.peer_template(query)}
    options = method_options(name, len(example["answer_sentences"]))
    captured: dict[str, Any] = {}
    original = node.as_explanation

    def spy(result, segments):
        captured["run"], captured["segments"] = result, segments
        return original(result, segments)

    node.as_explanation = spy
    try:
        with common.ForwardCounter(model) as counter, common.Stopwatch() as sw:
            sources = ab.build_sources(example)
            attributor = MExGenAttributor(scorer, **common_prompt, **options)
            result = attributor.attribute(ab.answer_sentences(example), sources)
    finally:
        node.as_explanation = original
    n = len(example["sources"])
    scores = []
    for row in result.matrix or []:
        vec = [float("-inf")] * n
        for sid, value in zip(result.unit_ids or [], row, strict=True):
            vec[sid - 1] = float(value)
        scores.append(vec)
    out = {
        "scores": scores,
        "wall_time_s": sw.seconds,
        **counter.snapshot(),
        "model_calls": result.model_calls,
        "complete": result.complete,
        "config": {k: str(v) for k, v in attributor.config if k in {"scheme", "levels", "screen"}},
    }
    if "run" in captured:
        out["c2f"] = c2f_details(captured["run"], captured["segments"])
    return out


def is_ours(name: str) -> bool:
    """Whether ``name`` runs through ``MExGenAttributor`` (:func:`method_options`)."""
    return name.startswith("c2f") or name == "default-shipped"


def method_options(name: str, n_answer: int) -> dict[str, Any]:
    """``MExGenAttributor`` options of ``c2f``, its labelled variants and ``default-shipped``."""
    if name == "c2f":
        return {}  # the default as it ships: scheme="auto", sentences
    if name == "c2f-rr":
        return {"fine_per_output": None}
    if name == "c2f-blocks":
        return {"screen": "blocks", "fine_per_output": None}
    if name.startswith("c2f-ss"):  # c2f-ss<K>: fine_per_output=K
        return {"fine_per_output": int(name.removeprefix("c2f-ss"))}
    if name == "c2f-score":
        return {"fusion": "score"}
    if name == "c2f-full":
        return {"fine_context": "full"}
    if name.startswith("c2f-mw"):  # c2f-mw<W>: the shipped scheme with measured_weight=W
        return {"fusion": "rank", "measured_weight": float(name.removeprefix("c2f-mw"))}
    if name.startswith("c2f-rows"):  # c2f-rows<R>: the shipped scheme on R fine rows
        return {"fine_rows": int(name.removeprefix("c2f-rows"))}
    if name == "c2f-wide":
        return wide_options(n_answer)
    if name == "default-shipped":
        return {"scheme": "flat", "levels": ("sentence", "phrase")}
    raise ValueError(f"not one of ours: {name!r}")


def c2f_details(run, segments) -> dict[str, Any]:
    """A coarse-to-fine run's signals per unit, units named by their source index (from 0).

    Units index the prompt's segments, which skip blank sentences, so each is
    mapped through its segment's label (``S<id>``, ids from 1).
    """
    source = [int(segments[u.spans[0][0]].label[1:]) - 1 for u in run.units]
    return {
        "source_indexed": True,
        "unit_source": source,
        "measured": np.where(np.isnan(run.measured), None, run.measured).T.tolist(),
        "screen": run.screen.T.tolist(),
        "candidates": [source[i] for i in run.candidates],
        "owners": [sorted(o) for o in run.owners],  # per candidate; empty for round-robin
        "coarse_calls": run.coarse_calls,
        "levels": run.levels,
    }


def wide_options(n_answer: int) -> dict[str, Any]:
    """``c2f-wide``: a candidate budget that grows with the answer (3 per sentence, 15…31).

    Not a shipped configuration: the fixed 15 candidates hold 0.62 of the
    gold links on MDS (27 topics), whose answers have 5–22 sentences; this variant
    measures what a budget of ``3·A`` buys (a 32-row design once it passes 15).
    """
    units = min(31, max(15, 3 * n_answer))
    return {
        "scheme": "coarse-to-fine",
        "screen": "blocks",  # as its one measured row ran (round-robin)
        "fine_per_output": None,
        "max_fine_units": units,
        "fine_rows": 16 if units <= 15 else 32,
    }


def run_method(name: str, example, model, tokenizer, scorer) -> dict[str, Any]:
    args = (example["sources"], example["question"], example["answer_sentences"], model, tokenizer)
    if is_ours(name):
        return run_ours(name, example, model, scorer)
    if name.startswith("context-cite-"):
        from benchmarks.peers import contextcite_runner

        return contextcite_runner.run(*args, num_ablations=int(name.rsplit("-", 1)[1]))
    if name == "attribot-hier":
        from benchmarks.peers import attribot_runner

        return attribot_runner.run(*args, blocks=blocks_of(example))
    return ab.run_baseline(name, example)


def prompt_tokens(example, tokenizer) -> int:
    before, after = common.template_affixes(example["question"] or common.DEFAULT_QUERY)
    text = before + " ".join(common.clean(s) for s in example["sources"]) + after
    answer = " ".join(example["answer_sentences"])
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}, {"role": "assistant", "content": answer}],
        tokenize=True,
    )
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return len(ids)


def generation_seconds(example, model, tokenizer) -> float:
    """Time to generate as many tokens as the reference answer has, greedy, full prompt."""
    import torch

    before, after = common.template_affixes(example["question"] or common.DEFAULT_QUERY)
    text = before + " ".join(common.clean(s) for s in example["sources"]) + after
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    n_new = len(tokenizer(" ".join(example["answer_sentences"]))["input_ids"])
    with torch.no_grad(), common.Stopwatch() as sw:
        model.generate(
            **ids, max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False, use_cache=True
        )
    return sw.seconds


_FIDELITY: dict[str, ab.Fidelity] = {}


def fidelity_of(ex, scorer, n_random: int) -> ab.Fidelity:
    """The example's fidelity scorer, one per example and process.

    Its cache holds the random removal sets' scores, the same for every
    method, so a ``--method-major`` run scores them once per example, not
    once per method.
    """
    uid = ex["unique_id"]
    if uid not in _FIDELITY:
        _FIDELITY[uid] = ab.Fidelity(ex, scorer, k=2, n_random=n_random)
    return _FIDELITY[uid]


def reference_row(args, uid: str) -> dict[str, Any] | None:
    """``--fidelity-from``'s stored row for ``uid`` (from the results in ``OUT``), if it has one."""
    if not args.fidelity_from:
        return None
    return _reference_rows(OUT / f"{args.data}.jsonl", args.fidelity_from).get(uid)


@functools.cache
def _reference_rows(path: Path, method: str) -> dict[str, dict[str, Any]]:
    """``method``'s stored rows with fidelity, by example: read once per process (MBs of scores)."""
    found: dict[str, dict[str, Any]] = {}
    for row in read_rows(path) if path.exists() else []:
        if row["method"] == method and row.get("fidelity") and row.get("scores"):
            found.setdefault(row["unique_id"], row)  # the first, as a scan would find
    return found


def run_example(ex, methods, out: Path, model, tokenizer, scorer, args) -> None:
    done = row_keys(out)
    uid = ex["unique_id"]
    n_tokens = prompt_tokens(ex, tokenizer)
    fits = n_tokens <= WINDOW
    if (uid, "example") not in done:
        gen = generation_seconds(ex, model, tokenizer) if fits else None
        append(
            out,
            {
                "unique_id": uid,
                "method": "example",
                "index": ex["index"],
                "n_sources": len(ex["sources"]),
                "n_answer": len(ex["answer_sentences"]),
                "prompt_tokens": n_tokens,
                "fits_window": fits,
                "generation_s": gen,
                "gold": ex["gold"],
            },
        )
    fid = None
    if fits:
        fid = fidelity_of(ex, scorer, args.fidelity_random)
    for m in methods:
        if (uid, m) in done:
            continue
        if m in NEEDS_WINDOW and not fits:
            append(out, {"unique_id": uid, "method": m, "skipped": f"prompt {n_tokens} > {WINDOW}"})
            print(f"  {m}: skipped, prompt {n_tokens} tokens > window", flush=True)
            continue
        try:
            res = run_method(m, ex, model, tokenizer, scorer)
        except Exception as err:  # a peer failing must not stop the others
            append(out, {"unique_id": uid, "method": m, "skipped": f"error: {err!r}"[:500]})
            print(f"  {m}: FAILED {err!r}"[:300], flush=True)
            continue
        counts = ab.citation_counts(ex, res["scores"])
        res["counts"] = {str(k): v for k, v in counts.items()}
        if fid is not None:
            ref = reference_row(args, uid)
            if ref is not None:
                res["fidelity"] = fid.score_against(res["scores"], ref["scores"], ref["fidelity"])
                res["fidelity_from"] = ref["method"]
            else:
                fid.random_baseline()
                res["fidelity"] = fid.score(res["scores"])
        res.update(unique_id=uid, method=m, load=os.getloadavg()[0], pid=os.getpid())
        append(out, res)
        print(
            f"  {m:<16} wall {res['wall_time_s']:7.1f}s fwd {res['forward_calls']:5d} "
            f"tokens {res['forward_tokens']:8d} F1@2 {ab.prf(counts[2])[2]:.3f} "
            f"fid@2 {np.mean(res.get('fidelity') or [float('nan')]):+.3f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=("mds", "lfqa"), default="mds")
    parser.add_argument("--examples", default="", help="comma-separated dev indices")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--fidelity-random", type=int, default=4)
    parser.add_argument(
        "--fidelity-from",
        default="",
        help="a method whose stored rows (in benchmarks/results) give each example's random "
        "baseline: a new ranking then costs two fidelity calls per answer sentence whose "
        "top-2 changed, not a fresh baseline of 4 per sentence (Fidelity.score_against)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out-dir", default=str(OUT))
    parser.add_argument("--summarize", action="store_true")
    parser.add_argument(
        "--redo",
        default="",
        help="comma-separated methods whose rows are dropped first and measured again "
        "(e.g. c2f after a change to the coarse-to-fine scheme)",
    )
    parser.add_argument(
        "--method-major",
        action="store_true",
        help="run the first method on every example before the next method (a run cut "
        "short still covers the whole data set with the cheap methods listed first); "
        "rows stay in one process, so wall-time ratios still pair",
    )
    parser.add_argument(
        "--merge",
        default="",
        help="append to --out-dir the rows another process wrote to this directory "
        "(rows already there are kept, except those of the --redo methods), then stop",
    )
    args = parser.parse_args(argv)
    if args.merge:
        for data in ("mds", "lfqa"):
            name = f"{data}.jsonl"
            replace = [m for m in args.redo.split(",") if m]
            added = merge_rows(Path(args.merge) / name, Path(args.out_dir) / name, replace)
            print(f"{name}: {added} rows merged", flush=True)
        return 0
    if args.summarize:
        from benchmarks.scaling_report import write_summary

        print(write_summary(Path(args.out_dir), SUMMARY))
        return 0
    common.set_threads(args.threads)
    from langchain_genprog.models import TransformersLogProbScorer

    model, tokenizer = common.load_smollm2()
    scorer = TransformersLogProbScorer(model, tokenizer, batch_size=1)
    n_rows = sum(
        1
        for line in (DATA / ("MDS" if args.data == "mds" else "LFQA") / "dev.json").open()
        if line.strip()
    )
    indices = [int(x) for x in args.examples.split(",") if x] or list(range(n_rows))
    methods = [m for m in args.methods.split(",") if m]
    out = Path(args.out_dir) / f"{args.data}.jsonl"
    dropped = drop_methods(out, [m for m in args.redo.split(",") if m])
    if dropped:
        print(f"dropped {dropped} rows of {args.redo} to measure them again", flush=True)
    for ex, ex_methods in schedule(load(args.data, indices), methods, args.method_major):
        t0 = time.perf_counter()
        print(
            f"=== {args.data} {ex['index']} {ex['unique_id']}: {len(ex['sources'])} sources, "
            f"{len(ex['answer_sentences'])} answer sentences",
            flush=True,
        )
        run_example(ex, ex_methods, out, model, tokenizer, scorer, args)
        print(f"  example done in {time.perf_counter() - t0:.0f}s", flush=True)
    return 0


def schedule(
    examples: list[dict[str, Any]], methods: list[str], method_major: bool
) -> list[tuple[dict[str, Any], list[str]]]:
    """The (example, methods) steps of a run: example by example, or method by method."""
    if not method_major:
        return [(ex, methods) for ex in examples]
    return [(ex, [m]) for m in methods for ex in examples]


if __name__ == "__main__":
    raise SystemExit(main())
