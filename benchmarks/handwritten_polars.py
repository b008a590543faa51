"""Hand-written polars baselines of karamay's volunteer points and liaison appraisal.

Like the visits and civility queries in ``bench.py``, these hard-code the rules of
ONE policy, ``karamay`` (plugins/civicscore-karamay, which extends
src/civicscore/policies/baseline.toml), as an application without civicscore would
write them; they are not generated from the TOML. If karamay's rules change, the
correctness checks of the benchmark fail loudly and the constants below must be
updated by hand.

Why they are shaped this way:

* **Exact decimals, in integers.** Points and totals are fixed-point integers,
  rounded ROUND_HALF_UP at the places the policy states, so that they equal the
  same calculation done with Python's ``decimal`` module (the team-wide rule of
  issue 10): 4.725 points round to 4.73, a total of 92.82 / 96 / 94.35 is 90.00.
  A float read from the input, or computed by one of the policy's ``value``
  expressions (which stay IEEE doubles), is taken at its shortest spelling
  (``Decimal(repr(x))``): polars' Float64 -> String cast gives exactly those digits,
  and ``str.to_decimal(scale=17)`` then ``to_physical()`` gives the scaled Int128.
  17 decimals hold every double in [0.1, 100] exactly; the appraisal's linear
  normalisations clamp everything below their floor of 60 anyway.
* **No Python per row.** Sequential rules (a volunteer's overlaps and hour caps,
  the appraisal quota) are sorts, segmented scans and one fixpoint loop over
  columns; reason codes are picked from small tables of the possible lists by an
  integer of flags (``concat_list`` of when/then columns is an order of magnitude
  slower in polars 2.1), except for the rare rejected subjects, whose lists are
  built on that small subset.
* **Reason codes, not sentences.** Like the visits and civility baselines these
  produce reason codes and no worded reasons: civicscore's figure pays for the
  words as well, so the comparison favours the baseline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import polars as pl


@dataclass
class BatchOutput:
    """What a batch run returns: civicscore's ``res`` shape, for either implementation."""

    output: pl.DataFrame
    rejected: pl.DataFrame
    details: pl.DataFrame = field(default_factory=pl.DataFrame)


def source_frame(source: Any) -> pl.LazyFrame:
    if isinstance(source, pl.LazyFrame):
        return source
    if isinstance(source, pl.DataFrame):
        return source.lazy()
    return pl.scan_parquet(source)


def bits(*flags: str) -> pl.Expr:
    """Boolean columns -> one small integer, flag i worth 2**i."""
    return pl.sum_horizontal(pl.col(f).cast(pl.UInt32) * (1 << i) for i, f in enumerate(flags))


def lookup(lists: Sequence[Sequence[str]] | pl.Series, key: pl.Expr) -> pl.Expr:
    """``lists[key]`` for every row: reason codes are a function of a few flags, so the
    few possible lists are written once and picked by index (polars' concat_list of
    when/then columns is an order of magnitude slower)."""
    table = lists if isinstance(lists, pl.Series) else code_table(tuple(map(tuple, lists)))
    return pl.lit(table).gather(key)


@lru_cache(maxsize=64)
def code_table(lists: tuple[tuple[str, ...], ...]) -> pl.Series:
    """The possible reason-code lists as a List(String) Series, built once per process
    (as an application builds its constant tables once)."""
    return pl.Series(list(map(list, lists)), dtype=pl.List(pl.String))


def _codes(names: Sequence[str], k: int) -> list[str]:
    return [name for i, name in enumerate(names) if k >> i & 1]


def _missing(c: pl.Expr) -> pl.Expr:
    return (c.is_null() | (c.cast(pl.String) == "")).fill_null(True)


def segmented_cumsum(x: pl.Expr, first: pl.Expr) -> pl.Expr:
    """Running sum of ``x`` restarting wherever ``first`` holds (rows sorted by segment):
    one global cumulative sum minus its value where the segment began, no group-by."""
    total = x.cum_sum()
    return total - pl.when(first).then(total - x).forward_fill()


def divide(x: pl.Expr, by: float) -> pl.Expr:
    """``x / by`` as IEEE division. polars divides a column by a *scalar* by multiplying
    with its reciprocal (``7971 / 100`` gives 79.71000000000001); by a column it divides."""
    return x.cast(pl.Float64) / (pl.int_range(pl.len()).cast(pl.Float64) * 0.0 + by)


