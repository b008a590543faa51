"""Volunteer points: activity records -> points with reasons -> statements.

How one batch of records is scored (the order is part of the meaning, and
each step leaves a reason on the record it touches):

1. Each record is checked on its own: fields present and typed, known
   activity, end after start, not after the as-of date, confirmed by the
   organiser, submitted within the window, and a rate in force on its date.
   A record failing any check is *rejected* with every reason found; it is
   never dropped.
2. A volunteer's accepted records are taken in order of start time (then
   record id). A record that overlaps an earlier accepted one is rejected.
3. Service time is rounded to the policy's unit; counted hours are limited
   by the activity's ``max_hours`` and by what is left of the per-day and
   per-month hour caps (days and months by the start date).
4. Points = counted hours x rate (or the per-event rate) x category
   coefficient x multiplier (the largest, or the product, of those whose
   ``when`` holds), rounded half-up to ``points_decimals``, then limited by
   what is left of the per-day and per-month point caps.
5. Statements as of a date: points expire ``point_expiry_months`` after the
   activity; redemptions consume the oldest unexpired points first and are
   rejected (not partly applied) when the balance is short; hours never
   expire and set the star level.

Steps 2-4 are written once, for both engines: service time and ``max_hours``
are the plan ``service_plan``; overlaps and the day and month caps are the
generic scans of ``plan.scan`` (``OverlapScan``, ``CapScan``), which this
module runs over a volunteer's rows and the batch engine over a frame.

Points are kept internally as whole units of the smallest decimal
(``10**-points_decimals``) so that sums, caps and balances are exact.

Exact arithmetic (both engines): every rate, coefficient, factor, cap and
``max_hours`` is taken at the decimal the officer wrote (``Decimal(repr(x))``);
service time is a whole number of minutes (``rounding_minutes`` units, rounded
exactly on the microseconds between start and end), counted hours are the
rational ``minutes / 60``; points are the exact product ``rate x counted
hours x coefficient x multiplier(s)``, rounded ROUND_HALF_UP once, at
``points_decimals`` -- the same as Python's ``decimal`` would give (4.725 is
4.73). Amounts are bounded by what a policy can represent: at most
``MAX_UNITS`` (2**53 - 1) units of ``10**-points_decimals`` per record, cap or
redemption. The loader refuses parameters that could exceed it on every record
(``check_bounds``); a record or redemption that would exceed it is rejected
with ``OUT_OF_RANGE``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ... import record_words as rw
from ..._suggest import did_you_mean_both
from ...errors import RecordError
from ...expr import Expression, Fact, FunctionTable, Type
from ...expr.ir import MAX_SAFE_INT, Binary, Const, Name
from ...messages import reasons_language, say
from ...plan import AnyOf, IfElse, Input, Let, Plan, Ref, RoundDiv
from ...plan import Compare as PlanCompare
from ...plan import Expr as PlanExpr
from ...plan.ops import round_div
from ...plan.python import compile_plan
from ...plan.scan import CapScan, OverlapScan, Window, cap_scan_rows, overlap_scan_rows
from ...plan.words import Words
from ...policy.compile import CompileContext, ensure_in_effect
from ...policy.dated import DatedValue, NotInForce
from ...policy.load import KeyPath
from ...policy.model import FactSpec, PolicyModel, Volunteer
from ...records import (
    UnreadableRow,
    coerce_facts,
    is_missing,
    refused,
    to_bool,
    to_date,
    to_datetime,
    to_decimal,
    to_id,
    to_text,
    unreadable_reason,
)
from ...results import ParameterUse, PolicyRef, Reason, to_jsonable
from ..base import (
    BatchEngine,
    Column,
    Presenter,
    Table,
    policy_columns,
    reject_row,
    run_summary,
    run_table,
)
from .words import (
    CAPS,
    CheckWords,
    StatementWords,
    VolunteerWords,
    month_text,
    statement_hours,
    unknown_activity_text,
    version,
)

SCORED = "scored"
REJECTED = "rejected"
APPLIED = "applied"

#: Names every multiplier expression may read, besides [facts.activity].
BUILTIN_NAMES = ("activity", "category", "date", "hours", "as_of")

MAX_UNITS = MAX_SAFE_INT
"""The most units of ``10**-points_decimals`` one record, cap or redemption may hold (and
the most minutes of a cap): integers stay within the safe range, so that the float of an
amount is exact in every output and both engines sum the same integers."""

MAX_DECIMALS = 18
"""The most decimals the written rate, coefficient and factors of one activity may have
together: their exact product then has a denominator of at most 10**18, which keeps the
batch engine's Int128 fixed-point arithmetic within range for every amount up to
``MAX_UNITS``."""


def written(x: float) -> Fraction:
    """A policy number as the officer wrote it: ``Decimal(repr(x))``, as an exact rational."""
    return Fraction(Decimal(repr(float(x))))


def decimals_of(x: float) -> int:
    """How many decimals ``x`` has as written (0.125 -> 3, 1e12 -> 0, 1e-07 -> 7)."""
    exponent = Decimal(repr(float(x))).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def half_up(q: Fraction) -> int:
    """``q`` rounded ROUND_HALF_UP to an integer, exactly (halves away from zero)."""
    if q < 0:
        return -half_up(-q)
    return (2 * q.numerator + q.denominator) // (2 * q.denominator)


def most_points(decimals: int) -> Decimal:
    """The most points one record, cap or redemption can hold: ``MAX_UNITS`` units of
    ``10**-decimals`` (90071992547409.91 at 2 decimals), exactly."""
    return Decimal(MAX_UNITS).scaleb(-decimals)


def scaled_units(x: float, scale: int) -> int:
    """``x`` (as written) in units of ``1/scale``, rounded half up: caps in point units,
    hours in minutes. Shared by both engines."""
    return half_up(written(x) * scale)


def service_minutes(micros: int, unit: int, rounding: str) -> int:
    """Service time in whole minutes: ``micros`` (microseconds between start and end)
    rounded exactly to ``unit``-minute units, down, up or to the nearest (half up).
    The same step as the ``service`` of :func:`service_plan`, for one value."""
    mode = "half_up" if rounding == "nearest" else rounding
    n = round_div(micros, unit * 60_000_000, mode)
    assert n is not None
    return n * unit


def service_plan(rules: Volunteer) -> Plan:
    """The service-time part of a record's decision, written once and run by both
    engines (``plan.python`` per record, ``plan.polars`` in batch).

    Inputs: ``micros``, the microseconds between start and end, and ``max_minutes``, the
    activity's ``max_hours`` in force as whole minutes (null when it has none). Outputs:
    ``service`` (whole minutes, rounded to ``rounding_minutes`` units as the policy says),
    ``rounded`` (the rounding changed the time, in units of more than a minute: the
    ROUNDING reason), ``cut_max`` (``max_hours`` cut it: the MAX_HOURS reason) and
    ``counted0``, the minutes counted before the hour caps."""
    unit = rules.rounding_minutes
    step = unit * 60_000_000
    mode = "half_up" if rules.rounding == "nearest" else rules.rounding
    micros, most = Ref("micros"), Ref("max_minutes")
    steps = [Let("units", RoundDiv(micros, step, mode)),
             Let("service", PlanExpr(Binary(Type.INT, "*", Name(Type.INT, "units"),
                                              Const(Type.INT, unit)), capture=False))]
    if unit > 1:
        steps += [Let("floor", RoundDiv(micros, step, "down")),
                  Let("ceiling", RoundDiv(micros, step, "up")),
                  Let("rounded", PlanCompare("!=", Ref("floor"), Ref("ceiling")))]
    else:
        steps.append(Let("rounded", AnyOf(())))
    steps += [Let("cut_max", PlanCompare(">", Ref("service"), most, if_null=False)),
              Let("counted0", IfElse(Ref("cut_max"), most, Ref("service")))]
    return Plan((Input("micros", Type.INT), Input("max_minutes", Type.INT, nullable=True)),
                tuple(steps), SERVICE_OUTPUTS)


#: What :func:`service_plan` gives, in order.
SERVICE_OUTPUTS = ("service", "rounded", "cut_max", "counted0")


# --- results ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityDecision:
    """The points one activity record earned, or why it was rejected."""

    row: int
    record_id: str
    volunteer_id: str
    activity: str
    date: dt.date | None
    status: str
    service_hours: float
    counted_hours: float
    points: float
    expires_on: dt.date | None
    reasons: tuple[Reason, ...]
    parameters: tuple[ParameterUse, ...]
    policy: PolicyRef
    as_of: dt.date
    #: ``points`` in units of ``10**-points_decimals``, exact (``points`` is its float).
    point_units: int = 0
    #: the language its reasons are worded in (``en`` or ``zh``), and ``explain``'s
    lang: str = field(default="en", compare=False, repr=False)

    @property
    def rejected(self) -> bool:
        return self.status == REJECTED

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def explain(self, lang: str | None = None) -> str:
        """Plain-language account of the decision, for an officer or the volunteer, in
        ``lang`` (``zh`` or ``en``; by default the language its reasons are worded in)."""
        if (lang or self.lang) == "zh":
            return self._explain_zh()
        head = (f"Record {self.record_id} ({self.activity or '?'}, volunteer "
                f"{self.volunteer_id or '?'}"
                + (f", {self.date}" if self.date else "") + ")")
        if self.rejected:
            lines = [f"{head} was rejected:"]
        else:
            lines = [f"{head} earned {self.points:g} points for {self.counted_hours:g} "
                     f"counted hours" + (f"; they expire on {self.expires_on}."
                                         if self.expires_on else ".")]
        lines += [f"  - {r.message}" for r in self.reasons]
        if self.parameters:
            lines.append("  Parameters used:")
            lines += [f"    {p}" for p in self.parameters]
        lines.append(f"  Policy {self.policy}, as of {self.as_of}.")
        return "\n".join(lines)

    def _explain_zh(self) -> str:
        """:meth:`explain` in Chinese (the reasons as they are worded)."""
        head = (f"记录 {self.record_id}（{self.activity or '?'}，志愿者 "
                f"{self.volunteer_id or '?'}" + (f"，{self.date}" if self.date else "") + "）")
        if self.rejected:
            lines = [f"{head}未通过校验："]
        else:
            lines = [f"{head}计入 {self.counted_hours:g} 小时，得 {self.points:g} 分"
                     + (f"；积分于 {self.expires_on} 失效。" if self.expires_on else "。")]
        lines += [f"  - {r.message}" for r in self.reasons]
        if self.parameters:
            lines.append("  所用参数：")
            lines += [f"    {p}" for p in self.parameters]
        lines.append(f"  政策 {self.policy}，计算日期 {self.as_of}。")
        return "\n".join(lines)

    def to_row(self) -> dict[str, Any]:
        return {
            "row": self.row, "record_id": self.record_id, "volunteer_id": self.volunteer_id,
            "activity": self.activity, "date": self.date, "status": self.status,
            "service_hours": self.service_hours, "counted_hours": self.counted_hours,
            "points": self.points, "expires_on": self.expires_on,
            "reason_codes": list(self.reason_codes),
            "reasons": [r.message for r in self.reasons],
            **policy_columns(self.policy), "as_of": self.as_of,
        }


@dataclass(frozen=True, slots=True)
class RedemptionDecision:
    """A redemption applied to a balance, or why it was refused."""

    row: int
    redemption_id: str
    volunteer_id: str
    date: dt.date | None
    points: float
    status: str
    reasons: tuple[Reason, ...]
    #: ``points`` in units of ``10**-points_decimals``, exact.
    point_units: int = 0

    def to_row(self) -> dict[str, Any]:
        return {"row": self.row, "redemption_id": self.redemption_id,
                "volunteer_id": self.volunteer_id, "date": self.date, "points": self.points,
                "status": self.status, "reason_codes": [r.code for r in self.reasons],
                "reasons": [r.message for r in self.reasons]}


@dataclass(frozen=True, slots=True)
class Statement:
    """One volunteer's account as of a date."""

    volunteer_id: str
    as_of: dt.date
    earned: float
    expired: float
    redeemed: float
    balance: float
    hours: float
    star_level: int
    star_label: str
    records_scored: int
    records_rejected: int
    next_star_hours: float | None
    reasons: tuple[Reason, ...]
    policy: PolicyRef
    #: the language its reasons are worded in (``en`` or ``zh``), and ``explain``'s
    lang: str = field(default="en", compare=False, repr=False)

    def to_row(self) -> dict[str, Any]:
        return {
            "volunteer_id": self.volunteer_id, "as_of": self.as_of, "earned": self.earned,
            "expired": self.expired, "redeemed": self.redeemed, "balance": self.balance,
            "hours": self.hours, "star_level": self.star_level, "star_label": self.star_label,
            "records_scored": self.records_scored, "records_rejected": self.records_rejected,
            "reason_codes": [r.code for r in self.reasons],
            "reasons": [r.message for r in self.reasons],
            **policy_columns(self.policy),
        }

    def explain(self, lang: str | None = None) -> str:
        """The account in words, in ``lang`` (by default its reasons' language)."""
        if (lang or self.lang) == "zh":
            lines = [f"志愿者 {self.volunteer_id}，截至 {self.as_of}：余额 {self.balance:g} 分"
                     f"（获得 {self.earned:g}，过期 {self.expired:g}，兑换 {self.redeemed:g}）；"
                     f"服务 {self.hours:g} 小时"
                     + (f"，{self.star_label}" if self.star_label else "，尚未达到星级") + "。"]
            lines += [f"  - {r.message}" for r in self.reasons]
            lines.append(f"  政策 {self.policy}。")
            return "\n".join(lines)
        lines = [f"Volunteer {self.volunteer_id}, as of {self.as_of}: balance "
                 f"{self.balance:g} points (earned {self.earned:g}, expired {self.expired:g}, "
                 f"redeemed {self.redeemed:g}); {self.hours:g} service hours"
                 + (f", {self.star_label}" if self.star_label else ", no star level yet")
                 + "."]
        lines += [f"  - {r.message}" for r in self.reasons]
        lines.append(f"  Policy {self.policy}.")
        return "\n".join(lines)


