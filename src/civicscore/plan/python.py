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
import operator
import re
import sys
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from functools import lru_cache, partial
from itertools import chain
from typing import Any

from ..expr.functions import FunctionTable, days_between
from ..expr.ir import Call, Const, Name, Node, Type, names_read
from ..expr.ir import Compare as Comparison
from ..expr.to_python import _div, _fin, _int, _pow, _Renderer
from ..records import REQUIRED, Ready
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
    Let,
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
    """``to_python``'s renderer, with names bound to the plan's locals.

    Two simplifications keep the function short without changing a value: a step
    whose value is known when the plan is rendered (a literal, an ``All`` of
    literals, a ``FirstTrue`` past its last possible item...) is no local but its
    literal wherever it is read (``known``), and a step that only renames another
    value (an event that is a fact, a pick at a known index) is that value's local."""

    def __init__(self, functions: FunctionTable) -> None:
        super().__init__(functions)
        self.local: dict[str, str] = {}
        self.error: dict[str, str] = {}
        self.nullable: dict[str, bool] = {}
        self.known: dict[str, Lit] = {}
        self.bools: set[str] = set()  # names whose value is always True or False
        self.trusting = False  # render captured expressions as if they cannot fail
        self.tuples = False  # Codes as a tuple (compile_reader), not a list
        self.given: set[str] = set()  # plan inputs passed as arguments (compile_reader)
        self.hoisted: dict[tuple[str, int], str] = {}  # (given, days) -> its local
        self.defs: dict[str, Op] = {}  # step name -> its op

    def render(self, n: Node) -> str:
        if isinstance(n, Name):
            return self.operand(Ref(n.name))
        return super().render(n)

    def operand(self, o: Operand) -> str:
        if isinstance(o, Ref):
            if o.name not in self.known:
                return self.local[o.name]
            o = self.known[o.name]
        if o.value is None or type(o.value) in (bool, int):
            return repr(o.value)
        return self.const(o.value)

    def chained(self, values: tuple[Node, ...]) -> list[str]:
        """``lo <= days_between(x, as_of) <= hi`` (a window of days before a date given
        per call) as ``as_of - hi days <= x <= as_of - lo days``: the same truth for
        every date, with the bounds computed once per call (``hoisted``) rather than a
        difference per fact. Only where trusting: near ``date.min`` a bound overflows,
        and the careful function, which computes the difference, decides instead."""
        if self.trusting and len(values) == 2:
            window = self.window(values[0], values[1])
            if window is not None:
                return [window]
        return super().chained(values)

    def window(self, first: Node, second: Node) -> str | None:
        if not (isinstance(first, Comparison) and isinstance(second, Comparison)
                and first.op in ("<", "<=") and second.op in ("<", "<=")
                and first.right == second.left and isinstance(first.left, Const)
                and isinstance(second.right, Const)):
            return None
        call, lo, hi = first.right, first.left.value, second.right.value
        if not (isinstance(call, Call) and len(call.args) == 2
                and type(lo) is int and type(hi) is int):
            return None
        fn = self.functions.get(call.func)
        since, until = call.args
        if fn is None or fn.python is not days_between or not (
                isinstance(since, Name) and isinstance(until, Name)
                and until.name in self.given and until.name not in self.known
                and not self.nullable.get(until.name, True)
                and not self.may_be_null(Ref(since.name))):
            return None
        lo += first.op == "<"  # whole days: lo < d is lo + 1 <= d
        hi -= second.op == "<"
        return f"({self.days_before(until.name, hi)} <= {self.render(since)} <= " \
               f"{self.days_before(until.name, lo)})"

    def days_before(self, given: str, days: int) -> str:
        """The local holding ``given - days`` days, computed once per call."""
        if days == 0:
            return self.local[given]
        key = (given, days)
        if key not in self.hoisted:
            self.hoisted[key] = f"_w{len(self.hoisted)}"
        return self.hoisted[key]

    def hoisted_lines(self) -> list[str]:
        return [f"{local} = {self.local[given]} - {self.const(dt.timedelta(days=days))}"
                for (given, days), local in self.hoisted.items()]

    def negates(self, c: Operand, other: Operand) -> bool:
        """Is ``c`` the step ``not other``, where ``other`` is always True or False (so
        that exactly one of the two holds)?"""
        if not (isinstance(c, Ref) and isinstance(other, Ref) and other.name in self.bools
                and other.name not in self.known):
            return False
        op = self.defs.get(c.name)
        return isinstance(op, Not) and isinstance(op.item, Ref) and op.item.name == other.name

    def lit(self, o: Operand) -> Lit | None:
        """The operand's value when it is known now, else None."""
        return o if isinstance(o, Lit) else self.known.get(o.name)

    def truth(self, o: Operand) -> str:
        """A test that ``o`` is true: the value itself where it is always a bool."""
        if isinstance(o, Ref) and o.name in self.bools and o.name not in self.known:
            return self.operand(o)
        return f"{self.operand(o)} is True"

    def may_be_null(self, o: Operand) -> bool:
        if isinstance(o, Lit):
            return o.value is None
        found = self.known.get(o.name)
        return found.value is None if found is not None else self.nullable[o.name]

    def step(self, name: str, op: Op) -> list[str]:
        """The lines that bind the local of step ``name`` (none when it is known or
        renames another value)."""
        v = self.local[name]
        if isinstance(op, Expr):
            if isinstance(op.node, Const | Name):  # nothing to compute, nothing can fail
                self.error[name] = "False"
                if isinstance(op.node, Const):
                    self.known[name] = Lit(op.node.value, op.node.type)
                elif op.node.name in self.known:
                    self.known[name] = self.known[op.node.name]
                else:
                    self.local[name] = self.local[op.node.name]
                return []
            body = self.render(op.node)
            if not op.capture:
                return [f"{v} = {body}"]
            if self.trusting:  # an error runs the careful function instead (see render)
                self.error[name] = "False"
                return [f"{v} = {body}"]
            e = self.error[name]
            return ["try:", f"    {v} = {body}", f"    {e} = False",
                    "except (_ArithmeticError, _ValueError):", f"    {v} = None",
                    f"    {e} = True"]
        folded = self.fold(op)
        if isinstance(folded, Lit):
            self.known[name] = folded
            return []
        if isinstance(folded, Ref):
            if folded.name in self.known:
                self.known[name] = self.known[folded.name]
            else:
                self.local[name] = self.local[folded.name]
            return []
        if isinstance(op, Least | Greatest) and len(op.items) > 1 and \
                all(self.may_be_null(i) for i in op.items):
            # every item may be null: the first smallest non-null one, as min() picks it
            # (it replaces its pick only by a strictly smaller item), with no list
            first, *rest = (self.operand(i) for i in op.items)
            cmp = "<" if isinstance(op, Least) else ">"
            lines = [f"{v} = {first}"]
            for item in rest:
                lines += [f"if {item} is not None and ({v} is None or {item} {cmp} {v}):",
                          f"    {v} = {item}"]
            return lines
        return [f"{v} = {self.value(op)}"]

    def fold(self, op: Op) -> Operand | None:
        """The value of ``op`` when it is known now (a Lit), or another value it is (a
        Ref), else None."""
        lit = self.lit
        match op:
            case Failed(steps=steps):
                if all(self.error[s] == "False" for s in steps):
                    return Lit(False, Type.BOOL)
            case All(items=items) | AnyOf(items=items):
                values = [lit(i) for i in items]
                stop = isinstance(op, AnyOf)  # the value that decides: True for AnyOf
                if any(k is not None and (k.value is True) is stop for k in values):
                    return Lit(stop, Type.BOOL)
                if all(k is not None for k in values):
                    return Lit(not stop, Type.BOOL)
            case Not(item=i) | IsNull(item=i):
                if (k := lit(i)) is not None:
                    return Lit(k.value is not True if isinstance(op, Not) else k.value is None,
                               Type.BOOL)
            case Compare(op=cmp, left=a, right=b, if_null=if_null):
                ka, kb = lit(a), lit(b)
                if ka is not None and kb is not None:
                    if ka.value is None or kb.value is None:
                        return Lit(if_null, Type.BOOL)
                    return Lit(bool(_COMPARE[cmp](ka.value, kb.value)), Type.BOOL)
            case IfElse(cond=c, then=a, orelse=b):
                if (k := lit(c)) is not None:
                    return a if k.value is True else b
            case FirstTrue(items=items):
                values = [lit(i) for i in items]
                if all(k is not None for k in values):
                    return Lit(next((n for n, k in enumerate(values) if k is not None
                                     and k.value is True), len(items)), Type.INT)
            case Pick(index=ix, values=values):
                if (k := lit(ix)) is not None:
                    at = k.value
                    if isinstance(at, int) and 0 <= at < len(values):  # as dict.get finds it
                        return values[int(at)]
                    return Lit(None, Type.INT)
            case AddPeriod(date=d, years=0, months=0, days=0):
                return d
        return None

    def value(self, op: Op) -> str:
        o = self.operand
        lit = self.lit
        match op:
            case Failed(steps=steps):
                flags = [self.error[s] for s in steps if self.error[s] != "False"]
                return "(" + " or ".join(flags) + ")"
            case CountTrue(items=items):
                return "(0" + "".join(f" + ({self.truth(i)})" for i in items) + ")"
            case All(items=items):  # not every item known (fold), none known false
                return "(" + " and ".join(f"{self.truth(i)}" for i in items
                                          if lit(i) is None) + ")"
            case AnyOf(items=items):  # not every item known, none known true
                return "(" + " or ".join(f"{self.truth(i)}" for i in items
                                         if lit(i) is None) + ")"
            case Not(item=i):
                if isinstance(i, Ref) and i.name in self.bools:
                    return f"(not {o(i)})"
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
                return f"({o(a)} if {self.truth(c)} else {o(b)})"
            case AddPeriod(date=d, years=y, months=m, days=days):
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
                # known items: a false one can never be first, a true one ends the list
                live: list[tuple[int, Operand]] = []
                end = len(items)
                for k, i in enumerate(items):
                    found = lit(i)
                    if found is None:
                        live.append((k, i))
                    elif found.value is True:
                        end = k
                        break
                if len(live) > _INLINE:
                    return f"_first_true(({''.join(o(i) + ', ' for i in items)}))"
                chain = "".join(f"{k} if {self.truth(i)} else " for k, i in live)
                return f"({chain}{end})"
            case Pick(index=ix, values=values):
                if all(isinstance(v, Lit) for v in values):  # a table: one dict look-up
                    lookup = {k: v.value for k, v in enumerate(values) if isinstance(v, Lit)}
                    return f"{self.const(lookup)}.get({o(ix)})"
                if len(values) <= _INLINE:  # a chain computes only the value picked
                    chain = "".join(f"{o(v)} if {o(ix)} == {k} else "
                                    for k, v in enumerate(values))
                    return f"({chain}None)"
                cases = ", ".join(f"{k}: {o(v)}" for k, v in enumerate(values))
                return f"{{{cases}}}.get({o(ix)})"
            case Least(items=items) | Greatest(items=items):
                pick = "_min" if isinstance(op, Least) else "_max"
                if len(items) == 1:
                    return o(items[0])
                if not any(self.may_be_null(i) for i in items):
                    return f"{pick}({', '.join(o(i) for i in items)})"
                # some item is not null (step() renders the case where all may be)
                anchor = next(i for i in items if not self.may_be_null(i))
                stand_in = o(anchor)
                args = [o(i) if not self.may_be_null(i)
                        else f"({o(i)} if {o(i)} is not None else {stand_in})" for i in items]
                return f"{pick}({', '.join(args)})"
            case Threshold(value=x, thresholds=ths):
                at = f"(_bisect({self.const(tuple(ths))}, {o(x)}) - 1)"
                return f"(None if {o(x)} is None else {at})" if self.may_be_null(x) else at
            case Codes(pairs=pairs):
                # each code a one-item tuple among the constants, unpacked where it holds
                # a code and the one given when its condition does not hold (tier
                # matched / default tier), side by side, are one pick: one test, not two
                parts: list[str] = []
                prev: Operand | None = None  # the condition of the last part, if a pick
                for c, code in pairs:
                    found = lit(c)
                    if found is None:
                        if prev is not None and self.negates(c, prev):
                            then = parts[-1][2:parts[-1].index(" if ")]
                            parts[-1] = f"*({then} if {self.truth(prev)} else " \
                                        f"{self.const((code,))})"
                            prev = None
                            continue
                        parts.append(f"*({self.const((code,))} if {self.truth(c)} else ())")
                        prev = c
                    elif found.value is True:
                        parts.append(f"*{self.const((code,))}")
                        prev = None
                if self.tuples:
                    return "(" + "".join(p + ", " for p in parts) + ")"
                return "[" + ", ".join(parts) + "]"
            case Exact() | ExactSum() | DivHalfUp() | Interval() | ExactPick() | ExactFloat() \
                    | ExactText():
                return _exact_source(self, op)
            case RoundDiv(value=x, by=by, rounding=rounding):
                return f"_round_div({o(x)}, {by!r}, {rounding!r})"
        raise TypeError(f"unknown plan op {op!r}")  # pragma: no cover - the IR is closed


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne}

