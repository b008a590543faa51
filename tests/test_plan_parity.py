"""Every plan op gives the same values on both backends (one suite, every backend).

Each op is put alone in a small plan over generated inputs (nullable bools,
ints and dates near the month ends and the last year, whole numbers that
divide by zero) and run by the generated Python function row by row and by
the lazy polars query on the whole frame; the outputs must be identical,
nulls and types included.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.expr.functions import FunctionTable, standard_functions
from civicscore.expr.ir import Binary, BoolOp, Call, Compare, Const, Name, Type
from civicscore.plan import ops
from civicscore.plan.frame import GroupCount, RatedSum, group_count_frame, group_count_rows
from civicscore.plan.ops import (
    STRINGS,
    AddPeriod,
    All,
    AnyOf,
    Codes,
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
    Pick,
    Plan,
    Ref,
    Threshold,
)
from civicscore.plan.python import compile_plan, source_of

pl = pytest.importorskip("polars")
from civicscore.plan.polars import run_plan  # noqa: E402

FUNCTIONS = FunctionTable()
for _fn in standard_functions():
    FUNCTIONS.add(_fn)

INPUTS = (
    Input("p", Type.BOOL, True), Input("q", Type.BOOL, True), Input("r", Type.BOOL, True),
    Input("n", Type.INT, True), Input("m", Type.INT, True),
    Input("d", Type.DATE, True), Input("e", Type.DATE, True),
    Input("x", Type.INT), Input("y", Type.INT), Input("day", Type.DATE),
)
SCHEMA = {i.name: {Type.BOOL: pl.Boolean, Type.INT: pl.Int64, Type.DATE: pl.Date}[i.type]
          for i in INPUTS}

_EDGE_DAYS = [dt.date(2024, 2, 29), dt.date(2023, 1, 31), dt.date(2024, 12, 31),
              dt.date(9999, 12, 31), dt.date(9998, 2, 28), dt.date(1, 1, 1),
              dt.date(2025, 3, 30)]
dates = st.one_of(st.sampled_from(_EDGE_DAYS), st.dates())
maybe = st.one_of(st.none(), st.booleans())
ints = st.one_of(st.none(), st.integers(-3, 8))
records = st.fixed_dictionaries({
    "p": maybe, "q": maybe, "r": maybe, "n": ints, "m": ints,
    "d": st.one_of(st.none(), dates), "e": st.one_of(st.none(), dates),
    "x": st.integers(-5, 5), "y": st.integers(-2, 2), "day": dates,
})

P, Q, R, N, M, D, E = (Ref(n) for n in "pqrnmde")
X, Y = Name(Type.INT, "x"), Name(Type.INT, "y")
#: x / y > 1: fails where y is 0; and a date function that fails past 9999-12-31.
DIVIDES = Compare(Type.BOOL, ">", Binary(Type.DECIMAL, "/", X, Y), Const(Type.DECIMAL, 1.0))
GUARDED = BoolOp(Type.BOOL, "and", (Compare(Type.BOOL, "!=", Y, Const(Type.INT, 0)), DIVIDES))
LATER = Call(Type.DATE, "add_days", (Name(Type.DATE, "day"), Binary(Type.INT, "*", X, X)))

#: One small plan per op (and per way of using it): the last step is the output.
CASES: dict[str, Callable[[], list[Let]]] = {
    "expr_capture": lambda: [Let("out", Expr(DIVIDES))],
    "expr_short_circuit": lambda: [Let("out", Expr(GUARDED))],
    "expr_date_error": lambda: [Let("out", Expr(LATER))],
    "expr_plain": lambda: [Let("out", Expr(Binary(Type.INT, "+", X, Y), capture=False))],
    "failed": lambda: [Let("a", Expr(DIVIDES)), Let("b", Expr(LATER)),
                       Let("out", Failed(("a", "b")))],
    "failed_none": lambda: [Let("out", Failed(()))],
    "count_true": lambda: [Let("out", CountTrue((P, Q, R, Lit(True, Type.BOOL))))],
    "count_none": lambda: [Let("out", CountTrue(()))],
    "all": lambda: [Let("out", All((P, Q, R)))],
    "all_none": lambda: [Let("out", All(()))],
    "any": lambda: [Let("out", AnyOf((P, Q, R)))],
    "any_none": lambda: [Let("out", AnyOf(()))],
    "not": lambda: [Let("out", Not(P))],
    "is_null": lambda: [Let("out", IsNull(D))],
    **{f"compare_{name}_{op}_{if_null}": (
        lambda op=op, a=a, b=b, if_null=if_null: [Let("out", ops.Compare(op, a, b, if_null))])
       for name, (a, b) in {"int": (N, M), "date": (D, E),
                            "lit": (D, Lit(dt.date(2024, 2, 29), Type.DATE)),
                            "int_lit": (N, Lit(3, Type.INT))}.items()
       for op in ("<", "<=", ">", ">=", "==", "!=") for if_null in (False, True)},
    "if_else_int": lambda: [Let("out", IfElse(P, N, M))],
    "if_else_lit": lambda: [Let("out", IfElse(Q, Lit(0, Type.INT), N))],
    "if_else_null": lambda: [Let("out", IfElse(R, D, Lit(None, Type.DATE)))],
    **{f"add_period_{y}y{m}m": (lambda y=y, m=m: [Let("out", AddPeriod(D, y, m))])
       for y, m in ((0, 0), (1, 0), (3, 0), (0, 1), (0, 13), (2, 5), (9999, 0))},
    **{f"add_period_{y}y{m}m{d}d": (lambda y=y, m=m, d=d: [Let("out", AddPeriod(D, y, m, d))])
       for y, m, d in ((0, 0, 7), (0, 1, 3), (0, 0, 366), (2, 1, 1))},
    "first_true": lambda: [Let("out", FirstTrue((P, Q, R)))],
    "first_true_none": lambda: [Let("out", FirstTrue(()))],
    "first_true_lit": lambda: [Let("out", FirstTrue((P, Lit(True, Type.BOOL), Q)))],
    "first_true_many": lambda: [Let("out", FirstTrue(tuple(
        (P, Q, R)[i % 3] if i % 7 else Lit(False, Type.BOOL) for i in range(60))))],
    "pick_table": lambda: [Let("out", Pick(N, tuple(Lit(f"t{i}", Type.STRING)
                                                   for i in range(4))))],
    "pick_table_null": lambda: [Let("out", Pick(N, (Lit(None, Type.INT), Lit(5, Type.INT))))],
    "pick_columns": lambda: [Let("out", Pick(N, (D, E, Lit(dt.date(2024, 2, 29), Type.DATE))))],
    "pick_one": lambda: [Let("out", Pick(M, (N,)))],
    "pick_first": lambda: [Let("i", FirstTrue((P, Q))),
                           Let("out", Pick(Ref("i"), (N, M, Lit(-1, Type.INT))))],
    "least_dates": lambda: [Let("out", Least((D, E, Lit(dt.date(2024, 2, 29), Type.DATE))))],
    "least_nulls": lambda: [Let("out", Least((D, E)))],
    "least_one": lambda: [Let("out", Least((N,)))],
    "least_ints": lambda: [Let("out", Least((Ref("x"), Ref("y"))))],
    "greatest_ints": lambda: [Let("out", Greatest((N, M, Lit(2, Type.INT))))],
    "greatest_dates": lambda: [Let("out", Greatest((D, E)))],
    "threshold": lambda: [Let("out", Threshold(N, (0, 2, 5)))],
    "threshold_decimal": lambda: [Let("out", Threshold(N, (-1.5, 2.5)))],
    "threshold_none": lambda: [Let("out", Threshold(N, ()))],
    "codes": lambda: [Let("out", Codes(((P, "P"), (Q, "Q"), (R, "R"), (P, "P again"))))],
    "codes_none": lambda: [Let("out", Codes(()))],
    "codes_many": lambda: [Let("out", Codes(tuple((P if i % 2 else Q, f"c{i}")
                                                  for i in range(70))))],
    # gathered from every key's list (<= 10 conditions), and looked up by key (more)
    "codes_ten": lambda: [Let("out", Codes(tuple(((P, Q, R)[i % 3], f"c{i}")
                                                 for i in range(10))))],
    "codes_twelve": lambda: [Let("out", Codes(tuple(((P, Q, R)[i % 3], f"c{i}")
                                                    for i in range(12))))],
    "chained": lambda: [
        Let("a", Expr(DIVIDES)), Let("k", CountTrue((Ref("a"), P))),
        Let("end", AddPeriod(D, 1, 0)), Let("late", ops.Compare("<", E, Ref("end"), True)),
        Let("t", IfElse(Ref("late"), Lit(-1, Type.INT), Ref("k"))),
        Let("early", Not(Ref("late"))),
        Let("out", Codes(((Ref("late"), "LATE"), (Ref("early"), "EARLY"))))],
}


def _plan(case: str) -> Plan:
    steps = CASES[case]()
    return Plan(INPUTS, tuple(steps), tuple(s.name for s in steps))


#: Every case's plan and its generated Python function, made once: the rows, not the
#: plans, are what each example varies.
PLANS = {case: _plan(case) for case in sorted(CASES)}
FUNCTIONS_OF = {case: compile_plan(plan, FUNCTIONS) for case, plan in PLANS.items()}

#: Every op but expressions (always compiled natively, with their error columns).
FALLBACK_OPS = frozenset(t for t in ops.Op.__args__ if t not in (Expr, Failed))


def _check_types(plan: Plan, python: list[tuple[Any, ...]], case: str) -> None:
    """The declared type and nullability of every output hold."""
    for values in python:
        for name, v in zip(plan.outputs, values, strict=True):
            if v is None:
                assert plan.nullable[name], (case, name)
            elif plan.types[name] == STRINGS:
                assert isinstance(v, list) and all(isinstance(c, str) for c in v)
            else:
                assert type(v) in {Type.BOOL: (bool,), Type.INT: (int,),
                                   Type.DECIMAL: (float,), Type.DATE: (dt.date,),
                                   Type.STRING: (str,)}[
                    Type(plan.types[name])], (case, name, v)


# Every op sees the same generated rows in one example: a row op reads one row at a
# time, so what matters is the variety of rows, and drawing them once for all the
# cases (instead of once per case) keeps this suite at a few seconds.
@settings(max_examples=40, deadline=None)
@given(rows=st.lists(records, max_size=12))
@example(rows=[])
@example(rows=[{"p": None, "q": True, "r": False, "n": None, "m": 2,
                "d": dt.date(2024, 2, 29), "e": None, "x": 1, "y": 0,
                "day": dt.date(9999, 12, 31)}])
def test_every_op_is_the_same_on_both_backends(rows: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(rows, schema=SCHEMA)
    for case, plan in PLANS.items():
        fn = FUNCTIONS_OF[case]
        python = [fn(r) for r in rows]
        polars = [tuple(r) for r in run_plan(plan, FUNCTIONS, frame).iter_rows()]
        assert polars == python, (case, source_of(plan, FUNCTIONS))
        _check_types(plan, python, case)


@settings(max_examples=15, deadline=None)
@given(rows=st.lists(records, min_size=1, max_size=8))
def test_an_op_the_backend_cannot_run_falls_back_to_python(rows: list[dict[str, Any]]) -> None:
    """A step run through the fallback (the Python backend, batch by batch) gives the
    same values as the Python function: the same result, never an internal error."""
    frame = pl.DataFrame(rows, schema=SCHEMA)
    for case, plan in PLANS.items():
        out = run_plan(plan, FUNCTIONS, frame, python_ops=FALLBACK_OPS)
        assert [tuple(r) for r in out.iter_rows()] == [FUNCTIONS_OF[case](r) for r in rows], case


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["L1", "L2", "(x)"])),
                               st.sampled_from(["a", "b"]), maybe, ints), max_size=30))
def test_group_count_is_the_same_on_both_backends(
        rows: list[tuple[str | None, str, bool | None, int | None]]) -> None:
    """The frame op of caseloads: rows and sums per key, null keys a group of their own."""
    op = GroupCount(("k", "t"), ("flag", "n"))
    python = group_count_rows(op, rows)
    frame = pl.DataFrame(rows, schema={"k": pl.String, "t": pl.String, "flag": pl.Boolean,
                                       "n": pl.Int64}, orient="row")
    assert group_count_frame(op, frame) == python
    assert sum(v[0] for v in python.values()) == len(rows)


def _half_up(total: Fraction, places: int) -> int:
    """The oracle: Python's ``decimal``, ROUND_HALF_UP, in units of 10**-places."""
    with decimal.localcontext(prec=400):
        exact = Decimal(total.numerator) / Decimal(total.denominator)
        return int(exact.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)
                   .scaleb(places))


