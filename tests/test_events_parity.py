"""The two event engines give the same actions on every generated log.

Logs are generated with what makes event engines disagree: many events at
the same instant, events arriving out of time order (some within the
policy's ``max_lateness``, some beyond it, which both must refuse), reused
event ids, unknown types, malformed times and fields, and an end of run
that cuts windows in two. The rules use short spans (and a calendar month)
so that windows, streaks and idle periods overlap often, and conditions on
event fields (one of which divides by a field that may be 0).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import civicscore

pytest.importorskip("polars")
pytest.importorskip("durable.engine")

POLICY = """
[policy]
id = "parity"
version = "1"

[facts.event]
n = { type = "int", min = 0, max = 5 }

[events]
max_lateness = "PT1H"

[events.types.a]
fields = ["n"]
[events.types.b]
[events.types.c]
[events.types.d]

[[events.rules]]
id = "a_then_b"
form = "within"
on = "a"
when = "n >= 2"
expect = "b"
window = "PT2H"
action = "b_due"
explain = "{subject_id} {at} {due}"
explain_en = "{subject_id} due {due}"
missed_action = "b_late"
missed_explain = "{subject_id} {window}"
missed_explain_en = "{subject_id} late by {at}"

[[events.rules]]
id = "c_then_d"
form = "within"
on = "c"
expect = "d"
window = "PT30M"
action = "d_due"
explain = "x"
explain_en = "y"

[[events.rules]]
id = "two_c"
form = "streak"
on = "c"
count = 2
reset_by = ["b", "d"]
action = "escalate"
effect = "task"
explain = "{count}: {events}"
explain_en = "{count} in a row: {events}"

[[events.rules]]
id = "idle_d"
form = "inactive"
on = "d"
period = "PT3H"
action = "remind"
explain = "{period}"
explain_en = "{period}"

[[events.rules]]
id = "bar_after_a"
form = "period"
on = "a"
when = "10 / n > 3"
period = "P1M"
action = "bar"
effect = "restriction"
explain = "{due}"
explain_en = "until {due}"
"""

BASE = dt.datetime(2025, 1, 31, 22, 0)  # a month end: P1M clips to 28 February


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> civicscore.Policy:
    path = tmp_path_factory.mktemp("parity") / "parity.toml"
    path.write_text(POLICY, encoding="utf-8")
    return civicscore.load(path)


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dt.datetime]:
    """(rows in arrival order, end of run)."""
    n = draw(st.integers(0, 40))
    events = []
    for _ in range(n):
        kind = draw(st.sampled_from(["a", "b", "c", "d"] * 3 + ["zz"]))
        row: dict[str, Any] = {
            "event_id": f"e{draw(st.integers(0, 60))}",
            "type": kind,
            "subject_id": draw(st.sampled_from(["s1", "s2", "s3"])),
        }
        at = BASE + dt.timedelta(minutes=15 * draw(st.integers(0, 48)))
        row["at"] = draw(st.sampled_from([at.isoformat()] * 8 + [
            at.isoformat() + "+00:00", "not a time", None]))
        if kind == "a":
            row["n"] = draw(st.sampled_from([0, 1, 3, 2, 4, "2", "many", -1, None]))
        delay = draw(st.sampled_from([0] * 6 + [15, 45, 60, 75, 120, 180]))
        events.append((at + dt.timedelta(minutes=delay), row))
    # arrival: by time plus a delay, so some events come after later ones
    arrival = [row for _, row in sorted(events, key=lambda e: e[0])]
    end = BASE + dt.timedelta(minutes=15 * draw(st.integers(24, 64)))
    return arrival, end


def _run(policy: civicscore.Policy, rows: list[dict[str, Any]], end: dt.datetime,
         engine: str) -> Any:
    return policy.events.run([dict(r) for r in rows], until=end, engine=engine)


def _ev(eid: str, kind: str, subject: str, minutes: int) -> dict[str, Any]:
    row: dict[str, Any] = {"event_id": eid, "type": kind, "subject_id": subject,
                           "at": (BASE + dt.timedelta(minutes=minutes)).isoformat()}
    if kind == "a":
        row["n"] = 2
    return row


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(log=logs())
@example(log=([_ev("e2", "a", "s1", 0), _ev("e1", "b", "s1", 0)],
              BASE + dt.timedelta(hours=3)))  # a tie: b counts, though e1 sorts first
@example(log=([_ev("e1", "c", "s1", 0), _ev("e2", "d", "s1", 0), _ev("e3", "c", "s1", 0)],
              BASE + dt.timedelta(hours=5)))  # a reset at the same instant, then idle
@example(log=([_ev("e1", "a", "s1", 60), _ev("e2", "b", "s1", 0)],
              BASE + dt.timedelta(hours=4)))  # out of order within max_lateness
def test_both_engines_give_the_same_actions(policy: civicscore.Policy,
                                            log: tuple[list[dict[str, Any]], dt.datetime]
                                            ) -> None:
    rows, end = log
    durable = _run(policy, rows, end, "durable")
    reference = _run(policy, rows, end, "reference")
    assert durable.rejected == reference.rejected
    assert durable.actions == reference.actions
    assert durable.rows_in == reference.rows_in == len(rows)
    assert durable.accepted + len(durable.rejected) == len(rows)
    # the arrival order of the accepted events never changes an action
    refused = {r["row"] for r in reference.rejected}
    accepted = [r for i, r in enumerate(rows, start=1) if i not in refused]
    accepted.sort(key=lambda r: (str(r["at"]).removesuffix("+00:00"), r["event_id"]))
    in_order = _run(policy, accepted, end, "durable")
    assert in_order.rejected == []
    assert in_order.actions == durable.actions
    # heartbeats that no later event contradicts change nothing either
    assert _with_heartbeats(policy, rows, end) == (durable.actions, durable.rejected)


def _with_heartbeats(policy: civicscore.Policy, rows: list[dict[str, Any]], end: dt.datetime
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A session where, before each row, time is advanced to the earliest ``at`` of the
    rows still to come (so no heartbeat makes a later row late)."""
    from civicscore.events.core import action_order, parse_at

    times = [parse_at(r["at"]) if r.get("at") is not None else None for r in rows]
    session = policy.events.session(until=end)
    actions: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        later = [t for t in times[i:] if t is not None]
        if later:
            actions += session.advance(min(later))
        actions += session.post(dict(row))
    actions += session.close()
    return sorted(actions, key=action_order), session.rejected