@dataclass(frozen=True)
class VolunteerResult:
    """Everything one run produced: every input record is in ``records``."""

    as_of: dt.date
    policy: PolicyRef
    records: tuple[ActivityDecision, ...]
    redemptions: tuple[RedemptionDecision, ...]
    statements: Mapping[str, Statement]

    @property
    def scored(self) -> tuple[ActivityDecision, ...]:
        return tuple(r for r in self.records if not r.rejected)

    @property
    def rejected(self) -> tuple[ActivityDecision, ...]:
        return tuple(r for r in self.records if r.rejected)

    def to_jsonable(self) -> Any:
        return to_jsonable(self)

    # -- the SchemeRun protocol (used by the CLI) -------------------------------------
    def output_rows(self) -> Iterator[dict[str, Any]]:
        return (s.to_row() for s in self.statements.values())

    def detail_rows(self) -> Iterator[dict[str, Any]]:
        return (d.to_row() for d in self.records)

    def rejected_rows(self) -> list[dict[str, Any]]:
        rows = [reject_row("activities", d.row, d.record_id, d.reason_codes,
                           [r.message for r in d.reasons]) for d in self.rejected]
        rows += [reject_row("redemptions", r.row, r.redemption_id, [x.code for x in r.reasons],
                            [x.message for x in r.reasons])
                 for r in self.redemptions if r.status == REJECTED]
        return rows

    def summary(self) -> str:
        return run_summary(VolunteerPresenter(None), self, rows_in=len(self.records),
                           policy=self.policy, as_of=self.as_of)

    def fired_rules(self) -> set[str]:
        """Activities scored and multipliers applied (for coverage)."""
        fired: set[str] = set()
        for d in self.scored:
            fired.add(f"volunteer.activities.{d.activity}")
            fired.update(r.rule for r in d.reasons if r.code == "MULTIPLIER")
        return fired

    def table(self) -> Table:
        return run_table(VolunteerPresenter(None), self, policy=self.policy, as_of=self.as_of)