rate_values = st.fractions(min_value=0, max_value=40, max_denominator=10**6)
#: Rates over coprime huge denominators: their common one overflows Int128, so the polars
#: backend counts the rows per value and totals each group in Python integers.
HUGE = (("a", Fraction(1, 10**40 + 1)), ("b", Fraction(3, 10**40 + 3)))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["L1", "L2"])), maybe,
                               st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))),
                     max_size=30),
       rates=st.tuples(rate_values, rate_values, rate_values), places=st.integers(0, 3))
@example(rows=[("L1", True, "a")] * 3, rates=(Fraction(1, 4),) * 3, places=1)  # 0.75
@example(rows=[("L1", None, "b")] * 45, rates=(Fraction(0), Fraction(3044, 1200),
                                               Fraction(0)), places=1)  # 114.15
def test_rated_sums_are_exact_and_the_same_on_both_backends(
        rows: list[tuple[str | None, bool | None, str | None]],
        rates: tuple[Fraction, Fraction, Fraction], places: int) -> None:
    """The caseload's visits owed: per group the exact sum of each row's rate, rounded
    once, ROUND_HALF_UP, as Python's decimal rounds it; both backends alike."""
    table = tuple(zip("abc", rates, strict=True))
    for rated in (RatedSum("t", table, places), RatedSum("t", HUGE, places)):
        op = GroupCount(("k",), ("flag",), (rated,))
        frame = pl.DataFrame(rows, schema={"k": pl.String, "flag": pl.Boolean,
                                           "t": pl.String}, orient="row")
        if any(r[2] not in (None, *dict(rated.rates)) for r in rows):
            # "c" has no huge rate: a value without a rate is refused by both
            with pytest.raises(KeyError):
                group_count_rows(op, rows)
            with pytest.raises((KeyError, pl.exceptions.PolarsError)):
                group_count_frame(op, frame)
            continue
        python = group_count_rows(op, rows)
        assert group_count_frame(op, frame) == python
        rate = dict(rated.rates)
        for (key,), (n, _flags, units) in python.items():
            mine = [r for r in rows if r[0] == key]
            assert n == len(mine)
            total = sum((rate[t] for _, _, t in mine if t is not None), Fraction(0))
            assert units == _half_up(total, places)


