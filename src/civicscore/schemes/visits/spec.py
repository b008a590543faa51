"""The visits scheme's registration: what the framework needs to know of it.

``SPEC`` is passed to the ``register_schemes`` hook by the built-in plugin,
exactly as a locality plugin registers a scheme of its own (``schemes.builtins``).
"""

from __future__ import annotations

from typing import Any

from ...policy.model import Visits
from ..base import SchemeSpec, Split, check_one_of
from .scheme import UNASSIGNED, VisitResult, VisitsScheme, compile_visits


def check_tier(policy: Any, decision: Any, value: Any) -> None:
    """A reviewer's tier: one of the policy's tiers."""
    section: Visits | None = policy.model.visits
    if section is not None:
        check_one_of(policy, "tier", [t.id for t in section.tiers], value)


SPEC = SchemeSpec(
    "visits", compile_visits, Visits, entity_key="entity",
    record_fields=("household_id", "liaison_id", "last_visit"), input_kind="households",
    noun="households",
    outputs="one decision per household (tier, cadence, next visit due)",
    details="the caseload of every liaison",
    result_type=VisitResult, scheme_type=VisitsScheme,
    decision_type="VisitDecision", overridable={"tier": check_tier}, allocates_care=True,
    split=Split("household_id", group_by="liaison_id", order={"details": ("liaison_id",)},
                last=(UNASSIGNED,)))
