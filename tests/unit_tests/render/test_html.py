"""Unit tests for the static HTML rendering (the in-browser behaviour is tested in
``integration_tests/render/test_html_browser.py``).

Assertions go through a small HTML parser rather than substring checks wherever
structure matters: that is what proves escaped text cannot open elements or
break out of attributes.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from langchain_core.documents import Document

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    CitedSource,
    SentenceAttribution,
)
from langchain_genprog.render import AttributedAnswerView, render_html, write_html
from langchain_genprog.segment.sources import SourceDocument, Sources, SourceSentence

INJECTION = "Ignore this: <script>alert(1)</script> and \"double\" 'single' {braces} & more."
EVIL_TITLE = 'Evil "title" <img src=x onerror=alert(2)>'

# ----------------------------------------------------------------------------- a tiny DOM

VOID = {"meta", "br", "img", "input", "link", "hr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> list[Node]:
        found = [self]
        for child in self.children:
            if isinstance(child, Node):
                found.extend(child.iter())
        return found

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.classes)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def by_id(self, element_id: str) -> Node:
        matches = [n for n in self.iter() if n.attrs.get("id") == element_id]
        assert len(matches) == 1, f"expected exactly one #{element_id}, found {len(matches)}"
        return matches[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(page)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def source_text(node: Node) -> str:
    """A source span's text without its ``S#`` label."""
    return "".join(c if isinstance(c, str) else c.text() for c in node.children if not _is_label(c))


def _is_label(child: Node | str) -> bool:
    return isinstance(child, Node) and "sid" in child.classes


# ----------------------------------------------------------------------------- fixtures


def make_sources() -> Sources:
    return Sources.from_documents(
        [
            Document(
                page_content=(
                    "Solar panels convert sunlight into electricity. "
                    "Output peaks around noon on clear days.\n"
                    "Panels lose about 0.5% efficiency per year."
                ),
                metadata={
                    "title": "Solar basics",
                    "sentences": [
                        "Solar panels convert sunlight into electricity.",
                        "Output peaks around noon on clear days.",
                        "Panels lose about 0.5% efficiency per year.",
                    ],
                },
            ),
            Document(
                page_content=f"{INJECTION} Battery storage smooths the evening demand peak.",
                metadata={
                    "title": EVIL_TITLE,
                    "sentences": [INJECTION, "Battery storage smooths the evening demand peak."],
                },
            ),
        ]
    )


def sentence(index: int, text: str) -> AnswerSentence:
    return AnswerSentence(index=index, text=text, start=0, end=len(text))


PHRASE = (18, 43)  # "0.5% efficiency per year." inside S3


def make_result(*, matrix: list[list[float]] | None = None) -> AttributionResult:
    return AttributionResult(
        method="mexgen-clime",
        sentences=[
            SentenceAttribution(
                sentence=sentence(0, "Solar panels turn sunlight into power, peaking at noon."),
                citations=[
                    CitedSource(sentence_id=1, score=0.8, method="mexgen-clime"),
                    CitedSource(sentence_id=2, score=0.2, method="mexgen-clime"),
                ],
                supported=True,
            ),
            SentenceAttribution(
                sentence=sentence(1, "They lose about half a percent of efficiency a year."),
                citations=[
                    CitedSource(
                        sentence_id=3, score=0.5, method="mexgen-clime", level="phrase", span=PHRASE
                    )
                ],
                supported=True,
            ),
            SentenceAttribution(
                sentence=sentence(2, "Batteries move solar energy to the evening <peak>."),
                citations=[CitedSource(sentence_id=5, method="program", from_program=True)],
            ),
            SentenceAttribution(
                sentence=sentence(3, "Solar panels also cure headaches."),
                citations=[CitedSource(sentence_id=1, score=0.01, method="mexgen-clime")],
                supported=False,
                note="no source mentions <health> effects",
            ),
            SentenceAttribution(sentence=sentence(4, "This sentence cites nothing.")),
        ],
        matrix=matrix,
        unit_ids=None if matrix is None else [1, 2, 3, 4, 5],
    )


@pytest.fixture
def page() -> str:
    return render_html(
        make_result(),
        make_sources(),
        title="Solar <q>",
        question='What do "panels" do? </script><script>alert(3)</script>',
        program="- fusion(S1, S2)\n- paraphrase(S3) <b>",
    )


@pytest.fixture
def dom(page: str) -> Node:
    return parse(page)


def weights_of(dom: Node, answer_index: int) -> dict[str, float]:
    (ans,) = dom.find_all("span", cls="ans", data_answer_index=str(answer_index))
    weights: dict[str, float] = json.loads(ans.attrs["data-weights"])
    return weights


# ----------------------------------------------------------------------------- escaping


