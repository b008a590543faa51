#!/usr/bin/env python3
"""civicscore benchmark: a seeded synthetic city, scored by civicscore and by baselines.

Why it is shaped this way:

* **Ratios, not absolute times.** The machines it runs on are shared and noisy, so
  every figure civicscore gets is set next to a baseline doing the same work on the
  same data in the same run: a hand-written Python function and a hand-written
  polars expression of the *same* rules, and (optional extra ``bench``) the peer
  rule engines rule-engine, zen-engine and durable-rules. Times are medians of
  several repeats (``time.perf_counter_ns``); per-record figures are medians of
  individually timed calls, corrected for the cost of the timer itself.
* **Correctness before speed.** A fast wrong answer is worth nothing, so every
  implementation is checked against civicscore (tier, next due date, overdue, reason
  codes, record by record, and the full frame in batch) before any timing is
  printed; a disagreement stops the run before any table is printed. The
  comparison is exact: where civicscore differs from an exact baseline only through
  its float totals (a known bug of issue 10), that is said, with the count of rows.
* **Hand-written means hard-coded.** The baselines spell out the rules of one
  policy (``karamay``) by hand, as an application without civicscore would. They are
  not generated from the TOML: that is the point of the comparison. Another
  ``--policy`` still gets civicscore's own figures, with the baseline columns empty.
* **Peak memory per implementation.** Each batch measurement runs in a fresh child
  process (``python bench.py --child ...``) that reports its own peak resident memory
  (VmHWM; see ``maxrss_bytes`` for why not ``ru_maxrss``), so the 10^7-household
  civicscore and hand-written runs each report their own peak and neither inherits
  the parent's data generation. The two implementations take turns, run by run, so
  that drift in a shared machine's load falls on both.
* **10^7 households without 10^7 Python objects.** The city is generated with
  numpy and polars, vectorised, and written to Parquet in a temporary directory;
  both batch implementations read that file themselves.
* **Not a test.** Nothing here is timed in the test suite; ``tests/test_benchmark_smoke.py``
  only checks that the generator and the correctness checks still run.

* **Every scheme, every target.** Visits, civility, volunteer and appraisal each run
  at every size against a hand-written polars query (the last two, exact in integer
  fixed-point, live in ``handwritten_polars.py``), which gives each a time ratio and
  a linearity ratio; the first table printed is the summary against issue 10's
  targets, MET or MISS.

Run ``python benchmarks/bench.py --quick`` for a smoke run (under a minute),
``python benchmarks/bench.py`` for the full run (10^6 and 10^7 rows); see
benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:  # the sibling module, also when bench.py is loaded by path
    sys.path.insert(0, str(HERE))

from handwritten_polars import (  # noqa: E402
    BatchOutput,
    karamay_appraisal_polars,
    karamay_volunteer_polars,
)
from handwritten_polars import bits as _bits  # noqa: E402
from handwritten_polars import lookup as _lookup  # noqa: E402
from handwritten_polars import source_frame as _source_frame  # noqa: E402
from results_file import write_section  # noqa: E402

AS_OF = dt.date(2025, 12, 31)
DEFAULT_POLICY = "karamay"
DAY0 = dt.date(1970, 1, 1)
NEVER_ORDINAL = dt.date.min.toordinal()  # civicscore reads a missing optional date as date.min

# --- targets (issue 10) ----------------------------------------------------------------------

TARGET_RECORD_RATIO = 1.5  # per-record visit decision with reasons / hand-written Python
#: batch time / hand-written polars time, per scheme (at 10^6 and at 10^7 rows)
TARGET_BATCH_RATIO = {"visits": 1.3, "civility": 1.3, "volunteer": 1.5, "appraisal": 1.5}
TARGET_MEMORY_RATIO = 1.3  # peak memory / hand-written peak, visits at 10^7 households
TARGET_PEAK_BYTES = 3e9  # ... and under 3 GB
TARGET_LINEAR = 11.0  # time(10^7) / time(10^6), every scheme
TARGET_CHECK_CPU_S = 0.3  # `civicscore check <locality>`: user + sys CPU of the process
SCHEMES = ("visits", "civility", "volunteer", "appraisal")

RESULT_TAG = "BENCH-RESULT "
UNAVAILABLE = "batch evaluator not available"


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the tables; with the seconds since
    the start, so that a slow section shows."""
    print(f"[bench {time.perf_counter() - _STARTED:5.1f}s] {message}", file=sys.stderr,
          flush=True)


# =============================================================================================
# 1. The seeded synthetic city
# =============================================================================================
#
# Every column is drawn with numpy from one Generator per data set (seeded by --seed and
# the data set's name), so a seed always gives the same city, and the big frames never
# become Python objects. Facts are generated from the policy's own declarations
# (type, min/max, optional); the names below get realistic distributions, any other
# fact a generic one for its type.

Array = np.ndarray


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, *stream.encode()])


def _ids(prefix: str, numbers: Array | pl.Series, width: int) -> pl.Series:
    s = pl.Series("n", numbers, dtype=pl.Int64)
    return pl.select(pl.format(prefix + "{}", pl.lit(s).cast(pl.String).str.zfill(width))
                     ).to_series()


def _dates(days: Array, missing: Array | None = None) -> pl.Series:
    """Day numbers (days since 1970-01-01) -> a polars Date column; ``missing`` -> null."""
    s = pl.Series("d", days.astype(np.int32)).cast(pl.Date)
    if missing is not None and missing.any():
        s = pl.select(pl.when(pl.lit(pl.Series(missing))).then(None).otherwise(pl.lit(s))
                      ).to_series()
    return s


def _recent_event(rng: np.random.Generator, n: int, p: Array | float, as_of_day: int,
                  within: int = 120) -> pl.Series:
    """A date in the last ``within`` days for a share ``p`` of rows, else null."""
    has = rng.random(n) < p
    return _dates(as_of_day - rng.integers(0, within, n), ~has)


def _bernoulli(rng: np.random.Generator, p: Array | float, n: int) -> pl.Series:
    return pl.Series(rng.random(n) < p)


def _clip_int(values: Array, spec: Any, lo: int = 0, hi: int | None = None) -> pl.Series:
    low = int(spec.min) if spec is not None and spec.min is not None else lo
    high = int(spec.max) if spec is not None and spec.max is not None else hi
    return pl.Series(np.clip(values, low, high if high is not None else np.iinfo(np.int64).max
                             ).astype(np.int64))


def _generic_fact(name: str, spec: Any, rng: np.random.Generator, n: int,
                  as_of_day: int) -> pl.Series:
    """A plausible column for a fact the realistic tables below do not know."""
    kind = spec.type
    if kind == "bool":
        return _bernoulli(rng, 0.05, n)
    if kind == "int":
        return _clip_int(rng.poisson(0.3, n), spec)
    if kind == "decimal":
        lo = float(spec.min) if spec.min is not None else 0.0
        hi = float(spec.max) if spec.max is not None else lo + 100.0
        return pl.Series(np.round(rng.uniform(lo, hi, n), 1))
    if kind == "date":
        if spec.optional:
            return _recent_event(rng, n, 0.02, as_of_day, 365)
        return _dates(as_of_day - rng.integers(0, 730, n))
    values = list(spec.values or ["x"])
    return pl.Series(np.asarray(values, dtype=object)[rng.integers(0, len(values), n)],
                     dtype=pl.String)


def _household_need(name: str, spec: Any, rng: np.random.Generator, n: int, age: Array,
                    as_of_day: int) -> pl.Series | None:
    """Care needs of households, with realistic rates (older households need more care)."""
    old60, old65, old70, old75 = age >= 60, age >= 65, age >= 70, age >= 75
    rates: dict[str, Array | float] = {
        "lives_alone": 0.07 + 0.16 * old65,
        "empty_nest": 0.02 + 0.25 * old60,
        "life_threatening_illness": 0.012 + 0.02 * old70,
        "disability": 0.04 + 0.04 * old70,
        "dementia": 0.002 + 0.05 * old75,
        "chronic_illness": 0.08 + 0.25 * old60,
        "long_term_illness": 0.06 + 0.2 * old60,
        "extreme_poverty": 0.008,
        "low_income_support": 0.05,
        "living_hardship": 0.03,
        "needs_social_security_help": 0.03,
        "home_treatment": 0.01 + 0.02 * old75,
        "needs_counselling": 0.02,
    }
    events: dict[str, Array | float] = {
        "discharged_on": 0.015 + 0.03 * old70,
        "hospitalised_on": 0.01 + 0.02 * old70,
        "bereaved_on": 0.008 + 0.01 * old70,
        "hardship_reported_on": 0.01,
        "hardship_began_on": 0.01,
        "disabled_on": 0.003,
        "living_alone_since": 0.01,
        "home_service_requested_on": 0.01,
    }
    if name in rates and spec.type == "bool":
        return _bernoulli(rng, rates[name], n)
    if name in events and spec.type == "date":
        return _recent_event(rng, n, events[name], as_of_day)
    if name == "open_service_requests" and spec.type == "int":
        return _clip_int(rng.poisson(0.15, n), spec)
    return None


def visit_facts(policy: Any) -> Mapping[str, Any]:
    """The declared facts of the visits entity (what ``evaluate`` coerces)."""
    visits = policy.schemes.get("visits")
    return dict(visits.facts) if visits is not None else {}


