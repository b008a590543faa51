"""The generated reader (``plan.python.compile_reader``) and the optimised plan function.

The reader takes facts straight from a record when ``coerce_fact`` would return them
unchanged, and runs the plan in the same call; it must give what reading the record
the careful way and running ``compile_plan`` give, and refuse (None) every value it
does not take as it is. The trusting rendering must fall back on the careful one when
an expression fails, and an absent key on the reading with ``get``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from civicscore.errors import RecordError
from civicscore.expr import Fact, FunctionTable, Scope, Type, compile_expression
from civicscore.expr.functions import standard_functions
from civicscore.expr.ir import MAX_SAFE_INT
from civicscore.plan.ops import (
    Codes,
    Compare,
    Expr,
    Failed,
    FirstTrue,
    Input,
    Let,
    Not,
    Plan,
    Ref,
)
from civicscore.plan.python import compile_plan, compile_reader, needed, render, source_of
from civicscore.policy.model import FactSpec
from civicscore.records import NEVER, REQUIRED, coerce_fact, ready_of

FUNCTIONS = FunctionTable()
for _fn in standard_functions():
    FUNCTIONS.add(_fn)

SPECS = {
    "n": FactSpec(type="int", min=0, max=100),
    "big": FactSpec(type="int", default=0),
    "x": FactSpec(type="decimal", default=1),
    "b": FactSpec(type="bool", default=False),
    "d": FactSpec(type="date", optional=True),
    "k": FactSpec(type="enum", values=["a", "b"], default="a"),
    "t": FactSpec(type="string", default="none"),
}
NAMES = {"n": Fact(Type.INT), "big": Fact(Type.INT), "x": Fact(Type.DECIMAL),
         "b": Fact(Type.BOOL), "d": Fact(Type.DATE), "k": Fact(Type.STRING, ("a", "b")),
         "t": Fact(Type.STRING), "as_of": Fact(Type.DATE)}
TEXT = ("10 / n > 0.5 and (b or k == 'a') and 0 <= days_between(d, as_of) <= 30 "
        "and t != 'x' and big + x >= 0")
EXPR = compile_expression(TEXT, Scope(NAMES, FUNCTIONS, "test"), Type.BOOL)
INPUTS = tuple(Input(n, t.type) for n, t in NAMES.items())
PLAN = Plan(INPUTS, (
    Let("c", Expr(EXPR.node)),
    Let("e", Failed(("c",))),
    Let("first", FirstTrue((Ref("e"), Ref("c")))),
    Let("codes", Codes(((Ref("c"), "HOLDS"), (Ref("e"), "FAILED")))),
), ("c", "e", "first", "codes"))
READ = [ready_of(n, s) for n, s in SPECS.items()]
AS_OF = dt.date(2025, 6, 30)

values = st.one_of(st.none(), st.booleans(), st.integers(-5, 120),
                   st.integers(MAX_SAFE_INT - 1, MAX_SAFE_INT + 2), st.floats(allow_nan=True),
                   st.sampled_from(["a", "b", " a", "", "none", "x", "10", "2025-06-01"]),
                   st.dates(dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
records = st.dictionaries(st.sampled_from(sorted(SPECS)), values)


def careful(record: dict[str, Any]) -> tuple[Any, ...] | None:
    """What reading the record with coerce_fact and running compile_plan give."""
    try:
        env = {n: coerce_fact(n, s, record, "r") for n, s in SPECS.items()}
    except RecordError:
        return None
    env["as_of"] = AS_OF
    return compile_plan(PLAN, FUNCTIONS)(env), env


@settings(max_examples=300, deadline=None)
@given(record=records)
def test_the_reader_gives_the_careful_result_or_refuses(record: dict[str, Any]) -> None:
    fast = compile_reader(PLAN, FUNCTIONS, READ, ("as_of",))(record, AS_OF)
    want = careful(record)
    if fast is None:
        return  # refused: the caller reads the record the careful way
    assert want is not None, (record, fast)
    outputs, env = want
    n = len(PLAN.outputs)
    assert fast[:n - 1] == outputs[:n - 1]
    assert tuple(fast[n - 1]) == tuple(outputs[n - 1])  # codes: a tuple in the reader
    assert fast[n:] == tuple(env[r.name] for r in READ)
    assert [type(v) for v in fast[n:]] == [type(env[r.name]) for r in READ]


def test_ready_values_are_taken_and_others_refused() -> None:
    read = compile_reader(PLAN, FUNCTIONS, READ, ("as_of",))
    good = {"n": 5, "big": 1, "x": 2.0, "b": True, "d": dt.date(2025, 6, 20), "k": "b",
            "t": "yes"}
    assert read(good, AS_OF) is not None
    absent = read({"n": 5}, AS_OF)  # absent keys: the defaults
    assert absent is not None
    assert absent[len(PLAN.outputs):] == (5, 0, 1.0, False, NEVER, "a", "none")
    for key, bad in (("n", 101), ("n", True), ("n", "5"), ("big", MAX_SAFE_INT + 1),
                     ("x", 2), ("x", float("inf")), ("b", 1), ("k", " a"), ("t", " y"),
                     ("t", ""), ("d", dt.datetime(2025, 6, 1)), ("d", "2025-06-01")):
        assert read({**good, key: bad}, AS_OF) is None, (key, bad)
    assert read({**good, "n": None}, AS_OF) is None  # required


def test_a_failing_expression_falls_back_on_the_careful_function() -> None:
    read = compile_reader(PLAN, FUNCTIONS, READ, ("as_of",))
    out = read({"n": 0, "d": AS_OF}, AS_OF)  # 10 / 0
    assert out is not None
    assert out[:4] == (None, True, 0, ("FAILED",))
    assert compile_plan(PLAN, FUNCTIONS)({**{r.name: r.missing for r in READ}, "n": 0,
                                          "d": AS_OF, "as_of": AS_OF}) \
        == (None, True, 0, ["FAILED"])
    assert "try:" in source_of(PLAN, FUNCTIONS, trusting=False)


def test_only_the_outputs_asked_for_are_computed() -> None:
    smaller = needed(PLAN, ("c",))
    assert [s.name for s in smaller.steps] == ["c"]
    read = compile_reader(PLAN, FUNCTIONS, READ, ("as_of",), outputs=("first",))
    out = read({"n": 5, "d": AS_OF, "b": True}, AS_OF)
    assert out is not None and out[0] == 1


def test_an_int_beyond_the_safe_range_is_not_ready() -> None:
    r = ready_of("big", SPECS["big"])
    assert r.lo == -MAX_SAFE_INT and r.hi == MAX_SAFE_INT and r.missing == 0
    assert ready_of("n", SPECS["n"]).missing is REQUIRED


WINDOW_SPECS = {"w": FactSpec(type="date", default="0001-01-01")}
WINDOW_NAMES = {"w": Fact(Type.DATE), "as_of": Fact(Type.DATE)}
extreme_dates = st.one_of(st.dates(), st.sampled_from(
    [dt.date.min, dt.date(1, 1, 2), dt.date(1, 2, 1), dt.date.max, dt.date(9999, 12, 1)]))


def window_plan(lo: int, op1: str, op2: str, hi: int) -> Plan:
    text = f"{lo} {op1} days_between(w, as_of) {op2} {hi}"
    node = compile_expression(text, Scope(WINDOW_NAMES, FUNCTIONS, "test"), Type.BOOL).node
    return Plan((Input("w", Type.DATE), Input("as_of", Type.DATE)),
                (Let("in", Expr(node)), Let("e", Failed(("in",))),
                 Let("codes", Codes(((Ref("in"), "IN"),)))), ("in", "e", "codes"))


@settings(max_examples=300, deadline=None)
@given(w=extreme_dates, as_of=extreme_dates, lo=st.integers(-40, 40), hi=st.integers(-40, 400),
       op1=st.sampled_from(["<", "<="]), op2=st.sampled_from(["<", "<="]))
def test_a_window_of_days_is_the_same_compared_as_dates(
        w: dt.date, as_of: dt.date, lo: int, hi: int, op1: str, op2: str) -> None:
    """``lo <= days_between(w, as_of) <= hi`` is rendered as two date bounds computed once
    per call; at every date, the ends of the calendar included (where a bound does not
    exist and the careful function decides), it gives the difference's answer."""
    plan = window_plan(lo, op1, op2, hi)
    reader = compile_reader(plan, FUNCTIONS, [ready_of("w", WINDOW_SPECS["w"])], ("as_of",))
    days = (as_of - w).days
    holds = (lo < days if op1 == "<" else lo <= days) and \
        (days < hi if op2 == "<" else days <= hi)
    got = reader({"w": w}, as_of)
    assert got is not None and got[:3] == (holds, False, ("IN",) if holds else ())
    assert compile_plan(plan, FUNCTIONS)({"w": w, "as_of": as_of})[0] is holds


