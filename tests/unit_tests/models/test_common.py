from __future__ import annotations

from langchain_genprog.models._common import (
    batch_common_prefix_length,
    byte_spans_to_char_spans,
    common_prefix_length,
    prefix_sharing_order,
)


def test_common_prefix_lengths() -> None:
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2
    assert common_prefix_length([], [1]) == 0
    assert batch_common_prefix_length([[1, 2, 3, 4], [1, 2, 3], [1, 2, 9]]) == 2
    assert batch_common_prefix_length([[5, 1], [6, 1]]) == 0
    assert batch_common_prefix_length([]) == 0


def test_prefix_sharing_order_groups_shared_prefixes() -> None:
    rows = [[1, 9, 9], [2, 1], [1, 2, 3], [1, 9, 1]]
    order = prefix_sharing_order(rows)
    assert order == [2, 3, 0, 1]
    assert sorted(order) == list(range(len(rows)))


def test_byte_spans_map_to_characters_with_multibyte_text() -> None:
    text = "é a€b"  # é: 2 bytes, €: 3 bytes
    # bytes: é=0..2, ' '=2, a=3, €=4..7, b=7
    spans = [(0, 2), (2, 4), (4, 5), (5, 7), (7, 8)]
    # (4, 5) ends inside "€": rounded down to the character it starts in.
    assert byte_spans_to_char_spans(text, spans) == [(0, 1), (1, 3), (3, 3), (3, 4), (4, 5)]
