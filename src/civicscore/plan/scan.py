"""A segmented scan for caps: a frame op, one implementation per backend, one value.

Caps are sequential by nature: how much of a cap is left for a row depends on
what the rows before it were granted. :class:`CapScan` states that once:

* rows are grouped by ``key`` (a volunteer, say) and taken, within a key, in
  the order of the ``order`` columns (ties in input order: the sort is stable);
* every row has a non-negative integer ``amount`` (fixed-point units: minutes,
  units of ``10**-decimals`` points; a null amount is 0) and belongs, for each
  :class:`Window`, to the segment named by that window's ``keys`` columns
  within its key (its day, ISO week, month, year, activity, ...);
* a window has a ``limit`` column read at each row (an integer, or null for
  "no limit at this row"); what is *left* of a window for a row is
  ``max(limit - used, 0)``, ``used`` being the sum of the grants of the earlier
  rows of the same key and segment;
* the windows are applied in the order given: the amount is reduced to what is
  left of the first window, then of the second, ... ; what remains is the row's
  *grant*, and the grant (not the amount) is what every window's ``used``
  accumulates.

A row that takes no part (a rejected record) is given amount 0: it is granted
0 and uses nothing. The result, per input row and in input order, is the grant
and, per window, what was left of it before the row (null where the window has
no limit at that row): enough for a reason to say "only 2 of the 6 hours
allowed on 2025-03-04 were left; 3 reduced to 2".

Integers only: no float enters, so both backends give the same numbers
(the polars side sums in Int128).

The Python side is the plain sequential loop. The polars side computes the
same value without Python per row: for one window with one limit per segment
the grants telescope, ``min(L, S_i) - min(L, S_{i-1})`` of the running sum
``S`` of the amounts; applied window after window (inner first) that is exact
when the windows nest (day within month within year) and the limits are
constant per segment. That is only a first guess: the sequential result is
the unique fixpoint of one *pass* ``g -> F(g)`` (the grants every row gets
when the earlier rows are taken to have been granted ``g``), because a row's
grant depends only on rows before it. So the guess is checked with a pass and
the keys where it changed are passed again (the first n rows of a key are
final after n passes), which makes crossing windows (week and month, an
activity and the calendar) and limits that change inside a segment exact too.
Keys still changing after ``MAX_PASSES`` are finished by the sequential loop,
on their rows only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # polars is the optional batch extra: imported where batch runs
    import polars as pl

MAX_PASSES = 8
"""Fixpoint passes before the keys still changing are finished sequentially."""


@dataclass(frozen=True, slots=True)
class Window:
    """One cap: its segment within the key (``keys`` columns; none: the whole key) and
    the column of its ``limit`` (an integer or null, read at each row)."""

    keys: tuple[str, ...]
    limit: str


@dataclass(frozen=True, slots=True)
class CapScan:
    """The segmented cap scan (see the module docstring for its meaning)."""

    key: tuple[str, ...]
    order: tuple[str, ...]
    amount: str
    windows: tuple[Window, ...]

    def columns(self) -> list[str]:
        """Every column the scan reads, once each, in a stable order."""
        names = [*self.key, *self.order, self.amount]
        for w in self.windows:
            names += [*w.keys, w.limit]
        return list(dict.fromkeys(names))


#: Per input row: (grant, what was left of each window before it, or None).
Granted = tuple[int, tuple[int | None, ...]]


def cap_scan_rows(op: CapScan, rows: Sequence[Mapping[str, Any]]) -> list[Granted]:
    """:class:`CapScan` over Python rows (mappings with the op's columns), in their order."""
    index = sorted(range(len(rows)), key=lambda i: tuple(rows[i][c] for c in op.order))
    out: list[Granted | None] = [None] * len(rows)
    used: list[dict[tuple[Any, ...], int]] = [{} for _ in op.windows]
    for i in index:
        r = rows[i]
        k = tuple(r[c] for c in op.key)
        segments = [k + tuple(r[c] for c in w.keys) for w in op.windows]
        amount = r[op.amount] or 0
        lefts: list[int | None] = []
        for w, seen, seg in zip(op.windows, used, segments, strict=True):
            limit = r[w.limit]
            if limit is None:
                lefts.append(None)
                continue
            left = max(limit - seen.get(seg, 0), 0)
            lefts.append(left)
            amount = min(amount, left)
        for seen, seg in zip(used, segments, strict=True):
            seen[seg] = seen.get(seg, 0) + amount
        out[i] = (amount, tuple(lefts))
    return [g for g in out if g is not None]


def grant_column(prefix: str) -> str:
    """The name of the grant column :func:`cap_scan_frame` adds."""
    return f"{prefix}grant"


def left_column(prefix: str, i: int) -> str:
    """The name of the column of what was left of window ``i`` before each row."""
    return f"{prefix}left{i}"


def cap_scan_frame(op: CapScan, frame: pl.DataFrame, prefix: str = "__scan.",
                   ordered: bool = False) -> pl.DataFrame:
    """``frame`` with :class:`CapScan`'s grant (Int64, ``grant_column``) and what was left
    of each window (Int64, ``left_column``) added, row for row, in ``frame``'s order.
    ``ordered``: the caller states that the rows are already sorted by key, then order
    (ties as they stand), so no sort is made (a batch sorts its records once)."""
    import polars as pl

    idx = f"{prefix}i"
    a = f"{prefix}a"
    g = f"{prefix}g"
    wide = pl.Int128
    work = frame.select(op.columns()).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(idx),
        pl.col(op.amount).fill_null(0).cast(wide).alias(a))
    if not ordered:
        work = work.sort([*op.key, *op.order], maintain_order=True)
    segments = [[*op.key, *w.keys] for w in op.windows]

    # the first guess: telescoped window by window
    x = pl.col(a)
    for w, seg in zip(op.windows, segments, strict=True):
        work = work.with_columns(x.alias(g))
        s = pl.col(g).cum_sum().over(seg)
        limit = pl.col(w.limit).cast(wide)
        x = pl.when(limit.is_null()).then(pl.col(g)).otherwise(
            pl.min_horizontal(limit, s) - pl.min_horizontal(limit, s - pl.col(g)))
    work = work.with_columns(x.alias(g))

    def one_pass(f: pl.DataFrame) -> pl.DataFrame:
        """F: the grants and lefts when the earlier rows were granted ``g``."""
        lefts = []
        for i, (w, seg) in enumerate(zip(op.windows, segments, strict=True)):
            used = (pl.col(g).cum_sum() - pl.col(g)).over(seg)
            lefts.append((pl.col(w.limit).cast(wide) - used).clip(lower_bound=0)
                         .alias(left_column(prefix, i)))
        f = f.with_columns(lefts)
        grant = pl.min_horizontal(pl.col(a), *(pl.col(left_column(prefix, i))
                                               for i in range(len(op.windows))))
        return f.with_columns(grant.alias(f"{g}'"))

    done: list[pl.DataFrame] = []
    active = work
    for _ in range(MAX_PASSES):
        if not active.height:
            break
        result = one_pass(active)
        changed = result.filter(pl.col(f"{g}'") != pl.col(g)).select(op.key).unique()
        if not changed.height:
            done.append(result)
            active = active.head(0)
            break
        moving = result.join(changed, on=list(op.key), how="semi", nulls_equal=True)
        done.append(result.join(changed, on=list(op.key), how="anti", nulls_equal=True))
        active = moving.with_columns(pl.col(f"{g}'").alias(g)).select(work.columns)
    if active.height:  # still moving: the sequential loop, on these keys' rows only
        rows = active.to_dicts()
        for r in rows:
            r[op.amount] = r[a]
        granted = cap_scan_rows(op, rows)
        done.append(active.with_columns(
            pl.Series(f"{g}'", [x for x, _ in granted], dtype=wide),
            *(pl.Series(left_column(prefix, i), [lf[i] for _, lf in granted], dtype=wide)
              for i in range(len(op.windows)))))
    names = [left_column(prefix, i) for i in range(len(op.windows))]
    if done:
        scanned = pl.concat([d.select(idx, f"{g}'", *names) for d in done])
    else:
        scanned = pl.DataFrame(schema={idx: pl.Int64, f"{g}'": wide,
                                       **{n: wide for n in names}})
    if not (ordered and len(done) == 1):  # else: one chunk, still in the frame's order
        scanned = scanned.sort(idx)
    scanned = scanned.select(
        pl.col(f"{g}'").cast(pl.Int64).alias(grant_column(prefix)),
        *(pl.col(n).cast(pl.Int64) for n in names))
    return pl.concat([frame, scanned], how="horizontal")


