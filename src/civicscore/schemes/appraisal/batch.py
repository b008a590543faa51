"""Appraisal in batch: read and check the frame, run the plan, rank the quota, shape.

The per-record module's docstring fixes the meaning and the order of the steps;
the decision itself is not written here:

1. The record on its own: every field is coerced by ``batch.frames`` (which
   accepts and refuses exactly what ``records.py`` does).
2. - 5. and 7. Raw values, normalisation, weights, the exact total rounded
   half-up, the grade band and the vetoes are ``AppraisalScheme.plan``, the
   very plan the per-record path runs as generated Python, here run as one lazy
   polars query by ``plan.polars`` (exact decimals as Int128 fixed point). A
   row the fixed point cannot hold (a value of 10**9 or more, a double with
   more than 20 decimals: none in the bundled data) is *unfit*; it is decided
   by the per-record path (``decide_one``, the same plan in Python) and joined
   back before the quota, so the answer never depends on the engine.
6. The quota is a sort of the candidates by the ``tie_break`` keys, then
   subject id (unique among scored rows, so the order is total); the number of
   places is ``_places``, the per-record function itself.

Reasons are the scheme's templates (``words``: the entries the
per-record path renders row by row), rendered over a slice of the frame by
``plan.words``' frame renderers. Every number a reason shows is a plan value
written as text (``ExactText``, the per-record ``_fmt``); those texts and the
public floats are *deferred* steps of the plan (``plan.polars.Later``): not
computed while scoring, but for the slice being worded (``CHUNK`` rows at a
time, each once per distinct value it reads: ``_by_distinct``) or the details being
built, when first read (``_Built``). The words of
each normalisation rule come from ``how_text``, the per-record function.
Rejected rows (few) are decided again by the per-record code for their exact
reasons.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeAlias

import polars as pl

from ...batch.frames import ROW, UNREADABLE, coerce_columns, coerce_id, read_source
from ...batch.result import BatchResult, explain_rejected
from ...expr.functions import FunctionTable
from ...messages import reasons_language, worded_in
from ...plan.polars import Compiled, Later, compile_later, unfit
from ...plan.rank import quota_frame
from ...plan.words import Choose, say_frame
from ...policy.compile import ensure_in_effect
from ..base import REJECT_COLUMNS
from .scheme import (
    DIV_PLACES,
    GRADE_FINAL,
    GRADE_PROPOSED,
    REJECTED,
    SCORED,
    STEP,
    TOTAL_PLACES,
    AppraisalDecision,
    AppraisalScheme,
    _fmt,
    _Indicator,
    _places,
    dec,
    how_picks,
    how_text,
)
from .words import quota_choice, reason_entries, veto_reads

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
    #: Each sentence quotes the subject's own scores: nearly all are distinct, so a
    #: Categorical would hold every one anyway (and cost ~25% of the run building it).
    categorical_reasons: bool = field(default=False, repr=False, compare=False)

    @property
    def scored_count(self) -> int:
        return self.scored_rows


def score_appraisal(scheme: AppraisalScheme, source: Any, *, as_of: dt.date,
                    **extra: Any) -> BatchResult:
    """Appraise every subject of ``source`` as one cohort; see :class:`BatchResult`."""
    ensure_in_effect(scheme.model, scheme.ref, as_of)
    frame = read_source(source)
    work = _check_records(scheme, frame)
    work, later = _score(scheme, work, as_of)
    work, fallback = _fall_back(scheme, frame, work, as_of)
    work = _apply_quota(scheme, work, later)
    rejected_mask = work["__status"] != SCORED
    reject_rows, _ = _rejections(scheme, frame, work, rejected_mask, as_of)
    rejected = pl.DataFrame([{c: r[c] for c in REJECT_COLUMNS} for r in reject_rows],
                            schema=REJECT_SCHEMA)
    ref = scheme.ref
    lang = reasons_language(scheme.model.policy.locale)  # the run's, whenever it is read
    result = AppraisalBatchResult(
        "appraisal", ref, as_of,
        worded_in(lang, lambda: _decision_columns(  # type: ignore[arg-type]
            scheme, later, work, reject_rows, fallback, as_of)),
        rejected,
        worded_in(lang, lambda: _details(  # type: ignore[arg-type]
            scheme, later, work, fallback, as_of)),
        frame.height, scored_rows=int((~rejected_mask).sum()))
    return result


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
    ).drop("__sid_raw")


# --- steps 2-5 and 7: the plan -------------------------------------------------------------

#: The prefix of the plan's columns: ``__p.$total`` is the plan's ``$total``.
_P = "__p."


def _null(dtype: pl.DataType) -> pl.Expr:
    return pl.lit(None, dtype=dtype)


#: The plan's polars expressions, built once per compiled policy (a run over a few rows
#: spends most of its time building them); kept beside the scheme, not on it.
_COMPILED: weakref.WeakKeyDictionary[AppraisalScheme, Compiled] = weakref.WeakKeyDictionary()


#: Plan values shown only in the output and details (texts, public floats but the
#: total's): computed per slice of what is read (``plan.polars.Later``), not in scoring.
def _shown_steps(scheme: AppraisalScheme) -> set[str]:
    k = len(scheme.indicators)
    facts = {fact for ind in scheme.indicators for fact, _ in ind.raters}
    return ({f"{STEP}{key}{i}" for i in range(k) for key in ("tR", "tN", "tW", "fR", "fN", "fW")}
            | {f"{STEP}tX:{fact}" for fact in facts} | {f"{STEP}tT", f"{STEP}tShort"})


def _score(scheme: AppraisalScheme, work: pl.DataFrame, as_of: dt.date
           ) -> tuple[pl.DataFrame, Later]:
    """``AppraisalScheme.plan``, the plan the per-record path runs as generated Python,
    here as one lazy polars query, without the steps that only show a value (``Later``
    computes those on the slice being read). Besides the plan's exact columns
    (``__p.<step>``, those the shown steps read), per indicator ``__pick_i`` (which rule
    gave the score) and ``__flag_i``; ``__T2`` (the total in hundredths), ``__fT``,
    ``__band``, ``__veto_j``, ``__vetoed``, ``__status`` (before the quota) and
    ``__fallback`` (a row the polars backend could not hold exactly: the per-record
    path decides it)."""
    plan = scheme.plan
    inputs = {i.name: pl.col(f"__f_{i.name}") for i in plan.inputs if i.name in scheme.facts}
    inputs["as_of"] = pl.lit(as_of, dtype=pl.Date)
    p = {s.name: pl.col(_P + s.name) for s in plan.steps}
    k = len(scheme.indicators)
    compiled = _COMPILED.get(scheme)
    if compiled is None:
        compiled = _COMPILED[scheme] = compile_later(
            plan, scheme.functions or FunctionTable(), prefix=_P, later=_shown_steps(scheme))
    lazy, later = compiled.apply(work.lazy(), inputs), compiled.later
    unheld = unfit(plan, _P, without=later.names)
    failed = p[f"{STEP}failed"]
    ok = pl.col("__ok")
    scored = ok & ~failed & ~unheld
    kept = sorted(later.reads())
    out = lazy.select(
        ROW, "__sid_ok", "__sid", "__first", "__ok",
        *(pl.col(f"__f_{name}") for name in scheme.facts),
        *(pl.col(_P + name) for name in kept),
        pl.when(ok & ~failed).then(pl.lit(SCORED)).otherwise(pl.lit(REJECTED))
        .alias("__status"),
        (ok & unheld).alias("__fallback"),
        *(p[f"{STEP}pick{i}"].cast(pl.Int32).alias(f"__pick_{i}") for i in range(k)),
        *((scored & (p[f"{STEP}pick{i}"] == -1)).alias(f"__flag_{i}") for i in range(k)),
        pl.when(scored).then(p[f"{STEP}total"].cast(pl.Int64)).alias("__T2"),
        p[f"{STEP}fT"].alias("__fT"),
        pl.when(scored).then(p[f"{STEP}band"].cast(pl.Int32)).alias("__band"),
        # (an unfit row's veto is kept: _fall_back masks it by the per-record status)
        *((ok & (~failed | unheld) & p[f"{STEP}veto{j}"].fill_null(False)).alias(f"__veto_{j}")
          for j in range(len(scheme.vetoes))),
    )
    vetoed: pl.Expr = _FALSE
    for j in range(len(scheme.vetoes)):
        vetoed = vetoed | pl.col(f"__veto_{j}")
    return out.with_columns(__vetoed=vetoed).collect(engine="in-memory"), later


# --- rows that do not fit: the per-record path --------------------------------------------


def _records(frame: pl.DataFrame, mask: pl.Series) -> list[tuple[int, Any]]:
    """(row, record) of the rows of ``mask``, as ``explain_rejected`` reads them."""
    out = []
    for record in frame.filter(mask).iter_rows(named=True):
        row = record.pop(ROW)
        record.pop(UNREADABLE)
        out.append((row, {f: v for f, v in record.items() if v is not None}))
    return out


def _fall_back(scheme: AppraisalScheme, frame: pl.DataFrame,
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
        "__py_fT": [d.total for d in decisions.values()],
        **{f"__py_norm_{i}": [None if d.rejected else d.indicators[i].normalised
                              for d in decisions.values()]
           for i in range(len(scheme.indicators))},
    }, schema_overrides={ROW: work.schema[ROW], "__py_T2": pl.Int64, "__py_band": pl.Int32,
                         "__py_fT": pl.Float64,
                         **{f"__py_norm_{i}": pl.Float64
                            for i in range(len(scheme.indicators))}})
    work = work.join(patch, on=ROW, how="left", maintain_order="left")
    return work.with_columns(
        __status=pl.coalesce("__py_status", "__status"),
        __T2=pl.coalesce("__py_T2", "__T2"),
        __fT=pl.coalesce("__py_fT", "__fT"),
        __band=pl.coalesce("__py_band", "__band"),
    ).with_columns([(pl.col(f"__veto_{j}") & (pl.col("__status") == SCORED))
                    .alias(f"__veto_{j}") for j in range(len(scheme.vetoes))]), decisions


# --- step 6: the quota -------------------------------------------------------------------


def _apply_quota(scheme: AppraisalScheme, work: pl.DataFrame, later: Later) -> pl.DataFrame:
    """``__rank`` (1-based among the candidates) and ``__quota`` (0 none, 1 kept,
    2 demoted): ``AppraisalScheme.quota_op``, the frame op the per-record path runs over
    its decisions, here over the frame. The float scores it ranks by (the per-record
    ``normalised``) are computed for the candidates alone."""
    q = scheme.quota
    if q is None:
        return work.with_columns(__rank=pl.lit(None, dtype=pl.Int64),
                                 __quota=pl.lit(0, dtype=pl.Int8))
    qix = [g.id for g in scheme.grades].index(q.grade)
    scored = pl.col("__status") == SCORED
    candidate = (scored & ~pl.col("__vetoed") & (pl.col("__band") == qix)).fill_null(False)
    ids = [ind.id for ind in scheme.indicators]
    used = sorted({ids.index(item.split(":", 1)[1]) for item in q.tie_break
                   if item.startswith("indicator:")})
    columns = work.select(
        scored.alias("scored"), candidate.alias("candidate"),
        _total_expr().alias("total"), pl.col("__sid").alias("subject_id"))
    if used:
        at = columns["candidate"].arg_true()
        names = [f"{STEP}fN{i}" for i in used]
        own = later.add(work[at], names)
        norms = []
        for i in used:
            values = pl.Series([None] * work.height, dtype=pl.Float64).scatter(
                at, own[_P + f"{STEP}fN{i}"])
            if f"__py_norm_{i}" in work.columns:
                values = work[f"__py_norm_{i}"].fill_null(values)
            norms.append(values.alias(f"n{i}"))
        columns = columns.with_columns(norms)
    ranked, _ = quota_frame(scheme.quota_op, columns)
    return work.with_columns(__rank=ranked["rank"], __quota=pl.when(ranked["kept"].is_null())
                             .then(pl.lit(0)).when(ranked["kept"]).then(pl.lit(1))
                             .otherwise(pl.lit(2)).cast(pl.Int8))


# --- the decision columns ------------------------------------------------------------------


def _py_lists(rows: dict[int, tuple[list[str], list[str]]], dtype: pl.DataType
              ) -> pl.DataFrame:
    """Codes and messages worded by the per-record path, by row (for a join)."""
    return pl.DataFrame({ROW: list(rows), "__py_codes": [c for c, _ in rows.values()],
                         "__py_reasons": [m for _, m in rows.values()]},
                        schema={ROW: dtype, "__py_codes": STR_LIST, "__py_reasons": STR_LIST})


def _decision_columns(scheme: AppraisalScheme, later: Later, work: pl.DataFrame,
                      reject_rows: list[dict[str, Any]],
                      fallback: dict[int, AppraisalDecision], as_of: dt.date) -> pl.DataFrame:
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
    quota_code = _quota_code(scheme)
    frame = work.with_columns(__codes=codes, __held=vetoed)
    if py:
        frame = frame.join(_py_lists(py, work.schema[ROW]), on=ROW, how="left",
                           maintain_order="left")
    else:
        frame = frame.with_columns(__py_codes=_null(STR_LIST), __py_reasons=_null(STR_LIST))
    own = pl.col("__fallback") & scored
    rejected = pl.col("__status") != SCORED
    frame = frame.with_columns(_reasons(scheme, later, frame, as_of))
    reason_codes = pl.when(rejected).then(pl.col("__py_codes")).when(own).then(
        pl.concat_list(pl.col("__py_codes"), quota_code).list.drop_nulls()
    ).otherwise(pl.col("__codes"))
    ref = scheme.ref
    confirm = pl.col("__vetoed") | (pl.col("__quota") == 2)
    return frame.select(
        pl.col(ROW).alias("row"),
        pl.col("__sid").alias("subject_id"),
        pl.col("__status").alias("status"),
        _total_expr().alias("total"),
        by_grade(pl.col("__band"), [g.id for g in grades]).alias("computed_grade"),
        by_grade(grade_ix, [g.id for g in grades]).alias("grade"),
        by_grade(grade_ix, [g.label for g in grades]).alias("grade_label"),
        pl.when(~scored).then(pl.lit("")).when(confirm).then(pl.lit(GRADE_PROPOSED))
        .otherwise(pl.lit(GRADE_FINAL)).alias("grade_status"),
        pl.col("__rank").alias("rank"),
        pl.col("__held").alias("vetoed"),
        (scored & confirm).alias("needs_confirmation"),
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


def _quota_entry(scheme: AppraisalScheme, work: pl.DataFrame) -> Choose | None:
    """The quota's sentences for this cohort (``words.quota_choice``)."""
    q = scheme.quota
    if q is None:
        return None
    cohort = int((work["__status"] == SCORED).sum())
    return quota_choice(scheme, cohort, _places(q.max_share, cohort, q.rounding),
                        int(work["__rank"].is_not_null().sum()), scheme.words.lang)


