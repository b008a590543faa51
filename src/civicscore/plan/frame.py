"""Frame ops: steps over every row of a run at once, after the row plan.

Row ops (``plan.ops``) see one row; a frame op sees them all. Each is
implemented once per backend here: over Python rows (the per-record path's
decisions) and over a polars frame (batch), and both give the same Python
value, so what follows (caseload totals, say) is one function for both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .ops import round_div

if TYPE_CHECKING:  # polars is the optional batch extra: imported where batch runs
    import polars as pl


@dataclass(frozen=True, slots=True)
class RatedSum:
    """Per group: the exact sum over its rows of ``rates[value of column]`` (each rate an
    exact non-negative fraction), rounded once, ROUND_HALF_UP, to ``places`` decimal
    places, as a whole number of units of ``10**-places`` (``0.75`` at one place is
    ``8``). Every value of the column must have a rate (a null adds nothing). Visits
    owed per month by the households of a liaison, each owing its tier's rate, say.

    The sum is kept exact by putting every rate over one common denominator
    (``common``): the group's sum is then the integer ``numerator`` of each row's value,
    summed, over ``common``; nothing is rounded before the one rounding."""

    column: str
    rates: tuple[tuple[Any, Fraction], ...]
    places: int
    common: int = field(init=False)
    numerators: Mapping[Any, int] = field(init=False, hash=False, compare=False)

    def __post_init__(self) -> None:
        if any(r < 0 for _, r in self.rates) or self.places < 0:
            raise ValueError("rates are non-negative and places a whole number >= 0")
        common = math.lcm(*(r.denominator for _, r in self.rates)) if self.rates else 1
        object.__setattr__(self, "common", common)
        object.__setattr__(self, "numerators", {
            v: r.numerator * (common // r.denominator) for v, r in self.rates})

    def units(self, numerator: int) -> int:
        """``numerator / common`` rounded ROUND_HALF_UP to ``places`` places, in units."""
        rounded = round_div(numerator * 10 ** self.places, self.common, "half_up")
        assert rounded is not None
        return rounded

    def of_counts(self, counts: Mapping[Any, int]) -> int:
        """The rounded sum of a group that has ``counts[value]`` rows of each value."""
        numerators = self.numerators
        return self.units(sum(n * numerators[v] for v, n in counts.items()))


@dataclass(frozen=True, slots=True)
class GroupCount:
    """Per distinct value of the ``keys`` columns: how many rows have it, the sum of
    each of the ``sums`` columns (booleans count as 0 or 1) over those rows, and each
    :class:`RatedSum` of ``rated``. The groups come out as a dict ``key tuple -> (rows,
    *sums, *rated)``; its order is not part of the meaning. A null key is a key like
    any other value (a group of its own); a null in a summed column adds nothing.
    Caseload per liaison, for instance."""

    keys: tuple[str, ...]
    sums: tuple[str, ...] = ()
    rated: tuple[RatedSum, ...] = ()


Groups = dict[tuple[Any, ...], tuple[int, ...]]


def group_count_rows(op: GroupCount, rows: Iterable[tuple[Any, ...]]) -> Groups:
    """:class:`GroupCount` over Python rows, each the tuple ``(*keys, *sums, *rated
    columns)``."""
    n, s = len(op.keys), len(op.sums)
    out: dict[tuple[Any, ...], tuple[list[int], list[dict[Any, int]]]] = {}
    for row in rows:
        key = row[:n]
        group = out.get(key)
        if group is None:
            group = out[key] = ([0] * (1 + s), [{} for _ in op.rated])
        totals, values = group
        totals[0] += 1
        for i, v in enumerate(row[n:n + s], start=1):
            if v is not None:
                totals[i] += int(v)
        for counts, v in zip(values, row[n + s:], strict=True):
            if v is not None:
                counts[v] = counts.get(v, 0) + 1
    return {k: (*t, *(r.of_counts(c) for r, c in zip(op.rated, v, strict=True)))
            for k, (t, v) in out.items()}


#: Row names of :func:`group_count_table`'s columns after the keys.
ROWS = "__rows"


def sum_name(i: int) -> str:
    return f"__sum{i}"


def rated_name(i: int) -> str:
    return f"__rated{i}"


def group_count_table(op: GroupCount, frame: pl.DataFrame) -> pl.DataFrame:
    """:class:`GroupCount` over a polars frame, as a frame: the ``keys`` columns, then
    ``__rows``, ``__sum0``, ... and ``__rated0``, ... (Int64), one row per group, in no
    particular order. One group_by; a rated sum is the Int128 sum of the rows' numerators,
    rounded in the same integers as :meth:`RatedSum.units` (``plan.polars.round_div``),
    unless it could overflow even Int128 (rates over a huge common denominator): then
    the rows are counted per value and :meth:`RatedSum.of_counts` totals each group."""
    import polars as pl

    from .polars import round_div as round_div_column

    keys = list(op.keys)
    exact: list[tuple[int, RatedSum]] = []
    counted: list[tuple[int, RatedSum]] = []
    for i, r in enumerate(op.rated):
        top = max(r.numerators.values(), default=0)
        fits = 2 * frame.height * top * 10 ** r.places + r.common < 2 ** 126 \
            and frame.height * top * 10 ** r.places // r.common < 2 ** 62
        (exact if fits else counted).append((i, r))
    # each row's numerators first, then one group_by of plain sums (an expression per
    # group inside the aggregation costs more than the column it would save)
    table = frame.lazy().with_columns(
        pl.col(r.column).replace_strict(
            pl.Series([v for v, _ in r.rates], dtype=frame.schema[r.column]),
            pl.Series([r.numerators[v] for v, _ in r.rates], dtype=pl.Int128),
            return_dtype=pl.Int128).alias(rated_name(i)) for i, r in exact
    ).group_by(keys).agg(
        pl.len().cast(pl.Int64).alias(ROWS),
        *(pl.col(s).cast(pl.Int64).sum().alias(sum_name(i)) for i, s in enumerate(op.sums)),
        *(pl.col(rated_name(i)).sum() for i, _ in exact),
    ).with_columns(
        round_div_column(pl.col(rated_name(i)) * 10 ** r.places, r.common, "half_up")
        .alias(rated_name(i)) for i, r in exact
    ).collect()
    for i, r in counted:
        per_value = frame.lazy().filter(pl.col(r.column).is_not_null()) \
            .group_by([*keys, r.column]).agg(pl.len().alias("n")) \
            .group_by(keys).agg(r.column, "n").collect()
        units = pl.Series(rated_name(i), [
            r.of_counts(dict(zip(values, ns, strict=True)))
            for values, ns in zip(per_value[r.column].to_list(), per_value["n"].to_list(),
                                  strict=True)], dtype=pl.Int64)
        table = table.join(per_value.select(keys).with_columns(units), on=keys,
                           how="left", nulls_equal=True) \
            .with_columns(pl.col(rated_name(i)).fill_null(0))  # only nulls: a sum of 0
    return table.select(*keys, ROWS, *(sum_name(i) for i in range(len(op.sums))),
                        *(rated_name(i) for i in range(len(op.rated))))


def group_count_frame(op: GroupCount, frame: pl.DataFrame) -> Groups:
    """:class:`GroupCount` over a polars frame with those columns, as the dict
    :func:`group_count_rows` gives (from :func:`group_count_table`)."""
    n = len(op.keys)
    return {row[:n]: row[n:] for row in group_count_table(op, frame).iter_rows()}
