"""Peer runner: ``context-cite`` (Cohen-Wang et al. 2024) ContextCiter on a fixed response.

Usage (smoke, inside the peers venv, from the repo root)::

    /work/peers-venv/bin/python -m benchmarks.peers.contextcite_runner --limit 2

How context-cite is driven (context-cite 0.0.4, read from its source):

* ``ContextCiter(model, tokenizer, context, query, num_ablations=..,
  ablation_keep_prob=0.5, batch_size=1, solver=LassoRegression(0.01),
  prompt_template="Context: {context}\\n\\nQuery: {query}", partitioner=...)``
  takes any local transformers causal LM + tokenizer objects;
* sources: its ``SimpleContextPartitioner`` re-splits the context with
  ``nltk.sent_tokenize`` (needs the ``punkt_tab`` download). We pass our
  pre-split sentences through a small ``BaseContextPartitioner`` subclass
  (:class:`SentenceListPartitioner`) instead, so the sources are exactly the
  given sentences, in order;
* the prompt: ``prompt_template`` filled with the (ablated) context and the
  query, as the single user message of ``tokenizer.apply_chat_template(...,
  add_generation_prompt=True)``;
* fixed response: ContextCiter normally generates it. Its cache key
  ``_cache["output"]`` holds ``prompt + response``; we set it to the given
  answer (sentences joined by single spaces) so nothing is generated;
* ablations: ``num_ablations`` random masks (keep prob 0.5, seeds 0..n-1),
  each a forward pass over ``prompt(masked) + response`` (with ``labels``, so
  the model also computes a loss), done once per example and cached; then
  ``get_attributions(start_char, end_char)`` fits one Lasso per answer
  sentence on that sentence's token range (logit of the sentence probability).
  Scores: positive = keeping the source raises the sentence's logit-prob.

Import caveat: ``context_cite.utils`` calls ``nltk.download("punkt_tab")`` at
import time (network; fails here, harmless but slow/noisy). This runner turns
``nltk.download`` into a no-op while importing it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from benchmarks.peers import common


def _import_context_cite():
    import nltk

    real_download = nltk.download
    nltk.download = lambda *args, **kwargs: True
    try:
        from context_cite import ContextCiter
        from context_cite.context_partitioner import BaseContextPartitioner
        from context_cite.solver import LassoRegression
    finally:
        nltk.download = real_download
    return ContextCiter, BaseContextPartitioner, LassoRegression


def _partitioner_class(base):
    class SentenceListPartitioner(base):
        """Sources = the given parts; context = parts joined with their separators."""

        def __init__(self, parts: list[str], separators: list[str]) -> None:
            self.parts = list(parts)
            self.separators = list(separators)
            super().__init__(self.get_context())

        @property
        def num_sources(self) -> int:
            return len(self.parts)

        def split_context(self) -> None:  # already split
            return None

        def get_source(self, index: int) -> str:
            return self.parts[index]

        def get_context(self, mask=None) -> str:
            # same semantics as SimpleContextPartitioner.get_context
            context = ""
            kept = 0
            for i, (sep, part) in enumerate(zip(self.separators, self.parts, strict=True)):
                if mask is not None and not mask[i]:
                    continue
                if kept > 0:
                    context += sep
                context += part
                kept += 1
            return context

    return SentenceListPartitioner


def run(
    example_sources: list[str],
    question: str | None,
    answer_sentences: list[str],
    model,
    tokenizer,
    *,
    num_ablations: int = 64,
    ablation_keep_prob: float = 0.5,
    batch_size: int = 1,
    lasso_alpha: float = 0.01,
    query: str | None = None,
    prompt_template: str = common.PROMPT_TEMPLATE,
) -> dict[str, Any]:
    """Attribute each answer sentence to the source sentences with context-cite.

    Args:
        example_sources: source sentences (context-cite "sources"), in order.
        question: the question, or None (then ``query`` or the default
            summarization instruction is used as the prompt's query).
        answer_sentences: the fixed response, pre-split (joined by single spaces).
        model, tokenizer: a transformers causal LM and its tokenizer.
        num_ablations: number of random context ablations (32 or 64 in the benchmark).
        batch_size: ablated prompts per forward pass (>1 needs left padding; set here).

    Returns:
        dict with ``method``, ``scores`` (n_answer x n_sources), ``forward_calls``
        / ``forward_rows`` / ``forward_tokens``, ``wall_time_s``, ``per_sentence``
        (the per-sentence part is only a Lasso fit: 0 forward passes),
        ``ablation_time_s``, ``warnings`` (token/char alignment warnings), ``config``.
    """
    import numpy as np

    ContextCiter, BaseContextPartitioner, LassoRegression = _import_context_cite()
    query = question or query or common.DEFAULT_QUERY

    parts, separators = common.context_parts(example_sources)
    sentences = [common.clean(s) for s in answer_sentences]
    response = " ".join(sentences)
    offsets = []
    pos = 0
    for s in sentences:
        offsets.append((pos, pos + len(s)))
        pos += len(s) + 1

    warnings: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record):
            warnings.append(record.getMessage())

    handler = _Collect(level=logging.WARNING)
    cc_logger = logging.getLogger("ContextCite")
    cc_logger.addHandler(handler)
    old_propagate = cc_logger.propagate
    cc_logger.propagate = False

    old_padding_side = tokenizer.padding_side
    if batch_size > 1:
        tokenizer.padding_side = "left"
    per_sentence: list[dict[str, Any]] = []
    scores: list[list[float]] = []
    try:
        with common.ForwardCounter(model) as counter, common.Stopwatch() as total:
            partitioner = _partitioner_class(BaseContextPartitioner)(parts, separators)
            cc = ContextCiter(
                model,
                tokenizer,
                partitioner.context,
                query,
                num_ablations=num_ablations,
                ablation_keep_prob=ablation_keep_prob,
                batch_size=batch_size,
                solver=LassoRegression(lasso_alpha),
                prompt_template=prompt_template,
                partitioner=partitioner,
            )
            _, prompt = cc._get_prompt_ids(return_prompt=True)
            cc._cache["output"] = prompt + response
            got = cc.response
            if got != response:
                warnings.append(f"response round-trip differs: {got[:80]!r}")
                # re-locate each sentence inside the response context-cite sees
                located, cursor = [], 0
                for s in sentences:
                    start = got.find(s, cursor)
                    if start < 0:
                        raise RuntimeError(
                            f"answer sentence not found in context-cite response: {s[:60]!r}"
                        )
                    located.append((start, start + len(s)))
                    cursor = start + len(s)
                offsets = located

            with common.Stopwatch() as ablate:
                cc._masks  # noqa: B018  (runs all ablation forward passes, cached)
            for start, end in offsets:
                before_counts = counter.snapshot()
                with common.Stopwatch() as sw:
                    weights = cc.get_attributions(start_idx=start, end_idx=end, verbose=False)
                scores.append(np.asarray(weights, dtype=float).tolist())
                after_counts = counter.snapshot()
                per_sentence.append(
                    {"wall_time_s": sw.seconds}
                    | {k: after_counts[k] - before_counts[k] for k in after_counts}
                )
    finally:
        tokenizer.padding_side = old_padding_side
        cc_logger.removeHandler(handler)
        cc_logger.propagate = old_propagate

    return {
        "method": f"context-cite-{num_ablations}",
        "scores": scores,
        "wall_time_s": total.seconds,
        "ablation_time_s": ablate.seconds,
        **counter.snapshot(),
        "per_sentence": per_sentence,
        "n_sources": len(parts),
        "n_answer_sentences": len(sentences),
        "warnings": warnings,
        "config": {
            "num_ablations": num_ablations,
            "ablation_keep_prob": ablation_keep_prob,
            "batch_size": batch_size,
            "lasso_alpha": lasso_alpha,
            "query": query,
            "prompt_template": prompt_template,
        },
    }


def main(argv: list[str] | None = None) -> int:
    import os

    os.environ.setdefault("TQDM_DISABLE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_args(parser, max_sources=20)
    parser.add_argument("--ablations", default="32,64")
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args(argv)
    common.set_threads(args.threads)

    from importlib.metadata import version

    _import_context_cite()
    examples = common.load_mds_from_args(args)
    with common.Stopwatch() as load:
        model, tokenizer = common.load_smollm2()
    print(f"context-cite {version('context-cite')}; model loaded in {load.seconds:.1f}s")
    results = []
    for ex in examples:
        print(
            f"{ex['unique_id']}: {len(ex['sources'])} sources (of {ex['n_sources_full']}),"
            f" {len(ex['answer_sentences'])} answer sentences"
        )
        for n in (int(x) for x in args.ablations.split(",")):
            res = run(
                ex["sources"],
                ex["question"],
                ex["answer_sentences"],
                model,
                tokenizer,
                num_ablations=n,
                batch_size=args.batch_size,
            )
            common.print_result(ex, res)
            for w in res["warnings"][:3]:
                print("    warning:", w.splitlines()[0][:120])
            sys.stdout.flush()
            results.append({"unique_id": ex["unique_id"], "gold": ex["gold"]} | res)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
