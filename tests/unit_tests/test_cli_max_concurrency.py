"""``genprog answer --max-concurrency`` bounds the run's model requests in flight."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from langchain_genprog import cli, graph
from tests.unit_tests.graph.test_graph import grammar_model


@pytest.mark.parametrize(("args", "expected"), [([], 4), (["--max-concurrency", "2"], 2)])
def test_the_flag_reaches_the_graph(
    monkeypatch: pytest.MonkeyPatch, args: list[str], expected: int
) -> None:
    built: list[dict[str, Any]] = []
    real = graph.create_genprog_graph

    def spy(llm: Any, **options: Any) -> Any:
        built.append(options)
        return real(llm, **options)

    monkeypatch.setattr(cli, "load_chat_model", lambda model, base_url: grammar_model())
    monkeypatch.setattr(graph, "create_genprog_graph", spy)
    result = CliRunner().invoke(cli.main, ["answer", "--sample", "--quiet", *args])
    assert result.exit_code == 0, result.output
    assert [options["max_concurrency"] for options in built] == [expected]


def test_the_flag_is_checked() -> None:
    result = CliRunner().invoke(cli.main, ["answer", "--sample", "--max-concurrency", "0"])
    assert result.exit_code == 2 and "max-concurrency" in result.output
