"""Evaluation metrics for attributed answers.

Four families, each a plain function so it can be tested on hand-made cases
and reused outside the runner:

* **Gold links** (:func:`align_gold`, :func:`gold_citation_scores`): when the
  attributed text *is* a dataset's reference, its human alignments say which
  source sentences each reference sentence was written from, so citations can
  be scored as retrieval (precision/recall/F1 at top-k) with no judge at all.
* **Drop-and-hold** (:func:`drop_and_hold`): a self-supervised check with a
  :class:`~langchain_genprog.models.scoring.LogProbScorer`. If a sentence's
  citations are right, removing them from the context should lower the
  answer's log-probability (drop) and keeping only them should keep most of
  it (hold); removing as many *random* sources is the control (fidelity).
* **ALCE citation recall/precision** (:func:`alce_citation_scores`): an
  entailment judge decides whether the cited sentences jointly support each
  answer sentence and which citations are superfluous (Gao et al., 2023).
* **Coverage, length and cost** (:func:`coverage`, :func:`answer_length`,
  :class:`Cost`, :class:`CostTracker`): what each method spends for what it
  delivers.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field

from langchain_genprog.attribute.base import AnswerSentence, AttributionResult
from langchain_genprog.errors import InvalidInputError
from langchain_genprog.evaluation.datasets import Example
from langchain_genprog.models.scoring import LogProbScorer, TargetLogProbs
from langchain_genprog.segment.selection import lexical_overlap
from langchain_genprog.segment.sources import Sources

# --------------------------------------------------------------------------- #
# Gold links
# --------------------------------------------------------------------------- #

_TOKEN = re.compile(r"\w+")


def normalize_tokens(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation, quotes and whitespace are dropped.

    Gold alignments store answer sentences as they were annotated, which can
    differ from a fresh split of the reference in whitespace, line breaks and
    the odd dropped quotation mark; comparing word tokens ignores all of that.
    """
    return _TOKEN.findall(text.lower())


class GoldAlignment(BaseModel):
    """Gold source ids per answer sentence.

    Attributes:
        per_sentence: ``per_sentence[i]`` = sorted global ids of the source
            sentences the ``i``-th answer sentence was written from (empty when
            no gold link reaches it, e.g. a closing "Click for more" line).
        unmatched: Gold answer sentences that matched no answer sentence (a
            sign that the answer is not the reference, or was split oddly).
    """

    per_sentence: list[list[int]] = Field(default_factory=list)
    unmatched: list[str] = Field(default_factory=list)

    @property
    def evaluable(self) -> int:
        """How many answer sentences have at least one gold link."""
        return sum(1 for ids in self.per_sentence if ids)


def align_gold(
    example: Example,
    sources: Sources,
    answer_sentences: Sequence[str | AnswerSentence],
    *,
    min_overlap: float = 0.8,
    min_contained_tokens: int = 3,
) -> GoldAlignment:
    """Map an example's gold links onto answer sentences, as global source ids.

    A gold sentence ``g`` matches answer sentence ``a`` when their word tokens
    (see :func:`normalize_tokens`) are equal, when one is a contiguous run of
    the other (a splitter may cut a gold sentence in two, or keep two
    together), or, failing both, when their token F1 is at least
    ``min_overlap``. A gold sentence may match several answer sentences and
    vice versa; each answer sentence gets the union of its gold ids.

    Args:
        example: The example whose ``gold`` links are used.
        sources: The example's numbered sources (``example.to_documents()``),
            which translate ``(doc_index, sent_index)`` into global ids.
        answer_sentences: The split reference, as strings or answer sentences.
        min_overlap: Token-F1 threshold of the fuzzy fallback.
        min_contained_tokens: A sentence shorter than this (and not equal to
            the other) never matches by containment, so that "Yes." does not
            match every gold sentence containing "yes".

    Raises:
        InvalidInputError: If a gold link points outside ``sources`` (the
            sources were split differently from the dataset).
    """
    by_text: dict[str, set[int]] = {}
    for link in example.gold:
        try:
            gid = sources.global_id(link.doc_index, link.sent_index)
        except IndexError as err:
            msg = (
                f"example {example.id}: gold link ({link.doc_index}, {link.sent_index}) is "
                "outside the sources; number them with "
                "Sources.from_documents(example.to_documents())"
            )
            raise InvalidInputError(msg) from err
        by_text.setdefault(link.answer_sentence, set()).add(gid)

    answers = [normalize_tokens(s if isinstance(s, str) else s.text) for s in answer_sentences]
    per_sentence: list[set[int]] = [set() for _ in answers]
    unmatched: list[str] = []
    for text, ids in by_text.items():
        gold_tokens = normalize_tokens(text)
        hits = [
            i
            for i, tokens in enumerate(answers)
            if _contains_match(gold_tokens, tokens, min_contained_tokens)
        ]
        if not hits:
            scored = [(_token_f1(gold_tokens, tokens), i) for i, tokens in enumerate(answers)]
            best = max(scored, default=(0.0, -1))
            if best[0] >= min_overlap:
                hits = [best[1]]
        if not hits:
            unmatched.append(text)
        for i in hits:
            per_sentence[i] |= ids
    return GoldAlignment(per_sentence=[sorted(ids) for ids in per_sentence], unmatched=unmatched)


