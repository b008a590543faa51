"""Appraisal in batch: the scorecard steps of ``schemes/appraisal.py``, as columns.

The steps, in the per-record order (see that module's docstring for their
meaning and its "Numbers" paragraph for the arithmetic): read and check the
record; the raw value of every indicator; normalise it to 0-100; weight it;
total and round; the grade band; vetoes; then the quota over the cohort. Every
indicator value and veto condition is compiled from the same checked IR by
``batch.expr``, with its error column, so a record the per-record path rejects
for an expression error is rejected here.

Why it is shaped this way:

* **Exact decimals as scaled integers.** Every number of the scorecard is an
  Int128 column of ``value x 10**S`` (``S`` = 20 decimals). A float (a fact,
  an expression's result) becomes the integer of its shortest spelling: polars
  writes a double with the same digits as Python's ``repr`` (checked by a
  test), and the digits are read back as an integer, so 92.82 is exactly
  9282 x 10**18 (``_with_fixed``; a double with at most 9 decimals is read
  without text, see there). Sums, differences and products are exact integer
  operations;
  the two divisions and the total are rounded half-up (away from zero) by
  ``_rdiv``, ``(2|n| + d) // 2d``, at the places the per-record path rounds
  (``DIV_PLACES``, ``TOTAL_PLACES``). The policy's constants are checked once
  (``_constants``) so that no intermediate can leave Int128; a policy whose
  constants do not fit is scored by the per-record path, row by row.
* **A row that does not fit falls back.** A value of 10**9 or more, or with
  more than ``S`` decimals (``2.5e-7``'s spelling has an exponent: it is
  treated the same way), cannot be held exactly; such a row (rare: none in
  the bundled data) is decided by the per-record path (``decide_one``) and
  its results joined back before the quota, so the answer never depends on
  the engine.
* **Reasons are worded in columns**, from the same numbers and the same
  templates as the per-record path (``_fmt`` of a scaled integer is
  ``_fmt_expr``: rounded half-up to 4 decimals, trailing zeros dropped),
  each number written once (``_with_texts``).
* **The quota is a sort.** Candidates (scored, not vetoed, banded in the quota
  grade) are sorted by the ``tie_break`` keys, then subject id: the total (an
  exact integer of hundredths) and the indicators' normalised scores (floats
  of values that floats order exactly: 6-decimal quotients, policy constants,
  raw doubles), higher first. Subject ids of scored rows are unique
  (duplicates are rejected), so the order is total. The number of places is
  ``_places``, the per-record function itself.
* **Reason codes** come from a small key per row joined to a table of the few
  distinct code lists.
* **Rejected rows** (few) are decided again by the per-record code
  (``decide_one``) for their exact reasons and messages, and that path must
  reject them too.
* **Output and details are built when first read** (``_Built`` fields of the
  result): the reasons are about 2 kB a row, most of the time and memory of a
  run, and a run that counts or reads ``rejected`` never needs them. When read,
  they are worded ``CHUNK`` rows at a time, so only one slice's texts are held.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeAlias

import polars as pl

from ..policy.compile import ensure_in_effect
from ..schemes.appraisal import (
    CONFIRM,
    DIV_PLACES,
    REJECTED,
    SCORED,
    TOTAL_PLACES,
    AppraisalDecision,
    AppraisalScheme,
    _both,
    _fmt,
    _Indicator,
    _places,
    dec,
)
from ..schemes.base import REJECT_COLUMNS
from .expr import PolarsCompiler, either
from .frames import ROW, UNREADABLE, coerce_columns, coerce_id, read_source
from .result import BatchResult, explain_rejected

_FALSE = pl.lit(False)
#: Decimals of every scaled integer column (raw values, scores, constants).
S = 20
#: Values at or beyond this magnitude are not held as scaled integers (see above); it
#: keeps every number a reason shows below 10**15 at 4 decimals (see ``_fmt_expr``).
LIMIT = 10 ** 9
#: Decimals of the quick exact reading of a double (``_with_fixed``).
QUICK = 9
#: Columns of powers of ten, divisors that polars cannot fold into a product (a division
#: by a literal may become an inexact multiplication by its reciprocal).
POWERS = {f"__p{k}": 10.0 ** k for k in (2, 4, DIV_PLACES, QUICK)}
#: No intermediate may reach this (Int128 holds up to 2**127 - 1).
BOUND = 2 ** 125
#: A frame's column types, as ``pl.DataFrame(schema=...)`` takes them.
_Schema: TypeAlias = dict[str, pl.DataType | type[pl.DataType]]

REJECT_SCHEMA: _Schema = {"input": pl.String, "row": pl.Int64, "id": pl.String,
                          "reason_codes": pl.List(pl.String), "reasons": pl.List(pl.String)}
STR_LIST = pl.List(pl.String)
#: Between the reasons of a row while they are joined (a control character: no policy
#: text, label or value spelling holds one).
SEP = "\x1f"


class _Built:
    """A frame field of :class:`AppraisalBatchResult`: given a callable, the frame is
    built by it the first time it is read, and kept."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = f"_{name}"

    def __get__(self, result: object, owner: type | None = None) -> pl.DataFrame:
        if result is None:
            raise AttributeError(self.name)
        built = result.__dict__[self.name]
        if callable(built):
            built = result.__dict__[self.name] = built()
        assert isinstance(built, pl.DataFrame)
        return built

    def __set__(self, result: object, value: pl.DataFrame | Callable[[], pl.DataFrame]
                ) -> None:
        result.__dict__[self.name] = value


@dataclass
class AppraisalBatchResult(BatchResult):
    """A :class:`BatchResult` whose ``output`` and ``details`` frames are built when
    first read. The reasons are most of the output's bytes (about 2 kB a row: every
    indicator's arithmetic spelled out) and of its building time and memory; a run
    that only counts, or reads ``rejected``, never pays for them."""

    output = _Built()
    details = _Built()
    scored_rows: int = 0

    @property
    def scored_count(self) -> int:
        return self.scored_rows


def score_appraisal(scheme: AppraisalScheme, source: Any, *, as_of: dt.date,
                    **extra: Any) -> BatchResult:
    """Appraise every subject of ``source`` as one cohort; see :class:`BatchResult`."""
    ensure_in_effect(scheme.model, scheme.ref, as_of)
    frame = read_source(source)
    consts = _constants(scheme)
    work = _check_records(scheme, frame)
    work = _score(scheme, consts, work, as_of)
    work, fallback = _fall_back(scheme, consts, frame, work, as_of)
    work = _apply_quota(scheme, work)
    rejected_mask = work["__status"] != SCORED
    reject_rows, _ = _rejections(scheme, frame, work, rejected_mask, as_of)
    rejected = pl.DataFrame([{c: r[c] for c in REJECT_COLUMNS} for r in reject_rows],
                            schema=REJECT_SCHEMA)
    ref = scheme.ref
    result = AppraisalBatchResult(
        "appraisal", ref, as_of,
        lambda: _decision_columns(scheme, consts, work, reject_rows,  # type: ignore[arg-type]
                                  fallback, as_of),
        rejected,
        lambda: _details(scheme, consts, work, fallback, as_of),  # type: ignore[arg-type]
        frame.height, scored_rows=int((~rejected_mask).sum()))
    return result


