"""A GBNF grammar for one program line, for constrained decoding.

A 135M-parameter model does not write valid programs on its own. Decoding it
under this grammar makes every line parse *and* name only sentence ids that
exist (in fact only the ids offered as candidates), and bounds depth and
fan-in, so validation can only fail on repetition — which the planner handles
by offering, for each new line, only ids not used yet. GBNF is llama.cpp's
grammar format; other backends (xgrammar, llguidance) accept it too.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Collection, Sequence

MAX_ENUMERATED_IDS = 8
"""Up to this many candidates, leaf fusions enumerate distinct id combinations."""

END_MARKER = "END"
"""What a grammar-constrained planner writes instead of a line when it is done."""


def program_line_grammar(
    candidate_ids: Sequence[int],
    *,
    max_depth: int = 2,
    max_fan_in: int = 3,
    allow_instruction: bool = False,
    allow_end: bool = True,
    require_operation: bool = False,
    max_instruction_chars: int = 60,
    compressible: Collection[int] | None = None,
    paraphrasable: Collection[int] | None = None,
    fusable: Callable[[tuple[int, ...]], bool] | None = None,
) -> str:
    """Build a GBNF grammar accepting exactly one program line (or ``END``).

    Args:
        candidate_ids: Sentence ids the line may cite (at least one).
        max_depth: Most nested operations on one path.
        max_fan_in: Most inputs to ``fusion``.
        allow_instruction: Whether ``instruction="..."`` may be written.
        allow_end: Whether ``END`` is an alternative (the planner is done).
        require_operation: Whether the line must apply an operation (no bare
            ``S3`` copy); small models otherwise tend to copy sentences only.
            With one candidate that can be neither compressed nor
            paraphrased, the bare id is the line after all.
        max_instruction_chars: Longest instruction text.
        compressible: Ids that ``compression`` may be applied to directly;
            ``None``: every candidate. Grounded operations can only delete
            what a sentence's parse allows, so ``compression(S4)`` of a
            sentence with nothing to delete would be a copy that claims to be
            a compression; the planner offers it only where it does its job.
        paraphrasable: The same for ``paraphrase``.
        fusable: Whether a fusion of these ids can meet its length bound
            (``None``: any); with few candidates, leaf fusions are offered only
            where it can (two short sentences with nothing to delete cannot be
            fused into 75 % of their words).

    Returns:
        The grammar text; its ``root`` rule is the line.

    Raises:
        ValueError: If no candidate ids are given or bounds are out of range.
    """
    ids = list(dict.fromkeys(int(i) for i in candidate_ids))
    if not ids:
        raise ValueError("a program grammar needs at least one candidate sentence id")
    if max_depth < 1 or max_fan_in < 2:
        raise ValueError("max_depth must be >= 1 and max_fan_in >= 2")
    instr = " instr?" if allow_instruction else ""
    leaf_ops, unary = _leaf_unary(ids, compressible, paraphrasable, instr)
    paraphrases = [i for i in ids if paraphrasable is None or i in paraphrasable]
    rules = ["sid ::= " + _ids(ids), *leaf_ops]
    if len(ids) > 1:
        rules.append("e0 ::= sid")
        for level in range(1, max_depth + 1):
            rules.extend(
                _level_rules(level, ids, max_fan_in, instr, unary, fusable, rules, paraphrases)
            )
        top_level = max_depth
    else:
        top_level = 1  # nothing to fuse (fusion(S4, S4) is invalid)
    defined = _defined(rules)
    calls = [name for name in (f"un{top_level}", f"fu{top_level}") if name in defined]
    if require_operation and calls:
        top = "top ::= " + " | ".join(calls)
    elif len(ids) > 1:
        top = f"top ::= e{max_depth}"
    else:
        top = "top ::= " + " | ".join(["sid", *calls])
    root = '"- " top "\\n"'
    if allow_end:
        root = f"({root}) | {json.dumps(END_MARKER)}"
    rules[:0] = [f"root ::= {root}", top]
    if allow_instruction:
        chars = "[a-zA-Z0-9 ,.'-]"
        rules.append(f'instr ::= ", instruction=\\"" {chars}{{1,{max_instruction_chars}}} "\\""')
    return "\n".join(rules) + "\n"


def _defined(rules: Sequence[str]) -> set[str]:
    return {rule.split(" ::= ", 1)[0] for rule in rules}


def _ids(ids: Sequence[int]) -> str:
    return " | ".join(json.dumps(f"S{i}") for i in ids)


def _leaf_unary(
    ids: Sequence[int],
    compressible: Collection[int] | None,
    paraphrasable: Collection[int] | None,
    instr: str,
) -> tuple[list[str], list[int]]:
    """``u<id>`` rules (the unary operations that apply to each id), ``un1``, and those ids."""
    rules: list[str] = []
    unary: list[int] = []
    for i in ids:
        ops = [
            f'"{name}(S{i}"{instr} ")"'
            for name, allowed in (("paraphrase", paraphrasable), ("compression", compressible))
            if allowed is None or i in allowed
        ]
        if ops:
            rules.append(f"u{i} ::= " + " | ".join(ops))
            unary.append(i)
    if not rules:
        return [], []
    return [*rules, "un1 ::= " + " | ".join(f"u{i}" for i in unary)], unary


def _level_rules(
    level: int,
    ids: Sequence[int],
    max_fan_in: int,
    instr: str,
    unary: Sequence[int],
    fusable: Callable[[tuple[int, ...]], bool] | None,
    so_far: Sequence[str],
    paraphrases: Sequence[int],
) -> list[str]:
    """The ``un``, ``fu`` and ``e`` rules of one nesting level (those that have alternatives).

    ``unary`` lists the ids that have a ``u<id>`` rule. Up to
    :data:`MAX_ENUMERATED_IDS` candidates, the first two levels enumerate
    their inputs so that no line uses a sentence twice (small models happily
    write ``fusion(S4, S4)`` or ``fusion(S10, compression(S10))``, which says
    the same thing twice), and leaf fusions only of sentences ``fusable`` allows.
    """
    enumerated = len(ids) <= MAX_ENUMERATED_IDS
    if level == 1 and enumerated:
        combos = [
            ", ".join(f"S{i}" for i in combo)
            for size in range(2, min(max_fan_in, len(ids)) + 1)
            for combo in itertools.combinations(ids, size)
            if fusable is None or fusable(combo)
        ]
        alternatives = " | ".join(json.dumps(c) for c in combos)
        rules = [f'fu1 ::= "fusion(" ({alternatives}){instr} ")"'] if combos else []
    elif level == 2 and enumerated:
        if fusable is None:
            rules = _distinct_nested(ids, instr, unary, has_fu1="fu1" in _defined(so_far))
        else:
            rules = _bounded_nested(ids, instr, paraphrases, fusable, _defined(so_far))
    else:
        rules = _generic_level(level, max_fan_in, instr, _defined(so_far))
    defined = _defined([*so_far, *rules])
    calls = [name for name in (f"un{level}", f"fu{level}") if name in defined]
    rules.append(f"e{level} ::= " + " | ".join(["sid", *calls, '"extract(" sid ")"']))
    return rules


def _distinct_nested(
    ids: Sequence[int], instr: str, unary: Sequence[int], *, has_fu1: bool
) -> list[str]:
    """Level 2 over distinct ids: a unary call next to another id, or a compressed fusion."""
    nested = []
    for x in unary:
        for y in ids:
            if y == x:
                continue
            nested.append(f'"fusion(" u{x} ", S{y}"{instr} ")"')
            nested.append(f'"fusion(S{y}, " u{x}{instr} ")"')
            if y in unary:
                nested.append(f'"fusion(" u{x} ", " u{y}{instr} ")"')
    return _level_two(nested, instr, has_fu1=has_fu1, has_un1=bool(unary))


def _bounded_nested(
    ids: Sequence[int],
    instr: str,
    paraphrases: Sequence[int],
    fusable: Callable[[tuple[int, ...]], bool],
    defined: set[str],
) -> list[str]:
    """Level 2 when fusions are bounded: inside a fusion, a paraphrase only.

    A bounded fusion already deletes from each of its inputs; a compression
    inside it leaves its parts nothing more to delete, so the fusion cannot
    meet its bound and keeps both inputs whole (on the grounding benchmark's
    first 15 default answers every fusion over a compression did: ratios
    1.02-1.08, each reported as a fallback). A paraphrase keeps its input's
    words, so the fusion over it is offered where the leaves' fusion fits.
    """
    rules: list[str] = []
    nested = []
    for x in paraphrases:
        partners = [y for y in ids if y != x and fusable((x, y))]
        if partners:
            rules.append(f'p{x} ::= "paraphrase(S{x}"{instr} ")"')
        for y in partners:
            nested.append(f'"fusion(" p{x} ", S{y}"{instr} ")"')
            nested.append(f'"fusion(S{y}, " p{x}{instr} ")"')
    level = _level_two(nested, instr, has_fu1="fu1" in defined, has_un1="un1" in defined)
    return rules + level


def _level_two(nested: Sequence[str], instr: str, *, has_fu1: bool, has_un1: bool) -> list[str]:
    """``fu2`` (leaf fusions and ``nested``) and ``un2`` (unary calls, a compressed fusion)."""
    fusions = (["fu1"] if has_fu1 else []) + list(nested)
    # No paraphrase(fusion(...)): a reordering needs one clause, and a fusion
    # joins two, so it would only ever copy its input.
    unaries = (["un1"] if has_un1 else []) + ([f'"compression(" fu1{instr} ")"'] if has_fu1 else [])
    rules = ["fu2 ::= " + " | ".join(fusions)] if fusions else []
    return rules + (["un2 ::= " + " | ".join(unaries)] if unaries else [])


def _generic_level(level: int, max_fan_in: int, instr: str, defined: set[str]) -> list[str]:
    """A level by rule references only (many candidates, or deeper than two)."""
    inner = f"e{level - 1}"
    optional = ""
    for _ in range(max_fan_in - 2):
        optional = f' (", " {inner}{optional})?'
    rules = [f'fu{level} ::= "fusion(" {inner} ", " {inner}{optional}{instr} ")"']
    if level == 1:
        return rules
    below = [name for name in (f"un{level - 1}", f"fu{level - 1}") if name in defined]
    if not below:
        return rules
    rules.append(f"c{level - 1} ::= " + " | ".join(below))
    shallower = f"un{level - 1} | " if f"un{level - 1}" in defined else ""
    op = f'("paraphrase" | "compression") "(" c{level - 1}{instr} ")"'
    return [*rules, f"un{level} ::= {shallower}{op}"]
