"""Hard limits on an attribution run.

Perturbation methods can always spend more model calls for a better estimate;
a budget makes the cost predictable. When it runs out the run stops between
two batches and returns the scores it can compute from what was measured,
flagged ``complete=False``, instead of failing or blocking.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Budget(BaseModel):
    """Limits checked before each batch of model calls.

    Attributes:
        max_calls: Most perturbed inputs scored (one forward pass or one
            generation each), over all levels; ``None`` for no limit.
        max_seconds: Wall-time limit from the start of the run; ``None`` for
            no limit. A batch already started is finished, so the run may
            overshoot by one batch.
    """

    model_config = ConfigDict(frozen=True)

    max_calls: int | None = Field(default=None, ge=1)
    max_seconds: float | None = Field(default=None, gt=0)
