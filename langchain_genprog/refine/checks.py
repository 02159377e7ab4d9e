"""Module-level checks: does each executed node's output follow from its own inputs?

GenerationPrograms makes every answer sentence the output of a small tree of
operations, so a wrong sentence can be traced to the *node* that went wrong —
a fusion that copied one input and dropped the other, a paraphrase that
drifted off its sentence, an output that loops. A checker looks at one node
at a time, with nothing but that node's inputs and output (its
:class:`~langchain_genprog.execute.trace.NodeTrace`), which is what makes the
refinement *localized*: only the failing node has to be re-run.

Three checkers, from cheap to expensive:

* :class:`EmbeddingNodeChecker` — cosine similarity of sentence embeddings
  (any LangChain ``Embeddings``; the embedded all-MiniLM-L6-v2 by default).
  For ``fusion`` each input must be covered *more than the other inputs
  already cover it*, which is what catches a fusion that copies one input.
* :class:`JudgeNodeChecker` — any object with ``entails(premise, hypothesis)``
  (an NLI model, an LLM judge): the inputs must entail the output.
* :class:`ScorerNodeChecker` — a :class:`~langchain_genprog.models.scoring.LogProbScorer`:
  the inputs must raise the output's mean token log-probability, and for a
  fusion, dropping any one input must lower it.

All of them first apply the model-free checks of :func:`precheck` (an empty,
looping or runaway output fails without asking any model). A checker needs
only :meth:`NodeChecker.check`; :class:`BaseNodeChecker` adds batching (one
embedding or scoring call for many nodes), an async variant and usage counts.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, Field

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.execute.trace import NodeTrace
from langchain_genprog.models.scoring import LogProbScorer
from langchain_genprog.operations.prompts import has_repeated_ngram, normalize_text
from langchain_genprog.program.model import NodeRef

MODEL_OPERATIONS = frozenset({"paraphrase", "compression", "fusion"})
"""Operations whose output a model wrote, and that a checker therefore judges."""


class NodeCheck(BaseModel):
    """The verdict on one executed node.

    Attributes:
        line: 1-based program line of the node.
        path: Position of the node in its tree (``"0"`` is the root).
        operation: The node's operation.
        supported: Whether the output follows from the node's inputs.
        score: How well it does, higher is better, on the checker's own scale
            (cosine similarity, share of positive verdicts, log-prob gain).
            Scores of the same node are comparable across re-runs, which is how
            the refiner keeps the best of several failing outputs.
        reason: Why, in a short phrase that can be shown to a person and fed
            back to the model (``it leaves out input 2 ("...")``); the numbers
            behind it are in ``details``.
        checker: The name of the checker that decided.
        details: The numbers behind the verdict (per-input similarities,
            thresholds, gains ...).
    """

    line: int
    path: str
    operation: str
    supported: bool
    score: float
    reason: str = ""
    checker: str = ""
    details: dict[str, float] = Field(default_factory=dict)

    @property
    def ref(self) -> NodeRef:
        """The checked node's key in the program."""
        return NodeRef(line=self.line, path=self.path)


class CheckUsage(BaseModel):
    """What checking spent, so that refinement can report its full cost.

    Attributes:
        checks: Nodes checked.
        embedding_calls: ``Embeddings`` calls.
        judge_calls: ``entails`` calls.
        scorer_calls: ``LogProbScorer.score`` calls.
        forward_passes: Prompts scored in total.
    """

    checks: int = 0
    embedding_calls: int = 0
    judge_calls: int = 0
    scorer_calls: int = 0
    forward_passes: int = 0

    def add(self, other: CheckUsage) -> None:
        """Add ``other`` into this record, field by field."""
        self.checks += other.checks
        self.embedding_calls += other.embedding_calls
        self.judge_calls += other.judge_calls
        self.scorer_calls += other.scorer_calls
        self.forward_passes += other.forward_passes


@runtime_checkable
class NodeChecker(Protocol):
    """Checks one executed node against its own inputs."""

    def check(self, trace: NodeTrace) -> NodeCheck:
        """Whether ``trace.output`` follows from ``trace.inputs``."""
        ...


