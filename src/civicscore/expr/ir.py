"""The typed intermediate representation of policy expressions.

Every expression in a policy is checked once at load time into this small
tree. Both evaluators (per record, and the batch evaluator) are compiled from
it, so they cannot disagree about what an expression *means*: they can only
differ in how fast they compute it.

Semantics, fixed here once:

* Types are ``bool``, ``int``, ``decimal`` (IEEE double), ``string`` and
  ``date``. There is no null: every fact is required or has a default.
* ``int (+ - *) int`` is ``int``; ``/`` always gives ``decimal``; an ``int``
  mixed with a ``decimal`` is widened to ``decimal``.
* Division by zero does not produce a value: the record is rejected with
  reason ``EXPR_DIVISION_BY_ZERO`` naming the expression. Only branches that
  are actually taken count (``x != 0 and y / x > 1`` is safe), as in Python.
* Whole numbers are *safe integers*: a fact outside +-(2**53 - 1) is refused
  when the record is read, and an ``int`` result outside that range (from
  ``+ - * **`` or a function) rejects the record with ``EXPR_ERROR``. A
  ``decimal`` result that is not finite (overflow) does the same. These two
  rules are what lets the batch evaluator, which computes in 64-bit columns,
  agree with the per-record one on every record.
* ``x ** n`` (n a literal 0..6) is repeated multiplication, left to right, so
  both evaluators round the same way at every step.
* ``round_half_up(x, d)`` rounds halves away from zero on the decimal as
  written: exact for every value of up to 15 significant digits (see
  ``functions.round_half_up`` for the float algorithm both evaluators share).
* Chained comparisons ``a < b < c`` mean ``a < b and b < c``.
* ``and`` / ``or`` take and give ``bool`` only (no Python truthiness).

Expressions decide conditions and give raw values; they are not where
amounts are added up. The schemes compute their amounts (points, hours,
scores, weights, totals, caseloads) exactly on top of these values: every
``decimal`` is taken at its written form (``Decimal(repr(x))``, the shortest
decimal that reads back as the same double, i.e. what the officer or the
record wrote), sums and products are exact, and rounding is ROUND_HALF_UP at
the places each scheme's docstring states (docs/expressions.md, "Amounts are
exact", lists them). Both engines follow the same rule, so a total equals
the same sum done with Python's ``decimal`` module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_SAFE_INT = 2**53 - 1
"""The largest whole number an ``int`` fact or result may hold (doubles represent it exactly)."""


class Type(StrEnum):
    """The value types of the expression language."""

    BOOL = "bool"
    INT = "int"
    DECIMAL = "decimal"
    STRING = "string"
    DATE = "date"

    @property
    def numeric(self) -> bool:
        return self in (Type.INT, Type.DECIMAL)

    def __str__(self) -> str:
        return self.value


PY_TYPES: dict[Type, tuple[type, ...]] = {
    Type.BOOL: (bool,),
    Type.INT: (int,),
    Type.DECIMAL: (float, int),
    Type.STRING: (str,),
    Type.DATE: (dt.date,),
}


@dataclass(frozen=True, slots=True)
class Node:
    """Base of all IR nodes; ``type`` is the checked result type."""

    type: Type


@dataclass(frozen=True, slots=True)
class Const(Node):
    value: Any


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A declared fact or a built-in variable such as ``as_of``."""

    name: str


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "-", "+" or "not"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # "+", "-", "*", "/", "**"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # "<", "<=", ">", ">=", "==", "!="
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    op: str  # "and" or "or"
    values: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class IfElse(Node):
    cond: Node
    then: Node
    orelse: Node


@dataclass(frozen=True, slots=True)
class In(Node):
    operand: Node
    options: tuple[Any, ...]
    negate: bool


@dataclass(frozen=True, slots=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


def walk(node: Node) -> list[Node]:
    """All nodes of a tree, parents before children."""
    out: list[Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        match n:
            case Unary(operand=o):
                stack.append(o)
            case Binary(left=a, right=b) | Compare(left=a, right=b):
                stack.extend((b, a))
            case BoolOp(values=vs) | Call(args=vs):
                stack.extend(reversed(vs))
            case IfElse(cond=c, then=t, orelse=e):
                stack.extend((e, t, c))
            case In(operand=o):
                stack.append(o)
    return out


def names_read(node: Node) -> tuple[str, ...]:
    """The fact names an expression reads, in first-use order (for explanations)."""
    seen: dict[str, None] = {}
    for n in walk(node):
        if isinstance(n, Name):
            seen.setdefault(n.name, None)
    return tuple(seen)
