from __future__ import annotations

from langchain_genprog.models._common import (
    batch_common_prefix_length,
    byte_spans_to_char_spans,
    common_prefix_length,
    prefix_sharing_batches,
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


def _leave_one_out(units: int, width: int = 3) -> list[list[int]]:
    """Rows made of ``units`` distinct units of ``width`` tokens, each with one unit removed."""
    # Unit ids in shuffled order, so rows sort into a "comb" (early and late
    # divergers interleaved), as real token ids do.
    shuffled = [3, 7, 1, 6, 0, 5, 2, 4, 8, 9][:units]
    text = [[100 * shuffled[u] + k for k in range(width)] for u in range(units)]
    return [[t for j, unit in enumerate(text) if j != i for t in unit] for i in range(units)]


def test_batches_cover_every_row_once() -> None:
    rows = _leave_one_out(7)
    batches = prefix_sharing_batches(rows, 3)
    assert sorted(i for batch in batches for i in batch) == list(range(7))
    assert all(1 <= len(batch) <= 3 for batch in batches)


def test_batches_group_rows_that_diverge_late() -> None:
    rows = _leave_one_out(8)
    batches = prefix_sharing_batches(rows, 4)
    assert [sorted(batch) for batch in batches] == [[4, 5, 6, 7], [0, 1, 2, 3]]

    def shared(groups: list[list[int]]) -> int:
        return sum(
            batch_common_prefix_length([rows[i] for i in group]) * (len(group) - 1)
            for group in groups
        )

    order = prefix_sharing_order(rows)
    plain = [order[k : k + 4] for k in range(0, len(order), 4)]
    assert shared(batches) > shared(plain)