def households(n: int, seed: int, facts: Mapping[str, Any], *, as_of: dt.date = AS_OF,
               bad_fraction: float = 0.001) -> pl.DataFrame:
    """``n`` households with every care-need fact (and every required fact) of ``facts``.

    About 3 % were never visited; a ``bad_fraction`` of rows carries one data-entry
    error each (a last visit after the as-of date, a missing age, a repeated
    household id), so the rejection path is exercised as in real data.
    """
    rng = _rng(seed, "households")
    as_of_day = (as_of - DAY0).days
    age = np.clip(np.rint(rng.normal(52, 17, n)), 18, 104).astype(np.int64)
    ids = np.arange(n, dtype=np.int64)
    cols: dict[str, pl.Series] = {"household_id": _ids("H", ids, 8)}
    grids = max(1, n // 95)  # ~95 households a liaison: some grids exceed a 100 capacity
    cols["liaison_id"] = _ids("G", rng.integers(0, grids, n), 6)
    unassigned = rng.random(n) < 0.005
    cols["liaison_id"] = pl.select(pl.when(pl.lit(pl.Series(unassigned))).then(None)
                                   .otherwise(pl.lit(cols["liaison_id"]))).to_series()
    for name, spec in facts.items():
        if not (spec.care_need or (spec.default is None and not spec.optional)):
            continue  # civic-life facts have defaults; visits never read them
        if name == "age_oldest":
            cols[name] = _clip_int(age, spec)
            continue
        column = _household_need(name, spec, rng, n, age, as_of_day)
        cols[name] = column if column is not None else _generic_fact(name, spec, rng, n,
                                                                     as_of_day)
    # Days since the last visit. Liaisons see households with a care need more often:
    # with any need flag set, mostly within 8 days, else within a month; about 20 % are
    # late (up to three times that), 3 % were never visited.
    needy = np.zeros(n, dtype=bool)
    for column in cols.values():
        if column.dtype == pl.Boolean:
            needy |= column.to_numpy()
    scale = np.where(needy | (age >= 60), 8, 31)
    late = rng.random(n) < 0.2
    ago = np.floor(rng.random(n) * scale * np.where(late, 3, 1)).astype(np.int64)
    cols["last_visit"] = _dates(as_of_day - ago, rng.random(n) < 0.03)
    order = ["household_id", "liaison_id", "last_visit"]
    df = pl.DataFrame({k: cols[k].alias(k) for k in order + [c for c in cols if c not in order]})
    bad = round(n * bad_fraction)
    if bad:
        rows = rng.choice(np.arange(1, n), size=min(bad, n - 1), replace=False)
        kind = rng.integers(0, 3, len(rows))
        df = _spoil(df, rows[kind == 0], "last_visit", as_of_day, rng)
        if "age_oldest" in df.columns:
            df = _spoil(df, rows[kind == 1], "age_oldest", as_of_day, rng)
        df = _spoil(df, rows[kind == 2], "household_id", as_of_day, rng)
    return df


def _spoil(df: pl.DataFrame, rows: Array, column: str, as_of_day: int,
           rng: np.random.Generator) -> pl.DataFrame:
    """One data-entry error per row in ``rows``."""
    if len(rows) == 0:
        return df
    mask = np.zeros(df.height, dtype=bool)
    mask[rows] = True
    hit = pl.lit(pl.Series(mask))
    if column == "last_visit":  # typed in the future
        future = _dates(as_of_day + rng.integers(1, 30, df.height))
        value: pl.Expr = pl.lit(future)
    elif column == "age_oldest":  # left blank
        value = pl.lit(None, dtype=df.schema[column])
    else:  # the previous row's id typed again
        value = pl.col(column).shift(1)
    return df.with_columns(pl.when(hit).then(value).otherwise(pl.col(column)).alias(column))


_CIVIC: dict[str, Callable[[np.random.Generator, int], Array]] = {
    "hygiene_inspections_passed": lambda r, n: r.binomial(12, 0.82, n),
    "volunteer_hours": lambda r, n: np.round(r.gamma(1.2, 14.0, n) * 2) / 2,
    "meetings_attended": lambda r, n: r.poisson(2.6, n),
    "courtyard_meetings_attended": lambda r, n: r.poisson(2.0, n),
    "elder_care_commended": lambda r, n: r.random(n) < 0.35,
    "law_violations": lambda r, n: r.poisson(0.03, n),
    "neighbour_disputes_unresolved": lambda r, n: r.poisson(0.06, n),
    "covenant_signed": lambda r, n: r.random(n) < 0.75,
    "thrifty_ceremonies": lambda r, n: r.random(n) < 0.92,
    "safety_hazards_open": lambda r, n: r.poisson(0.1, n),
    "honesty_commended": lambda r, n: r.random(n) < 0.3,
    "workplace_commended": lambda r, n: r.random(n) < 0.25,
    "customs_breaches": lambda r, n: r.poisson(0.02, n),
    "appearance_violations": lambda r, n: r.poisson(0.05, n),
    "courtyard_org_member": lambda r, n: r.random(n) < 0.2,
    "mutual_aid_team_member": lambda r, n: r.random(n) < 0.15,
    "mutual_aid_commended": lambda r, n: r.random(n) < 0.05,
}


def _typed(values: Array, spec: Any) -> pl.Series:
    if spec.type == "bool":
        return pl.Series(values.astype(bool))
    if spec.type == "int":
        return _clip_int(values, spec)
    return pl.Series(values.astype(np.float64))


def civility_households(n: int, seed: int, policy: Any, *, as_of: dt.date = AS_OF,
                        bad_fraction: float = 0.001) -> pl.DataFrame:
    """Households' civic life for the civility scheme: reviews, a few revocations."""
    rng = _rng(seed, "civility")
    as_of_day = (as_of - DAY0).days
    scheme = policy.schemes.get("civility")
    facts = dict(scheme.facts) if scheme is not None else {}
    cols: dict[str, pl.Series] = {"household_id": _ids("C", np.arange(n), 8)}
    review_ago = rng.integers(0, 700, n)
    review_ago[rng.choice(n, size=int(n * bad_fraction), replace=False)] = -5  # future
    cols["review_date"] = _dates(as_of_day - review_ago, rng.random(n) < 0.15)
    revoked = rng.random(n) < 0.003
    cols["revoked_on"] = _dates(as_of_day - rng.integers(0, 1000, n), ~revoked)
    cols["revocation_reason"] = pl.select(
        pl.when(pl.lit(pl.Series(revoked))).then(pl.lit("law violation found by inspection"))
    ).to_series()
    for name, spec in facts.items():
        maker = _CIVIC.get(name)
        cols[name] = (_typed(maker(rng, n), spec) if maker is not None
                      else _generic_fact(name, spec, rng, n, as_of_day))
    return pl.DataFrame({k: v.alias(k) for k, v in cols.items()})


def activity_records(n: int, seed: int, policy: Any, *, as_of: dt.date = AS_OF,
                     bad_fraction: float = 0.001) -> pl.DataFrame:
    """Volunteers' activity records: ~20 records a volunteer over the last six months.

    3 % are not confirmed and 2 % submitted late (rejected by the policy); a
    ``bad_fraction`` of rows carries one data-entry error each (an end typed before the
    start, a repeated record id, a misspelt activity), so every rejection path runs.
    """
    rng = _rng(seed, "volunteer")
    scheme = policy.schemes.get("volunteer")
    activities = sorted(scheme.activities) if scheme is not None else ["general"]
    facts = dict(scheme.activity_facts) if scheme is not None else {}
    as_of_day = (as_of - DAY0).days
    us_day = 86_400_000_000
    day = as_of_day - rng.integers(1, 180, n)
    start_min = rng.integers(8 * 12, 19 * 12, n) * 5  # 08:00 to 18:55, 5-minute steps
    length_min = rng.integers(6, 72, n) * 5  # 30 min to 6 h
    start = day.astype(np.int64) * us_day + start_min.astype(np.int64) * 60_000_000
    end = start + length_min.astype(np.int64) * 60_000_000
    late = rng.random(n) < 0.02
    delay_days = np.where(late, rng.integers(31, 60, n), rng.integers(0, 7, n))
    submitted = end + delay_days.astype(np.int64) * us_day + 3_600_000_000
    cols: dict[str, pl.Series] = {
        "record_id": _ids("A", np.arange(n), 9),
        "volunteer_id": _ids("V", rng.integers(0, max(1, n // 20), n), 7),
        "activity": pl.Series(np.asarray(activities, dtype=object)[
            rng.integers(0, len(activities), n)], dtype=pl.String),
        "start": pl.Series(start).cast(pl.Datetime("us")),
        "end": pl.Series(end).cast(pl.Datetime("us")),
        "confirmed": _bernoulli(rng, 0.97, n),
        "submitted_at": pl.Series(submitted).cast(pl.Datetime("us")),
    }
    for name, spec in facts.items():
        cols[name] = (_bernoulli(rng, 0.05, n) if name == "remote"
                      else _generic_fact(name, spec, rng, n, as_of_day))
    df = pl.DataFrame({k: v.alias(k) for k, v in cols.items()})
    return _mistype(df, rng, bad_fraction, {
        "end": pl.col("start") - pl.duration(minutes=30),  # typed before the start
        "record_id": pl.col("record_id").shift(1),  # the previous row's id again
        "activity": pl.col("activity") + "s",  # misspelt: an unknown activity
    })


def _mistype(df: pl.DataFrame, rng: np.random.Generator, fraction: float,
             errors: Mapping[str, pl.Expr]) -> pl.DataFrame:
    """One data-entry error (column -> wrong value) on each of ``fraction`` of the rows
    (never the first), the errors taking turns."""
    bad = round(df.height * fraction)
    if not bad or df.height < 2:
        return df
    rows = rng.choice(np.arange(1, df.height), size=min(bad, df.height - 1), replace=False)
    kind = rng.integers(0, len(errors), len(rows))
    for i, (column, wrong) in enumerate(errors.items()):
        if column not in df.columns:
            continue
        mask = np.zeros(df.height, dtype=bool)
        mask[rows[kind == i]] = True
        df = df.with_columns(pl.when(pl.lit(pl.Series(mask))).then(wrong)
                             .otherwise(pl.col(column)).alias(column))
    return df


def subjects(n: int, seed: int, policy: Any, *, as_of: dt.date = AS_OF,
             bad_fraction: float = 0.001) -> pl.DataFrame:
    """Appraisal subjects (community workers, care liaisons) and their indicators.

    A cohort of mostly good liaisons, about a third of them banded excellent, so the
    20 % quota binds. Percentages and satisfaction scores have two decimals, as on the
    appraisal forms (so totals fall on rounding edges as in real cohorts); a
    ``bad_fraction`` of rows carries one data-entry error each (a repeated subject id, a
    percentage typed as 880), so the rejection path runs.
    """
    rng = _rng(seed, "appraisal")
    scheme = policy.schemes.get("appraisal")
    entity = scheme.rules.entity if scheme is not None else "subject"
    facts = dict(policy.model.facts.get(entity, {}))
    as_of_day = (as_of - DAY0).days
    grid = rng.integers(80, 131, n)
    reported = rng.poisson(8, n)
    made: dict[str, Array] = {
        "grid_households": grid,
        "households_visited": rng.binomial(grid, 0.95),
        "households_known": rng.binomial(grid, 0.96),
        "difficulties_reported": reported,
        "difficulties_solved": rng.binomial(reported, 0.93),
        "major_safety_incidents": rng.poisson(0.004, n),
        "financial_irregularities": rng.random(n) < 0.003,
        "privacy_breaches": rng.poisson(0.002, n),
    }
    cols: dict[str, pl.Series] = {"subject_id": _ids("L", np.arange(n), 7)}
    for name, spec in facts.items():
        if name in made:
            cols[name] = _typed(made[name], spec)
        elif spec.type == "decimal" and (name.endswith("_pct") or name.startswith(
                "satisfaction")):
            centre = 93.0 if name.startswith("satisfaction") else 94.0
            cols[name] = pl.Series(np.round(np.clip(rng.normal(centre, 4, n), 0, 100), 2))
        elif spec.type == "int" and spec.min is not None and spec.min >= 1:
            cols[name] = _clip_int(rng.integers(int(spec.min), int(spec.min) + 100, n), spec)
        else:
            cols[name] = _generic_fact(name, spec, rng, n, as_of_day)
    df = pl.DataFrame({k: v.alias(k) for k, v in cols.items()})
    return _mistype(df, rng, bad_fraction, {
        "subject_id": pl.col("subject_id").shift(1),
        "tasks_completed_pct": pl.col("tasks_completed_pct") * 10,
    })


# =============================================================================================
# 2. Hand-written baselines of the karamay visit tiers
# =============================================================================================
#
# These hard-code the rules of ONE policy, karamay (plugins/civicscore-karamay), as an
# application without civicscore would write them: that is what "hand-written" means.
# They cover the record checks the synthetic city can violate (id missing or repeated,
# age missing or out of 0..130, a negative request count, a last visit after the as-of
# date) and the whole decision: tier by hit policy "first", cadence, triggers bringing
# the due date forward, overdue, reason codes in civicscore's order, and in batch the
# caseload per liaison. If karamay's TOML changes, the correctness checks fail loudly.


class Outcome(NamedTuple):
    status: str
    tier: str
    next_due: dt.date | None
    overdue: bool
    triggers: tuple[str, ...]
    reason_codes: tuple[str, ...]


_WEEK = dt.timedelta(days=7)
_DAY = dt.timedelta(days=1)


def _next_month(d: dt.date) -> dt.date:
    year, month = (d.year, d.month + 1) if d.month < 12 else (d.year + 1, 1)
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def karamay_visit(h: Mapping[str, Any], as_of: dt.date) -> Outcome:
    """Karamay's visit tier for one household dict, written out by hand."""
    codes: list[str] = []
    if not h.get("household_id"):
        codes.append("MISSING_FIELD")
    last = h.get("last_visit")
    if last is not None and last > as_of:
        codes.append("AFTER_AS_OF")
    age = h.get("age_oldest")
    if age is None:
        codes.append("MISSING_FIELD")
    elif not 0 <= age <= 130:
        codes.append("OUT_OF_RANGE")
    requests = h.get("open_service_requests") or 0
    if requests < 0:
        codes.append("OUT_OF_RANGE")
    if codes:
        return Outcome("rejected", "", None, False, (), tuple(codes))
    discharged = h.get("discharged_on")
    bereaved = h.get("bereaved_on")
    hardship = h.get("hardship_reported_on")
    if (h.get("extreme_poverty") or h.get("life_threatening_illness")
            or (discharged is not None and 0 <= (as_of - discharged).days <= 30)
            or (bereaved is not None and 0 <= (as_of - bereaved).days <= 30)
            or (hardship is not None and 0 <= (as_of - hardship).days <= 30)):
        tier, weekly = "warm_heart", True
    elif ((age >= 60 and (h.get("lives_alone") or h.get("empty_nest")))
          or h.get("disability") or h.get("dementia")):
        tier, weekly = "concern", True
    elif age >= 60 or h.get("chronic_illness") or h.get("low_income_support") or requests > 0:
        tier, weekly = "basic", False
    else:
        tier, weekly = "reassured", False
    codes.append("DEFAULT_TIER" if tier == "reassured" else "TIER_MATCHED")
    if last is None:
        due = as_of
        codes.append("NEVER_VISITED")
    else:
        due = last + _WEEK if weekly else _next_month(last)
        codes.append("CADENCE")
    fired: list[str] = []
    for trigger, event in (("hospital_discharge", discharged), ("bereavement", bereaved),
                           ("hardship_reported", hardship)):
        if event is not None and event <= as_of and (last is None or event > last):
            fired.append(trigger)
            codes.append("TRIGGER")
            if event + _DAY < due:
                due = event + _DAY
    overdue = due < as_of
    if overdue:
        codes.append("OVERDUE")
    return Outcome("scored", tier, due, overdue, tuple(fired), tuple(codes))


_VISIT_CHECKS = (  # (flag column, reason code, field), in civicscore's order
    ("_c_id", "MISSING_FIELD", "household_id"),
    ("_c_dup", "DUPLICATE_RECORD", "household_id"),
    ("_c_after", "AFTER_AS_OF", "last_visit"),
    ("_c_age", "MISSING_FIELD", "age_oldest"),
    ("_c_range", "OUT_OF_RANGE", "age_oldest"),
    ("_c_req", "OUT_OF_RANGE", "open_service_requests"),
)
_VISIT_TRIGGERS = ("hospital_discharge", "bereavement", "hardship_reported")


def _visit_code_lists() -> list[list[str]]:
    """Index k < 64: a scored row with flags matched, never, f1, f2, f3, overdue (bit i);
    64 + k: a rejected row with check i failing when bit i of k is set."""
    scored = [["TIER_MATCHED" if k & 1 else "DEFAULT_TIER",
               "NEVER_VISITED" if k & 2 else "CADENCE",
               *(["TRIGGER"] * ((k >> 2 & 1) + (k >> 3 & 1) + (k >> 4 & 1))),
               *(["OVERDUE"] if k & 32 else [])] for k in range(64)]
    rejected = [[code for i, (_, code, _) in enumerate(_VISIT_CHECKS) if k >> i & 1]
                for k in range(64)]
    return scored + rejected


def karamay_visits_polars(source: Any, as_of: dt.date, policy_hash: str = "") -> BatchOutput:
    """Karamay's visit tiers for a whole frame, as one hand-written polars query."""
    a = pl.lit(as_of, dtype=pl.Date)
    last = pl.col("last_visit")
    age = pl.col("age_oldest")
    requests = pl.col("open_service_requests").fill_null(0)
    hid = pl.col("household_id")

    def flag(name: str) -> pl.Expr:
        return pl.col(name).fill_null(False)

    def recent(name: str) -> pl.Expr:
        return (a - pl.col(name)).dt.total_days().is_between(0, 30).fill_null(False)

    def fires(name: str) -> pl.Expr:
        ev = pl.col(name)
        return (ev.is_not_null() & (ev <= a) & (last.is_null() | (ev > last))).fill_null(False)

    checks = [c for c, _, _ in _VISIT_CHECKS]
    lf = _source_frame(source).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row"),
        (hid.is_null() | (hid == "")).fill_null(True).alias("_c_id"),
        (hid.is_not_null() & (hid != "") & ~hid.is_first_distinct()).fill_null(False)
        .alias("_c_dup"),
        (last > a).fill_null(False).alias("_c_after"),
        age.is_null().alias("_c_age"),
        ((age < 0) | (age > 130)).fill_null(False).alias("_c_range"),
        (requests < 0).alias("_c_req"),
        (flag("extreme_poverty") | flag("life_threatening_illness") | recent("discharged_on")
         | recent("bereaved_on") | recent("hardship_reported_on")).alias("_warm"),
        (((age >= 60) & (flag("lives_alone") | flag("empty_nest"))).fill_null(False)
         | flag("disability") | flag("dementia")).alias("_concern"),
        ((age >= 60).fill_null(False) | flag("chronic_illness") | flag("low_income_support")
         | (requests > 0)).alias("_basic"),
        fires("discharged_on").alias("_f1"),
        fires("bereaved_on").alias("_f2"),
        fires("hardship_reported_on").alias("_f3"),
        last.is_null().alias("_never"),
    ).with_columns(
        pl.any_horizontal(*checks).alias("_rejected"),
        (pl.col("_warm") | pl.col("_concern")).alias("_weekly"),
        (pl.col("_warm") | pl.col("_concern") | pl.col("_basic")).alias("_matched"),
    ).with_columns(
        pl.min_horizontal(
            pl.when("_never").then(a).when("_weekly").then(last + _WEEK)
            .otherwise(last.dt.offset_by("1mo")),
            pl.when("_f1").then(pl.col("discharged_on") + _DAY),
            pl.when("_f2").then(pl.col("bereaved_on") + _DAY),
            pl.when("_f3").then(pl.col("hardship_reported_on") + _DAY),
        ).alias("_due"),
    ).with_columns(
        (pl.col("_due") < a).alias("_late"),
    ).with_columns(
        pl.when("_rejected").then(pl.lit("rejected")).otherwise(pl.lit("scored"))
        .alias("status"),
        pl.when("_rejected").then(None).when("_warm").then(pl.lit("warm_heart"))
        .when("_concern").then(pl.lit("concern")).when("_basic").then(pl.lit("basic"))
        .otherwise(pl.lit("reassured")).alias("tier"),
        pl.when("_rejected").then(None).when("_weekly").then(pl.lit("weekly"))
        .otherwise(pl.lit("monthly")).alias("cadence"),
        pl.when("_rejected").then(None).otherwise(pl.col("_due")).alias("next_due"),
        (~pl.col("_rejected") & pl.col("_late")).alias("overdue"),
        _lookup([[t for i, t in enumerate(_VISIT_TRIGGERS) if k >> i & 1] for k in range(8)],
                pl.when("_rejected").then(0).otherwise(_bits("_f1", "_f2", "_f3")))
        .alias("triggers"),
        _lookup(_visit_code_lists(),
                pl.when("_rejected").then(64 + _bits(*checks)).otherwise(
                    _bits("_matched", "_never", "_f1", "_f2", "_f3", "_late")))
        .alias("reason_codes"),
        pl.lit(policy_hash).alias("policy_hash"),
    )
    full = lf.collect()
    rejected = pl.concat([
        full.lazy().filter(col).select(
            "row", pl.col("household_id").alias("id"), pl.lit(fld).alias("field"),
            pl.lit(code).alias("reason_code"))
        for col, code, fld in _VISIT_CHECKS
    ]).sort("row", maintain_order=True).collect()
    details = (
        full.lazy().filter(~pl.col("_rejected"))
        .group_by(pl.col("liaison_id").fill_null("(unassigned)"))
        .agg(pl.len().alias("households"),
             pl.when(pl.col("_weekly")).then(30.44 / 7).otherwise(1.0).sum().round(1)
             .alias("visits_per_month"),
             pl.col("overdue").sum().alias("overdue"))
        .with_columns((pl.col("households") > 100).alias("capacity_exceeded"))
        .sort("liaison_id").collect()
    )
    output = full.drop([c for c in full.columns if c.startswith("_")])
    return BatchOutput(output, rejected, details)



#: policy id -> (per-record function, batch function). Only karamay is written by hand.
HANDWRITTEN: dict[str, tuple[Callable[[Mapping[str, Any], dt.date], Outcome],
                             Callable[[Any, dt.date, str], BatchOutput]]] = {
    "karamay": (karamay_visit, karamay_visits_polars),
}


# --- civility: the baseline's ten stars and two titles (karamay inherits them unchanged) ---

#: star id -> condition; hand-copied from src/civicscore/policies/baseline.toml.
def _karamay_civility_stars() -> list[tuple[str, pl.Expr]]:
    c = pl.col
    return [
        ("respect_elders", c("elder_care_commended").fill_null(False)),
        ("law_abiding", c("law_violations").fill_null(0) == 0),
        ("dedication", c("workplace_commended").fill_null(False)),
        ("honesty", c("honesty_commended").fill_null(False)),
        ("neighbourliness", c("neighbour_disputes_unresolved").fill_null(0) == 0),
        ("clean_home", c("hygiene_inspections_passed").fill_null(0) >= 10),
        ("customs", c("thrifty_ceremonies").fill_null(True)
         & c("covenant_signed").fill_null(False)),
        ("safety", c("safety_hazards_open").fill_null(0) == 0),
        ("volunteering", c("volunteer_hours").fill_null(0) >= 20),
        ("participation", c("meetings_attended").fill_null(0) >= 3),
    ]


def _civility_code_lists() -> list[list[str]]:
    """Index k < 16: a scored row, revocation state (k & 3: none, pending, revoked,
    ended), bit 2 a title reached, bit 3 review due; 16 + k: a rejected row (bit 0 a
    missing or repeated id, bit 1 a review after the as-of date)."""
    revocation: list[list[str]] = [[], ["REVOCATION_PENDING"], ["REVOKED"], ["REVOCATION_ENDED"]]
    scored = [[*revocation[k & 3],
               *([] if (k & 3) == 2 else ["TITLE" if k & 4 else "NO_TITLE"]),
               "REVIEW_DUE" if k & 8 else "REVIEW_VALID"] for k in range(16)]
    rejected = [[*(["DUPLICATE_RECORD"] if k & 1 else []),
                 *(["REVIEW_AFTER_AS_OF"] if k & 2 else [])] for k in range(4)]
    return scored + rejected


def karamay_civility_polars(source: Any, as_of: dt.date, policy_hash: str = "") -> BatchOutput:
    """Karamay's (the baseline's) civility stars for a whole frame, by hand."""
    a = pl.lit(as_of, dtype=pl.Date)
    stars = _karamay_civility_stars()
    star_flags = [f"_s_{sid}" for sid, _ in stars]
    review, revoked = pl.col("review_date"), pl.col("revoked_on")
    hid = pl.col("household_id")

    def plus_year(d: pl.Expr) -> pl.Expr:
        return d.dt.offset_by("1y")  # 29 Feb -> 28 Feb, as civicscore's add_years

    lf = _source_frame(source).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row"),
        (hid.is_null() | ~hid.is_first_distinct()).fill_null(True).alias("_bad_id"),
        (review > a).fill_null(False).alias("_review_after"),
        *(cond.alias(flag) for flag, (_, cond) in zip(star_flags, stars, strict=True)),
    ).with_columns(
        pl.sum_horizontal(*star_flags).cast(pl.Int64).alias("_earned"),
        (pl.col("_bad_id") | pl.col("_review_after")).alias("_rejected"),
        pl.when(revoked.is_null()).then(0).when(revoked > a).then(1)
        .when(a < plus_year(revoked)).then(2).otherwise(3).alias("_revocation"),
        plus_year(review).alias("next_review"),
    ).with_columns(
        (pl.col("_revocation") == 2).alias("_barred"),
        (pl.col("next_review").is_null() | (pl.col("next_review") <= a)).alias("_review_due"),
    ).with_columns(
        pl.when("_rejected").then(pl.lit("rejected")).otherwise(pl.lit("scored"))
        .alias("status"),
        pl.when("_rejected").then(None).when("_barred").then(0).otherwise(pl.col("_earned"))
        .alias("stars"),
        pl.when(pl.col("_rejected") | pl.col("_barred")).then(pl.lit(""))
        .when(pl.col("_earned") >= 10).then(pl.lit("十星级文明户"))
        .when(pl.col("_earned") >= 8).then(pl.lit("文明户")).otherwise(pl.lit(""))
        .alias("title"),
        pl.when("_rejected").then(None).otherwise(pl.col("_review_due")).alias("review_due"),
        _lookup([[sid for i, (sid, _) in enumerate(stars) if k >> i & 1]
                 for k in range(1 << len(stars))],
                pl.when("_rejected").then(0).otherwise(_bits(*star_flags)))
        .alias("stars_met"),
        # civicscore lists the per-star codes under stars_met, the rest here
        _lookup(_civility_code_lists(),
                pl.when("_rejected").then(16 + _bits("_bad_id", "_review_after")).otherwise(
                    pl.col("_revocation").cast(pl.UInt32)
                    + 4 * (pl.col("_earned") >= 8).cast(pl.UInt32)
                    + 8 * pl.col("_review_due").cast(pl.UInt32)))
        .alias("reason_codes"),
        pl.lit(policy_hash).alias("policy_hash"),
    )
    full = lf.collect()
    rejected = full.filter("_rejected").select(
        "row", pl.col("household_id").alias("id"),
        pl.col("reason_codes").list.first().alias("reason_code"))
    output = full.drop([c for c in full.columns if c.startswith("_")])
    return BatchOutput(output, rejected, pl.DataFrame())



#: (policy id, scheme) -> hand-written polars batch function.
HANDWRITTEN_BATCH: dict[tuple[str, str], Callable[[Any, dt.date, str], BatchOutput]] = {
    ("karamay", "visits"): karamay_visits_polars,
    ("karamay", "civility"): karamay_civility_polars,
    ("karamay", "volunteer"): karamay_volunteer_polars,
    ("karamay", "appraisal"): karamay_appraisal_polars,
}


# =============================================================================================
# 3. Correctness checks (run before any timing is printed)
# =============================================================================================


class Mismatch(AssertionError):
    """An implementation disagrees with civicscore; the message shows the first rows."""


def civicscore_outcome(d: Any) -> Outcome:
    """A civicscore VisitDecision in the shape the baselines return."""
    if d.status == "rejected":
        return Outcome("rejected", "", None, False, (), tuple(d.reason_codes))
    return Outcome(d.status, d.tier, d.next_due, d.overdue, tuple(d.triggers),
                   tuple(d.reason_codes))


def check_per_record(visits: Any, records: Sequence[Mapping[str, Any]], as_of: dt.date,
                     baseline: Callable[[Mapping[str, Any], dt.date], Outcome]) -> list[Outcome]:
    """civicscore and the hand-written function agree on every record; civicscore's outcomes."""
    expected: list[Outcome] = []
    bad: list[str] = []
    for h in records:
        got = civicscore_outcome(visits.evaluate(h, as_of=as_of))
        mine = baseline(h, as_of)
        if got != mine and len(bad) < 5:
            bad.append(f"  {h.get('household_id')}: civicscore {got}\n"
                       f"  {' ' * len(str(h.get('household_id')))}  hand-written {mine}")
        expected.append(got)
    if bad:
        raise Mismatch("hand-written Python disagrees with civicscore:\n" + "\n".join(bad))
    return expected


def outcomes_frame(ids: Sequence[Any], outcomes: Sequence[Outcome]) -> pl.DataFrame:
    return pl.DataFrame({
        "row": list(range(1, len(outcomes) + 1)),
        "household_id": list(ids),
        "status": [o.status for o in outcomes],
        "tier": [o.tier or None for o in outcomes],
        "next_due": [o.next_due for o in outcomes],
        "overdue": [o.overdue for o in outcomes],
        "triggers": [list(o.triggers) for o in outcomes],
        "reason_codes": [list(o.reason_codes) for o in outcomes],
    }, schema={"row": pl.Int64, "household_id": pl.String, "status": pl.String,
               "tier": pl.String, "next_due": pl.Date, "overdue": pl.Boolean,
               "triggers": pl.List(pl.String), "reason_codes": pl.List(pl.String)})


VISIT_COLUMNS = ("status", "tier", "cadence", "next_due", "overdue", "triggers", "reason_codes")
CIVILITY_COLUMNS = ("status", "stars", "title", "review_due", "stars_met",
                    "reason_codes")
VOLUNTEER_RECORD_COLUMNS = ("record_id", "volunteer_id", "activity", "date", "status",
                            "service_hours", "counted_hours", "points", "expires_on",
                            "reason_codes")
VOLUNTEER_STATEMENT_COLUMNS = ("earned", "expired", "redeemed", "balance", "hours",
                               "star_level", "star_label", "records_scored",
                               "records_rejected", "reason_codes")
APPRAISAL_COLUMNS = ("subject_id", "status", "total", "computed_grade", "grade",
                     "grade_label", "rank", "vetoed", "needs_confirmation", "reason_codes")


@dataclass(frozen=True)
class Compared:
    """One frame of a scheme's result that is compared row by row: its name, the key
    its rows are matched on, and the decision columns compared."""

    name: str
    key: str
    columns: tuple[str, ...]


#: scheme -> the frames compared between civicscore and a hand-written baseline.
COMPARED: dict[str, tuple[Compared, ...]] = {
    "visits": (Compared("decisions", "row", VISIT_COLUMNS),),
    "civility": (Compared("decisions", "row", CIVILITY_COLUMNS),),
    "volunteer": (Compared("records", "row", VOLUNTEER_RECORD_COLUMNS),
                  Compared("statements", "volunteer_id", VOLUNTEER_STATEMENT_COLUMNS)),
    "appraisal": (Compared("decisions", "row", APPRAISAL_COLUMNS),),
}


class KnownFloatBug(Mismatch):
    """civicscore disagrees with the exact baseline only where its float sums round
    differently (the known bug of issue 10, fixed in parallel): it agrees on every row
    with a replica of its own float arithmetic. ``rows`` counts the rows that differ."""

    def __init__(self, message: str, rows: int) -> None:
        super().__init__(message)
        self.rows = rows


#: The frames of a batch result, each read once inside the timed run.
RESULT_FRAMES = ("output", "details", "rejected", "caseload", "statements")
#: Frames civicscore builds that no hand-written baseline builds at all (civility's
#: details: a row per household and criterion, 10^7 rows at 10^6 households; appraisal's:
#: a row per subject and indicator). They are
#: built after the timer stops, timed on their own and reported beside the ratio, so the
#: ratio compares the same work; everything both build (the output with civicscore's
#: worded reasons included) stays inside it.
NOT_IN_BASELINE: dict[str, tuple[str, ...]] = {"civility": ("details",), "appraisal": ("details",)}


def built(res: Any, skip: Sequence[str] = ()) -> None:
    """Read every frame of a batch result (but ``skip``), so that frames civicscore
    builds on first read (the output with its worded reasons, the details) are timed
    like the baselines' eager ones: until 07e13e6 they were built after the timer
    stopped, which left most of civicscore's batch time (wording reasons) out of the
    ratios."""
    for name in RESULT_FRAMES:
        if name not in skip:
            getattr(res, name, None)


def named_frames(scheme: str, res: Any) -> dict[str, pl.DataFrame]:
    """The compared frames of a batch result (civicscore's or a baseline's), by name.

    Volunteer results have a frame of records and one of statements; which of
    ``output`` and ``details`` holds which has changed between versions of civicscore
    (issue 10 makes ``output`` the statements, as the per-record ``output_rows``), so
    they are told apart by their columns.
    """
    frames = [f for f in (getattr(res, "output", None), getattr(res, "details", None))
              if isinstance(f, pl.DataFrame)]
    if scheme != "volunteer":
        return {"decisions": frames[0]}
    records = [f for f in frames if {"record_id", "counted_hours"} <= set(f.columns)]
    statements = [f for f in frames if "earned" in f.columns]
    if not records or not statements:
        raise Mismatch(f"volunteer: no records and statements frames among "
                       f"{[f.columns for f in frames]}")
    return {"records": records[0], "statements": statements[0]}


def per_record_frames(policy: Any, scheme: str, sample: pl.DataFrame,
                      as_of: dt.date) -> dict[str, pl.DataFrame]:
    """civicscore's per-record decisions on ``sample`` taken as one batch, as frames.

    Through the CLI's ``run`` / ``output_rows`` / ``detail_rows`` protocol, which every
    scheme keeps while its internals change (visits: its decisions, in the baselines'
    shape)."""
    rules = policy.schemes[scheme]
    if scheme == "visits":
        decisions = rules.evaluate_many(sample.to_dicts(), as_of=as_of).decisions
        return {"decisions": outcomes_frame(sample["household_id"].to_list(),
                                            [civicscore_outcome(d) for d in decisions])}
    res = rules.run(sample.to_dicts(), as_of=as_of)

    @dataclass
    class Rows:
        output: pl.DataFrame
        details: pl.DataFrame

    return named_frames(scheme, Rows(
        pl.DataFrame(list(res.output_rows()), infer_schema_length=None),
        pl.DataFrame(list(res.detail_rows()), infer_schema_length=None)))


def float_replica(policy_id: str, scheme: str) -> Callable[[Any, dt.date, str], BatchOutput
                                                           ] | None:
    """The baseline with civicscore-on-main's float totals, where one exists (appraisal):
    it tells the known float bug from a real disagreement; it is never timed."""
    if (policy_id, scheme) != ("karamay", "appraisal"):
        return None
    return lambda source, as_of, policy_hash: karamay_appraisal_polars(
        source, as_of, policy_hash, float_totals=True)


def compare_scheme(scheme: str, ours: Mapping[str, pl.DataFrame],
                   theirs: Mapping[str, pl.DataFrame], what: str,
                   replica: Callable[[], Mapping[str, pl.DataFrame]] | None = None) -> int:
    """Every compared frame of a scheme agrees exactly, row by row; returns rows compared.

    When a frame differs and ``replica`` gives the baseline's frames with civicscore-on-
    main's float totals: if civicscore agrees with those on every row, the difference
    is the known float bug and ``KnownFloatBug`` (with the count of rows the exact and
    float totals change, and the first few) is raised; otherwise the real ``Mismatch``.
    """
    rows = 0
    for spec in COMPARED[scheme]:
        label = f"{what}, {spec.name}"
        try:
            rows += compare_frames(ours[spec.name], theirs[spec.name], label, spec.columns,
                                   key=spec.key)
        except Mismatch as exact:
            if replica is None:
                raise
            floats = replica()[spec.name]
            try:
                compare_frames(ours[spec.name], floats, f"{label} (civicscore vs a replica "
                               "of its own float totals)", spec.columns, key=spec.key)
            except Mismatch:
                raise exact from None
            count, first = differing_rows(theirs[spec.name], floats, spec)
            raise KnownFloatBug(
                f"{label}: {count} of {floats.height} rows differ only because civicscore "
                f"sums the totals in floats (the known bug of issue 10, fixed in "
                f"parallel): civicscore agrees on every row with a replica of its float "
                f"arithmetic, and the exact decimal total differs from it on these "
                f"(first {len(first)}):\n" + "\n".join(first), count) from None
    return rows


def differing_rows(exact: pl.DataFrame, floats: pl.DataFrame, spec: Compared,
                   show: int = 5) -> tuple[int, list[str]]:
    """How many rows the exact and the float-total baselines disagree on, and the first
    (with how many of them have a different total; the others' quota ranks or grades
    moved because of those)."""
    a = comparable(exact, spec.columns, spec.key).sort(spec.key)
    b = comparable(floats, spec.columns, spec.key).sort(spec.key)
    diff = pl.Series([False] * a.height)
    for c in a.columns:
        diff = diff | ~a[c].eq_missing(b[c]).fill_null(False)
    lines = []
    if "total" in a.columns:
        totals = int((~a["total"].eq_missing(b["total"]).fill_null(False)).sum())
        lines.append(f"  ({totals} with a different total; the other {int(diff.sum()) - totals}"
                     f" have a quota rank or grade moved by those)")
    for x, y in zip(a.filter(diff).head(show).to_dicts(), b.filter(diff).head(show).to_dicts(),
                    strict=True):
        changed = {k: (y[k], x[k]) for k in x if x[k] != y[k]}
        lines.append(f"  {spec.key} {x[spec.key]} ({x.get('subject_id', '')}): " + ", ".join(
            f"{k} {v[0]} in floats, {v[1]} exactly" for k, v in changed.items()))
    return int(diff.sum()), lines


def check_batch_baseline(policy: Any, scheme: str, sample: pl.DataFrame,
                         as_of: dt.date) -> int:
    """The hand-written polars query agrees with civicscore's per-record decisions on
    ``sample`` taken as one batch (a repeated id is rejected there); raises Mismatch, or
    KnownFloatBug when only civicscore's float totals make the difference."""
    fn = HANDWRITTEN_BATCH[(policy.id, scheme)]
    got = named_frames(scheme, fn(sample, as_of, policy.hash))
    want = per_record_frames(policy, scheme, sample, as_of)
    floats = float_replica(policy.id, scheme)
    replica = None if floats is None else (
        lambda: named_frames(scheme, floats(sample, as_of, policy.hash)))
    return compare_scheme(scheme, want, got, f"hand-written polars vs civicscore ({scheme}, "
                                             f"{sample.height:,} rows one by one)", replica)


def comparable(output: pl.DataFrame, columns: Iterable[str], key: str = "row"
               ) -> pl.DataFrame:
    """The columns to compare, with rejected rows' decision columns blanked."""
    keep = [c for c in columns if c in output.columns and c != key]
    df = output.select(key, *keep)
    blank = [c for c in keep if c not in ("status", "reason_codes")]
    if "status" in keep and blank:
        scored = pl.col("status") == "scored"
        df = df.with_columns(pl.when(scored).then(pl.col(c)).otherwise(None).alias(c)
                             for c in blank)
    return df


def compare_frames(ours: pl.DataFrame, theirs: pl.DataFrame, what: str,
                   columns: Iterable[str], key: str = "row") -> int:
    """Row-by-row equality on the shared columns; raises Mismatch; returns rows compared."""
    columns = tuple(columns)
    a, b = comparable(ours, columns, key), comparable(theirs, columns, key)
    shared = [c for c in a.columns if c in b.columns and c != key]
    if not shared or ("status" in columns and "status" not in shared):
        raise Mismatch(f"{what}: nothing to compare (have {a.columns} and {b.columns})")
    if a.height != b.height:
        raise Mismatch(f"{what}: {a.height} rows against {b.height}")
    a, b = a.sort(key).select(key, *shared), b.sort(key).select(key, *shared)
    b = b.cast({c: a.schema[c] for c in [key, *shared] if a.schema[c] != b.schema[c]},
               strict=False)
    diff = a[key].eq_missing(b[key]).fill_null(False)
    for c in shared:
        diff = diff & a[c].eq_missing(b[c]).fill_null(False)
    if not diff.all():
        bad = a.with_row_index("_i").filter(~diff).head(5)["_i"].to_list()
        lines = [f"  {key} {a[key][i]}: civicscore {a.row(i, named=True)}\n"
                 f"  {'':{len(str(a[key][i])) + len(key)}}   baseline   {b.row(i, named=True)}"
                 for i in bad]
        raise Mismatch(f"{what}: {(~diff).sum()} of {a.height} rows differ:\n"
                       + "\n".join(lines))
    return a.height


def compare_details(ours: pl.DataFrame, theirs: pl.DataFrame, what: str) -> None:
    """Caseload per liaison: households and overdue counts agree (when both have them)."""
    key = "liaison_id"
    cols = [c for c in ("households", "overdue") if c in ours.columns and c in theirs.columns]
    if key not in ours.columns or key not in theirs.columns or not cols:
        return
    a = ours.select(key, *cols).sort(key)
    b = theirs.select(key, *cols).sort(key).cast({c: a.schema[c] for c in cols})
    if not a.equals(b):
        joined = a.join(b, on=key, how="full", suffix="_baseline")
        raise Mismatch(f"{what}: caseload differs:\n{joined.head(5)}")


# =============================================================================================
# 4. Peers: the same karamay tier rules in rule-engine, zen-engine and durable-rules
# =============================================================================================
#
# The peers decide the TIER only (their natural unit of work); the due date, overdue
# flag and reason codes would cost them more on top, so the comparison favours them.
# Their inputs are prepared outside the timed call: dates as day numbers (a missing
# date as date.min's, as civicscore reads it), booleans and ints as they are.

_RECENT = "(as_of - {0} >= 0 and as_of - {0} <= 30)"
KARAMAY_WARM = " or ".join(["extreme_poverty", "life_threatening_illness",
                            *(_RECENT.format(f) for f in
                              ("discharged_on", "bereaved_on", "hardship_reported_on"))])
KARAMAY_CONCERN = "(age_oldest >= 60 and (lives_alone or empty_nest)) or disability or dementia"
KARAMAY_BASIC = ("age_oldest >= 60 or chronic_illness or low_income_support "
                 "or open_service_requests > 0")
KARAMAY_TERNARY = (f'({KARAMAY_WARM}) ? "warm_heart" : (({KARAMAY_CONCERN}) ? "concern" : '
                   f'(({KARAMAY_BASIC}) ? "basic" : "reassured"))')
_PEER_BOOLS = ("lives_alone", "empty_nest", "life_threatening_illness", "disability",
               "dementia", "chronic_illness", "extreme_poverty", "low_income_support")
_PEER_DATES = ("discharged_on", "bereaved_on", "hardship_reported_on")


def peer_facts(h: Mapping[str, Any], as_of: dt.date) -> dict[str, Any]:
    """A household as the peers take it (prepared once, outside the timed call)."""
    out: dict[str, Any] = {"as_of": as_of.toordinal(), "age_oldest": int(h["age_oldest"]),
                           "open_service_requests": int(h.get("open_service_requests") or 0)}
    for name in _PEER_BOOLS:
        out[name] = bool(h.get(name) or False)
    for name in _PEER_DATES:
        d = h.get(name)
        out[name] = d.toordinal() if d is not None else NEVER_ORDINAL
    return out


@dataclass
class Peer:
    name: str
    package: str
    tier: Callable[[dict[str, Any]], str]
    note: str = ""


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def peer_rule_engine() -> Peer:
    import rule_engine

    rule = rule_engine.Rule(KARAMAY_TERNARY)
    return Peer("rule-engine", f"rule-engine {_version('rule-engine')}", rule.evaluate,
                "Rule(ternary).evaluate(dict)")


def peer_zen_table() -> Peer:
    import zen

    cells = [KARAMAY_WARM, KARAMAY_CONCERN, KARAMAY_BASIC, ""]
    tiers = ["warm_heart", "concern", "basic", "reassured"]
    content = {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "household",
             "position": {"x": 0, "y": 0}},
            {"id": "tiers", "type": "decisionTableNode", "name": "visit tiers",
             "position": {"x": 200, "y": 0},
             "content": {"hitPolicy": "first",
                         "inputs": [{"id": "when", "name": "condition"}],
                         "outputs": [{"id": "tier", "name": "tier", "field": "tier"}],
                         "rules": [{"_id": f"r{i}", "when": cell, "tier": json.dumps(t)}
                                   for i, (cell, t) in enumerate(zip(cells, tiers,
                                                                     strict=True))]}},
            {"id": "out", "type": "outputNode", "name": "decision",
             "position": {"x": 400, "y": 0}},
        ],
        "edges": [{"id": "e1", "type": "edge", "sourceId": "in", "targetId": "tiers"},
                  {"id": "e2", "type": "edge", "sourceId": "tiers", "targetId": "out"}],
    }
    decision = zen.ZenEngine().create_decision(json.dumps(content))

    def tier(facts: dict[str, Any]) -> str:
        return decision.evaluate(facts)["result"]["tier"]

    return Peer("zen-engine (decision table)", f"zen-engine {_version('zen-engine')}", tier,
                "JDM decisionTableNode, hitPolicy first; ZenDecision.evaluate(dict)")


