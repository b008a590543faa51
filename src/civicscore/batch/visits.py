"""Care visits in batch: the same steps as ``schemes/visits.py``, as columns.

The steps, in the per-record order (see that module's docstring for their
meaning): read and check the record; choose the tier by the hit policy;
compute the next due date from the cadence and the triggers; total the
caseload per liaison. Every tier and trigger condition is compiled from the
same checked IR by ``batch.expr``, with its error column, so a record the
per-record path rejects for an expression error is rejected here too.

Reason codes are built from a small integer key per row (which tier rule,
never visited or cadence, which triggers fired, overdue) joined to a table of
the few code lists that occur: a list per row from ``concat_list`` costs
seconds per million rows, the join milliseconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from ..policy.compile import ensure_in_effect
from ..policy.model import FactSpec
from ..records import NEVER
from ..schemes.visits import REJECTED, SCORED, UNASSIGNED, VisitsScheme
from .expr import Column, PolarsCompiler
from .frames import ROW, UNREADABLE, coerce_column, coerce_columns, read_source, repeated
from .progress import step
from .result import BatchResult, explain_rejected

STEPS = 5
MAX_TRIGGERS = 12
"""Reason-code lists are picked from a table of 8 << triggers entries."""
_TEXT = FactSpec(type="string")
_DATE = FactSpec(type="date")


def score_visits(scheme: VisitsScheme, source: Any, *, as_of: dt.date) -> BatchResult:
    """Decide every household of ``source``; see :class:`BatchResult`."""
    functions = scheme.functions
    if len(scheme.triggers) > MAX_TRIGGERS:
        raise NotImplementedError(
            f"the batch evaluator handles up to {MAX_TRIGGERS} visit triggers, this policy has "
            f"{len(scheme.triggers)}; use evaluate_many")
    ensure_in_effect(scheme.model, scheme.ref, as_of)
    step("reading households", 0, STEPS)
    frame = read_source(source)
    step("checking every fact of every household", 1, STEPS)
    n = frame.height
    unreadable = frame[UNREADABLE].is_not_null()

    # step 1: the record on its own
    hid = coerce_column(frame, "household_id", _TEXT)
    lid = coerce_column(frame, "liaison_id", _TEXT, missing_ok=True)
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
        c = facts.pop(name)
        problems = problems | c.code.is_not_null()
        if name in read:
            kept[f"__f_{name}"] = c.value
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
        c = compiler.compile(t.when.node)
        stage1 += [c.value.alias(f"__c{i}"), _error(c).alias(f"__e{i}")]
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
        for c, e in zip(cond_of, error_of, strict=True):
            errors.append(reached & e)
            reached = reached & ~c
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
    base_due = pl.when(last_col.is_null()).then(as_of_lit) \
        .otherwise(pl.min_horizontal(cadence_due, pl.lit(dt.date.max, dtype=pl.Date)))
    dues = [base_due] + [pl.when(pl.col(f"__fired{j}")).then(
        _plus_days(pl.col(f"__ev{j}"), tr.within_days))
        for j, tr in enumerate(scheme.triggers)]
    stage3 = [pl.min_horizontal(dues).alias("__next")]

    # the code key: bit 0 default tier, bit 1 never visited, bit 2 overdue, then triggers
    trigger_key: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for j in range(len(scheme.triggers)):
        trigger_key = trigger_key + pl.when(pl.col(f"__fired{j}")).then(1 << j).otherwise(0)
    overdue = pl.col("__next") < as_of_lit
    code_key = (pl.when(pl.col("__tier") == len(tiers)).then(1).otherwise(0)
                + pl.when(last_col.is_null()).then(2).otherwise(0)
                + pl.when(overdue).then(4).otherwise(0)).cast(pl.Int64)
    stage4 = [overdue.alias("__overdue"), trigger_key.alias("__tkey"),
              (code_key + trigger_key * 8).alias("__ckey")]
    decided = work.lazy().with_columns(stage1).with_columns(stage2).with_columns(stage3) \
        .with_columns(stage4) \
        .select(ROW, "__ok", "__failed", "__tier", "__next", "__overdue", "__ckey", "__tkey") \
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

    out = decided.with_columns(
        __scored=pl.lit(scored),
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
        pl.when(ok).then(_pick(_trigger_lists(trigger_ids), pl.col("__tkey")))
        .otherwise(pl.lit([], dtype=pl.List(pl.String))).alias("triggers"),
        _pick(_code_lists(len(trigger_ids)), pl.col("__ckey")).alias("reason_codes"),
    )

    step(f"explaining {int(rejected_mask.sum())} rejected households", 3, STEPS)
    # the rejected rows: their reasons, word for word, from the per-record path
    reject_rows, reject_codes = _rejections(scheme, frame, rejected_mask, key, as_of)
    if reject_rows:
        rejected_codes = pl.DataFrame({
            "row": [r["row"] for r in reject_rows],
            "__rcodes": pl.Series(reject_codes, dtype=pl.List(pl.String))})
        out = out.join(rejected_codes, on="row", how="left", maintain_order="left") \
            .with_columns(pl.when(pl.col("status") == SCORED).then(pl.col("reason_codes"))
                          .otherwise(pl.col("__rcodes")).alias("reason_codes")) \
            .drop("__rcodes")
    ref = scheme.ref
    out = out.with_columns(pl.lit(ref.id).alias("policy_id"),
                           pl.lit(ref.version).alias("policy_version"),
                           pl.lit(ref.hash).alias("policy_hash"),
                           pl.lit(as_of, dtype=pl.Date).alias("as_of"))
    inputs = frame.drop(ROW, UNREADABLE)
    inputs = inputs.drop([c for c in inputs.columns if c in out.columns])
    output = pl.concat([inputs, out], how="horizontal") if inputs.width else out
    rejected = pl.DataFrame(reject_rows, schema={
        "input": pl.String, "row": pl.Int64, "id": pl.String, "field": pl.String,
        "reason_code": pl.String, "reason": pl.String,
        "reason_codes": pl.List(pl.String), "reasons": pl.List(pl.String)})
    step("totalling caseloads", 4, STEPS)
    details = _caseload(scheme, out.filter(pl.col("status") == SCORED), as_of)
    step("done", STEPS, STEPS)
    result = BatchResult("visits", ref, as_of, output, rejected, details, n,
                         f"Care visits as of {as_of} — {ref}")
    return result


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
    dtype = pl.List(pl.String) if values and isinstance(values[0], list) else pl.String
    return pl.lit(pl.Series(values, dtype=dtype)).gather(index)


def _code_lists(n_triggers: int) -> list[list[str]]:
    """Every key's reason codes (see ``score_visits``): 8 << n_triggers lists."""
    lists = []
    for k in range(8 << n_triggers):
        codes = ["DEFAULT_TIER" if k & 1 else "TIER_MATCHED",
                 "NEVER_VISITED" if k & 2 else "CADENCE"]
        codes += ["TRIGGER"] * bin(k >> 3).count("1")
        if k & 4:
            codes.append("OVERDUE")
        lists.append(codes)
    return lists


def _trigger_lists(ids: list[str]) -> list[list[str]]:
    return [[t for i, t in enumerate(ids) if k >> i & 1] for k in range(1 << len(ids))]


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
    rows = [c.to_row() for c in loads.values()]
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


