"""Attributed answers → one self-contained, interactive HTML page.

A reader who wants to *verify* an answer needs to see, next to each answer
sentence, exactly which source sentences support it and how strongly. This
module renders that as a two-pane page: the answer on the left with a
clickable ``[S#]`` chip per citation, the numbered sources on the right,
grouped by document and shaded by attribution score.

Design choices, and why:

* **Self-contained.** Inline CSS and a few lines of vanilla JavaScript, no
  external assets, so the file can be mailed, archived next to an evaluation
  run, or opened offline, and renders the same everywhere.
* **Every piece of text is escaped** (:func:`~langchain_genprog.render.page.escape`).
  Source text is untrusted (web pages, user uploads) and routinely contains
  ``<tags>``, quotes and braces; nothing user-supplied is ever interpolated into the
  ``<style>`` or ``<script>`` blocks, which are constants. Per-sentence score
  data travels in escaped ``data-*`` attributes rather than in an inline JSON
  script, which removes a whole class of ``</script>`` breakout bugs.
* **Useful without JavaScript.** The initial shading (each source sentence's
  strongest score over all answer sentences) and the phrase underlines are
  rendered server-side, and chips are plain ``#src-S3`` links, so a viewer
  that blocks scripts still shows a correct, navigable page.
* **Deterministic.** No timestamps or random ids: the same inputs give the
  same bytes, so pages can be snapshot-tested and diffed.
* **Notebook-safe.** :class:`AttributedAnswerView` embeds the page in a
  sandboxed ``<iframe srcdoc>``, so its element ids and CSS cannot collide with
  the notebook or with a second view in the same notebook.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from langchain_genprog.attribute.base import AttributionResult, CitedSource, SentenceAttribution
from langchain_genprog.render.page import escape as _esc
from langchain_genprog.render.page import html_page
from langchain_genprog.segment.sources import SourceDocument, Sources, SourceSentence

__all__ = ["AttributedAnswerView", "render_html", "write_html"]

_DEFAULT_TITLE = "Attributed answer"
_WEIGHT_DIGITS = 4


def _fmt_score(score: float) -> str:
    """A compact, stable textual form of a score (``nan``/``inf`` kept as is)."""
    return f"{score:.6g}"


@dataclass(frozen=True)
class _Chip:
    """One distinct cited source sentence of one answer sentence.

    Several ``CitedSource`` entries may name the same source sentence (e.g. a
    sentence-level and a phrase-level measurement). The reader needs one chip
    per source, so they are merged: the first (most important) entry provides
    score, method and level, and the phrase spans of all entries are kept.
    """

    key: str
    answer_index: int
    sentence_id: int
    first: CitedSource
    spans: tuple[tuple[int, int], ...]
    exists: bool


def _chips(position: int, item: SentenceAttribution, sources: Sources) -> list[_Chip]:
    grouped: dict[int, list[CitedSource]] = {}
    for cited in item.citations:
        grouped.setdefault(cited.sentence_id, []).append(cited)
    chips: list[_Chip] = []
    for sid, entries in grouped.items():
        exists = sources.has(sid)
        spans: list[tuple[int, int]] = []
        if exists:
            length = len(sources.sentence(sid).text)
            for entry in entries:
                span = _clamp_span(entry.span, length)
                if span is not None and span not in spans:
                    spans.append(span)
        chips.append(
            _Chip(
                key=f"a{position}-s{sid}",
                answer_index=position,
                sentence_id=sid,
                first=entries[0],
                spans=tuple(spans),
                exists=exists,
            )
        )
    return chips


def _clamp_span(span: tuple[int, int] | None, length: int) -> tuple[int, int] | None:
    """Clip a phrase span to the sentence; ``None`` if nothing is left of it."""
    if span is None:
        return None
    start, end = max(0, span[0]), min(length, span[1])
    return (start, end) if start < end else None


def _matrix_row(result: AttributionResult, position: int) -> dict[int, float] | None:
    """Row ``position`` of the score matrix keyed by source id, if it is usable.

    The matrix is only trusted when its shape matches ``unit_ids`` and the
    answer; a malformed matrix falls back to citation scores instead of
    shading the wrong sentences.
    """
    matrix, unit_ids = result.matrix, result.unit_ids
    if matrix is None or unit_ids is None or len(matrix) != len(result.sentences):
        return None
    row = matrix[position]
    if len(row) != len(unit_ids):
        return None
    return {int(uid): float(value) for uid, value in zip(unit_ids, row, strict=True)}


def _weights(
    result: AttributionResult, position: int, item: SentenceAttribution, sources: Sources
) -> dict[int, float]:
    """Shading weights in ``[0, 1]`` of the source sentences for one answer sentence.

    Scores come from the full matrix when one was measured (so uncited but
    related sentences are visible too), else from the citations' own scores.
    Scores are on a method-specific scale, so they are normalised by the
    sentence's strongest positive score; zero or negative scores mean "no
    support" and are not shaded. A citation whose score was never measured
    (cited by construction) gets full weight: it is claimed support, and
    hiding it would misrepresent the answer.
    """
    raw = _matrix_row(result, position) or {}
    for cited in item.citations:
        if cited.sentence_id not in raw and cited.score is not None:
            raw[cited.sentence_id] = float(cited.score)
    finite = {sid: v for sid, v in raw.items() if sources.has(sid) and math.isfinite(v)}
    peak = max((v for v in finite.values() if v > 0), default=0.0)
    weights = {sid: v / peak for sid, v in finite.items() if v > 0 and peak > 0}
    for cited in item.citations:
        sid = cited.sentence_id
        if cited.score is None and sid not in raw and sources.has(sid):
            weights[sid] = 1.0
    return {sid: round(weights[sid], _WEIGHT_DIGITS) for sid in sorted(weights)}


def _weights_attr(weights: dict[int, float]) -> str:
    return json.dumps({str(sid): w for sid, w in weights.items()}, separators=(",", ":"))


def _overview(all_weights: Iterable[dict[int, float]]) -> dict[int, float]:
    """Each source's strongest weight over all answer sentences (the no-selection view)."""
    best: dict[int, float] = {}
    for weights in all_weights:
        for sid, w in weights.items():
            best[sid] = max(best.get(sid, 0.0), w)
    return {sid: best[sid] for sid in sorted(best)}


