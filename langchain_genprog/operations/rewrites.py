"""Rewrites built only from an operation's own inputs: the choices a grounded operation has.

A grounded operation does not let the model write freely. It asks the model
to *choose* among rewrites that are built from the inputs' own words by
syntax-aware edits, so that a word, name or number in none of the inputs
cannot reach the output, whatever the model prefers:

* **compression** — deletions only: whole dependency subtrees that carry
  detail (appositions, non-restrictive relative clauses, adverbial clauses
  and phrases, parentheticals, a coordinated second clause, datelines) are
  removed, alone or a few at a time, and only results of at most
  ``max_ratio`` of the input's words are kept. Negations, determiners,
  adjectives and the clause's head, subject and object are never removed
  alone, so a deletion cannot flip or narrow what is asserted
  ("the *alleged* killer" keeps "alleged"); conditionals (``if``,
  ``unless``) are never dropped either.
* **paraphrase** — reordering only: a fronted adverbial moves to the end (or
  a final one, or a subordinate clause, to the front), reported speech is
  restated (``"Y, X said."`` ↔ ``"X said that Y."`` ↔ ``"According to X,
  Y."``), and a past-tense clause changes voice (``"The Senate passed the
  bill."`` ↔ ``"The bill was passed by the Senate."``) when the verb's past
  tense and participle are one word, so no new word form is needed.
* **fusion** — ordered parts of each input (the input, or one of its
  compressions) joined by ``", and"`` or ``";"``, or one subject shared by two
  predicates when both inputs start with the same subject; the result is at
  most ``max_ratio`` of the inputs' words together. The joins are
  deliberately neutral: ``", while"`` or ``", after"`` would assert a
  relation in time or contrast that no source states.

Why by hand: sentence compression and fusion libraries either generate
freely (and may invent) or need trained models we cannot ship; what is
needed here is a small, auditable set of edits over spaCy's dependency parse.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_genprog._text import display_text
from langchain_genprog.models.spacy_pipeline import load_spacy, parse
from langchain_genprog.segment.words import content_words, tokens

JOINS: tuple[str, ...] = (", and ", "; ")
"""The closed set of joins a fusion may add between its parts."""

ADDED_WORDS = frozenset({"and", "that", "according", "to", "was", "were", "by"})
"""Every word a rewrite may contain that is not in its inputs."""

_REPORTING = frozenset(
    {
        *("say", "said", "says", "tell", "told", "add", "added", "note", "noted"),
        *("argue", "argued", "argues", "report", "reported", "reports", "state", "stated"),
        *("states", "write", "wrote", "writes", "explain", "explained", "explains"),
        *("warn", "warned", "warns", "claim", "claimed", "claims"),
    }
)
_PAST_EQUALS_PARTICIPLE = frozenset(
    {
        *("said", "made", "found", "held", "led", "built", "bought", "brought", "caught"),
        *("kept", "left", "lost", "meant", "met", "paid", "sent", "sold", "spent", "taught"),
        *("told", "thought", "won", "hit", "cut", "put", "set", "hurt", "read", "spread"),
        *("struck", "heard", "fed", "felt", "dealt", "had", "got", "sought", "lent"),
    }
)
"""Irregular verbs whose past tense is also their past participle."""
_SAY = frozenset({"say", "said", "says"})
_CONNECTIVES = frozenset(
    {
        "however",
        "furthermore",
        "moreover",
        "likewise",
        "conversely",
        "nonetheless",
        "nevertheless",
        "indeed",
        "thus",
        "therefore",
        "hence",
        "also",
        "still",
        "meanwhile",
        "instead",
        "otherwise",
        "besides",
        "consequently",
        "additionally",
        "similarly",
        "finally",
        "accordingly",
        "namely",
        "yet",
        "so",
        "then",
        "again",
        "rather",
        "further",
        "overall",
        "ultimately",
        "importantly",
        "notably",
        "specifically",
        "alternatively",
        "regardless",
        "first",
        "firstly",
        "second",
        "secondly",
        "third",
        "lastly",
        "in fact",
        "of course",
        "in addition",
        "for example",
        "for instance",
        "as a result",
        "in contrast",
        "by contrast",
        "on the other hand",
        "at the same time",
        "in other words",
        "after all",
        "above all",
        "in particular",
        "in turn",
        "in short",
        "in general",
        "even so",
        "at least",
        "in any case",
        "most importantly",
        "more importantly",
        "at best",
        "at worst",
        "at most",
        "at first",
        "at last",
    }
)
"""Discourse connectives: they link a sentence to the one before, so they stay in front
("Nonetheless, X" is not "X nonetheless": at the end it attaches to the last clause)."""
_FRONTABLE_PREPS = frozenset(
    {
        "in",
        "on",
        "at",
        "after",
        "before",
        "during",
        "since",
        "until",
        "throughout",
        "despite",
        "following",
        "within",
        "amid",
    }
)
"""Prepositions of time, place and circumstance: their phrase can open the sentence.
"to", "for", "of", "by", "with" ... usually complete a word ("a non-Marxian approach to
what she calls structural power") and would change the meaning in front."""
_FRONTABLE_MARKS = frozenset(
    {
        "because",
        "although",
        "though",
        "while",
        "when",
        "whenever",
        "after",
        "before",
        "since",
        "once",
        "until",
        "if",
        "unless",
        "whereas",
    }
)
"""Conjunctions whose clause can open the sentence ("as" is left out: it is too often a
comparison)."""
_BE = frozenset({"be", "is", "are", "was", "were", "been", "being", "'s", "’s", "'re", "’re"})
"""Forms of "be" (the pipeline runs without a lemmatizer)."""
_CLAUSES = frozenset({"ccomp", "xcomp", "advcl", "relcl", "acl", "csubj", "pcomp"})
_CONDITIONAL_MARKS = frozenset({"if", "unless", "whether", "provided", "lest"})
_OBJECTS = frozenset({"dobj", "attr", "acomp", "xcomp", "ccomp", "dative", "oprd", "pobj"})
_DATELINE = re.compile(r"^\s*[A-Z][A-Z .,'&/-]{1,50}(?:\([^()]{1,40}\))?\s*(?:--|—|–|-)\s+")
_DANGLING = frozenset({"AUX", "ADP", "CCONJ", "SCONJ", "DET", "PART"})
"""Word classes a sentence cannot end on (what is left when a complement was cut)."""
_CONTAINED = 0.8
"""Share of an input's content words found in another input at which it adds nothing."""
_OPENER = re.compile(r"^(?:and yet|and|but|yet|so|also|however|still)\b,?\s+", re.IGNORECASE)
"""A connective a joined part may open with; the join supplies its own."""
_MAX_SPANS = 12
_PARTS = 6
"""Most compressions of one input offered as its part of a fusion."""
_DEMONYM = ("can", "ian", "ese", "ish", "democratic")
"""Endings of adjectives made from names ("Republican", "Chinese"), which keep their capital."""
_HEADING_WORDS = 8
"""Most words in a heading line (a headline or photo credit glued to a sentence)."""
_MAX_DELETIONS = 3


@dataclass(frozen=True)
class Rewrite:
    """One allowed output of a grounded operation.

    Attributes:
        text: The rewritten sentence.
        words: Its word count (as :func:`~langchain_genprog.ground.lexical.tokens` counts).
        how: The edits that made it, for traces (e.g. ``"drop appos, prep"``).
    """

    text: str
    words: int
    how: str


def word_count(text: str) -> int:
    """Words and numbers in ``text`` (punctuation not counted)."""
    return len(tokens(text))


def strip_preamble(text: str) -> str:
    r"""The sentence without a heading line or dateline in front of it, whitespace normalized.

    Scraped news pages glue a headline or a photo credit to the first
    sentence after it (``"Sure Things\nRepublican governors ... are expected
    to win."``); a dateline opens a wire story (``"SAN FRANCISCO (MarketWatch)
    -- Stocks fell."``). Neither is part of the claim, and a parser reads the
    heading as the sentence's subject. Removing them is a deletion, so it is
    as grounded as the rest. A heading line is a leading line in title case
    with no final punctuation, followed by a line that starts a sentence; a
    hard-wrapped sentence ("The company said on\nTuesday ...") is not one.
    """
    lines = text.splitlines()
    k = 0
    while k < len(lines) - 1 and _is_heading(lines[k], lines[k + 1 :]):
        k += 1
    body = " ".join(" ".join(lines[k:]).split())
    stripped = _DATELINE.sub("", body, count=1)
    return stripped if word_count(stripped) >= 3 else body


def leaf_text(text: str) -> str:
    """A source sentence as a program leaf, an extract and a repair use it.

    :func:`strip_preamble` on the raw text (a heading is told apart by its
    own line, which normalizing removes), then display-normalized.
    """
    return display_text(strip_preamble(text))


def _is_heading(line: str, rest: Sequence[str]) -> bool:
    line, after = line.strip(), " ".join(" ".join(rest).split())
    if not line:
        return word_count(after) >= 3
    words = [w for w in line.split() if any(c.isalpha() for c in w)]
    capitalized = sum(1 for w in words if w[0].isupper() or w[0].isdigit())
    return (
        word_count(line) <= _HEADING_WORDS
        and line[-1] not in ".!?:;,\"'”’)"
        and bool(words)
        and capitalized >= 0.6 * len(words)
        and after[:1].isupper()
        and word_count(after) >= 3
    )


# --------------------------------------------------------------------------- rendering


def _render(doc: Any, drop: set[int]) -> str:
    """The text of ``doc`` without the tokens in ``drop``, punctuation repaired.

    Where a deleted run had whitespace in it, one space joins the tokens
    around it ("in prison, a fine, the Guard said" never becomes "prisonthe").
    """
    kept = [tok for tok in doc if tok.i not in drop]
    if not kept:  # "(I tried some.)": the parenthesis is the whole sentence
        return ""
    parts: list[str] = []
    for tok, nxt in zip(kept, [*kept[1:], None], strict=True):
        parts.append(tok.text)
        if nxt is None:
            break
        gap = range(tok.i, nxt.i)
        parts.append(" " if any(doc[k].whitespace_ for k in gap) else "")
    return _tidy("".join(parts))


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"\s+([,;:.!?)])", r"\1", text)
    text = re.sub(r"([,;:])(\s*[,;:])+", r"\1", text)
    text = re.sub(r"[,;:]\s*([.!?])", r"\1", text)
    text = re.sub(r"^[\s,;:.\-–—]+", "", text)
    text = " ".join(text.split())
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    if text and text[-1] not in ".!?\"'”’":
        text += "."
    return text


