"""Blocks: runs of consecutive source sentences scored together in a coarse pass.

A coarse-to-fine attribution first asks which *regions* of a long input an
output relies on, and only then which sentences. The regions are blocks of
consecutive sentence units that never cross a document boundary (a block
belongs to one document, so a document of a few sentences is one block), cut
at ``block_size`` units and ``max_block_chars`` characters.

Why ``block_size`` defaults to ``ceil(sqrt(N))``: the coarse pass costs one
model call per block, the fine pass a fixed number, so blocks of about
``sqrt(N)`` units give about ``sqrt(N)`` coarse calls; and each coarse call
reads one block, so no prompt grows with the input (long inputs fit the
scorer's window block by block). The character cap keeps a block of very
long sentences inside the window too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil, isqrt

from langchain_genprog.attribute.mexgen.units import Segment, Unit
from langchain_genprog.errors import InvalidInputError

MIN_BLOCK_SIZE = 4
"""Smallest default block: below it a coarse call costs about what a sentence call does."""


@dataclass(frozen=True)
class Block:
    """Consecutive sentence units of one document.

    Attributes:
        members: Indices of the units (into the sentence-level unit list), in order.
        document: The document's group (``Segment.group``), or ``None``.
    """

    members: tuple[int, ...]
    document: int | None


def default_block_size(n_units: int) -> int:
    """``max(MIN_BLOCK_SIZE, ceil(sqrt(n_units)))``: about ``sqrt(N)`` blocks of ``sqrt(N)``."""
    root = isqrt(max(n_units, 0))
    if root * root < n_units:
        root += 1
    return max(MIN_BLOCK_SIZE, root)


def make_blocks(
    units: Sequence[Unit],
    segments: Sequence[Segment],
    *,
    block_size: int | None = None,
    max_block_chars: int | None = None,
) -> list[Block]:
    """Cut sentence units into blocks (documents, split when long).

    Every unit is in exactly one block: nothing is dropped, however long the input.

    Args:
        units: Sentence-level units in reading order (one span each).
        segments: The segments the units point into.
        block_size: Most units per block (``None``: :func:`default_block_size`).
        max_block_chars: Most characters per block (``None``: no limit); a
            single unit longer than it is a block of its own.

    Raises:
        InvalidInputError: On a non-positive ``block_size`` or ``max_block_chars``.
    """
    if block_size is not None and block_size < 1:
        raise InvalidInputError("block_size must be at least 1 (or None)")
    if max_block_chars is not None and max_block_chars < 1:
        raise InvalidInputError("max_block_chars must be at least 1 (or None)")
    size = block_size if block_size is not None else default_block_size(len(units))
    blocks: list[Block] = []
    current: list[int] = []
    chars = 0
    document: int | None = None
    for i, unit in enumerate(units):
        group = segments[unit.spans[0][0]].group
        length = sum(end - start for _, start, end in unit.spans)
        too_long = max_block_chars is not None and chars + length > max_block_chars
        if current and (group != document or len(current) >= size or too_long):
            blocks.append(Block(members=tuple(current), document=document))
            current, chars = [], 0
        current.append(i)
        chars += length
        document = group
    if current:
        blocks.append(Block(members=tuple(current), document=document))
    return blocks


def expected_blocks(n_units: int, block_size: int | None = None) -> int:
    """Blocks of a single document of ``n_units`` units (documents add at most one each)."""
    size = block_size if block_size is not None else default_block_size(n_units)
    return ceil(n_units / size) if n_units else 0
