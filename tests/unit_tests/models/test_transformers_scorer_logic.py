"""Batching, padding and prefix caching of the transformers scorer, on a tiny random model.

A 2-layer Llama with random weights and a character tokenizer exercise the
exact code paths of the real scorer in a second, against an independent
reference: one unpadded forward pass per prompt.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from langchain_genprog.models.transformers_scorer import TransformersLogProbScorer  # noqa: E402


class CharTokenizer:
    """One token per character; a chat template wrapping the user turn."""

    chat_template = "{user}"
    pad_token_id = 0
    eos_token_id = 1

    def apply_chat_template(self, messages: list[dict[str, str]], **_: Any) -> str:
        return "".join(f"<{m['role'][0]}>{m['content']}</>" for m in messages) + "<a>"

    def __call__(
        self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"input_ids": [2 + ord(c) % 60 for c in text]}
        if return_offsets_mapping:
            out["offset_mapping"] = [(i, i + 1) for i in range(len(text))]
        return out


@pytest.fixture(scope="module")
def scorer() -> TransformersLogProbScorer:
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    model = transformers.LlamaForCausalLM(config)
    return TransformersLogProbScorer(model, CharTokenizer(), batch_size=1, prefix_cache=False)


def reference(scorer: TransformersLogProbScorer, prompt: str, target: str) -> list[float]:
    prompt_ids = scorer.prompt_ids(prompt)
    target_ids, _ = scorer.target_tokens(target)
    ids = torch.tensor([prompt_ids + target_ids])
    with torch.inference_mode():
        logits = scorer.model(input_ids=ids).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    start = len(prompt_ids)
    return [float(logprobs[start - 1 + k, t]) for k, t in enumerate(target_ids)]


def count_fed_tokens(
    scorer: TransformersLogProbScorer, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """Record how many input tokens each forward pass of ``scorer.model`` is fed."""
    fed: list[int] = []
    forward = scorer.model.forward

    def counting_forward(*args: Any, **kwargs: Any) -> Any:
        fed.append(int(kwargs["input_ids"].numel()))
        return forward(*args, **kwargs)

    monkeypatch.setattr(scorer.model, "forward", counting_forward)
    return fed


CONTEXT = "the park opens in may. it covers ten acres. critics object. the mayor is happy. "
PROMPTS = [
    CONTEXT + "summarize.",
    CONTEXT.replace("it covers ten acres. ", "") + "summarize.",
    CONTEXT.replace("critics object. ", "") + "summarize.",
    CONTEXT.replace("the mayor is happy. ", "") + "summarize.",
    "short prompt",
]
TARGET = "a park opens."


@pytest.mark.parametrize(
    ("batch_size", "prefix_cache"), [(1, False), (3, False), (1, True), (2, True), (4, True)]
)
def test_every_batching_mode_matches_unpadded_scoring(
    scorer: TransformersLogProbScorer,
    monkeypatch: pytest.MonkeyPatch,
    batch_size: int,
    prefix_cache: bool,
) -> None:
    monkeypatch.setattr(scorer, "batch_size", batch_size)
    monkeypatch.setattr(scorer, "prefix_cache", prefix_cache)
    monkeypatch.setattr(scorer, "min_prefix_tokens", 4)
    fed = count_fed_tokens(scorer, monkeypatch)
    results = scorer.score(PROMPTS, TARGET)
    scored_tokens = sum(fed)
    for prompt, result in zip(PROMPTS, results, strict=True):
        np.testing.assert_allclose(
            result.token_logprobs, reference(scorer, prompt, TARGET), atol=1e-4, rtol=0
        )
        assert result.token_offsets == [(i, i + 1) for i in range(len(TARGET))]
    # Every row holds the prompt and the target but its last token.
    needed = sum(len(scorer.prompt_ids(p)) + len(TARGET) - 1 for p in PROMPTS)
    if prefix_cache:
        assert scored_tokens < needed  # shared prefixes were computed once, padding included
        if batch_size == 1:
            assert scored_tokens < needed * 0.75  # each row after its prefix with the last
    else:
        assert scored_tokens >= needed


def test_kv_cache_is_kept_across_calls(
    scorer: TransformersLogProbScorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MExGen's explainer sends a few perturbations per call: the next call's
    # first prompt still shares the previous call's prefix.
    monkeypatch.setattr(scorer, "batch_size", 1)
    monkeypatch.setattr(scorer, "prefix_cache", True)
    monkeypatch.setattr(scorer, "min_prefix_tokens", 4)
    fed = count_fed_tokens(scorer, monkeypatch)
    scorer.reset_cache()
    row_length = [len(scorer.prompt_ids(p)) + len(TARGET) - 1 for p in PROMPTS[:4]]
    for i, prompt in enumerate(PROMPTS[:4]):
        (result,) = scorer.score([prompt], TARGET)
        if i == 0:
            assert fed[-1] == row_length[0]  # nothing kept yet
        else:
            assert fed[-1] < row_length[i] * 0.8  # only what follows the shared prefix
        np.testing.assert_allclose(  # (the reference pass does not touch the kept cache)
            result.token_logprobs, reference(scorer, prompt, TARGET), atol=1e-4, rtol=0
        )
    scorer.reset_cache()
    scorer.score([PROMPTS[0]], TARGET)
    assert fed[-1] == row_length[0]


def test_empty_target_and_no_prompts(scorer: TransformersLogProbScorer) -> None:
    assert [r.token_logprobs for r in scorer.score(["a", "b"], "")] == [[], []]
    assert scorer.score([], TARGET) == []


def test_loaded_model_needs_its_tokenizer(scorer: TransformersLogProbScorer) -> None:
    from langchain_genprog.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="tokenizer"):
        TransformersLogProbScorer(scorer.model)
