"""The coarse-to-fine scheme on games with known values, calls counted."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pytest

from langchain_genprog.attribute.mexgen import Budget, MExGenConfig, Segment
from langchain_genprog.attribute.mexgen.blocks import default_block_size, make_blocks
from langchain_genprog.attribute.mexgen.coarse_to_fine import CoarseToFine, sentence_units
from langchain_genprog.attribute.mexgen.fusion import (
    fit_logistic_weights,
    logistic_fusion,
    minmax_scaled,
    percentile_ranks,
    rank_fusion,
)
from langchain_genprog.errors import BudgetExhaustedError, InvalidInputError

SENTENCE = re.compile(r"\bu(\d+)x\b")


class UnitGame:
    """``v(present)`` per output from which ``u<i>x`` tokens are in the prompt.

    ``weights[i, j]``: additive value of unit ``i`` for output ``j``;
    ``pairs``: ``(i, k, j, value)`` added when both ``i`` and ``k`` are present.
    Counts every prompt (one model call each) and remembers the longest one.
    """

    def __init__(
        self, weights: np.ndarray, pairs: Sequence[tuple[int, int, int, float]] = ()
    ) -> None:
        self.weights = weights
        self.pairs = list(pairs)
        self.calls = 0
        self.longest = 0

    @property
    def n_outputs(self) -> int:
        return int(self.weights.shape[1])

    def scalarize(self, prompts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(prompts), self.n_outputs))
        for row, prompt in enumerate(prompts):
            self.calls += 1
            present = {int(m) for m in SENTENCE.findall(prompt)}
            self.longest = max(self.longest, len(present))
            if present:
                out[row] = self.weights[sorted(present)].sum(axis=0)
            for i, k, j, value in self.pairs:
                if i in present and k in present:
                    out[row, j] += value
        return out


def segments(n: int, per_document: int = 40) -> list[Segment]:
    return [Segment(text=f"u{i}x says something", group=i // per_document) for i in range(n)]


def hidden_game(n: int, seed: int, n_outputs: int = 2) -> tuple[np.ndarray, dict[int, set[int]]]:
    """Three important units per output, at random places, in a sea of small noise."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(0.0, 0.01, size=(n, n_outputs))
    important: dict[int, set[int]] = {}
    for j in range(n_outputs):
        chosen = rng.choice(n, size=3, replace=False)
        weights[chosen, j] += [3.0, 2.0, 1.5]
        important[j] = {int(i) for i in chosen}
    return weights, important


def top(matrix: np.ndarray, j: int, k: int) -> set[int]:
    column = np.nan_to_num(matrix[:, j], nan=-np.inf)
    return {int(i) for i in np.argsort(-column, kind="stable")[:k]}


def engine(game: UnitGame, **options) -> CoarseToFine:
    return CoarseToFine(game, MExGenConfig(levels=("sentence",), batch_size=8), **options)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_important_units_hidden_in_256_without_priors(seed: int) -> None:
    weights, important = hidden_game(256, seed)
    game = UnitGame(weights)
    result = engine(game).explain(segments(256))
    for j, units in important.items():
        assert top(result.measured, j, 3) == units
        assert set(result.candidates) >= units
    # the measured scores are the additive values (the design is exact for additive games)
    for j, units in important.items():
        for i in units:
            assert result.measured[i, j] == pytest.approx(weights[i, j], abs=0.05)
    assert game.calls == result.model_calls < 256 / 2


def test_calls_grow_sublinearly_in_n() -> None:
    sizes = [64, 256, 1024]
    calls = []
    for n in sizes:
        weights, important = hidden_game(n, seed=3)
        game = UnitGame(weights)
        result = engine(game).explain(segments(n))
        for j, units in important.items():
            assert top(result.measured, j, 3) == units
        calls.append(game.calls)
    slope = np.polyfit(np.log(sizes), np.log(calls), 1)[0]
    assert slope < 0.5, (sizes, calls)  # linear would be 1.0; sqrt(N) blocks alone 0.5
    assert calls[-1] < 1024 / 4


def test_with_priors_one_coarse_level_and_sqrt_n_plus_fixed_calls() -> None:
    n = 400
    weights, important = hidden_game(n, seed=4)
    rng = np.random.default_rng(9)
    prior = rng.random(weights.shape) * 0.5
    for j, units in important.items():
        prior[sorted(units), j] += 0.6  # a noisy prior that still ranks them high
    game = UnitGame(weights)
    result = engine(game).explain(segments(n), priors={"lexical": prior})
    assert len(result.levels) == 1
    blocks = result.levels[0]
    assert blocks <= default_block_size(n) + n // 40  # sqrt(N), plus one per document at most
    assert game.calls <= blocks + 1 + 16  # one Hadamard block of 16 rows
    for j, units in important.items():
        assert top(result.measured, j, 3) == units


