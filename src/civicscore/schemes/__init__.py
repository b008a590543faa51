"""The scoring schemes; each compiles its own section of a policy.

``BUILTIN_SCHEMES`` maps the TOML section name to the function that checks and
compiles it. The loader runs every compiler whose section the policy defines.
"""

from __future__ import annotations

from collections.abc import Mapping

from importlib import import_module

from ..policy.compile import SchemeCompiler
from .volunteer import compile_volunteer


def _optional(name: str) -> dict[str, SchemeCompiler]:
    """Schemes still being built are registered once their module exists."""
    try:
        module = import_module(f"{__name__}.{name}")
    except ModuleNotFoundError:
        return {}
    return {name: getattr(module, f"compile_{name}")}


BUILTIN_SCHEMES: Mapping[str, SchemeCompiler] = {
    "volunteer": compile_volunteer,
    **_optional("civility"),
    **_optional("visits"),
    **_optional("appraisal"),
}