class VolunteerPresenter(Presenter):
    """A volunteer run on a terminal: a statement per row; the summary counts them.
    Read off the statement rows, so both engines show the same."""

    noun = "activity records"
    input_kind = "activities"
    title = "Volunteer statements"
    columns = ("volunteer", "earned", "expired", "redeemed", "balance", "hours", "star",
               "scored", "rejected")

    def cells(self, row: Mapping[str, Any]) -> list[str]:
        return [row["volunteer_id"], f"{row['earned']:g}", f"{row['expired']:g}",
                f"{row['redeemed']:g}", f"{row['balance']:g}", f"{row['hours']:g}",
                row["star_label"] or "-", str(row["records_scored"]),
                str(row["records_rejected"])]

    def notes(self, output: Column, details: Column) -> list[str]:
        return [say("note_statements", n=len(output("volunteer_id")))]


# --- compiled rules ------------------------------------------------------------------


@dataclass(frozen=True)
class _Activity:
    id: str
    label: str
    category: str
    per_hour: DatedValue | None
    per_event: DatedValue | None
    max_hours: DatedValue | None


@dataclass(frozen=True)
class _Multiplier:
    id: str
    label: str
    when: Expression
    factor: DatedValue


@dataclass
class _Pending:
    """A record that passed the stateless checks, with its parsed fields."""

    row: int
    record_id: str
    volunteer_id: str
    activity: _Activity
    start: dt.datetime
    end: dt.datetime
    facts: dict[str, Any]
    reasons: list[Reason] = field(default_factory=list)
    params: list[ParameterUse] = field(default_factory=list)


def _aware(value: Any, record: str, name: str) -> dt.datetime:
    """``to_datetime`` keeping a written UTC offset, so mixed offsets can be refused."""
    return to_datetime(value, record, name, keep_offset=True)


Cut = tuple[str, int, int, int]
"""A cap that cut an amount: (reason code, limit, what was left, the amount before)."""


@dataclass(frozen=True, slots=True)
class Trace:
    """What a scored record's reasons are worded from (the per-record engine fills one;
    the batch engine calls the same ``reason_*`` functions on its columns): the activity,
    day, microseconds served, service minutes, the ``max_hours`` limit when it
    cut, minutes after it, the hour caps' cuts, counted minutes, the multiplier mask, the
    rounded point units before the point caps, and those caps' cuts."""

    activity: _Activity
    day: dt.date
    micros: int
    service: int
    max_hours: int | None
    counted0: int
    hour_cuts: tuple[Cut, ...]
    counted: int
    mask: int
    units0: int
    point_cuts: tuple[Cut, ...]


def _label(obj: Any, fallback: str) -> str:
    return str(getattr(obj, "label", "") or fallback)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clipped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    if year > dt.MAXYEAR:  # points that outlive the calendar simply never expire in it
        return dt.date.max
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(d, day.day))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def _in_force(value: DatedValue, day: dt.date) -> bool:
    try:
        value.at(day)
    except NotInForce:
        return False
    return True


def _cut(amount: int, windows: Sequence[tuple[str, int | None, int | None]]
         ) -> tuple[int, tuple[Cut, ...]]:
    """``amount`` after each cap in turn, from what the scan says was left of it
    (``(code, limit, left)``; no limit: no cap), and the cuts made."""
    cuts: list[Cut] = []
    for code, limit, left in windows:
        if limit is None or left is None:
            continue
        if amount > left:
            cuts.append((code, limit, left, amount))
            amount = left
    return amount, tuple(cuts)


#: The scans of one volunteer's records (rows in time order, ``pos``): overlaps, the
#: hour caps (day, then month) and the point caps, as the batch engine runs them.
_OVERLAPS = OverlapScan(("vol",), ("pos",), "start", "end", "rid", "eligible")
_HOUR_CAPS = CapScan(("vol",), ("pos",), "amount", (Window(("day",), "ld"),
                                                    Window(("month",), "lm")))
_POINT_CAPS = CapScan(("vol",), ("pos",), "amount", (Window(("day",), "pd"),
                                                     Window(("month",), "pm")))


