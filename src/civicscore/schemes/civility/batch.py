"""Household civility stars in batch: read and check the frame, run the plan, shape the result.

The per-record module's docstring fixes the meaning and the order of the
steps; this module holds none of the decision itself:

1. The record on its own: every field is coerced by ``batch.frames`` (which
   accepts and refuses exactly what ``records.py`` does), and a row is
   rejected where any check of step 1 fails. A household id belongs to the
   first readable row that gives it (even if that row is rejected for another
   reason), as ``evaluate_many``'s ``seen`` map does.
2. - 5. Stars, revocation, title and review are ``CivilityScheme.plan``, the
   very plan the per-record path runs as generated Python, here run as one
   lazy polars query by ``plan.polars`` (a row where a criterion fails is
   rejected, CRITERION_ERROR).

Why it is shaped this way:

* A REJECTED row's codes and messages are worded in polars by ``_rejections``,
  check by check in the order ``CivilityScheme._decide`` runs them, from one
  template per check (the row's label and values in its slots); what a
  conversion says of a value it refuses comes from the records.py conversion
  itself, called once per distinct refused value, so the words are those of
  the per-record path by construction (the parity tests check it row by row).
  Only a row rejected for a criterion that cannot be evaluated
  (CRITERION_ERROR, whose words carry the evaluator's error text) is handed to
  the per-record path (``CivilityScheme.decide_one``); the batch asserts that
  path rejects it too.
* One output, any engine: ``output`` has exactly the columns of
  ``CivilityDecision.to_row()`` (no raw input column is copied in). The
  ``reasons`` of a scored row are rendered in polars (``plan.words``' polars
  renderer) from the templates the per-record path renders
  (``CivilityScheme.words``), with the plan's outputs in the slots, the first
  time ``output`` is read.
* ``details`` (one row per scored household and star, as ``detail_rows``)
  formats the fact values a criterion read with the per-record formatter,
  once per distinct value, codes each row by a binary search into them, and
  lays the columns out in their final order in one query. It has ten times as many
  rows as the input and costs more than deciding, so it is built the first
  time it is read (``CivilityBatchResult``), not by every run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from ... import record_words as rw
from ...batch.frames import (
    ROW,
    UNREADABLE,
    Coerced,
    coerce_column,
    coerce_id,
    first_rows,
    nan_as_null,
    read_source,
)
from ...batch.result import BatchResult, explain_rejected
from ...errors import RecordError
from ...messages import reasons_language, worded_in
from ...plan.polars import with_plan
from ...plan.words import said_lists
from ...policy.compile import ensure_in_effect
from ...policy.model import FactSpec
from ...records import coerce_fact, to_date, to_id, to_text
from ..base import policy_columns
from .scheme import (
    REJECTED,
    REVIEWED_ZH,
    REVOKED_GIVEN_ZH,
    SCORED,
    WHY_GIVEN_ZH,
    CivilityScheme,
    _show,
)
from .words import iso, iso_frame

_TEXT = FactSpec(type="string")
_DATE = FactSpec(type="date")
_LIST = pl.List(pl.String)
#: The prefix of the plan's columns: ``__p.stars`` is the plan's ``stars``.
_P = "__p."


def score_civility(scheme: CivilityScheme, source: Any, *, as_of: dt.date,
                   **extra: Any) -> BatchResult:
    """Stars, title, review and bar of every household of ``source``; see
    :class:`BatchResult`. ``extra`` is accepted and ignored, as ``run`` does."""
    ensure_in_effect(scheme.model, scheme.ref, as_of)
    frame = nan_as_null(read_source(source))  # a NaN is a blank cell, as per record
    checked = _check_records(scheme, frame, as_of)
    decided = _decide(scheme, checked, as_of)
    scored = decided["__scored"]
    rejected = _rejections(scheme, frame, ~scored, checked, decided, as_of)
    # the rejected frame holds the rejected rows in input order: its i-th row is the
    # i-th unscored row of the output, so no join by row number places them
    assert rejected["row"].equals(frame[ROW].filter(~scored), check_names=False), \
        "the rejected rows are not the unscored rows in input order"  # a bug
    out = _output(scheme, frame, checked, decided, rejected, as_of)
    ref = scheme.ref
    lang = reasons_language(scheme.model.policy.locale)  # the run's, whenever it is read
    return CivilityBatchResult(
        "civility", ref, as_of,
        _Later(worded_in(lang, lambda: _with_reasons(  # type: ignore[arg-type]
            scheme, out, checked, decided, rejected, as_of))),
        rejected,
        _Later(worded_in(lang, lambda: _details(  # type: ignore[arg-type]
            scheme, checked, decided, out, as_of))),
        frame.height, scored_rows=int(scored.sum()))


def _with_reasons(scheme: CivilityScheme, out: pl.DataFrame, checked: _Checked,
                  decided: pl.DataFrame, rejected: pl.DataFrame,
                  as_of: dt.date) -> pl.DataFrame:
    """``out`` with the ``reasons`` column of ``to_row()``: a scored row's rendered in
    polars from the scheme's templates (``CivilityScheme.words``, which the per-record
    path renders too), a rejected row's from the per-record path."""
    words = scheme.words
    plan = {name: pl.col(_P + name) for name in scheme.plan.types}
    slots = decided.select(words.frame_columns(plan, pl.col("__scored"), pl.lit(checked.why),
                                               as_of))
    more = []
    if rejected.height:  # their reasons, at their positions (a rejected row has no other)
        placed = rejected.select(pl.lit(decided["__scored"].not_().arg_true()).alias("__i"),
                                 pl.col("reasons").alias("__t")).explode("__t")
        more.append((placed["__i"], placed["__t"]))
    said = words.say(slots, more)
    at = out.columns.index("reason_codes") + 1
    return out.insert_column(at, said.alias("reasons"))