def _balanced(text: str, reference: str = "") -> bool:
    """Quotes and brackets paired, or left exactly as unpaired as in ``reference``.

    Source sentences split by a sentence splitter often carry one half of a
    quotation; a rewrite may keep that half, but must not create a new one.
    """
    marks = ('"', "“", "”", "(", ")")
    if all(text.count(m) == reference.count(m) for m in marks) and reference:
        return True
    return (
        text.count('"') % 2 == 0
        and text.count("(") == text.count(")")
        and text.count("“") == text.count("”")
    )


def _starts_name(first: Any) -> bool:
    acronym = len(first.text) > 1 and first.text.isupper()  # "NASA", not the article "A"
    # "Republican governors", "Chinese officials": an adjective made from a name
    # keeps its capital (the embedded parser runs without NER, so by its ending)
    named = first.pos_ == "ADJ" and first.text[:1].isupper() and first.lower_.endswith(_DEMONYM)
    return bool(first.pos_ == "PROPN" or first.text == "I" or acronym or named)


def _lower_first(span: Any, text: str | None = None) -> str:
    """A span's text (or ``text``, which it starts) with its first letter lower-cased.

    Names, "I" and acronyms keep their capital.
    """
    shown: str = span.text if text is None else text
    if _starts_name(span[0]):
        return shown
    return shown[:1].lower() + shown[1:]


