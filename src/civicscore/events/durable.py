"""The online engine: durable-rules behind an adapter that makes it safe and deterministic.

durable-rules (``pip install 'civicscore[events]'``) is a Rete engine with a C
core. Used as its documentation shows, it is unsafe for this work in four
ways, and the adapter answers each:

* **A process-global registry.** ``durable.lang.ruleset(name)`` registers into a
  module-level dict and one global ``Host``; a second ruleset of the same name
  raises. The adapter never uses ``durable.lang``: each session builds its own
  ``durable.engine.Ruleset`` from a plain definition, under a name no other
  session has (``civicscore_events_<n>_<uuid>``), and deletes it from the C
  engine when the session closes.
* **Background threads.** ``durable.engine.Host()`` starts two timer threads
  that call ``dispatch()`` and ``assert_timers()`` on every ruleset every 0.2 s,
  concurrently with ``post``: actions then run on a thread nobody waits for,
  which is how events were lost when several threads posted. The adapter
  uses no ``Host``: it asserts an event and runs the actions it caused itself,
  on the posting thread, and one lock serialises every call into the C
  engine (the engine is not thread-safe; posting from several threads is
  allowed and is done one event at a time).
* **Batches.** ``post_batch`` failed from about 40,000 events and raised
  ``MessageObservedException`` at scale; the adapter posts one event at a
  time, each with an id of its own (a sequence number; durable-rules treats a
  repeated id as already observed), and counts what comes back: every
  event posted either fired its rule or was reported as handled by no rule,
  and a session that cannot account for one raises.
* **The wall clock.** durable-rules' timers (``start_timer``, ``timeout``) run on
  the machine's clock, so a deadline in a historical log would fire at replay
  time, or never. There is no way to give it event time. The adapter keeps
  the clock itself: time is the ``at`` of the events, and a deadline is due
  when the first event later than it is released (or when the session is
  closed at its ``until``). The windows, streaks, inactivity and periods are
  therefore kept by the adapter (:class:`Timeline`), per subject, in event
  time.

What durable-rules decides is which rule an event belongs to: one durable rule
per event type a policy rule reads. One per type, not one per policy rule,
because durable-rules *consumes* an event when a rule fires: an event
matching two durable rules fires only one of them (measured: a
``visit_done`` that both closes a visit deadline and breaks a missed-visit
streak would reach only one). Its correlations (``c.first << ...``) match in
arrival order, not event time, for the same reason.

Arrival order: a session holds events back until no event that could still
be accepted can come before them (the policy's ``max_lateness``), and
releases them in event-time order (``at``, then ``event_id``), so events
arriving out of order within the tolerance give the same actions as a sorted
log; an event later than that is refused as late (by the shared reader).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from .core import Event, EventPolicy, EventReader, EventsRun, Rule, action_row, end_of

_LOCK = threading.RLock()
"""Every call into durable-rules' C engine, from any session, goes through this lock."""
_NAMES = itertools.count(1)


class _NoHost:
    """What ``durable.engine.Ruleset`` asks of a host: nothing, as every action is a function."""

    def get_action(self, action_name: str) -> Any:  # pragma: no cover - never named
        raise LookupError(f"durable-rules asked for a named action {action_name!r}")