# --- overlaps --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverlapScan:
    """Rows of a key (in ``order``, ties in input order) that overlap an earlier
    *accepted* row: one whose interval ``[start, end)`` had not ended when this row
    starts (``start < latest end`` of the accepted rows before it). A row is accepted
    when it is ``eligible`` (true; a null is not) and does not overlap; a row that is not
    eligible is still checked, and sets nothing. Per input row, in input order: whether
    it overlaps, the latest end of the accepted rows before it (null: none) and the
    ``ident`` of the accepted row that set that end (the first to reach it).

    Sequential again (whether a row is accepted depends on the earlier ones); the polars
    side iterates passes from "every eligible row is accepted" to the unique fixpoint,
    as :class:`CapScan` does, and finishes keys still moving after ``MAX_PASSES``
    with the sequential loop. Starts and ends are any one orderable type (datetimes)."""

    key: tuple[str, ...]
    order: tuple[str, ...]
    start: str
    end: str
    ident: str
    eligible: str

    def columns(self) -> list[str]:
        return list(dict.fromkeys([*self.key, *self.order, self.start, self.end,
                                   self.ident, self.eligible]))


#: Per input row: (overlaps, latest end before it, the ident that set it).
Overlap = tuple[bool, Any, Any]


def overlap_scan_rows(op: OverlapScan, rows: Sequence[Mapping[str, Any]]) -> list[Overlap]:
    """:class:`OverlapScan` over Python rows, in their order."""
    index = sorted(range(len(rows)), key=lambda i: tuple(rows[i][c] for c in op.order))
    latest: dict[tuple[Any, ...], tuple[Any, Any]] = {}
    out: list[Overlap | None] = [None] * len(rows)
    for i in index:
        r = rows[i]
        k = tuple(r[c] for c in op.key)
        end, ident = latest.get(k, (None, None))
        overlaps = end is not None and r[op.start] < end
        out[i] = (overlaps, end, ident)
        if r[op.eligible] is True and not overlaps and (end is None or r[op.end] > end):
            latest[k] = (r[op.end], r[op.ident])
    return [o for o in out if o is not None]


