from __future__ import annotations

import pytest

from langchain_genprog.segment import Sources
from langchain_genprog.segment.content import filter_content, non_content_reason
from langchain_genprog.segment.selection import select_sentences


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SAN FRANCISCO (MarketWatch) --", "dateline"),
        ("WASHINGTON —", "dateline"),
        ("By Jane Smith", "byline"),
        ("(Reporting by Elvina Nawaguna; Editing by Sandra Maler)", "byline"),
        (
            "In 11 States Pick Governors Enlarge this image toggle caption Jim Cole/AP",
            "boilerplate",
        ),
        ("Advertisement", "boilerplate"),
        ("Yes.", "fragment"),
        ("Theres a first.<HR></BLOCKQUOTE><P>CRT monitors have no pixels.", "markup"),
        ("That moment has become a proxy for a ...", "truncated"),
        ("How can someone claim to actually measure happiness?", "question"),
        ("It was.", "fragment"),
        ('|17.||Elizabeth Anderson, "Forum Response", bostonreview.net, Oct. 1, 2000|', "markup"),
        ("and IF there was a connection with MY post about the event.", "fragment"),
        ("[leaving] a net budgetary cost of over $1.4 trillion.", "fragment"),
        ("-In event: It turns out that the Facebook event for the Kiss", "fragment"),
        ("Here is a report on the John Snow Kiss-", "fragment"),
        ("It turns out that the Facebook event for the John Snow Kiss", "unterminated"),
        ("Tom Brady and Gisele Bundchen Have", "unterminated"),
        ("doi: 10.1007/s11906-018-0875-x. [ PubMed ]", "unterminated"),
        ('The senator said he would "vote no."', None),
        ("The findings were clear (see below).", None),
        ("That moment changed how the city votes.", None),
        ("[1] The council approved the plan in May.", None),
        ("The mayor spoke.", None),
        ("Voters in 11 states will pick their governors tonight.", None),
    ],
)
def test_non_content_reasons(text: str, reason: str | None) -> None:
    assert non_content_reason(text) == reason


def test_near_duplicates_keep_the_first_in_the_given_order() -> None:
    sources = Sources.from_documents(
        [
            "The council approved the new park on Monday.",
            "On Monday the council approved the new park.",
            "Construction will cost two million dollars.",
        ]
    )
    kept, filtered = filter_content(sources, [2, 1, 3])
    assert kept == [2, 3]
    assert filtered == {1: "repeats S2"}


def test_sentences_without_a_verb_are_not_content() -> None:
    sources = Sources.from_documents(
        [
            "The court ruled for the school in 1985. "
            "International Organization 50 ( 2 ): 213 – 36. "
            "Ancient history: the inherent dignity of human beings. "
            "Officials said the search was reasonable."
        ]
    )
    kept, filtered = filter_content(sources, [1, 2, 3, 4])
    assert kept == [1, 4]
    assert filtered == {2: "no verb", 3: "no verb"}


def test_selection_reports_what_carried_no_content() -> None:
    sources = Sources.from_documents(
        ["SAN FRANCISCO (MarketWatch) --\nStocks fell sharply after the exchange halted trading."]
    )
    assert sources.sentences[0].text.strip().startswith("SAN FRANCISCO")
    selection = select_sentences(sources, None)
    assert 1 in selection.filtered and selection.filtered[1] == "dateline"
    assert 1 not in selection.ranked_ids
    assert "S1 (dateline)" in selection.describe()


def test_selection_keeps_everything_when_nothing_carries_content() -> None:
    sources = Sources.from_documents(["Yes. No."])
    selection = select_sentences(sources, None)
    assert selection.ranked_ids and not selection.filtered
