"""Shared hypothesis settings for the property and fuzz tests.

CI runs a bounded number of examples so the fast suite stays fast; set
``GENPROG_FUZZ_SCALE`` (e.g. ``50``) to multiply them for a longer campaign.
No example database is written (runs stay independent of the checkout).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = max(1, int(os.environ.get("GENPROG_FUZZ_SCALE", "1")))


def fuzz(examples: int) -> settings:
    """Settings for ``examples`` cases (times ``GENPROG_FUZZ_SCALE``), no deadline."""
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
