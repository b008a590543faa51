"""plan.polars' deferred steps: a text or a float left out of the query (``Later``) and
computed on a slice of its result is the same column the whole query gives, and the
rows marked unfit are the same."""

from __future__ import annotations

from decimal import Decimal

import pytest

from civicscore.expr.functions import FunctionTable
from civicscore.expr.ir import Type
from civicscore.plan.ops import Exact, ExactFloat, ExactSum, ExactText, Input, Let, Plan, Ref

pl = pytest.importorskip("polars")
from civicscore.plan.polars import unfit, with_plan, with_plan_later  # noqa: E402

PLAN = Plan(
    (Input("x", Type.DECIMAL, True), Input("n", Type.INT)),
    (Let("ex", Exact(Ref("x"))), Let("en", Exact(Ref("n"))),
     Let("sum", ExactSum(((Ref("ex"), Decimal("0.35")), (Ref("en"), Decimal(1))))),
     Let("t", ExactText(Ref("sum"))), Let("f", ExactFloat(Ref("sum"))),
     Let("huge", ExactSum(((Ref("en"), Decimal(10) ** 20),))),
     Let("th", ExactText(Ref("huge")))),
    ("ex", "en", "sum", "t", "f", "huge", "th"))
FRAME = pl.DataFrame({"x": [92.82, None, 1e300, -0.5, 2.5e-7, 7.0],
                      "n": [1, 2, 3, 4, 10 ** 8, 0]})


def test_deferred_steps_equal_the_whole_query_on_every_slice() -> None:
    inputs = {"x": pl.col("x"), "n": pl.col("n")}
    whole = with_plan(PLAN, FunctionTable(), FRAME.lazy(), inputs, prefix="p.") \
        .with_columns(unfit(PLAN, "p.").alias("u")).collect()
    lazy, later = with_plan_later(PLAN, FunctionTable(), FRAME.lazy(), inputs, prefix="p.",
                                  later=("t", "f", "th", "sum"))
    # 'sum' is no text: it stays; 'th' may be unfit where 'huge' is not (it writes
    # 10**20 x n as %g past 10**15): it stays too
    assert later.names == ("t", "f")
    assert later.reads() == {"sum"}
    part = lazy.with_columns(unfit(PLAN, "p.", without=later.names).alias("u")).collect()
    assert part["u"].to_list() == whole["u"].to_list()
    for start in range(0, FRAME.height, 4):
        got = later.add(part.slice(start, 4), ["t"])
        assert "p.f" not in got.columns
        want = whole.slice(start, 4)
        assert got["p.t"].to_list() == want["p.t"].to_list()
    got = later.add(part)
    assert got["p.f"].to_list() == whole["p.f"].to_list()
