"""Small builders and fakes shared by the evaluation tests."""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.embeddings import Embeddings

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    CitedSource,
    SentenceAttribution,
)
from langchain_genprog.models.scoring import TargetLogProbs


def attributed(
    sentences: Sequence[str], cites: Sequence[Sequence[int]], *, method: str = "test"
) -> tuple[str, AttributionResult]:
    """Join ``sentences`` with single spaces and cite sentence i to ``cites[i]``."""
    items: list[SentenceAttribution] = []
    cursor = 0
    for index, (text, ids) in enumerate(zip(sentences, cites, strict=True)):
        sentence = AnswerSentence(index=index, text=text, start=cursor, end=cursor + len(text))
        items.append(
            SentenceAttribution(
                sentence=sentence,
                citations=[CitedSource(sentence_id=sid, method=method) for sid in ids],
            )
        )
        cursor += len(text) + 1
    return " ".join(sentences), AttributionResult(sentences=items, method=method)


class SupportScorer:
    """A log-prob scorer whose answer depends only on which sources are in the prompt.

    Every whitespace token of answer sentence ``i`` gets log-prob
    ``-3 + 2.5 * (share of support[i] present in the prompt)``: -0.5 when all
    its supporting sources are shown, -3 when none are. Sources are detected
    as ``S<id>:`` at the start of a prompt line, as rendered by ``Sources.render``.
    """

    def __init__(self, spans: Sequence[tuple[int, int]], support: Sequence[set[int]]) -> None:
        self.spans = list(spans)
        self.support = list(support)
        self.calls: list[list[str]] = []

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        self.calls.append(list(prompts))
        tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", target)]
        out: list[TargetLogProbs] = []
        for prompt in prompts:
            shown = {int(x) for x in re.findall(r"^S(\d+):", prompt, flags=re.MULTILINE)}
            logprobs: list[float] = []
            for start, _ in tokens:
                owner = next((k for k, (s, e) in enumerate(self.spans) if s <= start < e), None)
                need = self.support[owner] if owner is not None else set()
                share = len(need & shown) / len(need) if need else 0.0
                logprobs.append(-3.0 + 2.5 * share)
            out.append(TargetLogProbs(token_logprobs=logprobs, token_offsets=tokens))
        return out


_WORD = re.compile(r"[a-z0-9]+")


class WordEmbeddings(Embeddings):
    """Bag-of-words vectors over a vocabulary grown as texts arrive (deterministic)."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.calls = 0

    def _vector(self, text: str) -> list[float]:
        words = _WORD.findall(text.lower())
        for w in words:
            self.vocab.setdefault(w, len(self.vocab))
        vec = [0.0] * 256
        for w in words:
            vec[self.vocab[w] % 256] += 1.0
        return vec

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self._vector(text)


class OverlapScorer:
    """Token log-prob -0.5 if the word occurs in the prompt's source lines, else -3."""

    def __init__(self) -> None:
        self.prompts = 0

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        self.prompts += len(prompts)
        tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", target)]
        out = []
        for prompt in prompts:
            lines = " ".join(
                line for line in prompt.lower().splitlines() if re.match(r"^s\d+:", line)
            )
            shown = set(_WORD.findall(lines))
            lps = [
                -0.5 if (set(_WORD.findall(target[s:e].lower())) & shown) else -3.0
                for s, e in tokens
            ]
            out.append(TargetLogProbs(token_logprobs=lps, token_offsets=tokens))
        return out
