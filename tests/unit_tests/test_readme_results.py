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


def test_attribution_table_replaces_its_own_block(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    row = {
        "f1@1": 0.444,
        "f1@2": 0.5,
        "f1@3": 0.471,
        "fidelity": 0.495,
        "median_fidelity": 0.313,
        "forward_rows": 733,
        "forward_tokens": 175271,
        "wall_time_s": 726.4,
        "time_ratio": 1.0,
    }
    summary = {"ours-clime": row, "emb-cosine": {**row, "forward_rows": 0, "time_ratio": 0.006}}
    (run / "attribution.json").write_text(json.dumps({"summary": summary}))
    readme = tmp_path / "README.md"
    eval_block = f"{readme_results.START}\nkept\n{readme_results.END}"
    readme.write_text(
        f"{eval_block}\n{readme_results.ATTRIBUTION_START}\nold\n{readme_results.ATTRIBUTION_END}\n"
    )
    assert readme_results.main(["--attribution", str(run), "--write", str(readme)]) == 0
    text = readme.read_text()
    assert "old" not in text and eval_block in text  # only its own block is replaced
    expected = "| ours-clime | 0.444 | 0.500 | 0.471 | 0.495 | 0.313 | 733 | 175,271 | 726 | 1.00 |"
    assert expected in text
    assert "| embedding cosine |" in text and "| 0 |" in text
