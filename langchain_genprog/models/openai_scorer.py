"""Target log-probabilities from an OpenAI-compatible ``/v1/completions`` endpoint.

vLLM, llama.cpp's servers and others return *prompt* log-probabilities when
asked for ``echo=True`` with ``logprobs``: the prompt is the templated user
message followed by the target, and the target's tokens are read off the end
of the echoed tokens. This lets MExGen score with a large remote model.

Alignment caveat (llama-cpp-python ≤ 0.3.36 server, ``llama_cpp.server``):
its echoed log-prob for token *i* is only right when the tokenized prompt
starts with the BOS token (it drops BOS, which realigns rows and tokens).
Otherwise token *i* is looked up in the distribution computed *at* position
*i* — the one predicting token *i + 1* — and the values are wrong in a way no
index shift can repair. Chat templates that begin with the BOS text (ChatML
models whose BOS is ``<|im_start|>``, such as SmolLM2; Llama 3's
``<|begin_of_text|>``) are therefore fine. For servers that report correct
values at a shifted index, ``token_shift`` reads token *i*'s value at index
*i + token_shift*; :meth:`OpenAICompletionsLogProbScorer.best_token_shift`
finds the shift (and the residual error) against a trusted local scorer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from langchain_core.runnables.config import ensure_config

from langchain_genprog.errors import GenProgError, InvalidInputError
from langchain_genprog.models.scoring import LogProbScorer, TargetLogProbs

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "LogProbResponseError",
    "OpenAICompletionsLogProbScorer",
    "target_logprobs_from_echo",
]

DEFAULT_MAX_CONCURRENCY = 4
"""Requests in flight when neither the scorer nor the caller's config sets a bound."""


class LogProbResponseError(GenProgError, RuntimeError):
    """A completions endpoint answered without usable prompt log-probabilities."""


