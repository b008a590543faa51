"""Care visits: how often a community care liaison looks in on a household.

This is care allocation, not surveillance. A household's tier, and so how
often someone comes by, follows from its care NEEDS only: tier and trigger
conditions may read only the facts declared ``care_need = true`` (plus
``as_of`` and ``last_visit``). Reading any other fact of the household is
refused when the policy is loaded, and a fact marked as a care need whose
name or label denotes the result of another scheme (stars, civility titles,
points, credit scores, grades, ...) is refused too: one scheme's result must
not change how often a household is visited.

How one household is decided (the order is part of the meaning; each step
leaves a reason):

1. The record is checked on its own: ``household_id`` present and not seen
   before, ``liaison_id`` text if given, ``last_visit`` a date if given and not
   after the as-of date, and every declared fact of the entity coerced (a
   record is one household, so a malformed fact that only civility reads
   still makes the record unusable here). A failing record is *rejected*
   with every reason found; it is never dropped.
2. The tier, by ``hit_policy`` (DMN's seven, stated once in ``plan.hit``; the
   tiers are a decision table whose output is the cadence, see ``hits``):
   ``first``: the first tier, in policy order, whose ``when`` holds;
   ``priority``: the highest ``priority`` among the tiers whose ``when`` holds;
   ``unique``: at most one tier's ``when`` may hold; two or more reject the
   record (``UNIQUE_VIOLATION``, naming them all), because the policy does not
   say which should win;
   ``any``: every tier whose ``when`` holds must have the same cadence, and the
   first of them in policy order is named; different cadences reject the record
   (``ANY_VIOLATION``, naming the tiers and their cadences), for the same reason;
   ``rule order`` / ``output order``: every matching tier is listed, in policy
   order / by ``priority`` (highest first), and the household is placed in the
   first of the list (so ``rule order`` places it as ``first`` does, but its
   reason names every tier that matched);
   ``collect`` with ``aggregation = "max"``: the matching tier that visits most
   often (the most care any matching tier calls for: the shortest cadence, months
   counted as 30.44 days; on a tie the earlier tier); ``"min"``: the one that
   visits least often. ``collect`` without an aggregation (a list), or with
   ``sum`` or ``count`` (a number that is no cadence), is refused at load.
   When no condition holds, the default tier applies (it has no ``when``): DMN's
   default output. Under every policy but ``first`` and ``unique`` the tier's
   reason says which policy chose it among which matching tiers.
3. The next due date: the last visit plus the tier's cadence (months by the
   calendar, the day clipped to the month's end, then days); a household never
   visited is due on the as-of date. Each trigger whose ``when`` holds and
   whose event date is known, on or before the as-of date and after the last
   visit (or there was none) makes a visit due ``within_days`` after the event.
   The next due date is the earliest of these, so a trigger can only bring a
   visit forward, never push it back. A household is overdue when its next
   due date is before the as-of date.
4. Caseload per liaison (households without one are grouped as
   ``(unassigned)``): households, visits owed per month, overdue households,
   and a ``CAPACITY_EXCEEDED`` warning when either number is above
   ``[visits.capacity]``. A household that a trigger brought forward owes one
   visit more, besides its tier's (``trigger_visits``; counted whole, on the
   side of caution: the visit may stand in for a regular one), so a care event
   is never load the caseload does not show. Visits owed are exact decimals: a cadence of ``n``
   months owes ``1/n`` a month, one of ``d`` days ``30.44/d`` (``30.44`` as
   written, a decimal), one of ``n`` months and ``d`` days
   ``30.44/(30.44 n + d)``. These rates are kept as exact fractions (no
   precision is lost: ``1/3`` stays a third), the caseload is the exact sum of
   households times rate, and that sum is rounded once, ROUND_HALF_UP, to one
   decimal place (``0.75`` -> ``0.8``, ``114.15`` -> ``114.2``). The result is
   what Python's ``decimal`` gives for the same sum put over one denominator;
   both evaluators total their decisions by the same frame op
   (``caseload_groups``, a ``plan.frame.GroupCount``) into the same totals and
   make the rows with the same function (``caseloads``), so they agree exactly.

At load time, besides the checks on ids, references and cadences, a tier
that can never be chosen under ``hit_policy = "first"`` because one earlier
tier already takes every household it matches, and a tier whose own
condition cannot hold, are reported as warnings. Only ``first`` has shadowed
tiers: under the other policies a tier every household of which an earlier
tier also matches is still chosen (by priority, by cadence under ``collect``)
or still listed (``rule order``), so nothing is said of it. The analysis is exact for
conditions that are conjunctions of single-fact constraints (``age >= 80 and
lives_alone``, ``70 <= age < 80``, ``kind in ["a", "b"]``); for anything else
it says nothing rather than guess.
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from fractions import Fraction
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from ... import record_words as rw
from ..._suggest import did_you_mean_both, one_of
from ...errors import RecordError
from ...expr import Expression, Fact, FunctionTable, Scope, Type
from ...expr.analysis import (
    Box,
    BoxIndex,
    Values,
    analyse_condition,
    analyse_region,
    covered,
    domain_of,
    meets,
)
from ...expr.ir import Const, Name, walk
from ...messages import reasons_language, say
from ...plan.frame import GroupCount, RatedSum, group_count_rows
from ...plan.hit import hit_steps
from ...plan.ops import (
    AddPeriod,
    All,
    AnyOf,
    Codes,
    Expr,
    Failed,
    FirstTrue,
    IfElse,
    Input,
    IsNull,
    Least,
    Let,
    Lit,
    Not,
    Operand,
    Pick,
    Plan,
    Ref,
)
from ...plan.ops import Compare as Cmp
from ...plan.python import compile_plan, compile_reader
from ...plan.words import both_labels
from ...policy import care
from ...policy.compile import FACT_TYPES, CompileContext, ensure_in_effect
from ...policy.load import KeyPath
from ...policy.model import FactSpec, PolicyModel, Visits
from ...records import (
    NEVER,
    REQUIRED,
    coerce_fact,
    coerce_facts,
    is_missing,
    ready_of,
    to_date,
    to_id,
    unreadable_reason,
)
from ...results import PolicyRef, Reason, to_jsonable
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
from .hits import NOTED, RANKED, check_hit_policy, tier_table
from .words import VisitsWords, visits_words

SCORED = "scored"
REJECTED = "rejected"
UNASSIGNED = "(unassigned)"

#: Average days in a month, for comparing cadences and counting visits owed per month.
DAYS_PER_MONTH = 30.44
#: The same, exactly as written: visits owed per month are computed with this.
DAYS_PER_MONTH_EXACT = Fraction(3044, 100)
#: Decimal places of a caseload's visits owed per month (rounded ROUND_HALF_UP).
CASELOAD_PLACES = 1

#: Names every tier and trigger expression may read besides the care-need facts.
BUILTIN_NAMES = ("as_of", "last_visit")

#: Words that denote the result of another scheme. A fact marked ``care_need = true``
#: whose name or label contains one is refused: one scheme's result must not change
#: how often a household is visited. English words match whole words of the name
#: (``star_level``, ``creditScore``) or label; Chinese ones match anywhere.
SCHEME_RESULT_WORDS = (
    "star", "stars", "star level", "civility", "civilised", "civilized", "point",
    "points", "balance", "credit score", "credit rating", "title", "grade",
)
SCHEME_RESULT_WORDS_ZH = ("星级", "文明", "积分", "信用", "评分", "等次")

CADENCE_WORDS = {
    "daily": "P1D", "weekly": "P7D", "fortnightly": "P14D", "monthly": "P1M",
    "bimonthly": "P2M", "quarterly": "P3M", "half-yearly": "P6M", "yearly": "P1Y",
}
_ISO = re.compile(r"P(?:\d+[YMWD])+")
_ISO_PART = re.compile(r"(\d+)([YMWD])")


# --- cadences ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cadence:
    """How often to visit: whole calendar months plus days, as written in the policy."""

    text: str
    months: int
    days: int

    @property
    def approx_days(self) -> float:
        """Length in days, months counted as 30.44 days (for comparisons only)."""
        return self.months * DAYS_PER_MONTH + self.days

    @property
    def visits_per_month(self) -> float:
        """Visits owed per month by one household (the nearest float of the exact rate)."""
        return float(self.visits_per_month_exact)

    @property
    def visits_per_month_exact(self) -> Fraction:
        """Visits owed per month, exactly: ``1/n`` for ``n`` months, ``30.44/d`` for ``d``
        days, ``30.44/(30.44 n + d)`` for both (30.44 the decimal as written)."""
        if self.days == 0:
            return Fraction(1, self.months)
        return DAYS_PER_MONTH_EXACT / (self.months * DAYS_PER_MONTH_EXACT + self.days)

    def after(self, day: dt.date) -> dt.date:
        """``day`` plus this cadence; past the last representable date, that date."""
        try:
            day = add_months(day, self.months)
            return day + dt.timedelta(days=self.days) if self.days else day
        except (OverflowError, ValueError):
            return dt.date.max

    def describe(self, lang: str = "en") -> str:
        """Plain words: 'every week', 'every 10 days', 'every 2 months', 'every year';
        with ``lang="zh"``: 每周, 每 10 天, 每 2 个月, 每年, 每 1 个月零 14 天."""
        m, d = self.months, self.days
        if lang == "zh":
            return "每" + _zh_period(m, d)
        if d == 0 and m % 12 == 0:
            return "every year" if m == 12 else f"every {m // 12} years"
        parts = []
        if m:
            parts.append("month" if m == 1 and not d else f"{m} month" + ("s" if m > 1 else ""))
        if d:
            if not m and d % 7 == 0:
                parts.append("week" if d == 7 else f"{d // 7} weeks")
            else:
                parts.append("day" if d == 1 and not m else f"{d} day" + ("s" if d > 1 else ""))
        return "every " + " and ".join(parts)

    def __str__(self) -> str:
        return self.text


def _zh_period(m: int, d: int) -> str:
    """The period of a cadence after 每: 周, 10 天, 2 个月, 年, 1 个月零 14 天."""
    if d == 0 and m % 12 == 0:
        return "年" if m == 12 else f" {m // 12} 年"
    if not m:
        if d % 7 == 0:
            return "周" if d == 7 else f" {d // 7} 周"
        return "天" if d == 1 else f" {d} 天"
    months = "月" if m == 1 and not d else f" {m} 个月"
    return months + (f"零 {d} 天" if d else "")


def round_caseload(total: Fraction) -> decimal.Decimal:
    """An exact, non-negative number of visits rounded ROUND_HALF_UP to
    ``CASELOAD_PLACES`` decimal places (``Fraction(3, 4)`` -> ``Decimal('0.8')``).

    The rounding of ``caseload_groups`` (a :class:`RatedSum` of one row at that rate),
    done in integers, so no float and no context precision can move a value that is
    exactly half way."""
    units = RatedSum("", ((None, total),), CASELOAD_PLACES).of_counts({None: 1})
    return decimal.Decimal(units).scaleb(-CASELOAD_PLACES)


def parse_cadence(text: str) -> Cadence:
    """``"P1M2W"`` or ``"monthly"`` -> a :class:`Cadence`; ``ValueError`` says what is wrong."""
    iso = CADENCE_WORDS.get(text, text)
    if not _ISO.fullmatch(iso):
        raise ValueError(f"cadence {text!r} is not a period such as P7D or P2M, nor one of "
                         f"{one_of(CADENCE_WORDS)}")
    parts = _ISO_PART.findall(iso, 1)
    order = ["YMWD".index(unit) for _, unit in parts]
    if order != sorted(set(order)):
        raise ValueError(f"cadence {text!r}: write each unit once, in the order "
                         f"years, months, weeks, days (e.g. P1M2W)")
    months = days = 0
    for number, unit in parts:
        if len(number) > 5:
            raise ValueError(f"cadence {text!r}: {number} is too large")
        n = int(number)
        months += {"Y": 12 * n, "M": n}.get(unit, 0)
        days += {"W": 7 * n, "D": n}.get(unit, 0)
    if months == 0 and days == 0:
        raise ValueError(f"cadence {text!r} is zero: a visit could never be due later "
                         f"than the last one")
    return Cadence(text, months, days)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clipped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise OverflowError("date out of range")
    if day.day <= 28:  # every month has these days (and monthrange is slow)
        return dt.date(year, month, day.day)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- results ------------------------------------------------------------------------------


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _both(label: str, label_en: str, fallback: str) -> str:
    """'每周探访 / Weekly visits', or whichever label exists, or the id."""
    return both_labels(label, label_en, fallback, sep=" / ")


class _Pending(tuple[Any, ...]):
    """Reasons not worded yet: ``(codes, scheme, *what scheme._reasons needs)``.

    A decision's reasons carry sentences and the fact values they quote; wording
    them costs more than deciding. Most callers read the codes only, so the
    sentences are made the first time ``reasons`` is read (and then kept). A flat
    tuple, because making one runs no Python code and adds one object per decision.
    """

    __slots__ = ()

    @property
    def codes(self) -> tuple[str, ...]:
        codes: tuple[str, ...] = self[0]
        return codes

    def build(self) -> tuple[Reason, ...]:
        reasons: tuple[Reason, ...] = self[1]._reasons(*self[2:])
        return reasons


#: The first item of a decision's ``reasons`` when the generated reader (``_fast``)
#: decided it: ``(UNREAD, scheme, fast trace)``, a plain tuple (a third of the cost of
#: a :class:`_Pending`, and the common decision's only reasons object). The last visit
#: and the as-of date are the decision's own; the care needs at the end of the fast
#: trace are the ``env``, and the plan is run again over it for the whole trace.
UNREAD: Any = type("Unread", (), {"__repr__": lambda self: "UNREAD", "__slots__": ()})()


def _unread_codes(pending: tuple[Any, ...]) -> tuple[str, ...]:
    codes: tuple[str, ...] = pending[2][4]
    return codes


def reasons_inputs(decision: VisitDecision) -> tuple[Any, ...]:
    """What an unread decision's reasons are worded from: ``(trace, env, last, as_of)``,
    the plan run again over the fast trace's values where the reader decided it."""
    pending = decision.__dict__["reasons"]
    if type(pending) is _Pending:
        return tuple(pending[2:])
    _, scheme, fast = pending
    last, as_of = decision.__dict__["last_visit"], decision.__dict__["as_of"]
    trace, env = scheme._whole(fast, last, as_of)  # the plan is run again once
    return trace, env, last, as_of


