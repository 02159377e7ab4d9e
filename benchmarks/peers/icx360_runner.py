"""Peer runner: IBM ``icx360`` MExGen (C-LIME / L-SHAP) with the log-prob scalarizer.

Usage (smoke, inside the peers venv, from the repo root)::

    /work/peers-venv/bin/python -m benchmarks.peers.icx360_runner --limit 2

How icx360 is driven (icx360 0.1.0, read from its source):

* model: ``icx360.utils.model_wrappers.HFModel(model, tokenizer)`` around any
  local transformers causal LM (nothing is downloaded);
* explainer: ``CLIME(wrapped, segmenter=..., scalarizer="prob")`` or ``LSHAP(...)``.
  The constructor always ``spacy.load``s a segmenter (default
  ``en_core_web_trf``, a separate download); we pass ``"blank:en"`` because the
  units are given pre-split (``ind_segment=False``) and the segmenter is never used;
* ``explain_instance(units, unit_types, output_orig=<answer sentence>,
  ind_segment=False, scalarize_params={"chat_template": True,
  "transformation": "log_prob_mean"}, ...)`` explains ONE output text: so this
  runner calls it once per answer sentence;
* units are ``["Context: "(n), s0, " s1", ..., " sN", "\\n\\nQuery: ..."(n)]``:
  unit type ``"n"`` = fixed, never perturbed; each source sentence carries its
  leading separator so dropping it (``replacement_str=""``) removes the
  separator too.  With ``chat_template=True`` icx360 joins the units and wraps
  them as the user turn of the tokenizer's chat template (SmolLM2 adds its
  default system prompt), the same prompt context-cite builds;
* the reference output is tokenized on its own (``tokenizer([text])``) and
  appended after the generation prompt; the scalar is the mean (default) or sum
  of its token log-probs.  icx360 has no way to put earlier answer sentences
  before it, so each answer sentence is scored WITHOUT the preceding ones;
* scores: ``result["attributions"]["prob"]`` (one per unit, 0 for "n" units);
  positive = removing the unit lowers the answer's log-prob.

CPU caveat: on CPU icx360's ``ProbScalarizedModel`` scores *all* perturbed
inputs in a single forward pass (``toma`` batching is only used with CUDA).
With hundreds of perturbations x ~1000 tokens x 49k-vocab logits that is tens of
GB, and the batch is padded but called without an attention mask. We therefore
split the perturbed inputs into chunks of ``batch_size`` (default 1: no padding
at all, numerically what icx360 computes for each input alone).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from typing import Any

from benchmarks.peers import common

METHODS = ("clime", "lshap")


def _chunked_scalarizer(scalarized_model, batch_size: int):
    """Replace ``scalarize_output`` by a version scoring ``inputs`` in chunks."""
    import torch

    original = scalarized_model.scalarize_output

    def scalarize_output(inputs=None, **kwargs):
        if inputs is None or not isinstance(inputs, list) or len(inputs) <= batch_size:
            return original(inputs=inputs, **kwargs)
        pieces = [
            original(inputs=inputs[i : i + batch_size], **kwargs)
            for i in range(0, len(inputs), batch_size)
        ]
        if isinstance(pieces[0], dict):
            return {key: torch.cat([p[key] for p in pieces]) for key in pieces[0]}
        return torch.cat(pieces)

    scalarized_model.scalarize_output = scalarize_output


def run(
    example_sources: list[str],
    question: str | None,
    answer_sentences: list[str],
    model,
    tokenizer,
    *,
    method: str = "clime",
    batch_size: int = 1,
    transformation: str = "log_prob_mean",
    oversampling_factor: float = 10,
    max_units_replace: int = 2,
    num_nonzeros: int | None = None,
    num_neighbors: int = 2,
    seed: int = 0,
    query: str | None = None,
    prompt_template: str = common.PROMPT_TEMPLATE,
    segmenter: str = "blank:en",
) -> dict[str, Any]:
    """Attribute each answer sentence to the source sentences with icx360 MExGen.

    Args:
        example_sources: source sentences (attribution units), in order.
        question: the question, or None (then ``query`` or the default
            summarization instruction is used as the prompt's query).
        answer_sentences: the fixed answer, pre-split; one icx360 call per sentence.
        model, tokenizer: a transformers causal LM and its tokenizer.
        method: "clime" or "lshap".
        batch_size: perturbed inputs per forward pass (1 = no padding; >1 pads on
            the left, and icx360 passes no attention mask).
        transformation: icx360 prob-scalarizer transformation
            ("log_prob_mean" default, "log_prob_sum", "prob_geo_mean", "prob_prod").
        oversampling_factor, max_units_replace, num_nonzeros: C-LIME options
            (icx360 defaults 10, 2, None=dense).
        num_neighbors, max_units_replace: L-SHAP options (icx360 defaults 2, 2).
        seed: seeds Python's ``random`` (C-LIME subset sampling) and numpy.

    Returns:
        dict with ``method``, ``scores`` (n_answer x n_sources, higher = more
        important), ``forward_calls`` / ``forward_rows`` / ``forward_tokens``,
        ``wall_time_s`` (whole call, incl. explainer setup), ``per_sentence``
        (wall time and forward counts of each icx360 call), ``config``.
    """
    import numpy as np
    from icx360.algorithms.mexgen import CLIME, LSHAP
    from icx360.utils.model_wrappers import HFModel

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    query = question or query or common.DEFAULT_QUERY

    parts, separators = common.context_parts(example_sources)
    before, after = common.template_affixes(query, prompt_template)
    units = [before] + [sep + part for sep, part in zip(separators, parts, strict=True)] + [after]
    unit_types = ["n"] + ["s" if any(c.isalnum() for c in p) else "n" for p in parts] + ["n"]
    n_sources = len(parts)

    old_padding_side = tokenizer.padding_side
    if batch_size > 1:
        tokenizer.padding_side = "left"
    random.seed(seed)
    np.random.seed(seed)

    per_sentence: list[dict[str, Any]] = []
    scores: list[list[float]] = []
    try:
        with common.ForwardCounter(model) as counter, common.Stopwatch() as total:
            wrapped = HFModel(model, tokenizer)
            cls = CLIME if method == "clime" else LSHAP
            explainer = cls(wrapped, segmenter=segmenter, scalarizer="prob")
            _chunked_scalarizer(explainer.scalarized_model, batch_size)
            scalarize_params = {"chat_template": True, "transformation": transformation}

            for sentence in answer_sentences:
                before_counts = counter.snapshot()
                with common.Stopwatch() as sw:
                    if method == "clime":
                        out = explainer.explain_instance(
                            units,
                            unit_types=list(unit_types),
                            output_orig=sentence.strip(),
                            ind_segment=False,
                            scalarize_params=scalarize_params,
                            oversampling_factor=oversampling_factor,
                            max_units_replace=max_units_replace,
                            num_nonzeros=num_nonzeros,
                        )
                    else:
                        out = explainer.explain_instance(
                            units,
                            unit_types=list(unit_types),
                            output_orig=sentence.strip(),
                            ind_segment=False,
                            scalarize_params=scalarize_params,
                            num_neighbors=num_neighbors,
                            max_units_replace=max_units_replace,
                        )
                unit_scores = np.asarray(out["attributions"]["prob"], dtype=float)
                scores.append(unit_scores[1 : 1 + n_sources].tolist())
                after_counts = counter.snapshot()
                per_sentence.append(
                    {"wall_time_s": sw.seconds}
                    | {k: after_counts[k] - before_counts[k] for k in after_counts}
                )
    finally:
        tokenizer.padding_side = old_padding_side

    return {
        "method": f"icx360-{method}",
        "scores": scores,
        "wall_time_s": total.seconds,
        **counter.snapshot(),
        "per_sentence": per_sentence,
        "n_sources": n_sources,
        "n_answer_sentences": len(answer_sentences),
        "config": {
            "method": method,
            "batch_size": batch_size,
            "transformation": transformation,
            "oversampling_factor": oversampling_factor,
            "max_units_replace": max_units_replace,
            "num_nonzeros": num_nonzeros,
            "num_neighbors": num_neighbors,
            "seed": seed,
            "query": query,
            "prompt_template": prompt_template,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # icx360 costs hundreds of passes per answer sentence: tiny smoke defaults
    common.add_common_args(parser, max_sources=10, max_answer_sentences=2)
    parser.add_argument("--methods", default="clime,lshap")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--oversampling-factor", type=float, default=10)
    parser.add_argument("--num-neighbors", type=int, default=2)
    parser.add_argument("--transformation", default="log_prob_mean")
    args = parser.parse_args(argv)
    common.set_threads(args.threads)

    from importlib.metadata import version

    import icx360  # noqa: F401  (fail early if the venv is wrong)

    examples = common.load_mds_from_args(args)
    with common.Stopwatch() as load:
        model, tokenizer = common.load_smollm2()
    print(f"icx360 {version('icx360')}; model loaded in {load.seconds:.1f}s")
    results = []
    for ex in examples:
        print(
            f"{ex['unique_id']}: {len(ex['sources'])} sources (of {ex['n_sources_full']}),"
            f" {len(ex['answer_sentences'])} answer sentences"
        )
        for method in args.methods.split(","):
            res = run(
                ex["sources"],
                ex["question"],
                ex["answer_sentences"],
                model,
                tokenizer,
                method=method,
                batch_size=args.batch_size,
                oversampling_factor=args.oversampling_factor,
                num_neighbors=args.num_neighbors,
                transformation=args.transformation,
            )
            common.print_result(ex, res)
            sys.stdout.flush()
            results.append({"unique_id": ex["unique_id"], "gold": ex["gold"]} | res)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