@runtime_checkable
class SupportJudge(Protocol):
    """Decides whether a premise entails a hypothesis.

    The same shape as the evaluation's ``EntailmentJudge`` (``LLMJudge``,
    ``LexicalOverlapJudge`` fit), declared here so that refinement does not
    depend on the evaluation package.
    """

    def entails(self, premise: str, hypothesis: str) -> bool:
        """Whether ``premise`` supports ``hypothesis``."""
        ...


# --------------------------------------------------------------------------- #
# Model-free checks shared by every checker
# --------------------------------------------------------------------------- #

_WORD = re.compile(r"\w+")


def looping(text: str, *, n: int = 3, repeats: int = 3) -> bool:
    """Whether some ``n``-word sequence occurs ``repeats`` times or more.

    Stricter than the executor's clean-up (five words, three times), which
    rejects only blatant loops: a sentence that says the same three words
    three times is not a faithful rewrite either.
    """
    return has_repeated_ngram([w.lower() for w in _WORD.findall(text)], n=n, repeats=repeats)


def precheck(trace: NodeTrace, *, checker: str, max_growth: float = 2.0) -> NodeCheck | None:
    """The verdicts that need no model; ``None`` when a model has to decide.

    * a node that failed (``error``) is unsupported, with the error as reason;
    * ``extract`` (a verbatim copy) is supported;
    * an empty output, a looping one (:func:`looping`), or one more than
      ``max_growth`` times as long as all its inputs together (plus ten
      words: a runaway generation or a hallucinated addition) is unsupported.

    Args:
        trace: The node.
        checker: Name recorded in the verdict.
        max_growth: Most output words per input word.
    """

    def verdict(supported: bool, reason: str, score: float) -> NodeCheck:
        return _node_check(trace, checker, supported, score, reason)

    if trace.error is not None:
        return verdict(False, f"the operation failed: {trace.error}", 0.0)
    if trace.operation not in MODEL_OPERATIONS:
        return verdict(True, "a verbatim copy of its input", 1.0)
    output = trace.output.strip()
    if not output or not _WORD.search(output):
        return verdict(False, "the output is empty", 0.0)
    if looping(output):
        return verdict(False, "the output repeats the same words over and over", 0.0)
    input_words = sum(len(_WORD.findall(text)) for text in trace.inputs)
    output_words = len(_WORD.findall(output))
    if output_words > max_growth * input_words + 10:
        reason = (
            f"the output is far longer than its inputs ({output_words} words from {input_words})"
        )
        return verdict(False, reason, 0.0)
    return None


def _short(text: str, limit: int = 80) -> str:
    text = normalize_text(text)
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


# --------------------------------------------------------------------------- #
# Base class: batching, async, usage
# --------------------------------------------------------------------------- #