#: Ops whose one-line step may be moved to where its value is read: they cannot fail
#: and have no effect, so computing one later (or not at all, in a branch not taken)
#: gives the same value. Expressions (which may fail) and the exact ops stay in place.
_MOVABLE = (Failed, CountTrue, All, AnyOf, Not, IsNull, Compare, IfElse, AddPeriod,
            FirstTrue, Pick, Least, Greatest, Codes)

_LOCAL = re.compile(r"\bv\d+\b")


def _inline(body: list[tuple[str | None, list[str]]], tail: list[str]) -> list[str]:
    """The lines of ``body`` (per step: its local if the step may move, and its lines)
    and ``tail``, with each movable step that is read exactly once written where it is
    read (so a cadence's date is computed only when its tier is picked, and a flag read
    once is no local). Each line is rewritten once, left to right: linear in the size
    of the source however many steps there are."""
    uses: dict[str, int] = {}
    for _, lines in body:
        for line in lines:
            for m in _LOCAL.findall(line):
                uses[m] = uses.get(m, 0) + 1
    for line in tail:
        for m in _LOCAL.findall(line):
            uses[m] = uses.get(m, 0) + 1
    moved: dict[str, str] = {}

    def put(m: re.Match[str]) -> str:
        return moved.pop(m.group(), m.group())

    out: list[str] = []
    for local, lines in body:
        lines = [_LOCAL.sub(put, line) if moved else line for line in lines]
        if local is not None and len(lines) == 1 and uses.get(local) == 2:  # bound + read
            expr = lines[0][len(local) + 3:]
            moved[local] = expr if expr.startswith("(") and expr.endswith(")") and \
                _balanced(expr) else f"({expr})"
            continue
        out += lines
    out += [_LOCAL.sub(put, line) if moved else line for line in tail]
    return out


