"""Human-facing renderings of attributed answers.

:func:`render_html` turns an :class:`~langchain_genprog.attribute.base.AttributionResult`
and its :class:`~langchain_genprog.segment.sources.Sources` into one self-contained,
interactive HTML page in which every answer sentence links to the source
sentences it is cited to; :class:`AttributedAnswerView` shows the same page
inline in Jupyter.
"""

from langchain_genprog.render.html import AttributedAnswerView, render_html, write_html

__all__ = ["AttributedAnswerView", "render_html", "write_html"]