def _unread_reasons(pending: tuple[Any, ...], decision: VisitDecision) -> tuple[Reason, ...]:
    reasons: tuple[Reason, ...] = pending[1]._reasons(*reasons_inputs(decision))
    return reasons


class _Reasons:
    """``VisitDecision.reasons``: a tuple of :class:`Reason`, built on first read.

    A descriptor-typed dataclass field (see the dataclasses docs): the constructor
    accepts a tuple as always, or a :class:`_Pending`; reading always gives the tuple.
    """

    def __get__(self, decision: VisitDecision | None, owner: type | None = None
                ) -> tuple[Reason, ...]:
        if decision is None:
            raise AttributeError("reasons")  # no default: the field is required
        reasons: tuple[Any, ...] = decision.__dict__["reasons"]
        if type(reasons) is _Pending or (reasons and reasons[0] is UNREAD):
            # the language they are worded in, kept for ``explain`` (see ``words``)
            decision.__dict__["_lang"] = reasons_language(reasons[1].model.policy.locale)
            reasons = decision.__dict__["reasons"] = (
                reasons.build() if type(reasons) is _Pending
                else _unread_reasons(reasons, decision))
        return reasons

    def __set__(self, decision: VisitDecision, value: Any) -> None:
        # Only __init__ gets here: assigning to a frozen dataclass's field raises first.
        decision.__dict__["reasons"] = value


@dataclass(frozen=True)
class VisitDecision:
    """One household's visit tier and next due date, or why the record was rejected."""

    row: int
    household_id: str
    liaison_id: str
    status: str
    tier: str
    tier_label: str
    tier_label_en: str
    cadence: str
    last_visit: dt.date | None
    next_due: dt.date | None
    overdue: bool
    triggers: tuple[str, ...]
    if TYPE_CHECKING:  # what readers get, and the constructor takes (a _Pending is a tuple)
        reasons: tuple[Reason, ...]
    else:  # the descriptor: on the class it raises AttributeError, so there is no default
        reasons: tuple[Reason, ...] = _Reasons()
    policy: PolicyRef
    as_of: dt.date
    cadence_description: str = ""
    visits_per_month: float = 0.0

    @property
    def rejected(self) -> bool:
        return self.status == REJECTED

    @property
    def reason_codes(self) -> tuple[str, ...]:
        reasons = self.__dict__["reasons"]  # the codes without building the sentences
        if type(reasons) is _Pending:
            return reasons.codes
        if reasons and reasons[0] is UNREAD:
            return _unread_codes(reasons)
        return tuple(r.code for r in reasons)

    def __getstate__(self) -> dict[str, Any]:
        # A pickle (or copy) carries the reasons themselves, not the scheme that builds them.
        return {**self.__dict__, "reasons": self.reasons}

    def explain(self, lang: str | None = None) -> str:
        """Plain-language account, for the liaison's officer and for the household, in
        ``lang`` (``zh`` or ``en``; by default the language its reasons are worded in)."""
        reasons = self.reasons
        if (lang or self.__dict__.get("_lang") or reasons_language(None)) == "zh":
            return self._explain_zh(reasons)
        who = f"Household {self.household_id}" + (
            f" (liaison {self.liaison_id})" if self.liaison_id else "")
        if self.rejected:
            lines = [f"{who} was not scored:"]
        else:
            tier = _both(self.tier_label, self.tier_label_en, self.tier)
            lines = [f"{who}: tier {tier} [{self.tier}], visits {self.cadence_description} "
                     f"({self.cadence})."]
            last = f"last visited on {self.last_visit}" if self.last_visit else "never visited"
            due = f"Next visit due on {self.next_due}"
            if self.overdue:
                assert self.next_due is not None
                due += f": OVERDUE by {_days((self.as_of - self.next_due).days)}"
            lines.append(f"  {due} ({last}).")
            if self.triggers:
                lines.append(f"  Brought forward by: {', '.join(self.triggers)}.")
        lines += [f"  - {r.message}" for r in reasons]
        lines.append(f"  Policy {self.policy}, as of {self.as_of}.")
        if not self.rejected:
            lines.append("  The tier follows from care needs only; it is not a rating of the "
                         "household.")
        return "\n".join(lines)

    def _explain_zh(self, reasons: Sequence[Reason]) -> str:
        """:meth:`explain` in Chinese (the reasons as they are worded)."""
        who = f"住户 {self.household_id}" + (
            f"（联络员 {self.liaison_id}）" if self.liaison_id else "")
        if self.rejected:
            lines = [f"{who}未计分："]
        else:
            label = self.tier_label or self.tier_label_en or self.tier
            cadence = parse_cadence(self.cadence).describe("zh")
            lines = [f"{who}：{label}档 [{self.tier}]，{cadence}探访一次（{self.cadence}）。"]
            last = f"上次探访于 {self.last_visit}" if self.last_visit else "从未探访"
            due = f"下次探访应于 {self.next_due} 前完成"
            if self.overdue:
                assert self.next_due is not None
                due += f"：已逾期 {(self.as_of - self.next_due).days} 天"
            lines.append(f"  {due}（{last}）。")
            if self.triggers:
                lines.append(f"  因以下事件提前：{'、'.join(self.triggers)}。")
        lines += [f"  - {r.message}" for r in reasons]
        lines.append(f"  政策 {self.policy}，计算日期 {self.as_of}。")
        if not self.rejected:
            lines.append("  探访档次只依据照护需要确定，不是对住户的评价。")
        return "\n".join(lines)

    def to_row(self) -> dict[str, Any]:
        return {
            "row": self.row, "household_id": self.household_id, "liaison_id": self.liaison_id,
            "status": self.status, "tier": self.tier, "tier_label": self.tier_label,
            "tier_label_en": self.tier_label_en, "cadence": self.cadence,
            "last_visit": self.last_visit, "next_due": self.next_due, "overdue": self.overdue,
            "triggers": list(self.triggers), "reason_codes": list(self.reason_codes),
            "reasons": [r.message for r in self.reasons],
            **policy_columns(self.policy), "as_of": self.as_of,
        }


_DECISION_FIELDS = tuple(f.name for f in fields(VisitDecision))
_new = object.__new__