def _hundredths(text: str) -> int:
    """A rate, coefficient or factor as written in the TOML, in exact hundredths."""
    v = Decimal(text) * 100
    assert v == v.to_integral_value(), text
    return int(v)


# =============================================================================================
# Volunteer points (karamay: the baseline's rules plus two activities)
# =============================================================================================

#: activity -> (points per hour, points per event), in hundredths of a point.
VOLUNTEER_RATES: dict[str, tuple[int | None, int | None]] = {
    "general": (_hundredths("1"), None),
    "patrol": (_hundredths("1"), None),
    "cleanup": (_hundredths("1"), None),
    "elder_care": (_hundredths("1"), None),
    "anti_fraud_outreach": (None, _hundredths("2")),
    "care_liaison_visit": (_hundredths("1"), None),
    "elder_alliance_service": (_hundredths("1"), None),
}
#: activity -> its category's coefficient, in hundredths (every category: 1).
VOLUNTEER_COEFFICIENTS = {a: _hundredths("1") for a in VOLUNTEER_RATES}
#: activity -> max_hours per record, in minutes (none of karamay's activities has one).
VOLUNTEER_MAX_MINUTES: dict[str, int] = {}
HOLIDAY_FACTOR = _hundredths("2")  # multiplier public_holiday: is_holiday(date) and not remote
ROUNDING_MINUTES = 30  # rounded down
HOURS_PER_DAY_MIN = 8 * 60
HOURS_PER_MONTH_MIN = 120 * 60
SUBMISSION_WINDOW_DAYS = 30
POINT_EXPIRY = "36mo"
POINTS_SCALE = 100  # points_decimals = 2
#: star levels: (minutes of service, label), hours 100/300/600/1000/1500.
STAR_LEVELS = ((100 * 60, "一星志愿者"), (300 * 60, "二星志愿者"), (600 * 60, "三星志愿者"),
               (1000 * 60, "四星志愿者"), (1500 * 60, "五星志愿者"))
HOLIDAY_COUNTRY = "CN"

#: step-1 checks: (flag column, reason code), in civicscore's order.
_VOLUNTEER_CHECKS = (
    ("_m_rid", "MISSING_FIELD"), ("_m_vid", "MISSING_FIELD"), ("_m_act", "MISSING_FIELD"),
    ("_m_start", "MISSING_FIELD"), ("_m_end", "MISSING_FIELD"), ("_m_sub", "MISSING_FIELD"),
    ("_dup", "DUPLICATE_RECORD"), ("_unknown", "UNKNOWN_ACTIVITY"),
    ("_end_le", "END_NOT_AFTER_START"), ("_after", "AFTER_AS_OF"),
    ("_unconfirmed", "NOT_CONFIRMED"), ("_sub_before", "SUBMITTED_BEFORE_END"),
    ("_late", "LATE_SUBMISSION"),
)
#: reason-code bits of a scored record; RATE always comes after the hour codes.
_HOUR_CODES = ("ROUNDING", "MAX_HOURS", "CAP_HOURS_DAY", "CAP_HOURS_MONTH")
_POINT_CODES = ("COEFFICIENT", "MULTIPLIER", "ROUNDING_POINTS")

_US_PER_MIN = 60_000_000
_I64_MIN = -(2**63)


@lru_cache(maxsize=1)
def _scored_codes() -> pl.Series:
    return code_table(tuple((*_codes(_HOUR_CODES, k & 15), "RATE", *_codes(_POINT_CODES, k >> 4))
                            for k in range(128)))


@lru_cache(maxsize=1)
def _rejected_codes() -> pl.Series:
    names = [code for _, code in _VOLUNTEER_CHECKS]
    return code_table(tuple(tuple(_codes(names, k)) for k in range(1 << len(names))))


@lru_cache(maxsize=16)
def _holidays(years: tuple[int, ...]) -> pl.Series:
    """The national holidays of those years, built once per process (as civicscore's
    calendar is)."""
    import holidays  # the national calendar an application would use too

    days = holidays.country_holidays(HOLIDAY_COUNTRY, years=list(years))
    return pl.Series(sorted(days), dtype=pl.Date)


