"""Which records a rule's condition can match, decided exactly where it can be.

Policies warn at load time about rules that can never fire: a visit tier whose
condition no household satisfies, or one whose households are all taken by earlier
tiers under ``hit_policy = "first"`` (a district's new tier placed after the baseline's
weekly tier). Both questions are about sets of records, and this module answers them
for the conditions it understands, and only then:

* a comparison of one fact with a constant (``age >= 80``, ``70 <= age < 80``,
  ``mobility in [...]``, a bool fact, ``seen_on > date("2025-01-01")``) is a set of
  values of that fact (:class:`Values`: a finite set, or a range minus some points;
  whole numbers only for int and date facts);
* ``and`` of such comparisons is a *box* (fact -> values; a fact it does not name
  keeps its whole declared domain, :func:`domain_of`), and ``or`` / ``not`` of them a
  *region*, a union of boxes (:func:`analyse_region`, the condition in disjunctive
  normal form, ``not`` pushed inward by De Morgan);
* a rule is dead when its region is empty, or (``first``) when it lies inside the
  union of the earlier rules' regions (:func:`covered`: the box is cut by each
  earlier box in turn, :func:`subtract`, until nothing or something is left).

Everything is exact over the declared domains, which are at least as large as what a
record may hold (a decimal fact is taken as every real number between its bounds), so
a warning is a proof: every record the rule could match is taken. Anything else (a fact
compared with a fact, arithmetic, a function call, a normal form or a cut of more than
:data:`PIECES_LIMIT` boxes) is "don't know", and nothing is reported.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .ir import BoolOp, Compare, Const, In, Name, Node, Type, Unary

if TYPE_CHECKING:
    from ..policy.model import FactSpec

Kinds = Mapping[str, "tuple[Type, FactSpec | None]"]
"""Each fact a condition may read: its type and its declaration (bounds, enum values)."""

PIECES_LIMIT = 4096
"""The most boxes a normal form or a cut may hold before the analysis gives up (says
nothing): a condition of many ``or`` of ``and`` can otherwise grow exponentially."""
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_ENUMERATE_LIMIT = 10_000


class _Unknown(Exception):
    """The condition is not a conjunction of single-fact constraints."""


@dataclass(frozen=True)
class Values:
    """A set of values of one fact: exactly ``finite``, or a range minus ``excluded``."""

    finite: frozenset[Any] | None = None
    lo: Any = None
    lo_open: bool = False
    hi: Any = None
    hi_open: bool = False
    excluded: frozenset[Any] = frozenset()
    discrete: bool = False  # whole numbers only (int facts, dates as day numbers)

    def contains(self, v: Any) -> bool:
        if self.finite is not None:
            return v in self.finite
        if self.discrete and not (isinstance(v, (int, float)) and float(v).is_integer()):
            return False
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        if self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)):
            return False
        return v not in self.excluded

    @property
    def empty(self) -> bool:
        return self.finite is not None and not self.finite

    def intersect(self, other: Values) -> Values:
        if self.finite is not None and other.finite is not None:
            return Values(self.finite & other.finite)  # the common case, at set speed
        if self.finite is not None:
            return Values(frozenset(v for v in self.finite if other.contains(v)))
        if other.finite is not None:
            return other.intersect(self)
        lo, lo_open = self.lo, self.lo_open
        if other.lo is not None and (lo is None or other.lo > lo or
                                     (other.lo == lo and other.lo_open)):
            lo, lo_open = other.lo, other.lo_open
        hi, hi_open = self.hi, self.hi_open
        if other.hi is not None and (hi is None or other.hi < hi or
                                     (other.hi == hi and other.hi_open)):
            hi, hi_open = other.hi, other.hi_open
        return Values(None, lo, lo_open, hi, hi_open, self.excluded | other.excluded,
                       self.discrete or other.discrete).normalised()

    def normalised(self) -> Values:
        if self.finite is not None:
            return self
        lo, hi, lo_open, hi_open = self.lo, self.hi, self.lo_open, self.hi_open
        if self.discrete:
            if lo is not None:
                lo, lo_open = (math.floor(lo) + 1 if lo_open else math.ceil(lo)), False
            if hi is not None:
                hi, hi_open = (math.ceil(hi) - 1 if hi_open else math.floor(hi)), False
        excluded = frozenset(v for v in self.excluded
                             if Values(None, lo, lo_open, hi, hi_open, frozenset(),
                                        self.discrete).contains(v))
        if lo is not None and hi is not None:
            if lo > hi or (lo == hi and (lo_open or hi_open)):
                return Values(frozenset())
            if lo == hi:
                return Values(frozenset({lo}) - excluded)
            if self.discrete and hi - lo < max(_ENUMERATE_LIMIT, len(excluded) + 1):
                return Values(frozenset(range(lo, hi + 1)) - excluded)
        return Values(None, lo, lo_open, hi, hi_open, excluded, self.discrete)

    def within(self, other: Values) -> bool:
        """Is every value of this set also in ``other``?"""
        if self.finite is not None and other.finite is not None:
            return self.finite <= other.finite
        if self.finite is not None:
            return all(other.contains(v) for v in self.finite)
        if other.finite is not None:
            return False  # an infinite set is never inside a finite one
        if other.lo is not None and not (self.lo is not None and (
                self.lo > other.lo or (self.lo == other.lo and (self.lo_open or
                                                                not other.lo_open)))):
            return False
        if other.hi is not None and not (self.hi is not None and (
                self.hi < other.hi or (self.hi == other.hi and (self.hi_open or
                                                                not other.hi_open)))):
            return False
        return not any(self.contains(v) for v in other.excluded)


def domain_of(name: str, kinds: Kinds) -> Values:
    kind, spec = kinds[name]
    if kind is Type.BOOL:
        return Values(frozenset({True, False}))
    if kind is Type.STRING:
        return Values(frozenset(spec.values)) if spec is not None and spec.values \
            else Values()
    lo = spec.min if spec is not None else None
    hi = spec.max if spec is not None else None
    return Values(None, lo, False, hi, False, frozenset(),
                   kind in (Type.INT, Type.DATE)).normalised()


def _plain(value: Any) -> Any:
    return value.toordinal() if isinstance(value, dt.date) else value


def _atoms(node: Node, negate: bool = False) -> list[tuple[str, str, Any]]:
    """(fact, op, value) constraints whose conjunction is ``node``; raises _Unknown."""
    if isinstance(node, BoolOp) and (node.op == "and") != negate:
        return [a for v in node.values for a in _atoms(v, negate)]  # not (a or b) = ...
    if isinstance(node, Unary) and node.op == "not":
        return _atoms(node.operand, not negate)
    if isinstance(node, Const) and node.type is Type.BOOL:
        return [] if node.value != negate else [("", "false", None)]
    if isinstance(node, Name) and node.type is Type.BOOL:
        return [(node.name, "==", not negate)]
    if isinstance(node, In) and isinstance(node.operand, Name):
        op = "in" if node.negate == negate else "not in"
        return [(node.operand.name, op, frozenset(_plain(v) for v in node.options))]
    if isinstance(node, Compare):
        op = _NEGATE[node.op] if negate else node.op
        if isinstance(node.left, Name) and isinstance(node.right, Const):
            return [(node.left.name, op, _plain(node.right.value))]
        if isinstance(node.right, Name) and isinstance(node.left, Const):
            return [(node.right.name, _FLIP[op], _plain(node.left.value))]
    raise _Unknown


def _constraint(op: str, value: Any) -> Values:
    return {
        "==": lambda: Values(frozenset({value})),
        "!=": lambda: Values(excluded=frozenset({value})),
        "in": lambda: Values(frozenset(value)),
        "not in": lambda: Values(excluded=frozenset(value)),
        "<": lambda: Values(hi=value, hi_open=True),
        "<=": lambda: Values(hi=value),
        ">": lambda: Values(lo=value, lo_open=True),
        ">=": lambda: Values(lo=value),
    }[op]()


def analyse_condition(node: Node, kinds: Kinds,
                      domains: Mapping[str, Values] | None = None
                      ) -> dict[str, Values] | None:
    """Fact -> allowed values, or None when the condition is not a simple conjunction.
    ``domains`` may give each fact's whole set (:func:`domain_of`), worked out once."""
    try:
        atoms = _atoms(node)
    except _Unknown:
        return None
    out: dict[str, Values] = {}
    for name, op, value in atoms:
        if op == "false":
            out[""] = Values(frozenset())
            continue
        if name not in kinds:
            return None
        current = out[name] if name in out else (
            domains[name] if domains is not None else domain_of(name, kinds))
        out[name] = current.intersect(_constraint(op, value))
    return out


