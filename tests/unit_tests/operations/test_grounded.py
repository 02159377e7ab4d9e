"""Grounded operations cannot emit a word that is in none of their inputs."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from langchain_genprog.errors import InvalidInputError
from langchain_genprog.operations import InvalidOutputError, arun_operation, run_operation
from langchain_genprog.operations.grounded import (
    choice_grammar,
    fusion_fits,
    leaf_operations,
    resolve_mode,
    rewrite_options,
    snap,
)
from langchain_genprog.operations.rewrites import (
    ADDED_WORDS,
    Rewrite,
    compressions,
    fusions,
    paraphrases,
    strip_preamble,
    word_count,
)
from langchain_genprog.segment.words import new_words
from tests.unit_tests.fakes import ScriptedChatModel, first_choice

# News sentences of the kinds MultiNews has (written for this test).
SENTENCES = [
    "The U.S. Coast Guard says it is looking for a man who has cost the service about "
    "$500,000 after responding to nearly 30 of his fake distress calls.",
    "In a press release published Friday, the Coast Guard says the 28 calls have originated "
    "from around the area of Annapolis, Maryland.",
    "Making false distress calls is a felony, punishable by a maximum of six years in prison, "
    "a $10,000 civil fine and a reimbursement to the Coast Guard, the Coast Guard said.",
    "The council, which met on Monday, approved the new park after a long debate.",
    "Officials said the bridge would reopen in May.",
    "On Tuesday, the company reported a loss of $2.3 billion, its largest since 2009.",
    "SAN FRANCISCO (MarketWatch) -- Nasdaq halted trading for three hours on Thursday "
    "because of a problem with a data feed, the exchange said.",
    "Republicans currently hold 29 governorships, Democrats have 20, and Rhode Island's "
    "Gov. Lincoln Chafee is an Independent.",
    "While the races remain too close to call, Republicans are expected to win the North "
    "Carolina governorship.",
    "Calls like these not only put our crews at risk, but they put the lives of the public "
    "at risk.",
    "The bill was passed by the Senate on Tuesday.",
    "Police arrested two men in Ohio after the robbery.",
    "The researchers reached the conclusion after the trial ended last year.",
    "A basic income is a cash payment given to all residents, regardless of their earnings.",
]

FABRICATED = "The COVID-19 pandemic has brought about a multitude of challenges for mental health."


def _words_from(output: str, inputs: list[str]) -> list[str]:
    return [w for w in new_words(output, inputs) if w not in ADDED_WORDS]


@pytest.mark.parametrize("text", SENTENCES)
def test_compressions_only_delete_and_stay_within_the_bound(text: str) -> None:
    total = word_count(text)
    for rewrite in compressions(text):
        assert _words_from(rewrite.text, [text]) == [], rewrite
        assert rewrite.words <= 0.7 * total
        assert rewrite.text[0].isupper() and rewrite.text[-1] in '.!?"'


@pytest.mark.parametrize("text", SENTENCES)
def test_paraphrases_reorder_and_are_never_copies(text: str) -> None:
    for rewrite in paraphrases(text):
        assert _words_from(rewrite.text, [text]) == [], rewrite
        assert rewrite.text != strip_preamble(text)
        # reordering keeps every content word of the input (minus a dateline)
        # "According to X, Y." stands for "X said Y."; the active voice drops "was ... by"
        dropped = set(new_words(strip_preamble(text), [rewrite.text]))
        assert dropped <= {"that", "said", "says", "was", "were", "by"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The bill was passed by the Senate on Tuesday.", "The Senate passed the bill on Tuesday."),
        ("The police arrested two men in Ohio.", "Two men were arrested by the police in Ohio."),
        ("The firm sold the plant.", "The plant was sold by the firm."),
        (
            "The researchers reached the conclusion after the trial ended last year.",
            "After the trial ended last year, the researchers reached the conclusion.",
        ),
        (
            "A basic income is a cash payment given to all residents, regardless of their "
            "earnings.",
            "Regardless of their earnings, a basic income is a cash payment given to all "
            "residents.",
        ),
        (
            "The researchers argued that the drug was safe.",
            "The drug was safe, the researchers argued.",
        ),
    ],
)
def test_paraphrases_change_voice_and_move_clauses(text: str, expected: str) -> None:
    assert expected in [r.text for r in paraphrases(text)]


@pytest.mark.parametrize(
    "text",
    [
        "He wrote the letter.",  # "written" would be a new word form
        "She did not sign the bill.",  # the negation would have to move with the auxiliary
        "The letter was sent by him.",  # "him" would have to become "he"
        "The calls originated from Annapolis.",  # a bare complement cannot open the sentence
        # a participle describing the subject would attach to the last noun at the end
        "Known today as the Cyrus Cylinder, this ancient record has been recognized as the "
        "first charter of human rights.",
    ],
)
def test_no_reordering_where_it_would_need_a_new_word_or_strand_a_verb(text: str) -> None:
    moved = [r.how for r in paraphrases(text) if "voice" in r.how or "front" in r.how]
    assert moved == [] and not any("advcl to the end" in r.how for r in paraphrases(text))


# Reorderings found wrong on the dev sets (each was offered before this rule).
@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        # a connective attaches to the last clause at the end
        (
            "Nonetheless, human rights did not exist until the war ended, when the "
            "declaration was adopted.",
            "adopted nonetheless",
        ),
        ("However, he successfully passed the second one.", "one however"),
        # at the end a phrase attaches to the last verb
        (
            "Six weeks ago, Anderson sent a letter, saying Wilson has responded well to surgery.",
            "surgery six weeks ago",
        ),
        # the phrase belongs to a comparison
        ("The series logged its strongest premiere ratings in eight years.", "In eight years,"),
        (
            "You will save more money by preventing the damage than you would if you let the "
            "water in.",
            "If you let",
        ),
        # "to" completes a noun; two fronted phrases; an inverted clause
        ("Strange 1989 developed an approach to what she calls power.", "To what"),
        ("In 2000, he appeared in the miniseries in the role of Adam.", "In the role of Adam,"),
        ("Behind the showdown over the attack are a few dozen words.", "Are a few"),
        # a name the tagger calls a noun keeps its case, so it is not moved
        ("Thebes grew in status during the Second Intermediate Period.", "thebes"),
        ("Gold's parents said they knew something was wrong.", "gold's"),
        # reported speech keeps the claim's inner "that" and drops its opening "And"
        (
            "And that's health care, says political scientist Thad Kousser.",
            "says that and",
        ),
        (
            "The paper says that the couple agreed under the guise that they would move.",
            "guise they",
        ),
        ("If you know her well, then you must know her likes.", "Then you"),
    ],
)
def test_reorderings_that_would_change_the_claim_are_not_offered(text: str, wrong: str) -> None:
    for rewrite in paraphrases(text):
        assert wrong not in rewrite.text, rewrite


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Sure Things\nRepublican governors in Utah are expected to win.",
            "Republican governors in Utah are expected to win.",
        ),
        (
            "In 11 States Pick Governors\nJim Cole / AP\nVoters in 11 states will pick governors.",
            "Voters in 11 states will pick governors.",
        ),
        ("SAN FRANCISCO (MarketWatch) -- Stocks fell sharply.", "Stocks fell sharply."),
        (
            "Page 1 of 1\n\n\n\n UPDATED: A photo of two men kissing was removed.",
            "A photo of two men kissing was removed.",
        ),
        (
            "Updated: 07/13/2022\nPower is defined as a set of skills.",
            "Power is defined as a set of skills.",
        ),
        # a label that is the claim's subject stays
        ("Updates: two were issued today.", "Updates: two were issued today."),
        # a hard-wrapped sentence is not a heading
        (
            "The company said on\nTuesday that it would close.",
            "The company said on Tuesday that it would close.",
        ),
    ],
)
def test_strip_preamble_removes_headings_and_datelines_only(text: str, expected: str) -> None:
    assert strip_preamble(text) == expected


def test_a_fusion_part_keeps_the_capital_of_a_name_adjective() -> None:
    first = "Democrats hope to keep Missouri, where Jay Nixon is running."
    second = "Republican governors in Utah and North Dakota are expected to win."
    assert any(", and Republican governors" in r.text for r in fusions([first, second]))


def test_a_long_input_offers_its_short_compressions_to_a_fusion() -> None:
    long = (
        "Democrats are also hoping to hold on to the governorship in Missouri, where Jay Nixon "
        "is running for a second term against Republican Dave Spence; and in West Virginia, "
        "where Gov. Earl Ray Tomblin, former state senate president, is running for his first "
        "full term after winning a special election in 2011."
    )
    short = "Republican governors in Utah and North Dakota are expected to win the races."
    total = word_count(long) + word_count(short)
    assert fusions([long, short])[0].words <= 0.75 * total


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(SENTENCES[:6], 2)))
def test_fusions_join_parts_of_each_input(a: str, b: str) -> None:
    options = fusions([a, b])
    assert options
    for rewrite in options:
        assert _words_from(rewrite.text, [a, b]) == [], rewrite
    bounded = [r for r in options if r.words <= 0.75 * (word_count(a) + word_count(b))]
    assert bounded == options or len(options) <= 4  # the fallback is the shortest few


def test_dateline_and_hanging_verbs_are_never_produced() -> None:
    texts = [r.text for r in compressions(SENTENCES[6], max_ratio=0.9)]
    assert texts and not any(t.startswith("SAN FRANCISCO") for t in texts)
    hanging = [r.text for r in compressions(SENTENCES[1], max_ratio=0.9)]
    assert not any(t.endswith("have originated.") for t in hanging)
    inverted = "Behind the political showdown over the attack in Benghazi are a few dozen words."
    assert not any(r.text.startswith("Are") for r in compressions(inverted, max_ratio=0.95))
    joined = [r.text for r in compressions(SENTENCES[2], max_ratio=0.9)]
    assert not any("prisonthe" in t or "prison the" in t for t in joined)


def test_a_sentence_in_parentheses_is_not_deleted_whole() -> None:
    text = "(I tried some of the new beer, and it was awesome.)"
    assert all(r.text and r.words >= 4 for r in compressions(text, max_ratio=0.95))
    assert rewrite_options("compression", [text])[0]


def test_choice_grammar_escapes_quotes_and_backslashes() -> None:
    grammar = choice_grammar(['He said "no".', "A \\ B."])
    assert grammar == 'root ::= "He said \\"no\\"." | "A \\\\ B."\n'
    assert first_choice(grammar) == 'He said "no".'
    with pytest.raises(InvalidInputError):
        choice_grammar([])


def test_snap_returns_an_option_whatever_the_reply() -> None:
    options = [Rewrite("The park opened.", 3, "a"), Rewrite("The park opened in May.", 5, "b")]
    assert snap("The park opened in May.", options) is options[1]
    assert snap("2", options) is options[1]
    assert snap(FABRICATED, options) in options


def _fabricator(*, grammar: bool) -> ScriptedChatModel:
    def respond(messages: list[BaseMessage], kwargs: dict[str, Any]) -> str:
        return FABRICATED  # ignores the grammar, as a broken backend would

    return ScriptedChatModel(respond=respond, supports_grammar=grammar)


@pytest.mark.parametrize("grammar", [True, False])
@pytest.mark.parametrize(
    ("operation", "inputs"),
    [
        ("compression", [SENTENCES[0]]),
        ("compression", [SENTENCES[3]]),
        ("paraphrase", [SENTENCES[4]]),
        ("paraphrase", [SENTENCES[3]]),
        ("fusion", [SENTENCES[0], SENTENCES[1]]),
        ("fusion", [SENTENCES[3], SENTENCES[5], SENTENCES[4]]),
    ],
)
def test_a_fabricating_model_cannot_put_a_new_word_in_a_grounded_output(
    grammar: bool, operation: Any, inputs: list[str]
) -> None:
    llm = _fabricator(grammar=grammar)
    out = run_operation(llm, operation, inputs, mode="grounded")
    assert _words_from(out.text, inputs) == []
    assert "covid" not in out.text.lower()
    options, _ = rewrite_options(operation, inputs)
    assert out.text in [o.text for o in options]


async def test_async_grounded_operation_matches_sync() -> None:
    llm = ScriptedChatModel(
        respond=lambda m, kw: first_choice(kw["grammar"]), supports_grammar=True
    )
    sync = run_operation(llm, "compression", [SENTENCES[6]], mode="grounded")
    asynchronous = await arun_operation(llm, "compression", [SENTENCES[6]], mode="grounded")
    options = compressions(SENTENCES[6])
    assert len(options) > 1
    assert sync.text == asynchronous.text == options[0].text
    grammar = llm.calls[0][1]["grammar"]
    assert grammar.startswith("root ::= ") and grammar.count(" | ") == len(options) - 1


def test_models_without_grammar_pick_a_numbered_option() -> None:
    llm = ScriptedChatModel(replies=["2"])
    out = run_operation(llm, "compression", [SENTENCES[6]], mode="grounded")
    assert out.text == compressions(SENTENCES[6])[1].text
    prompt = llm.calls[0][0][-1].text
    assert "Options:" in prompt and "1. " in prompt


def test_nothing_to_delete_keeps_the_input_and_says_so() -> None:
    llm = ScriptedChatModel(replies=[])  # no call may be made
    out = run_operation(llm, "compression", ["The mayor spoke."], mode="grounded")
    assert out.text == "The mayor spoke."
    assert out.note and "kept verbatim" in out.note
    assert llm.calls == []


def test_leaf_operations_match_what_the_operation_would_do() -> None:
    for text in [*SENTENCES, "The mayor spoke.", "Officials said the bridge would reopen."]:
        found = leaf_operations(text)
        for op in ("compression", "paraphrase"):
            options, note = rewrite_options(op, [text])
            does_its_job = not note and all(o.text != " ".join(text.split()) for o in options)
            assert (op in found) == does_its_job, (op, text, note)
    assert leaf_operations("The mayor spoke.") == frozenset()
    assert "compression" in leaf_operations(SENTENCES[3])  # ", which met on Monday,"


def test_a_phrase_before_the_subject_goes_only_when_a_comma_sets_it_off() -> None:
    moyn = (
        "In his book The Last Utopia: Human Rights in History (2010), American historian Samuel "
        "Moyn argues that only around 1968 did human rights become a concept that united "
        "humanity in its struggle for justice."
    )
    for rewrite in compressions(moyn, max_ratio=0.95):
        assert not rewrite.text.startswith("Human Rights in History"), rewrite
        assert "that did" not in rewrite.text, rewrite  # the inversion keeps its phrase
    fronted = compressions(SENTENCES[1], max_ratio=0.85)
    assert any(r.text.startswith("The Coast Guard says") for r in fronted)


def test_an_emptied_parenthesis_leaves_no_space_before_a_comma() -> None:
    from langchain_genprog.operations.rewrites.text import tidy as _tidy

    # What rendering leaves when a deletion empties "(2010)".
    assert _tidy("Human Rights in History ( ) , American historian Moyn argues") == (
        "Human Rights in History, American historian Moyn argues."
    )


def test_a_sentence_the_parser_could_not_attach_is_not_cut() -> None:
    kousser = (
        "A recent U.S. Supreme Court decision giving states the ability to opt out of the "
        "law's expansion of Medicaid, the federal insurance program for poor, disabled and "
        'elderly Americans, confers "incredible power" on the states and their governors, '
        "Kousser says."
    )
    assert all("confers" in r.text for r in compressions(kousser, max_ratio=0.95))


def test_a_misparsed_sentence_is_not_reordered() -> None:
    # spaCy's small model makes "photos" the root: moving "before I chose ..."
    # would strand "are much more racy" without its subject.
    assert paraphrases("The photos I had considered using before I chose that one are racy.") == []


def test_a_fusion_that_cannot_fit_its_bound_says_so() -> None:
    options, note = rewrite_options("fusion", ["Hey, I just saw this.", "The mayor spoke."])
    assert options and "no fusion fits 75%" in note
    _, fits = rewrite_options("fusion", SENTENCES[:2])
    assert fits == ""


def test_fusion_fits_matches_what_a_fusion_can_do() -> None:
    short = ["Hey, I just saw this.", "The mayor spoke."]
    assert not fusion_fits(short)
    assert rewrite_options("fusion", short)[1]  # the fusion itself would have to say so
    assert fusion_fits(SENTENCES[:2])
    assert rewrite_options("fusion", SENTENCES[:2])[1] == ""


def test_auto_mode_follows_grammar_support() -> None:
    assert resolve_mode(ScriptedChatModel(supports_grammar=True), "auto") == "grounded"
    assert resolve_mode(ScriptedChatModel(), "auto") == "free"
    with pytest.raises(InvalidInputError):
        resolve_mode(ScriptedChatModel(), "creative")  # type: ignore[arg-type]


def test_free_runaway_reply_is_rejected_not_pasted() -> None:
    runaway = (
        "The park opened in May, and crowds came from every district of the city to see "
        "the new lawns, the fountains and the playground that the council had promised."
    )
    llm = ScriptedChatModel(replies=[runaway])
    with pytest.raises(InvalidOutputError, match="runaway"):
        run_operation(llm, "compression", ["The park opened in May."])


def test_fusing_a_sentence_with_its_own_compression_says_it_once() -> None:
    whole = SENTENCES[0]
    part = "The U.S. Coast Guard is looking for a man who has cost the service about $500,000."
    options = fusions([whole, part])
    assert [o.text for o in options] == [whole]


def test_no_rewrite_ends_on_a_dangling_word() -> None:
    text = "One of the reasons I kept my old monitor is because I hate dead pixels."
    assert all(not r.text.endswith(" is.") for r in compressions(text, max_ratio=0.95))


def test_a_joined_part_drops_its_own_opening_conjunction() -> None:
    a = "The data collected about happiness can be used to understand it better."
    b = "And yet, we can increase the happiness of people in our towns."
    texts = [o.text for o in fusions([a, b])]
    assert texts and not any(", and and" in t or "; and yet" in t.lower() for t in texts)


def test_parser_loads_once_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from langchain_genprog.models.spacy_pipeline import load_spacy

    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda _: load_spacy(), range(8)))
        texts = list(pool.map(lambda t: [r.text for r in compressions(t)], SENTENCES * 2))
    assert all(nlp is loaded[0] for nlp in loaded)
    assert texts[: len(SENTENCES)] == texts[len(SENTENCES) :]


def test_a_joined_part_starting_with_an_article_is_lower_cased() -> None:
    a = "Fishers in the town say they were not consulted about the turbines."
    b = "A regional energy fund will pay 2.5 million euros for the turbines."
    texts = [o.text for o in fusions([a, b])]
    assert texts and not any(", and A regional" in t or "; A regional" in t for t in texts)
