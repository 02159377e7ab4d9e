"""Paraphrases: reorderings that keep every word and the claim (moves, reported speech, voice)."""

from __future__ import annotations

from typing import Any

from langchain_genprog.models.spacy_pipeline import parse
from langchain_genprog.operations.rewrites.text import (
    Rewrite,
    balanced,
    body,
    has_other_complement,
    lower_first,
    lowerable,
    root_sentence,
    strip_preamble,
    tidy,
    word_count,
)

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
        if not _self_contained(doc[start:end]) or not lowerable(doc[start]):
            continue
        if not any(c.left_edge.i == end + 1 for c in root.children if c.dep_.startswith("nsubj")):
            continue  # "In his 1987 work, The Rise and Fall ..., Kennedy": the title is the work's
        rest = body(tidy(doc[end + 1 : sent.end].text))
        if rest.lower().startswith("then ") or rest.endswith(('"', "”", "'", "’")):
            continue  # "If X, then Y" / 'had "a good hunch."': the end is taken
        moved = lower_first(doc[start:end])
        text = tidy(f"{rest} {moved}.")
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
    if not _starts_with_subject(sent) or _compares(sent) or not lowerable(doc[sent.start]):
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
        text = tidy(f"{moved[:1].upper()}{moved[1:]}, {lower_first(rest)}.")
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
    return set_off or has_other_complement(child.head, child)


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
    if not what_tokens or not (lowerable(who[0]) and lowerable(what_tokens[0])):
        return []
    what = body(tidy("".join(t.text_with_ws for t in what_tokens)))
    verb = root.text
    out = []
    if claim.i < root.i:
        opener = 1 if doc[claim.left_edge.i].dep_ == "cc" else 0  # "And that's ..., says X"
        claimed = doc[claim.left_edge.i + opener : claim.right_edge.i + 1]
        if not lowerable(claimed[0]):
            return []
        text = tidy(f"{who.text} {verb} that {lower_first(claimed)}.")
        out.append(Rewrite(text, word_count(text), "reported speech: claim last"))
    else:
        text = tidy(f"{what}, {lower_first(who)} {verb}.")
        out.append(Rewrite(text, word_count(text), "reported speech: claim first"))
        if root.lower_ in _SAY:
            first = doc[what_tokens[0].i : what_tokens[0].i + 1]
            text = tidy(f"According to {lower_first(who)}, {lower_first(first, what)}.")
            out.append(Rewrite(text, word_count(text), "reported speech: according to"))
    return [r for r in out if balanced(r.text, sent.text)]


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
    if not lowerable(sent.doc[sent.start]):
        return None  # the subject moves inside: its first word must not be a name in doubt
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
    rest = body(_rest_after(doc, root.i + 1, sent.end, skip=agents[0]))
    patient = lower_first(doc[sent.start : subject.right_edge.i + 1])
    text = tidy(f"{agent[:1].upper()}{agent[1:]} {root.text} {patient} {rest}.")
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
    rest = body(_rest_after(doc, obj.right_edge.i + 1, sent.end))
    who = lower_first(doc[sent.start : subject.right_edge.i + 1])
    text = tidy(f"{moved[:1].upper()}{moved[1:]} {be} {root.text} by {who} {rest}.")
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
    sent = root_sentence(parse(source, nlp))
    if sent.root.pos_ not in {"VERB", "AUX"}:
        return []  # a verbless or misparsed sentence: a move would be a guess
    pool = [
        *_front_to_back(sent),
        *_back_to_front(sent),
        *_reported_speech(sent),
        *_passive_to_active(sent),
        *_active_to_passive(sent),
    ]
    original = tidy(source).lower()
    unique: dict[str, Rewrite] = {}
    for rewrite in pool:
        if rewrite.text.lower() != original and balanced(rewrite.text, source):
            unique.setdefault(rewrite.text, rewrite)
    return list(unique.values())[:limit]


def _compares(sent: Any) -> bool:
    """Whether a sentence compares ("strongest in eight years", "more ... than you would").

    A phrase there often belongs to the comparison, not the verb: moving it
    ("In eight years, the series logged its strongest ratings") changes the claim.
    """
    return any(t.tag_ in {"JJR", "RBR", "JJS", "RBS"} or t.lower_ == "than" for t in sent)