def _lowerable(first: Any) -> bool:
    """Whether a sentence's first word can move inside a sentence without a guess at its case.

    A name keeps its capital and a function word ("The", "His") loses it; a
    capitalized noun or adjective may be either ("Thebes grew", "Gold's
    parents said" are names the tagger calls nouns), so a reordering that
    would move it is not offered rather than risk turning a name into a word.
    """
    return (
        _starts_name(first)
        or not first.text[:1].isupper()
        or first.pos_ in {"DET", "PRON", "ADP", "SCONJ", "CCONJ", "PART", "AUX", "ADV"}
    )


def _compares(sent: Any) -> bool:
    """Whether a sentence compares ("strongest in eight years", "more ... than you would").

    A phrase there often belongs to the comparison, not the verb: moving it
    ("In eight years, the series logged its strongest ratings") changes the claim.
    """
    return any(t.tag_ in {"JJR", "RBR", "JJS", "RBS"} or t.lower_ == "than" for t in sent)


def _body(text: str) -> str:
    """A sentence without its final punctuation."""
    return text.rstrip().rstrip(".!?;:").rstrip()


# --------------------------------------------------------------------------- deletions


def _removable(doc: Any) -> list[tuple[set[int], str]]:
    """Token sets that may be deleted, each a whole constituent with its punctuation."""
    spans: list[tuple[set[int], str]] = []
    roots = {sent.root.i for sent in doc.sents}
    for tok in doc:
        if tok.i in roots or not _deletable(tok):
            continue
        start, end = tok.left_edge.i, tok.right_edge.i + 1
        if tok.dep_ == "conj":
            start = _conj_start(tok, start)
        if any(r in range(start, end) for r in roots) or not _at_word_edges(doc, start, end):
            continue
        spans.append((_with_punctuation(doc, start, end), tok.dep_))
    spans.extend(_parentheticals(doc))
    unique: dict[frozenset[int], str] = {}
    for span, dep in spans:
        unique.setdefault(frozenset(span), dep)
    ranked = sorted(unique.items(), key=lambda item: -len(item[0]))[:_MAX_SPANS]
    return [(set(span), dep) for span, dep in ranked]


def _at_word_edges(doc: Any, start: int, end: int) -> bool:
    """Whether ``[start, end)`` is whole words (not "GOP" out of "GOP-held")."""
    opening = {"(", '"', "“", "'", "‘"}
    left = start == 0 or bool(doc[start - 1].whitespace_) or doc[start - 1].text in opening
    right = end == len(doc) or bool(doc[end - 1].whitespace_)
    right = right or (doc[end].is_punct and doc[end].text not in {"-", "/"})
    return left and right


def _deletable(tok: Any) -> bool:
    dep, head = tok.dep_, tok.head
    if tok.left_edge.i == tok.sent.start and not _subject_follows(tok):
        return False  # "Behind the fight are a few words": the phrase holds the clause up
    if _before_subject(tok) and not _followed_by_comma(tok):
        # "that only around 1968 did human rights become": the inversion needs
        # its phrase; "In his book The Last Utopia: Human Rights in History
        # (2010), Moyn argues" is a misparse at the colon. Set off by a comma
        # ("In 2008, the company ...") a fronted phrase can go.
        return False
    if dep == "appos":  # only when set off: "Smith, the mayor, said"
        return bool(tok.left_edge.i > 0 and tok.doc[tok.left_edge.i - 1].text in {",", "(", "--"})
    if dep in {"parataxis", "npadvmod"}:  # "..., officials said" / "tonight", on the main verb
        return bool(head.pos_ in {"VERB", "AUX"} and head.dep_ == "ROOT")
    if dep in {"relcl", "acl"} or (dep == "amod" and tok.right_edge.i > tok.i):
        # non-restrictive only: ", which met on Monday" / ", punishable by ..."
        return bool(tok.left_edge.i > 0 and tok.doc[tok.left_edge.i - 1].text == ",")
    if dep == "advcl":  # "because I hate them" may be all that "is" says
        marks = {c.lower_ for c in tok.children if c.dep_ == "mark"}
        fronted = tok.left_edge.i == tok.sent.start
        return not marks & _CONDITIONAL_MARKS and (fronted or _has_other_complement(head, tok))
    if dep == "advmod":
        return bool(tok.left_edge.i == tok.sent.start and _followed_by_comma(tok))
    if dep == "prep":
        return bool(head.pos_ in {"VERB", "AUX"} and _has_other_complement(head, tok))
    if dep == "conj":
        return bool(tok.pos_ in {"VERB", "AUX"} and head.dep_ == "ROOT")
    return False