def _balanced(expr: str) -> bool:
    """Is ``expr`` one parenthesised whole (not ``(a) + (b)``)?"""
    depth = 0
    for at, c in enumerate(expr):
        depth += c == "("
        depth -= c == ")"
        if depth == 0 and at < len(expr) - 1:
            return False
    return True


def _number(s: _Source, x: float) -> str:
    """A bound as a literal (ints and finite floats print as they read back)."""
    return repr(x) if type(x) is int or (type(x) is float and -_HUGE <= x <= _HUGE) \
        else s.const(x)


_HUGE = sys.float_info.max
_CLASS = {bool: "_bool", dt.date: "_date", int: "_intc", float: "_floatc", str: "_str"}


def _ready_lines(v: str, r: Ready, s: _Source, optional_only: bool = False,
                 present: bool = False) -> list[str]:
    """Lines reading a fact's value as :class:`~civicscore.records.Ready` takes it
    straight from the record into ``v``; any other value returns None (the caller reads
    the record the careful way). ``present``: read as ``r[key]`` (quicker than the call
    of ``get``; an absent key raises KeyError, and ``render`` then reads with ``get``)."""
    key = repr(r.name) if r.name.isascii() and r.name.isidentifier() else s.const(r.name)
    cls = _CLASS.get(r.cls) or s.const(r.cls)
    if r.cls is bool:  # exactly the two bools (not 1, not numpy's): no call
        test = f"{v} is True or {v} is False"
    elif r.allowed is not None:
        test = f"_type({v}) is _str and {v} in {s.const(r.allowed)}"
    elif r.text:
        test = f"_type({v}) is _str and {v}.isascii() and {v} and {v} == {v}.strip()"
    else:
        test = f"_type({v}) is {cls}"
        if r.lo is not None and r.hi is not None:
            test += f" and {_number(s, r.lo)} <= {v} <= {_number(s, r.hi)}"
    lines = [f"{v} = r[{key}]" if present else f"{v} = _get({key})", f"if not ({test}):"]
    if r.missing is REQUIRED:
        return lines + ["    return None"]
    if optional_only:  # checked only: a missing value needs nothing
        return lines + [f"    if {v} is not None:", "        return None"]
    missing = Lit(r.missing, "")
    return lines + [f"    if {v} is not None:", "        return None",
                    f"    {v} = {s.operand(missing)}"]


