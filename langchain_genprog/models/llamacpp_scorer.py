"""Teacher-forced target log-probabilities from llama.cpp's raw logits.

Why not ``Llama.create_completion(prompt, echo=True, logprobs=k)``? In
llama-cpp-python 0.3.36 its echoed prompt log-probs are misaligned unless the
prompt starts with the BOS token: token *i* is looked up in the distribution
computed *at* position *i* (which predicts token *i + 1*). This backend
therefore evaluates tokens itself with ``Llama.eval`` and applies its own
log-softmax to the logits of exactly the positions that predict the target.

llama.cpp keeps the KV cache of the last evaluated sequence, so each prompt
only evaluates the tokens after its common prefix with the previous one;
MExGen's perturbations, sorted, share everything before their first removed
unit, so about half of all prompt tokens are never recomputed (1.5x faster
than evaluating each prompt afresh). This backend loads in a fraction of a
second and needs no torch; on two CPU cores, though, the float32
transformers backend with the same prefix reuse scores about 2.4x as fast
(see ``benchmarks/scorer_backends.py``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models._common import (
    byte_spans_to_char_spans,
    common_prefix_length,
    prefix_sharing_order,
)
from langchain_genprog.models._resources import default_model_path, require
from langchain_genprog.models.scoring import TargetLogProbs

_PURPOSE = "the llama.cpp log-prob scorer"

__all__ = ["LlamaCppLogProbScorer"]


class LlamaCppLogProbScorer:
    """Scores a fixed target under many prompts with an in-process llama.cpp model.

    Prompts are rendered with the chat template stored in the GGUF (as a
    user turn, the target being the assistant's reply), exactly as
    :class:`~langchain_genprog.models.llamacpp_chat.ChatLocalLlama` renders
    them for generation. Only the logits of the positions that predict target
    tokens are computed and kept, which saves the vocabulary projection of
    every prompt token.

    Args:
        model_path: A ``.gguf`` file; ``None`` is the embedded SmolLM2-135M-Instruct.
        n_ctx: Longest prompt plus target, in tokens.
        n_threads: CPU threads; ``None`` uses every core.
        n_batch: Tokens per llama.cpp decode call.
        prefix_reuse: Keep the KV cache of the common prefix between prompts
            (results are the same either way, up to float rounding).
        system_prompt: Optional system message placed before each prompt.
        verbose: Let llama.cpp log to stderr.

    Raises:
        ModelNotAvailableError: If ``llama-cpp-python`` (or the default model) is missing.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        prefix_reuse: bool = True,
        system_prompt: str | None = None,
        verbose: bool = False,
    ) -> None:
        llama_cpp = require("llama_cpp", purpose=_PURPOSE, distribution="llama-cpp-python")
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_file():
            msg = f"model_path {str(path)!r} is not a file"
            raise InvalidInputError(msg)
        self.model_path = str(path)
        # logits_all=True sizes `Llama.scores` for n_ctx rows; numpy leaves the
        # rows that are never written unallocated, so memory follows use.
        self._llama = llama_cpp.Llama(
            model_path=self.model_path,
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_threads=n_threads or os.cpu_count() or 1,
            logits_all=True,
            verbose=verbose,
        )
        self.n_ctx = n_ctx
        self.prefix_reuse = prefix_reuse
        self.system_prompt = system_prompt
        self._lock = threading.Lock()
        template = self._llama.metadata.get("tokenizer.chat_template")
        self._formatter: Any = None
        if template:
            self._formatter = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=self._token_text(self._llama.token_eos()),
                bos_token=self._token_text(self._llama.token_bos()),
            )

    @property
    def llama(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (created with ``logits_all=True``)."""
        return self._llama

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return bytes(self._llama.detokenize([token], special=True)).decode("utf-8", "replace")

    # -- tokenization ------------------------------------------------------

    def prompt_ids(self, prompt: str) -> list[int]:
        """Token ids of ``prompt`` rendered as a user turn awaiting the assistant's reply."""
        if self._formatter is None:
            return list(self._llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=False))
        messages = [{"role": "user", "content": prompt}]
        if self.system_prompt is not None:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        rendered = self._formatter(messages=messages)
        return list(
            self._llama.tokenize(
                rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
            )
        )

    def target_tokens(self, target: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids of ``target`` and each token's ``(start, end)`` characters in it.

        Offsets come from detokenizing growing prefixes, which is exact for
        byte-level vocabularies (a token ending inside a multi-byte character
        is rounded down to it).
        """
        ids = list(self._llama.tokenize(target.encode("utf-8"), add_bos=False, special=False))
        ends = [len(self._llama.detokenize(ids[: k + 1])) for k in range(len(ids))]
        total = len(target.encode("utf-8"))
        byte_spans = [
            (min(start, total), min(end, total))
            for start, end in zip([0, *ends[:-1]], ends, strict=True)
        ]
        return ids, byte_spans_to_char_spans(target, byte_spans)

    # -- scoring -----------------------------------------------------------

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        """Log-probabilities of ``target``'s tokens after each prompt.

        Prompts are evaluated in lexicographic token order so that
        consecutive ones share the longest prefixes; results are returned in
        the order given.

        Raises:
            InvalidInputError: If a prompt plus the target exceeds ``n_ctx``.
        """
        target_ids, offsets = self.target_tokens(target)
        if not target_ids:
            return [TargetLogProbs(token_logprobs=[], token_offsets=[]) for _ in prompts]
        prompt_rows = [self.prompt_ids(p) for p in prompts]
        for row in prompt_rows:
            if len(row) + len(target_ids) > self.n_ctx:
                msg = (
                    f"a prompt plus the target has {len(row) + len(target_ids)} tokens, "
                    f"more than n_ctx={self.n_ctx}; raise n_ctx or shorten the prompt"
                )
                raise InvalidInputError(msg)
        results: list[list[float]] = [[] for _ in prompts]
        with self._lock:
            for index in prefix_sharing_order(prompt_rows):
                results[index] = self._score_one(prompt_rows[index], target_ids)
        return [TargetLogProbs(token_logprobs=r, token_offsets=list(offsets)) for r in results]

    def _score_one(self, prompt: list[int], target: list[int]) -> list[float]:
        llama = self._llama
        # The last target token is never an input: logits at positions
        # len(prompt) - 1 ... len(prompt) + len(target) - 2 predict the target.
        sequence = prompt + target[:-1]
        first_scored = len(prompt) - 1
        keep = 0
        if self.prefix_reuse:
            cached = llama.input_ids[: llama.n_tokens].tolist()
            keep = min(common_prefix_length(cached, sequence), first_scored)
        llama.n_tokens = keep  # eval() drops the KV cache past this point
        if first_scored > keep:
            # Prompt tokens whose logits are not needed: skip the vocabulary
            # projection (eval() requests per-token logits only when
            # _logits_all is set).
            llama._logits_all = False
            try:
                llama.eval(sequence[keep:first_scored])
            finally:
                llama._logits_all = True
        llama.eval(sequence[first_scored:])
        logits = np.asarray(
            llama.scores[first_scored : first_scored + len(target)], dtype=np.float64
        )
        top = logits.max(axis=-1, keepdims=True)
        log_norm = np.log(np.exp(logits - top).sum(axis=-1)) + top[:, 0]
        picked = logits[np.arange(len(target)), target] - log_norm
        return [float(x) for x in picked]
