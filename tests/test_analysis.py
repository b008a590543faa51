"""The dead-rule analysis (civicscore.expr.analysis) against brute force: over small
declared domains, every record is tried, and the analysis may say "never matches" or
"covered by the earlier rules" only when that is so (no false warning), and must say it
whenever it is so for the conditions it understands (comparisons of one fact with a
constant under ``and``, ``or`` and ``not``)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.expr import Fact, FunctionTable, Scope, Type, compile_expression
from civicscore.expr.analysis import analyse_region, covered, domain_of
from civicscore.policy.model import FactSpec

SPECS = {"a": FactSpec(type="int", min=0, max=5), "b": FactSpec(type="bool"),
         "c": FactSpec(type="enum", values=["x", "y", "z"]),
         "d": FactSpec(type="decimal", min=0, max=3)}
KINDS = {"a": (Type.INT, SPECS["a"]), "b": (Type.BOOL, SPECS["b"]),
         "c": (Type.STRING, SPECS["c"]), "d": (Type.DECIMAL, SPECS["d"])}
DOMAINS = {name: domain_of(name, KINDS) for name in KINDS}
SCOPE = Scope({n: Fact(k) for n, (k, _) in KINDS.items()}, FunctionTable())
# d's constants are halves, so its quarters meet every piece its comparisons cut out
RECORDS = [dict(zip("abcd", r, strict=True)) for r in itertools.product(
    range(6), (False, True), ("x", "y", "z"),
    (Decimal(q) / 4 for q in range(13)))]

OPS = ("<", "<=", ">", ">=", "==", "!=")
ATOMS = st.one_of(
    st.builds(lambda op, v: f"a {op} {v}", st.sampled_from(OPS), st.integers(-1, 6)),
    st.builds(lambda v: "b" if v else "not b", st.booleans()),
    st.builds(lambda op, v: f'c {op} "{v}"', st.sampled_from(("==", "!=")),
              st.sampled_from("xyzw")),
    st.builds(lambda vs, neg: f"c {'not in' if neg else 'in'} [{', '.join(repr(v) for v in vs)}]"
              .replace("'", '"'), st.lists(st.sampled_from("xyz"), min_size=1, max_size=2),
              st.booleans()),
    st.builds(lambda op, v: f"d {op} {Fraction(v, 2).numerator / Fraction(v, 2).denominator}",
              st.sampled_from(OPS), st.integers(-1, 7)),
    st.sampled_from(("True", "False")),
)
CONDITIONS = st.recursive(
    ATOMS, lambda inner: st.one_of(
        st.builds(lambda x: f"not ({x})", inner),
        st.builds(lambda xs, op: "(" + f") {op} (".join(xs) + ")",
                  st.lists(inner, min_size=2, max_size=3), st.sampled_from(("and", "or")))),
    max_leaves=6)


def _compiled(text: str) -> Any:
    return compile_expression(text, SCOPE, Type.BOOL)


def _matches(text: str) -> set[int]:
    expression = _compiled(text)
    return {i for i, r in enumerate(RECORDS) if expression(r)}


@settings(max_examples=300, deadline=None)
@given(st.lists(CONDITIONS, min_size=1, max_size=3), CONDITIONS)
@example(["a >= 4", "b"], "a >= 5 or (b and c == \"x\")")  # two earlier rules together
@example(["d < 1", "d >= 1"], "d > 0.5")  # a range cut in two at a closed end
@example(["not (c in [\"x\", \"y\"])", "c == \"x\" or c == \"y\""], "a != 3")
def test_a_dead_rule_is_found_exactly_when_it_is_dead(earlier: list[str], later: str
                                                      ) -> None:
    regions = [analyse_region(_compiled(t).node, KINDS, DOMAINS) for t in [*earlier, later]]
    assert all(r is not None for r in regions)  # every generated condition is understood
    taken = set().union(*(_matches(t) for t in earlier))
    mine = _matches(later)
    later_region = regions[-1]
    assert later_region is not None
    assert (later_region == []) == (not mine), "never matches, exactly when no record does"
    boxes = [b for r in regions[:-1] for b in (r or [])]
    assert covered(later_region, boxes, DOMAINS) == (mine <= taken), \
        f"{later!r} after {earlier!r}: covered iff every record it matches is taken"


def test_what_is_not_understood_is_not_judged() -> None:
    assert analyse_region(_compiled("a + 1 > 3 or b").node, KINDS, DOMAINS) is None
    assert analyse_region(_compiled("a > d").node, KINDS, DOMAINS) is None