# --- scaled integers ----------------------------------------------------------------------


def _i(v: int) -> pl.Expr:
    return pl.lit(v, dtype=pl.Int128)


def _scaled(x: float | int) -> int | None:
    """``x`` (as written) x 10**S, or None when it cannot be held (see the docstring)."""
    d = dec(x)
    exponent = d.as_tuple().exponent
    if not d.is_finite() or abs(d) >= LIMIT or not isinstance(exponent, int) \
            or exponent < -S:
        return None
    return int(d.scaleb(S))


def _fixed(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A number column as scaled integers of its shortest spelling; null where it cannot
    be held exactly (then the row falls back to the per-record path)."""
    if dtype.is_integer():
        return pl.when(col.abs() < LIMIT).then(col.cast(pl.Int128) * _i(10 ** S))
    x = col.cast(pl.Float64)
    parts = x.cast(pl.String).str.extract_groups(r"^(-?\d+)(?:\.(\d*))?$")
    whole, frac = parts.struct.field("1"), parts.struct.field("2").fill_null("")
    ok = x.is_finite() & (x.abs() < LIMIT) & whole.is_not_null() & (frac.str.len_chars() <= S)
    return pl.when(ok).then(pl.concat_str(whole, frac.str.pad_end(S, "0"))
                            .cast(pl.Int128, strict=False))


def _rdiv(n: pl.Expr, d: int) -> pl.Expr:
    """``n / d`` (``d`` > 0) rounded half-up, halves away from zero: the per-record
    ``div_half_up`` on integers."""
    if d == 1:
        return n
    q = (n.abs() * 2 + _i(d)) // _i(2 * d)
    return pl.when(n < 0).then(_i(0) - q).otherwise(q)  # (no unary minus on Int128)


def _fmt_expr(n: pl.Expr, scale: int) -> pl.Expr:
    """``_fmt`` of the decimal ``n / 10**scale``: 4 decimals at most, rounded half-up,
    no trailing zero, no exponent, never ``-0``. The rounded value ``q / 10**4`` has at
    most 15 significant digits (``LIMIT``), so the double nearest to it, written
    shortest, spells exactly its decimal."""
    q = _rdiv(n, 10 ** (scale - 4)) if scale > 4 else n * _i(10 ** (4 - scale))
    value = q.cast(pl.Int64).cast(pl.Float64) / pl.col("__p4")
    return value.cast(pl.String).str.strip_suffix(".0")


def _float_expr(n: pl.Expr, scale: int) -> pl.Expr:
    """``float()`` of the decimal ``n / 10**scale``, correctly rounded (from its digits;
    polars parses decimal text correctly rounded, as a test checks). See ``_small_float``
    for the quick way when ``n`` is small."""
    a = n.abs()
    text = pl.concat_str(pl.when(n < 0).then(pl.lit("-")).otherwise(pl.lit("")),
                         (a // _i(10 ** scale)).cast(pl.String), pl.lit("."),
                         (a % _i(10 ** scale)).cast(pl.String).str.zfill(scale))
    return text.cast(pl.Float64)


def _small_float(n: pl.Expr, power: int) -> pl.Expr:
    """``float()`` of ``n / 10**power`` for ``|n| < 2**53``: both are exact doubles and
    IEEE division rounds correctly."""
    return n.cast(pl.Int64).cast(pl.Float64) / pl.col(f"__p{power}")


def _with_fixed(frame: pl.DataFrame, src: str, dst: str) -> pl.DataFrame:
    """``frame`` with ``dst``, the scaled integers of the numbers of ``src`` (null where
    they cannot be held). A double ``x`` with ``|x| x 10**QUICK < 2**52`` whose nearest
    ``QUICK``-decimal value ``c`` rounds back to ``x`` has exactly ``c`` as its shortest
    spelling (its rounding interval is narrower than ``10**-QUICK``, so ``c`` is the
    only such decimal in it); the other rows are read from their digits (``_fixed``)."""
    dtype = frame.schema[src]
    if not dtype.is_float():
        return frame.with_columns(_fixed(pl.col(src), dtype).alias(dst))
    x = pl.col(src)
    frame = frame.with_columns((x * 10.0 ** QUICK).round(0).alias("__cand"))
    quick = (x.is_finite() & (x.abs() < min(LIMIT, 2 ** 52 / 10 ** QUICK))
             & (pl.col("__cand") / pl.col(f"__p{QUICK}") == x))
    frame = frame.with_columns(
        pl.when(quick).then(pl.col("__cand").cast(pl.Int64).cast(pl.Int128)
                            * _i(10 ** (S - QUICK))).alias(dst)).drop("__cand")
    slow = (pl.col(dst).is_null() & x.is_finite() & (x.abs() < LIMIT)).arg_true()
    at = frame.select(slow.alias("__at"))["__at"]
    if not at.len():
        return frame
    # the digits of each distinct value, once: a ratio of counts (100 * visited /
    # households) takes a few thousand values in a million rows, and reading a double's
    # digits is the costly part; the values go back in place by position (a join on the
    # row costs more than the reading did)
    values = frame[src].gather(at)
    distinct = values.unique()
    fixed = distinct.to_frame("__v").select(_fixed(pl.col("__v"), dtype)).to_series()
    mapped = values.replace_strict(distinct, fixed, return_dtype=pl.Int128)
    return frame.with_columns(frame[dst].scatter(at, mapped))


@dataclass(frozen=True)
class _Constants:
    """The policy's numbers as scaled integers, when every intermediate fits Int128."""

    wscale: int                                   # decimals of weight x group weight
    wg: tuple[int, ...]                           # weight x group weight x 10**wscale
    linear: dict[int, tuple[int, int, int, int]]  # floor, target (x10**S), mult, den
    steps: dict[int, tuple[tuple[int, int], ...]]       # (at, score) x10**S
    bands: dict[int, tuple[tuple[int, int, int], ...]]  # (from, to, score) x10**S
    raters: dict[int, tuple[tuple[tuple[str, int], ...], int]]  # (fact, a_j), sum a_j
    mins: tuple[int, ...]                         # grade min_score x10**S


def _constants(scheme: AppraisalScheme) -> _Constants | None:
    """Scale the policy's numbers and check that no intermediate can leave Int128."""
    def need(x: float) -> int:
        v = _scaled(x)
        if v is None:
            raise OverflowError(x)
        return v

    try:
        wgs = [ind.wg for ind in scheme.indicators]
        exps = [w.as_tuple().exponent for w in wgs]
        wscale = max([0, *(-e for e in exps if isinstance(e, int))])
        wg = tuple(int(w.scaleb(wscale)) for w in wgs)
        top = 100 * 10 ** S
        linear, steps, bands, raters = {}, {}, {}, {}
        for i, ind in enumerate(scheme.indicators):
            n = ind.norm
            if n.method == "linear":
                f, t = need(n.floor or 0), need(n.target or 0)
                g = math.gcd(10 ** 8, abs(t - f))
                mult, den = 10 ** 8 // g, (t - f) // g
                if den < 0:
                    mult, den = -mult, -den
                if 2 * abs(t - f) * abs(mult) >= BOUND:
                    return None
                linear[i] = (f, t, mult, den)
            elif n.method == "thresholds":
                steps[i] = tuple((need(a), need(sc)) for a, sc in ind.steps)
                top = max(top, *(abs(sc) for _, sc in steps[i]))
            elif n.method == "bands":
                bands[i] = tuple((need(a), need(b), need(sc)) for a, b, sc in ind.bands)
                top = max(top, *(abs(sc) for _, _, sc in bands[i]))
            if ind.raters:
                ws = [dec(w) for _, w in ind.raters]
                e = max([0, *(-x.as_tuple().exponent for x in ws  # type: ignore[operator]
                              if isinstance(x.as_tuple().exponent, int))])
                a = tuple((f, int(w.scaleb(e))) for (f, _), w in zip(ind.raters, ws,
                                                                       strict=True))
                total_a = sum(x for _, x in a)
                if total_a <= 0 or 2 * sum(abs(x) for _, x in a) * LIMIT * 10 ** S >= BOUND:
                    return None
                raters[i] = (a, total_a)
        if 2 * top * sum(abs(b) for b in wg) * 10 ** 2 >= BOUND \
                or top * max((abs(w) for w in wgs), default=Decimal(0)) >= LIMIT * 10 ** S:
            return None
        mins = tuple(need(g.min_score) for g in scheme.grades)
    except (OverflowError, ValueError):
        return None
    return _Constants(wscale, wg, linear, steps, bands, raters, mins)


# --- step 1: the record on its own ------------------------------------------------------


def _check_records(scheme: AppraisalScheme, frame: pl.DataFrame) -> pl.DataFrame:
    """``__row``, ``__sid``, ``__first`` (first row of that id), ``__ok`` (readable, valid
    id, not a duplicate, every fact usable) and the typed facts ``__f_<name>``."""
    unreadable = frame[UNREADABLE].is_not_null()
    sid = coerce_id(frame, "subject_id", missing_ok=True)
    sid_ok = ~unreadable & sid.code.is_null() & sid.value.is_not_null() & (sid.value != "")
    facts = coerce_columns(frame, scheme.facts)
    work = pl.DataFrame({ROW: frame[ROW], "__sid_ok": sid_ok, "__sid_raw": sid.value,
                         **{f"__f_{name}": c.value for name, c in facts.items()}})
    fact_ok: pl.Expr = pl.lit(True)
    for c in facts.values():
        fact_ok = fact_ok & pl.lit(c.code.is_null())
    key = pl.when(pl.col("__sid_ok")).then(pl.col("__sid_raw"))
    return work.with_columns(
        __sid=pl.when(pl.col("__sid_ok")).then(pl.col("__sid_raw"))
        .otherwise(pl.format("row {}", pl.col(ROW))),
        __first=pl.col(ROW).first().over(key),
    ).with_columns(
        __ok=pl.col("__sid_ok") & (pl.col("__first") == pl.col(ROW)) & fact_ok,
        # (computed, so stored per row: a literal column is kept as a scalar, and polars
        # divides by a scalar as a product with its reciprocal)
        **{name: (pl.int_range(pl.len(), dtype=pl.Int64) * 0 + int(value)).cast(pl.Float64)
           for name, value in POWERS.items()},
    ).drop("__sid_raw")


# --- steps 2-5 and 7: indicators, total, band, vetoes ------------------------------------


def _null(dtype: pl.DataType) -> pl.Expr:
    return pl.lit(None, dtype=dtype)


def _score(scheme: AppraisalScheme, consts: _Constants | None, work: pl.DataFrame,
           as_of: dt.date) -> pl.DataFrame:
    """Per indicator ``__raw_i`` (the float of the raw value), ``__R_i`` (its scaled
    integer), ``__N_i`` (the scaled score), ``__pick_i`` (which rule gave it; see
    :func:`_how_expr`), ``__W_i`` (weighted, at ``S + wscale`` decimals), ``__flag_i``
    (OUT_OF_BANDS / NO_STEP_REACHED); then ``__T2`` (the total in hundredths),
    ``__band`` (grade index), ``__veto_j``, ``__status`` (before the quota) and
    ``__fallback`` (a row the per-record path must score: some value did not fit)."""
    names = {name: pl.col(f"__f_{name}") for name in scheme.facts}
    names["as_of"] = pl.lit(as_of, dtype=pl.Date)
    compiler = PolarsCompiler(scheme.functions or {}, names)  # type: ignore[arg-type]
    errors: list[pl.Expr | None] = []
    columns: list[pl.Expr] = []
    for i, ind in enumerate(scheme.indicators):
        if ind.value is not None:
            raw = compiler.compile(ind.value.node)
            value = raw.value.cast(pl.Float64)
            error = either(raw.error, ~value.is_finite())
            columns.append(value.alias(f"__raw_{i}"))
            if error is not None:
                columns.append(error.alias(f"__err_{i}"))
                errors.append(pl.col(f"__err_{i}"))
    if columns:
        work = work.lazy().with_columns(columns).collect(engine="in-memory")
    facts = sorted({fact for ind in scheme.indicators for fact, _ in ind.raters})
    if consts is not None:
        for fact in facts:
            work = _with_fixed(work, f"__f_{fact}", f"__X_{fact}")
    columns = []
    for i, ind in enumerate(scheme.indicators):
        if ind.value is not None:
            work = _with_fixed(work, f"__raw_{i}", f"__R_{i}")
        elif consts is None:
            columns += [_null(pl.Float64()).alias(f"__raw_{i}"),
                        _null(pl.Int128()).alias(f"__R_{i}")]
        else:
            parts, total_a = consts.raters[i]
            num: pl.Expr = _i(0)
            for fact, a in parts:
                num = num + _i(a) * pl.col(f"__X_{fact}")
            mean = _rdiv(num, total_a * 10 ** (S - DIV_PLACES))
            columns += [_small_float(mean, DIV_PLACES).alias(f"__raw_{i}"),
                        (mean * _i(10 ** (S - DIV_PLACES))).alias(f"__R_{i}")]
    lazy = work.lazy().with_columns(columns)
    columns = []
    for i, ind in enumerate(scheme.indicators):
        score, pick, bad = _normalise(consts, i, ind, pl.col(f"__R_{i}"), pl.col(f"__raw_{i}"))
        errors.append(bad)
        columns += [score.alias(f"__N_{i}"), pick.alias(f"__pick_{i}")]
    for j, v in enumerate(scheme.vetoes):
        cond = compiler.compile(v.when.node)
        errors.append(cond.error)
        columns.append(cond.value.alias(f"__veto_{j}"))
    lazy = lazy.with_columns(columns)
    failed = either(*errors)
    failed_expr = failed.fill_null(True) if failed is not None else _FALSE
    unheld = _FALSE
    for i in range(len(scheme.indicators)):
        unheld = unheld | pl.col(f"__N_{i}").is_null()
    lazy = lazy.with_columns(
        __status=pl.when(pl.col("__ok") & ~failed_expr).then(pl.lit(SCORED))
        .otherwise(pl.lit(REJECTED)),
        __fallback=pl.col("__ok") & ~failed_expr & unheld)
    scored = (pl.col("__status") == SCORED) & ~pl.col("__fallback")
    wscale = consts.wscale if consts is not None else 0
    total: pl.Expr = _i(0)
    weighted = []
    for i in range(len(scheme.indicators)):
        w = pl.col(f"__N_{i}") * _i(consts.wg[i]) if consts is not None else _null(pl.Int128())
        weighted.append(w.alias(f"__W_{i}"))
        total = total + pl.col(f"__W_{i}")
    lazy = lazy.with_columns(weighted)
    lazy = lazy.with_columns(
        __T2=pl.when(scored).then(_rdiv(total, 10 ** (S + wscale - TOTAL_PLACES))
                                  .cast(pl.Int64)))
    band: pl.Expr = pl.lit(len(scheme.grades) - 1, dtype=pl.Int32)
    if consts is not None:
        at_scale = pl.col("__T2").cast(pl.Int128) * _i(10 ** (S - TOTAL_PLACES))
        for g in reversed(range(len(scheme.grades))):
            band = pl.when(at_scale >= _i(consts.mins[g])) \
                .then(pl.lit(g, dtype=pl.Int32)).otherwise(band)
    held = []
    vetoed: pl.Expr = _FALSE
    ok = pl.col("__status") == SCORED
    for j in range(len(scheme.vetoes)):
        held.append((ok & pl.col(f"__veto_{j}")).alias(f"__veto_{j}"))
        vetoed = vetoed | pl.col(f"__veto_{j}")
    return lazy.with_columns(
        [(scored & (pl.col(f"__pick_{i}") == -1)).alias(f"__flag_{i}")
         for i in range(len(scheme.indicators))] + held
        + [pl.when(scored).then(band).alias("__band")],
    ).with_columns(__vetoed=vetoed).collect(engine="in-memory")  # streaming: slow to plan


def _normalise(consts: _Constants | None, i: int, ind: _Indicator, r: pl.Expr, raw: pl.Expr
               ) -> tuple[pl.Expr, pl.Expr, pl.Expr | None]:
    """The scaled 0-100 score; ``pick``, which rule gave it (see :func:`_how_expr`: the
    step or band index, -1 for none reached; for ``linear`` 0, or 1/2 when clamped to
    0/100); and where the value cannot be scored (method 'none' outside 0-100, judged on
    the float, which orders exactly as its decimal does)."""
    n = ind.norm
    if n.method == "none":
        bad = (raw < 0) | (raw > 100)
        if ind.value is None:  # a rater mean that could not be held falls back instead
            bad = bad.fill_null(False)
        top = _i(100 * 10 ** S)
        score = pl.when(r < 0).then(_i(0)).when(r > top).then(top).otherwise(r)
        return score, pl.lit(0, dtype=pl.Int32), bad
    if consts is None:
        return _null(pl.Int128()), _null(pl.Int32()), None
    if n.method == "linear":
        f, t, mult, den = consts.linear[i]
        lo, hi = min(f, t), max(f, t)
        up = t > f
        worse = r < _i(f) if up else r > _i(f)
        better = r > _i(t) if up else r < _i(t)
        inside = pl.when(r < _i(lo)).then(_i(lo)).when(r > _i(hi)).then(_i(hi)).otherwise(r)
        exact = _rdiv((inside - _i(f)) * _i(mult), den) * _i(10 ** (S - DIV_PLACES))
        score = pl.when(worse).then(_i(0)).when(better).then(_i(100 * 10 ** S)).otherwise(exact)
        pick = pl.when(worse).then(pl.lit(1, dtype=pl.Int32)).when(better) \
            .then(pl.lit(2, dtype=pl.Int32)).otherwise(pl.lit(0, dtype=pl.Int32))
        held = r.is_not_null()
        return pl.when(held).then(score), pl.when(held).then(pick), None
    if n.method == "thresholds":
        steps = consts.steps[i]
        ks = range(len(steps))
        if n.higher_is_better:  # the highest step at or below the value
            chain = [(r >= _i(steps[k][0]), k) for k in reversed(ks)]
        else:  # the lowest step at or above the value
            chain = [(r <= _i(steps[k][0]), k) for k in ks]
        return _pick_score(r, chain, [sc for _, sc in steps])
    bands = consts.bands[i]
    last = len(bands) - 1
    chain = [(((_i(lo) <= r) & (r < _i(hi))) | ((r == _i(hi)) if k == last else _FALSE), k)
             for k, (lo, hi, _) in enumerate(bands)]
    return _pick_score(r, chain, [b[2] for b in bands])


def _pick_score(r: pl.Expr, chain: Sequence[tuple[pl.Expr, int]], scores: Sequence[int]
                ) -> tuple[pl.Expr, pl.Expr, None]:
    """The first rule of ``chain`` that holds, and its score (0 when none does)."""
    pick: pl.Expr = pl.lit(-1, dtype=pl.Int32)
    score: pl.Expr = _i(0)
    for cond, k in reversed(chain):
        pick = pl.when(cond).then(pl.lit(k, dtype=pl.Int32)).otherwise(pick)
        score = pl.when(cond).then(_i(scores[k])).otherwise(score)
    held = r.is_not_null()
    return pl.when(held).then(score), pl.when(held).then(pick), None


# --- rows that do not fit: the per-record path --------------------------------------------


def _records(frame: pl.DataFrame, mask: pl.Series) -> list[tuple[int, Any]]:
    """(row, record) of the rows of ``mask``, as ``explain_rejected`` reads them."""
    out = []
    for record in frame.filter(mask).iter_rows(named=True):
        row = record.pop(ROW)
        record.pop(UNREADABLE)
        out.append((row, {f: v for f, v in record.items() if v is not None}))
    return out


def _fall_back(scheme: AppraisalScheme, consts: _Constants | None, frame: pl.DataFrame,
               work: pl.DataFrame, as_of: dt.date
               ) -> tuple[pl.DataFrame, dict[int, AppraisalDecision]]:
    """Decide the ``__fallback`` rows with the per-record path and join back what the
    quota and the output need (status, total, band, tie-break scores)."""
    mask = work["__fallback"]
    if not mask.any():
        return work, {}
    decisions = {row: scheme.decide_one(row, record, as_of, {})
                 for row, record in _records(frame, mask)}
    grades = [g.id for g in scheme.grades]
    patch = pl.DataFrame({
        ROW: list(decisions),
        "__py_status": [d.status for d in decisions.values()],
        "__py_T2": [None if d.total is None else int(dec(d.total).scaleb(TOTAL_PLACES))
                    for d in decisions.values()],
        "__py_band": [grades.index(d.computed_grade) if not d.rejected else None
                      for d in decisions.values()],
        **{f"__py_norm_{i}": [None if d.rejected else d.indicators[i].normalised
                              for d in decisions.values()]
           for i in range(len(scheme.indicators))},
    }, schema_overrides={ROW: work.schema[ROW], "__py_T2": pl.Int64, "__py_band": pl.Int32,
                         **{f"__py_norm_{i}": pl.Float64
                            for i in range(len(scheme.indicators))}})
    work = work.join(patch, on=ROW, how="left", maintain_order="left")
    return work.with_columns(
        __status=pl.coalesce("__py_status", "__status"),
        __T2=pl.coalesce("__py_T2", "__T2"),
        __band=pl.coalesce("__py_band", "__band"),
    ).with_columns([(pl.col(f"__veto_{j}") & (pl.col("__status") == SCORED))
                    .alias(f"__veto_{j}") for j in range(len(scheme.vetoes))]), decisions


# --- step 6: the quota -------------------------------------------------------------------


def _norm_float(work: pl.DataFrame, i: int) -> pl.Expr:
    """The float of indicator ``i``'s score (the per-record ``normalised``)."""
    own = _float_expr(pl.col(f"__N_{i}"), S)
    if f"__py_norm_{i}" in work.columns:
        return pl.coalesce(pl.col(f"__py_norm_{i}"), own)
    return own


def _apply_quota(scheme: AppraisalScheme, work: pl.DataFrame) -> pl.DataFrame:
    """``__rank`` (1-based among the candidates) and ``__quota`` (0 none, 1 kept,
    2 demoted), ranked as ``AppraisalScheme._sort_key`` orders them."""
    q = scheme.quota
    if q is None:
        return work.with_columns(__rank=pl.lit(None, dtype=pl.Int64),
                                 __quota=pl.lit(0, dtype=pl.Int8))
    scored = work["__status"] == SCORED
    cohort = int(scored.sum())
    k = _places(q.max_share, cohort, q.rounding)
    qix = [g.id for g in scheme.grades].index(q.grade)
    ids = [ind.id for ind in scheme.indicators]
    by: list[pl.Expr] = []
    descending: list[bool] = []
    for item in [*q.tie_break, "subject_id"]:
        if item == "total":
            by.append(pl.col("__T2"))
            descending.append(True)
        elif item == "subject_id":
            by.append(pl.col("__sid"))
            descending.append(False)
        else:
            by.append(_norm_float(work, ids.index(item.split(":", 1)[1])) + 0.0)
            descending.append(True)
    candidates = work.filter((pl.col("__status") == SCORED) & ~pl.col("__vetoed")
                             & (pl.col("__band") == qix)).select(ROW, *[
                                 b.alias(f"__k{i}") for i, b in enumerate(by)])
    ranked = candidates.sort([f"__k{i}" for i in range(len(by))], descending=descending) \
        .select(ROW, pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("__rank"))
    work = work.join(ranked, on=ROW, how="left", maintain_order="left")
    return work.with_columns(__quota=pl.when(pl.col("__rank").is_null()).then(pl.lit(0))
                             .when(pl.col("__rank") <= k).then(pl.lit(1))
                             .otherwise(pl.lit(2)).cast(pl.Int8))


# --- the decision columns ------------------------------------------------------------------


def _py_lists(rows: dict[int, tuple[list[str], list[str]]], dtype: pl.DataType
              ) -> pl.DataFrame:
    """Codes and messages worded by the per-record path, by row (for a join)."""
    return pl.DataFrame({ROW: list(rows), "__py_codes": [c for c, _ in rows.values()],
                         "__py_reasons": [m for _, m in rows.values()]},
                        schema={ROW: dtype, "__py_codes": STR_LIST, "__py_reasons": STR_LIST})


def _decision_columns(scheme: AppraisalScheme, consts: _Constants | None,
                      work: pl.DataFrame, reject_rows: list[dict[str, Any]],
                      fallback: dict[int, AppraisalDecision], as_of: dt.date
                      ) -> pl.DataFrame:
    """The columns of ``AppraisalDecision.to_row()``, for every row, in its order."""
    grades = scheme.grades
    scored = pl.col("__status") == SCORED
    grade_ix = _grade_ix(scheme)
    by_grade = _by_grade(scheme)
    codes, vetoed = _code_lists(scheme, work)
    py: dict[int, tuple[list[str], list[str]]] = {
        r["row"]: (list(r["reason_codes"]), list(r["reasons"])) for r in reject_rows}
    py.update({row: (list(d.reason_codes), [m.message for m in d.reasons])
               for row, d in fallback.items() if not d.rejected})
    quota_code, quota_text = _quota_reason(scheme, work)
    frame = work.with_columns(__codes=codes, __held=vetoed)
    if py:
        frame = frame.join(_py_lists(py, work.schema[ROW]), on=ROW, how="left",
                           maintain_order="left")
    else:
        frame = frame.with_columns(__py_codes=_null(STR_LIST), __py_reasons=_null(STR_LIST))
    own = pl.col("__fallback") & scored
    rejected = pl.col("__status") != SCORED
    frame = frame.with_columns(_reasons(scheme, consts, frame, quota_text, as_of))
    reason_codes = pl.when(rejected).then(pl.col("__py_codes")).when(own).then(
        pl.concat_list(pl.col("__py_codes"), quota_code).list.drop_nulls()
    ).otherwise(pl.col("__codes"))
    ref = scheme.ref
    return frame.select(
        pl.col(ROW).alias("row"),
        pl.col("__sid").alias("subject_id"),
        pl.col("__status").alias("status"),
        _total_expr().alias("total"),
        by_grade(pl.col("__band"), [g.id for g in grades]).alias("computed_grade"),
        by_grade(grade_ix, [g.id for g in grades]).alias("grade"),
        by_grade(grade_ix, [g.label for g in grades]).alias("grade_label"),
        pl.col("__rank").alias("rank"),
        pl.col("__held").alias("vetoed"),
        (scored & (pl.col("__vetoed") | (pl.col("__quota") == 2))).alias("needs_confirmation"),
        reason_codes.alias("reason_codes"),
        pl.col("__reasons").alias("reasons"),
        pl.lit(ref.id).alias("policy_id"),
        pl.lit(ref.version).alias("policy_version"),
        pl.lit(ref.hash).alias("policy_hash"),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"),
    )


#: Rows worded at a time: the numbers' texts and the joined reasons of one slice are held
#: at once, not the whole cohort's (they are several times the final list column).
CHUNK = 1 << 17


def _reasons(scheme: AppraisalScheme, consts: _Constants | None, frame: pl.DataFrame,
             quota_text: pl.Expr, as_of: dt.date) -> pl.Series:
    """The output's ``reasons``: a rejected row's and a fallen-back row's as the
    per-record path worded them (``__py_reasons``; a fallen-back row's quota reason
    added), the others worded here (``_reason_texts``), slice by slice (``CHUNK``)."""
    scored = pl.col("__status") == SCORED
    own = pl.col("__fallback") & scored
    rejected = pl.col("__status") != SCORED
    parts = []
    for start in range(0, max(frame.height, 1), CHUNK):
        part = _with_texts(scheme, consts, frame.slice(start, CHUNK))
        quick, count, slow = _reason_texts(scheme, consts, part, quota_text, as_of)
        part = part.with_columns(__reasons=quick, __count=count)
        if part.filter(scored & ~pl.col("__fallback")
                       & (pl.col("__reasons").list.len() != pl.col("__count"))).height:
            part = part.with_columns(__reasons=slow)
        parts.append(part.select(pl.when(rejected).then(pl.col("__py_reasons")).when(own).then(
            pl.concat_list(pl.col("__py_reasons"), quota_text).list.drop_nulls()
        ).otherwise(pl.col("__reasons")).alias("__reasons")).to_series())
    return pl.concat(parts, rechunk=False)


def _grade_ix(scheme: AppraisalScheme) -> pl.Expr:
    """The index of the final grade: the lowest when vetoed, one down when demoted."""
    last = len(scheme.grades) - 1
    return pl.when(pl.col("__vetoed")).then(pl.lit(last, dtype=pl.Int32)) \
        .when(pl.col("__quota") == 2).then(pl.col("__band") + 1).otherwise(pl.col("__band"))


def _by_grade(scheme: AppraisalScheme) -> Callable[[pl.Expr, list[str]], pl.Expr]:
    """A grade index column worded by ``values`` ('' for a rejected row)."""
    ix = list(range(len(scheme.grades)))

    def by_grade(expr: pl.Expr, values: list[str]) -> pl.Expr:
        return pl.when(pl.col("__status") == SCORED).then(
            expr.replace_strict(ix, values, return_dtype=pl.String)).otherwise(pl.lit(""))
    return by_grade


def _total_expr() -> pl.Expr:
    """The output's ``total``: the float of the exact total (null for a rejected row)."""
    return pl.when(pl.col("__status") == SCORED).then(
        _small_float(pl.col("__T2"), TOTAL_PLACES))


def _quota_reason(scheme: AppraisalScheme, work: pl.DataFrame) -> tuple[pl.Expr, pl.Expr]:
    """The QUOTA_KEPT / QUOTA_DEMOTED code and message of each row (null: none), worded
    as ``AppraisalScheme._apply_quota`` words them."""
    q = scheme.quota
    if q is None:
        return _null(pl.String()), _null(pl.String())
    cohort = int((work["__status"] == SCORED).sum())
    k = _places(q.max_share, cohort, q.rounding)
    n = int(work["__rank"].is_not_null().sum())
    grade = scheme._grade(q.grade)
    lower = scheme.grades[scheme.grades.index(grade) + 1]
    rule = (f"at most {_fmt(q.max_share * 100)}% of the {cohort} scored subjects may be "
            f"{_both(grade.label, grade.label_en, grade.id)}: {q.rounding}("
            f"{_fmt(q.max_share)} x {cohort}) = {k} place(s)")
    order = scheme._order_text()
    rank = pl.col("__rank").cast(pl.String)
    quota = pl.col("__quota")
    code = pl.when(quota == 1).then(pl.lit("QUOTA_KEPT")) \
        .when(quota == 2).then(pl.lit("QUOTA_DEMOTED"))
    text = pl.when(quota == 1).then(pl.concat_str(
        pl.lit(f"quota: {rule}; ranked "), rank,
        pl.lit(f" of {n} by {order}, so the grade is kept"))).when(quota == 2).then(
        pl.concat_str(pl.lit(f"quota: {rule}; ranked "), rank, pl.lit(
            f" of {n} by {order}, so moved to {_both(lower.label, lower.label_en, lower.id)}"
            f"; this is a recommendation until a human confirms it")))
    return code, text


def _str_expr(work: pl.DataFrame, name: str) -> pl.Expr:
    """Python's ``str`` of each value of ``name`` (once per distinct value), as the
    per-record VETO reason writes the values it read."""
    values = work[name]
    distinct = values.unique()
    texts = pl.Series([str(v) for v in distinct.to_list()], dtype=pl.String)
    mapped = values.replace_strict(distinct, texts, return_dtype=pl.String)
    return pl.lit(mapped.fill_null("None"))


def _source(ind: _Indicator, i: int) -> pl.Expr:
    """``<value text> = raw`` or ``rater-weighted mean of f x w, ... = raw``."""
    raw = pl.col(f"__tR_{i}")
    if ind.value is not None:
        return pl.concat_str(pl.lit(f"{ind.value.text} = "), raw)
    parts: list[pl.Expr] = [pl.lit("rater-weighted mean of ")]
    for j, (fact, w) in enumerate(ind.raters):
        parts += [pl.lit((", " if j else "") + f"{fact} "),
                  pl.col(f"__tX_{fact}"), pl.lit(f" x{_fmt(w)}")]
    return pl.concat_str(*parts, pl.lit(" = "), raw)


def _with_texts(scheme: AppraisalScheme, consts: _Constants | None,
                work: pl.DataFrame) -> pl.DataFrame:
    """``_fmt`` of every number a reason shows, once each: ``__tR_i`` (raw), ``__tN_i``
    (score), ``__tW_i`` (weighted), ``__tX_<fact>`` (a rater's value), ``__tT`` (the
    total) and ``__tShort`` (how far the total is below the next grade up)."""
    if consts is None:
        return work
    wscale = S + consts.wscale
    columns = []
    for i in range(len(scheme.indicators)):
        columns += [_fmt_expr(pl.col(f"__R_{i}"), S).alias(f"__tR_{i}"),
                    _fmt_expr(pl.col(f"__N_{i}"), S).alias(f"__tN_{i}"),
                    _fmt_expr(pl.col(f"__W_{i}"), wscale).alias(f"__tW_{i}")]
    facts = sorted({fact for ind in scheme.indicators for fact, _ in ind.raters})
    columns += [_fmt_expr(pl.col(f"__X_{fact}"), S).alias(f"__tX_{fact}") for fact in facts]
    total = pl.col("__T2").cast(pl.Int128)
    columns.append(_fmt_expr(total, TOTAL_PLACES).alias("__tT"))
    better: pl.Expr = _null(pl.Int128())
    for g in range(1, len(scheme.grades)):
        better = pl.when(pl.col("__band") == g).then(_i(consts.mins[g - 1])).otherwise(better)
    columns.append(_fmt_expr(better - total * _i(10 ** (S - TOTAL_PLACES)), S)
                   .alias("__tShort"))
    return work.with_columns(columns)


def _reason_texts(scheme: AppraisalScheme, consts: _Constants | None, work: pl.DataFrame,
                  quota_text: pl.Expr, as_of: dt.date) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Every reason of a row scored here, word for word as ``_grade_subject`` and
    ``_apply_quota`` word them, as one list column (``work`` has ``_with_texts``): the
    quick way, how many reasons it must give, and the slow way."""
    if consts is None:  # every scored row fell back
        return _null(STR_LIST), pl.lit(0, dtype=pl.UInt32), _null(STR_LIST)
    items: list[pl.Expr] = []
    for i, ind in enumerate(scheme.indicators):
        name = _both(ind.label, ind.label_en, ind.id)
        group = (f" x group {ind.group_label} {_fmt(ind.group_weight)}"
                 if ind.group is not None else "")
        items.append(pl.concat_str(
            pl.lit(f"{name}: "), _source(ind, i), pl.lit(" -> "),
            pl.col(f"__tN_{i}"), pl.lit(" ("), _how_expr(ind, i, pl.col(f"__tR_{i}")),
            pl.lit(f") x weight {_fmt(ind.weight)}{group} = "), pl.col(f"__tW_{i}")))
        if ind.norm.method in ("bands", "thresholds"):
            tail = (" falls in no band of the policy, so it scores 0"
                    if ind.norm.method == "bands" else " reaches no step, so it scores 0")
            items.append(pl.when(pl.col(f"__pick_{i}") == -1).then(pl.concat_str(
                pl.lit(f"{name}: the value "), pl.col(f"__tR_{i}"), pl.lit(tail))))
    terms: list[pl.Expr] = []
    for i in range(len(scheme.indicators)):
        terms += [pl.lit(" + ") if i else pl.lit(""), pl.col(f"__tW_{i}")]
    items.append(pl.concat_str(pl.lit("total = "), *terms, pl.lit(" = "), pl.col("__tT"),
                               pl.lit(" (rounded half-up to 2 decimals)")))
    grades = scheme.grades
    ix = list(range(len(grades)))
    reaches = pl.col("__band").replace_strict(
        ix, [f" reaches {_fmt(g.min_score)}, the lowest score for "
             f"{_both(g.label, g.label_en, g.id)}" for g in grades], return_dtype=pl.String)
    short_of = pl.col("__band").replace_strict(
        ix, [""] + [f" short of {_both(b.label, b.label_en, b.id)} at {_fmt(b.min_score)})"
                    for b in grades[:-1]], return_dtype=pl.String)
    note = pl.when(pl.col("__band") > 0).then(
        pl.concat_str(pl.lit(" ("), pl.col("__tShort"), short_of)).otherwise(pl.lit(""))
    items.append(pl.concat_str(pl.lit("a total of "), pl.col("__tT"), reaches, note))
    lowest = grades[-1]
    band_name = pl.col("__band").replace_strict(
        list(range(len(grades))), [_both(g.label, g.label_en, g.id) for g in grades],
        return_dtype=pl.String)
    for j, v in enumerate(scheme.vetoes):
        read: list[pl.Expr] = []
        for name in v.when.reads:
            if name == "as_of":
                value = pl.lit(str(as_of))
            elif name in scheme.facts:
                value = _str_expr(work, f"__f_{name}")
            else:
                continue
            read += [pl.lit(("; read " if not read else ", ") + f"{name} = "), value]
        items.append(pl.when(pl.col(f"__veto_{j}")).then(pl.concat_str(
            pl.lit(f"veto item {_both(v.label, v.label_en, v.id)} holds ({v.when.text}"),
            *read, pl.lit(f"): the grade is {_both(lowest.label, lowest.label_en, lowest.id)} "
                          f"whatever the total (the bands gave "), band_name,
            pl.lit(f"); {CONFIRM}"))))
    items.append(quota_text)
    # one text split at a separator: polars' concat_list of strings costs ~6x as much
    # (seconds per million rows); absent (null) reasons are skipped. Should a value
    # read by a veto hold the separator, the list would have too many items: then the
    # slow way is taken (see _decision_columns).
    joined = pl.concat_str(items, separator=SEP, ignore_nulls=True).str.split(SEP)
    count: pl.Expr = pl.lit(0, dtype=pl.UInt32)
    for item in items:
        count = count + item.is_not_null().cast(pl.UInt32)
    return joined, count, pl.concat_list(items).list.drop_nulls()


def _how_expr(ind: _Indicator, i: int, raw_text: pl.Expr | None = None) -> pl.Expr:
    """How the score was found, word for word as ``AppraisalScheme._normalise`` says it
    (``raw_text``: ``_fmt`` of the raw value, when already written)."""
    n = ind.norm
    pick = pl.col(f"__pick_{i}")
    texts: dict[int, str] = {}
    if n.method == "linear":
        base = f"linear: {_fmt(n.floor or 0)} scores 0, {_fmt(n.target or 0)} scores 100"
        texts = {0: base, 1: f"{base}, clamped to {_fmt(0)}",
                 2: f"{base}, clamped to {_fmt(100)}"}
    elif n.method == "thresholds":
        word = "at least" if n.higher_is_better else "at most"
        texts = {k: f"thresholds: {word} {_fmt(at)} scores {_fmt(score)}"
                 for k, (at, score) in enumerate(ind.steps)}
        edge = ind.steps[0 if n.higher_is_better else -1][0]
        texts[-1] = (f"thresholds: no step reached (the step nearest is {word} "
                     f"{_fmt(edge)}), scores 0")
    elif n.method == "bands":
        last = len(ind.bands) - 1
        texts = {k: f"bands: [{_fmt(lo)}, {_fmt(hi)}{']' if k == last else ')'} scores "
                    f"{_fmt(score)}" for k, (lo, hi, score) in enumerate(ind.bands)}
        text = raw_text if raw_text is not None else _fmt_expr(pl.col(f"__R_{i}"), S)
        out_of_bands = pl.concat_str(pl.lit("bands: "), text,
                                     pl.lit(" is in no band, scores 0"))
        return pl.when(pick == -1).then(out_of_bands).otherwise(
            pick.replace_strict(list(texts), list(texts.values()), default=None,
                                return_dtype=pl.String))
    else:
        texts = {0: "none: the value is the score"}
    return pick.replace_strict(list(texts), list(texts.values()), default=None,
                               return_dtype=pl.String)


def _code_lists(scheme: AppraisalScheme, work: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Reason codes and vetoed ids of each scored row, from a table of the distinct keys
    (rejected and fallen-back rows get their codes from the per-record path)."""
    flags = [f"__flag_{i}" for i, ind in enumerate(scheme.indicators)
             if ind.norm.method in ("thresholds", "bands")]
    vetoes = [f"__veto_{j}" for j in range(len(scheme.vetoes))]
    keys = ["__status", *flags, *vetoes, "__quota"]
    table = work.select(keys).unique()
    lists: list[list[str]] = []
    vetoed: list[list[str]] = []
    for row in table.iter_rows(named=True):
        if row["__status"] != SCORED:
            lists.append([])
            vetoed.append([])
            continue
        codes: list[str] = []
        for i, ind in enumerate(scheme.indicators):
            codes.append("INDICATOR")
            if row.get(f"__flag_{i}"):
                codes.append("OUT_OF_BANDS" if ind.norm.method == "bands"
                             else "NO_STEP_REACHED")
        codes += ["TOTAL", "GRADE"]
        held = [v.id for j, v in enumerate(scheme.vetoes) if row[f"__veto_{j}"]]
        codes += ["VETO"] * len(held)
        if row["__quota"]:
            codes.append("QUOTA_KEPT" if row["__quota"] == 1 else "QUOTA_DEMOTED")
        lists.append(codes)
        vetoed.append(held)
    table = table.with_columns(pl.Series("__codes", lists, dtype=STR_LIST),
                               pl.Series("__held", vetoed, dtype=STR_LIST))
    joined = work.select(keys).join(table, on=keys, how="left", maintain_order="left",
                                    nulls_equal=True)
    return joined["__codes"], joined["__held"]


# --- rejected rows, details, notes ------------------------------------------------------------


def _rejections(scheme: AppraisalScheme, frame: pl.DataFrame, work: pl.DataFrame,
                rejected: pl.Series, as_of: dt.date
                ) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """Run the per-record path on the rejected rows only, for their exact reasons."""
    info = work.filter(rejected).select("__sid_ok", "__sid", "__first", ROW)
    seens = [{sid: first} if sid_ok and first != row else {}
             for sid_ok, sid, first, row in info.iter_rows()]
    return explain_rejected(frame, rejected, seens,
                            lambda row, item, seen: scheme.decide_one(row, item, as_of, seen),
                            "subjects", lambda d: d.subject_id)


DETAIL_SCHEMA: _Schema = {
    "row": pl.Int64, "subject_id": pl.String, "indicator": pl.String, "label": pl.String,
    "group": pl.String, "method": pl.String, "raw": pl.Float64, "raters": STR_LIST,
    "normalised": pl.Float64, "weight": pl.Float64, "group_weight": pl.Float64,
    "weighted": pl.Float64, "how": pl.String, "total": pl.Float64, "grade": pl.String,
}


def _details(scheme: AppraisalScheme, consts: _Constants | None, work: pl.DataFrame,
             fallback: dict[int, AppraisalDecision], as_of: dt.date) -> pl.DataFrame:
    """One row per scored subject and indicator: ``AppraisalResult.detail_rows``. The
    grade and total are the output's, computed again here rather than read from
    ``output`` (which would word every reason)."""
    keep = (work["__status"] == SCORED) & ~work["__fallback"]
    grade = _by_grade(scheme)(_grade_ix(scheme), [g.id for g in scheme.grades])
    scored = work.filter(keep).with_columns(__grade=grade, __total=_total_expr())
    k, m = len(scheme.indicators), scored.height
    wscale = S + (consts.wscale if consts is not None else 0)
    parts = []
    for i, ind in enumerate(scheme.indicators if consts is not None else ()):
        raters = [pl.concat_str(pl.lit(f"{fact}="), _fmt_expr(pl.col(f"__X_{fact}"), S),
                                pl.lit(f" x{_fmt(w)}")) for fact, w in ind.raters]
        parts.append(scored.select(
            pl.col(ROW).cast(pl.Int64).alias("row"), pl.col("__sid").alias("subject_id"),
            pl.lit(ind.id).alias("indicator"), pl.lit(ind.label).alias("label"),
            pl.lit(ind.group or "").alias("group"), pl.lit(ind.norm.method).alias("method"),
            pl.col(f"__raw_{i}").alias("raw"),
            (pl.concat_list(raters) if raters
             else pl.lit([], dtype=STR_LIST)).alias("raters"),
            _float_expr(pl.col(f"__N_{i}"), S).alias("normalised"),
            pl.lit(ind.weight, dtype=pl.Float64).alias("weight"),
            pl.lit(ind.group_weight, dtype=pl.Float64).alias("group_weight"),
            _float_expr(pl.col(f"__W_{i}"), wscale).alias("weighted"),
            _how_expr(ind, i).alias("how"),
            pl.col("__total").alias("total"), pl.col("__grade").alias("grade")))
    if parts:
        # subject by subject, indicators in policy order: row r of part i is at i*m + r,
        # and goes to r*k + i (a gather; sorting the rows by (row, i) costs far more)
        j = pl.int_range(m * k, dtype=pl.Int64, eager=True)
        details = pl.concat(parts, rechunk=True)[(j % k) * m + j // k]
    else:
        details = pl.DataFrame(schema=DETAIL_SCHEMA)
    if fallback:
        out = work.select(pl.col(ROW).alias("row"), grade.alias("grade"))
        grades = dict(zip(out["row"].to_list(), out["grade"].to_list(), strict=True))
        extra = [{"row": row, "subject_id": d.subject_id, "indicator": t.id, "label": t.label,
                  "group": t.group or "", "method": t.method, "raw": t.raw,
                  "raters": [f"{r.fact}={_fmt(r.value)} x{_fmt(r.weight)}"
                             for r in t.raters],
                  "normalised": t.normalised, "weight": t.weight,
                  "group_weight": t.group_weight, "weighted": t.weighted, "how": t.how,
                  "total": d.total, "grade": grades[row]}
                 for row, d in fallback.items() if not d.rejected for t in d.indicators]
        if extra:
            details = pl.concat([details, pl.DataFrame(extra, schema=DETAIL_SCHEMA)]) \
                .with_row_index("__i").sort("row", "__i").drop("__i")
    ref = scheme.ref
    return details.with_columns(pl.lit(ref.id).alias("policy_id"),
                                pl.lit(ref.version).alias("policy_version"),
                                pl.lit(ref.hash).alias("policy_hash"),
                                pl.lit(as_of, dtype=pl.Date).alias("as_of"))