class Timeline:
    """The four rule forms, kept per subject in event time, fed events in event-time order."""

    def __init__(self, policy: EventPolicy) -> None:
        self.policy = policy
        self.roles: dict[str, list[tuple[str, Rule]]] = {}
        for rule in policy.rules:
            self.roles.setdefault(rule.on, []).append(("on", rule))
            if rule.expect:
                self.roles.setdefault(rule.expect, []).append(("expect", rule))
            for kind in rule.reset_by:
                self.roles.setdefault(kind, []).append(("reset", rule))
        self.actions: list[dict[str, Any]] = []
        self.pending: list[tuple[dt.datetime, int, str, str, int, str]] = []
        self._seq = itertools.count()
        self._open: dict[tuple[str, str], set[int]] = {}
        self._last_expect: dict[tuple[str, str], dt.datetime] = {}
        self._streak: dict[tuple[str, str], list[str]] = {}
        self._idle: dict[tuple[str, str], int] = {}
        self._rules = {r.id: r for r in policy.rules}

    def _emit(self, rule: Rule, subject: str, *, missed: bool, at: dt.datetime,
              due: dt.datetime | None, events: list[str]) -> None:
        self.actions.append(action_row(self.policy, rule, subject, missed=missed, at=at,
                                       due=due, events=events))

    def _deadline(self, due: dt.datetime, rule: Rule, subject: str, event_id: str) -> int:
        token = next(self._seq)
        heapq.heappush(self.pending, (due, token, rule.id, subject, token, event_id))
        return token

    def advance(self, before: dt.datetime, *, inclusive: bool = False) -> None:
        """Fire every deadline earlier than ``before`` (or at it, when ``inclusive``)."""
        while self.pending:
            due = self.pending[0][0]
            if due > before or (due == before and not inclusive):
                return
            due, _, rule_id, subject, token, event_id = heapq.heappop(self.pending)
            rule = self._rules[rule_id]
            key = (rule_id, subject)
            if rule.form == "within":
                live = self._open.get(key, set())
                if token in live:
                    live.discard(token)
                    if rule.missed_action:
                        self._emit(rule, subject, missed=True, at=due, due=None,
                                   events=[event_id])
            elif rule.form == "inactive" and self._idle.get(key) == token:
                del self._idle[key]
                self._emit(rule, subject, missed=False, at=due, due=None, events=[event_id])

    def handle(self, event: Event) -> None:
        """One event, after every event before it in event time."""
        self.advance(event.at)
        subject = event.subject_id
        for role, rule in self.roles.get(event.type, ()):
            if role == "on" and rule.id in event.skip:
                continue  # the rule's condition does not hold for this event
            key = (rule.id, subject)
            if rule.form == "within":
                if role == "on":
                    due = rule.span.add(event.at)
                    self._emit(rule, subject, missed=False, at=event.at, due=due,
                               events=[event.event_id])
                    if self._last_expect.get(key) != event.at and due is not None:
                        token = self._deadline(due, rule, subject, event.event_id)
                        self._open.setdefault(key, set()).add(token)
                else:
                    self._last_expect[key] = event.at
                    self._open.pop(key, None)
            elif rule.form == "streak":
                if role == "on":
                    run = self._streak.setdefault(key, [])
                    run.append(event.event_id)
                    if len(run) == rule.count:
                        self._emit(rule, subject, missed=False, at=event.at, due=None,
                                   events=list(run))
                        run.clear()
                else:
                    self._streak.pop(key, None)
            elif rule.form == "inactive":
                due = rule.span.add(event.at)
                if due is None:
                    self._idle.pop(key, None)
                else:
                    self._idle[key] = self._deadline(due, rule, subject, event.event_id)
            else:  # period
                self._emit(rule, subject, missed=False, at=event.at,
                           due=rule.span.add(event.at), events=[event.event_id])