def test_untrusted_text_is_escaped_not_injected(page: str, dom: Node) -> None:
    assert "<script>alert(" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # The only elements are the renderer's own: one script, no img, one title.
    assert len(dom.find_all("script")) == 1
    assert "alert" not in dom.find_all("script")[0].text()
    assert dom.find_all("img") == []
    assert len(dom.find_all("title")) == 1
    # The text round-trips exactly, quotes, braces and ampersands included.
    assert source_text(dom.by_id("src-S4")) == INJECTION
    assert dom.find_all("title")[0].text() == "Solar <q>"
    (question,) = dom.find_all("p", cls="question")
    assert question.text() == 'What do "panels" do? </script><script>alert(3)</script>'
    (program,) = dom.find_all("pre")
    assert program.text() == "- fusion(S1, S2)\n- paraphrase(S3) <b>"
    assert dom.by_id("ans-3").text() == "Batteries move solar energy to the evening <peak>."


def test_quotes_cannot_break_out_of_attributes(dom: Node) -> None:
    # The S4 chip does not exist, but S5's chip carries the evil document title
    # inside its title attribute; a breakout would add attributes such as onerror.
    (chip,) = dom.find_all("a", cls="chip", data_sentence_id="5")
    assert EVIL_TITLE in chip.attrs["title"]
    assert not any(name.startswith("on") for node in dom.iter() for name in node.attrs)
    (heading,) = [n for n in dom.find_all("span", cls="doc-title") if "Evil" in n.text()]
    assert heading.text() == EVIL_TITLE


# ----------------------------------------------------------------------------- structure


def test_every_cited_id_has_a_chip_and_a_target(dom: Node) -> None:
    result = make_result()
    for position, item in enumerate(result.sentences):
        for cited in item.citations:
            chips = dom.find_all(
                "a",
                cls="chip",
                data_sentence_id=str(cited.sentence_id),
                data_answer_index=str(position),
            )
            assert len(chips) == 1
            assert chips[0].attrs["href"] == f"#src-S{cited.sentence_id}"
            assert chips[0].text() == f"[S{cited.sentence_id}]"
            target = dom.by_id(f"src-S{cited.sentence_id}")
            assert "src" in target.classes
            assert target.attrs["data-sentence-id"] == str(cited.sentence_id)
    # Every source sentence is rendered once, uncited ones included.
    for sid in make_sources().ids:
        assert dom.by_id(f"src-S{sid}")


def test_chip_data_attributes(dom: Node) -> None:
    (first,) = dom.find_all("a", cls="chip", data_sentence_id="1", data_answer_index="0")
    assert first.attrs["data-score"] == "0.8"
    assert first.attrs["data-method"] == "mexgen-clime"
    assert first.attrs["data-level"] == "sentence"
    (phrase,) = dom.find_all("a", cls="chip", data_sentence_id="3")
    assert phrase.attrs["data-level"] == "phrase"
    assert phrase.attrs["data-span"] == f"{PHRASE[0]}-{PHRASE[1]}"
    (unmeasured,) = dom.find_all("a", cls="chip", data_sentence_id="5")
    assert "data-score" not in unmeasured.attrs
    assert unmeasured.attrs["data-method"] == "program"
    assert unmeasured.attrs["data-from-program"] == "true"
    assert "score not measured" in unmeasured.attrs["title"]


def test_sources_grouped_by_document_in_order(dom: Node) -> None:
    docs = dom.find_all("section", cls="doc")
    assert [d.find_all("span", cls="doc-title")[0].text() for d in docs] == [
        "Solar basics",
        EVIL_TITLE,
    ]
    ids = [[n.attrs["id"] for n in d.find_all("span", cls="src")] for d in docs]
    assert ids == [["src-S1", "src-S2", "src-S3"], ["src-S4", "src-S5"]]
    # The text between sentences (here a line break) is kept as written.
    (body,) = docs[0].find_all("div", cls="doc-body")
    assert "\n" in body.text()


def test_unsupported_and_uncited_sentences_are_flagged(dom: Node) -> None:
    unsupported = dom.by_id("ans-4")
    assert {"unsupported", "flagged"} <= unsupported.classes
    (wrapper,) = dom.find_all("span", cls="sent", data_answer_index="3")
    (flag,) = wrapper.find_all(cls="flag")
    assert flag.attrs["role"] == "note"
    assert flag.text() == "⚠ Unsupported: no source mentions <health> effects"
    (uncited,) = dom.find_all("span", cls="sent", data_answer_index="4")
    assert uncited.find_all("a", cls="chip") == []
    assert [f.text() for f in uncited.find_all(cls="flag")] == [
        "⚠ Uncited: no source sentence is cited for this sentence"
    ]
    # Supported sentences carry no flag.
    (ok,) = dom.find_all("span", cls="sent", data_answer_index="0")
    assert ok.find_all(cls="flag") == []
    assert "flagged" not in dom.by_id("ans-1").classes