def _subject_follows(tok: Any) -> bool:
    """Whether the main clause has its subject between ``tok``'s phrase and its verb."""
    root = tok.sent.root
    return any(
        c.dep_ in {"nsubj", "nsubjpass", "expl", "csubj"} and tok.right_edge.i < c.i < root.i
        for c in root.children
    )


def _before_subject(tok: Any) -> bool:
    """Whether ``tok``'s phrase comes before the subject of the clause it belongs to."""
    return any(
        c.dep_ in {"nsubj", "nsubjpass", "expl", "csubj"} and tok.right_edge.i < c.left_edge.i
        for c in tok.head.children
    )


def _followed_by_comma(tok: Any) -> bool:
    nxt = tok.right_edge.i + 1
    return bool(nxt < len(tok.doc) and tok.doc[nxt].text == ",")


def _has_other_complement(head: Any, tok: Any) -> bool:
    """Whether ``head`` keeps a complement after it once ``tok`` is gone.

    "The calls originated from Annapolis" must keep "from Annapolis": without
    it the verb is left hanging. A fronted phrase does not count.
    """
    return any(
        c.i != tok.i and c.i > head.i and (c.dep_ in _OBJECTS or c.dep_ == "prep")
        for c in head.children
    )


def _conj_start(tok: Any, start: int) -> int:
    """A coordinated clause is deleted with its ``and``/``but`` (and a comma before it)."""
    for child in tok.head.children:
        if child.dep_ == "cc" and child.i < tok.i:
            start = min(start, child.i)
    return start


def _with_punctuation(doc: Any, start: int, end: int) -> set[int]:
    """Extend ``[start, end)`` by the commas or dashes that set it off."""
    span = set(range(start, end))
    before = doc[start - 1] if start > 0 else None
    after = doc[end] if end < len(doc) else None
    sets_off = {",", "--", "—", "–"}
    if before is not None and before.text in sets_off:
        span.add(before.i)
        resumes = end + 1 < len(doc) and doc[end + 1].pos_ in {"VERB", "AUX"}
        if after is not None and after.text == before.text and resumes:
            span.add(after.i)  # "X, who is Y, said" -> "X said": both marks go
    elif after is not None and after.text == "," and start == doc[start].sent.start:
        span.add(after.i)  # "However, X" -> "X"
    return span


def _parentheticals(doc: Any) -> Iterable[tuple[set[int], str]]:
    opened: int | None = None
    for tok in doc:
        if tok.text == "(":
            opened = tok.i
        elif tok.text == ")" and opened is not None:
            yield set(range(opened, tok.i + 1)), "parenthesis"
            opened = None


def _still_complete(doc: Any, drop: set[int]) -> bool:
    """Whether a verb is left, none that lost a phrase hangs, and nothing ends on a joint."""
    kept = [t for t in doc if t.i not in drop]
    if not any(t.pos_ in {"VERB", "AUX"} for t in kept):
        return False
    words = [t for t in kept if not t.is_punct]
    if words and words[-1].pos_ in _DANGLING:
        return False  # "... the monitor is." / "... a proxy for a."
    for tok in doc:
        if tok.i not in drop or tok.dep_ != "prep" or tok.head.i in drop:
            continue
        head = tok.head
        if not any(
            c.i > head.i and c.i not in drop and (c.dep_ in _OBJECTS or c.dep_ == "prep")
            for c in head.children
        ):
            return False
    return True


def _deletion_rewrites(doc: Any) -> list[Rewrite]:
    if any(sent.root.pos_ not in {"VERB", "AUX"} for sent in doc.sents):
        return []  # a verbless or misparsed sentence: deletions would be guesses
    spans = _removable(doc)
    seen: dict[str, Rewrite] = {}
    for size in range(1, min(_MAX_DELETIONS, len(spans)) + 1):
        for combo in itertools.combinations(spans, size):
            drop = set().union(*(span for span, _ in combo))
            text = _render(doc, drop)
            if not _still_complete(doc, drop):
                continue
            if text and _balanced(text, doc.text) and text not in seen:
                how = "drop " + ", ".join(dep for _, dep in combo)
                seen[text] = Rewrite(text, word_count(text), how)
    return list(seen.values())


