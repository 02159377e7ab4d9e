"""The HTML page shell and the small escaped pieces every rendering shares.

The attributed-answer view (:mod:`~langchain_genprog.render.html`) and the
evaluation report (:mod:`langchain_genprog.evaluation.report`) are both
self-contained pages built from untrusted text (source sentences, method
names, error messages). Building them from one set of helpers means one place
that escapes, one ``<head>`` and one way to embed an image, so a fix to any of
them reaches both pages.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence


def escape(text: object) -> str:
    """Escape text for element content *and* quoted attribute values."""
    return html.escape(str(text), quote=True)


def html_page(title: str, body: str, *, css: str) -> str:
    """A complete, self-contained HTML5 document.

    Args:
        title: The ``<title>`` (escaped here).
        body: The ``<body>`` content, already escaped by the caller.
        css: A constant style sheet; never interpolate user text into it.
    """
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="langchain-genprog">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{css}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def html_table(header: Sequence[object], rows: Sequence[Sequence[object]]) -> str:
    """A ``<table>`` with one header row; every cell is escaped."""
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def png_figure(title: str, png: bytes) -> str:
    """A titled PNG embedded as a data URI, so the page needs no image files beside it."""
    data = base64.b64encode(png).decode("ascii")
    return f'<h2>{escape(title)}</h2><img alt="{escape(title)}" src="data:image/png;base64,{data}">'
