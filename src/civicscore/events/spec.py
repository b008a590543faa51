"""The events scheme's registration: rules over time on a log of events
(``docs/events.md``), registered through the same hook as every scheme.
"""

from __future__ import annotations

from ..schemes.base import SchemeSpec
from .core import EVENT_FIELDS, EventsRun
from .model import Events
from .scheme import EventsScheme, compile_events, log_actions

SPEC = SchemeSpec(
    "events", compile_events, Events, entity_key="entity", record_fields=EVENT_FIELDS,
    input_kind="events", noun="events",
    outputs="one row per action a rule gives (rule, subject, action, at, due, the events "
            "that caused it, the explanation in Chinese and English)",
    result_type=EventsRun, scheme_type=EventsScheme, log=log_actions)
