"""The words of a scored volunteer record's reasons, written once as templates.

Every sentence ``VolunteerScheme.scored_reasons`` says (ROUNDING, MAX_HOURS, the
four caps, RATE, COEFFICIENT, MULTIPLIER, ROUNDING_POINTS) is a
``plan.words`` template built here once from the compiled policy: activity,
category and multiplier labels, condition texts, rates, coefficients and
factors in force (one item per dated version) are literals in the templates;
the amounts a record's decision produced are slots over its trace columns
(:data:`TRACE_COLUMNS`). The per-record engine renders a template over one
trace row (``Words.render``), the batch engine renders the same entries over a
frame (``say_frame``), so both give the same words by construction.

How amounts are shown: as today, ``f"{x:g}"`` of the float ``units / scale``
(hours: ``minutes / 60``), the shortest float of an exact quotient. Both
engines put that float in the trace (batch: :func:`quotient`, IEEE division
of two exactly representable integers, which is the correctly rounded
quotient Python's ``int / int`` gives; the rare larger operands go through
Python) and show it with ``plan.words``' "fact" way (``:g`` for a float). Dates
are shown as ``str(date)`` ("text"), the month as ``YYYY-MM``
(:func:`month_text`, a text column in batch, mapped once per distinct month).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ... import record_words as rw
from ...plan.words import Choose, Entry, Say, Slot, Words
from ...policy.dated import DatedValue

if TYPE_CHECKING:  # polars is the optional batch extra
    import polars as pl

    from ...policy.model import Volunteer

#: The trace columns the templates read, what each holds (both engines fill them).
TRACE_COLUMNS = {
    "k_round": "service time was rounded (ROUNDING)",
    "raw_minutes": "float: microseconds served / 60e6",
    "service": "int: service minutes after rounding",
    "max_at": "int | None: the MAX_HOURS item (activity) where max_hours cut, else None",
    "max_h": "float: max_hours limit in hours", "service_h": "float: service hours",
    "day": "date: the record's day", "month": "text: YYYY-MM of the day",
    "rate_at": "int: the RATE item (activity, rate version in force)",
    "counted_h": "float: counted hours", "base_points": "float: rate x counted hours",
    "coef_at": "int | None: the COEFFICIENT item (category, version) where not 1",
    "k_rp": "the points were rounded (ROUNDING_POINTS)",
    "rp_points": "float: the exact points", "rp_units": "float: rounded points",
    **{f"k_{c}": f"the cap {c} cut" for c in ("hd", "hm", "pd", "pm")},
    **{f"{c}_{w}": f"float: {w} of cap {c}" for c in ("hd", "hm", "pd", "pm")
       for w in ("left", "limit", "amount")},
}

#: The caps in the order they are applied: (name, reason code, noun, per day).
CAPS = (("hd", "CAP_HOURS_DAY", "counted hours", True),
        ("hm", "CAP_HOURS_MONTH", "counted hours", False),
        ("pd", "CAP_POINTS_DAY", "points", True),
        ("pm", "CAP_POINTS_MONTH", "points", False))


def month_text(day: dt.date) -> str:
    """The month of ``day`` as the cap reasons write it: ``2025-03``."""
    return f"{day.year}-{day.month:02d}"


def version(value: DatedValue, day: dt.date) -> int:
    """Which of ``value``'s dated versions is in force on ``day`` (it must be in force)."""
    return bisect.bisect_right(value.starts, day) - 1


def _g_points(n: float) -> str:
    return f"{n:g} point" + ("" if n == 1 else "s")


def _label(obj: Any, fallback: str) -> str:
    return str(getattr(obj, "label", "") or fallback)