def _overlap_accepted(c: pl.DataFrame) -> pl.Series:
    """Which candidates survive overlap = "reject": a record starting before the latest
    end among its volunteer's earlier *accepted* records is rejected (and so does not
    push that end further). ``c`` is sorted by (volunteer, start, end, record id).

    The latest earlier accepted end is a segmented running maximum; with an Int128 key
    ``segment * 2**64 + (end - i64 min)`` it is one global ``cum_max``. Starting from
    "every candidate accepted", ``S <- F(S)`` reaches the sequential answer (record k
    depends only on records before it); only volunteers with a rejection in the first
    pass need more passes.
    """
    seg = pl.col("_seg").cast(pl.Int128) * (1 << 64)

    def accepted(frame: pl.DataFrame, acc: pl.Series) -> pl.Series:
        prev_acc_end = pl.when(pl.col("_first_v")).then(_I64_MIN).otherwise(
            pl.when(pl.lit(acc).shift(1)).then(pl.col("_end_us").shift(1))
            .otherwise(_I64_MIN))
        key = seg + (prev_acc_end.cast(pl.Int128) - _I64_MIN)
        latest = key.cum_max() - seg + _I64_MIN
        return frame.select(pl.col("_start_us") >= latest).to_series()

    acc = accepted(c, pl.Series([True] * c.height))
    if acc.all():
        return acc
    unsettled = c.select(pl.col("_seg").is_in(
        pl.col("_seg").filter(~pl.lit(acc)).unique().implode())).to_series()
    sub = c.filter(unsettled)
    sub_acc = acc.filter(unsettled)
    while True:
        new = accepted(sub, sub_acc)
        if new.equals(sub_acc):
            break
        sub_acc = new
    return acc.scatter(unsettled.arg_true(), sub_acc)