def _trace(scheme: AppraisalScheme, later: Later, part: pl.DataFrame, as_of: dt.date
           ) -> pl.DataFrame:
    """The columns the reason templates read (``words``), for one slice: the
    plan's shown values computed here, for these rows only."""
    k = len(scheme.indicators)
    lang = scheme.words.lang
    facts = sorted({fact for ind in scheme.indicators for fact, _ in ind.raters})
    texts = [f"{STEP}{key}{i}" for i in range(k) for key in ("tR", "tN", "tW")] \
        + [f"{STEP}tX:{fact}" for fact in facts] + [f"{STEP}tT", f"{STEP}tShort"]
    part = part.with_columns(_by_distinct(later, part, texts))
    reads = sorted({n for j in range(len(scheme.vetoes)) for n in veto_reads(scheme, j)})
    quota = pl.col("__quota")
    return part.select(
        *(pl.col(_P + t).alias(t) for t in texts),
        *(_how_expr(ind, i, lang).alias(f"{STEP}how{i}")
          for i, ind in enumerate(scheme.indicators)),
        *(pl.col(f"__flag_{i}").alias(f"{STEP}flag{i}") for i in range(k)),
        pl.col("__band").alias(f"{STEP}band"),
        *(pl.when(pl.col(f"__veto_{j}")).then(pl.col("__band")).alias(f"{STEP}vb{j}")
          for j in range(len(scheme.vetoes))),
        *((pl.lit(as_of, dtype=pl.Date) if n == "as_of" else pl.col(f"__f_{n}"))
          .alias(f"{STEP}read:{n}") for n in reads),
        pl.when(quota == 1).then(0).when(quota == 2).then(1).alias(f"{STEP}quota"),
        pl.col("__rank").alias(f"{STEP}rank"))


