"""Care visits in batch: the same steps as ``schemes/visits.py``, as columns.

The steps, in the per-record order (see that module's docstring for their
meaning): read and check the record; choose the tier by the hit policy;
compute the next due date from the cadence and the triggers; total the
caseload per liaison. Every tier and trigger condition is compiled from the
same checked IR by ``batch.expr``, with its error column, so a record the
per-record path rejects for an expression error is rejected here too.

One output, any engine: ``output`` has exactly the columns of
``VisitDecision.to_row()``, in order, with the same values (no raw input
column is copied in); ``details`` the rows of ``Caseload.to_row()`` (a fixed
schema, so an empty warnings list is still a list of text); ``rejected`` the
rows of ``rejected_rows()``. The ``reasons`` of a scored row are worded, the
first time ``output`` is read, by ``VisitsScheme._reasons`` — the function
that words a per-record decision — from the steps this module decided
(``_Wording``); a rejected row's come from the per-record path itself.

Reason codes name no trigger, so they follow from a small key per row (default
tier, never visited, overdue, and how many triggers fired) joined to the few
code lists that occur; the ids of the triggers fired come from a bit mask up
to 62 triggers and from a list per row beyond. There is no limit on triggers
or tiers that the per-record path does not have.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..expr.functions import FunctionTable
from ..policy.compile import ensure_in_effect
from ..policy.model import FactSpec
from ..records import NEVER, is_missing
from ..schemes.visits import REJECTED, SCORED, UNASSIGNED, VisitsScheme
from .expr import Column, PolarsCompiler
from .frames import ROW, UNREADABLE, coerce_column, coerce_columns, coerce_id, read_source, repeated
from .progress import step
from .result import BatchResult, explain_rejected

STEPS = 5
_TEXT = FactSpec(type="string")
_DATE = FactSpec(type="date")


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
    read = _names_read(scheme)
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
    work = pl.DataFrame({ROW: frame[ROW], "__ok": ~problems, "__last": last.value, **kept})
    names = {name: pl.col(f"__f_{name}") for name in read if name in scheme.facts}
    names["as_of"] = pl.lit(as_of, dtype=pl.Date)
    names["last_visit"] = pl.col("__last").fill_null(pl.lit(NEVER, dtype=pl.Date))
    compiler = PolarsCompiler(functions, names)

    step("choosing tiers and due dates", 2, STEPS)
    # step 2: the tier. Each stage materialises named columns that the next reads,
    # so no condition is computed twice.
    tiers = list(scheme.tiers)
    default = scheme.default
    assert default is not None
    all_tiers = [*tiers, default]
    last_col = pl.col("__last")
    as_of_lit = pl.lit(as_of, dtype=pl.Date)
    stage1: list[pl.Expr] = []
    for i, t in enumerate(tiers):
        assert t.when is not None
        cond = compiler.compile(t.when.node)
        stage1 += [cond.value.alias(f"__c{i}"), _error(cond).alias(f"__e{i}")]
    for j, tr in enumerate(scheme.triggers):
        cond, event = compiler.compile(tr.when.node), compiler.compile(tr.event.node)
        stage1 += [cond.value.alias(f"__tc{j}"), _error(cond).alias(f"__tce{j}"),
                   event.value.alias(f"__ev{j}"), _error(event).alias(f"__eve{j}")]
    cond_of = [pl.col(f"__c{i}") for i in range(len(tiers))]
    error_of = [pl.col(f"__e{i}") for i in range(len(tiers))]

    policy = scheme.rules.hit_policy
    order = list(range(len(tiers)))
    errors: list[pl.Expr | None] = []
    unique_violation: pl.Expr = pl.lit(False)
    if policy == "first":  # a tier's condition is evaluated only if no earlier one held
        reached: pl.Expr = pl.lit(True)
        for holds, e in zip(cond_of, error_of, strict=True):
            errors.append(reached & e)
            reached = reached & ~holds
    else:
        errors += error_of
        if policy == "priority":
            order.sort(key=lambda i: -(tiers[i].priority or 0))
        elif cond_of:
            unique_violation = pl.sum_horizontal([c.cast(pl.Int32) for c in cond_of]) > 1
    tier_ix: pl.Expr = pl.lit(len(tiers), dtype=pl.Int32)  # the default tier
    for i in reversed(order):
        tier_ix = pl.when(cond_of[i]).then(pl.lit(i, dtype=pl.Int32)).otherwise(tier_ix)

    # step 3: triggers (the event is evaluated only where the condition holds)
    fired: list[pl.Expr] = []
    for j in range(len(scheme.triggers)):
        tc, ev = pl.col(f"__tc{j}"), pl.col(f"__ev{j}")
        errors.append(pl.col(f"__tce{j}") | (tc & pl.col(f"__eve{j}")))
        fired.append((tc & (ev != pl.lit(NEVER, dtype=pl.Date)) & (ev <= as_of_lit)
                      & (last_col.is_null() | (ev > last_col))).alias(f"__fired{j}"))
    failed = pl.any_horizontal([*errors, unique_violation]) if errors else unique_violation
    stage2 = [tier_ix.alias("__tier"), *fired,
              pl.when(pl.col("__ok")).then(failed).otherwise(False).alias("__failed")]

    cadence_due: pl.Expr = pl.lit(None, dtype=pl.Date)
    for i, t in enumerate(all_tiers):  # a few tiers: one offset each
        cadence_due = pl.when(pl.col("__tier") == i).then(
            last_col.dt.offset_by(f"{t.cadence.months}mo{t.cadence.days}d")
        ).otherwise(cadence_due)
    cadence_due = pl.min_horizontal(cadence_due, pl.lit(dt.date.max, dtype=pl.Date))
    base_due = pl.when(last_col.is_null()).then(as_of_lit).otherwise(pl.col("__cad"))
    dues = [base_due] + [pl.when(pl.col(f"__fired{j}")).then(
        _plus_days(pl.col(f"__ev{j}"), tr.within_days))
        for j, tr in enumerate(scheme.triggers)]
    stage3 = [pl.min_horizontal(dues).alias("__next")]

    # The code key: bit 0 default tier, bit 1 never visited, bit 2 overdue, then 8 times
    # the number of triggers fired (the codes name no trigger, so their count suffices).
    n_fired: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for j in range(len(scheme.triggers)):
        n_fired = n_fired + pl.col(f"__fired{j}").cast(pl.Int64)
    overdue = pl.col("__next") < as_of_lit
    code_key = (pl.when(pl.col("__tier") == len(tiers)).then(1).otherwise(0)
                + pl.when(last_col.is_null()).then(2).otherwise(0)
                + pl.when(overdue).then(4).otherwise(0)).cast(pl.Int64)
    stage4 = [overdue.alias("__overdue"), (code_key + n_fired * 8).alias("__ckey")]
    # what the reasons of a scored row are worded from (see _Wording)
    kept_for_words = [*(f"__c{i}" for i in range(len(tiers)) if policy == "priority"),
                      *(f"__fired{j}" for j in range(len(scheme.triggers))),
                      *(f"__ev{j}" for j in range(len(scheme.triggers))),
                      *kept]
    decided = work.lazy().with_columns(stage1).with_columns(stage2).with_columns(
        cadence_due.alias("__cad")).with_columns(stage3) \
        .with_columns(stage4) \
        .select(ROW, "__ok", "__failed", "__tier", "__last", "__cad", "__next", "__overdue",
                "__ckey",
                *kept_for_words) \
        .collect(engine="in-memory")
    scored = decided["__ok"] & ~decided["__failed"]
    rejected_mask = ~scored
    assert all_tiers

    # decision columns of scored rows
    trigger_ids = [t.id for t in scheme.triggers]
    ok = pl.col("__scored")
    tier = pl.col("__tier")

    def per_tier(values: list[str]) -> pl.Expr:
        return pl.when(ok).then(_pick(values, tier)).otherwise(pl.lit(""))

    decided = decided.with_columns(__scored=pl.lit(scored))
    out = decided.with_columns(
        household_id=pl.when(pl.lit(hid_ok)).then(pl.lit(hid.value))
        .otherwise(pl.format("row {}", pl.col(ROW))),
        liaison_id=pl.lit(lid.value).fill_null(""),
        last_visit=pl.lit(last.value),
    ).select(
        pl.col(ROW).alias("row"), "household_id", "liaison_id",
        pl.when(ok).then(pl.lit(SCORED)).otherwise(pl.lit(REJECTED)).alias("status"),
        per_tier([t.id for t in all_tiers]).alias("tier"),
        per_tier([t.label for t in all_tiers]).alias("tier_label"),
        per_tier([t.label_en for t in all_tiers]).alias("tier_label_en"),
        per_tier([t.cadence.text for t in all_tiers]).alias("cadence"),
        "last_visit",
        pl.when(ok).then(pl.col("__next")).alias("next_due"),
        (pl.col("__overdue") & ok).alias("overdue"),
        pl.when(ok).then(pl.col("__ckey")).alias("__ckey"),
    )
    out = out.with_columns(
        pl.when(pl.col("status") == SCORED).then(_fired_lists(decided, trigger_ids))
        .otherwise(pl.lit([], dtype=_LIST)).alias("triggers"),
        _lookup(out["__ckey"], _codes).alias("reason_codes")).drop("__ckey")

    step(f"explaining {int(rejected_mask.sum())} rejected households", 3, STEPS)
    # the rejected rows: their reasons, word for word, from the per-record path
    reject_rows, reject_codes = _rejections(scheme, frame, rejected_mask, key, as_of)
    rejected_words: dict[int, list[str]] = {r["row"]: r["reasons"] for r in reject_rows}
    if reject_rows:
        rejected_codes = pl.DataFrame({
            "row": [r["row"] for r in reject_rows],
            "__rcodes": pl.Series(reject_codes, dtype=_LIST)})
        out = out.join(rejected_codes, on="row", how="left", maintain_order="left") \
            .with_columns(pl.when(pl.col("status") == SCORED).then(pl.col("reason_codes"))
                          .otherwise(pl.col("__rcodes")).alias("reason_codes")) \
            .drop("__rcodes")
    ref = scheme.ref
    out = out.with_columns(pl.lit(ref.id, dtype=pl.String).alias("policy_id"),
                           pl.lit(ref.version, dtype=pl.String).alias("policy_version"),
                           pl.lit(ref.hash, dtype=pl.String).alias("policy_hash"),
                           pl.lit(as_of, dtype=pl.Date).alias("as_of"))
    rejected = rejected_frame(reject_rows)
    step("totalling caseloads", 4, STEPS)
    details = _caseload(scheme, out.filter(pl.col("status") == SCORED), as_of)
    step("done", STEPS, STEPS)
    wording = _Wording(scheme, decided.filter(pl.col("__scored")), as_of, len(tiers),
                       policy == "priority")
    scored_n = int(scored.sum())
    output = _Later(lambda: _with_reasons(out, wording, rejected_words))
    # mypy types this inherited field's parameter from BatchResult (a DataFrame); the
    # subclass's _Output descriptor takes a _Later too, which mypy's dataclasses cannot say
    result = VisitsBatchResult("visits", ref, as_of, output, rejected,  # type: ignore[arg-type]
                               details, n, scored_rows=scored_n)
    return result


_LIST = pl.List(pl.String)

#: The columns of ``Caseload.to_row()``, typed: an empty list column is still a list of text.
CASELOAD_SCHEMA: dict[str, pl.DataType] = {
    "liaison_id": pl.String(), "households": pl.Int64(), "visits_per_month": pl.Float64(),
    "overdue": pl.Int64(), "households_per_liaison": pl.Int64(),
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
    then, in Python, by the per-record path's own wording function)."""

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


