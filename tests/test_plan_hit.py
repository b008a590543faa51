"""plan.hit: every hit policy gives the same on both backends, and what DMN says.

Random tables (up to six rules, each rule's match a nullable bool, outputs small
whole numbers or texts) under every hit policy and aggregation are run by the
generated Python function per row and by the polars query over all rows; the two
must be identical, and both must equal DMN's rules stated plainly below (the
oracle is the test's, written from the DMN text, not from plan.hit).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.expr.functions import FunctionTable
from civicscore.expr.ir import Type
from civicscore.plan.hit import AGGREGATIONS, POLICIES, HitTable, hit_steps, output_ranks
from civicscore.plan.ops import Input, Plan, Ref
from civicscore.plan.python import compile_plan

pl = pytest.importorskip("polars")
from civicscore.plan.polars import run_plan  # noqa: E402

FUNCTIONS = FunctionTable()
KINDS = [(p, None) for p in POLICIES] + [("collect", a) for a in AGGREGATIONS]


def _plan(table: HitTable) -> tuple[Plan, Any]:
    steps, names = hit_steps(table, "$h.")
    outs = tuple(dict.fromkeys((names.hits, names.chosen, names.violation, names.listed,
                                *names.outputs, *((names.aggregate,) if names.aggregate
                                                  else ()))))
    inputs = tuple(Input(r.name, Type.BOOL, nullable=True) for r in table.matches
                   if isinstance(r, Ref))
    return Plan(inputs, tuple(steps), outs), names


def _oracle(table: HitTable, row: dict[str, bool | None]) -> dict[str, Any]:
    """DMN 8.2.11, plainly: which rules match, then what each policy makes of them."""
    n = len(table.ids)
    hit = [i for i in range(n) if row[table.ids[i]] is True]
    outs = table.outputs
    violation = (table.policy == "unique" and len(hit) > 1) or (
        table.policy == "any" and len({outs[i] for i in hit}) > 1)
    by_rank = sorted(hit, key=lambda i: (table.rank[i], i)) if table.rank else hit
    if table.policy in ("priority", "output order"):
        chosen = by_rank[0] if hit else n
    elif table.aggregation == "min":
        chosen = min(hit, key=lambda i: (outs[i][0], i)) if hit else n
    elif table.aggregation == "max":
        chosen = min(hit, key=lambda i: (-outs[i][0], i)) if hit else n
    else:
        chosen = hit[0] if hit else n
    listed = [table.ids[i] for i in (by_rank if table.policy == "output order" else hit)]
    values = [outs[i][0] for i in hit]
    aggregate: Any = None
    if table.aggregation == "count":
        aggregate = len(hit)
    elif table.aggregation is not None and hit:
        aggregate = Decimal({"sum": sum, "min": min, "max": max}[table.aggregation](values))
    return {"hits": len(hit), "chosen": chosen, "violation": violation, "listed": listed,
            "aggregate": aggregate}


#: Numeric outputs: what both backends hold exactly (below 10**9, at most 12 decimals).
NUMBERS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([Decimal("999999999.999999999999"), Decimal("-999999999.999999999999"),
                     Decimal("0.000000000001"), Decimal("98.83"), Decimal("-0.5")]),
    st.decimals(min_value=Decimal("-999999999.999999999999"),
                max_value=Decimal("999999999.999999999999"), places=12,
                allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-1000, max_value=1000, places=2,
                allow_nan=False, allow_infinity=False))


@st.composite
def tables(draw: st.DrawFn) -> tuple[HitTable, list[dict[str, bool | None]]]:
    policy, aggregation = draw(st.sampled_from(KINDS))
    n = draw(st.integers(0, 6))
    numbers = aggregation in ("sum", "min", "max")
    if numbers:  # small whole numbers (ties), and decimals up to the edges of the domain
        outputs = tuple((draw(NUMBERS),) for _ in range(n))
    else:
        outputs = tuple((draw(st.sampled_from(["a", "b", "c"])),) for _ in range(n))
    rank = (output_ranks(outputs, [["a", "b", "c"]])
            if policy in ("priority", "output order") else ())
    ids = tuple(f"r{i}" for i in range(n))
    table = HitTable(policy, tuple(Ref(i) for i in ids), outputs, ids, rank, aggregation)
    rows = draw(st.lists(st.fixed_dictionaries(
        {i: st.one_of(st.none(), st.booleans()) for i in ids}), max_size=8))
    return table, rows


def _check(table: HitTable, rows: list[dict[str, bool | None]]) -> None:
    plan, names = _plan(table)
    fn = compile_plan(plan, FUNCTIONS)
    python = [tuple(fn(r)) for r in rows]
    frame = pl.DataFrame(rows, schema={i.name: pl.Boolean for i in plan.inputs})
    if plan.inputs:
        polars = [tuple(r) for r in run_plan(plan, FUNCTIONS, frame).iter_rows()]
        assert polars == python, table
    for row, values in zip(rows, python, strict=True):
        got = dict(zip(plan.outputs, values, strict=True))
        want = _oracle(table, row)
        assert got[names.hits] == want["hits"]
        assert got[names.chosen] == want["chosen"]
        assert got[names.violation] is want["violation"]
        assert got[names.listed] == want["listed"]
        if names.aggregate is not None:
            agg = got[names.aggregate]
            assert (agg if agg is None or isinstance(agg, int) else Decimal(agg)) \
                == want["aggregate"], (table, row)


@settings(max_examples=150, deadline=None)
@given(case=tables())
@example(case=(HitTable("collect", (), (), (), aggregation="min"), [{}]))
@example(case=(HitTable("any", (Ref("r0"), Ref("r1")), (("a",), ("a",)), ("r0", "r1")),
               [{"r0": True, "r1": True}, {"r0": True, "r1": None}]))
@example(case=(HitTable("collect", (Ref("r0"), Ref("r1")), ((2,), (-2,)), ("r0", "r1"),
                        aggregation="sum"),
               [{"r0": True, "r1": True}, {"r0": None, "r1": False}]))
# a sum of a large and a very precise output: once null in polars (its terms were held
# at the scale of a double's), now exact in both
@example(case=(HitTable("collect", (Ref("r0"), Ref("r1")), ((Decimal("123456789.5"),),
                                                            (Decimal("0.000000000001"),)),
                        ("r0", "r1"), aggregation="sum"), [{"r0": True, "r1": True}]))
# a tiny output: polars wrote the text of 1e-12 with an exponent (ExactText's quick
# path through a double); both now write 0.000000000001
@example(case=(HitTable("collect", (Ref("r0"),), ((Decimal("1E-12"),),), ("r0",),
                        aggregation="sum"), [{"r0": True}]))
@example(case=(HitTable("collect", (Ref("r0"), Ref("r1")), ((2,), (2,)), ("r0", "r1"),
                        aggregation="max"), [{"r0": True, "r1": True}]))
@example(case=(HitTable("output order", (Ref("r0"), Ref("r1"), Ref("r2")),
                        (("c",), ("a",), ("c",)), ("r0", "r1", "r2"), (1, 0, 1)),
               [{"r0": True, "r1": True, "r2": True}]))
def test_hit_policies_agree_and_follow_dmn(
        case: tuple[HitTable, list[dict[str, bool | None]]]) -> None:
    _check(*case)


def test_no_rule_matches() -> None:
    """DMN: no match gives null for a single result, the empty list for a list, 0 for
    count and null for sum, min and max (FEEL's count/sum/min/max of [])."""
    for policy, aggregation in KINDS:
        numbers = aggregation in ("sum", "min", "max")
        outputs = ((1,), (2,)) if numbers else (("a",), ("b",))
        rank = (0, 1) if policy in ("priority", "output order") else ()
        table = HitTable(policy, (Ref("r0"), Ref("r1")), outputs, ("r0", "r1"), rank,
                         aggregation)
        plan, names = _plan(table)
        got = dict(zip(plan.outputs, compile_plan(plan, FUNCTIONS)(
            {"r0": False, "r1": None}), strict=True))
        assert got[names.chosen] == 2 and got[names.listed] == []
        assert all(got[o] is None for o in names.outputs)
        if aggregation is not None:
            assert got[names.aggregate] == (0 if aggregation == "count" else None)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"policy": "firts"}, "unknown hit policy 'firts'"),
    ({"policy": "priority"}, "give a rank per rule"),
    ({"policy": "first", "aggregation": "sum"}, "only for hit policy 'collect'"),
    ({"policy": "collect", "aggregation": "avg"}, "unknown aggregation 'avg'"),
    ({"policy": "collect", "aggregation": "sum", "outputs": (("a",),)}, "aggregate numbers"),
    ({"outputs": ((Decimal(10) ** 9,),)}, "below 1000000000 in magnitude"),
    ({"outputs": ((Decimal("1e-13"),),)}, "at most 12 decimals"),
    ({"policy": "collect", "aggregation": "sum", "matches": (Ref("r0"),) * 1_000_001,
      "ids": ("r0",) * 1_000_001, "outputs": ((Decimal("999999999.5"),),) * 1_000_001},
     "add up to 1000000000000000 or more"),
])
def test_a_table_that_cannot_be_is_refused(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"policy": "first", "matches": (Ref("r0"),), "outputs": ((1,),),
                            "ids": ("r0",)}
    with pytest.raises(ValueError, match=message):
        HitTable(**(args | kwargs))


def test_an_output_outside_its_priority_list_is_refused() -> None:
    with pytest.raises(ValueError, match="'d' is not one of the output values"):
        output_ranks([("a",), ("d",)], [["a", "b"]])
    assert output_ranks([("b", "x"), ("a", "y"), ("b", "z")], [["a", "b"], None]) == (1, 0, 1)


def test_a_scheme_pays_only_for_what_it_reads() -> None:
    """``want``: under first, the chosen rule needs one FirstTrue, and no count, list or
    output; under unique the violation needs the count, and still no list."""
    table = HitTable("first", (Ref("r0"), Ref("r1")), (("a",), ("b",)), ("r0", "r1"))
    steps, names = hit_steps(table, "$h.", want=("chosen", "violation"))
    assert [type(s.op).__name__ for s in steps] == ["FirstTrue", "All"]
    unique = HitTable("unique", (Ref("r0"), Ref("r1")), (("a",), ("b",)), ("r0", "r1"))
    steps, names = hit_steps(unique, "$h.", want=("chosen", "violation"))
    assert [s.name for s in steps] == [names.hits, names.chosen, names.violation]
    every, _ = hit_steps(unique, "$h.")
    assert len(every) > len(steps)