def peer_zen_expression() -> Peer:
    import zen

    expression = zen.compile_expression(KARAMAY_TERNARY)
    return Peer("zen-engine (compiled expression)", f"zen-engine {_version('zen-engine')}",
                expression.evaluate, "zen.compile_expression(ternary).evaluate(dict)")


def peer_durable_rules() -> Peer:
    from durable.engine import MessageNotHandledException
    from durable.lang import m, post, pri, ruleset, when_all

    chosen: list[str] = []

    def within(name: str) -> Any:
        # durable-rules compares a field with an expression, not an expression with a
        # constant: 0 <= as_of - event <= 30 becomes event <= as_of <= event + 30
        return (m.as_of >= getattr(m, name)) & (m.as_of <= getattr(m, name) + 30)

    true = True  # durable-rules conditions compare with ==; `is` would not build a rule
    with ruleset("karamay_visit_tiers"):
        @when_all(pri(1), (m.extreme_poverty == true) | (m.life_threatening_illness == true)
                  | within("discharged_on") | within("bereaved_on")
                  | within("hardship_reported_on"))
        def warm_heart(c: Any) -> None:
            chosen.append("warm_heart")

        @when_all(pri(2), ((m.age_oldest >= 60) & ((m.lives_alone == true)
                                                   | (m.empty_nest == true)))
                  | (m.disability == true) | (m.dementia == true))
        def concern(c: Any) -> None:
            chosen.append("concern")

        @when_all(pri(3), (m.age_oldest >= 60) | (m.chronic_illness == true)
                  | (m.low_income_support == true) | (m.open_service_requests > 0))
        def basic(c: Any) -> None:
            chosen.append("basic")

    counter = [0]

    def tier(facts: dict[str, Any]) -> str:
        counter[0] += 1
        chosen.clear()
        try:  # every event needs its own id, or durable-rules ignores it as seen
            post("karamay_visit_tiers", {**facts, "id": counter[0]})
        except MessageNotHandledException:
            return "reassured"
        return chosen[0]

    return Peer("durable-rules", f"durable_rules {_version('durable_rules')}", tier,
                "ruleset with pri(); post(event); no rule fires -> default tier")