def compressions(
    text: str, *, max_ratio: float = 0.7, min_words: int = 4, limit: int = 24, nlp: Any = None
) -> list[Rewrite]:
    """Deletion-only compressions of ``text`` of at most ``max_ratio`` of its words.

    Args:
        text: The input sentence (or sentences).
        max_ratio: Longest allowed output, as a share of the input's words.
        min_words: Shortest allowed output.
        limit: Most rewrites returned (the longest ones that fit are kept:
            they lose the least content).
        nlp: A spaCy pipeline with a parser (default: the embedded one).

    Returns:
        The rewrites, longest first; empty when nothing can be removed.
    """
    source = " ".join(text.split())
    total = word_count(source)
    doc = parse(strip_preamble(text), nlp)
    pool = _deletion_rewrites(doc)
    dateline_free = _tidy(doc.text)
    if word_count(dateline_free) < total:
        pool.append(Rewrite(dateline_free, word_count(dateline_free), "drop heading or dateline"))
    fits = [r for r in pool if min_words <= r.words <= max_ratio * total]
    fits.sort(key=lambda r: (-r.words, r.text))
    return fits[:limit]


# --------------------------------------------------------------------------- reordering


def _root_sentence(doc: Any) -> Any:
    return next(iter(doc.sents))


def _single_clause(sent: Any, moved: Any = None) -> bool:
    """Reordering is only safe within one clause (no ``;``/``:`` or coordinated clause).

    A separator inside the phrase being moved (a book title's colon) does not
    count: the phrase moves whole.
    """
    inside = range(moved.left_edge.i, moved.right_edge.i + 1) if moved is not None else range(0)
    if any(t.text in {";", ":", "--", "—"} and t.i not in inside for t in sent):
        return False
    return not any(c.dep_ in {"conj", "parataxis"} for c in sent.root.children)


def _front_to_back(sent: Any) -> list[Rewrite]:
    """A fronted phrase moved to the end, where only the main verb can take it.

    Only where the main verb is the sentence's last verb: at the end a phrase
    attaches to the last verb ("Six weeks ago, Anderson sent a letter, saying
    Wilson responded to surgery" must not become "... responded to surgery
    six weeks ago").
    """
    root = sent.root
    if _compares(sent):
        return []
    out = []
    for child in root.children:
        if child.i > root.i or child.dep_ not in {"prep", "advcl", "advmod"}:
            continue
        if not _single_clause(sent, child) or _describes_subject(child):
            continue
        if _is_connective(child) or not _root_ends_last(sent, child):
            continue
        if not _subject_between(child, root):
            continue  # "Behind the showdown are a few words": the phrase holds the clause up
        if child.dep_ == "advmod" and child.right_edge.i == child.left_edge.i:
            continue  # "Today," "Already," ...: a lone adverb reads as a connective at the end
        start, end = child.left_edge.i, child.right_edge.i + 1
        doc = sent.doc
        if start != sent.start or end >= sent.end or doc[end].text != ",":
            continue
        if not _self_contained(doc[start:end]) or not _lowerable(doc[start]):
            continue
        if not any(c.left_edge.i == end + 1 for c in root.children if c.dep_.startswith("nsubj")):
            continue  # "In his 1987 work, The Rise and Fall ..., Kennedy": the title is the work's
        rest = _body(_tidy(doc[end + 1 : sent.end].text))
        if rest.lower().startswith("then ") or rest.endswith(('"', "”", "'", "’")):
            continue  # "If X, then Y" / 'had "a good hunch."': the end is taken
        moved = _lower_first(doc[start:end])
        text = _tidy(f"{rest} {moved}.")
        out.append(Rewrite(text, word_count(text), f"move {child.dep_} to the end"))
    return out


def _subject_between(child: Any, root: Any) -> bool:
    """Whether the main clause's subject stands between a fronted phrase and the verb."""
    return any(
        c.dep_ in {"nsubj", "nsubjpass", "csubj"} and child.right_edge.i < c.i < root.i
        for c in root.children
    )


def _is_connective(child: Any) -> bool:
    """Whether a phrase is a discourse connective ("However", "In fact", "Of course")."""
    span = child.doc[child.left_edge.i : child.right_edge.i + 1]
    return span.text.lower().strip(" ,") in _CONNECTIVES


def _root_ends_last(sent: Any, child: Any) -> bool:
    """Whether, ``child``'s phrase aside, no clause's verb follows the main verb's.

    A verb is a VERB/AUX token or the head of a clause (the tagger calls
    "treading" in "when they're treading water" an adjective, but the parser
    still makes it a clause); the main verb's own auxiliaries do not count.
    """
    inside = range(child.left_edge.i, child.right_edge.i + 1)
    root = sent.root
    return not any(
        t.i > root.i
        and t.i not in inside
        and (t.dep_ in _CLAUSES or (t.pos_ in {"VERB", "AUX"} and t.dep_ not in {"aux", "auxpass"}))
        for t in sent
    )


def _starts_with_subject(sent: Any) -> bool:
    """Whether the sentence opens with its main clause's subject (nothing fronted yet)."""
    return any(
        c.dep_ in {"nsubj", "nsubjpass"} and c.left_edge.i == sent.start for c in sent.root.children
    )


def _self_contained(span: Any) -> bool:
    """Whether a phrase pairs its own brackets and quotes and holds no colon."""
    text = span.text
    return (
        ":" not in text
        and text.count("(") == text.count(")")
        and text.count("[") == text.count("]")
        and text.count('"') % 2 == 0
        and text.count("“") == text.count("”")
    )