def _flag(item: SentenceAttribution) -> tuple[str, str] | None:
    """The visible warning for an answer sentence, as ``(label, detail)``, if any."""
    note = (item.note or "").strip()
    if item.supported is False:
        return "Unsupported", note or "the cited sources do not support this sentence"
    if not item.citations:
        return "Uncited", note or "no source sentence is cited for this sentence"
    if note and item.supported is not True:
        return "Note", note
    return None


def _render_chip(chip: _Chip, sources: Sources) -> str:
    cited = chip.first
    label = f"S{chip.sentence_id}"
    attrs: list[tuple[str, str]] = [
        ("class", "chip" if chip.exists else "chip missing"),
        ("data-chip", chip.key),
        ("data-sentence-id", str(chip.sentence_id)),
        ("data-answer-index", str(chip.answer_index)),
        ("data-method", cited.method),
        ("data-level", cited.level),
    ]
    parts = [label]
    if cited.score is not None:
        attrs.append(("data-score", _fmt_score(float(cited.score))))
        parts.append(f"score {float(cited.score):.3g}")
    else:
        parts.append("score not measured")
    parts.extend([cited.method, cited.level])
    if chip.spans:
        attrs.append(("data-span", " ".join(f"{s}-{e}" for s, e in chip.spans)))
        parts.append("phrase")
    if cited.from_program:
        attrs.append(("data-from-program", "true"))
    if chip.exists:
        doc = sources.documents[sources.sentence(chip.sentence_id).doc_index]
        parts.append(doc.title)
        attrs.insert(0, ("href", f"#src-{label}"))
    else:
        parts.append("not in the sources")
    attrs.append(("title", " · ".join(parts)))
    rendered = " ".join(f'{name}="{_esc(value)}"' for name, value in attrs)
    tag = "a" if chip.exists else "span"
    return f"<{tag} {rendered}>[{_esc(label)}]</{tag}>"