def test_add_period_clips_to_month_end() -> None:
    assert ops.add_period(dt.date(2024, 2, 29), 1) == dt.date(2025, 2, 28)
    assert ops.add_period(dt.date(2024, 2, 29), 4) == dt.date(2028, 2, 29)
    assert ops.add_period(dt.date(2023, 1, 31), 0, 1) == dt.date(2023, 2, 28)
    assert ops.add_period(dt.date(2023, 8, 31), 0, 13) == dt.date(2024, 9, 30)
    assert ops.add_period(dt.date(9999, 6, 1), 1) == dt.date.max
    assert ops.add_period(None, 1) is None
    assert ops.add_period(dt.date(2023, 1, 31), 0, 1, 1) == dt.date(2023, 3, 1)
    assert ops.add_period(dt.date(9999, 12, 30), 0, 0, 2) == dt.date.max
    assert ops.add_period(dt.date(9999, 12, 1), 0, 1, 2) == dt.date.max


def test_first_true_of_thousands_is_flat() -> None:
    """A few thousand items compile (no chain nested per item) on both backends."""
    items = tuple(Ref(f"c{i}") for i in range(3000))
    inputs = tuple(Input(f"c{i}", Type.BOOL, True) for i in range(3000))
    plan = Plan(inputs, (Let("out", FirstTrue(items)),
                         Let("tier", Pick(Ref("out"), tuple(Lit(i, Type.INT)
                                                           for i in range(3001))))),
                ("out", "tier"))
    rows = [{f"c{i}": i == k for i in range(3000)} for k in (0, 2999, 3000)]
    fn = compile_plan(plan, FUNCTIONS)
    assert [fn(r) for r in rows] == [(0, 0), (2999, 2999), (3000, 3000)]
    frame = pl.DataFrame(rows, schema={f"c{i}": pl.Boolean for i in range(3000)})
    assert [tuple(r) for r in run_plan(plan, FUNCTIONS, frame).iter_rows()] == \
        [(0, 0), (2999, 2999), (3000, 3000)]


