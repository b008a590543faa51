"""The RoundDiv row op: both backends equal Python's ``decimal`` rounding of value / by."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.expr import FunctionTable, Type
from civicscore.plan import Input, Let, Plan, Ref, RoundDiv
from civicscore.plan.python import compile_plan

pl = pytest.importorskip("polars")

MODES = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "half_up": ROUND_HALF_UP}


def exact(value: int, by: int, rounding: str) -> int:
    with localcontext() as ctx:
        ctx.prec = 60
        return int((Decimal(value) / Decimal(by)).quantize(Decimal(1), rounding=MODES[rounding]))


def plan_of(by: int, rounding: str) -> Plan:
    return Plan((Input("v", Type.INT, nullable=True),),
                (Let("q", RoundDiv(Ref("v"), by, rounding)),), ("q",))


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-2**62, 2**62),
                                 st.integers(-1000, 1000)), max_size=20),
       by=st.one_of(st.integers(1, 20), st.integers(1, 2**40)),
       rounding=st.sampled_from(sorted(MODES)))
@example(values=[5, -5, 15, -15, 25, 0, None], by=10, rounding="half_up")
def test_both_backends_round_as_decimal(values: list[int | None], by: int,
                                        rounding: str) -> None:
    from civicscore.plan.polars import run_plan

    plan = plan_of(by, rounding)
    want = [None if v is None else exact(v, by, rounding) for v in values]
    fn = compile_plan(plan, FunctionTable())
    assert [fn({"v": v})[0] for v in values] == want
    frame = pl.DataFrame({"v": pl.Series(values, dtype=pl.Int64)})
    assert run_plan(plan, FunctionTable(), frame)["q"].to_list() == want


def test_bad_divisors_and_modes_are_refused() -> None:
    with pytest.raises(ValueError):
        plan_of(0, "down")
    with pytest.raises(ValueError):
        plan_of(3, "nearest")