def _render_answer(
    result: AttributionResult,
    sources: Sources,
    chips_by_sentence: Sequence[Sequence[_Chip]],
    weights: Sequence[dict[int, float]],
) -> str:
    if not result.sentences:
        return '<p class="empty">The answer is empty.</p>'
    out: list[str] = ['<p class="answer-text">']
    for position, item in enumerate(result.sentences):
        chips = chips_by_sentence[position]
        cited_ids = " ".join(str(c.sentence_id) for c in chips if c.exists)
        flag = _flag(item)
        classes = "ans"
        if flag is not None:
            classes += " flagged"
        if item.supported is False:
            classes += " unsupported"
        out.append(
            f'<span class="sent" data-answer-index="{position}">'
            f'<span class="{classes}" id="ans-{position + 1}" data-answer-index="{position}" '
            f'data-weights="{_esc(_weights_attr(weights[position]))}" '
            f'data-cited="{cited_ids}" tabindex="0" role="button" aria-pressed="false" '
            f'title="Show the sources of answer sentence {position + 1}">'
            f"{_esc(item.sentence.text)}</span>"
        )
        if chips:
            out.append(
                '<span class="chips">'
                + "".join(_render_chip(c, sources) for c in chips)
                + "</span>"
            )
        if flag is not None:
            label, detail = flag
            out.append(
                f'<span class="flag" role="note" data-flag="{_esc(label.lower())}">'
                f'<span class="flag-label">⚠ {_esc(label)}:</span> {_esc(detail)}</span>'
            )
        out.append("</span> ")
    out[-1] = out[-1].rstrip()
    out.append("</p>")
    return "".join(out)


def _phrase_segments(sentence: SourceSentence, chips: Sequence[_Chip]) -> str:
    """The sentence text cut at every phrase boundary, each piece tagged with its chips.

    Phrases cited by different answer sentences may overlap, so the text is
    split at the union of all span boundaries and each piece records (in
    ``data-chips``) every chip whose span covers it; the script then lights up
    exactly the pieces of the clicked chip with a ``~=`` attribute selector.
    """
    text = sentence.text
    if not chips:
        return _esc(text)
    cuts = {0, len(text)}
    for chip in chips:
        for start, end in chip.spans:
            cuts.update((start, end))
    bounds = sorted(cuts)
    pieces: list[str] = []
    for start, end in itertools.pairwise(bounds):
        owners = [c.key for c in chips if any(s <= start and end <= e for s, e in c.spans)]
        piece = _esc(text[start:end])
        if owners:
            pieces.append(
                f'<span class="phrase" data-chips="{_esc(" ".join(owners))}">{piece}</span>'
            )
        else:
            pieces.append(piece)
    return "".join(pieces)


def _render_source(
    sentence: SourceSentence, chips: Sequence[_Chip], overview: dict[int, float], cited: set[int]
) -> str:
    label = sentence.label
    weight = overview.get(sentence.id, 0.0)
    classes = "src cited" if sentence.id in cited else "src"
    if chips:
        classes += " has-phrase"
    return (
        f'<span class="{classes}" id="src-{label}" data-sentence-id="{sentence.id}" '
        f'style="--w:{weight}"><span class="sid" aria-hidden="true">{label}</span>'
        f"{_phrase_segments(sentence, chips)}</span>"
    )


def _document_body(
    doc: SourceDocument,
    sentences: Sequence[SourceSentence],
    render: dict[int, str],
) -> str:
    """The document text with each numbered sentence replaced by its span.

    The original text between sentences (spaces, line breaks) is kept so the
    source reads as written. If the offsets do not match the text (hand-built
    ``Sources``), the sentences are simply joined with spaces instead.
    """
    cursor = 0
    parts: list[str] = []
    for sentence in sentences:
        if sentence.start < cursor or doc.text[sentence.start : sentence.end] != sentence.text:
            return " ".join(render[s.id] for s in sentences)
        parts.append(_esc(doc.text[cursor : sentence.start]))
        parts.append(render[sentence.id])
        cursor = sentence.end
    parts.append(_esc(doc.text[cursor:]))
    return "".join(parts).strip()