class _Unscorable(Exception):
    """A record that passed its own checks but cannot be scored; carries the reason."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.message)
        self.reason = reason


class VolunteerScheme(BatchEngine):
    """The compiled [volunteer] section of one policy."""

    batch_engine = "civicscore.schemes.volunteer.batch:score_volunteer"
    presenter_type = VolunteerPresenter

    def __init__(self, model: PolicyModel, rules: Volunteer, ref: PolicyRef,
                 activities: Mapping[str, _Activity], multipliers: Sequence[_Multiplier],
                 activity_facts: Mapping[str, FactSpec],
                 functions: FunctionTable | None = None) -> None:
        self.model = model
        self.functions = functions  # the policy's function table, for the batch evaluator
        self.rules = rules
        self.ref = ref
        self.activities = dict(activities)
        self.multipliers = tuple(multipliers)
        self.activity_facts = dict(activity_facts)
        self.scale = 10 ** rules.points_decimals
        self.stars = sorted(rules.star_levels, key=lambda s: s.hours)
        #: the service-time plan, compiled once (``service_plan``)
        self._service = compile_plan(service_plan(rules), FunctionTable())
        #: the reasons' templates, built once (both engines render them)
        self._words: dict[str, tuple[VolunteerWords, StatementWords]] = {}
        self._check_words: dict[str, CheckWords] = {}

    # -- the words, in the language of the run -----------------------------------------
    def _words_in(self, lang: str) -> tuple[VolunteerWords, StatementWords]:
        if lang not in self._words:
            self._words[lang] = (VolunteerWords.of(self.rules, self.activities,
                                                   self.multipliers, lang),
                                 StatementWords.of(self.rules, self.stars, lang))
        return self._words[lang]

    @property
    def lang(self) -> str:
        """The language reasons are worded in now (:func:`~civicscore.messages.
        reasons_language`: ``--lang``, else ``CIVICSCORE_LANG``, else the policy's
        locale)."""
        return reasons_language(self.model.policy.locale)

    @property
    def check_words(self) -> CheckWords:
        """Step 1's sentences in the run's language (both engines render them)."""
        lang = self.lang
        if lang not in self._check_words:
            self._check_words[lang] = CheckWords.of(self.rules, self.activities, lang)
        return self._check_words[lang]

    @property
    def words(self) -> VolunteerWords:
        """A scored record's reason templates in the run's language (both engines)."""
        return self._words_in(self.lang)[0]

    @property
    def statement_words(self) -> StatementWords:
        """A statement's reason templates in the run's language (both engines)."""
        return self._words_in(self.lang)[1]

    # -- public API --------------------------------------------------------------------
    def decide_many(self, records: Iterable[Mapping[str, Any]], *, as_of: dt.date,
                    redemptions: Iterable[Mapping[str, Any]] = ()) -> VolunteerResult:
        """Score activity records, apply ``redemptions`` and build each volunteer's
        statement as of ``as_of`` (the vocabulary name; ``evaluate`` is its alias)."""
        return self.evaluate(records, redemptions, as_of=as_of)

    def decide(self, record: Mapping[str, Any], *, as_of: dt.date) -> ActivityDecision:
        """One record on its own (caps and overlaps see only this record); the vocabulary
        name, ``evaluate_record`` is its alias."""
        return self.evaluate([record], as_of=as_of).records[0]

    def evaluate(self, records: Iterable[Mapping[str, Any]],
                 redemptions: Iterable[Mapping[str, Any]] = (), *,
                 as_of: dt.date) -> VolunteerResult:
        """Score activity records and build each volunteer's statement as of ``as_of``."""
        ensure_in_effect(self.model, self.ref, as_of)
        decisions: list[ActivityDecision] = []
        pending: dict[str, list[_Pending]] = defaultdict(list)
        seen_ids: dict[str, int] = {}
        for row, record in enumerate(records, start=1):
            result = self._check_record(row, record, as_of, seen_ids)
            if isinstance(result, ActivityDecision):
                decisions.append(result)
            else:
                pending[result.volunteer_id].append(result)
        lots: dict[str, list[list[Any]]] = defaultdict(list)
        for volunteer_id, items in pending.items():
            decisions.extend(self._score_volunteer(items, as_of, lots[volunteer_id]))
        decisions.sort(key=lambda d: d.row)
        redemption_decisions = self._redeem(redemptions, as_of, lots)
        statements = self._statements(decisions, redemption_decisions, lots, as_of)
        return VolunteerResult(as_of, self.ref, tuple(decisions), tuple(redemption_decisions),
                               statements)

    def evaluate_record(self, record: Mapping[str, Any], *, as_of: dt.date) -> ActivityDecision:
        """One record on its own (caps and overlaps see only this record): ``decide``."""
        return self.decide(record, as_of=as_of)

    # -- the Scheme protocol (used by the CLI) ----------------------------------------
    extra_inputs = ("redemptions",)

    def rule_ids(self) -> set[str]:
        """The rules a case can exercise: every activity and every multiplier.

        Star levels are thresholds on a lifetime of hours rather than rules a
        record triggers, so they are not counted for coverage.
        """
        return ({f"volunteer.activities.{a}" for a in self.activities}
                | {f"volunteer.multipliers.{m.id}" for m in self.multipliers})

    def run(self, records: Iterable[Any], *, as_of: dt.date,
            **extra: Iterable[Any]) -> VolunteerResult:
        return self.evaluate(records, extra.get("redemptions", ()), as_of=as_of)

    def explain_record(self, record: Mapping[str, Any], *, as_of: dt.date) -> str:
        return self.evaluate_record(record, as_of=as_of).explain()

    # -- step 1: one record on its own -------------------------------------------------
    def _reject(self, row: int, rid: str, vid: str, activity: str, day: dt.date | None,
                reasons: Sequence[Reason], as_of: dt.date) -> ActivityDecision:
        return ActivityDecision(row, rid, vid, activity, day, REJECTED, 0.0, 0.0, 0.0, None,
                                tuple(reasons), (), self.ref, as_of, lang=self.lang)

    def _check_record(self, row: int, record: Mapping[str, Any], as_of: dt.date,
                      seen_ids: dict[str, int]) -> ActivityDecision | _Pending:
        if (unreadable := unreadable_reason(row, record, self.model.policy.locale)) is not None:
            return self._reject(row, f"row {row}", "", "", None, [unreadable], as_of)
        reasons: list[Reason] = []
        who = f"row {row}"  # the record's name (RecordError's): the bare id, or "row N"
        locale = self.model.policy.locale

        def field(name: str, convert: Any, required: bool = True) -> Any:
            value = record.get(name)
            if is_missing(value):
                if required:
                    lang = reasons_language(locale)
                    reasons.append(Reason("MISSING_FIELD", f"record.{name}", rw.say(
                        "missing", lang, who=rw.who(who, lang), field=name)))
                return None
            try:
                return convert(value, who, name)
            except RecordError as e:
                reasons.append(Reason(e.code, f"record.{name}",
                                      e.text(reasons_language(locale)), {name: value}))
                return None

        rid = field("record_id", to_id)
        if rid:
            who = rid
        rid = rid or f"row {row}"
        vid = field("volunteer_id", to_id) or ""
        activity_id = field("activity", to_text) or ""
        start = field("start", _aware)
        end = field("end", _aware)
        confirmed = field("confirmed", to_bool, required=False)
        submitted = field("submitted_at", _aware,
                          required=self.rules.submission_window_days is not None)
        offsets = [(name, t) for name, t in (("start", start), ("end", end),
                                             ("submitted_at", submitted))
                   if t is not None and t.utcoffset() is not None]
        if any(t.utcoffset() != offsets[0][1].utcoffset() for _, t in offsets):
            name, t = next((n, t) for n, t in offsets
                           if t.utcoffset() != offsets[0][1].utcoffset())
            first, t0 = offsets[0]
            lang = reasons_language(locale)
            reasons.append(Reason(
                "MIXED_UTC_OFFSETS", f"record.{name}",
                f"{rw.who(who, lang)}：“{name}”（{t.isoformat()}）与“{first}”"
                f"（{t0.isoformat()}）的 UTC 时差不同；请把本记录的时间都写成同一个当地时间"
                if lang == "zh" else
                f"{rw.who(who, lang)}: {name!r} ({t.isoformat()}) has a different UTC offset "
                f"from {first!r} ({t0.isoformat()}); write the record's times in one local "
                f"time", {first: t0, name: t}))
        start, end, submitted = (None if t is None else t.replace(tzinfo=None)
                                 for t in (start, end, submitted))
        day = start.date() if start else None

        if rid in seen_ids:
            reasons.append(Reason("DUPLICATE_RECORD", "record.record_id",
                                  self.check_words.duplicate.render({"rid": rid,
                                                                     "first": seen_ids[rid]}),
                                  {"record_id": rid}))
        else:
            seen_ids[rid] = row
        activity = self.activities.get(activity_id) if activity_id else None
        if activity_id and activity is None:
            lang = reasons_language(locale)
            reasons.append(Reason("UNKNOWN_ACTIVITY", "volunteer.activities",
                                  self.check_words.unknown_activity.render({
                                      "label": rw.who(who, lang),
                                      "unknown": unknown_activity_text(
                                          activity_id, self.activities, lang)}),
                                  {"activity": activity_id}))
        facts, fact_reasons = coerce_facts(record, self.activity_facts, who, "activity",
                                           locale)
        reasons += fact_reasons

        def said(words: Words | None, **slots: Any) -> str:
            """A sentence of step 1 for this record, in the run's language."""
            assert words is not None
            return words.render({"label": rw.who(who, self.lang), **slots})

        if start and end:
            if end <= start:
                reasons.append(Reason("END_NOT_AFTER_START", "record.end", said(
                    self.check_words.end_not_after_start, end=end, start=start),
                    {"start": start, "end": end}))
            if end.date() > as_of:
                reasons.append(Reason("AFTER_AS_OF", "record.end", said(
                    self.check_words.after_as_of, end_day=end.date(), as_of=as_of),
                    {"end": end}, as_of))
        if self.rules.confirmation_required and confirmed is not True and not any(
                r.rule == "record.confirmed" for r in reasons):
            reasons.append(Reason("NOT_CONFIRMED", "volunteer.confirmation_required",
                                  said(self.check_words.not_confirmed),
                                  {"confirmed": confirmed}))
        window = self.rules.submission_window_days
        if window is not None and submitted and end:
            late = (submitted.date() - end.date()).days
            if submitted < end:
                reasons.append(Reason("SUBMITTED_BEFORE_END", "record.submitted_at",
                                      said(self.check_words.submitted_before_end,
                                           submitted=submitted, end=end),
                                      {"submitted_at": submitted, "end": end}))
            elif late > window:
                reasons.append(Reason("LATE_SUBMISSION", "volunteer.submission_window_days",
                                      said(self.check_words.late_submission, late=late),
                                      {"submitted_at": submitted, "end": end}, window,
                                      "rejected"))
        if activity is not None and day is not None:
            for rate_name in ("per_hour", "per_event"):
                rate = getattr(activity, rate_name)
                if rate is not None:
                    try:
                        rate.at(day)
                    except NotInForce:
                        words = self.check_words
                        item = words.rate_not_in_force[words.rate_items[activity.id]]
                        reasons.append(Reason(
                            "RATE_NOT_IN_FORCE",
                            f"volunteer.activities.{activity.id}.points_{rate_name}",
                            said(item, day=day), {"date": day}))
        if reasons or activity is None or start is None or end is None:
            return self._reject(row, rid, vid, activity_id, day, reasons, as_of)
        return _Pending(row, rid, vid, activity, start, end, facts)

    # -- steps 2-4: one volunteer's records in time order --------------------------------
    def _score_volunteer(self, items: list[_Pending], as_of: dt.date,
                         lots: list[list[Any]]) -> list[ActivityDecision]:
        """Overlaps and caps as the scans of ``plan.scan`` (``overlap_scan_rows``,
        ``cap_scan_rows``: the ops the batch engine runs over a frame), with each record's
        own steps between them. A record that turns out unscorable when it would have
        been scored (an expression error, a factor not in force, points out of range:
        each depends on its counted hours) is rejected and counts for nothing, so the
        scans are run again without it; records before it are unchanged."""
        ordered = sorted(items, key=lambda p: (p.start, p.end, p.record_id))
        excluded: set[int] = set()
        while True:
            staged = self._staged(ordered, as_of, excluded)
            if isinstance(staged, int):
                excluded.add(staged)
                continue
            out, scored_lots = staged
            lots.extend(scored_lots)
            return out

    def _cap_limit(self, p: _Pending, cap: DatedValue | None, code: str, scale: int,
                   day: dt.date) -> int | None:
        """A cap in force on ``day`` in units of ``1/scale`` (None: no such cap)."""
        if cap is None:
            return None
        return scaled_units(self._param(p, f"volunteer.caps.{code_to_key(code)}", cap, day),
                            scale)

    def _staged(self, ordered: list[_Pending], as_of: dt.date, excluded: set[int]
                ) -> int | tuple[list[ActivityDecision], list[list[Any]]]:
        """One run of the scans over a volunteer's ``ordered`` records, ``excluded`` ones
        taking no part: the decisions and lots, or the position of an eligible record
        found unscorable (to exclude)."""
        rules, caps = self.rules, self.rules.caps
        lang = self.lang  # the language the reasons below are worded in
        rows: list[dict[str, Any]] = []
        early: list[Reason | None] = []  # unscorable before the hour caps are applied
        for i, p in enumerate(ordered):
            p.params = []
            act, day = p.activity, p.start.date()
            delta = p.end - p.start
            micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
            row: dict[str, Any] = {"vol": 0, "pos": i, "start": p.start, "end": p.end,
                                   "rid": p.record_id, "day": day,
                                   "month": (day.year, day.month), "micros": micros,
                                   "service": 0, "max_hours": None, "counted0": 0,
                                   "ld": None, "lm": None}
            try:
                limit = None if act.max_hours is None else scaled_units(self._param(
                    p, f"volunteer.activities.{act.id}.max_hours", act.max_hours, day), 60)
                service, _, cut_max, counted0 = self._service(
                    {"micros": micros, "max_minutes": limit})
                row.update(service=service, max_hours=limit if cut_max else None,
                           counted0=counted0,
                           ld=self._cap_limit(p, caps.hours_per_day, "CAP_HOURS_DAY", 60, day),
                           lm=self._cap_limit(p, caps.hours_per_month, "CAP_HOURS_MONTH", 60,
                                              day))
                early.append(None)
            except _Unscorable as e:
                early.append(e.reason)
            coef = self.rules.categories[act.category].coefficient if act.category else None
            late = any(v is not None and not _in_force(v, day)
                       for v in (coef, caps.points_per_day, caps.points_per_month))
            row["eligible"] = early[i] is None and not late and i not in excluded
            rows.append(row)
        if rules.overlap == "reject":
            found = overlap_scan_rows(_OVERLAPS, rows)
        else:
            found = [(False, None, None)] * len(rows)
        for row, (overlaps, _, _) in zip(rows, found, strict=True):
            row["acc"] = row["eligible"] and not overlaps
            row["amount"] = row["counted0"] if row["acc"] else 0
        hours = cap_scan_rows(_HOUR_CAPS, rows)
        out: list[ActivityDecision | None] = [None] * len(rows)
        traces: dict[int, tuple[int, tuple[Cut, ...], int, int, dict[str, Any] | None]] = {}
        for i, (p, row) in enumerate(zip(ordered, rows, strict=True)):
            day = row["day"]
            overlaps, latest_end, latest_id = found[i]
            if overlaps:
                out[i] = self._reject(p.row, p.record_id, p.volunteer_id, p.activity.id, day,
                                      [overlap_reason(p.record_id, p.start, latest_id,
                                                      latest_end, self.lang)], as_of)
                continue
            reason = early[i]
            if reason is not None:
                out[i] = self._reject(p.row, p.record_id, p.volunteer_id, p.activity.id, day,
                                      [reason], as_of)
                continue
            counted, cuts = _cut(row["counted0"], (
                ("CAP_HOURS_DAY", row["ld"], hours[i][1][0]),
                ("CAP_HOURS_MONTH", row["lm"], hours[i][1][1])))
            try:
                mask, units0, env = self._points_of(p, day, counted, as_of)
                row["pd"] = self._cap_limit(p, caps.points_per_day, "CAP_POINTS_DAY",
                                            self.scale, day)
                row["pm"] = self._cap_limit(p, caps.points_per_month, "CAP_POINTS_MONTH",
                                            self.scale, day)
            except _Unscorable as e:
                if row["acc"]:
                    return i  # it counted for the records after it: run again without it
                out[i] = self._reject(p.row, p.record_id, p.volunteer_id, p.activity.id, day,
                                      [e.reason], as_of)
                continue
            if not row["acc"]:  # pragma: no cover - excluded, so unscorable just as before
                raise AssertionError(f"row {p.row}: excluded, yet scorable")
            traces[i] = (counted, cuts, mask, units0, env)
        for i, row in enumerate(rows):
            row["amount"] = traces[i][3] if i in traces else 0
            row.setdefault("pd", None)
            row.setdefault("pm", None)
        points = cap_scan_rows(_POINT_CAPS, rows)
        scored_lots: list[list[Any]] = []
        for i, (counted, hour_cuts, mask, units0, env) in traces.items():
            p, row = ordered[i], rows[i]
            act, day = p.activity, row["day"]
            units, point_cuts = _cut(units0, (
                ("CAP_POINTS_DAY", row["pd"], points[i][1][0]),
                ("CAP_POINTS_MONTH", row["pm"], points[i][1][1])))
            reasons = self.scored_reasons(Trace(
                act, day, row["micros"], row["service"], row["max_hours"], row["counted0"],
                hour_cuts, counted, mask, units0, point_cuts), env)
            expires = None
            if rules.point_expiry_months is not None and units > 0:
                expires = add_months(p.end.date(), rules.point_expiry_months)
            out[i] = ActivityDecision(p.row, p.record_id, p.volunteer_id, act.id, day, SCORED,
                                      row["service"] / 60, counted / 60, units / self.scale,
                                      expires, tuple(reasons), tuple(p.params), self.ref,
                                      as_of, units, lang)
            if units > 0:
                scored_lots.append([p.end.date(), p.record_id, units, expires])
        return [d for d in out if d is not None], scored_lots

    def _param(self, p: _Pending, path: str, value: DatedValue, day: dt.date) -> float:
        try:
            v, since = value.at(day)
        except NotInForce as e:
            raise _Unscorable(Reason(
                "PARAMETER_NOT_IN_FORCE", path,
                f"record {p.record_id}: {path} has no value in force on {day} (its first "
                f"value starts {e.first})", {"date": day}, e.first)) from None
        p.params.append(ParameterUse(path, v, since))
        return v

    def _points_of(self, p: _Pending, day: dt.date, counted: int, as_of: dt.date
                   ) -> tuple[int, int, dict[str, Any] | None]:
        """The multiplier mask, the points in units before the point caps (the exact
        product of the written numbers, rounded half up once) and the values the
        multipliers read; raises ``_Unscorable``."""
        rules, act = self.rules, p.activity
        base = f"volunteer.activities.{act.id}"
        per = act.per_event if act.per_event is not None else act.per_hour
        assert per is not None
        self._param(p, f"{base}.points_per_{'event' if act.per_event else 'hour'}", per, day)
        if act.category:
            self._param(p, f"volunteer.categories.{act.category}.coefficient",
                        self.rules.categories[act.category].coefficient, day)
        mask, env = self._multiplier(p, day, counted, as_of)
        exact = self.exact_points(act, day, mask, counted)
        units0 = half_up(exact * self.scale) if exact > 0 else 0
        if units0 > MAX_UNITS:  # nothing was counted against the caps yet
            raise _Unscorable(Reason(
                "OUT_OF_RANGE", f"{base}.points_per_{'event' if act.per_event else 'hour'}",
                f"record {p.record_id}: activity {act.id!r} would earn {float(exact):g} "
                f"points, more than the {most_points(rules.points_decimals)} points one "
                f"record can hold with points_decimals = {rules.points_decimals}",
                {"counted_hours": counted / 60}, MAX_UNITS / self.scale))
        return mask, units0, env

    def scored_reasons(self, t: Trace, env: Mapping[str, Any] | None = None
                       ) -> list[Reason]:
        """The reasons of a scored record, in order, each message rendered from the
        policy's templates (``words``: the batch engine renders the same ones
        over its frame) over this record's trace; ``env``, the values the multipliers
        read, only fills the reasons' ``facts``."""
        act, day = t.activity, t.day
        month = month_text(day)
        out = self.reason_rounding(t.micros, t.service)
        if t.max_hours is not None:
            out += self.reason_max_hours(act.id, t.max_hours, t.service)
        out += [self._cut_reason(c, 60, "counted hours", day, month) for c in t.hour_cuts]
        out += self.reason_rate(act.id, day, t.counted)
        if act.category:
            out += self.reason_coefficient(act.id, day)
        out += self.reason_multipliers(day, t.mask, env)
        out += self.reason_rounding_points(self.exact_points(act, day, t.mask, t.counted),
                                           t.units0)
        out += [self._cut_reason(c, self.scale, "points", day, month) for c in t.point_cuts]
        return out

    def reason_rounding(self, micros: int, service: int) -> list[Reason]:
        rules = self.rules
        unit = rules.rounding_minutes
        words = self.words.rounding
        if words is None or service * 60_000_000 == micros:
            return []
        raw_minutes = micros / 60_000_000
        return [Reason("ROUNDING", "volunteer.rounding_minutes",
                       words.render({"raw_minutes": raw_minutes, "service": service}),
                       {"minutes": raw_minutes}, unit)]

    def reason_max_hours(self, activity: str, limit: int, service: int) -> list[Reason]:
        act = self.activities[activity]
        all_words = self.words  # the run's language, resolved once
        words = all_words.max_hours[all_words.max_items[act.id]]
        return [Reason("MAX_HOURS", f"volunteer.activities.{act.id}.max_hours",
                       words.render({"max_h": limit / 60, "service_h": service / 60}),
                       {"hours": service / 60}, limit / 60,
                       f"-{(service - limit) / 60:g} h")]

    def reason_rate(self, activity: str, day: dt.date, counted: int) -> list[Reason]:
        act = self.activities[activity]
        base = f"volunteer.activities.{act.id}"
        per = act.per_event if act.per_event is not None else act.per_hour
        assert per is not None
        rate = per.value_at(day)
        all_words = self.words
        words = all_words.rate[all_words.rate_items[(act.id, version(per, day))]]
        if act.per_event is not None:
            return [Reason("RATE", f"{base}.points_per_event", words.render({}), {}, rate,
                           f"+{rate:g}")]
        base_points = float(written(rate) * counted / 60)
        return [Reason("RATE", f"{base}.points_per_hour",
                       words.render({"counted_h": counted / 60, "base_points": base_points}),
                       {"counted_hours": counted / 60}, rate, f"+{base_points:g}")]

    def reason_coefficient(self, activity: str, day: dt.date) -> list[Reason]:
        act = self.activities[activity]
        if not act.category:
            return []
        value = self.rules.categories[act.category].coefficient
        coef = value.value_at(day)
        if coef == 1:
            return []
        all_words = self.words
        words = all_words.coefficient[all_words.coef_items[(act.category,
                                                            version(value, day))]]
        return [Reason("COEFFICIENT", f"volunteer.categories.{act.category}.coefficient",
                       words.render({}), {"category": act.category}, coef, f"x{coef:g}")]

    def reason_multipliers(self, day: dt.date, mask: int,
                           env: Mapping[str, Any] | None = None) -> list[Reason]:
        out = []
        multipliers = self.words.multipliers  # the run's language, resolved once
        for i, m, f in self.chosen_factors_at(day, mask):  # only the factors that count
            words = multipliers[i][version(m.factor, day)]
            out.append(Reason("MULTIPLIER", f"volunteer.multipliers.{m.id}", words.render({}),
                              m.when.values_read(env) if env is not None else {}, f,
                              f"x{f:g}"))
        return out

    def reason_rounding_points(self, exact: Fraction, units0: int) -> list[Reason]:
        if not exact > 0 or (exact * self.scale).denominator == 1:
            return []
        points = float(exact)
        return [Reason("ROUNDING_POINTS", "volunteer.points_decimals",
                       self.words.rounding_points.render(
                           {"rp_points": points, "rp_units": units0 / self.scale}),
                       {"points": points}, self.rules.points_decimals)]

    def _cut_reason(self, cut: Cut, scale: int, noun: str, day: dt.date, month: str
                    ) -> Reason:
        code, limit, left, amount = cut
        name = next(c[0] for c in CAPS if c[1] == code)
        return Reason(code, f"volunteer.caps.{code_to_key(code)}", self.words.caps[name].render(
            {f"{name}_left": left / scale, f"{name}_limit": limit / scale,
             f"{name}_amount": amount / scale, "day": day, "month": month}),
            {noun: amount / scale}, limit / scale, f"-{(amount - left) / scale:g}")

    # -- the exact points, shared by both engines ---------------------------------------
    def chosen_factors(self, day: dt.date, mask: int) -> list[tuple[_Multiplier, float]]:
        """The multipliers that count, given the ``mask`` of those that apply (bit i:
        multiplier i holds and has a factor in force): the largest (the first of equal
        ones) under ``max``, all of them under ``product``."""
        return [(m, f) for _, m, f in self.chosen_factors_at(day, mask)]

    def chosen_factors_at(self, day: dt.date, mask: int
                          ) -> list[tuple[int, _Multiplier, float]]:
        """``chosen_factors`` with each multiplier's position."""
        applied = [(i, m, m.factor.value_at(day)) for i, m in enumerate(self.multipliers)
                   if mask >> i & 1]
        if not applied or self.rules.multiplier_rule != "max":
            return applied
        return [max(applied, key=lambda a: a[2])]

    def exact_rate(self, act: _Activity, day: dt.date, mask: int) -> Fraction:
        """rate x coefficient x multiplier(s) in force on ``day``, exactly, as written."""
        per = act.per_event if act.per_event is not None else act.per_hour
        assert per is not None
        total = written(per.value_at(day))
        if act.category:
            total *= written(self.rules.categories[act.category].coefficient.value_at(day))
        for _, f in self.chosen_factors(day, mask):
            total *= written(f)
        return total

    def exact_points(self, act: _Activity, day: dt.date, mask: int, counted: int) -> Fraction:
        """The points of a record before rounding: ``exact_rate`` per event, or times the
        counted hours (``counted`` minutes / 60) -- an exact rational."""
        total = self.exact_rate(act, day, mask)
        return total if act.per_event is not None else total * counted / 60

    def _multiplier(self, p: _Pending, day: dt.date, counted: int, as_of: dt.date
                    ) -> tuple[int, dict[str, Any] | None]:
        """The mask of the multipliers that apply (see ``chosen_factors``), and the values
        their conditions read."""
        if not self.multipliers:
            return 0, None
        env = dict(p.facts)
        env.update(activity=p.activity.id, category=p.activity.category, date=day,
                   hours=counted / 60, as_of=as_of)
        mask = 0
        for i, m in enumerate(self.multipliers):
            try:
                holds = m.when(env)
            except (ArithmeticError, ValueError) as e:
                raise _Unscorable(Reason(
                    "EXPR_ERROR", f"volunteer.multipliers.{m.id}", rw.say(
                        "multiplier_error", self.lang, id=p.record_id, rule=m.id,
                        text=m.when.text, error=rw.evaluation_error(e, self.lang)),
                    m.when.values_read(env))) from None
            if holds:
                try:
                    m.factor.value_at(day)
                except NotInForce:
                    self._param(p, f"volunteer.multipliers.{m.id}.factor", m.factor, day)
                mask |= 1 << i
        for m, _ in self.chosen_factors(day, mask):  # only the factors that count
            self._param(p, f"volunteer.multipliers.{m.id}.factor", m.factor, day)
        return mask, env

    # -- step 5: redemptions and statements -----------------------------------------------
    def _redeem(self, redemptions: Iterable[Mapping[str, Any]], as_of: dt.date,
                lots: dict[str, list[list[Any]]], rows: Iterable[int] | None = None
                ) -> list[RedemptionDecision]:
        """Every redemption, oldest first against ``lots`` (consumed in place). ``rows``
        are the redemptions' numbers in their whole input (by default 1, 2, ...): a part
        of a split input (``civicscore.spark``) keeps the rows and the ``row N`` names of
        the whole."""
        parsed: list[tuple[dt.date, str, int, str, int, Mapping[str, Any]]] = []
        out: list[RedemptionDecision] = []
        numbered = enumerate(redemptions, start=1) if rows is None \
            else zip(rows, redemptions, strict=True)
        for row, rec in numbered:
            reasons: list[Reason] = []
            rid = vid = ""
            day = None
            units = 0
            try:
                if isinstance(rec, UnreadableRow):
                    raise RecordError(f"row {row}", "*", rec.message, code="UNREADABLE_ROW")
                if not isinstance(rec, Mapping):
                    raise refused(f"row {row}", "*", "not_a_record", "UNREADABLE_ROW")
                raw_id = rec.get("redemption_id")
                rid = (f"row {row}" if is_missing(raw_id)
                       else to_id(raw_id, f"row {row}", "redemption_id"))
                vid = to_id(rec.get("volunteer_id"), rid, "volunteer_id") if not is_missing(
                    rec.get("volunteer_id")) else ""
                if not vid:
                    raise refused(rid, "volunteer_id", "required", "MISSING_FIELD")
                if is_missing(rec.get("date")):
                    raise refused(rid, "date", "required", "MISSING_FIELD")
                day = to_date(rec.get("date"), rid, "date")
                if is_missing(rec.get("points")):
                    raise refused(rid, "points", "required", "MISSING_FIELD")
                amount = to_decimal(rec.get("points"), rid, "points")
                if abs(amount) > 2 * MAX_UNITS / self.scale:  # surely out of range
                    units = MAX_UNITS + 1
                else:
                    units = scaled_units(amount, self.scale)
                if units > MAX_UNITS:
                    pd = self.rules.points_decimals
                    raise RecordError(rid, "points", f"{amount!r} points is more than the "
                                      f"{most_points(pd)} points the policy can represent "
                                      f"with points_decimals = {pd}", code="OUT_OF_RANGE",
                                      message_zh=f"{amount!r} 分超出本政策在 points_decimals "
                                                 f"= {pd} 下能表示的 {most_points(pd)} 分")
                if units <= 0:
                    raise RecordError(rid, "points", f"must be more than 0, got {amount:g}",
                                      code="OUT_OF_RANGE",
                                      message_zh=f"须大于 0，实际为 {amount:g}")
            except RecordError as e:
                reasons.append(Reason(e.code, f"redemption.{e.field}", e.text(self.lang)))
            if not reasons and day is not None and day > as_of:
                reasons.append(Reason("AFTER_AS_OF", "redemption.date",
                                      f"兑换 {rid} 的日期为 {day}，晚于评定日期 {as_of}"
                                      if self.lang == "zh" else
                                      f"redemption {rid} is dated {day}, after the as-of date "
                                      f"{as_of}", {"date": day}, as_of))
            if reasons or day is None:
                if units > MAX_UNITS:
                    units = 0
                out.append(RedemptionDecision(row, rid, vid, day, units / self.scale, REJECTED,
                                              tuple(reasons), units))
            else:
                parsed.append((day, rid, row, vid, units, rec))
        lang = self.lang
        for day, rid, row, vid, units, _ in sorted(parsed, key=lambda t: (t[0], t[1])):
            available = [lot for lot in sorted(lots.get(vid, []), key=lambda lot: (lot[0], lot[1]))
                         if lot[0] <= day and (lot[3] is None or lot[3] > day) and lot[2] > 0]
            have = sum(lot[2] for lot in available)
            if units > have:
                asked, had = f"{units / self.scale:g}", f"{have / self.scale:g}"
                out.append(RedemptionDecision(row, rid, vid, day, units / self.scale, REJECTED, (
                    Reason("INSUFFICIENT_BALANCE", "volunteer.redemption",
                           f"兑换 {rid} 于 {day} 申请 {asked} 分；当时未过期的积分只有 {had} 分"
                           if lang == "zh" else
                           f"redemption {rid} asks for {asked} points on {day}; "
                           f"only {had} unexpired points were available",
                           {"points": units / self.scale}, have / self.scale),), units))
                continue
            left = units
            for lot in available:  # oldest first
                take = min(lot[2], left)
                lot[2] -= take
                left -= take
                if left == 0:
                    break
            spent = f"{units / self.scale:g}"
            out.append(RedemptionDecision(row, rid, vid, day, units / self.scale, APPLIED, (
                Reason("REDEEMED", "volunteer.redemption",
                       f"{day} 兑换 {spent} 分，先用最早获得的积分" if lang == "zh" else
                       f"{spent} points redeemed on {day}, oldest points first",
                       {}, None, f"-{spent}"),), units))
        out.sort(key=lambda r: r.row)
        return out

    def _statements(self, decisions: Sequence[ActivityDecision],
                    redemptions: Sequence[RedemptionDecision],
                    lots: Mapping[str, list[list[Any]]], as_of: dt.date) -> dict[str, Statement]:
        earned: dict[str, int] = defaultdict(int)
        minutes: dict[str, float] = defaultdict(float)
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for d in decisions:
            if not d.volunteer_id:
                continue
            counts[d.volunteer_id][1 if d.rejected else 0] += 1
            if not d.rejected:
                earned[d.volunteer_id] += d.point_units
                hours = d.counted_hours if self.rules.star_hours == "counted" else d.service_hours
                minutes[d.volunteer_id] += hours * 60
        redeemed: dict[str, int] = defaultdict(int)
        for r in redemptions:
            if r.status == APPLIED:
                redeemed[r.volunteer_id] += r.point_units
        volunteers = sorted(set(counts) | {r.volunteer_id for r in redemptions if r.volunteer_id})
        out: dict[str, Statement] = {}
        for vid in volunteers:
            expired = sum(lot[2] for lot in lots.get(vid, [])
                          if lot[3] is not None and lot[3] <= as_of)
            out[vid] = self.statement(vid, as_of, earned[vid], expired, redeemed[vid],
                                      minutes[vid], counts[vid][0], counts[vid][1])
        return out

    def statement(self, vid: str, as_of: dt.date, e: int, x: int, r: int, minutes: float,
                  scored: int, rejected: int) -> Statement:
        """One statement from its totals (point units earned, expired, redeemed; minutes of
        service counted for stars); shared with the batch evaluator."""
        hours = statement_hours(minutes)
        at = sum(1 for s in self.stars if hours >= s.hours)  # the stars are sorted by hours
        level = self.stars[at - 1] if at else None
        nxt = self.stars[at].hours if at < len(self.stars) else None
        words = self.statement_words
        reasons: list[Reason] = []
        if level is not None:
            reasons.append(Reason("STAR_LEVEL", f"volunteer.star_levels.{level.stars}",
                                  words.star[at - 1].render({"hours": hours}),
                                  {"hours": hours}, level.hours))
        if nxt is not None:
            reasons.append(Reason("NEXT_STAR", "volunteer.star_levels",
                                  words.next_star[at].render({"to_next": nxt - hours}),
                                  {"hours": hours}, nxt))
        if x:
            reasons.append(Reason("EXPIRED", "volunteer.point_expiry_months",
                                  words.expired.render({"expired": x / self.scale}), {},
                                  self.rules.point_expiry_months, f"-{x / self.scale:g}"))
        return Statement(vid, as_of, e / self.scale, x / self.scale, r / self.scale,
                         (e - x - r) / self.scale, hours,
                         level.stars if level else 0,
                         _label(level, f"{level.stars} stars") if level else "",
                         scored, rejected, nxt, tuple(reasons), self.ref, self.lang)