@dataclass(frozen=True)
class VolunteerWords:
    """The templates of one compiled volunteer policy, and where each item sits.

    ``rate_items[(activity, version)]``, ``coef_items[(category, version)]`` and
    ``max_items[activity]`` are indexes into the items of the RATE, COEFFICIENT and
    MAX_HOURS ``Choose`` entries; multiplier ``i``'s items are its factor versions."""

    rounding: Words | None
    max_hours: tuple[Words, ...]
    max_items: Mapping[str, int]
    caps: Mapping[str, Words]
    rate: tuple[Words, ...]
    rate_items: Mapping[tuple[str, int], int]
    coefficient: tuple[Words, ...]
    coef_items: Mapping[tuple[str, int], int]
    multipliers: tuple[tuple[Words, ...], ...]
    rounding_points: Words

    @staticmethod
    def of(rules: Volunteer, activities: Mapping[str, Any],
           multipliers: Sequence[Any], lang: str = "en") -> VolunteerWords:
        """The templates, from the policy (``_Activity`` and ``_Multiplier`` objects), in
        ``lang`` (``en`` or ``zh``: the same entries and slots, worded in that language)."""
        say = _ZH if lang == "zh" else _EN
        unit = rules.rounding_minutes
        rounding = None if unit <= 1 else say.rounding(unit, rules.rounding)
        max_hours: list[Words] = []
        max_items: dict[str, int] = {}
        rate: list[Words] = []
        rate_items: dict[tuple[str, int], int] = {}
        for a in activities.values():
            if a.max_hours is not None:
                max_items[a.id] = len(max_hours)
                max_hours.append(say.max_hours(a.label))
            per = a.per_event if a.per_event is not None else a.per_hour
            for i, v in enumerate(per.values):
                rate_items[(a.id, i)] = len(rate)
                rate.append(say.per_event(a.label, v) if a.per_event is not None
                            else say.per_hour(a.label, v))
        coefficient: list[Words] = []
        coef_items: dict[tuple[str, int], int] = {}
        for name, cat in rules.categories.items():
            for i, v in enumerate(cat.coefficient.values):
                coef_items[(name, i)] = len(coefficient)
                coefficient.append(say.coefficient(_label(cat, name), v))
        caps = {name: say.cap(name, noun, per_day) for name, _, noun, per_day in CAPS}
        mult = tuple(tuple(say.multiplier(_label(m, m.id), m.when.text, f)
                           for f in m.factor.values) for m in multipliers)
        return VolunteerWords(rounding, tuple(max_hours), max_items, caps, tuple(rate),
                              rate_items, tuple(coefficient), coef_items, mult,
                              say.rounding_points(rules.points_decimals))

    def entries(self) -> tuple[tuple[str, Entry], ...]:
        """Every reason of a scored record as (code, entry), in the order
        ``scored_reasons`` says them (the batch engine renders these)."""
        out: list[tuple[str, Entry]] = []
        if self.rounding is not None:
            out.append(("ROUNDING", Say(self.rounding, "k_round")))
        if self.max_hours:
            out.append(("MAX_HOURS", Choose("max_at", self.max_hours)))
        out += [(code, Say(self.caps[name], f"k_{name}")) for name, code, _, _ in CAPS[:2]]
        out.append(("RATE", Choose("rate_at", self.rate)))
        if self.coefficient:
            out.append(("COEFFICIENT", Choose("coef_at", self.coefficient)))
        out += [("MULTIPLIER", Choose(f"mult{i}_at", items))
                for i, items in enumerate(self.multipliers)]
        out.append(("ROUNDING_POINTS", Say(self.rounding_points, "k_rp")))
        out += [(code, Say(self.caps[name], f"k_{name}")) for name, code, _, _ in CAPS[2:]]
        return tuple(out)


# --- the sentences, per language ------------------------------------------------------
#
# The structure of :meth:`VolunteerWords.of` (which items, where) is written once; each
# language's sentences read the same slots.

def _cap_en(name: str, noun: str, per_day: bool) -> Words:
    return Words.of(
        "only ", Slot(f"{name}_left", "fact"), " of the ", Slot(f"{name}_limit", "fact"),
        f" {noun} allowed ", "on " if per_day else "in ",
        Slot("day", "text") if per_day else Slot("month", "text"), " were left; ",
        Slot(f"{name}_amount", "fact"), " reduced to ", Slot(f"{name}_left", "fact"))


_NOUN_ZH = {"counted hours": "计入小时", "points": "积分"}


def _cap_zh(name: str, noun: str, per_day: bool) -> Words:
    return Words.of(
        Slot("day", "text") if per_day else Slot("month", "text"),
        " 当日" if per_day else " 当月", "允许的 ", Slot(f"{name}_limit", "fact"),
        f" {_NOUN_ZH[noun]}只剩 ", Slot(f"{name}_left", "fact"), "；",
        Slot(f"{name}_amount", "fact"), " 减为 ", Slot(f"{name}_left", "fact"))


@dataclass(frozen=True)
class _Sentences:
    """One language's sentences of a scored record."""

    rounding: Callable[[int, str], Words]  # the unit in minutes, the rounding rule
    max_hours: Callable[[str], Words]  # the activity's label
    per_event: Callable[[str, float], Words]
    per_hour: Callable[[str, float], Words]
    coefficient: Callable[[str, float], Words]  # the category's label, the coefficient
    cap: Callable[[str, str, bool], Words]  # the cap, its noun, whether per day
    multiplier: Callable[[str, str, float], Words]  # label, condition, factor
    rounding_points: Callable[[int], Words]  # the decimals


