"""A leaf's text leaves out a headline glued to its sentence (told apart by its own line)."""

from __future__ import annotations

from langchain_core.documents import Document

from langchain_genprog.execute.executor import _sentence_text
from langchain_genprog.segment.sources import Sources


def _one_sentence(text: str) -> Sources:
    return Sources.from_documents([Document(page_content=text, metadata={"sentences": [text]})])


def test_a_leaf_drops_its_headline_and_credit_lines() -> None:
    sources = _one_sentence(
        "In 11 States Pick Governors\nJim Cole / AP\nVoters in 11 states will pick governors."
    )
    assert _sentence_text(sources, 1) == ("Voters in 11 states will pick governors.", None)


def test_a_hard_wrapped_leaf_is_kept_whole() -> None:
    sources = _one_sentence("The company said on\nTuesday that it would close.")
    assert _sentence_text(sources, 1) == ("The company said on Tuesday that it would close.", None)
