"""Checked IR -> a fast per-record Python callable.

The IR is turned into the source of one ``lambda r: ...`` and compiled once,
so evaluating a rule costs about what a hand-written function would. Only
the IR is rendered, never policy text: names become ``r['name']`` lookups
(``repr`` of a checked identifier), literals other than numbers and booleans
live in a constants tuple, and functions in a functions tuple. The compiled
code runs with empty builtins.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from .functions import FunctionTable, days_between
from .ir import (
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
    walk,
)


def _div(a: float, b: float) -> float:
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return _fin(a / b)


def _int(v: int) -> int:
    """An int result must stay a safe integer (see ``ir``), so both evaluators agree."""
    if -MAX_SAFE_INT <= v <= MAX_SAFE_INT:
        return v
    raise ArithmeticError(f"{v} is too large a whole number")


def _fin(v: float) -> float:
    """A decimal result must be finite: an overflow rejects the record instead of
    comparing as infinity."""
    if -_HUGE <= v <= _HUGE:
        return v
    raise ArithmeticError("the number is too large")


_HUGE = sys.float_info.max


def _pow(v: Any, n: int) -> Any:
    """``v ** n`` as repeated multiplication, the way the batch evaluator computes it."""
    if n == 0:
        return 1 if type(v) is int else 1.0
    out = v
    for _ in range(n - 1):
        out = out * v
    return out


#: Standard functions whose result is always within range when their arguments are
#: (they pick, bound or measure their arguments); every other call is range-checked.
_BOUNDED = frozenset({"min", "max", "abs", "clamp", "days_between", "add_days", "year",
                      "month", "day", "weekday", "date", "is_holiday", "is_workday",
                      "is_makeup_workday"})


class _Renderer:
    def __init__(self, functions: FunctionTable) -> None:
        self.functions = functions
        self.consts: list[Any] = []
        self.funcs: list[Callable[..., Any]] = []

    def const(self, value: Any) -> str:
        self.consts.append(value)
        return f"_k[{len(self.consts) - 1}]"

    def render(self, n: Node) -> str:
        match n:
            case Const(value=v) if type(v) in (bool, int):
                return repr(v)
            case Const(value=v):
                return self.const(v)
            case Name(name=name):
                return f"r[{name!r}]"
            case Unary(op="not", operand=o):
                return f"(not {self.render(o)})"
            case Unary(op=op, operand=o):
                return f"({op}{self.render(o)})"
            case Binary(op="/", left=a, right=b):
                return f"_div({self.render(a)}, {self.render(b)})"
            case Binary(op="**", left=a, right=Const(value=power)):
                return self.checked(n.type, f"_pow({self.render(a)}, {power!r})")
            case Binary(op=op, left=a, right=b):
                return self.checked(n.type, f"({self.render(a)} {op} {self.render(b)})")
            case Compare(op=op, left=a, right=b):
                return f"({self.render(a)} {op} {self.render(b)})"
            case BoolOp(op="and", values=vs):
                return "(" + " and ".join(self.chained(vs)) + ")"
            case BoolOp(op=op, values=vs):
                return "(" + f" {op} ".join(self.render(v) for v in vs) + ")"
            case IfElse(cond=c, then=t, orelse=e):
                return self.widen(n, f"({self.render(t)} if {self.render(c)} else "
                                     f"{self.render(e)})")
            case In(operand=o, options=opts, negate=neg):
                return f"({self.render(o)} {'not in' if neg else 'in'} " \
                       f"{self.const(frozenset(opts))})"
            case Call(func=name, args=args):
                fn = self.functions.get(name)
                assert fn is not None, name  # the checker resolved it
                if fn.python is days_between:  # the standard function, without the call
                    since, until = (self.render(x) for x in args)
                    return f"({until} - {since}).days"
                self.funcs.append(fn.python)
                call = f"_f[{len(self.funcs) - 1}](" + ", ".join(self.render(a) for a in args) + ")"
                if name in _BOUNDED:
                    return self.widen(n, call)
                return self.checked(n.type, self.widen(n, call))
        raise TypeError(f"unknown IR node {n!r}")  # pragma: no cover - IR is closed

    def chained(self, values: tuple[Node, ...]) -> list[str]:
        """The operands of an ``and``, where ``a <= x and x <= b`` (how the checker
        writes ``a <= x <= b``) is rendered as Python's chained comparison, which
        computes ``x`` once: the same value, since ``x`` is pure."""
        out: list[str] = []
        i = 0
        while i < len(values):
            first = values[i]
            run = [first]
            while i + 1 < len(values):
                last, after = run[-1], values[i + 1]
                if not (isinstance(last, Compare) and isinstance(after, Compare)
                        and after.left == last.right and _pure(after.left)):
                    break
                i += 1
                run.append(after)
            if len(run) == 1:
                out.append(self.render(first))
            else:
                assert isinstance(first, Compare)
                out.append(f"({self.render(first.left)}" + "".join(
                    f" {c.op} {self.render(c.right)}" for c in run if isinstance(c, Compare))
                           + ")")
            i += 1
        return out

    @staticmethod
    def checked(kind: Type, src: str) -> str:
        """Arithmetic results are range-checked (see ``ir``: safe integers, finite decimals)."""
        if kind is Type.INT:
            return f"_int({src})"
        if kind is Type.DECIMAL:
            return f"_fin({src})"
        return src

    @staticmethod
    def widen(n: Node, src: str) -> str:
        """A decimal-typed result is always a float, even when an int branch was taken."""
        return f"_float({src})" if n.type is Type.DECIMAL else src


def _pure(node: Node) -> bool:
    """Does computing ``node`` once give what computing it twice would: it calls only
    standard functions of their arguments (a plugin's function might count its calls)."""
    return all(not isinstance(n, Call) or n.func in _BOUNDED for n in walk(node))


def to_python(node: Node, functions: FunctionTable) -> Callable[[Mapping[str, Any]], Any]:
    """Compile a checked expression into ``f(record) -> value``."""
    r = _Renderer(functions)
    body = r.render(node)
    code = compile(f"lambda r: {body}", "<policy expression>", "eval")
    env = {"__builtins__": {}, "_k": tuple(r.consts), "_f": tuple(r.funcs),
           "_div": _div, "_float": float, "_int": _int, "_fin": _fin, "_pow": _pow}
    fn: Callable[[Mapping[str, Any]], Any] = eval(code, env)
    return fn


def source_of(node: Node, functions: FunctionTable) -> str:
    """The rendered source, for debugging and for tests of the renderer."""
    return _Renderer(functions).render(node)
