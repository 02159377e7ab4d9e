"""Regenerate the README's end-to-end results table from ``genprog eval`` outputs.

Each ``--run LABEL=DIR`` names a ``genprog eval --out DIR`` directory (its
``summary.json``); the table has one row per (dataset, method) and the
columns users choose a citation method by: gold-link F1, the drop-and-hold
signal, ALCE-style citation recall/precision, coverage and cost. With
``--write README.md`` the table replaces the block between
``<!-- eval-results:start -->`` and ``<!-- eval-results:end -->``; otherwise
it is printed.

Usage::

    python -m benchmarks.readme_results --run MDS=benchmarks/results/eval_mds \\
        --run LFQA=benchmarks/results/eval_lfqa --write README.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

START = "<!-- eval-results:start -->"
END = "<!-- eval-results:end -->"

COLUMNS: tuple[tuple[str, str], ...] = (
    ("examples", "n"),
    ("gold_f1_micro@1", "gold F1@1"),
    ("gold_f1_micro@all", "gold F1@all"),
    ("drop_mean", "drop"),
    ("hold_share_mean", "hold"),
    ("alce_recall", "ALCE rec."),
    ("alce_precision", "ALCE prec."),
    ("coverage", "coverage"),
    ("answer_words", "words"),
    ("cost_llm_calls", "LLM calls"),
    ("cost_total_tokens", "LLM tokens"),
    ("cost_forward_passes", "scorer passes"),
    ("cost_seconds", "wall s"),
)


def _cell(value: Any, key: str) -> str:
    if value is None:
        return "–"
    if key == "examples" or key in {"cost_total_tokens", "cost_seconds"}:
        return f"{value:.0f}"
    if key in {"answer_words", "cost_llm_calls", "cost_forward_passes"}:
        return f"{value:.1f}"
    return f"{value:.3f}"


def table(runs: list[tuple[str, Path]]) -> str:
    """The markdown table for the given ``(label, eval dir)`` pairs."""
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for label, directory in runs:
        summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
        methods: dict[str, dict[str, Any]] = summary.get("methods", summary)
        rows += [(label, name, values) for name, values in methods.items()]
    # A metric no method has (e.g. gold links of generated answers) is left out.
    columns = [(k, t) for k, t in COLUMNS if any(v.get(k) is not None for _, _, v in rows)]
    head = ["data", "method", *(title for _, title in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, name, values in rows:
        cells = [_cell(values.get(key), key) for key, _ in columns]
        lines.append("| " + " | ".join([label, name, *cells]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", action="append", required=True, help="LABEL=DIR")
    parser.add_argument("--write", help="README to update in place")
    args = parser.parse_args(argv)
    runs = []
    for item in args.run:
        label, sep, directory = item.partition("=")
        if not sep:
            parser.error(f"--run takes LABEL=DIR, got {item!r}")
        runs.append((label, Path(directory)))
    text = table(runs)
    if not args.write:
        sys.stdout.write(text + "\n")
        return 0
    readme = Path(args.write)
    content = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(content):
        parser.error(f"{readme} has no {START} ... {END} block")
    readme.write_text(
        pattern.sub(lambda _: f"{START}\n{text}\n{END}", content, count=1), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