def noisy_prior(weights: np.ndarray, important: dict[int, set[int]], seed: int) -> np.ndarray:
    """A prior that ranks the important units high among random scores, not always first."""
    prior = np.random.default_rng(seed).random(weights.shape) * 0.5
    for j, units in important.items():
        prior[sorted(units), j] += 0.6
    return prior


@pytest.mark.parametrize("n", [40, 400, 1500])
def test_priors_alone_make_a_run_of_fine_rows_whatever_n(n: int) -> None:
    weights, important = hidden_game(n, seed=4)
    game = UnitGame(weights)
    result = engine(game, screen_levels=0).explain(
        segments(n), priors={"lexical": noisy_prior(weights, important, seed=9)}
    )
    assert result.levels == [] and result.coarse_calls == 0
    assert game.calls == result.model_calls == 16  # one Hadamard block, no coarse call
    assert game.longest <= 15  # no prompt holds more than the candidates
    assert len(result.candidates) == 15
    for j, units in important.items():
        assert top(result.measured, j, 3) == units
        # the additive values come back, not just their order
        for i in units:
            assert result.measured[i, j] == pytest.approx(weights[i, j], abs=0.05)


def test_priors_alone_need_priors_and_keep_must_include() -> None:
    weights, important = hidden_game(200, seed=8)
    with pytest.raises(InvalidInputError, match="pass priors"):
        engine(UnitGame(weights), screen_levels=0).explain(segments(200))
    result = engine(UnitGame(weights), screen_levels=0).explain(
        segments(200),
        priors={"lexical": noisy_prior(weights, important, seed=1)},
        must_include=[5, 150],
    )
    assert {5, 150} <= set(result.candidates)
    with pytest.raises(InvalidInputError, match="screen_levels"):
        engine(UnitGame(weights), screen_levels=-1)


def test_priors_alone_budget_ending_in_the_fine_pass_reports_partial() -> None:
    weights, important = hidden_game(100, seed=7)
    game = UnitGame(weights)
    config = MExGenConfig(levels=("sentence",), budget=Budget(max_calls=5))
    result = CoarseToFine(game, config, screen_levels=0).explain(
        segments(100), priors={"lexical": noisy_prior(weights, important, seed=2)}
    )
    assert not result.complete
    assert game.calls <= 5


def test_pairwise_interaction_game_credits_both_redundant_units() -> None:
    """Two units that say the same thing: either alone carries the output (OR game)."""
    n = 240
    weights = np.random.default_rng(5).normal(0.0, 0.01, size=(n, 1))
    a, b = 37, 181
    weights[[a, b], 0] += 2.0
    game = UnitGame(weights, pairs=[(a, b, 0, -2.0)])  # v = 2 if a or b, not 4
    result = engine(game).explain(segments(n))
    assert top(result.measured, 0, 2) == {a, b}
    assert result.measured[a, 0] > 0.5 and result.measured[b, 0] > 0.5


def test_prompts_never_hold_the_whole_long_input() -> None:
    n = 1500
    weights, _ = hidden_game(n, seed=6)
    game = UnitGame(weights)
    engine(game).explain(segments(n, per_document=500))
    assert game.longest <= max(default_block_size(n), 16)


def test_budget_that_cannot_cover_the_coarse_pass_raises() -> None:
    weights, _ = hidden_game(100, seed=7)
    game = UnitGame(weights)
    config = MExGenConfig(levels=("sentence",), budget=Budget(max_calls=5))
    with pytest.raises(BudgetExhaustedError, match="coarse pass"):
        CoarseToFine(game, config).explain(segments(100))
    assert game.calls == 0


def test_budget_ending_in_the_fine_pass_reports_partial() -> None:
    weights, _ = hidden_game(100, seed=7)
    game = UnitGame(weights)
    config = MExGenConfig(levels=("sentence",), budget=Budget(max_calls=20))
    result = CoarseToFine(game, config, screen_levels=1).explain(segments(100))
    assert not result.complete
    assert game.calls <= 20


def test_must_include_is_measured() -> None:
    weights, _ = hidden_game(200, seed=8)
    result = engine(UnitGame(weights)).explain(segments(200), must_include=[5, 150])
    assert {5, 150} <= set(result.candidates)
    assert not np.isnan(result.measured[[5, 150]]).any()