_ROUNDING_ZH = {"down": "不足一个单位的舍去", "nearest": "四舍五入到最近的单位",
                "up": "不足一个单位的按一个单位计"}

_EN = _Sentences(
    rounding=lambda unit, how: Words.of(
        Slot("raw_minutes", "fact"), " minutes of service counted as ", Slot("service", "int"),
        f" minutes ({unit}-minute units, rounded {how})"),
    max_hours=lambda label: Words.of(
        "at most ", Slot("max_h", "fact"), f" hours of {label} count per record; ",
        Slot("service_h", "fact"), " were served"),
    per_event=lambda label, v: Words.of(f"{label}: {_g_points(v)} per event"),
    per_hour=lambda label, v: Words.of(
        f"{label}: {_g_points(v)} per hour x ", Slot("counted_h", "fact"),
        " counted hours = ", Slot("base_points", "fact")),
    coefficient=lambda label, v: Words.of(f"category {label}: x{v:g}"),
    cap=_cap_en,
    multiplier=lambda label, when, f: Words.of(f"{label} applies ({when}): x{f:g}"),
    rounding_points=lambda d: Words.of(
        Slot("rp_points", "fact"), " points rounded half-up to ", Slot("rp_units", "fact"),
        f" ({d} decimals)"))

_ZH = _Sentences(
    rounding=lambda unit, how: Words.of(
        Slot("raw_minutes", "fact"), " 分钟的服务按 ", Slot("service", "int"),
        f" 分钟计（每 {unit} 分钟为一个单位，{_ROUNDING_ZH.get(how, how)}）"),
    max_hours=lambda label: Words.of(
        f"{label}每条记录最多计 ", Slot("max_h", "fact"), " 小时；实际服务 ",
        Slot("service_h", "fact"), " 小时"),
    per_event=lambda label, v: Words.of(f"{label}：每次 {v:g} 分"),
    per_hour=lambda label, v: Words.of(
        f"{label}：每小时 {v:g} 分 x ", Slot("counted_h", "fact"), " 计入小时 = ",
        Slot("base_points", "fact")),
    coefficient=lambda label, v: Words.of(f"类别 {label}：x{v:g}"),
    cap=_cap_zh,
    multiplier=lambda label, when, f: Words.of(f"{label}适用（{when}）：x{f:g}"),
    rounding_points=lambda d: Words.of(
        Slot("rp_points", "fact"), " 分四舍五入为 ", Slot("rp_units", "fact"),
        f"（保留 {d} 位小数）"))


def code_entries(entries: Sequence[tuple[str, Entry]]) -> tuple[Entry, ...]:
    """The reason codes as entries said exactly where the reasons are said."""
    out: list[Entry] = []
    for code, e in entries:
        if isinstance(e, Say):
            out.append(Say(Words.of(code), e.when))
        else:
            out.append(Choose(e.index, tuple(Words.of(code) for _ in e.items)))
    return tuple(out)


# --- batch helpers ---------------------------------------------------------------------

_SAFE = 2**53


def quotient(num: pl.Series, den: pl.Series) -> pl.Series:
    """``num / den`` of two integer columns as Python's ``int / int`` gives it (the
    correctly rounded float): IEEE division where both are exact as floats, Python for
    the other rows (nulls stay null)."""
    import polars as pl

    n, d = num.cast(pl.Float64), den.cast(pl.Float64)
    out = n / d
    if _within(num) and _within(den):  # the usual case: no row needs Python
        return out
    big = ((num.abs() > _SAFE) | (den.abs() > _SAFE)).fill_null(False)
    if big.any():
        at = big.arg_true()
        slow = [None if a is None or b is None else int(a) / int(b)
                for a, b in zip(num.gather(at).to_list(), den.gather(at).to_list(),
                                strict=True)]
        out = out.scatter(at, pl.Series(slow, dtype=pl.Float64))
    return out


def _within(s: pl.Series) -> bool:
    """Whether every value of an integer column is exact as a float (``|v| <= 2**53``),
    from its least and greatest value alone."""
    low, high = s.min(), s.max()
    return low is None or (-_SAFE <= int(low) and int(high) <= _SAFE)  # type: ignore[arg-type]


def month_column(day: pl.Series) -> pl.Series:
    """:func:`month_text` of every date, once per distinct month."""
    import polars as pl

    first = day.dt.truncate("1mo")
    distinct = first.unique().drop_nulls()
    table = pl.DataFrame({"__d": distinct, "__t": pl.Series(
        [month_text(d) for d in distinct.to_list()], dtype=pl.String)})
    return pl.DataFrame({"__d": first}).join(table, on="__d", how="left",
                                             maintain_order="left")["__t"]


