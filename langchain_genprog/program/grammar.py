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
from collections.abc import Sequence

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
        max_instruction_chars: Longest instruction text.

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
    rules: list[str] = []
    top = f"top ::= un{max_depth} | fu{max_depth}" if require_operation else f"top ::= e{max_depth}"
    root = '"- " top "\\n"'
    if allow_end:
        root = f"({root}) | {json.dumps(END_MARKER)}"
    rules.append(f"root ::= {root}")
    rules.append(top)
    rules.append("sid ::= " + " | ".join(json.dumps(f"S{i}") for i in ids))
    rules.append("e0 ::= sid")
    instr = " instr?" if allow_instruction else ""
    for level in range(1, max_depth + 1):
        inner = f"e{level - 1}"
        optional = ""
        for _ in range(max_fan_in - 2):
            optional = f' (", " {inner}{optional})?'
        rules.append(f'un{level} ::= ("paraphrase" | "compression") "(" {inner}{instr} ")"')
        if level == 1 and len(ids) <= MAX_ENUMERATED_IDS:
            # Enumerate distinct id combinations so a leaf fusion can never
            # repeat an input (small models happily write fusion(S4, S4)).
            combos = [
                ", ".join(f"S{i}" for i in combo)
                for size in range(2, min(max_fan_in, len(ids)) + 1)
                for combo in itertools.combinations(ids, size)
            ] or [f"S{ids[0]}, S{ids[0]}"]
            alternatives = " | ".join(json.dumps(c) for c in combos)
            rules.append(f'fu1 ::= "fusion(" ({alternatives}){instr} ")"')
        elif level > 1 and len(ids) <= MAX_ENUMERATED_IDS:
            # Either a leaf fusion, or a fusion with at least one nested call;
            # never two copies of the same bare id.
            call = f"c{level - 1}"
            rules.append(f"{call} ::= un{level - 1} | fu{level - 1}")
            rules.append(
                f'fu{level} ::= fu1 | "fusion(" {call} ", " {inner}{optional}{instr} ")"'
                f' | "fusion(" sid ", " {call}{optional}{instr} ")"'
            )
        else:
            rules.append(f'fu{level} ::= "fusion(" {inner} ", " {inner}{optional}{instr} ")"')
        rules.append(f'e{level} ::= sid | un{level} | fu{level} | "extract(" sid ")"')
    if allow_instruction:
        chars = "[a-zA-Z0-9 ,.'-]"
        rules.append(f'instr ::= ", instruction=\\"" {chars}{{1,{max_instruction_chars}}} "\\""')
    return "\n".join(rules) + "\n"
