"""The volunteer scheme's registration: what the framework needs to know of it.

``SPEC`` is passed to the ``register_schemes`` hook by the built-in plugin,
exactly as a locality plugin registers a scheme of its own (``schemes.builtins``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...policy.model import Volunteer
from ..base import LoggedRow, SchemeSpec, Split
from .scheme import VolunteerResult, VolunteerScheme, compile_volunteer


def log_volunteer(run: Any) -> Iterator[LoggedRow]:
    """Volunteer runs decide per activity record, per redemption and per statement."""
    for row in run.detail_rows():
        yield "record", str(row["row"]), row["row"], row
    for r in run.redemptions:
        row = r.to_row()
        yield "redemption", str(row["row"]), row["row"], row
    for row in run.output_rows():
        yield "statement", str(row["volunteer_id"]), None, row


SPEC = SchemeSpec(
    "volunteer", compile_volunteer, Volunteer, entity="activity",
    record_fields=("record_id", "volunteer_id", "activity", "start", "end", "confirmed",
                   "submitted_at"),
    extra_inputs=("redemptions",), input_kind="activities", noun="activity records",
    outputs="one statement per volunteer (points earned, expired, redeemed, balance, "
            "hours, star level)",
    details="the decision on every activity record",
    result_type=VolunteerResult, scheme_type=VolunteerScheme, log=log_volunteer,
    log_inputs={"redemption": "redemptions"}, log_keys={"statement": "volunteer_id"},
    mentions=("activities", "categories"),
    # a redemption spends only its volunteer's points: it goes to that volunteer's part
    split=Split("record_id", group_by="volunteer_id", duplicates="ghost",
                order={"output": ("volunteer_id",)}, extra={"redemptions": "volunteer_id"}))
