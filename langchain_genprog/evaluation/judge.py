"""Entailment judges: does the cited text support an answer sentence?

:class:`EntailmentJudge` is the one-method protocol ALCE scoring needs;
:class:`LLMJudge` asks any LangChain chat model a yes/no question
(:data:`JUDGE_PROMPT`, read back with :func:`parse_yes_no`), and
:class:`LexicalOverlapJudge` is a model-free proxy for smoke runs.
"""

from __future__ import annotations

import re
import threading
from typing import Protocol, runtime_checkable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig

from langchain_genprog.evaluation.common import normalize_tokens
from langchain_genprog.segment.selection import lexical_overlap


@runtime_checkable
class EntailmentJudge(Protocol):
    """Decides whether a premise entails a hypothesis."""

    def entails(self, premise: str, hypothesis: str) -> bool:
        """Whether ``premise`` (cited source text) supports ``hypothesis`` (an answer sentence)."""
        ...


JUDGE_SYSTEM = """You check whether a claim is fully supported by a passage.
Answer "yes" if everything the claim states is stated in or directly follows from the passage,
and "no" otherwise (missing facts, contradictions, or extra details count as "no").
Answer with one word: yes or no."""

JUDGE_HUMAN = """Passage:
{premise}

Claim:
{hypothesis}

Is the claim fully supported by the passage? Answer yes or no."""

JUDGE_PROMPT = ChatPromptTemplate.from_messages([("system", JUDGE_SYSTEM), ("human", JUDGE_HUMAN)])
"""Variables: ``premise``, ``hypothesis``."""

_THINK = re.compile(r"<think>.*?(?:</think>|$)", flags=re.DOTALL | re.IGNORECASE)
_YES = frozenset({"yes", "true", "supported", "entailed", "entails", "entailment", "correct"})
_NO = frozenset(
    {"no", "false", "unsupported", "contradiction", "neutral", "incorrect", "not", "cannot"}
    | {"doesn", "isn", "don", "aren", "wasn", "weren", "didn"}  # "doesn't" → "doesn", "t"
)


def parse_yes_no(text: str) -> bool | None:
    """Read a yes/no verdict from a model reply; ``None`` when there is none.

    Handles the forms models actually produce: ``Yes``, ``**No.**``,
    ``Answer: yes``, ``The answer is no``, ``yes, because ...``, ``Not
    supported``, a reasoning model's ``<think>...</think>`` preamble. The
    first verdict word wins (a negation such as ``not`` counts as no), since
    explanations that follow tend to quote both words.
    """
    cleaned = _THINK.sub(" ", text)
    for word in normalize_tokens(cleaned):
        if word in _YES:
            return True
        if word in _NO:
            return False
    return None


class LLMJudge:
    """An :class:`EntailmentJudge` backed by any LangChain chat model.

    The model is asked a yes/no question (:data:`JUDGE_PROMPT`) and its reply
    is read with :func:`parse_yes_no`. An unreadable reply counts as "not
    entailed" — a judge that cannot say yes has not confirmed support — and
    is counted in :attr:`unparsed` so that a misbehaving judge shows up in
    the report rather than silently lowering scores. Verdicts are cached per
    ``(premise, hypothesis)`` because ALCE's precision check re-asks the same
    pairs.

    Attributes:
        calls: Model calls made.
        unparsed: Replies that held no verdict.
    """

    def __init__(
        self,
        chat_model: BaseChatModel,
        *,
        prompt: ChatPromptTemplate = JUDGE_PROMPT,
        config: RunnableConfig | None = None,
        cache: bool = True,
    ) -> None:
        """Create a judge.

        Args:
            chat_model: Any LangChain chat model (temperature 0 is advisable).
            prompt: A template with ``premise`` and ``hypothesis`` variables.
            config: Runnable config for the calls (callbacks for cost tracking).
            cache: Whether to reuse verdicts for repeated pairs.
        """
        self.chat_model = chat_model
        self.prompt = prompt
        self.config = config
        self.calls = 0
        self.unparsed = 0
        self._cache: dict[tuple[str, str], bool] | None = {} if cache else None
        self._lock = threading.Lock()

    def entails(self, premise: str, hypothesis: str) -> bool:
        """Ask the model whether ``premise`` entails ``hypothesis``."""
        key = (premise, hypothesis)
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        messages: list[BaseMessage] = self.prompt.format_messages(
            premise=premise, hypothesis=hypothesis
        )
        reply = self.chat_model.invoke(messages, config=self.config)
        verdict = parse_yes_no(reply.text)
        with self._lock:
            self.calls += 1
            if verdict is None:
                self.unparsed += 1
        result = bool(verdict)
        if self._cache is not None:
            self._cache[key] = result
        return result


class LexicalOverlapJudge:
    """A model-free proxy judge: enough of the claim's content words are in the premise.

    Useful for smoke runs and tests; it cannot detect paraphrase or
    contradiction, so never report it as entailment.
    """

    def __init__(self, threshold: float = 0.6) -> None:
        """Create a judge that says yes when ``lexical_overlap >= threshold``."""
        self.threshold = threshold

    def entails(self, premise: str, hypothesis: str) -> bool:
        """Whether the share of the hypothesis' content words found in the premise is enough."""
        return lexical_overlap(hypothesis, premise) >= self.threshold