def _render_sources(
    sources: Sources, chips: Sequence[_Chip], overview: dict[int, float], cited: set[int]
) -> str:
    phrase_chips: dict[int, list[_Chip]] = {}
    for chip in chips:
        if chip.exists and chip.spans:
            phrase_chips.setdefault(chip.sentence_id, []).append(chip)
    by_doc: dict[int, list[SourceSentence]] = {}
    for sentence in sources.sentences:
        by_doc.setdefault(sentence.doc_index, []).append(sentence)
    out: list[str] = []
    for doc in sources.documents:
        sentences = sorted(by_doc.get(doc.index, []), key=lambda s: (s.start, s.id))
        if not sentences:
            continue
        render = {
            s.id: _render_source(s, phrase_chips.get(s.id, []), overview, cited) for s in sentences
        }
        first, last = sentences[0].label, sentences[-1].label
        span = first if first == last else f"{first}–{last}"
        out.append(
            f'<section class="doc" id="doc-{doc.index + 1}" data-doc-index="{doc.index}">'
            f'<h3><span class="doc-title">{_esc(doc.title)}</span> '
            f'<span class="doc-range">{_esc(span)}</span></h3>'
            f'<div class="doc-body">{_document_body(doc, sentences, render)}</div></section>'
        )
    return "".join(out) or '<p class="empty">No sources.</p>'


def _render_meta(result: AttributionResult) -> str:
    parts = [f"method {_esc(result.method)}"]
    if result.model_calls:
        parts.append(f"{result.model_calls} model calls")
    if result.seconds:
        parts.append(f"{result.seconds:.2f}s")
    meta = f'<p class="meta">Attribution: {" · ".join(parts)}</p>'
    if not result.complete:
        meta += (
            '<p class="flag incomplete" role="note"><span class="flag-label">⚠ Partial:</span> '
            "a budget stopped the attribution early; scores may be incomplete.</p>"
        )
    return meta