def test_bad_priors_and_options_raise() -> None:
    weights, _ = hidden_game(50, seed=0)
    with pytest.raises(InvalidInputError, match="shape"):
        engine(UnitGame(weights)).explain(segments(50), priors={"x": np.zeros((3, 2))})
    with pytest.raises(InvalidInputError):
        CoarseToFine(UnitGame(weights), max_fine_units=0)


def test_blocks_cover_every_unit_once_and_respect_documents() -> None:
    segs = segments(103, per_document=30)
    units = sentence_units(segs)
    blocks = make_blocks(units, segs, max_block_chars=200)
    members = [i for b in blocks for i in b.members]
    assert members == list(range(103))
    for block in blocks:
        assert len({segs[units[i].spans[0][0]].group for i in block.members}) == 1
        assert len(block.members) <= default_block_size(103)
        assert sum(len(segs[units[i].spans[0][0]].text) for i in block.members) <= 200


def test_rank_fusion_and_percentile_ranks() -> None:
    assert percentile_ranks(np.array([0.1, np.nan, 0.5, 0.3])).tolist() == [
        pytest.approx(1 / 3),
        0.0,
        1.0,
        pytest.approx(2 / 3),
    ]
    measured = np.array([[np.nan], [1.0], [0.2]])
    prior = np.array([[0.9], [0.1], [0.5]])
    fused = rank_fusion({"measured": measured, "prior": prior})
    assert int(np.argmax(fused[:, 0])) == 1
    only_prior = rank_fusion({"measured": measured, "prior": prior}, {"measured": 0.0})
    assert int(np.argmax(only_prior[:, 0])) == 0


def test_minmax_scaled_maps_known_entries_to_the_unit_interval() -> None:
    assert minmax_scaled(np.array([0.5, np.nan, -0.5, 0.0])).tolist() == [1.0, 0.0, 0.0, 0.5]
    assert minmax_scaled(np.array([0.3, 0.3, np.nan])).tolist() == [1.0, 1.0, 0.0]
    assert minmax_scaled(np.array([np.nan, np.nan])).tolist() == [0.0, 0.0]


def test_scaled_fusion_keeps_measured_margins_and_leaves_near_ties_to_the_priors() -> None:
    # B measures far above C, but both priors prefer C: ranks hide the margin (B and C are
    # one rank apart), scaled values keep it
    measured = np.array([[1.0], [0.9], [0.1], [0.05], [0.0], [-0.05]])
    prior = np.array([[0.8], [0.7], [0.9], [0.3], [0.2], [0.1]])
    signals = {"measured": measured, "lexical": prior, "embedding": prior}
    weights = {"measured": 2.0}

    def top2(fused: np.ndarray) -> set[int]:
        return {int(i) for i in np.argsort(-fused[:, 0])[:2]}

    assert top2(rank_fusion(signals, weights)) == {0, 2}
    assert top2(rank_fusion(signals, weights, scaled=("measured",))) == {0, 1}
    # measured alike (0.51 against 0.5): the priors decide, scaled or not
    alike = {**signals, "measured": np.array([[1.0], [0.51], [0.5], [0.05], [0.0], [-0.05]])}
    assert top2(rank_fusion(alike, weights, scaled=("measured",))) == {0, 2}
    with pytest.raises(InvalidInputError, match="scaled names no signal"):
        rank_fusion(signals, scaled=("leaves",))


def test_logistic_fusion_learns_which_signal_predicts_the_label() -> None:
    rng = np.random.default_rng(0)
    feats, labels = [], []
    for _ in range(20):
        good = rng.random((30, 2))
        noise = rng.random((30, 2))
        feats.append({"good": good, "noise": noise})
        labels.append((good > 0.8).astype(float))
    weights = fit_logistic_weights(feats, labels)
    assert weights["good"] > 3 * abs(weights["noise"])
    prob = logistic_fusion(feats[0], weights)
    assert prob.shape == (30, 2)
    assert prob[feats[0]["good"] > 0.9].min() > prob[feats[0]["good"] < 0.3].max()


