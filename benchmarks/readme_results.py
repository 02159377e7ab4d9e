"""Regenerate the README's results tables from benchmark outputs.

* ``--run LABEL=DIR`` names a ``genprog eval --out DIR`` directory (its
  ``summary.json``); the end-to-end table has one row per (dataset, method) and
  the columns users choose a citation method by: gold-link F1, the
  drop-and-hold signal, ALCE-style citation recall/precision, coverage and
  cost. It replaces the block between ``<!-- eval-results:start -->`` and
  ``<!-- eval-results:end -->``.
* ``--attribution DIR`` names an attribution benchmark output
  (``benchmarks.attribution_benchmark``, its ``attribution.json``); the table
  replaces the ``<!-- attribution-results:start/end -->`` block.

Without ``--write README.md`` the tables are printed.

Usage::

    python -m benchmarks.readme_results --run MDS=benchmarks/results/eval_mds \\
        --attribution benchmarks/results/run_e --write README.md
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
ATTRIBUTION_START = "<!-- attribution-results:start -->"
ATTRIBUTION_END = "<!-- attribution-results:end -->"

ATTRIBUTION_NAMES = {
    "ours-clime-c2": "ours-clime-c2 (c=2)",
    "ours-clime-bern": "ours-clime-bern (Bernoulli, c=2.5, 4 nonzeros)",
    "ours-clime-ortho": (
        "**ours-clime-ortho** (orthogonal, c=2.5, sentences only; the shipped default adds phrases)"
    ),
    "ours-clime-multi": "ours-clime-multi (+ phrases by LOO)",
    "emb-cosine": "embedding cosine",
    "lexical-overlap": "lexical overlap",
}

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


def attribution_table(directory: Path) -> str:
    """The README table of an attribution benchmark run (its pooled ``summary``)."""
    raw = json.loads((directory / "attribution.json").read_text(encoding="utf-8"))
    summary = raw["summary"]
    # Wall time relative to MExGen's C-LIME when the run has it, else to context-cite-32.
    ref = "ours-clime" if "ours-clime" in summary else "context-cite-32"
    head = (
        "| method | F1@1 | F1@2 | F1@3 | fidelity@2 mean | fidelity@2 median / example "
        f"| fwd rows | fwd tokens | wall s | wall / {ref} |"
    )
    lines = [head, "|" + "---|" * 10]
    for name, r in summary.items():
        ratio = r["wall_time_s"] / summary[ref]["wall_time_s"] if ref in summary else float("nan")
        lines.append(
            f"| {ATTRIBUTION_NAMES.get(name, name)} | {r['f1@1']:.3f} | {r['f1@2']:.3f} "
            f"| {r['f1@3']:.3f} | {r['fidelity']:.3f} | {r['median_fidelity']:.3f} "
            f"| {r['forward_rows']:,} | {r['forward_tokens']:,} | {r['wall_time_s']:.0f} "
            f"| {ratio:.2f} |"
        )
    return "\n".join(lines)


def replace_block(content: str, start: str, end: str, text: str) -> str | None:
    """``content`` with the block between the markers replaced (``None``: no block)."""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(content):
        return None
    return pattern.sub(lambda _: f"{start}\n{text}\n{end}", content, count=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", action="append", default=[], help="LABEL=DIR (genprog eval)")
    parser.add_argument("--attribution", help="DIR of an attribution benchmark (pooled) run")
    parser.add_argument("--write", help="README to update in place")
    args = parser.parse_args(argv)
    if not args.run and not args.attribution:
        parser.error("give --run LABEL=DIR and/or --attribution DIR")
    runs = []
    for item in args.run:
        label, sep, directory = item.partition("=")
        if not sep:
            parser.error(f"--run takes LABEL=DIR, got {item!r}")
        runs.append((label, Path(directory)))
    blocks = []
    if runs:
        blocks.append((START, END, table(runs)))
    if args.attribution:
        blocks.append(
            (ATTRIBUTION_START, ATTRIBUTION_END, attribution_table(Path(args.attribution)))
        )
    if not args.write:
        sys.stdout.write("\n\n".join(text for _, _, text in blocks) + "\n")
        return 0
    readme = Path(args.write)
    content = readme.read_text(encoding="utf-8")
    for start, end, text in blocks:
        updated = replace_block(content, start, end, text)
        if updated is None:
            parser.error(f"{readme} has no {start} ... {end} block")
        content = updated
    readme.write_text(content, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
