"""Plan -> one lazy polars query: every step a column, computed where a row is.

``with_plan`` adds a column per plan name (``prefix + name``) to a lazy frame,
steps grouped into one ``with_columns`` per dependency level so polars
computes independent steps together. Expressions are compiled by
``batch.expr`` (values and error columns that honour short-circuits, bit for
bit the per-record arithmetic); every other op is implemented once below,
with the null rules of ``plan.ops``. No Python runs per row: the one op that
builds lists (:class:`Codes`) makes a small integer key per row and words each
distinct key once.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

import polars as pl

from ..batch.expr import DTYPES, FLIPPED, PolarsCompiler, either
from ..expr.functions import FunctionTable
from ..expr.ir import Name, Type, walk
from .ops import (
    EXACT,
    STRINGS,
    AddPeriod,
    All,
    AnyOf,
    Codes,
    Compare,
    CountTrue,
    DivHalfUp,
    Exact,
    ExactFloat,
    ExactOp,
    ExactPick,
    ExactSum,
    ExactText,
    Expr,
    Failed,
    FirstTrue,
    Greatest,
    IfElse,
    Input,
    Interval,
    IsNull,
    Least,
    Let,
    Lit,
    Not,
    Op,
    Operand,
    Pick,
    Plan,
    Ref,
    RoundDiv,
    Threshold,
    ValueType,
)
from .python import compile_plan

_LIST = pl.List(pl.String)
#: The most (condition, code) pairs whose flags fit in one Int64 key.
_KEY_BITS = 62
#: Up to this many conditions, the code lists of every key (2^n of them) are made
#: up front and gathered by key: faster than joining on the keys a frame has.
_DENSE_BITS = 10
#: The error column of a captured expression step ``name`` is ``prefix + name + ERROR``.
ERROR = "!error"


def dtype(t: ValueType) -> pl.DataType:
    """The polars type of a plan value type."""
    if t == EXACT:
        return pl.Int128()
    return _LIST if t == STRINGS else DTYPES[Type(t)]


class _Builder:
    def __init__(self, plan: Plan, functions: FunctionTable, prefix: str,
                 python_ops: frozenset[type] = frozenset()) -> None:
        self.plan = plan
        self.prefix = prefix
        self.functions = functions
        self.python_ops = python_ops
        #: steps left to :class:`Later`, and unfit columns added after every level
        self.deferred: frozenset[str] = frozenset()
        self.post: list[pl.Expr] = []
        self.compiler = PolarsCompiler(
            functions, {n: pl.col(prefix + n) for n in plan.types})

    def col(self, name: str) -> pl.Expr:
        return pl.col(self.prefix + name)

    def operand(self, o: Operand) -> pl.Expr:
        if isinstance(o, Ref):
            return self.col(o.name)
        return pl.lit(o.value, dtype=dtype(o.type))

    def true(self, o: Operand) -> pl.Expr:
        """Where ``o`` is true (a null is not)."""
        return self.operand(o).fill_null(False)

    def step(self, name: str, op: Op) -> list[pl.Expr]:
        """The column(s) of step ``name``."""
        out = self.prefix + name
        if isinstance(op, EXACT_OPS):
            return _exact_step(self, name, op)
        if isinstance(op, Expr):
            c = self.compiler.compile(op.node)
            value = c.value.cast(dtype(op.node.type))
            if not op.capture:
                return [value.alias(out)]
            error = pl.lit(False) if c.error is None else c.error.fill_null(True)
            return [pl.when(error).then(None).otherwise(value).alias(out),
                    error.alias(out + ERROR)]
        if type(op) in self.python_ops:
            return [self.fallback(name, op).alias(out)]
        try:
            return [self.value(op).alias(out)]
        except NotImplementedError:  # this backend cannot run the op: the other one does
            return [self.fallback(name, op).alias(out)]

    def fallback(self, name: str, op: Op) -> pl.Expr:
        """Step ``name`` run by the Python backend, batch by batch: the same function the
        per-record path runs, on the values of the names it reads (so the same result)."""
        reads = list(dict.fromkeys(_reads(op)))
        types, nullable = self.plan.types, self.plan.nullable
        one = Plan(tuple(Input(n, Type(types[n]), nullable[n]) for n in reads),
                   (Let(name, op),), (name,))
        fn = compile_plan(one, self.functions)
        kind = dtype(types[name])

        def run(rows: pl.Series) -> pl.Series:
            values = rows.struct.unnest().drop("__n").to_dicts()
            return pl.Series([fn(r)[0] for r in values], dtype=kind)

        struct = pl.struct([pl.int_range(pl.len()).alias("__n"),
                            *(self.col(n).alias(n) for n in reads)])
        return struct.map_batches(run, return_dtype=kind)

    def value(self, op: Op) -> pl.Expr:
        o, true = self.operand, self.true
        match op:
            case Failed(steps=steps):
                found = either(*(pl.col(self.prefix + s + ERROR) for s in steps))
                return pl.lit(False) if found is None else found
            case CountTrue(items=items):
                if not items:
                    return pl.lit(0, dtype=pl.Int64)
                return pl.sum_horizontal([true(i).cast(pl.Int64) for i in items]) \
                    .cast(pl.Int64)
            case All(items=items):
                return _fold([true(i) for i in items], "and")
            case AnyOf(items=items):
                return _fold([true(i) for i in items], "or")
            case Not(item=i):
                return ~true(i)
            case IsNull(item=i):
                return o(i).is_null()
            case Compare(op=cmp, left=a, right=b, if_null=if_null):
                if isinstance(a, Lit) and not isinstance(b, Lit):
                    a, b, cmp = b, a, FLIPPED[cmp]  # the literal second (see FLIPPED)
                x, y = o(a), o(b)
                test = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y,
                        "!=": x != y}[cmp]
                return test.fill_null(if_null)
            case IfElse(cond=c, then=a, orelse=b):
                t = self.plan.types
                kind = dtype(t[a.name] if isinstance(a, Ref) else a.type)
                return pl.when(true(c)).then(o(a).cast(kind)).otherwise(o(b).cast(kind))
            case AddPeriod(date=d, years=y, months=m, days=days):
                return add_period(o(d), y, m, days)
            case FirstTrue(items=items):
                # flat: the least index whose item is true (a null where it is not), so a
                # few thousand items are a few thousand small columns, not a nested chain
                if not items:
                    return pl.lit(0, dtype=pl.Int64)
                found = pl.min_horizontal([pl.when(true(c)).then(pl.lit(k, dtype=pl.Int64))
                                           for k, c in enumerate(items)])
                return found.fill_null(len(items)).cast(pl.Int64)
            case Pick(index=ix, values=values):
                return self.pick(ix, values)
            case Least(items=items):
                return pl.min_horizontal([o(i) for i in items])
            case Greatest(items=items):
                return pl.max_horizontal([o(i) for i in items])
            case Threshold(value=x, thresholds=ths):
                v = o(x)
                if not ths:
                    return pl.when(v.is_null()).then(None).otherwise(pl.lit(-1)) \
                        .cast(pl.Int64)
                reached = pl.sum_horizontal([(v >= t).cast(pl.Int64) for t in ths])
                return pl.when(v.is_null()).then(None).otherwise(reached - 1).cast(pl.Int64)
            case Codes(pairs=pairs):
                return _codes([true(c) for c, _ in pairs], [code for _, code in pairs])
            case RoundDiv(value=x, by=by, rounding=rounding):
                return round_div(o(x), by, rounding)
        raise TypeError(f"unknown plan op {op!r}")  # pragma: no cover - the IR is closed


    def pick(self, ix: Operand, values: tuple[Operand, ...]) -> pl.Expr:
        """:class:`Pick`: a literal table is one look-up (``replace_strict``); a switch
        over columns is a coalesce of one ``when`` per value, flat, and exactly one of
        them can be non-null in a row."""
        first = values[0]
        kind = dtype(self.plan.types[first.name] if isinstance(first, Ref) else first.type)
        index = self.operand(ix)
        if all(isinstance(v, Lit) for v in values):
            table = pl.Series([v.value for v in values if isinstance(v, Lit)], dtype=kind)
            return index.replace_strict(pl.Series(range(len(values)), dtype=pl.Int64),
                                        table, default=pl.lit(None, dtype=kind),
                                        return_dtype=kind)
        if len(values) == 1:
            return pl.when(index == 0).then(self.operand(first).cast(kind))
        return pl.coalesce([pl.when(index == k).then(self.operand(v).cast(kind))
                            for k, v in enumerate(values)])


def _fold(parts: list[pl.Expr], how: str) -> pl.Expr:
    if not parts:
        return pl.lit(how == "and")
    out = parts[0]
    for p in parts[1:]:
        out = (out & p) if how == "and" else (out | p)
    return out


#: 9999-12-31 as days since 1970-01-01 (a polars Date's integer).
_MAX_DAY = (dt.date.max - dt.date(1970, 1, 1)).days


def add_period(day: pl.Expr, years: int, months: int, days: int = 0) -> pl.Expr:
    """:class:`AddPeriod` on a Date column (polars clips to the month's end); the days
    are added as integers and clipped to 9999-12-31."""
    if years or months:
        total = day.dt.year().cast(pl.Int64) * 12 + day.dt.month().cast(pl.Int64) - 1 \
            + (years * 12 + months)
        by = (f"{years}y" if years else "") + (f"{months}mo" if months else "")
        day = pl.when(total > dt.MAXYEAR * 12 + 11).then(pl.lit(dt.date.max)) \
            .otherwise(day.dt.offset_by(by))
    if days:
        day = (day.cast(pl.Int32).cast(pl.Int64) + days).clip(upper_bound=_MAX_DAY) \
            .cast(pl.Int32).cast(pl.Date)
    return day


def _codes(conditions: list[pl.Expr], codes: list[str]) -> pl.Expr:
    if not conditions:
        return pl.lit(pl.Series([[]], dtype=_LIST)).first()
    if len(conditions) > _KEY_BITS:
        return pl.concat_list([pl.when(c).then(pl.lit(code)) for c, code in
                               zip(conditions, codes, strict=True)]).list.drop_nulls()
    key = pl.lit(0, dtype=pl.Int64)
    for i, c in enumerate(conditions):
        key = key + c.cast(pl.Int64) * (1 << i)
    if len(conditions) <= _DENSE_BITS:  # every list made once, each row's gathered
        every = [[code for i, code in enumerate(codes) if k >> i & 1]
                 for k in range(1 << len(conditions))]
        return pl.lit(pl.Series(every, dtype=_LIST)).gather(key)

    def lookup(keys: pl.Series) -> pl.Series:
        distinct = keys.unique()
        words = [[code for i, code in enumerate(codes) if k >> i & 1]
                 for k in distinct.to_list()]
        table = pl.DataFrame({"k": distinct, "v": pl.Series(words, dtype=_LIST)})
        return pl.DataFrame({"k": keys}).join(table, on="k", how="left",
                                              maintain_order="left")["v"]

    return key.map_batches(lookup, return_dtype=_LIST)


def _levels(plan: Plan) -> list[list[int]]:
    """Step indexes grouped by dependency level (a step after every step it reads)."""
    level: dict[str, int] = {i.name: 0 for i in plan.inputs}
    groups: list[list[int]] = []
    for j, step in enumerate(plan.steps):
        reads = _reads(step.op)
        at = 1 + max((level[n] for n in reads), default=0)
        level[step.name] = at
        while len(groups) < at:
            groups.append([])
        groups[at - 1].append(j)
    return groups


def _exact_of(plan: Plan, v: Operand) -> Operand | None:
    """The number an :class:`Exact` step ``v`` holds, where ``v`` is one (else None)."""
    if isinstance(v, Ref):
        for s in plan.steps:
            if s.name == v.name:
                return s.op.value if isinstance(s.op, Exact) else None
    return None


def _step_reads(plan: Plan, op: Op) -> list[str]:
    """The names the polars form of ``op`` reads: :func:`_reads`, and the number under
    the exact value an :class:`ExactFloat` writes (read in its place, see ``_exact_value``)."""
    names = _reads(op)
    if isinstance(op, ExactFloat):
        number = _exact_of(plan, op.value)
        if isinstance(number, Ref):
            names.append(number.name)
    return names


def _reads(op: Op) -> list[str]:
    match op:
        case Expr(node=node):
            return [n.name for n in walk(node) if isinstance(n, Name)]
        case Failed(steps=steps):
            return list(steps)
    names: list[str] = []
    for value in op.__dataclass_fields__:  # every operand field, flat
        _collect(getattr(op, value), names)
    return names


def _collect(value: Any, names: list[str]) -> None:
    if isinstance(value, Ref):
        names.append(value.name)
    elif isinstance(value, tuple):
        for v in value:
            _collect(v, names)


def with_plan(plan: Plan, functions: FunctionTable, frame: pl.LazyFrame,
              inputs: Mapping[str, pl.Expr], prefix: str = "__plan.",
              python_ops: frozenset[type] = frozenset(),
              keep: Collection[str] | None = None) -> pl.LazyFrame:
    """``frame`` with a column ``prefix + name`` per plan input and step (and
    ``prefix + name + ERROR`` per captured expression step); ``inputs`` gives the
    column expression of every plan input, already typed. Steps whose op is one of
    ``python_ops`` (or that this backend cannot run) are run by the Python backend.

    With ``keep`` (the plan's column names, prefixed, that the caller reads), every
    other column of the plan is dropped as soon as no later step reads it: a plan of
    70 columns then holds a few at a time, not all of them until the end (at 10^6
    rows, 250 MB of intermediate columns)."""
    compiled = compile_later(plan, functions, prefix, python_ops)
    return compiled.apply(frame, inputs, keep)


def with_plan_later(plan: Plan, functions: FunctionTable, frame: pl.LazyFrame,
                    inputs: Mapping[str, pl.Expr], prefix: str = "__plan.",
                    python_ops: frozenset[type] = frozenset(),
                    later: Collection[str] = ()) -> tuple[pl.LazyFrame, Later]:
    """:func:`with_plan`, but the steps named in ``later`` that only show a value
    (:class:`ExactText`, :class:`ExactFloat` of a value they can always write, and that
    no other step reads) are left out of the query: :class:`Later` computes them on
    whatever slice of its result they are wanted for (the texts of the output rows
    being written, not of every row during scoring). ``unfit(plan, prefix, without=
    later.names)`` is then the rows to fall back."""
    compiled = compile_later(plan, functions, prefix, python_ops, later)
    return compiled.apply(frame, inputs), compiled.later


class Compiled(NamedTuple):
    """A plan's columns as polars expressions, built once (:func:`compile_later`) and
    applied to any number of frames: ``now`` one ``with_columns`` per entry, in order."""

    plan: Plan
    prefix: str
    now: list[list[pl.Expr]]
    later: Later

    def apply(self, frame: pl.LazyFrame, inputs: Mapping[str, pl.Expr],
              keep: Collection[str] | None = None) -> pl.LazyFrame:
        """``frame`` with the plan's inputs (``inputs``: their column expressions) and
        every step computed in the query; with ``keep``, only those of the plan's
        columns (see :func:`with_plan`), each dropped after the last step that reads it."""
        made = [self.prefix + i.name for i in self.plan.inputs]
        out = frame.with_columns(inputs[i.name].cast(dtype(i.type)).alias(self.prefix + i.name)
                                 for i in self.plan.inputs)
        if keep is None:
            for exprs in self.now:
                out = out.with_columns(exprs)
            return out
        # the plan's columns each level of steps reads (a column is read by name only)
        reads = [{r for e in exprs for r in e.meta.root_names()} for exprs in self.now]
        wanted = set(keep)
        for k, exprs in enumerate(self.now):
            out = out.with_columns(exprs)
            made += [e.meta.output_name() for e in exprs]
            later = wanted.union(*reads[k + 1:])
            done = [c for c in dict.fromkeys(made) if c not in later]
            if done:
                out = out.drop(done)
                made = [c for c in made if c in later]
        return out


def compile_later(plan: Plan, functions: FunctionTable, prefix: str = "__plan.",
                  python_ops: frozenset[type] = frozenset(),
                  later: Collection[str] = ()) -> Compiled:
    """The expressions of :func:`with_plan_later`, to apply to many frames (building
    them is most of the cost of a run over a few rows)."""
    b = _Builder(plan, functions, prefix, python_ops)
    b.deferred = _deferrable(plan, later)
    now_groups: list[list[pl.Expr]] = []
    levels: list[list[tuple[str, list[pl.Expr]]]] = []
    for group in _levels(plan):
        now: list[pl.Expr] = []
        deferred: list[tuple[str, list[pl.Expr]]] = []
        for j in group:
            step = plan.steps[j]
            exprs = b.step(step.name, step.op)
            if step.name in b.deferred:
                deferred.append((step.name, exprs))
            else:
                now += exprs
        if now:
            now_groups.append(now)
        if b.post:
            now_groups.append(b.post)
            b.post = []
        levels.append(deferred)
    reads = {s.name: list(dict.fromkeys(_step_reads(plan, s.op))) for s in plan.steps
             if s.name in b.deferred}
    return Compiled(plan, prefix, now_groups,
                    Later(prefix, tuple(s.name for s in plan.steps if s.name in b.deferred),
                          levels, reads))


def _deferrable(plan: Plan, later: Collection[str]) -> frozenset[str]:
    """The steps of ``later`` that may be left out of the query (see
    :func:`with_plan_later`): a text or a float, read by no step that stays."""
    wanted = set(later)
    chosen = {s.name for s in plan.steps if s.name in wanted
              and isinstance(s.op, ExactText | ExactFloat)}
    changed = True
    while changed:
        changed = False
        for s in plan.steps:
            if s.name not in chosen and chosen & set(_reads(s.op)):
                chosen -= set(_reads(s.op))
                changed = True
    return frozenset(chosen)


#: An eager or a lazy frame (``Later.add`` returns the kind it is given).
_Frame = TypeVar("_Frame", pl.DataFrame, pl.LazyFrame)


class Later:
    """Steps of a plan left out of its query (:func:`with_plan_later`), computed on a
    frame that holds the columns they read: one slice of the result at a time."""

    def __init__(self, prefix: str, names: tuple[str, ...],
                 levels: list[list[tuple[str, list[pl.Expr]]]],
                 reads: dict[str, list[str]]) -> None:
        self.prefix = prefix
        self.names = names
        self._levels = levels
        self._reads = reads

    def reads(self, names: Iterable[str] | None = None) -> set[str]:
        """The steps computed in the query that ``names`` (default: every deferred
        step) read: the columns a frame must keep for :meth:`add`."""
        need = self._closure(self.names if names is None else names)
        return {r for n in need for r in self._reads[n] if r not in self._reads}

    def _closure(self, names: Iterable[str]) -> set[str]:
        need: set[str] = set()
        todo = [n for n in names if n in self._reads]
        while todo:
            n = todo.pop()
            if n not in need:
                need.add(n)
                todo += [r for r in self._reads[n] if r in self._reads]
        return need

    def add(self, frame: _Frame, names: Iterable[str] | None = None) -> _Frame:
        """``frame`` with the columns ``prefix + name`` of the deferred steps ``names``
        (default: all), and of the deferred steps they read. A lazy frame stays lazy
        (the steps then join the query that reads them)."""
        need = self._closure(self.names if names is None else names)
        for group in self._levels:
            exprs = [e for name, es in group if name in need for e in es]
            if exprs:
                frame = frame.with_columns(exprs)
        return frame


def run_plan(plan: Plan, functions: FunctionTable, frame: pl.DataFrame | pl.LazyFrame,
             inputs: Mapping[str, pl.Expr] | None = None,
             python_ops: frozenset[type] = frozenset()) -> pl.DataFrame:
    """The plan's outputs (named as in ``plan.outputs``), one row per row of ``frame``;
    by default input ``x`` is ``frame``'s column ``x``."""
    given = dict(inputs or {})
    lazy = frame.lazy()
    exprs = {i.name: given.get(i.name, pl.col(i.name)) for i in plan.inputs}
    done = with_plan(plan, functions, lazy, exprs, python_ops=python_ops)
    return done.select(pl.col("__plan." + n).alias(n) for n in plan.outputs).collect()


def round_div(value: pl.Expr, by: int, rounding: str) -> pl.Expr:
    """:class:`RoundDiv` on an Int64 column: floor division (polars' ``//`` floors, as
    Python's does), in Int128 so that adding to or doubling the value cannot overflow."""
    v = value.cast(pl.Int128)
    if rounding == "down":
        return (v // by).cast(pl.Int64)
    if rounding == "up":
        return ((v + (by - 1)) // by).cast(pl.Int64)
    halved = (2 * v.abs() + by) // (2 * by)
    return pl.when(v < 0).then(pl.lit(0, dtype=pl.Int128) - halved).otherwise(halved) \
        .cast(pl.Int64)


# --- exact decimals (``plan.ops``: EXACT) -----------------------------------------------
#
# An exact value is an Int128 column of ``value x 10**scale``, the scale fixed per step
# (``_Held``), with a static bound on its integers: an op whose intermediates could leave
# Int128 is not run here (every row is *unfit*). An exact step that may be unfit where its
# operands are not (an ``Exact`` reading a number, a step that cannot be held at all, a text
# that may need ``%g``) has a Boolean column ``prefix + name + UNFIT``: true where this
# backend could not hold the value (then it is null). Any other step is unfit exactly where
# one of its operands is, and null there (a null operand gives a null sum, quotient, index
# or float; a pick is masked): it has no column of its own, its unfitness is the OR of the
# columns it derives from (``_sources``). ``unfit`` ORs the columns, and those rows are
# decided by the Python backend.

#: The unfit column of an exact step ``name`` is ``prefix + name + UNFIT``.
UNFIT = "!unfit"
EXACT_OPS = (Exact, ExactSum, DivHalfUp, Interval, ExactPick, ExactFloat, ExactText)
#: Decimals of an :class:`Exact` value; a double with more decimals is unfit.
SCALE = 20
#: A number of this magnitude or more is unfit for :class:`Exact`.
LIMIT = 10 ** 9
#: No integer of an exact step may reach this (Int128 holds up to 2**127 - 1).
BOUND = 2 ** 125
#: Decimals of the quick exact reading of a double (see ``_exact_floats``).
QUICK = 9


class _Held(NamedTuple):
    scale: int
    bound: int  # every |integer| of the column is below this


class _TooBig(Exception):
    """A constant or intermediate of an exact step cannot be held in Int128."""


def _i(v: int) -> pl.Expr:
    if abs(v) >= BOUND:
        raise _TooBig(v)
    return pl.lit(v, dtype=pl.Int128)


def _parts(c: Decimal) -> tuple[int, int]:
    """``c = n / 10**d`` with ``d >= 0``."""
    exponent = c.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent >= 0:
        return int(c), 0
    return int(c.scaleb(-exponent)), -exponent


def _power(k: int) -> pl.Expr:
    """10**k as a per-row Float64 column, not a literal: polars may turn a division by a
    literal into a multiplication by its (inexact) reciprocal."""
    return (pl.int_range(pl.len(), dtype=pl.Int64) * 0).cast(pl.Float64) + 10.0 ** k


def _rdiv(n: pl.Expr, d: int) -> pl.Expr:
    """``n / d`` (``d`` > 0) rounded half-up, halves away from zero."""
    if d == 1:
        return n
    q = (n.abs() * 2 + _i(d)) // _i(2 * d)
    return pl.when(n < 0).then(_i(0) - q).otherwise(q)  # (no unary minus on Int128)


def _fixed_text(x: pl.Expr) -> pl.Expr:
    """A Float64 column as Int128 integers of ``x x 10**SCALE`` from its shortest spelling
    (polars writes a double with Python's ``repr`` digits); null where unfit."""
    parts = x.cast(pl.String).str.extract_groups(r"^(-?\d+)(?:\.(\d*))?$")
    whole, frac = parts.struct.field("1"), parts.struct.field("2").fill_null("")
    ok = x.is_finite() & (x.abs() < LIMIT) & whole.is_not_null() \
        & (frac.str.len_chars() <= SCALE)
    return pl.when(ok).then(pl.concat_str(whole, frac.str.pad_end(SCALE, "0"))
                            .cast(pl.Int128, strict=False))


def _exact_floats(s: pl.Series) -> pl.Series:
    """:class:`Exact` of a Float64 series. A double ``x`` with ``|x| x 10**QUICK < 2**52``
    whose nearest ``QUICK``-decimal value ``c`` rounds back to ``x`` has exactly ``c`` as
    its shortest spelling (its rounding interval is narrower than ``10**-QUICK``); the
    other values are read from their digits, each distinct value once."""
    frame = s.cast(pl.Float64).to_frame("x")
    x = pl.col("x")
    power = float(10 ** QUICK)
    quick = frame.select(
        (x * power).round(0).alias("c"),
        pl.lit(pl.repeat(power, frame.height, dtype=pl.Float64, eager=True)).alias("p"))
    ok = (x.is_finite() & (x.abs() < min(LIMIT, 2 ** 52 / 10 ** QUICK))
          & (pl.col("c") / pl.col("p") == x))
    held = pl.concat([frame, quick], how="horizontal").select(
        pl.when(ok).then(pl.col("c").cast(pl.Int64).cast(pl.Int128)
                         * _i(10 ** (SCALE - QUICK))).alias("v"))["v"]
    slow = (held.is_null() & s.is_finite().fill_null(False)
            & (s.abs() < LIMIT).fill_null(False)).arg_true()
    if not slow.len():
        return held
    values = s.gather(slow)
    distinct = values.unique()
    fixed = distinct.to_frame("x").select(_fixed_text(pl.col("x"))).to_series()
    return held.scatter(slow, values.replace_strict(distinct, fixed, return_dtype=pl.Int128))


def _held(b: _Builder) -> dict[str, _Held]:
    found: dict[str, _Held] = b.__dict__.setdefault("_exact_held", {})
    return found


def _sources(b: _Builder) -> dict[str, tuple[str, ...]]:
    """Per exact step, the steps whose UNFIT columns OR to its unfitness."""
    found: dict[str, tuple[str, ...]] = b.__dict__.setdefault("_exact_sources", {})
    return found


def _x(b: _Builder, o: Operand) -> tuple[pl.Expr, _Held, pl.Expr]:
    """An exact operand: its integers, scale and bound, and where it is unfit."""
    if isinstance(o, Ref):
        if o.name in b.deferred:
            return b.col(o.name), _held(b)[o.name], pl.lit(False)
        return b.col(o.name), _held(b)[o.name], \
            _any([b.col(n + UNFIT) for n in _sources(b)[o.name]])
    if o.value is None:
        return pl.lit(None, dtype=pl.Int128), _Held(0, 1), pl.lit(False)
    n, d = _parts(o.value)
    return _i(n), _Held(d, abs(n) + 1), pl.lit(False)


def _any(parts: list[pl.Expr]) -> pl.Expr:
    return _fold(parts, "or") if parts else pl.lit(False)


def _own_unfit(b: _Builder, op: ExactOp) -> bool:
    """Whether step ``op`` may be unfit where its operand is not: false for a text or a
    float of a value small enough (those are null exactly where the operand is)."""
    if isinstance(op, ExactFloat):
        return False
    if isinstance(op, ExactText):
        v = op.value
        if isinstance(v, Lit):
            return False
        h = _held(b)[v.name]
        return bool(h.bound > 10 ** (15 + h.scale))
    return True


def _exact_step(b: _Builder, name: str, op: ExactOp) -> list[pl.Expr]:
    """The value and the unfit column of an exact step (a deferred step, see
    :class:`Later`, gives only its value: it is null exactly where its operand is)."""
    try:
        value, held, unfit = _exact_value(b, op)
    except _TooBig:
        value, held, unfit = pl.lit(None), _Held(0, BOUND), pl.lit(True)
    _held(b)[name] = held
    out = b.prefix + name
    if name in b.deferred and (held.bound >= BOUND or _own_unfit(b, op)):
        b.deferred = b.deferred - {name}  # it may mark rows unfit: it stays in the query
    sources = _sources(b)
    sources[name] = (name,)
    if held.bound >= BOUND:  # cannot be held here at all: every row is unfit
        kind = dtype(b.plan.types[name])
        return [pl.lit(None, dtype=kind).alias(out), pl.lit(True).alias(out + UNFIT)]
    if name in b.deferred:
        return [value.alias(out)]
    if isinstance(op, ExactSum | DivHalfUp | Interval | ExactPick | ExactFloat) or (
            isinstance(op, ExactText) and not _own_unfit(b, op)):
        # unfit where an operand is (see above): no column; a pick is masked, since an
        # operand it did not pick may be unfit
        sources[name] = tuple(dict.fromkeys(n for r in _reads(op) if r in sources
                                            for n in sources[r]))
        return [(pl.when(unfit).then(None).otherwise(value) if isinstance(op, ExactPick)
                 else value).alias(out)]
    if isinstance(op, Exact) and _is_float(b, op.value):
        # the digits of a double are read once (an opaque function: polars would run it
        # once per use); the step's unfit is derived from its own column afterwards
        x = b.operand(op.value)
        b.post.append((x.is_finite() & pl.col(out).is_null()).fill_null(False)
                      .alias(out + UNFIT))
        return [value.alias(out)]
    return [pl.when(unfit).then(None).otherwise(value).alias(out), unfit.alias(out + UNFIT)]


def _is_float(b: _Builder, v: Operand) -> bool:
    return (b.plan.types[v.name] if isinstance(v, Ref) else v.type) != Type.INT


def _exact_value(b: _Builder, op: ExactOp) -> tuple[pl.Expr, _Held, pl.Expr]:
    match op:
        case Exact(value=v):
            x = b.operand(v)
            if not _is_float(b, v):
                value: pl.Expr = pl.when(x.abs() < LIMIT).then(
                    x.cast(pl.Int128) * _i(10 ** SCALE))
                return value, _Held(SCALE, LIMIT * 10 ** SCALE), x.is_not_null() \
                    & value.is_null()
            value = x.cast(pl.Float64).map_batches(_exact_floats, return_dtype=pl.Int128)
            unfit = (x.is_finite() & value.is_null()).fill_null(False)
            return value, _Held(SCALE, LIMIT * 10 ** SCALE), unfit
        case ExactSum(terms=terms, constant=c):
            xs = [_x(b, v) for v, _ in terms]
            ks = [_parts(k) for _, k in terms]
            cn, cd = _parts(c)
            scale = max([cd, *(h.scale + d for (_, h, _), (_, d) in zip(xs, ks, strict=True))])
            total: pl.Expr = _i(cn * 10 ** (scale - cd))
            bound = abs(cn) * 10 ** (scale - cd) + 1
            for (e, h, _), (n, d) in zip(xs, ks, strict=True):
                m = n * 10 ** (scale - h.scale - d)
                total = total + e * _i(m)
                bound += h.bound * abs(m)
            return total, _Held(scale, bound), _any([u for _, _, u in xs])
        case DivHalfUp(num=v, den=den, places=places):
            e, h, u = _x(b, v)
            n, d = _parts(den)
            up = d + places - h.scale
            num = e * _i(10 ** up) if up > 0 else e
            big = n * 10 ** max(-up, 0)
            if big < 0:
                num, big = _i(0) - num, -big
            top = h.bound * 10 ** max(up, 0)
            if 2 * top + big >= BOUND:
                return pl.lit(None, dtype=pl.Int128), _Held(places, BOUND), pl.lit(True)
            return _rdiv(num, big), _Held(places, top // big + 2), u
        case Interval(value=v, spans=spans):
            e, h, u = _x(b, v)
            scale = max([h.scale, *(_parts(x)[1] for lo, _, hi, _ in spans
                                    for x in (lo, hi) if x is not None)])
            x = e * _i(10 ** (scale - h.scale)) if scale > h.scale else e
            bound = h.bound * 10 ** (scale - h.scale)

            def at(c: Decimal) -> pl.Expr:
                n, d = _parts(c)
                return _i(n * 10 ** (scale - d))

            found = []
            for k, (lo, lo_closed, hi, hi_closed) in enumerate(spans):
                cond: pl.Expr = pl.lit(True)
                if lo is not None:
                    cond = cond & ((x >= at(lo)) if lo_closed else (x > at(lo)))
                if hi is not None:
                    cond = cond & ((x <= at(hi)) if hi_closed else (x < at(hi)))
                found.append(pl.when(cond).then(pl.lit(k, dtype=pl.Int64)))
            index = pl.min_horizontal(found).fill_null(-1) if found \
                else pl.lit(-1, dtype=pl.Int64)
            picked = pl.when(e.is_null()).then(None).otherwise(index).cast(pl.Int64)
            return picked, _Held(0, len(spans) + 2 if bound < BOUND else BOUND), u
        case ExactPick(index=ix, values=values, default=default):
            xs = [_x(b, v) for v in (*values, default)]
            scale = max(h.scale for _, h, _ in xs)
            scaled = [e * _i(10 ** (scale - h.scale)) if scale > h.scale else e
                      for e, h, _ in xs]
            bound = max(h.bound * 10 ** (scale - h.scale) for _, h, _ in xs)
            index = b.operand(ix)
            chain: Any = pl.when(index.is_null()).then(pl.lit(None, dtype=pl.Int128))
            for k, e in enumerate(scaled[:-1]):
                chain = chain.when(index == k).then(e)
            return chain.otherwise(scaled[-1]), _Held(scale, bound), \
                _any([u for _, _, u in xs])
        case ExactFloat(value=v):
            e, h, u = _x(b, v)
            f: pl.Expr
            number = _exact_of(b.plan, v)
            if number is not None:
                # the exact value of a number is the number as written: an int below
                # LIMIT, or a double's shortest spelling, whose nearest double is that
                # double again (0 has no sign once held as an integer)
                x = b.operand(number).cast(pl.Float64)
                f = pl.when(e.is_null()).then(None).when(x == 0).then(pl.lit(0.0)) \
                    .otherwise(x)
            elif h.bound <= 2 ** 53 and h.scale <= 22:  # both exact doubles: IEEE rounds once
                f = e.cast(pl.Int64).cast(pl.Float64) / _power(h.scale)
            else:
                scale = h.scale
                f = e.map_batches(lambda n: _floats(n, scale), return_dtype=pl.Float64)
            return f, _Held(0, 1 if h.bound < BOUND else BOUND), u
        case ExactText(value=v, places=places):
            e, h, u = _x(b, v)
            large = e.abs() >= _i(10 ** (15 + h.scale)) if h.bound > 10 ** (15 + h.scale) \
                else pl.lit(False)  # Python writes these %g
            q = _rdiv(e, 10 ** (h.scale - places)) if h.scale > places \
                else e * _i(10 ** (places - h.scale))
            top = h.bound // 10 ** (h.scale - places) + 1 if h.scale > places \
                else h.bound * 10 ** (places - h.scale)
            # at most 15 digits and 4 decimals: the nearest double spells it, as polars
            # writes it positionally (it writes a double below 1e-4 with an exponent)
            if top <= 10 ** 15 and places <= 4:
                text = (q.cast(pl.Int64).cast(pl.Float64) / _power(places)).cast(pl.String) \
                    .str.strip_suffix(".0")
            else:
                text = _digits(q, places).str.strip_chars_end("0").str.strip_suffix(".")
                text = pl.when(text == "-0").then(pl.lit("0")).otherwise(text)
            return text, _Held(0, 1 if top < BOUND else BOUND), u | large.fill_null(False)
    raise TypeError(f"unknown plan op {op!r}")  # pragma: no cover - the IR is closed


#: Decimals of the quick float of an exact value (``_floats``).
_QUICK_FLOAT = 9


def _floats(n: pl.Series, scale: int) -> pl.Series:
    """:class:`ExactFloat` of Int128 integers at ``scale``: where a value has at most
    ``_QUICK_FLOAT`` decimals and fewer than 2**53 units of them, both it and the power
    of ten are exact doubles and one IEEE division rounds correctly; the other values
    are read from their written digits (polars parses decimal text correctly rounded)."""
    cut = 10 ** (scale - _QUICK_FLOAT) if scale > _QUICK_FLOAT else 1
    d = min(scale, _QUICK_FLOAT)
    frame = n.to_frame("n")
    x = pl.col("n")
    quick = frame.select(
        ((x % _i(cut) == 0) & ((x // _i(cut)).abs() < 2 ** 53)).fill_null(False).alias("q"),
        pl.when((x // _i(cut)).abs() < 2 ** 53).then(x // _i(cut)).cast(pl.Int64)
        .cast(pl.Float64).alias("v"),
        pl.lit(pl.repeat(10.0 ** d, frame.height, dtype=pl.Float64, eager=True))
        .alias("p"))
    out = quick.select(pl.when(pl.col("q")).then(pl.col("v") / pl.col("p")).alias("f"))["f"]
    slow = (~quick["q"] & n.is_not_null()).arg_true()
    if not slow.len():
        return out
    texts = n.gather(slow).to_frame("n").select(_digits(x, scale).cast(pl.Float64))
    return out.scatter(slow, texts.to_series())


def _digits(n: pl.Expr, scale: int) -> pl.Expr:
    """The decimal ``n / 10**scale`` written out in full (``-12.340``)."""
    a = n.abs()
    sign = pl.when(n < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    if scale == 0:
        return pl.concat_str(sign, a.cast(pl.String))
    return pl.concat_str(sign, (a // _i(10 ** scale)).cast(pl.String), pl.lit("."),
                         (a % _i(10 ** scale)).cast(pl.String).str.zfill(scale))


def unfit(plan: Plan, prefix: str = "__plan.", without: Collection[str] = ()) -> pl.Expr:
    """Where some exact step of ``plan`` could not be held by this backend (those rows
    are to be decided by the Python backend); ``without``: deferred steps (they are
    unfit only where a step they read is). It ORs the UNFIT columns the steps have (the
    exact steps built again, without the others: cheap, and the same decisions)."""
    return _any([pl.col(prefix + n + UNFIT) for n in _unfit_columns(plan, frozenset(without))])


@functools.lru_cache(maxsize=64)
def _unfit_columns(plan: Plan, without: frozenset[str]) -> tuple[str, ...]:
    b = _Builder(plan, FunctionTable(), "")
    b.deferred = without
    names = []
    for s in plan.steps:
        if isinstance(s.op, EXACT_OPS):
            exprs = _exact_step(b, s.name, s.op)
            if any(e.meta.output_name() == s.name + UNFIT for e in exprs):
                names.append(s.name)
    for e in b.post:
        names.append(e.meta.output_name().removesuffix(UNFIT))
    return tuple(names)