@dataclass(frozen=True, slots=True)
class Caseload:
    """One liaison's (or grid's) households and the visits they owe per month."""

    liaison_id: str
    households: int
    visits_per_month: float
    overdue: int
    trigger_visits: int
    households_per_liaison: int | None
    capacity_visits_per_month: float | None
    warnings: tuple[Reason, ...]
    policy: PolicyRef
    as_of: dt.date

    @property
    def exceeded(self) -> bool:
        return bool(self.warnings)

    def to_row(self) -> dict[str, Any]:
        return {
            "liaison_id": self.liaison_id, "households": self.households,
            "visits_per_month": self.visits_per_month,
            "trigger_visits": self.trigger_visits, "overdue": self.overdue,
            "households_per_liaison": self.households_per_liaison,
            "capacity_visits_per_month": self.capacity_visits_per_month,
            "warning_codes": [w.code for w in self.warnings],
            "warnings": [w.message for w in self.warnings],
            **policy_columns(self.policy), "as_of": self.as_of,
        }


@dataclass(frozen=True)
class VisitResult:
    """Every household's decision (one per input row, in order) and the caseloads."""

    as_of: dt.date
    policy: PolicyRef
    decisions: tuple[VisitDecision, ...]
    caseload: Mapping[str, Caseload]

    def fired_rules(self) -> set[str]:
        """Tiers chosen and triggers fired in this run (for ``civicscore test`` coverage)."""
        fired = {f"visits.tiers.{d.tier}" for d in self.scored}
        fired |= {r.rule for d in self.scored for r in d.reasons if r.code == "TRIGGER"}
        return fired

    @property
    def scored(self) -> tuple[VisitDecision, ...]:
        return tuple(d for d in self.decisions if not d.rejected)

    @property
    def rejected(self) -> tuple[VisitDecision, ...]:
        return tuple(d for d in self.decisions if d.rejected)

    @property
    def overdue(self) -> tuple[VisitDecision, ...]:
        return tuple(d for d in self.decisions if d.overdue)

    @property
    def capacity_warnings(self) -> tuple[Reason, ...]:
        return tuple(w for c in self.caseload.values() for w in c.warnings)

    def to_jsonable(self) -> Any:
        return to_jsonable(self)

    # -- the SchemeRun protocol (used by the CLI) -------------------------------------
    def output_rows(self) -> Iterator[dict[str, Any]]:
        return (d.to_row() for d in self.decisions)

    def detail_rows(self) -> Iterator[dict[str, Any]]:
        return (c.to_row() for c in self.caseload.values())

    def rejected_rows(self) -> list[dict[str, Any]]:
        return [reject_row("households", d.row, d.household_id, d.reason_codes,
                           [r.message for r in d.reasons]) for d in self.rejected]

    def summary(self) -> str:
        return run_summary(VisitsPresenter(None), self, rows_in=len(self.decisions),
                           policy=self.policy, as_of=self.as_of)

    def table(self) -> Table:
        return run_table(VisitsPresenter(None), self, policy=self.policy, as_of=self.as_of)


class VisitsPresenter(Presenter):
    """A visits run on a terminal: a household per row; the summary counts the overdue
    and the caseloads (capacity warnings follow, from the caseload rows). Read off the
    output and caseload rows, so both engines show the same."""

    noun = input_kind = "households"
    title = "Care visits"
    columns = ("household", "tier", "cadence", "last visit", "next due", "overdue")

    def cells(self, row: Mapping[str, Any]) -> list[str]:
        if row["status"] != SCORED:
            return [row["household_id"], "rejected: " + ", ".join(row["reason_codes"]), "-",
                    "-", "-", "-"]
        return [row["household_id"], row["tier_label"] or row["tier"], row["cadence"],
                str(row["last_visit"]) if row["last_visit"] else "never", str(row["next_due"]),
                "OVERDUE" if row["overdue"] else ""]

    def notes(self, output: Column, details: Column) -> list[str]:
        overdue = sum(bool(o) for o in output("overdue"))
        caseloads = len(details("liaison_id"))
        return [say("note_overdue", n=overdue), say("note_caseloads", n=caseloads)]


# --- compiled rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tier:
    index: int
    id: str
    label: str
    label_en: str
    when: Expression | None
    cadence: Cadence
    priority: int | None

    @property
    def name(self) -> str:
        return f"{_both(self.label, self.label_en, self.id)} [{self.id}]"


@dataclass(frozen=True)
class _Trigger:
    id: str
    label: str
    label_en: str
    event: Expression
    when: Expression
    within_days: int

    @property
    def name(self) -> str:
        return _both(self.label, self.label_en, self.id)


class _QuickFacts:
    """Step 1 for some of a household's declared facts, done quickly (for records the
    generated reader, ``VisitsScheme._fast``, does not take: values to convert).

    ``coerce_fact`` is the definition of a fact's value. A value it would return
    unchanged (``records.Ready`` says which) is taken as it is; any other value goes
    through coerce_fact itself (which raises RecordError when it is unusable).
    """

    def __init__(self, facts: Mapping[str, FactSpec]) -> None:
        self.specs = dict(facts)
        self.names = frozenset(facts)
        self.ready = tuple(ready_of(name, spec) for name, spec in facts.items())
        # a fact's value when missing (default or NEVER), in the order of the facts
        self.missing: dict[str, Any] = {r.name: r.missing for r in self.ready
                                        if r.missing is not REQUIRED}
        # how a ready value is recognised: by its class, its class and range, or its text;
        # each entry ends with the fact's value when missing
        by_class: list[tuple[str, type, Any]] = []
        in_range: list[tuple[str, type, Any, Any, Any]] = []
        in_set: list[tuple[str, frozenset[str] | None, Any]] = []
        for r in self.ready:
            if r.lo is not None:
                in_range.append((r.name, r.cls, r.lo, r.hi, r.missing))
            elif r.cls is str:
                in_set.append((r.name, r.allowed, r.missing))
            else:
                by_class.append((r.name, r.cls, r.missing))
        self.by_class, self.in_range, self.in_set = by_class, in_range, in_set
        self.required = len(self.missing) < len(self.specs)  # is any fact required?
        # the order read() leaves a household's values in: the missing ones first
        self.env_order = (*self.missing, *(name for group in (by_class, in_range, in_set)
                                          for name, *rest in group if rest[-1] is REQUIRED))

    def read(self, record: Mapping[str, Any], hid: str, env: dict[str, Any]) -> None:
        """Put the values ``record`` gives into ``env``, which holds the missing ones."""
        # (type(v) and record.get(...) are spelled so because they are the fastest.)
        specs = self.specs
        for name, cls, missing in self.by_class:
            value = record.get(name)
            if type(value) is cls:
                env[name] = value
            elif value is not None or missing is REQUIRED:
                env[name] = coerce_fact(name, specs[name], record, hid)
        for name, number, lo, hi, missing in self.in_range:
            value = record.get(name)
            if type(value) is number and lo <= value <= hi:
                env[name] = value
            elif value is not None or missing is REQUIRED:
                env[name] = coerce_fact(name, specs[name], record, hid)
        for name, allowed, missing in self.in_set:
            value = record.get(name)
            if type(value) is str and (value in allowed if allowed is not None else
                                       value.isascii() and value and value == value.strip()):
                env[name] = value
            elif value is not None or missing is REQUIRED:
                env[name] = coerce_fact(name, specs[name], record, hid)


def _text(value: Any) -> str | None:
    """What ``to_id`` makes of an id field, or None when it is missing; raises like it."""
    if type(value) is str and value.isascii():  # plain ASCII needs no encoding check
        return value.strip() or None
    return None if is_missing(value) else to_id(value, "", "")


def _always_true(expr: Expression) -> bool:
    """A condition written as ``true`` (a trigger's default ``when``): no need to compute it."""
    return isinstance(expr.node, Const) and expr.node.value is True


#: What an expression error says if computing it again does not fail (both raise alike).
_FAILED_IN_PLAN = ValueError("it failed in the plan")


def _error_of(expr: Expression, env: Mapping[str, Any]) -> Exception | None:
    """The error computing ``expr`` raises for ``env``, or None when it does not fail."""
    try:
        expr(env)
    except (ArithmeticError, ValueError) as e:
        return e
    return None