def version_expr(value: DatedValue, day: pl.Expr) -> pl.Expr:
    """:func:`version` as a polars expression (rows where it is in force)."""
    import polars as pl

    out: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for start in value.starts[1:]:
        out = out + (day >= pl.lit(start, dtype=pl.Date)).cast(pl.Int64)
    return out


# --- step 1: the rejections of a record on its own ------------------------------------


@dataclass(frozen=True)
class CheckWords:
    """The sentences of step 1's rejections that quote the record's values (both engines
    render them): ``label`` is how the record is named ("record <id>", or "row N" before
    its id is known), datetimes and dates are shown as ``str()`` writes them.
    ``rate_not_in_force[activity]`` is the item of the RATE_NOT_IN_FORCE ``Choose``."""

    duplicate: Words
    unknown_activity: Words
    end_not_after_start: Words
    after_as_of: Words
    not_confirmed: Words
    submitted_before_end: Words
    late_submission: Words | None
    rate_not_in_force: tuple[Words, ...]
    rate_items: Mapping[str, int]

    @staticmethod
    def of(rules: Volunteer, activities: Mapping[str, Any], lang: str = "en") -> CheckWords:
        """The sentences in ``lang`` (``label`` then holds the record's name in it:
        ``record_words.who``): the structure once, each language's words from
        :data:`_CHECKS`, the sentences every scheme says from ``record_words``."""
        words = _CHECKS[lang]
        label = Slot("label", "text")
        window = rules.submission_window_days

        def sentence(name: str, *slots: Slot, **values: Any) -> Words:
            """The record's name, then ``name``'s texts (``values`` filled in) and
            ``slots`` in turn."""
            texts = iter(t.format(**values) for t in words[name])
            parts: list[str | Slot] = [label, next(texts)]
            for slot in slots:
                parts += [slot, next(texts)]
            return Words.of(*parts)

        nif: list[Words] = []
        items: dict[str, int] = {}
        for a in activities.values():
            for rate in (a.per_hour, a.per_event):
                if rate is not None and a.id not in items:
                    items[a.id] = len(nif)
                    nif.append(sentence("rate_not_in_force", Slot("day", "text"), id=a.id,
                                        start=rate.starts[0]))

        return CheckWords(
            duplicate=rw.words("duplicate", lang, {
                "thing": "record", "thing_zh": rw.THINGS_ZH["record"],
                "id": Slot("rid", "text"), "first": Slot("first", "int")}),
            unknown_activity=sentence("unknown_activity", Slot("unknown", "text")),
            end_not_after_start=sentence("end_not_after_start", Slot("end", "text"),
                                         Slot("start", "text")),
            after_as_of=rw.words("after_as_of", lang, {
                "who": label, "what": "ends on", "what_zh": AFTER_AS_OF_ZH,
                "day": Slot("end_day", "text"), "as_of": Slot("as_of", "text")}),
            not_confirmed=sentence("not_confirmed"),
            submitted_before_end=sentence("submitted_before_end", Slot("submitted", "text"),
                                          Slot("end", "text")),
            late_submission=None if window is None else sentence(
                "late_submission", Slot("late", "int"), window=window),
            rate_not_in_force=tuple(nif), rate_items=items)

    def entries(self) -> tuple[tuple[str, Entry], ...]:
        """Step 1's value checks as (code, entry), in the order ``_check_record`` makes
        them, said where the flag column ``k_<code>`` holds (a record whose fields all
        parsed; the others are worded by the per-record code)."""
        out: list[tuple[str, Entry]] = [
            ("DUPLICATE_RECORD", Say(self.duplicate, "k_dup")),
            ("UNKNOWN_ACTIVITY", Say(self.unknown_activity, "k_unknown")),
            ("END_NOT_AFTER_START", Say(self.end_not_after_start, "k_order")),
            ("AFTER_AS_OF", Say(self.after_as_of, "k_after")),
            ("NOT_CONFIRMED", Say(self.not_confirmed, "k_unconfirmed")),
            ("SUBMITTED_BEFORE_END", Say(self.submitted_before_end, "k_early"))]
        if self.late_submission is not None:
            out.append(("LATE_SUBMISSION", Say(self.late_submission, "k_late")))
        if self.rate_not_in_force:
            out.append(("RATE_NOT_IN_FORCE", Choose("nif_at", self.rate_not_in_force)))
        return tuple(out)