def overlap_reason(record_id: str, start: dt.datetime, latest_id: str,
                   latest_end: dt.datetime, lang: str = "en") -> Reason:
    """Why a record overlapping an earlier scored one is rejected (shared with batch)."""
    return Reason("OVERLAP", "volunteer.overlap",
                  f"记录 {record_id} 开始于 {start}，早于同一志愿者的记录 {latest_id} 的结束时间"
                  f"（{latest_end}）" if lang == "zh" else
                  f"record {record_id} starts at {start}, before record "
                  f"{latest_id} of the same volunteer ends ({latest_end})",
                  {"start": start, "overlaps": latest_id})


def code_to_key(code: str) -> str:
    """CAP_HOURS_DAY -> hours_per_day (the key in [volunteer.caps])."""
    _, what, period = code.lower().split("_")
    return f"{what}_per_{period}"


# --- compile ---------------------------------------------------------------------------


def _dated_values(v: DatedValue | None) -> tuple[float, ...]:
    return () if v is None else v.values


def _most(values: Iterable[float], start: float = 0.0) -> float:
    return max((float(v) for v in values), default=start)


def check_bounds(ctx: CompileContext, rules: Volunteer, activities: Mapping[str, _Activity]
                 ) -> None:
    """Refuse numbers no record can be scored with: amounts beyond ``MAX_UNITS``, and
    decimals too many to multiply exactly (``MAX_DECIMALS``), each at its key with a fix.

    What one record can earn is bounded by its rate x coefficient x the largest multiplier
    effect (the largest factor under ``max``; the product of every factor above 1 under
    ``product``) x the hours it can count (``max_hours`` and the hour caps; one hour when
    nothing limits them: a longer record beyond the bound is rejected on its own).
    """
    root: KeyPath = ("volunteer",)
    scale = 10 ** rules.points_decimals
    limit = most_points(rules.points_decimals)
    fix_decimals = "use fewer points_decimals"
    for key, per in (("hours_per_day", 60), ("hours_per_month", 60),
                     ("points_per_day", scale), ("points_per_month", scale)):
        cap = getattr(rules.caps, key)
        if cap is not None and any(scaled_units(v, per) > MAX_UNITS for v in cap.values):
            most = (f"{most_points(rules.points_decimals)} points" if per == scale
                    else f"{MAX_UNITS // 60} hours")
            ctx.report(root + ("caps", key), f"{key} is more than the {most} a cap can hold"
                       + (f" with points_decimals = {rules.points_decimals}"
                          if per == scale else ""),
                       "lower the cap, or remove it"
                       + (f", or {fix_decimals}" if per == scale else ""))
    factors = [m.factor.values for m in rules.multipliers]
    if rules.multiplier_rule == "max":
        effect = max([1.0, *(_most(f) for f in factors)])
        factor_decimals = max([0, *(decimals_of(v) for f in factors for v in f)])
    else:
        effect = 1.0
        for f in factors:
            effect *= max(1.0, _most(f))
        factor_decimals = sum(max(decimals_of(v) for v in f) for f in factors)
    if effect * scale > MAX_UNITS:
        ctx.report(root + ("multipliers",), f"the multiplier factors can multiply points by "
                   f"{effect:g}, more than the {limit:g} points one record can hold with "
                   f"points_decimals = {rules.points_decimals}",
                   "lower the factors" + (', or use multiplier_rule = "max"'
                                          if rules.multiplier_rule == "product" else "")
                   + f", or {fix_decimals}", value=False)
        return
    hour_caps = [rules.caps.hours_per_day, rules.caps.hours_per_month]
    for aid, a in activities.items():
        per = a.per_event if a.per_event is not None else a.per_hour
        assert per is not None
        key = "points_per_event" if a.per_event is not None else "points_per_hour"
        path = root + ("activities", aid, key)
        coef = (rules.categories[a.category].coefficient.values if a.category else (1.0,))
        places = (max(decimals_of(v) for v in per.values)
                  + max(decimals_of(v) for v in coef) + factor_decimals)
        if places > MAX_DECIMALS:
            ctx.report(path, f"the rate, category coefficient and multiplier factors of "
                             f"activity {aid!r} have {places} decimals together; at most "
                             f"{MAX_DECIMALS} can be multiplied exactly",
                       "write these numbers with fewer decimals", value=False)
            continue
        peak = written(_most(per.values)) * written(_most(coef)) * Fraction(effect)
        what = "per event"
        if a.per_event is None:
            bounds = [written(_most(c.values)) for c in ([a.max_hours] if a.max_hours else [])
                      + [c for c in hour_caps if c is not None]]
            # at least a minute: that keeps the batch engine's integers in range too
            hours = max(min(bounds), Fraction(1, 60)) if bounds else Fraction(1)
            peak *= hours
            what = f"for {float(hours):g} hours" if bounds else "per hour"
        if peak * scale > MAX_UNITS:
            ctx.report(path, f"activity {aid!r} can earn up to {float(peak):g} points {what} "
                             f"(rate x coefficient x multipliers), more than the {limit:g} "
                             f"points one record can hold with points_decimals = "
                             f"{rules.points_decimals}",
                       f"lower the rate, the coefficient or the factors, limit the hours "
                       f"(max_hours, hour caps), or {fix_decimals}", value=False)


