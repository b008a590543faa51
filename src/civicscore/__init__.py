"""civicscore: community-programme policies as checked TOML, every decision explained.

    >>> import civicscore
    >>> policy = civicscore.load("policies/example-district.toml")
    >>> result = policy.volunteer.evaluate(records, as_of=date(2025, 12, 31))

The whole public API is listed in ``__all__`` (a test pins it); everything
else lives in private modules and may change.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

from .errors import (
    CivicScoreError,
    ExpressionError,
    InputError,
    PluginError,
    PolicyError,
    Problem,
    RecordError,
)
from .policy.compile import Policy, PolicyWarning, load_policy
from .results import ParameterUse, PolicyRef, Reason
from .schemes import BUILTIN_SCHEMES
from .schemes.volunteer import (
    ActivityDecision,
    RedemptionDecision,
    Statement,
    VolunteerResult,
)

__version__ = "0.1.0"

__all__ = [
    "ActivityDecision",
    "CivicScoreError",
    "ExpressionError",
    "InputError",
    "ParameterUse",
    "PluginError",
    "Policy",
    "PolicyError",
    "PolicyRef",
    "PolicyWarning",
    "Problem",
    "Reason",
    "RecordError",
    "RedemptionDecision",
    "Statement",
    "VolunteerResult",
    "__version__",
    "bundled_policy",
    "load",
]


def bundled_policy(name: str) -> tuple[str, str] | None:
    """Find a policy shipped with civicscore by name (e.g. ``baseline``).

    Returns (display name, TOML text), or ``None``. Locality plugins will add
    their own names through the plugin hooks.
    """
    if not name.replace("-", "").replace("_", "").isalnum():
        return None
    res = resources.files("civicscore") / "policies" / f"{name}.toml"
    if not res.is_file():
        return None
    return f"<civicscore>/policies/{name}.toml", res.read_text(encoding="utf-8")


def load(source: str | Path, *, today: dt.date | None = None) -> Policy:
    """Load, check and compile a policy from a TOML file path or a bundled name.

    Raises :class:`PolicyError` listing every problem found, each with its file,
    line and column. ``today`` only matters for the review-date warning.
    """
    return load_policy(source, BUILTIN_SCHEMES, resolver=bundled_policy, today=today)
