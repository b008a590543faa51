"""Several scorecards, or a quota per cohort, in batch: the cohorts of ``cards``.

The frame is routed row by row by ``Scorecards.routes`` (the per-record function:
a condition of a few facts per row), then every cohort (a scorecard, and the values
of its ``cohort_by``) is decided by its scorecard's own batch engine
(``batch.score_appraisal``: the plan as one polars query, the quota as the frame op)
on the cohort's rows, which keep their numbers in the whole input
(``batch.frames.Numbered``). The rows the router rejects, the duplicates and the
rows without a cohort (few) are decided by the per-record path. The frames are
put back together in input order, so they equal the per-record run's rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from ...batch.frames import ROW, UNREADABLE, Numbered, read_source
from ...batch.result import BatchResult
from ...policy.compile import ensure_in_effect
from ..base import REJECT_COLUMNS, reject_row
from .batch import REJECT_SCHEMA, score_appraisal
from .cards import Scorecards, _sid

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


def score_scorecards(scheme: Scorecards, source: Any, *, as_of: dt.date,
                     **extra: Any) -> BatchResult:
    """Appraise every subject of ``source``, each cohort by its scorecard."""
    ensure_in_effect(scheme.model, scheme.ref, as_of)
    frame = read_source(source)
    pairs = _records(frame)
    routes = scheme.routes(pairs)
    parts: dict[tuple[int, tuple[Any, ...]], list[int]] = {}
    alone: list[int] = []
    for i, route in enumerate(routes):
        if route.alone:
            alone.append(i)
        else:
            assert route.card is not None
            parts.setdefault((route.card, route.key), []).append(pairs[i][0])
    results: list[tuple[int, BatchResult]] = []
    for (k, _), rows in parts.items():
        sub = frame.filter(pl.col(ROW).is_in(rows))
        results.append((k, score_appraisal(scheme.cards[k], Numbered(sub), as_of=as_of)))
    if not results:  # every row decided alone: an empty part gives the frames' schemas
        results.append((0, score_appraisal(scheme.cards[0], Numbered(frame.head(0)),
                                           as_of=as_of)))
    outputs, details, rejected = [], [], []
    for k, result in results:
        out = _plain(result.output)
        if scheme.several:
            out = out.with_columns(scorecard=pl.lit(scheme.cards[k].card_id, pl.String))
        outputs.append(out)
        details.append(_plain(result.details))
        rejected.append(_plain(result.rejected))
    decided = []
    for i in alone:
        row, record = pairs[i]
        route = routes[i]
        first = route.first
        seen = {} if first is None else {_sid_of(scheme, row, record): first}
        decided.append(scheme.decide_routed(row, record, route, as_of, seen))
    if decided:
        schema = outputs[0].schema
        shaped = [d.to_row() for d in decided]
        outputs.append(pl.DataFrame({c: [r[c] for r in shaped] for c in schema},
                                    schema=schema))
        rejects = [reject_row("subjects", d.row, d.subject_id, d.reason_codes,
                           [r.message for r in d.reasons]) for d in decided]
        rejected.append(pl.DataFrame({c: [r[c] for r in rejects] for c in REJECT_COLUMNS},
                                     schema=REJECT_SCHEMA))
    output = pl.concat(outputs, how="vertical").sort("row", maintain_order=True)
    detail = pl.concat(details, how="vertical").sort("row", maintain_order=True)
    reject = pl.concat([r.select(REJECT_COLUMNS).cast(dict(REJECT_SCHEMA))  # type: ignore[arg-type]
                        for r in rejected],
                       how="vertical").sort("row", maintain_order=True)
    return BatchResult("appraisal", scheme.ref, as_of, output, reject, detail, frame.height,
                       categorical_reasons=False)


def _sid_of(scheme: Scorecards, row: int, record: Any) -> str:
    sid = _sid(row, record)
    assert sid is not None  # a duplicate has an id
    return sid