def test_a_window_is_rendered_as_bounds_and_a_code_and_its_negation_as_one_pick() -> None:
    plan = window_plan(0, "<=", "<=", 30)
    source = source_of(plan, FUNCTIONS)  # the careful function computes the difference
    assert "days" in source
    src, _ = render(
        plan, FUNCTIONS, [ready_of("w", WINDOW_SPECS["w"])], ("as_of",), trusting=True)
    assert ".days" not in src and "_w0 = a0 - " in src and "<= a0)" in src
    pick = Plan((Input("w", Type.DATE), Input("as_of", Type.DATE)),
                (Let("late", Compare("<", Ref("w"), Ref("as_of"), if_null=False)),
                 Let("early", Not(Ref("late"))),
                 Let("codes", Codes(((Ref("late"), "LATE"), (Ref("early"), "EARLY"))))),
                ("codes",))
    reader = compile_reader(pick, FUNCTIONS, [ready_of("w", WINDOW_SPECS["w"])], ("as_of",))
    assert reader({"w": dt.date(2025, 1, 1)}, dt.date(2025, 1, 10))[0] == ("LATE",)
    assert reader({"w": dt.date(2025, 1, 10)}, dt.date(2025, 1, 10))[0] == ("EARLY",)
    src, _ = render(
        pick, FUNCTIONS, [ready_of("w", WINDOW_SPECS["w"])], ("as_of",), trusting=True)
    assert " else ())" not in src and src.count(" if v1 else ") == 1  # one test for both
