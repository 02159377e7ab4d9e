"""Helpers shared by the scoring backends (pure Python, no heavy imports)."""

from __future__ import annotations

from collections.abc import Sequence


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def batch_common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Longest prefix shared by every row (0 for no rows)."""
    if not rows:
        return 0
    first = rows[0]
    length = len(first)
    for row in rows[1:]:
        length = min(length, common_prefix_length(first[:length], row))
        if length == 0:
            break
    return length


def prefix_sharing_order(rows: Sequence[Sequence[int]]) -> list[int]:
    """Indices of ``rows`` in lexicographic order.

    Sorting makes rows with long common prefixes neighbours, which is what
    prefix (KV-cache) reuse needs: MExGen's perturbations of one prompt differ
    from the first removed unit on, so sorted neighbours share everything
    before it.
    """
    return sorted(range(len(rows)), key=lambda i: list(rows[i]))


def byte_spans_to_char_spans(
    text: str, byte_spans: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Convert ``(start, end)`` UTF-8 byte offsets in ``text`` to character offsets.

    Byte-level BPE tokens may end inside a multi-byte character; such a
    boundary is rounded down to that character, so spans stay inside the
    text and keep their order.
    """
    char_at = [0] * (len(text.encode("utf-8")) + 1)
    position = 0
    for index, char in enumerate(text):
        width = len(char.encode("utf-8"))
        for k in range(width):
            char_at[position + k] = index
        position += width
    char_at[position] = len(text)
    last = len(char_at) - 1
    return [(char_at[min(s, last)], char_at[min(e, last)]) for s, e in byte_spans]


def prefix_sharing_batches(rows: Sequence[Sequence[int]], batch_size: int) -> list[list[int]]:
    """Group row indices into batches whose rows share long common prefixes.

    Lexicographic order alone is not enough: MExGen's leave-one-out rows sort
    into a "comb" where rows that diverge early sit next to rows that diverge
    late, and a batch shares only its shortest prefix. Each row is therefore
    ranked by how deep it branches off its lexicographic neighbours (its
    longest common prefix with either), deepest first, so that rows that
    diverge late are batched together.

    Args:
        rows: Token sequences.
        batch_size: Most rows per batch (at least 1).

    Returns:
        Batches of indices into ``rows``; every index appears exactly once.
    """
    order = prefix_sharing_order(rows)
    rank = {index: position for position, index in enumerate(order)}
    depth: dict[int, int] = {}
    for position, index in enumerate(order):
        left = common_prefix_length(rows[order[position - 1]], rows[index]) if position > 0 else 0
        right = (
            common_prefix_length(rows[index], rows[order[position + 1]])
            if position + 1 < len(order)
            else 0
        )
        depth[index] = max(left, right)
    grouped = sorted(order, key=lambda index: (-depth[index], rank[index]))
    return [grouped[k : k + batch_size] for k in range(0, len(grouped), batch_size)]
