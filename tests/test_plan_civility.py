"""Civility's plan (steps 2 to 5) gives the same trace on both backends.

The shipped example policy's plan is run on generated households (facts in
range, reviews and revocations blank, on leap days, long ago, after the as-of
date, near year 9999) by the generated Python function and by the lazy polars
query; every output (stars, bar end, title, review, reason codes, stars met)
must be identical. The end-to-end parity of both engines is in
tests/test_batch_civility.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.expr.ir import Type
from civicscore.plan.python import compile_plan, source_of
from civicscore.schemes.civility.scheme import TRACE_FIELDS, Trace

from .conftest import EXAMPLE_POLICY

pl = pytest.importorskip("polars")
from civicscore.plan.polars import run_plan  # noqa: E402

SCHEME = civicscore.load(EXAMPLE_POLICY).civility
PLAN = SCHEME.plan
FUNCTIONS = SCHEME.functions
DTYPES = {Type.BOOL: pl.Boolean, Type.INT: pl.Int64, Type.DECIMAL: pl.Float64,
          Type.STRING: pl.String, Type.DATE: pl.Date}
VALUES = {Type.BOOL: st.booleans(), Type.INT: st.integers(0, 30),
          Type.DECIMAL: st.floats(0, 60, allow_nan=False), Type.STRING: st.text(max_size=3)}
days = st.one_of(st.none(), st.dates(), st.sampled_from(
    [dt.date(2024, 2, 29), dt.date(2025, 12, 31), dt.date(9999, 12, 31), dt.date(2020, 12, 31)]))


@st.composite
def households(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in PLAN.inputs:
        if i.name == "as_of":
            out[i.name] = draw(st.sampled_from([dt.date(2025, 12, 31), dt.date(2024, 2, 29)]))
        elif i.type is Type.DATE:
            out[i.name] = draw(days) if i.nullable else draw(st.dates())
        else:
            out[i.name] = draw(VALUES[i.type])
    return out


def test_the_plan_has_the_trace_fields_then_one_flag_per_star() -> None:
    assert PLAN.outputs[:len(TRACE_FIELDS)] == TRACE_FIELDS
    assert len(PLAN.outputs) == len(TRACE_FIELDS) + len(SCHEME.stars)
    assert "def plan(r):" in source_of(PLAN, FUNCTIONS)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(households(), max_size=15))
def test_civility_plan_is_the_same_on_both_backends(rows: list[dict[str, Any]]) -> None:
    fn = compile_plan(PLAN, FUNCTIONS)
    python = [fn(r) for r in rows]
    schema = {i.name: DTYPES[i.type] for i in PLAN.inputs}
    polars = [tuple(r) for r in run_plan(PLAN, FUNCTIONS, pl.DataFrame(rows, schema=schema))
              .iter_rows()]
    assert polars == python
    for values in python:
        t = Trace(*values)
        assert t.stars == (0 if t.barred else t.earned)
        assert (t.barred_until is not None) == t.barred
        assert t.stars_met == [s.id for s, met in zip(SCHEME.stars, t.met, strict=True) if met]