def _with_reasons(out: pl.DataFrame, wording: _Wording,
                  rejected: dict[int, list[str]]) -> pl.DataFrame:
    """``out`` with the ``reasons`` column after ``reason_codes``, as ``to_row()`` has it."""
    scored_words = iter(wording.messages())
    words = [rejected[r] if status != SCORED else next(scored_words)
             for r, status in zip(out["row"].to_list(), out["status"].to_list(), strict=True)]
    at = out.columns.index("reason_codes") + 1
    return out.insert_column(at, text_lists(words).alias("reasons"))


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


class _Wording:
    """The reasons of the scored rows, worded by ``VisitsScheme._reasons``.

    The batch has decided each row; this rebuilds, from those columns, the steps
    ``VisitsScheme._score`` notes (tier and why, cadence or never visited, each trigger
    with its event and deadline, overdue and by which rule) and the values the
    conditions read, and hands them to the very function that words a per-record
    decision. One wording function, so the two engines give the same sentences.
    """

    def __init__(self, scheme: VisitsScheme, scored: pl.DataFrame, as_of: dt.date,
                 n_tiers: int, priority: bool) -> None:
        self.scheme, self.frame, self.as_of = scheme, scored, as_of
        self.n_tiers, self.priority = n_tiers, priority

    def messages(self) -> Iterator[list[str]]:
        scheme, as_of = self.scheme, self.as_of
        tiers = list(scheme.tiers)
        assert scheme.default is not None
        all_tiers = [*tiers, scheme.default]
        frame = self.frame
        facts = [c for c in frame.columns if c.startswith("__f_")]
        names = [c[len("__f_"):] for c in facts]
        n_tr = len(scheme.triggers)
        columns = [frame[c].to_list() for c in (
            "__tier", "__last", "__cad", "__next", "__overdue",
            *(f"__c{i}" for i in range(len(tiers)) if self.priority),
            *(f"__fired{j}" for j in range(n_tr)), *(f"__ev{j}" for j in range(n_tr)),
            *facts)]
        conds_at, fired_at = 5, 5 + (len(tiers) if self.priority else 0)
        events_at = fired_at + n_tr
        facts_at = events_at + n_tr
        plan = [(tr, dt.timedelta(days=tr.within_days), f"visits.triggers.{tr.id}")
                for tr in scheme.triggers]
        for values in zip(*columns, strict=True):
            tier_ix, last, cadence_due, next_due, overdue = values[:5]
            chosen = all_tiers[tier_ix]
            steps: list[tuple[Any, ...]]
            if tier_ix == self.n_tiers:
                steps = [("DEFAULT_TIER", chosen)]
            else:
                matching: tuple[Any, ...] = ()
                if self.priority:
                    matching = tuple(t for t, held in zip(
                        tiers, values[conds_at:fired_at], strict=True) if held)
                steps = [("TIER_MATCHED", chosen, matching if len(matching) > 1 else ())]
            if last is None:
                due, rule = as_of, "record.last_visit"
                steps.append(("NEVER_VISITED",))
            else:
                due, rule = cadence_due, f"visits.tiers.{chosen.id}.cadence"
                steps.append(("CADENCE", chosen, cadence_due))
            for (tr, within, trigger_rule), fired, event in zip(
                    plan, values[fired_at:events_at], values[events_at:facts_at],
                    strict=True):
                if not fired:
                    continue
                try:
                    deadline = event + within
                except OverflowError:
                    deadline = dt.date.max
                steps.append(("TRIGGER", tr, event, deadline))
                if (deadline, trigger_rule) < (due, rule):
                    due, rule = deadline, trigger_rule
            if due != next_due:  # pragma: no cover - the two evaluators disagree: a bug
                raise AssertionError(f"visits batch: next due {next_due}, the steps say {due}")
            if overdue:
                steps.append(("OVERDUE", next_due, rule))
            env = dict(zip(names, values[facts_at:], strict=True))
            env["as_of"] = as_of
            env["last_visit"] = last if last is not None else NEVER
            yield [r.message for r in scheme._reasons(steps, env, last, as_of)]


