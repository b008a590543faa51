"""Volunteer points in batch: the steps of ``schemes/volunteer/scheme.py``, as columns.

The result is the per-record ``VolunteerResult`` as frames: ``output`` the
statements, ``details`` every record's decision with its reasons, ``rejected``
the five columns of ``rejected_rows()`` (activities, then redemptions).

Step 1 (each record on its own) is row-wise and fully vectorised; the rows
it rejects whose fields all parsed get their codes and messages rendered in
polars from the templates ``_check_record`` renders
(``VolunteerScheme.check_words``); a row with a field that does not parse
gets its reasons from the per-record ``_check_record`` itself. Times written with different
UTC offsets are found from the offsets themselves (text, or a time-zone
column's offset per row).

Numbers are exact, as in the per-record code (see its module docstring):
service minutes are integer arithmetic on microseconds; points use
``VolunteerScheme.exact_rate`` (rate x coefficient x factors as written, a
fraction) once per distinct (activity, day, multipliers applied), turned into
Int128 fixed-point so that ``units = (2 A m + B) // (2 B)`` for m counted
minutes is the half-up rounding of the exact product (``_rate_table``). A
record beyond ``MAX_UNITS`` is unscorable, and the per-record code words its
``OUT_OF_RANGE``. A scored record's reasons are rendered from the policy's
templates (``VolunteerScheme.words``, the ones the per-record
``scored_reasons`` renders) over its trace columns (the amounts each step
produced), with no Python per row.

Steps 2-4 are sequential: a volunteer's records are taken in (start, end,
record id) order, and whether a record overlaps, and how much of a cap is
left for it, depends on which *earlier* records were scored. They run as the
generic frame ops of ``plan.scan``, which know nothing of volunteers:
``OverlapScan`` (a record starting before the latest end of the earlier
accepted ones is rejected) and ``CapScan`` twice, for the hour caps (day, then
month) on the counted minutes and for the point caps on the point units, with
the points computed between them. Each scan is exact for any windows and for
limits that change inside a window (its docstring says how). Service time and
``max_hours`` are the plan ``service_plan``, the one the per-record code runs.
A volunteer with an accepted record that cannot be scored (a parameter not in
force, an expression error, points out of range) is handed to the per-record
``_score_volunteer`` itself: such a record is rejected without counting against
the caps or the overlaps, which changes what follows it. That is rare, and the
per-record code writes those messages. Overlap rejections are worded by the
shared ``overlap_reason``.

Per-row Python runs only for rows with a field that does not parse, for
overlap rejections, for those per-record volunteers and for redemption rows;
values shown in words that polars cannot write natively are mapped once per
distinct value.

Step 5 (statements): sums of integer point units and integer minutes per
volunteer (exact, no float summation), finished as columns the way
``VolunteerScheme.statement`` finishes one (``_statement_frame``; hours by
the shared ``statement_hours``, reasons from ``statement_words``). The per-record path sums float
minutes (``counted_hours * 60``) before ``round(minutes / 60, 6)``; minutes
/ 60 is never within 1.6e-7 of a 6-decimal rounding boundary, so the exact
integer sum rounds identically. Redemptions (``extra["redemptions"]``) are
applied by the per-record ``_redeem`` on the lots of the volunteers they
name: oldest-first consumption is inherently sequential and redemptions are
few; their rows are parsed in Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TypeAlias

import polars as pl

from ... import record_words as rw
from ...batch.expr import PolarsCompiler, exact_divisor
from ...batch.frames import (
    ROW,
    UNREADABLE,
    blank,
    coerce_column,
    coerce_id,
    normal_ids,
    python_coerce,
    read_source,
    strip,
)
from ...batch.result import FRAMES, BatchResult
from ...expr.functions import FunctionTable
from ...plan.polars import with_plan
from ...plan.scan import (
    CapScan,
    OverlapScan,
    Window,
    cap_scan_frame,
    grant_column,
    left_column,
    overlap_columns,
    overlap_scan_frame,
)
from ...plan.words import say_coded
from ...policy.compile import ensure_in_effect
from ...policy.dated import DatedValue, NotInForce
from ...policy.model import FactSpec
from ...records import UnreadableRow, to_datetime
from ..base import reject_row
from .scheme import (
    APPLIED,
    MAX_UNITS,
    REJECTED,
    SCORED,
    SERVICE_OUTPUTS,
    ActivityDecision,
    RedemptionDecision,
    VolunteerScheme,
    add_months,
    half_up,
    overlap_reason,
    scaled_units,
    service_plan,
    written,
)
from .words import (
    month_column,
    quotient,
    statement_hours,
    unknown_activity_text,
    version_expr,
)

_TEXT = FactSpec(type="string")
_BOOL = FactSpec(type="bool")

_DT = pl.Datetime("us")
_F64 = pl.Float64()
_ISO_MINUTES = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}$"
#: (seconds 00-59 only: polars reads a leap second, ``23:59:60``, which Python's datetime
#: and so the per-record path refuse; such a text goes to the per-record converter)
_ISO_SECONDS = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-5][0-9]$"


#: A frame's column types (polars takes a type's class or an instance such as List(String)).
_Schema: TypeAlias = dict[str, pl.DataType | type[pl.DataType]]

#: ``ActivityDecision.to_row()`` before the policy columns and ``as_of``.
_RECORD_COLUMNS: _Schema = {
    "row": pl.Int64, "record_id": pl.String, "volunteer_id": pl.String,
    "activity": pl.String, "date": pl.Date, "status": pl.String,
    "service_hours": pl.Float64, "counted_hours": pl.Float64, "points": pl.Float64,
    "expires_on": pl.Date, "reason_codes": pl.List(pl.String),
    "reasons": pl.List(pl.String),
}
_REJECTED_SCHEMA: _Schema = {"input": pl.String, "row": pl.Int64, "id": pl.String,
                             "reason_codes": pl.List(pl.String), "reasons": pl.List(pl.String)}
_REDEMPTION_SCHEMA: _Schema = {
    "row": pl.Int64, "redemption_id": pl.String, "volunteer_id": pl.String,
    "date": pl.Date, "points": pl.Float64, "status": pl.String,
    "reason_codes": pl.List(pl.String), "reasons": pl.List(pl.String)}
#: ``Statement.to_row()``.
_STATEMENT_SCHEMA: _Schema = {
    "volunteer_id": pl.String, "as_of": pl.Date, "earned": pl.Float64,
    "expired": pl.Float64, "redeemed": pl.Float64, "balance": pl.Float64,
    "hours": pl.Float64, "star_level": pl.Int64, "star_label": pl.String,
    "records_scored": pl.Int64, "records_rejected": pl.Int64,
    "reason_codes": pl.List(pl.String), "reasons": pl.List(pl.String),
    "policy_id": pl.String, "policy_version": pl.String, "policy_hash": pl.String}


@dataclass
class VolunteerBatchResult(BatchResult):
    """A batch run of volunteer points, shaped as the per-record ``VolunteerResult``:
    ``output`` are the statements (``output_rows()``), ``details`` the decision on every
    activity record (``detail_rows()``), ``rejected`` the rejected activity and
    redemption rows (``rejected_rows()``); ``redemptions`` one row per redemption row."""

    redemptions: pl.DataFrame = field(default_factory=pl.DataFrame)

    def __post_init__(self) -> None:
        self._compact_frames((*FRAMES, "redemptions"))
        rejected = int((self.details["status"] == REJECTED).sum()) if self.details.height \
            else 0
        if self.scored_count + rejected != self.rows_in:  # pragma: no cover - a bug
            raise AssertionError(f"row conservation broken: {self.rows_in} rows in, "
                                 f"{self.scored_count} scored + {rejected} rejected")

    @property
    def scored_count(self) -> int:
        return int((self.details["status"] == SCORED).sum()) if self.details.height else 0

    def cli_frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Statements as the output, activity decisions as ``--details``: as per-record."""
        return self.output, self.details