def _by_distinct(later: Later, part: pl.DataFrame, names: list[str]) -> list[pl.Series]:
    """The deferred steps ``names`` (``prefix + name`` columns) of every row of ``part``,
    each computed once per distinct value of the plan columns it reads and placed at the
    rows that hold it: a cohort's numbers repeat (10^6 subjects hold a few thousand raw
    values, scores and totals), and writing an exact value as text costs several
    times a lookup of it. The step is the plan's own (``Later.add``), on fewer rows."""
    out = []
    for name in names:
        keys = [_P + r for r in sorted(later.reads([name]))]
        column = _P + name
        if not keys:
            out.append(later.add(part.select(ROW), [name])[column])
            continue
        distinct = part.select(keys).unique()
        shown = later.add(distinct, [name]).select(*keys, column)
        out.append(part.select(keys).join(shown, on=keys, how="left", nulls_equal=True,
                                          maintain_order="left")[column])
    return out


def _reasons(scheme: AppraisalScheme, later: Later, frame: pl.DataFrame,
             as_of: dt.date) -> pl.Series:
    """The output's ``reasons``: a rejected row's and a fallen-back row's as the
    per-record path worded them (``__py_reasons``; a fallen-back row's quota reason
    added), the others rendered from the scheme's templates (``say_frame`` of the
    same entries the per-record path renders with ``say_row``), slice by slice
    (``CHUNK``)."""
    quota = _quota_entry(scheme, frame)
    entries = (*reason_entries(scheme), *((quota,) if quota is not None else ()))
    scored = pl.col("__status") == SCORED
    own = (pl.col("__fallback") & scored).fill_null(False)
    rejected = pl.col("__status") != SCORED
    parts = []
    for start in range(0, max(frame.height, 1), CHUNK):
        part = frame.slice(start, CHUNK)
        trace = _trace(scheme, later, part, as_of)
        said = say_frame(entries, trace, compact=False)
        chosen = part.select(pl.col("__py_reasons"), rejected.alias("rej"), own.alias("own"))
        if chosen["own"].any() and quota is not None:
            tail = say_frame([quota], trace, compact=False)
            py = pl.select(pl.when(chosen["own"]).then(
                pl.concat_list(chosen["__py_reasons"], tail))
                .otherwise(chosen["__py_reasons"])).to_series()
        else:
            py = chosen["__py_reasons"]
        parts.append(pl.select(pl.when(chosen["rej"] | chosen["own"]).then(py)
                               .otherwise(said)).to_series().alias("__reasons"))
    return pl.concat(parts, rechunk=False).alias("__reasons")


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
    return pl.when(pl.col("__status") == SCORED).then(pl.col("__fT"))