def nan_as_null(frame: pl.DataFrame) -> pl.DataFrame:
    """Float NaN cells as nulls: a NaN is a blank cell (``records.is_missing``), whether it
    comes in a float column (a frame, or records whose column holds floats only) or in a
    column of mixed Python values. Then the columnar checks treat it as the per-record
    path does: the default, "never", or MISSING_FIELD for a required field."""
    changed: list[pl.Series | pl.Expr] = []
    for name, dtype in frame.schema.items():
        if name in (ROW, UNREADABLE):
            continue
        if dtype.is_float():
            changed.append(pl.col(name).fill_nan(None))
        elif dtype == pl.Object:
            values = frame[name].to_list()
            if any(type(v) is not str and is_missing(v) for v in values if v is not None):
                changed.append(pl.Series(name, [None if v is not None and type(v) is not str
                                                and is_missing(v) else v for v in values],
                                         dtype=pl.Object))
    return frame.with_columns(changed) if changed else frame


def _names_read(scheme: VisitsScheme) -> set[str]:
    exprs = [t.when for t in scheme.tiers if t.when is not None]
    exprs += [e for tr in scheme.triggers for e in (tr.when, tr.event)]
    return {name for e in exprs for name in e.reads}


def _error(c: Column) -> pl.Expr:
    return c.error if c.error is not None else pl.lit(False)


