"""The functions a policy expression may call.

Each function states its signature as a type rule, so a wrong call is refused
at load time, and carries its per-record implementation. (The batch evaluator
attaches its own implementation under the same name; a function without one
cannot be used in batch mode, which the batch compiler reports.)

Functions are looked up in a :class:`FunctionTable` built per policy, never in
a global registry, so plugins can add functions without affecting each other.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from ..errors import ExpressionError
from . import error_words as ew
from .ir import MAX_SAFE_INT, Const, Node, Type

TypeRule = Callable[[Sequence[Node]], Type]
"""Checks the argument nodes of a call and returns the result type.

Raises :class:`ExpressionError` with a message for the officer on a bad call.
It receives nodes (not only types) so that a rule can insist on a literal
argument, as ``round_half_up``'s digits and ``date``'s text must be.
"""


@dataclass(frozen=True, slots=True)
class Function:
    """A callable the expression language knows.

    ``signature`` is shown to officers in errors and docs; ``python`` takes
    the evaluated arguments. ``needs`` lists what the function reads from the
    evaluation context (e.g. the holiday calendar), so it is bound per policy.
    """

    name: str
    signature: str
    doc: str
    check: TypeRule
    python: Callable[..., Any]
    fold: Callable[[Sequence[Node]], Node] | None = None


@dataclass
class FunctionTable:
    """The functions visible to one policy's expressions."""

    functions: dict[str, Function] = field(default_factory=dict)

    def add(self, fn: Function) -> None:
        if fn.name in self.functions:
            raise ValueError(f"function {fn.name!r} is already defined")
        self.functions[fn.name] = fn

    def get(self, name: str) -> Function | None:
        return self.functions.get(name)

    def names(self) -> Iterable[str]:
        return self.functions.keys()


# --- type rules -------------------------------------------------------------


