"""AttriBoT's hierarchical leave-one-out (Liu, Kandpal, Raffel, ICLR 2025) on our inputs.

The code is r-three/AttriBoT (commit 58b3b05), unmodified, imported from a
checkout outside the repository (``$ATTRIBOT_SRC``, default ``/work/attribot-src``;
``git archive`` of the snapshot the ``fetch`` tool brought). None of it is
part of ``langchain_genprog``. Run inside the peers venv, like the other peers.

What is used: ``context_attribution.attributor.HierarchicalAttributor`` with
``use_cache=True`` (its key/value prefix cache) and ``keep_paragraphs`` (its
README's example: 3). Its context tree has two levels, paragraphs then
sentences; our inputs have no paragraphs, so a "paragraph" is the same block
our coarse-to-fine scheme uses (consecutive sentences of one document, about
``ceil(sqrt(N))`` of them), which is what its pass-1 pruning needs.

Two compatibility shims, both outside its code: transformers 5 has no
``cache_utils.HybridCache`` (imported for Gemma-2 only; aliased to
``DynamicCache``), and its ``KVCache`` slices legacy ``(key, value)`` tuples while
transformers 5 returns a ``DynamicCache``: the runner's ``KVCache`` subclass
converts on ``insert`` and rebuilds a ``DynamicCache`` on ``get``. Checked: on a
4-sentence example its scores equal those of ``use_cache=False`` to 4 decimals.

AttriBoT attributes one response per run (the log-likelihood of the whole
response), so each answer sentence is its own run with the sentence as the
response (as icx360 is called); calls = answer sentences x (1 + paragraphs +
1 + sentences kept).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from benchmarks.peers import common

ATTRIBOT_SRC = os.environ.get("ATTRIBOT_SRC", "/work/attribot-src")


def _import_attribot():
    import transformers.cache_utils as cu

    if not hasattr(cu, "HybridCache"):
        cu.HybridCache = cu.DynamicCache  # only referenced for Gemma-2 models
    if ATTRIBOT_SRC not in sys.path:
        sys.path.insert(0, ATTRIBOT_SRC)
    from context_attribution import attributor, kvcache

    return attributor, kvcache


def _compatible_cache(kvcache):
    """AttriBoT's KVCache, storing legacy tuples and handing the model a DynamicCache."""
    from transformers.cache_utils import DynamicCache

    class CompatKVCache(kvcache.KVCache):
        compat_shim = True

        def insert(self, input_ids, past_key_values):
            if hasattr(past_key_values, "layers"):
                past_key_values = tuple(
                    (layer.keys, layer.values) for layer in past_key_values.layers
                )
            super().insert(input_ids, past_key_values)

        def get(self, input_ids):
            past, rest = super().get(input_ids)
            if past is None:
                return None, rest
            cache = DynamicCache()
            for layer, (k, v) in enumerate(past):
                cache.update(k.contiguous(), v.contiguous(), layer)
            return cache, rest

    return CompatKVCache


def context_tree(sources: list[str], blocks: list[list[int]]) -> dict[str, Any]:
    """Paragraph = block; sentences joined by one space (the common prompt's context)."""
    parts = [common.clean(s) for s in sources]
    children = []
    for b, members in enumerate(blocks):
        sentences = []
        for k, i in enumerate(members):
            last = b == len(blocks) - 1 and k == len(members) - 1
            sentences.append(
                {"data": {"text": parts[i], "separator": "" if last else " "}, "children": []}
            )
        children.append({"data": {}, "children": sentences})
    return {"data": {}, "children": children}


def run(
    example_sources: list[str],
    question: str | None,
    answer_sentences: list[str],
    model,
    tokenizer,
    *,
    blocks: list[list[int]],
    keep_paragraphs: int = 3,
) -> dict[str, Any]:
    """Scores (answer sentences x sources) from AttriBoT's hierarchical LOO."""
    import numpy as np

    attributor_mod, kvcache = _import_attribot()
    if not getattr(kvcache.KVCache, "compat_shim", False):  # patch once per process
        kvcache.KVCache = _compatible_cache(kvcache)
    query = question or common.DEFAULT_QUERY
    template = common.PROMPT_TEMPLATE.replace("{query}", "{question}")
    tree = context_tree(example_sources, blocks)
    order = [i for members in blocks for i in members]
    scores: list[list[float]] = []
    with common.ForwardCounter(model) as counter, common.Stopwatch() as total:
        att = attributor_mod.HierarchicalAttributor(
            model, tokenizer, use_cache=True, keep_paragraphs=keep_paragraphs
        )
        for sentence in answer_sentences:
            response_ids = [
                tokenizer(common.clean(sentence), add_special_tokens=False)["input_ids"]
            ]
            out = att.run(query, tree, template, response_ids)
            flat = [
                s["data"].get("attribution_score", float("nan"))
                for p in out["children"]
                for s in p["children"]
            ]
            vec = np.full(len(example_sources), np.nan)
            vec[order] = flat
            # sentences outside the kept paragraphs were never scored: rank them last
            scores.append(np.nan_to_num(vec, nan=-1e9).tolist())
    return {
        "method": "attribot-hier",
        "scores": scores,
        "wall_time_s": total.seconds,
        **counter.snapshot(),
        "config": {
            "keep_paragraphs": keep_paragraphs,
            "paragraphs": len(blocks),
            "use_cache": True,
        },
    }