class BaseNodeChecker:
    """Shared machinery: pre-checks, batching, async and usage counting.

    Subclasses implement :meth:`_judge` for the nodes :func:`precheck` leaves
    open (and may override :meth:`_judge_many` to batch them, e.g. one
    embedding call for every text of a refinement round).

    Args:
        name: Recorded as :attr:`NodeCheck.checker`.
        max_growth: See :func:`precheck`.
    """

    name = "checker"

    def __init__(self, *, name: str | None = None, max_growth: float = 2.0) -> None:
        if name:
            self.name = name
        if max_growth <= 0:
            raise InvalidInputError(f"max_growth must be positive, got {max_growth}")
        self.max_growth = max_growth

    def check(self, trace: NodeTrace) -> NodeCheck:
        """Check one node."""
        return self.check_many([trace])[0]

    def check_many(
        self, traces: Sequence[NodeTrace], *, usage: CheckUsage | None = None
    ) -> list[NodeCheck]:
        """Check many nodes at once (batched where the checker can).

        Args:
            traces: The nodes.
            usage: If given, what the checks spent is added to it.

        Returns:
            One verdict per node, in order.
        """
        spent = CheckUsage(checks=len(traces))
        verdicts = self._prechecked(traces)
        open_ = [t for t, v in zip(traces, verdicts, strict=True) if v is None]
        judged = self._judge_many(open_, spent) if open_ else []
        return self._merged(verdicts, judged, spent, usage)

    async def acheck(self, trace: NodeTrace) -> NodeCheck:
        """Async :meth:`check`."""
        return (await self.acheck_many([trace]))[0]

    async def acheck_many(
        self, traces: Sequence[NodeTrace], *, usage: CheckUsage | None = None
    ) -> list[NodeCheck]:
        """Async :meth:`check_many` (see :meth:`_ajudge_many`)."""
        spent = CheckUsage(checks=len(traces))
        verdicts = self._prechecked(traces)
        open_ = [t for t, v in zip(traces, verdicts, strict=True) if v is None]
        judged = await self._ajudge_many(open_, spent) if open_ else []
        return self._merged(verdicts, judged, spent, usage)

    def _prechecked(self, traces: Sequence[NodeTrace]) -> list[NodeCheck | None]:
        """:func:`precheck` verdicts; ``None`` where the checker must judge."""
        return [precheck(t, checker=self.name, max_growth=self.max_growth) for t in traces]

    @staticmethod
    def _merged(
        verdicts: list[NodeCheck | None],
        judged: list[NodeCheck],
        spent: CheckUsage,
        usage: CheckUsage | None,
    ) -> list[NodeCheck]:
        """Fill the open verdicts with the judged ones, in order, and account the usage."""
        if len(judged) != verdicts.count(None):  # a checker bug, as zip(strict=True) would say
            msg = f"{len(judged)} verdicts for {verdicts.count(None)} judged nodes"
            raise ValueError(msg)
        if usage is not None:
            usage.add(spent)
        rest = iter(judged)
        return [v if v is not None else next(rest) for v in verdicts]

    def _judge_many(self, traces: Sequence[NodeTrace], usage: CheckUsage) -> list[NodeCheck]:
        return [self._judge(t, usage) for t in traces]

    async def _ajudge_many(self, traces: Sequence[NodeTrace], usage: CheckUsage) -> list[NodeCheck]:
        """Async :meth:`_judge_many`: in a worker thread unless a subclass does better."""
        return await asyncio.to_thread(self._judge_many, traces, usage)

    def _judge(self, trace: NodeTrace, usage: CheckUsage) -> NodeCheck:
        raise NotImplementedError

    def _verdict(
        self,
        trace: NodeTrace,
        supported: bool,
        score: float,
        reason: str,
        details: dict[str, float] | None = None,
    ) -> NodeCheck:
        return _node_check(trace, self.name, supported, score, reason, details)


def _node_check(
    trace: NodeTrace,
    checker: str,
    supported: bool,
    score: float,
    reason: str,
    details: dict[str, float] | None = None,
) -> NodeCheck:
    """The verdict on ``trace``'s node."""
    return NodeCheck(
        line=trace.line,
        path=trace.path,
        operation=trace.operation,
        supported=supported,
        score=float(score),
        reason=reason,
        checker=checker,
        details=details or {},
    )


# --------------------------------------------------------------------------- #
# Embeddings
# --------------------------------------------------------------------------- #


