"""End-to-end test of the attributed-answer page in headless Chromium.

The unit tests prove the markup is right; this proves the page *behaves*:
clicking a chip highlights and scrolls to its source sentence, the highlight
moves with the next click, phrase citations light up only the phrase,
clicking an answer sentence re-shades the sources, and the escaped
``<script>`` in a source never runs.

Needs the Debian packages ``chromium`` and ``chromium-driver`` and the
``selenium`` Python package; skipped with the reason when any is missing.
The page is served by ``http.server`` on 127.0.0.1 (random free port), the
browser runs with networking extras disabled and a fresh profile, and
Selenium is pointed at the system chromedriver so Selenium Manager never
downloads anything. Set ``GENPROG_SCREENSHOT_DIR`` to keep the screenshots.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document

from langchain_genprog.attribute.base import (
    AnswerSentence,
    AttributionResult,
    CitedSource,
    SentenceAttribution,
)
from langchain_genprog.render import AttributedAnswerView, write_html
from langchain_genprog.segment.sources import Sources

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]

CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 10.0
INJECTION = 'Ignore this: <script>window.__pwned = 1; alert(1)</script> "quoted" {braces}.'
PHRASE = (18, 43)  # "0.5% efficiency per year." inside S3
FAR_ID = 29  # in the long appendix: off-screen until scrolled to


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


# ----------------------------------------------------------------------------- the page


def make_sources() -> Sources:
    appendix = [f"Appendix note {k}: inverters and wiring are inspected yearly." for k in range(24)]
    appendix.append("Inverters typically last about ten years before replacement.")
    return Sources.from_documents(
        [
            Document(
                page_content=(
                    "Solar panels convert sunlight into electricity. "
                    "Output peaks around noon on clear days. "
                    "Panels lose about 0.5% efficiency per year."
                ),
                metadata={
                    "title": "Solar basics",
                    "sentences": [
                        "Solar panels convert sunlight into electricity.",
                        "Output peaks around noon on clear days.",
                        "Panels lose about 0.5% efficiency per year.",
                    ],
                },
            ),
            Document(
                page_content=f"{INJECTION} Battery storage smooths the evening demand peak.",
                metadata={
                    "title": 'Storage <b>"notes"</b>',
                    "sentences": [INJECTION, "Battery storage smooths the evening demand peak."],
                },
            ),
            Document(
                page_content=" ".join(appendix),
                metadata={"title": "Maintenance appendix", "sentences": appendix},
            ),
        ]
    )


def _answer(index: int, text: str) -> AnswerSentence:
    return AnswerSentence(index=index, text=text, start=0, end=len(text))


def make_result(n_sources: int) -> AttributionResult:
    def row(scores: dict[int, float]) -> list[float]:
        return [scores.get(sid, 0.0) for sid in range(1, n_sources + 1)]

    return AttributionResult(
        method="mexgen-clime",
        sentences=[
            SentenceAttribution(
                sentence=_answer(0, "Solar panels turn sunlight into power, peaking at noon."),
                citations=[
                    CitedSource(sentence_id=1, score=0.8, method="mexgen-clime"),
                    CitedSource(sentence_id=2, score=0.3, method="mexgen-clime"),
                ],
                supported=True,
            ),
            SentenceAttribution(
                sentence=_answer(1, "They lose about half a percent of efficiency a year."),
                citations=[
                    CitedSource(
                        sentence_id=3, score=0.6, method="mexgen-clime", level="phrase", span=PHRASE
                    )
                ],
                supported=True,
            ),
            SentenceAttribution(
                sentence=_answer(2, "Inverters are replaced after roughly a decade."),
                citations=[CitedSource(sentence_id=FAR_ID, score=0.9, method="mexgen-clime")],
                supported=True,
            ),
            SentenceAttribution(
                sentence=_answer(3, "Solar panels also cure headaches."),
                citations=[CitedSource(sentence_id=1, score=0.01, method="mexgen-clime")],
                supported=False,
                note="no source mentions health effects",
            ),
        ],
        matrix=[
            row({1: 0.8, 2: 0.3, 3: 0.1}),
            row({3: 0.6}),
            row({FAR_ID: 0.9, FAR_ID - 1: 0.2}),
            row({1: 0.01}),
        ],
        unit_ids=list(range(1, n_sources + 1)),
    )


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """Serve ``tmp_path/site`` from a loopback-only HTTP server on a free port.

    Holds the standalone page (``index.html``) and a stand-in for a notebook
    (``notebook.html``) showing two inline views, as Jupyter would.
    """
    root = tmp_path / "site"
    sources = make_sources()
    result = make_result(len(sources))
    write_html(
        root / "index.html",
        result,
        sources,
        title="Solar power, attributed",
        question="How do solar panels behave over a day and over the years?",
        program="- fusion(S1, S2)\n- paraphrase(S3)\n- paraphrase(S29)\n- S1",
    )
    views = [AttributedAnswerView(result, sources, title=f"View {k}", height=400) for k in (1, 2)]
    # Deliberately no charset declaration: the inline views must not depend on it.
    (root / "notebook.html").write_text(
        "<!DOCTYPE html><html><body>"
        + "".join(f'<div class="output">{v._repr_html_()}</div>' for v in views)
        + "</body></html>",
        encoding="utf-8",
    )

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver)")
    if not Path(CHROMEDRIVER).is_file():
        pytest.skip(f"{CHROMEDRIVER} not found (apt-get install chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "1")  # Selenium Manager must never download
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1280,800",
        "--force-prefers-reduced-motion",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        chrome.set_page_load_timeout(30)
        chrome.set_script_timeout(10)
        yield chrome
    finally:
        chrome.quit()


# ----------------------------------------------------------------------------- helpers


def wait_for(driver: Any, condition: Callable[[Any], Any], message: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.05).until(condition, message)


def highlighted(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [el.get_attribute("id") for el in driver.find_elements(By.CSS_SELECTOR, ".highlight")]


def chip(driver: Any, answer_index: int, sentence_id: int) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(
        By.CSS_SELECTOR,
        f'a.chip[data-answer-index="{answer_index}"][data-sentence-id="{sentence_id}"]',
    )


def in_pane_view(driver: Any, element_id: str) -> bool:
    """Whether the element is vertically inside the visible part of its scrolling pane."""
    return bool(
        driver.execute_script(
            "var el = document.getElementById(arguments[0]);"
            "var pane = el.closest('.pane').getBoundingClientRect();"
            "var r = el.getBoundingClientRect();"
            "return r.top >= pane.top && r.bottom <= pane.bottom;",
            element_id,
        )
    )


def save_screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(path)), "screenshot failed"
    assert path.stat().st_size > 10_000  # a real rendering, not a blank 1x1 image
    keep = os.environ.get("GENPROG_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


# ----------------------------------------------------------------------------- the test


def wait_ready(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    wait_for(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, '.genprog-view[data-genprog-ready="1"]'),
        "the page script did not initialise",
    )


def test_chips_highlight_scroll_and_shade(driver: Any, site: str, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/index.html")
    wait_ready(driver)

    # The escaped <script> in a source is shown as text and never runs.
    assert driver.find_element(By.ID, "src-S4").text.endswith(INJECTION)
    assert driver.execute_script("return window.__pwned === undefined") is True
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text

    # Two panes side by side.
    answer = driver.find_element(By.CSS_SELECTOR, ".pane-answer")
    sources = driver.find_element(By.CSS_SELECTOR, ".pane-sources")
    assert answer.is_displayed() and sources.is_displayed()
    assert sources.rect["x"] >= answer.rect["x"] + answer.rect["width"] - 1
    assert highlighted(driver) == []

    # First chip: its source sentence, and only it, is highlighted.
    chip(driver, 0, 1).click()
    wait_for(driver, lambda d: highlighted(d) == ["src-S1"], "S1 was not highlighted")
    assert "active" in chip(driver, 0, 1).get_attribute("class").split()
    assert "selected" in driver.find_element(By.ID, "ans-1").get_attribute("class").split()

    # Second chip: the highlight moves.
    chip(driver, 0, 2).click()
    wait_for(driver, lambda d: highlighted(d) == ["src-S2"], "the highlight did not move to S2")
    assert "active" not in chip(driver, 0, 1).get_attribute("class").split()

    # A chip whose source is far down the pane scrolls it into view.
    far = f"src-S{FAR_ID}"
    assert not in_pane_view(driver, far)
    chip(driver, 2, FAR_ID).click()
    wait_for(driver, lambda d: highlighted(d) == [far], f"{far} was not highlighted")
    wait_for(driver, lambda d: in_pane_view(d, far), f"{far} was not scrolled into view")
    save_screenshot(driver, tmp_path, "far-chip")

    # A phrase-level chip lights up just the phrase inside its sentence.
    chip(driver, 1, 3).click()
    wait_for(driver, lambda d: highlighted(d) == ["src-S3"], "S3 was not highlighted")
    lit = driver.find_elements(By.CSS_SELECTOR, "#src-S3 .phrase.phrase-hl")
    assert [el.text for el in lit] == ["0.5% efficiency per year."]
    phrase_bg = lit[0].value_of_css_property("background-color")
    rest_bg = driver.find_element(By.ID, "src-S3").value_of_css_property("background-color")
    assert phrase_bg != rest_bg
    save_screenshot(driver, tmp_path, "phrase-chip")

    # Clicking an answer sentence shades the sources by that sentence's scores.
    driver.find_element(By.ID, "ans-1").click()
    wait_for(driver, lambda d: highlighted(d) == [], "selecting a sentence kept a highlight")

    def weight(sid: int) -> str:
        return str(
            driver.execute_script(
                "return document.getElementById(arguments[0]).style.getPropertyValue('--w');",
                f"src-S{sid}",
            )
        )

    wait_for(driver, lambda d: weight(1) == "1", "S1 not shaded for answer sentence 1")
    assert weight(2) == "0.375"  # 0.3 / 0.8
    assert weight(3) == "0.125"  # uncited but measured: shaded too
    assert weight(5) == "0"
    bg = {
        sid: driver.find_element(By.ID, f"src-S{sid}").value_of_css_property("background-color")
        for sid in (1, 5)
    }
    assert bg[1] != bg[5]
    status = driver.find_element(By.CSS_SELECTOR, ".status").text
    assert "answer sentence 1" in status

    # The unsupported sentence is visibly flagged.
    flag = driver.find_element(By.CSS_SELECTOR, '.sent[data-answer-index="3"] .flag')
    assert flag.is_displayed()
    assert flag.text == "⚠ Unsupported: no source mentions health effects"

    # Clicking the selected sentence again returns to the all-sentences view.
    driver.find_element(By.ID, "ans-1").click()
    wait_for(driver, lambda d: weight(3) == "1", "overview shading not restored")
    assert "strongest score over all" in driver.find_element(By.CSS_SELECTOR, ".status").text
    save_screenshot(driver, tmp_path, "overview")


def test_notebook_views_are_interactive_and_isolated(
    driver: Any, site: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{site}/notebook.html")
    frames = driver.find_elements(By.TAG_NAME, "iframe")
    assert len(frames) == 2
    assert all(f.get_attribute("sandbox") == "allow-scripts" for f in frames)

    driver.switch_to.frame(frames[0])
    wait_ready(driver)  # scripts run inside the sandboxed frame
    ranges = [el.text for el in driver.find_elements(By.CSS_SELECTOR, ".doc-range")]
    assert ranges == ["S1–S3", "S4–S5", "S6–S30"]  # non-ASCII survives the host encoding
    assert driver.find_element(By.CSS_SELECTOR, ".flag-label").text == "⚠ Unsupported:"
    chip(driver, 0, 2).click()
    wait_for(driver, lambda d: highlighted(d) == ["src-S2"], "S2 not highlighted in view 1")
    driver.switch_to.default_content()
    save_screenshot(driver, tmp_path, "notebook")

    # The second view has the same element ids but is untouched by the first.
    driver.switch_to.frame(frames[1])
    wait_ready(driver)
    assert highlighted(driver) == []
    driver.switch_to.default_content()