def karamay_volunteer_polars(source: Any, as_of: dt.date, policy_hash: str = "") -> BatchOutput:
    """Karamay's volunteer points for a whole frame of activity records, by hand.

    ``output`` holds the statements (one per volunteer), ``details`` the records (one
    per input row), as civicscore's per-record ``output_rows`` / ``detail_rows``.
    """
    a = pl.lit(as_of, dtype=pl.Date)
    rid, vid, act = pl.col("record_id"), pl.col("volunteer_id"), pl.col("activity")
    start = pl.col("start").cast(pl.Datetime("us"))
    end = pl.col("end").cast(pl.Datetime("us"))
    sub = pl.col("submitted_at").cast(pl.Datetime("us"))
    checks = [c for c, _ in _VOLUNTEER_CHECKS]
    full = source_frame(source).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row"),
        _missing(rid).alias("_m_rid"), _missing(vid).alias("_m_vid"),
        _missing(act).alias("_m_act"), start.is_null().alias("_m_start"),
        end.is_null().alias("_m_end"), sub.is_null().alias("_m_sub"),
        (~_missing(rid) & ~rid.is_first_distinct()).fill_null(False).alias("_dup"),
        (~_missing(act) & ~act.is_in(list(VOLUNTEER_RATES))).fill_null(False)
        .alias("_unknown"),
        (end <= start).fill_null(False).alias("_end_le"),
        (end.dt.date() > a).fill_null(False).alias("_after"),
        (~pl.col("confirmed").fill_null(False)).alias("_unconfirmed"),
        (sub < end).fill_null(False).alias("_sub_before"),
        ((sub >= end) & ((sub.dt.date() - end.dt.date()).dt.total_days()
                         > SUBMISSION_WINDOW_DAYS)).fill_null(False).alias("_late"),
    ).with_columns(
        pl.any_horizontal(*checks).alias("_rejected"),
        pl.when(_missing(rid)).then(pl.format("row {}", pl.col("row"))).otherwise(rid)
        .alias("record_id"),
        vid.fill_null("").alias("volunteer_id"), act.fill_null("").alias("activity"),
        start.dt.date().alias("date"),
    ).collect()

    rejected = full.lazy().filter("_rejected").select(
        "row", "record_id", "volunteer_id", "activity", "date",
        pl.lit("rejected").alias("status"), pl.lit(0, dtype=pl.Int64).alias("_service"),
        pl.lit(0, dtype=pl.Int64).alias("_final"), pl.lit(0, dtype=pl.Int64).alias("_units"),
        pl.lit(None, dtype=pl.Date).alias("expires_on"),
        lookup(_rejected_codes(), bits(*checks)).alias("reason_codes"),
    )

    # steps 2-4: a volunteer's records in (start, end, record id) order
    cand = full.lazy().filter(~pl.col("_rejected")).select(
        "row", "record_id", "volunteer_id", "activity", "date",
        start.alias("start"), end.alias("end"),
        pl.col("remote").fill_null(False).alias("remote") if "remote" in full.columns
        else pl.lit(False).alias("remote"),
    ).sort("volunteer_id", "start", "end", "record_id").with_columns(
        pl.col("start").cast(pl.Int64).alias("_start_us"),
        pl.col("end").cast(pl.Int64).alias("_end_us"),
        (pl.col("volunteer_id") != pl.col("volunteer_id").shift(1)).fill_null(True)
        .alias("_first_v"),
    ).with_columns(pl.col("_first_v").cum_sum().alias("_seg")).collect()
    acc = _overlap_accepted(cand)
    overlaps = cand.lazy().filter(~pl.lit(acc)).select(
        "row", "record_id", "volunteer_id", "activity", "date",
        pl.lit("rejected").alias("status"), pl.lit(0, dtype=pl.Int64).alias("_service"),
        pl.lit(0, dtype=pl.Int64).alias("_final"), pl.lit(0, dtype=pl.Int64).alias("_units"),
        pl.lit(None, dtype=pl.Date).alias("expires_on"),
        pl.lit(["OVERLAP"], dtype=pl.List(pl.String)).alias("reason_codes"),
    )

    years = tuple(range(cand["date"].min().year, cand["date"].max().year + 1)) \
        if cand.height else (as_of.year,)
    day, month = pl.col("date"), pl.col("date").dt.year() * 12 + pl.col("date").dt.month()
    first_v = pl.col("volunteer_id") != pl.col("volunteer_id").shift(1)
    first_day = (first_v | (day != day.shift(1))).fill_null(True)
    first_month = (first_v | (month != month.shift(1))).fill_null(True)
    unit_us = ROUNDING_MINUTES * _US_PER_MIN
    dur = pl.col("_end_us") - pl.col("_start_us")
    max_min = act.replace_strict(VOLUNTEER_MAX_MINUTES, default=None, return_dtype=pl.Int64)
    day_cap, month_cap = HOURS_PER_DAY_MIN, HOURS_PER_MONTH_MIN
    scored = cand.lazy().filter(pl.lit(acc)).with_columns(
        (dur // unit_us * ROUNDING_MINUTES).alias("_service"),
        first_day.alias("_first_day"), first_month.alias("_first_month"),
    ).with_columns(
        (pl.col("_service") * _US_PER_MIN != dur).alias("_rounded"),
        pl.min_horizontal("_service", max_min).alias("_c"),
    ).with_columns(
        (pl.col("_c") < pl.col("_service")).alias("_maxed"),
        segmented_cumsum(pl.col("_c"), pl.col("_first_day")).alias("_cum_day"),
    ).with_columns(  # the day cap telescopes: capped amounts sum to min(cumsum, cap)
        (pl.col("_cum_day").clip(upper_bound=day_cap)
         - (pl.col("_cum_day") - pl.col("_c")).clip(upper_bound=day_cap)).alias("_d"),
    ).with_columns(
        segmented_cumsum(pl.col("_d"), pl.col("_first_month")).alias("_cum_month"),
    ).with_columns(
        (pl.col("_cum_month").clip(upper_bound=month_cap)
         - (pl.col("_cum_month") - pl.col("_d")).clip(upper_bound=month_cap)).alias("_final"),
    ).with_columns(
        # Once the month cap binds, the day's later records find more of the day cap left
        # than the telescoped sums say (the day counts what was finally counted), so the
        # codes are read from the final amounts: usage before each record, then its caps.
        (pl.lit(day_cap) - (segmented_cumsum(pl.col("_final"), pl.col("_first_day"))
                            - pl.col("_final"))).clip(lower_bound=0).alias("_day_left"),
        (pl.lit(month_cap) - (segmented_cumsum(pl.col("_final"), pl.col("_first_month"))
                              - pl.col("_final"))).clip(lower_bound=0).alias("_month_left"),
    ).with_columns(
        (pl.col("_c") > pl.col("_day_left")).alias("_cap_day"),
        (pl.min_horizontal("_c", "_day_left") > pl.col("_month_left")).alias("_cap_month"),
        (pl.col("date").is_in(pl.lit(_holidays(years)).implode()) & ~pl.col("remote"))
        .alias("_holiday"),
        act.replace_strict({k: v[0] for k, v in VOLUNTEER_RATES.items()}, default=None,
                           return_dtype=pl.Int64).alias("_per_hour"),
        act.replace_strict({k: v[1] for k, v in VOLUNTEER_RATES.items()}, default=None,
                           return_dtype=pl.Int64).alias("_per_event"),
        act.replace_strict(VOLUNTEER_COEFFICIENTS, default=None, return_dtype=pl.Int64)
        .alias("_coef"),
    ).with_columns(
        pl.when("_holiday").then(HOLIDAY_FACTOR).otherwise(100).alias("_factor"),
    ).with_columns(
        # points x 100 as an exact fraction num / den: rates, coefficients and factors are
        # in hundredths, minutes / 60 are hours
        pl.when(pl.col("_per_hour").is_not_null())
        .then(pl.col("_per_hour") * pl.col("_final") * pl.col("_coef") * pl.col("_factor"))
        .otherwise(pl.col("_per_event") * pl.col("_coef") * pl.col("_factor")).alias("_num"),
        pl.when(pl.col("_per_hour").is_not_null()).then(60 * 100**3 // POINTS_SCALE)
        .otherwise(100**3 // POINTS_SCALE).alias("_den"),
    ).with_columns(
        ((2 * pl.col("_num") + pl.col("_den")) // (2 * pl.col("_den"))).alias("_units"),
        (pl.col("_num") % pl.col("_den") != 0).alias("_rounded_points"),
        (pl.col("_coef") != 100).alias("_coefficient"),
    ).select(
        "row", "record_id", "volunteer_id", "activity", "date",
        pl.lit("scored").alias("status"), "_service", "_final", "_units",
        pl.when(pl.col("_units") > 0).then(pl.col("end").dt.date().dt.offset_by(POINT_EXPIRY))
        .alias("expires_on"),
        lookup(_scored_codes(), bits("_rounded", "_maxed", "_cap_day", "_cap_month",
                                          "_coefficient", "_holiday", "_rounded_points"))
        .alias("reason_codes"),
    )
    records = pl.concat([rejected, overlaps, scored]).sort("row").collect()

    # step 5: statements (no redemptions in the benchmark), from integer totals
    is_scored = pl.col("status") == "scored"
    level = pl.sum_horizontal(*((pl.col("_minutes") >= m).cast(pl.Int64)
                                for m, _ in STAR_LEVELS))
    statements = records.lazy().filter(pl.col("volunteer_id") != "").group_by(
        "volunteer_id").agg(
        pl.col("_units").filter(is_scored).sum().alias("_earned"),
        pl.col("_units").filter(is_scored & (pl.col("expires_on") <= a)).sum()
        .alias("_expired"),
        pl.col("_service").filter(is_scored).sum().alias("_minutes"),
        is_scored.sum().cast(pl.Int64).alias("records_scored"),
        (~is_scored).sum().cast(pl.Int64).alias("records_rejected"),
    ).with_columns(level.alias("star_level")).select(
        "volunteer_id", a.alias("as_of"),
        divide(pl.col("_earned"), POINTS_SCALE).alias("earned"),
        divide(pl.col("_expired"), POINTS_SCALE).alias("expired"),
        pl.lit(0.0).alias("redeemed"),
        divide(pl.col("_earned") - pl.col("_expired"), POINTS_SCALE).alias("balance"),
        divide(pl.col("_minutes"), 60).round(6).alias("hours"),
        "star_level",
        pl.col("star_level").replace_strict(
            {i: label for i, label in enumerate(["", *(lb for _, lb in STAR_LEVELS)])},
            return_dtype=pl.String).alias("star_label"),
        "records_scored", "records_rejected",
        lookup([[*(["STAR_LEVEL"] if k & 1 else []), *(["NEXT_STAR"] if k & 2 else []),
                 *(["EXPIRED"] if k & 4 else [])] for k in range(8)],
               (pl.col("star_level") > 0).cast(pl.UInt32)
               + 2 * (pl.col("star_level") < len(STAR_LEVELS)).cast(pl.UInt32)
               + 4 * (pl.col("_expired") > 0).cast(pl.UInt32)).alias("reason_codes"),
        pl.lit(policy_hash).alias("policy_hash"),
    ).sort("volunteer_id").collect()

    details = records.select(
        "row", "record_id", "volunteer_id", "activity", "date", "status",
        divide(pl.col("_service"), 60).alias("service_hours"),
        divide(pl.col("_final"), 60).alias("counted_hours"),
        divide(pl.col("_units"), POINTS_SCALE).alias("points"), "expires_on", "reason_codes",
        pl.lit(policy_hash).alias("policy_hash"))
    rejected_rows = details.filter(pl.col("status") == "rejected").select(
        pl.lit("activities").alias("input"), "row", pl.col("record_id").alias("id"),
        "reason_codes")
    return BatchOutput(statements, rejected_rows, details)


# =============================================================================================
# Appraisal of the care liaisons (karamay's "five hundreds" scorecard)
# =============================================================================================

#: the subject facts in declaration order: (name, type, required, min, max).
APPRAISAL_FACTS: tuple[tuple[str, str, bool, int | None, int | None], ...] = (
    ("tasks_completed_pct", "decimal", True, 0, 100),
    ("requests_resolved_pct", "decimal", True, 0, 100),
    ("satisfaction_staff", "decimal", True, 0, 100),
    ("satisfaction_users", "decimal", True, 0, 100),
    ("satisfaction_departments", "decimal", True, 0, 100),
    ("satisfaction_leaders", "decimal", True, 0, 100),
    ("major_safety_incidents", "int", False, 0, None),
    ("financial_irregularities", "bool", False, None, None),
    ("grid_households", "int", True, 1, 2000),
    ("households_visited", "int", True, 0, None),
    ("households_known", "int", True, 0, None),
    ("difficulties_reported", "int", False, 0, None),
    ("difficulties_solved", "int", False, 0, None),
    ("privacy_breaches", "int", False, 0, None),
)
_VETOES = ("major_safety_incident", "financial_irregularity", "privacy_breach")
#: grades best first: (id, label, minimum total in cents).
_GRADES = (("excellent", "优秀", 9000), ("good", "良好", 8000), ("pass", "合格", 6000),
           ("fail", "不合格", 0))
_N_INDICATORS = 6
_E = 10**17  # raw values at 17 decimals (Int128)


def _i128(v: int) -> pl.Expr:
    return pl.lit(v, dtype=pl.Int128)


def _exact(c: pl.Expr) -> pl.Expr:
    """A float at its shortest spelling, as an Int128 of 10**-17 units."""
    return c.cast(pl.Float64).cast(pl.String).str.to_decimal(scale=17).to_physical()


def _share(count: pl.Expr, of: pl.Expr) -> pl.Expr:
    """``100 * min(count, of) / of``, an IEEE double as the policy's expression gives it."""
    return (100 * pl.min_horizontal(count, of)).cast(pl.Float64) / of.cast(pl.Float64)


def _cents_exact(c: Any) -> pl.Expr:
    """The total in cents, exactly: sum of normalised x weight x group weight, half-up.

    In units of 10**-18 points, a linear task indicator (floor 60, target 100, weight
    0.2 x 0.8) weighs ``clamp(raw - 60, 0, 40) x 100/40 x 0.16 = 4 x clamp(...)`` of its
    10**-17 units, a thresholds or bands score s weighs ``s x 0.16``, and the satisfaction
    mean ``S / 15`` (S = 3 staff + 6 users + 3 departments + 3 leaders) weighs
    ``clamp(S / 15 - 60, 0, 40) x 2.5 x 0.2 = clamp(S - 900, 0, 600) / 3``: so three times
    the total is an integer N3 and cents = half-up(N3 / (3 x 10**16)).
    """
    def lin(raw: pl.Expr) -> pl.Expr:
        return (raw - _i128(60 * _E)).clip(_i128(0), _i128(40 * _E)) * 4

    tasks = (lin(_exact(c("tasks_completed_pct"))) + lin(_exact(c("_knock")))
             + lin(_exact(c("_know")))
             + (c("_affairs") + c("_solve")).cast(pl.Int128) * _i128(16 * 10**16))
    s = (3 * _exact(c("satisfaction_staff")) + 6 * _exact(c("satisfaction_users"))
         + 3 * _exact(c("satisfaction_departments")) + 3 * _exact(c("satisfaction_leaders")))
    n3 = 3 * tasks + (s - _i128(900 * _E)).clip(_i128(0), _i128(600 * _E))
    return ((2 * n3 + _i128(3 * 10**16)) // _i128(6 * 10**16)).cast(pl.Int64)


def _cents_float(c: Any) -> pl.Expr:
    """The total as civicscore on main computes it (floats summed indicator by indicator,
    then its round_half_up rule): used only to diagnose the known float bug, never timed."""
    def lin(raw: pl.Expr) -> pl.Expr:
        return divide((raw.cast(pl.Float64) - 60.0) * 100, 40.0).clip(0.0, 100.0)

    def w(score: pl.Expr, weight: float, group: float) -> pl.Expr:
        return (score.cast(pl.Float64) * weight) * group

    mean = divide((((3.0 * c("satisfaction_staff")) + 6.0 * c("satisfaction_users"))
             + 3.0 * c("satisfaction_departments")) + 3.0 * c("satisfaction_leaders"), 15.0)
    total = (((((w(lin(c("tasks_completed_pct")), 0.2, 0.8) + w(lin(c("_knock")), 0.2, 0.8))
                + w(lin(c("_know")), 0.2, 0.8)) + w(c("_affairs"), 0.2, 0.8))
              + w(c("_solve"), 0.2, 0.8)) + w(lin(mean), 1.0, 0.2))
    k = (total.abs() * 100.0).floor()
    r = pl.when(total.abs() >= divide(k + 0.5, 100.0)).then(k + 1.0).otherwise(k)
    return r.cast(pl.Int64)


def karamay_appraisal_polars(source: Any, as_of: dt.date, policy_hash: str = "", *,
                             float_totals: bool = False) -> BatchOutput:
    """Karamay's appraisal of care liaisons for a whole cohort, by hand.

    ``float_totals`` swaps the exact total for a replica of civicscore-on-main's float
    sum, to tell the known float bug from a real disagreement; it is never timed.
    """
    c = pl.col
    sid = c("subject_id")
    checks: list[tuple[str, str, pl.Expr]] = [
        ("_m_sid", "MISSING_FIELD", _missing(sid)),
        ("_dup", "DUPLICATE_RECORD",
         (~_missing(sid) & ~sid.is_first_distinct()).fill_null(False)),
    ]
    for name, kind, required, lo, hi in APPRAISAL_FACTS:
        if required:
            checks.append((f"_m_{name}", "MISSING_FIELD", c(name).is_null()))
        if kind != "bool":
            bad = pl.lit(False)
            if lo is not None:
                bad = bad | (c(name) < lo)
            if hi is not None:
                bad = bad | (c(name) > hi)
            checks.append((f"_r_{name}", "OUT_OF_RANGE", bad.fill_null(False)))
    flags = [f for f, _, _ in checks]

    def zero(name: str) -> pl.Expr:
        return c(name).fill_null(0)

    full = source_frame(source).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row"),
        *(expr.alias(f) for f, _, expr in checks),
    ).with_columns(
        pl.any_horizontal(*flags).alias("_rejected"),
        pl.when(_missing(sid)).then(pl.format("row {}", c("row"))).otherwise(sid)
        .alias("subject_id"),
    ).collect()
    rejected = full.lazy().filter("_rejected").select(
        "row", "subject_id", pl.lit("rejected").alias("status"),
        pl.lit(None, dtype=pl.Int64).alias("_cents"),
        pl.concat_list([pl.when(f).then(pl.lit(code)) for f, code, _ in checks])
        .list.drop_nulls().alias("reason_codes"),
        pl.lit(0, dtype=pl.UInt32).alias("_vetoes"),
        pl.lit(False).alias("_vetoed"), pl.lit("").alias("computed_grade"),
    )

    rr = c("requests_resolved_pct")
    reported = zero("difficulties_reported")
    solve = pl.when(reported > 0).then(_share(zero("difficulties_solved"), reported)) \
        .otherwise(100.0)
    scored = full.lazy().filter(~c("_rejected")).with_columns(
        _share(c("households_visited"), c("grid_households")).alias("_knock"),
        _share(c("households_known"), c("grid_households")).alias("_know"),
        # thresholds: the highest step reached (every raw >= 0 reaches the step at 0)
        pl.when(rr >= 95).then(100).when(rr >= 85).then(85).when(rr >= 70).then(70)
        .when(rr >= 0).then(40).otherwise(0).alias("_affairs"),
        # bands [from, to), the last one closed (the solved share is always in 0..100)
        pl.when((solve >= 0) & (solve < 60)).then(40).when((solve >= 60) & (solve < 80))
        .then(70).when((solve >= 80) & (solve < 95)).then(85)
        .when((solve >= 95) & (solve <= 100)).then(100).otherwise(0).alias("_solve"),
        (zero("major_safety_incidents") > 0).alias("_v0"),
        c("financial_irregularities").fill_null(False).alias("_v1"),
        (zero("privacy_breaches") > 0).alias("_v2"),
    ).with_columns(
        (_cents_float(c) if float_totals else _cents_exact(c)).alias("_cents"),
        bits("_v0", "_v1", "_v2").alias("_vetoes"),
    ).select(
        "row", "subject_id", pl.lit("scored").alias("status"), "_cents",
        pl.lit(None, dtype=pl.List(pl.String)).alias("reason_codes"), "_vetoes",
        (c("_vetoes") > 0).alias("_vetoed"),
        pl.when(c("_cents") >= _GRADES[0][2]).then(pl.lit(_GRADES[0][0]))
        .when(c("_cents") >= _GRADES[1][2]).then(pl.lit(_GRADES[1][0]))
        .when(c("_cents") >= _GRADES[2][2]).then(pl.lit(_GRADES[2][0]))
        .otherwise(pl.lit(_GRADES[3][0])).alias("computed_grade"),
    )
    frame = pl.concat([rejected, scored]).sort("row").collect()

    # the quota: at most floor(0.2 x cohort) of the scored subjects stay excellent; the
    # candidates (scored, not vetoed, banded excellent) ranked by total (higher first),
    # then subject id; vetoed subjects take no place
    cohort = int((frame["status"] == "scored").sum())
    places = cohort // 5  # floor(Decimal("0.2") x cohort), exactly
    is_candidate = (c("status") == "scored") & ~c("_vetoed") & (c("computed_grade")
                                                               == "excellent")
    ranks = frame.lazy().filter(is_candidate).select(
        "row", c("_cents"), "subject_id").sort(
        ["_cents", "subject_id"], descending=[True, False]).select(
        "row", pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("rank")).collect()
    rank = pl.Series("rank", [None] * frame.height, dtype=pl.Int64).scatter(
        ranks["row"] - 1, ranks["rank"])
    quota = (pl.when(c("rank").is_null()).then(0).when(c("rank") <= places).then(1)
             .otherwise(2).cast(pl.UInt32))
    grade = (pl.when(c("status") != "scored").then(pl.lit(""))
             .when(c("_vetoed")).then(pl.lit(_GRADES[-1][0]))
             .when(quota == 2).then(pl.lit(_GRADES[1][0])).otherwise(c("computed_grade")))
    labels = {g: label for g, label, _ in _GRADES} | {"": ""}
    scored_codes = [["INDICATOR"] * _N_INDICATORS + ["TOTAL", "GRADE"]
                    + ["VETO"] * bin(k & 7).count("1")
                    + [[], ["QUOTA_KEPT"], ["QUOTA_DEMOTED"]][k >> 3] for k in range(24)]
    output = frame.lazy().with_columns(rank).with_columns(
        grade.alias("grade"),
    ).select(
        "row", "subject_id", "status",
        divide(c("_cents"), 100).alias("total"),
        "computed_grade", "grade",
        c("grade").replace_strict(labels, return_dtype=pl.String).alias("grade_label"),
        "rank",
        lookup([_codes(_VETOES, k) for k in range(8)], c("_vetoes")).alias("vetoed"),
        (c("_vetoed") | (quota == 2)).alias("needs_confirmation"),
        pl.when(c("status") == "scored").then(
            lookup(scored_codes, c("_vetoes") + 8 * quota)).otherwise(c("reason_codes"))
        .alias("reason_codes"),
        pl.lit(policy_hash).alias("policy_hash"),
    ).collect()
    rejected_rows = output.filter(pl.col("status") == "rejected").select(
        pl.lit("subjects").alias("input"), "row", pl.col("subject_id").alias("id"),
        "reason_codes")
    return BatchOutput(output, rejected_rows)
