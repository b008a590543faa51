"""Household civility stars in batch: the steps of ``schemes/civility.py``, as columns.

The per-record module's docstring fixes the meaning and the order of the
steps; this module computes the same steps for a whole frame:

1. The record on its own: every field is coerced by ``batch.frames`` (which
   accepts and refuses exactly what ``records.py`` does), and a row is
   rejected where any check of step 1 fails. A household id belongs to the
   first readable row that gives it (even if that row is rejected for another
   reason), as ``evaluate_many``'s ``seen`` map does.
2. Every star's criterion is compiled from the same checked IR by
   ``batch.expr``; a row where any criterion *would raise* in Python (its
   error column) is rejected (CRITERION_ERROR). Every star is evaluated, so
   the errors of all stars count, each honouring its own short-circuits.
3. - 5. Revocation, title and review are date and integer arithmetic: no
   floats are summed anywhere (the star count is a sum of 0/1 integers), so
   nothing here depends on summation order.

Why it is shaped this way:

* Only the decisions are vectorised. The few REJECTED rows are handed to the
  per-record path (``CivilityScheme.decide_one``) one by one, so their reason
  codes and messages are word for word those of ``evaluate_many``; the batch
  asserts that path rejects them too.
* One output, any engine: ``output`` has exactly the columns of
  ``CivilityDecision.to_row()`` (no raw input column is copied in). The
  ``reasons`` of a scored row are worded by the functions that word a
  per-record decision (``revocation_reason``, ``title_reason``,
  ``review_reason``) from the values computed here, the first time
  ``output`` is read.
* List columns (``stars_met``, ``reason_codes``) are built from a small
  integer key per row joined to a table of the few distinct lists: a list per
  row from ``concat_list`` costs seconds per million rows, the join
  milliseconds. With more than 62 stars the ``stars_met`` key no longer fits
  in an integer and the (slower, equally exact) per-row list is used.
* ``details`` (one row per scored household and star, as ``detail_rows``)
  formats the fact values a criterion read with the per-record formatter,
  once per distinct value, and joins the text back. It has ten times as many
  rows as the input and costs more than deciding, so it is built the first
  time it is read (``CivilityBatchResult``), not by every run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..policy.compile import ensure_in_effect
from ..policy.model import FactSpec
from ..schemes.base import policy_columns
from ..schemes.civility import (
    REJECTED,
    SCORED,
    CivilityScheme,
    _show,
    review_reason,
    revocation_reason,
    title_reason,
)
from .expr import PolarsCompiler, either
from .frames import ROW, UNREADABLE, Coerced, coerce_column, read_source
from .result import BatchResult, explain_rejected
from .visits import nan_as_null, rejected_frame, text_lists

_TEXT = FactSpec(type="string")
_DATE = FactSpec(type="date")
_LIST = pl.List(pl.String)
#: The most stars whose "met" flags fit in one Int64 key.
_KEY_BITS = 62

#: Revocation states (the low two bits of the code key) and their reason codes.
_NONE, _PENDING, _BARRED, _ENDED = 0, 1, 2, 3
_REVOCATION_CODES: tuple[tuple[str, ...], ...] = (
    (), ("REVOCATION_PENDING",), ("REVOKED",), ("REVOCATION_ENDED",))


def score_civility(scheme: CivilityScheme, source: Any, *, as_of: dt.date,
                   **extra: Any) -> BatchResult:
    """Stars, title, review and bar of every household of ``source``; see
    :class:`BatchResult`. ``extra`` is accepted and ignored, as ``run`` does."""
    ensure_in_effect(scheme.model, scheme.ref, as_of)
    frame = nan_as_null(read_source(source))  # a NaN is a blank cell, as per record
    checked = _check_records(scheme, frame, as_of)
    decided = _decide(scheme, checked, as_of)
    scored = decided["__scored"]
    out = _output(scheme, frame, checked, decided, as_of)
    reject_rows, reject_codes = _rejections(scheme, frame, ~scored, checked, as_of)
    if reject_rows:
        codes = pl.DataFrame({"row": [r["row"] for r in reject_rows],
                              "__rcodes": pl.Series(reject_codes, dtype=_LIST)})
        out = out.join(codes, on="row", how="left", maintain_order="left").with_columns(
            pl.when(pl.col("status") == SCORED).then(pl.col("reason_codes"))
            .otherwise(pl.col("__rcodes")).alias("reason_codes")).drop("__rcodes")
    rejected_words = {r["row"]: r["reasons"] for r in reject_rows}
    ref = scheme.ref
    return CivilityBatchResult(
        "civility", ref, as_of,
        _Later(lambda: _with_reasons(scheme, out, checked, decided, rejected_words,  # type: ignore[arg-type]
                                     as_of)),
        rejected_frame(reject_rows),
        _Later(lambda: _details(scheme, checked, decided, out, as_of)),  # type: ignore[arg-type]
        frame.height, f"Civility stars as of {as_of} — {ref}", scored_rows=int(scored.sum()))


def _with_reasons(scheme: CivilityScheme, out: pl.DataFrame, checked: _Checked,
                  decided: pl.DataFrame, rejected: dict[int, list[str]],
                  as_of: dt.date) -> pl.DataFrame:
    """``out`` with the ``reasons`` column of ``to_row()``: a rejected row's from the
    per-record path, a scored row's from the very functions that word a per-record
    decision's steps 3 to 5 (``revocation_reason``, ``title_reason``, ``review_reason``),
    fed with the values the batch computed."""
    rules, titles = scheme.rules, scheme.titles
    columns = [decided[c].to_list() for c in (
        "__scored", "__state", "__revoked", "__end", "__earned", "__stars", "__title",
        "__review", "__next")]
    whys = checked.why.to_list()
    rows = out["row"].to_list()
    words: list[list[str]] = []
    for row, why, (ok, state, revoked, end, earned, stars, title, review, nxt) in zip(
            rows, whys, zip(*columns, strict=True), strict=True):
        if not ok:
            words.append(rejected[row])
            continue
        messages = []
        if state != _NONE:
            messages.append(revocation_reason(revoked, why, end, earned, as_of,
                                              rules.bar_years).message)
        if state != _BARRED and titles:
            messages.append(title_reason(stars, titles[title] if title >= 0 else None,
                                         titles[0]).message)
        messages.append(review_reason(review, nxt, as_of, rules.review_years).message)
        words.append(messages)
    at = out.columns.index("reason_codes") + 1
    return out.insert_column(at, text_lists(words).alias("reasons"))


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

    output = _Lazy()  # type: ignore[assignment]
    details = _Lazy()  # type: ignore[assignment]
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
    hid = coerce_column(frame, "household_id", _TEXT, missing_ok=True)
    facts = {name: coerce_column(frame, name, spec) for name, spec in scheme.facts.items()}
    review = coerce_column(frame, "review_date", _DATE, missing_ok=True)
    revoked = coerce_column(frame, "revoked_on", _DATE, missing_ok=True)
    why = coerce_column(frame, "revocation_reason", _TEXT, missing_ok=True)

    hid_ok = _given(hid) & hid.code.is_null() & readable
    key = hid.value.set(~hid_ok, None) if (~hid_ok).any() else hid.value
    first_row = pl.DataFrame({"k": key, "r": rows}).select(
        pl.when(pl.col("k").is_not_null()).then(pl.col("r").first().over("k"))).to_series()
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


# --- steps 2 to 5: stars, revocation, title, review ----------------------------------------


def _decide(scheme: CivilityScheme, checked: _Checked, as_of: dt.date) -> pl.DataFrame:
    """Per row: scored?, star flags, earned, revocation state, title index, review."""
    facts = {f"__f_{name}": c.value for name, c in checked.facts.items()}
    work = pl.DataFrame({"__ok": checked.ok, "__review": checked.review,
                         "__revoked": checked.revoked, **facts})
    names = {name: pl.col(f"__f_{name}") for name in checked.facts}
    names["as_of"] = pl.lit(as_of, dtype=pl.Date)
    compiler = PolarsCompiler(_functions(scheme), names)
    columns = [compiler.compile(s.when.node) for s in scheme.stars]
    error = either(*(c.error for c in columns))
    met = [c.value.fill_null(False).alias(f"__s{i}") for i, c in enumerate(columns)]
    day = pl.lit(as_of, dtype=pl.Date)
    rules = scheme.rules
    revoked = pl.col("__revoked")
    end = add_years(revoked, rules.bar_years)
    state = pl.when(revoked.is_null()).then(_NONE).when(revoked > day).then(_PENDING) \
        .when(day < end).then(_BARRED).otherwise(_ENDED).cast(pl.Int64)
    next_review = add_years(pl.col("__review"), rules.review_years)
    failed = pl.lit(False) if error is None else error.fill_null(True)
    earned = pl.sum_horizontal([pl.col(f"__s{i}").cast(pl.Int64)
                                for i in range(len(columns))])
    decided = work.with_columns(
        (pl.col("__ok") & ~pl.when(pl.col("__ok")).then(failed).otherwise(False))
        .alias("__scored"),
        *met, state.alias("__state"), end.alias("__end"), next_review.alias("__next"),
    ).with_columns(earned.alias("__earned"))
    stars = pl.when(pl.col("__state") == _BARRED).then(0).otherwise(pl.col("__earned"))
    return decided.with_columns(stars.cast(pl.Int64).alias("__stars")).with_columns(
        _title_index(scheme, pl.col("__stars"), pl.col("__state") == _BARRED)
        .alias("__title"),
        (pl.col("__next").is_null() | (pl.col("__next") <= day)).alias("__due"))


def _functions(scheme: CivilityScheme) -> Any:
    if scheme.functions is None:  # pragma: no cover - compile_civility always passes them
        raise NotImplementedError("this civility scheme was built without the policy's "
                                  "function table; batch needs it (see compile_civility)")
    return scheme.functions


def add_years(day: pl.Expr, years: int) -> pl.Expr:
    """``schemes.civility.add_years`` on a Date column: the same day ``years`` later,
    29 February to 28 February (polars clips to the month's end), past 9999 the
    last date."""
    shifted = day.dt.offset_by(f"{years}y")
    return pl.when(day.dt.year() + years > dt.MAXYEAR).then(pl.lit(dt.date.max)) \
        .otherwise(shifted)


def _title_index(scheme: CivilityScheme, stars: pl.Expr, barred: pl.Expr) -> pl.Expr:
    """Index in ``scheme.titles`` of the highest title reached; -1: none (or barred)."""
    titles = scheme.titles  # sorted by min_stars, no two alike (checked at load)
    if not titles:
        return pl.lit(-1, dtype=pl.Int64)
    top = len(titles) - 1
    chain = pl.when(barred).then(pl.lit(-1, dtype=pl.Int64)) \
        .when(stars >= titles[top].min_stars).then(pl.lit(top, dtype=pl.Int64))
    for i in range(top - 1, -1, -1):
        chain = chain.when(stars >= titles[i].min_stars).then(pl.lit(i, dtype=pl.Int64))
    return chain.otherwise(pl.lit(-1, dtype=pl.Int64))


# --- the output frame ------------------------------------------------------------------------


def _output(scheme: CivilityScheme, frame: pl.DataFrame, checked: _Checked,
            decided: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The columns of ``CivilityDecision.to_row()``, one row per input row."""
    titles = scheme.titles
    n_stars = len(scheme.stars)
    ok = pl.col("__scored")
    title_ix = pl.col("__title")
    barred = pl.col("__state") == _BARRED

    def title_text(attr: str) -> pl.Expr:
        if not titles:
            return pl.lit("")
        labels = [getattr(t, attr) for t in titles]
        named = title_ix.replace_strict(list(range(len(titles))), labels, default="",
                                        return_dtype=pl.String)
        return pl.when(ok).then(named).otherwise(pl.lit(""))

    # code key: revocation state (0-3) + 4 * title state (0 none, 1 TITLE, 2 NO_TITLE)
    # + 12 * review due
    title_state = pl.when(barred).then(0).when(title_ix >= 0).then(1) \
        .otherwise(2 if titles else 0)
    code_key = (pl.col("__state") + 4 * title_state + 12 * pl.col("__due").cast(pl.Int64))
    decided = decided.with_columns(
        pl.when(ok).then(code_key).otherwise(-1).cast(pl.Int64).alias("__ckey"),
        pl.when(ok).then(_met_key(n_stars)).otherwise(0).cast(pl.Int64).alias("__mkey")
        if n_stars <= _KEY_BITS else pl.lit(0, dtype=pl.Int64).alias("__mkey"))
    ref = scheme.ref
    out = decided.select(
        pl.lit(frame[ROW]).alias("row"),
        pl.lit(checked.household_id).alias("household_id"),
        pl.when(ok).then(pl.lit(SCORED)).otherwise(pl.lit(REJECTED)).alias("status"),
        pl.when(ok).then(pl.col("__stars")).alias("stars"),
        pl.lit(len(scheme.stars), dtype=pl.Int64).alias("max_stars"),
        title_text("label").alias("title"),
        title_text("label_en").alias("title_en"),
        pl.when(ok).then(pl.col("__due")).alias("review_due"),
        pl.when(ok).then(pl.col("__next")).alias("next_review"),
        pl.when(ok & barred).then(pl.col("__end")).alias("barred_until"),
        pl.col("__mkey"), pl.col("__ckey"),
        *(pl.col(f"__s{i}") & ok for i in range(n_stars)) if n_stars > _KEY_BITS else (),
    )
    star_ids = [s.id for s in scheme.stars]
    if n_stars <= _KEY_BITS:
        met = _lookup(out["__mkey"], lambda k: [s for i, s in enumerate(star_ids) if k >> i & 1])
    else:
        met = out.select(pl.concat_list(
            pl.when(pl.col(f"__s{i}")).then(pl.lit(s)) for i, s in enumerate(star_ids))
            .list.drop_nulls()).to_series()
    codes = _lookup(out["__ckey"], lambda k: _codes(k, bool(titles)))
    return out.select(
        "row", "household_id", "status", "stars", "max_stars", "title", "title_en",
        "review_due", "next_review", "barred_until",
        pl.lit(met).alias("stars_met"), pl.lit(codes).alias("reason_codes"),
        *(pl.lit(v).alias(k) for k, v in policy_columns(ref).items()),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"))


def _met_key(n_stars: int) -> pl.Expr:
    key = pl.lit(0, dtype=pl.Int64)
    for i in range(n_stars):
        key = key + pl.col(f"__s{i}").cast(pl.Int64) * (1 << i)
    return key


def _codes(key: int, has_titles: bool) -> list[str]:
    """The reason codes of a scored row (without the per-star ones), from its code key;
    -1 (rejected) gets an empty list, filled in from the per-record path."""
    if key < 0:
        return []
    state, title_state, due = key % 4, key // 4 % 3, key // 12
    codes = list(_REVOCATION_CODES[state])
    if title_state:
        codes.append("TITLE" if title_state == 1 else "NO_TITLE")
    codes.append("REVIEW_DUE" if due else "REVIEW_VALID")
    return codes


def _lookup(keys: pl.Series, make: Any) -> pl.Series:
    """``make(key)`` (a list of strings) for every row, computed once per distinct key."""
    distinct = keys.unique().to_list()
    table = pl.DataFrame({"k": pl.Series(distinct, dtype=keys.dtype),
                          "v": pl.Series([make(k) for k in distinct], dtype=_LIST)})
    return pl.DataFrame({"k": keys}).join(table, on="k", how="left",
                                          maintain_order="left")["v"]


# --- rejected rows: the per-record path, on them only ----------------------------------------


def _rejections(scheme: CivilityScheme, frame: pl.DataFrame, rejected: pl.Series,
                checked: _Checked, as_of: dt.date
                ) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """Run ``decide_one`` on the rejected rows only, for their exact reasons."""
    keys = checked.key.filter(rejected).to_list()
    firsts = checked.first_row.filter(rejected).to_list()
    rows = frame[ROW].filter(rejected).to_list()
    seens = [{k: f} if k is not None and f != r else {}
             for k, f, r in zip(keys, firsts, rows, strict=True)]
    return explain_rejected(frame, rejected, seens,
                            lambda row, item, seen: scheme.decide_one(row, item, as_of, seen),
                            "households", lambda d: d.household_id)


# --- details: one row per scored household and star -----------------------------------------


def _details(scheme: CivilityScheme, checked: _Checked, decided: pl.DataFrame,
             out: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """``CivilityResult.detail_rows()`` as a frame (scored rows, each star in order)."""
    if not scheme.stars:  # pragma: no cover - a policy has at least one star
        return pl.DataFrame()
    env = {name: c.value for name, c in checked.facts.items()}
    env["as_of"] = pl.Series("as_of", [as_of] * len(checked.ok), dtype=pl.Date)
    shown = {name: _shown(values) for name, values in env.items()
             if any(name in s.when.reads for s in scheme.stars)}
    base = pl.DataFrame({"row": out["row"], "household_id": out["household_id"],
                         "__scored": decided["__scored"],
                         "__barred": decided["__state"] == _BARRED,
                         **{f"__s{i}": decided[f"__s{i}"] for i in range(len(scheme.stars))},
                         **{f"__v_{name}": text for name, text in shown.items()}}
                        ).filter("__scored")
    ref = scheme.ref
    parts = []
    for i, s in enumerate(scheme.stars):
        read = [name for name in s.when.reads if name in env]
        values = pl.concat_str([pl.lit(f"{name} = ") + pl.col(f"__v_{name}") for name in read],
                               separator=", ") if read else pl.lit("")
        parts.append(base.select(
            "row", "household_id", pl.lit(s.id).alias("star"), pl.lit(s.label).alias("label"),
            pl.lit(s.label_en).alias("label_en"), pl.col(f"__s{i}").alias("met"),
            (pl.col(f"__s{i}") & ~pl.col("__barred")).alias("counted"),
            pl.lit(s.when.text).alias("when"), values.alias("values")))
    # the parts are star by star; a household's stars are to be together, in policy order:
    # output position j * S + s comes from position s * M + j of the parts stacked
    stars, m = len(parts), base.height
    at = pl.int_range(stars * m, dtype=pl.Int64, eager=True)
    details = pl.concat(parts)[(at % stars) * m + at // stars] if m else pl.concat(parts)
    return details.with_columns(
        *(pl.lit(v).alias(k) for k, v in policy_columns(ref).items()),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"))


def _shown(values: pl.Series) -> pl.Series:
    """Each value as the per-record explanation shows it, formatted once per distinct value."""
    distinct = values.unique()
    text = [None if v is None else _show(v) for v in distinct.to_list()]
    table = pl.DataFrame({"v": distinct, "t": pl.Series(text, dtype=pl.String)})
    return pl.DataFrame({"v": values}).join(table, on="v", how="left", nulls_equal=True,
                                            maintain_order="left")["t"]


__all__: Sequence[str] = ("CivilityBatchResult", "add_years", "score_civility")