#: Ops whose value is always True or False (when not null).
_BOOL_OPS = (Compare, All, AnyOf, Not, IsNull, Failed)


def _body(plan: Plan, s: _Source, base: int) -> list[tuple[str | None, list[str]]]:
    """Per step: its local if the step may move (see :func:`_inline`), and its lines."""
    body: list[tuple[str | None, list[str]]] = []
    for j, step in enumerate(plan.steps):
        name, op = step.name, step.op
        s.local[name] = f"v{base + j}"
        s.error[name] = f"e{base + j}"
        s.defs[name] = op
        step_lines = s.step(name, op)
        if _always_bool(s, plan, name, op):
            s.bools.add(name)
        body.append((s.local[name] if isinstance(op, _MOVABLE) else None, step_lines))
    return body


def _always_bool(s: _Source, plan: Plan, name: str, op: Op) -> bool:
    """Is step ``name`` always True or False (never null, never another value)?"""
    if name in s.known or plan.nullable[name]:
        return False
    if isinstance(op, _BOOL_OPS):
        return True
    if isinstance(op, Expr):  # a renamed value (an expression may give anything)
        return isinstance(op.node, Name) and op.node.name in s.bools
    if isinstance(op, IfElse):
        return all(o.name in s.bools if isinstance(o, Ref) and o.name not in s.known
                   else type(v.value) is bool if (v := s.lit(o)) is not None else False
                   for o in (op.then, op.orelse))
    return False