def test_plans_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="before it is defined"):
        Plan(INPUTS, (Let("out", Not(Ref("later"))),), ("out",))
    with pytest.raises(ValueError, match="twice"):
        Plan(INPUTS, (Let("p", Not(P)),), ("p",))
    with pytest.raises(TypeError, match="may be null"):
        Plan(INPUTS, (Let("out", Expr(Name(Type.INT, "n"))),), ("out",))
    with pytest.raises(TypeError, match="bool is needed"):
        Plan(INPUTS, (Let("out", CountTrue((N,))),), ("out",))
    with pytest.raises(ValueError, match="ascending"):
        Plan(INPUTS, (Let("out", Threshold(N, (2, 2))),), ("out",))
    with pytest.raises(ValueError, match="captured"):
        Plan(INPUTS, (Let("out", Failed(("p",))),), ("out",))
    with pytest.raises(TypeError, match="int is needed"):
        Plan(INPUTS, (Let("out", Pick(P, (N,))),), ("out",))
    with pytest.raises(TypeError, match="int is needed"):
        Plan(INPUTS, (Let("out", Pick(N, (N, D))),), ("out",))
    with pytest.raises(ValueError, match="at least one"):
        Plan(INPUTS, (Let("out", Least(())),), ("out",))
    with pytest.raises(TypeError, match="order numbers or dates"):
        Plan(INPUTS, (Let("out", Greatest((P, Q))),), ("out",))
    with pytest.raises(ValueError, match="never negative"):
        Plan(INPUTS, (Let("out", AddPeriod(D, days=-1)),), ("out",))


def test_no_policy_text_reaches_the_source() -> None:
    """Codes, thresholds and odd input names are constants, never source text."""
    odd = Input("名 'x'", Type.BOOL)
    plan = Plan((odd,), (Let("out", Codes(((Ref(odd.name), "'); import os; ('"),))),),
                ("out",))
    src = source_of(plan, FUNCTIONS)
    assert "import" not in src and "名" not in src
    assert compile_plan(plan, FUNCTIONS)({odd.name: True}) == (["'); import os; ('"],)
