"""The four built-in scoring schemes; each compiles its own section of a policy.

``BUILTIN_SCHEMES`` maps the TOML section name to the function that checks and
compiles it. The built-in plugin (``civicscore.builtin``) registers them
through the ``register_schemes`` hook, as any plugin would.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..policy.compile import SchemeCompiler
from .appraisal import compile_appraisal
from .civility import compile_civility
from .visits import compile_visits
from .volunteer import compile_volunteer

BUILTIN_SCHEMES: Mapping[str, SchemeCompiler] = {
    "volunteer": compile_volunteer,
    "civility": compile_civility,
    "visits": compile_visits,
    "appraisal": compile_appraisal,
}
