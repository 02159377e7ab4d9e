"""Documented size limits, in one place.

Every input and every model output the package accepts is bounded, so that a
hostile or broken caller (or model) gets a typed error or a reported issue
instead of a run that never ends or a result that does not fit in memory.
The values are generous: they are far above what a planner can use (it sees a
token budget of the sources) and exist only to turn a runaway into a clear
message. Change them here; nothing else hard-codes them.
"""

from __future__ import annotations

MAX_DOCUMENT_CHARS = 5_000_000
"""Most characters in one source document (about 5 MB of text).

Segmentation is near-linear (about 3 s of CPU per MB), so this bounds the
``segment`` step to seconds. Past it, :class:`~langchain_genprog.errors.InvalidSourcesError`.
"""

MAX_TOTAL_CHARS = 20_000_000
"""Most characters over all source documents together."""

MAX_DOCUMENTS = 10_000
"""Most source documents in one run."""

MAX_BLOCK_CHARS = 2_000
"""Largest piece of text handed to the sentence splitter at once.

pySBD's time grows faster than linearly with its input, so documents are cut
into blocks first (at blank lines, else at the safest boundary found; see
:mod:`langchain_genprog.segment.blocks`). It also bounds the length of a source
sentence: a run of text with no sentence boundary is cut at a line break or
space so that no sentence is longer than this.
"""

MAX_TITLE_CHARS = 200
"""Most characters of a document title (or other metadata) shown to a model."""

MAX_PLANNER_REPLY_CHARS = 100_000
"""Most characters of a planner reply that are parsed; the rest is reported."""

MAX_PLANNER_REPLY_LINES = 500
"""Most non-blank lines of a planner reply that are parsed; the rest is reported."""

MAX_ISSUES = 20
"""Most issues kept in a result; the rest are summarized by one ``... and K more`` issue."""

MAX_OUTPUT_SENTENCE_CHARS = 4_000
"""Longest answer sentence an operation may return; a longer reply is invalid.

With at most ``max_sentences`` program lines, this bounds the answer length too.
"""