_CSS = """
.genprog-view{--bg:#fff;--fg:#1d2330;--muted:#5b6475;--line:#d9dde5;--pane:#f7f8fa;
--chip:#e7eefc;--chip-fg:#1f4fb3;--shade:255,176,0;--hl:#ffe066;--hl-ring:#d97706;
--warn-bg:#fdecea;--warn-fg:#a4271b;--sel:#dbe7ff;
box-sizing:border-box;display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1.15fr);
height:100vh;margin:0;background:var(--bg);color:var(--fg);
font:15px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
@media (prefers-color-scheme:dark){.genprog-view{--bg:#16181d;--fg:#e4e7ee;--muted:#9aa3b5;
--line:#343a46;--pane:#1d2027;--chip:#24324f;--chip-fg:#a9c4ff;--hl:#7a5d00;--hl-ring:#fbbf24;
--warn-bg:#3d1f1c;--warn-fg:#ffb4a8;--sel:#26365a}}
.genprog-view *{box-sizing:border-box}
.genprog-view .pane{overflow:auto;padding:20px 24px;min-height:0}
.genprog-view .pane-sources{background:var(--pane);border-left:1px solid var(--line)}
.genprog-view h1{font-size:1.3em;margin:0 0 .6em}
.genprog-view h2{font-size:.8em;letter-spacing:.06em;text-transform:uppercase;color:var(--muted);
margin:1.2em 0 .4em}
.genprog-view h3{font-size:1em;margin:0 0 .3em}
.genprog-view .doc-range,.genprog-view .meta,.genprog-view .legend,.genprog-view .status{
color:var(--muted);font-size:.85em;font-weight:normal}
.genprog-view .question{margin:0;padding:.5em .8em;border-left:3px solid var(--line)}
.genprog-view .answer-text{margin:0}
.genprog-view .ans{cursor:pointer;border-radius:3px;padding:1px 0}
.genprog-view .ans:hover{background:var(--sel)}
.genprog-view .ans.selected{background:var(--sel);outline:2px solid var(--chip-fg);
outline-offset:1px}
.genprog-view .ans.unsupported{text-decoration:underline wavy var(--warn-fg);
text-decoration-skip-ink:none;text-underline-offset:3px}
.genprog-view .chips{white-space:nowrap}
.genprog-view .chip{display:inline-block;margin-left:2px;padding:0 4px;border-radius:4px;
background:var(--chip);color:var(--chip-fg);font-size:.78em;font-weight:600;
text-decoration:none;vertical-align:1px;cursor:pointer}
.genprog-view .chip:hover,.genprog-view .chip.active{background:var(--chip-fg);color:var(--bg)}
.genprog-view .chip.missing{opacity:.55;text-decoration:line-through;cursor:not-allowed}
.genprog-view .flag{display:inline-block;margin:2px 4px;padding:0 6px;border-radius:4px;
background:var(--warn-bg);color:var(--warn-fg);font-size:.82em}
.genprog-view p.flag{display:block;margin:.6em 0}
.genprog-view .flag-label{font-weight:700}
.genprog-view details{margin-top:1.2em}
.genprog-view summary{cursor:pointer;color:var(--muted);font-size:.9em}
.genprog-view pre{white-space:pre-wrap;font-size:.85em;background:var(--pane);padding:.6em;
border:1px solid var(--line);border-radius:4px}
.genprog-view .doc{margin:0 0 1.4em}
.genprog-view .doc-body{white-space:pre-wrap}
.genprog-view .src{border-radius:3px;padding:1px 1px;scroll-margin:40px;
background-color:rgba(var(--shade),calc(var(--w,0)*.55));transition:background-color .15s}
.genprog-view .src.cited{box-shadow:inset 0 -2px 0 rgba(var(--shade),.9)}
.genprog-view .sid{display:inline-block;font-size:.68em;font-weight:700;color:var(--muted);
margin-right:3px;vertical-align:2px}
.genprog-view .phrase{text-decoration:underline dotted;text-underline-offset:3px}
.genprog-view .src.highlight{outline:2px solid var(--hl-ring);outline-offset:1px;
background-color:var(--hl)}
.genprog-view .src.highlight.phrase-only{background-color:transparent;outline-style:dashed}
.genprog-view .phrase.phrase-hl{background:var(--hl);outline:2px solid var(--hl-ring);
text-decoration:none;border-radius:2px}
.genprog-view .swatch{display:inline-block;width:2.2em;height:.8em;vertical-align:-1px;
border-radius:2px;background:linear-gradient(90deg,rgba(var(--shade),0),rgba(var(--shade),.55))}
.genprog-view .empty{color:var(--muted);font-style:italic}
@media (max-width:760px){.genprog-view{grid-template-columns:1fr;height:auto}
.genprog-view .pane-sources{border-left:0;border-top:1px solid var(--line)}}
"""

