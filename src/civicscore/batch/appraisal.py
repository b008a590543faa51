"""Appraisal in batch: the scorecard steps of ``schemes/appraisal.py``, as columns.

The steps, in the per-record order (see that module's docstring for their
meaning): read and check the record; the raw value of every indicator;
normalise it to 0-100; weight it; total and round; the grade band; vetoes;
then the quota over the cohort. Every indicator value and veto condition is
compiled from the same checked IR by ``batch.expr``, with its error column, so
a record the per-record path rejects for an expression error is rejected here.

Why it is shaped this way:

* **Floats in the same order.** The per-record path computes each weighted
  score as ``score * weight * group_weight`` and the total as the Python
  ``sum`` of those, indicator by indicator (``0 + w1 + w2 + ...``). Here the
  columns are added left to right with ``+`` in the same indicator order
  (never ``sum_horizontal``), so totals agree bit for bit; the rounding is
  ``round_half_up_expr``, the column twin of ``functions.round_half_up``. The
  rater mean divides by a column (``exact_divisor``), never by a scalar.
* **Normalisation is row-wise** (floor/target/steps/bands are constants of the
  policy), so it is a ``when/then`` chain in the per-record order of tests.
* **The quota is a sort.** Candidates (scored, not vetoed, banded in the quota
  grade) are sorted by the ``tie_break`` keys, then subject id; ``-x``
  ascending in ``_sort_key`` is ``x`` descending here (with ``+ 0.0`` so that
  ``-0.0`` and ``0.0`` tie, as they do in Python). Subject ids of scored rows
  are unique (duplicates are rejected), so the order is total and needs no
  stable tie-breaking. The number of places is ``_places``, the per-record
  function itself.
* **Reason codes** come from a small key per row (which indicators flagged
  OUT_OF_BANDS/NO_STEP_REACHED, which vetoes held, kept or demoted by the
  quota) joined to a table of the few distinct code lists; a list per row from
  ``concat_list`` would cost seconds per million rows.
* **Rejected rows** (few) are decided again by the per-record code
  (``decide_one``) for their exact reasons and messages, and that path must
  reject them too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl

from ..policy.compile import ensure_in_effect
from ..policy.model import FactSpec
from ..schemes.appraisal import (
    REJECTED,
    SCORED,
    AppraisalScheme,
    _fmt,
    _Indicator,
    _places,
)
from .expr import Column, PolarsCompiler, either, exact_divisor, round_half_up_expr
from .frames import ROW, UNREADABLE, coerce_column, coerce_columns, read_source
from .result import BatchResult, explain_rejected

_TEXT = FactSpec(type="string")
_FALSE = pl.lit(False)
REJECT_SCHEMA = {"input": pl.String, "row": pl.Int64, "id": pl.String, "field": pl.String,
                 "reason_code": pl.String, "reason": pl.String,
                 "reason_codes": pl.List(pl.String), "reasons": pl.List(pl.String)}


def score_appraisal(scheme: AppraisalScheme, source: Any, *, as_of: dt.date,
                    **extra: Any) -> BatchResult:
    """Appraise every subject of ``source`` as one cohort; see :class:`BatchResult`."""
    ensure_in_effect(scheme.model, scheme.ref, as_of)
    frame = read_source(source)
    work = _check_records(scheme, frame)
    work = _score(scheme, work, as_of)
    work = _apply_quota(scheme, work)
    out = _decision_columns(scheme, work)
    rejected_mask = work["__status"] != SCORED
    reject_rows, reject_codes = _rejections(scheme, frame, work, rejected_mask, as_of)
    if reject_rows:  # (scatter cannot write list values in this polars: a join)
        fix = pl.DataFrame({"row": [r["row"] for r in reject_rows],
                            "__rc": pl.Series(reject_codes, dtype=pl.List(pl.String))})
        out = out.join(fix, on="row", how="left", maintain_order="left").with_columns(
            reason_codes=pl.coalesce("__rc", "reason_codes")).drop("__rc")
    ref = scheme.ref
    out = out.with_columns(pl.lit(ref.id).alias("policy_id"),
                           pl.lit(ref.version).alias("policy_version"),
                           pl.lit(ref.hash).alias("policy_hash"),
                           pl.lit(as_of, dtype=pl.Date).alias("as_of"))
    inputs = frame.drop(ROW, UNREADABLE)
    inputs = inputs.drop([c for c in inputs.columns if c in out.columns])
    output = pl.concat([inputs, out], how="horizontal") if inputs.width else out
    rejected = pl.DataFrame(reject_rows, schema=REJECT_SCHEMA)
    result = BatchResult("appraisal", ref, as_of, output, rejected,
                         _details(scheme, work, out, as_of), frame.height,
                         f"Appraisal as of {as_of} — {ref}")
    result.notes.extend(_notes(scheme, work))
    return result


# --- step 1: the record on its own ------------------------------------------------------


def _check_records(scheme: AppraisalScheme, frame: pl.DataFrame) -> pl.DataFrame:
    """``__row``, ``__sid``, ``__first`` (first row of that id), ``__ok`` (readable, valid
    id, not a duplicate, every fact usable) and the typed facts ``__f_<name>``."""
    unreadable = frame[UNREADABLE].is_not_null()
    sid = coerce_column(frame, "subject_id", _TEXT, missing_ok=True)
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


# --- steps 2-5 and 7: indicators, total, band, vetoes ------------------------------------


def _score(scheme: AppraisalScheme, work: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Per indicator ``__raw_i``, ``__norm_i``, ``__pick_i``, ``__w_i``, ``__flag_i``
    (OUT_OF_BANDS / NO_STEP_REACHED); then ``__total``,
    ``__band`` (grade index), ``__veto_j``, and ``__status`` (before the quota)."""
    names = {name: pl.col(f"__f_{name}") for name in scheme.facts}
    names["as_of"] = pl.lit(as_of, dtype=pl.Date)
    compiler = PolarsCompiler(scheme.functions or {}, names)  # type: ignore[arg-type]
    errors: list[pl.Expr | None] = []
    columns: list[pl.Expr] = []
    lazy = work.lazy()
    for i, ind in enumerate(scheme.indicators):
        raw = _raw(scheme, ind, compiler)
        value = raw.value.cast(pl.Float64)
        errors.append(either(raw.error, ~value.is_finite()))
        columns.append(value.alias(f"__raw_{i}"))
    lazy = lazy.with_columns(columns)
    columns = []
    for i, ind in enumerate(scheme.indicators):
        score, pick, bad = _normalise(ind, pl.col(f"__raw_{i}"))
        errors.append(bad)
        columns += [score.alias(f"__norm_{i}"), pick.alias(f"__pick_{i}")]
    for j, v in enumerate(scheme.vetoes):
        cond = compiler.compile(v.when.node)
        errors.append(cond.error)
        columns.append(cond.value.alias(f"__veto_{j}"))
    lazy = lazy.with_columns(columns)
    failed = either(*errors)
    failed_expr = failed.fill_null(True) if failed is not None else _FALSE
    lazy = lazy.with_columns(
        __status=pl.when(pl.col("__ok") & ~failed_expr).then(pl.lit(SCORED))
        .otherwise(pl.lit(REJECTED)))
    scored = pl.col("__status") == SCORED
    weighted = [(pl.col(f"__norm_{i}") * ind.weight * ind.group_weight).alias(f"__w_{i}")
                for i, ind in enumerate(scheme.indicators)]
    lazy = lazy.with_columns(weighted)
    total: pl.Expr = pl.lit(0.0)  # Python's sum starts at 0, then adds left to right
    for i in range(len(scheme.indicators)):
        total = total + pl.col(f"__w_{i}")
    rounded, _ = round_half_up_expr(total, 2)
    lazy = lazy.with_columns(__total=pl.when(scored).then(rounded))
    band: pl.Expr = pl.lit(len(scheme.grades) - 1, dtype=pl.Int32)
    for g in reversed(range(len(scheme.grades))):
        band = pl.when(pl.col("__total") >= scheme.grades[g].min_score) \
            .then(pl.lit(g, dtype=pl.Int32)).otherwise(band)
    vetoed: pl.Expr = _FALSE
    held = []
    for j in range(len(scheme.vetoes)):
        held.append((scored & pl.col(f"__veto_{j}")).alias(f"__veto_{j}"))
        vetoed = vetoed | pl.col(f"__veto_{j}")
    return lazy.with_columns(
        [(scored & (pl.col(f"__pick_{i}") == -1)).alias(f"__flag_{i}")
         for i in range(len(scheme.indicators))] + held
        + [pl.when(scored).then(band).alias("__band")],
    ).with_columns(__vetoed=vetoed).collect(engine="in-memory")  # streaming: slow to plan