def render(plan: Plan, functions: FunctionTable, read: Sequence[Ready] | None = None,
           given: Sequence[str] = (), checked: Sequence[Ready] = (),
           trusting: bool = False, present: bool = False) -> tuple[str, _Source]:
    """The source of ``def plan(r)`` and the renderer holding its constants.

    With ``read`` (see :func:`compile_reader`), ``def plan(r, *given)``: the facts of
    ``read`` and ``checked`` are taken from the record ``r`` as they are ready, their
    values follow the plan's outputs, and codes are tuples.

    ``trusting`` renders the captured expressions as if they could not fail (no flags,
    and every step that tests one folded away), inside one ``try``: an error there
    returns ``_careful(r, ...)``, the plan rendered without trust, which computes that
    record again and captures the error where the plan says. Both give the same
    outputs (the plan is a function of its inputs); the common record pays for no
    error it does not have. ``present`` (with ``read`` and ``trusting``) reads the facts
    of ``read`` as ``r[key]``; a key absent returns ``_absent(r, ...)``, the function
    rendered without it.

    A reader of at most ``_LOCAL_CONSTANTS`` constants has each as a parameter with its default
    (a local, quicker to read than an item of the constants tuple)."""
    s = _Source(functions)
    s.nullable = dict(plan.nullable)
    s.trusting = trusting
    s.tuples = read is not None
    if read is None:
        params = ""
        head = []
        for i, inp in enumerate(plan.inputs):
            s.local[inp.name] = f"v{i}"
            key = repr(inp.name) if inp.name.isascii() and inp.name.isidentifier() \
                else s.const(inp.name)
            head.append(f"v{i} = r[{key}]")
    else:
        args = {name: f"a{i}" for i, name in enumerate(given)}
        params = "".join(", " + p for p in args.values())
        head = ["_get = r.get"]
        s.local.update(args)
        s.given = set(args)
        at = {r.name: f"v{i}" for i, r in enumerate(read)}
        for r in read:
            head += _ready_lines(at[r.name], r, s, present=present)
        if checked:
            pad = ""
            if all(r.missing is not REQUIRED for r in checked):  # none given: no look-up
                head.append(f"if not {s.const(frozenset(r.name for r in checked))}"
                            f".isdisjoint(r):")
                pad = "    "
            head += [f"{pad}{line}" for line in chain.from_iterable(
                _ready_lines("_v", r, s, optional_only=True) for r in checked)]
        for inp in plan.inputs:
            s.local[inp.name] = args[inp.name] if inp.name in args else at[inp.name]
        s.bools = {r.name for r in read if r.cls is bool and (
            r.missing is REQUIRED or type(r.missing) is bool)}
    body = _body(plan, s, len(plan.inputs) if read is None else len(read))
    outs = [s.operand(Ref(name)) for name in plan.outputs]
    if read is not None:
        outs += [at[r.name] for r in read]
    tail = [f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})"]
    lines = head + s.hoisted_lines() + _inline(body, tail)
    if trusting:
        lines = ["try:", *(f"    {line}" for line in lines),
                 "except (_ArithmeticError, _ValueError):", f"    return _careful(r{params})"]
        if present:
            lines += ["except _KeyError:", f"    return _absent(r{params})"]
    source = "\n".join(f"    {line}" for line in lines)
    if read is not None and len(s.consts) <= _LOCAL_CONSTANTS:
        source = _CONSTANT.sub(r"_k\1", source)
        params += "".join(f", _k{i}=_k[{i}]" for i in range(len(s.consts)))
    return f"def plan(r{params}):\n{source}\n", s