def _describes_subject(child: Any) -> bool:
    """Whether a fronted clause is a participle that describes the subject.

    "Known today as the Cyrus Cylinder, this record ..." says what the
    record is known as; moved to the end it would attach to the last noun
    ("... the first charter of human rights known today as the Cyrus
    Cylinder"). A clause with its own conjunction ("After the vote, ...")
    describes the event and may move.
    """
    return child.dep_ == "advcl" and not _has_mark(child)


def _has_mark(tok: Any) -> bool:
    """Whether a clause has its own subordinating conjunction ("after", "because")."""
    return any(c.dep_ == "mark" for c in tok.children)


def _back_to_front(sent: Any) -> list[Rewrite]:
    root, doc = sent.root, sent.doc
    last = sent.end - 1 if doc[sent.end - 1].is_punct else sent.end
    out = []
    if not _starts_with_subject(sent) or _compares(sent) or not _lowerable(doc[sent.start]):
        return []  # "In 2000, he appeared ... in the role of Adam": one fronted phrase is enough
    for child in root.children:
        if child.i < root.i or child.dep_ not in {"prep", "advcl", "advmod"}:
            continue
        start, end = child.left_edge.i, child.right_edge.i + 1
        if end != last or not _single_clause(sent, child) or not _movable_to_front(child):
            continue
        if _is_connective(child) or not _self_contained(doc[start:end]):
            continue
        start_rest_end = start - 1 if doc[start - 1].text == "," else start
        rest = doc[sent.start : start_rest_end]
        if len(rest) < 3:
            continue
        moved = doc[start:end].text
        text = _tidy(f"{moved[:1].upper()}{moved[1:]}, {_lower_first(rest)}.")
        out.append(Rewrite(text, word_count(text), f"move {child.dep_} to the front"))
    return out


def _movable_to_front(child: Any) -> bool:
    """Whether a final phrase can open the sentence without leaving its verb hanging.

    A clause with its own conjunction ("after the scandal broke") or a phrase
    set off by a comma (", regardless of their earnings") stands alone in
    front; a bare complement ("originated from Annapolis") does not, unless
    the verb keeps another one.
    """
    doc = child.doc
    set_off = bool(child.left_edge.i > 0 and doc[child.left_edge.i - 1].text == ",")
    if child.dep_ == "advmod":
        return set_off and child.right_edge.i > child.left_edge.i
    if child.dep_ == "advcl":
        marks = {c.lower_ for c in child.children if c.dep_ == "mark"}
        return bool(marks & _FRONTABLE_MARKS)
    if child.lower_ not in _FRONTABLE_PREPS or child.head.lower_ in _BE:
        return False  # "it would be unconditional on what you make": part of the predicate
    return set_off or _has_other_complement(child.head, child)


def _reported_speech(sent: Any) -> list[Rewrite]:
    root = sent.root
    if root.lower_ not in _REPORTING:
        return []
    if any(c.dep_ not in {"nsubj", "ccomp", "punct"} for c in root.children):
        return []  # a date, negation or manner on "said" would be lost or misplaced
    subjects = [c for c in root.children if c.dep_ == "nsubj"]
    claims = [c for c in root.children if c.dep_ == "ccomp"]
    if len(subjects) != 1 or len(claims) != 1 or '"' in sent.text or "“" in sent.text:
        return []
    subject, claim = subjects[0], claims[0]
    doc = sent.doc
    who = doc[subject.left_edge.i : subject.right_edge.i + 1]
    what_tokens = [
        t
        for t in claim.subtree
        if not (t.dep_ == "mark" and t.lower_ == "that" and t.head.i == claim.i)
        and not (t.dep_ == "cc" and t.i == claim.left_edge.i)  # "And that's health care"
    ]
    if not what_tokens or not (_lowerable(who[0]) and _lowerable(what_tokens[0])):
        return []
    what = _body(_tidy("".join(t.text_with_ws for t in what_tokens)))
    verb = root.text
    out = []
    if claim.i < root.i:
        opener = 1 if doc[claim.left_edge.i].dep_ == "cc" else 0  # "And that's ..., says X"
        claimed = doc[claim.left_edge.i + opener : claim.right_edge.i + 1]
        if not _lowerable(claimed[0]):
            return []
        text = _tidy(f"{who.text} {verb} that {_lower_first(claimed)}.")
        out.append(Rewrite(text, word_count(text), "reported speech: claim last"))
    else:
        text = _tidy(f"{what}, {_lower_first(who)} {verb}.")
        out.append(Rewrite(text, word_count(text), "reported speech: claim first"))
        if root.lower_ in _SAY:
            first = doc[what_tokens[0].i : what_tokens[0].i + 1]
            text = _tidy(f"According to {_lower_first(who)}, {_lower_first(first, what)}.")
            out.append(Rewrite(text, word_count(text), "reported speech: according to"))
    return [r for r in out if _balanced(r.text, sent.text)]


def _same_past_forms(verb: Any) -> bool:
    """Whether the verb's past tense and past participle are one word ("passed", "held").

    Voice changes are only made then, so the verb is written exactly as the
    input has it (no inflection is generated: "wrote" from "written" would be
    a word the input does not contain).
    """
    word = verb.lower_
    return word.endswith("ed") or word in _PAST_EQUALS_PARTICIPLE


