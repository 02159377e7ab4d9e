"""Registers the ``browser`` marker used by the headless-Chromium tests.

(Kept here so this directory is self-contained; it can move to the
``markers`` list in ``pyproject.toml``.)
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: drives headless Chromium via Selenium (needs chromium, chromium-driver)",
    )
