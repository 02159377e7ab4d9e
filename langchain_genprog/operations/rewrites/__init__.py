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

from langchain_genprog.operations.rewrites.deletions import compressions
from langchain_genprog.operations.rewrites.fusions import JOINS, fusions
from langchain_genprog.operations.rewrites.reorderings import ADDED_WORDS, paraphrases
from langchain_genprog.operations.rewrites.text import (
    Rewrite,
    leaf_text,
    strip_preamble,
    word_count,
)

__all__ = [
    "ADDED_WORDS",
    "JOINS",
    "Rewrite",
    "compressions",
    "fusions",
    "leaf_text",
    "paraphrases",
    "strip_preamble",
    "word_count",
]