#: Up to this many constants, each is a parameter with a default (see ``render``): a call
#: copies the defaults, so a policy of thousands of them keeps the constants tuple.
_LOCAL_CONSTANTS = 100
_CONSTANT = re.compile(r"\b_k\[(\d+)\]")


_ENV: dict[str, Any] = {
    "__builtins__": {}, "_div": _div, "_float": float, "_int": _int, "_fin": _fin,
    "_pow": _pow, "_ArithmeticError": ArithmeticError, "_ValueError": ValueError,
    "_add_period": add_period, "_bisect": bisect_right, "_first_true": first_true,
    "_min": min, "_max": max, "_round_div": round_div, "_type": type, "_str": str,
    "_bool": bool, "_date": dt.date, "_intc": int, "_floatc": float, "_KeyError": KeyError}


class _Careful:
    """The plan rendered without trust, or without ``present`` (see :func:`render`),
    compiled on first call: most policies never have a record whose expression
    fails, and many runs no record that leaves a fact out."""

    def __init__(self, make: Callable[[], Callable[..., Any]]) -> None:
        self.make: Callable[[], Callable[..., Any]] | None = make
        self.fn: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:
        if self.fn is None:
            assert self.make is not None
            self.fn, self.make = self.make(), None
        return self.fn(*args)


