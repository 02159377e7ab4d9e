"""The evaluation harness: a wing beside the pipeline, not part of it.

One module per concept, importing downward only:

* ``datasets`` (examples and gold links) and ``methods`` (what is compared);
* metric families: ``gold`` (citations vs gold links), ``drop_hold``
  (log-prob drop/hold with a scorer), ``judge`` + ``alce`` (entailment-judged
  citation recall/precision), ``coverage`` and ``cost``; ``common`` holds what
  they share;
* ``scoring`` (every metric of one output), ``summary`` (per-method means, CSV),
  ``report`` + ``plots`` (the HTML page, drawn with :mod:`langchain_genprog.render`),
  ``runner`` (the resumable loop) and ``cli_support`` (``genprog eval``).

The plots need matplotlib: ``pip install 'langchain-genprog[eval]'``.
"""