# Constant: no user data is ever formatted into this script.
_JS = """
(function () {
  "use strict";
  var smooth = !(window.matchMedia &&
    window.matchMedia("(prefers-reduced-motion: reduce)").matches);
  function each(list, fn) { Array.prototype.forEach.call(list, fn); }
  function weightsOf(el) {
    try { return JSON.parse(el.getAttribute("data-weights") || "{}"); }
    catch (err) { return {}; }
  }
  function init(root) {
    if (root.getAttribute("data-genprog-ready") === "1") { return; }
    var sources = root.querySelectorAll(".src");
    var answers = root.querySelectorAll(".ans");
    var chips = root.querySelectorAll(".chip");
    var status = root.querySelector(".status");
    var overview = root.querySelector(".pane-answer");
    var current = null;
    function shade(weights, cited) {
      each(sources, function (el) {
        var id = el.getAttribute("data-sentence-id");
        var w = Object.prototype.hasOwnProperty.call(weights, id) ? weights[id] : 0;
        el.style.setProperty("--w", String(w));
        el.classList.toggle("cited", cited.indexOf(id) >= 0);
      });
    }
    function clearHighlight() {
      each(root.querySelectorAll(".src.highlight"), function (el) {
        el.classList.remove("highlight", "phrase-only");
      });
      each(root.querySelectorAll(".phrase.phrase-hl"), function (el) {
        el.classList.remove("phrase-hl");
      });
      each(root.querySelectorAll(".chip.active"), function (el) {
        el.classList.remove("active");
      });
    }
    function select(ans) {
      each(answers, function (el) {
        var on = el === ans;
        el.classList.toggle("selected", on);
        el.setAttribute("aria-pressed", on ? "true" : "false");
      });
      current = ans;
      if (ans) {
        var cited = (ans.getAttribute("data-cited") || "").split(" ").filter(Boolean);
        shade(weightsOf(ans), cited);
        status.textContent = "Shading: scores for answer sentence " +
          (Number(ans.getAttribute("data-answer-index")) + 1) + " (click it again for all).";
      } else {
        var all = [];
        each(answers, function (el) {
          all = all.concat((el.getAttribute("data-cited") || "").split(" ").filter(Boolean));
        });
        shade(weightsOf(overview), all);
        status.textContent = "Shading: strongest score over all answer sentences.";
      }
    }
    function reveal(el) {
      el.scrollIntoView({block: "center", inline: "nearest", behavior: smooth ? "smooth" : "auto"});
    }
    each(answers, function (ans) {
      function toggle() { clearHighlight(); select(current === ans ? null : ans); }
      ans.addEventListener("click", toggle);
      ans.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); }
      });
    });
    each(chips, function (chip) {
      chip.addEventListener("click", function (ev) {
        ev.preventDefault();
        var sid = chip.getAttribute("data-sentence-id");
        var target = root.querySelector('.src[data-sentence-id="' + sid + '"]');
        if (!target) { return; }
        var ans = root.querySelector('.ans[data-answer-index="' +
          chip.getAttribute("data-answer-index") + '"]');
        if (ans && ans !== current) { select(ans); }
        clearHighlight();
        chip.classList.add("active");
        target.classList.add("highlight");
        var pieces = target.querySelectorAll('.phrase[data-chips~="' +
          chip.getAttribute("data-chip") + '"]');
        if (pieces.length) {
          target.classList.add("phrase-only");
          each(pieces, function (el) { el.classList.add("phrase-hl"); });
        }
        reveal(pieces.length ? pieces[0] : target);
      });
    });
    root.setAttribute("data-genprog-ready", "1");
  }
  each(document.querySelectorAll(".genprog-view"), init);
})();
"""


def _render_body(
    result: AttributionResult,
    sources: Sources,
    *,
    title: str | None,
    question: str | None,
    program: str | None,
) -> str:
    """The ``<div class="genprog-view">`` with both panes, followed by its script."""
    weights = [
        _weights(result, position, item, sources) for position, item in enumerate(result.sentences)
    ]
    overview = _overview(weights)
    chips_by_sentence = [
        _chips(position, item, sources) for position, item in enumerate(result.sentences)
    ]
    chips = [chip for sentence_chips in chips_by_sentence for chip in sentence_chips]
    cited = {chip.sentence_id for chip in chips if chip.exists}
    left: list[str] = [f"<h1>{_esc(title or _DEFAULT_TITLE)}</h1>"]
    if question:
        left.append(f'<h2>Question</h2><p class="question">{_esc(question)}</p>')
    left.append("<h2>Answer</h2>")
    left.append(_render_answer(result, sources, chips_by_sentence, weights))
    left.append(_render_meta(result))
    if program:
        left.append(
            f'<details class="program"><summary>Generation program</summary>'
            f"<pre>{_esc(program)}</pre></details>"
        )
    right = (
        "<h2>Sources</h2>"
        '<p class="legend"><span class="swatch"></span> shading = attribution score, '
        "relative to the strongest source of the answer sentence</p>"
        '<p class="status" aria-live="polite">'
        "Shading: strongest score over all answer sentences.</p>"
        f"{_render_sources(sources, chips, overview, cited)}"
    )
    return (
        '<div class="genprog-view">'
        f'<main class="pane pane-answer" data-weights="{_esc(_weights_attr(overview))}">'
        f"{''.join(left)}</main>"
        f'<aside class="pane pane-sources" aria-label="Sources">{right}</aside>'
        "</div>"
        f"<script>{_JS}</script>"
    )


