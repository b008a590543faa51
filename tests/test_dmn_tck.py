"""The DMN TCK's decision tables, run through civicscore's hit policies on both backends.

``tests/data/dmn_tck/cases.json`` holds the TCK's compliance-level-2 decision
tables as data (translated by ``translate.py`` in the same folder; see its
README for the commit and licence): per table the hit policy, the aggregation,
each rule's condition and outputs, and the TCK's test cases with their expected
results. Each table becomes one plan (its rules' conditions, then
:func:`civicscore.plan.hit.hit_steps`), run by the generated Python function
per test case and by the polars query over all of them; both must give what the
TCK expects. A table the translation cannot read is declared in the data with
the reason, and this suite checks that each such declaration is there on purpose.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from civicscore.expr import compile_expression
from civicscore.expr.check import Fact, Scope
from civicscore.expr.functions import FunctionTable
from civicscore.expr.ir import Type
from civicscore.plan.hit import HitSteps, HitTable, hit_steps, output_ranks
from civicscore.plan.ops import Expr, Input, Let, Plan, Ref
from civicscore.plan.python import compile_plan

pl = pytest.importorskip("polars")
from civicscore.plan.polars import run_plan  # noqa: E402

DATA = json.loads((Path(__file__).parent / "data" / "dmn_tck" / "cases.json")
                  .read_text(encoding="utf-8"))
CASES = {c["name"]: c for c in DATA["cases"]}
SUPPORTED = sorted(n for n, c in CASES.items() if "unsupported" not in c)
TYPES = {"decimal": Type.DECIMAL, "string": Type.STRING, "bool": Type.BOOL}
POLARS = {Type.DECIMAL: pl.Float64, Type.STRING: pl.String, Type.BOOL: pl.Boolean}
FUNCTIONS = FunctionTable()


def _value(v: Any) -> Any:
    """A value of the data: ``{"decimal": "1.5"}`` is a number, the rest as written."""
    if isinstance(v, dict) and set(v) == {"decimal"}:
        return Decimal(v["decimal"])
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_value(x) for x in v]
    return v


def _input(v: Any) -> Any:
    return float(v) if isinstance(v, Decimal) else v


def build(case: dict[str, Any]) -> tuple[Plan, HitTable, HitSteps]:
    """The table's plan: one condition per rule, then the hit policy's steps."""
    inputs = [Input(i["name"], TYPES[i["type"]]) for i in case["inputs"]]
    scope = Scope({i.name: Fact(i.type) for i in inputs}, FUNCTIONS, case["name"])
    steps: list[Let] = []
    for k, rule in enumerate(case["rules"]):
        steps.append(Let(f"r{k + 1}", Expr(compile_expression(rule["when"], scope,
                                                              Type.BOOL).node)))
    outputs = tuple(tuple(_value(o) for o in r["output"]) for r in case["rules"])
    ranked = case["hit_policy"] in ("priority", "output order")
    table = HitTable(case["hit_policy"], tuple(Ref(s.name) for s in steps), outputs,
                     tuple(s.name for s in steps),
                     output_ranks(outputs, [o["values"] for o in case["outputs"]])
                     if ranked else (), case["aggregation"])
    more, names = hit_steps(table, "$hit.")
    outs = tuple(dict.fromkeys((names.hits, names.chosen, names.violation, names.listed,
                                *names.outputs, *((names.aggregate,) if names.aggregate
                                                  else ()))))
    return Plan(tuple(inputs), (*steps, *more), outs), table, names


def result(case: dict[str, Any], table: HitTable, names: HitSteps, plan: Plan,
           row: tuple[Any, ...]) -> Any:
    """What the table gives, in the TCK's terms, from one row of the plan's outputs."""
    got = dict(zip(plan.outputs, row, strict=True))
    chosen, violation, listed = got[names.chosen], got[names.violation], got[names.listed]
    aggregate = got[names.aggregate] if names.aggregate else None
    columns = [o["name"] for o in case["outputs"]]

    def shaped(values: tuple[Any, ...]) -> Any:
        return values[0] if len(values) == 1 else dict(zip(columns, values, strict=True))

    if violation:
        return None  # a violated unique / any gives null in the TCK
    if case["aggregation"] == "count":
        return Decimal(aggregate)
    if case["aggregation"] is not None:
        return None if aggregate is None else Decimal(aggregate)
    if case["hit_policy"] in ("unique", "any", "priority", "first"):
        if chosen == len(table.ids):
            return None
        return shaped(tuple(table.outputs[chosen]))
    return [shaped(o) for o in table.listed(listed)]


def test_the_data_names_its_source() -> None:
    assert DATA["tck"] == "https://github.com/dmn-tck/tck"
    assert len(DATA["commit"]) == 40 and DATA["licence"] == "Apache-2.0"
    readme = (Path(__file__).parent / "data" / "dmn_tck" / "README.md").read_text("utf-8")
    assert DATA["commit"] in readme and "Apache-2.0" in readme


def test_every_hit_policy_and_aggregation_is_tested() -> None:
    seen = {(CASES[n]["hit_policy"], CASES[n]["aggregation"]) for n in SUPPORTED}
    assert {p for p, _ in seen} == {"unique", "any", "priority", "first", "output order",
                                    "rule order", "collect"}
    assert {a for _, a in seen} == {None, "count", "sum", "min"}


def test_the_unsupported_tables_say_why() -> None:
    unsupported = {n: c for n, c in CASES.items() if "unsupported" in c}
    assert unsupported, "the level-3 tables are declared, not dropped"
    for name, case in unsupported.items():
        assert case["file"].endswith(f"{name}/{name}.dmn")
        assert len(case["unsupported"]) > 40, name


@pytest.mark.parametrize("name", SUPPORTED)
def test_tck_table_on_both_backends(name: str) -> None:
    case = CASES[name]
    plan, table, names = build(case)
    tests = case["tests"]
    assert tests, name
    rows = [{k: _input(_value(v)) for k, v in t["inputs"].items()} for t in tests]
    fn = compile_plan(plan, FUNCTIONS)
    python = [tuple(fn(r)) for r in rows]
    frame = pl.DataFrame(rows, schema={i.name: POLARS[i.type] for i in plan.inputs})
    polars = [tuple(r) for r in run_plan(plan, FUNCTIONS, frame).iter_rows()]
    assert polars == python
    for t, row in zip(tests, python, strict=True):
        assert result(case, table, names, plan, row) == _value(t["expected"]), (name, t["id"], row)