class VisitsScheme(BatchEngine):
    """The compiled [visits] section of one policy."""

    batch_engine = "civicscore.schemes.visits.batch:score_visits"
    presenter_type = VisitsPresenter

    extra_inputs: tuple[str, ...] = ()

    def __init__(self, model: PolicyModel, rules: Visits, ref: PolicyRef,
                 tiers: Sequence[_Tier], default: _Tier | None, triggers: Sequence[_Trigger],
                 facts: Mapping[str, FactSpec], functions: FunctionTable | None = None
                 ) -> None:
        self.model = model
        self.functions = functions  # the policy's function table, for the batch evaluator
        self.rules = rules
        self.ref = ref
        self.tiers = tuple(tiers)  # the tiers with a condition, in policy order
        self.default = default
        self.triggers = tuple(triggers)
        self.facts = dict(facts)
        # What every household needs, worked out once here:
        self._hit_policy = rules.hit_policy
        # The facts tiers and triggers read, and the other facts of the household: these
        # are checked too (a malformed one makes the record unusable), but are often not
        # given at all, and then need no look-up one by one.
        self._care = _QuickFacts({n: s for n, s in self.facts.items() if s.care_need})
        self._other = _QuickFacts({n: s for n, s in self.facts.items() if not s.care_need})
        self._all_tiers = (*self.tiers, *([default] if default is not None else []))
        # Per tier (by its index in a trace): the fields of a scored decision, with
        # stand-ins (None) for the household's own.
        self._scored_fields = tuple(
            {f: None for f in _DECISION_FIELDS} | {
                "status": SCORED, "tier": t.id, "tier_label": t.label,
                "tier_label_en": t.label_en, "cadence": t.cadence.text, "policy": self.ref,
                "cadence_description": t.cadence.describe(),
                "visits_per_month": t.cadence.visits_per_month} for t in self._all_tiers)
        self._due_order = due_rule_order(self.triggers)
        self._in_effect_on: dt.date | None = None  # the last as-of date found in effect

    @cached_property
    def plan(self) -> Plan:
        """Steps 2 and 3 as one plan (see :func:`visits_plan`); both engines run it.
        Built on first use: a section with mistakes is compiled (to report them all)
        but never run."""
        assert self.default is not None  # compile refuses a policy without a default tier
        return visits_plan(self.tiers, self.default, self.triggers, self._hit_policy,
                           self.rules.aggregation)

    @cached_property
    def _fast(self) -> Callable[..., tuple[Any, ...] | None]:
        """Step 1 for the facts, steps 2 and 3 in one generated function:
        ``f(record, as_of, last_visit, last_given)`` -> the plan's ``EAGER_FIELDS``
        (what a decision holds, the codes and triggers as tuples; the rest of the trace
        is for the reasons, and the plan is
        run again for them when they are read), then every care need's value (in the
        order ``_read`` leaves them in ``env``), or None for a record with a value not
        ready as it is (the other ways through then decide it)."""
        care = {r.name: r for r in self._care.ready}
        return compile_reader(self.plan, self.functions if self.functions is not None
                              else FunctionTable(),
                              [care[name] for name in self._care.env_order],
                              ("as_of", "last_visit", LAST_GIVEN), self._other.ready,
                              [STEP + name for name in EAGER_FIELDS])

    @cached_property
    def _run(self) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
        """The plan as generated Python, compiled once per policy."""
        return compile_plan(self.plan, self.functions if self.functions is not None
                            else FunctionTable())

    # -- public API --------------------------------------------------------------------
    def rule_ids(self) -> set[str]:
        """Every tier and trigger, for ``civicscore test`` coverage."""
        return ({f"visits.tiers.{t.id}" for t in self.rules.tiers}
                | {f"visits.triggers.{t.id}" for t in self.rules.triggers})

    def decide(self, household: Mapping[str, Any], *, as_of: dt.date) -> VisitDecision:
        """The tier and next due date of one household (row 1 of a run of one)."""
        if as_of != self._in_effect_on:
            self._ensure_in_effect(as_of)
        return self._decide(1, household, as_of, {})

    def decide_many(self, households: Iterable[Any], *, as_of: dt.date) -> VisitResult:
        """Decide every household and total the caseload of each liaison."""
        self._ensure_in_effect(as_of)
        seen: dict[str, int] = {}
        decide = self._decide
        decisions = tuple(decide(row, record, as_of, seen)
                          for row, record in enumerate(households, start=1))
        return VisitResult(as_of, self.ref, decisions, self._caseload(decisions, as_of))

    #: The older names of ``decide`` and ``decide_many`` (one vocabulary across schemes:
    #: ``decide`` one record, ``decide_many``, ``batch``); kept working.
    evaluate = decide
    evaluate_many = decide_many

    def _ensure_in_effect(self, as_of: dt.date) -> None:
        # The policy and its dates never change, so a date found in effect stays so.
        if as_of != self._in_effect_on:
            ensure_in_effect(self.model, self.ref, as_of)
            self._in_effect_on = as_of

    # -- the Scheme protocol (used by the CLI) ----------------------------------------
    def run(self, records: Iterable[Any], *, as_of: dt.date,
            **extra: Iterable[Any]) -> VisitResult:
        return self.decide_many(records, as_of=as_of)

    def explain_record(self, record: Mapping[str, Any], *, as_of: dt.date) -> str:
        return self.decide(record, as_of=as_of).explain()

    # -- one household: steps 1 to 3 ---------------------------------------------------
    def _decide(self, row: int, record: Any, as_of: dt.date,
                seen: dict[str, int]) -> VisitDecision:
        """Step 1 (the record on its own), then steps 2 and 3 (_score).

        Step 1 has three ways through. The quickest takes a dict whose ids and last
        visit are plain and whose facts all have their type (``records.Ready``): the
        generated ``_fast`` reads and decides it in one call, and the decision is made
        here. ``_read`` is quick and finds nothing wrong: it takes values that already
        have their type as they are and converts the others exactly as the careful way
        does. Any record it does not accept, for whatever reason, goes the careful way,
        ``_decide_carefully``, which finds and words every reason. All three lead to
        the same decision.
        """
        if type(record) is dict:
            get = record.get
            hid, lid, last = get("household_id"), get("liaison_id"), get("last_visit")
            if type(hid) is str and hid.isascii() and (hid := hid.strip()) and \
                    hid not in seen and (lid is None or (type(lid) is str and lid.isascii())) \
                    and (last is None or (type(last) is dt.date and last <= as_of)):
                trace = self._fast(record, as_of, NEVER if last is None else last, last)
                if trace is not None and not trace[0]:  # read, and not failed
                    seen[hid] = row
                    # The generated __init__ of a frozen dataclass sets each of the 17
                    # fields with object.__setattr__. This copies the tier's fields into
                    # the instance's dict, in field order (where __init__ puts them), and
                    # sets the household's over their stand-ins: several times faster.
                    decision = _new(VisitDecision)
                    d = decision.__dict__
                    d.update(self._scored_fields[trace[1]])
                    d["row"] = row
                    d["household_id"] = hid
                    d["liaison_id"] = "" if lid is None else lid.strip()
                    d["last_visit"] = last
                    d["next_due"] = trace[2]
                    d["overdue"] = trace[3]
                    d["triggers"] = trace[5]
                    d["reasons"] = (UNREAD, self, trace)
                    d["as_of"] = as_of
                    return decision
        read = self._read(record, as_of)
        if read is None or read[0] in seen:
            return self._decide_carefully(row, record, as_of, seen)
        hid, lid, last, env = read
        seen[hid] = row
        return self._score(row, hid, lid, last, env, as_of)

    # -- step 1: the record on its own -------------------------------------------------
    def _read(self, record: Any, as_of: dt.date
              ) -> tuple[str, str, dt.date | None, dict[str, Any]] | None:
        """Household id, liaison id, last visit and the values expressions read, or
        None when the record is to be rejected (the careful way then says why)."""
        if type(record) is not dict and not isinstance(record, Mapping):
            return None
        try:
            hid = _text(record.get("household_id"))
            lid = _text(record.get("liaison_id")) or ""
            last = record.get("last_visit")
            if type(last) is not dt.date and last is not None:
                last = None if is_missing(last) else to_date(last, "", "last_visit")
            if not hid or (last is not None and last > as_of):
                return None
            env = self._care.missing.copy()
            self._care.read(record, hid, env)
            if self._other.required or not self._other.names.isdisjoint(record):
                self._other.read(record, hid, {})  # checked only: no expression reads them
        except RecordError:
            return None
        env["as_of"] = as_of
        env["last_visit"] = last if last is not None else NEVER
        return hid, lid, last, env

    def _reject(self, row: int, hid: str, lid: str, last: dt.date | None,
                reasons: Sequence[Reason], as_of: dt.date) -> VisitDecision:
        return VisitDecision(row, hid, lid, REJECTED, "", "", "", "", last, None, False, (),
                             tuple(reasons), self.ref, as_of)

    def _decide_carefully(self, row: int, record: Any, as_of: dt.date,
                          seen: dict[str, int]) -> VisitDecision:
        """Step 1 value by value, collecting every reason to reject the record."""
        if (unreadable := unreadable_reason(row, record, self.model.policy.locale)) is not None:
            return self._reject(row, f"row {row}", "", None, [unreadable], as_of)
        reasons: list[Reason] = []
        label = f"row {row}"
        locale = self.model.policy.locale

        def field(name: str, convert: Any, required: bool) -> Any:
            value = record.get(name)
            if is_missing(value):
                if required:
                    lang = reasons_language(locale)
                    reasons.append(Reason("MISSING_FIELD", f"record.{name}", rw.say(
                        "missing", lang, who=rw.who(label, lang), field=name)))
                return None
            try:
                return convert(value, label, name)
            except RecordError as e:
                reasons.append(Reason(e.code, f"record.{name}",
                                      e.text(reasons_language(locale)), {name: value}))
                return None

        hid = field("household_id", to_id, True)
        if hid:
            label = hid
        hid = hid or f"row {row}"
        lid = field("liaison_id", to_id, False) or ""
        last = field("last_visit", to_date, False)
        if hid in seen:
            reasons.append(Reason("DUPLICATE_RECORD", "record.household_id", rw.say(
                "duplicate", reasons_language(locale), thing="household",
                thing_zh=rw.THINGS_ZH["household"], id=hid, first=seen[hid]),
                {"household_id": hid}))
        else:
            seen[hid] = row
        if last is not None and last > as_of:
            reasons.append(Reason("AFTER_AS_OF", "record.last_visit",
                                  f"住户 {hid}：上次探访日期 {last} 晚于评定日期 {as_of}"
                                  if reasons_language(locale) == "zh" else
                                  f"household {hid}: last visit on {last} is after the as-of date "
                                  f"{as_of}", {"last_visit": last}, as_of))
        facts, fact_reasons = coerce_facts(record, self.facts, hid, self.rules.entity,
                                           self.model.policy.locale)
        reasons += fact_reasons
        if reasons:
            return self._reject(row, hid, lid, last, reasons, as_of)
        env = dict(facts)
        env["as_of"] = as_of
        env["last_visit"] = last if last is not None else NEVER
        return self._score(row, hid, lid, last, env, as_of)

    # -- steps 2 and 3: tier and next due date ------------------------------------------
    def _score(self, row: int, hid: str, lid: str, last: dt.date | None,
               env: dict[str, Any], as_of: dt.date) -> VisitDecision:
        """Steps 2 and 3: the plan (generated Python, compiled once per policy) gives the
        tier, the due dates and the reason codes; a failed step rejects the record.

        The reasons are worded from the plan's trace by ``_reasons``, and only when
        someone reads them.
        """
        env[LAST_GIVEN] = last
        trace = self._run(env)
        if trace[0]:  # failed
            return self._reject(row, hid, lid, last, [self._failure(trace, env, hid)], as_of)
        chosen = self._all_tiers[trace[1]]
        fields_of = self._scored_fields[trace[1]]
        description, per_month = fields_of["cadence_description"], fields_of["visits_per_month"]
        reasons = _Pending((tuple(trace[10]), self, trace, env, last, as_of))
        return VisitDecision(row, hid, lid, SCORED, chosen.id, chosen.label, chosen.label_en,
                             chosen.cadence.text, last, trace[7], trace[8], tuple(trace[11]),
                             reasons, self.ref, as_of, description, per_month)

    def _failure(self, trace: Sequence[Any], env: Mapping[str, Any], hid: str) -> Reason:
        """Why the plan failed for a household, as the per-record order finds it: a tier
        condition that cannot be computed, else two tiers under "unique", else a trigger
        whose condition or event cannot be computed. The expression is computed again
        for its error's words (a rare, rejected record)."""
        if trace[2]:  # tier_failed
            t = self.tiers[trace[3]]
            assert t.when is not None
            return self._expr_error(t.when, f"visits.tiers.{t.id}.when", env, hid,
                                    _error_of(t.when, env) or _FAILED_IN_PLAN)
        if trace[4]:  # the hit policy's violation: unique, or any
            matching = [t for t in self.tiers if t.when is not None and t.when(env) is True]
            if self._hit_policy == "any":
                return self._any_violation(matching, env, hid)
            return self._unique_violation(matching, env, hid)
        tr = self.triggers[trace[5]]
        error = None if _always_true(tr.when) else _error_of(tr.when, env)
        if error is not None:
            return self._expr_error(tr.when, f"visits.triggers.{tr.id}.when", env, hid, error)
        return self._expr_error(tr.event, f"visits.triggers.{tr.id}.event", env, hid,
                                _error_of(tr.event, env) or _FAILED_IN_PLAN)

    @property
    def words(self) -> VisitsWords:
        """The reasons' templates in the language reasons are worded in now
        (:func:`~civicscore.messages.reasons_language`: ``--lang``, else
        ``CIVICSCORE_LANG``, else the policy's locale): the per-record path renders
        them one reason at a time, batch all rows at once."""
        return self.words_in(reasons_language(self.model.policy.locale))

    def words_in(self, lang: str) -> VisitsWords:
        """The reasons' templates in ``lang`` (``en`` or ``zh``), built once per language."""
        cache = self.__dict__.setdefault("_words_by_lang", {})
        if lang not in cache:
            assert self.default is not None  # compile refuses a policy without a default
            cache[lang] = visits_words(self.tiers, self.default, self.triggers,
                                       self._hit_policy, LAST_GIVEN, lang,
                                       {n: f.label for n, f in self.facts.items()},
                                       self.rules.aggregation)
        words: VisitsWords = cache[lang]
        return words

    def _whole(self, fast: Sequence[Any], last: dt.date | None, as_of: dt.date
               ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The trace and env ``_score`` would have had for a household ``_fast`` decided
        (its trace: ``EAGER_FIELDS``, then the care needs): the env from those values,
        the trace by running the plan again over it (the same plan, the same values)."""
        env = dict(zip(self._care.env_order, fast[len(EAGER_FIELDS):], strict=True))
        env["as_of"] = as_of
        env["last_visit"] = last if last is not None else NEVER
        env[LAST_GIVEN] = last
        return self._run(env), env

    def _reasons(self, trace: Sequence[Any], env: Mapping[str, Any],
                 last: dt.date | None, as_of: dt.date) -> tuple[Reason, ...]:
        """The reasons of a scored household, from the plan's trace (see :class:`Trace`):
        each sentence is its template in ``self.words`` rendered over the household's
        words row, the templates batch renders for all rows at once."""
        words = self.words
        row = words.row(self.plan.outputs, trace, env, last, as_of)
        n = len(self.tiers)
        fired_at, _events, deadlines_at, _conds = _trace_index(len(self.triggers))
        tier_ix, cadence_due, next_due = trace[1], trace[6], trace[7]
        chosen = self._all_tiers[tier_ix]
        out: list[Reason] = []
        if tier_ix == n:
            read: dict[str, Any] = {}
            for t in self.tiers:
                read.update(t.when.values_read(env) if t.when else {})
            out.append(Reason("DEFAULT_TIER", "visits.default_tier", words.default.render(row),
                              read, None, f"visits {chosen.cadence.describe()}"))
        else:
            assert chosen.when is not None
            out.append(Reason("TIER_MATCHED", f"visits.tiers.{chosen.id}",
                              words.matched[tier_ix].render(row), chosen.when.values_read(env),
                              chosen.when.text, f"visits {chosen.cadence.describe()}"))
        if last is None:
            out.append(Reason("NEVER_VISITED", "record.last_visit", words.never.render(row),
                              {"last_visit": None}, None, f"due {as_of}"))
        else:
            out.append(Reason("CADENCE", f"visits.tiers.{chosen.id}.cadence",
                              words.cadence[tier_ix].render(row), {"last_visit": last},
                              chosen.cadence.text, f"due {cadence_due}"))
        for j, tr in enumerate(self.triggers):
            if trace[fired_at + j] is not True:
                continue
            deadline = trace[deadlines_at + j]
            read = {**tr.event.values_read(env), **tr.when.values_read(env)}
            out.append(Reason("TRIGGER", f"visits.triggers.{tr.id}", words.triggers[j].render(row),
                              read, tr.within_days, f"due {deadline}"))
        if trace[8]:  # overdue
            rule_at = trace[9]
            if rule_at == 0:
                rule = ("record.last_visit" if last is None
                        else f"visits.tiers.{chosen.id}.cadence")
            else:
                rule = f"visits.triggers.{self.triggers[self._due_order[rule_at - 1]].id}"
            out.append(Reason("OVERDUE", rule, words.overdue.render(row),
                              {"next_due": next_due}, as_of, "overdue"))
        return tuple(out)

    def _unique_violation(self, matching: Sequence[_Tier], env: Mapping[str, Any],
                          hid: str) -> Reason:
        parts = "; ".join(f"{t.id} ({t.when.text if t.when else ''})" for t in matching)
        read: dict[str, Any] = {}
        for t in matching:
            read.update(t.when.values_read(env) if t.when else {})
        if reasons_language(self.model.policy.locale) == "zh":
            parts = "；".join(f"{t.id}（{t.when.text if t.when else ''}）" for t in matching)
            return Reason("UNIQUE_VIOLATION", "visits.hit_policy",
                          f"住户 {hid}：有 {len(matching)} 个档次的条件成立，而 hit_policy = "
                          f"'unique' 只允许一个：{parts}", read, 1)
        return Reason("UNIQUE_VIOLATION", "visits.hit_policy",
                      f"household {hid}: {len(matching)} tiers match but hit_policy = 'unique' "
                      f"allows one: {parts}", read, 1)

    def _any_violation(self, matching: Sequence[_Tier], env: Mapping[str, Any],
                       hid: str) -> Reason:
        """``any``: the matching tiers call for different cadences, and the policy does
        not say which the household needs (DMN: a violation, never a guess)."""
        read: dict[str, Any] = {}
        for t in matching:
            read.update(t.when.values_read(env) if t.when else {})
        if reasons_language(self.model.policy.locale) == "zh":
            parts = "；".join(f"{t.id}（{t.cadence.describe('zh')}探访一次，{t.cadence.text}）"
                             for t in matching)
            message = (f"住户 {hid}：有 {len(matching)} 个档次的条件成立，但探访频率不同，"
                       f"而 hit_policy = 'any' 要求它们相同：{parts}")
        else:
            parts = "; ".join(f"{t.id} (visits {t.cadence.describe()}, {t.cadence.text})"
                              for t in matching)
            message = (f"household {hid}: {len(matching)} tiers match with different "
                       f"cadences, but hit_policy = 'any' needs them to agree: {parts}")
        return Reason("ANY_VIOLATION", "visits.hit_policy", message, read,
                      1)

    def _expr_error(self, expr: Expression, rule: str, env: Mapping[str, Any], hid: str,
                    error: Exception) -> Reason:
        lang = reasons_language(self.model.policy.locale)
        return Reason("EXPR_ERROR", rule, rw.say(
            "visit_expr_error", lang, id=hid, text=expr.text,
            error=rw.evaluation_error(error, lang)), expr.values_read(env))

    # -- batch -------------------------------------------------------------------------------
    def decide_one(self, row: int, record: Any, as_of: dt.date,
                   seen: dict[str, int]) -> VisitDecision:
        """One record exactly as ``evaluate_many`` decides it at position ``row``, given the
        ids already ``seen`` (id -> first row); the batch path uses it for rejected rows."""
        return self._decide(row, record, as_of, seen)

    # -- step 4: caseload ------------------------------------------------------------------
    @cached_property
    def caseload_groups(self) -> GroupCount:
        """Step 4's frame op, which both engines run over the scored households (columns
        ``liaison``, ``UNASSIGNED`` for none, ``overdue`` and ``tier``): per liaison, the
        households, the overdue ones, those a trigger brought forward (``triggered``: one
        visit each, besides their tier's), and the visits they owe a month, each its
        tier's exact rate, summed exactly and rounded once (in tenths); then
        :meth:`caseloads` makes the rows."""
        rates = tuple((t.id, t.cadence.visits_per_month_exact) for t in self._all_tiers)
        return GroupCount(("liaison",), ("overdue", "triggered"),
                          (RatedSum("tier", rates, CASELOAD_PLACES),))

    def _caseload(self, decisions: Sequence[VisitDecision],
                  as_of: dt.date) -> dict[str, Caseload]:
        rows = ((d.liaison_id or UNASSIGNED, d.overdue, bool(d.triggers), d.tier)
                for d in decisions if not d.rejected)
        groups = group_count_rows(self.caseload_groups, rows)
        return self.caseloads(((k, *v) for (k,), v in groups.items()), as_of)

    def caseload_from_counts(self, counts: Mapping[str, Mapping[str, tuple[int, int]]],
                             as_of: dt.date) -> dict[str, Caseload]:
        """Caseloads from (households, overdue) per liaison and tier, none brought forward
        by a trigger, totalled by the rated sum of ``caseload_groups`` (as if the
        households were counted one by one)."""
        rated = self.caseload_groups.rated[0]
        return self.caseloads(
            ((key, sum(n for n, _ in tiers.values()), sum(o for _, o in tiers.values()), 0,
              rated.of_counts({t: n for t, (n, _) in tiers.items()}))
             for key, tiers in counts.items()), as_of)

    def caseloads(self, totals: Iterable[tuple[str, int, int, int, int]],
                  as_of: dt.date) -> dict[str, Caseload]:
        """The caseload rows, in order (liaisons by id, ``UNASSIGNED`` last), from each
        liaison's totals of ``caseload_groups``: (liaison, households, overdue, brought
        forward by a trigger, visits owed per month by their tiers in units of
        ``10**-CASELOAD_PLACES``). Each household a trigger brought forward owes one
        visit more (counted whole, so the total stays exact).

        Both evaluators call this one function on the same totals, so the rows are the
        same. The visits were summed exactly and rounded once, ROUND_HALF_UP (see the
        module docstring, step 4); the public field is the float of that rounded
        decimal (0.8 is 0.8), and a capacity is compared with the decimal itself.
        """
        cap = self.rules.capacity
        cap_visits = (None if cap.visits_per_month is None
                      else decimal.Decimal(repr(float(cap.visits_per_month))))
        out: dict[str, Caseload] = {}
        for key, n, late, fired, units in sorted(totals,
                                                 key=lambda t: (t[0] == UNASSIGNED, t[0])):
            exact = decimal.Decimal(units).scaleb(-CASELOAD_PLACES) + fired
            v = float(exact)
            warnings: list[Reason] = []
            who = "households without a liaison" if key == UNASSIGNED else f"liaison {key}"
            if cap.households_per_liaison is not None and n > cap.households_per_liaison:
                warnings.append(Reason(
                    "CAPACITY_EXCEEDED", "visits.capacity.households_per_liaison",
                    f"{who}: {n} households, more than the {cap.households_per_liaison} "
                    f"one liaison can look after", {"households": n},
                    cap.households_per_liaison))
            if cap_visits is not None and exact > cap_visits:
                warnings.append(Reason(
                    "CAPACITY_EXCEEDED", "visits.capacity.visits_per_month",
                    f"{who}: {v:g} visits owed per month"
                    + (f" ({fired} of them brought forward by a trigger)" if fired else "")
                    + f", more than the {cap.visits_per_month:g} one liaison can make",
                    {"visits_per_month": v},
                    cap.visits_per_month))
            out[key] = Caseload(key, n, v, late, fired, cap.households_per_liaison,
                                cap.visits_per_month, tuple(warnings), self.ref, as_of)
        return out


# --- load-time analysis of tier conditions ------------------------------------------------
#
# expr/analysis.py turns a condition made of comparisons of one fact with a constant,
# under and / or / not, into a union of boxes (fact -> allowed values). A tier is dead
# when its union is empty, or, under hit_policy = "first", when it lies inside the union
# of the earlier tiers' (one of them, or several together). Anything else is "don't
# know", and nothing is reported.


#: At most this many pairs of boxes (a later tier's and an earlier one's that the index
#: cannot rule out) are compared; beyond, ``check`` says where it stopped looking for
#: shadowed tiers rather than grow with the square of the tiers (issue 12).
PAIRS_LIMIT = 200_000


def _check_overlaps(ctx: CompileContext, tiers: Sequence[_Tier],
                    kinds: Mapping[str, tuple[Type, FactSpec | None]]) -> None:
    """Warn of a tier that can never match: its condition holds for no household, or,
    under ``first``, every household it matches is taken by earlier tiers. The earlier
    boxes compared are those :class:`BoxIndex` cannot rule out, at most
    :data:`PAIRS_LIMIT` pairs in all: past it, one warning says at which tier the
    search for shadowed tiers stopped (an impossible condition is still reported)."""
    # each fact's whole set, once (an int fact with a range enumerates it: thousands of
    # tiers would otherwise build it again for every pair)
    domains = {name: domain_of(name, kinds) for name in kinds}
    budget = PAIRS_LIMIT
    visits = ctx.section("visits", Visits)
    first = visits is not None and visits.hit_policy == "first"
    index = BoxIndex()
    boxes: list[Box] = []  # every box of the earlier analysed tiers, in tier order
    owners: list[int] = []  # the position in ``analysed`` of each box's tier
    analysed: list[tuple[_Tier, list[Box]]] = []
    for t in tiers:
        if t.when is None:
            continue
        region = analyse_region(t.when.node, kinds, domains)
        if region is None:
            continue
        path: KeyPath = ("visits", "tiers", t.index, "when")
        if not region:
            _warn_impossible(ctx, path, t, kinds, domains)
            continue
        if first and budget > 0:
            pairs = [(box, at) for box in region for at in index.meeting(box, domains)]
            budget -= len(pairs)
            if budget <= 0:
                _warn_stopped(ctx, path, t)
                first = False  # the shadows of this tier and later ones are not sought
        if first:
            meeting = sorted({at for box, at in pairs if meets(box, boxes[at], domains)})
            taken_by = _taken_by(region, meeting, boxes, owners, analysed, domains)
            if taken_by:
                _warn_shadowed(ctx, path, t, [analysed[i][0] for i in taken_by])
        for box in region:
            index.add(len(boxes), box)
            boxes.append(box)
            owners.append(len(analysed))
        analysed.append((t, region))


def _warn_stopped(ctx: CompileContext, path: KeyPath, t: _Tier) -> None:
    ctx.warn(path, f"check stopped looking for tiers that can never match at tier {t.id!r}, "
                   f"after {PAIRS_LIMIT:,} comparisons of tiers with earlier ones: this tier "
                   f"and the ones after it were not compared",
             "give tiers conditions on a list of values (an enum, a bool, a small range "
             "of whole numbers) where you can, or split the policy",
             zh=(f"比较了 {PAIRS_LIMIT:,} 对档次之后，检查在档次 {t.id!r} 处停止查找永远不会命中的"
                 f"档次：这一档及其后的档次未与前面的档次比较",
                 "尽量让档次的条件取自一组值（枚举、是否、小范围整数），或拆分政策"))


MINIMAL_SHADOWS = 24
"""Up to this many earlier tiers that together take a tier's households, the warning
names only the ones needed (each left out in turn); past it, every one that meets it."""


def _taken_by(region: list[Box], meeting: list[int], boxes: list[Box], owners: list[int],
              analysed: list[tuple[_Tier, list[Box]]], domains: Mapping[str, Values]
              ) -> list[int]:
    """The earlier tiers (positions in ``analysed``) that together take every household
    of ``region``, one alone if one does; empty when they do not (or nobody can tell).
    ``meeting`` are the earlier boxes that share a household with it."""
    tiers = sorted({owners[at] for at in meeting})
    for i in tiers:
        if covered(region, analysed[i][1], domains):
            return [i]
    if len(tiers) < 2 or not covered(region, [boxes[at] for at in meeting], domains):
        return []
    if len(tiers) <= MINIMAL_SHADOWS:
        for i in reversed(list(tiers)):
            rest = [j for j in tiers if j != i]
            if covered(region, [b for j in rest for b in analysed[j][1]], domains):
                tiers = rest
    return tiers


def _warn_impossible(ctx: CompileContext, path: KeyPath, t: _Tier,
                     kinds: Mapping[str, tuple[Type, FactSpec | None]],
                     domains: Mapping[str, Values]) -> None:
    assert t.when is not None
    sets = analyse_condition(t.when.node, kinds, domains)  # one conjunction: which fact
    empty = [name for name, s in (sets or {}).items() if s.empty]
    if empty and empty[0]:
        what, what_zh = (f"no value of {empty[0]} satisfies it",
                         f"{empty[0]} 没有一个值满足它")
    elif empty:
        what, what_zh = "it contains False", "其中含有 False"
    else:
        what, what_zh = "none of its alternatives can hold", "它的每一种情形都不成立"
    ctx.warn(path, f"visit tier {t.id!r} can never match: its condition "
                   f"{t.when.text!r} cannot hold for any household ({what})",
             "fix the condition, or remove the tier", value=True,
             zh=(f"走访档次 {t.id!r} 永远不会被选中：它的条件 {t.when.text!r} 对任何一户都"
                 f"不成立（{what_zh}）", "修改条件，或删除这个档次"))


def _warn_shadowed(ctx: CompileContext, path: KeyPath, t: _Tier,
                   earlier: list[_Tier]) -> None:
    assert t.when is not None

    def located(e: _Tier) -> tuple[str, str]:
        assert e.when is not None
        file, line, col = ctx.layers.where(("visits", "tiers", e.index, "when"), value=True)
        return (f"{e.id!r} ({e.when.text}, at {file}:{line}:{col})",
                f"{e.id!r}（{e.when.text}，位于 {file} 第 {line} 行第 {col} 列）")

    names = [located(e) for e in earlier]
    if len(earlier) == 1:
        whom, whom_zh = f"the earlier tier {names[0][0]}", f"前面的档次 {names[0][1]}"
        hint = f"move {t.id!r} before {earlier[0].id!r}, or narrow {earlier[0].id!r}"
        hint_zh = f"把 {t.id!r} 移到 {earlier[0].id!r} 之前，或收窄 {earlier[0].id!r} 的条件"
    else:
        whom = ("the earlier tiers " + ", ".join(n for n, _ in names[:-1]) +
                f" and {names[-1][0]} together")
        whom_zh = "前面的档次 " + "、".join(z for _, z in names) + "合起来"
        hint = f"move {t.id!r} before {earlier[0].id!r}, or narrow those tiers"
        hint_zh = f"把 {t.id!r} 移到 {earlier[0].id!r} 之前，或收窄这些档次的条件"
    ctx.warn(path, f"visit tier {t.id!r} can never match: every household it matches "
                   f"({t.when.text}) is already taken by {whom}, and hit_policy = 'first'",
             hint, value=True,
             zh=(f"走访档次 {t.id!r} 永远不会被选中：它匹配的每一户（{t.when.text}）都已被"
                 f"{whom_zh}选中（hit_policy = 'first'）", hint_zh))


# --- compile ---------------------------------------------------------------------------


def item_path(kind: str, index: int, *rest: str) -> KeyPath:
    """The key path of ``[[visits.<kind>]]`` item ``index`` in the merged policy; the
    loader maps it back to the file that wrote the item (rules merge by id)."""
    return ("visits", kind, index, *rest)


def scheme_result_word(*texts: str) -> str:
    """The first word in ``texts`` that denotes another scheme's result, or ''."""
    for text in texts:
        if not text:
            continue
        for word in SCHEME_RESULT_WORDS_ZH:
            if word in text:
                return word
        spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text).lower()
        words = " " + " ".join(re.findall(r"[a-z0-9]+", spaced)) + " "
        for word in sorted(SCHEME_RESULT_WORDS, key=len, reverse=True):
            if f" {word} " in words:
                return word
    return ""