def _quota_code(scheme: AppraisalScheme) -> pl.Expr:
    """The QUOTA_KEPT / QUOTA_DEMOTED code of each row (null: none)."""
    quota = pl.col("__quota")
    return pl.when(quota == 1).then(pl.lit("QUOTA_KEPT")) \
        .when(quota == 2).then(pl.lit("QUOTA_DEMOTED"))


def _how_expr(ind: _Indicator, i: int, lang: str = "en") -> pl.Expr:
    """How the score was found: ``how_text`` (the per-record wording, in ``lang``) of each
    rule the plan's ``pick`` may name, once each; only a value in no band is worded per
    row."""
    pick = pl.col(f"__pick_{i}")
    texts = _how_texts(ind, lang)
    words = pick.replace_strict(list(texts), list(texts.values()), default=None,
                                return_dtype=pl.String)
    if ind.norm.method != "bands":
        return words
    return pl.when(pick == -1).then(_out_of_bands(pl.col(f"{_P}{STEP}tR{i}"), lang)
                                    ).otherwise(words)


def _how_column(inds: tuple[_Indicator, ...], wide: pl.DataFrame, which: pl.Series,
                stacked: Callable[[str, list[pl.Series]], pl.Series]) -> pl.Series:
    """The details' ``how`` (``_how_expr`` of each indicator, subject by subject): the
    text of each (indicator, pick) from one table, then the few values in no band."""
    k, width = len(inds), max(len(_how_texts(ind)) for ind in inds) + 2
    table = {i * width + p + 1: text for i, ind in enumerate(inds)
             for p, text in _how_texts(ind).items()}
    pick = stacked("__pick", [wide[f"__pick_{i}"] for i in range(k)]).cast(pl.Int64)
    how = pl.select((pl.lit(which) * width + pl.lit(pick) + 1).replace_strict(
        list(table), list(table.values()), default=None, return_dtype=pl.String)
    ).to_series().alias("how")
    for i, ind in enumerate(inds):
        if ind.norm.method == "bands":
            rows = (wide[f"__pick_{i}"] == -1).fill_null(False).arg_true()
            if rows.len():
                how = how.scatter(rows.cast(pl.Int64) * k + i, wide[f"out{i}"].gather(rows))
    return how