def _raw(scheme: AppraisalScheme, ind: _Indicator, compiler: PolarsCompiler) -> Column:
    """The raw value: the ``value`` expression, or the rater-weighted mean
    ``(0 + w1*x1 + w2*x2 + ...) / (0 + w1 + w2 + ...)`` as Python's ``sum`` computes it."""
    if ind.value is not None:
        return compiler.compile(ind.value.node)
    num: pl.Expr = pl.lit(0.0)
    den = 0
    for fact, w in ind.raters:
        num = num + pl.lit(w, dtype=pl.Float64) * compiler.names[fact].cast(pl.Float64)
        den = den + w
    return Column(num / exact_divisor(pl.lit(float(den), dtype=pl.Float64)))


def _normalise(ind: _Indicator, raw: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr | None]:
    """The 0-100 score; ``pick``, which rule gave it (see :func:`_how_texts`: the step or
    band index, -1 for none reached; for ``linear`` 0, or 1/2 when clamped to 0/100); and
    where the value cannot be scored (method 'none' outside 0-100)."""
    n = ind.norm
    if n.method == "linear":
        floor, target = float(n.floor or 0), float(n.target or 0)
        score = (raw - floor) * 100.0 / exact_divisor(pl.lit(target - floor))
        pick = pl.when(score < 0).then(pl.lit(1, dtype=pl.Int32)).when(score > 100) \
            .then(pl.lit(2, dtype=pl.Int32)).otherwise(pl.lit(0, dtype=pl.Int32))
        clamped = pl.when(score < 0).then(pl.lit(0.0)).when(score > 100) \
            .then(pl.lit(100.0)).otherwise(score)
        return clamped, pick, None
    if n.method == "thresholds":
        steps = range(len(ind.steps))
        if n.higher_is_better:  # the highest step at or below the value
            chain = [(raw >= ind.steps[k][0], k) for k in reversed(steps)]
        else:  # the lowest step at or above the value
            chain = [(raw <= ind.steps[k][0], k) for k in steps]
        return _pick_score(chain, [s for _, s in ind.steps])
    if n.method == "bands":
        last = len(ind.bands) - 1
        chain = [(((lo <= raw) & (raw < hi)) | ((raw == hi) if k == last else _FALSE), k)
                 for k, (lo, hi, _) in enumerate(ind.bands)]
        return _pick_score(chain, [b[2] for b in ind.bands])
    return raw, pl.lit(0, dtype=pl.Int32), (raw < 0) | (raw > 100)


