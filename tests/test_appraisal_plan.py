"""The exact-decimal plan ops appraisal's scorecard runs on: the same values from the
generated Python (``decimal``) and from the lazy polars query (Int128 fixed point), and
both equal to the same calculation written directly with Python's ``decimal``."""

from __future__ import annotations

import decimal
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.expr.functions import FunctionTable
from civicscore.expr.ir import Type
from civicscore.plan.ops import (
    DivHalfUp,
    Exact,
    ExactFloat,
    ExactPick,
    ExactSum,
    ExactText,
    Input,
    Interval,
    Let,
    Lit,
    Plan,
    Ref,
)
from civicscore.plan.python import compile_plan

pl = pytest.importorskip("polars")
from civicscore.plan.polars import UNFIT, with_plan  # noqa: E402

D = Decimal
SPANS = ((D("0"), True, D("60.5"), False), (D("60.5"), True, D("100"), True),
         (None, False, D("0"), False))
PLAN = Plan(
    (Input("x", Type.DECIMAL, True), Input("n", Type.INT, True), Input("k", Type.INT)),
    (Let("ex", Exact(Ref("x"))), Let("en", Exact(Ref("n"))),
     Let("sum", ExactSum(((Ref("ex"), D("0.35")), (Ref("en"), D("-1.5"))), D("0.001"))),
     Let("mean", DivHalfUp(Ref("sum"), D("3"), 6)),
     Let("neg", DivHalfUp(Ref("ex"), D("-8"), 2)),
     Let("band", Interval(Ref("ex"), SPANS)),
     Let("pick", ExactPick(Ref("k"), (Ref("mean"), Lit(D("12.5"), "exact")),
                           Lit(D(0), "exact"))),
     Let("float", ExactFloat(Ref("mean"))),
     Let("text", ExactText(Ref("sum"))), Let("ntext", ExactText(Ref("neg"), 1))),
    ("ex", "en", "sum", "mean", "neg", "band", "pick", "float", "text", "ntext"))


def oracle(x: float | None, n: int | None, k: int) -> tuple[Any, ...]:
    """The same steps with ``decimal`` directly (no plan), at a precision that never
    rounds these sums."""
    with decimal.localcontext(prec=400):
        return _oracle(x, n, k)


def _oracle(x: float | None, n: int | None, k: int) -> tuple[Any, ...]:
    ex = None if x is None or not math.isfinite(x) else D(repr(x))
    en = None if n is None else D(n)
    total = None if ex is None or en is None else ex * D("0.35") + en * D("-1.5") + D("0.001")

    def half_up(v: Decimal | None, d: Decimal, places: int) -> Decimal | None:
        if v is None:
            return None
        a, b = v.as_integer_ratio()
        c, e = d.as_integer_ratio()
        num, den = a * e * 10 ** places, b * c
        sign = -1 if (num < 0) != (den < 0) else 1
        q, r = divmod(abs(num), abs(den))
        q += 2 * r >= abs(den)
        return D(sign * q).scaleb(-places)

    mean = half_up(total, D(3), 6)
    neg = half_up(ex, D(-8), 2)
    band = None if ex is None else next(
        (i for i, (lo, lc, hi, hc) in enumerate(SPANS)
         if (lo is None or ex > lo or (lc and ex == lo))
         and (hi is None or ex < hi or (hc and ex == hi))), -1)
    pick = mean if k == 0 else D("12.5") if k == 1 else D(0)

    def text(v: Decimal | None, places: int) -> str | None:
        if v is None:
            return None
        if abs(v) >= 10 ** 15:
            return f"{float(v):g}"
        t = f"{v.quantize(D(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
        t = t.rstrip("0").rstrip(".") if "." in t else t
        return "0" if t == "-0" else t

    return (ex, en, total, mean, neg, band, pick, None if mean is None else float(mean),
            text(total, 4), text(neg, 1))


floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                   st.decimals(-2000, 2000, places=4).map(float),
                   st.sampled_from([60.5, 0.0, -0.0, 100.0, 92.82, 2.5e-7, 1e9, 89.995]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(floats, st.one_of(st.none(), st.integers(-10 ** 10, 10 ** 10)),
                          st.integers(-1, 2)), min_size=1, max_size=20))
@example([(89.995, 0, 0), (1.2345678901234567e-10, 1, 1), (None, None, 0)])
def test_exact_ops_agree_with_decimal_on_both_backends(rows: list[tuple[Any, ...]]) -> None:
    fn = compile_plan(PLAN, FunctionTable())
    expected = [oracle(*r) for r in rows]
    assert [fn({"x": x, "n": n, "k": k}) for x, n, k in rows] == expected
    frame = pl.DataFrame(rows, schema={"x": pl.Float64, "n": pl.Int64, "k": pl.Int64},
                         orient="row")
    out = with_plan(PLAN, FunctionTable(), frame.lazy(),
                    {i.name: pl.col(i.name) for i in PLAN.inputs}, prefix="p.").collect()
    unfit = out.select(pl.any_horizontal(
        [pl.col(c) for c in out.columns if c.endswith(UNFIT)])).to_series().to_list()
    for j, name in enumerate(PLAN.outputs):
        column = out["p." + name].to_list()
        for row, (got, want, bad) in enumerate(zip(column, expected, unfit, strict=True)):
            if bad:
                continue  # the Python backend decides this row
            if PLAN.types[name] == "exact":
                scale = _scale(out, name, got, want[j])
                got = None if got is None else D(got).scaleb(-scale)
            assert got == want[j], (name, rows[row])
    assert not any(unfit[r] for r, (x, n, _) in enumerate(rows)
                   if x is not None and abs(x) < 1e8 and x == round(x, 4)
                   and n is not None and abs(n) < 10 ** 8), "small values must fit"


def _scale(out: Any, name: str, got: int | None, want: Decimal | None) -> int:
    """The polars scale of an exact column, read off a row where both are known."""
    if got is None or want is None or want == 0:
        return 0
    for s in range(0, 40):
        if D(got).scaleb(-s) == want:
            return s
    raise AssertionError((name, got, want))
