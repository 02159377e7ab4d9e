"""LOO, C-LIME and L-SHAP against games whose attributions are known by hand."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from langchain_genprog.attribute.mexgen import CLIME, LSHAP, LeaveOneOut, MExGen
from langchain_genprog.attribute.mexgen.method import Plan
from langchain_genprog.errors import InvalidInputError

from .fakes import PLAYERS, GameScalarizer, exact_shapley, linear_game

WEIGHTS = {
    "alpha": [1.0, 0.0],
    "bravo": [2.0, 0.5],
    "charlie": [0.0, 3.0],
    "delta": [-1.0, 0.0],
    "echo": [0.5, -0.25],
}
EXPECTED = np.array(list(WEIGHTS.values()))


def sentences(players):
    return [f"This sentence is about {p}." for p in players]


def run(method, players, value, n_outputs=1, **kwargs):
    scalarizer = GameScalarizer(players, value, n_outputs)
    engine = MExGen(scalarizer, method=method, levels=("sentence",), **kwargs)
    return engine.explain(sentences(players)), scalarizer


# --- linear game: LOO and C-LIME recover the coefficients exactly -------------------------


@pytest.mark.parametrize("method", ["loo", "clime", "lshap"])
def test_linear_game_recovers_coefficients(method: str) -> None:
    explanation, _ = run(method, list(WEIGHTS), linear_game(WEIGHTS), n_outputs=2)
    np.testing.assert_allclose(explanation.matrix(), EXPECTED, atol=1e-9)
    assert explanation.complete
    np.testing.assert_allclose(explanation.baseline, [10 + 2.5, 10 + 3.25])


def test_clime_exact_on_linear_game_even_when_subsampled() -> None:
    players = [f"p{i}" for i in range(30)]
    weights = {p: [float(i % 7) - 3.0] for i, p in enumerate(players)}
    # c=2, d=30: all 30 singletons, then 30 of the 435 pairs are sampled.
    explanation, _ = run(
        "clime", players, linear_game(weights), oversampling=2.0, max_units_replace=2
    )
    np.testing.assert_allclose(
        explanation.matrix()[:, 0], [w[0] for w in weights.values()], atol=1e-8
    )
    assert explanation.model_calls == 1 + 60


def test_clime_sparse_fit_keeps_the_largest_coefficients() -> None:
    weights = {
        p: [w] for p, w in zip(PLAYERS, [4.0, 0.0, 0.0, -3.0, 0.0, 0.1, 0.0, 0.0], strict=True)
    }
    explanation, _ = run("clime", PLAYERS, linear_game(weights), num_nonzeros=2)
    scores = explanation.matrix()[:, 0]
    assert np.count_nonzero(scores) == 2
    # The omitted 0.1 unit biases the refit slightly.
    np.testing.assert_allclose(scores[[0, 3]], [4.0, -3.0], atol=0.01)


def test_loo_misses_redundant_support_that_lshap_splits() -> None:
    # Two sources say the same thing: the output survives removing either one alone.
    def redundant(present: frozenset[str]) -> list[float]:
        return [1.0 if {"alpha", "bravo"} & present else 0.0]

    loo, _ = run("loo", ["alpha", "bravo", "charlie"], redundant)
    shap, _ = run("lshap", ["alpha", "bravo", "charlie"], redundant, num_neighbors=2)
    np.testing.assert_allclose(loo.matrix()[:, 0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(shap.matrix()[:, 0], [0.5, 0.5, 0.0])


def test_bernoulli_clime_over_every_subset_gives_banzhaf_values() -> None:
    # With all 2^d subsets equally weighted, the least-squares linear fit is the
    # Banzhaf value: a unit's mean marginal effect over the others' subsets.
    # Redundant alpha/bravo each matter in half of them; MExGen's K=1 sees neither.
    def redundant(present: frozenset[str]) -> list[float]:
        return [1.0 if {"alpha", "bravo"} & present else 0.0]

    players = ["alpha", "bravo", "charlie"]
    wide, scalarizer = run(CLIME(sampling="bernoulli", oversampling=10), players, redundant)
    narrow, _ = run(CLIME(max_units_replace=1), players, redundant)
    np.testing.assert_allclose(wide.matrix()[:, 0], [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(narrow.matrix()[:, 0], [0.0, 0.0, 0.0], atol=1e-12)
    assert wide.model_calls == 2 ** len(players) == len(set(scalarizer.prompts))


def test_bernoulli_plan_draws_distinct_half_subsets_under_a_seed() -> None:
    clime = CLIME(sampling="bernoulli", oversampling=3)
    plan = clime.plan(40, np.random.default_rng(1))
    subsets = plan.subsets
    assert subsets[0] == frozenset()
    assert len(subsets) == len(set(subsets)) == 1 + 120
    assert set(plan.weights.values()) == {1.0}
    # Each unit removed with probability 1/2: mean size near 20.
    assert 17 < np.mean([len(s) for s in subsets[1:]]) < 23
    assert subsets == clime.plan(40, np.random.default_rng(1)).subsets
    assert subsets != clime.plan(40, np.random.default_rng(2)).subsets


def test_bernoulli_clime_is_exact_on_a_linear_game() -> None:
    explanation, _ = run(
        CLIME(sampling="bernoulli", oversampling=3), list(WEIGHTS), linear_game(WEIGHTS), 2
    )
    np.testing.assert_allclose(explanation.matrix(), EXPECTED, atol=1e-9)


def pairwise_game(players: list[str], seed: int):
    """A random game with main effects and every pairwise interaction, and its Banzhaf values."""
    rng = np.random.default_rng(seed)
    main, pair = rng.normal(size=len(players)), np.triu(rng.normal(size=(len(players),) * 2), 1)

    def value(present: frozenset[str]) -> list[float]:
        x = np.array([p in present for p in players], dtype=float)
        return [float(main @ x + x @ pair @ x)]

    # Mean marginal effect of adding unit i over the others' subsets: main_i + Σ_j pair_ij / 2.
    return value, main + (pair + pair.T).sum(axis=1) / 2


def test_orthogonal_design_is_exact_banzhaf_on_pairwise_games() -> None:
    # A fold-over pair of Hadamard blocks is a resolution-IV design: unit columns are
    # orthogonal to each other and to every pairwise interaction, so 32 rows recover
    # the Banzhaf values of 12 units exactly, where 2^12 subsets would be needed otherwise.
    players = [f"p{i}" for i in range(12)]
    value, banzhaf = pairwise_game(players, seed=3)
    folded, scalarizer = run(CLIME(sampling="orthogonal", oversampling=32 / 12), players, value)
    np.testing.assert_allclose(folded.matrix()[:, 0], banzhaf, atol=1e-9)
    assert folded.model_calls == len(set(scalarizer.prompts)) == 32
    # One block without its fold-over aliases interactions onto units: not exact.
    single, _ = run(CLIME(sampling="orthogonal", oversampling=16 / 12), players, value)
    assert np.abs(single.matrix()[:, 0] - banzhaf).max() > 0.1
    # iid draws of the same size are only right on average.
    drawn, _ = run(CLIME(sampling="bernoulli", oversampling=32 / 12), players, value)
    assert np.abs(drawn.matrix()[:, 0] - banzhaf).max() > 0.1


def test_orthogonal_plan_is_balanced_and_seeded() -> None:
    clime = CLIME(sampling="orthogonal", oversampling=2.5)
    plan = clime.plan(12, np.random.default_rng(0))
    # 2.5 x 12 = 30 rows, rounded to whole blocks of 16 (the Hadamard order above 12).
    assert sum(plan.weights.values()) == 32
    assert frozenset() in plan.weights and frozenset(range(12)) in plan.weights
    removed = np.zeros(12)
    for subset, weight in plan.weights.items():
        removed[list(subset)] += weight
    np.testing.assert_array_equal(removed, 16)  # every unit removed in half the rows
    assert plan.weights == clime.plan(12, np.random.default_rng(0)).weights
    assert plan.weights != clime.plan(12, np.random.default_rng(1)).weights
    # A budget below one block still gets one block: d + 1 rows are needed to fit d scores.
    assert (
        sum(
            CLIME(sampling="orthogonal", oversampling=0.1)
            .plan(5, np.random.default_rng(0))
            .weights.values()
        )
        == 8
    )


# --- Shapley game: L-SHAP with a window covering everything is exact ------------------------


def interaction_game(present: frozenset[str]) -> list[float]:
    """3·[alpha and bravo] + 2·[charlie] + [alpha or delta]."""
    return [
        3.0 * ({"alpha", "bravo"} <= present)
        + 2.0 * ("charlie" in present)
        + 1.0 * bool({"alpha", "delta"} & present)
    ]


def test_lshap_full_window_equals_hand_computed_shapley_values() -> None:
    players = ["alpha", "bravo", "charlie", "delta"]
    explanation, _ = run("lshap", players, interaction_game, num_neighbors=3, max_units_replace=3)
    # Unanimity(alpha, bravo) splits 3 in halves, charlie is additive, alpha-or-delta splits 1.
    np.testing.assert_allclose(explanation.matrix()[:, 0], [2.0, 1.5, 2.0, 0.5], atol=1e-12)


def test_lshap_full_window_equals_brute_force_shapley_on_random_game() -> None:
    players = PLAYERS[:5]
    rng = np.random.default_rng(7)
    table = {frozenset(c): rng.normal() for k in range(6) for c in combinations(players, k)}

    def value(present: frozenset[str]) -> list[float]:
        return [table[present]]

    explanation, scalarizer = run("lshap", players, value, num_neighbors=4, max_units_replace=4)
    expected = exact_shapley(players, value)
    np.testing.assert_allclose(
        explanation.matrix()[:, 0], [expected[p] for p in players], atol=1e-12
    )
    assert explanation.model_calls == 2 ** len(players)  # every coalition, each measured once
    assert len(set(scalarizer.prompts)) == len(scalarizer.prompts)


def test_lshap_local_window_ignores_far_units() -> None:
    lshap = LSHAP(num_neighbors=1, max_units_replace=2)
    assert lshap.window(0, 5) == [1]
    assert lshap.window(2, 5) == [1, 3]
    plan = lshap.plan(5, np.random.default_rng(0))
    # No planned removal ever spans units more than two apart.
    assert all(max(s) - min(s) <= 2 for s in plan.subsets if s)


# --- the estimate step alone, on hand-written observations ----------------------------------


def test_loo_estimate_by_hand_and_unknown_units_are_nan() -> None:
    obs = {frozenset(): np.array([5.0]), frozenset({0}): np.array([3.0])}
    scores = LeaveOneOut().estimate(2, 1, obs, Plan(tiers=()))
    assert scores[0, 0] == 2.0
    assert np.isnan(scores[1, 0])


def test_clime_plan_weights_each_size_equally() -> None:
    plan = CLIME(oversampling=10, max_units_replace=2).plan(6, np.random.default_rng(0))
    by_size: dict[int, float] = {}
    for subset, weight in plan.weights.items():
        by_size[len(subset)] = by_size.get(len(subset), 0.0) + weight
    assert set(by_size) == {0, 1, 2}
    assert by_size[0] == pytest.approx(by_size[1]) == pytest.approx(by_size[2])
    # 6 singletons and all 15 pairs fit in the budget of 60.
    assert len(plan.subsets) == 1 + 6 + 15
    assert plan.tiers[0][0] == frozenset()


def test_clime_plan_is_seeded() -> None:
    clime = CLIME(oversampling=3, max_units_replace=3)
    a = clime.plan(40, np.random.default_rng(1)).subsets
    b = clime.plan(40, np.random.default_rng(1)).subsets
    c = clime.plan(40, np.random.default_rng(2)).subsets
    assert a == b
    assert a != c


@pytest.mark.parametrize(
    "factory",
    [
        lambda: CLIME(oversampling=0),
        lambda: CLIME(max_units_replace=0),
        lambda: CLIME(num_nonzeros=0),
        lambda: LSHAP(num_neighbors=-1),
        lambda: CLIME(sampling="uniform"),  # type: ignore[arg-type]
    ],
)
def test_bad_method_options_raise_typed_errors(factory) -> None:
    with pytest.raises(InvalidInputError):
        factory()