def _arity(name: str, args: Sequence[Node], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    n = len(args)
    if n < low or n > high:
        want = str(low) if low == high else f"{low} to {high}"
        raise ExpressionError.said(ew.both("arity", name=name, want=want, n=n))


def _want(name: str, i: int, node: Node, *types: Type) -> None:
    if node.type not in types:
        allowed = " or ".join(str(t) for t in types)
        raise ExpressionError.said(ew.both("argument_type", i=i + 1, name=name, allowed=allowed,
                                           got=node.type))


def _numeric_result(nodes: Sequence[Node]) -> Type:
    return Type.INT if all(n.type is Type.INT for n in nodes) else Type.DECIMAL


def _check_minmax(name: str) -> TypeRule:
    def rule(args: Sequence[Node]) -> Type:
        if len(args) < 2:
            raise ExpressionError(f"{name}() takes at least 2 arguments, got {len(args)}")
        if all(a.type is Type.DATE for a in args):
            return Type.DATE
        for i, a in enumerate(args):
            _want(name, i, a, Type.INT, Type.DECIMAL)
        return _numeric_result(args)

    return rule


def _check_abs(args: Sequence[Node]) -> Type:
    _arity("abs", args, 1)
    _want("abs", 0, args[0], Type.INT, Type.DECIMAL)
    return args[0].type


def _literal_int(name: str, i: int, node: Node, low: int, high: int) -> int:
    if not (isinstance(node, Const) and node.type is Type.INT):
        raise ExpressionError(f"argument {i + 1} of {name}() must be a whole-number literal")
    if not low <= node.value <= high:
        raise ExpressionError(f"argument {i + 1} of {name}() must be between {low} and {high}")
    return int(node.value)


def _check_round(args: Sequence[Node]) -> Type:
    _arity("round_half_up", args, 1, 2)
    _want("round_half_up", 0, args[0], Type.INT, Type.DECIMAL)
    digits = _literal_int("round_half_up", 1, args[1], 0, 10) if len(args) == 2 else 0
    return Type.INT if digits == 0 else Type.DECIMAL


def _check_clamp(args: Sequence[Node]) -> Type:
    _arity("clamp", args, 3)
    for i, a in enumerate(args):
        _want("clamp", i, a, Type.INT, Type.DECIMAL)
    return _numeric_result(args)


def _dates_to(result: Type, name: str, n: int) -> TypeRule:
    def rule(args: Sequence[Node]) -> Type:
        _arity(name, args, n)
        for i, a in enumerate(args):
            _want(name, i, a, Type.DATE)
        return result

    return rule


def _check_add_days(args: Sequence[Node]) -> Type:
    _arity("add_days", args, 2)
    _want("add_days", 0, args[0], Type.DATE)
    _want("add_days", 1, args[1], Type.INT)
    return Type.DATE


def _check_date(args: Sequence[Node]) -> Type:
    _arity("date", args, 1)
    node = args[0]
    if not (isinstance(node, Const) and node.type is Type.STRING):
        raise ExpressionError('date() takes a literal such as date("2025-07-01")')
    try:
        dt.date.fromisoformat(node.value)
    except ValueError:
        raise ExpressionError(
            f"date({node.value!r}) is not a date", hint='write it as date("YYYY-MM-DD")'
        ) from None
    return Type.DATE


def _fold_date(args: Sequence[Node]) -> Node:
    assert isinstance(args[0], Const)
    return Const(Type.DATE, dt.date.fromisoformat(args[0].value))


# --- implementations ----------------------------------------------------------


ROUND_EXACT_BELOW = 2.0**50
"""At ``|x| * 10**digits`` from here up a double has no digits left to round at that place."""


def round_half_up(x: float, digits: int = 0) -> float | int:
    """Round halves away from zero, on the decimal the officer wrote.

    ``round_half_up(2.675, 2)`` is 2.68 as on paper, not 2.67 as binary
    floating point would give. The rule works on doubles only, so that the
    batch evaluator can repeat it column-wise, operation for operation: take
    ``k = floor(|x| * 10**d)`` and round up exactly when ``|x|`` is at or above
    the double nearest to the half-way decimal ``(k + 0.5) / 10**d``. For
    every value with up to 15 significant digits this equals decimal
    ROUND_HALF_UP of the shortest spelling of ``x`` (a property test checks it
    against :mod:`decimal`). An ``int`` result beyond the safe-integer range,
    or a non-finite ``x``, cannot be rounded.
    """
    x = float(x)
    if not math.isfinite(x):
        raise ArithmeticError("cannot round a non-finite number")
    scale = 10.0**digits
    a = abs(x)
    y = a * scale  # may overflow to infinity for a huge x: then there is nothing to round
    if y >= ROUND_EXACT_BELOW and digits:  # nothing left to round at this place
        r = a
    elif y >= ROUND_EXACT_BELOW:
        k = float(math.floor(y))
        r = k + 1.0 if y - k >= 0.5 else k
    else:
        k = float(math.floor(y))
        r = (k + 1.0 if a >= (k + 0.5) / scale else k) / scale
    if x < 0:
        r = -r
    if digits:
        return r
    if abs(r) > MAX_SAFE_INT:
        raise ArithmeticError(f"{r:.0f} is too large a whole number")
    return int(r)


def clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def days_between(a: dt.date, b: dt.date) -> int:
    return (b - a).days


def _to_date(d: dt.date) -> dt.date:
    return d.date() if isinstance(d, dt.datetime) else d


def standard_functions() -> list[Function]:
    """The context-free standard library (registered by the built-in plugin)."""
    return [
        Function("min", "min(a, b, ...)", "The smallest of two or more numbers or dates.",
                 _check_minmax("min"), min),
        Function("max", "max(a, b, ...)", "The largest of two or more numbers or dates.",
                 _check_minmax("max"), max),
        Function("abs", "abs(x)", "The absolute value of a number.", _check_abs, abs),
        Function("round_half_up", "round_half_up(x, digits=0)",
                 "Round halves away from zero to a fixed number of decimals (0 to 10).",
                 _check_round, round_half_up),
        Function("clamp", "clamp(x, low, high)", "x limited to the range low..high.",
                 _check_clamp, clamp),
        Function("days_between", "days_between(a, b)",
                 "Days from date a to date b (negative when b is earlier).",
                 _dates_to(Type.INT, "days_between", 2), days_between),
        Function("add_days", "add_days(d, n)", "The date n days after d.",
                 _check_add_days, lambda d, n: d + dt.timedelta(days=n)),
        Function("year", "year(d)", "The year of a date.",
                 _dates_to(Type.INT, "year", 1), lambda d: d.year),
        Function("month", "month(d)", "The month of a date, 1 to 12.",
                 _dates_to(Type.INT, "month", 1), lambda d: d.month),
        Function("day", "day(d)", "The day of the month, 1 to 31.",
                 _dates_to(Type.INT, "day", 1), lambda d: d.day),
        Function("weekday", "weekday(d)", "ISO weekday: 1 is Monday, 7 is Sunday.",
                 _dates_to(Type.INT, "weekday", 1), lambda d: d.isoweekday()),
        Function("date", 'date("YYYY-MM-DD")', "A date literal.", _check_date,
                 dt.date.fromisoformat, fold=_fold_date),
    ]


class WorkCalendar(Protocol):
    """What the calendar functions ask of a policy's calendar
    (``civicscore.policy.calendar.HolidayCalendar`` answers all three)."""

    def __call__(self, day: dt.date) -> bool: ...  # is it a public holiday?

    def is_workday(self, day: dt.date) -> bool: ...

    def is_makeup_workday(self, day: dt.date) -> bool: ...


class _Holidays:
    """A bare "is it a holiday?" predicate as a calendar that knows no make-up working
    days: Monday to Friday are worked unless they are holidays (tests and tools that
    hand ``builtin_functions`` a predicate)."""

    def __init__(self, is_holiday: Callable[[dt.date], bool]) -> None:
        self.is_holiday = is_holiday

    def __call__(self, day: dt.date) -> bool:
        return self.is_holiday(day)

    def is_workday(self, day: dt.date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def is_makeup_workday(self, day: dt.date) -> bool:
        return False


def _calendar(calendar: Callable[[dt.date], bool]) -> WorkCalendar:
    if hasattr(calendar, "is_workday") and hasattr(calendar, "is_makeup_workday"):
        return cast(WorkCalendar, calendar)
    return _Holidays(calendar)


def calendar_functions(calendar: Callable[[dt.date], bool]) -> list[Function]:
    """Functions bound to one policy's holiday calendar: a :class:`WorkCalendar`, or a
    bare holiday predicate (which knows no make-up working days)."""
    cal = _calendar(calendar)
    return [
        Function("is_holiday", "is_holiday(d)",
                 "True on a public holiday of the policy's calendar ([calendar] in the policy).",
                 _dates_to(Type.BOOL, "is_holiday", 1), lambda d: cal(_to_date(d))),
        Function("is_workday", "is_workday(d)",
                 "True on a day people work: Monday to Friday when it is not a public "
                 "holiday, and a weekend day declared a working day (调休, e.g. Sunday "
                 "2025-09-28).",
                 _dates_to(Type.BOOL, "is_workday", 1), lambda d: cal.is_workday(_to_date(d))),
        Function("is_makeup_workday", "is_makeup_workday(d)",
                 "True on a weekend day declared a working day (调休上班, e.g. Saturday "
                 "2025-10-11).",
                 _dates_to(Type.BOOL, "is_makeup_workday", 1),
                 lambda d: cal.is_makeup_workday(_to_date(d))),
    ]


#: The functions that read the policy's calendar: a plugin may not define them, and a
#: policy that calls one has the calendar's days in its hash (``policy.compile``).
CALENDAR_FUNCTION_NAMES = ("is_holiday", "is_workday", "is_makeup_workday")


def builtin_functions(is_holiday: Callable[[dt.date], bool],
                      extra: Iterable[Function] = ()) -> FunctionTable:
    """A function table: the standard library, the calendar's functions, and ``extra``."""
    table = FunctionTable()
    for fn in (*standard_functions(), *calendar_functions(is_holiday), *extra):
        table.add(fn)
    return table


_TYPE_NAMES = {t.value: t for t in Type}


def simple_function(name: str, params: Sequence[str], returns: str,
                    python: Callable[..., Any], doc: str = "") -> Function:
    """A function with fixed parameter types, for plugin authors.

    ``params`` and ``returns`` are type names: bool, int, decimal, string,
    date. An int argument is accepted where a decimal is declared.
    """
    types = [_TYPE_NAMES[p] for p in params]
    result = _TYPE_NAMES[returns]
    signature = f"{name}({', '.join(params)}) -> {returns}"

    def rule(args: Sequence[Node]) -> Type:
        _arity(name, args, len(types))
        for i, (a, t) in enumerate(zip(args, types, strict=True)):
            allowed = (Type.INT, Type.DECIMAL) if t is Type.DECIMAL else (t,)
            _want(name, i, a, *allowed)
        return result

    return Function(name, signature, doc or signature, rule, python)


def describe(table: FunctionTable) -> Mapping[str, str]:
    """Signature -> doc, for error hints and the docs page."""
    return {f.signature: f.doc for f in table.functions.values()}