def overlap_columns(prefix: str) -> tuple[str, str, str]:
    """The names of the columns :func:`overlap_scan_frame` adds: overlaps, latest end,
    the ident that set it."""
    return f"{prefix}overlaps", f"{prefix}latest", f"{prefix}latest_id"


def overlap_scan_frame(op: OverlapScan, frame: pl.DataFrame,
                       prefix: str = "__overlap.", ordered: bool = False) -> pl.DataFrame:
    """``frame`` with :class:`OverlapScan`'s three columns added, row for row
    (``ordered`` as for :func:`cap_scan_frame`)."""
    import polars as pl

    idx, acc, new = f"{prefix}i", f"{prefix}acc", f"{prefix}new"
    over_c, latest_c, id_c = overlap_columns(prefix)
    work = frame.select(op.columns()).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(idx),
        pl.col(op.eligible).fill_null(False).alias(acc))
    if not ordered:
        work = work.sort([*op.key, *op.order], maintain_order=True)
    key = list(op.key)
    eligible = pl.col(op.eligible).fill_null(False)

    def one_pass(f: pl.DataFrame) -> pl.DataFrame:
        ends = pl.when(pl.col(acc)).then(pl.col(op.end))
        latest = ends.forward_fill().cum_max().shift(1).over(key)
        f = f.with_columns(latest.alias(latest_c))
        overlaps = (pl.col(op.start) < pl.col(latest_c)).fill_null(False)
        return f.with_columns(overlaps.alias(over_c), (eligible & ~overlaps).alias(new))

    done: list[pl.DataFrame] = []
    active = work
    for _ in range(MAX_PASSES):
        if not active.height:
            break
        result = one_pass(active)
        changed = result.filter(pl.col(new) != pl.col(acc)).select(key).unique()
        if not changed.height:
            done.append(result)
            active = active.head(0)
            break
        done.append(result.join(changed, on=key, how="anti", nulls_equal=True))
        active = result.join(changed, on=key, how="semi", nulls_equal=True) \
            .with_columns(pl.col(new).alias(acc)).select(work.columns)
    if active.height:  # still moving: the sequential loop, on these keys' rows only
        found = overlap_scan_rows(op, active.to_dicts())
        done.append(active.with_columns(
            pl.Series(over_c, [o for o, _, _ in found], dtype=pl.Boolean),
            pl.Series(latest_c, [e for _, e, _ in found], dtype=frame.schema[op.end]),
            pl.Series(new, [False] * len(found), dtype=pl.Boolean)))
    settled = pl.concat([d.select(*work.columns, over_c, latest_c) for d in done]) \
        if done else work.with_columns(pl.lit(False).alias(over_c),
                                       pl.lit(None, dtype=frame.schema[op.end]).alias(latest_c))
    # who set each latest end: the first accepted row to raise it (a strict increase)
    if not (ordered and len(done) == 1):
        settled = settled.sort([*op.key, *op.order, idx])
    accepted = eligible & ~pl.col(over_c)
    raises = accepted & (pl.col(latest_c).is_null() | (pl.col(op.end) > pl.col(latest_c)))
    setter = pl.when(raises).then(pl.col(op.ident)).forward_fill().shift(1).over(key)
    settled = settled.with_columns(pl.when(pl.col(latest_c).is_not_null()).then(setter)
                                   .alias(id_c))
    if not (ordered and len(done) == 1):
        settled = settled.sort(idx)
    scanned = settled.select(over_c, latest_c, id_c)
    return pl.concat([frame, scanned], how="horizontal")
