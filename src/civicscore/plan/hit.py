"""DMN's seven hit policies, written once, as plan steps both backends run.

A decision table is a list of *rules*; each rule has a condition (a boolean plan
operand: the conjunction of its input entries, built by whoever owns the table)
and constant output entries, one per output column. The *hit policy* says what
the table gives when several rules match. DMN (Decision Model and Notation,
section 8.2.11) names seven, and this module is the only statement of them in
civicscore; a scheme that has a decision table (the visit tiers) and the DMN
TCK conformance test both build their steps here, and the Python and polars
backends run those steps as they run any other plan op (so they agree by the
parity of the ops: no backend code knows a hit policy).

Single hit (one result):

* ``unique``: at most one rule may match; two or more is a *violation* (an
  error for the record, never a silent pick).
* ``any``: several may match, but all must give the same output (every output
  column equal); different outputs is a violation. The result is that output.
* ``priority``: the matching rule whose output comes first in the output
  priority order (the ``rank`` of each rule: lower is higher priority; DMN takes
  it from the output values' lists, see :func:`output_ranks`). Rules of equal
  rank give equal outputs in DMN; here the earlier rule then wins, so the result
  is always defined.
* ``first``: the first matching rule in rule order.

Multiple hit (a list):

* ``rule order``: every matching rule, in rule order.
* ``output order``: every matching rule, in output priority order (by rank, then
  rule order).
* ``collect``: every matching rule in arbitrary order, which here is rule order.
  With an *aggregation* over one numeric output column: ``count`` (C#) the
  number of matching rules, ``sum`` (C+), ``min`` (C<), ``max`` (C>) of their
  outputs, exactly (decimal constants, no float). As FEEL's ``count``, ``sum``,
  ``min`` and ``max`` of an empty list: no match gives 0 for ``count`` and null
  for the others.

No match: a single-hit policy gives no rule (the index ``len(rules)``) and null
outputs (the owner of the table applies its default, as DMN's default output
does); a list policy gives the empty list.

Every table's steps also give ``chosen``: the rule a single result comes from
(for ``rule order`` / ``output order`` / ``collect``: the first of the list;
for ``min`` / ``max``: the rule whose output is the smallest / largest, the
earliest on a tie), so a scheme that needs one rule (a household's one tier)
and wants to say why reads it from the same steps.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from ..expr.ir import Type
from .ops import (
    EXACT,
    All,
    AnyOf,
    Codes,
    Compare,
    CountTrue,
    ExactPick,
    ExactSum,
    ExactText,
    FirstTrue,
    IfElse,
    Let,
    Lit,
    Op,
    Operand,
    Pick,
    Ref,
)

#: DMN's hit policies, as DMN spells them (lower case).
POLICIES = ("unique", "any", "priority", "first", "output order", "rule order", "collect")

#: The policies that give one result; the others give a list.
SINGLE = frozenset({"unique", "any", "priority", "first"})

#: The aggregations of ``collect`` (DMN's C#, C+, C<, C>).
AGGREGATIONS = ("count", "sum", "min", "max")

#: The policies that order by the output priority order (``rank``).
RANKED = frozenset({"priority", "output order"})

#: How many decimals an aggregate's text keeps (``ExactText``): a sum of constants has
#: no more decimals than its terms, so this only bounds what a table may write.
TEXT_PLACES = 12

#: A numeric output is below this in magnitude (what both backends hold exactly, see
#: ``plan.ops``' exact decimals), and so is a sum's total: ``ExactText`` writes 10**15
#: and more with ``%g``, which is not exact.
LIMIT = Decimal(10) ** 9
LARGEST = Decimal(10) ** 15


def _check_number(v: Decimal) -> None:
    """A rule's numeric output, as both backends hold it exactly and write it whole."""
    exponent = v.as_tuple().exponent
    if not v.is_finite() or abs(v) >= LIMIT or (isinstance(exponent, int)
                                                  and exponent < -TEXT_PLACES):
        raise ValueError(f"a numeric output is finite, below {LIMIT} in magnitude, with at "
                         f"most {TEXT_PLACES} decimals, not {v}")