PEERS: dict[str, Callable[[], Peer]] = {
    "rule-engine": peer_rule_engine,
    "zen-table": peer_zen_table,
    "zen-expression": peer_zen_expression,
    "durable-rules": peer_durable_rules,
}


# =============================================================================================
# 5. Timing helpers
# =============================================================================================


def timer_overhead_ns(samples: int = 20_000) -> float:
    clock = time.perf_counter_ns
    spans = []
    for _ in range(samples):
        t0 = clock()
        spans.append(clock() - t0)
    return float(statistics.median(spans))


def median_call_ns(fn: Callable[[Any], Any], items: Sequence[Any], passes: int,
                   overhead: float) -> float:
    """Median of individually timed calls over ``passes`` passes (after a warm-up)."""
    return median_calls_ns({"fn": fn}, items, passes, overhead)["fn"]


def median_calls_ns(fns: Mapping[str, Callable[[Any], Any]], items: Sequence[Any],
                    passes: int, overhead: float) -> dict[str, float]:
    """Like ``median_call_ns`` for several functions, their passes interleaved so that
    a noisy neighbour slows them alike."""
    clock = time.perf_counter_ns
    spans: dict[str, list[int]] = {name: [] for name in fns}
    for fn in fns.values():
        for x in items[: max(1, len(items) // 10)]:
            fn(x)
    for _ in range(passes):
        for name, fn in fns.items():
            out = spans[name]
            for x in items:
                t0 = clock()
                fn(x)
                out.append(clock() - t0)
    return {name: max(0.0, statistics.median(v) - overhead) for name, v in spans.items()}


def maxrss_bytes() -> int:
    """This process's own peak resident set size.

    On Linux this is VmHWM from /proc/self/status, the high-water mark of the memory
    of the program now running. ``ru_maxrss`` would not do for a child: Linux carries
    the parent's resident size at fork over exec into the child's ``ru_maxrss``, so a
    child started by a parent holding 10^7 households would report the parent's size.
    Elsewhere, ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


# =============================================================================================
# 6. Child processes: batch runs and peers, each in a process of its own
# =============================================================================================


def run_child(spec: Mapping[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run ``bench.py --child SPEC`` and return the JSON it reports."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            result: dict[str, Any] = json.loads(line[len(RESULT_TAG):])
            return result
    raise RuntimeError(f"child {spec.get('task')} {spec.get('impl', spec.get('peer'))} "
                       f"failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def _report(result: Mapping[str, Any]) -> None:
    print(RESULT_TAG + json.dumps(result), flush=True)


def child_batch(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Time one batch implementation on a Parquet file; save what is to be compared."""
    as_of = dt.date.fromisoformat(spec["as_of"])
    path, scheme_name = spec["path"], spec["scheme"]
    run: Callable[[Any], Any]
    if spec["impl"] == "civicscore":
        import civicscore

        policy = civicscore.load(spec["policy"])
        scheme = policy.schemes.get(scheme_name)
        batch = getattr(scheme, "batch", None)
        if batch is None:
            return {"error": UNAVAILABLE}

        def run(source: Any) -> Any:
            return batch(source, as_of=as_of)
    else:
        fn = HANDWRITTEN_BATCH[(spec["policy_id"], scheme_name)]

        def run(source: Any) -> Any:
            return fn(source, as_of, spec["policy_hash"])
    run(pl.read_parquet(path, n_rows=1000))  # warm-up: imports, compilation, thread pool
    times: list[int] = []
    res: Any = None
    apart = NOT_IN_BASELINE.get(scheme_name, ()) if spec["impl"] == "civicscore" else ()
    extra: list[int] = []
    for _ in range(int(spec.get("repeats", 1))):
        res = None
        gc.collect()
        t0 = time.perf_counter_ns()
        res = run(path)
        built(res, apart)  # a frame built on first read is part of the run (reasons are)
        times.append(time.perf_counter_ns() - t0)
        if apart:  # frames the baseline does not build: timed on their own
            t1 = time.perf_counter_ns()
            for name in apart:
                getattr(res, name, None)
            extra.append(time.perf_counter_ns() - t1)
    peak = maxrss_bytes()
    frames = named_frames(scheme_name, res)
    if spec.get("out"):
        out = Path(spec["out"])
        for compared in COMPARED[scheme_name]:
            frame = frames[compared.name]
            keep = [c for c in (compared.key, *compared.columns) if c in frame.columns]
            frame.select(keep).write_parquet(out.with_suffix(f".{compared.name}.parquet"))
        details = getattr(res, "details", None)
        if scheme_name == "visits" and isinstance(details, pl.DataFrame) and details.height:
            details.write_parquet(out.with_suffix(".details.parquet"))
    rows = next(iter(frames.values())).height if scheme_name != "volunteer" \
        else frames["records"].height
    return {"times_ns": times, "peak_bytes": peak, "rows": rows, "apart_ns": extra}


def child_peer(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check one peer against the expected tiers, then time its per-record call."""
    try:
        peer = PEERS[spec["peer"]]()
    except Exception as e:  # not installed, or fails to build: reported, then skipped
        return {"error": f"{type(e).__name__}: {e}"}
    sample = json.loads(Path(spec["sample"]).read_text())
    facts, expected = sample["facts"], sample["tiers"]
    wrong = [(f, t, peer.tier(f)) for f, t in zip(facts, expected, strict=True)]
    wrong = [w for w in wrong if w[1] != w[2]]
    if wrong:
        return {"mismatch": f"{len(wrong)} of {len(facts)} tiers differ, e.g. "
                            f"{wrong[0][0]}: expected {wrong[0][1]}, got {wrong[0][2]}"}
    overhead = timer_overhead_ns()
    ns = median_call_ns(peer.tier, facts, int(spec["passes"]), overhead)
    return {"ns": ns, "name": peer.name, "package": peer.package, "note": peer.note,
            "checked": len(facts)}


def child_main(raw: str) -> int:
    spec = json.loads(raw)
    task = {"batch": child_batch, "peer": child_peer}[spec["task"]]
    result = task(spec)
    _report(result)
    sys.stdout.flush()
    os._exit(0)  # durable-rules leaves non-daemon timer threads behind


# =============================================================================================
# 7. Tables
# =============================================================================================


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def text(self) -> str:
        widths = [max(len(r[i]) for r in [self.columns, *self.rows])
                  for i in range(len(self.columns))]
        line = "  ".join("-" * w for w in widths)
        out = [self.title, line, "  ".join(c.ljust(w) for c, w in zip(self.columns, widths,
                                                                         strict=True)), line]
        out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                for r in self.rows]
        out += [f"  * {n}" for n in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        out = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
               "|" + "|".join("---" for _ in self.columns) + "|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in self.rows]
        if self.notes:
            out += [""] + [f"* {n}" for n in self.notes]
        return "\n".join(out)


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("MET" if ok else "MISS")


def us(ns: float) -> str:
    return f"{ns / 1000:.2f} µs"


def secs(ns: float) -> str:
    return f"{ns / 1e9:.2f} s"


def rate(rows: int, ns: float) -> str:
    per_s = rows / (ns / 1e9)
    return f"{per_s / 1e6:.2f} M rows/s" if per_s >= 1e5 else f"{per_s / 1e3:.1f} k rows/s"


def mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def size_label(n: int) -> str:
    exp = len(str(n)) - 1
    return f"10^{exp}" if n == 10**exp else f"{n:,}"


# =============================================================================================
# 8. The sections
# =============================================================================================


@dataclass
class Settings:
    policy: str
    seed: int
    as_of: dt.date
    sizes: list[int]
    other_sizes: list[int]
    sample: int
    passes: int
    batch_repeats: int
    check_repeats: int
    check_all: bool
    peers: list[str]
    quick: bool
    allow_float_bug: bool = False


@dataclass
class Summary:
    """Every target of issue 10 with what this run measured: the first table printed."""

    rows: list[tuple[str, str, bool | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, target: str, measured: str, ok: bool | None) -> None:
        self.rows.append((target, measured, ok))

    def table(self, cfg: Settings) -> Table:
        table = Table("Summary against the targets of issue 10",
                      ["target", "measured", "result"])
        if not self.rows:
            table.add("(no target measured: no hand-written baseline for this policy, or "
                      "the sections were skipped)", "-", "-")
        for target, measured, ok in self.rows:
            table.add(target, measured, verdict(ok))
        if cfg.sizes != [10**6, 10**7] or cfg.other_sizes != [10**6, 10**7]:
            table.notes.append("measured at the sizes of this run, not at the targets' 10^6 "
                               "and 10^7: read the verdicts as indications")
        table.notes += self.notes
        return table


def tolerate_float_bug(cfg: Settings, check: Callable[[], Any], notes: list[str],
                       label: str) -> None:
    """Run a correctness check; a ``KnownFloatBug`` stops the run unless
    ``--allow-known-float-bug`` was given (for trial runs only), then it is reported."""
    try:
        check()
    except KnownFloatBug as e:
        if not cfg.allow_float_bug:
            raise
        progress(f"WARNING {label}: {e}")
        notes.append(f"{label}: {e.rows} rows differ from the exact baseline only through "
                     f"civicscore's float totals (the known bug of issue 10); the run went "
                     f"on because of --allow-known-float-bug")


def section_per_record(policy: Any, sample: pl.DataFrame, cfg: Settings,
                       tmp: Path, summary: Summary) -> list[Table]:
    visits = policy.schemes["visits"]
    records = sample.to_dicts()
    hand = HANDWRITTEN.get(policy.id)
    as_of = cfg.as_of
    progress(f"per-record: checking {len(records)} households against the baselines")
    if hand is not None:
        expected = check_per_record(visits, records, as_of, hand[0])
        check_batch_baseline(policy, "visits", sample, as_of)
    else:
        expected = [civicscore_outcome(visits.evaluate(h, as_of=as_of)) for h in records]
    overhead = timer_overhead_ns()
    progress("per-record: timing civicscore and the hand-written function")

    def civic(h: Mapping[str, Any]) -> Any:
        return visits.evaluate(h, as_of=as_of)

    fns: dict[str, Callable[[Any], Any]] = {"civicscore": civic}
    if hand is not None:
        def python(h: Mapping[str, Any]) -> Any:
            return hand[0](h, as_of)

        fns["python"] = python
    medians = median_calls_ns(fns, records, cfg.passes, overhead)
    cs_ns = medians["civicscore"]
    table = Table(f"Per-record visit decision with reasons — policy {policy.id}, "
                  f"{len(records):,} households, median of {cfg.passes} passes",
                  ["measure", "civicscore", "baseline", "ratio", "target", "result"])
    table.add("µs per record (civicscore evaluate)", us(cs_ns), "-", "-", "-", "-")
    if "python" in medians:
        py_ns = medians["python"]
        ratio = cs_ns / py_ns
        ok = ratio <= TARGET_RECORD_RATIO
        table.add("vs hand-written Python function", us(cs_ns), us(py_ns),
                  f"{ratio:.2f}× the time", f"≤ {TARGET_RECORD_RATIO:g}×", verdict(ok))
        summary.add(f"per-record visit decision with reasons ≤ {TARGET_RECORD_RATIO:g}× the "
                    f"hand-written Python function", f"{ratio:.2f}× ({us(cs_ns)} vs "
                    f"{us(py_ns)})", ok)
    tiers = pl.Series([o.tier for o in expected if o.status == "scored"]).value_counts(
        sort=True)
    table.notes.append("sample tiers: " + ", ".join(
        f"{t} {c}" for t, c in tiers.iter_rows()) + f"; rejected "
        f"{sum(o.status == 'rejected' for o in expected)}; overdue "
        f"{sum(o.overdue for o in expected)}")
    table.notes.append(f"timer overhead {overhead:.0f} ns subtracted from every call")
    if hand is not None:
        table.notes.append("civicscore, the hand-written function and the hand-written polars "
                           "query asserted to agree on the whole sample first")
    else:
        table.notes.append(f"no hand-written baseline for policy {policy.id} (written for: "
                           f"{', '.join(HANDWRITTEN)}): civicscore alone, no peers")
    tables = [table]
    if hand is not None and cfg.peers:
        tables.append(section_peers(records, expected, cs_ns, cfg, tmp, table))
    return tables


def section_peers(records: list[dict[str, Any]], expected: list[Outcome], cs_ns: float,
                  cfg: Settings, tmp: Path, record_table: Table) -> Table:
    scored = [(h, o) for h, o in zip(records, expected, strict=True) if o.status == "scored"]
    sample_path = tmp / "peer-sample.json"
    sample_path.write_text(json.dumps({
        "facts": [peer_facts(h, cfg.as_of) for h, _ in scored],
        "tiers": [o.tier for _, o in scored]}))
    table = Table(f"Peers on the same karamay tier rules — {len(scored):,} scored households, "
                  f"median of {cfg.passes} passes",
                  ["peer", "package", "µs per record (tier only)", "civicscore speed-up",
                   "correct", "how"])
    fastest: tuple[float, str] | None = None
    for key in cfg.peers:
        progress(f"peers: {key}")
        res = run_child({"task": "peer", "peer": key, "sample": str(sample_path),
                         "passes": cfg.passes})
        if "error" in res:
            table.add(key, "not available", "-", "-", "-", res["error"][:90])
            continue
        if "mismatch" in res:
            raise Mismatch(f"peer {key}: {res['mismatch']}")
        ns = float(res["ns"])
        table.add(res["name"], res["package"], us(ns), f"{ns / cs_ns:.1f}×",
                  f"yes ({res['checked']:,})", res["note"])
        if fastest is None or ns < fastest[0]:
            fastest = (ns, res["name"])
    if fastest is not None:
        speedup = fastest[0] / cs_ns
        record_table.add(f"vs fastest peer: {fastest[1]} (tier only)", us(cs_ns),
                         us(fastest[0]), f"{speedup:.2f}× faster" if speedup >= 1
                         else f"{1 / speedup:.2f}× slower", "-", "-")
    table.notes.append("peers decide the tier only; civicscore's figure includes the due "
                       "date, overdue flag and reasons, so the ratio favours the peers")
    table.notes.append("peer inputs are prepared outside the timed call (dates as day "
                       "numbers); every peer's tiers are asserted equal to the hand-written "
                       "baseline's before it is timed")
    return table


@dataclass
class BatchRuns:
    """The timed runs of one implementation on one file."""

    times_ns: list[int] = field(default_factory=list)
    peak_bytes: int = 0
    error: str = ""
    apart_ns: list[int] = field(default_factory=list)  # frames no baseline builds

    def add(self, res: Mapping[str, Any]) -> None:
        if "error" in res:
            self.error = str(res["error"])
            return
        self.times_ns += res["times_ns"]
        self.apart_ns += [t for t in res.get("apart_ns", ()) if t]
        self.peak_bytes = max(self.peak_bytes, int(res["peak_bytes"]))

    @property
    def median_ns(self) -> float:
        return float(statistics.median(self.times_ns))


@dataclass
class BatchFigures:
    """One scheme at one size: both implementations' runs and their paired time ratio."""

    scheme: str
    n: int
    cs: BatchRuns
    hw: BatchRuns
    ratio: float | None

    @property
    def ok(self) -> bool:
        return not self.cs.error and bool(self.cs.times_ns)

    @property
    def has_hw(self) -> bool:
        return bool(self.hw.times_ns)


def _batch_pair(cfg: Settings, policy: Any, scheme: str, path: Path, n: int, tmp: Path,
                notes: list[str]) -> BatchFigures:
    """civicscore's and (where written) the hand-written batch runs of one file.

    Each run is a fresh child process; the two implementations take turns (A B B A
    ...), so drift in the machine's load falls on both. The first round's outputs are
    compared row by row (every compared frame of the scheme) before anything else is
    run. Without a hand-written baseline for the policy, the second has no runs; without
    civicscore's batch evaluator, the first has an error and the baseline is still timed.
    """
    label = size_label(n)
    common = {"task": "batch", "scheme": scheme, "path": str(path), "as_of":
              cfg.as_of.isoformat(), "policy": cfg.policy, "policy_id": policy.id,
              "policy_hash": policy.hash}
    has_hw = (policy.id, scheme) in HANDWRITTEN_BATCH
    cs, hw = BatchRuns(), BatchRuns()
    ratios: list[float] = []
    for r in range(cfg.batch_repeats):
        order = ["civicscore", "handwritten"] if r % 2 == 0 else ["handwritten", "civicscore"]
        times: dict[str, int] = {}
        for impl in order:
            if (impl == "handwritten" and not has_hw) or (impl == "civicscore" and cs.error):
                continue
            progress(f"batch: {scheme} {label}: {impl} (run {r + 1} of {cfg.batch_repeats})")
            out = str(tmp / f"{impl}-{scheme}-{label}") if r == 0 else ""
            res = run_child({**common, "impl": impl, "out": out})
            (cs if impl == "civicscore" else hw).add(res)
            if "error" not in res:
                times[impl] = res["times_ns"][0]
        if cs.error and not has_hw:
            break
        if len(times) == 2:
            ratios.append(times["civicscore"] / times["handwritten"])
        if r == 0 and len(times) == 2:
            progress(f"batch: {scheme} {label}: comparing outputs")
            _compare_saved(cfg, policy, scheme, path, label, tmp, notes)
    return BatchFigures(scheme, n, cs, hw, statistics.median(ratios) if ratios else None)


def _compare_saved(cfg: Settings, policy: Any, scheme: str, path: Path, label: str,
                   tmp: Path, notes: list[str]) -> None:
    """The first round's saved outputs of both implementations agree (see _batch_pair)."""
    def saved(impl: str) -> dict[str, pl.DataFrame]:
        return {c.name: pl.read_parquet(tmp / f"{impl}-{scheme}-{label}.{c.name}.parquet")
                for c in COMPARED[scheme]}

    floats = float_replica(policy.id, scheme)
    replica = None if floats is None else (
        lambda: named_frames(scheme, floats(path, cfg.as_of, policy.hash)))
    tolerate_float_bug(cfg, lambda: compare_scheme(
        scheme, saved("civicscore"), saved("handwritten"),
        f"hand-written polars vs civicscore batch ({scheme}, {label})", replica),
        notes, f"batch {scheme} {label}")
    details = tmp / f"civicscore-{scheme}-{label}.details.parquet"
    if scheme == "visits" and details.exists():
        compare_details(pl.read_parquet(details), pl.read_parquet(
            tmp / f"handwritten-{scheme}-{label}.details.parquet"), f"caseload ({label})")


def _makers(policy: Any, cfg: Settings) -> dict[str, Callable[[int], pl.DataFrame]]:
    return {
        "civility": lambda n: civility_households(n, cfg.seed, policy, as_of=cfg.as_of),
        "volunteer": lambda n: activity_records(n, cfg.seed, policy, as_of=cfg.as_of),
        "appraisal": lambda n: subjects(n, cfg.seed, policy, as_of=cfg.as_of),
    }


def run_batches(policy: Any, files: Mapping[int, Path], cfg: Settings, tmp: Path,
                skip: set[str], notes: list[str]) -> list[BatchFigures]:
    """Every scheme of the policy at every size: visits on the households of ``files``
    (unless ``batch`` is skipped), the others on their own data (unless ``other`` is)."""
    figures: list[BatchFigures] = []
    if "batch" not in skip and policy.schemes.get("visits") is not None:
        for n, path in sorted(files.items()):
            figures.append(_batch_pair(cfg, policy, "visits", path, n, tmp, notes))
    if "other" in skip:
        return figures
    for scheme, make in _makers(policy, cfg).items():
        rules = policy.schemes.get(scheme)
        if rules is None:
            continue
        if getattr(rules, "batch", None) is None and (policy.id, scheme) not in \
                HANDWRITTEN_BATCH:
            figures.append(BatchFigures(scheme, cfg.other_sizes[0],
                                        BatchRuns(error=UNAVAILABLE), BatchRuns(), None))
            continue
        for i, n in enumerate(sorted(cfg.other_sizes)):
            label = size_label(n)
            path = tmp / f"{scheme}-{n}.parquet"
            progress(f"generating {label} rows for {scheme}")
            frame = make(n)
            if i == 0 and (policy.id, scheme) in HANDWRITTEN_BATCH:
                progress(f"{scheme}: checking the hand-written baseline one record at a time")
                head = frame.head(2000)
                tolerate_float_bug(cfg, lambda head=head, scheme=scheme: check_batch_baseline(
                    policy, scheme, head, cfg.as_of), notes,
                    f"{scheme} sample of {head.height:,} vs per-record")
            frame.write_parquet(path)
            del frame
            figures.append(_batch_pair(cfg, policy, scheme, path, n, tmp, notes))
            path.unlink()
    return figures


def batch_tables(policy: Any, figures: Sequence[BatchFigures], cfg: Settings,
                 summary: Summary) -> list[Table]:
    """The batch table (time and memory ratios, every scheme and size) and linearity."""
    table = Table(f"Batch: civicscore vs hand-written polars — policy {policy.id}, median of "
                  f"{cfg.batch_repeats} runs, each implementation in its own process",
                  ["scheme", "rows", "civicscore", "hand-written polars", "time ratio",
                   "target", "result", "peak memory", "memory ratio"])
    for f in figures:
        target = TARGET_BATCH_RATIO.get(f.scheme, TARGET_BATCH_RATIO["visits"])
        ok = f.ratio <= target if f.ratio else None
        cs_text = (f"{rate(f.n, f.cs.median_ns)} ({secs(f.cs.median_ns)})" if f.ok
                   else f.cs.error or "-")
        hw_text = (f"{rate(f.n, f.hw.median_ns)} ({secs(f.hw.median_ns)})" if f.has_hw
                   else "not written")
        memory = (mb(f.cs.peak_bytes) if f.ok else "-") + (
            f" vs {mb(f.hw.peak_bytes)}" if f.has_hw else "")
        mem_ratio = (f"{f.cs.peak_bytes / f.hw.peak_bytes:.2f}×" if f.ok and f.has_hw
                     else "-")
        table.add(f.scheme, size_label(f.n), cs_text, hw_text,
                  f"{f.ratio:.2f}×" if f.ratio else "-", f"≤ {target:g}×", verdict(ok),
                  memory, mem_ratio)
        if f.ratio:
            summary.add(f"batch {f.scheme} ≤ {target:g}× hand-written polars at "
                        f"{size_label(f.n)} rows", f"{f.ratio:.2f}× ({secs(f.cs.median_ns)} "
                        f"vs {secs(f.hw.median_ns)})", ok)
    for f in figures:
        if f.ok and f.cs.apart_ns and f.scheme in NOT_IN_BASELINE:
            table.notes.append(
                f"{f.scheme} at {size_label(f.n)}: civicscore's "
                f"{', '.join(NOT_IN_BASELINE[f.scheme])} (which the hand-written baseline does "
                f"not build) took {secs(statistics.median(f.cs.apart_ns))} more, built after "
                f"the timer stopped and not in the ratio (the peak memory includes it)")
    visits = [f for f in figures if f.scheme == "visits" and f.ok and f.has_hw]
    if visits:
        big = max(visits, key=lambda f: f.n)
        mem = big.cs.peak_bytes / big.hw.peak_bytes
        summary.add(f"peak memory ≤ {TARGET_MEMORY_RATIO:g}× the hand-written run (and under "
                    f"{TARGET_PEAK_BYTES / 1e9:g} GB) at {size_label(big.n)} visits",
                    f"{mem:.2f}× ({mb(big.cs.peak_bytes)} vs {mb(big.hw.peak_bytes)})",
                    mem <= TARGET_MEMORY_RATIO and big.cs.peak_bytes < TARGET_PEAK_BYTES)
    if any(f.has_hw for f in figures):
        table.notes.append("both implementations read the same Parquet file and build every "
                           "frame of the result (visits: decisions, rejected rows, caseload "
                           "per liaison; volunteer: records and statements; appraisal: "
                           "decisions with the quota, its details timed apart as noted; "
                           "civility: decisions, its details timed apart); their outputs "
                           "are asserted equal on every row (the decision columns; "
                           "civicscore's worded reasons are extra work the baselines do "
                           "not do) before this table prints")
    table.notes.append("time ratio: median of the paired ratios civicscore / hand-written of "
                       "runs taken in turns, each in a fresh process after a 1,000-row "
                       "warm-up; times: medians; peak memory: each child process's own "
                       "high-water mark (VmHWM: interpreter, imports, input, output)")
    if any(not f.has_hw for f in figures):
        table.notes.append(f"no hand-written baseline for policy {policy.id} (written for "
                           f"karamay): civicscore alone")
    linear = Table("Linearity: time at the larger size over time at the smaller, per 10× "
                   "rows (civicscore; hand-written polars for reference)",
                   ["scheme", "sizes", "civicscore", "hand-written polars", "target",
                    "result"])
    for scheme in SCHEMES:
        runs = sorted((f for f in figures if f.scheme == scheme and f.ok), key=lambda f: f.n)
        if len(runs) < 2:
            continue
        small, large = runs[-2], runs[-1]
        per10 = 10 * small.n / large.n

        def growth(a: BatchRuns, b: BatchRuns, per10: float = per10) -> float:
            return b.median_ns / a.median_ns * per10

        cs_growth = growth(small.cs, large.cs)
        hw_text = (f"{growth(small.hw, large.hw):.1f}×" if small.has_hw and large.has_hw
                   else "-")
        ok = cs_growth <= TARGET_LINEAR
        sizes = f"{size_label(small.n)} → {size_label(large.n)}"
        linear.add(scheme, sizes, f"{cs_growth:.1f}× ({secs(small.cs.median_ns)} → "
                   f"{secs(large.cs.median_ns)})", hw_text, f"≤ {TARGET_LINEAR:g}×",
                   verdict(ok))
        summary.add(f"{scheme} linear: time(10^7) / time(10^6) ≤ {TARGET_LINEAR:g}",
                    f"{cs_growth:.1f}× ({sizes})", ok)
    linear.notes.append("sizes that are not 10× apart are scaled to a 10× step: "
                        "(t_large / t_small) × 10 × n_small / n_large")
    return [table, linear] if linear.rows else [table]


def _wall(cmd: Sequence[str], repeats: int) -> float:
    spans = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        proc = subprocess.run(cmd, capture_output=True, check=False)
        spans.append(time.perf_counter_ns() - t0)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: "
                               f"{proc.stderr.decode()[-500:]}")
    return float(statistics.median(spans))


def _cpu(cmd: Sequence[str], repeats: int) -> tuple[float, float]:
    """Median CPU seconds (user + sys of the child process itself, from ``wait4``) and
    median wall seconds of a command. CPU time, not wall: on a shared machine the wall
    time of a short command is mostly waiting for a core."""
    cpu, wall = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall.append(time.perf_counter() - t0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 1):
            err = subprocess.run(cmd, capture_output=True, check=False).stderr.decode()
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err[-500:]}")
        cpu.append(usage.ru_utime + usage.ru_stime)
    return float(statistics.median(cpu)), float(statistics.median(wall))


def section_load_check(cfg: Settings, summary: Summary) -> Table:
    import importlib.util

    import civicscore

    # before anything here runs the command line (which may write it)
    cached = Path(importlib.util.cache_from_source(
        str(Path(civicscore.__file__).with_name("cli.py")))).exists()

    names = [n for n in civicscore.Engine().policy_names() if n != "baseline"]
    cli = Path(sys.executable).with_name("civicscore")
    cli_cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "civicscore"]
    table = Table(f"Policy load+check and CLI start-up — median of {cfg.check_repeats}",
                  ["measure", "civicscore", "baseline", "ratio", "target", "result"])
    progress("load+check: in-process")
    civicscore.load(cfg.policy)  # first load pays for imports; not what is measured
    for name in names if cfg.check_all else [cfg.policy]:
        spans = []
        for _ in range(2 if cfg.quick else max(cfg.check_repeats, 5)):
            t0 = time.perf_counter_ns()
            civicscore.load(name)
            spans.append(time.perf_counter_ns() - t0)
        table.add(f"load+check {name} (in-process)", f"{statistics.median(spans) / 1e6:.1f} ms",
                  "-", "-", "-", "-")
    progress("load+check: subprocesses")
    python_cpu, python_wall = _cpu([sys.executable, "-c", "pass"], cfg.check_repeats)
    help_ns = _wall([*cli_cmd, "--help"], cfg.check_repeats)
    table.add("`civicscore --help` wall", secs(help_ns),
              f"{python_wall:.2f} s (python -c pass)", f"{help_ns / 1e9 / python_wall:.1f}×",
              "-", "-")
    # A check that passes is kept in a cache (civicscore.check_cache) and replayed while
    # no input changes: both are measured, each against the target, in a cache of the
    # bench's own (the user's is neither read nor filled). "fresh" is every check after
    # an edit (--no-cache: nothing read from or written to the cache); "repeated" is the
    # same check again, the cache holding its outcome.
    with tempfile.TemporaryDirectory(prefix="civicscore-bench-cache-") as cache:
        saved = os.environ.get("CIVICSCORE_CACHE_DIR")
        os.environ["CIVICSCORE_CACHE_DIR"] = cache
        try:
            for name in names if cfg.check_all else [cfg.policy]:
                for kind, extra in (("fresh, --no-cache", ["--no-cache"]),
                                    ("repeated, cached", [])):
                    if not extra:
                        _cpu([*cli_cmd, "check", name], 1)  # the run that fills the cache
                    cpu, wall = _cpu([*cli_cmd, "check", *extra, name], cfg.check_repeats)
                    ok = cpu < TARGET_CHECK_CPU_S
                    what = f"`civicscore check {name}` ({kind})"
                    table.add(f"{what} CPU (user + sys)", f"{cpu:.2f} s",
                              f"{python_cpu:.2f} s (python -c pass)",
                              f"{cpu / python_cpu:.1f}×", f"< {TARGET_CHECK_CPU_S:g} s",
                              verdict(ok))
                    table.add(f"{what} wall", f"{wall:.2f} s", "-", "-", "-", "-")
                    summary.add(f"{what} < {TARGET_CHECK_CPU_S:g} s CPU",
                                f"{cpu:.2f} s CPU ({wall:.2f} s wall)", ok)
        finally:
            if saved is None:
                os.environ.pop("CIVICSCORE_CACHE_DIR", None)
            else:
                os.environ["CIVICSCORE_CACHE_DIR"] = saved
    table.notes.append("CPU: user + sys time of the child process itself (os.wait4), the "
                       "target's measure; wall time is shown for reference")
    table.notes.append(
        "bytecode: " + ("not written (PYTHONDONTWRITEBYTECODE is set); " if
                        sys.dont_write_bytecode else "written and reused; ") +
        ("civicscore's __pycache__ was there, so its modules were not compiled at start-up"
         if cached else "civicscore had no __pycache__, so every start compiled its "
                        "modules from source"))
    return table


