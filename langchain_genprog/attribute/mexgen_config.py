"""The options of :class:`~langchain_genprog.attribute.mexgen_node.MExGenAttributor`.

:class:`MExGenAttributorConfig` is the engine's
:class:`~langchain_genprog.attribute.mexgen.config.MExGenConfig` plus what the
attributor adds around it — which source sentences are candidates, how the
prompt is laid out, how many are cited and when a sentence counts as
supported — so the attributor hands the same object to the engine, and the
command line and the evaluation build that one object. Three engine defaults
differ, tuned for citing answers (see the fields).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator
from typing_extensions import Self

from langchain_genprog.attribute.mexgen.clime import Sampling
from langchain_genprog.attribute.mexgen.coarse_to_fine import FineContext
from langchain_genprog.attribute.mexgen.config import MethodName, MExGenConfig
from langchain_genprog.attribute.mexgen.method import AttributionMethod
from langchain_genprog.attribute.mexgen.supersaturated import design_columns
from langchain_genprog.attribute.mexgen.template import ContextTemplate
from langchain_genprog.attribute.mexgen.units import Level
from langchain_genprog.attribute.priors import PriorName
from langchain_genprog.errors import InvalidInputError

DEFAULT_INSTRUCTION = (
    "Answer using only the numbered source sentences below. "
    "Each source sentence is labelled S followed by its number."
)
"""Instruction placed before the sources in the scoring prompt."""

DEFAULT_SUPPORT_THRESHOLD = 0.05
"""Support threshold calibrated for the embedded scorer (see ``support_threshold``)."""

_SENTENCE_LEVELS: tuple[Level, ...] = ("sentence", "phrase", "word")

AUTO_PER_OUTPUT = 8
"""``fine_per_output="auto"``: candidates per answer sentence on answers longer than
:data:`AUTO_ROUND_ROBIN_UP_TO` sentences (capped at the design's columns)."""

AUTO_ROUND_ROBIN_UP_TO = 4
"""``fine_per_output="auto"``: answers of at most this many sentences get the
round-robin design (``None``): there its 15 candidates give each sentence 3 or
more of its own, and every candidate is measured for every sentence, unaliased."""

FUSION_MEASURED_WEIGHT = 2.0
"""``measured_weight``'s default: the measurement counts as much as the lexical and embedding
priors together (each prior weighs 1, program leaves included).

The rank fusion trades the priors' agreement with the sources a writer copied
(F1 against gold links) for the measurement's agreement with what the model
relies on (fidelity@2). Read off the stored full-size runs at weights 1–100
(``benchmarks/fusion_weight.py``), 2 raised fidelity@2 by +0.010 on MultiNews
and +0.015 on LFQA for F1@2 −0.004 and −0.005; from 5 on, F1@2 fell
significantly on MultiNews (−0.019) with no further fidelity gain there."""


class MExGenAttributorConfig(MExGenConfig):
    """How :class:`~langchain_genprog.attribute.mexgen_node.MExGenAttributor` measures and cites.

    Every engine option of :class:`MExGenConfig`, with three defaults tuned for
    citations (``levels=("sentence",)``, ``refine_method="loo"``,
    ``sampling="orthogonal"``), and the attributor's own options. Checked
    when built, like the engine's.

    Raises:
        InvalidInputError: On construction, if an option is invalid.
        TypeError: On construction, if an option is unknown.
    """

    levels: tuple[Level, ...] = Field(
        default=("sentence",),
        description=(
            "Levels to attribute at, coarsest first. Sentences by default: citations are "
            "source sentences, and a phrase pass (`('sentence', 'phrase')`: LOO over the "
            "phrases of each answer sentence's two best sources) adds about six calls per "
            "answer sentence to shade the text inside the cited sentences."
        ),
    )
    refine_method: MethodName | AttributionMethod | None = Field(
        default="loo",
        description=(
            "Method of the phrase/word levels (None: `method`). LOO by default: which "
            "sentences are cited is decided at the sentence level; phrases only shade the "
            "text inside cited sentences, and LOO does that with one call per phrase where "
            "C-LIME would take c (10) per phrase."
        ),
    )
    sampling: Sampling = Field(
        default="orthogonal",
        description=(
            "C-LIME's removal sets. 'orthogonal' removes half the units at a time in a "
            "fold-over Hadamard design; it cited better than MExGen's 'constrained' small "
            "removals (at most K units) with 40 % of the calls on the attribution "
            "benchmark, and credits sources that are redundant with each other."
        ),
    )
    top_k: int = Field(
        default=3,
        description=(
            "Measured citations per answer sentence, best sentence-level score first; only "
            "scores above `support_threshold` are cited, so numerical noise (a fit's 1e-16) "
            "never becomes a citation."
        ),
    )
    reduce: Literal["mean", "sum"] = Field(
        default="mean", description="'mean' or 'sum' of token log-probs per answer sentence."
    )
    support_threshold: float = Field(
        default=DEFAULT_SUPPORT_THRESHOLD,
        description=(
            "Scores at or below it do not count as support. The default, 0.05 nats/token of "
            "the sentence's mean log-prob, was calibrated for the embedded SmolLM2 scorer on "
            "MDS dev (benchmarks/support_calibration.py): with the default C-LIME design it "
            "keeps all reference sentences with gold links and passes 14 % of sentences "
            "from another story (ROC AUC 0.99; LOO: 97 % and 13 %). Recalibrate for another "
            "scorer or reduce='sum'; 0 counts any positive drop."
        ),
    )
    max_candidates: int | None = Field(
        default=40,
        description=(
            "Above this many citable sentences, attribute only to the neighbourhood "
            "(None: always all sentences)."
        ),
    )
    neighbours: int = Field(
        default=1,
        description="Sentences on each side of a program leaf in the neighbourhood.",
    )
    lexical_top_m: int = Field(
        default=8,
        description="Per answer sentence, the best BM25 matches added to the neighbourhood.",
    )
    keep_non_candidates: bool = Field(
        default=False,
        description=(
            "Keep non-candidate sentences in the prompt (fixed) instead of leaving them "
            "out (shorter prompts, faster)."
        ),
    )
    instruction: str = Field(
        default=DEFAULT_INSTRUCTION, description="Instruction of the default template."
    )
    template: ContextTemplate | None = Field(
        default=None,
        description="Prompt layout (its question is replaced per call; None: the default).",
    )
    with_documents: bool = Field(
        default=True,
        description="Write a '# title' header (fixed) before each document.",
    )
    scheme: Literal["auto", "flat", "coarse-to-fine"] = Field(
        default="auto",
        description=(
            "'auto' (default): 'coarse-to-fine' for the default C-LIME method and "
            "whole-answer targets over more than `max_fine_units` citable sentences, or fewer "
            "where the flat design would take more than `fine_rows` calls (10–15 sentences); "
            "else 'flat' (a chosen estimator such as 'loo', few sentences, or per-sentence "
            "targets). "
            "'flat': one design over the candidate sentences (about 2.5·N calls over the "
            "whole prompt; `max_candidates` prunes long inputs). 'coarse-to-fine' "
            "(attribute.mexgen.coarse_to_fine): every sentence is ranked (see `screen`), "
            "each answer sentence's `fine_per_output` best get a fixed design of `fine_rows` "
            "rows on a prompt holding only the candidates: calls = fine_rows (+ sqrt(N) + 1 "
            "with screen='blocks', + one per phrase if levels ask for phrases), whatever N "
            "and the answer length; no prompt longer than a block or the candidates."
        ),
    )
    targets: Literal["answer", "sentence"] = Field(
        default="answer",
        description=(
            "Flat scheme: 'answer' scores the whole answer in every call (each sentence one "
            "output; one design over every sentence's candidates); 'sentence' gives each "
            "answer sentence its own design over its own candidates, its prompt holding only "
            "them and the answer up to it (attribute.per_sentence): more, much shorter calls "
            "when each sentence has few candidates (the grounding gate's measurement)."
        ),
    )
    screen: Literal["auto", "priors", "blocks"] = Field(
        default="auto",
        description=(
            "Coarse-to-fine: what ranks every sentence before the fine pass. 'priors': the "
            "cheap `priors` alone, no model call (their candidate recall equalled the block "
            "pass's on the full-size run: 0.617 vs 0.621 of MultiNews gold links, 0.789 vs "
            "0.772 on LFQA). 'blocks': each block of ceil(sqrt(N)) sentences is also scored "
            "alone (sqrt(N) + 1 calls reading the whole input once), for answers the "
            "priors cannot match (neither copied nor paraphrased). 'auto': 'priors' when "
            "there are any for the answer, else 'blocks'."
        ),
    )
    block_size: int | None = Field(
        default=None,
        description="Coarse-to-fine: sentences per block (None: ceil(sqrt(N)), at least 4).",
    )
    max_block_chars: int | None = Field(
        default=6000,
        description=(
            "Coarse-to-fine: characters per block at most, so a block of long sentences "
            "still fits the scorer's window (None: no cap)."
        ),
    )
    max_fine_units: int = Field(
        default=15,
        description=(
            "Coarse-to-fine with `fine_per_output=None`: sentences measured by the fine design "
            "(15 fit one Hadamard block of 16 rows)."
        ),
    )
    fine_rows: int = Field(
        default=16,
        description=(
            "Coarse-to-fine: rows of the fine design, rounded down to a power of two R "
            "(R - 1 columns). With `fine_per_output=None` (a column per candidate), 32 = a "
            "fold-over pair whose estimates are also free of pairwise interactions: on the "
            "estimator study's measured games 16 rows kept F1@2 and lost about 0.01 of "
            "fidelity@2 at half the cost. With the supersaturated default, 32 rows (31 "
            "columns, less sharing) measured F1@2 -0.003 and fidelity@2 -0.016 against 16 "
            "on 17 MultiNews topics, at 2.1x the wall time: more rows do not buy fidelity."
        ),
    )
    fine_per_output: int | Literal["auto"] | None = Field(
        default="auto",
        description=(
            "Coarse-to-fine: candidates per answer sentence. K: each answer sentence's K best "
            "by the priors, measured by a supersaturated design "
            "(attribute.mexgen.supersaturated) of `fine_rows` rows in which candidates of "
            "different answer sentences share columns — up to K·A candidates for the same "
            "calls, each answer sentence measured on fine_rows - 1 of them, its own K first; "
            "columns its picks leave free are filled round-robin. None: `max_fine_units` in "
            "all, round-robin over the answer sentences, a column each (on 8-sentence answers "
            "about two per sentence). 'auto' (default): None for answers of up to 4 sentences, "
            "8 above. Full-size run (benchmarks/results/attribution_scaling.md), 8 vs None: "
            "MultiNews (5-22 sentences) F1@2 +0.039 and fidelity@2 +0.036 (both significant); "
            "LFQA (43 of 44 answers of 1-4 sentences) F1@2 -0.036; MultiNews answers cut to "
            "3 or 4 sentences: a tie (-0.005, +0.008; benchmarks/answer_length_check.py). "
            "K=5 sits between (MultiNews -0.009, LFQA +0.021 against 8)."
        ),
    )
    fine_context: FineContext = Field(
        default="candidates",
        description=(
            "Coarse-to-fine: what the fine pass's prompts hold besides the candidates it "
            "perturbs. 'candidates': nothing (short prompts; every prompt fits the window). "
            "'full': the rest of the input, never perturbed, so each candidate is measured "
            "where the model reads it (fine_rows full-length prompts, about half "
            "context-cite-32's tokens; every row must fit the scorer's window). Measured on "
            "the full-size run (benchmarks/results/fine_context.md): with fusion='none' or "
            "'score' it brings LFQA fidelity@2 within noise of context-cite-64's; on "
            "MultiNews it adds nothing, so it is not the default."
        ),
    )
    keep_blocks: int = Field(
        default=3,
        description="Coarse-to-fine: per answer sentence, blocks kept at a deeper coarse level.",
    )
    priors: tuple[PriorName, ...] = Field(
        default=("lexical", "embedding", "leaves"),
        description=(
            "Coarse-to-fine: cheap signals that pick candidates and enter the fused "
            "ranking (attribute.priors); 'embedding' uses `embeddings` or the embedded "
            "MiniLM. Empty: the coarse pass recurses into blocks instead."
        ),
    )
    fusion: Literal["rank", "score", "none"] = Field(
        default="rank",
        description=(
            "Coarse-to-fine ranking, per answer sentence, a weighted mean (weights "
            "`measured_weight` and 1 per prior; no fitted parameter): 'rank' = percentile "
            "ranks of the measured score and each prior (the priors may overrule a measured "
            "margin of any size); 'score' = the measured score min-max scaled over the "
            "measured sentences (its margins count) with each prior's rank; 'none' = "
            "measured scores alone. Citations still need a measured score above "
            "`support_threshold`."
        ),
    )
    measured_weight: float = Field(
        default=FUSION_MEASURED_WEIGHT,
        description=(
            "Coarse-to-fine: weight of the measured score in the fusion (each prior "
            "weighs 1). Higher cites more by what the model relies on (fidelity), "
            "lower more by what the answer copied (word overlap, embeddings)."
        ),
    )

    def scheme_for(self, n_sentences: int) -> Literal["flat", "coarse-to-fine"]:
        """The scheme a run over ``n_sentences`` citable sentences uses (``auto`` resolved).

        Coarse-to-fine's fine pass is always C-LIME on an orthogonal design, so
        ``auto`` keeps the flat scheme where the caller chose another estimator
        (its choice is honoured) or asked for per-sentence targets. Otherwise it
        is coarse-to-fine above ``max_fine_units`` sentences, and below them
        whenever the flat design would take more calls than the fine pass's
        ``fine_rows``: for 10–15 sentences the flat fold-over design is 32 rows,
        as many calls as context-cite's 32 ablations, where the fine pass over
        the same sentences is 16.
        """
        if self.scheme != "auto":
            return self.scheme
        if self.method != "clime" or self.targets != "answer":
            return "flat"
        if n_sentences > self.max_fine_units or self.flat_calls(n_sentences) > self.fine_rows:
            return "coarse-to-fine"
        return "flat"

    def per_output_for(self, n_answer: int) -> int | None:
        """``fine_per_output`` for an answer of ``n_answer`` sentences (``"auto"`` resolved).

        Sharing columns buys each sentence more candidates of its own, which
        matters when the round-robin's 15 are one or two per sentence; on short
        answers the round-robin measures every candidate for every sentence,
        unaliased, and ranked as well (MultiNews answers cut to 3-4 sentences)
        or better (LFQA) than sharing.
        """
        if self.fine_per_output != "auto":
            return self.fine_per_output
        if n_answer <= AUTO_ROUND_ROBIN_UP_TO:
            return None
        return min(AUTO_PER_OUTPUT, design_columns(self.fine_rows))

    def flat_calls(self, n_sentences: int) -> int:
        """Calls of the flat scheme's first-level design over ``n_sentences`` units."""
        method, _ = self.attribution_methods()
        plan = method.plan(n_sentences, np.random.default_rng(self.seed))
        return len(set(plan.subsets))  # a subset planned twice is measured once

    @property
    def context_template(self) -> ContextTemplate:
        """The prompt layout: ``template``, else the default one with ``instruction``."""
        return self.template or ContextTemplate(instruction=self.instruction)

    @model_validator(mode="before")
    @classmethod
    def _check_sentence_levels(cls, data: Any) -> Any:
        """Levels start at sentences: the units cited are source sentences."""
        levels = data.get("levels") if isinstance(data, dict) else None
        if not isinstance(levels, list | tuple):
            return data
        unusable = any(lv not in _SENTENCE_LEVELS for lv in levels)
        if not levels or levels[0] != "sentence" or unusable:
            shown = tuple(levels)
            msg = f"levels must start with 'sentence' and use sentence/phrase/word, got {shown}"
            raise InvalidInputError(msg)
        return data

    @model_validator(mode="after")
    def _check_citing(self) -> Self:
        if self.top_k < 1:
            raise InvalidInputError("top_k must be at least 1")
        if self.max_candidates is not None and self.max_candidates < 1:
            raise InvalidInputError("max_candidates must be at least 1 (or None)")
        if self.neighbours < 0 or self.lexical_top_m < 0:
            raise InvalidInputError("neighbours and lexical_top_m must be non-negative")
        if self.block_size is not None and self.block_size < 1:
            raise InvalidInputError("block_size must be at least 1 (or None)")
        if self.max_block_chars is not None and self.max_block_chars < 1:
            raise InvalidInputError("max_block_chars must be at least 1 (or None)")
        if self.max_fine_units < 1 or self.keep_blocks < 1 or self.fine_rows < 2:
            raise InvalidInputError("max_fine_units and keep_blocks must be >= 1, fine_rows >= 2")
        columns = design_columns(self.fine_rows)
        per_output = self.fine_per_output
        if isinstance(per_output, int) and not 1 <= per_output <= columns:
            msg = f"fine_per_output must be between 1 and {columns} (fine_rows={self.fine_rows})"
            raise InvalidInputError(msg)
        if self.measured_weight < 0:
            raise InvalidInputError("measured_weight must be non-negative")
        if self.screen == "priors" and not self.priors:
            raise InvalidInputError("screen='priors' needs priors; use screen='blocks' without")
        if self.targets == "sentence" and self.scheme == "coarse-to-fine":
            msg = "targets='sentence' is a flat-scheme option; coarse-to-fine scores the answer"
            raise InvalidInputError(msg)
        return self
