"""Volunteer points are exact, bounded and the same in both engines (issue 10).

* exact: points = rate x counted hours x coefficient x multiplier(s) on the numbers as
  written, rounded ROUND_HALF_UP once at ``points_decimals`` -- checked against Python's
  ``decimal`` (an oracle property test) for the per-record and the batch engine;
* bounded: parameters no record could be scored with are refused at load, at their key
  with a fix; a record or redemption beyond what the policy can represent is rejected
  with a reason naming it and the field, identically in both engines;
* a month cap cutting a record keeps its ``CAP_HOURS_MONTH`` in batch too;
* start and end written with different UTC offsets are refused, not mixed;
* ``decide`` / ``decide_many`` are the vocabulary names.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import civicscore

from .conftest import problems_of
from .test_batch_volunteer import assert_same

pl = pytest.importorskip("polars")

AS_OF = dt.date(2025, 12, 31)
HEAD = """
[policy]
id = "exact"
version = "1"
"""


def rec(rid: str, start: str, end: str, activity: str = "a", vid: str = "v1",
        **extra: Any) -> dict[str, Any]:
    return {"record_id": rid, "volunteer_id": vid, "activity": activity, "start": start,
            "end": end, "confirmed": True, **extra}


def both(policy: civicscore.Policy, records: list[Any], redemptions: Any = None) -> Any:
    """The per-record result, after asserting the batch engine gives the same output."""
    assert_same(policy.volunteer, records, AS_OF, redemptions)
    return policy.volunteer.decide_many(records, as_of=AS_OF, redemptions=redemptions or ())


# --- exact points ---------------------------------------------------------------------------


def test_halves_round_up_as_written(load_text: Callable[..., civicscore.Policy]) -> None:
    """4.725 is 4.73 and 6.075 is 6.08 (floats times 100 gave 4.72 and 6.07)."""
    policy = load_text(HEAD + """
[volunteer]
confirmation_required = false
overlap = "allow"
[volunteer.categories.c]
coefficient = 1.35
[volunteer.activities.a]
points_per_hour = 4.725
[volunteer.activities.b]
points_per_hour = 2.025
[volunteer.activities.c]
category = "c"
points_per_hour = 1.5
[volunteer.activities.e]
points_per_event = 2.025
category = "c"
[[volunteer.multipliers]]
id = "triple"
when = "activity == \\"c\\" or activity == \\"e\\""
factor = 3
""")
    r = both(policy, [
        rec("1", "2025-03-01T09:00", "2025-03-01T10:00"),          # 4.725 x 1 h
        rec("2", "2025-03-02T09:00", "2025-03-02T12:00", "b"),     # 2.025 x 3 h
        rec("3", "2025-03-03T09:00", "2025-03-03T10:00", "c"),     # 1.5 x 1.35 x 3
        rec("4", "2025-03-04T09:00", "2025-03-04T10:00", "e"),     # 2.025 x 1.35 x 3
    ])
    assert [d.points for d in r.records] == [4.73, 6.08, 6.08, 8.2]
    assert [d.point_units for d in r.records] == [473, 608, 608, 820]
    assert "4.725 points rounded half-up to 4.73" in r.records[0].explain()
    assert r.statements["v1"].earned == 25.09


DECIMALS = st.integers(0, 3)


@st.composite
def written_number(draw: st.DrawFn, low: int, high: int) -> float:
    """A number as an officer writes it: up to 3 decimals, taken as a float from TOML."""
    places = draw(DECIMALS)
    return float(Decimal(draw(st.integers(low * 10**places, high * 10**places)))
                 .scaleb(-places))


def oracle(rate: float, coef: float, factors: list[float], minutes: int | None,
           places: int) -> Decimal:
    """Python's decimal on the written values: the product, rounded half up once."""
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        total = Decimal(repr(rate)) * Decimal(repr(coef))
        for f in factors:
            total *= Decimal(repr(f))
        if minutes is not None:
            total = total * minutes / 60
        return total.quantize(Decimal(1).scaleb(-places), rounding=decimal.ROUND_HALF_UP)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rate=written_number(0, 40), coef=written_number(0, 5),
       factors=st.lists(written_number(1, 4), min_size=0, max_size=3),
       rule=st.sampled_from(["max", "product"]), places=st.integers(0, 4),
       minutes=st.lists(st.integers(1, 600), min_size=1, max_size=6),
       per_event=st.booleans())
