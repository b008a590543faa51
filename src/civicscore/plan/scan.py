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
    (ties as they stand), so no sort is made (a batch sorts its records once).

    Lean by construction: at most one sort (none when ``ordered``), made once and undone
    by a gather at the end; keys are runs of rows in that order, and so is every window
    whose segments are runs (a day or a month of rows in time order), whose running sums
    are then one global ``cum_sum`` less its value at the run's start (no group-by); a
    window whose segments interleave (a per-activity window) gets its own stable order
    once, and its sums are gathered through it. A pass reads only the amounts, the limits
    and the run starts, as integers (Int64 when no sum can leave it, else Int128), and
    the frame is never re-collected: the guess is checked, and passed again while
    anything moves, over the whole column."""
    import polars as pl

    windows = op.windows
    n = frame.height
    pos, kid = f"{prefix}pos", f"{prefix}kid"
    a, g = f"{prefix}a", f"{prefix}g"
    limits = [f"{prefix}L{i}" for i in range(len(windows))]
    firsts = [f"{prefix}first{i}" for i in range(len(windows))]
    names = [left_column(prefix, i) for i in range(len(windows))]
    work = frame.select(op.columns())
    perm: pl.Series | None = None
    if not ordered and n:
        perm = work.select(pl.arg_sort_by([*op.key, *op.order], maintain_order=True)
                           .alias(pos)).to_series()
        work = work[perm]
    wide = _scan_dtype(work, op)
    key_start = f"{prefix}kstart"
    work = work.with_columns(
        pl.col(op.amount).fill_null(0).cast(wide).alias(a),
        *(pl.col(w.limit).cast(wide).alias(lim) for w, lim in zip(windows, limits, strict=True)),
        _starts(op.key).alias(key_start))
    work = work.with_columns(pl.col(key_start).cum_sum().alias(kid))

    # per window: the starts of its segments, in this order or (interleaved) in its own
    gathers: list[tuple[pl.Series, pl.Series] | None] = []
    for w, first in zip(windows, firsts, strict=True):
        runs = work.select(pl.col(key_start) | _starts(w.keys)).to_series().alias(first)
        if _runs_are_segments(work, key_start, kid, w.keys, int(runs.sum())):
            work = work.with_columns(runs)
            gathers.append(None)
            continue
        order = work.select(pl.arg_sort_by([kid, *w.keys], maintain_order=True)).to_series()
        inverse = pl.Series(values=range(n), dtype=pl.Int64).scatter(order, range(n)) \
            if n else pl.Series(dtype=pl.Int64)
        work = work.with_columns(work[[kid, *w.keys]][order].select(
            _starts([kid, *w.keys]).alias(first)).to_series())
        gathers.append((order, inverse))

    def used(i: int, x: pl.Expr) -> pl.Expr:
        """What the earlier rows of each row's segment of window ``i`` were granted."""
        perm_i = gathers[i]
        if perm_i is None:
            return _prefix_sum_before(x, pl.col(firsts[i]))
        order, inverse = perm_i
        return _prefix_sum_before(x.gather(order), pl.col(firsts[i])).gather(inverse)

    # the first guess: telescoped window by window
    x: pl.Expr = pl.col(a)
    for i, lim in enumerate(limits):
        guess = work.select(x.alias(g))
        work = work.with_columns(guess)
        before = used(i, pl.col(g))
        x = pl.when(pl.col(lim).is_null()).then(pl.col(g)).otherwise(
            pl.min_horizontal(pl.col(lim), before + pl.col(g))
            - pl.min_horizontal(pl.col(lim), before))
    work = work.with_columns(x.alias(g))

    # passes: F(g) over the whole column until nothing moves
    lefts = [(pl.col(lim) - used(i, pl.col(g))).clip(lower_bound=0).alias(name)
             for i, (lim, name) in enumerate(zip(limits, names, strict=True))]
    grant = pl.min_horizontal(pl.col(a), *(pl.col(name) for name in names)).alias(g)
    moving = f"{prefix}moving"
    result = work.head(0)
    for _ in range(MAX_PASSES):
        result = work.select(a, g, *lefts).select(
            grant, *names, (grant != pl.col(g)).alias(moving))
        if not result[moving].any():
            break
        work = work.with_columns(result[g])
    else:  # still moving: the sequential loop, on these keys' rows only
        rows_at = work.select(pl.col(kid).is_in(
            pl.col(kid).filter(result[moving]).unique().implode())).to_series().arg_true()
        rows = work[rows_at].with_columns(pl.col(a).alias(op.amount)) \
            .select(op.columns()).to_dicts()
        granted = cap_scan_rows(op, rows)
        result = result.with_columns(
            result[g].scatter(rows_at, pl.Series([x for x, _ in granted], dtype=wide)),
            *(result[name].scatter(rows_at, pl.Series([lf[i] for _, lf in granted],
                                                        dtype=wide))
              for i, name in enumerate(names)))
    out = result.select(pl.col(g).cast(pl.Int64).alias(grant_column(prefix)),
                        *(pl.col(name).cast(pl.Int64) for name in names)) if n else \
        pl.DataFrame(schema={grant_column(prefix): pl.Int64, **{m: pl.Int64 for m in names}})
    if perm is not None:  # back to the frame's order
        out = out[pl.Series(values=range(n), dtype=pl.Int64).scatter(perm, range(n))]
    return frame.hstack(out.get_columns())


