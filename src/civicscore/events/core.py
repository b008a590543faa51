"""What both event engines share: durations, compiled rules, the event reader, the wording.

The two engines (durable-rules online, polars in batch) differ in how they
find what a rule says; everything else is written once, here, so that they
cannot drift apart: how a duration is added to a time, which rows of a log
are events and which are refused (and why), and how an action is worded.

The order of events is *event time*: ``at``, then ``event_id`` for events at
the same instant. The order in which events arrive never changes an action,
as long as an event is not later than the policy's ``max_lateness`` (then it
is refused as late, by both engines, from the same rows).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._suggest import did_you_mean, one_of
from ..expr import Expression
from ..messages import say
from ..policy.model import FactSpec
from ..records import UnreadableRow, coerce_facts, is_missing, shown
from ..results import PolicyRef
from ..schemes.base import Column, Presenter, reject_row

#: The columns every event row carries besides its declared fields.
EVENT_FIELDS = ("event_id", "type", "subject_id", "at")
#: The columns of every action row, in order.
ACTION_COLUMNS = ("rule", "subject_id", "action", "effect", "at", "due", "events",
                  "explanation", "explanation_en", "policy_id", "policy_version",
                  "policy_hash")
#: The names an explanation may use, in braces.
PLACEHOLDERS = ("subject_id", "at", "due", "count", "window", "period", "events")
INPUT_KIND = "events"



# --- durations ------------------------------------------------------------------------


_UNITS = {"Y": ("year", "年"), "M": ("month", "个月"), "W": ("week", "周"), "D": ("day", "天"),
          "h": ("hour", "小时"), "m": ("minute", "分钟"), "s": ("second", "秒")}


@dataclass(frozen=True)
class Span:
    """An ISO-8601 duration: calendar months (years are 12 of them), then exact time."""

    text: str
    months: int
    delta: dt.timedelta
    parts: tuple[tuple[int, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Span:
        """``P1Y6M``, ``P180D``, ``PT24H``...; the model has checked the shape."""
        months = 0
        seconds = 0
        number = ""
        in_time = False
        parts: list[tuple[int, str]] = []
        for ch in text[1:]:
            if ch.isdigit():
                number += ch
                continue
            if ch == "T":
                in_time = True
                continue
            n = int(number)
            number = ""
            unit = ch.lower() if in_time else ch
            parts.append((n, unit))
            months += {"Y": 12 * n, "M": n}.get(unit, 0)
            seconds += {"W": 7 * 86400, "D": 86400, "h": 3600, "m": 60, "s": 1}.get(unit, 0) * n
        return cls(text, months, dt.timedelta(seconds=seconds), tuple(parts))

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and not self.delta

    def add(self, at: dt.datetime) -> dt.datetime | None:
        """``at`` plus this span: months first (clipped to the month's end), then time;
        None past the year 9999 (a time no run reaches)."""
        if self.months:
            total = at.year * 12 + at.month - 1 + self.months
            year, month = divmod(total, 12)
            month += 1
            if year > dt.MAXYEAR:
                return None
            day = min(at.day, calendar.monthrange(year, month)[1])
            at = at.replace(year=year, month=month, day=day)
        try:
            return at + self.delta
        except OverflowError:
            return None

    @functools.lru_cache(maxsize=256)  # noqa: B019 - a few spans per policy, kept for good
    def words(self, lang: str) -> str:
        """The span as an explanation says it, in the units it was written in:
        ``PT24H`` is ``24 hours`` / ``24小时``."""
        parts = [(n, _UNITS[u]) for n, u in self.parts if n]
        if lang == "en":
            return " ".join(f"{n} {en}{'s' if n != 1 else ''}" for n, (en, _) in parts) \
                or "no time"
        return "".join(f"{n}{zh}" for n, (_, zh) in parts) or "0秒"

    def polars_offset(self) -> str:
        """The same span as a polars ``dt.offset_by`` string."""
        parts = []
        if self.months:
            parts.append(f"{self.months}mo")
        if self.delta:
            parts.append(f"{int(self.delta.total_seconds())}s")
        return "".join(parts) or "0s"


# --- compiled rules -------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One checked ``[[events.rules]]`` entry, as both engines read it."""

    id: str
    form: str
    on: str
    action: str
    effect: str
    explain: str
    explain_en: str
    expect: str | None = None
    window: Span | None = None
    count: int = 0
    reset_by: tuple[str, ...] = ()
    period: Span | None = None
    missed_action: str | None = None
    missed_effect: str = "task"
    missed_explain: str = ""
    missed_explain_en: str = ""
    when: Expression | None = None

    @property
    def span(self) -> Span:
        """The window (within) or period (inactive, period) of the rule."""
        span = self.window if self.form == "within" else self.period
        assert span is not None  # the compiler requires it for these forms
        return span


@dataclass(frozen=True)
class EventPolicy:
    """The compiled ``[events]`` section: types with their typed fields, rules, lateness."""

    entity: str
    types: Mapping[str, Mapping[str, FactSpec]]
    rules: tuple[Rule, ...]
    max_lateness: Span
    ref: PolicyRef

    def types_read(self) -> set[str]:
        """The event types some rule reads (others are accepted and counted, nothing more)."""
        out: set[str] = set()
        for r in self.rules:
            out |= {r.on, *([r.expect] if r.expect else []), *r.reset_by}
        return out


# --- events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One accepted event: its input row, id, type, subject, time and typed fields."""

    row: int
    event_id: str
    type: str
    subject_id: str
    at: dt.datetime
    fields: Mapping[str, Any] = field(default_factory=dict)
    #: the rules whose ``when`` does not hold for this event (they do not read it)
    skip: frozenset[str] = frozenset()

    @property
    def key(self) -> tuple[dt.datetime, str]:
        """Event-time order: the time, then the id for events at the same instant."""
        return (self.at, self.event_id)


def end_of(until: dt.date | dt.datetime) -> dt.datetime:
    """The last instant a run covers: the end of ``until``'s day for a date."""
    if isinstance(until, dt.datetime):
        return _naive_utc(until)
    return dt.datetime.combine(until, dt.time.max)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def parse_at(value: Any) -> dt.datetime | None:
    """An ISO-8601 time (a date alone is its midnight); one with a UTC offset is taken
    in UTC, one without is taken as UTC already. None when it is not a time."""
    if isinstance(value, dt.datetime):
        return _naive_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return _naive_utc(dt.datetime.fromisoformat(text))
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip()


class EventReader:
    """Turns the rows of a log into events or rejected rows, in arrival order.

    It is stateful because two checks are about the log, not the row: an
    ``event_id`` already accepted is a duplicate, and an event earlier than the
    latest accepted one by more than ``max_lateness`` is late. Both engines
    read a log through one reader, row by row in the order given, so they
    accept and refuse exactly the same rows.
    """

    def __init__(self, policy: EventPolicy, end: dt.datetime | None) -> None:
        self.policy = policy
        self.end = end
        self.seen: dict[str, int] = {}
        self.latest: dt.datetime | None = None
        self.conditions: dict[str, list[Rule]] = {}
        for rule in policy.rules:
            if rule.when is not None:
                self.conditions.setdefault(rule.on, []).append(rule)

    def read(self, row: int, record: Any) -> Event | dict[str, Any]:
        """The event of one row, or its rejected row (``input``, ``row``, ``id``, codes,
        reasons) naming the event and the field at fault."""
        if isinstance(record, UnreadableRow):
            return reject_row(INPUT_KIND, row, f"row {row}", ["UNREADABLE_ROW"],
                              [record.message])
        if not isinstance(record, Mapping):
            return reject_row(INPUT_KIND, row, f"row {row}", ["UNREADABLE_ROW"],
                              [f"row {row}: not a table of fields ({type(record).__name__})"])
        codes: list[str] = []
        messages: list[str] = []

        def bad(code: str, name: str, message: str) -> None:
            codes.append(code)
            messages.append(f"{who}: field {name!r}: {message}")

        def missing(name: str) -> None:
            value = record.get(name)
            if is_missing(value):
                bad("MISSING_FIELD", name, "is required and missing")
            else:
                bad("INVALID_FIELD", name, f"expected text, got {shown(value)}")

        event_id = _text(record.get("event_id"))
        who = f"event {event_id}" if event_id else f"row {row}"
        if event_id is None:
            missing("event_id")
        kind = _text(record.get("type"))
        specs: Mapping[str, FactSpec] = {}
        if kind is None:
            missing("type")
        elif kind not in self.policy.types:
            hint = did_you_mean(kind, self.policy.types) or (
                "known types: " + one_of(self.policy.types))
            bad("UNKNOWN_EVENT_TYPE", "type", f"{kind!r} is not an event type of the "
                                              f"policy ({hint})")
        else:
            specs = self.policy.types[kind]
        subject = _text(record.get("subject_id"))
        if subject is None:
            missing("subject_id")
        raw_at = record.get("at")
        at = None if is_missing(raw_at) else parse_at(raw_at)
        if is_missing(raw_at):
            bad("MISSING_FIELD", "at", "is required and missing")
        elif at is None:
            bad("INVALID_DATETIME", "at", f"expected an ISO-8601 time such as "
                                          f"2025-03-01T09:30:00, got {shown(raw_at)}")
        facts, reasons = coerce_facts(record, specs, who, self.policy.entity)
        for reason in reasons:
            codes.append(reason.code)
            messages.append(reason.message.removeprefix("record "))
        skip: set[str] = set()
        if not codes and kind in self.conditions:
            assert at is not None
            env = {**facts, "as_of": at.date()}
            for rule in self.conditions[kind]:
                assert rule.when is not None
                try:
                    holds = rule.when(env)
                except (ArithmeticError, ValueError) as e:
                    codes.append("EXPR_ERROR")
                    messages.append(f"{who}: the condition of rule {rule.id!r} "
                                    f"({rule.when.text}) cannot be computed: {e}")
                    continue
                if not holds:
                    skip.add(rule.id)
        if codes:
            return reject_row(INPUT_KIND, row, event_id or f"row {row}", codes, messages)
        assert event_id is not None and kind is not None and subject is not None
        assert at is not None
        first = self.seen.get(event_id)
        if first is not None:
            return reject_row(INPUT_KIND, row, event_id, ["DUPLICATE_EVENT"],
                              [f"{who}: field 'event_id': {event_id!r} was already taken "
                               f"from row {first}"])
        if self.end is not None and at > self.end:
            return reject_row(INPUT_KIND, row, event_id, ["AFTER_UNTIL"],
                              [f"{who}: field 'at': {at.isoformat()} is after the end of the "
                               f"run ({self.end.isoformat()})"])
        lateness = self.policy.max_lateness
        if self.latest is not None and (lateness.add(at) or dt.datetime.max) < self.latest:
            return reject_row(INPUT_KIND, row, event_id, ["LATE_EVENT"],
                              [f"{who}: field 'at': {at.isoformat()} arrived after "
                               f"{self.latest.isoformat()}, later than the policy allows "
                               f"({lateness.text})"])
        self.seen[event_id] = row
        if self.latest is None or at > self.latest:
            self.latest = at
        return Event(row, event_id, kind, subject, at, facts, frozenset(skip))


# --- actions ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _parsed(template: str) -> tuple[tuple[str, str | None], ...]:
    """A checked explanation's literal text and names, parsed once per template."""
    return tuple((literal, name) for literal, name, _spec, _conv
                 in string.Formatter().parse(template))


def _words(template: str, values: Mapping[str, str]) -> str:
    out = []
    for literal, name in _parsed(template):
        out.append(literal)
        if name is not None:
            out.append(values.get(name, ""))
    return "".join(out)


def placeholder_problem(template: str) -> str | None:
    """Why an explanation cannot be worded (an unknown or decorated ``{name}``), or None.

    Explanations are data: only the listed names, bare, may appear in braces, so a
    policy cannot reach into an object through ``{at.__class__}`` or a format spec."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        return f"the braces do not pair up ({e}); write {{{{ and }}}} for literal braces"
    for _literal, name, spec, conv in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conv:
            hint = did_you_mean(name, PLACEHOLDERS) or "use one of " + one_of(PLACEHOLDERS)
            return f"{{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}} " \
                   f"is not a name an explanation may use ({hint})"
    return None


def action_row(policy: EventPolicy, rule: Rule, subject: str, *, missed: bool,
               at: dt.datetime, due: dt.datetime | None, events: list[str],
               count: int = 0) -> dict[str, Any]:
    """One action, as both engines write it (times as ISO text)."""
    due_text = None if due is None else due.isoformat()
    values = {
        "subject_id": subject, "at": at.isoformat(), "due": due_text or "",
        "count": str(count or len(events)), "events": ", ".join(events),
    }
    words = {lang: {"window": rule.window.words(lang) if rule.window else "",
                    "period": rule.period.words(lang) if rule.period else ""}
             for lang in ("zh", "en")}
    if missed:
        name, effect = rule.missed_action, rule.missed_effect
        zh, en = rule.missed_explain, rule.missed_explain_en
    else:
        name, effect, zh, en = rule.action, rule.effect, rule.explain, rule.explain_en
    ref = policy.ref
    return {"rule": rule.id, "subject_id": subject, "action": name, "effect": effect,
            "at": at.isoformat(), "due": due_text, "events": list(events),
            "explanation": _words(zh, {**values, **words["zh"]}),
            "explanation_en": _words(en, {**values, **words["en"]}),
            "policy_id": ref.id, "policy_version": ref.version, "policy_hash": ref.hash}


def action_order(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The one order actions are written in, whichever engine found them."""
    return (row["at"], row["subject_id"], row["rule"], row["action"], row["events"])


# --- a run --------------------------------------------------------------------------


class EventsPresenter(Presenter):
    """An events run on a terminal and in the summary line of ``score``: an action per row,
    the summary counts them. Read off the action rows, so both engines show the same."""

    noun = input_kind = INPUT_KIND
    title = "Actions"
    columns = ("at", "subject", "rule", "action", "due")

    def cells(self, row: Mapping[str, Any]) -> list[str]:
        return [str(row["at"]), row["subject_id"], row["rule"], row["action"],
                str(row["due"]) if row["due"] else "-"]

    def notes(self, output: Column, details: Column) -> list[str]:
        return [say("note_actions", n=len(output("rule")))]



@dataclass
class EventsRun:
    """What one run of a log gave: the actions, the refused events, and the count of rows."""

    actions: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    rows_in: int
    engine: str
    until: dt.date | dt.datetime
    notes: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.rows_in - len(self.rejected)

    def output_rows(self) -> Iterator[dict[str, Any]]:
        return iter(self.actions)

    def detail_rows(self) -> Iterator[dict[str, Any]]:
        return iter(())

    def rejected_rows(self) -> list[dict[str, Any]]:
        return list(self.rejected)

    def fired_rules(self) -> set[str]:
        return {f"events.rules.{a['rule']}" for a in self.actions}

    def summary(self) -> str:
        return (f"{self.accepted} of {self.rows_in} events taken, {len(self.rejected)} "
                f"rejected; {len(self.actions)} actions until {self.until.isoformat()}")

    def cli_frames(self) -> tuple[list[dict[str, Any]], Any]:
        """What ``civicscore score --engine batch`` writes: the actions, and no details
        (an empty frame, whose warnings ``score`` reads)."""
        import polars as pl

        return self.actions, pl.DataFrame()

    def write(self, rows: Any, target: Any, kind: str) -> None:
        """Write rows as ``score`` does for the per-record run (``io.write_rows``), so the
        engine never changes a byte."""
        from ..io import write_rows

        write_rows(rows if isinstance(rows, list) else rows.iter_rows(named=True), target,
                   kind)

    def table(self) -> tuple[str, list[str], list[list[str]]]:
        return "Actions", ["at", "subject", "rule", "action", "due"], [
            [a["at"], a["subject_id"], a["rule"], a["action"], a["due"] or "-"]
            for a in self.actions]