@example(rate=4.725, coef=1.0, factors=[], rule="max", places=2, minutes=[60],
         per_event=False)
@example(rate=2.025, coef=1.0, factors=[], rule="max", places=2, minutes=[180],
         per_event=False)
@example(rate=1.5, coef=1.35, factors=[3.0], rule="product", places=2, minutes=[60],
         per_event=False)
def test_points_equal_the_decimal_oracle(tmp_path_factory: pytest.TempPathFactory,
                                         rate: float, coef: float, factors: list[float],
                                         rule: str, places: int, minutes: list[int],
                                         per_event: bool) -> None:
    multipliers = "".join(f"""
[[volunteer.multipliers]]
id = "m{i}"
when = "True"
factor = {f!r}
""" for i, f in enumerate(factors))
    text = HEAD + f"""
[volunteer]
confirmation_required = false
overlap = "allow"
points_decimals = {places}
multiplier_rule = "{rule}"
[volunteer.categories.c]
coefficient = {coef!r}
[volunteer.activities.a]
category = "c"
{"points_per_event" if per_event else "points_per_hour"} = {rate!r}
""" + multipliers
    path = tmp_path_factory.mktemp("oracle") / "policy.toml"
    path.write_text(text, encoding="utf-8")
    policy = civicscore.load(path, today=dt.date(2025, 1, 1))
    start = dt.datetime(2025, 3, 1, 0, 0)
    records = [rec(f"r{i}", (start + dt.timedelta(days=i)).isoformat(),
                   (start + dt.timedelta(days=i, minutes=m)).isoformat(), vid=f"v{i}")
               for i, m in enumerate(minutes)]
    result = both(policy, records)
    chosen = factors if rule == "product" else ([max(factors)] if factors else [])
    for d, m in zip(result.records, minutes, strict=True):
        want = oracle(rate, coef, chosen, None if per_event else m, places)
        assert d.point_units == int(want.scaleb(places)), (d, want)
        assert d.points == float(want)


def test_service_time_is_rounded_exactly_in_whole_minutes(
        load_text: Callable[..., civicscore.Policy]) -> None:
    """29:59.999999 of service is 29 whole minutes down, 30 up; 15:00 is exactly 15."""
    policy = load_text(HEAD + """
[volunteer]
confirmation_required = false
rounding_minutes = 15
rounding = "up"
overlap = "allow"
[volunteer.activities.a]
points_per_hour = 1
""")
    r = both(policy, [rec("x", "2025-03-01T09:00:00", "2025-03-01T09:29:59.999999"),
                      rec("y", "2025-03-02T09:00:00", "2025-03-02T09:15:00")])
    x, y = r.records
    assert (x.service_hours, x.points, x.reason_codes) == (0.5, 0.5, ("ROUNDING", "RATE"))
    assert (y.service_hours, y.points, y.reason_codes) == (0.25, 0.25, ("RATE",))


# --- bounds at load ---------------------------------------------------------------------------


def refused(load_text: Callable[..., civicscore.Policy], text: str) -> list[str]:
    with pytest.raises(civicscore.PolicyError) as excinfo:
        load_text(HEAD + text)
    return problems_of(excinfo)


def test_three_huge_factors_under_product_are_refused_at_load(
        load_text: Callable[..., civicscore.Policy]) -> None:
    problems = refused(load_text, """
[volunteer]
multiplier_rule = "product"
[volunteer.activities.a]
points_per_hour = 1
""" + "".join(f"""
[[volunteer.multipliers]]
id = "m{i}"
when = "True"
factor = 1e12
""" for i in range(3)))
    (problem,) = problems
    assert "volunteer.multipliers" in problem
    assert "can multiply points by 1e+36" in problem and "lower the factors" in problem


def test_a_cap_beyond_what_the_decimals_can_hold_is_refused(
        load_text: Callable[..., civicscore.Policy]) -> None:
    (problem,) = refused(load_text, """
[volunteer]
points_decimals = 6
[volunteer.caps]
points_per_day = 1e11
[volunteer.activities.a]
points_per_hour = 1
""")
    assert "volunteer.caps.points_per_day" in problem
    assert "more than the 9007199254.740991 points a cap can hold" in problem
    assert "use fewer points_decimals" in problem