def _fact_name(name: str, spec: FactSpec) -> str:
    return f"{name!r}" + (f" ({spec.label})" if spec.label else "")


def _refuse_plugin_calls(ctx: CompileContext, path: KeyPath, where: str,
                         expression: Expression | None) -> None:
    """A plugin function's result is no declared care need: tiers and triggers call only
    civicscore's own functions."""
    for name in care.plugin_calls(expression.node) if expression is not None else ():
        ctx.report(path, (f"{where} calls {name}(), a plugin's function: visit tiers and "
                          f"triggers read declared care needs only, and a function's result "
                          f"is none",
                          f"这里调用了插件的函数 {name}()：探访等级和触发条件只读取已声明的照护"
                          f"需求，函数的结果不是照护需求"),
                   ("declare what the function computes as a fact with its care concept, and "
                    "read the fact", "请把函数算出的内容声明为带照护概念的事实，再读取该事实"))


def compile_visits(ctx: CompileContext) -> VisitsScheme:
    """Check the [visits] section against the rest of the policy and compile it."""
    rules = ctx.section("visits", Visits)
    assert rules is not None
    root: tuple[str | int, ...] = ("visits",)
    entity = rules.entity
    facts = ctx.model.facts.get(entity, {})
    if entity not in ctx.model.facts and ctx.model.facts:
        ctx.report(root + ("entity",), (f"no facts are declared for entity {entity!r}",
                                        f"没有为对象 {entity!r} 声明事实"),
                   did_you_mean_both(entity, ctx.model.facts,
                                     (f"declare them under [facts.{entity}]",
                                      f"请在 [facts.{entity}] 中声明")))

    # care needs, and only care needs
    names: dict[str, Fact] = {}
    forbidden: dict[str, str | tuple[str, str]] = {}
    concepts: dict[str, str] = {}  # fact -> its concept in the care-need vocabulary
    vocab = care.vocabulary().concepts
    kinds: dict[str, tuple[Type, FactSpec | None]] = {}
    for name, spec in facts.items():
        fact_path: KeyPath = ("facts", entity, name)
        if not spec.care_need:
            if name not in BUILTIN_NAMES:
                forbidden[name] = (f"visit tiers read care needs only, and fact "
                                   f"{_fact_name(name, spec)} is not marked care_need = true",
                                   f"探访分级只读取照护需求，而事实 {_fact_name(name, spec)} "
                                   f"没有标记 care_need = true")
            continue
        if name in BUILTIN_NAMES:
            ctx.report(fact_path, (f"fact name {name!r} is reserved in visit expressions",
                                   f"事实名 {name!r} 在探访表达式中是保留的名称"),
                       ("rename the fact", "请给这个事实改名"), value=False)
            continue
        word = scheme_result_word(name, spec.label, spec.label_en)
        if word:
            ctx.report(fact_path, (f"fact {name!r} is marked care_need = true but denotes the "
                                   f"result of another scheme ({word!r}): one scheme's result "
                                   f"must not change how often a household is visited",
                                   f"事实 {name!r} 标记了 care_need = true，但它是另一项评分的结果"
                                   f"（{word!r}）：一项评分的结果不得改变一户的探访频次"),
                       ("visit tiers read care needs only; declare the need itself (age, "
                        "illness, living alone, ...) instead",
                        "探访分级只读取照护需求；请改为声明需求本身（年龄、疾病、独居等）"),
                       value=False)
        if spec.concept is None:
            forbidden[name] = care.no_concept(entity, name, spec)
            continue
        if spec.concept in vocab:
            concepts[name] = spec.concept
        names[name] = Fact(FACT_TYPES[spec.type], tuple(spec.values or ()))
        kinds[name] = (FACT_TYPES[spec.type], spec)
    names["as_of"] = Fact(Type.DATE)
    names["last_visit"] = Fact(Type.DATE)
    kinds["as_of"] = (Type.DATE, None)
    kinds["last_visit"] = (Type.DATE, None)
    # a trigger's event date is a care event's, nothing else
    not_events: dict[str, str | tuple[str, str]] = {**forbidden, **care.not_events(concepts)}

    def scope(where: str) -> Scope:
        return Scope(names, ctx.functions, where, forbidden)

    def event_scope(where: str) -> Scope:
        return Scope(names, ctx.functions, where, not_events)

    # cadences
    max_interval: Cadence | None = None
    if rules.max_interval is not None:
        try:
            max_interval = parse_cadence(rules.max_interval)
        except ValueError as e:
            ctx.report(root + ("max_interval",), str(e))

    check_hit_policy(ctx, rules)

    # tiers
    tier_ids = [t.id for t in rules.tiers]
    default_index: int | None = None
    if rules.default_tier in tier_ids:
        default_index = tier_ids.index(rules.default_tier)
    else:
        ctx.report(root + ("default_tier",),
                   (f"default tier {rules.default_tier!r} is not one of the tiers",
                    f"默认等级 {rules.default_tier!r} 不在已定义的探访等级中"),
                   did_you_mean_both(rules.default_tier, tier_ids, (
                       "tiers: " + one_of(tier_ids),
                       "已定义的等级：" + one_of(tier_ids, words=("、", " 或 ")))))
    seen: dict[str, int] = {}
    priorities: dict[int, str] = {}
    tiers: list[_Tier] = []
    default: _Tier | None = None
    for i, t in enumerate(rules.tiers):
        path = partial(item_path, "tiers", i)
        if t.id in seen:
            ctx.report(path("id"), (f"tier id {t.id!r} is used twice (first in tier "
                                    f"{seen[t.id] + 1})",
                                    f"等级编号 {t.id!r} 用了两次（第一次在第 {seen[t.id] + 1} "
                                    f"个等级）"))
        seen.setdefault(t.id, i)
        is_default = i == default_index
        try:
            cadence = parse_cadence(t.cadence)
        except ValueError as e:
            ctx.report(path("cadence"), str(e))
            cadence = None
        if cadence is not None and max_interval is not None and \
                cadence.approx_days > max_interval.approx_days:
            ctx.report(path("cadence"),
                       (f"tier {t.id!r} visits {cadence.describe()} ({t.cadence}, about "
                        f"{cadence.approx_days:.1f} days), longer than max_interval "
                        f"{max_interval.text!r} ({max_interval.describe()}, about "
                        f"{max_interval.approx_days:.1f} days)",
                        f"等级 {t.id!r} {cadence.describe('zh')}探访一次（{t.cadence}，约 "
                        f"{cadence.approx_days:.1f} 天），超过了最长间隔 max_interval "
                        f"{max_interval.text!r}（{max_interval.describe('zh')}，约 "
                        f"{max_interval.approx_days:.1f} 天）"),
                       ("shorten the cadence, or raise max_interval",
                        "请缩短探访周期，或放宽 max_interval"))
        if rules.hit_policy in RANKED:
            if not is_default and t.priority is None:
                ctx.report(path(), (f"tier {t.id!r} needs a priority (hit_policy = "
                                    f"{rules.hit_policy!r})",
                                    f"等级 {t.id!r} 需要写优先级 priority（hit_policy = "
                                    f"{rules.hit_policy!r}）"),
                           ("add priority = <number>; the highest matching priority wins",
                            "请加上 priority = <数字>；命中的等级中优先级最高的生效")
                           if rules.hit_policy == "priority" else
                           ("add priority = <number>; the matching tiers are listed by it, "
                            "highest first, and the household placed in the first",
                            "请加上 priority = <数字>；命中的等级按它从高到低列出，住户归入第一个"),
                           value=False)
            elif not is_default and t.priority is not None:
                if t.priority in priorities:
                    ctx.report(path("priority"),
                               (f"tiers {priorities[t.priority]!r} and {t.id!r} have the same "
                                f"priority {t.priority}",
                                f"等级 {priorities[t.priority]!r} 和 {t.id!r} 的优先级相同"
                                f"（{t.priority}）"),
                               ("give each tier its own priority", "请给每个等级不同的优先级"))
                else:
                    priorities[t.priority] = t.id
        elif t.priority is not None:
            ctx.report(path("priority"), ("priority is only used with hit_policy = "
                                          "'priority' or 'output order'",
                                          "只有 hit_policy = 'priority' 或 'output order' 时才用"
                                          "优先级 priority"),
                       (f"remove it, or set hit_policy = \"priority\" (now "
                        f"{rules.hit_policy!r})",
                        f"请删去它，或设 hit_policy = \"priority\"（现在是 {rules.hit_policy!r}）"),
                       value=False)
        when: Expression | None = None
        if is_default and t.when is not None:
            ctx.report(path("when"), (f"the default tier {t.id!r} cannot have a condition: "
                                      f"it applies when no other tier does",
                                      f"默认等级 {t.id!r} 不能有条件：没有其他等级命中时才用它"),
                       ("remove 'when', or make another tier the default_tier",
                        "请删去“when”，或把另一个等级设为 default_tier"), value=False)
        elif not is_default and t.when is None:
            ctx.report(path(), (f"tier {t.id!r} needs a 'when' condition (only the default tier "
                                f"{rules.default_tier!r} has none)",
                                f"等级 {t.id!r} 需要“when”条件（只有默认等级 "
                                f"{rules.default_tier!r} 没有条件）"), value=False)
        elif t.when is not None:
            when = ctx.expression(path("when"), t.when, scope(f"visit tier {t.id!r}"),
                                  Type.BOOL)
            _refuse_plugin_calls(ctx, path("when"), f"visit tier {t.id!r}", when)
        if cadence is None:
            continue
        if cadence.approx_days < care.WEEK_DAYS and (is_default or when is not None) and \
                (why := care.cadence_problem(None if when is None else when.node, concepts)):
            ctx.report(path("cadence"), (f"tier {t.id!r} visits {cadence.describe()} "
                                         f"({t.cadence}): {why[0]}",
                                         f"等级 {t.id!r} {cadence.describe('zh')}探访一次"
                                         f"（{t.cadence}）：{why[2]}"), (why[1], why[3]))
        compiled = _Tier(i, t.id, t.label, t.label_en, when, cadence, t.priority)
        if is_default:
            default = compiled
        elif when is not None:
            tiers.append(compiled)

    # triggers
    triggers: list[_Trigger] = []
    trigger_ids: dict[str, int] = {}
    for i, tr in enumerate(rules.triggers):
        tpath = partial(item_path, "triggers", i)
        if tr.id in trigger_ids:
            ctx.report(tpath("id"), (f"trigger id {tr.id!r} is used twice (first in "
                                     f"trigger {trigger_ids[tr.id] + 1})",
                                     f"触发条件编号 {tr.id!r} 用了两次（第一次在第 "
                                     f"{trigger_ids[tr.id] + 1} 个触发条件）"))
        trigger_ids.setdefault(tr.id, i)
        where = f"visit trigger {tr.id!r}"
        event = ctx.expression(tpath("event"), tr.event, event_scope(where), Type.DATE)
        if event is not None and not any(isinstance(n, Name) for n in walk(event.node)):
            ctx.report(tpath("event"), (f"{where}: the event {tr.event!r} reads no care event",
                                        f"触发条件 {tr.id!r}：事件 {tr.event!r} "
                                        f"没有读取任何照护事件"),
                       care.EVENT_FIX)
        cond = ctx.expression(tpath("when"), tr.when, scope(where), Type.BOOL)
        _refuse_plugin_calls(ctx, tpath("event"), where, event)
        _refuse_plugin_calls(ctx, tpath("when"), where, cond)
        if event is not None and cond is not None:
            triggers.append(_Trigger(tr.id, tr.label, tr.label_en, event, cond,
                                     tr.within_days))

    _check_overlaps(ctx, tiers, kinds)
    return VisitsScheme(ctx.model, rules, ctx.ref, tiers, default, triggers, facts,
                        ctx.functions)


