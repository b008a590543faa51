"""Frame ops: steps over every row of a run at once, after the row plan.

Row ops (``plan.ops``) see one row; a frame op sees them all. Each is
implemented once per backend here: over Python rows (the per-record path's
decisions) and over a polars frame (batch), and both give the same Python
value, so what follows (caseload totals, say) is one function for both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # polars is the optional batch extra: imported where batch runs
    import polars as pl


@dataclass(frozen=True, slots=True)
class GroupCount:
    """Per distinct value of the ``keys`` columns: how many rows have it, and the sum of
    each of the ``sums`` columns (booleans count as 0 or 1) over those rows. The groups
    come out as a dict ``key tuple -> (rows, *sums)``; its order is not part of the
    meaning. A null key is a key like any other value (a group of its own); a null in
    a summed column adds nothing. Caseload per liaison and tier, for instance."""

    keys: tuple[str, ...]
    sums: tuple[str, ...] = ()


Groups = dict[tuple[Any, ...], tuple[int, ...]]


def group_count_rows(op: GroupCount, rows: Iterable[tuple[Any, ...]]) -> Groups:
    """:class:`GroupCount` over Python rows, each the tuple ``(*keys, *sums)``."""
    n = len(op.keys)
    out: dict[tuple[Any, ...], list[int]] = {}
    for row in rows:
        key = row[:n]
        totals = out.get(key)
        if totals is None:
            totals = out[key] = [0] * (1 + len(op.sums))
        totals[0] += 1
        for i, v in enumerate(row[n:], start=1):
            if v is not None:
                totals[i] += int(v)
    return {k: tuple(v) for k, v in out.items()}


def group_count_frame(op: GroupCount, frame: pl.DataFrame | pl.LazyFrame) -> Groups:
    """:class:`GroupCount` over a polars frame with those columns (one group_by)."""
    import polars as pl

    counted = frame.lazy().group_by(list(op.keys)).agg(
        pl.len().alias("__rows"),
        *(pl.col(s).cast(pl.Int64).sum().alias(f"__sum{i}") for i, s in enumerate(op.sums))
    ).collect()
    n = len(op.keys)
    return {row[:n]: tuple(int(v) for v in row[n:]) for row in counted.iter_rows()}
