"""Teacher-forced target log-probabilities with a local transformers causal LM.

This is the reference :class:`~langchain_genprog.models.scoring.LogProbScorer`:
exact float32 log-softmax over the full vocabulary. Because MExGen's
perturbations of one prompt share long prefixes, the KV cache of shared
prefixes is reused (one prompt at a time by default, or across left-padded
batches), which halves the work without changing the scores.

By default it scores with the same SmolLM2-135M-Instruct GGUF that
:class:`~langchain_genprog.models.llamacpp_chat.ChatLocalLlama` generates with.
transformers dequantizes a GGUF into float32 weights, which takes about a
minute; the converted model is therefore saved (``save_pretrained``) under
:func:`~langchain_genprog.models._resources.cache_dir` and reloaded from there
in well under a second afterwards.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models._common import (
    batch_common_prefix_length,
    common_prefix_length,
    prefix_sharing_batches,
    prefix_sharing_order,
)
from langchain_genprog.models._resources import cache_dir, default_model_path, require
from langchain_genprog.models.scoring import TargetLogProbs

logger = logging.getLogger(__name__)

_PURPOSE = "the transformers log-prob scorer"
_DIGEST_BYTES = 4 << 20

__all__ = ["TransformersLogProbScorer", "load_gguf_causal_lm"]


def _torch() -> Any:
    return require("torch", purpose=_PURPOSE)


def _transformers() -> Any:
    require("gguf", purpose=_PURPOSE)  # transformers reads GGUF files through it
    return require("transformers", purpose=_PURPOSE)


def _gguf_cache_key(path: Path) -> str:
    """Name of the converted copy: file stem, size and a digest of its head.

    The head holds the GGUF metadata and first tensors, so a different file
    with the same name and size still gets its own entry, without hashing
    the whole file on every start.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(_DIGEST_BYTES))
    size = path.stat().st_size
    return f"{path.stem}-{size}-{digest.hexdigest()[:16]}"


def load_gguf_causal_lm(
    gguf_path: str | os.PathLike[str] | None = None,
    *,
    cache: str | os.PathLike[str] | bool | None = True,
) -> tuple[Any, Any]:
    """Load a GGUF file as a float32 transformers model and tokenizer, cached.

    The first load converts (dequantizes) the GGUF, which is slow (≈40-70 s
    for SmolLM2-135M on two cores); the result is saved with
    ``save_pretrained`` and later loads take about a second. The cache entry
    is written to a temporary folder and renamed into place, so concurrent
    first loads cannot leave a half-written copy behind.

    Args:
        gguf_path: The ``.gguf`` file; ``None`` is the embedded SmolLM2.
        cache: ``True`` for the default cache folder
            (``$LANGCHAIN_GENPROG_CACHE`` or ``~/.cache/langchain_genprog``),
            a folder path, or ``False``/``None`` to convert without caching.

    Returns:
        ``(model, tokenizer)``, the model in eval mode.

    Raises:
        ModelNotAvailableError: If transformers, torch or gguf is missing.
    """
    torch = _torch()
    transformers = _transformers()
    path = Path(gguf_path) if gguf_path is not None else default_model_path()
    if not path.is_file():
        msg = f"GGUF file {str(path)!r} does not exist"
        raise InvalidInputError(msg)
    root: Path | None
    if cache is True:
        root = cache_dir()
    elif cache is False or cache is None:
        root = None
    else:
        root = Path(cache)
    target = root / "transformers" / _gguf_cache_key(path) if root is not None else None
    if target is not None and (target / "config.json").is_file():
        try:
            model = transformers.AutoModelForCausalLM.from_pretrained(target, dtype=torch.float32)
            tokenizer = transformers.AutoTokenizer.from_pretrained(target)
            return model.eval(), tokenizer
        except (OSError, ValueError) as err:
            logger.warning("ignoring unreadable converted model at %s: %s", target, err)
    logger.warning(
        "converting %s for transformers; this takes about a minute once%s",
        path.name,
        f" and is cached in {target}" if target is not None else "",
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32
    )
    model.eval()
    if target is not None:
        _save_converted(model, tokenizer, target)
    return model, tokenizer


def _save_converted(model: Any, tokenizer: Any, target: Path) -> None:
    """Save a dequantized GGUF model; skip (with a log line) if it cannot be."""
    if not all(p.dtype.is_floating_point for p in model.parameters()):
        logger.info("GGUF weights stayed packed (GGUF kernels installed); not caching them")
        return
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        # The weights are plain float tensors; the leftover GGUF quantization
        # config only stops save_pretrained and would mislead a reload.
        quantizer.remove_quantization_config(model)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
        try:
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as err:
        logger.warning("could not cache the converted model at %s: %s", target, err)