class EmbeddingNodeChecker(BaseNodeChecker):
    """Checks nodes by the cosine similarity of sentence embeddings.

    * ``paraphrase`` / ``compression``: the output must be at least
      ``min_similarity`` similar to its input (a drifted or hallucinated
      sentence is not).
    * ``fusion``: *every* input must be covered. Input ``k`` counts as covered
      when the output's similarity to it reaches
      ``min(max(min_input_similarity, r_k + margin), max_threshold)``, where
      ``r_k`` is the highest similarity of input ``k`` to any *other* input.
      A fusion that merely copies input 1 is exactly as similar to input 2
      as input 1 is (``r_2``), so it fails by the margin — the most frequent
      fusion failure of a 135M model — while a real fusion, which adds
      input 2's facts, is closer to input 2 than input 1 alone. The cap keeps
      near-duplicate inputs from demanding the impossible.

    The score is the similarity (for fusion: the weakest input's), so that
    re-runs of one node can be ranked. Vectors are cached per text (inputs are
    re-checked in every round), up to ``cache_size`` texts.

    Example:
        .. code-block:: python

            from langchain_genprog.refine import EmbeddingNodeChecker

            checker = EmbeddingNodeChecker()  # embedded all-MiniLM-L6-v2
            verdict = checker.check(execution.trace[0])
            print(verdict.supported, verdict.reason)

    Args:
        embeddings: Any LangChain embeddings; ``None`` loads the embedded
            all-MiniLM-L6-v2 (``langchain-genprog[local]``). Thresholds are
            tuned for it; other models may need other values.
        min_similarity: Least output–input similarity of a unary operation.
        min_input_similarity: Least similarity to each fusion input.
        margin: How much more similar to input ``k`` than the other inputs
            already are the fusion must be.
        max_threshold: Upper bound of a fusion input's threshold.
        cache_size: Most texts whose vectors are kept.
        name: Recorded as :attr:`NodeCheck.checker`.
        max_growth: See :func:`precheck`.

    Raises:
        InvalidInputError: If a threshold is outside ``[-1, 1]`` or
            ``cache_size < 0``.
        ModelNotAvailableError: If ``embeddings`` is ``None`` and the embedded
            model is not installed.
    """

    name = "embedding"

    def __init__(
        self,
        embeddings: Embeddings | None = None,
        *,
        min_similarity: float = 0.5,
        min_input_similarity: float = 0.4,
        margin: float = 0.05,
        max_threshold: float = 0.85,
        cache_size: int = 4096,
        name: str | None = None,
        max_growth: float = 2.0,
    ) -> None:
        super().__init__(name=name, max_growth=max_growth)
        for label, value in (
            ("min_similarity", min_similarity),
            ("min_input_similarity", min_input_similarity),
            ("margin", margin),
            ("max_threshold", max_threshold),
        ):
            if not -1.0 <= value <= 1.0:
                raise InvalidInputError(f"{label} must lie in [-1, 1], got {value}")
        if cache_size < 0:
            raise InvalidInputError(f"cache_size must be 0 or more, got {cache_size}")
        if embeddings is None:
            from langchain_genprog.models import default_embeddings

            embeddings = default_embeddings()
        self.embeddings = embeddings
        self.min_similarity = min_similarity
        self.min_input_similarity = min_input_similarity
        self.margin = margin
        self.max_threshold = max_threshold
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------- batching

    def _judge_many(self, traces: Sequence[NodeTrace], usage: CheckUsage) -> list[NodeCheck]:
        missing = self._missing(traces)
        if missing:
            usage.embedding_calls += 1
            self._store(missing, self.embeddings.embed_documents(missing))
        return self._decide_all(traces)

    async def _ajudge_many(self, traces: Sequence[NodeTrace], usage: CheckUsage) -> list[NodeCheck]:
        """Like :meth:`_judge_many`, embedding with ``aembed_documents``."""
        missing = self._missing(traces)
        if missing:
            usage.embedding_calls += 1
            self._store(missing, await self.embeddings.aembed_documents(missing))
        return self._decide_all(traces)

    def _missing(self, traces: Sequence[NodeTrace]) -> list[str]:
        normalized = (normalize_text(text) for t in traces for text in (t.output, *t.inputs))
        texts = dict.fromkeys(text for text in normalized if text)
        with self._lock:
            return [text for text in texts if text not in self._cache]

    def _store(self, texts: list[str], vectors: list[list[float]]) -> None:
        if len(vectors) != len(texts):
            msg = f"the embeddings returned {len(vectors)} vectors for {len(texts)} texts"
            raise InvalidInputError(msg)
        with self._lock:
            for text, vector in zip(texts, vectors, strict=True):
                array = np.asarray(vector, dtype=float)
                self._cache[text] = array / max(float(np.linalg.norm(array)), 1e-12)
            # Keep what this batch needs even when it exceeds the cache size.
            while len(self._cache) > max(self.cache_size, len(texts)):
                self._cache.popitem(last=False)

    def _vector(self, text: str) -> np.ndarray:
        with self._lock:
            vector = self._cache[normalize_text(text)]
            self._cache.move_to_end(normalize_text(text))
            return vector

    def _decide_all(self, traces: Sequence[NodeTrace]) -> list[NodeCheck]:
        return [self._decide(t) for t in traces]

    # ------------------------------------------------------------- verdicts

    def _decide(self, trace: NodeTrace) -> NodeCheck:
        out = self._vector(trace.output)
        inputs = [self._vector(text) for text in trace.inputs]
        sims = [float(out @ vec) for vec in inputs]
        if trace.operation != "fusion" or len(inputs) < 2:
            sim = sims[0] if sims else 0.0
            details = {"similarity": sim, "threshold": self.min_similarity}
            if sim >= self.min_similarity:
                return self._verdict(trace, True, sim, f"close to its input ({sim:.2f})", details)
            reason = "it does not say what its input says"
            return self._verdict(trace, False, sim, reason, details)

        details = {}
        missed: list[int] = []
        for k, vec in enumerate(inputs):
            redundancy = max(float(vec @ other) for j, other in enumerate(inputs) if j != k)
            threshold = min(
                max(self.min_input_similarity, redundancy + self.margin), self.max_threshold
            )
            details[f"similarity_{k + 1}"] = sims[k]
            details[f"threshold_{k + 1}"] = threshold
            if sims[k] < threshold:
                missed.append(k)
        score = min(sims)
        if not missed:
            return self._verdict(
                trace,
                True,
                score,
                f"covers all {len(inputs)} inputs (weakest {score:.2f})",
                details,
            )
        copied = [k for k, s in enumerate(sims) if s >= 0.97 and k not in missed]
        # The numbers are in ``details``; the reason is also the model's feedback.
        left_out = " and ".join(f'input {k + 1} ("{_short(trace.inputs[k])}")' for k in missed)
        if copied:
            reason = f"it copies input {copied[0] + 1} and leaves out {left_out}"
        else:
            reason = f"it leaves out {left_out}"
        return self._verdict(trace, False, score, reason, details)