def test_phrase_citation_marks_just_the_span(dom: Node) -> None:
    target = dom.by_id("src-S3")
    assert "has-phrase" in target.classes
    (phrase,) = target.find_all("span", cls="phrase")
    text = make_sources().sentence(3).text
    assert phrase.text() == text[PHRASE[0] : PHRASE[1]] == "0.5% efficiency per year."
    assert phrase.attrs["data-chips"] == "a1-s3"
    assert source_text(target) == text  # nothing lost or duplicated around the phrase
    assert dom.by_id("src-S1").find_all(cls="phrase") == []


def test_overlapping_phrases_of_two_answer_sentences() -> None:
    sources = make_sources()
    result = AttributionResult(
        sentences=[
            SentenceAttribution(
                sentence=sentence(0, "A."),
                citations=[CitedSource(sentence_id=1, level="phrase", span=(0, 12))],
            ),
            SentenceAttribution(
                sentence=sentence(1, "B."),
                citations=[CitedSource(sentence_id=1, level="phrase", span=(6, 99))],
            ),
        ]
    )
    target = parse(render_html(result, sources)).by_id("src-S1")
    pieces = [(p.text(), p.attrs["data-chips"]) for p in target.find_all(cls="phrase")]
    assert pieces == [
        ("Solar ", "a0-s1"),
        ("panels", "a0-s1 a1-s1"),
        (" convert sunlight into electricity.", "a1-s1"),  # span clipped to the sentence
    ]


def test_citation_of_a_missing_sentence_is_shown_but_not_linked() -> None:
    result = AttributionResult(
        sentences=[
            SentenceAttribution(
                sentence=sentence(0, "Claim."), citations=[CitedSource(sentence_id=99)]
            )
        ]
    )
    dom = parse(render_html(result, make_sources()))
    (chip,) = dom.find_all(cls="chip")
    assert chip.tag == "span"
    assert "missing" in chip.classes
    assert "href" not in chip.attrs
    assert "not in the sources" in chip.attrs["title"]
    assert weights_of(dom, 0) == {}


def test_duplicate_citations_of_one_source_give_one_chip() -> None:
    result = AttributionResult(
        sentences=[
            SentenceAttribution(
                sentence=sentence(0, "Claim."),
                citations=[
                    CitedSource(sentence_id=3, score=0.9, method="mexgen-clime"),
                    CitedSource(sentence_id=3, score=0.4, level="phrase", span=PHRASE),
                ],
            )
        ]
    )
    dom = parse(render_html(result, make_sources()))
    (chip,) = dom.find_all("a", cls="chip")
    assert chip.attrs["data-score"] == "0.9"
    assert chip.attrs["data-span"] == f"{PHRASE[0]}-{PHRASE[1]}"


# ----------------------------------------------------------------------------- scores


def test_citation_scores_normalised_and_unmeasured_shaded_fully(dom: Node) -> None:
    assert weights_of(dom, 0) == {"1": 1.0, "2": 0.25}
    assert weights_of(dom, 1) == {"3": 1.0}
    assert weights_of(dom, 2) == {"5": 1.0}  # cited by construction, never measured
    assert weights_of(dom, 3) == {"1": 1.0}
    assert weights_of(dom, 4) == {}
    # Without a selection, each source shows its strongest weight.
    (main,) = dom.find_all("main")
    assert json.loads(main.attrs["data-weights"]) == {"1": 1.0, "2": 0.25, "3": 1.0, "5": 1.0}
    assert dom.by_id("src-S2").attrs["style"] == "--w:0.25"
    assert dom.by_id("src-S4").attrs["style"] == "--w:0.0"
    assert "cited" in dom.by_id("src-S1").classes
    assert "cited" not in dom.by_id("src-S4").classes