def _scan_dtype(work: pl.DataFrame, op: CapScan) -> Any:
    """Int64 when no running sum or ``limit - used`` can leave it (the amounts' largest
    size times the rows, plus the largest limit), else Int128: integers either way."""
    import polars as pl

    def size(name: str) -> int:
        s = work[name]
        if s.dtype == pl.Null or s.null_count() == s.len():
            return 0
        return max(abs(int(s.min())), abs(int(s.max())))  # type: ignore[arg-type]

    bound = size(op.amount) * work.height + max((size(w.limit) for w in op.windows), default=0)
    return pl.Int64 if 2 * bound < 2**63 - 1 else pl.Int128


def _prefix_sum_before(x: pl.Expr, first: pl.Expr) -> pl.Expr:
    """Per row, the sum of ``x`` over the earlier rows of its run, a run beginning where
    ``first`` holds: one global running sum less its value where the run began."""
    import polars as pl

    before = x.cum_sum() - x
    return before - pl.when(first).then(before).forward_fill()


def _starts(names: Sequence[str]) -> pl.Expr:
    """True on the first row and where a row's ``names`` differ from the previous row's
    (nulls equal each other): the starts of runs."""
    import polars as pl

    first = pl.int_range(pl.len()) == 0
    return pl.any_horizontal(first, *(pl.col(c).ne_missing(pl.col(c).shift(1)) for c in names))