class _Later:
    """A frame not built yet: ``build()`` makes it."""

    def __init__(self, build: Callable[[], pl.DataFrame]) -> None:
        self.build = build


class _Lazy:
    """A frame field of :class:`CivilityBatchResult`, built on first read when given a
    ``_Later``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, result: BatchResult | None, owner: type | None = None) -> pl.DataFrame:
        if result is None:
            raise AttributeError(self.name)
        frame = result.__dict__[self.name]
        if isinstance(frame, _Later):
            frame = result.__dict__[self.name] = frame.build()
        return frame  # type: ignore[no-any-return]

    def __set__(self, result: BatchResult, value: pl.DataFrame | _Later) -> None:
        result.__dict__[self.name] = value


@dataclass
class CivilityBatchResult(BatchResult):
    """A :class:`BatchResult` whose ``output`` (its reasons are worded in Python) and
    ``details`` (a row per household and star) are built the first time they are read."""

    output = _Lazy()
    details = _Lazy()
    scored_rows: int = 0

    @property
    def scored_count(self) -> int:
        return self.scored_rows


# --- step 1: the record on its own ---------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    """Step 1 for every row: the typed fields, the household key, and what is wrong."""

    ok: pl.Series  # passes step 1
    household_id: pl.Series  # the id, or "row N" where there is no usable id
    key: pl.Series  # the id where it claims or repeats one, else null
    first_row: pl.Series  # the first row with the same key (null where no key)
    facts: dict[str, Coerced]
    review: pl.Series
    revoked: pl.Series
    why: pl.Series  # the revocation reason, as text


def _check_records(scheme: CivilityScheme, frame: pl.DataFrame, as_of: dt.date) -> _Checked:
    rows = frame[ROW]
    readable = frame[UNREADABLE].is_null()
    hid = coerce_id(frame, "household_id", missing_ok=True)
    facts = {name: coerce_column(frame, name, spec) for name, spec in scheme.facts.items()}
    review = coerce_column(frame, "review_date", _DATE, missing_ok=True)
    revoked = coerce_column(frame, "revoked_on", _DATE, missing_ok=True)
    why = coerce_column(frame, "revocation_reason", _TEXT, missing_ok=True)

    hid_ok = _given(hid) & hid.code.is_null() & readable
    key = hid.value.set(~hid_ok, None) if (~hid_ok).any() else hid.value
    first_row = first_rows(key, rows)
    duplicate = (first_row != rows).fill_null(False)

    revoked_given = revoked.value.is_not_null() | revoked.code.is_not_null()
    why_ok = _given(why) & why.code.is_null()
    problems = ~readable | ~hid_ok | duplicate \
        | review.code.is_not_null() | revoked.code.is_not_null() | why.code.is_not_null() \
        | (revoked_given & ~why_ok) | (why_ok & ~revoked_given) \
        | (review.value > as_of).fill_null(False)
    for c in facts.values():
        problems = problems | c.code.is_not_null()
    labels = pl.select(pl.when(pl.lit(hid_ok)).then(pl.lit(hid.value))
                       .otherwise(pl.format("row {}", pl.lit(rows)))).to_series()
    return _Checked(~problems, labels, key, first_row, facts, review.value, revoked.value,
                    why.value)


def _given(c: Coerced) -> pl.Series:
    """Where a text field has a (non-blank) value: coercion leaves "" for blank text."""
    return (c.value.is_not_null() & (c.value != "")).fill_null(False)


# --- steps 2 to 5: the plan ----------------------------------------------------------------


def _decide(scheme: CivilityScheme, checked: _Checked, as_of: dt.date) -> pl.DataFrame:
    """Per row: scored? and every column of the plan (``_P + name``)."""
    facts = {f"__f_{name}": c.value for name, c in checked.facts.items()}
    work = pl.DataFrame({"__ok": checked.ok, "__review": checked.review,
                         "__revoked": checked.revoked, **facts}).lazy()
    inputs = {name: pl.col(f"__f_{name}") for name in checked.facts}
    inputs |= {"as_of": pl.lit(as_of, dtype=pl.Date), "review_date": pl.col("__review"),
               "revoked_on": pl.col("__revoked")}
    planned = with_plan(scheme.plan, _functions(scheme), work, inputs, prefix=_P)
    return planned.with_columns(
        (pl.col("__ok") & ~pl.col(_P + "failed")).alias("__scored")).collect()


def _functions(scheme: CivilityScheme) -> Any:
    if scheme.functions is None:  # pragma: no cover - compile_civility always passes them
        raise NotImplementedError("this civility scheme was built without the policy's "
                                  "function table; batch needs it (see compile_civility)")
    return scheme.functions


# --- the output frame ------------------------------------------------------------------------


def _output(scheme: CivilityScheme, frame: pl.DataFrame, checked: _Checked,
            decided: pl.DataFrame, rejected: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The columns of ``CivilityDecision.to_row()``, one row per input row (a rejected
    row's reason codes are the ``rejected`` frame's, whose rows are the unscored rows
    in input order)."""
    titles = scheme.titles
    ok = pl.col("__scored")
    p = {name: pl.col(_P + name) for name in scheme.plan.types}
    empty = pl.lit(pl.Series([[]], dtype=_LIST)).first()

    def title_text(attr: str) -> pl.Expr:
        if not titles:
            return pl.lit("")
        labels = [getattr(t, attr) for t in titles]
        named = p["title"].replace_strict(list(range(len(titles))), labels, default="",
                                          return_dtype=pl.String)
        return pl.when(ok).then(named).otherwise(pl.lit(""))

    theirs = empty
    if rejected.height:  # the k-th unscored row's codes are the rejected frame's k-th
        k = (~ok).cast(pl.UInt32).cum_sum() - 1
        theirs = pl.lit(rejected["reason_codes"]).gather(pl.when(~ok).then(k))
    return decided.select(
        pl.lit(frame[ROW]).alias("row"),
        pl.lit(checked.household_id).alias("household_id"),
        pl.when(ok).then(pl.lit(SCORED)).otherwise(pl.lit(REJECTED)).alias("status"),
        pl.when(ok).then(p["stars"]).alias("stars"),
        pl.lit(len(scheme.stars), dtype=pl.Int64).alias("max_stars"),
        title_text("label").alias("title"),
        title_text("label_en").alias("title_en"),
        pl.when(ok).then(p["review_due"]).alias("review_due"),
        pl.when(ok).then(p["next_review"]).alias("next_review"),
        pl.when(ok).then(p["barred_until"]).alias("barred_until"),
        pl.when(ok).then(p["stars_met"]).otherwise(empty).alias("stars_met"),
        pl.when(ok).then(p["codes"]).otherwise(theirs).alias("reason_codes"),
        *(pl.lit(v).alias(k) for k, v in policy_columns(scheme.ref).items()),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"))


# --- rejected rows: their reasons from the templates of step 1 -------------------------------

#: A step-1 check's sentence parts: (code column, message column), null where it passes.
_Said = tuple[pl.Series, pl.Series]


def _rejections(scheme: CivilityScheme, frame: pl.DataFrame, rejected: pl.Series,
                checked: _Checked, decided: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The rejected rows (``row``, ``id``, ``reason_codes``, ``reasons``) in input order,
    worded as ``CivilityScheme._decide`` words them, check by check in its order, with
    no Python per row: a template per check, the row's label and values in its slots,
    and a conversion's own words (what ``records.py`` says of a value it refuses) by the
    one Python function, once per distinct refused value. A row that passes step 1 and
    is rejected for a criterion that cannot be evaluated (CRITERION_ERROR, whose words
    carry the evaluator's error) is handed to the per-record path, as before."""
    bad = ~checked.ok
    work = frame.filter(bad)
    rows = work[ROW]
    n = work.height
    readable = work[UNREADABLE].is_null()
    hid = coerce_id(work, "household_id", missing_ok=True)
    hid_ok = _given(hid) & hid.code.is_null() & readable
    label = pl.select(pl.when(pl.lit(hid_ok)).then(pl.lit(hid.value))
                      .otherwise(pl.format("row {}", pl.lit(rows)))).to_series()
    lang = reasons_language(scheme.model.policy.locale)
    who = pl.select(rw.who_expr(label, lang)).to_series()  # "record <id>", or "row N"
    row_who = rw.who_expr(pl.format("row {}", pl.lit(rows)), lang)
    said: list[_Said] = []

    def say(where: pl.Series, code: str | pl.Series, text: pl.Expr | pl.Series) -> None:
        where = where.fill_null(False) & readable
        codes = code if isinstance(code, pl.Series) else pl.Series([code] * n, dtype=pl.String)
        texts = pl.select(pl.lit(text) if isinstance(text, pl.Series) else text).to_series() \
            if n else pl.Series([], dtype=pl.String)
        said.append((pl.select(pl.when(pl.lit(where)).then(pl.lit(codes))).to_series(),
                     pl.select(pl.when(pl.lit(where)).then(pl.lit(texts))).to_series()))

    def refused(name: str, convert: Callable[[Any], Any], at: pl.Series, whom: pl.Expr
                ) -> None:
        """A field's conversion error where ``at``: its code and ``<whom>: field 'x':
        <what records.py says of the value>``."""
        code, detail = _refusals(work, name, at & readable, convert, lang)
        say(at, code, rw.expr("field", lang, who=whom, field=name, detail=detail))

    # the row cannot be read: its one reason
    said.append((pl.select(pl.when(~pl.lit(readable)).then(pl.lit("UNREADABLE_ROW"))
                           ).to_series(),
                  pl.select(rw.unreadable_expr(work[UNREADABLE], lang)).to_series()))
    # household_id (read before the row has a label other than its number)
    refused("household_id", _field_check("household_id", to_id), hid.code.is_not_null(),
            row_who)
    say(~_given(hid) & hid.code.is_null(), "MISSING_FIELD",
        rw.expr("missing", lang, who=row_who, field="household_id"))
    first = checked.first_row.filter(bad)
    say(hid_ok & (first != rows).fill_null(False), "DUPLICATE_RECORD",
        rw.expr("duplicate", lang, thing="household", thing_zh=rw.THINGS_ZH["household"],
                id=hid.value, first=first.cast(pl.String)))
    # the facts, in declared order
    for name, spec in scheme.facts.items():
        c = checked.facts[name]
        refused(name, _fact_check(name, spec), c.code.filter(bad).is_not_null(),
                pl.lit(who))
    review = checked.review.filter(bad)
    review_c = coerce_column(work, "review_date", _DATE, missing_ok=True)
    revoked_c = coerce_column(work, "revoked_on", _DATE, missing_ok=True)
    why_c = coerce_column(work, "revocation_reason", _TEXT, missing_ok=True)
    fields: tuple[tuple[str, Coerced, Callable[[Any, str, str], Any]], ...] = (
        ("review_date", review_c, to_date), ("revoked_on", revoked_c, to_date),
        ("revocation_reason", why_c, to_text))
    for name, c, convert in fields:
        refused(name, _field_check(name, convert), c.code.is_not_null(), pl.lit(who))
    revoked_given = revoked_c.value.is_not_null() | revoked_c.code.is_not_null()
    why_ok = _given(why_c) & why_c.code.is_null()
    say(revoked_given & ~why_ok, "MISSING_FIELD", rw.expr(
        "required_when", lang, who=who, field="revocation_reason", when="revoked_on is given",
        when_zh=REVOKED_GIVEN_ZH))
    say(why_ok & ~revoked_given, "MISSING_FIELD", rw.expr(
        "required_when", lang, who=who, field="revoked_on",
        when="a revocation_reason is given", when_zh=WHY_GIVEN_ZH))
    say(review > as_of, "REVIEW_AFTER_AS_OF", rw.expr(
        "after_as_of", lang, who=who, what="reviewed on", what_zh=REVIEWED_ZH,
        day=iso_frame(pl.lit(review)), as_of=iso(as_of)))
    codes = said_lists(n, [c for c, _ in said])
    messages = said_lists(n, [m for _, m in said], compact=True)
    step1 = pl.DataFrame({"row": rows, "id": checked.household_id.filter(bad),
                          "reason_codes": codes, "reasons": messages})
    assert step1.height == 0 or bool(codes.list.len().min()), \
        "a row rejected at step 1 has no reason"  # the two checks disagree: a bug
    # rows rejected for a criterion: the per-record path, which words the error
    failed = rejected & checked.ok
    if failed.any():
        keys = checked.key.filter(failed).to_list()
        firsts = checked.first_row.filter(failed).to_list()
        numbers = frame[ROW].filter(failed).to_list()
        seens = [{k: f} if k is not None and f != r else {}
                 for k, f, r in zip(keys, firsts, numbers, strict=True)]
        found, _ = explain_rejected(
            frame, failed, seens,
            lambda row, item, seen: scheme.decide_one(row, item, as_of, seen),
            "households", lambda d: d.household_id)
        step1 = pl.concat([step1, pl.DataFrame(
            [{k: r[k] for k in ("row", "id", "reason_codes", "reasons")} for r in found],
            schema=step1.schema)]).sort("row", maintain_order=True)
    return step1.select(pl.lit("households").alias("input"), pl.all())


def _fact_check(name: str, spec: FactSpec) -> Callable[[Any], Any]:
    """The per-record reading of fact ``name`` of one value (the label is not in the words
    a ``RecordError`` gives as its ``message``)."""
    return lambda v: coerce_fact(name, spec, {name: v}, "row 0")


def _field_check(name: str, convert: Callable[[Any, str, str], Any]) -> Callable[[Any], Any]:
    """The per-record reading of field ``name`` of one value, by ``convert``."""
    return lambda v: convert(v, "row 0", name)


def _refusals(work: pl.DataFrame, name: str, at: pl.Series,
              convert: Callable[[Any], Any], lang: str) -> tuple[pl.Series, pl.Series]:
    """Where ``at``: the code and the words of the ``RecordError`` that ``convert`` (the
    records.py conversion of the per-record path) raises for the row's value of field
    ``name``, computed once per distinct value; null elsewhere."""
    n = work.height
    raw = work[name] if name in work.columns else pl.Series([None] * n, dtype=pl.String)

    def run(v: Any) -> tuple[str, str]:
        try:
            convert(v)
        except RecordError as e:
            return e.code, e.detail(lang)
        raise AssertionError(f"field {name!r}: batch refused {v!r}, "  # pragma: no cover
                             f"the per-record path accepts it")

    where = at.fill_null(False)
    if not where.any():
        return pl.Series([None] * n, dtype=pl.String), pl.Series([None] * n, dtype=pl.String)
    chosen = raw.filter(where)
    if raw.dtype == pl.Object or raw.dtype.is_float():  # values that do not join by value
        pairs = [run(v) for v in chosen.to_list()]
        code = pl.Series([p[0] for p in pairs], dtype=pl.String)
        text = pl.Series([p[1] for p in pairs], dtype=pl.String)
    else:
        distinct = chosen.unique(maintain_order=True)
        pairs = [run(v) for v in distinct.to_list()]
        table = pl.DataFrame({"__k": distinct,
                              "__c": pl.Series([p[0] for p in pairs], dtype=pl.String),
                              "__t": pl.Series([p[1] for p in pairs], dtype=pl.String)})
        joined = pl.DataFrame({"__k": chosen}).join(table, on="__k", how="left",
                                                    nulls_equal=True, maintain_order="left")
        code, text = joined["__c"], joined["__t"]
    positions = where.arg_true()
    none = pl.Series([None] * n, dtype=pl.String)
    return none.scatter(positions, code), none.clone().scatter(positions, text)


# --- details: one row per scored household and star -----------------------------------------


def _details(scheme: CivilityScheme, checked: _Checked, decided: pl.DataFrame,
             out: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """``CivilityResult.detail_rows()`` as a frame (scored rows, each star in order).

    One lazy query over the scored households builds every column in its final order,
    household by household and star by star (position ``j * S + s``), side by side: a
    household's columns are gathered by ``j``, a star's literals (id, labels,
    condition) are a table of ``S`` gathered by ``s``, and the star-by-star columns
    (``met``, ``counted``, the code of ``values``) are interleaved by one
    ``concat_arr`` and a reshape (a row per household holding its ``S`` stars,
    flattened), with no intermediate frame per star and no reordering. ``values`` is
    worded once per distinct combination of the values a star read and gathered by
    code. (Stacking the stars' columns and gathering them into household order cost
    three times what interleaving does; the frame has ten times the input's rows, so
    most of what is left is writing its text columns.)"""
    if not scheme.stars:  # pragma: no cover - a policy has at least one star
        return pl.DataFrame()
    env = {name: c.value for name, c in checked.facts.items()}
    env["as_of"] = pl.repeat(as_of, len(checked.ok), dtype=pl.Date, eager=True)
    read = {name for s in scheme.stars for name in s.when.reads if name in env}
    stars = len(scheme.stars)
    base = pl.DataFrame({"row": out["row"], "household_id": out["household_id"],
                         "__scored": decided["__scored"],
                         "__barred": decided[_P + "barred"],
                         **{f"__s{i}": decided[f"{_P}star{i}"].fill_null(False)
                            for i in range(stars)},
                         **{f"__f_{name}": env[name] for name in sorted(read)}}
                        ).filter("__scored")
    m = base.height
    at = pl.int_range(pl.len() * stars,
                      dtype=pl.UInt32 if stars * m < 1 << 32 else pl.UInt64)
    household, star = at // stars, at % stars

    def interleaved(per_star: Sequence[pl.Expr]) -> pl.Expr:
        """Star ``i``'s column (``m`` rows) at ``j * S + i``: one row per household
        holding its stars' values, flattened."""
        return pl.concat_arr(per_star).reshape((-1,))

    def literal(attr: str) -> pl.Expr:
        table = pl.Series([getattr(s, attr) if attr != "when" else s.when.text
                           for s in scheme.stars], dtype=pl.String)
        return pl.lit(table).gather(star)

    texts: list[pl.Series] = []

    def values(i: int) -> pl.Expr:
        """Star ``i``'s text of the values it read, as a code into ``texts``."""
        names = [name for name in scheme.stars[i].when.reads if name in env]
        offset = sum(t.len() for t in texts)
        if not names:
            texts.append(pl.Series([""], dtype=pl.String))
            return pl.repeat(offset, pl.len(), dtype=pl.UInt32)
        code, text = _worded(names, [base[f"__f_{name}"] for name in names])
        texts.append(text)
        return pl.lit(code) + offset

    met = [pl.col(f"__s{i}") for i in range(stars)]
    codes = interleaved([values(i) for i in range(stars)])
    # one query: polars builds the columns side by side
    details = base.lazy().select(
        pl.col("row").gather(household), pl.col("household_id").gather(household),
        literal("id").alias("star"), literal("label").alias("label"),
        literal("label_en").alias("label_en"), interleaved(met).alias("met"),
        interleaved([c & ~pl.col("__barred") for c in met]).alias("counted"),
        literal("when").alias("when"),
        pl.lit(pl.concat(texts, rechunk=True)).gather(codes).alias("values"),
        *(pl.lit(v).alias(k) for k, v in policy_columns(scheme.ref).items()),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"))
    return details.collect()


def _worded(names: Sequence[str], columns: Sequence[pl.Series]) -> tuple[pl.Series, pl.Series]:
    """``name = value, ...`` of every row's values of ``columns`` as (a code per row, the
    text of each code), each value formatted by the per-record formatter once per
    distinct value and each text built once per distinct combination of values.

    A column's distinct values (a float's by its text), sorted, give each row's code by
    a binary search (no
    hash join); a second column's codes are folded in as ``code * size + its code`` and
    numbered again densely, so the code stays below the row count."""
    code: pl.Series | None = None
    text = pl.Series([], dtype=pl.String)
    for name, column in zip(names, columns, strict=True):
        # a float is keyed by its round-trip text: 0.0 and -0.0 are equal as numbers (so
        # one distinct value) but shown "0" and "-0"; the text reads back to the float
        floats = column.dtype.is_float()
        key = column.cast(pl.String) if floats else column
        distinct = key.unique().sort()
        here = distinct.search_sorted(key)
        assert not distinct.gather(here).ne_missing(key).any(), name  # a bug if not
        shown = pl.Series([None if v is None else
                           f"{name} = {_show(float(v) if floats else v)}"
                           for v in distinct.to_list()], dtype=pl.String)
        if code is None:
            code, text = here, shown
            continue
        size = distinct.len()
        joint = code.cast(pl.UInt64) * size + here
        seen = joint.unique().sort()
        code = seen.search_sorted(joint)
        text = pl.select(pl.concat_str([pl.lit(text).gather(pl.lit(seen // size)),
                                        pl.lit(shown).gather(pl.lit(seen % size))],
                                       separator=", ")).to_series()
    assert code is not None
    return code, text


__all__: Sequence[str] = ("CivilityBatchResult", "score_civility")