# --- steps 2 and 3 as a plan ---------------------------------------------------------------

#: The plan input holding the last visit as given (null: never visited). Its name cannot be
#: a fact's; ``last_visit`` (what expressions read) is the same date with "never" for null.
LAST_GIVEN = "last visit"

#: The first character of every plan step's name: no fact's name starts so.
STEP = "$"

#: The plan's outputs, in order, before the per-trigger and per-tier ones (see Trace).
TRACE_FIELDS = ("failed", "tier", "tier_failed", "tier_error", "unique_violation",
                "trigger_error", "cadence_due", "next_due", "overdue", "due_rule", "codes",
                "fired_ids")


#: The outputs a scored decision holds (``_fast`` computes only these, and the steps
#: they need): failed, the tier, the next due date, overdue, the codes, the triggers.
EAGER_FIELDS = ("failed", "tier", "next_due", "overdue", "codes", "fired_ids")


class Trace(tuple[Any, ...]):
    """What the visits plan computed for one household, as the flat tuple both engines
    give (the per-record function returns it; batch builds it from the plan's columns):
    ``TRACE_FIELDS``, then per trigger whether it fired, its event date and deadline,
    then (hit policy "priority") per tier whether its condition held. What the reasons'
    templates (``VisitsScheme.words``) are rendered over, by either engine, so both word
    the same sentences."""

    __slots__ = ()