# =============================================================================================
# 9. Main
# =============================================================================================


def _sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="small sizes, one round, one peer: a smoke run of under a minute")
    p.add_argument("--sizes", type=_sizes, default=None,
                   help="row counts for the batch section, every scheme (default 1e6,1e7; "
                        "--quick: 1e4,1e5 households, 1e3,1e4 rows of the other schemes)")
    p.add_argument("--policy", default=DEFAULT_POLICY,
                   help="installed policy name or TOML path (hand-written baselines exist "
                        "for karamay only)")
    p.add_argument("--seed", type=int, default=20251231)
    p.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF)
    p.add_argument("--sample", type=int, default=None,
                   help="households in the per-record sample (default 5000; --quick 1000)")
    p.add_argument("--passes", type=int, default=None,
                   help="per-record passes over the sample (default 7; --quick 3)")
    p.add_argument("--repeats", type=int, default=None,
                   help="batch rounds, each a fresh process per implementation (default 3; "
                        "--quick 1)")
    p.add_argument("--peers", default=None,
                   help=f"comma-separated peers to run, from {', '.join(PEERS)}; '' for none "
                        f"(default all; --quick zen-expression, the fastest)")
    p.add_argument("--skip", default="",
                   help="comma-separated sections to skip: record, batch, other, check")
    p.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    p.add_argument("--allow-known-float-bug", action="store_true",
                   help="for trial runs only: report, rather than stop at, rows where "
                        "civicscore differs from the exact baseline only through its float "
                        "totals (the known bug of issue 10); off by default")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.peers is None:
        args.peers = "zen-expression" if args.quick else ",".join(PEERS)
    unknown = [x for x in args.peers.split(",") if x and x not in PEERS]
    if unknown:
        p.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    return args


