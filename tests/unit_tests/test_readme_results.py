"""The script that writes the README's evaluation table from ``genprog eval`` outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import readme_results


def test_table_replaces_the_marked_block(tmp_path: Path) -> None:
    run = tmp_path / "eval"
    run.mkdir()
    summary = {
        "methods": {
            "genprog": {
                "examples": 2.0,
                "coverage": 1.0,
                "alce_recall": 0.75,
                "cost_seconds": 185.2,
            },
            "alce": {"examples": 2.0, "coverage": 0.0, "alce_recall": None, "cost_seconds": 65.6},
        }
    }
    (run / "summary.json").write_text(json.dumps(summary))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{readme_results.START}\nold table\n{readme_results.END}\nrest\n")
    assert readme_results.main(["--run", f"MDS={run}", "--write", str(readme)]) == 0
    text = readme.read_text()
    assert "old table" not in text and text.startswith("intro\n") and text.endswith("rest\n")
    assert "| MDS | genprog | 2 | 0.750 | 1.000 | 185 |" in text
    assert "| MDS | alce | 2 | – | 0.000 | 66 |" in text
    assert "gold F1" not in text  # no method has it: the column is left out


def test_missing_block_is_an_error(tmp_path: Path) -> None:
    run = tmp_path / "eval"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"methods": {}}))
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit):
        readme_results.main(["--run", f"MDS={run}", "--write", str(readme)])