def test_matrix_scores_take_precedence() -> None:
    matrix = [
        [2.0, 1.0, 0.0, -1.0, 0.5],
        [0.0, 0.0, 4.0, 0.0, 1.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [-0.5, -0.2, 0.0, 0.0, 0.0],
        [0.1, 0.0, 0.0, 0.4, 0.0],
    ]
    dom = parse(render_html(make_result(matrix=matrix), make_sources()))
    assert weights_of(dom, 0) == {"1": 1.0, "2": 0.5, "5": 0.25}  # negatives are not shaded
    assert weights_of(dom, 1) == {"3": 1.0, "5": 0.25}
    assert weights_of(dom, 2) == {}  # measured zero beats "unmeasured = full"
    assert weights_of(dom, 3) == {}
    assert weights_of(dom, 4) == {"1": 0.25, "4": 1.0}  # uncited but related: still visible


def test_malformed_matrix_falls_back_to_citation_scores() -> None:
    result = make_result().model_copy(update={"matrix": [[1.0]], "unit_ids": [1]})
    dom = parse(render_html(result, make_sources()))
    assert weights_of(dom, 0) == {"1": 1.0, "2": 0.25}


def test_non_finite_scores_are_ignored() -> None:
    result = AttributionResult(
        sentences=[
            SentenceAttribution(
                sentence=sentence(0, "Claim."),
                citations=[
                    CitedSource(sentence_id=1, score=float("nan")),
                    CitedSource(sentence_id=2, score=float("inf")),
                    CitedSource(sentence_id=3, score=2.0),
                ],
            )
        ]
    )
    dom = parse(render_html(result, make_sources()))
    assert weights_of(dom, 0) == {"3": 1.0}
    (nan_chip,) = dom.find_all("a", cls="chip", data_sentence_id="1")
    assert nan_chip.attrs["data-score"] == "nan"


# ----------------------------------------------------------------------------- page-level


def test_output_is_deterministic() -> None:
    first = render_html(make_result(), make_sources(), title="T", question="Q", program="P")
    second = render_html(make_result(), make_sources(), title="T", question="Q", program="P")
    assert first == second


def test_page_is_self_contained(page: str, dom: Node) -> None:
    assert page.startswith("<!DOCTYPE html>")
    # Nothing is loaded from anywhere: no src attributes, only in-page links.
    assert not [n for n in dom.iter() if "src" in n.attrs]
    assert all(n.attrs["href"].startswith("#") for n in dom.iter() if "href" in n.attrs)
    assert dom.find_all("link") == []
    assert "http://" not in page
    assert "https://" not in page
    assert len(dom.find_all("div", cls="genprog-view")) == 1
    assert dom.find_all("main", cls="pane-answer")
    assert dom.find_all("aside", cls="pane-sources")


def test_incomplete_result_and_metadata_are_shown() -> None:
    result = make_result().model_copy(update={"complete": False, "model_calls": 12})
    dom = parse(render_html(result, make_sources()))
    (meta,) = dom.find_all("p", cls="meta")
    assert meta.text() == "Attribution: method mexgen-clime · 12 model calls"
    (partial,) = dom.find_all("p", cls="incomplete")
    assert "budget stopped the attribution early" in partial.text()


def test_defaults_and_empty_answer() -> None:
    dom = parse(render_html(AttributionResult(), make_sources()))
    assert dom.find_all("title")[0].text() == "Attributed answer"
    assert dom.find_all("p", cls="question") == []
    assert dom.find_all("details") == []
    assert dom.find_all("p", cls="empty")[0].text() == "The answer is empty."
    assert len(dom.find_all("span", cls="src")) == 5


def test_offsets_that_do_not_match_the_text_still_render_every_sentence() -> None:
    sources = Sources(
        documents=[SourceDocument(index=0, text="unrelated", sentence_ids=[1, 2])],
        sentences=[
            SourceSentence(id=1, doc_index=0, sent_index=0, start=0, end=3, text="First."),
            SourceSentence(id=2, doc_index=0, sent_index=1, start=4, end=9, text="Second."),
        ],
    )
    dom = parse(render_html(AttributionResult(), sources))
    assert [source_text(dom.by_id(f"src-S{i}")) for i in (1, 2)] == ["First.", "Second."]
    assert dom.find_all("span", cls="doc-title")[0].text() == "Document 1"


def test_write_html(tmp_path: Path) -> None:
    path = write_html(tmp_path / "out" / "answer.html", make_result(), make_sources(), title="T")
    assert path == tmp_path / "out" / "answer.html"
    assert path.read_text(encoding="utf-8") == render_html(make_result(), make_sources(), title="T")


def test_notebook_view_embeds_the_page_in_a_sandboxed_frame(tmp_path: Path) -> None:
    view = AttributedAnswerView(make_result(), make_sources(), title='My "view"', height=480)
    snippet = view._repr_html_()
    (frame,) = parse(snippet).find_all("iframe")
    assert frame.attrs["srcdoc"] == view.to_html()
    assert frame.attrs["sandbox"] == "allow-scripts"
    assert frame.attrs["title"] == 'My "view"'
    assert "height:480px" in frame.attrs["style"]
    assert html.unescape(snippet).count("<script>") == 1
    assert snippet.isascii()  # independent of the notebook page's encoding
    assert view.write(tmp_path / "v.html").read_text(encoding="utf-8") == view.to_html()