def render_html(
    result: AttributionResult,
    sources: Sources,
    *,
    title: str | None = None,
    question: str | None = None,
    program: str | None = None,
) -> str:
    """Render an attributed answer as one self-contained interactive HTML page.

    The left pane shows the answer; each sentence is followed by a ``[S#]``
    chip per cited source sentence (carrying ``data-sentence-id``,
    ``data-score``, ``data-method`` and ``data-level``), and sentences that
    are unsupported or uncited carry a visible warning with the attributor's
    note. The right pane shows the sources grouped by document, each sentence
    a ``<span id="src-S#">`` shaded by its attribution score. Clicking a chip
    adds the ``highlight`` class to its source sentence (only the cited phrase
    for phrase-level citations) and scrolls to it; clicking an answer
    sentence re-shades the sources by that sentence's scores.

    Scores come from ``result.matrix`` when present, else from the citation
    scores; unmeasured citations are shaded fully.

    Args:
        result: The per-sentence citations (and optional score matrix).
        sources: The numbered sources the citations refer to.
        title: Page heading and ``<title>``; defaults to "Attributed answer".
        question: The question, shown above the answer when given.
        program: The generation program text, shown in a collapsible block.

    Returns:
        A complete HTML5 document. All text is escaped, and the output is
        deterministic for given inputs.
    """
    body = _render_body(result, sources, title=title, question=question, program=program)
    return html_page(title or _DEFAULT_TITLE, body, css=f"html,body{{margin:0;padding:0}}{_CSS}")


def write_html(
    path: str | os.PathLike[str],
    result: AttributionResult,
    sources: Sources,
    *,
    title: str | None = None,
    question: str | None = None,
    program: str | None = None,
) -> Path:
    """Write :func:`render_html` output to ``path`` as UTF-8 and return the path.

    Parent directories are created, so a run can write straight into a fresh
    report folder.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(result, sources, title=title, question=question, program=program)
    target.write_text(page, encoding="utf-8")
    return target


@dataclass(frozen=True)
class AttributedAnswerView:
    """An attributed answer that Jupyter (and VS Code, Colab ...) displays inline.

    Make it the last expression of a cell, or pass it to ``IPython.display``.
    The page is embedded as a sandboxed ``<iframe srcdoc>``: its ids (``src-S3``)
    and CSS stay isolated from the notebook and from other views, and its
    scripts run with no access to the notebook's origin.

    Attributes:
        result: The per-sentence citations.
        sources: The numbered sources.
        title: Page heading.
        question: The question, shown above the answer.
        program: The generation program text.
        height: Height of the inline frame in CSS pixels.
    """

    result: AttributionResult
    sources: Sources
    title: str | None = None
    question: str | None = None
    program: str | None = None
    height: int = 600

    def to_html(self) -> str:
        """The full standalone page (see :func:`render_html`)."""
        return render_html(
            self.result,
            self.sources,
            title=self.title,
            question=self.question,
            program=self.program,
        )

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the standalone page to ``path`` (see :func:`write_html`)."""
        return write_html(
            path,
            self.result,
            self.sources,
            title=self.title,
            question=self.question,
            program=self.program,
        )

    def _repr_html_(self) -> str:
        """The notebook rich display: the page inside a sandboxed inline frame.

        The snippet is pure ASCII (other characters become numeric character
        references), so it displays correctly whatever encoding the host page
        was decoded with.
        """
        label = _esc(self.title or _DEFAULT_TITLE)
        snippet = (
            f'<iframe srcdoc="{_esc(self.to_html())}" title="{label}" '
            f'sandbox="allow-scripts" style="width:100%;height:{int(self.height)}px;'
            'border:1px solid #d9dde5;border-radius:4px"></iframe>'
        )
        return snippet.encode("ascii", "xmlcharrefreplace").decode("ascii")
