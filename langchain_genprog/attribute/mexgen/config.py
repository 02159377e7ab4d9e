"""The MExGen engine's options, in one frozen, self-validating object.

The engine, the attributor that adapts it to answers and sources, the
command line and the evaluation harness all pass the same
:class:`MExGenConfig` (the attributor a subclass with its own fields), so an
option is declared, described, defaulted and validated once — here, when the
object is built, rather than by building a throwaway engine or again in
each caller. The object is frozen: a run cannot change the options another
run shares, and :meth:`MExGenConfig.replace` makes a validated variant.

Only settings live here, values that decide what is measured and how. The
collaborators of one run — the phrase segmenter (a spaCy model) and the
progress hooks — stay arguments of the engine: they are objects with state
and side effects, not options to compare, copy or record with a result.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from typing_extensions import Self

from langchain_genprog.attribute.mexgen.budget import Budget
from langchain_genprog.attribute.mexgen.clime import CLIME, SAMPLINGS, Sampling
from langchain_genprog.attribute.mexgen.loo import LeaveOneOut
from langchain_genprog.attribute.mexgen.lshap import LSHAP
from langchain_genprog.attribute.mexgen.method import AttributionMethod
from langchain_genprog.attribute.mexgen.units import LEVELS, Level, level_rank
from langchain_genprog.errors import GenProgError, InvalidInputError

MethodName = Literal["clime", "lshap", "loo"]
"""The built-in attribution methods."""

METHOD_NAMES: tuple[str, ...] = get_args(MethodName)
"""Every :data:`MethodName`, for validation and command-line choices."""


def make_method(
    method: MethodName,
    *,
    oversampling: float | None = None,
    max_units_replace: int = 2,
    num_neighbors: int = 2,
    num_nonzeros: int | None = None,
    sampling: Sampling = "constrained",
) -> AttributionMethod:
    """Build a built-in method by name.

    Args:
        method: ``clime``, ``lshap`` or ``loo``.
        oversampling: C-LIME's ``c`` (about ``c·d`` model calls; ``None``: the
            sampling's default, see ``DEFAULT_OVERSAMPLING``).
        max_units_replace: C-LIME's and L-SHAP's ``K``.
        num_neighbors: L-SHAP's window half-width.
        num_nonzeros: C-LIME sparse fit size (``None``: dense).
        sampling: C-LIME's removal sets (see ``CLIME``).

    Raises:
        InvalidInputError: On an unknown method or a bad option.
    """
    if method == "clime":
        return CLIME(
            oversampling=oversampling,
            max_units_replace=max_units_replace,
            num_nonzeros=num_nonzeros,
            sampling=sampling,
        )
    if method == "lshap":
        return LSHAP(num_neighbors=num_neighbors, max_units_replace=max_units_replace)
    if method == "loo":
        return LeaveOneOut()
    raise InvalidInputError(_unknown_method(method))


class MExGenConfig(BaseModel):
    """How the MExGen engine measures: methods, levels, refinement, budget and batching.

    Build it with keyword arguments; every option is checked then, so a bad
    option fails where it is written, not in the middle of a run.

    Raises:
        InvalidInputError: On construction, if an option is out of range,
            names an unknown method, level or sampling, or has the wrong type.
        TypeError: On construction, if an option is unknown (as for a
            misspelt keyword argument).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    method: MethodName | AttributionMethod = Field(
        default="clime",
        description=(
            "Attribution method of the first (coarsest) level: 'clime', 'lshap', 'loo', "
            "or a configured method object such as CLIME(sampling='bernoulli')."
        ),
    )
    refine_method: MethodName | AttributionMethod | None = Field(
        default=None,
        description=(
            "Method of the finer levels (None: the same as `method`). A finer level has "
            "several units per refined parent, so C-LIME's c·d calls there can dwarf the "
            "coarse pass; 'loo' (d calls) keeps a phrase pass cheap while the coarse level, "
            "which decides what gets cited, keeps the stronger estimator."
        ),
    )
    levels: tuple[Level, ...] = Field(
        default=("sentence", "phrase"),
        description=(
            "Levels to attribute at, coarsest first; each level after the first refines "
            "the selected units of the previous one."
        ),
    )
    segment_level: Level = Field(
        default="sentence",
        description="What one input segment is: 'sentence' or 'document'.",
    )
    refine_top_k: int = Field(
        default=2, description="Per output, how many of the best units may be refined."
    )
    refine_threshold: float = Field(
        default=0.1,
        description="Minimum score / max |score| over the output's units for refinement.",
    )
    replacement: str = Field(default="", description="Text replacing a removed unit ('' drops it).")
    budget: Budget | None = Field(
        default=None, description="Limits on model calls and seconds (None: no limit)."
    )
    batch_size: int = Field(default=8, description="Prompts per scalarizer call.")
    seed: int = Field(default=0, description="Seed of C-LIME's sampling; same seed, same result.")
    oversampling: float | None = Field(
        default=None,
        description="C-LIME's c: about c·d model calls for d units (None: the sampling's default).",
    )
    max_units_replace: int = Field(default=2, description="C-LIME's and L-SHAP's K.")
    num_neighbors: int = Field(default=2, description="L-SHAP's window half-width.")
    num_nonzeros: int | None = Field(
        default=None, description="C-LIME sparse fit size (None: a dense fit)."
    )
    sampling: Sampling = Field(
        default="constrained",
        description=(
            "C-LIME's removal sets: 'constrained' (MExGen's, at most K units), 'bernoulli' "
            "or 'orthogonal' (half the units at a time; see CLIME)."
        ),
    )

    def __init__(self, **options: Any) -> None:
        _reject_unknown(type(self), options, type(self).__name__)
        try:
            super().__init__(**options)
        except ValidationError as err:
            raise _invalid(err) from err

    @classmethod
    def resolve(cls, config: MExGenConfig | None, options: Mapping[str, Any], caller: str) -> Self:
        """The configuration a constructor's ``config`` and keyword ``options`` describe.

        This keeps the keyword form of the engine and the attributor
        (``MExGen(scalarizer, method="loo")``) beside the object form. The
        ``options`` replace the fields of ``config``; a configuration of a base
        class contributes the options it was built with, over this class's
        defaults.

        Args:
            config: A configuration, or ``None`` for this class's defaults.
            options: Keyword arguments naming fields of this class.
            caller: The constructor's name, for the error on an unknown option.

        Raises:
            TypeError: If an option names no field.
            InvalidInputError: If an option is invalid.
        """
        _reject_unknown(cls, options, caller)
        if config is None:
            return cls(**options)
        if not isinstance(config, cls):
            explicit = {name: getattr(config, name) for name in config.model_fields_set}
            return cls(**explicit, **options)
        return config.replace(**options) if options else config

    def replace(self, **changes: Any) -> Self:
        """A validated copy with ``changes`` applied (``model_copy`` would not validate).

        Raises:
            TypeError: If a change names no field.
            InvalidInputError: If a change is invalid.
        """
        _reject_unknown(type(self), changes, "replace")
        return type(self)(**{**dict(self), **changes})

    def attribution_methods(self) -> tuple[AttributionMethod, AttributionMethod]:
        """The method of the first level and the method of the finer ones.

        Named methods are built with this configuration's C-LIME and L-SHAP
        options; method objects are used as they are.

        Raises:
            InvalidInputError: If a named method rejects its options.
        """
        coarse = self._build(self.method)
        fine = coarse if self.refine_method is None else self._build(self.refine_method)
        return coarse, fine

    def _build(self, spec: MethodName | AttributionMethod) -> AttributionMethod:
        if not isinstance(spec, str):
            return spec
        return make_method(
            spec,
            oversampling=self.oversampling,
            max_units_replace=self.max_units_replace,
            num_neighbors=self.num_neighbors,
            num_nonzeros=self.num_nonzeros,
            sampling=self.sampling,
        )

    @model_validator(mode="before")
    @classmethod
    def _check_names(cls, data: Any) -> Any:
        """Names are checked before their types, so the message lists what to use."""
        if not isinstance(data, Mapping):
            return data

        def given(name: str) -> Any:
            return data[name] if name in data else cls.model_fields[name].default

        levels = given("levels")
        if isinstance(levels, list | tuple):
            check_levels(levels, given("segment_level"))
        for name in ("method", "refine_method"):
            spec = given(name)
            if isinstance(spec, str) and spec not in METHOD_NAMES:
                raise InvalidInputError(_unknown_method(spec))
        sampling = given("sampling")
        if isinstance(sampling, str) and sampling not in SAMPLINGS:
            msg = f"unknown C-LIME sampling {sampling!r}; use one of {', '.join(SAMPLINGS)}"
            raise InvalidInputError(msg)
        return data

    @model_validator(mode="after")
    def _check_values(self) -> Self:
        self.attribution_methods()  # a named method checks its own options
        if self.refine_top_k < 1:
            raise InvalidInputError("refine_top_k must be at least 1")
        if self.batch_size < 1:
            raise InvalidInputError("batch_size must be at least 1")
        return self