@dataclass(frozen=True, slots=True)
class HitTable:
    """One decision table's rules, as its hit policy needs them.

    ``matches``: per rule, a boolean operand (a null is not a match, as everywhere in
    plans). ``outputs``: per rule, its constant output entries (str, bool, int or
    Decimal), one per output column. ``ids``: per rule, a name (the list policies give
    these). ``rank``: per rule, its place in the output priority order (needed by
    ``priority`` and ``output order``). ``aggregation``: with ``collect`` only.
    """

    policy: str
    matches: tuple[Operand, ...]
    outputs: tuple[tuple[Any, ...], ...]
    ids: tuple[str, ...]
    rank: tuple[int, ...] = ()
    aggregation: str | None = None

    def __post_init__(self) -> None:
        n = len(self.matches)
        if self.policy not in POLICIES:
            raise ValueError(f"unknown hit policy {self.policy!r}: one of {POLICIES}")
        if len(self.outputs) != n or len(self.ids) != n:
            raise ValueError("one output row and one id per rule")
        if len({len(o) for o in self.outputs}) > 1:
            raise ValueError("every rule has the same output columns")
        if self.policy in RANKED and len(self.rank) != n:
            raise ValueError(f"hit policy {self.policy!r} orders rules by output priority: "
                             f"give a rank per rule")
        if self.aggregation is not None:
            if self.policy != "collect":
                raise ValueError("an aggregation is only for hit policy 'collect'")
            if self.aggregation not in AGGREGATIONS:
                raise ValueError(f"unknown aggregation {self.aggregation!r}: one of "
                                 f"{AGGREGATIONS}")
            if self.aggregation != "count":
                if any(len(o) != 1 for o in self.outputs):
                    raise ValueError("sum, min and max aggregate one output column")
                if any(isinstance(o[0], bool) or not isinstance(o[0], int | Decimal)
                       for o in self.outputs):
                    raise ValueError("sum, min and max aggregate numbers")
        for out in self.outputs:
            for v in out:
                if isinstance(v, int | Decimal) and not isinstance(v, bool):
                    _check_number(Decimal(v))
        if self.aggregation == "sum" and sum(abs(Decimal(o[0])) for o in self.outputs) \
                >= LARGEST:
            raise ValueError(f"the outputs of a sum add up to {LARGEST} or more: their "
                             f"sum would not be written exactly")

    def order(self) -> tuple[int, ...]:
        """The rules in the order the policy tries them for its single result and
        lists them: output priority (then rule order) for ``priority`` and ``output
        order``, the output value for ``min`` (smallest first) and ``max`` (largest
        first), rule order otherwise. Sorting is stable, so a tie keeps rule order."""
        n = range(len(self.matches))
        if self.policy in RANKED:
            return tuple(sorted(n, key=lambda i: self.rank[i]))
        if self.aggregation == "min":
            return tuple(sorted(n, key=lambda i: Decimal(self.outputs[i][0])))
        if self.aggregation == "max":
            return tuple(sorted(n, key=lambda i: -Decimal(self.outputs[i][0])))
        return tuple(n)

    def listed(self, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """The outputs of the rules a list policy gave (their ``ids``, in its order)."""
        at = {rule: i for i, rule in enumerate(self.ids)}
        return [self.outputs[at[rule]] for rule in ids]


@dataclass(frozen=True, slots=True)
class HitSteps:
    """The names of the steps :func:`hit_steps` made (each a plan name).

    ``hits``: how many rules match (int). ``chosen``: the rule index of the single
    result (``len(rules)`` for none). ``violation``: true where ``unique`` or ``any``
    is violated (always false for the others). ``listed``: the ids of the matching
    rules in the policy's order (rule order for every policy but ``output order``).
    ``outputs``: per output column, the chosen rule's entry (null for none; a
    number as its exact decimal's text, ``ExactText``). ``aggregate``: with an
    aggregation, its value (``count`` an int, the others the exact decimal's text,
    null for none), else None.
    """

    hits: str
    chosen: str
    violation: str
    listed: str
    outputs: tuple[str, ...]
    aggregate: str | None


def _type_of(value: Any) -> str | Type:
    if isinstance(value, bool):
        return Type.BOOL
    if isinstance(value, int | Decimal):
        return EXACT
    if isinstance(value, str):
        return Type.STRING
    raise TypeError(f"a rule's output entry is a constant string, bool or number, not "
                    f"{value!r}")


def _lit(value: Any, kind: str | Type) -> Lit:
    return Lit(Decimal(value) if kind == EXACT else value, kind)


def hit_steps(table: HitTable, prefix: str, rename: Mapping[str, str] | None = None,
              want: Collection[str] | None = None) -> tuple[list[Let], HitSteps]:
    """The steps that give ``table``'s result, named ``prefix`` + a suffix (a prefix no
    other name of the plan starts with), and their names. ``rename`` gives some steps
    (by suffix: ``chosen``, ``violation``, ``listed``, ...) the names a plan's other
    steps and its readers already use. ``want`` (fields of :class:`HitSteps`) keeps
    only the steps those need: a scheme that reads the chosen rule and the violation
    does not pay, per record, for a list and outputs it never reads."""
    steps, names = _hit_steps(table, prefix, rename)
    if want is None:
        return steps, names
    return _needed(steps, {getattr(names, f) for f in want}), names


def _needed(steps: list[Let], names: set[str]) -> list[Let]:
    """The steps the ``names`` read, directly or through other steps, in order."""
    need = set(names)
    kept: list[Let] = []
    for step in reversed(steps):
        if step.name in need:
            kept.append(step)
            need |= set(_refs(step.op))
    return kept[::-1]


def _refs(value: Any) -> Iterator[str]:
    """The names an op (or a part of one) refers to."""
    if isinstance(value, Ref):
        yield value.name
    elif isinstance(value, tuple):
        for v in value:
            yield from _refs(v)
    elif hasattr(value, "__dataclass_fields__") and not isinstance(value, Lit):
        for f in fields(value):
            yield from _refs(getattr(value, f.name))


def _hit_steps(table: HitTable, prefix: str, rename: Mapping[str, str] | None
               ) -> tuple[list[Let], HitSteps]:
    n = len(table.matches)
    steps: list[Let] = []
    names = dict(rename or {})

    def let(suffix: str, op: Op) -> str:
        name = names.get(suffix, prefix + suffix)
        steps.append(Let(name, op))
        return name

    m = table.matches
    hits = let("hits", CountTrue(m))
    order = table.order()
    if order == tuple(range(n)):
        chosen = let("chosen", FirstTrue(m))
    else:
        at = let("by_order", FirstTrue(tuple(m[i] for i in order)))
        chosen = let("chosen", Pick(Ref(at), tuple(Lit(i, Type.INT) for i in (*order, n))))
    if table.policy == "unique":
        violation = let("violation", Compare(">", Ref(hits), Lit(1, Type.INT)))
    elif table.policy == "any":
        # the rules grouped by their output: more than one group matching is a violation
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, out in enumerate(table.outputs):
            groups.setdefault(tuple((type(v), v) for v in out), []).append(i)
        held = [let(f"group{g}", AnyOf(tuple(m[i] for i in rules)))
                for g, rules in enumerate(groups.values())]
        kinds = let("outputs", CountTrue(tuple(Ref(h) for h in held)))
        violation = let("violation", Compare(">", Ref(kinds), Lit(1, Type.INT)))
    else:
        violation = let("violation", All((Lit(False, Type.BOOL),)))
    listing = order if table.policy == "output order" else tuple(range(n))
    listed = let("listed", Codes(tuple((m[i], table.ids[i]) for i in listing)))
    columns = len(table.outputs[0]) if table.outputs else 0
    outputs: list[str] = []
    for c in range(columns):
        kinds_c = {_type_of(o[c]) for o in table.outputs}
        if len(kinds_c) > 1:
            raise TypeError(f"output column {c + 1} mixes {sorted(map(str, kinds_c))}")
        kind = kinds_c.pop()
        values = tuple(_lit(o[c], kind) for o in table.outputs)
        if kind == EXACT:  # a number as its exact text: what both backends give alike
            picked = let(f"exact{c}", ExactPick(Ref(chosen), values, Lit(None, EXACT)))
            outputs.append(let(f"out{c}", ExactText(Ref(picked), TEXT_PLACES)))
        else:
            outputs.append(let(f"out{c}", Pick(Ref(chosen), (*values, Lit(None, kind)))))
    aggregate: str | None = None
    if table.aggregation == "count":
        aggregate = hits
    elif table.aggregation == "sum":
        # sum over the rules of (v_i where rule i matched, else 0), each term an exact
        # pick of a constant (so it is held at that constant's own scale), and one more
        # term, null where none matched: the sum of no outputs is null (FEEL's sum([]))
        terms: list[tuple[Operand, Decimal]] = []
        for i in range(n):
            flag = let(f"flag{i}", IfElse(m[i], Lit(1, Type.INT), Lit(0, Type.INT)))
            terms.append((Ref(let(f"term{i}", ExactPick(Ref(flag), (
                Lit(Decimal(0), EXACT), _lit(table.outputs[i][0], EXACT)),
                Lit(None, EXACT)))), Decimal(1)))
        some = let("some", Compare(">", Ref(hits), Lit(0, Type.INT)))
        some_flag = let("some_flag", IfElse(Ref(some), Lit(1, Type.INT), Lit(0, Type.INT)))
        none = let("none_null", ExactPick(Ref(some_flag), (
            Lit(None, EXACT), Lit(Decimal(0), EXACT)), Lit(None, EXACT)))
        total = let("sum", ExactSum((*terms, (Ref(none), Decimal(1)))))
        aggregate = let("aggregate", ExactText(Ref(total), TEXT_PLACES))
    elif table.aggregation in ("min", "max"):
        # the chosen rule's output; a table of no rules has no column, and gives null
        aggregate = outputs[0] if outputs else let("aggregate", ExactText(
            Lit(None, EXACT), TEXT_PLACES))
    return steps, HitSteps(hits, chosen, violation, listed, tuple(outputs), aggregate)


def output_ranks(outputs: Sequence[Sequence[Any]],
                 priorities: Sequence[Sequence[Any] | None]) -> tuple[int, ...]:
    """Each rule's place in DMN's output priority order: its outputs compared column
    by column by their position in that column's list of output values (the lists
    are in decreasing priority; a column without a list does not take part), as one
    rank per rule (0 highest). A rule whose output is not in its column's list is
    refused: DMN requires it to be there."""
    keys: list[tuple[int, ...]] = []
    for i, out in enumerate(outputs):
        key: list[int] = []
        for c, values in enumerate(priorities):
            if values is None:
                continue
            if out[c] not in values:
                raise ValueError(f"rule {i + 1}: output {out[c]!r} is not one of the output "
                                 f"values {list(values)} of column {c + 1}")
            key.append(list(values).index(out[c]))
        keys.append(tuple(key))
    distinct = sorted(set(keys))
    return tuple(distinct.index(k) for k in keys)