class TransformersLogProbScorer:
    """Scores a fixed target under many prompts with a transformers causal LM.

    Each prompt is sent as the user message of the tokenizer's chat template
    and the target is scored as the assistant's reply (teacher forcing). The
    target is tokenized on its own, so every prompt scores the very same
    target tokens and their character offsets come straight from the
    tokenizer's offset mapping.

    Prompts that share a prefix (MExGen's perturbations of one prompt share
    everything before their first removed unit) share its computation:

    * ``batch_size=1`` (default): prompts run one at a time in lexicographic
      order, each reusing the KV cache of its common prefix with the
      previous one (llama.cpp's strategy) — about half of all prompt tokens
      are skipped. Fastest on CPU: 2x the naive loop, 2.4x llama.cpp on two
      cores.
    * ``batch_size>1``: left-padded batches (only the last ``len(target)``
      logits are computed, positions skip padding) of rows grouped so that
      each batch's common prefix is long; that prefix runs once and its KV
      cache is repeated over the batch. Worth it where batching is cheap
      (GPUs).

    Every mode gives the same scores up to float rounding (``~1e-5`` nats),
    which the test suite checks.

    Args:
        model: ``None`` for the embedded SmolLM2 GGUF; a ``.gguf`` path; a
            Hugging Face model name or folder (it may differ from the
            generator — any causal LM with the right chat template works); or
            an already loaded ``PreTrainedModel`` (then pass ``tokenizer``).
        tokenizer: The tokenizer for a loaded ``model``; loaded alongside
            otherwise.
        batch_size: Prompts per forward pass.
        prefix_cache: Reuse the KV cache of shared prefixes (see above).
        min_prefix_tokens: Shortest common prefix worth reusing.
        system_prompt: Optional system message placed before each prompt.
        num_threads: If given, calls ``torch.set_num_threads`` (a process-wide
            setting, so it is left alone by default).
        cache: Where converted GGUF weights are cached (see
            :func:`load_gguf_causal_lm`).
        local_files_only: Never download a named model (default: offline).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | Any | None = None,
        tokenizer: Any | None = None,
        *,
        batch_size: int = 1,
        prefix_cache: bool = True,
        min_prefix_tokens: int = 16,
        system_prompt: str | None = None,
        num_threads: int | None = None,
        cache: str | os.PathLike[str] | bool | None = True,
        local_files_only: bool = True,
    ) -> None:
        if batch_size < 1 or min_prefix_tokens < 1:
            raise InvalidInputError("batch_size and min_prefix_tokens must be >= 1")
        torch = _torch()
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        if model is None or (isinstance(model, str | os.PathLike) and str(model).endswith(".gguf")):
            self.model, self.tokenizer = load_gguf_causal_lm(model, cache=cache)
        elif isinstance(model, str | os.PathLike):
            transformers = _transformers()
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                model, dtype=torch.float32, local_files_only=local_files_only
            ).eval()
            self.tokenizer = tokenizer or transformers.AutoTokenizer.from_pretrained(
                model, local_files_only=local_files_only
            )
        else:
            if tokenizer is None:
                raise InvalidInputError("pass the tokenizer together with a loaded model")
            self.model, self.tokenizer = model.eval(), tokenizer
        self.batch_size = batch_size
        self.prefix_cache = prefix_cache
        self.min_prefix_tokens = min_prefix_tokens
        self.system_prompt = system_prompt
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        self._pad_id = int(pad) if pad is not None else 0
        self._lock = threading.Lock()
        # The KV cache of the last scored row and its tokens, kept across
        # calls: callers (MExGen's explainer, the benchmark, drop-and-hold)
        # often send a few prompts at a time, and the next call's prompts
        # still share the previous call's prefix.
        self._kv: Any = None
        self._kv_tokens: list[int] = []

    def reset_cache(self) -> None:
        """Forget the kept KV cache, so that the next prompt is computed from scratch."""
        with self._lock:
            self._kv, self._kv_tokens = None, []

    # -- tokenization ------------------------------------------------------

    def prompt_ids(self, prompt: str) -> list[int]:
        """Token ids of ``prompt`` rendered as a user turn awaiting the assistant's reply.

        Without a chat template the prompt is used as is (with the
        tokenizer's special tokens, e.g. BOS) and the target follows it
        directly.
        """
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "user", "content": prompt}]
            if self.system_prompt is not None:
                messages.insert(0, {"role": "system", "content": self.system_prompt})
            text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            # The template already writes any BOS it wants as text.
            return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return list(self.tokenizer(prompt, add_special_tokens=True)["input_ids"])

    def target_tokens(self, target: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Token ids of ``target`` and each token's ``(start, end)`` characters in it."""
        encoded = self.tokenizer(target, add_special_tokens=False, return_offsets_mapping=True)
        ids = [int(i) for i in encoded["input_ids"]]
        offsets = [(int(s), int(e)) for s, e in encoded["offset_mapping"]]
        return ids, offsets

    # -- scoring -----------------------------------------------------------

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        """Log-probabilities of ``target``'s tokens after each prompt (see the class)."""
        target_ids, offsets = self.target_tokens(target)
        if not target_ids:
            return [TargetLogProbs(token_logprobs=[], token_offsets=[]) for _ in prompts]
        # Each row holds the prompt and all target tokens but the last: the
        # logits at its last n_target positions predict the target tokens.
        rows = [self.prompt_ids(p) + target_ids[:-1] for p in prompts]
        results: list[list[float] | None] = [None] * len(rows)
        with self._lock:
            if self.batch_size == 1 and self.prefix_cache:
                for i, row_scores in self._score_incremental(rows, target_ids):
                    results[i] = row_scores
            else:
                for indices in prefix_sharing_batches(rows, self.batch_size):
                    scores = self._score_batch([rows[i] for i in indices], target_ids)
                    for i, row_scores in zip(indices, scores, strict=True):
                        results[i] = row_scores
        return [
            TargetLogProbs(token_logprobs=list(r or []), token_offsets=list(offsets))
            for r in results
        ]

    def _score_incremental(
        self, rows: list[list[int]], target_ids: list[int]
    ) -> Iterator[tuple[int, list[float]]]:
        """Score rows one by one in lexicographic order, keeping the KV cache of the shared prefix.

        This is llama.cpp's strategy: each row only runs the tokens after its
        common prefix with the previous row, which for sorted leave-one-out
        perturbations skips about half of all prompt tokens. The previous row
        may come from the previous call (the cache is kept, see
        :meth:`reset_cache`). Called with the lock held.
        """
        torch = _torch()
        n_target = len(target_ids)
        wanted = torch.tensor(target_ids, dtype=torch.long)
        cache: Any = self._kv
        cached: list[int] = self._kv_tokens
        # Forget the kept cache first: if a forward pass fails midway it is
        # no longer known to match ``cached``.
        self._kv, self._kv_tokens = None, []
        for index in prefix_sharing_order(rows):
            row = rows[index]
            keep = min(common_prefix_length(cached, row), len(row) - n_target)
            if cache is not None and keep < self.min_prefix_tokens:
                cache, keep = None, 0
            elif cache is not None and len(cached) > keep:
                # A negative count removes that many tokens (transformers 4.x and 5.x).
                cache.crop(keep - len(cached))
            with torch.inference_mode():
                out = self.model(
                    input_ids=torch.tensor([row[keep:]], dtype=torch.long),
                    position_ids=torch.arange(keep, len(row), dtype=torch.long).unsqueeze(0),
                    past_key_values=cache,
                    use_cache=True,
                    logits_to_keep=n_target,
                )
                logprobs = torch.log_softmax(out.logits[0, -n_target:, :].float(), dim=-1)
                picked = logprobs.gather(-1, wanted.unsqueeze(-1)).squeeze(-1)
            cache, cached = out.past_key_values, row
            yield index, [float(x) for x in picked.tolist()]
        self._kv, self._kv_tokens = cache, cached

    def _score_batch(self, rows: list[list[int]], target_ids: list[int]) -> list[list[float]]:
        torch = _torch()
        n_target = len(target_ids)
        shared = batch_common_prefix_length(rows)
        # The prefix pass must leave every scored position to the suffix pass.
        shared = min(shared, min(len(r) for r in rows) - n_target)
        with torch.inference_mode():
            if self.prefix_cache and shared >= self.min_prefix_tokens:
                logits = self._forward_with_prefix(rows, shared, n_target)
            else:
                logits = self._forward(rows, n_target, past=None, offset=0)
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            wanted = torch.tensor(target_ids, dtype=torch.long).expand(len(rows), -1)
            picked = logprobs.gather(-1, wanted.unsqueeze(-1)).squeeze(-1)
        return [[float(x) for x in row] for row in picked.tolist()]

    def _forward_with_prefix(self, rows: list[list[int]], shared: int, n_target: int) -> Any:
        torch = _torch()
        prefix = torch.tensor([rows[0][:shared]], dtype=torch.long)
        out = self.model(input_ids=prefix, use_cache=True)
        past = out.past_key_values
        if len(rows) > 1:
            past.batch_repeat_interleave(len(rows))
        return self._forward([r[shared:] for r in rows], n_target, past=past, offset=shared)

    def _forward(self, rows: list[list[int]], n_target: int, *, past: Any, offset: int) -> Any:
        """Left-padded forward pass returning the logits of the last ``n_target`` positions."""
        torch = _torch()
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, row in enumerate(rows):
            input_ids[k, width - len(row) :] = torch.tensor(row, dtype=torch.long)
            mask[k, width - len(row) :] = 1
        # Positions count real tokens only, so padding does not shift them.
        positions = (offset + mask.cumsum(-1) - 1).clamp(min=offset)
        if past is not None:
            mask = torch.cat([torch.ones((len(rows), offset), dtype=torch.long), mask], dim=-1)
        out = self.model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=past,
            use_cache=past is not None,
            logits_to_keep=n_target,
        )
        return out.logits[:, -n_target:, :]
