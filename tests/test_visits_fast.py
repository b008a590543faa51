"""Care visits: the quick way through a household and the careful way decide alike.

``VisitsScheme._decide`` reads a record quickly (values that already have their
type are taken as they are) and hands any record it does not accept to
``_decide_carefully``, which converts every value through ``coerce_facts`` and
words every reason. These properties feed both the same households, valid and
malformed, and require the same decision, to the letter; and check that the
reasons, built only when first read, behave as an ordinary field.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import decimal
import math
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.results import Reason, to_jsonable
from civicscore.schemes.visits.scheme import VisitDecision, VisitsScheme

from .conftest import EXAMPLE_POLICY

AS_OF = dt.date(2025, 6, 30)

#: Every fact type, required and defaulted, care needs and other facts; tier and trigger
#: conditions that can fail (100 / age with age 0) and triggers with real conditions.
POLICY = """
[policy]
id = "visits-fast"
version = "1"

[facts.household]
age = { type = "int", min = 0, max = 130, care_need = true, concept = "age" }
alone = { type = "bool", default = false, care_need = true, concept = "lives_alone" }
illness = { type = "bool", care_need = true, concept = "end_of_life" }
mobility = { type = "enum", values = ["good", "limited", "bedbound", "卧床", " padded "], default = "good", care_need = true, concept = "bedridden" }
meals = { type = "decimal", min = 0, max = 6, default = 3, care_need = true, concept = "nutrition_need" }
diet = { type = "string", default = "none", care_need = true, concept = "nutrition_need" }
agreed = { type = "bool", default = true, concept = "visit_consent" }
discharged_on = { type = "date", optional = true, care_need = true, concept = "hospital_discharge" }
fall_on = { type = "date", optional = true, care_need = true, concept = "fall" }
assessed_on = { type = "date", care_need = true, concept = "care_assessment" }
hygiene = { type = "int", min = 0, max = 12, default = 0 }
hours = { type = "decimal", min = 0, default = 0 }
covenant = { type = "bool", default = true }
joined_on = { type = "date", optional = true }

[visits]
hit_policy = "first"
default_tier = "routine"
max_interval = "P6M"

[[visits.tiers]]
id = "intensive"
cadence = "P3D"
when = "(mobility == \\"bedbound\\" or mobility == \\"卧床\\" or (illness and alone)) and agreed"

[[visits.tiers]]
id = "weekly"
cadence = "weekly"
when = "age >= 80 and alone"

[[visits.tiers]]
id = "young"
cadence = "P2M"
when = "100 / age > 2 and meals < 2"

[[visits.tiers]]
id = "monthly"
cadence = "P1M"
when = "age >= 70 or illness or diet == \\"soft\\""

[[visits.tiers]]
id = "routine"
cadence = "quarterly"

[[visits.triggers]]
id = "discharge"
event = "discharged_on"
within_days = 1

[[visits.triggers]]
id = "fall"
event = "fall_on"
when = "age >= 75"
within_days = 3

[[visits.triggers]]
id = "latest"
event = "max(discharged_on, fall_on)"
when = "not alone and 100 / age < 5"
within_days = 7

