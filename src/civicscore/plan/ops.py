"""The plan IR: a scheme's decision as named row steps over the checked expression IR.

A :class:`Plan` is a list of :class:`Let` steps, each binding a name to the
value of one op. Ops read *operands*: a :class:`Ref` to a plan input or to an
earlier step, or a :class:`Lit`. Expressions of the rule language
(:class:`Expr`) read plan names through their ``Name`` nodes. Both backends
(``plan.python`` and ``plan.polars``) implement every op exactly once; no op
knows any scheme. The semantics below are the only statement of them.

Nulls, fixed here once:

* An input may be *nullable* (a date a record may leave blank). An op that
  takes a null operand gives null unless its docstring says otherwise.
* Boolean ops (:class:`All`, :class:`AnyOf`, :class:`Not`, :class:`CountTrue`,
  :class:`Codes`, :class:`IfElse`'s condition) count a null as *not true*.
* :class:`Compare` and :class:`IsNull` never give null: a comparison with a
  null operand gives the op's stated ``if_null``.
* An :class:`Expr` reads non-null names only (the expression language has no
  null); a captured error is the one way it gives null.
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
import math
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

from ..expr.ir import Name, Node, Type, walk

# The ops and the plan are compared by identity (``eq=False``): nothing compares or hashes
# plans by value, and the two generated methods per class that value equality needs
# (``__eq__``, ``__hash__``) were a third of this module's import cost, paid by every
# command that loads a policy (``civicscore check``). They stay frozen, with reprs.

#: The type of a list of strings (reason codes, labels); the expression types are the rest.
STRINGS = "list[string]"

ValueType = Type | str


@dataclass(frozen=True, slots=True, eq=False)
class Ref:
    """The value of a plan input or of an earlier step."""

    name: str


@dataclass(frozen=True, slots=True, eq=False)
class Lit:
    """A constant of ``type``; ``value`` None is a null of that type."""

    value: Any
    type: ValueType


Operand = Ref | Lit


@dataclass(frozen=True, slots=True, eq=False)
class Expr:
    """The value of a checked expression over the row's (non-null) plan names.

    With ``capture``, an error in evaluating it (what the per-record evaluator
    raises as ``ArithmeticError`` / ``ValueError``: a division by zero, a
    number out of range, a date out of range) does not stop the plan: the
    value is null and the step counts as *failed* (see :class:`Failed`).
    Without it, the expression must not be able to fail."""

    node: Node
    capture: bool = True


@dataclass(frozen=True, slots=True, eq=False)
class Failed:
    """True where any of the captured :class:`Expr` steps ``steps`` failed."""

    steps: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class CountTrue:
    """How many of ``items`` are true (int; a null counts as not true)."""

    items: tuple[Operand, ...]


@dataclass(frozen=True, slots=True, eq=False)
class All:
    """True where every one of ``items`` is true (a null is not true); no items: true."""

    items: tuple[Operand, ...]


@dataclass(frozen=True, slots=True, eq=False)
class AnyOf:
    """True where at least one of ``items`` is true (a null is not true); no items: false."""

    items: tuple[Operand, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Not:
    """True where ``item`` is not true (so a null gives true)."""

    item: Operand


@dataclass(frozen=True, slots=True, eq=False)
class IsNull:
    """True where ``item`` is null."""

    item: Operand


@dataclass(frozen=True, slots=True, eq=False)
class Compare:
    """``left op right`` (``<  <=  >  >=  ==  !=``) on two operands of one type;
    ``if_null`` where either is null (never null itself)."""

    op: str
    left: Operand
    right: Operand
    if_null: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class IfElse:
    """``then`` where ``cond`` is true, else ``orelse`` (a null condition is not true)."""

    cond: Operand
    then: Operand
    orelse: Operand


@dataclass(frozen=True, slots=True, eq=False)
class AddPeriod:
    """``date`` plus ``years`` and ``months``, then ``days`` (all >= 0): the same day of
    the month that many months later, clipped to the end of a shorter month (31 Jan + 1
    month is 28 or 29 Feb; 29 Feb + 1 year is 28 Feb), then that many days later (a
    cadence of "P1M3D", a trigger's deadline); a result past 9999-12-31 is 9999-12-31.
    A null date gives null."""

    date: Operand
    years: int = 0
    months: int = 0
    days: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class FirstTrue:
    """The index of the first of ``items`` that is true; ``len(items)`` when none is (a
    null is not true). Never null. Hit policy "first" over tier conditions, the first
    failing step of a list, priority (the items in priority order). Both backends
    compute it flat (no chain nested per item), so thousands of items are cheap."""

    items: tuple[Operand, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Pick:
    """A switch on an index: ``values[index]`` where ``index`` is in
    ``0 .. len(values) - 1``; null where the index is null or outside that range, and
    where the picked value is null. Every value has one type (per-tier cadences,
    labels, a tier index from a priority order). Flat in both backends."""

    index: Operand
    values: tuple[Operand, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Least:
    """The smallest of ``items`` (one orderable type: int, decimal or date) that is not
    null; null only where every item is null. The earliest of several due dates."""

    items: tuple[Operand, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Greatest:
    """The largest of ``items`` that is not null (as :class:`Least`, mirrored)."""

    items: tuple[Operand, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Threshold:
    """The index of the highest of ``thresholds`` (strictly ascending numbers) that
    ``value`` reaches (``value >= threshold``); -1 when it reaches none. Titles by
    minimum stars, grade bands, tiers."""

    value: Operand
    thresholds: tuple[int | float, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Codes:
    """The list of the ``code`` of every ``(condition, code)`` pair whose condition is true,
    in pair order (a null condition is not true): reason codes, labels of stars met."""

    pairs: tuple[tuple[Operand, str], ...]


#: How :class:`RoundDiv` rounds.
ROUNDINGS = frozenset({"down", "up", "half_up"})


@dataclass(frozen=True, slots=True, eq=False)
class RoundDiv:
    """The int ``value / by`` (``by`` a positive whole number) rounded to a whole number,
    exactly: ``down`` toward minus infinity, ``up`` toward plus infinity, ``half_up`` to
    the nearest with halves away from zero (Python's ``decimal`` ROUND_HALF_UP). Null
    gives null. Service time in whole rounding units of microseconds, fixed-point
    amounts to fewer decimals."""

    value: Operand
    by: int
    rounding: str


# --- exact decimals ------------------------------------------------------------------
#
# Values of type ``EXACT`` are exact decimal numbers: the Python backend holds them as
# ``decimal.Decimal`` under an unlimited context (nothing rounds but the op that says
# so), the polars backend as Int128 integers of ``value x 10**scale`` with a scale fixed
# per step. Where a value cannot be held that way (a double with more than 20 decimals
# or of 10**9 or more, or an intermediate that could leave Int128), the polars backend
# gives null there and marks the row *unfit* (``plan.polars.unfit``): such a row is
# decided by the Python backend, so the answer never depends on the engine. Constants
# (coefficients, bounds, literal values) are ``Decimal``; a float constant is taken at
# its shortest spelling (``Decimal(repr(x))``) before it reaches a plan.

#: The type of an exact decimal (see above).
EXACT = "exact"


@dataclass(frozen=True, slots=True, eq=False)
class Exact:
    """A number (int or decimal) as the exact decimal of its shortest spelling: an int as
    is, a float ``x`` as ``Decimal(repr(x))`` (92.82 is 92.82, not the double nearest
    to it). Null where ``value`` is null or not finite."""

    value: Operand


@dataclass(frozen=True, slots=True, eq=False)
class ExactSum:
    """``sum(c x v for v, c in terms) + constant``, exactly (no rounding): the weighted
    score, a total before rounding, ``raw - floor``. Null where any term is null."""

    terms: tuple[tuple[Operand, Decimal], ...]
    constant: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True, eq=False)
class DivHalfUp:
    """``num / den`` (``den`` a non-zero constant) as one exact quotient rounded
    ROUND_HALF_UP (halves away from zero) to ``places`` decimals: a rater-weighted mean,
    a linear normalisation, a total at the decimals the policy states (``den`` 1)."""

    num: Operand
    den: Decimal
    places: int


#: One interval of :class:`Interval`: ``(low, low_closed, high, high_closed)``; a bound
#: None is unbounded on that side.
Span = tuple[Decimal | None, bool, Decimal | None, bool]


@dataclass(frozen=True, slots=True, eq=False)
class Interval:
    """The index of the first of ``spans`` that holds the exact ``value``, compared
    exactly; -1 when none does; null where ``value`` is null. Bands ``[from, to)``,
    thresholds, the side a value falls outside a range, grade bands."""

    value: Operand
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True, eq=False)
class ExactPick:
    """``values[index]`` (exact values or constants) where ``index`` is in range, else
    ``default``; null where ``index`` or the picked value is null."""

    index: Operand
    values: tuple[Operand, ...]
    default: Operand


@dataclass(frozen=True, slots=True, eq=False)
class ExactFloat:
    """The double nearest to the exact ``value`` (correctly rounded, as ``float(d)``)."""

    value: Operand


@dataclass(frozen=True, slots=True, eq=False)
class ExactText:
    """The exact ``value`` as an officer writes it: rounded ROUND_HALF_UP to ``places``
    decimals, no exponent, no trailing zero or point, never ``-0`` (``89.995`` at 4 is
    ``89.995``; ``90.00`` is ``90``). A value of 10**15 or more is written ``%g``."""

    value: Operand
    places: int = 4


ExactOp = Exact | ExactSum | DivHalfUp | Interval | ExactPick | ExactFloat | ExactText

Op = (Expr | Failed | CountTrue | All | AnyOf | Not | IsNull | Compare | IfElse | AddPeriod
      | Threshold | Codes | FirstTrue | Pick | Least | Greatest | RoundDiv
      | ExactOp)

_COMPARE_OPS = frozenset({"<", "<=", ">", ">=", "==", "!="})


@dataclass(frozen=True, slots=True, eq=False)
class Input:
    """A value the plan reads from a record (a typed fact, a field, ``as_of``)."""

    name: str
    type: Type
    nullable: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Let:
    """One step: ``name`` is the value of ``op``."""

    name: str
    op: Op


@dataclass(frozen=True, eq=False)
class Plan:
    """Named steps over typed inputs; ``outputs`` are the names a run gives back, in order.

    Construction checks the plan: names unique, every operand and every name an
    expression reads defined before use, operand types as each op requires,
    expressions reading non-null names only. ``types`` and ``nullable`` give each
    name's type and whether it may be null."""

    inputs: tuple[Input, ...]
    steps: tuple[Let, ...]
    outputs: tuple[str, ...]
    types: dict[str, ValueType] = field(init=False, repr=False, compare=False)
    nullable: dict[str, bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        types: dict[str, ValueType] = {}
        nullable: dict[str, bool] = {}
        for i in self.inputs:
            _fresh(i.name, types)
            types[i.name], nullable[i.name] = i.type, i.nullable
        captured: set[str] = set()
        for step in self.steps:
            _fresh(step.name, types)
            t, n = _type_of(step.op, types, nullable, captured)
            types[step.name], nullable[step.name] = t, n
            if isinstance(step.op, Expr) and step.op.capture:
                captured.add(step.name)
        for name in self.outputs:
            if name not in types:
                raise ValueError(f"plan output {name!r} is not defined")
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "nullable", nullable)


def _fresh(name: str, types: dict[str, ValueType]) -> None:
    if name in types:
        raise ValueError(f"plan name {name!r} is defined twice")


def operand_type(o: Operand, types: dict[str, ValueType],
                 nullable: dict[str, bool]) -> tuple[ValueType, bool]:
    """The type of an operand, and whether it may be null."""
    if isinstance(o, Lit):
        return o.type, o.value is None
    if o.name not in types:
        raise ValueError(f"plan name {o.name!r} is used before it is defined")
    return types[o.name], nullable[o.name]


def _type_of(op: Op, types: dict[str, ValueType], nullable: dict[str, bool],
             captured: set[str]) -> tuple[ValueType, bool]:
    def of(o: Operand) -> tuple[ValueType, bool]:
        return operand_type(o, types, nullable)

    def want(o: Operand, kind: ValueType) -> bool:
        t, n = of(o)
        if t != kind:
            raise TypeError(f"{o!r} is {t}, {kind} is needed")
        return n

    match op:
        case Expr(node=node):
            for n in walk(node):
                if isinstance(n, Name):
                    if n.name not in types:
                        raise ValueError(f"expression reads {n.name!r}, not defined before")
                    if nullable[n.name]:
                        raise TypeError(f"expression reads {n.name!r}, which may be null")
            return node.type, op.capture
        case Failed(steps=steps):
            for s in steps:
                if s not in captured:
                    raise ValueError(f"{s!r} is not a captured expression step")
            return Type.BOOL, False
        case CountTrue(items=items):
            for o in items:
                want(o, Type.BOOL)
            return Type.INT, False
        case All(items=items) | AnyOf(items=items):
            for o in items:
                want(o, Type.BOOL)
            return Type.BOOL, False
        case Not(item=o):
            want(o, Type.BOOL)
            return Type.BOOL, False
        case IsNull(item=o):
            of(o)
            return Type.BOOL, False
        case Compare(op=cmp, left=a, right=b):
            if cmp not in _COMPARE_OPS:
                raise ValueError(f"unknown comparison {cmp!r}")
            ta, _ = of(a)
            want(b, ta)
            return Type.BOOL, False
        case IfElse(cond=c, then=a, orelse=b):
            want(c, Type.BOOL)
            ta, na = of(a)
            nb = want(b, ta)
            return ta, na or nb
        case AddPeriod(date=d, years=y, months=m, days=days):
            if y < 0 or m < 0 or days < 0:
                raise ValueError("a period adds whole years, months and days, never negative")
            return Type.DATE, want(d, Type.DATE)
        case FirstTrue(items=items):
            for o in items:
                want(o, Type.BOOL)
            return Type.INT, False
        case Pick(index=ix, values=values):
            want(ix, Type.INT)
            if not values:
                raise ValueError("a switch needs at least one value")
            tv, _ = of(values[0])
            for o in values[1:]:
                want(o, tv)
            return tv, True
        case Least(items=items) | Greatest(items=items):
            if not items:
                raise ValueError("least and greatest need at least one item")
            tv, nv = of(items[0])
            if tv not in (Type.INT, Type.DECIMAL, Type.DATE):
                raise TypeError(f"least and greatest order numbers or dates, not {tv}")
            for o in items[1:]:
                nv = want(o, tv) and nv
            return tv, nv
        case Threshold(value=v, thresholds=ths):
            tv, nv = of(v)
            if tv not in (Type.INT, Type.DECIMAL):
                raise TypeError(f"a threshold is compared with a number, not {tv}")
            if any(b <= a for a, b in pairwise(ths)):
                raise ValueError("thresholds must be strictly ascending")
            return Type.INT, nv
        case Codes(pairs=pairs):
            for o, _code in pairs:
                want(o, Type.BOOL)
            return STRINGS, False
        case RoundDiv(value=v, by=by, rounding=rounding):
            if by <= 0 or rounding not in ROUNDINGS:
                raise ValueError(f"divide by a positive whole number, rounded one of "
                                 f"{sorted(ROUNDINGS)}; got {by!r}, {rounding!r}")
            return Type.INT, want(v, Type.INT)
        case Exact() | ExactSum() | DivHalfUp() | Interval() | ExactPick() | ExactFloat() \
                | ExactText():
            return _exact_type(op, of, want)
    raise TypeError(f"unknown plan op {op!r}")  # pragma: no cover - the IR is closed


def add_period(day: dt.date | None, years: int = 0, months: int = 0,
               days: int = 0) -> dt.date | None:
    """:class:`AddPeriod` on one value (the Python backend calls this)."""
    if day is None:
        return None
    if years or months:
        total = day.year * 12 + day.month - 1 + years * 12 + months
        year, month0 = divmod(total, 12)
        if year > dt.MAXYEAR:
            return dt.date.max
        month = month0 + 1
        if day.day <= 28:
            day = dt.date(year, month, day.day)
        else:
            day = dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
    if days:
        if days > _MAX_ORDINAL - day.toordinal():
            return dt.date.max
        return day + dt.timedelta(days=days)
    return day


_MAX_ORDINAL = dt.date.max.toordinal()


def first_true(items: tuple[Any, ...]) -> int:
    """:class:`FirstTrue` on one row's values (the Python backend calls this for long
    lists; short ones are rendered inline)."""
    for i, v in enumerate(items):
        if v is True:
            return i
    return len(items)


# --- appended ops ------------------------------------------------------------------------

def round_div(value: int | None, by: int, rounding: str) -> int | None:
    """:class:`RoundDiv` on one value (the Python backend calls this)."""
    if value is None:
        return None
    if rounding == "down":
        return value // by
    if rounding == "up":
        return -(-value // by)
    if value < 0:
        return -((2 * -value + by) // (2 * by))
    return (2 * value + by) // (2 * by)


# --- exact decimals: types and the values on one row (the Python backend calls these) --

_NUMBERS = (Type.INT, Type.DECIMAL)


def _exact_type(op: ExactOp, of: Any, want: Any) -> tuple[ValueType, bool]:
    """The type of an exact-decimal op, its operands checked (see :data:`EXACT`)."""
    match op:
        case Exact(value=v):
            t, _n = of(v)
            if t not in _NUMBERS:
                raise TypeError(f"an exact decimal is made of a number, not {t}")
            return EXACT, True
        case ExactSum(terms=terms, constant=c):
            _decimals(c, *(k for _, k in terms))
            return EXACT, any([want(v, EXACT) for v, _ in terms])
        case DivHalfUp(num=v, den=den, places=places):
            _decimals(den)
            if den == 0 or places < 0:
                raise ValueError("a division by a non-zero constant, to places >= 0")
            return EXACT, want(v, EXACT)
        case Interval(value=v, spans=spans):
            for lo, _, hi, _ in spans:
                _decimals(*(b for b in (lo, hi) if b is not None))
            return Type.INT, want(v, EXACT)
        case ExactPick(index=ix, values=values, default=d):
            nulls = [want(ix, Type.INT), want(d, EXACT), *(want(v, EXACT) for v in values)]
            return EXACT, any(nulls)
        case ExactFloat(value=v):
            return Type.DECIMAL, want(v, EXACT)
        case ExactText(value=v, places=places):
            if places < 0:
                raise ValueError("text to places >= 0")
            return Type.STRING, want(v, EXACT)
    raise TypeError(f"unknown plan op {op!r}")  # pragma: no cover - the IR is closed


def _decimals(*values: Any) -> None:
    for v in values:
        if not isinstance(v, Decimal) or not v.is_finite():
            raise TypeError(f"an exact constant is a finite Decimal, not {v!r}")


#: Exact arithmetic: + - x never round under this context.
EXACT_CONTEXT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX,
                                Emin=decimal.MIN_EMIN, rounding=decimal.ROUND_HALF_UP,
                                traps=[decimal.InvalidOperation, decimal.DivisionByZero,
                                       decimal.Overflow])


def exact(x: Any) -> Decimal | None:
    """:class:`Exact` on one value."""
    if x is None:
        return None
    if isinstance(x, bool):
        return Decimal(int(x))
    if isinstance(x, int):
        return Decimal(x)
    x = float(x)
    if not math.isfinite(x):
        return None
    return Decimal(repr(x))


def exact_sum(values: tuple[Decimal | None, ...], coefficients: tuple[Decimal, ...],
              constant: Decimal) -> Decimal | None:
    """:class:`ExactSum` on one row's values."""
    total = constant
    for v, c in zip(values, coefficients, strict=True):
        if v is None:
            return None
        total = EXACT_CONTEXT.add(total, EXACT_CONTEXT.multiply(c, v))
    return total


def div_half_up(num: Decimal | None, den: Decimal, places: int) -> Decimal | None:
    """:class:`DivHalfUp` on one value: both as integer ratios, so nothing rounds before
    the one rounding of the quotient."""
    if num is None:
        return None
    a, b = num.as_integer_ratio()
    c, e = den.as_integer_ratio()
    n, d = a * e * 10 ** places, b * c
    if d < 0:
        n, d = -n, -d
    q, r = divmod(abs(n), d)
    if 2 * r >= d:
        q += 1
    return Decimal(-q if n < 0 else q).scaleb(-places, EXACT_CONTEXT)


def interval(value: Decimal | None, spans: tuple[Span, ...]) -> int | None:
    """:class:`Interval` on one value."""
    if value is None:
        return None
    for k, (lo, lo_closed, hi, hi_closed) in enumerate(spans):
        if lo is not None and (value < lo or (value == lo and not lo_closed)):
            continue
        if hi is not None and (value > hi or (value == hi and not hi_closed)):
            continue
        return k
    return -1


def exact_text(value: Decimal | None, places: int = 4) -> str | None:
    """:class:`ExactText` on one value."""
    if value is None:
        return None
    if abs(value) >= Decimal(10) ** 15:
        return f"{float(value):g}"
    q = value.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP,
                       context=EXACT_CONTEXT)
    text = f"{q:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