def _pick_score(chain: Sequence[tuple[pl.Expr, int]], scores: Sequence[float]
                ) -> tuple[pl.Expr, pl.Expr, None]:
    """The first rule of ``chain`` that holds, and its score (0 when none does)."""
    pick: pl.Expr = pl.lit(-1, dtype=pl.Int32)
    score: pl.Expr = pl.lit(0.0)
    for cond, k in reversed(chain):
        pick = pl.when(cond).then(pl.lit(k, dtype=pl.Int32)).otherwise(pick)
        score = pl.when(cond).then(pl.lit(float(scores[k]))).otherwise(score)
    return score, pick, None


# --- step 6: the quota -------------------------------------------------------------------


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
            by.append(pl.col("__total") + 0.0)
            descending.append(True)
        elif item == "subject_id":
            by.append(pl.col("__sid"))
            descending.append(False)
        else:
            by.append(pl.col(f"__norm_{ids.index(item.split(':', 1)[1])}") + 0.0)
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


def _decision_columns(scheme: AppraisalScheme, work: pl.DataFrame) -> pl.DataFrame:
    """The columns of ``AppraisalDecision.to_row()``, for every row."""
    grades = scheme.grades
    last = len(grades) - 1
    scored = pl.col("__status") == SCORED
    grade_ix = pl.when(pl.col("__vetoed")).then(pl.lit(last, dtype=pl.Int32)) \
        .when(pl.col("__quota") == 2).then(pl.col("__band") + 1).otherwise(pl.col("__band"))
    ix = list(range(len(grades)))

    def by_grade(expr: pl.Expr, values: list[str]) -> pl.Expr:
        return pl.when(scored).then(expr.replace_strict(ix, values, return_dtype=pl.String)) \
            .otherwise(pl.lit(""))

    codes, vetoed = _code_lists(scheme, work)
    return work.select(
        pl.col(ROW).alias("row"),
        pl.col("__sid").alias("subject_id"),
        pl.col("__status").alias("status"),
        pl.col("__total").alias("total"),
        by_grade(pl.col("__band"), [g.id for g in grades]).alias("computed_grade"),
        by_grade(grade_ix, [g.id for g in grades]).alias("grade"),
        by_grade(grade_ix, [g.label for g in grades]).alias("grade_label"),
        pl.col("__rank").alias("rank"),
        pl.lit(vetoed).alias("vetoed"),
        (scored & (pl.col("__vetoed") | (pl.col("__quota") == 2))).alias("needs_confirmation"),
        pl.lit(codes).alias("reason_codes"),
    )