def _compile(plan: Plan, functions: FunctionTable,
             reader: tuple[Sequence[Ready], Sequence[str], Sequence[Ready]] | None = None
             ) -> Callable[..., Any]:
    """The trusting function of ``plan`` (see :func:`render`), its fallbacks compiled
    when first needed; ``reader``: the ``read``, ``given`` and ``checked`` of
    :func:`compile_reader`."""
    read, given, checked = reader if reader is not None else (None, (), ())

    def make(trusting: bool, present: bool = False) -> Callable[..., Any]:
        source, s = render(plan, functions, read, given, checked, trusting=trusting,
                           present=present)
        code = compile(source, "<policy plan>", "exec")
        env = {**_ENV, "_k": tuple(s.consts), "_f": tuple(s.funcs)}
        if trusting:
            env["_careful"] = _Careful(partial(make, False))
        if present:
            env["_absent"] = _Careful(partial(make, True))
        exec(code, env)
        fn: Callable[..., Any] = env["plan"]
        return fn
    return make(True, present=reader is not None)


def compile_plan(plan: Plan, functions: FunctionTable) -> PlanFunction:
    """``plan`` as ``f(record) -> outputs`` (a tuple in ``plan.outputs`` order)."""
    fn: PlanFunction = _compile(plan, functions)
    return fn


def compile_reader(plan: Plan, functions: FunctionTable, read: Sequence[Ready],
                   given: Sequence[str], checked: Sequence[Ready] = (),
                   outputs: Sequence[str] | None = None
                   ) -> Callable[..., tuple[Any, ...] | None]:
    """``plan`` as ``f(record, *given) -> outputs + values of read``, or None (the
    outputs as :func:`compile_plan` gives them, but each :class:`Codes` as a tuple).

    With ``outputs``, only those (in that order), and only the steps they need are
    computed: a caller that needs the rest rarely runs the whole plan for it.

    Reading a record and running the plan in one function: each fact of ``read``
    (every plan input not in ``given`` must be one) is taken from the record as
    :class:`~civicscore.records.Ready` says ``coerce_fact`` would return it, each of
    ``checked`` only checked so; the plan inputs named in ``given`` are the further
    arguments, in order. A value not ready (text to convert, a value out of range, a
    required fact missing) returns None: the caller reads that record the careful
    way, which decides it alike (only slower)."""
    missing = {i.name for i in plan.inputs} - set(given) - {r.name for r in read}
    assert not missing, missing
    if outputs is not None:
        plan = needed(plan, outputs)
    return _compile(plan, functions, (read, given, checked))


def needed(plan: Plan, outputs: Sequence[str]) -> Plan:
    """``plan`` with the outputs ``outputs`` and only the steps they read (all inputs)."""
    need = set(outputs)
    kept: list[Let] = []
    for step in reversed(plan.steps):
        if step.name in need:
            kept.append(step)
            need |= _reads(step.op)
    return Plan(plan.inputs, tuple(reversed(kept)), tuple(outputs))


def _reads(op: Op) -> set[str]:
    """The names a step reads."""
    if isinstance(op, Expr):
        return set(names_read(op.node))
    if isinstance(op, Failed):
        return set(op.steps)
    out: set[str] = set()

    def visit(x: Any) -> None:
        if isinstance(x, Ref):
            out.add(x.name)
        elif isinstance(x, tuple):
            for y in x:
                visit(y)

    for f in fields(op):
        visit(getattr(op, f.name))
    return out


def source_of(plan: Plan, functions: FunctionTable, trusting: bool = True) -> str:
    """The rendered source (by default the function that runs first; with
    ``trusting=False`` the careful one it falls back on), for debugging and tests."""
    return render(plan, functions, trusting=trusting)[0]


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