def _span_text(doc: Any, tok: Any) -> str:
    return str(doc[tok.left_edge.i : tok.right_edge.i + 1].text)


def _rest_after(doc: Any, start: int, end: int, skip: Any = None) -> str:
    """The text of tokens ``[start, end)`` without ``skip``'s subtree (and a comma before it)."""
    gone = set(range(skip.left_edge.i, skip.right_edge.i + 1)) if skip is not None else set()
    if gone and doc[min(gone) - 1].text == ",":
        gone.add(min(gone) - 1)
    return "".join(doc[k].text_with_ws for k in range(start, end) if k not in gone).strip()


def _voice_parts(sent: Any, subject_dep: str, tag: str) -> tuple[Any, Any, Any] | None:
    """The subject, root and doc of a one-clause sentence fit for a voice change."""
    root = sent.root
    if root.tag_ != tag or not _single_clause(sent) or not _same_past_forms(root):
        return None
    if any(t.text in "()[]" for t in sent):
        return None  # "( 2019 ) proposed ...": a citation, not a subject
    subjects = [c for c in root.children if c.dep_ == subject_dep]
    blocked = {"aux", "neg", "dative", "ccomp", "xcomp", "prt", "expl", "advcl"}
    if len(subjects) != 1 or any(c.dep_ in blocked for c in root.children):
        return None
    subject = subjects[0]
    if subject.left_edge.i != sent.start or subject.pos_ == "PRON":
        return None  # "he" would have to become "him"
    return subject, root, sent.doc


def _passive_to_active(sent: Any) -> list[Rewrite]:
    """``"The bill was passed by the Senate."`` → ``"The Senate passed the bill."``."""
    parts = _voice_parts(sent, "nsubjpass", "VBN")
    if parts is None:
        return []
    subject, root, doc = parts
    auxes = [c for c in root.children if c.dep_ == "auxpass"]
    agents = [c for c in root.children if c.dep_ == "agent"]
    if len(auxes) != 1 or auxes[0].lower_ not in {"was", "were"}:
        return []
    if len(agents) != 1 or auxes[0].i != subject.right_edge.i + 1 or auxes[0].i != root.i - 1:
        return []
    objects = [c for c in agents[0].children if c.dep_ == "pobj"]
    if (
        len(objects) != 1
        or objects[0].pos_ == "PRON"
        or objects[0].right_edge.i != agents[0].right_edge.i
    ):
        return []
    agent = _span_text(doc, objects[0])
    if not _lowerable(doc[sent.start]):
        return []
    rest = _body(_rest_after(doc, root.i + 1, sent.end, skip=agents[0]))
    patient = _lower_first(doc[sent.start : subject.right_edge.i + 1])
    text = _tidy(f"{agent[:1].upper()}{agent[1:]} {root.text} {patient} {rest}.")
    return [Rewrite(text, word_count(text), "passive to active")]


def _active_to_passive(sent: Any) -> list[Rewrite]:
    """``"The Senate passed the bill."`` → ``"The bill was passed by the Senate."``."""
    parts = _voice_parts(sent, "nsubj", "VBD")
    if parts is None:
        return []
    subject, root, doc = parts
    objects = [c for c in root.children if c.dep_ == "dobj"]
    if len(objects) != 1 or objects[0].pos_ == "PRON":
        return []
    obj = objects[0]
    if obj.left_edge.i != root.i + 1 or subject.right_edge.i != root.i - 1:
        return []
    plural = obj.tag_ in {"NNS", "NNPS"} or any(c.dep_ == "conj" for c in obj.children)
    be = "were" if plural else "was"
    moved = _span_text(doc, obj)
    if not _lowerable(doc[sent.start]):
        return []
    rest = _body(_rest_after(doc, obj.right_edge.i + 1, sent.end))
    who = _lower_first(doc[sent.start : subject.right_edge.i + 1])
    text = _tidy(f"{moved[:1].upper()}{moved[1:]} {be} {root.text} by {who} {rest}.")
    return [Rewrite(text, word_count(text), "active to passive")]


def paraphrases(text: str, *, limit: int = 12, nlp: Any = None) -> list[Rewrite]:
    """Meaning-preserving reorderings of ``text`` (never the input itself).

    Args:
        text: The input sentence.
        limit: Most rewrites returned.
        nlp: A spaCy pipeline with a parser (default: the embedded one).

    Returns:
        The rewrites; empty when no reordering applies.
    """
    source = " ".join(strip_preamble(text).split())
    sent = _root_sentence(parse(source, nlp))
    if sent.root.pos_ not in {"VERB", "AUX"}:
        return []  # a verbless or misparsed sentence: a move would be a guess
    pool = [
        *_front_to_back(sent),
        *_back_to_front(sent),
        *_reported_speech(sent),
        *_passive_to_active(sent),
        *_active_to_passive(sent),
    ]
    original = _tidy(source).lower()
    unique: dict[str, Rewrite] = {}
    for rewrite in pool:
        if rewrite.text.lower() != original and _balanced(rewrite.text, source):
            unique.setdefault(rewrite.text, rewrite)
    return list(unique.values())[:limit]


# --------------------------------------------------------------------------- fusion


