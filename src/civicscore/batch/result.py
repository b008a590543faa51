"""What a batch run returns: frames, not per-row Python objects.

One output, any engine (a team-wide contract): ``output`` has exactly the
columns, in order, and the values of the per-record run's ``output_rows()``
(lists as List(String), dates as Date, ints as Int64, floats as Float64,
``reasons`` included, as List(Categorical): ``plan.words.reasons_dtype``), and no
raw input column; ``details`` likewise equals ``detail_rows()``; ``rejected`` has
exactly the columns of ``schemes.base.REJECT_COLUMNS`` with the values of
``rejected_rows()``. The
command line writes ``output`` as its main output and ``details`` for
``--details``, for every scheme, through the same writer as the per-record
run (``io.write_frame``), so ``--engine`` changes the speed, never a byte.

Rows are conserved: ``rows_in == scored + rejected``, checked on construction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..plan.words import compact_reasons
from ..records import UnreadableRow
from ..results import PolicyRef
from ..schemes.base import (
    REJECT_COLUMNS,
    TABLE_ROWS,
    Column,
    Presenter,
    Table,
    presenter_of,
)
from .frames import ROW, UNREADABLE

#: The frames of a result whose ``reasons`` column is typed ``plan.words.reasons_dtype``.
FRAMES = ("output", "details", "rejected")


class _Compact:
    """A subclass's lazy frame (a descriptor that builds it on first read), read with its
    ``reasons`` typed ``reasons_dtype``: a scheme that words them as List(String)
    still gives the one type every scheme's frames carry."""

    def __init__(self, name: str, inner: Any) -> None:
        self.name, self.inner = name, inner

    def __get__(self, result: Any, owner: type | None = None) -> Any:
        frame = self.inner.__get__(result, owner)
        if result is not None and isinstance(frame, pl.DataFrame):
            compact = compact_reasons(frame, result.categorical_reasons)
            if compact is not frame:  # cast once, kept where the descriptor keeps it
                self.inner.__set__(result, compact)
                frame = compact
        return frame

    def __set__(self, result: Any, value: Any) -> None:
        self.inner.__set__(result, value)


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
    #: The compiled scheme that made this result (set by ``BatchEngine.batch``): its
    #: presenter words the summary and the table, as for the per-record run.
    shown_by: Any = field(default=None, repr=False, compare=False)
    #: The ``reasons`` of its frames as List(Categorical) (``plan.words.reasons_dtype``),
    #: or List(String) for a scheme whose sentences are nearly all distinct.
    categorical_reasons: bool = field(default=True, repr=False, compare=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in FRAMES:
            inner = cls.__dict__.get(name)
            if hasattr(inner, "__get__") and hasattr(inner, "__set__") \
                    and not isinstance(inner, _Compact):
                setattr(cls, name, _Compact(name, inner))

    def __post_init__(self) -> None:
        self._compact_frames()
        scored = self.scored_count
        if scored + self.rejected.height != self.rows_in:  # pragma: no cover - a bug
            raise AssertionError(f"row conservation broken: {self.rows_in} rows in, {scored} "
                                 f"scored + {self.rejected.height} rejected")

    def _compact_frames(self, names: tuple[str, ...] = FRAMES) -> None:
        """Type the ``reasons`` of the frames given built (a lazy one is typed when it is
        built): a subclass with its own ``__post_init__`` calls this too."""
        for name in names:
            frame = self.__dict__.get(name)
            if isinstance(frame, pl.DataFrame):
                self.__dict__[name] = compact_reasons(frame, self.categorical_reasons)

    @property
    def scored_count(self) -> int:
        return int((self.output["status"] == "scored").sum()) if self.output.height else 0

    def cli_frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """What ``civicscore score`` writes as its output and as ``--details``: ``output``
        and ``details``, which equal the per-record run's output and detail rows."""
        return self.output, self.details

    # -- the SchemeRun protocol (used by the CLI) ---------------------------------------
    def output_rows(self) -> Iterator[dict[str, Any]]:
        return self.output.iter_rows(named=True)

    def detail_rows(self) -> Iterator[dict[str, Any]]:
        return self.details.iter_rows(named=True)

    def rejected_rows(self) -> list[dict[str, Any]]:
        """The rejected rows with exactly ``REJECT_COLUMNS`` (extra columns a scheme's
        frame may still carry are not part of the output)."""
        if not self.rejected.width:
            return []
        return self.rejected.select(REJECT_COLUMNS).to_dicts()

    def summary(self, shown: Presenter | None = None) -> str:
        """The summary line, as the per-record run of the same records words it (by
        ``shown``, by default the presenter of the scheme that made this result)."""
        shown = shown or presenter_of(self.shown_by)
        return shown.summary(rows_in=self.rows_in, output=_column(self.output),
                             details=_column(self.details),
                             detail_names=self.details.columns,
                             rejected=self.rejected_rows(), policy=self.policy,
                             as_of=self.as_of)

    def table(self) -> Table:
        """The table ``--format table`` prints, as the per-record run shows it."""
        return presenter_of(self.shown_by).table(
            self.output.head(TABLE_ROWS).iter_rows(named=True), total=self.output.height,
            policy=self.policy, as_of=self.as_of)

    def write(self, frame: pl.DataFrame, target: str | Path | None, kind: str) -> None:
        """Write a frame as the per-record run writes the same rows (``io.write_rows``):
        CSV with lists joined by '; ', JSON (an array), JSON Lines or Parquet."""
        from ..io import write_frame

        write_frame(frame, target, kind)


def _column(frame: pl.DataFrame) -> Column:
    """A presenter's view of a frame: one column's values at a time (none of an empty
    frame, which may have no columns at all)."""
    return lambda name: frame[name].to_list() if frame.height else []


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
    Returns the ``rejected`` frame's rows, with exactly the columns of
    ``REJECT_COLUMNS`` (as ``rejected_rows()`` of the per-record run), and each
    row's reason codes.
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
        values = (kind, row, ident(d), list(d.reason_codes), [r.message for r in d.reasons])
        rows.append(dict(zip(REJECT_COLUMNS, values, strict=True)))
        codes.append(list(d.reason_codes))
    return rows, codes
