"""The reference engine: the four rule forms as polars queries over a whole log.

It reads the log through the same :class:`~.core.EventReader` as the online
engine (so the same rows are accepted and refused, for the same reasons),
puts the accepted events in one frame, and answers each rule with a few
column operations, in event-time order (``at``, then ``event_id``):

* ``within``: every ``on`` event gives ``action`` (due ``at + window``); an
  as-of join forward finds the first ``expect`` event of the same subject at
  or after it; none by the due time, and a due time within the run, gives
  ``missed_action`` at the due time;
* ``streak``: per subject, ``reset_by`` events cut the sequence into segments;
  within a segment the ``on`` events are numbered, and each full group of
  ``count`` gives ``action`` at its last event;
* ``inactive``: per subject, each ``on`` event with no next one within
  ``period`` (and a period that ends within the run) gives ``action`` when
  the period ends;
* ``period``: every ``on`` event gives ``action``, due when the period ends.

The wording is the shared :func:`~.core.action_row`, so both engines write the
same sentences.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import polars as pl

from .core import Event, EventPolicy, EventReader, EventsRun, Rule, action_row, end_of

_SCHEMA = pl.Schema({"event_id": pl.String(), "type": pl.String(), "subject_id": pl.String(),
                     "at": pl.Datetime("us")})
_LAST = dt.datetime(9999, 12, 31, 23, 59, 59, 999999)


def _frame(events: list[Event]) -> pl.DataFrame:
    return pl.DataFrame({"event_id": [e.event_id for e in events],
                         "type": [e.type for e in events],
                         "subject_id": [e.subject_id for e in events],
                         "at": [e.at for e in events]}, schema=_SCHEMA)


def _on(rule: Rule, skipped: dict[str, list[str]]) -> pl.Expr:
    """The rule's ``on`` events for which its condition holds (the shared reader decided
    each condition once per event, for both engines)."""
    on = pl.col("type") == rule.on
    if rule.id in skipped:
        on &= ~pl.col("event_id").is_in(skipped[rule.id])
    return on


def _due(rule: Rule) -> pl.Expr:
    """``at`` plus the rule's span, null past the year 9999 (as :meth:`Span.add` gives)."""
    due = pl.col("at").dt.offset_by(rule.span.polars_offset())
    return pl.when(due <= pl.lit(_LAST)).then(due).otherwise(None)


def _within(frame: pl.DataFrame, rule: Rule, end: dt.datetime, on: pl.Expr
            ) -> list[tuple[bool, str, dt.datetime, dt.datetime | None, list[str]]]:
    opens = (frame.filter(on)
             .with_columns(_due(rule).alias("due")).sort("at"))
    closes = (frame.filter(pl.col("type") == rule.expect)
              .select("subject_id", pl.col("at").alias("met_at")).sort("met_at"))
    out: list[tuple[bool, str, dt.datetime, dt.datetime | None, list[str]]] = [
        (False, s, at, due, [eid]) for s, at, due, eid in
        opens.select("subject_id", "at", "due", "event_id").iter_rows()]
    if rule.missed_action is None:
        return out
    joined = opens.join_asof(closes, left_on="at", right_on="met_at", by="subject_id",
                             strategy="forward", check_sortedness=False)  # sorted by "at" above
    missed = joined.filter(pl.col("due").is_not_null() & (pl.col("due") <= end)
                           & (pl.col("met_at").is_null() | (pl.col("met_at") > pl.col("due"))))
    out += [(True, s, due, None, [eid]) for s, due, eid in
            missed.select("subject_id", "due", "event_id").iter_rows()]
    return out


def _streak(frame: pl.DataFrame, rule: Rule, on: pl.Expr
            ) -> list[tuple[bool, str, dt.datetime, dt.datetime | None, list[str]]]:
    seq = (frame.filter(on | pl.col("type").is_in(list(rule.reset_by)))
           .sort("subject_id", "at", "event_id")
           .with_columns(pl.col("type").is_in(list(rule.reset_by)).cast(pl.Int64)
                         .cum_sum().over("subject_id").alias("segment"))
           .filter(on)
           .with_columns((pl.int_range(pl.len()).over("subject_id", "segment")
                          // rule.count).alias("group")))
    groups = (seq.group_by("subject_id", "segment", "group", maintain_order=True)
              .agg(pl.col("event_id"), pl.col("at").last().alias("at"), pl.len().alias("n"))
              .filter(pl.col("n") == rule.count))
    return [(False, s, at, None, list(ids)) for s, at, ids in
            groups.select("subject_id", "at", "event_id").iter_rows()]


def _inactive(frame: pl.DataFrame, rule: Rule, end: dt.datetime, on: pl.Expr
              ) -> list[tuple[bool, str, dt.datetime, dt.datetime | None, list[str]]]:
    seq = (frame.filter(on).sort("subject_id", "at", "event_id")
           .with_columns(pl.col("at").shift(-1).over("subject_id").alias("next_at"),
                         _due(rule).alias("due")))
    idle = seq.filter(pl.col("due").is_not_null() & (pl.col("due") <= end)
                      & (pl.col("next_at").is_null() | (pl.col("next_at") > pl.col("due"))))
    return [(False, s, due, None, [eid]) for s, due, eid in
            idle.select("subject_id", "due", "event_id").iter_rows()]


def _period(frame: pl.DataFrame, rule: Rule, on: pl.Expr
            ) -> list[tuple[bool, str, dt.datetime, dt.datetime | None, list[str]]]:
    opens = frame.filter(on).with_columns(_due(rule).alias("due"))
    return [(False, s, at, due, [eid]) for s, at, due, eid in
            opens.select("subject_id", "at", "due", "event_id").iter_rows()]


def evaluate(policy: EventPolicy, rows: Iterable[Any], *,
             until: dt.date | dt.datetime) -> EventsRun:
    """Every action of every rule on a whole log, up to ``until``."""
    end = end_of(until)
    reader = EventReader(policy, end)
    events: list[Event] = []
    rejected: list[dict[str, Any]] = []
    n = 0
    for n, row in enumerate(rows, start=1):
        got = reader.read(n, row)
        if isinstance(got, dict):
            rejected.append(got)
        else:
            events.append(got)
    frame = _frame(events)
    skipped: dict[str, list[str]] = {}
    for e in events:
        for rule_id in e.skip:
            skipped.setdefault(rule_id, []).append(e.event_id)
    actions: list[dict[str, Any]] = []
    for rule in policy.rules:
        on = _on(rule, skipped)
        if rule.form == "within":
            found = _within(frame, rule, end, on)
        elif rule.form == "streak":
            found = _streak(frame, rule, on)
        elif rule.form == "inactive":
            found = _inactive(frame, rule, end, on)
        else:
            found = _period(frame, rule, on)
        actions += [action_row(policy, rule, subject, missed=missed, at=at, due=due,
                               events=ids) for missed, subject, at, due, ids in found]
    return EventsRun(actions, rejected, n, "reference", until)
