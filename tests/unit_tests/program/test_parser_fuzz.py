"""Issue 11: property-based tests of the parser and of planning plus execution.

* The parser never raises anything but the package's typed error and never
  executes anything, whatever text a planner writes.
* Every planned line is either in the answer or reported (a plan issue or an
  execution failure): nothing a planner wrote disappears.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_genprog.citations import compose_answer
from langchain_genprog.errors import InvalidProgramError
from langchain_genprog.execute import ProgramExecutor
from langchain_genprog.plan import ProgramPlanner
from langchain_genprog.program.parser import parse_program, parse_program_strict
from langchain_genprog.segment import Sources
from tests.unit_tests.fakes import ScriptedChatModel
from tests.unit_tests.fuzz import fuzz
from tests.unit_tests.operations.fakes import EchoChatModel

_PROBE_CALLS: list[str] = []


def _probe(*args: object, **kwargs: object) -> str:
    _PROBE_CALLS.append("called")
    return "probe"


@pytest.fixture(autouse=True)
def probe() -> Iterator[None]:
    """A builtin that records any call: if the parser evaluated a line, it would show."""
    builtins.genprog_probe = _probe  # type: ignore[attr-defined]
    _PROBE_CALLS.clear()
    yield
    del builtins.genprog_probe  # type: ignore[attr-defined]
    assert _PROBE_CALLS == [], "the parser executed program text"


_HOSTILE = st.sampled_from(
    [
        "genprog_probe()",
        "__import__('os').system('genprog_probe')",
        "eval('genprog_probe()')",
        "exec('genprog_probe()')",
        "(lambda: genprog_probe())()",
        "[genprog_probe() for S1 in S2]",
        "S1.__class__.__mro__",
        "fusion(*[S1, S2])",
        "fusion(S1, S2, **{'instruction': genprog_probe()})",
        'fusion(S1, S2, instruction=f"{genprog_probe()}")',
        "paraphrase(S1)[0]",
        "S1 + S2",
        "await S1",
        "yield S1",
        "S1 if S2 else S3",
        "x := S1",
        "\x00",
        "```",
        "(" * 300 + "S1" + ")" * 300,
    ]
)
_OPERATION = st.sampled_from(["paraphrase", "compression", "fusion", "extract", "Fusion", "nope"])
_ID = st.integers(min_value=0, max_value=30).map(lambda k: f"S{k}")
_INSTRUCTION = st.text(max_size=20).map(lambda t: f"instruction={t!r}")


def _call(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    args = st.lists(st.one_of(children, _INSTRUCTION), min_size=0, max_size=4)
    return st.builds(lambda op, parts: f"{op}({', '.join(parts)})", _OPERATION, args)


_TREE = st.recursive(_ID, _call, max_leaves=8)
_LINE = st.one_of(
    _TREE.map(lambda tree: f"- {tree}"),
    _TREE,
    _HOSTILE,
    st.text(max_size=60),
    st.builds(lambda a, b: a + b, _TREE, st.text(max_size=8)),
)
_PROGRAM = st.lists(_LINE, max_size=12).map("\n".join)


@fuzz(400)
@given(_PROGRAM)
def test_parser_raises_only_typed_errors_and_executes_nothing(text: str) -> None:
    parsed = parse_program(text)
    for line in parsed.program.lines:
        assert line.root.render()  # every parsed line is a well-formed tree
    for issue in parsed.issues:
        assert issue.message
    try:
        parse_program_strict(text)
    except InvalidProgramError as err:
        assert err.issues
    # any other exception fails the test


@fuzz(200)
@given(st.text(max_size=300))
def test_parser_survives_arbitrary_unicode(text: str) -> None:
    parse_program(text)


DOCS = [
    "The council approved the park. It will cost two million dollars. Work starts in May.",
    "Residents wanted green space. The mayor praised the vote. The vote was close.",
]
_SOURCES = Sources.from_documents(DOCS)
_VALID_TREE = st.recursive(
    st.integers(min_value=1, max_value=8).map(lambda k: f"S{k}"),
    lambda inner: st.one_of(
        st.builds(lambda x: f"paraphrase({x})", inner),
        st.builds(lambda x: f"compression({x})", inner),
        st.builds(lambda xs: f"fusion({', '.join(xs)})", st.lists(inner, min_size=1, max_size=4)),
    ),
    max_leaves=5,
)
_PLANNED = st.lists(st.one_of(_VALID_TREE, _LINE), min_size=1, max_size=10)


@fuzz(100)
@given(_PLANNED, st.sampled_from([None, "approved", "vote"]))
def test_every_planned_line_is_answered_or_reported(lines: list[str], fail_on: str | None) -> None:
    text = "\n".join(f"- {line}" for line in lines)
    planner = ProgramPlanner(
        ScriptedChatModel(replies=[text]), mode="text", max_retries=0, max_sentences=12
    )
    with pytest.MonkeyPatch.context() as patch:
        # Every issue one by one here (capping is tested on its own).
        patch.setattr("langchain_genprog.plan.planner.cap_issues", list)
        plan = planner.plan(_SOURCES, "q")
    llm = EchoChatModel(fail_when=fail_on, fail_times=-1)
    result = ProgramExecutor(llm, max_retries=0).execute(plan.program, _SOURCES)
    answer, sentences = compose_answer(result.lines)
    numbered = [raw for raw in text.splitlines() if raw.strip() and not raw.startswith("```")]
    reported = {issue.line for issue in plan.issues}
    unreported = [n for n in range(1, len(numbered) + 1) if n not in reported]
    # The lines not reported are exactly the executed ones, in order ...
    assert [numbered[n - 1] for n in unreported] == [
        line.source_text for line in plan.program.lines
    ]
    # ... and each executed line is an answer sentence or a reported failure.
    assert [line.line for line in result.lines] == [line.index for line in plan.program.lines]
    for line in result.lines:
        if line.ok:
            assert line.text in answer
        else:
            assert line.error and line in result.failures
    assert len(sentences) == sum(1 for line in result.lines if line.ok)