def test_a_rate_whose_counted_hours_cannot_be_held_is_refused(
        load_text: Callable[..., civicscore.Policy]) -> None:
    (problem,) = refused(load_text, """
[volunteer.activities.a]
points_per_hour = 1e12
max_hours = 100
""")
    assert "volunteer.activities.a.points_per_hour" in problem
    assert "up to 1e+14 points for 100 hours" in problem and "max_hours" in problem


def test_too_many_decimals_to_multiply_exactly_are_refused(
        load_text: Callable[..., civicscore.Policy]) -> None:
    (problem,) = refused(load_text, """
[volunteer]
multiplier_rule = "product"
[volunteer.categories.c]
coefficient = 1.0000001
[volunteer.activities.a]
category = "c"
points_per_hour = 0.0000001
[[volunteer.multipliers]]
id = "m"
when = "True"
factor = 1.000001
""")
    assert "20 decimals together" in problem and "fewer decimals" in problem


# --- out-of-range records, both engines -------------------------------------------------------


def test_a_record_beyond_the_range_is_rejected_in_both_engines(
        load_text: Callable[..., civicscore.Policy]) -> None:
    """1e12 points an hour loads (an hour is 1e14 points); 100 hours would be 1e16
    units of 0.01, beyond 2**53: that record is rejected, the others score."""
    policy = load_text(HEAD + """
[volunteer]
confirmation_required = false
[volunteer.activities.a]
points_per_hour = 1e12
""")
    r = both(policy, [rec("one", "2025-03-01T09:00", "2025-03-01T10:00"),
                      rec("long", "2025-03-02T00:00", "2025-03-06T04:00")])
    one, long = r.records
    assert one.points == 1e12 and one.point_units == 10**14
    assert long.status == "rejected" and long.reason_codes == ("OUT_OF_RANGE",)
    assert "record long" in long.reasons[0].message
    assert "more than the 90071992547409.91 points" in long.reasons[0].message
    assert r.statements["v1"].earned == 1e12


@pytest.mark.parametrize("points", [90071992547410.0, 9.0072e13, 1e300, "90071992547409.92"])
def test_a_redemption_beyond_the_range_is_rejected_in_both_engines(
        load_text: Callable[..., civicscore.Policy], points: Any) -> None:
    policy = load_text(HEAD + """
[volunteer]
confirmation_required = false
[volunteer.activities.a]
points_per_hour = 1
""")
    r = both(policy, [rec("x", "2025-03-01T09:00", "2025-03-01T10:00")],
             [{"redemption_id": "R1", "volunteer_id": "v1", "date": "2025-12-01",
               "points": points},
              {"redemption_id": "R2", "volunteer_id": "v1", "date": "2025-12-01",
               "points": 0.5}])
    bad, good = r.redemptions
    assert bad.status == "rejected" and bad.reasons[0].code == "OUT_OF_RANGE"
    assert bad.reasons[0].rule == "redemption.points"
    assert "R1" in bad.reasons[0].message and "'points'" in bad.reasons[0].message
    assert good.status == "applied" and r.statements["v1"].balance == 0.5


def test_a_redemption_just_within_the_range_is_read_exactly(
        load_text: Callable[..., civicscore.Policy]) -> None:
    """90071992547409 points is 9007199254740900 units: held, and refused for the balance."""
    policy = load_text(HEAD + """
[volunteer.activities.a]
points_per_hour = 1
""")
    r = both(policy, [], [{"redemption_id": "R1", "volunteer_id": "v1",
                           "date": "2025-12-01", "points": "90071992547409"}])
    (only,) = r.redemptions
    assert only.reasons[0].code == "INSUFFICIENT_BALANCE" and only.point_units == 9007199254740900


# --- caps ------------------------------------------------------------------------------------


