from __future__ import annotations

import pytest
from langchain_core.documents import Document

from langchain_genprog.errors import InvalidSourcesError
from langchain_genprog.segment import Sources, split_sentences
from langchain_genprog.segment.selection import select_sentences


def test_numbering_is_global_and_offsets_are_exact() -> None:
    docs = [
        Document(
            page_content="Dr. Smith arrived at 3.30 p.m. today. He left soon after!",
            metadata={"title": "A"},
        ),
        'Second doc. It has {braces} and "quotes".',
    ]
    sources = Sources.from_documents(docs)
    assert [s.id for s in sources.sentences] == [1, 2, 3, 4]
    assert [(s.doc_index, s.sent_index) for s in sources.sentences] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    for s in sources.sentences:
        assert sources.documents[s.doc_index].text[s.start : s.end] == s.text
    assert sources.sentence(1).text == "Dr. Smith arrived at 3.30 p.m. today."
    assert sources.sentence(4).text == 'It has {braces} and "quotes".'
    assert sources.documents[0].title == "A"
    assert sources.documents[1].title == "Document 2"


def test_render_groups_by_document_and_collapses_whitespace() -> None:
    sources = Sources.from_documents(["One.\nTwo  words.", "Three."])
    assert sources.render() == "# Document 1\nS1: One.\nS2: Two words.\n# Document 2\nS3: Three."
    assert sources.render([3, 1], with_documents=False) == "S1: One.\nS3: Three."


def test_presplit_sentences_keep_dataset_indices() -> None:
    doc = Document(page_content="", metadata={"sentences": ["Title ", "\n", "Body text here."]})
    sources = Sources.from_documents([doc])
    assert len(sources) == 3
    assert sources.citable_ids == [1, 3]
    assert sources.global_id(0, 2) == 3
    assert "sentences" not in sources.documents[0].metadata


def test_presplit_sentence_not_in_text_is_an_error() -> None:
    doc = Document(page_content="Alpha. Beta.", metadata={"sentences": ["Alpha.", "Gamma."]})
    with pytest.raises(InvalidSourcesError, match="does not occur"):
        Sources.from_documents([doc])


@pytest.mark.parametrize(
    ("docs", "fragment"),
    [
        ([], "no source documents"),
        (["ok", "   \n"], "document 1 is empty"),
        ([b"\xff\xfe bad"], "not valid UTF-8"),
        ([42], "has type int"),
        ("just a string", "not a single document"),
    ],
)
def test_bad_sources_have_clear_errors(docs: object, fragment: str) -> None:
    with pytest.raises(InvalidSourcesError, match=fragment):
        Sources.from_documents(docs)  # type: ignore[arg-type]


def test_utf8_bytes_are_accepted() -> None:
    sources = Sources.from_documents(["Café.".encode()])
    assert sources.sentence(1).text == "Café."


def test_unknown_sentence_id() -> None:
    sources = Sources.from_documents(["One. Two."])
    with pytest.raises(KeyError, match=r"S1\.\.S2"):
        sources.sentence(3)


def test_splitter_covers_all_text() -> None:
    text = "First one. Second one?  Third one!\n\nFourth without end"
    spans = split_sentences(text)
    covered = "".join(text[s:e] for s, e in spans)
    assert covered.replace(" ", "") == text.replace(" ", "").replace("\n", "")


def test_selection_respects_budget_and_reports_drop() -> None:
    # "topic 7." would be split after the number; "at length." keeps each sentence whole.
    docs = [" ".join(f"Sentence number {i} talks about topic {i} at length." for i in range(40))]
    sources = Sources.from_documents(docs)
    selection = select_sentences(sources, "topic 7", token_budget=60)
    assert 0 < len(selection.ranked_ids) < 40
    assert selection.ranked_ids[0] == 8  # "Sentence number 7 ..." is S8
    assert selection.dropped == 40 - len(selection.ranked_ids)
    assert "left out" in selection.describe()
    everything = select_sentences(sources, None, content_only=False)
    assert everything.dropped == 0 and everything.method == "all"


def test_splitting_is_thread_safe() -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [
        f"Doc {k} first sentence. Doc {k} has a second one. And a third {k}." for k in range(40)
    ]
    expected = [[text[s:e] for s, e in split_sentences(text)] for text in texts]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda t: [t[s:e] for s, e in split_sentences(t)], texts * 5))
    assert got == expected * 5
