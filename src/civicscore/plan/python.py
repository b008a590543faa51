"""Plan -> one straight-line Python function, compiled once per policy.

As ``expr/to_python.py`` does for one expression, the plan is rendered to the
source of one function ``plan(r)`` that reads its inputs from the mapping
``r`` and returns the plan's outputs as a tuple. Only the IR is rendered,
never policy text: plan names become locals ``v0, v1, ...``, an input is
read as ``r['name']`` only when its name is a plain ASCII identifier (else
through the constants tuple), and strings, dates, reason codes and
thresholds live in the constants tuple. Expressions are rendered by
``to_python``'s renderer with their names bound to those locals. The code
runs with empty builtins. Each op is rendered in exactly one place below.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from typing import Any

from ..expr.functions import FunctionTable
from ..expr.ir import Name, Node
from ..expr.to_python import _div, _fin, _int, _pow, _Renderer
from .ops import (
    AddPeriod,
    All,
    AnyOf,
    Codes,
    Compare,
    CountTrue,
    DivHalfUp,
    Exact,
    ExactFloat,
    ExactOp,
    ExactPick,
    ExactSum,
    ExactText,
    Expr,
    Failed,
    FirstTrue,
    Greatest,
    IfElse,
    Interval,
    IsNull,
    Least,
    Lit,
    Not,
    Op,
    Operand,
    Pick,
    Plan,
    Ref,
    RoundDiv,
    Threshold,
    add_period,
    div_half_up,
    exact,
    exact_sum,
    exact_text,
    first_true,
    interval,
    round_div,
)

#: Up to this many items, FirstTrue is rendered as one chained conditional; beyond, as a
#: call over a tuple (a chain thousands deep would exceed the compiler's nesting limit).
_INLINE = 24

PlanFunction = Callable[[Mapping[str, Any]], tuple[Any, ...]]


class _Source(_Renderer):
    """``to_python``'s renderer, with names bound to the plan's locals."""

    def __init__(self, functions: FunctionTable) -> None:
        super().__init__(functions)
        self.local: dict[str, str] = {}
        self.error: dict[str, str] = {}
        self.nullable: dict[str, bool] = {}

    def render(self, n: Node) -> str:
        if isinstance(n, Name):
            return self.local[n.name]
        return super().render(n)

    def operand(self, o: Operand) -> str:
        if isinstance(o, Ref):
            return self.local[o.name]
        if o.value is None or type(o.value) in (bool, int):
            return repr(o.value)
        return self.const(o.value)

    def may_be_null(self, o: Operand) -> bool:
        return o.value is None if isinstance(o, Lit) else self.nullable[o.name]

    def step(self, name: str, op: Op) -> list[str]:
        """The lines that bind the local of step ``name``."""
        v = self.local[name]
        if isinstance(op, Expr):
            body = self.render(op.node)
            if not op.capture:
                return [f"{v} = {body}"]
            e = self.error[name]
            return ["try:", f"    {v} = {body}", f"    {e} = False",
                    "except (_ArithmeticError, _ValueError):", f"    {v} = None",
                    f"    {e} = True"]
        return [f"{v} = {self.value(op)}"]

    def value(self, op: Op) -> str:
        o = self.operand
        match op:
            case Failed(steps=steps):
                return "(" + " or ".join(self.error[s] for s in steps) + ")" if steps \
                    else "False"
            case CountTrue(items=items):
                return "(0" + "".join(f" + ({o(i)} is True)" for i in items) + ")"
            case All(items=items):
                return "(" + " and ".join(f"{o(i)} is True" for i in items) + ")" if items \
                    else "True"
            case AnyOf(items=items):
                return "(" + " or ".join(f"{o(i)} is True" for i in items) + ")" if items \
                    else "False"
            case Not(item=i):
                return f"({o(i)} is not True)"
            case IsNull(item=i):
                return f"({o(i)} is None)"
            case Compare(op=cmp, left=a, right=b, if_null=if_null):
                test = f"({o(a)} {cmp} {o(b)})"
                nulls = [f"{o(x)} is None" for x in (a, b) if self.may_be_null(x)]
                if not nulls:
                    return test
                return f"({if_null!r} if {' or '.join(nulls)} else {test})"
            case IfElse(cond=c, then=a, orelse=b):
                return f"({o(a)} if {o(c)} is True else {o(b)})"
            case AddPeriod(date=d, years=y, months=m, days=days):
                if not (y or m or days):
                    return o(d)
                if not (y or m) and days < 3_000_000:  # days only: inline, clipped
                    step = self.const(dt.timedelta(days=days))
                    last = self.const(dt.date.max - dt.timedelta(days=days))
                    added = f"({o(d)} + {step} if {o(d)} <= {last} else {self.const(dt.date.max)})"
                    return f"(None if {o(d)} is None else {added})" if self.may_be_null(d) \
                        else added
                # months: remembered per date (records share few dates, the call is slow)
                after = self.const(lru_cache(maxsize=4096, typed=True)(
                    partial(add_period, years=y, months=m, days=days)))
                return f"{after}({o(d)})"
            case FirstTrue(items=items):
                if len(items) > _INLINE:
                    return f"_first_true(({''.join(o(i) + ', ' for i in items)}))"
                chain = "".join(f"{k} if {o(i)} is True else " for k, i in enumerate(items))
                return f"({chain}{len(items)})"
            case Pick(index=ix, values=values):
                if all(isinstance(v, Lit) for v in values):  # a table: one dict look-up
                    lookup = {k: v.value for k, v in enumerate(values) if isinstance(v, Lit)}
                    return f"{self.const(lookup)}.get({o(ix)})"
                cases = ", ".join(f"{k}: {o(v)}" for k, v in enumerate(values))
                return f"{{{cases}}}.get({o(ix)})"
            case Least(items=items) | Greatest(items=items):
                pick = "_min" if isinstance(op, Least) else "_max"
                if len(items) == 1:
                    return o(items[0])
                if not any(self.may_be_null(i) for i in items):
                    return f"{pick}({', '.join(o(i) for i in items)})"
                anchor = next((i for i in items if not self.may_be_null(i)), None)
                if anchor is not None:  # a null item stands in as the anchor: no list
                    stand_in = o(anchor)
                    args = [o(i) if not self.may_be_null(i)
                            else f"({o(i)} if {o(i)} is not None else {stand_in})" for i in items]
                    return f"{pick}({', '.join(args)})"
                present = f"[_x for _x in ({''.join(o(i) + ', ' for i in items)}) " \
                          f"if _x is not None]"
                return f"{pick}({present}, default=None)"
            case Threshold(value=x, thresholds=ths):
                found = f"(_bisect({self.const(tuple(ths))}, {o(x)}) - 1)"
                return f"(None if {o(x)} is None else {found})" if self.may_be_null(x) \
                    else found
            case Codes(pairs=pairs):
                if not pairs:
                    return "[]"
                table = ", ".join(f"({self.const(code)}, {o(c)})" for c, code in pairs)
                return f"[_c for _c, _t in ({table},) if _t is True]"
            case Exact() | ExactSum() | DivHalfUp() | Interval() | ExactPick() | ExactFloat() \
                    | ExactText():
                return _exact_source(self, op)
            case RoundDiv(value=x, by=by, rounding=rounding):
                return f"_round_div({o(x)}, {by!r}, {rounding!r})"
        raise TypeError(f"unknown plan op {op!r}")  # pragma: no cover - the IR is closed


def render(plan: Plan, functions: FunctionTable) -> tuple[str, _Source]:
    """The source of ``def plan(r)`` and the renderer holding its constants."""
    s = _Source(functions)
    s.nullable = dict(plan.nullable)
    lines = ["def plan(r):"]
    for i, inp in enumerate(plan.inputs):
        s.local[inp.name] = f"v{i}"
        key = repr(inp.name) if inp.name.isascii() and inp.name.isidentifier() \
            else s.const(inp.name)
        lines.append(f"    v{i} = r[{key}]")
    base = len(plan.inputs)
    for j, step in enumerate(plan.steps):
        s.local[step.name] = f"v{base + j}"
        s.error[step.name] = f"e{base + j}"
        lines += [f"    {line}" for line in s.step(step.name, step.op)]
    outs = ", ".join(s.local[name] for name in plan.outputs)
    lines.append(f"    return ({outs}{',' if len(plan.outputs) == 1 else ''})")
    return "\n".join(lines) + "\n", s


def compile_plan(plan: Plan, functions: FunctionTable) -> PlanFunction:
    """``plan`` as ``f(record) -> outputs`` (a tuple in ``plan.outputs`` order)."""
    source, s = render(plan, functions)
    code = compile(source, "<policy plan>", "exec")
    env: dict[str, Any] = {
        "__builtins__": {}, "_k": tuple(s.consts), "_f": tuple(s.funcs), "_div": _div,
        "_float": float, "_int": _int, "_fin": _fin, "_pow": _pow,
        "_ArithmeticError": ArithmeticError, "_ValueError": ValueError,
        "_add_period": add_period, "_bisect": bisect_right, "_first_true": first_true,
        "_min": min, "_max": max,
        "_round_div": round_div}
    exec(code, env)
    fn: PlanFunction = env["plan"]
    return fn


def source_of(plan: Plan, functions: FunctionTable) -> str:
    """The rendered source, for debugging and for tests of the renderer."""
    return render(plan, functions)[0]


def _exact_source(s: _Source, op: ExactOp) -> str:
    """The exact-decimal ops (``plan.ops``): a call of the one-value function of each,
    which lives beside its statement in ``plan.ops``."""
    o = s.operand
    match op:
        case Exact(value=v):
            return f"{s.const(exact)}({o(v)})"
        case ExactSum(terms=terms, constant=c):
            values = "".join(f"{o(v)}, " for v, _ in terms)
            coefficients = s.const(tuple(k for _, k in terms))
            return f"{s.const(exact_sum)}(({values}), {coefficients}, {s.const(c)})"
        case DivHalfUp(num=v, den=den, places=places):
            return f"{s.const(div_half_up)}({o(v)}, {s.const(den)}, {places})"
        case Interval(value=v, spans=spans):
            return f"{s.const(interval)}({o(v)}, {s.const(spans)})"
        case ExactPick(index=ix, values=values, default=d):
            cases = ", ".join(f"{k}: {o(v)}" for k, v in enumerate(values))
            return f"({{{cases}}}.get({o(ix)}, {o(d)}) if {o(ix)} is not None else None)"
        case ExactFloat(value=v):
            return f"(None if {o(v)} is None else {s.const(float)}({o(v)}))"
        case ExactText(value=v, places=places):
            return f"{s.const(exact_text)}({o(v)}, {places})"
    raise TypeError(f"unknown plan op {op!r}")  # pragma: no cover - the IR is closed
