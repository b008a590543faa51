"""Frame ops over a cohort: rank within a group with a stated tie rule, and a quota.

Like :class:`~civicscore.plan.frame.GroupCount`, each op is a frozen statement of
its meaning, implemented once over Python rows (mappings, in input order) and
once over a polars frame; both give the same values, so what a scheme does with
them is one function for both engines. Neither knows any scheme.

Ordering, fixed here once for both implementations:

* rows are ordered by the ``by`` keys in turn, each ascending or descending;
* a null sorts after every value, in either direction (and a float NaN counts
  as a null; ``-0.0`` equals ``0.0``);
* strings order by code point (polars orders UTF-8 bytes: the same order);
* rows still equal on every key are *tied*, and the ``ties`` rule says what
  they get: ``"first"`` -- distinct ranks in input order (the earlier row
  first); ``"min"`` -- every tied row the lowest rank of the tie (1, 2, 2, 4);
  ``"dense"`` -- the lowest rank of the tie, with no gaps (1, 2, 2, 3).

Ranks are 1-based within each group (the rows with the same values of the
``keys`` columns; a null key is a group like any other), and only rows where
the ``where`` column is true are ranked (the others have no rank: None).
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # polars is the optional batch extra: imported where batch runs
    import polars as pl

TIES = ("first", "min", "dense")
ROUNDINGS = ("floor", "ceil", "round_half_up")


@dataclass(frozen=True, slots=True)
class SortKey:
    """One key of an order: a column, ascending unless ``descending``."""

    column: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Rank:
    """The 1-based rank of each row of ``where`` (every row when None) within its group
    of ``keys``, ordered by ``by`` (see the module docstring), ties by ``ties``."""

    by: tuple[SortKey, ...]
    keys: tuple[str, ...] = ()
    where: str | None = None
    ties: str = "first"

    def __post_init__(self) -> None:
        if self.ties not in TIES:
            raise ValueError(f"unknown tie rule {self.ties!r}: one of {', '.join(TIES)}")


@dataclass(frozen=True, slots=True)
class Quota:
    """At most ``k = rounding(share x n)`` of a cohort keep a place, per group of
    ``rank.keys``: ``n`` counts the rows of the group where ``cohort`` is true (every
    row when None), ``share`` is taken at its shortest spelling (0.7 x 10 is exactly 7)
    and ``rounding`` is ``floor``, ``ceil`` or ``round_half_up``. The candidates (the
    rows of ``rank.where``) are ranked by ``rank``; a candidate keeps its place where
    its rank is at most ``k`` (so with ties ``"min"`` or ``"dense"`` a tie at the cut
    keeps every tied row). Gives each row its rank (None if not a candidate) and
    whether it kept (None if not a candidate), and per group ``(n, candidates, k)``."""

    rank: Rank
    share: float | Decimal
    rounding: str = "floor"
    cohort: str | None = None

    def __post_init__(self) -> None:
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"unknown rounding {self.rounding!r}: one of "
                             f"{', '.join(ROUNDINGS)}")
        if not 0 <= _share(self.share) <= 1:
            raise ValueError(f"a share is between 0 and 1, not {self.share}")


def _share(share: float | Decimal) -> Decimal:
    return share if isinstance(share, Decimal) else Decimal(repr(float(share)))


def places(share: float | Decimal, n: int, rounding: str) -> int:
    """``rounding(share x n)`` on decimals (the share at its shortest spelling)."""
    mode = {"floor": decimal.ROUND_FLOOR, "ceil": decimal.ROUND_CEILING,
            "round_half_up": decimal.ROUND_HALF_UP}[rounding]
    exact = _share(share) * n
    return int(exact.quantize(Decimal(1), rounding=mode,
                              context=decimal.Context(prec=decimal.MAX_PREC)))


Groups = dict[tuple[Any, ...], tuple[int, int, int]]


@dataclass(frozen=True)
class QuotaRows:
    """:class:`Quota` over Python rows: per row, in input order, and per group."""

    rank: list[int | None]
    kept: list[bool | None]
    groups: Groups


# --- over Python rows ----------------------------------------------------------------


def _value(v: Any) -> Any:
    """A sort value: NaN is null; -0.0 is 0.0 (a float's sign of zero orders nothing)."""
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return v + 0.0
    return v


def _true(v: Any) -> bool:
    return v is True


def rank_rows(op: Rank, rows: Sequence[Mapping[str, Any]]) -> list[int | None]:
    """:class:`Rank` over Python rows (each a mapping with the columns it reads)."""
    out: list[int | None] = [None] * len(rows)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, row in enumerate(rows):
        if op.where is None or _true(row[op.where]):
            groups.setdefault(tuple(_value(row[k]) for k in op.keys), []).append(i)
    for members in groups.values():
        order = list(members)  # input order: a stable sort keeps it among ties
        for key in reversed(op.by):
            values = {i: _value(rows[i][key.column]) for i in order}
            present = [i for i in order if values[i] is not None]
            absent = [i for i in order if values[i] is None]
            present.sort(key=lambda i: values[i], reverse=key.descending)
            order = present + absent  # nulls last either way
        previous: tuple[Any, ...] | None = None
        rank = dense = 0
        for position, i in enumerate(order, start=1):
            current = tuple(_value(rows[i][k.column]) for k in op.by)
            if op.ties == "first" or current != previous:
                rank, dense = position, dense + 1
            out[i] = {"first": position, "min": rank, "dense": dense}[op.ties]
            previous = current
    return out


def quota_rows(op: Quota, rows: Sequence[Mapping[str, Any]]) -> QuotaRows:
    """:class:`Quota` over Python rows."""
    ranks = rank_rows(op.rank, rows)
    counts: dict[tuple[Any, ...], list[int]] = {}
    for i, row in enumerate(rows):
        key = tuple(_value(row[k]) for k in op.rank.keys)
        entry = counts.setdefault(key, [0, 0])
        if op.cohort is None or _true(row[op.cohort]):
            entry[0] += 1
        if ranks[i] is not None:
            entry[1] += 1
    groups = {key: (n, c, places(op.share, n, op.rounding)) for key, (n, c) in counts.items()}
    kept: list[bool | None] = []
    for row, r in zip(rows, ranks, strict=True):
        if r is None:
            kept.append(None)
        else:
            kept.append(r <= groups[tuple(_value(row[k]) for k in op.rank.keys)][2])
    return QuotaRows(ranks, kept, {k: v for k, v in groups.items() if v[0] or v[1]})


# --- over a polars frame ---------------------------------------------------------------

_I = "__rank.i"


def _sortable(frame: pl.LazyFrame, columns: Sequence[str]) -> pl.LazyFrame:
    """Floats with NaN as null and -0.0 as 0.0 (the Python rows' sort values)."""
    import polars as pl

    schema = frame.collect_schema()
    return frame.with_columns(
        (pl.col(c).fill_nan(None) + 0.0).alias(c) for c in dict.fromkeys(columns)
        if schema[c].is_float())


def _ranked(op: Rank, frame: pl.LazyFrame) -> pl.LazyFrame:
    """The candidate rows, by group and order, with ``__rank.i`` (input position) and
    ``__rank`` (the rank)."""
    import polars as pl

    reads = [*op.keys, *(k.column for k in op.by)]
    lazy = _sortable(frame.select(*dict.fromkeys(reads + ([op.where] if op.where else [])))
                     .with_row_index(_I), reads)
    if op.where is not None:
        lazy = lazy.filter(pl.col(op.where).fill_null(False))
    cols = [*op.keys, *(k.column for k in op.by), _I]
    desc = [False] * len(op.keys) + [k.descending for k in op.by] + [False]
    lazy = lazy.sort(cols, descending=desc, nulls_last=True)
    part = list(op.keys)

    def over(e: pl.Expr) -> pl.Expr:
        return e.over(part) if part else e

    position = over(pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    if op.ties == "first":
        return lazy.with_columns(position.alias("__rank"))
    # a row starts a tie where it differs from the row before it (in its group)
    starts: pl.Expr = over(pl.int_range(pl.len(), dtype=pl.Int64)) == 0
    for k in op.by:
        starts = starts | over(pl.col(k.column).ne_missing(pl.col(k.column).shift(1)))
    lazy = lazy.with_columns(position.alias("__pos"), starts.alias("__start"))
    if op.ties == "dense":
        rank = over(pl.col("__start").cast(pl.Int64).cum_sum())
    else:
        rank = over(pl.when(pl.col("__start")).then(pl.col("__pos")).forward_fill())
    return lazy.with_columns(rank.cast(pl.Int64).alias("__rank"))


def rank_frame(op: Rank, frame: pl.DataFrame | pl.LazyFrame) -> pl.Series:
    """:class:`Rank` over a polars frame: an Int64 series ``rank``, one value per row of
    ``frame`` in its order (null where the row is not ranked)."""
    import polars as pl

    lazy = frame.lazy()
    ranked = _ranked(op, lazy).select(_I, "__rank")
    every = lazy.select(pl.len()).collect().item()
    return pl.DataFrame({_I: pl.int_range(every, dtype=pl.UInt32, eager=True)}).lazy() \
        .join(ranked, on=_I, how="left", maintain_order="left") \
        .collect()["__rank"].alias("rank")


def quota_frame(op: Quota, frame: pl.DataFrame | pl.LazyFrame
                ) -> tuple[pl.DataFrame, Groups]:
    """:class:`Quota` over a polars frame: a frame of ``rank`` (Int64) and ``kept``
    (Boolean), one row per row of ``frame`` in its order, and the groups as
    :class:`QuotaRows` gives them."""
    import polars as pl

    lazy = frame.lazy()
    keys = list(op.rank.keys)
    rank = rank_frame(op.rank, lazy)
    counted = _sortable(lazy.with_row_index(_I)
                        .select(_I, *keys, *([op.cohort] if op.cohort else [])), keys) \
        .with_columns(rank.alias("__rank"))
    n = pl.col(op.cohort).fill_null(False).cast(pl.Int64).sum() if op.cohort \
        else pl.len().cast(pl.Int64)
    agg = [n.alias("__n"),
           pl.col("__rank").is_not_null().cast(pl.Int64).sum().alias("__c")]
    table = (counted.group_by(keys).agg(*agg) if keys else counted.select(*agg)).collect()
    groups: Groups = {}
    for row in table.iter_rows():
        key, (n, c) = tuple(row[:len(keys)]), row[len(keys):]
        if n or c:
            groups[key] = (int(n), int(c), places(op.share, int(n), op.rounding))
    limits = pl.DataFrame(
        [[*key, k] for key, (_, _, k) in groups.items()], orient="row",
        schema={**{c: table.schema[c] for c in keys}, "__k": pl.Int64})
    if keys:
        joined = counted.join(limits.lazy(), on=keys, how="left", maintain_order="left",
                              nulls_equal=True)
    else:
        joined = counted.with_columns(
            pl.lit(limits["__k"][0] if limits.height else 0, dtype=pl.Int64).alias("__k"))
    out = joined.select(pl.col("__rank").alias("rank"),
                        pl.when(pl.col("__rank").is_not_null())
                        .then(pl.col("__rank") <= pl.col("__k")).alias("kept")).collect()
    return out, groups