def _how_texts(ind: _Indicator, lang: str = "en") -> dict[int, str]:
    """``how_text`` of each rule the plan's ``pick`` may name (but a value in no band)."""
    return {k: how_text(ind, k, Decimal(0), lang)[0] for k in how_picks(ind)}


def _out_of_bands(raw_text: pl.Expr, lang: str = "en") -> pl.Expr:
    """``how_text`` of a value in no band (it quotes the value)."""
    if lang == "zh":
        return pl.concat_str(pl.lit("区间："), raw_text, pl.lit(" 不在任何区间内，得 0 分"))
    return pl.concat_str(pl.lit("bands: "), raw_text, pl.lit(" is in no band, scores 0"))


def _code_lists(scheme: AppraisalScheme, work: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Reason codes and vetoed ids of each scored row, from a table of the distinct keys
    (rejected and fallen-back rows get their codes from the per-record path). The key is
    one integer of the row's flags, vetoes and quota (a join on it costs a fraction of a
    join on a dozen boolean columns)."""
    flags = [i for i, ind in enumerate(scheme.indicators)
             if ind.norm.method in ("thresholds", "bands")]
    nv = len(scheme.vetoes)
    bits: list[pl.Expr] = [pl.col(f"__flag_{i}") for i in flags] \
        + [pl.col(f"__veto_{j}") for j in range(nv)]
    # bit 0: scored; then one a flag, one a veto; the quota (0, 1, 2) above them
    key = (pl.col("__status") == SCORED).cast(pl.Int64)
    for b, bit in enumerate(bits):
        key = key + bit.fill_null(False).cast(pl.Int64) * (1 << (b + 1))
    key = key + pl.col("__quota").fill_null(0).cast(pl.Int64) * (1 << (len(bits) + 1))
    keys = work.select(key.alias("__key"))
    table = keys.unique()
    lists: list[list[str]] = []
    vetoed: list[list[str]] = []
    for k in table["__key"].to_list():
        if not k & 1:
            lists.append([])
            vetoed.append([])
            continue
        flagged = {i for b, i in enumerate(flags) if k >> (b + 1) & 1}
        codes: list[str] = []
        for i, ind in enumerate(scheme.indicators):
            codes.append("INDICATOR")
            if i in flagged:
                codes.append("OUT_OF_BANDS" if ind.norm.method == "bands"
                             else "NO_STEP_REACHED")
        codes += ["TOTAL", "GRADE"]
        held = [v.id for j, v in enumerate(scheme.vetoes) if k >> (len(flags) + j + 1) & 1]
        codes += ["VETO"] * len(held)
        quota = k >> (len(bits) + 1)
        if quota:
            codes.append("QUOTA_KEPT" if quota == 1 else "QUOTA_DEMOTED")
        lists.append(codes)
        vetoed.append(held)
    table = table.with_columns(pl.Series("__codes", lists, dtype=STR_LIST),
                               pl.Series("__held", vetoed, dtype=STR_LIST))
    joined = keys.join(table, on="__key", how="left", maintain_order="left")
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


def _details(scheme: AppraisalScheme, later: Later, work: pl.DataFrame,
             fallback: dict[int, AppraisalDecision], as_of: dt.date) -> pl.DataFrame:
    """One row per scored subject and indicator: ``AppraisalResult.detail_rows``. The
    grade and total are the output's, computed again here rather than read from
    ``output`` (which would word every reason); the plan's shown values (floats, texts)
    are computed here, for the scored rows only.

    The rows are subject by subject, indicators in policy order. Each column is built on
    its own from a frame of one row per subject: a subject's value repeated by a gather,
    a policy constant gathered from a table of ``k`` values, an indicator's value
    stacked column after column and gathered into that order (``concat_list`` and
    ``explode``, per-indicator frames and a frame-wide gather each cost several times
    more in polars 2.1)."""
    keep = (work["__status"] == SCORED) & ~work["__fallback"]
    grade = _by_grade(scheme)(_grade_ix(scheme), [g.id for g in scheme.grades])
    inds = scheme.indicators
    k = len(inds)
    facts = sorted({fact for ind in inds for fact, _ in ind.raters})
    shown = [f"{STEP}{key}{i}" for i in range(k) for key in ("fR", "fN", "fW")] \
        + [f"{STEP}tR{i}" for i, ind in enumerate(inds)
           if ind.norm.method == "bands"] + [f"{STEP}tX:{fact}" for fact in facts]
    wide = later.add(work.lazy().filter(keep).select(
        ROW, "__sid", grade.alias("__grade"), _total_expr().alias("__total"),
        *(f"__pick_{i}" for i in range(k)),
        *(_P + n for n in sorted(later.reads(shown)))), shown).select(
        pl.col(ROW).cast(pl.Int64).alias("row"), pl.col("__sid").alias("subject_id"),
        pl.col("__total").alias("total"), pl.col("__grade").alias("grade"),
        *(pl.col(f"{_P}{STEP}{key}{i}").alias(f"{key}{i}")
          for i in range(k) for key in ("fR", "fN", "fW")),
        *(pl.col(f"__pick_{i}") for i in range(k)),
        *(_out_of_bands(pl.col(f"{_P}{STEP}tR{i}")).alias(f"out{i}")
          for i, ind in enumerate(inds) if ind.norm.method == "bands"),
        *(pl.concat_str(pl.lit(f"{fact}="), pl.col(f"{_P}{STEP}tX:{fact}"),
                        pl.lit(f" x{_fmt(w)}")).alias(f"r{i}.{j}")
          for i, ind in enumerate(inds) for j, (fact, w) in enumerate(ind.raters)),
    ).collect()
    m = wide.height
    if m and k:
        at = pl.int_range(m * k, dtype=pl.Int64, eager=True)
        subject, which = at // k, at % k
        stacked = which * m + subject

        def per_subject(name: str) -> pl.Series:
            return wide[name].gather(subject).alias(name)

        def constant(name: str, values: list[Any], dtype: pl.DataType) -> pl.Series:
            return pl.Series(name, values, dtype=dtype).gather(which)

        def per_indicator(name: str, columns: list[pl.Series]) -> pl.Series:
            return pl.concat(columns, rechunk=True).gather(stacked).alias(name)

        def raters(i: int, ind: _Indicator) -> pl.Series:
            n = len(ind.raters)
            if not n:
                return pl.Series([[]], dtype=STR_LIST).gather(pl.zeros(m, pl.Int64, eager=True))
            if n == 1:
                return wide[f"r{i}.0"].reshape((m, 1)).arr.to_list()
            j = pl.int_range(m * n, dtype=pl.Int64, eager=True)
            flat = pl.concat([wide[f"r{i}.{q}"] for q in range(n)], rechunk=True) \
                .gather((j % n) * m + j // n)
            return flat.reshape((m, n)).arr.to_list()

        details = pl.DataFrame([
            per_subject("row"), per_subject("subject_id"),
            constant("indicator", [ind.id for ind in inds], pl.String()),
            constant("label", [ind.label for ind in inds], pl.String()),
            constant("group", [ind.group or "" for ind in inds], pl.String()),
            constant("method", [ind.norm.method for ind in inds], pl.String()),
            per_indicator("raw", [wide[f"fR{i}"] for i in range(k)]),
            per_indicator("raters", [raters(i, ind) for i, ind in enumerate(inds)]),
            per_indicator("normalised", [wide[f"fN{i}"] for i in range(k)]),
            constant("weight", [ind.weight for ind in inds], pl.Float64()),
            constant("group_weight", [ind.group_weight for ind in inds], pl.Float64()),
            per_indicator("weighted", [wide[f"fW{i}"] for i in range(k)]),
            _how_column(inds, wide, which, per_indicator),
            per_subject("total"), per_subject("grade")])
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