# --------------------------------------------------------------------------- #
# Entailment judge
# --------------------------------------------------------------------------- #


class JudgeNodeChecker(BaseNodeChecker):
    """Checks nodes with an entailment judge: the inputs must entail the output.

    With ``check_coverage=True`` a fusion must also *keep* each input: the
    output must entail every input on its own. That is strict (a fusion may
    legitimately drop detail) and costs one judge call per input, so it is off
    by default.

    Args:
        judge: Anything with ``entails(premise, hypothesis) -> bool``, e.g. the
            evaluation's ``LLMJudge`` or an NLI model wrapper.
        check_coverage: Also require a fusion's output to entail each input.
        name: Recorded as :attr:`NodeCheck.checker`.
        max_growth: See :func:`precheck`.

    Raises:
        InvalidInputError: If ``judge`` has no ``entails`` method.
    """

    name = "judge"

    def __init__(
        self,
        judge: SupportJudge,
        *,
        check_coverage: bool = False,
        name: str | None = None,
        max_growth: float = 2.0,
    ) -> None:
        super().__init__(name=name, max_growth=max_growth)
        if not isinstance(judge, SupportJudge):
            raise InvalidInputError("judge must have an entails(premise, hypothesis) method")
        self.judge = judge
        self.check_coverage = check_coverage

    def _judge(self, trace: NodeTrace, usage: CheckUsage) -> NodeCheck:
        premise = "\n".join(normalize_text(text) for text in trace.inputs)
        output = normalize_text(trace.output)
        usage.judge_calls += 1
        entailed = bool(self.judge.entails(premise, output))
        verdicts = [entailed]
        missed: list[int] = []
        if self.check_coverage and trace.operation == "fusion":
            for k, text in enumerate(trace.inputs):
                usage.judge_calls += 1
                kept = bool(self.judge.entails(output, normalize_text(text)))
                verdicts.append(kept)
                if not kept:
                    missed.append(k)
        score = sum(verdicts) / len(verdicts)
        details = {"entailed": float(entailed)}
        if entailed and not missed:
            return self._verdict(trace, True, score, "entailed by its inputs", details)
        problems = [] if entailed else ["its inputs do not entail it"]
        problems.extend(
            f'it leaves out input {k + 1} ("{_short(trace.inputs[k])}")' for k in missed
        )
        return self._verdict(trace, False, score, "; ".join(problems), details)


