from __future__ import annotations

import time

import numpy as np
import pytest

from langchain_genprog.models import LogProbScorer
from langchain_genprog.models.llamacpp_scorer import LlamaCppLogProbScorer
from langchain_genprog.models.transformers_scorer import (
    TransformersLogProbScorer,
    load_gguf_causal_lm,
)

pytestmark = pytest.mark.slow


def _matrix(results: list) -> np.ndarray:
    return np.array([r.token_logprobs for r in results])


def test_scorers_implement_the_protocol(
    transformers_scorer: TransformersLogProbScorer, llamacpp_scorer: LlamaCppLogProbScorer
) -> None:
    assert isinstance(transformers_scorer, LogProbScorer)
    assert isinstance(llamacpp_scorer, LogProbScorer)


def test_transformers_batched_equals_unbatched(
    transformers_scorer: TransformersLogProbScorer,
    monkeypatch: pytest.MonkeyPatch,
    prompts: list[str],
    target: str,
) -> None:
    scorer = transformers_scorer
    monkeypatch.setattr(scorer, "batch_size", 1)
    monkeypatch.setattr(scorer, "prefix_cache", False)
    reference = _matrix(scorer.score(prompts, target))

    monkeypatch.setattr(scorer, "batch_size", 3)
    padded = _matrix(scorer.score(prompts, target))
    np.testing.assert_allclose(padded, reference, atol=1e-4, rtol=0)

    # Force the shared-prefix KV-cache path and check it is really taken.
    monkeypatch.setattr(scorer, "prefix_cache", True)
    monkeypatch.setattr(scorer, "min_prefix_tokens", 1)
    used = []
    original = scorer._forward_with_prefix

    def spy(*args: object, **kwargs: object) -> object:
        used.append(args[1])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scorer, "_forward_with_prefix", spy)
    cached = _matrix(scorer.score(prompts, target))
    assert used and min(used) > 10  # a real prefix (the chat template at least)
    np.testing.assert_allclose(cached, reference, atol=1e-4, rtol=0)

    # One prompt at a time, reusing the previous prompt's KV cache.
    monkeypatch.setattr(scorer, "batch_size", 1)
    incremental = _matrix(scorer.score(prompts, target))
    np.testing.assert_allclose(incremental, reference, atol=1e-4, rtol=0)


def test_transformers_offsets_cover_the_target(
    transformers_scorer: TransformersLogProbScorer, prompts: list[str], target: str
) -> None:
    result = transformers_scorer.score(prompts[:1], target)[0]
    assert len(result.token_logprobs) == len(result.token_offsets) > 10
    assert result.token_offsets[0][0] == 0 and result.token_offsets[-1][1] == len(target)
    pieces = "".join(target[s:e] for s, e in result.token_offsets)
    assert pieces == target
    assert all(lp <= 0 for lp in result.token_logprobs)
    # Sentence scores separate the answer's two halves.
    halves = result.span_scores([(0, 43), (43, len(target))])
    assert halves.sum() == pytest.approx(sum(result.token_logprobs))


def test_removing_the_supporting_sentence_lowers_the_target_score(
    transformers_scorer: TransformersLogProbScorer, prompts: list[str], target: str
) -> None:
    totals = [sum(r.token_logprobs) for r in transformers_scorer.score(prompts, target)]
    full, drops = totals[0], totals[1:]
    # Sentence 3 (ten acres) and sentence 2 (opening in May) support the
    # target; the mayor's praise (sentence 5) does not.
    assert min(drops[0], drops[1], drops[2]) < full
    assert min(drops[0], drops[1], drops[2]) < drops[4]


def test_llamacpp_prefix_reuse_and_order_do_not_change_scores(
    llamacpp_scorer: LlamaCppLogProbScorer,
    monkeypatch: pytest.MonkeyPatch,
    prompts: list[str],
    target: str,
) -> None:
    monkeypatch.setattr(llamacpp_scorer, "prefix_reuse", False)
    fresh = _matrix(llamacpp_scorer.score(prompts, target))
    monkeypatch.setattr(llamacpp_scorer, "prefix_reuse", True)
    reused = _matrix(llamacpp_scorer.score(prompts, target))
    reversed_ = _matrix(llamacpp_scorer.score(prompts[::-1], target))[::-1]
    np.testing.assert_allclose(reused, fresh, atol=2e-3, rtol=0)
    np.testing.assert_allclose(reversed_, fresh, atol=2e-3, rtol=0)


def test_llamacpp_agrees_with_transformers(
    transformers_scorer: TransformersLogProbScorer,
    llamacpp_scorer: LlamaCppLogProbScorer,
    prompts: list[str],
    target: str,
) -> None:
    """Same GGUF weights; llama.cpp quantizes activations to 8 bits, so small noise only."""
    prompts = prompts[:3]
    t_ids, t_offsets = transformers_scorer.target_tokens(target)
    l_ids, l_offsets = llamacpp_scorer.target_tokens(target)
    assert t_ids == l_ids and t_offsets == l_offsets
    assert transformers_scorer.prompt_ids(prompts[0]) == llamacpp_scorer.prompt_ids(prompts[0])
    reference = _matrix(transformers_scorer.score(prompts, target))
    got = _matrix(llamacpp_scorer.score(prompts, target))
    difference = np.abs(got - reference)
    print(f"llama.cpp vs transformers: mean {difference.mean():.3f}, max {difference.max():.3f}")
    assert difference.mean() < 0.2
    assert np.median(difference) < 0.15
    assert difference.max() < 1.5
    # An off-by-one alignment would be far worse than quantization noise.
    misaligned = np.abs(got[:, 1:] - reference[:, :-1]).mean()
    assert misaligned > 5 * difference.mean()


def test_llamacpp_rejects_prompts_longer_than_the_context(
    llamacpp_scorer: LlamaCppLogProbScorer, target: str
) -> None:
    from langchain_genprog.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="n_ctx"):
        llamacpp_scorer.score(["word " * 3000], target)


def test_converted_gguf_is_cached(transformers_scorer: TransformersLogProbScorer) -> None:
    """The session fixture converted (or reloaded) the default GGUF into the cache."""
    from langchain_genprog.models._resources import cache_dir, default_model_path
    from langchain_genprog.models.transformers_scorer import _gguf_cache_key

    entry = cache_dir() / "transformers" / _gguf_cache_key(default_model_path())
    assert (entry / "config.json").is_file()
    started = time.perf_counter()
    model, tokenizer = load_gguf_causal_lm()
    seconds = time.perf_counter() - started
    print(f"cached transformers load: {seconds:.1f} s")
    assert seconds < 30  # a conversion takes a minute or more
    assert "quantization_config" not in model.config.to_dict()
    import torch

    reference = transformers_scorer.model.state_dict()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    assert tokenizer.chat_template == transformers_scorer.tokenizer.chat_template
