"""Text as it is shown to a model or copied into an answer.

Source text is stored exactly as given, so that every sentence's offsets map
back to the original document. What leaves the package — a prompt line, an
extracted answer sentence, a title — goes through :func:`display_text` first:
control characters (NUL, escape codes, bidirectional overrides) are dropped
and whitespace, newlines included, collapses to single spaces. A newline in a
title could otherwise forge a source line (``Report``, a line break, then
``S1: ...``) in the planner prompt, and a NUL copied into an answer breaks
downstream consumers.
"""

from __future__ import annotations

import re
import unicodedata

from langchain_genprog.limits import MAX_TITLE_CHARS

# C0/C1 controls that Python does not count as whitespace (those that it does,
# such as \x0b or \x1c, are collapsed like spaces instead, so that words stay
# apart), the bidirectional embedding/override/isolate controls (they reorder
# what a reader sees), lone surrogates (they cannot be encoded for a model API)
# and the byte-order mark.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]"
)


def strip_controls(text: str) -> str:
    """Drop control characters that have no place in prose; keep whitespace."""
    return _INVISIBLE.sub("", text)


def display_text(text: str) -> str:
    """``text`` without control characters, with whitespace runs collapsed to one space."""
    return " ".join(strip_controls(text).split())


def display_title(value: object, *, limit: int = MAX_TITLE_CHARS) -> str:
    """A metadata value as one bounded line, safe to show inside a prompt.

    Args:
        value: A title, source name or other metadata value.
        limit: Most characters kept; a longer value is cut and ends with ``…``.
    """
    shown = display_text(unicodedata.normalize("NFC", str(value)))
    if len(shown) > limit:
        shown = shown[: limit - 1].rstrip() + "…"
    return shown