def _code_lists(scheme: AppraisalScheme, work: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Reason codes and vetoed ids of each scored row, from a table of the distinct keys
    (rejected rows get theirs from the per-record path later; [] until then)."""
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
    table = table.with_columns(pl.Series("__codes", lists, dtype=pl.List(pl.String)),
                               pl.Series("__held", vetoed, dtype=pl.List(pl.String)))
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


def _details(scheme: AppraisalScheme, work: pl.DataFrame, out: pl.DataFrame,
             as_of: dt.date) -> pl.DataFrame:
    """One row per scored subject and indicator: ``AppraisalResult.detail_rows``. Its
    numbers are written by the per-record ``_fmt``, once per distinct value."""
    keep = work["__status"] == SCORED
    scored = work.filter(keep).with_columns(__grade=out["grade"].filter(keep))
    parts = []
    for i, ind in enumerate(scheme.indicators):
        raw = scored[f"__raw_{i}"]
        raters = [pl.concat_str(pl.lit(f"{fact}="),
                                _formatted(scored[f"__f_{fact}"].cast(pl.Float64)),
                                pl.lit(f" x{_fmt(w)}")) for fact, w in ind.raters]
        parts.append(scored.select(
            pl.col(ROW).alias("row"), pl.col("__sid").alias("subject_id"),
            pl.lit(ind.id).alias("indicator"), pl.lit(ind.label).alias("label"),
            pl.lit(ind.group or "").alias("group"), pl.lit(ind.norm.method).alias("method"),
            pl.col(f"__raw_{i}").alias("raw"),
            (pl.concat_list(raters) if raters
             else pl.lit([], dtype=pl.List(pl.String))).alias("raters"),
            pl.col(f"__norm_{i}").alias("normalised"),
            pl.lit(ind.weight, dtype=pl.Float64).alias("weight"),
            pl.lit(ind.group_weight, dtype=pl.Float64).alias("group_weight"),
            pl.col(f"__w_{i}").alias("weighted"),
            _how(ind, pl.col(f"__pick_{i}"), raw).alias("how"),
            pl.col("__total").alias("total"), pl.col("__grade").alias("grade")))
    # subject by subject, indicators in policy order: row r of part i is at i*m + r, and
    # goes to r*k + i (a gather; sorting the 10^6 rows by (row, i) costs far more)
    k, m = len(scheme.indicators), scored.height
    j = pl.int_range(m * k, dtype=pl.Int64, eager=True)
    details = pl.concat(parts, rechunk=True)[(j % k) * m + j // k]  # gathers: one chunk
    ref = scheme.ref
    return details.with_columns(pl.lit(ref.id).alias("policy_id"),
                                pl.lit(ref.version).alias("policy_version"),
                                pl.lit(ref.hash).alias("policy_hash"),
                                pl.lit(as_of, dtype=pl.Date).alias("as_of"))


def _formatted(values: pl.Series) -> pl.Expr:
    """``_fmt`` of each value (as a literal column), computed once per distinct value."""
    distinct = values.unique()
    texts = pl.Series([_fmt(v) for v in distinct.to_list()], dtype=pl.String)
    mapped = values.replace_strict(distinct, texts, return_dtype=pl.String)
    return pl.lit(mapped.cast(pl.String))  # (an empty column keeps its dtype)


def _how(ind: _Indicator, pick: pl.Expr, raw: pl.Series) -> pl.Expr:
    """How the score was found, word for word as ``AppraisalScheme._normalise`` says it."""
    n = ind.norm
    texts: dict[int, str] = {}
    if n.method == "linear":
        base = f"linear: {_fmt(float(n.floor or 0))} scores 0, " \
               f"{_fmt(float(n.target or 0))} scores 100"
        texts = {0: base, 1: f"{base}, clamped to {_fmt(0.0)}",
                 2: f"{base}, clamped to {_fmt(100.0)}"}
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
        out_of_bands = pl.concat_str(pl.lit("bands: "), _formatted(raw),
                                     pl.lit(" is in no band, scores 0"))
        return pl.when(pick == -1).then(out_of_bands).otherwise(
            pick.replace_strict(list(texts), list(texts.values()), default=None,
                                return_dtype=pl.String))
    else:
        texts = {0: "none: the value is the score"}
    return pick.replace_strict(list(texts), list(texts.values()), return_dtype=pl.String)


def _notes(scheme: AppraisalScheme, work: pl.DataFrame) -> list[str]:
    """What the quota did, as ``AppraisalResult.summary`` says it."""
    q = scheme.quota
    if q is None:
        return []
    cohort = int((work["__status"] == SCORED).sum())
    k = _places(q.max_share, cohort, q.rounding)
    kept = int((work["__quota"] == 1).sum())
    demoted = int((work["__quota"] == 2).sum())
    return [f"quota on {q.grade}: {k} place(s) for {cohort} scored, {kept} kept, "
            f"{demoted} moved down"]