def separable_game(n: int, n_outputs: int, seed: int) -> tuple[np.ndarray, dict[int, set[int]]]:
    """Each output depends on three units of its own (no unit matters to two outputs)."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((n, n_outputs))
    picks = rng.choice(n, size=3 * n_outputs, replace=False)
    important = {j: {int(i) for i in picks[3 * j : 3 * j + 3]} for j in range(n_outputs)}
    for j, units in important.items():
        weights[sorted(units), j] = [3.0, 2.0, 1.5]
    return weights, important


def test_per_output_measures_more_candidates_than_rows() -> None:
    """Ten outputs, four candidates each: 40 candidates in 16 calls, values exact."""
    n, n_outputs = 400, 10
    weights, important = separable_game(n, n_outputs, seed=11)
    game = UnitGame(weights)
    result = engine(game, screen_levels=0, per_output=4).explain(
        segments(n), priors={"lexical": noisy_prior(weights, important, seed=3)}
    )
    assert game.calls == result.model_calls == 16
    assert len(result.candidates) > 15
    assert all(len(owned) >= 1 for owned in result.owners)
    for j, units in important.items():
        assert top(result.measured, j, 3) == units
        for i in units:
            assert result.measured[i, j] == pytest.approx(weights[i, j], abs=1e-9)
        # each output reads the 15 columns as 15 units (its picks first), the rest nan
        assert (~np.isnan(result.measured[:, j])).sum() == 15
        picked = [
            i for i, owned in zip(result.candidates, result.owners, strict=True) if j in owned
        ]
        assert not np.isnan(result.measured[picked, j]).any()


def test_per_output_fills_the_columns_its_picks_leave_free() -> None:
    weights, important = hidden_game(300, seed=12, n_outputs=1)
    result = engine(UnitGame(weights), screen_levels=0, per_output=4).explain(
        segments(300), priors={"lexical": noisy_prior(weights, important, seed=4)}
    )
    assert len(result.candidates) == 15  # one output's 4 picks, 11 free columns filled
    assert top(result.measured, 0, 3) == important[0]
    # two outputs picking the same sources: 4 picks in all, the other 11 columns filled
    shared = np.tile(np.linspace(1.0, 0.0, 300)[:, None], (1, 2))
    two = engine(UnitGame(np.zeros((300, 2))), screen_levels=0, per_output=4).explain(
        segments(300), priors={"lexical": shared}
    )
    assert two.candidates == list(range(15))
    with pytest.raises(InvalidInputError, match="per_output"):
        CoarseToFine(UnitGame(weights), per_output=16)


def redundant_copy_game(n: int) -> tuple[UnitGame, np.ndarray, tuple[int, int, int]]:
    """``a`` and its copy ``b`` carry 2 (either suffices), ``c`` alone carries 1.

    The prior ranks ``a`` and ``c`` first and ``b`` last, so the copy is
    never a candidate: the pruned prompt loses it, the full one keeps it.
    """
    a, b, c = 20, 170, 90
    weights = np.random.default_rng(11).normal(0.0, 0.01, size=(n, 1))
    weights[[a, b], 0] += 2.0
    weights[c, 0] += 1.0
    prior = np.linspace(0.5, 0.0, n)[:, None]
    prior[[a, c], 0], prior[b, 0] = 1.0, -1.0
    return UnitGame(weights, pairs=[(a, b, 0, -2.0)]), prior, (a, b, c)


def test_fine_pass_on_candidates_alone_credits_what_a_pruned_copy_would_carry() -> None:
    game, prior, (a, b, _) = redundant_copy_game(200)
    result = engine(game, screen_levels=0).explain(segments(200), priors={"p": prior})
    assert b not in result.candidates
    assert result.measured[a, 0] == pytest.approx(2.0, abs=0.05)
    assert top(result.measured, 0, 1) == {a}
    assert game.longest <= 15


def test_full_context_fine_pass_measures_candidates_next_to_the_rest() -> None:
    """With the copy present in every row, removing ``a`` costs nothing: ``c`` ranks first."""
    game, prior, (a, b, c) = redundant_copy_game(200)
    result = engine(game, screen_levels=0, fine_context="full").explain(
        segments(200), priors={"p": prior}
    )
    assert b not in result.candidates
    assert result.measured[a, 0] == pytest.approx(0.0, abs=0.05)
    assert result.measured[c, 0] == pytest.approx(1.0, abs=0.05)
    assert top(result.measured, 0, 1) == {c}
    assert game.longest == 200  # every prompt holds the whole input
    assert np.isnan(result.measured[b, 0])  # nothing outside the candidates is attributed
    assert game.calls == result.model_calls == 16


def test_unknown_fine_context_raises() -> None:
    weights, _ = hidden_game(50, seed=0)
    with pytest.raises(InvalidInputError, match="fine_context"):
        CoarseToFine(UnitGame(weights), fine_context="everything")  # type: ignore[arg-type]
