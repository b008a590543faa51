"""Checked IR -> polars expressions: the batch twin of ``expr/to_python.py``.

Each IR node becomes a pair: the column of values, and a boolean column that
is true on the rows where the per-record evaluator would have *raised*
(division by zero, a whole number out of the safe range, a non-finite
decimal, a date out of range, a plugin function's error). The error column
follows the short-circuit rules of ``ir.py`` exactly: ``x != 0 and y / x > 1``
raises only where ``x != 0`` holds, because only there does Python evaluate
the division. A row whose error column is true is rejected with
``EXPR_ERROR``, exactly as the per-record evaluator rejects it.

Every arithmetic step is the same IEEE double or 64-bit integer operation the
per-record evaluator performs (``**`` is repeated multiplication in both,
``round_half_up`` the same float algorithm), so values agree bit for bit; the
parity property tests in ``tests/test_batch_parity.py`` hold us to it.

Functions without a native polars implementation (a plugin's functions, the
holiday calendar) are evaluated in Python once per *distinct* argument tuple
and joined back, so a column of 10^7 dates costs a few thousand calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..expr.functions import ROUND_EXACT_BELOW, FunctionTable
from ..expr.ir import (
    MAX_SAFE_INT,
    Binary,
    BoolOp,
    Call,
    Compare,
    Const,
    IfElse,
    In,
    Name,
    Node,
    Type,
    Unary,
)
from ..expr.to_python import _BOUNDED, _fin, _int

DTYPES: dict[Type, pl.DataType] = {
    Type.BOOL: pl.Boolean(),
    Type.INT: pl.Int64(),
    Type.DECIMAL: pl.Float64(),
    Type.STRING: pl.String(),
    Type.DATE: pl.Date(),
}

#: Day numbers (days since 1970-01-01) of the first and last date Python can hold.
FIRST_DAY = (dt.date.min - dt.date(1970, 1, 1)).days
LAST_DAY = (dt.date.max - dt.date(1970, 1, 1)).days


@dataclass(frozen=True)
class Column:
    """A compiled expression: its values, and where evaluating it raises (None: nowhere)."""

    value: pl.Expr
    error: pl.Expr | None = None


def either(*errors: pl.Expr | None) -> pl.Expr | None:
    """Rows where any of ``errors`` holds; None when none can ever hold."""
    real = [e for e in errors if e is not None]
    if not real:
        return None
    out = real[0]
    for e in real[1:]:
        out = out | e
    return out


def exact_divisor(den: pl.Expr) -> pl.Expr:
    """``den`` as a full column. polars divides a column by a *scalar* by multiplying with
    its reciprocal, which is not IEEE division (``267.5 / 100`` gives 2.6750000000000003,
    a third of all quotients differ in the last bit); column by column is exact."""
    return den + pl.int_range(pl.len()).cast(pl.Float64) * 0.0


def _only_where(cond: pl.Expr, error: pl.Expr | None) -> pl.Expr | None:
    return None if error is None else cond & error


FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
"""A comparison with its sides swapped: ``a < b`` is ``b > a``."""


class PolarsCompiler:
    """Compiles checked IR for one policy's function table.

    ``names`` maps a fact or built-in name to the (already coerced, typed)
    column expression that holds it; by default a name is the column of that
    name.
    """

    def __init__(self, functions: FunctionTable,
                 names: Mapping[str, pl.Expr] | None = None) -> None:
        self.functions = functions
        self.names = dict(names or {})

    def compile(self, node: Node) -> Column:
        match node:
            case Const(type=t, value=v):
                return Column(pl.lit(v, dtype=DTYPES[t]))
            case Name(name=name):
                return Column(self.names.get(name, pl.col(name)))
            case Unary(op="not", operand=o):
                c = self.compile(o)
                return Column(~c.value, c.error)
            case Unary(op="-", operand=o):
                c = self.compile(o)
                return Column(-c.value, c.error)
            case Unary(operand=o):
                return self.compile(o)
            case Binary():
                return self._binary(node)
            case Compare(op=op, left=a, right=b):
                if isinstance(a, Const) and not isinstance(b, Const):
                    # the literal second: polars' optimiser folds `"low" == (s if p
                    # else "low")` over a frame where p is all false into one value
                    # (a frame of one row), not a value per row (found by the parity
                    # property test; polars 2.0 and 2.1)
                    a, b, op = b, a, FLIPPED[op]
                ca, cb = self.compile(a), self.compile(b)
                la = _comparable(ca.value, a.type, b.type)
                lb = _comparable(cb.value, b.type, a.type)
                value = {"<": la < lb, "<=": la <= lb, ">": la > lb, ">=": la >= lb,
                         "==": la == lb, "!=": la != lb}[op]
                return Column(value, either(ca.error, cb.error))
            case BoolOp(op=op, values=vs):
                return self._boolop(op, vs)
            case IfElse(cond=c, then=t, orelse=e):
                cc, ct, ce = self.compile(c), self.compile(t), self.compile(e)
                dtype = DTYPES[node.type]
                value = pl.when(cc.value).then(ct.value.cast(dtype)) \
                    .otherwise(ce.value.cast(dtype))
                return Column(value, either(cc.error, _only_where(cc.value, ct.error),
                                            _only_where(~cc.value, ce.error)))
            case In(operand=o, options=opts, negate=neg):
                c = self.compile(o)
                as_double = o.type is Type.DECIMAL or (
                    o.type is Type.INT and any(isinstance(v, float) for v in opts))
                dtype = DTYPES[Type.DECIMAL if as_double else o.type]
                allowed = pl.lit(pl.Series(list(opts), dtype=dtype)).implode()
                member = c.value.cast(dtype).is_in(allowed)
                return Column(~member if neg else member, c.error)
            case Call():
                return self._call(node)
        raise TypeError(f"unknown IR node {node!r}")  # pragma: no cover - IR is closed

    # -- arithmetic --------------------------------------------------------------------
    def _binary(self, node: Binary) -> Column:
        a, b = self.compile(node.left), self.compile(node.right)
        if node.op == "**":
            assert isinstance(node.right, Const)
            return self._power(node, a, int(node.right.value))
        if node.op == "/":
            num, den = a.value.cast(pl.Float64), b.value.cast(pl.Float64)
            value = num / exact_divisor(den)
            own = (den == 0) | ~value.is_finite()
            return Column(value, either(a.error, b.error, own))
        if node.type is Type.INT:
            value = {"+": a.value + b.value, "-": a.value - b.value,
                     "*": a.value * b.value}[node.op]
            if node.op == "*":  # the 64-bit product can wrap; its double cannot
                shadow = a.value.cast(pl.Float64) * b.value.cast(pl.Float64)
                own = shadow.abs() > MAX_SAFE_INT
            else:
                own = value.abs() > MAX_SAFE_INT
            return Column(value, either(a.error, b.error, own))
        x, y = a.value.cast(pl.Float64), b.value.cast(pl.Float64)
        value = {"+": x + y, "-": x - y, "*": x * y}[node.op]
        return Column(value, either(a.error, b.error, ~value.is_finite()))

    def _power(self, node: Binary, base: Column, n: int) -> Column:
        if n == 0:
            one = pl.lit(1, dtype=pl.Int64) if node.type is Type.INT else pl.lit(1.0)
            return Column(one, base.error)
        if node.type is Type.INT:
            value, shadow = base.value, base.value.cast(pl.Float64)
            f = shadow
            for _ in range(n - 1):
                value = value * base.value
                shadow = shadow * f
            return Column(value, either(base.error, shadow.abs() > MAX_SAFE_INT))
        x = base.value.cast(pl.Float64)
        value = x
        for _ in range(n - 1):
            value = value * x
        return Column(value, either(base.error, ~value.is_finite()))

    # -- and / or --------------------------------------------------------------------------
    def _boolop(self, op: str, nodes: Sequence[Node]) -> Column:
        parts = [self.compile(v) for v in nodes]
        value = parts[0].value
        errors: list[pl.Expr | None] = [parts[0].error]
        reached: pl.Expr = parts[0].value if op == "and" else ~parts[0].value
        for p in parts[1:]:
            errors.append(_only_where(reached, p.error))
            value = (value & p.value) if op == "and" else (value | p.value)
            reached = reached & (p.value if op == "and" else ~p.value)
        return Column(value, either(*errors))

    # -- functions ---------------------------------------------------------------------------
    def _call(self, node: Call) -> Column:
        args = [self.compile(a) for a in node.args]
        native = _NATIVE.get(node.func)
        fn = self.functions.get(node.func)
        assert fn is not None, node.func  # the checker resolved it
        if native is not None:  # names are unique per table: a standard name is the standard one
            value, own = native(node, [a.value for a in args])
            return Column(value, either(*(a.error for a in args), own))
        value, own = _python_call(node, fn.python, [a.value for a in args])
        return Column(value, either(*(a.error for a in args), own))


def _comparable(value: pl.Expr, own: Type, other: Type) -> pl.Expr:
    """An int compared with a decimal is compared as a double, as Python does for safe ints."""
    if own is Type.INT and other is Type.DECIMAL:
        return value.cast(pl.Float64)
    return value


# --- native implementations of the standard functions ------------------------------------

Native = Callable[[Call, list[pl.Expr]], tuple[pl.Expr, pl.Expr | None]]


def _numeric(node: Call, args: list[pl.Expr]) -> list[pl.Expr]:
    return [a.cast(pl.Float64) for a in args] if node.type is Type.DECIMAL else args


def _min(node: Call, args: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr | None]:
    return pl.min_horizontal(*_numeric(node, args)), None


def _max(node: Call, args: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr | None]:
    return pl.max_horizontal(*_numeric(node, args)), None


def _abs(node: Call, args: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr | None]:
    return args[0].abs(), None


def _clamp(node: Call, args: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr | None]:
    x, lo, hi = _numeric(node, args)
    return pl.when(x < lo).then(lo).when(x > hi).then(hi).otherwise(x), None


def round_half_up_expr(x: pl.Expr, digits: int) -> tuple[pl.Expr, pl.Expr]:
    """``functions.round_half_up``, operation for operation, on a Float64 column."""
    scale = 10.0**digits
    a = x.abs()
    y = a * scale
    k = y.floor()
    divisor = exact_divisor(pl.lit(scale))
    small = pl.when(a >= (k + 0.5) / divisor).then(k + 1.0).otherwise(k) / divisor
    big = a if digits else pl.when(y - k >= 0.5).then(k + 1.0).otherwise(k)
    mag = pl.when(y >= ROUND_EXACT_BELOW).then(big).otherwise(small)
    r = pl.when(x < 0).then(-mag).otherwise(mag)
    error = ~x.is_finite()
    if digits:
        return r, error
    error = error | (r.abs() > MAX_SAFE_INT)
    return r.cast(pl.Int64, strict=False).fill_null(0), error


def _round(node: Call, args: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr | None]:
    digits = 0
    if len(node.args) == 2:
        literal = node.args[1]
        assert isinstance(literal, Const)  # the checker admits a literal only (_check_round)
        digits = int(literal.value)
    return round_half_up_expr(args[0].cast(pl.Float64), digits)


def _days(d: pl.Expr) -> pl.Expr:
    return d.cast(pl.Int32).cast(pl.Int64)


def _days_between(node: Call, args: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr | None]:
    return _days(args[1]) - _days(args[0]), None


def _add_days(node: Call, args: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr | None]:
    day = _days(args[0]) + args[1]
    error = (day < FIRST_DAY) | (day > LAST_DAY)
    return day.clip(FIRST_DAY, LAST_DAY).cast(pl.Int32).cast(pl.Date), error


def _part(name: str) -> Native:
    def impl(node: Call, args: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr | None]:
        d = args[0].dt
        value = {"year": d.year, "month": d.month, "day": d.day, "weekday": d.weekday}[name]()
        return value.cast(pl.Int64), None
    return impl


_NATIVE: dict[str, Native] = {
    "min": _min, "max": _max, "abs": _abs, "clamp": _clamp, "round_half_up": _round,
    "days_between": _days_between, "add_days": _add_days, "year": _part("year"),
    "month": _part("month"), "day": _part("day"), "weekday": _part("weekday"),
}


# --- everything else: Python, once per distinct argument tuple ------------------------------


def python_value(node: Call, fn: Callable[..., Any], args: Sequence[Any]) -> tuple[Any, bool]:
    """``fn(*args)`` as the per-record evaluator computes it (widened, range-checked),
    and whether it raised."""
    if any(a is None for a in args):  # an argument that itself failed: flagged upstream
        return None, False
    try:
        out = fn(*args)
        if node.type is Type.DECIMAL:
            out = float(out)
        if node.func not in _BOUNDED:
            out = _int(out) if node.type is Type.INT else _fin(out) \
                if node.type is Type.DECIMAL else out
        return out, False
    except (ArithmeticError, ValueError):  # what the per-record schemes catch
        return None, True


def _python_call(node: Call, fn: Callable[..., Any],
                 args: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    dtype = DTYPES[node.type]
    names = [f"a{i}" for i in range(len(args))]
    out_type = pl.Struct({"value": dtype, "error": pl.Boolean()})

    def apply(s: pl.Series) -> pl.Series:
        frame = s.struct.unnest() if names else pl.DataFrame({"_": [0] * len(s)})
        keys = names or ["_"]
        distinct = frame.unique(maintain_order=True)
        values, errors = [], []
        for row in distinct.iter_rows():
            v, e = python_value(node, fn, row if names else ())
            values.append(v)
            errors.append(e)
        distinct = distinct.with_columns(pl.Series("value", values, dtype=dtype),
                                         pl.Series("error", errors, dtype=pl.Boolean))
        joined = frame.join(distinct, on=keys, how="left", maintain_order="left",
                            nulls_equal=True)
        return joined.select(pl.struct("value", "error").alias("out")).to_series()

    packed = pl.struct([a.alias(n) for a, n in zip(args, names, strict=True)]) if names \
        else pl.lit(0)
    result = packed.map_batches(apply, return_dtype=out_type)
    return result.struct.field("value"), result.struct.field("error").fill_null(True)


def compile_to_polars(node: Node, functions: FunctionTable,
                      names: Mapping[str, pl.Expr] | None = None) -> Column:
    """The values and error rows of a checked expression, as polars expressions."""
    return PolarsCompiler(functions, names).compile(node)

