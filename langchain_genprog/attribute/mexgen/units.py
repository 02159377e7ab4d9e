"""Segments, perturbable units and the removal keys that identify perturbations.

The model input is a list of *segments* (source sentences, document headers,
anything the prompt template lays out). A *unit* is what MExGen attributes
to: a set of character spans inside segments — a whole document (several
segments), one sentence (a whole segment), or a phrase or word (a sub-span).

A perturbation removes a set of units. It is identified by its
:data:`RemovalKey`: the removed character spans, sorted and with adjacent or
overlapping spans merged. Two removals that blank exactly the same characters
therefore share a key — removing every phrase of a sentence *is* removing the
sentence — which is what lets a finer level reuse the measurements made at a
coarser one. For the same reason, adjacent removed units are replaced by a
single replacement string.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

Level = Literal["document", "sentence", "phrase", "word"]
"""Granularity of a unit, coarsest first."""

LEVELS: tuple[Level, ...] = ("document", "sentence", "phrase", "word")
"""All levels, coarsest first."""

SpanRef = tuple[int, int, int]
"""``(segment index, start, end)``: characters ``start:end`` of one segment's text."""

RemovalKey = tuple[SpanRef, ...]
"""A perturbation: the removed spans, sorted, adjacent spans merged. ``()`` is the original."""


class Segment(BaseModel):
    """One piece of the model input, as the prompt template lays it out.

    Attributes:
        text: The text.
        fixed: Never perturbed nor attributed to (instructions, headers,
            sentences outside the candidate set).
        label: Shown before the text by a numbering template (e.g. ``S7``).
        group: Groups segments into documents for the ``document`` level;
            segments with ``None`` are their own group.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    fixed: bool = False
    label: str | None = None
    group: int | None = None


class Segmenter(Protocol):
    """Splits a text into units of a level (see :class:`~.segmenter.SpacySegmenter`)."""

    def split(self, text: str, level: Level) -> list[tuple[int, int]]:
        """Return ``(start, end)`` spans that tile ``text`` (no character left out)."""
        ...


@dataclass(frozen=True)
class Unit:
    """A perturbable unit.

    Attributes:
        spans: The characters it covers, in order.
        level: Its granularity.
        parent: Index of the unit it was refined from, in the previous level.
    """

    spans: tuple[SpanRef, ...]
    level: Level
    parent: int | None = None

    def text(self, segments: Sequence[Segment]) -> str:
        """The unit's text (spans of several segments are joined by a space)."""
        return " ".join(segments[seg].text[start:end] for seg, start, end in self.spans)


def level_rank(level: Level) -> int:
    """0 for ``document`` up to 3 for ``word``."""
    return LEVELS.index(level)


def removal_key(units: Iterable[Unit]) -> RemovalKey:
    """The canonical key of removing ``units`` together."""
    return merge_spans(span for unit in units for span in unit.spans)


def merge_spans(spans: Iterable[SpanRef]) -> RemovalKey:
    """Sort spans and merge those that overlap or touch (within one segment)."""
    merged: list[SpanRef] = []
    for seg, start, end in sorted(spans):
        if start >= end:
            continue
        if merged and merged[-1][0] == seg and start <= merged[-1][2]:
            prev = merged[-1]
            merged[-1] = (seg, prev[1], max(prev[2], end))
        else:
            merged.append((seg, start, end))
    return tuple(merged)


def covers(key: RemovalKey, span: SpanRef) -> bool:
    """Whether ``span`` lies inside one of the merged spans of ``key``."""
    seg, start, end = span
    return any(k_seg == seg and k_start <= start and end <= k_end for k_seg, k_start, k_end in key)


def apply_removal(segments: Sequence[Segment], key: RemovalKey, replacement: str) -> list[str]:
    """Segment texts with every span of ``key`` replaced by ``replacement``."""
    texts = [segment.text for segment in segments]
    # Right to left inside a segment so earlier offsets stay valid.
    for seg, start, end in sorted(key, reverse=True):
        text = texts[seg]
        texts[seg] = text[:start] + replacement + text[end:]
    return texts


def has_content(text: str) -> bool:
    """Whether ``text`` has a letter or digit (punctuation-only units are never perturbed)."""
    return any(ch.isalnum() for ch in text)


def build_units(
    segments: Sequence[Segment],
    level: Level,
    *,
    segment_level: Level,
    segmenter: Segmenter | None,
) -> list[Unit]:
    """Units of ``level`` over every non-fixed segment, in reading order.

    Args:
        segments: The model input.
        level: Level of the units to build.
        segment_level: What one segment is (usually ``sentence``). Levels
            coarser than it group segments (``document`` groups by
            :attr:`Segment.group`); finer levels split segments.
        segmenter: Splits segments for levels finer than ``segment_level``.
    """
    free = [i for i, seg in enumerate(segments) if not seg.fixed]
    units: list[Unit] = []
    if level_rank(level) < level_rank(segment_level):
        groups: dict[tuple[str, int], list[int]] = {}
        for i in free:
            group = segments[i].group
            key = ("group", group) if group is not None else ("segment", i)
            groups.setdefault(key, []).append(i)
        for members in groups.values():
            spans = tuple((i, 0, len(segments[i].text)) for i in members)
            units.append(Unit(spans=spans, level=level))
    else:
        for i in free:
            whole = Unit(spans=((i, 0, len(segments[i].text)),), level=segment_level)
            units.extend(split_unit(whole, segments, level, segment_level, segmenter, parent=None))
    units = [u for u in units if has_content(u.text(segments))]
    return sorted(units, key=lambda u: u.spans[0])


def split_unit(
    unit: Unit,
    segments: Sequence[Segment],
    level: Level,
    segment_level: Level,
    segmenter: Segmenter | None,
    *,
    parent: int | None,
) -> list[Unit]:
    """The units of ``level`` inside ``unit`` (they tile it exactly).

    A level no finer than ``segment_level`` splits a multi-segment unit into
    its segments; a finer level runs the segmenter on each span.
    """
    children: list[Unit] = []
    for seg, start, end in unit.spans:
        if level_rank(level) <= level_rank(segment_level):
            pieces = [(start, end)]
        else:
            if segmenter is None:
                msg = f"a segmenter is needed to split units into {level}s"
                raise ValueError(msg)
            text = segments[seg].text[start:end]
            pieces = [(start + s, start + e) for s, e in segmenter.split(text, level)]
            pieces = _absorb_empty(segments[seg].text, pieces)
        for s, e in pieces:
            child = Unit(spans=((seg, s, e),), level=level, parent=parent)
            if has_content(child.text(segments)):
                children.append(child)
    return children


def _absorb_empty(text: str, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge pieces without a letter or digit into their left (else right) neighbour.

    Keeps the children tiling their parent, so that removing all of them is
    the same perturbation (the same key) as removing the parent.
    """
    out: list[tuple[int, int]] = []
    pending_start: int | None = None
    for start, end in sorted(pieces):
        if has_content(text[start:end]):
            if pending_start is not None:
                start, pending_start = pending_start, None
            out.append((start, end))
        elif out:
            out[-1] = (out[-1][0], end)
        elif pending_start is None:
            pending_start = start
    return out
