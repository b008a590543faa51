"""The built-in scoring schemes, registered as any plugin registers a scheme.

``BUILTIN_SCHEMES`` is the registration of each built-in scheme: its
:class:`~civicscore.schemes.base.SchemeSpec` (TOML section and model, the
record fields it reads itself, its extra inputs, what its output and detail
rows are, how the decision log sees its decisions, what a person may
override). The built-in plugin (``civicscore.builtin``) passes each one to
the ``register_schemes`` hook's callback, exactly as a plugin does; nothing
else in civicscore names a built-in scheme.

Each entry belongs with its scheme (``schemes/<name>.py`` or a scheme
package) and will move there; it lives here for now so that the framework
can change without touching the schemes' own modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import ReviewError
from ..events.core import EVENT_FIELDS, EventsRun
from ..events.model import Events
from ..events.scheme import EventsScheme, compile_events, log_actions
from ..policy.model import Appraisal, Civility, Visits, Volunteer
from .appraisal.scheme import AppraisalResult, AppraisalScheme, compile_appraisal
from .base import ONE_GROUP, LoggedRow, SchemeSpec, Split
from .civility.scheme import RECORD_FIELDS as CIVILITY_RECORD_FIELDS
from .civility.scheme import CivilityResult, CivilityScheme, compile_civility
from .visits.scheme import UNASSIGNED, VisitResult, VisitsScheme, compile_visits
from .volunteer.scheme import VolunteerResult, VolunteerScheme, compile_volunteer


def _log_volunteer(run: Any) -> Iterator[LoggedRow]:
    """Volunteer runs decide per activity record, per redemption and per statement."""
    for row in run.detail_rows():
        yield "record", str(row["row"]), row["row"], row
    for r in run.redemptions:
        row = r.to_row()
        yield "redemption", str(row["row"]), row["row"], row
    for row in run.output_rows():
        yield "statement", str(row["volunteer_id"]), None, row


def _one_of(policy: Any, what: str, ids: list[str], value: Any) -> None:
    if value not in ids:
        raise ReviewError(f"{value!r} is not a {what} of {policy.id}: {', '.join(ids)}")


def _check_tier(policy: Any, decision: Any, value: Any) -> None:
    section: Visits | None = policy.model.visits
    if section is not None:
        _one_of(policy, "tier", [t.id for t in section.tiers], value)


def _check_grade(policy: Any, decision: Any, value: Any) -> None:
    section: Appraisal | None = policy.model.appraisal
    if section is not None:
        _one_of(policy, "grade", [g.id for g in section.grades], value)


def _check_stars(policy: Any, decision: Any, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) \
            or not 0 <= value <= decision.max_stars:
        raise ReviewError(f"stars must be a whole number from 0 to {decision.max_stars}")


BUILTIN_SCHEMES: tuple[SchemeSpec, ...] = (
    SchemeSpec(
        "volunteer", compile_volunteer, Volunteer, entity="activity",
        record_fields=("record_id", "volunteer_id", "activity", "start", "end", "confirmed",
                       "submitted_at"),
        extra_inputs=("redemptions",), input_kind="activities", noun="activity records",
        outputs="one statement per volunteer (points earned, expired, redeemed, balance, "
                "hours, star level)",
        details="the decision on every activity record",
        result_type=VolunteerResult, scheme_type=VolunteerScheme, log=_log_volunteer,
        log_inputs={"redemption": "redemptions"}, log_keys={"statement": "volunteer_id"},
        mentions=("activities", "categories"),
        split=Split("record_id", group_by="volunteer_id", duplicates="ghost",
                    order={"output": ("volunteer_id",)})),
    SchemeSpec(
        "civility", compile_civility, Civility, entity_key="entity",
        record_fields=CIVILITY_RECORD_FIELDS, input_kind="households", noun="households",
        outputs="one decision per household (stars, title, review date)",
        details="every star of every household",
        result_type=CivilityResult, scheme_type=CivilityScheme,
        decision_type="CivilityDecision", overridable={"stars": _check_stars, "title": None},
        split=Split("household_id")),
    SchemeSpec(
        "visits", compile_visits, Visits, entity_key="entity",
        record_fields=("household_id", "liaison_id", "last_visit"), input_kind="households",
        noun="households",
        outputs="one decision per household (tier, cadence, next visit due)",
        details="the caseload of every liaison",
        result_type=VisitResult, scheme_type=VisitsScheme,
        decision_type="VisitDecision", overridable={"tier": _check_tier}, allocates_care=True,
        split=Split("household_id", group_by="liaison_id", order={"details": ("liaison_id",)},
                    last=(UNASSIGNED,))),
    SchemeSpec(
        "appraisal", compile_appraisal, Appraisal, entity_key="entity",
        record_fields=("subject_id",), input_kind="subjects", noun="subjects",
        outputs="one decision per subject (total, grade, vetoes, quota)",
        details="the trace of every indicator of every subject",
        result_type=AppraisalResult, scheme_type=AppraisalScheme,
        decision_type="AppraisalDecision", overridable={"grade": _check_grade},
        split=Split("subject_id", group_by=ONE_GROUP)),  # the quota ranks the whole cohort
    SchemeSpec(  # rules over time on a log of events (civicscore.events, docs/events.md)
        "events", compile_events, Events, entity_key="entity", record_fields=EVENT_FIELDS,
        input_kind="events", noun="events",
        outputs="one row per action a rule gives (rule, subject, action, at, due, the events "
                "that caused it, the explanation in Chinese and English)",
        result_type=EventsRun, scheme_type=EventsScheme, log=log_actions),
)