def compile_volunteer(ctx: CompileContext) -> VolunteerScheme:
    """Check the [volunteer] section against the rest of the policy and compile it."""
    rules = ctx.section("volunteer", Volunteer)
    assert rules is not None
    root: KeyPath = ("volunteer",)
    for cid, cat in rules.categories.items():
        if any(v < 0 for v in cat.coefficient.values):
            ctx.report(root + ("categories", cid, "coefficient"),
                       ("a coefficient cannot be negative", "类别系数不能为负数"))
    activities: dict[str, _Activity] = {}
    for aid, a in rules.activities.items():
        path = root + ("activities", aid)
        if (a.points_per_hour is None) == (a.points_per_event is None):
            ctx.report(path, (f"activity {aid!r} needs exactly one of points_per_hour and "
                              f"points_per_event",
                              f"活动 {aid!r} 需要且只能有 points_per_hour（按小时）和 "
                              f"points_per_event（按次）中的一个"), value=False)
            continue
        for key in ("points_per_hour", "points_per_event", "max_hours"):
            if any(v < 0 for v in _dated_values(getattr(a, key))):
                ctx.report(path + (key,), (f"{key} cannot be negative", f"{key} 不能为负数"))
        if a.category is not None and a.category not in rules.categories:
            ctx.report(path + ("category",), (f"unknown category {a.category!r}",
                                              f"未知的活动类别 {a.category!r}"),
                       did_you_mean_both(a.category, rules.categories, (
                           "declare it under [volunteer.categories." + a.category + "]",
                           "请在 [volunteer.categories." + a.category + "] 中声明它")))
            continue
        activities[aid] = _Activity(aid, a.label or aid, a.category or "", a.points_per_hour,
                                    a.points_per_event, a.max_hours)
    for key in ("hours_per_day", "points_per_day", "hours_per_month", "points_per_month"):
        if any(v < 0 for v in _dated_values(getattr(rules.caps, key))):
            ctx.report(root + ("caps", key), (f"{key} cannot be negative", f"{key} 不能为负数"))
    previous = None
    for i, s in enumerate(rules.star_levels):
        if previous is not None and (s.hours <= previous.hours or s.stars <= previous.stars):
            ctx.report(root + ("star_levels", i), ("star levels must be listed with increasing "
                                                   "stars and hours",
                                                   "星级须按星数和时数从小到大排列"), value=False)
        previous = s
    activity_facts = ctx.model.facts.get("activity", {})
    for name in activity_facts:
        if name in BUILTIN_NAMES:
            ctx.report(("facts", "activity", name), (f"fact name {name!r} is reserved in "
                                                     f"volunteer expressions",
                                                     f"事实名 {name!r} 在志愿积分表达式中"
                                                     f"是保留的名称"),
                       ("rename the fact", "请给这个事实改名"), value=False)
    extra = {
        "activity": Fact(Type.STRING, tuple(rules.activities)),
        "category": Fact(Type.STRING, (*rules.categories, "")),
        "date": Fact(Type.DATE),
        "hours": Fact(Type.DECIMAL),
    }
    multipliers: list[_Multiplier] = []
    seen: set[str] = set()
    for i, m in enumerate(rules.multipliers):
        path = root + ("multipliers", i)
        if m.id in seen:
            ctx.report(path + ("id",), (f"multiplier id {m.id!r} is used twice",
                                        f"加分系数编号 {m.id!r} 用了两次"))
        seen.add(m.id)
        if any(v <= 0 for v in m.factor.values):
            ctx.report(path + ("factor",), ("a multiplier factor must be more than 0",
                                            "加分系数必须大于 0"))
        scope = ctx.scope("activity", f"multiplier {m.id!r}", extra)
        expr = ctx.expression(path + ("when",), m.when, scope, Type.BOOL)
        if expr is not None:
            multipliers.append(_Multiplier(m.id, m.label or m.id, expr, m.factor))
            ctx.warn_never(path + ("when",), f"multiplier {m.id!r}", f"倍数 {m.id!r} ", expr,
                           "activity", {"date": Type.DATE, "hours": Type.DECIMAL})
    check_bounds(ctx, rules, activities)
    # care needs are refused in every rule (care.outside_care) and never read from records
    read = {name: spec for name, spec in activity_facts.items() if not spec.care_need}
    return VolunteerScheme(ctx.model, rules, ctx.ref, activities, multipliers, read,
                           ctx.functions)