def settings(args: argparse.Namespace) -> Settings:
    quick = bool(args.quick)
    return Settings(
        policy=args.policy, seed=args.seed, as_of=args.as_of,
        sizes=args.sizes or ([10**4, 10**5] if quick else [10**6, 10**7]),
        other_sizes=args.sizes or ([10**3, 10**4] if quick else [10**6, 10**7]),
        sample=args.sample or (1000 if quick else 5000),
        passes=args.passes or (3 if quick else 7),
        batch_repeats=args.repeats or (1 if quick else 3),
        check_repeats=1 if quick else 5,
        check_all=not quick,
        peers=[p for p in args.peers.split(",") if p],
        quick=quick,
        allow_float_bug=bool(args.allow_known_float_bug),
    )


def header(cfg: Settings, policy: Any) -> list[str]:
    import civicscore

    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return [
        f"civicscore {civicscore.__version__} ({commit or 'no git'}), policy {policy.id} "
        f"{policy.version} ({policy.hash[:19]}), as of {cfg.as_of}, seed {cfg.seed}"
        + (", --quick" if cfg.quick else ""),
        f"python {platform.python_version()}, polars {pl.__version__}, numpy {np.__version__}, "
        f"{platform.machine()} {os.cpu_count()} CPUs, {platform.platform(terse=True)}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child)
    cfg = settings(args)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    import civicscore

    policy = civicscore.load(cfg.policy)
    summary = Summary()
    tables: list[Table] = []
    try:
        with tempfile.TemporaryDirectory(prefix="civicscore-bench-") as tmpdir:
            tmp = Path(tmpdir)
            visits = policy.schemes.get("visits")
            files: dict[int, Path] = {}
            if visits is not None and not {"record", "batch"} <= skip:
                for n in sorted(cfg.sizes):
                    progress(f"generating {size_label(n)} households (seed {cfg.seed})")
                    df = households(n, cfg.seed, visit_facts(policy), as_of=cfg.as_of)
                    files[n] = tmp / f"households-{n}.parquet"
                    df.write_parquet(files[n])
                    del df
            if visits is not None and "record" not in skip:
                # the per-record sample: the first households of the smallest city
                first = files[min(files)]
                sample = pl.read_parquet(first, n_rows=cfg.sample)
                tables += section_per_record(policy, sample, cfg, tmp, summary)
            figures = run_batches(policy, files, cfg, tmp, skip, summary.notes)
            if figures:
                tables += batch_tables(policy, figures, cfg, summary)
    except KnownFloatBug as e:
        print(f"[bench] {e}\n[bench] no table printed: the check is exact. This is the known "
              f"float bug of issue 10 (civicscore agrees with a replica of its float "
              f"totals); --allow-known-float-bug lets a trial run go on.", file=sys.stderr)
        return 1
    except Mismatch as e:
        print(f"[bench] {e}\n[bench] no table printed: an implementation disagrees with "
              f"civicscore.", file=sys.stderr)
        return 1
    if "check" not in skip:
        tables.append(section_load_check(cfg, summary))
    tables.insert(0, summary.table(cfg))
    lines = header(cfg, policy)
    print("\n".join(lines) + "\n")
    print("\n\n".join(t.text() for t in tables))
    if args.markdown:
        md = ["## civicscore benchmark", "", *(f"{line}  " for line in lines), "",
              "\n\n".join(t.markdown() for t in tables), ""]
        write_section(args.markdown, "bench.py", "\n".join(md))
        progress(f"wrote {args.markdown} (its bench.py section)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
