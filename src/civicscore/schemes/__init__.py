"""The scoring schemes; each compiles its own section of a policy.

``BUILTIN_SCHEMES`` maps the TOML section name to the function that checks and
compiles it. The loader runs every compiler whose section the policy defines.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..policy.compile import SchemeCompiler
from .volunteer import compile_volunteer

BUILTIN_SCHEMES: Mapping[str, SchemeCompiler] = {
    "volunteer": compile_volunteer,
}