# --------------------------------------------------------------------------- #
# Log-prob scorer
# --------------------------------------------------------------------------- #

SCORER_TASK = "Write one sentence that states only what these sentences say."
"""The scorer prompt's instruction, above the node's inputs (one per line)."""


def scorer_prompt(inputs: Sequence[str]) -> str:
    """The prompt under which a node's output is scored: the task, then its inputs."""
    body = "\n".join(normalize_text(text) for text in inputs) if inputs else "(no sentences)"
    return f"{SCORER_TASK}\n\n{body}"


class ScorerNodeChecker(BaseNodeChecker):
    """Checks nodes with a log-prob scorer: do the inputs make the output likely?

    The output's mean token log-probability is measured (teacher forcing, one
    ``score`` call per node) under its inputs and under no input. Their
    difference, the *gain*, must reach ``min_gain`` nats per token: an output
    its inputs do not predict was not derived from them. For a fusion, the
    output is also scored with each input left out; dropping input ``k`` must
    cost at least ``min_input_gain``, or input ``k`` was not used.

    Args:
        scorer: Any :class:`~langchain_genprog.models.scoring.LogProbScorer`.
        min_gain: Least mean log-prob gain of the output from its inputs.
        min_input_gain: Least mean log-prob loss when one fusion input is dropped.
        name: Recorded as :attr:`NodeCheck.checker`.
        max_growth: See :func:`precheck`.
    """

    name = "scorer"

    def __init__(
        self,
        scorer: LogProbScorer,
        *,
        min_gain: float = 0.1,
        min_input_gain: float = 0.05,
        name: str | None = None,
        max_growth: float = 2.0,
    ) -> None:
        super().__init__(name=name, max_growth=max_growth)
        self.scorer = scorer
        self.min_gain = min_gain
        self.min_input_gain = min_input_gain

    def _judge(self, trace: NodeTrace, usage: CheckUsage) -> NodeCheck:
        inputs = list(trace.inputs)
        prompts = [scorer_prompt(inputs), scorer_prompt([])]
        fusion = trace.operation == "fusion" and len(inputs) > 1
        if fusion:
            prompts.extend(scorer_prompt(inputs[:k] + inputs[k + 1 :]) for k in range(len(inputs)))
        results = self.scorer.score(prompts, normalize_text(trace.output))
        usage.scorer_calls += 1
        usage.forward_passes += len(prompts)
        if len(results) != len(prompts):
            msg = f"the scorer returned {len(results)} results for {len(prompts)} prompts"
            raise InvalidInputError(msg)
        means = [_mean(r.token_logprobs) for r in results]
        full, empty = means[0], means[1]
        gain = full - empty
        details = {"logprob_inputs": full, "logprob_none": empty, "gain": gain}
        problems: list[str] = []
        if gain < self.min_gain:
            problems.append("its inputs do not make it more likely")
        if fusion:
            for k in range(len(inputs)):
                loss = full - means[2 + k]
                details[f"input_gain_{k + 1}"] = loss
                if loss < self.min_input_gain:
                    problems.append(f'it does not use input {k + 1} ("{_short(inputs[k])}")')
        if not problems:
            return self._verdict(
                trace, True, gain, f"follows from its inputs ({gain:.2f})", details
            )
        return self._verdict(trace, False, gain, "; ".join(problems), details)


def _mean(values: Sequence[float]) -> float:
    finite = [float(v) for v in values if np.isfinite(v)]
    return sum(finite) / len(finite) if finite else 0.0