def _runs_are_segments(work: pl.DataFrame, key_start: str, kid: str, keys: Sequence[str],
                       runs: int) -> bool:
    """Whether, in ``work``'s order (keys in runs), each segment of ``keys`` within a key is
    one run of rows. One key column of an ordered type without nulls that never decreases
    inside a key proves it at once (days or months of rows in time order); else the runs
    are counted against the distinct segments."""
    import polars as pl

    if len(keys) == 1 and work[keys[0]].null_count() == 0 and (
            work.schema[keys[0]].is_numeric() or work.schema[keys[0]].is_temporal()):
        c = pl.col(keys[0])
        return bool(work.select((pl.col(key_start) | (c >= c.shift(1))).all()).item())
    return runs == work.select(kid, *keys).n_unique()


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
    (``ordered`` as for :func:`cap_scan_frame`).

    Lean as :func:`cap_scan_frame` is: at most one sort, undone by a gather; starts and
    ends as Int64 codes that keep their order (the physical value of a date, time or
    signed integer, else a dense rank of both columns); the latest accepted end within a
    key as one global ``cum_max`` of ``run * step + code`` (runs increase, so no
    group-by); passes over the whole column until no row's acceptance moves. Who set
    each latest end is the last row before it in its key to raise it, gathered."""
    import polars as pl

    n = frame.height
    over_c, latest_c, id_c = overlap_columns(prefix)
    sc, ec, rel, first, run, row, acc = (f"{prefix}{x}" for x in
                                         ("s", "e", "rel", "first", "run", "row", "acc"))
    work = frame.select(op.columns())
    perm: pl.Series | None = None
    if not ordered and n:
        perm = work.select(pl.arg_sort_by([*op.key, *op.order], maintain_order=True)
                           ).to_series()
        work = work[perm]
    dtype = work.schema[op.end]
    codes: list[pl.Expr | pl.Series]
    if dtype.is_temporal() or dtype.is_signed_integer():
        codes = [pl.col(op.start).to_physical().cast(pl.Int64).alias(sc),
                 pl.col(op.end).to_physical().cast(pl.Int64).alias(ec)]
    else:  # any other orderable type: its order, as ranks
        both = pl.concat([work[op.start], work[op.end]]).rank("dense").cast(pl.Int64)
        codes = [both[:n].alias(sc), both[n:].alias(ec)]
    eligible = pl.col(op.eligible).fill_null(False)
    work = work.with_columns(*codes, _starts(op.key).alias(first),
                             pl.int_range(pl.len(), dtype=pl.Int64).alias(row))
    # a run's ends offset by run * step keep the runs apart in one global cum_max;
    # Int64 when that fits (it does for dates and times of one year), else Int128
    low, high = work[ec].min(), work[ec].max()
    base = int(low) - 1 if low is not None else 0  # type: ignore[arg-type]
    step = (int(high) - base + 1) if high is not None else 1  # type: ignore[arg-type]
    runs = int(work[first].sum())
    wide = pl.Int64 if (runs + 1) * step < 2**63 - 1 else pl.Int128
    work = work.with_columns((pl.col(first).cum_sum().cast(wide) * step).alias(run),
                             (pl.col(ec).cast(wide) - base).alias(rel), eligible.alias(acc))

    def latest_code(accepted: pl.Expr) -> pl.Expr:
        """The latest end (code) of the rows before each row of its key that ``accepted``
        holds for; null where there are none."""
        mark = pl.when(accepted & pl.col(rel).is_not_null()) \
            .then(pl.col(run) + pl.col(rel)).otherwise(pl.col(run))
        found = mark.cum_max().shift(1) - pl.col(run)  # < 0 on a key's first row
        return pl.when(found > 0).then(found + base).cast(pl.Int64)

    latest = f"{prefix}latest_code"
    moving = f"{prefix}moving"
    result = work.head(0)
    for _ in range(MAX_PASSES):
        found = work.select(pl.col(acc), eligible.alias(op.eligible), (
            pl.col(sc) < latest_code(pl.col(acc))).fill_null(False).alias(over_c))
        result = found.select(over_c, (pl.col(op.eligible) & ~pl.col(over_c)).alias(acc))
        result = result.with_columns((result[acc] != found[acc]).alias(moving))
        if not result[moving].any():
            break
        work = work.with_columns(result[acc])
    else:  # still moving: the sequential loop, on these keys' rows only
        rows_at = work.select(pl.col(run).is_in(
            pl.col(run).filter(result[moving]).unique().implode())).to_series().arg_true()
        found_rows = overlap_scan_rows(op, work[rows_at].select(op.columns()).to_dicts())
        result = result.with_columns(result[over_c].scatter(
            rows_at, pl.Series([o for o, _, _ in found_rows], dtype=pl.Boolean)))
    # the latest end and who set it: the last row before in the key to raise it
    accepted = eligible & ~pl.col(over_c)
    work = work.with_columns(result[over_c])
    work = work.with_columns(latest_code(accepted).alias(latest))
    raises = accepted & (pl.col(latest).is_null() | (pl.col(ec) > pl.col(latest)))
    setter = pl.when(raises).then(pl.col(row)).forward_fill().shift(1)
    key_first = pl.when(pl.col(first)).then(pl.col(row)).forward_fill()
    setter = pl.when(pl.col(latest).is_not_null() & (setter >= key_first)).then(setter)
    out = work.with_columns(setter.alias(row)).select(
        over_c, pl.col(op.end).gather(pl.col(row)).alias(latest_c),
        pl.col(op.ident).gather(pl.col(row)).alias(id_c)) if n else \
        pl.DataFrame(schema={over_c: pl.Boolean, latest_c: dtype,
                             id_c: frame.schema[op.ident]})
    if perm is not None:  # back to the frame's order
        out = out[pl.Series(values=range(n), dtype=pl.Int64).scatter(perm, range(n))]
    return frame.hstack(out.get_columns())