def check_levels(levels: tuple[Level, ...] | list[Level], segment_level: Level) -> None:
    """Check that ``levels`` go from coarse to fine and ``segment_level`` can be split.

    Raises:
        InvalidInputError: If not.
    """
    if not levels:
        raise InvalidInputError("levels must name at least one level")
    unknown = [lv for lv in (*levels, segment_level) if lv not in LEVELS]
    if unknown:
        msg = f"unknown level(s) {unknown}; use {', '.join(LEVELS)}"
        raise InvalidInputError(msg)
    if segment_level not in ("document", "sentence"):
        raise InvalidInputError("segment_level must be 'document' or 'sentence'")
    ranks = [level_rank(lv) for lv in levels]
    if any(b <= a for a, b in pairwise(ranks)):
        msg = f"levels must go from coarse to fine without repeats, got {list(levels)}"
        raise InvalidInputError(msg)


def _reject_unknown(cls: type[BaseModel], options: Mapping[str, Any], caller: str) -> None:
    """Raise what Python raises for a misspelt keyword argument, naming the constructor."""
    unknown = [name for name in options if name not in cls.model_fields]
    if unknown:
        msg = f"{caller}() got an unexpected keyword argument {unknown[0]!r}"
        raise TypeError(msg)


def _unknown_method(name: object) -> str:
    return f"unknown attribution method {name!r}; use 'clime', 'lshap' or 'loo'"


def _invalid(err: ValidationError) -> GenProgError:
    """The error a failed validation stands for.

    A check of ours raised a typed error with its own message (pydantic wraps
    it, as it derives from ``ValueError``): that error, unchanged. Otherwise a
    type mismatch, described field by field.
    """
    for error in err.errors():
        original = (error.get("ctx") or {}).get("error")
        if isinstance(original, GenProgError):
            return original
    described = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in err.errors()
    )
    return InvalidInputError(f"invalid MExGen options: {described}")
