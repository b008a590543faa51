"""Care visits in batch: read and check the frame, run the plan, shape the result.

The per-record module's docstring fixes the meaning and the order of the
steps; this module holds none of the decision itself:

1. The record on its own: every field is coerced by ``batch.frames`` (which
   accepts and refuses exactly what ``records.py`` does); a row is rejected
   where any check of step 1 fails.
2. - 3. Tier, cadence, triggers, next due date, overdue, reason codes and the
   triggers fired are ``VisitsScheme.plan``, the very plan the per-record path
   runs as generated Python, here run as one lazy polars query by
   ``plan.polars`` (a row where a condition or event fails is rejected).
4. Caseloads: ``VisitsScheme.caseload_groups``, the frame op both engines run
   (households, overdue and visits owed per liaison: tier rates summed as exact
   integers, rounded once), made into rows by the per-record path's own
   ``caseloads``.

One output, any engine: ``output`` has exactly the columns of
``VisitDecision.to_row()``, in order, with the same values (no raw input
column is copied in); ``details`` the rows of ``Caseload.to_row()`` (a fixed
schema, so an empty warnings list is still a list of text); ``rejected`` the
rows of ``rejected_rows()``. The ``reasons`` of the scored rows are worded, the
first time ``output`` is read, by ``say_frame`` from ``VisitsScheme.words`` —
the templates a per-record decision's reasons are rendered from — over the
rows' trace (the plan's outputs) and facts, with no Python per row; a rejected
row's come from the per-record path itself (``decide_one``), so they are word
for word those of ``decide_many``. The column is List(Categorical)
(``plan.words.reasons_dtype``: each distinct sentence held once), the same texts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from ...batch.frames import (
    ROW,
    UNREADABLE,
    coerce_column,
    coerce_columns,
    coerce_id,
    nan_as_null,
    read_source,
    repeated,
)
from ...batch.progress import step
from ...batch.result import BatchResult, explain_rejected
from ...expr.functions import FunctionTable
from ...messages import reasons_language, worded_in
from ...plan.frame import group_count_table
from ...plan.polars import with_plan
from ...plan.words import reasons_dtype, say_frame
from ...policy.compile import ensure_in_effect
from ...policy.model import FactSpec
from ...records import NEVER
from .scheme import (
    LAST_GIVEN,
    REJECTED,
    SCORED,
    STEP,
    UNASSIGNED,
    VisitsScheme,
)

STEPS = 5
_DATE = FactSpec(type="date")
#: The prefix of the plan's columns: ``__p.$tier`` is the plan's ``$tier``.
_P = "__p."


def score_visits(scheme: VisitsScheme, source: Any, *, as_of: dt.date) -> BatchResult:
    """Decide every household of ``source``; see :class:`BatchResult`."""
    functions = scheme.functions or FunctionTable()  # (a scheme made without compile_visits)
    ensure_in_effect(scheme.model, scheme.ref, as_of)
    step("reading households", 0, STEPS)
    frame = nan_as_null(read_source(source))
    step("checking every fact of every household", 1, STEPS)
    n = frame.height
    unreadable = frame[UNREADABLE].is_not_null()

    # step 1: the record on its own
    hid = coerce_id(frame, "household_id")
    lid = coerce_id(frame, "liaison_id", missing_ok=True)
    last = coerce_column(frame, "last_visit", _DATE, missing_ok=True)
    # every declared fact is checked (a record is one household: a malformed fact rejects
    # it), but only the values the tiers and triggers read are kept, to save memory
    read = [i.name for i in scheme.plan.inputs if i.name in scheme.facts]
    facts = coerce_columns(frame, scheme.facts)
    hid_ok = hid.code.is_null() & (hid.value != "")
    # the per-record path keys a record without a usable id by "row N": that only
    # matters when some real id looks like that, which is checked rather than assumed
    key = hid.value.set(~hid_ok, None)
    if (key.str.starts_with("row ") & ~unreadable).any():
        key = pl.select(pl.when(pl.lit(hid_ok)).then(pl.lit(hid.value))
                        .otherwise(pl.format("row {}", pl.lit(frame[ROW])))).to_series()
    duplicate = repeated(key.set(unreadable, None)) if unreadable.any() else repeated(key)
    problems = unreadable | hid.code.is_not_null() | lid.code.is_not_null() \
        | last.code.is_not_null() | duplicate \
        | (last.value.is_not_null() & (last.value > as_of)).fill_null(False)
    kept: dict[str, pl.Series] = {}
    for name in list(facts):
        fact = facts.pop(name)
        problems = problems | fact.code.is_not_null()
        if name in read:
            kept[f"__f_{name}"] = fact.value
    work = pl.DataFrame({ROW: frame[ROW], "__ok": ~problems, "__last": last.value,
                         "__lid": lid.value, **kept})
    del problems, last, facts

    step("choosing tiers and due dates", 2, STEPS)
    # steps 2 and 3: the plan the per-record path runs as generated Python, here as columns
    plan = scheme.plan
    inputs = {name: pl.col(f"__f_{name}") for name in read}
    inputs["as_of"] = pl.lit(as_of, dtype=pl.Date)
    inputs["last_visit"] = pl.col("__last").fill_null(pl.lit(NEVER, dtype=pl.Date))
    inputs[LAST_GIVEN] = pl.col("__last")
    # only the plan outputs read below (the decision) or by the words of the reasons
    shown = {STEP + n for n in ("tier", "next_due", "overdue", "fired_ids", "codes")}
    worded = [_P + name for name in plan.outputs if name in scheme.words.columns]
    trace = [_P + name for name in plan.outputs if name in shown] + \
        [c for c in worded if c[len(_P):] not in shown]
    keep = [*trace, _P + STEP + "failed"]  # the rest is dropped once no step reads it
    decided = with_plan(plan, functions, work.lazy(), inputs, prefix=_P, keep=keep) \
        .select(ROW, "__last", "__lid", *kept, *trace,
                (pl.col("__ok") & ~pl.col(_P + STEP + "failed")).alias("__scored")) \
        .collect(engine="in-memory")
    del work
    scored = decided["__scored"]
    rejected_mask = ~scored

    step(f"explaining {int(rejected_mask.sum())} rejected households", 3, STEPS)
    # the rejected rows: their reasons, word for word, from the per-record path (first,
    # so that the input frame is let go before the output is built)
    reject_rows, reject_codes = _rejections(scheme, frame, rejected_mask, key, as_of)
    del frame, key
    rejected_words: dict[int, list[str]] = {r["row"]: r["reasons"] for r in reject_rows}

    # decision columns of scored rows
    default = scheme.default
    assert default is not None
    all_tiers = [*scheme.tiers, default]
    ok = pl.col("__scored")
    tier = pl.col(_P + STEP + "tier")
    empty = pl.lit(pl.Series([[]], dtype=_LIST)).first()

    def per_tier(values: list[str]) -> pl.Expr:
        return pl.when(ok).then(_pick(values, tier)).otherwise(pl.lit(""))

    codes = pl.when(ok).then(pl.col(_P + STEP + "codes")).otherwise(empty)
    if reject_rows:  # a rejected row's codes are the per-record path's, by row
        rejected_codes = pl.DataFrame({
            "row": [r["row"] for r in reject_rows],
            "__rcodes": pl.Series(reject_codes, dtype=_LIST)})
        theirs = decided.select(ROW).join(rejected_codes, left_on=ROW, right_on="row",
                                          how="left", maintain_order="left")["__rcodes"]
        codes = pl.when(ok).then(pl.col(_P + STEP + "codes")).otherwise(pl.lit(theirs))
    labels = pl.when(pl.lit(hid_ok)).then(pl.lit(hid.value)) \
        .otherwise(pl.format("row {}", pl.col(ROW)))
    out = decided.select(
        pl.col(ROW).alias("row"), labels.alias("household_id"),
        pl.col("__lid").fill_null("").alias("liaison_id"),
        pl.when(ok).then(pl.lit(SCORED)).otherwise(pl.lit(REJECTED)).alias("status"),
        per_tier([t.id for t in all_tiers]).alias("tier"),
        per_tier([t.label for t in all_tiers]).alias("tier_label"),
        per_tier([t.label_en for t in all_tiers]).alias("tier_label_en"),
        per_tier([t.cadence.text for t in all_tiers]).alias("cadence"),
        pl.col("__last").alias("last_visit"),
        pl.when(ok).then(pl.col(_P + STEP + "next_due")).alias("next_due"),
        (pl.col(_P + STEP + "overdue") & ok).alias("overdue"),
        pl.when(ok).then(pl.col(_P + STEP + "fired_ids")).otherwise(empty).alias("triggers"),
        codes.alias("reason_codes"),
    )
    del hid, lid
    ref = scheme.ref
    out = out.with_columns(pl.lit(ref.id, dtype=pl.String).alias("policy_id"),
                           pl.lit(ref.version, dtype=pl.String).alias("policy_version"),
                           pl.lit(ref.hash, dtype=pl.String).alias("policy_hash"),
                           pl.lit(as_of, dtype=pl.Date).alias("as_of"))
    rejected = rejected_frame(reject_rows)
    step("totalling caseloads", 4, STEPS)
    liaison = pl.col("__lid")
    details = _caseload(scheme, decided.lazy().filter(ok).select(
        pl.when(liaison.is_null() | (liaison == "")).then(pl.lit(UNASSIGNED))
        .otherwise(liaison).alias("liaison"),
        pl.col(_P + STEP + "overdue").alias("overdue"),
        (pl.col(_P + STEP + "fired_ids").list.len() > 0).alias("triggered"),
        _pick([t.id for t in all_tiers], tier).alias("tier")).collect(), as_of)
    step("done", STEPS, STEPS)
    scored_n = int(scored.sum())
    # what the words of the reasons read, kept until ``output`` is first read
    decided = decided.select("__scored", "__last", *kept, *worded)
    lang = reasons_language(scheme.model.policy.locale)  # the run's, whenever it is read
    output = _Later(worded_in(lang, lambda: _with_reasons(
        out, _messages(scheme, decided.filter(ok), read, as_of), scored, rejected_words)))
    # mypy types this inherited field's parameter from BatchResult (a DataFrame); the
    # subclass's _Output descriptor takes a _Later too, which mypy's dataclasses cannot say
    result = VisitsBatchResult("visits", ref, as_of, output, rejected,  # type: ignore[arg-type]
                               details, n, scored_rows=scored_n)
    return result


_LIST = pl.List(pl.String)

#: The columns of ``Caseload.to_row()``, typed: an empty list column is still a list of text.
CASELOAD_SCHEMA: dict[str, pl.DataType] = {
    "liaison_id": pl.String(), "households": pl.Int64(), "visits_per_month": pl.Float64(),
    "trigger_visits": pl.Int64(), "overdue": pl.Int64(), "households_per_liaison": pl.Int64(),
    "capacity_visits_per_month": pl.Float64(), "warning_codes": _LIST, "warnings": _LIST,
    "policy_id": pl.String(), "policy_version": pl.String(), "policy_hash": pl.String(),
    "as_of": pl.Date(),
}


class _Later:
    """A frame not built yet: ``build()`` makes it."""

    def __init__(self, build: Callable[[], pl.DataFrame]) -> None:
        self.build = build


class _Output:
    """``VisitsBatchResult.output``: built on first read (its ``reasons`` column is worded
    then, from the per-record path's own templates)."""

    def __get__(self, result: BatchResult | None, owner: type | None = None) -> pl.DataFrame:
        if result is None:
            raise AttributeError("output")
        output: pl.DataFrame | _Later = result.__dict__["output"]
        if isinstance(output, _Later):
            output = result.__dict__["output"] = output.build()
        return output

    def __set__(self, result: BatchResult, value: pl.DataFrame | _Later) -> None:
        result.__dict__["output"] = value


@dataclass
class VisitsBatchResult(BatchResult):
    """A :class:`BatchResult` whose ``output`` is built the first time it is read: the
    sentences of ``reasons`` cost more than deciding, and many callers never read them."""

    output = _Output()
    scored_rows: int = 0

    @property
    def scored_count(self) -> int:
        return self.scored_rows


def rejected_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The rejected rows: REJECT_COLUMNS typed, then whatever else ``explain_rejected``
    gives (as text), so this does not depend on those extra columns."""
    schema: dict[str, pl.DataType] = {"input": pl.String(), "row": pl.Int64(),
                                      "id": pl.String(), "reason_codes": _LIST,
                                      "reasons": _LIST}
    names = list(rows[0]) if rows else list(schema)
    return pl.DataFrame(rows, schema={k: schema.get(k, pl.String()) for k in names})


def _with_reasons(out: pl.DataFrame, scored_words: pl.Series, scored: pl.Series,
                  rejected: dict[int, list[str]]) -> pl.DataFrame:
    """``out`` with the ``reasons`` column after ``reason_codes``, as ``to_row()`` has it:
    the scored rows' (in order, where ``scored`` is true) and the rejected rows' by row."""
    if scored_words.len() == out.height:
        words = scored_words.cast(reasons_dtype())
    else:
        rows = out["row"].filter(~scored).to_list()
        at = pl.concat([scored.arg_true(), (~scored).arg_true()])
        texts = pl.concat([scored_words.cast(reasons_dtype()),
                           text_lists([rejected[r] for r in rows]).cast(reasons_dtype())])
        words = pl.DataFrame({"at": at, "words": texts}).sort("at")["words"]
    return out.insert_column(out.columns.index("reason_codes") + 1, words.alias("reasons"))


def text_lists(lists: list[list[str]]) -> pl.Series:
    """A List(String) column of Python lists of text, built from one flat column: twenty
    times faster than ``pl.Series(lists)``, which converts every list on its own."""
    n = len(lists)
    flat = pl.Series("s", [m for one in lists for m in one], dtype=pl.String)
    if not flat.len():
        return pl.select(pl.repeat(pl.lit([], dtype=_LIST), n)).to_series()
    lengths = pl.Series([len(one) for one in lists], dtype=pl.Int64)
    index = pl.select(pl.int_range(n, dtype=pl.Int64).repeat_by(lengths).explode()) \
        .to_series().alias("i")
    grouped = pl.DataFrame([index, flat]).group_by("i", maintain_order=True).agg("s")
    if grouped.height < n:  # some lists are empty: they have no row in the groups
        grouped = pl.DataFrame({"i": pl.int_range(n, dtype=pl.Int64, eager=True)}).join(
            grouped, on="i", how="left", maintain_order="left").with_columns(
            pl.col("s").fill_null(pl.lit([], dtype=_LIST)))
    return grouped["s"]


def _messages(scheme: VisitsScheme, scored: pl.DataFrame, read: list[str],
              as_of: dt.date) -> pl.Series:
    """The reasons of the scored rows: the templates the per-record path renders
    (``scheme.words``), rendered by ``say_frame`` over the rows' words columns (the
    plan's outputs, the facts read, the dates and the values derived from them)."""
    words = scheme.words
    need = words.columns
    columns = [pl.col(_P + name).alias(name) for name in scheme.plan.outputs if name in need]
    columns += [pl.col(f"__f_{name}").alias(name) for name in read if name in need]
    columns += [pl.lit(as_of, dtype=pl.Date).alias("as_of"),
                pl.col("__last").fill_null(pl.lit(NEVER, dtype=pl.Date)).alias("last_visit"),
                pl.col("__last").alias(LAST_GIVEN)]
    frame = words.frame(scored.select(columns), as_of)
    return say_frame(words.entries, frame)



def _pick(values: list[Any], index: pl.Expr) -> pl.Expr:
    """``values[index]`` for every row, from a literal of the few possible values."""
    dtype = _LIST if values and isinstance(values[0], list) else pl.String
    return pl.lit(pl.Series(values, dtype=dtype)).gather(index)


def _rejections(scheme: VisitsScheme, frame: pl.DataFrame, rejected: pl.Series,
                key: pl.Series, as_of: dt.date
                ) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """Run the per-record path on the rejected rows only, for their exact reasons."""
    keys = key.filter(rejected).to_list()
    readable_keys = pl.DataFrame({"k": key, "r": frame[ROW]}).filter(
        frame[UNREADABLE].is_null() & key.is_in(keys))
    first = dict(readable_keys.group_by("k").agg(pl.col("r").min()).iter_rows())
    rows = frame[ROW].filter(rejected).to_list()
    seens = [{k: first[k]} if k is not None and first.get(k, r) != r else {}
             for k, r in zip(keys, rows, strict=True)]
    return explain_rejected(frame, rejected, seens,
                            lambda row, item, seen: scheme.decide_one(row, item, as_of, seen),
                            "households", lambda d: d.household_id)


def _caseload(scheme: VisitsScheme, rows: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Caseloads from the scored rows' ``liaison``, ``overdue``, ``triggered`` and
    ``tier``: totalled by the frame op ``caseload_groups`` (one group_by, exact
    integers), made into rows by the per-record path's own ``caseloads`` (one call
    per liaison, not per household)."""
    op = scheme.caseload_groups
    table = group_count_table(op, rows)
    loads = scheme.caseloads(table.iter_rows(), as_of).values()
    columns: dict[str, list[Any]] = {name: [] for name in CASELOAD_SCHEMA}
    for load in loads:
        for name, value in load.to_row().items():
            columns[name].append(value)
    lists = {name: text_lists(columns[name]) for name, kind in CASELOAD_SCHEMA.items()
             if kind == _LIST}  # built from one flat column: pl.Series(lists) is slow
    return pl.DataFrame([lists[name].alias(name) if name in lists
                         else pl.Series(name, values, dtype=CASELOAD_SCHEMA[name])
                         for name, values in columns.items()])
