"""Issue 11, item 2: segmentation is near-linear and its offsets stay exact for any text."""

from __future__ import annotations

import random
import time
from typing import Any

import pysbd
from hypothesis import given
from hypothesis import strategies as st

from langchain_genprog.limits import MAX_BLOCK_CHARS
from langchain_genprog.segment import Sources, split_sentences
from langchain_genprog.segment.blocks import split_blocks
from tests.unit_tests.fuzz import fuzz

# Sentence-like material, so that the splitter's abbreviation, number and quote
# rules are exercised, mixed with arbitrary Unicode (controls, surrogates'
# neighbours, combining marks, CJK, RTL, NUL ...).
_PIECES = st.sampled_from(
    [
        "Dr. Smith paid $3.5 million. ",
        "He left at 3 p.m. on Monday! ",
        '"Stop," she said. ',
        "U.S. officials agreed?\n",
        "\n\n",
        "\n",
        "   ",
        "第一句。第二句！",
        "مرحبا بالعالم. ",
        "e\u0301\u0301. ",
        "\x00\x1b[0m\u202e. ",
        "no punctuation at all here ",
    ]
)
_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=40)), max_size=40).map("".join)


def _assert_exact(text: str, spans: list[tuple[int, int]]) -> None:
    previous_end = 0
    for start, end in spans:
        assert 0 <= previous_end <= start < end <= len(text)
        # Nothing but whitespace is ever left between sentences.
        assert not text[previous_end:start].strip()
        previous_end = end
    assert not text[previous_end:].strip()


@fuzz(150)
@given(_TEXT)
def test_sentence_offsets_map_back_exactly_for_any_unicode(text: str) -> None:
    spans = split_sentences(text)
    _assert_exact(text, spans)
    if text.strip():
        sources = Sources.from_documents([text])
        doc = sources.documents[0]
        for sentence in sources.sentences:
            assert doc.text[sentence.start : sentence.end] == sentence.text
            assert sentence.text.strip()


@fuzz(150)
@given(_TEXT, st.integers(min_value=2, max_value=60))
def test_blocks_cover_the_text_within_the_limit(text: str, limit: int) -> None:
    blocks = split_blocks(text, limit, abbreviations={"dr"})
    _assert_exact(text, blocks)
    assert all(end - start <= limit for start, end in blocks)


def test_pysbd_never_sees_more_than_one_block(monkeypatch: Any) -> None:
    # Before the fix the whole document went to pySBD in one call (and through its
    # quadratic character-span pass), so a 2 MB document took many minutes.
    seen: list[int] = []
    original = pysbd.Segmenter.processor

    def spy(self: Any, text: str) -> Any:
        seen.append(len(text))
        return original(self, text)

    def forbidden(self: Any, text: str) -> Any:
        raise AssertionError("the quadratic Segmenter.segment pass must not run")

    monkeypatch.setattr(pysbd.Segmenter, "processor", spy)
    monkeypatch.setattr(pysbd.Segmenter, "segment", forbidden)
    text = "The council met again on Monday. " * 600  # 20 KB, one line
    spans = split_sentences(text)
    assert len(spans) == 600
    assert seen and max(seen) <= MAX_BLOCK_CHARS


def test_blank_lines_and_line_breaks_never_change_sentences() -> None:
    # pySBD ends a sentence at every line break, so cutting there is exact.
    text = "First line\nsecond line. Dr. Who came.\n\nNew paragraph here. And more."
    pieces = [text[s:e] for s, e in split_sentences(text)]
    assert pieces == [
        "First line",
        "second line.",
        "Dr. Who came.",
        "New paragraph here.",
        "And more.",
    ]


def test_long_paragraph_is_cut_at_sentence_ends_not_abbreviations() -> None:
    rng = random.Random(0)
    words = ["Dr.", "Smith", "and", "the", "U.S.", "team", "met", "at", "3", "p.m.", "on"]
    sentences = [" ".join(rng.choice(words) for _ in range(12)) + "." for _ in range(300)]
    text = " ".join(s[0].upper() + s[1:] for s in sentences)
    blocks = split_blocks(text, 500, abbreviations={"dr"})
    for start, _ in blocks[1:]:
        before = text[:start].rstrip()
        assert before.endswith(".") and not before.endswith(("Dr.", "U.S.", "p.m."))


def test_segmentation_is_near_linear() -> None:
    # A smoke bound, not a benchmark: 300 KB on one line took about 60 s of CPU
    # before the fix (quadratic); now it takes about 1 s.
    text = " ".join(
        f"Sentence {k} mentions Dr. Smith, the U.S. budget and {k % 7} parks." for k in range(4500)
    )
    started = time.process_time()
    spans = split_sentences(text)
    assert time.process_time() - started < 20
    assert len(spans) == 4500
