"""civicscore: community-programme policies as checked TOML, every decision explained.

    >>> import civicscore
    >>> policy = civicscore.load("policies/example-district.toml")
    >>> result = policy.volunteer.evaluate(records, as_of=date(2025, 12, 31))
    >>> frames = policy.visits.batch("households.parquet", as_of=date(2025, 12, 31))
    >>> policy.scheme("greeting")  # any registered scheme, a plugin's too

The whole public API is listed in ``__all__`` (a test pins it); everything
else lives in private modules and may change.
"""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    CivicScoreError,
    ExpressionError,
    InputError,
    PluginError,
    PolicyError,
    Problem,
    RecordError,
    ReviewError,
    UsageError,
)

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ imports these
    from .audit import Appeal, DecisionLog, Override, Reviewed, appeal, confirm, override, replay
    from .batch.result import BatchResult
    from .engine import Engine
    from .expr import Function, simple_function
    from .hookspecs import hookimpl
    from .plugins import PluginInfo
    from .policy.compile import Policy, PolicyWarning
    from .results import ParameterUse, PolicyRef, Reason
    from .schemes.appraisal.scheme import AppraisalDecision, AppraisalResult, AppraisalScheme
    from .schemes.base import SchemeSpec
    from .schemes.civility.scheme import CivilityDecision, CivilityResult, CivilityScheme
    from .schemes.visits.scheme import VisitDecision, VisitResult, VisitsScheme
    from .schemes.volunteer.scheme import (
        ActivityDecision,
        RedemptionDecision,
        Statement,
        VolunteerResult,
        VolunteerScheme,
    )

__version__ = "0.1.0"

__all__ = [
    "ActivityDecision",
    "Appeal",
    "AppraisalDecision",
    "AppraisalResult",
    "AppraisalScheme",
    "BatchResult",
    "CivicScoreError",
    "CivilityDecision",
    "CivilityResult",
    "CivilityScheme",
    "DecisionLog",
    "Engine",
    "ExpressionError",
    "Function",
    "InputError",
    "Override",
    "ParameterUse",
    "PluginError",
    "PluginInfo",
    "Policy",
    "PolicyError",
    "PolicyRef",
    "PolicyWarning",
    "Problem",
    "Reason",
    "RecordError",
    "RedemptionDecision",
    "ReviewError",
    "Reviewed",
    "SchemeSpec",
    "Statement",
    "UsageError",
    "VisitDecision",
    "VisitResult",
    "VisitsScheme",
    "VolunteerResult",
    "VolunteerScheme",
    "__version__",
    "appeal",
    "confirm",
    "hookimpl",
    "load",
    "override",
    "replay",
    "simple_function",
]


def load(source: str | Path, *, today: dt.date | None = None,
         engine: Engine | None = None) -> Policy:
    """Load, check and compile a policy from a TOML file path or an installed name.

    Names (``"baseline"``, ``"karamay"``) come from installed plugins. Raises
    :class:`PolicyError` listing every problem found, each with its file,
    line and column. ``today`` only matters for the review-date warning.
    """
    from .engine import Engine  # lazy, as the names in _LAZY below

    return (engine or Engine()).load(source, today=today)


# Importing civicscore stays cheap (``civicscore --help`` and plugins only need a little
# of it): the names whose modules bring in pydantic, holidays and the schemes are
# imported on first use (PEP 562), from the modules the TYPE_CHECKING block names.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    ".audit": ("Appeal", "DecisionLog", "Override", "Reviewed", "appeal", "confirm",
               "override", "replay"),
    ".batch.result": ("BatchResult",),  # imports polars (civicscore[batch]) on first use
    ".engine": ("Engine",),
    ".expr": ("Function", "simple_function"),
    ".hookspecs": ("hookimpl",),
    ".plugins": ("PluginInfo",),
    ".policy.compile": ("Policy", "PolicyWarning"),
    ".results": ("ParameterUse", "PolicyRef", "Reason"),
    ".schemes.appraisal": ("AppraisalDecision", "AppraisalResult", "AppraisalScheme"),
    ".schemes.base": ("SchemeSpec",),
    ".schemes.civility": ("CivilityDecision", "CivilityResult", "CivilityScheme"),
    ".schemes.visits": ("VisitDecision", "VisitResult", "VisitsScheme"),
    ".schemes.volunteer": ("ActivityDecision", "RedemptionDecision", "Statement",
                           "VolunteerResult", "VolunteerScheme"),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later look-ups find it directly
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