def _trace_index(n_triggers: int) -> tuple[int, int, int, int]:
    """Where the fired flags, events, deadlines and tier flags start in a trace."""
    fired = len(TRACE_FIELDS)
    return fired, fired + n_triggers, fired + 2 * n_triggers, fired + 3 * n_triggers


def due_rule_order(triggers: Sequence[_Trigger]) -> tuple[int, ...]:
    """Trigger indexes in the order of their rule names: on a tie of due dates, the rule
    whose name sorts first is the one the due date follows (the cadence's or the record's
    own sort before every trigger's: 'record.' and 'visits.tiers.' < 'visits.triggers.')."""
    return tuple(sorted(range(len(triggers)), key=lambda j: f"visits.triggers.{triggers[j].id}"))


def visits_plan(tiers: Sequence[_Tier], default: _Tier, triggers: Sequence[_Trigger],
                hit_policy: str, aggregation: str | None = None) -> Plan:
    """Steps 2 and 3 of the module docstring as one plan over the facts the conditions
    read, ``as_of``, ``last_visit`` (never: ``NEVER``) and ``LAST_GIVEN`` (nullable).

    The tier is a :class:`FirstTrue` over the conditions (in priority order for
    "priority", mapped back to policy order by a :class:`Pick`), so a policy of
    thousands of tiers is a flat list of columns, never a chain nested per tier. A
    condition that cannot be computed rejects the record where the per-record order
    would have reached it: under "first" only before the first tier that holds."""
    read: dict[str, Type] = {}
    exprs = [t.when for t in tiers if t.when is not None]
    exprs += [e for tr in triggers for e in (tr.when, tr.event)]
    for e in exprs:
        for node in walk(e.node):
            if isinstance(node, Name) and node.name not in BUILTIN_NAMES:
                read.setdefault(node.name, node.type)
    inputs = (*(Input(name, t) for name, t in read.items()), Input("as_of", Type.DATE),
              Input("last_visit", Type.DATE), Input(LAST_GIVEN, Type.DATE, nullable=True))
    as_of, since, last = Ref("as_of"), Ref("last_visit"), Ref(LAST_GIVEN)
    n, k = len(tiers), len(triggers)
    steps: list[Let] = []
    add = steps.append
    # step 2: the tier
    conds = [Ref(f"$c{i}") for i in range(n)]
    for i, t in enumerate(tiers):
        assert t.when is not None
        add(Let(conds[i].name, Expr(t.when.node)))
        add(Let(f"$e{i}", Failed((conds[i].name,))))
    add(Let("$tier_error", FirstTrue(tuple(Ref(f"$e{i}") for i in range(n)))))
    # the hit policy's steps (plan.hit, DMN's semantic written once): the chosen tier
    # is "$tier", a violated unique / any is "$unique_violation"
    steps.extend(hit_steps(tier_table(tiers, conds, hit_policy, aggregation), "$hit.",
                           {"chosen": "$tier", "violation": "$unique_violation"},
                           want=("chosen", "violation"))[0])
    violation: Operand = Ref("$unique_violation")
    if hit_policy == "first":  # a condition is computed only while none before it held
        add(Let("$tier_failed", Cmp("<", Ref("$tier_error"), Ref("$tier"), if_null=True)))
    else:
        add(Let("$tier_failed", Cmp("<", Ref("$tier_error"), Lit(n, Type.INT))))
    # step 3: the cadence's due date (one date per distinct cadence, picked by tier)
    all_tiers = [*tiers, default]
    cadences = list(dict.fromkeys((t.cadence.months, t.cadence.days) for t in all_tiers))
    if len(cadences) == 1:
        months, days = cadences[0]
        add(Let("$cadence_due", AddPeriod(last, months=months, days=days)))
    else:
        for c, (months, days) in enumerate(cadences):
            add(Let(f"$after{c}", AddPeriod(last, months=months, days=days)))
        add(Let("$cadence_of", Pick(Ref("$tier"), tuple(
            Lit(cadences.index((t.cadence.months, t.cadence.days)), Type.INT)
            for t in all_tiers))))
        add(Let("$cadence_due", Pick(Ref("$cadence_of"), tuple(
            Ref(f"$after{c}") for c in range(len(cadences))))))
    add(Let("$never", IsNull(last)))
    add(Let("$base_due", IfElse(Ref("$never"), as_of, Ref("$cadence_due"))))
    # triggers: the event is computed only where the trigger's condition holds
    fails: list[Operand] = []
    fired: list[Ref] = []
    events: list[Ref] = []
    deadlines: list[Ref] = []
    dues: list[Ref] = []
    for j, tr in enumerate(triggers):
        holds: Operand = Lit(True, Type.BOOL)
        parts: list[Operand] = []
        if not _always_true(tr.when):
            add(Let(f"$tc{j}", Expr(tr.when.node)))
            add(Let(f"$tce{j}", Failed((f"$tc{j}",))))
            holds = Ref(f"$tc{j}")
            parts.append(Ref(f"$tce{j}"))
        plain = isinstance(tr.event.node, Name)  # a fact's date: nothing can fail
        add(Let(f"$ev{j}", Expr(tr.event.node, capture=not plain)))
        if not plain:
            add(Let(f"$eve{j}", Failed((f"$ev{j}",))))
            add(Let(f"$evf{j}", All((holds, Ref(f"$eve{j}")))))
            parts.append(Ref(f"$evf{j}"))
        add(Let(f"$tf{j}", AnyOf(tuple(parts))))
        fails.append(Ref(f"$tf{j}"))
        ev = Ref(f"$ev{j}")
        add(Let(f"$since{j}", Cmp("<", since, ev)))
        add(Let(f"$by{j}", Cmp("<=", ev, as_of)))
        add(Let(f"$fired{j}", All((holds, Ref(f"$since{j}"), Ref(f"$by{j}")))))
        add(Let(f"$deadline{j}", AddPeriod(ev, days=tr.within_days)))
        add(Let(f"$due{j}", IfElse(Ref(f"$fired{j}"), Ref(f"$deadline{j}"),
                                  Lit(None, Type.DATE))))
        fired.append(Ref(f"$fired{j}"))
        events.append(ev)
        deadlines.append(Ref(f"$deadline{j}"))
        dues.append(Ref(f"$due{j}"))
    add(Let("$trigger_error", FirstTrue(tuple(fails))))
    add(Let("$trigger_failed", Cmp("<", Ref("$trigger_error"), Lit(k, Type.INT))))
    add(Let("$failed", AnyOf((Ref("$tier_failed"), violation, Ref("$trigger_failed")))))
    add(Let("$next_due", Least((Ref("$base_due"), *dues))))
    add(Let("$overdue", Cmp("<", Ref("$next_due"), as_of)))
    # which rule the due date follows (for OVERDUE): the first in rule-name order
    add(Let("$is_base", Cmp("==", Ref("$base_due"), Ref("$next_due"))))
    by_name = due_rule_order(triggers)
    for j in by_name:
        add(Let(f"$is{j}", Cmp("==", dues[j], Ref("$next_due"))))
    add(Let("$due_rule", FirstTrue((Ref("$is_base"), *(Ref(f"$is{j}") for j in by_name)))))
    add(Let("$is_default", Cmp("==", Ref("$tier"), Lit(n, Type.INT))))
    add(Let("$matched", Not(Ref("$is_default"))))
    add(Let("$visited", Not(Ref("$never"))))
    add(Let("$codes", Codes((
        (Ref("$is_default"), "DEFAULT_TIER"), (Ref("$matched"), "TIER_MATCHED"),
        (Ref("$never"), "NEVER_VISITED"), (Ref("$visited"), "CADENCE"),
        *((f, "TRIGGER") for f in fired), (Ref("$overdue"), "OVERDUE")))))
    add(Let("$fired_ids", Codes(tuple((f, tr.id) for f, tr in zip(fired, triggers,
                                                                  strict=True)))))
    outputs = (*(STEP + f for f in TRACE_FIELDS), *(f.name for f in fired),
               *(e.name for e in events), *(d.name for d in deadlines),
               *((c.name for c in conds) if hit_policy in NOTED else ()))
    return Plan(inputs, tuple(steps), outputs)
