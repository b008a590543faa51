"""The ``[events]`` section of a policy: event types and rules over time, as pydantic models.

Like :mod:`civicscore.policy.model`, these models *are* the format: they forbid
unknown keys (a misspelt key is refused with its line and a "did you mean"),
are frozen and strict. The fields an event type carries are declared once, as
facts of the section's entity (``[facts.event]`` by default), so the checks
every fact gets (names usable in expressions, protected characteristics,
coherent types) apply to event fields unchanged; a type lists which of them
its events carry.

Rules are a list with ids (``[[events.rules]]``), so a locality adds a rule
by giving a new id and changes one by naming it in ``[policy] overrides``
(``events.rules.discharge_visit_24h.window``), as for tiers and stars.

As in ``policy/model.py``, there is no ``from __future__ import annotations``
here: pydantic reads the annotations themselves.
"""

import re
from typing import Annotated, Literal

from pydantic import Field

from ..policy.model import Expr, Id, Labelled, _Model, empty_list

DURATION_PATTERN = r"^P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$"
"""The shape of a duration; that it names at least one amount is checked when compiling."""
DURATION_RE = re.compile(DURATION_PATTERN)

Duration = Annotated[str, Field(
    pattern=DURATION_PATTERN, max_length=40,
    description="An ISO-8601 duration: PT24H, P180D, P2W, P1Y6M. Years and months are "
                "calendar months (31 January + P1M is 28 or 29 February); the rest is "
                "exact time.")]

Form = Literal["within", "streak", "inactive", "period"]
Effect = Literal["notice", "task", "restriction"]


class EventType(Labelled):
    """A kind of event the log may hold, and the declared fields its events carry."""

    fields: list[str] = Field(
        default_factory=empty_list,
        description="Names of [facts.<entity>] this type's events carry (typed and checked "
                    "like any fact); other columns of the log are not read.")


class EventRule(Labelled):
    """One rule over time. ``form`` says which of the four shapes it has:

    * ``within``: an ``on`` event opens a window of ``window``; ``action`` is given at
      once (due at the end of the window) and, if no ``expect`` event of the same
      subject comes by then, ``missed_action`` at the window's end;
    * ``streak``: ``count`` ``on`` events of one subject in a row, with no ``reset_by``
      event between them, give ``action`` at the last of them;
    * ``inactive``: no ``on`` event of a subject for ``period`` after its last one gives
      ``action`` when the period ends (a notice, never a penalty);
    * ``period``: an ``on`` event opens a period of ``period``; ``action`` is given at
      once, due (ending) when the period ends.
    """

    id: Id
    form: Form
    on: Id = Field(description="The event type the rule starts from (or counts).")
    when: Expr | None = Field(None, description="A condition on the 'on' event's fields (and "
                                                "as_of, the event's date); events for which "
                                                "it does not hold are not read by the rule.")
    expect: Id | None = Field(None, description="within: the event type that must follow.")
    window: Duration | None = Field(None, description="within: how long the expected "
                                                      "event may take.")
    count: int | None = Field(None, ge=2, le=100, description="streak: how many in a row.")
    reset_by: list[Id] = Field(default_factory=empty_list,
                               description="streak: event types that break the streak.")
    period: Duration | None = Field(None, description="inactive: how long without an 'on' "
                                                      "event; period: how long it lasts.")
    action: Id = Field(description="The action the rule gives (e.g. visit_due).")
    effect: Effect = Field("notice", description="What the action does to a person: a notice, "
                                                 "a task for staff, or a restriction.")
    explain: str = Field(min_length=1, max_length=500,
                         description="The explanation of the action, in the policy's language; "
                                     "may name {subject_id}, {at}, {due}, {count}, {window}, "
                                     "{period}, {events}.")
    explain_en: str = Field(min_length=1, max_length=500,
                            description="The same explanation in English.")
    missed_action: Id | None = Field(None, description="within: the action when the expected "
                                                       "event does not come in time.")
    missed_effect: Effect = "task"
    missed_explain: str | None = Field(None, min_length=1, max_length=500)
    missed_explain_en: str | None = Field(None, min_length=1, max_length=500)


class Events(_Model):
    """Rules over time on a log of events: deadlines, streaks, inactivity and periods."""

    entity: Id = Field("event", description="Which [facts.<entity>] declares event fields.")
    max_lateness: Duration = Field(
        "PT0S", description="How far out of time order an event may arrive and still be "
                            "taken (an event earlier than the latest one so far by more than "
                            "this is refused as late, by both engines alike).")
    types: dict[str, EventType] = Field(min_length=1)
    rules: list[EventRule] = Field(default_factory=empty_list)
