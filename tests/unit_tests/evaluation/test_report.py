from __future__ import annotations

import sys

import pytest

from langchain_genprog.errors import ExtraNotInstalledError
from langchain_genprog.evaluation.plots import require_matplotlib, summary_figures
from langchain_genprog.evaluation.report import render_report

SUMMARY = {"a<b>": {"examples": 2.0, "coverage": 0.5, "cost_seconds": 1.0}}
RECORDS = [
    {"method": "a<b>", "example_id": "e1", "status": "ok"},
    {"method": "a<b>", "example_id": "e2", "status": "error", "error": "<script>x</script>"},
]


def test_report_escapes_and_embeds_plots() -> None:
    page = render_report(SUMMARY, RECORDS, examples=2)
    assert page.startswith("<!DOCTYPE html>") and "<title>genprog evaluation</title>" in page
    assert "<th>a&lt;b&gt;</th>" in page and "<script>" not in page
    assert "Failures" in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert page.count("data:image/png;base64,") == 2


def test_without_matplotlib_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    with pytest.raises(ExtraNotInstalledError, match=r"langchain-genprog\[eval\]") as caught:
        require_matplotlib()
    assert caught.value.extra == "eval" and isinstance(caught.value, ImportError)
    with pytest.raises(ExtraNotInstalledError):
        summary_figures(SUMMARY)
    page = render_report(SUMMARY, RECORDS)
    assert "data:image/png" not in page and "<td>coverage</td>" in page
    assert "langchain-genprog[eval]" in page