Box = dict[str, Values]
"""A conjunction: each named fact's allowed values (a fact not named: its whole domain)."""


def _dnf(node: Node, negate: bool = False) -> list[list[tuple[str, str, Any]]]:
    """``node`` (negated when ``negate``) as an ``or`` of ``and`` of (fact, op, value)
    atoms; raises _Unknown for what is no comparison of a fact with a constant, or when
    the normal form grows past :data:`PIECES_LIMIT` conjunctions."""
    if isinstance(node, Unary) and node.op == "not":
        return _dnf(node.operand, not negate)
    if isinstance(node, BoolOp) and node.op in ("and", "or"):
        parts = [_dnf(v, negate) for v in node.values]
        if (node.op == "or") != negate:  # an or, or a negated and (De Morgan)
            return [c for p in parts for c in p]
        product: list[list[tuple[str, str, Any]]] = [[]]
        for p in parts:
            product = [a + b for a in product for b in p]
            if len(product) > PIECES_LIMIT:
                raise _Unknown
        return product
    if isinstance(node, Const) and node.type is Type.BOOL:
        return [[]] if node.value != negate else []
    return [_atoms(node, negate)]  # one comparison (or raises _Unknown)


def analyse_region(node: Node, kinds: Kinds, domains: Mapping[str, Values]
                   ) -> list[Box] | None:
    """The records ``node`` matches as a union of non-empty boxes (empty: none), or None
    when the condition is not made of comparisons of a fact with a constant."""
    try:
        conjunctions = _dnf(node)
    except _Unknown:
        return None
    boxes: list[Box] = []
    for atoms in conjunctions:
        box: Box = {}
        for name, op, value in atoms:
            if op == "false":
                box[""] = Values(frozenset())
                break
            if name not in kinds:
                return None
            current = box[name] if name in box else domains[name]
            box[name] = current.intersect(_constraint(op, value))
        if not any(v.empty for v in box.values()):
            boxes.append(box)
    return boxes