[[visits.triggers]]
id = "assessed"
event = "assessed_on"
within_days = 366
"""

PRIORITY = POLICY.replace('hit_policy = "first"', 'hit_policy = "priority"').replace(
    'cadence = "P3D"\n', 'cadence = "P3D"\npriority = 10\n').replace(
    'cadence = "weekly"\n', 'cadence = "weekly"\npriority = 5\n').replace(
    'cadence = "P2M"\n', 'cadence = "P2M"\npriority = 3\n').replace(
    'cadence = "P1M"\n', 'cadence = "P1M"\npriority = 7\n')
UNIQUE = POLICY.replace('hit_policy = "first"', 'hit_policy = "unique"')
ANY = POLICY.replace('hit_policy = "first"', 'hit_policy = "any"')
OUTPUT_ORDER = PRIORITY.replace('hit_policy = "priority"', 'hit_policy = "output order"')
COLLECT_MAX = POLICY.replace('hit_policy = "first"', 'hit_policy = "collect"\n'
                                                     'aggregation = "max"')


@pytest.fixture(scope="module")
def schemes(tmp_path_factory: pytest.TempPathFactory) -> list[VisitsScheme]:
    out = []
    for name, text in (("first", POLICY), ("priority", PRIORITY), ("unique", UNIQUE),
                       ("any", ANY), ("output-order", OUTPUT_ORDER),
                       ("collect-max", COLLECT_MAX)):
        path: Path = tmp_path_factory.mktemp("visits-fast") / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        out.append(civicscore.load(path, today=dt.date(2025, 1, 1)).visits)
    out.append(civicscore.load(EXAMPLE_POLICY, today=dt.date(2025, 1, 1)).visits)
    return out


# --- values of every kind, right and wrong --------------------------------------------

_days = st.dates(dt.date(2024, 6, 1), dt.date(2025, 8, 31))
_missing = st.sampled_from([None, "", "  ", "\t"])
_wrong = st.sampled_from([[], {}, (1,), object, b"12", math.nan, math.inf, -math.inf,
                          decimal.Decimal("NaN"), complex(1, 0)])


def _ints(lo: int, hi: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(lo, hi), st.integers(lo, hi), st.integers(lo - 3, hi + 3),
        st.integers(), st.booleans(),
        st.integers(lo, hi).map(float), st.floats(allow_nan=True, allow_infinity=True),
        st.integers(lo, hi).map(decimal.Decimal), st.decimals(allow_nan=False),
        st.integers(lo, hi + 2000).map(lambda n: f"{n:,}"),
        st.integers(lo, hi).map(lambda n: f" {n} "),
        st.sampled_from(["12.0", "1e2", "+5", "-0", "1_0", "1,5", "0x10", "١٢", "12 years"]),
        _missing, _wrong)


def _decimals(lo: float, hi: float) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.floats(lo, hi), st.floats(lo, hi), st.floats(allow_nan=True, allow_infinity=True),
        st.integers(int(lo), int(hi)), st.integers(), st.booleans(),
        st.decimals(lo, hi, places=2), st.decimals(allow_nan=False, allow_infinity=True),
        st.floats(lo, hi).map(lambda x: f" {x} "),
        st.sampled_from(["1,200.5", "2.5", "nan", "inf", "-inf", "1e400", "10" * 200, "3,5"]),
        _missing, _wrong)


def _bools() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.booleans(), st.booleans(), st.integers(-1, 2), st.sampled_from([0.0, 1.0, 1.5]),
        st.sampled_from(["yes", "no", "YES", " y ", "true", "False", "t", "1", "0", "是",
                         "否", "已确认", "maybe", "2"]),
        _missing, _wrong)


def _dates() -> st.SearchStrategy[Any]:
    return st.one_of(
        _days, _days, st.datetimes(dt.datetime(2024, 6, 1), dt.datetime(2025, 8, 31)),
        _days.map(dt.date.isoformat), _days.map(lambda d: f" {d.isoformat()} "),
        _days.map(lambda d: d.isoformat() + "T09:30"), _days.map(lambda d: d.strftime("%d/%m/%Y")),
        st.just(dt.date.min), st.just(dt.date.max),
        st.sampled_from(["2025-02-30", "yesterday", "20250102"]), st.integers(0, 3),
        _missing, _wrong)


def _texts(allowed: list[str]) -> st.SearchStrategy[Any]:
    typos = [v[:-1] for v in allowed if len(v) > 1] + [v.upper() for v in allowed]
    return st.one_of(
        st.sampled_from(allowed), st.sampled_from(allowed),
        st.sampled_from(allowed).map(lambda v: f" {v} "), st.sampled_from(typos),
        st.text(max_size=6), st.sampled_from(["\ud800", "soft", "none", "x\u3000"]),
        st.integers(0, 9), st.booleans(), _missing, _wrong)


def _ids(prefix: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from([f"{prefix}1", f"{prefix}2", f"{prefix}3"]),
        st.sampled_from([f" {prefix}1 ", f"{prefix}１", "户1", "\ud800", "row 1"]),
        st.integers(0, 3), st.booleans(), st.floats(0, 3), _missing, _wrong)


def _value_of(spec: Any) -> st.SearchStrategy[Any]:
    lo = -1000 if spec.min is None else spec.min
    hi = 1000 if spec.max is None else spec.max
    if spec.type == "int":
        return _ints(int(lo), int(hi))
    if spec.type == "decimal":
        return _decimals(lo, hi)
    if spec.type == "bool":
        return _bools()
    if spec.type == "date":
        return _dates()
    return _texts(list(spec.values or ["soft", "none"]))


_STRATEGIES: dict[int, st.SearchStrategy[dict[str, Any]]] = {}


def households(scheme: VisitsScheme) -> st.SearchStrategy[dict[str, Any]]:
    """Households of ``scheme``: each field and fact given or left out, right or wrong."""
    if id(scheme) not in _STRATEGIES:
        fields = {"household_id": _ids("H"), "liaison_id": _ids("L"), "last_visit": _dates()}
        facts = {name: _value_of(spec) for name, spec in scheme.facts.items()}
        _STRATEGIES[id(scheme)] = st.fixed_dictionaries({}, optional={**fields, **facts})
    return _STRATEGIES[id(scheme)]


def _same(fast: VisitDecision, careful: VisitDecision) -> None:
    assert fast.to_row() == careful.to_row()
    assert fast.explain() == careful.explain()
    assert fast.reason_codes == careful.reason_codes
    assert fast == careful


def _careful(scheme: VisitsScheme, homes: list[Any]) -> list[VisitDecision]:
    seen: dict[str, int] = {}
    return [scheme._decide_carefully(row, h, AS_OF, seen) for row, h in enumerate(homes, 1)]


# --- the properties ----------------------------------------------------------------------


@given(data=st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_quick_and_careful_decide_alike(schemes: list[VisitsScheme], data: st.DataObject) -> None:
    scheme = data.draw(st.sampled_from(schemes))
    home = data.draw(households(scheme))
    _same(scheme.evaluate(home, as_of=AS_OF), _careful(scheme, [home])[0])


@given(data=st.data())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_quick_and_careful_decide_alike_in_bulk(schemes: list[VisitsScheme],
                                                data: st.DataObject) -> None:
    scheme = data.draw(st.sampled_from(schemes))
    homes = data.draw(st.lists(households(scheme) | st.sampled_from([None, [], "x"]),
                               max_size=8))
    result = scheme.evaluate_many(homes, as_of=AS_OF)
    for fast, careful in zip(result.decisions, _careful(scheme, homes), strict=True):
        _same(fast, careful)


def _good(scheme: VisitsScheme, draw: st.DrawFn) -> dict[str, Any]:
    """A household whose every value already has its type: the quick way all along."""
    h: dict[str, Any] = {"household_id": draw(st.sampled_from(["H1", "H2", "户3"])),
                         "liaison_id": draw(st.sampled_from(["L1", "L2", ""]))}
    if draw(st.booleans()):
        h["last_visit"] = draw(st.dates(dt.date(2024, 6, 1), AS_OF))
    for name, spec in scheme.facts.items():
        lo = 0 if spec.min is None else spec.min
        hi = 100 if spec.max is None else spec.max
        if spec.type == "int":
            h[name] = draw(st.integers(int(lo), int(hi)))
        elif spec.type == "decimal":
            h[name] = draw(st.floats(lo, hi))
        elif spec.type == "bool":
            h[name] = draw(st.booleans())
        elif spec.type == "date":
            h[name] = draw(_days)
        elif spec.values:
            h[name] = draw(st.sampled_from(spec.values))
        else:
            h[name] = draw(st.sampled_from(["soft", "none"]))
    return h


@given(data=st.data())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_well_typed_households_decide_alike(schemes: list[VisitsScheme],
                                            data: st.DataObject) -> None:
    scheme = data.draw(st.sampled_from(schemes))
    home = _good(scheme, data.draw)
    _same(scheme.evaluate(home, as_of=AS_OF), _careful(scheme, [home])[0])


# --- the reasons, built when first read ---------------------------------------------------


def test_reasons_are_built_once_and_behave_as_a_field(schemes: list[VisitsScheme]) -> None:
    scheme = schemes[0]
    home = {"household_id": "H1", "age": 85, "alone": True, "illness": False,
            "assessed_on": dt.date(2025, 6, 15), "last_visit": dt.date(2025, 6, 10),
            "discharged_on": dt.date(2025, 6, 20)}
    d = scheme.evaluate(home, as_of=AS_OF)
    assert d.reason_codes == ("TIER_MATCHED", "CADENCE", "TRIGGER", "TRIGGER", "OVERDUE")
    assert d.triggers == ("discharge", "assessed") and d.overdue
    assert not any(isinstance(r, Reason) for r in d.__dict__["reasons"])  # sentences not made
    reasons = d.reasons
    assert isinstance(reasons, tuple) and all(isinstance(r, Reason) for r in reasons)
    assert d.reasons is reasons  # made once, then kept
    assert [r.code for r in reasons] == list(d.reason_codes)
    assert reasons[0].facts == {"age": 85, "alone": True}
    # Still a frozen dataclass with the same fields, in the same order.
    names = [f.name for f in dataclasses.fields(VisitDecision)]
    assert names[11:14] == ["triggers", "reasons", "policy"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.reasons = ()  # type: ignore[misc]
    fresh = scheme.evaluate(home, as_of=AS_OF)
    assert to_jsonable(fresh) == to_jsonable(d) and to_jsonable(d)["reasons"][0]["code"] == \
        "TIER_MATCHED"
    # Copies and pickles carry the reasons themselves (not the scheme that makes them).
    for other in (pickle.loads(pickle.dumps(scheme.evaluate(home, as_of=AS_OF))),
                  copy.copy(scheme.evaluate(home, as_of=AS_OF)),
                  copy.deepcopy(scheme.evaluate(home, as_of=AS_OF)),
                  dataclasses.replace(scheme.evaluate(home, as_of=AS_OF), row=1)):
        assert other == d and other.explain() == d.explain()
        assert other.reason_codes == d.reason_codes
    # Built by hand, as before: reasons given as a tuple.
    made = VisitDecision(*(getattr(d, n) for n in names))
    assert made == d and made.reason_codes == d.reason_codes and made.reasons == reasons
    assert repr(made) == repr(d)


def test_a_rejected_household_has_every_reason_at_once(schemes: list[VisitsScheme]) -> None:
    scheme = schemes[0]
    home = {"household_id": " H1 ", "age": "131", "illness": "maybe", "meals": "1,2",
            "mobility": "bedbound ", "assessed_on": "soon", "hygiene": 13,
            "last_visit": "2025-07-01"}
    d = scheme.evaluate(home, as_of=AS_OF)
    assert d.rejected and d.household_id == "H1"
    assert d.reason_codes == ("AFTER_AS_OF", "OUT_OF_RANGE", "INVALID_FIELD", "INVALID_FIELD",
                              "INVALID_DATE", "OUT_OF_RANGE")
    _same(d, _careful(scheme, [home])[0])


def test_a_failing_expression_names_its_rule(schemes: list[VisitsScheme]) -> None:
    first = schemes[0]
    base = {"household_id": "H1", "illness": False, "assessed_on": dt.date(2025, 1, 1)}
    d = first.evaluate({**base, "age": 0}, as_of=AS_OF)
    assert d.reason_codes == ("EXPR_ERROR",) and d.reasons[0].rule == "visits.tiers.young.when"
    assert "'100 / age > 2 and meals < 2' could not be computed" in d.reasons[0].message
    d = first.evaluate({**base, "age": 0, "meals": 4, "alone": False}, as_of=AS_OF)
    assert d.reasons[0].rule == "visits.tiers.young.when"
    d = first.evaluate({**base, "age": 0, "mobility": "bedbound"}, as_of=AS_OF)
    assert d.reason_codes == ("EXPR_ERROR",)
    assert d.reasons[0].rule == "visits.triggers.latest.when"
    for home in ({**base, "age": 0}, {**base, "age": 0, "mobility": "bedbound"}):
        _same(first.evaluate(home, as_of=AS_OF), _careful(first, [home])[0])