# --- entry point ---------------------------------------------------------------------------


def score_volunteer(scheme: VolunteerScheme, source: Any, *, as_of: dt.date,
                    **extra: Any) -> VolunteerBatchResult:
    """Score every activity record of ``source`` and build the statements."""
    ensure_in_effect(scheme.model, scheme.ref, as_of)
    frame = read_source(source)
    n = frame.height
    fields = _step1(scheme, frame, as_of)
    candidates = fields.filter(pl.col("__ok")).sort("__vid", "__start", "__end", "__rid")
    candidates = _row_wise(scheme, candidates)
    settled, hard = _settle(scheme, candidates, as_of)

    # records the per-record code decides: step-1 rejections, and hard volunteers
    decisions: list[ActivityDecision] = _step1_rejections(
        scheme, frame, fields.filter(pl.col("__bad")), as_of)
    worded = _step1_worded(scheme, fields.filter(~pl.col("__ok") & ~pl.col("__bad")), as_of)
    lots: dict[str, list[list[Any]]] = {}
    if hard:
        decisions += _per_record_volunteers(scheme, frame, candidates, hard, as_of, lots)
    settled = settled.filter(~pl.col("__vid").is_in(list(hard)))
    worded = pl.concat([worded, _overlaps(settled.filter(~pl.col("__acc")), scheme.lang)])
    vector = _vector_rows(scheme, settled.filter(pl.col("__acc")))
    python_rows = _decision_frame(scheme, decisions)
    out = pl.concat([vector.drop("__end_day"), python_rows, worded]).sort("row")
    assert out.height == n, (out.height, n)

    # step 5: redemptions and statements
    lot_table = _lot_table(vector, lots)
    redemption_decisions: list[RedemptionDecision] = []
    after: dict[str, list[list[Any]]] = {}
    if extra.get("redemptions") is not None:
        redemption_decisions, after = _redeem(scheme, extra["redemptions"], lot_table, as_of)
    statements = _statements(scheme, out, lot_table, redemption_decisions, after, as_of)

    ref = scheme.ref
    details = out.drop("__units", "__minutes").with_columns(
        pl.lit(ref.id).alias("policy_id"), pl.lit(ref.version).alias("policy_version"),
        pl.lit(ref.hash).alias("policy_hash"), pl.lit(as_of, dtype=pl.Date).alias("as_of"))
    redemption_frame = pl.DataFrame([r.to_row() for r in redemption_decisions],
                                    schema=_REDEMPTION_SCHEMA)
    rejected = _rejected_frame(decisions, redemption_decisions, worded)
    return VolunteerBatchResult("volunteer", ref, as_of, statements, rejected, details, n,
                                redemptions=redemption_frame)


# --- step 1: each record on its own --------------------------------------------------------


def _datetime_column(frame: pl.DataFrame, name: str) -> tuple[pl.Series, pl.Series,
                                                                pl.Series, pl.Series]:
    """``to_datetime`` of every row: (wall-clock value, missing, bad, UTC offset in seconds
    or null when none was written). Plain ISO text and datetime columns are converted
    vectorised; anything else by ``to_datetime`` once per value."""
    n = frame.height
    offset = pl.Series([None] * n, dtype=pl.Int64)
    if name not in frame.columns:
        return (pl.Series(name, [None] * n, dtype=_DT), pl.Series([True] * n, dtype=pl.Boolean),
                pl.Series([False] * n, dtype=pl.Boolean), offset)
    raw = frame[name]
    missing = blank(raw)
    fast = pl.Series(name, [None] * n, dtype=_DT)
    if raw.dtype == pl.String:
        text = strip(raw)
        ok_year = ~text.str.starts_with("0000")
        minutes = text.str.contains(_ISO_MINUTES) & ok_year
        seconds = text.str.contains(_ISO_SECONDS) & ok_year
        iso = text.str.replace(" ", "T", literal=True)
        fast = pl.select(
            pl.when(pl.lit(minutes)).then(pl.lit(iso).str.to_datetime(
                "%Y-%m-%dT%H:%M", time_unit="us", strict=False))
            .when(pl.lit(seconds)).then(pl.lit(iso).str.to_datetime(
                "%Y-%m-%dT%H:%M:%S", time_unit="us", strict=False))
        ).to_series().cast(_DT)
    elif isinstance(raw.dtype, pl.Datetime):
        fast = (raw.dt.replace_time_zone(None) if raw.dtype.time_zone else raw).cast(_DT)
        if raw.dtype.time_zone:
            offset = (raw.dt.base_utc_offset() + raw.dt.dst_offset()).dt.total_seconds() \
                .cast(pl.Int64)
    unsure = ~missing & fast.is_null()
    bad = pl.Series([False] * n, dtype=pl.Boolean)
    value = fast
    if unsure.any():
        converted, codes = python_coerce(
            raw.filter(unsure), lambda v: to_datetime(v, "", name, keep_offset=True))
        values = converted.to_list()
        slow = pl.Series([None if v is None else v.replace(tzinfo=None) for v in values],
                         dtype=_DT)
        offsets = [None if v is None or v.utcoffset() is None
                   else int(v.utcoffset().total_seconds()) for v in values]
        value = value.scatter(unsure.arg_true(), slow)
        bad = bad.scatter(unsure.arg_true(), codes.is_not_null())
        offset = offset.scatter(unsure.arg_true(), pl.Series(offsets, dtype=pl.Int64))
    return value.alias(name), missing, bad, offset


