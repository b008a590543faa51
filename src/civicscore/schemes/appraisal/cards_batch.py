"""Several scorecards, or a quota per cohort, in batch: the cohorts of ``cards``.

The frame is routed in columns (``_route``): each scorecard's ``applies_to`` is a
one-step plan (``PlanExpr``) run by the polars backend over the facts it reads,
coerced by ``batch.frames`` as ``records.py`` coerces them; the ids and the
cohort facts are coerced the same way, and the first row of every id is a window
over the routed rows. Every cohort (a scorecard, and the values of its
``cohort_by``) is then decided by its scorecard's own batch engine
(``batch.score_appraisal``: the plan as one polars query, the quota as the frame
op) on the cohort's rows, which keep their numbers in the whole input
(``batch.frames.Numbered``). The rows no cohort holds (few: no scorecard or two, a
duplicate, a cohort value missing or refused) are routed again and decided by the
per-record path (``Scorecards.routes``' function, ``decide_routed``). The frames
are put back together in input order, so they equal the per-record run's rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import polars as pl

from ...batch.frames import (
    ROW,
    UNREADABLE,
    Numbered,
    coerce_columns,
    coerce_id,
    read_source,
)
from ...batch.result import BatchResult
from ...expr import Expression, FunctionTable
from ...expr.ir import Name, walk
from ...plan.ops import Expr as PlanExpr
from ...plan.ops import Input, Let, Plan
from ...plan.polars import compile_later
from ...policy.compile import ensure_in_effect
from ..base import REJECT_COLUMNS, reject_row
from .batch import REJECT_SCHEMA, AppraisalBatchResult, score_appraisal
from .cards import Scorecards, _sid
from .scheme import AppraisalScheme

STR_LIST = pl.List(pl.String)


def _records(frame: pl.DataFrame) -> list[tuple[int, Any]]:
    """(row, record) of every row, as the per-record path reads them (an unreadable row
    as the marker the router passes to its scorecard)."""
    out: list[tuple[int, Any]] = []
    for record in frame.iter_rows(named=True):
        row = record.pop(ROW)
        bad = record.pop(UNREADABLE, None)
        out.append((row, None if bad is not None
                    else {f: v for f, v in record.items() if v is not None}))
    return out


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    """List(Categorical) reasons as List(String), so that frames of parts concatenate."""
    return frame.with_columns(pl.col(c).cast(STR_LIST) for c, t in frame.schema.items()
                              if isinstance(t, pl.List) and t.inner == pl.Categorical)


_R = "__route."


def _applies(c: AppraisalScheme, expr: Expression, frame: pl.DataFrame,
             as_of: dt.date) -> pl.Series:
    """Where ``expr`` (a scorecard's ``applies_to``) holds: every fact it reads usable
    (coerced as the scorecard declares it) and the condition true (an error or a null
    is not true), run as a one-step plan by the polars backend."""
    types = {n.name: n.type for n in walk(expr.node) if isinstance(n, Name)}
    if any(name not in c.facts for name in types):
        return pl.Series([False] * frame.height, dtype=pl.Boolean)
    coerced = coerce_columns(frame, {name: c.facts[name] for name in types})
    plan = Plan(tuple(Input(name, t) for name, t in types.items()),
                (Let("$applies", PlanExpr(expr.node)),), ("$applies",))
    work = pl.DataFrame({f"__v{j}": coerced[name].value for j, name in enumerate(types)},
                        height=frame.height)
    inputs = {name: pl.col(f"__v{j}") for j, name in enumerate(types)}
    compiled = compile_later(plan, c.functions or FunctionTable(), prefix=_R)
    held = compiled.apply(work.lazy(), inputs).select(
        (pl.col(_R + "$applies") == True).fill_null(False)).collect().to_series()  # noqa: E712
    for name in types:
        held = held & coerced[name].code.is_null()
    return held


def _route(scheme: Scorecards, frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Per row, as ``Scorecards.routes`` routes it: ``card`` (an index; null where none
    or two apply), ``alone`` (decided by the per-record path: no card, a duplicate of
    an earlier routed row, a cohort value missing or refused) and ``__k<j>``, the
    values of its scorecard's ``cohort_by``."""
    unreadable = frame[UNREADABLE].is_not_null()
    held = {f"__h{k}": _applies(c, e, frame, as_of)
            for k, (c, e) in enumerate(zip(scheme.cards, scheme.applies, strict=True))
            if e is not None}
    hits = pl.DataFrame(held, height=frame.height)
    count = pl.sum_horizontal(pl.col(n).cast(pl.Int32) for n in held) if held else pl.lit(0)
    card: pl.Expr = pl.lit(None, dtype=pl.Int32)
    for name in held:
        card = pl.when(pl.col(name)).then(pl.lit(int(name[3:]), pl.Int32)).otherwise(card)
    card = pl.when(count == 1).then(card)
    if scheme.default is not None:
        card = pl.when(count == 0).then(pl.lit(scheme.default, pl.Int32)).otherwise(card)
    sid = coerce_id(frame, "subject_id", missing_ok=True)
    routed = hits.select(card.alias("card")).to_series()
    routed = pl.select(pl.when(pl.lit(unreadable)).then(pl.lit(0, pl.Int32))
                       .otherwise(pl.lit(routed))).to_series().alias("card")
    sid_ok = ~unreadable & sid.code.is_null() & sid.value.is_not_null() & (sid.value != "")
    width = max((len(scheme._cohort_by(c)) for c in scheme.cards), default=0)
    keys: dict[str, pl.Series] = {f"__k{j}": pl.Series([None] * frame.height, dtype=pl.String)
                                  for j in range(width)}
    unplaced = pl.Series([False] * frame.height, dtype=pl.Boolean)
    for k, c in enumerate(scheme.cards):
        names = scheme._cohort_by(c)
        if not names:
            continue
        mine = (routed == k).fill_null(False) & ~unreadable
        coerced = coerce_columns(frame, {name: c.facts[name] for name in names})
        for j, name in enumerate(names):
            value = coerced[name].value.cast(pl.String)
            keys[f"__k{j}"] = pl.select(pl.when(pl.lit(mine)).then(pl.lit(value))
                                        .otherwise(pl.lit(keys[f"__k{j}"]))).to_series()
            unplaced = unplaced | (mine & coerced[name].code.is_not_null())
    out = pl.DataFrame({ROW: frame[ROW], "card": routed, "sid": sid.value,
                        "sid_ok": sid_ok, "unplaced": unplaced, **keys})
    key = pl.when(pl.col("card").is_not_null() & pl.col("sid_ok")).then(pl.col("sid"))
    first = pl.when(key.is_not_null()).then(pl.col(ROW).first().over(key))
    return out.with_columns(first=first).with_columns(
        alone=pl.col("card").is_null() | pl.col("unplaced")
        | (pl.col("sid_ok") & pl.col("card").is_not_null()
           & (pl.col("first") != pl.col(ROW))).fill_null(False))


def score_scorecards(scheme: Scorecards, source: Any, *, as_of: dt.date,
                     **extra: Any) -> BatchResult:
    """Appraise every subject of ``source``, each cohort by its scorecard."""
    ensure_in_effect(scheme.model, scheme.ref, as_of)
    frame = read_source(source)
    routes = _route(scheme, frame, as_of)
    key_columns = [c for c in routes.columns if c.startswith("__k")]
    placed = routes.filter(~pl.col("alone"))
    results: list[tuple[int, BatchResult]] = []
    for (k, *_), rows in placed.group_by(["card", *key_columns], maintain_order=True):
        sub = frame.filter(pl.col(ROW).is_in(rows[ROW].implode()))
        results.append((int(k), score_appraisal(scheme.cards[int(k)], Numbered(sub),
                                                  as_of=as_of)))
    if not results:  # every row decided alone: an empty part gives the frames' schemas
        results.append((0, score_appraisal(scheme.cards[0], Numbered(frame.head(0)),
                                           as_of=as_of)))
    rejected = [_plain(result.rejected) for _, result in results]
    decided = []
    alone = routes.filter(pl.col("alone"))
    firsts = dict(zip(alone[ROW].to_list(), alone["first"].to_list(), strict=True))
    for row, record in _records(frame.filter(pl.col(ROW).is_in(alone[ROW].implode()))):
        route = scheme.routes([(row, record)])[0]
        first = firsts[row]
        if first is not None and first != row:
            route = replace(route, first=first)
        seen = {} if route.first is None else {_sid_of(scheme, row, record): route.first}
        decided.append(scheme.decide_routed(row, record, route, as_of, seen))
    if decided:
        rejects = [reject_row("subjects", d.row, d.subject_id, d.reason_codes,
                           [r.message for r in d.reasons]) for d in decided]
        rejected.append(pl.DataFrame({c: [r[c] for r in rejects] for c in REJECT_COLUMNS},
                                     schema=REJECT_SCHEMA))
    reject = pl.concat([r.select(REJECT_COLUMNS).cast(dict(REJECT_SCHEMA))  # type: ignore[arg-type]
                        for r in rejected],
                       how="vertical").sort("row", maintain_order=True)

    def output() -> pl.DataFrame:
        """Every cohort's decisions, then those decided alone, in row order: built on
        first read, as one scorecard's are (their reasons are most of the run's cost)."""
        outputs = []
        for k, result in results:
            out = _plain(result.output)
            if scheme.several:
                out = out.with_columns(scorecard=pl.lit(scheme.cards[k].card_id, pl.String))
            outputs.append(out)
        if decided:
            schema = outputs[0].schema
            shaped = [d.to_row() for d in decided]
            outputs.append(pl.DataFrame({c: [r[c] for r in shaped] for c in schema},
                                        schema=schema))
        return pl.concat(outputs, how="vertical").sort("row", maintain_order=True)

    def details() -> pl.DataFrame:
        return pl.concat([_plain(result.details) for _, result in results],
                         how="vertical").sort("row", maintain_order=True)

    scored = sum(result.scored_count for _, result in results) + sum(
        not d.rejected for d in decided)
    return AppraisalBatchResult("appraisal", scheme.ref, as_of, output,  # type: ignore[arg-type]
                                reject, details, frame.height,  # type: ignore[arg-type]
                                scored_rows=scored)


def _sid_of(scheme: Scorecards, row: int, record: Any) -> str:
    sid = _sid(row, record)
    assert sid is not None  # a duplicate has an id
    return sid