class OpenAICompletionsLogProbScorer:
    """Scores a fixed target under many prompts through ``POST {base_url}/completions``.

    Args:
        base_url: API root including ``/v1``, e.g. ``http://localhost:8000/v1``.
        model: Model name sent in each request.
        api_key: Sent as a bearer token (local servers usually ignore it).
        chat_template: Renders a prompt (user message) as the text the model
            sees before its reply, e.g.
            ``lambda p: tok.apply_chat_template([{"role": "user", "content": p}],
            tokenize=False, add_generation_prompt=True)``. ``None`` sends the
            prompt as is, directly followed by the target.
        token_shift: Index offset of each token's log-prob in the response
            (see the module docs); 0 for servers following the OpenAI format.
        max_concurrency: Most requests in flight at once. A server that
            batches (vLLM, llama.cpp's ``llama-server --parallel N``) scores
            concurrent prompts together, so an attribution's perturbations are
            sent concurrently. The caller's LangChain ``RunnableConfig``
            ``max_concurrency`` (the graph sets its run's) lowers the bound
            further; ``None`` (default): that bound, else
            :data:`DEFAULT_MAX_CONCURRENCY`.
        timeout: Seconds per request.
        transport: A custom httpx transport (e.g. ``httpx.MockTransport`` in tests).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        chat_template: Callable[[str], str] | None = None,
        token_shift: int = 0,
        max_concurrency: int | None = None,
        timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise InvalidInputError("max_concurrency must be >= 1")
        self.model = model
        self.chat_template = chat_template
        self.token_shift = token_shift
        self.max_concurrency = max_concurrency
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def concurrency(self) -> int:
        """The bound on requests in flight for a :meth:`score` call made now.

        The smaller of the scorer's own ``max_concurrency`` and the
        ``max_concurrency`` of the caller's LangChain config (the ambient one,
        as in ``Runnable.batch``), whichever are set.
        """
        ambient = ensure_config().get("max_concurrency")
        bounds = [b for b in (self.max_concurrency, ambient) if b is not None]
        return max(1, min(bounds)) if bounds else DEFAULT_MAX_CONCURRENCY

    def render(self, prompt: str) -> str:
        """The text sent before the target for ``prompt``."""
        return self.chat_template(prompt) if self.chat_template is not None else prompt

    def request(self, prompt: str, target: str) -> dict[str, Any]:
        """Send one echo request and return the decoded JSON response.

        Raises:
            LogProbResponseError: On an HTTP error status or a non-JSON body.
        """
        payload = {
            "model": self.model,
            "prompt": self.render(prompt) + target,
            "echo": True,
            "logprobs": 1,
            "max_tokens": 1,
            "temperature": 0,
        }
        try:
            response = self._client.post("completions", json=payload)
            response.raise_for_status()
            body = response.json()
        except httpx.HTTPStatusError as err:
            status, text = err.response.status_code, err.response.text[:300]
            msg = f"completions endpoint answered {status}: {text}"
            raise LogProbResponseError(msg) from err
        except (httpx.HTTPError, ValueError) as err:
            msg = f"completions request failed: {err}"
            raise LogProbResponseError(msg) from err
        if not isinstance(body, dict):
            raise LogProbResponseError("completions endpoint returned JSON that is not an object")
        return body

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        """Log-probabilities of ``target``'s tokens after each prompt.

        The prompts are sent concurrently, at most :meth:`concurrency` at once;
        each result is put back at its prompt's index, so the list does not
        depend on the order in which the server answers (the values are those
        of a sequential run, up to the server's own batching numerics).

        Raises:
            LogProbResponseError: If a request fails or its log-probs cannot
                be aligned with the target.
        """

        def one(prompt: str) -> TargetLogProbs:
            body = self.request(prompt, target)
            return target_logprobs_from_echo(
                body,
                sent_prompt=self.render(prompt) + target,
                target=target,
                token_shift=self.token_shift,
            )

        limit = min(self.concurrency(), len(prompts))
        if limit <= 1:
            return [one(p) for p in prompts]
        # The sync client is thread-safe; map keeps the prompts' order.
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="genprog-score") as pool:
            return list(pool.map(one, prompts))

    def best_token_shift(
        self,
        reference: LogProbScorer,
        prompt: str,
        target: str,
        *,
        candidates: Sequence[int] = (-1, 0, 1),
    ) -> tuple[int, float]:
        """Find the ``token_shift`` under which the endpoint agrees with ``reference``.

        Score one prompt with a trusted local scorer of the same model (e.g.
        :class:`~langchain_genprog.models.transformers_scorer.TransformersLogProbScorer`)
        and compare. A residual of a few tenths of a nat is quantization
        noise; several nats under every shift means the server's values are
        unusable (see the module docs).

        Returns:
            ``(shift, mean absolute difference in nats)`` of the best candidate;
            the difference is ``inf`` if no candidate could be aligned.
        """
        expected = reference.score([prompt], target)[0].token_logprobs
        body = self.request(prompt, target)
        best = (0, math.inf)
        for shift in candidates:
            try:
                got = target_logprobs_from_echo(
                    body,
                    sent_prompt=self.render(prompt) + target,
                    target=target,
                    token_shift=shift,
                ).token_logprobs
            except LogProbResponseError:
                continue
            if len(got) != len(expected) or not got:
                continue
            error = sum(abs(a - b) for a, b in zip(got, expected, strict=True)) / len(got)
            if error < best[1]:
                best = (shift, error)
        return best


def target_logprobs_from_echo(
    body: dict[str, Any], *, sent_prompt: str, target: str, token_shift: int = 0
) -> TargetLogProbs:
    """Extract the target's token log-probs from an ``echo=True`` completions response.

    The echoed tokens are concatenated to locate the target at the end of the
    echo (before any generated text) instead of trusting ``text_offset``,
    which some servers compute without special tokens. A token straddling
    the prompt/target boundary is kept, with its span clipped to the target.

    Args:
        body: The decoded JSON response.
        sent_prompt: The exact ``prompt`` string that was sent (template + target).
        target: The target text at its end.
        token_shift: Read token *i*'s log-prob at index *i + token_shift*.

    Raises:
        LogProbResponseError: If the response lacks log-probs or the echo does
            not end with the target.
    """
    try:
        choice = body["choices"][0]
        logprobs = choice["logprobs"]
        tokens = [str(t) for t in logprobs["tokens"]]
        values = list(logprobs["token_logprobs"])
    except (KeyError, IndexError, TypeError) as err:
        msg = "the response has no choices[0].logprobs.tokens/token_logprobs (is echo supported?)"
        raise LogProbResponseError(msg) from err
    if len(values) != len(tokens):
        raise LogProbResponseError("tokens and token_logprobs differ in length")
    text = str(choice.get("text") or "")
    generated = text[len(sent_prompt) :] if text.startswith(sent_prompt) else ""
    joined = "".join(tokens)
    if not joined.endswith(target + generated):
        if generated and joined.endswith(target):
            generated = ""  # the generated token was not echoed (e.g. it was EOS)
        else:
            msg = "the echoed tokens do not end with the target; cannot align log-probs"
            raise LogProbResponseError(msg)
    target_end = len(joined) - len(generated)
    target_start = target_end - len(target)
    token_logprobs: list[float] = []
    offsets: list[tuple[int, int]] = []
    position = 0
    for index, token in enumerate(tokens):
        start, end = position, position + len(token)
        position = end
        if end <= target_start or start >= target_end:
            continue
        source = index + token_shift
        value = values[source] if 0 <= source < len(values) else None
        if value is None:
            msg = f"no log-prob for target token {token!r} (index {source}); check token_shift"
            raise LogProbResponseError(msg)
        token_logprobs.append(float(value))
        offsets.append(
            (max(start, target_start) - target_start, min(end, target_end) - target_start)
        )
    return TargetLogProbs(token_logprobs=token_logprobs, token_offsets=offsets)
