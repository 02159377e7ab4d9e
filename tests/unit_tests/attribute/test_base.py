"""The attributed-answer data model: joining sentences into an answer."""

from __future__ import annotations

import pytest

from langchain_genprog.attribute.base import join_sentences


def test_join_sentences_offsets_point_into_the_answer() -> None:
    answer, sentences = join_sentences(["One fact.", "Two facts here.", "Three."])
    assert answer == "One fact. Two facts here. Three."
    assert [s.index for s in sentences] == [0, 1, 2]
    assert [answer[s.start : s.end] for s in sentences] == [s.text for s in sentences]
    assert [s.leaf_ids for s in sentences] == [[], [], []]


def test_join_sentences_separator_and_leaves() -> None:
    leaves = [(3, 1), [2]]
    answer, sentences = join_sentences(["A b.", "C d."], leaves, separator="\n")
    assert answer == "A b.\nC d."
    assert [(s.start, s.end) for s in sentences] == [(0, 4), (5, 9)]
    assert [s.leaf_ids for s in sentences] == [[3, 1], [2]]


def test_join_sentences_empty() -> None:
    assert join_sentences([]) == ("", [])


def test_join_sentences_leaves_must_match() -> None:
    with pytest.raises(ValueError):
        join_sentences(["A b.", "C d."], [[1]])
