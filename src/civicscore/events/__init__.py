"""Rules over time on a log of events: deadlines, streaks, inactivity and periods.

A policy's ``[events]`` section declares event types (their fields are facts
of ``[facts.event]``) and rules of four forms; :mod:`.scheme` checks it and
registers it as a scheme like any other. Two engines give the same actions:
the online one on durable-rules behind a safe adapter (:mod:`.durable`) and
a batch reference in polars (:mod:`.reference`); what they share (durations,
the event reader, the wording) is :mod:`.core`. See ``docs/events.md``.

Nothing here imports polars or durable-rules until an engine is used.
"""

