"""Compare the log-prob scoring backends on MExGen-style perturbations.

Builds a ~500-token prompt from the first MDS dev example (or a built-in
text), makes one leave-one-sentence-out perturbation per sentence (~20), and
times scoring a fixed target with:

* transformers, one prompt per forward pass (the naive baseline);
* transformers, left-padded batches;
* transformers, batches with the shared prefix computed once (KV cache);
* transformers, one prompt at a time reusing the previous prompt's KV cache;
* llama.cpp, every prompt evaluated from scratch;
* llama.cpp, reusing the KV cache of the common prefix with the previous prompt
  (also with one thread: on a busy machine OpenMP threads waiting for each
  other can make two threads slower than one).

Timings on a shared machine are noisy; the load average is printed with them.

Usage::

    python benchmarks/scorer_backends.py [--repeats 3] [--units 20] [--tokens 500]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from langchain_genprog.models import LlamaCppLogProbScorer, TransformersLogProbScorer
from langchain_genprog.models.scoring import TargetLogProbs

MDS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "attribute-first-then-generate"
    / "MDS"
    / "dev.json"
)
FALLBACK = [
    f"Report {k}: the regional council met on day {k} to review the riverside park budget, "
    f"and member {k} argued that the playground, the pier and the dog run should be funded."
    for k in range(40)
]
TARGET = (
    "The council reviewed the riverside park budget and members argued that the playground, "
    "the pier and the dog run should be funded."
)


def load_sentences() -> tuple[list[str], str]:
    if not MDS.exists():
        return FALLBACK, TARGET
    example = json.loads(MDS.open().readline())
    sentences = [
        s.strip() for doc in example["documents"] for s in doc["documentText"] if len(s.split()) > 4
    ]
    target = example["response"].split(". ")[0].strip() + "."
    return sentences, target


def build(count: Callable[[str], int], units: int, tokens: int) -> tuple[list[str], str]:
    """``units`` leave-one-unit-out prompts over a text of about ``tokens`` tokens.

    Units are sentences; long sentences are split at commas until there are
    enough of them, as MExGen does with its finer segmentation levels.
    """
    sentences, target = load_sentences()
    chosen: list[str] = []
    for sentence in sentences:
        if count(" ".join([*chosen, sentence])) > tokens:
            break
        chosen.append(sentence)
    while len(chosen) < units:
        longest = max(range(len(chosen)), key=lambda i: len(chosen[i]))
        head, sep, tail = chosen[longest].partition(", ")
        if not sep:
            break
        chosen[longest : longest + 1] = [head + ",", tail]
    question = "\n\nSummarize the documents above in a few sentences."
    drops = [" ".join(chosen[:i] + chosen[i + 1 :]) for i in range(min(units, len(chosen)))]
    return [d + question for d in drops], target


def timed(run: Callable[[], list[TargetLogProbs]], repeats: int) -> tuple[float, np.ndarray]:
    seconds = []
    result: list[TargetLogProbs] = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), np.array([r.token_logprobs for r in result])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--units", type=int, default=20, help="perturbations")
    parser.add_argument("--tokens", type=int, default=500, help="approximate prompt tokens")
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()}")
    started = time.perf_counter()
    llama = LlamaCppLogProbScorer(n_ctx=2048)
    llama_load = time.perf_counter() - started
    llama_1 = LlamaCppLogProbScorer(n_ctx=2048, n_threads=1)
    started = time.perf_counter()
    hf = TransformersLogProbScorer(batch_size=args.batch_size)
    hf_load = time.perf_counter() - started
    print(f"load: llama.cpp {llama_load:.2f} s, transformers {hf_load:.2f} s (cache hit if ~1 s)")

    prompts, target = build(lambda t: len(hf.tokenizer(t)["input_ids"]), args.units, args.tokens)
    lengths = [len(hf.prompt_ids(p)) for p in prompts]
    n_target = len(hf.target_tokens(target)[0])
    total = sum(lengths) + n_target * len(prompts)
    print(
        f"{len(prompts)} prompts, {min(lengths)}-{max(lengths)} tokens each, target "
        f"{n_target} tokens; {total} tokens per run; median of {args.repeats} runs"
    )

    def hf_run(batch_size: int, prefix: bool) -> Callable[[], list[TargetLogProbs]]:
        def run() -> list[TargetLogProbs]:
            hf.batch_size, hf.prefix_cache = batch_size, prefix
            hf.reset_cache()  # no head start from the previous repetition
            return hf.score(prompts, target)

        return run

    def llama_run(scorer: LlamaCppLogProbScorer, reuse: bool) -> Callable[[], list[TargetLogProbs]]:
        def run() -> list[TargetLogProbs]:
            scorer.llama.reset()  # no head start from the previous repetition
            scorer.prefix_reuse = reuse
            return scorer.score(prompts, target)

        return run

    cases = {
        "transformers unbatched": hf_run(1, False),
        f"transformers batched (bs={args.batch_size})": hf_run(args.batch_size, False),
        f"transformers batched + prefix cache (bs={args.batch_size})": hf_run(
            args.batch_size, True
        ),
        "transformers incremental prefix cache (bs=1)": hf_run(1, True),
        f"llama.cpp no reuse ({os.cpu_count()} threads)": llama_run(llama, False),
        f"llama.cpp prefix reuse ({os.cpu_count()} threads)": llama_run(llama, True),
        "llama.cpp prefix reuse (1 thread)": llama_run(llama_1, True),
    }
    results: dict[str, tuple[float, np.ndarray]] = {}
    for name, run in cases.items():
        results[name] = timed(run, args.repeats)
        seconds = results[name][0]
        print(f"  {name:<48} {seconds:7.2f} s  {total / seconds:7.0f} tok/s", flush=True)

    print(f"load average after: {os.getloadavg()}")
    baseline_name = "transformers unbatched"
    baseline, reference = results[baseline_name]
    print(f"\nspeed-up vs {baseline_name}:")
    for name, (seconds, values) in results.items():
        error = np.abs(values - reference)
        print(
            f"  {name:<48} x{baseline / seconds:5.2f}   |Δ logprob| mean {error.mean():.4f} "
            f"max {error.max():.4f} nats"
        )


if __name__ == "__main__":
    main()
