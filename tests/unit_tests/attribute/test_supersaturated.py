"""The supersaturated design: columns shared across outputs, never within one."""

from __future__ import annotations

import numpy as np
import pytest

from langchain_genprog.attribute.mexgen.supersaturated import (
    SupersaturatedDesign,
    assign_columns,
)
from langchain_genprog.errors import InvalidInputError


def measure(design: SupersaturatedDesign, values: np.ndarray) -> np.ndarray:
    """Run the design on the additive game ``v(S) = 5 - sum of values[S]``."""
    n, n_outputs = values.shape
    plan = design.plan(n, np.random.default_rng(0))
    observations = {s: 5.0 - values[sorted(s)].sum(axis=0) for s in plan.subsets}
    return design.estimate(n, n_outputs, observations, plan)


def test_recovers_each_outputs_values_from_fewer_rows_than_units() -> None:
    rng = np.random.default_rng(0)
    n_outputs, per = 12, 5
    owners = [{u // per} for u in range(n_outputs * per)]  # 60 units, 16 rows
    values = np.zeros((len(owners), n_outputs))
    for u, owned in enumerate(owners):
        values[u, next(iter(owned))] = rng.uniform(0.1, 2.0)
    design = SupersaturatedDesign(owners, rng.random(values.shape), rows=16)
    assert len(design.plan(len(owners), rng).subsets) == 16
    scores = measure(design, values)
    for u, owned in enumerate(owners):
        j = next(iter(owned))
        assert scores[u, j] == pytest.approx(values[u, j], abs=1e-9)
    for j in range(n_outputs):
        read = ~np.isnan(scores[:, j])
        assert read.sum() == 15  # one unit per column: its picks and 10 others
        assert scores[read, j][values[read, j] == 0] == pytest.approx(0.0, abs=1e-9)


def test_units_of_one_output_never_share_a_column() -> None:
    rng = np.random.default_rng(1)
    n_units, n_outputs = 40, 12
    owners = [
        {int(j) for j in rng.choice(n_outputs, size=2, replace=False)} for _ in range(n_units)
    ]
    columns, measured_for = assign_columns(owners, rng.random((n_units, n_outputs)), 15)
    for u in range(n_units):
        for v in range(u + 1, n_units):
            if columns[u] == columns[v] and columns[u] >= 0:
                assert not measured_for[u] & measured_for[v]


def test_shared_columns_pair_units_irrelevant_to_each_others_outputs() -> None:
    """Aliasing lands where the priors say the other unit does not matter."""
    owners = [{0}, {0}, {0}, {1}, {1}, {1}]
    affinity = np.array(
        [[0.6, 0.8], [0.6, 0.1], [0.6, 0.5], [0.9, 0.5], [0.1, 0.4], [0.1, 0.3]]
    )  # unit 3 (output 1's) is relevant to output 0; unit 1 is the least relevant to output 1
    columns, measured_for = assign_columns(owners, affinity, 3)
    assert columns[3] == columns[1]
    assert measured_for == owners
    assert sorted(columns[:3]) == [0, 1, 2]  # output 0's units: one column each


def test_an_alias_biases_only_the_output_that_owns_the_column() -> None:
    """A unit that also moves another output adds its effect to its column-mate there."""
    owners = [{0}, {1}]
    values = np.array([[1.0, 0.0], [0.5, 2.0]])  # unit 1 also supports output 0
    design = SupersaturatedDesign(owners, np.zeros((2, 2)), rows=4)
    scores = measure(design, values)
    if design.columns[0] == design.columns[1]:  # shared: output 0 sees 1.0 + 0.5
        assert scores[0, 0] == pytest.approx(1.5)
    else:  # own columns: exact
        assert scores[0, 0] == pytest.approx(1.0)
    assert scores[1, 1] == pytest.approx(2.0)


def test_a_unit_that_finds_no_column_is_measured_for_fewer_outputs() -> None:
    """Four units clashing pairwise need four columns; with three one output drops a unit."""
    owners = [{0, 1}, {0, 2}, {1, 2}, {0, 1, 2}]
    _, measured_for = assign_columns(owners, np.ones((4, 3)), 3)
    dropped = [(u, owners[u] - measured_for[u]) for u in range(4) if measured_for[u] != owners[u]]
    assert len(dropped) == 1 and len(dropped[0][1]) == 1
    design = SupersaturatedDesign(owners, np.ones((4, 3)), rows=4)
    u, (j,) = dropped[0][0], tuple(dropped[0][1])
    values = np.zeros((4, 3))
    for v, owned in enumerate(owners):
        values[v, sorted(owned)] = 1.0 + v
    scores = measure(design, values)
    assert np.isnan(scores[u, j])  # not measured rather than misread
    for v in range(4):
        for k in design.measured_for[v]:
            mates = [w for w in range(4) if w != v and design.columns[w] == design.columns[v]]
            assert scores[v, k] == pytest.approx(values[v, k] + values[mates, k].sum())


def test_bad_designs_raise() -> None:
    with pytest.raises(InvalidInputError, match="owner"):
        SupersaturatedDesign([{0}, set()], np.zeros((2, 1)))
    with pytest.raises(InvalidInputError, match="columns"):
        SupersaturatedDesign([{0}] * 4, np.zeros((4, 1)), rows=4)
    with pytest.raises(InvalidInputError, match="affinity"):
        SupersaturatedDesign([{0}], np.zeros((2, 1)))
    with pytest.raises(InvalidInputError, match="4 rows"):
        SupersaturatedDesign([{0}], np.zeros((1, 1)), rows=2)


def test_few_units_get_a_column_each_and_the_fold_over() -> None:
    """Six units in 16 rows: an 8-row block and its complement, every unit read by all."""
    owners = [{0}, {0}, {0}, {1}, {1}, {1}]
    values = np.arange(12, dtype=float).reshape(6, 2) / 10
    design = SupersaturatedDesign(owners, np.zeros((6, 2)), rows=16)
    plan = design.plan(6, np.random.default_rng(0))
    assert len(plan.subsets) == 16 and sorted(design.columns) == list(range(6))
    scores = measure(design, values)
    assert scores == pytest.approx(values)  # every unit measured for every output


def test_removals_that_split_a_column_are_not_read_as_the_column() -> None:
    owners = [{u % 12} for u in range(24)]  # 24 units in 15 columns: some share
    values = np.zeros((24, 12))
    for u in range(24):
        values[u, u % 12] = 1.0 + u / 10
    design = SupersaturatedDesign(owners, np.zeros((24, 12)), rows=16)
    plan = design.plan(24, np.random.default_rng(0))
    observations = {s: 5.0 - values[sorted(s)].sum(axis=0) for s in plan.subsets}
    shared = next(c for c in set(design.columns) if design.columns.count(c) > 1)
    lone = frozenset({design.columns.index(shared)})  # one unit of a shared column
    observations[lone] = np.full(12, -100.0)  # would wreck the fit if it were read
    scores = design.estimate(24, 12, observations, plan)
    for u in range(24):
        assert scores[u, u % 12] == pytest.approx(values[u, u % 12], abs=1e-9)
