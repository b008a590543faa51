"""The civility scheme's registration: what the framework needs to know of it.

``SPEC`` is passed to the ``register_schemes`` hook by the built-in plugin,
exactly as a locality plugin registers a scheme of its own (``schemes.builtins``).
"""

from __future__ import annotations

from typing import Any

from ...errors import ReviewError
from ...policy.model import Civility
from ..base import SchemeSpec, Split
from .scheme import RECORD_FIELDS, CivilityResult, CivilityScheme, compile_civility


def check_stars(policy: Any, decision: Any, value: Any) -> None:
    """A reviewer's stars: a whole number from none to the household's most."""
    if not isinstance(value, int) or isinstance(value, bool) \
            or not 0 <= value <= decision.max_stars:
        raise ReviewError(f"stars must be a whole number from 0 to {decision.max_stars}")


SPEC = SchemeSpec(
    "civility", compile_civility, Civility, entity_key="entity",
    record_fields=RECORD_FIELDS, input_kind="households", noun="households",
    outputs="one decision per household (stars, title, review date)",
    details="every star of every household",
    result_type=CivilityResult, scheme_type=CivilityScheme,
    decision_type="CivilityDecision", overridable={"stars": check_stars, "title": None},
    split=Split("household_id"))