def _empty(dtype: pl.DataType) -> Any:
    return "" if dtype == pl.String else None


def _plus_days(day: pl.Expr, days: int) -> pl.Expr:
    """``day + days``, or the last date Python can hold when that is past it."""
    return (day.cast(pl.Int32).cast(pl.Int64) + days).clip(
        upper_bound=(dt.date.max - dt.date(1970, 1, 1)).days).cast(pl.Int32).cast(pl.Date)


def _pick(values: list[Any], index: pl.Expr) -> pl.Expr:
    """``values[index]`` for every row, from a literal of the few possible values."""
    dtype = _LIST if values and isinstance(values[0], list) else pl.String
    return pl.lit(pl.Series(values, dtype=dtype)).gather(index)


def _codes(key: int | None) -> list[str]:
    """The reason codes of a scored row from its code key (see ``score_visits``); a
    rejected row (null key) gets none here: its codes come from the per-record path."""
    if key is None:
        return []
    codes = ["DEFAULT_TIER" if key & 1 else "TIER_MATCHED",
             "NEVER_VISITED" if key & 2 else "CADENCE"]
    codes += ["TRIGGER"] * (key >> 3)
    if key & 4:
        codes.append("OVERDUE")
    return codes


def _lookup(keys: pl.Series, make: Callable[[Any], list[str]]) -> pl.Series:
    """``make(key)`` (a list of strings) for every row, computed once per distinct key:
    a list per row from ``concat_list`` costs seconds per million rows, the join
    milliseconds."""
    distinct = keys.unique().to_list()
    table = pl.DataFrame({"k": pl.Series(distinct, dtype=keys.dtype),
                          "v": pl.Series([make(k) for k in distinct], dtype=_LIST)})
    return pl.DataFrame({"k": keys}).join(table, on="k", how="left", nulls_equal=True,
                                          maintain_order="left")["v"]


