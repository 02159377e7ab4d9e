"""The engine: memoization, batching, prefix order, budget, progress, seeds, multi-level."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from langchain_genprog.attribute.mexgen import (
    Budget,
    ContextTemplate,
    MExGen,
    PerturbationGame,
    Segment,
    select_for_refinement,
)
from langchain_genprog.attribute.mexgen.units import Unit, build_units
from langchain_genprog.errors import BudgetExhaustedError, InvalidInputError

from .fakes import PLAYERS, CommaSegmenter, GameScalarizer, linear_game


def many_players(d: int) -> list[str]:
    return [f"w{i}x" for i in range(d)]


def sentences(players):
    return [f"Fact about {p}." for p in players]


def test_memoization_scores_each_perturbation_once() -> None:
    players = PLAYERS[:4]
    scalarizer = GameScalarizer(players, linear_game({p: [1.0] for p in players}))
    segments = [Segment(text=s) for s in sentences(players)]
    game = PerturbationGame(segments, ContextTemplate(), scalarizer, batch_size=3)
    units = build_units(segments, "sentence", segment_level="sentence", segmenter=None)
    keys = [game.key(units, s) for s in ([], [0], [1], [0, 1], [1, 0], [0])]
    assert game.evaluate([keys])
    assert game.calls == 4 == len(scalarizer.prompts)
    # Asking again costs nothing.
    assert game.evaluate([keys, keys[:2]])
    assert game.calls == 4
    assert [len(b) for b in scalarizer.batches] == [3, 1]


def test_perturbations_sharing_a_prefix_are_adjacent() -> None:
    players = PLAYERS[:5]
    scalarizer = GameScalarizer(players, linear_game({p: [1.0] for p in players}))
    segments = [Segment(text=s) for s in sentences(players)]
    game = PerturbationGame(segments, ContextTemplate(), scalarizer, batch_size=100)
    units = build_units(segments, "sentence", segment_level="sentence", segmenter=None)
    subsets = [[3], [0, 4], [1], [0], [2, 3], [0, 2], [1, 4]]
    game.evaluate([[game.key(units, s) for s in subsets]])
    first_removed = []
    for prompt in scalarizer.prompts:
        missing = [i for i, p in enumerate(players) if p not in prompt]
        first_removed.append(missing[0])
    assert first_removed == sorted(first_removed)
    # Same first removed unit: shortest removal (longest shared prefix) first.
    assert scalarizer.prompts[0] == game.prompt(game.key(units, [0]))


def test_prompt_keeps_fixed_parts_and_replaces_removed_units() -> None:
    segments = [
        Segment(text="# Doc", fixed=True),
        Segment(text="Alpha is first.", label="S1"),
        Segment(text="Bravo is second.", label="S2"),
    ]
    template = ContextTemplate(instruction="Answer.", question="Who is first?")
    game = PerturbationGame(
        segments, template, GameScalarizer([], lambda p: [0.0]), replacement="[...]"
    )
    units = build_units(segments, "sentence", segment_level="sentence", segmenter=None)
    assert len(units) == 2  # the header is fixed
    prompt = game.prompt(game.key(units, [0]))
    assert prompt == "Answer.\n\n# Doc\nS1: [...]\nS2: Bravo is second.\n\nQuestion: Who is first?"


def test_same_seed_same_result_and_different_seed_different_sample() -> None:
    players = many_players(30)
    weights = {p: [float(i % 5)] for i, p in enumerate(players)}

    def noisy(present: frozenset[str]) -> list[float]:
        # A non-linear game, so that the sample changes the fitted scores.
        base = linear_game(weights)(present)[0]
        return [base + 0.3 * math.sin(len(present) * 1.7 + base)]

    def explain(seed: int):
        scalarizer = GameScalarizer(players, noisy)
        engine = MExGen(scalarizer, method="clime", levels=("sentence",), oversampling=2, seed=seed)
        return engine.explain(sentences(players)), scalarizer.prompts

    (a, prompts_a), (b, prompts_b), (_, prompts_c) = explain(3), explain(3), explain(4)
    assert prompts_a == prompts_b
    np.testing.assert_array_equal(a.matrix(), b.matrix())
    assert prompts_a != prompts_c


@pytest.mark.parametrize(
    ("method", "options"),
    [("loo", {}), ("clime", {"oversampling": 3}), ("lshap", {"num_neighbors": 2})],
)
def test_model_calls_grow_linearly_with_units(method: str, options: dict) -> None:
    calls = {}
    for d in (20, 40, 80):
        players = many_players(d)
        scalarizer = GameScalarizer(players, linear_game({p: [1.0] for p in players}))
        engine = MExGen(scalarizer, method=method, levels=("sentence",), **options)
        calls[d] = engine.explain(sentences(players)).model_calls
        assert calls[d] == len(scalarizer.prompts)
    # Affine in d: each added unit costs the same number of calls.
    assert calls[80] - calls[40] == 2 * (calls[40] - calls[20])
    if method == "loo":
        assert calls[80] == 81
    if method == "clime":
        assert calls[80] == 1 + 3 * 80
    if method == "lshap":
        # At most 2·(1 + 4 + 6) sets per unit with a window of 2 + 2 neighbours and K = 2.
        assert calls[80] <= 22 * 80


def test_budget_stop_returns_partial_scores() -> None:
    players = many_players(10)
    weights = {p: [float(i + 1)] for i, p in enumerate(players)}
    scalarizer = GameScalarizer(players, linear_game(weights))
    engine = MExGen(
        scalarizer, method="loo", levels=("sentence",), budget=Budget(max_calls=7), batch_size=4
    )
    explanation = engine.explain(sentences(players))
    assert not explanation.complete
    assert explanation.model_calls == 7 == len(scalarizer.prompts)
    scores = explanation.matrix()[:, 0]
    known = ~np.isnan(scores)
    assert known.sum() == 6  # the original + 6 single removals
    np.testing.assert_allclose(scores[known], np.arange(1, 11)[known])


def test_budget_stop_clime_keeps_singletons_first() -> None:
    players = many_players(8)
    weights = {p: [float(i)] for i, p in enumerate(players)}
    scalarizer = GameScalarizer(players, linear_game(weights))
    engine = MExGen(scalarizer, method="clime", levels=("sentence",), budget=Budget(max_calls=9))
    explanation = engine.explain(sentences(players))
    assert not explanation.complete
    # The first tier (original + every singleton) fits: the fit is already exact.
    np.testing.assert_allclose(explanation.matrix()[:, 0], np.arange(8.0), atol=1e-9)


def test_time_budget_stops_between_batches() -> None:
    players = many_players(12)

    def slow(present: frozenset[str]) -> list[float]:
        time.sleep(0.02)
        return [float(len(present))]

    scalarizer = GameScalarizer(players, slow)
    engine = MExGen(
        scalarizer,
        method="lshap",
        levels=("sentence",),
        budget=Budget(max_seconds=0.3),
        batch_size=2,
    )
    explanation = engine.explain(sentences(players))
    assert not explanation.complete
    assert 0 < explanation.model_calls < 100
    assert explanation.seconds < 2.0


def test_budget_exhausted_before_anything_raises() -> None:
    scalarizer = GameScalarizer(PLAYERS[:3], lambda p: [1.0])
    engine = MExGen(scalarizer, method="loo", levels=("sentence",), budget=Budget(max_seconds=1e-9))
    with pytest.raises(BudgetExhaustedError):
        engine.explain(sentences(PLAYERS[:3]))


def test_progress_callback_and_bar() -> None:
    seen: list[tuple[int, int]] = []
    players = PLAYERS[:6]
    scalarizer = GameScalarizer(players, linear_game({p: [1.0] for p in players}))
    engine = MExGen(
        scalarizer,
        method="clime",
        levels=("sentence",),
        batch_size=5,
        on_progress=lambda done, total: seen.append((done, total)),
        progress_bar=True,
    )
    explanation = engine.explain(sentences(players))
    assert seen[-1] == (explanation.model_calls, explanation.model_calls)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert all(d <= t for d, t in seen)


# --- multi-level refinement ---------------------------------------------------------------

# Four sentences of three comma-separated phrases; only a few phrases matter.
DOCS = [
    "alpha one, bravo two, charlie three.",
    "delta four, echo five, foxtrot six.",
    "golf seven, hotel eight, india nine.",
    "juliet ten, kilo eleven, lima twelve.",
]
WORDS = [w.strip(",.") for s in DOCS for w in s.split() if w.isalpha()]
GAME = {"echo": [3.0, 0.0], "foxtrot": [1.0, 0.0], "kilo": [0.0, 2.0], "alpha": [0.1, 0.0]}


def multilevel(method: str, **options):
    scalarizer = GameScalarizer(WORDS, linear_game(GAME), n_outputs=2)
    engine = MExGen(
        scalarizer,
        method=method,
        levels=("sentence", "phrase"),
        refine_top_k=1,
        refine_threshold=0.5,
        segmenter=CommaSegmenter(),
        **options,
    )
    return engine.explain(DOCS), scalarizer


@pytest.mark.parametrize("method", ["loo", "clime", "lshap"])
def test_multilevel_refines_only_top_units_and_reuses_coarse_measurements(method: str) -> None:
    explanation, scalarizer = multilevel(method)
    coarse, fine = explanation.levels
    np.testing.assert_allclose(coarse.matrix(), [[0.1, 0], [4, 0], [0, 0], [0, 2]], atol=1e-9)
    # Top-1 per output: sentence 1 for output 0, sentence 3 for output 1.
    assert fine.refined == [1, 3]
    assert {u.parent for u in fine.units} == {1, 3}
    assert len(fine.units) == 6
    # The original, each refined sentence removed, and (C-LIME, L-SHAP) both removed.
    assert fine.reused >= 3
    assert explanation.model_calls == len(scalarizer.prompts) == len(set(scalarizer.prompts))
    assert explanation.model_calls == coarse.new_calls + fine.new_calls
    # Mixed result: coarse where nothing mattered, phrases where it did.
    assert [u.level for u in explanation.units] == ["sentence"] + ["phrase"] * 3 + ["sentence"] + [
        "phrase"
    ] * 3
    by_text = {u.text.strip(" ,."): u.scores for u in explanation.units}
    np.testing.assert_allclose(by_text["echo five"], [3.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(by_text["foxtrot six"], [1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(by_text["kilo eleven"], [0.0, 2.0], atol=1e-9)
    assert [u.text for u in explanation.top(0, k=1)] == ["echo five, "]


def test_multilevel_clime_fits_coarse_rows_at_fine_level() -> None:
    explanation, _ = multilevel("clime")
    fine = explanation.levels[1]
    # ∅, {S1}, {S3}, {S1, S3}: every coarse measurement expressible over the phrases.
    assert fine.reused == 4


def test_refine_method_runs_the_finer_level_with_its_own_method() -> None:
    explanation, _ = multilevel("clime", refine_method="loo")
    coarse, fine = explanation.levels
    assert (coarse.method, fine.method) == ("clime", "loo")
    # LOO over the 6 phrases: one new call per phrase, the original is reused.
    assert fine.new_calls == 6
    by_text = {u.text.strip(" ,."): u.scores for u in explanation.units}
    np.testing.assert_allclose(by_text["echo five"], [3.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(by_text["kilo eleven"], [0.0, 2.0], atol=1e-9)
    same, _ = multilevel("clime")
    assert fine.new_calls < same.levels[1].new_calls


def test_threshold_blocks_refinement_of_weak_units() -> None:
    scores = np.array([[1.0, 0.0], [0.05, 0.0], [0.5, -2.0]])
    assert select_for_refinement(scores, top_k=2, threshold=0.1) == [0, 2]
    assert select_for_refinement(scores, top_k=1, threshold=0.1) == [0]
    assert select_for_refinement(scores, top_k=3, threshold=0.6) == [0]
    assert select_for_refinement(np.full((2, 1), np.nan), top_k=2, threshold=0.1) == []


def test_budget_stop_skips_refinement() -> None:
    scalarizer = GameScalarizer(WORDS, linear_game(GAME), n_outputs=2)
    engine = MExGen(
        scalarizer,
        method="loo",
        levels=("sentence", "phrase"),
        budget=Budget(max_calls=3),
        segmenter=CommaSegmenter(),
    )
    explanation = engine.explain(DOCS)
    assert not explanation.complete
    assert len(explanation.levels) == 1
    assert explanation.model_calls == 3


def test_removing_all_parts_is_removing_the_whole() -> None:
    segments = [Segment(text=DOCS[0])]
    whole = build_units(segments, "sentence", segment_level="sentence", segmenter=None)
    parts = build_units(segments, "phrase", segment_level="sentence", segmenter=CommaSegmenter())
    game = PerturbationGame(segments, ContextTemplate(), GameScalarizer([], lambda p: [0.0]))
    assert len(parts) == 3
    assert game.key(parts, [0, 1, 2]) == game.key(whole, [0]) == ((0, 0, len(DOCS[0])),)
    assert game.key(parts, [0, 1]) == ((0, 0, DOCS[0].index("charlie")),)


def test_document_level_groups_segments() -> None:
    segments = [
        Segment(text="alpha one.", group=0),
        Segment(text="bravo two.", group=0),
        Segment(text="charlie three.", group=1),
    ]
    docs = build_units(segments, "document", segment_level="sentence", segmenter=None)
    assert [len(u.spans) for u in docs] == [2, 1]
    scalarizer = GameScalarizer(
        ["alpha", "bravo", "charlie"],
        linear_game({"alpha": [1.0], "bravo": [2.0], "charlie": [0.5]}),
    )
    explanation = MExGen(
        scalarizer, method="loo", levels=("document", "sentence"), refine_top_k=1
    ).explain(segments)
    assert explanation.levels[0].matrix()[:, 0].tolist() == [3.0, 0.5]
    assert [u.text for u in explanation.units] == ["alpha one.", "bravo two.", "charlie three."]
    assert [u.scores[0] for u in explanation.units] == [1.0, 2.0, 0.5]


@pytest.mark.parametrize(
    "options",
    [
        {"levels": ()},
        {"levels": ("phrase", "sentence")},
        {"levels": ("sentence", "sentence")},
        {"levels": ("paragraph",)},
        {"method": "shap"},
        {"refine_top_k": 0},
        {"batch_size": 0},
        {"segment_level": "word"},
    ],
)
def test_bad_engine_options_raise(options: dict) -> None:
    with pytest.raises(InvalidInputError):
        MExGen(GameScalarizer([], lambda p: [0.0]), **options)


def test_nothing_to_perturb_raises() -> None:
    engine = MExGen(GameScalarizer([], lambda p: [0.0]), levels=("sentence",))
    with pytest.raises(InvalidInputError):
        engine.explain([Segment(text="fixed", fixed=True), Segment(text="...")])


def test_scalarizer_with_wrong_shape_is_reported() -> None:
    class Broken(GameScalarizer):
        def scalarize(self, prompts):
            return np.zeros((len(prompts), 3))

    engine = MExGen(Broken(PLAYERS, lambda p: [0.0]), levels=("sentence",))
    with pytest.raises(InvalidInputError, match="shape"):
        engine.explain(sentences(PLAYERS[:2]))


def test_unit_text_and_parent() -> None:
    unit = Unit(spans=((0, 0, 5), (1, 0, 3)), level="document")
    assert unit.text([Segment(text="alpha one"), Segment(text="two")]) == "alpha two"


def test_adjacent_removed_units_share_one_replacement() -> None:
    segments = [Segment(text=DOCS[0])]
    parts = build_units(segments, "phrase", segment_level="sentence", segmenter=CommaSegmenter())
    game = PerturbationGame(
        segments, ContextTemplate(), GameScalarizer([], lambda p: [0.0]), replacement="[...]"
    )
    assert game.prompt(game.key(parts, [0, 1])) == "[...]charlie three."
    assert game.prompt(game.key(parts, [0, 2])) == "[...]bravo two, [...]"
