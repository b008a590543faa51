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
from collections.abc import Mapping
from typing import Any

import polars as pl

from ..batch.expr import DTYPES, PolarsCompiler, either
from ..expr.functions import FunctionTable
from ..expr.ir import Name, Type, walk
from .ops import (
    STRINGS,
    AddPeriod,
    All,
    AnyOf,
    Codes,
    Compare,
    CountTrue,
    Expr,
    Failed,
    FirstTrue,
    Greatest,
    IfElse,
    Input,
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
#: The error column of a captured expression step ``name`` is ``prefix + name + ERROR``.
ERROR = "!error"


def dtype(t: ValueType) -> pl.DataType:
    """The polars type of a plan value type."""
    return _LIST if t == STRINGS else DTYPES[Type(t)]


class _Builder:
    def __init__(self, plan: Plan, functions: FunctionTable, prefix: str,
                 python_ops: frozenset[type] = frozenset()) -> None:
        self.plan = plan
        self.prefix = prefix
        self.functions = functions
        self.python_ops = python_ops
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
              python_ops: frozenset[type] = frozenset()) -> pl.LazyFrame:
    """``frame`` with a column ``prefix + name`` per plan input and step (and
    ``prefix + name + ERROR`` per captured expression step); ``inputs`` gives the
    column expression of every plan input, already typed. Steps whose op is one of
    ``python_ops`` (or that this backend cannot run) are run by the Python backend."""
    b = _Builder(plan, functions, prefix, python_ops)
    out = frame.with_columns(
        inputs[i.name].cast(dtype(i.type)).alias(prefix + i.name) for i in plan.inputs)
    for group in _levels(plan):
        out = out.with_columns(
            e for j in group for e in b.step(plan.steps[j].name, plan.steps[j].op))
    return out


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