def _minus(a: Values, b: Values) -> list[Values]:
    """``a`` without the values of ``b``, as non-empty pieces whose union it is."""
    if a.finite is not None:
        rest = a.finite - b.finite if b.finite is not None else \
            frozenset(v for v in a.finite if not b.contains(v))
        return [Values(rest)] if rest else []
    if b.finite is not None:
        return [Values(None, a.lo, a.lo_open, a.hi, a.hi_open, a.excluded | b.finite,
                       a.discrete).normalised()]
    pieces = []
    if b.lo is not None:  # below b's range
        pieces.append(a.intersect(Values(hi=b.lo, hi_open=not b.lo_open)))
    if b.hi is not None:  # above it
        pieces.append(a.intersect(Values(lo=b.hi, lo_open=not b.hi_open)))
    holes = frozenset(v for v in b.excluded if a.contains(v))  # the points b leaves out
    if holes:
        pieces.append(Values(holes))
    return [p for p in pieces if not p.empty]


def meets(a: Box, b: Box, domains: Mapping[str, Values]) -> bool:
    """Do boxes ``a`` and ``b`` have a record in common?"""
    for name, theirs in b.items():
        mine = a[name] if name in a else domains[name]
        if mine.finite is not None and theirs.finite is not None:
            if mine.finite.isdisjoint(theirs.finite):
                return False
        elif mine.intersect(theirs).empty:
            return False
    return True


def subtract(box: Box, cut: Box, domains: Mapping[str, Values]) -> list[Box]:
    """``box`` without the records of ``cut``, as non-empty boxes whose union it is:
    for the facts f1, f2 ... that ``cut`` names, the records in ``cut`` on f1..f(i-1) and
    outside it on fi."""
    pieces: list[Box] = []
    rest = dict(box)
    for name, allowed in cut.items():
        mine = rest[name] if name in rest else domains[name]
        pieces += [{**rest, name: p} for p in _minus(mine, allowed)]
        inside = mine.intersect(allowed)
        if inside.empty:
            return pieces  # what is left of box meets cut nowhere: all of it is a piece
        rest[name] = inside
    return pieces  # rest, inside cut on every fact it names, is cut away


CUTS_LIMIT = 500
"""The most box cuts one :func:`covered` question may take before it gives up: hundreds
of overlapping ranges over two facts fragment what is left into a staircase, and a
policy's check must stay quick (an undecided question warns nobody)."""


def covered(boxes: Sequence[Box], by: Sequence[Box], domains: Mapping[str, Values]
            ) -> bool | None:
    """Is every record of ``boxes`` in one of ``by``? None when what is left grows past
    :data:`PIECES_LIMIT` boxes or the cuts past :data:`CUTS_LIMIT` (then nobody knows,
    and nobody is told)."""
    if len(boxes) == 1 and len(by) == 1:  # one box in another: fact by fact
        box, cut = boxes[0], by[0]
        return all((box[name] if name in box else domains[name]).within(allowed)
                   for name, allowed in cut.items())
    left = list(boxes)
    work = 0
    for cut in by:
        if not left:
            break
        work += len(left)
        if work > CUTS_LIMIT:
            return None
        left = [piece for b in left for piece in
                (subtract(b, cut, domains) if meets(b, cut, domains) else [b])]
        if len(left) > PIECES_LIMIT:
            return None
    return not left


class BoxIndex:
    """The earlier boxes that may meet a later one, found without comparing every pair
    (thousands of tiers): a box that allows some fact only a finite set of values is
    filed under the first such fact and each of its values; a later box meets it only
    if it allows one of them (or does not restrict that fact to a finite set)."""

    def __init__(self) -> None:
        self.unkeyed: list[int] = []  # boxes with no finite set: always candidates
        self.by_value: dict[str, dict[Any, list[int]]] = {}

    def add(self, at: int, box: Box) -> None:
        for name, allowed in box.items():
            if allowed.finite is not None:
                values = self.by_value.setdefault(name, {})
                for v in allowed.finite:
                    values.setdefault(v, []).append(at)
                return
        self.unkeyed.append(at)

    def meeting(self, box: Box, domains: Mapping[str, Values]) -> list[int]:
        """The boxes filed that may meet ``box`` (a superset of those that do), in
        order."""
        found = set(self.unkeyed)
        for name, values in self.by_value.items():
            mine = box[name] if name in box else domains.get(name)
            if mine is None or mine.finite is None:
                found.update(at for ats in values.values() for at in ats)
                continue
            for v in mine.finite:
                found.update(values.get(v, ()))
        return sorted(found)