#: Up to this many triggers, the triggers fired by a row are an Int64 bit mask.
_KEY_BITS = 62


def _fired_lists(decided: pl.DataFrame, ids: list[str]) -> pl.Series:
    """Per row, the ids of the triggers that fired, in policy order. Up to 62 triggers
    by a bit mask joined to the few distinct lists; beyond, per row (no fixed limit)."""
    if not ids:
        return pl.Series([[]] * decided.height, dtype=_LIST)
    if len(ids) <= _KEY_BITS:
        mask = decided.select(pl.sum_horizontal(
            pl.col(f"__fired{j}").cast(pl.Int64) * (1 << j) for j in range(len(ids)))
        ).to_series()
        return _lookup(mask, lambda k: [t for j, t in enumerate(ids) if k >> j & 1])
    return decided.select(pl.concat_list(
        pl.when(pl.col(f"__fired{j}")).then(pl.lit(t)) for j, t in enumerate(ids))
        .list.drop_nulls()).to_series()


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


def _caseload(scheme: VisitsScheme, scored: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Caseloads from per-(liaison, tier) counts, by the per-record path's own function."""
    counts = scored.group_by(
        pl.when(pl.col("liaison_id") == "").then(pl.lit(UNASSIGNED))
        .otherwise(pl.col("liaison_id")).alias("liaison"), "tier"
    ).agg(pl.len().alias("n"), pl.col("overdue").sum().alias("overdue"))
    table: dict[str, dict[str, tuple[int, int]]] = {}
    for liaison, tier, count, over in counts.iter_rows():
        table.setdefault(liaison, {})[tier] = (count, over)
    loads = scheme.caseload_from_counts(table, as_of)
    return pl.DataFrame([c.to_row() for c in loads.values()], schema=CASELOAD_SCHEMA)


