"""Coarse-to-fine attribution: rank every sentence cheaply, then a fixed design over a few.

The flat engine fits an orthogonal design over every sentence: about
``2.5·N`` model calls, each over the whole input. That cost follows the
input, and the input may not even fit the scorer's window. This scheme makes
the number of calls fixed (priors alone, ``screen_levels=0``, what the
attributor runs by default) or grow like ``sqrt(N)`` (with blocks), and keeps
every prompt short:

1. **Coarse pass (blocks, one call each).** The sentences are cut into
   blocks (:mod:`~.blocks`: documents, split into runs of ``ceil(sqrt(N))``
   sentences). Each block is scored *alone* — the prompt holds that block
   and nothing else — against the prompt with no source at all: the gain
   ``v(block) - v(∅)`` says how much of each output sentence the block can
   carry by itself. A block that the output copies or paraphrases gains a
   lot; redundant blocks both gain (which is what candidate *recall* needs).
   ``B + 1`` calls, and every source token is read once.
2. **Candidates.** Per output, sentences are ranked by the rank average of
   their block's gain and of the cheap priors the caller passes (word
   overlap, embedding cosine, the program's leaves). Either taken
   round-robin over outputs up to ``max_fine_units`` (one design column
   each), or, with ``per_output=K``, each output's ``K`` best (topped up
   round-robin while fewer than the ``R - 1`` columns);
   ``must_include`` (program leaves) first.
3. **Fine pass (fixed design).** The flat engine runs on the candidates
   alone (the rest of the input is left out of the prompt, as AttriBoT
   prunes to its top paragraphs): C-LIME on an orthogonal design of
   ``fine_rows`` rows whatever the number of candidates — one column per
   candidate, or with ``per_output`` a
   :class:`~.supersaturated.SupersaturatedDesign` in which candidates of
   different outputs share columns, so ``K·A`` candidates fit ``R`` rows
   and each output is measured on ``R - 1`` of them, its own ``K`` first —
   then, only if the levels ask for it, LOO over the phrases of the best
   sentences.
   With ``fine_context="full"`` the same design runs on the whole input
   instead, the sentences outside the candidates kept (never perturbed) in
   every row: a candidate is then measured where the model reads it, next to
   sentences that may repeat it, at the price of ``R`` full-length prompts.

**Priors alone** (``screen_levels=0``). On the full-size run (issue 10) the
block gains did not add to the priors' candidate recall: of the gold links,
the 15 candidates by lexical + embedding priors held 0.617 on 27 MultiNews
topics and 0.789 on 31 LFQA questions; block gains fused with the same
priors, 0.621 and 0.772; block gains alone, 0.422 and 0.488
(``benchmarks/results/attribution_scaling.md``, replayed through
:meth:`CoarseToFine.candidates`). So when the
caller has priors it can skip step 1: the candidates are the priors' best,
the run is the fine pass alone (``R`` calls, whatever ``N``), and no prompt
reads the rest of the input. The block pass stays for callers without
priors, or whose priors do not fit their answers (an answer that neither
copies nor paraphrases its sources).

Without priors, one block level cannot tell the sentences of a kept block
apart, so the coarse pass recurses (``screen_levels=None``): the ``keep_blocks``
best groups per output are split into runs of about ``sqrt`` of their size
and solo-scored again, until the kept groups hold ``max_fine_units``
sentences.

**Cost model** (``N`` source sentences, ``A`` answer sentences — every answer
sentence is one output of every call, so ``A`` does not multiply the calls
of a pass, only the number of groups a deeper coarse level keeps):

* calls = ``R`` (+ phrases if asked) with priors alone (``screen_levels=0``);
* calls = ``(B + 1) + R`` (+ phrases if asked) with priors and blocks, with
  ``B ≈ sqrt(N)`` (``≤ sqrt(N) + documents``) and ``R = fine_rows`` (16 by
  default: one Hadamard block for up to 15 candidates, no fold-over; on the
  19 measured 12-source games of the estimator study it kept F1@2 of 32
  fold-over rows, 0.559 vs 0.568, and lost about 0.01 of fidelity@2, still
  above context-cite's Lasso on 64 draws); so ``O(sqrt N)``. Without priors
  each further coarse level adds at most ``keep_blocks·A·(g^½ + 1)`` calls for kept groups of ``g``
  sentences (``g = sqrt(N)``, then ``N^¼`` ...), so ``O(sqrt N + A·N^¼·log log N)``;
* tokens ≈ ``T_src + (B + 1)·(T_fixed + T_ans) + R·(d·t_sent + T_fixed +
  T_ans)`` with ``d ≤ max_fine_units`` candidates (``d ≤ K·A`` with
  ``per_output``): the source is read once, and only the fine pass repeats a
  (short) context; the scorer's prefix-KV reuse saves the fine rows' shared
  prefixes on top.
* the longest prompt is one block or the candidates, never the whole input
  (``fine_context="candidates"``, the default); with ``fine_context="full"``
  the fine pass reads ``R`` full-length prompts (measured after prefix-KV
  reuse: 0.51–0.54 of context-cite-32's forward tokens, median), and every
  row must fit the scorer's window.

With blocks, the budget's ``max_calls`` must cover the coarse pass (``B + 1`` calls):
a budget that cannot raises :class:`~langchain_genprog.errors.BudgetExhaustedError`
before any call, naming the calls needed, rather than silently dropping
blocks; a budget that ends in the fine pass returns ``complete=False``. The
budget's ``max_seconds`` bounds the fine pass (the coarse pass is one read of
the input and is not cut).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import isqrt
from typing import Literal

import numpy as np

from langchain_genprog.attribute.mexgen.blocks import Block, make_blocks
from langchain_genprog.attribute.mexgen.budget import Budget
from langchain_genprog.attribute.mexgen.clime import CLIME
from langchain_genprog.attribute.mexgen.config import MExGenConfig
from langchain_genprog.attribute.mexgen.explainer import MExGen
from langchain_genprog.attribute.mexgen.fusion import percentile_ranks, rank_fusion
from langchain_genprog.attribute.mexgen.game import ProgressCallback
from langchain_genprog.attribute.mexgen.results import Explanation
from langchain_genprog.attribute.mexgen.scalarizers import FloatArray, Scalarizer
from langchain_genprog.attribute.mexgen.supersaturated import (
    SupersaturatedDesign,
    design_columns,
)
from langchain_genprog.attribute.mexgen.template import ContextTemplate, PromptRenderer
from langchain_genprog.attribute.mexgen.units import Segment, Segmenter, Unit, build_units
from langchain_genprog.errors import BudgetExhaustedError, InvalidInputError

FineContext = Literal["candidates", "full"]
"""What the fine pass's prompts hold besides the perturbed candidates: nothing
(``"candidates"``, the candidates alone: short prompts, AttriBoT's pruning) or
the rest of the input, never perturbed (``"full"``: each candidate is measured
where the model reads it, next to sentences that may repeat it, at the price
of ``fine_rows`` full-length prompts)."""


@dataclass
class CoarseToFineResult:
    """What a coarse-to-fine run measured.

    Attributes:
        units: Sentence units of the whole input (one span each), reading order.
        blocks: The blocks of the first coarse level.
        block_gain: ``(n_blocks, n_outputs)``: ``v(block alone) - v(no source)``.
        screen: ``(n_units, n_outputs)``: the coarse passes' signal per unit:
            ``depth + r`` where ``depth`` is the finest level whose group held
            the unit and ``r`` in ``(0, 1]`` the group's gain rank at that level
            (a unit in a group refined further ranks above every unit left behind).
        levels: Groups solo-scored per coarse level.
        pool: Units of the groups kept at the last coarse level (measured
            first when they fit in ``max_fine_units``).
        candidates: Unit indices measured in the fine pass, reading order.
        owners: With ``per_output``, per candidate the outputs it was picked
            for (no two picks of one output share a design column); else empty.
        affinity: ``(n_candidates, n_outputs)``: the ranking that picked them.
        measured: ``(n_units, n_outputs)`` fine-pass scores; ``nan`` off the candidates.
        fine: The fine pass's explanation (its segment indices are those of
            ``fine_segments``), or ``None`` if no fine pass ran.
        fine_segments: Index in the original segments of each fine-pass segment.
        coarse_calls: Calls of the coarse passes.
        model_calls: All calls.
        seconds: Wall time.
        complete: ``False`` if the budget stopped a pass early.
    """

    units: list[Unit]
    blocks: list[Block]
    block_gain: FloatArray
    screen: FloatArray
    levels: list[int] = field(default_factory=list)
    pool: list[int] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)
    owners: list[set[int]] = field(default_factory=list)
    affinity: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    measured: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    fine: Explanation | None = None
    fine_segments: list[int] = field(default_factory=list)
    coarse_calls: int = 0
    model_calls: int = 0
    seconds: float = 0.0
    complete: bool = True


class CoarseToFine:
    """Block scores first, then a fixed-size design over the best sentences.

    Args:
        scalarizer: Scores prompts (one value per output).
        config: The fine pass's engine options (levels, refinement, batch
            size, seed, replacement, budget); its method is replaced by the
            orthogonal design of ``fine_rows`` rows.
        block_size: Sentences per block (``None``: ``ceil(sqrt(N))``, at least 4).
        max_block_chars: Characters per block at most (``None``: no cap).
        max_fine_units: Candidates measured in the fine pass at most.
        fine_rows: Rows of the fine design (rounded to whole Hadamard blocks).
        keep_blocks: Per output, groups kept (and split) at each coarse level.
        screen_levels: Coarse levels at most; ``0``: none, the priors alone
            pick the candidates (they must be given); ``None``: one when priors
            are given (they rank sentences inside a block for free), else as
            many as it takes for the kept groups to hold ``max_fine_units``
            sentences (each level splits kept groups into about ``sqrt`` of
            their size).
        prior_weight: Weight of each prior against the coarse signal (weight
            1) when ranking candidates.
        per_output: Candidates per output (``None``: ``max_fine_units`` in all,
            taken round-robin, each with a column of its own). With a number
            ``K``, each output gets its ``K`` best (columns left free are
            filled round-robin) and the fine pass is a
            :class:`~.supersaturated.SupersaturatedDesign` of ``fine_rows`` rows:
            units of different outputs share columns, so the candidates may
            outnumber the rows.
        fine_context: The fine pass's prompts hold the candidates alone
            (``"candidates"``) or the whole input with only the candidates
            perturbed (``"full"``); see :data:`FineContext`.
        segmenter: Phrase segmenter, for a phrase level.
        on_progress: ``on_progress(done, total)`` after each batch.

    Raises:
        InvalidInputError: On bad options.
    """

    def __init__(
        self,
        scalarizer: Scalarizer,
        config: MExGenConfig | None = None,
        *,
        block_size: int | None = None,
        max_block_chars: int | None = None,
        max_fine_units: int = 15,
        fine_rows: int = 16,
        keep_blocks: int = 3,
        screen_levels: int | None = None,
        prior_weight: float = 1.0,
        per_output: int | None = None,
        fine_context: FineContext = "candidates",
        segmenter: Segmenter | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        if max_fine_units < 1 or fine_rows < 2 or keep_blocks < 1:
            raise InvalidInputError("max_fine_units, keep_blocks >= 1 and fine_rows >= 2")
        columns = design_columns(fine_rows)
        if per_output is not None and not 1 <= per_output <= columns:
            msg = f"per_output must be between 1 and {columns} (fine_rows={fine_rows})"
            raise InvalidInputError(msg)
        if prior_weight < 0 or (screen_levels is not None and screen_levels < 0):
            raise InvalidInputError("prior_weight must be >= 0 and screen_levels >= 0 (or None)")
        if fine_context not in ("candidates", "full"):
            msg = f"fine_context must be 'candidates' or 'full', not {fine_context!r}"
            raise InvalidInputError(msg)
        self.scalarizer = scalarizer
        self.config = config or MExGenConfig()
        if self.config.segment_level != "sentence" or self.config.levels[0] != "sentence":
            msg = "coarse-to-fine attributes sentences: levels must start at 'sentence'"
            raise InvalidInputError(msg)
        self.block_size = block_size
        self.max_block_chars = max_block_chars
        self.max_fine_units = max_fine_units
        self.fine_rows = fine_rows
        self.keep_blocks = keep_blocks
        self.screen_levels = screen_levels
        self.prior_weight = prior_weight
        self.per_output = per_output
        self.fine_context = fine_context
        self.columns = columns
        self.segmenter = segmenter
        self.on_progress = on_progress

    def explain(
        self,
        segments: Sequence[Segment],
        template: ContextTemplate | PromptRenderer | None = None,
        *,
        priors: dict[str, FloatArray] | None = None,
        must_include: Sequence[int] = (),
    ) -> CoarseToFineResult:
        """Attribute the scalarizer's outputs to the sentences of ``segments``.

        Args:
            segments: The model input (sentence segments; fixed ones are
                headers or context that is never attributed to).
            template: Lays segments out (default: a plain ``ContextTemplate``).
            priors: Name to ``(n_units, n_outputs)`` cheap scores over the
                sentence units (:func:`sentence_units`, reading order).
            must_include: Unit indices always measured in the fine pass.

        Raises:
            InvalidInputError: If nothing can be attributed, a prior has the
                wrong shape, or ``screen_levels=0`` comes without priors.
            BudgetExhaustedError: If the budget cannot cover the first coarse level.
        """
        started = time.perf_counter()
        render = template if template is not None else ContextTemplate()
        units = sentence_units(segments)
        if not units:
            raise InvalidInputError("no segment has perturbable text (all fixed or blank)")
        checked = _check_priors(priors or {}, len(units), self.scalarizer.n_outputs)
        if self.screen_levels == 0:
            if not checked:
                msg = "screen_levels=0 picks candidates by the priors alone: pass priors"
                raise InvalidInputError(msg)
            return self._from_priors(segments, units, render, checked, must_include, started)
        blocks = make_blocks(
            units, segments, block_size=self.block_size, max_block_chars=self.max_block_chars
        )
        budget = self.config.budget or Budget()
        if budget.max_calls is not None and budget.max_calls < len(blocks) + 2:
            msg = (
                f"the budget ({budget.max_calls} calls) cannot cover the coarse pass over "
                f"{len(units)} sentences in {len(blocks)} blocks ({len(blocks) + 1} calls, "
                "plus at least one fine call); raise max_calls or block_size"
            )
            raise BudgetExhaustedError(msg)
        depth = self.screen_levels or (1 if checked else len(units))
        result = self._screen(segments, units, blocks, render, budget, depth, must_include)
        first = [*must_include, *(result.pool if len(result.pool) <= self.max_fine_units else [])]
        result.candidates, result.owners, result.affinity = self._pick(
            result.screen, checked, first
        )
        self._fine(segments, render, result, budget, started)
        result.seconds = time.perf_counter() - started
        return result

    def _from_priors(
        self,
        segments: Sequence[Segment],
        units: Sequence[Unit],
        render: ContextTemplate | PromptRenderer,
        priors: dict[str, FloatArray],
        must_include: Sequence[int],
        started: float,
    ) -> CoarseToFineResult:
        """No coarse call: the priors pick the candidates, the fine pass measures them."""
        n_out = self.scalarizer.n_outputs
        result = CoarseToFineResult(
            units=list(units),
            blocks=[],
            block_gain=np.zeros((0, n_out)),
            screen=np.zeros((len(units), n_out)),
        )
        result.candidates, result.owners, result.affinity = self._pick(None, priors, must_include)
        self._fine(segments, render, result, self.config.budget or Budget(), started)
        result.seconds = time.perf_counter() - started
        return result

    def candidates(
        self,
        screen: FloatArray | None,
        priors: dict[str, FloatArray],
        must_include: Sequence[int],
    ) -> list[int]:
        """The units the fine pass measures, reading order.

        ``screen`` (the coarse passes' signal) enters the ranking with weight 1
        and each prior with ``prior_weight``; ``None``: the priors alone. Without
        ``per_output``: round-robin over outputs of each output's best units, up
        to ``max_fine_units``. With it: each output's ``per_output`` best, each
        ``must_include`` unit for the output it ranks best for, and, while the
        design has columns to spare, more round-robin.
        """
        return self._pick(screen, priors, must_include)[0]

    def _pick(
        self,
        screen: FloatArray | None,
        priors: dict[str, FloatArray],
        must_include: Sequence[int],
    ) -> tuple[list[int], list[set[int]], FloatArray]:
        """Candidates, their owners (empty without ``per_output``) and the ranking's rows."""
        coarse = {} if screen is None else {"coarse": screen}
        signals = {**coarse, **priors}
        weights = {"coarse": 1.0, **dict.fromkeys(priors, self.prior_weight)}
        ranking = rank_fusion(signals, weights)
        wanted = [i for i in must_include if 0 <= i < ranking.shape[0]]
        orders = [np.argsort(-ranking[:, j], kind="stable") for j in range(ranking.shape[1])]
        if self.per_output is None:
            chosen = sorted(_round_robin(orders, wanted, self.max_fine_units))
            return chosen, [], ranking[chosen]
        owners = _owners(ranking, orders, wanted, self.per_output, self.columns)
        chosen = sorted(owners)
        return chosen, [owners[i] for i in chosen], ranking[chosen]

    def _screen(
        self,
        segments: Sequence[Segment],
        units: Sequence[Unit],
        blocks: Sequence[Block],
        render: ContextTemplate | PromptRenderer,
        budget: Budget,
        depth: int,
        must_include: Sequence[int],
    ) -> CoarseToFineResult:
        """Solo-score groups level by level, splitting only the kept ones."""
        n_out = self.scalarizer.n_outputs
        seg_of = [u.spans[0][0] for u in units]
        groups: list[tuple[int, ...]] = [b.members for b in blocks]
        values = self._score([_subprompt(segments, set(), render)], 0)
        base, calls = values[0], 1
        screen = np.zeros((len(units), n_out))
        result = CoarseToFineResult(
            units=list(units), blocks=list(blocks), block_gain=np.zeros((0, n_out)), screen=screen
        )
        for level in range(depth):
            prompts = [_subprompt(segments, {seg_of[i] for i in g}, render) for g in groups]
            gain = self._score(prompts, calls) - base
            calls += len(groups)
            result.levels.append(len(groups))
            if level == 0:
                result.block_gain = gain
            ranks = np.column_stack([percentile_ranks(gain[:, j]) for j in range(n_out)])
            for g, members in enumerate(groups):
                screen[list(members)] = level + ranks[g]
            kept = _kept_groups(gain, self.keep_blocks, groups, must_include)
            pool = sorted({i for g in kept for i in groups[g]})
            result.pool = pool
            if len(pool) <= self.max_fine_units or all(len(groups[g]) == 1 for g in kept):
                break
            groups = [part for g in kept for part in _split(groups[g])]
            room = budget.max_calls is None or calls + len(groups) + 2 <= budget.max_calls
            if not room:
                result.complete = False
                break
        result.coarse_calls = calls
        return result

    def _score(self, prompts: Sequence[str], done: int) -> FloatArray:
        values = np.zeros((len(prompts), self.scalarizer.n_outputs))
        step = self.config.batch_size
        for offset in range(0, len(prompts), step):
            batch = prompts[offset : offset + step]
            values[offset : offset + len(batch)] = self.scalarizer.scalarize(batch)
            if self.on_progress is not None:
                made = done + offset + len(batch)
                self.on_progress(made, made + (len(prompts) - offset - len(batch)) + self.fine_rows)
        return values

    def _fine(
        self,
        segments: Sequence[Segment],
        render: ContextTemplate | PromptRenderer,
        result: CoarseToFineResult,
        budget: Budget,
        started: float,
    ) -> None:
        n_out = self.scalarizer.n_outputs
        result.measured = np.full((len(result.units), n_out), np.nan)
        keep = {result.units[i].spans[0][0] for i in result.candidates}
        if self.fine_context == "full":
            index = list(range(len(segments)))
            fine_input = _frozen_except(segments, keep)
        else:
            index = _kept_segments(segments, keep)
            fine_input = [segments[i] for i in index]
        coarse = result.coarse_calls
        remaining = None if budget.max_calls is None else budget.max_calls - coarse
        seconds = None
        if budget.max_seconds is not None:
            seconds = max(1e-3, budget.max_seconds - (time.perf_counter() - started))
        method: CLIME | SupersaturatedDesign
        if self.per_output is not None:
            method = SupersaturatedDesign(result.owners, result.affinity, rows=self.fine_rows)
        else:
            method = CLIME(sampling="orthogonal", oversampling=self.fine_rows / len(keep))
        fine_config = self.config.replace(
            method=method, budget=Budget(max_calls=remaining, max_seconds=seconds)
        )

        def progress(done: int, total: int) -> None:
            if self.on_progress is not None:
                self.on_progress(coarse + done, coarse + total)

        engine = MExGen(
            self.scalarizer, fine_config, segmenter=self.segmenter, on_progress=progress
        )
        fine = engine.explain(fine_input, render)
        unit_of = {result.units[i].spans[0][0]: i for i in result.candidates}
        for unit in fine.levels[0].units:
            original = index[unit.segment]
            if original in unit_of:
                result.measured[unit_of[original]] = unit.scores
        result.fine = fine
        result.fine_segments = index
        result.model_calls = coarse + fine.model_calls
        result.complete = result.complete and fine.complete


def _round_robin(orders: Sequence[np.ndarray], wanted: Sequence[int], limit: int) -> list[int]:
    """``wanted`` first, then each output's next best in turn, up to ``limit`` units."""
    picked: dict[int, None] = dict.fromkeys(wanted)
    for position in range(len(orders[0]) if orders else 0):
        for order in orders:
            if len(picked) >= limit:
                return list(picked)
            picked.setdefault(int(order[position]), None)
    return list(picked)


def _owners(
    ranking: FloatArray,
    orders: Sequence[np.ndarray],
    wanted: Sequence[int],
    per_output: int,
    columns: int,
) -> dict[int, set[int]]:
    """Unit to the outputs it is a candidate of: each output's ``per_output`` best.

    A ``wanted`` unit goes first to the output it ranks best for among those
    with room left, so no output owns more than ``per_output`` units. When
    the outputs' picks overlap so much that they leave columns free (one or
    two outputs, or outputs about the same sources), the free columns are
    filled round-robin with each output's next best: a free column is a
    measurement paid for anyway.
    """
    owners: dict[int, set[int]] = {}
    load = [0] * ranking.shape[1]
    for i in wanted:
        room = [j for j in np.argsort(-ranking[i], kind="stable") if load[j] < per_output]
        j = int(room[0]) if room else int(np.argmax(ranking[i]))
        owners.setdefault(i, set()).add(j)
        load[j] += 1
    for j, order in enumerate(orders):
        for i in order:
            if load[j] >= per_output:
                break
            if j not in owners.setdefault(int(i), set()):
                owners[int(i)].add(j)
                load[j] += 1
    owners = {i: o for i, o in owners.items() if o}
    for position in range(ranking.shape[0]):
        for j, order in enumerate(orders):
            if len(owners) >= columns:
                return owners
            owners.setdefault(int(order[position]), {j})
    return owners


def _kept_groups(
    gain: FloatArray, keep: int, groups: Sequence[tuple[int, ...]], must_include: Sequence[int]
) -> list[int]:
    """Per output the ``keep`` groups of highest positive gain, plus those with ``must_include``."""
    kept: set[int] = set()
    for j in range(gain.shape[1]):
        order = np.argsort(-gain[:, j], kind="stable")
        kept.update(int(g) for g in order[:keep] if gain[g, j] > 0)
    wanted = set(must_include)
    kept.update(g for g, members in enumerate(groups) if wanted.intersection(members))
    return sorted(kept)


def _split(group: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Runs of about ``sqrt(len(group))`` members (singletons for groups of up to 3)."""
    size = max(1, isqrt(len(group)))
    if size * size < len(group) and len(group) > 3:
        size += 1
    if len(group) <= 3:
        size = 1
    return [group[k : k + size] for k in range(0, len(group), size)]


def sentence_units(segments: Sequence[Segment]) -> list[Unit]:
    """The sentence units a run attributes to (the rows of ``priors``), in reading order."""
    return build_units(segments, "sentence", segment_level="sentence", segmenter=None)


def _check_priors(
    priors: dict[str, FloatArray], n_units: int, n_outputs: int
) -> dict[str, FloatArray]:
    checked: dict[str, FloatArray] = {}
    for name, matrix in priors.items():
        values = np.asarray(matrix, dtype=float)
        if values.shape != (n_units, n_outputs):
            msg = f"prior {name!r} has shape {values.shape}, expected {(n_units, n_outputs)}"
            raise InvalidInputError(msg)
        checked[name] = values
    return checked


def _kept_segments(segments: Sequence[Segment], keep: set[int]) -> list[int]:
    """Indices of the kept free segments plus the fixed ones heading them, in order.

    A run of fixed segments (a document header) goes with the free segments
    that follow it: it is kept, once, when one of them is.
    """
    out: list[int] = []
    header: list[int] = []
    header_used = False
    last_free = False
    for i, segment in enumerate(segments):
        if segment.fixed:
            if last_free:
                header, header_used = [], False
            header.append(i)
            last_free = False
            continue
        last_free = True
        if i in keep:
            if not header_used:
                out.extend(header)
                header_used = True
            out.append(i)
    return out


def _frozen_except(segments: Sequence[Segment], keep: set[int]) -> list[Segment]:
    """Every segment, the free ones outside ``keep`` made fixed (present in every row)."""
    return [
        s if s.fixed or i in keep else s.model_copy(update={"fixed": True})
        for i, s in enumerate(segments)
    ]


def _subprompt(
    segments: Sequence[Segment], keep: set[int], render: ContextTemplate | PromptRenderer
) -> str:
    """The prompt holding only the kept segments (and their headers)."""
    sub = [segments[i] for i in _kept_segments(segments, keep)]
    return render(sub, [s.text for s in sub])