def test_month_cap_reason_is_kept_in_batch(load_text: Callable[..., civicscore.Policy]
                                           ) -> None:
    """4 records, a 4 h day cap and a 10 h month cap: the month cap cuts record 3, so
    record 4 (same day) has 2 h of the day left and 0 of the month -- both caps apply
    (batch used to drop CAP_HOURS_MONTH, counting record 3's 4 h against the day)."""
    policy = load_text(HEAD + """
[volunteer]
confirmation_required = false
[volunteer.caps]
hours_per_day = 4
hours_per_month = 10
[volunteer.activities.a]
points_per_hour = 1
""")
    r = both(policy, [rec("r0", "2025-03-03T12:00", "2025-03-03T18:00"),
                      rec("r1", "2025-03-04T06:00", "2025-03-04T11:00"),
                      rec("r2", "2025-03-01T08:00", "2025-03-01T12:00"),
                      rec("r3", "2025-03-04T00:00", "2025-03-04T04:00")])
    assert [d.reason_codes for d in r.records] == [
        ("CAP_HOURS_DAY", "RATE"), ("CAP_HOURS_DAY", "CAP_HOURS_MONTH", "RATE"), ("RATE",),
        ("CAP_HOURS_MONTH", "RATE")]
    assert [d.counted_hours for d in r.records] == [4, 0, 4, 2]


# --- UTC offsets -------------------------------------------------------------------------------


def test_mixed_utc_offsets_are_refused_in_both_engines(
        load_text: Callable[..., civicscore.Policy]) -> None:
    """09:00+08:00 to 09:30+00:00 is 8.5 h, not 0.5 h: refused, with the field named."""
    policy = load_text(HEAD + """
[volunteer]
confirmation_required = false
[volunteer.activities.a]
points_per_hour = 1
""")
    r = both(policy, [rec("mixed", "2025-03-01T09:00+08:00", "2025-03-01T09:30+00:00"),
                      rec("same", "2025-03-02T09:00+08:00", "2025-03-02T09:30+08:00"),
                      rec("local", "2025-03-03T09:00", "2025-03-03T09:30+08:00")])
    mixed, same, local = r.records
    assert mixed.reason_codes == ("MIXED_UTC_OFFSETS",)
    assert mixed.reasons[0].rule == "record.end"
    assert "record mixed: 'end' (2025-03-01T09:30:00+00:00) has a different UTC offset" \
        in mixed.reasons[0].message
    assert same.counted_hours == 0.5 and local.counted_hours == 0.5


def test_mixed_offsets_of_a_time_zone_column_are_refused_in_both_engines(
        load_text: Callable[..., civicscore.Policy]) -> None:
    """Across the spring DST change of Europe/Berlin the offset changes from +1 to +2."""
    policy = load_text(HEAD + """
[volunteer]
confirmation_required = false
[volunteer.activities.a]
points_per_hour = 1
""")
    frame = pl.DataFrame({
        "record_id": ["dst", "calm"], "volunteer_id": ["v1", "v1"], "activity": ["a", "a"],
        "start": [dt.datetime(2025, 3, 30, 1, 0), dt.datetime(2025, 4, 2, 9, 0)],
        "end": [dt.datetime(2025, 3, 30, 4, 0), dt.datetime(2025, 4, 2, 10, 0)],
    }).with_columns(pl.col("start", "end").dt.replace_time_zone("Europe/Berlin"))
    per = policy.volunteer.decide_many(frame.to_dicts(), as_of=AS_OF)
    batch = policy.volunteer.batch(frame, as_of=AS_OF)
    assert batch.details.to_dicts() == list(per.detail_rows())
    assert [d.reason_codes for d in per.records] == [("MIXED_UTC_OFFSETS",), ("RATE",)]


# --- vocabulary ------------------------------------------------------------------------------


def test_decide_and_decide_many_are_the_vocabulary(
        load_text: Callable[..., civicscore.Policy]) -> None:
    policy = load_text(HEAD + """
[volunteer]
confirmation_required = false
[volunteer.activities.a]
points_per_hour = 1.5
""")
    scheme = policy.volunteer
    one = rec("x", "2025-03-01T09:00", "2025-03-01T10:00")
    assert scheme.decide(one, as_of=AS_OF) == scheme.evaluate_record(one, as_of=AS_OF)
    many = scheme.decide_many([one], as_of=AS_OF, redemptions=[
        {"redemption_id": "R", "volunteer_id": "v1", "date": "2025-06-01", "points": 1}])
    assert many.records == scheme.evaluate([one], [
        {"redemption_id": "R", "volunteer_id": "v1", "date": "2025-06-01", "points": 1}],
        as_of=AS_OF).records
    assert many.statements["v1"].balance == 0.5
