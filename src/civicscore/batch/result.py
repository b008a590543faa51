"""What a batch run returns: frames, not per-row Python objects.

``output`` has one row per input row, in input order: the input's columns,
then the decision columns (the same names and meanings as the per-record
decision's ``to_row()``, reason codes as a list column, the policy hash).
``rejected`` has one row per rejected input row, with the full reasons, built
by the per-record evaluator itself for just those rows so the messages are
word for word the ones ``explain`` gives. ``details`` holds what the scheme
adds beyond one row per record (caseloads, statements, cohorts).

Rows are conserved: ``rows_in == scored + rejected``, checked on construction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..records import UnreadableRow
from ..results import PolicyRef
from .frames import ROW, UNREADABLE


@dataclass
class BatchResult:
    """The frames of one batch run of one scheme."""

    scheme: str
    policy: PolicyRef
    as_of: dt.date
    output: pl.DataFrame
    rejected: pl.DataFrame
    details: pl.DataFrame
    rows_in: int
    title: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        scored = self.scored_count
        if scored + self.rejected.height != self.rows_in:  # pragma: no cover - a bug
            raise AssertionError(f"row conservation broken: {self.rows_in} rows in, {scored} "
                                 f"scored + {self.rejected.height} rejected")

    @property
    def scored_count(self) -> int:
        return int((self.output["status"] == "scored").sum()) if self.output.height else 0

    def cli_frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """What ``civicscore score`` writes as its output and as ``--details``: the same
        as the per-record run writes (for volunteer points: statements, then records)."""
        if self.scheme == "volunteer":
            return self.details, self.output
        return self.output, self.details

    # -- the SchemeRun protocol (used by the CLI) ---------------------------------------
    def output_rows(self) -> Iterator[dict[str, Any]]:
        return self.output.iter_rows(named=True)

    def detail_rows(self) -> Iterator[dict[str, Any]]:
        return self.details.iter_rows(named=True)

    def rejected_rows(self) -> list[dict[str, Any]]:
        return self.rejected.to_dicts()

    def summary(self) -> str:
        text = (f"{self.scored_count} of {self.rows_in} rows scored, {self.rejected.height} "
                f"rejected (batch, policy {self.policy}, as of {self.as_of})")
        return "; ".join([text, *self.notes])

    def table(self) -> tuple[str, list[str], list[list[str]]]:
        shown = [c for c in ("row", "status", "tier", "stars", "title", "grade", "points",
                             "next_due", "overdue", "reason_codes") if c in self.output.columns]
        rows = [[", ".join(v) if isinstance(v, list) else str(v) for v in r]
                for r in self.output.select(shown).head(1000).iter_rows()]
        return self.title or f"{self.scheme} — {self.policy}", shown, rows

    def write(self, frame: pl.DataFrame, target: str | Path, kind: str) -> None:
        """Write a frame as CSV (lists joined by '; '), JSON Lines or Parquet."""
        if kind == "parquet":
            frame.write_parquet(target)
        elif kind == "csv":
            flat_lists(frame).write_csv(target)
        else:
            frame.write_ndjson(target)


def flat_lists(frame: pl.DataFrame) -> pl.DataFrame:
    """List columns joined by '; ', as the per-record CSV writer writes them."""
    return frame.with_columns(pl.col(c).list.join("; ") for c, t in frame.schema.items()
                              if isinstance(t, pl.List))


def explain_rejected(frame: pl.DataFrame, rejected: pl.Series, seens: Iterable[dict[str, int]],
                     decide: Callable[[int, Any, dict[str, int]], Any], kind: str,
                     ident: Callable[[Any], str]
                     ) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """The rejected rows' reasons, word for word, from the per-record path.

    ``decide(row, record, seen)`` is the scheme's ``decide_one``; ``seens`` gives, per
    rejected row in order, the ids already seen before it (id -> first row), so a
    duplicate is worded as the per-record run words it. The per-record path must
    reject the row too: if it scores it, the two evaluators disagree, which is a bug.
    Returns the ``rejected`` frame's rows and each row's reason codes.
    """
    rows: list[dict[str, Any]] = []
    codes: list[list[str]] = []
    if not rejected.any():
        return rows, codes
    for record, seen in zip(frame.filter(rejected).iter_rows(named=True), seens, strict=True):
        row = record.pop(ROW)
        message = record.pop(UNREADABLE)
        item: Any = UnreadableRow(row, message) if message is not None else \
            {f: v for f, v in record.items() if v is not None}
        d = decide(row, item, seen)
        if not d.rejected:  # pragma: no cover - the two evaluators disagree: a bug
            raise AssertionError(f"row {row}: batch rejected it, per-record scored it "
                                 f"({d.reason_codes})")
        first = d.reasons[0]
        rows.append({"input": kind, "row": row, "id": ident(d), "field": first.rule,
                     "reason_code": first.code, "reason": first.message,
                     "reason_codes": list(d.reason_codes),
                     "reasons": [r.message for r in d.reasons]})
        codes.append(list(d.reason_codes))
    return rows, codes
