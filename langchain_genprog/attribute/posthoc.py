"""Post hoc citations for an answer written by anything.

No program, no planner: give the answer text and the documents it should be
grounded in, and each answer sentence comes back with the source sentences
(and phrases) that measurably support it, and a ``supported`` flag for the
sentences nothing in the sources supports.

Example:
    .. code-block:: python

        from langchain_genprog.attribute.posthoc import attribute

        result = attribute(answer, documents, question, scorer=my_scorer)
        for item in result.sentences:
            print(item.sentence.text, [c.sentence_id for c in item.citations], item.supported)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel

from langchain_genprog.attribute.base import AnswerSentence, AttributionResult, Attributor
from langchain_genprog.attribute.mexgen_node import MExGenAttributor
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.models.scoring import LogProbScorer
from langchain_genprog.segment.sources import SentenceSplitter, Sources, split_sentences


def split_answer(answer: str, *, splitter: SentenceSplitter | None = None) -> list[AnswerSentence]:
    """Split an answer into :class:`AnswerSentence` objects with their offsets.

    Args:
        answer: The answer text.
        splitter: Sentence splitter (default: :func:`split_sentences`).
    """
    spans = (splitter or split_sentences)(answer)
    return [
        AnswerSentence(index=i, text=answer[start:end], start=start, end=end)
        for i, (start, end) in enumerate((s, e) for s, e in spans if answer[s:e].strip())
    ]


def attribute(
    answer: str,
    documents: Sequence[Document | str | bytes] | Sources,
    question: str | None = None,
    *,
    scorer: LogProbScorer | None = None,
    chat_model: BaseLanguageModel[Any] | None = None,
    embeddings: Embeddings | None = None,
    attributor: Attributor | None = None,
    splitter: SentenceSplitter | None = None,
    **options: Any,
) -> AttributionResult:
    """Cite each sentence of ``answer`` to the sentences of ``documents``.

    Args:
        answer: The answer to attribute, written by any model or person.
        documents: The sources, as LangChain ``Document`` objects, strings,
            UTF-8 bytes, or already numbered :class:`Sources`.
        question: The question the answer responds to, if any (it is part of
            the scoring prompt, never perturbed).
        scorer: Log-prob backend. When no scorer, text-only pair or
            attributor is given, the embedded local model is used.
        chat_model: With ``embeddings``, the text-only mode (regenerates
            under each perturbation; for models without log-probs).
        embeddings: Compares regenerated and original sentences.
        attributor: Any :class:`Attributor`, used as is (``options`` ignored).
        splitter: Splits the answer and the documents into sentences.
        **options: Passed to :class:`MExGenAttributor`: its ``config`` (a
            :class:`~langchain_genprog.attribute.mexgen_config.MExGenAttributorConfig`),
            fields of it (``method``, ``levels``, ``top_k``, ``budget`` ...),
            ``on_progress``, ``progress_bar``.

    Returns:
        One :class:`SentenceAttribution` per answer sentence, the sentence ×
        source score matrix, cost and completeness.

    Raises:
        InvalidInputError: If the answer is empty or an option is invalid.
        InvalidSourcesError: If the documents cannot be used.
        ModelNotAvailableError: If no scorer was given and the embedded model
            is not installed.
    """
    if not isinstance(answer, str) or not answer.strip():
        raise InvalidInputError("the answer to attribute is empty")
    sources = (
        documents
        if isinstance(documents, Sources)
        else Sources.from_documents(documents, splitter=splitter)
    )
    sentences = split_answer(answer, splitter=splitter)
    if attributor is None:
        if scorer is None and (chat_model is None or embeddings is None):
            scorer = default_scorer()
        attributor = MExGenAttributor(
            scorer, chat_model=chat_model, embeddings=embeddings, **options
        )
    return attributor.attribute(sentences, sources, question=question)


async def aattribute(
    answer: str,
    documents: Sequence[Document | str | bytes] | Sources,
    question: str | None = None,
    **kwargs: Any,
) -> AttributionResult:
    """Async :func:`attribute`, with the same arguments and result.

    Scoring is compute-bound work in this process (a local model's forward
    passes), so it runs in a worker thread: the event loop stays free for
    other requests while an answer is attributed.
    """
    return await asyncio.to_thread(attribute, answer, documents, question, **kwargs)


def default_scorer() -> LogProbScorer:
    """The shared embedded log-prob scorer (SmolLM2; see ``models.get_default_scorer``).

    Raises:
        ModelNotAvailableError: If it or its runtime is not installed.
    """
    from langchain_genprog.models import get_default_scorer

    return get_default_scorer()