class DurableSession:
    """An online session: ``post(event)`` -> the actions it releases; ``close()`` the rest.

    Thread-safe: ``post`` may be called from several threads; events are taken
    one at a time, in the order the lock admits them.
    """

    def __init__(self, policy: EventPolicy, *, until: dt.date | dt.datetime | None = None
                 ) -> None:
        try:
            from durable.engine import Ruleset  # type: ignore[import-untyped]  # no stubs
        except ImportError:
            from ..errors import UsageError

            raise UsageError("the durable engine needs durable-rules: pip install "
                             "'civicscore[events]' (or use engine='reference')") from None

        self.policy = policy
        self.end = end_of(until) if until is not None else None
        self.reader = EventReader(policy, self.end)
        self.timeline = Timeline(policy)
        self.rejected: list[dict[str, Any]] = []
        self.rows_in = 0
        self.posted = 0
        self.fired = 0
        self.unhandled = 0
        self.closed = False
        self._buffer: list[tuple[dt.datetime, str, int, Event]] = []
        self._given = 0
        self._current: tuple[int, Event] | None = None
        self._lock = threading.Lock()
        self.name = f"civicscore_events_{next(_NAMES)}_{uuid.uuid4().hex}"
        definition = {
            f"r_{i}": {"all": [{"m": {"type": kind}}], "run": self._fire}
            for i, kind in enumerate(sorted(self.timeline.roles))
        }
        with _LOCK:
            self._ruleset = Ruleset(self.name, _NoHost(), definition) if definition else None

    # -- durable-rules ----------------------------------------------------------------
    def _fire(self, c: Any) -> None:
        """The consequence of every durable rule: hand the event to the timeline."""
        current = self._current
        if current is None or c.m["id"] != current[0]:  # pragma: no cover - a durable bug
            raise RuntimeError(f"durable-rules fired for an event not being posted: {c.m}")
        self.fired += 1
        self.timeline.handle(current[1])

    def _post(self, event: Event) -> None:
        from durable.engine import MessageNotHandledException

        self.posted += 1
        if self._ruleset is None:
            self.unhandled += 1
            return
        message = {"id": self.posted, "type": event.type}
        errors: list[Any] = []
        with _LOCK:
            self._current = (self.posted, event)
            try:
                state = self._ruleset.assert_event(message)
                self._ruleset.do_actions(state, lambda e, _s: errors.append(e) if e else None)
            except MessageNotHandledException:
                self.unhandled += 1
                self.timeline.advance(event.at)
            finally:
                self._current = None
        if errors:
            raise errors[0]
        if self.posted != self.fired + self.unhandled:
            raise RuntimeError(f"durable-rules lost an event: {self.posted} posted, "
                               f"{self.fired} fired a rule, {self.unhandled} fired none")

    def _release(self, final: bool) -> None:
        latest = self.reader.latest
        while self._buffer:
            at = self._buffer[0][0]
            if not final:
                reach = self.policy.max_lateness.add(at)
                if latest is None or reach is None or reach >= latest:
                    return
            _, _, _, event = heapq.heappop(self._buffer)
            self._post(event)

    def _fire_safe(self) -> None:
        """Fire the deadlines no event still to come can meet: every event yet to be
        taken, or still held back, is later than them (``max_lateness`` past them)."""
        latest = self.reader.latest
        if latest is None:
            return
        while self.timeline.pending:
            reach = self.policy.max_lateness.add(self.timeline.pending[0][0])
            if reach is None or reach >= latest:
                return
            self.timeline.advance(self.timeline.pending[0][0], inclusive=True)

    def _drain(self) -> list[dict[str, Any]]:
        out = self.timeline.actions[self._given:]
        self._given = len(self.timeline.actions)
        return out

    # -- the API ------------------------------------------------------------------------
    def post(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Take one event (a row of the log); return the actions it releases, if any.

        A refused event is kept in ``rejected`` (with the event and field named), never
        dropped; an event may wait until no earlier one can still arrive."""
        with self._lock:
            if self.closed:
                from ..errors import UsageError

                raise UsageError("this events session is closed")
            self.rows_in += 1
            got = self.reader.read(self.rows_in, event)
            if isinstance(got, dict):
                self.rejected.append(got)
                return []
            heapq.heappush(self._buffer, (got.at, got.event_id, got.row, got))
            self._release(final=False)
            self._fire_safe()
            return self._drain()

    def advance(self, to: dt.date | dt.datetime) -> list[dict[str, Any]]:
        """Say that time has reached ``to`` (a heartbeat, when no events come): the events
        and deadlines more than ``max_lateness`` before it are released, and from now on
        an event that far before it is refused as late, as if an event at ``to`` had come.
        """
        moment = end_of(to)
        with self._lock:
            if self.closed:
                from ..errors import UsageError

                raise UsageError("this events session is closed")
            if self.end is not None and moment > self.end:
                moment = self.end
            if self.reader.latest is None or moment > self.reader.latest:
                self.reader.latest = moment
            self._release(final=False)
            self._fire_safe()
            return self._drain()

    def close(self, until: dt.date | dt.datetime | None = None) -> list[dict[str, Any]]:
        """Release every event held back and fire the deadlines due by ``until`` (or by
        the session's own ``until``); the session cannot be posted to afterwards."""
        with self._lock:
            if not self.closed:
                self.closed = True
                self._release(final=True)
                end = end_of(until) if until is not None else self.end
                if end is not None:
                    self.timeline.advance(end, inclusive=True)
                if self._ruleset is not None:
                    import durable_rules_engine  # type: ignore[import-not-found]  # C, no stubs

                    with _LOCK:
                        durable_rules_engine.delete_ruleset(self._ruleset._handle)
                    self._ruleset = None
            return self._drain()

    @property
    def accounted(self) -> bool:
        """Every row is a rejected row, an event still held back, or an event posted."""
        return self.rows_in == len(self.rejected) + len(self._buffer) + self.posted

    def __enter__(self) -> DurableSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def evaluate(policy: EventPolicy, rows: Iterable[Any], *,
             until: dt.date | dt.datetime) -> EventsRun:
    """A whole log through one session, posted row by row in the order given."""
    session = DurableSession(policy, until=until)
    actions: list[dict[str, Any]] = []
    try:
        for row in rows:
            actions.extend(session.post(row))
    finally:
        actions.extend(session.close())
    if not session.accounted:  # pragma: no cover - the counts above would have raised
        raise RuntimeError("the durable session lost an event")
    return EventsRun(actions, session.rejected, session.rows_in, "durable", until)