#: Step 1's sentences of an activity record, per language: the literal text between the
#: record's name and each slot, in order (see ``CheckWords.of``); ``{id}``, ``{start}``
#: and ``{window}`` are the policy's values, filled in once.
_CHECKS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "rate_not_in_force": (": activity '{id}' has no rate in force on ",
                              " (its first rate starts {start})"),
        "unknown_activity": (": unknown activity ", ""),
        "end_not_after_start": (": ends (", ") at or before it starts (", ")"),
        "not_confirmed": (": not confirmed by the organiser",),
        "submitted_before_end": (": submitted (", ") before the activity ended (", ")"),
        "late_submission": (": submitted ", " days after the activity; the window is "
                                             "{window} days"),
    },
    "zh": {
        "rate_not_in_force": ("：活动“{id}”在 ",
                              " 没有生效的积分标准（最早的标准自 {start} 起生效）"),
        "unknown_activity": ("：未知的活动 ", ""),
        "end_not_after_start": ("：结束时间（", "）不晚于开始时间（", "）"),
        "not_confirmed": ("：未经组织方确认",),
        "submitted_before_end": ("：提交时间（", "）早于活动结束时间（", "）"),
        "late_submission": ("：活动结束 ", " 天后才提交；提交期限为 {window} 天"),
    },
}


def unknown_activity_text(activity_id: str, known: Mapping[str, Any], lang: str = "en"
                          ) -> str:
    """What UNKNOWN_ACTIVITY says after "unknown activity ": the id and a hint."""
    from ..._suggest import closest, one_of

    choice = closest(activity_id, known)
    if lang == "zh":
        hint = (rw.detail("did_you_mean", lang, choice=repr(choice)) if choice is not None
                else "已有的活动：" + one_of(known, words=("、", " 或 ")))
        return f"{activity_id!r}（{hint}）"
    hint = (rw.detail("did_you_mean", lang, choice=repr(choice)) if choice is not None
            else "known activities: " + one_of(known))
    return f"{activity_id!r} ({hint})"


#: What the Chinese AFTER_AS_OF sentence says of an activity's end (record_words'
#: ``after_as_of``).
AFTER_AS_OF_ZH = "结束日期为"


# --- statements ------------------------------------------------------------------------


def statement_hours(minutes: float) -> float:
    """A statement's service hours from its minutes, as it shows them (6 decimals)."""
    return round(minutes / 60, 6)


@dataclass(frozen=True)
class StatementWords:
    """The sentences of a statement: the star level reached and the next one (an item
    per star level, in order of hours), the points expired."""

    star: tuple[Words, ...]
    next_star: tuple[Words, ...]
    expired: Words
    labels: tuple[str, ...]

    @staticmethod
    def of(rules: Volunteer, stars: Sequence[Any], lang: str = "en") -> StatementWords:
        """From the star levels sorted by hours (``VolunteerScheme.stars``), in ``lang``."""
        if lang == "zh":
            return StatementWords(
                star=tuple(Words.of(Slot("hours", "fact"),
                                    f" 服务小时，达到{_label(s, f'{s.stars} 星级')}（{s.stars} 星，"
                                    f"{s.hours:g} 小时起）") for s in stars),
                next_star=tuple(Words.of("再服务 ", Slot("to_next", "fact"),
                                         f" 小时可达下一星级（{s.hours:g} 小时）")
                                for s in stars),
                expired=Words.of(Slot("expired", "fact"), f" 分已过期（获得后 "
                                 f"{rules.point_expiry_months} 个月失效）"),
                # a level's label is data (the statement's star_label), not a sentence
                labels=tuple(_label(s, f"{s.stars} stars") for s in stars))
        return StatementWords(
            star=tuple(Words.of(Slot("hours", "fact"),
                                f" service hours reach {_label(s, '')} ({s.stars} stars "
                                f"from {s.hours:g} h)") for s in stars),
            next_star=tuple(Words.of(Slot("to_next", "fact"), " more hours to the next "
                                     f"star level ({s.hours:g} h)") for s in stars),
            expired=Words.of(Slot("expired", "fact"), f" points expired "
                             f"{rules.point_expiry_months} months after they were earned"),
            labels=tuple(_label(s, f"{s.stars} stars") for s in stars))

    def entries(self) -> tuple[tuple[str, Entry], ...]:
        """(code, entry) in the order ``VolunteerScheme.statement`` says them."""
        return (("STAR_LEVEL", Choose("star_at", self.star)),
                ("NEXT_STAR", Choose("next_at", self.next_star)),
                ("EXPIRED", Say(self.expired, "k_expired")))
