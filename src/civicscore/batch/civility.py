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

* The few REJECTED rows are handed to the per-record path
  (``CivilityScheme.decide_one``) one by one, so their reason codes and
  messages are word for word those of ``evaluate_many``; the batch asserts
  that path rejects them too.
* One output, any engine: ``output`` has exactly the columns of
  ``CivilityDecision.to_row()`` (no raw input column is copied in). The
  ``reasons`` of a scored row are rendered in polars (``plan.words.say_frame``)
  from the templates the per-record path renders (``CivilityScheme.words``),
  with the plan's outputs in the slots, the first time ``output`` is read.
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

from ..plan.polars import with_plan
from ..policy.compile import ensure_in_effect
from ..policy.model import FactSpec
from ..schemes.base import policy_columns
from ..schemes.civility import (
    REJECTED,
    SCORED,
    CivilityScheme,
    _show,
)
from .frames import ROW, UNREADABLE, Coerced, coerce_column, coerce_id, read_source
from .result import BatchResult, explain_rejected
from .visits import nan_as_null, rejected_frame

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
        frame.height, scored_rows=int(scored.sum()))


def _with_reasons(scheme: CivilityScheme, out: pl.DataFrame, checked: _Checked,
                  decided: pl.DataFrame, rejected: dict[int, list[str]],
                  as_of: dt.date) -> pl.DataFrame:
    """``out`` with the ``reasons`` column of ``to_row()``: a scored row's rendered in
    polars from the scheme's templates (``CivilityScheme.words``, which the per-record
    path renders too), a rejected row's from the per-record path."""
    words = scheme.words
    plan = {name: pl.col(_P + name) for name in scheme.plan.types}
    slots = decided.select(words.frame_columns(plan, pl.col("__scored"), pl.lit(checked.why),
                                               as_of))
    more = []
    if rejected:  # their reasons, at their positions (a rejected row has no other)
        flat = pl.DataFrame({
            "row": pl.Series([r for r, ms in rejected.items() for _ in ms], dtype=pl.Int64),
            "__t": pl.Series([m for ms in rejected.values() for m in ms], dtype=pl.String)})
        placed = flat.join(out.select("row").with_row_index("__i"), on="row", how="left",
                           maintain_order="left")
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
            decided: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The columns of ``CivilityDecision.to_row()``, one row per input row."""
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
        pl.when(ok).then(p["codes"]).otherwise(empty).alias("reason_codes"),
        *(pl.lit(v).alias(k) for k, v in policy_columns(scheme.ref).items()),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"))


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
    """``CivilityResult.detail_rows()`` as a frame (scored rows, each star in order).

    Built column by column in its final order, household by household and star by star
    (position ``j * S + s``): a household's columns repeat each value ``S`` times, a
    star's literals (id, labels, condition) are a small table gathered by ``s``, and
    ``met``, ``counted`` and ``values`` stack the stars' columns and gather them once.
    (Stacking whole frames star by star and reordering them was 60% of the time.)"""
    if not scheme.stars:  # pragma: no cover - a policy has at least one star
        return pl.DataFrame()
    env = {name: c.value for name, c in checked.facts.items()}
    env["as_of"] = pl.Series("as_of", [as_of] * len(checked.ok), dtype=pl.Date)
    read = {name for s in scheme.stars for name in s.when.reads if name in env}
    base = pl.DataFrame({"row": out["row"], "household_id": out["household_id"],
                         "__scored": decided["__scored"],
                         "__barred": decided[_P + "barred"],
                         **{f"__s{i}": decided[f"{_P}star{i}"].fill_null(False)
                            for i in range(len(scheme.stars))},
                         **{f"__f_{name}": env[name] for name in sorted(read)}}
                        ).filter("__scored")
    shown = {name: _shown(base[f"__f_{name}"]) for name in sorted(read)}
    stars, m = len(scheme.stars), base.height
    at = pl.int_range(stars * m, dtype=pl.Int64, eager=True)
    household, star = at // stars, at % stars
    stacked = star * m + household

    def per_star(column: Callable[[int], pl.Series]) -> pl.Series:
        return pl.concat([column(i) for i in range(stars)]).gather(stacked)

    def values(i: int) -> pl.Series:
        names = [name for name in scheme.stars[i].when.reads if name in env]
        if not names:
            return pl.Series([""] * m, dtype=pl.String)
        texts = pl.DataFrame({f"__v{k}": shown[name] for k, name in enumerate(names)})
        return texts.select(pl.concat_str(
            [pl.lit(f"{name} = ") + pl.col(f"__v{k}") for k, name in enumerate(names)],
            separator=", ")).to_series()

    def literal(attr: str) -> pl.Series:
        table = pl.Series([getattr(s, attr) if attr != "when" else s.when.text
                           for s in scheme.stars], dtype=pl.String)
        return table.gather(star)

    barred = base["__barred"]
    details = pl.DataFrame({
        "row": base["row"].gather(household),
        "household_id": base["household_id"].gather(household),
        "star": literal("id"), "label": literal("label"), "label_en": literal("label_en"),
        "met": per_star(lambda i: base[f"__s{i}"]),
        "counted": per_star(lambda i: base[f"__s{i}"] & ~barred),
        "when": literal("when"),
        "values": per_star(values)})
    return details.with_columns(
        *(pl.lit(v).alias(k) for k, v in policy_columns(scheme.ref).items()),
        pl.lit(as_of, dtype=pl.Date).alias("as_of"))


def _shown(values: pl.Series) -> pl.Series:
    """Each value as the per-record explanation shows it, formatted once per distinct value."""
    distinct = values.unique()
    text = [None if v is None else _show(v) for v in distinct.to_list()]
    table = pl.DataFrame({"v": distinct, "t": pl.Series(text, dtype=pl.String)})
    return pl.DataFrame({"v": values}).join(table, on="v", how="left", nulls_equal=True,
                                            maintain_order="left")["t"]


__all__: Sequence[str] = ("CivilityBatchResult", "score_civility")