@dataclass(frozen=True)
class _Part:
    text: str  # without final punctuation
    words: int
    how: str


def _parts(text: str, nlp: Any, *, first: bool) -> list[_Part]:
    source = strip_preamble(text)
    doc = parse(source, nlp)
    whole = _Part(_body(_tidy(source)), word_count(source), "whole")
    shorter = [
        _Part(_body(r.text), r.words, r.how)
        for r in _spread(compressions(source, max_ratio=0.85, min_words=3, nlp=nlp), _PARTS)
    ]
    parts = [whole, *shorter]
    if first:
        return parts
    span = doc[:]
    return [_Part(_lower_first(span, _without_opener(p.text)), p.words, p.how) for p in parts]


def _spread(rewrites: Sequence[Rewrite], most: int) -> list[Rewrite]:
    """At most ``most`` of ``rewrites`` (longest first), spread over their lengths.

    The longest alone would all be too long to fuse with a second sentence
    within the fusion's bound; the shortest alone would lose the most.
    """
    if len(rewrites) <= most:
        return list(rewrites)
    step = (len(rewrites) - 1) / (most - 1)
    return [rewrites[round(k * step)] for k in range(most)]


def _without_opener(text: str) -> str:
    """A joined part without its own opening conjunction ("And yet, X" after ", and")."""
    stripped = _OPENER.sub("", text, count=1)
    return stripped[:1].upper() + stripped[1:] if stripped and word_count(stripped) >= 3 else text


def _subject(doc: Any) -> tuple[str, int] | None:
    sent = _root_sentence(doc)
    for child in sent.root.children:
        if child.dep_ in {"nsubj", "nsubjpass"} and child.left_edge.i == sent.start:
            return doc[sent.start : child.right_edge.i + 1].text, child.right_edge.i + 1
    return None


def _shared_subject(texts: Sequence[str], nlp: Any) -> list[Rewrite]:
    if len(texts) != 2:
        return []
    docs = [parse(strip_preamble(t), nlp) for t in texts]
    subjects = [_subject(doc) for doc in docs]
    if subjects[0] is None or subjects[1] is None:
        return []
    if subjects[0][0].lower() != subjects[1][0].lower():
        return []
    predicate = _body(_tidy(docs[1][subjects[1][1] :].text))
    text = _tidy(f"{_body(_tidy(docs[0].text))} and {predicate[:1].lower()}{predicate[1:]}.")
    return [Rewrite(text, word_count(text), "shared subject")]


def fusions(
    texts: Sequence[str], *, max_ratio: float = 0.75, limit: int = 32, nlp: Any = None
) -> list[Rewrite]:
    """Fusions of ``texts``: ordered parts of each, joined by :data:`JOINS`.

    Args:
        texts: Two or more input sentences, in order.
        max_ratio: Longest allowed output, as a share of the inputs' words together.
        limit: Most rewrites returned; those that keep the most of their
            least-kept input come first, so that no input is all but dropped.
        nlp: A spaCy pipeline with a parser (default: the embedded one).

    Returns:
        The rewrites; when none is short enough, the shortest few that exist.
    """
    nlp = nlp or load_spacy()
    texts = _distinct(texts)
    if len(texts) == 1:  # fusion(S3, compression(S3)): one input says it all
        whole = _tidy(strip_preamble(texts[0]))
        return [Rewrite(whole, word_count(whole), "one input contains the others")]
    total = sum(word_count(t) for t in texts)
    options = [_parts(t, nlp, first=k == 0) for k, t in enumerate(texts)]
    pool = list(_shared_subject(texts, nlp))
    for combo in itertools.product(*options):
        for join in JOINS:
            body = combo[0].text
            for k, part in enumerate(combo[1:], start=1):
                sep = join if k == len(combo) - 1 else "; "
                body = f"{body}{sep}{part.text}"
            text = _tidy(body + ".")
            how = " + ".join(p.how for p in combo) + f" joined by {join.strip()!r}"
            pool.append(Rewrite(text, word_count(text), how))
    joined = " ".join(texts)
    unique = {r.text: r for r in pool if _balanced(r.text, joined)}
    fits = [r for r in unique.values() if r.words <= max_ratio * total]
    if not fits:
        fits = sorted(unique.values(), key=lambda r: r.words)[:4]
    fits.sort(key=lambda r: (-_least_kept(r.text, texts), -r.words, r.text))
    return fits[:limit]


def _distinct(texts: Sequence[str]) -> list[str]:
    """The inputs without those whose content another input already holds.

    Joining a sentence with its own compression would say one thing twice.
    """
    words = [set(content_words(t)) for t in texts]
    kept = []
    for k, text in enumerate(texts):
        contained = any(
            j != k
            and words[k]
            and len(words[k] & words[j]) / len(words[k]) >= _CONTAINED
            and (len(words[j]) > len(words[k]) or (len(words[j]) == len(words[k]) and j < k))
            for j in range(len(texts))
        )
        if not contained:
            kept.append(text)
    return kept or [texts[0]]


def _least_kept(text: str, texts: Sequence[str]) -> float:
    """The smallest share of any input's words that ``text`` keeps."""
    kept = set(tokens(text))
    shares = []
    for source in texts:
        words = set(tokens(source))
        shares.append(len(words & kept) / len(words) if words else 1.0)
    return min(shares)