def _step1(scheme: VolunteerScheme, frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Parsed fields and ``__ok``: the record passed every check of step 1."""
    rules = scheme.rules
    readable = frame[UNREADABLE].is_null()
    rid = coerce_id(frame, "record_id")
    vid = coerce_id(frame, "volunteer_id")
    act = coerce_column(frame, "activity", _TEXT)
    confirmed = coerce_column(frame, "confirmed", _BOOL, missing_ok=True)
    start, start_missing, start_bad, start_off = _datetime_column(frame, "start")
    end, end_missing, end_bad, end_off = _datetime_column(frame, "end")
    sub, sub_missing, sub_bad, sub_off = _datetime_column(frame, "submitted_at")
    facts = {name: coerce_column(frame, name, spec)
             for name, spec in scheme.activity_facts.items()}

    rid_ok = rid.code.is_null()
    key = pl.select(pl.when(pl.lit(rid_ok)).then(pl.lit(rid.value))
                    .otherwise(pl.format("row {}", pl.lit(frame[ROW])))).to_series()
    work = pl.DataFrame({
        ROW: frame[ROW], "__readable": readable, "__rid": key, "__vid": vid.value,
        "__act": act.value, "__start": start, "__end": end, "__sub": sub,
        "__confirmed": confirmed.value,
        **{f"__f_{name}": c.value for name, c in facts.items()},
    })
    offsets = pl.DataFrame({"s": start_off, "e": end_off, "u": sub_off})
    mixed = offsets.select(pl.any_horizontal(
        (pl.col(a) != pl.col(b)).fill_null(False)
        for a, b in (("s", "e"), ("s", "u"), ("e", "u")))).to_series()
    problems = mixed | ~readable | rid.code.is_not_null() | vid.code.is_not_null() \
        | act.code.is_not_null() | confirmed.code.is_not_null() \
        | start_missing | start_bad | end_missing | end_bad | sub_bad
    if rules.submission_window_days is not None:
        problems = problems | sub_missing
    for c in facts.values():
        problems = problems | c.code.is_not_null()
    work = work.with_columns(
        pl.col(ROW).first().over(pl.when(pl.col("__readable")).then(pl.col("__rid")))
        .alias("__first"), __bad=pl.lit(problems))
    day = pl.col("__start").dt.date()
    s, e = pl.col("__start"), pl.col("__end")
    known = pl.col("__act").is_in(list(scheme.activities))
    checks = [
        pl.col("__readable") & (pl.col("__first") != pl.col(ROW)),  # duplicate id
        ~known,
        e <= s,
        e.dt.date() > pl.lit(as_of, dtype=pl.Date),
    ]
    if rules.confirmation_required:
        checks.append(pl.col("__confirmed").is_null() | ~pl.col("__confirmed"))
    window = rules.submission_window_days
    if window is not None:
        sub_col = pl.col("__sub")
        late = (sub_col.dt.date() - e.dt.date()).dt.total_days()
        checks.append(sub_col < e)
        checks.append(late > window)
    for rate_name in ("per_hour", "per_event"):
        for a in scheme.activities.values():
            rate: DatedValue | None = getattr(a, rate_name)
            if rate is not None and rate.starts[0] > dt.date.min:
                checks.append((pl.col("__act") == a.id) & (day < pl.lit(rate.starts[0])))
    fail = pl.col("__bad")
    for check in checks:
        fail = fail | check.fill_null(False)
    return work.with_columns(__ok=~fail, __day=day)


def _step1_worded(scheme: VolunteerScheme, f: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The decision columns of the rows step 1 rejects whose fields all parsed (``f``):
    their codes and messages rendered from the templates ``_check_record`` renders
    (``VolunteerScheme.check_words``), with no Python per row."""
    rules, words, lang = scheme.rules, scheme.check_words, scheme.lang
    day, s, e = pl.col("__day"), pl.col("__start"), pl.col("__end")
    known = pl.col("__act").is_in(list(scheme.activities))
    early = pl.lit(False)
    late = pl.lit(False)
    window = rules.submission_window_days
    if window is not None:
        early = pl.col("__sub") < e
        late = ~early & ((pl.col("__sub").dt.date() - e.dt.date()).dt.total_days() > window)
    nif: dict[str, pl.Expr] = {}
    for a in scheme.activities.values():
        rate = a.per_hour if a.per_hour is not None else a.per_event
        if rate is not None and rate.starts[0] > dt.date.min:
            nif[a.id] = pl.when(day < pl.lit(rate.starts[0], dtype=pl.Date)).then(
                pl.lit(words.rate_items[a.id], dtype=pl.Int64))
    distinct = f.filter(~known)["__act"].unique().to_list()
    unknown = pl.DataFrame({"__act": pl.Series(distinct, dtype=pl.String), "unknown": pl.Series(
        [unknown_activity_text(a, scheme.activities, lang) for a in distinct],
        dtype=pl.String)})
    trace = f.join(unknown, on="__act", how="left", maintain_order="left").select(
        ROW, "__vid", "__act", rw.who_expr(pl.col("__rid"), lang).alias("label"),
        pl.col("__rid").alias("rid"), pl.col("__first").alias("first"), "unknown",
        s.alias("start"), e.alias("end"), e.dt.date().alias("end_day"),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"), pl.col("__sub").alias("submitted"),
        (pl.col("__sub").dt.date() - e.dt.date()).dt.total_days().alias("late"),
        day.alias("day"),
        (pl.col("__first") != pl.col(ROW)).alias("k_dup"), (~known).alias("k_unknown"),
        (e <= s).alias("k_order"), (e.dt.date() > pl.lit(as_of, dtype=pl.Date)).alias("k_after"),
        (pl.lit(rules.confirmation_required)
         & (pl.col("__confirmed").is_null() | ~pl.col("__confirmed"))).alias("k_unconfirmed"),
        early.alias("k_early"), late.alias("k_late"),
        _by_activity(scheme, nif, pl.lit(None, dtype=pl.Int64)).cast(pl.Int64).alias("nif_at"))
    codes, reasons = say_coded(words.entries(), trace)
    return _rejected_columns(trace, "rid", "day", codes, reasons)


_DECIDED: _Schema = {**_RECORD_COLUMNS, "__units": pl.Int64, "__minutes": pl.Int64}


def _rejected_columns(f: pl.DataFrame, rid: str, day: str, codes: pl.Expr | pl.Series,
                      reasons: pl.Expr | pl.Series) -> pl.DataFrame:
    """The decision columns of rejected rows of ``f`` (``_reject``'s: nothing counted),
    with their record id and day columns, reason codes and messages."""
    zero = pl.lit(0.0)
    return f.select(
        pl.col(ROW).alias("row"), pl.col(rid).alias("record_id"),
        pl.col("__vid").alias("volunteer_id"), pl.col("__act").alias("activity"),
        pl.col(day).alias("date"), pl.lit(REJECTED).alias("status"),
        zero.alias("service_hours"), zero.alias("counted_hours"), zero.alias("points"),
        pl.lit(None, dtype=pl.Date).alias("expires_on"),
        codes, reasons, pl.lit(0, dtype=pl.Int64).alias("__units"),
        pl.lit(0, dtype=pl.Int64).alias("__minutes"),
    ).cast(pl.Schema(_DECIDED))


def _step1_rejections(scheme: VolunteerScheme, frame: pl.DataFrame, fields: pl.DataFrame,
                      as_of: dt.date) -> list[ActivityDecision]:
    """The per-record decisions of the rows step 1 rejects for a field that did not parse
    (``fields``; their reasons word for word, by ``_check_record``)."""
    rejected = pl.col(ROW).is_in(fields[ROW].implode())
    if not fields.height:
        return []
    subset = frame.filter(rejected)
    keys = fields["__rid"].to_list()
    firsts = fields["__first"].to_list()
    out: list[ActivityDecision] = []
    for record, k, first in zip(subset.iter_rows(named=True), keys, firsts, strict=True):
        row = record.pop(ROW)
        seen = {k: first} if first is not None and first != row else {}
        d = scheme._check_record(row, _item(row, record), as_of, seen)
        if not isinstance(d, ActivityDecision):  # pragma: no cover - evaluators disagree
            raise AssertionError(f"row {row}: batch rejected it in step 1, per-record did not")
        out.append(d)
    return out


def _item(row: int, record: dict[str, Any]) -> Any:
    """A frame row as the per-record path reads it."""
    message = record.pop(UNREADABLE, None)
    if message is not None:
        return UnreadableRow(row, message)
    return {f: v for f, v in record.items() if v is not None}


# --- steps 2-4: row-wise parts -------------------------------------------------------------


def _dated(value: DatedValue, day: pl.Expr, convert: Any = float,
           dtype: pl.DataType = _F64) -> tuple[pl.Expr, pl.Expr]:
    """The (converted) value in force on ``day``, null before the first; and 'not in force'."""
    expr: pl.Expr = pl.lit(None, dtype=dtype)
    for start, v in zip(value.starts, value.values, strict=True):
        expr = pl.when(day >= pl.lit(start, dtype=pl.Date)).then(
            pl.lit(convert(v), dtype=dtype)).otherwise(expr)
    return expr, day < pl.lit(value.starts[0], dtype=pl.Date)


def _by_activity(scheme: VolunteerScheme, parts: Mapping[str, pl.Expr],
                 default: pl.Expr) -> pl.Expr:
    chain: Any = None
    for aid, e in parts.items():
        cond = pl.col("__act") == aid
        chain = pl.when(cond).then(e) if chain is None else chain.when(cond).then(e)
    return default if chain is None else chain.otherwise(default)


def _row_wise(scheme: VolunteerScheme, c: pl.DataFrame) -> pl.DataFrame:
    """Service minutes, max_hours, rates, coefficients, cap limits and factors in force."""
    rules, day = scheme.rules, pl.col("__day")
    micros = (pl.col("__end") - pl.col("__start")).dt.total_microseconds().cast(pl.Int64)
    c = c.with_columns(__micros=micros)
    cols: dict[str, pl.Expr] = {}
    mh: dict[str, pl.Expr] = {}
    mh_nif: dict[str, pl.Expr] = {}
    rate: dict[str, pl.Expr] = {}
    event: dict[str, pl.Expr] = {}
    coef: dict[str, pl.Expr] = {}
    coef_nif: dict[str, pl.Expr] = {}
    cat: dict[str, pl.Expr] = {}
    for a in scheme.activities.values():
        if a.max_hours is not None:
            mh[a.id], mh_nif[a.id] = _dated(a.max_hours, day, lambda v: scaled_units(v, 60),
                                            pl.Int64())
        per = a.per_event if a.per_event is not None else a.per_hour
        assert per is not None
        rate[a.id] = _dated(per, day)[0]
        event[a.id] = pl.lit(a.per_event is not None)
        cat[a.id] = pl.lit(a.category)
        if a.category:
            coef[a.id], coef_nif[a.id] = _dated(rules.categories[a.category].coefficient, day)
    cols.update(
        __mh=_by_activity(scheme, mh, pl.lit(None, dtype=pl.Int64)),
        __rate=_by_activity(scheme, rate, pl.lit(None, dtype=pl.Float64)),
        __event=_by_activity(scheme, event, pl.lit(False)),
        __cat=_by_activity(scheme, cat, pl.lit("")),
        __coef=_by_activity(scheme, coef, pl.lit(None, dtype=pl.Float64)),
    )
    nif = [_by_activity(scheme, mh_nif, pl.lit(False)),
           _by_activity(scheme, coef_nif, pl.lit(False))]
    caps = rules.caps
    for name, cap, scale in (("hd", caps.hours_per_day, 60), ("hm", caps.hours_per_month, 60),
                             ("pd", caps.points_per_day, scheme.scale),
                             ("pm", caps.points_per_month, scheme.scale)):
        if cap is None:
            cols[f"__L{name}"] = pl.lit(None, dtype=pl.Int64)
            continue
        value, not_in_force = _dated(cap, day, lambda v, s=scale: scaled_units(v, s),
                                     pl.Int64())
        cols[f"__L{name}"] = value
        nif.append(not_in_force)
    for i, m in enumerate(scheme.multipliers):
        cols[f"__m{i}"], cols[f"__m{i}_nif"] = _dated(m.factor, day)
    static_nif = nif[0]
    for e in nif[1:]:
        static_nif = static_nif | e
    c = c.with_columns(**cols, __static_nif=static_nif, __month=day.dt.truncate("1mo"))
    # service minutes, their rounding and max_hours: the plan the per-record code runs
    plan = service_plan(rules)
    done = with_plan(plan, FunctionTable(), c.lazy(),
                     {"micros": pl.col("__micros"), "max_minutes": pl.col("__mh")},
                     prefix="__sp.")
    names = dict(zip(SERVICE_OUTPUTS, ("__service", "__k_round", "__k_max", "__counted0"),
                     strict=True))
    return done.select(*c.columns, *(pl.col(f"__sp.{k}").alias(v) for k, v in names.items())) \
        .collect()


# --- steps 2-4: exact points, in integers ---------------------------------------------


_RATE_SCHEMA: _Schema = {
    "__act": pl.String, "__day": pl.Date, "__mask": pl.Int64, "__A": pl.Int128,
    "__B": pl.Int128, "__mmax": pl.Int64, "__ev_units": pl.Int64, "__ev_round": pl.Boolean,
    "__ev_exact": pl.Float64}
_NO_LIMIT = 2**62


def _rate_table(scheme: VolunteerScheme, keys: pl.DataFrame) -> pl.DataFrame:
    """Per distinct (activity, day, multiplier mask): the exact ``rate x coefficient x
    factor(s)`` P of ``VolunteerScheme.exact_rate``, as integers for the columns.

    Per hour, a record of m counted minutes earns ``P m / 60`` points, that is
    ``A m / B`` units with ``A / B = P scale / 60`` reduced; rounded half up it is
    ``(2 A m + B) // (2 B)``, exact in integers. ``__mmax`` is the most minutes whose
    units stay within ``MAX_UNITS`` (the largest m with ``2 A m < B (2 MAX_UNITS + 1)``);
    the loader keeps B <= 60 * 10**18 (``MAX_DECIMALS``), so for m <= ``__mmax`` every
    intermediate is below 1.1e36, inside Int128. Per event the units and whether they
    were rounded are computed here directly. A combination with a value not in force
    gives zeros: its records are unscorable and go to the per-record code anyway.
    """
    rows = []
    scale = scheme.scale
    for act_id, day, mask in keys.iter_rows():
        act = scheme.activities.get(act_id)
        A = B = ev = 0
        mmax, ev_round, ev_exact = _NO_LIMIT, False, None
        if act is not None and day is not None:
            try:
                rate = scheme.exact_rate(act, day, mask)
            except NotInForce:
                rate = None
            if rate is not None and act.per_event is not None:
                ev = half_up(rate * scale) if rate > 0 else 0
                ev_round = rate > 0 and (rate * scale).denominator != 1
                ev_exact = float(rate)
            elif rate is not None:
                per = rate * scale / 60
                A, B = per.numerator, per.denominator
                if A:
                    mmax = min((B * (2 * MAX_UNITS + 1) - 1) // (2 * A), _NO_LIMIT)
        rows.append((act_id, day, mask, A, max(B, 1), mmax, min(ev, MAX_UNITS + 1), ev_round,
                     ev_exact))
    return pl.DataFrame(rows, schema=_RATE_SCHEMA, orient="row")


# --- steps 2-4: overlaps and caps as scans -------------------------------------------------


def _caps(amount: str, limits: Sequence[tuple[str, str, list[str]]], c: pl.DataFrame
          ) -> pl.DataFrame:
    """``c`` with ``amount`` limited by the caps (``(name, limit column, window keys)``,
    applied in order) through the generic ``plan.scan.CapScan``: per cap ``__<name>``,
    the amount after it, and ``__k_<name>``, whether it cut. Rows not ``__acc`` take no
    part (amount 0)."""
    present = [(name, limit, keys) for name, limit, keys in limits
               if c.schema[limit] != pl.Null and c[limit].null_count() < c.height]
    op = CapScan(("__vkey",), ("__pos",), "__amount",
                 tuple(Window(tuple(keys), limit) for _, limit, keys in present))
    c = c.with_columns(__amount=pl.when(pl.col("__acc")).then(pl.col(amount)).otherwise(0))
    c = cap_scan_frame(op, c, prefix="__scan.", ordered=True) if present else \
        c.with_columns(pl.col("__amount").alias(grant_column("__scan.")))
    x = pl.col("__amount")
    out: list[pl.Expr] = []
    for name, _, _ in limits:
        i = next((j for j, p in enumerate(present) if p[0] == name), None)
        if i is None:
            out += [x.alias(f"__{name}"), pl.lit(False).alias(f"__k_{name}")]
            continue
        left = pl.col(left_column("__scan.", i))
        cut = left.is_not_null() & (x > left)
        x = pl.when(cut).then(left).otherwise(x)
        out += [x.alias(f"__{name}"), cut.alias(f"__k_{name}")]
    return c.with_columns(out).drop("__amount", grant_column("__scan."),
                                    *(left_column("__scan.", i) for i in range(len(present))))


def _points(scheme: VolunteerScheme, c: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The multipliers (they read the counted hours), the exact points before the point
    caps, and whether a record cannot be scored (``__unscorable``)."""
    names: dict[str, pl.Expr] = {name: pl.col(f"__f_{name}") for name in scheme.activity_facts}
    names.update(activity=pl.col("__act"), category=pl.col("__cat"), date=pl.col("__day"),
                 as_of=pl.lit(as_of, dtype=pl.Date),
                 hours=pl.col("__counted").cast(pl.Float64) / exact_divisor(pl.lit(60.0)))
    compiler = PolarsCompiler(scheme.functions or FunctionTable(), names)
    unscorable = pl.col("__static_nif")
    applied: list[pl.Expr] = []
    for i, m in enumerate(scheme.multipliers):
        col = compiler.compile(m.when.node)
        holds = col.value.fill_null(False)
        if col.error is not None:
            unscorable = unscorable | col.error.fill_null(False)
        unscorable = unscorable | (holds & pl.col(f"__m{i}_nif"))
        applied.append(holds & ~pl.col(f"__m{i}_nif"))
    mask: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for i, a in enumerate(applied):
        mask = mask + a.cast(pl.Int64) * (1 << i)
    c = c.with_columns(__mask=mask)
    # the exact points: rate x coefficient x factor(s) as a reduced fraction per (activity,
    # day, multipliers applied), from the per-record ``exact_rate``; then integer
    # arithmetic on Int128 (see ``_rate_table`` for why it cannot overflow)
    keys = ["__act", "__day", "__mask"]
    c = c.join(_rate_table(scheme, c.select(keys).unique()), on=keys, how="left",
               nulls_equal=True, maintain_order="left")
    minutes = pl.min_horizontal(pl.col("__counted"), pl.col("__mmax")).cast(pl.Int128)
    num = 2 * pl.col("__A") * minutes
    hourly = ((num + pl.col("__B")) // (2 * pl.col("__B"))).cast(pl.Int64)
    hourly_round = (pl.col("__A") * minutes) % pl.col("__B") != 0
    event = pl.col("__event")
    out_of_range = pl.when(event).then(pl.col("__ev_units") > MAX_UNITS) \
        .otherwise(pl.col("__counted") > pl.col("__mmax"))
    units = pl.when(event).then(pl.col("__ev_units")).otherwise(hourly)
    return c.with_columns(
        __units0=pl.when(out_of_range).then(0).otherwise(units),
        __k_rp=pl.when(event).then(pl.col("__ev_round")).otherwise(hourly_round),
        __unscorable=unscorable | out_of_range)


def _settle(scheme: VolunteerScheme, c: pl.DataFrame, as_of: dt.date
            ) -> tuple[pl.DataFrame, set[str]]:
    """Steps 2-4 of every candidate: overlaps (``plan.scan.OverlapScan``), the hour caps
    (``CapScan``), the points, the point caps (``CapScan``). Exact for every volunteer
    none of whose accepted records is unscorable; those others are returned, for the
    per-record code (see the module docstring)."""
    rules = scheme.rules
    c = c.with_columns(__pos=pl.int_range(pl.len(), dtype=pl.Int64),
                       __vkey=(pl.col("__vid") != pl.col("__vid").shift(1))
                       .fill_null(True).cum_sum().cast(pl.Int64))
    if rules.overlap == "reject":
        op = OverlapScan(("__vkey",), ("__pos",), "__start", "__end", "__rid", "__eligible")
        c = overlap_scan_frame(op, c.with_columns(__eligible=pl.lit(True)),
                               prefix="__overlap.", ordered=True).drop("__eligible")
        over, latest, latest_id = overlap_columns("__overlap.")
        c = c.rename({over: "__overlap", latest: "__latest", latest_id: "__latest_id"})
    else:
        c = c.with_columns(__overlap=pl.lit(False))
    c = c.with_columns(__acc=~pl.col("__overlap"))
    c = _caps("__counted0", [("hd", "__Lhd", ["__day"]), ("counted", "__Lhm", ["__month"])],
              c).rename({"__k_counted": "__k_hm"})
    c = _points(scheme, c, as_of)
    c = _caps("__units0", [("pdc", "__Lpd", ["__day"]), ("units", "__Lpm", ["__month"])],
              c).rename({"__k_pdc": "__k_pd", "__k_units": "__k_pm"})
    hard = set(c.filter(pl.col("__acc") & pl.col("__unscorable"))["__vid"].unique().to_list())
    return c, hard


def _per_record_volunteers(scheme: VolunteerScheme, frame: pl.DataFrame, c: pl.DataFrame,
                           hard: set[str], as_of: dt.date, lots: dict[str, list[list[Any]]]
                           ) -> list[ActivityDecision]:
    """Steps 2-4 of ``hard`` volunteers by the per-record ``_score_volunteer`` itself."""
    rows = c.filter(pl.col("__vid").is_in(list(hard)))[ROW]
    subset = frame.filter(pl.col(ROW).is_in(rows.implode()))
    pending: dict[str, list[Any]] = {}
    for record in subset.iter_rows(named=True):
        row = record.pop(ROW)
        p = scheme._check_record(row, _item(row, record), as_of, {})
        if isinstance(p, ActivityDecision):  # pragma: no cover - evaluators disagree
            raise AssertionError(f"row {row}: batch accepted it in step 1, per-record did not")
        pending.setdefault(p.volunteer_id, []).append(p)
    out: list[ActivityDecision] = []
    for vid, items in pending.items():
        out += scheme._score_volunteer(items, as_of, lots.setdefault(vid, []))
    return out


def _overlaps(rows: pl.DataFrame, lang: str) -> pl.DataFrame:
    """The decision columns of the records the settled passes rejected for overlapping
    (they all did: any other rejection sends the volunteer to the per-record code): the
    per-record ``_reject`` of each with the shared ``overlap_reason``, built as columns
    (no decision object per row; the message is the one ``overlap_reason`` writes)."""
    if not rows.height:  # (and without overlap = "reject" there are no such columns)
        return pl.DataFrame(schema=_DECIDED)
    reasons = [overlap_reason(rid, start, latest_id, latest, lang)
               for rid, start, latest_id, latest
               in zip(*(rows[c].to_list() for c in ("__rid", "__start", "__latest_id",
                                                    "__latest")), strict=True)]
    return _rejected_columns(
        rows, "__rid", "__day",
        pl.concat_list(pl.lit(pl.Series([r.code for r in reasons], dtype=pl.String)))
        .alias("reason_codes"),
        pl.concat_list(pl.lit(pl.Series([r.message for r in reasons], dtype=pl.String)))
        .alias("reasons"))


# --- assembling rows -----------------------------------------------------------------------


_WORDS = pl.List(pl.String)


def _activity_index(scheme: VolunteerScheme, items: Mapping[str, pl.Expr]) -> pl.Expr:
    """The item index each row's activity maps to (null for activities not in ``items``)."""
    return _by_activity(scheme, items, pl.lit(None, dtype=pl.Int64)).cast(pl.Int64)


def _trace(scheme: VolunteerScheme, s: pl.DataFrame) -> pl.DataFrame:
    """The trace columns ``words`` templates read (``TRACE_COLUMNS``), for the
    vectorised scored rows: the amounts as the per-record ``scored_reasons`` puts them in
    its trace (``units / scale`` and ``minutes / 60`` as Python divides), items chosen as
    it chooses them."""
    words, scale, rules = scheme.words, scheme.scale, scheme.rules
    day = pl.col("__day")
    n = s.height

    def lit_col(v: int) -> pl.Series:
        return pl.Series([v] * n, dtype=pl.Int64)

    def where(flag: str, series: pl.Series) -> pl.Series:
        return pl.select(pl.when(s[flag]).then(series)).to_series()

    sixty, units = lit_col(60), lit_col(scale)
    rate_at: dict[str, pl.Expr] = {}
    coef_at: dict[str, pl.Expr] = {}
    for a in scheme.activities.values():
        per = a.per_event if a.per_event is not None else a.per_hour
        assert per is not None
        rate_at[a.id] = pl.lit(words.rate_items[(a.id, 0)], dtype=pl.Int64) \
            + version_expr(per, day)
        if a.category:
            value = rules.categories[a.category].coefficient
            coef_at[a.id] = pl.lit(words.coef_items[(a.category, 0)], dtype=pl.Int64) \
                + version_expr(value, day)
    max_at = {aid: pl.lit(i, dtype=pl.Int64) for aid, i in words.max_items.items()}
    # which multipliers count: every one applied under product, the first largest under max
    applied = [((pl.col("__mask") // (1 << i)) % 2 == 1) for i in range(len(scheme.multipliers))]
    chosen: list[pl.Expr] = []
    for i, holds in enumerate(applied):
        if rules.multiplier_rule != "max":
            chosen.append(holds)
            continue
        f = pl.col(f"__m{i}")
        beaten = [applied[j] & (pl.col(f"__m{j}") >= f) if j < i
                  else applied[j] & (pl.col(f"__m{j}") > f)
                  for j in range(len(applied)) if j != i]
        chosen.append(holds & ~pl.any_horizontal(beaten) if beaten else holds)
    t = s.select(
        pl.col("__k_round").alias("k_round"), pl.col("__service").alias("service"),
        pl.when(pl.col("__k_max")).then(_activity_index(scheme, max_at)).alias("max_at"),
        day.alias("day"), _activity_index(scheme, rate_at).alias("rate_at"),
        pl.when(pl.col("__coef") != 1.0).then(_activity_index(scheme, coef_at))
        .alias("coef_at"),
        *(pl.when(c).then(version_expr(m.factor, day)).alias(f"mult{i}_at")
          for i, (c, m) in enumerate(zip(chosen, scheme.multipliers, strict=True))),
        pl.col("__k_rp").alias("k_rp"),
        *(pl.col(f"__k_{c}").alias(f"k_{c}") for c in ("hd", "hm", "pd", "pm")))
    cols: dict[str, pl.Series] = {
        "raw_minutes": where("__k_round", quotient(s["__micros"], lit_col(60_000_000))),
        "max_h": where("__k_max", quotient(s["__mh"], sixty)),
        "service_h": where("__k_max", quotient(s["__service"], sixty)),
        "month": month_column(s["__day"]),
    }
    counted = pl.select(pl.when(~s["__event"]).then(s["__counted"])).to_series()
    cols["counted_h"] = quotient(counted, sixty)
    # the rate as written (p / q) of the item in force: base points = p m / (q 60)
    rates: list[Fraction] = [Fraction(0)] * len(words.rate)
    for (aid, k), i in words.rate_items.items():
        a = scheme.activities[aid]
        per = a.per_event if a.per_event is not None else a.per_hour
        assert per is not None
        rates[i] = written(per.values[k])
    at = t["rate_at"]
    p = pl.Series([r.numerator for r in rates], dtype=pl.Int128).gather(at)
    q60 = pl.Series([r.denominator * 60 for r in rates], dtype=pl.Int128).gather(at)
    cols["base_points"] = quotient(counted.cast(pl.Int128) * p, q60)
    # the exact points: A m / (B scale) per hour, the exact rate per event
    exact_hourly = quotient(s["__A"] * s["__counted"].cast(pl.Int128),
                            pl.select(pl.lit(s["__B"]) * pl.lit(scale, dtype=pl.Int128))
                            .to_series())
    cols["rp_points"] = pl.DataFrame({"e": s["__event"], "k": s["__k_rp"], "h": exact_hourly,
                                      "x": s["__ev_exact"]}).select(
        pl.when(pl.col("k")).then(pl.when(pl.col("e")).then(pl.col("x"))
                                  .otherwise(pl.col("h")))).to_series()
    cols["rp_units"] = where("__k_rp", quotient(s["__units0"], units))
    for name, (limit, left, amount), unit in (
            ("hd", ("__Lhd", "__hd", "__counted0"), sixty),
            ("hm", ("__Lhm", "__counted", "__hd"), sixty),
            ("pd", ("__Lpd", "__pdc", "__units0"), units),
            ("pm", ("__Lpm", "__units", "__pdc"), units)):
        flag = f"__k_{name}"
        for w, c in (("left", left), ("limit", limit), ("amount", amount)):
            cols[f"{name}_{w}"] = where(flag, quotient(s[c].cast(pl.Int64), unit))
    return t.with_columns(pl.Series(k, v) for k, v in cols.items())


def _with_reasons(scheme: VolunteerScheme, s: pl.DataFrame) -> pl.DataFrame:
    """``reason_codes`` and ``reasons`` of the vectorised scored rows, rendered by
    ``plan.words.say_coded`` from the policy's templates
    (``VolunteerScheme.words``, the ones the per-record ``scored_reasons`` renders) over
    the rows' trace: no Python per row."""
    codes, reasons = say_coded(scheme.words.entries(), _trace(scheme, s))
    return s.with_columns(codes, reasons)


def _vector_rows(scheme: VolunteerScheme, s: pl.DataFrame) -> pl.DataFrame:
    """Decision columns of the records scored by the vectorised path."""
    months = scheme.rules.point_expiry_months
    s = s.with_columns(__end_day=pl.col("__end").dt.date())
    expires = _expiry(s["__end_day"], months) if months is not None else \
        pl.Series([None] * s.height, dtype=pl.Date)
    s = s.with_columns(__exp=pl.when(pl.col("__units") > 0).then(pl.lit(expires)))
    s = _with_reasons(scheme, s)
    sixty = exact_divisor(pl.lit(60.0))
    return s.select(
        pl.col(ROW).alias("row"), pl.col("__rid").alias("record_id"),
        pl.col("__vid").alias("volunteer_id"), pl.col("__act").alias("activity"),
        pl.col("__day").alias("date"), pl.lit(SCORED).alias("status"),
        (pl.col("__service").cast(pl.Float64) / sixty).alias("service_hours"),
        (pl.col("__counted").cast(pl.Float64) / sixty).alias("counted_hours"),
        (pl.col("__units").cast(pl.Float64)
         / exact_divisor(pl.lit(float(scheme.scale)))).alias("points"),
        pl.col("__exp").alias("expires_on"), "reason_codes", "reasons",
        pl.col("__units").alias("__units"),
        (pl.col("__counted") if scheme.rules.star_hours == "counted"
         else pl.col("__service")).alias("__minutes"), pl.col("__end_day"),
    ).cast(pl.Schema(_RECORD_COLUMNS))


def _expiry(end_days: pl.Series, months: int) -> pl.Series:
    """``add_months`` of every end date, once per distinct date."""
    distinct = end_days.unique()
    table = pl.DataFrame({"d": distinct, "e": pl.Series(
        [add_months(d, months) if d is not None else None for d in distinct.to_list()],
        dtype=pl.Date)})
    return pl.DataFrame({"d": end_days}).join(table, on="d", how="left",
                                              maintain_order="left")["e"]


def _decision_frame(scheme: VolunteerScheme, decisions: Sequence[ActivityDecision]
                    ) -> pl.DataFrame:
    """Decision columns of the records the per-record code decided."""
    star_counted = scheme.rules.star_hours == "counted"
    columns: dict[str, list[Any]] = {k: [] for k in (*_RECORD_COLUMNS, "__units",
                                                      "__minutes")}
    for d in decisions:
        r = d.to_row()
        for k in _RECORD_COLUMNS:
            columns[k].append(r[k])
        columns["__units"].append(d.point_units)
        columns["__minutes"].append(
            round((d.counted_hours if star_counted else d.service_hours) * 60))
    schema = _DECIDED
    return _columns_frame(columns, schema)


def _string_lists(lists: list[list[str]]) -> pl.Series:
    """A List(String) series of ``lists``, built flat: polars builds one inner series per
    Python list otherwise, ten times slower for the rows' reasons."""
    flat = [x for items in lists for x in items]
    index = [i for i, items in enumerate(lists) for _ in items]
    long = pl.DataFrame({"i": pl.Series(index, dtype=pl.Int64),
                         "s": pl.Series(flat, dtype=pl.String)})
    every = pl.DataFrame({"i": pl.int_range(len(lists), eager=True, dtype=pl.Int64)})
    return every.join(long.group_by("i").agg("s"), on="i", how="left",
                      maintain_order="left").select(
        pl.col("s").fill_null(pl.lit([], dtype=_WORDS)))["s"]


def _columns_frame(columns: Mapping[str, list[Any]], schema: Mapping[str, Any]
                   ) -> pl.DataFrame:
    return pl.DataFrame([_string_lists(v).alias(k) if schema[k] == _WORDS
                         else pl.Series(k, v, dtype=schema[k]) for k, v in columns.items()])


def _rows_frame(rows: Sequence[Mapping[str, Any]], schema: Mapping[str, Any]
                ) -> pl.DataFrame:
    """``pl.DataFrame(rows, schema=schema)``, with list columns built flat."""
    return _columns_frame({k: [r[k] for r in rows] for k in schema}, schema)


def _rejected_frame(decisions: Sequence[ActivityDecision],
                    redemptions: Sequence[RedemptionDecision], worded: pl.DataFrame
                    ) -> pl.DataFrame:
    """``VolunteerResult.rejected_rows()``: rejected activities (those the per-record code
    decided and the ``worded`` step-1 rejections, by row), then redemptions."""
    rows = [reject_row("activities", d.row, d.record_id, d.reason_codes,
                       [r.message for r in d.reasons])
            for d in decisions if d.rejected]
    activities = pl.concat([_rows_frame(rows, _REJECTED_SCHEMA), worded.select(
        pl.lit("activities").alias("input"), "row", pl.col("record_id").alias("id"),
        "reason_codes", "reasons").cast(pl.Schema(_REJECTED_SCHEMA))]).sort("row")
    rows = [reject_row("redemptions", r.row, r.redemption_id, [x.code for x in r.reasons],
                       [x.message for x in r.reasons])
            for r in redemptions if r.status == REJECTED]
    return pl.concat([activities, _rows_frame(rows, _REJECTED_SCHEMA)])


# --- step 5: lots, redemptions, statements -------------------------------------------------

_LOT_SCHEMA: _Schema = {"vid": pl.String, "end": pl.Date, "rid": pl.String,
                        "units": pl.Int64, "expires": pl.Date}


def _lot_table(vector: pl.DataFrame, lots: Mapping[str, list[list[Any]]]) -> pl.DataFrame:
    """Every scored record's points (as ``_score_volunteer`` keeps them): volunteer, end
    date, record id, units, expiry."""
    python = pl.DataFrame([{"vid": vid, "end": lot[0], "rid": lot[1], "units": lot[2],
                            "expires": lot[3]} for vid, items in lots.items() for lot in items],
                          schema=_LOT_SCHEMA)
    vectorised = vector.filter(pl.col("__units") > 0).select(
        pl.col("volunteer_id").alias("vid"), pl.col("__end_day").alias("end"),
        pl.col("record_id").alias("rid"), pl.col("__units").alias("units"),
        pl.col("expires_on").alias("expires"))
    return pl.concat([python, vectorised])


def _redeem(scheme: VolunteerScheme, source: Any, lot_table: pl.DataFrame, as_of: dt.date
            ) -> tuple[list[RedemptionDecision], dict[str, list[list[Any]]]]:
    """Redemptions by the per-record ``_redeem`` on the lots of the volunteers they name;
    returns the decisions and those volunteers' lots as left afterwards."""
    frame = read_source(source)
    items, rows = [], []
    for record in frame.iter_rows(named=True):
        row = record.pop(ROW)
        rows.append(row)
        items.append(_item(row, record))
    named = normal_ids(frame["volunteer_id"].cast(pl.String)).unique().to_list() \
        if "volunteer_id" in frame.columns and frame["volunteer_id"].dtype != pl.Object \
        else None
    table = lot_table if named is None else lot_table.filter(pl.col("vid").is_in(named))
    lots: dict[str, list[list[Any]]] = {}
    for vid, end, rid, units, expires in table.iter_rows():
        lots.setdefault(vid, []).append([end, rid, units, expires])
    # the rows of the frame: of the whole input when it is a part of one (``Numbered``)
    return scheme._redeem(items, as_of, lots, rows), lots


def _statements(scheme: VolunteerScheme, out: pl.DataFrame, lot_table: pl.DataFrame,
                redemptions: Sequence[RedemptionDecision],
                after: Mapping[str, list[list[Any]]], as_of: dt.date) -> pl.DataFrame:
    """One statement per volunteer from integer totals, by ``VolunteerScheme.statement``."""
    scored = pl.col("status") == SCORED
    totals = out.filter(pl.col("volunteer_id") != "").group_by("volunteer_id").agg(
        pl.col("__units").filter(scored).sum().alias("earned"),
        pl.col("__minutes").filter(scored).sum().alias("minutes"),
        scored.sum().alias("scored"), (~scored).sum().alias("rejected"))
    expired = lot_table.filter(pl.col("expires") <= pl.lit(as_of, dtype=pl.Date)) \
        .group_by("vid").agg(pl.col("units").sum()) \
        .select(pl.col("vid").alias("volunteer_id"), pl.col("units").cast(pl.Int64).alias("x"))
    expired_of = {vid: sum(lot[2] for lot in lots if lot[3] is not None and lot[3] <= as_of)
                  for vid, lots in after.items()}  # redemptions consumed some of these lots
    redeemed: dict[str, int] = {}
    for r in redemptions:
        if r.status == APPLIED:
            redeemed[r.volunteer_id] = redeemed.get(r.volunteer_id, 0) + r.point_units
    named = pl.DataFrame({"volunteer_id": pl.Series(
        sorted({r.volunteer_id for r in redemptions if r.volunteer_id}), dtype=pl.String)})
    small = pl.concat([
        expired.filter(~pl.col("volunteer_id").is_in(list(expired_of))),
        pl.DataFrame({"volunteer_id": pl.Series(list(expired_of), dtype=pl.String),
                      "x": pl.Series(list(expired_of.values()), dtype=pl.Int64)})])
    spent = pl.DataFrame({"volunteer_id": pl.Series(list(redeemed), dtype=pl.String),
                          "r": pl.Series(list(redeemed.values()), dtype=pl.Int64)})
    v = pl.concat([totals.select("volunteer_id"), named]).unique().sort("volunteer_id") \
        .join(totals, on="volunteer_id", how="left", maintain_order="left") \
        .join(small, on="volunteer_id", how="left", maintain_order="left") \
        .join(spent, on="volunteer_id", how="left", maintain_order="left") \
        .with_columns(pl.col("earned", "minutes", "scored", "rejected", "x", "r")
                      .fill_null(0).cast(pl.Int64))
    return _statement_frame(scheme, v, as_of)


def _statement_frame(scheme: VolunteerScheme, v: pl.DataFrame, as_of: dt.date
                     ) -> pl.DataFrame:
    """``Statement.to_row()`` of every volunteer of ``v`` (its totals: point units earned,
    expired ``x``, redeemed ``r``, minutes, records scored and rejected), as
    ``VolunteerScheme.statement`` makes it: the hours once per distinct minutes by
    ``statement_hours``, amounts as Python divides them, reasons rendered from the
    templates it renders (``statement_words``)."""
    words, stars, ref = scheme.statement_words, scheme.stars, scheme.ref
    distinct = v["minutes"].unique()
    hours_of = pl.DataFrame({"minutes": distinct, "hours": pl.Series(
        [statement_hours(float(m)) for m in distinct.to_list()], dtype=pl.Float64)})
    v = v.join(hours_of, on="minutes", how="left", maintain_order="left")
    reached: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for level in stars:
        reached = reached + (pl.col("hours") >= pl.lit(float(level.hours))).cast(pl.Int64)
    v = v.with_columns(__at=reached)
    at = pl.col("__at")
    n = len(stars)
    levels = pl.Series([0, *(s.stars for s in stars)], dtype=pl.Int64)
    labels = pl.Series(["", *words.labels], dtype=pl.String)
    nexts = pl.Series([*(float(s.hours) for s in stars), None], dtype=pl.Float64)
    trace = v.select(
        pl.when(at > 0).then(at - 1).alias("star_at"), pl.when(at < n).then(at).alias("next_at"),
        "hours", (nexts.gather(v["__at"]) - pl.col("hours")).alias("to_next"),
        (pl.col("x") != 0).alias("k_expired"))
    scale = pl.Series([scheme.scale] * v.height, dtype=pl.Int64)
    trace = trace.with_columns(quotient(v["x"], scale).alias("expired"))
    codes, reasons = say_coded(words.entries(), trace)
    return pl.DataFrame({
        "volunteer_id": v["volunteer_id"], "as_of": pl.Series([as_of] * v.height,
                                                              dtype=pl.Date),
        "earned": quotient(v["earned"], scale), "expired": trace["expired"],
        "redeemed": quotient(v["r"], scale),
        "balance": quotient(v["earned"] - v["x"] - v["r"], scale), "hours": v["hours"],
        "star_level": levels.gather(v["__at"]), "star_label": labels.gather(v["__at"]),
        "records_scored": v["scored"], "records_rejected": v["rejected"],
        "reason_codes": codes, "reasons": reasons,
        "policy_id": pl.Series([ref.id] * v.height, dtype=pl.String),
        "policy_version": pl.Series([ref.version] * v.height, dtype=pl.String),
        "policy_hash": pl.Series([ref.hash] * v.height, dtype=pl.String),
    }).cast(pl.Schema(_STATEMENT_SCHEMA))