def _contains_match(a: list[str], b: list[str], min_tokens: int) -> bool:
    if not a or not b:
        return False
    if a == b:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < min_tokens:
        return False
    return f" {' '.join(short)} " in f" {' '.join(long)} "


def _token_f1(a: list[str], b: list[str]) -> float:
    if not a or not b:
        return 0.0
    common = sum((Counter(a) & Counter(b)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(b), common / len(a)
    return 2 * precision * recall / (precision + recall)


class PRF(BaseModel):
    """Precision, recall and their harmonic mean (F1)."""

    precision: float
    recall: float
    f1: float


class GoldCitationScores(BaseModel):
    """Citation quality against gold links.

    Attributes:
        k: Only each sentence's ``k`` highest-ranked citations were kept
            (``None``: all of them).
        micro: Pooled over citations: ``sum(hits) / sum(predicted)`` and
            ``sum(hits) / sum(gold)``; F1 of the two.
        macro: Mean over sentences of per-sentence precision, recall and F1.
        sentences: Answer sentences evaluated (those with at least one gold link).
    """

    k: int | None = None
    micro: PRF | None = None
    macro: PRF | None = None
    sentences: int = 0


def gold_citation_scores(
    predicted: Sequence[Sequence[int]],
    gold: Sequence[Collection[int]],
    *,
    k: int | None = None,
) -> GoldCitationScores:
    """Score ranked citations against gold source ids, sentence by sentence.

    Sentences without gold links are skipped: nothing says what they should
    cite. A sentence that cites nothing has precision 0 (for the macro mean)
    and adds nothing to the micro denominator of precision; both choices
    penalize silence only through recall, as a retrieval metric should.

    Args:
        predicted: Per answer sentence, cited source ids, best first
            (duplicates are ignored; see :func:`ranked_citations`).
        gold: Per answer sentence, the gold source ids (see :func:`align_gold`).
        k: Keep each sentence's top ``k`` predictions (``None``: all).

    Raises:
        InvalidInputError: If the two lists differ in length or ``k < 1``.
    """
    if len(predicted) != len(gold):
        msg = f"predicted has {len(predicted)} sentences but gold has {len(gold)}"
        raise InvalidInputError(msg)
    if k is not None and k < 1:
        raise InvalidInputError(f"k must be at least 1 (or None for all), got {k}")
    hits_total = pred_total = gold_total = 0
    precisions: list[float] = []
    recalls: list[float] = []
    f1s: list[float] = []
    for ranked, expected in zip(predicted, gold, strict=True):
        gold_ids = set(expected)
        if not gold_ids:
            continue
        top = list(dict.fromkeys(ranked))
        if k is not None:
            top = top[:k]
        hits = len(set(top) & gold_ids)
        hits_total += hits
        pred_total += len(top)
        gold_total += len(gold_ids)
        p = hits / len(top) if top else 0.0
        r = hits / len(gold_ids)
        precisions.append(p)
        recalls.append(r)
        f1s.append(_f1(p, r))
    if not recalls:
        return GoldCitationScores(k=k)
    micro_p = hits_total / pred_total if pred_total else 0.0
    micro_r = hits_total / gold_total
    return GoldCitationScores(
        k=k,
        micro=PRF(precision=micro_p, recall=micro_r, f1=_f1(micro_p, micro_r)),
        macro=PRF(
            precision=_mean(precisions),
            recall=_mean(recalls),
            f1=_mean(f1s),
        ),
        sentences=len(recalls),
    )


def ranked_citations(
    attribution: AttributionResult, sources: Sources | None = None
) -> list[list[int]]:
    """Per answer sentence, its cited source ids in the attributor's order, deduplicated.

    Args:
        attribution: The attribution (citations are stored most important first).
        sources: If given, ids that do not exist in it are dropped.
    """
    out: list[list[int]] = []
    for item in attribution.sentences:
        ids = [c.sentence_id for c in item.citations]
        if sources is not None:
            ids = [sid for sid in ids if sources.has(sid)]
        out.append(list(dict.fromkeys(ids)))
    return out


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else math.nan


# --------------------------------------------------------------------------- #
# Drop-and-hold with a log-prob scorer
# --------------------------------------------------------------------------- #

PromptBuilder = Callable[[Sources, Sequence[int], str | None], str]
"""Builds the scorer prompt from the sources, the context ids and the question."""


def context_prompt(sources: Sources, ids: Sequence[int], question: str | None) -> str:
    """The default scorer prompt: the kept source sentences, then the task.

    It mirrors how the answers were generated (numbered sentences under
    document headers, then the question or a summarization request), so that
    the answer's log-probability reflects the context rather than a prompt
    mismatch.
    """
    context = sources.render(ids) if ids else "(no sources)"
    task = (
        f"Question: {question.strip()}"
        if question and question.strip()
        else "Task: summarize the sources in a few sentences."
    )
    return f"Sources:\n{context}\n\n{task}\nAnswer:"


class SentenceDropHold(BaseModel):
    """Drop-and-hold measurements of one answer sentence (log-probs in nats).

    Attributes:
        index: The answer sentence's index.
        cited: Its valid cited source ids.
        full: Log-prob of the sentence given every source.
        empty: Log-prob given no source at all.
        drop: ``full - log-prob without the cited sources``; positive means
            the citations were needed. ``None`` without citations.
        hold: ``log-prob with only the cited sources - full``; near zero or
            positive means the citations suffice.
        hold_share: Share of the context's gain the citations keep:
            ``(held - empty) / (full - empty)``; ``None`` when the context does
            not raise the sentence's log-prob at all (nothing to keep).
        random_drop: ``full - log-prob without as many random other sources``
            (mean over repeats): the control for ``drop``.
    """

    index: int
    cited: list[int] = Field(default_factory=list)
    full: float | None = None
    empty: float | None = None
    drop: float | None = None
    hold: float | None = None
    hold_share: float | None = None
    random_drop: float | None = None


class DropHoldScores(BaseModel):
    """Drop-and-hold over an answer.

    Attributes:
        sentences: Per answer sentence measurements.
        mean_drop: Mean ``drop`` over cited sentences.
        mean_hold: Mean ``hold``.
        mean_hold_share: Mean ``hold_share`` (where defined).
        mean_random_drop: Mean ``random_drop``.
        fidelity: ``mean_drop - mean_random_drop`` over sentences having both:
            how much more the cited sources matter than random ones.
        win_rate: Share of those sentences whose ``drop`` beats ``random_drop``.
        scorer_calls: ``score`` calls made (one per condition).
        forward_passes: Prompts scored in total.
    """

    sentences: list[SentenceDropHold] = Field(default_factory=list)
    mean_drop: float | None = None
    mean_hold: float | None = None
    mean_hold_share: float | None = None
    mean_random_drop: float | None = None
    fidelity: float | None = None
    win_rate: float | None = None
    scorer_calls: int = 0
    forward_passes: int = 0


def drop_and_hold(
    answer: str,
    attribution: AttributionResult,
    sources: Sources,
    scorer: LogProbScorer,
    *,
    question: str | None = None,
    context_ids: Sequence[int] | None = None,
    reduce: Literal["sum", "mean"] = "sum",
    random_repeats: int = 1,
    seed: int = 0,
    prompt: PromptBuilder = context_prompt,
) -> DropHoldScores:
    """Measure whether each sentence's citations carry its log-probability.

    The target is always the whole answer and each sentence is read off its
    own character span, so each condition is one ``scorer.score`` call: the
    full and empty contexts are one prompt each, and the per-sentence
    conditions (drop, hold, random drop) one prompt per cited sentence (times
    ``random_repeats`` for the control).

    Args:
        answer: The answer text the sentence offsets index into.
        attribution: Per-sentence citations (invalid ids are ignored).
        sources: The numbered sources.
        scorer: Teacher-forcing log-prob scorer.
        question: The question, or ``None`` for summaries.
        context_ids: The full context (default: every citable sentence);
            citations outside it are ignored. A relevance-selected subset
            keeps long sources affordable, since every prompt holds it.
        reduce: Sum (nats per sentence) or mean (nats per token) of token log-probs.
        random_repeats: Random draws averaged for the control.
        seed: Seed of the random control, for reproducible runs.
        prompt: Builds a prompt from the kept ids.

    Raises:
        InvalidInputError: If a sentence span lies outside ``answer``, if
            ``random_repeats < 1``, or if the scorer returns the wrong number
            of results.
    """
    if random_repeats < 1:
        raise InvalidInputError(f"random_repeats must be at least 1, got {random_repeats}")
    context = list(dict.fromkeys(sources.citable_ids if context_ids is None else context_ids))
    in_context = set(context)
    spans: list[tuple[int, int]] = []
    for item in attribution.sentences:
        s = item.sentence
        if not (0 <= s.start <= s.end <= len(answer)):
            msg = f"answer sentence {s.index} span ({s.start}, {s.end}) is outside the answer"
            raise InvalidInputError(msg)
        spans.append((s.start, s.end))
    cited = [
        [sid for sid in ids if sid in in_context] for ids in ranked_citations(attribution, sources)
    ]
    rng = random.Random(seed)
    calls = 0
    passes = 0

    def run(prompts: list[str]) -> list[TargetLogProbs]:
        nonlocal calls, passes
        if not prompts:
            return []
        results = scorer.score(prompts, answer)
        calls += 1
        passes += len(prompts)
        if len(results) != len(prompts):
            msg = f"the scorer returned {len(results)} results for {len(prompts)} prompts"
            raise InvalidInputError(msg)
        return results

    def values(result: TargetLogProbs) -> list[float | None]:
        return [_finite(v) for v in result.span_scores(spans, reduce=reduce)]

    full = values(run([prompt(sources, context, question)])[0])
    empty = values(run([prompt(sources, [], question)])[0])
    measured = [i for i, ids in enumerate(cited) if ids]
    dropped = run(
        [
            prompt(sources, [c for c in context if c not in set(cited[i])], question)
            for i in measured
        ]
    )
    held = run([prompt(sources, cited[i], question) for i in measured])
    random_prompts: list[str] = []
    random_owner: list[int] = []
    for i in measured:
        own = set(cited[i])
        pool = [c for c in context if c not in own]
        size = min(len(own), len(pool))
        if size == 0:
            continue
        for _ in range(random_repeats):
            removed = set(rng.sample(pool, size))
            random_prompts.append(
                prompt(sources, [c for c in context if c not in removed], question)
            )
            random_owner.append(i)
    randoms = run(random_prompts)

    rows = [
        SentenceDropHold(index=item.sentence.index, cited=cited[i], full=full[i], empty=empty[i])
        for i, item in enumerate(attribution.sentences)
    ]
    for slot, i in enumerate(measured):
        row = rows[i]
        d = values(dropped[slot])[i]
        h = values(held[slot])[i]
        if row.full is not None and d is not None:
            row.drop = row.full - d
        if row.full is not None and h is not None:
            row.hold = h - row.full
            if row.empty is not None and row.full - row.empty > 1e-9:
                row.hold_share = (h - row.empty) / (row.full - row.empty)
    random_values: dict[int, list[float]] = {}
    for result, i in zip(randoms, random_owner, strict=True):
        r = values(result)[i]
        base = rows[i].full
        if r is not None and base is not None:
            random_values.setdefault(i, []).append(base - r)
    for i, draws in random_values.items():
        rows[i].random_drop = sum(draws) / len(draws)

    paired = [
        (r.drop, r.random_drop) for r in rows if r.drop is not None and r.random_drop is not None
    ]
    return DropHoldScores(
        sentences=rows,
        mean_drop=_mean_or_none(r.drop for r in rows),
        mean_hold=_mean_or_none(r.hold for r in rows),
        mean_hold_share=_mean_or_none(r.hold_share for r in rows),
        mean_random_drop=_mean_or_none(r.random_drop for r in rows),
        fidelity=_mean_or_none(d - rd for d, rd in paired),
        win_rate=_mean_or_none(1.0 if d > rd else 0.0 for d, rd in paired),
        scorer_calls=calls,
        forward_passes=passes,
    )


def _finite(value: float) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _mean_or_none(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


# --------------------------------------------------------------------------- #
# ALCE-style citation recall / precision with a pluggable judge
# --------------------------------------------------------------------------- #


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


class SentenceCitationJudgement(BaseModel):
    """The judge's verdict on one answer sentence.

    Attributes:
        index: The answer sentence's index.
        cited: Its cited ids as given (including invalid ones).
        supported: Whether the cited sources jointly entail it.
        irrelevant: Citations that are not needed (do not entail alone, and
            the others still entail without them).
        precise: How many of its citations count as precise.
    """

    index: int
    cited: list[int] = Field(default_factory=list)
    supported: bool = False
    irrelevant: list[int] = Field(default_factory=list)
    precise: int = 0


class ALCEScores(BaseModel):
    """ALCE citation recall and precision of one answer.

    Attributes:
        recall: Share of answer sentences supported by their citations.
        precision: Share of citations that are precise.
        f1: Harmonic mean of the two.
        citations: Citations judged.
        judge_calls: ``entails`` calls made.
        sentences: Per-sentence verdicts.
    """

    recall: float | None = None
    precision: float | None = None
    f1: float | None = None
    citations: int = 0
    judge_calls: int = 0
    sentences: list[SentenceCitationJudgement] = Field(default_factory=list)


def alce_citation_scores(
    attribution: AttributionResult, sources: Sources, judge: EntailmentJudge
) -> ALCEScores:
    """Citation recall and precision as defined by ALCE (Gao et al., 2023).

    A sentence is *supported* when it has at least one citation and the
    concatenation of its cited sentences entails it. For a supported
    sentence with several citations, a citation is *irrelevant* when it does
    not entail the sentence on its own and the remaining citations still do;
    every other citation of a supported sentence is precise. Citations of
    unsupported sentences are all imprecise. A citation of a sentence id
    that does not exist makes its sentence unsupported, as in ALCE.

    Args:
        attribution: Per-sentence citations.
        sources: The numbered sources (the premise is built from their text).
        judge: Any :class:`EntailmentJudge`.

    Returns:
        Recall (over sentences) and precision (over citations); ``None`` when
        there is nothing to average.
    """
    calls = 0

    def entails(ids: Sequence[int], hypothesis: str) -> bool:
        nonlocal calls
        calls += 1
        return judge.entails(_premise(sources, ids), hypothesis)

    rows: list[SentenceCitationJudgement] = []
    total = precise_total = supported_total = 0
    for item in attribution.sentences:
        ids = list(dict.fromkeys(c.sentence_id for c in item.citations))
        hypothesis = " ".join(item.sentence.text.split())
        row = SentenceCitationJudgement(index=item.sentence.index, cited=ids)
        total += len(ids)
        valid = bool(ids) and all(sources.has(sid) for sid in ids)
        row.supported = valid and entails(ids, hypothesis)
        if row.supported:
            supported_total += 1
            if len(ids) == 1:
                row.precise = 1
            else:
                for sid in ids:
                    if entails([sid], hypothesis):
                        row.precise += 1
                        continue
                    rest = [other for other in ids if other != sid]
                    if entails(rest, hypothesis):
                        row.irrelevant.append(sid)
                    else:
                        row.precise += 1
        precise_total += row.precise
        rows.append(row)
    recall = supported_total / len(rows) if rows else None
    precision = precise_total / total if total else None
    f1 = _f1(recall, precision) if recall is not None and precision is not None else None
    return ALCEScores(
        recall=recall,
        precision=precision,
        f1=f1,
        citations=total,
        judge_calls=calls,
        sentences=rows,
    )


def _premise(sources: Sources, ids: Sequence[int]) -> str:
    ordered = sorted(set(ids))
    return "\n".join(" ".join(sources.sentence(sid).text.split()) for sid in ordered)


# --------------------------------------------------------------------------- #
# Coverage, length, cost
# --------------------------------------------------------------------------- #


def coverage(attribution: AttributionResult, sources: Sources) -> float | None:
    """Share of answer sentences with at least one valid citation.

    A citation is valid when its sentence exists and has text; ``None`` for
    an empty answer (nothing to cover).
    """
    if not attribution.sentences:
        return None
    citable = set(sources.citable_ids)
    covered = sum(
        1 for item in attribution.sentences if any(c.sentence_id in citable for c in item.citations)
    )
    return covered / len(attribution.sentences)


class AnswerLength(BaseModel):
    """Size of an answer: characters, words, sentences and citations per sentence."""

    chars: int = 0
    words: int = 0
    sentences: int = 0
    citations_per_sentence: float | None = None


def answer_length(answer: str, attribution: AttributionResult | None = None) -> AnswerLength:
    """Measure an answer (sentences and citations are counted from ``attribution``)."""
    length = AnswerLength(chars=len(answer.strip()), words=len(answer.split()))
    if attribution is not None and attribution.sentences:
        length.sentences = len(attribution.sentences)
        cites = sum(
            len(dict.fromkeys(c.sentence_id for c in s.citations)) for s in attribution.sentences
        )
        length.citations_per_sentence = cites / len(attribution.sentences)
    return length


class Cost(BaseModel):
    """What producing (or checking) an answer spent; ``a + b`` adds field by field.

    Attributes:
        llm_calls: Chat-model calls.
        input_tokens: Prompt tokens the models reported.
        output_tokens: Completion tokens the models reported.
        scorer_calls: ``LogProbScorer.score`` calls.
        forward_passes: Prompts scored (each a forward pass of the scorer).
        embedding_calls: ``Embeddings`` calls.
        seconds: Wall time.
    """

    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    scorer_calls: int = 0
    forward_passes: int = 0
    embedding_calls: int = 0
    seconds: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Cost) -> Cost:
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(
            llm_calls=self.llm_calls + other.llm_calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            scorer_calls=self.scorer_calls + other.scorer_calls,
            forward_passes=self.forward_passes + other.forward_passes,
            embedding_calls=self.embedding_calls + other.embedding_calls,
            seconds=self.seconds + other.seconds,
        )

    def __radd__(self, other: object) -> Cost:
        # Lets ``sum(costs)`` start from its default 0.
        if other == 0:
            return self
        if isinstance(other, Cost):
            return other + self
        return NotImplemented


class CostTracker(BaseCallbackHandler):
    """A callback handler that counts chat-model calls and their reported tokens.

    Pass it in ``config={"callbacks": [tracker]}`` to a graph or model call:
    LangChain hands the callbacks down to every nested model call, including
    those the executor makes concurrently, so one tracker sees a whole run.
    Token counts come from each reply's ``usage_metadata`` (or, for older
    integrations, ``llm_output["token_usage"]``); models that report nothing
    add calls but no tokens.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.llm_calls = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self._started = time.perf_counter()

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        """Count one call per prompt batch entry."""
        with self._lock:
            self.llm_calls += max(len(messages), 1)

    def on_llm_start(
        self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID, **kwargs: Any
    ) -> None:
        """Count completion-model calls (chat models go through ``on_chat_model_start``)."""
        with self._lock:
            self.llm_calls += max(len(prompts), 1)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Add the tokens the reply reports."""
        inputs = outputs = 0
        found = False
        for generations in response.generations:
            for generation in generations:
                usage = (
                    getattr(generation.message, "usage_metadata", None)
                    if isinstance(generation, ChatGeneration)
                    else None
                )
                if usage:
                    inputs += int(usage.get("input_tokens", 0) or 0)
                    outputs += int(usage.get("output_tokens", 0) or 0)
                    found = True
        if not found and response.llm_output:
            usage_dict = response.llm_output.get("token_usage") or {}
            inputs += int(usage_dict.get("prompt_tokens", 0) or 0)
            outputs += int(usage_dict.get("completion_tokens", 0) or 0)
        with self._lock:
            self.input_tokens += inputs
            self.output_tokens += outputs

    @property
    def cost(self) -> Cost:
        """The calls and tokens seen so far, with the seconds since creation."""
        with self._lock:
            return Cost(
                llm_calls=self.llm_calls,
                input_tokens=self.input_tokens,
                output_tokens=self.output_tokens,
                seconds=time.perf_counter() - self._started,
            )


class CountingScorer:
    """Wraps a :class:`LogProbScorer` and counts its calls and forward passes."""

    def __init__(self, scorer: LogProbScorer) -> None:
        """Wrap ``scorer``."""
        self.scorer = scorer
        self.calls = 0
        self.forward_passes = 0
        self._lock = threading.Lock()

    def score(self, prompts: Sequence[str], target: str) -> list[TargetLogProbs]:
        """Delegate to the wrapped scorer, counting one call and ``len(prompts)`` passes."""
        with self._lock:
            self.calls += 1
            self.forward_passes += len(prompts)
        return self.scorer.score(prompts, target)

    @property
    def cost(self) -> Cost:
        """The scorer usage so far as a :class:`Cost`."""
        return Cost(scorer_calls=self.calls, forward_passes=self.forward_passes)
