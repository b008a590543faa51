"""Volunteer points: worked scenarios, then properties that must hold for any input."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings

import civicscore

from .conftest import AS_OF, EXAMPLE_POLICY
from .strategies import activity_records, redemption_records

POLICY = """
[policy]
id = "vol-test"
version = "1"

[facts.activity]
holiday_bonus = { type = "bool", default = false }

[volunteer]
rounding_minutes = 15
rounding = "down"
points_decimals = 2
submission_window_days = 30
confirmation_required = true
point_expiry_months = 1
multiplier_rule = "product"

[volunteer.caps]
hours_per_day = 8
points_per_day = 20
hours_per_month = 40
points_per_month = 90

[volunteer.categories.safety]
coefficient = 1.5

[volunteer.activities.patrol]
category = "safety"
points_per_hour = { 2024-01-01 = 2, 2025-01-20 = 3 }
max_hours = 6

[volunteer.activities.cleanup]
points_per_hour = 1.25

[volunteer.activities.talk]
points_per_event = 4

[[volunteer.multipliers]]
id = "bonus"
when = "holiday_bonus"
factor = 2

[[volunteer.multipliers]]
id = "long"
when = "hours >= 3 and activity != \\"talk\\""
factor = 1.1
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> civicscore.Policy:
    path = tmp_path_factory.mktemp("vol") / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return civicscore.load(path)


def rec(rid: str, start: str, end: str, activity: str = "cleanup", vid: str = "v1",
        **extra: object) -> dict[str, object]:
    return {"record_id": rid, "volunteer_id": vid, "activity": activity, "start": start,
            "end": end, "confirmed": True, "submitted_at": end, **extra}


# --- scenarios ---------------------------------------------------------------------------


def test_rate_coefficient_rounding_and_dated_value(policy: civicscore.Policy) -> None:
    r = policy.volunteer.evaluate([
        rec("a", "2025-01-10T09:00", "2025-01-10T11:10", "patrol"),
        rec("b", "2025-02-10T09:00", "2025-02-10T11:10", "patrol"),
    ], as_of=AS_OF)
    a, b = r.records
    assert (a.service_hours, a.counted_hours, a.points) == (2.0, 2.0, 6.0)  # 2 h x 2 x 1.5
    assert b.points == 9.0  # 2 h x 3 x 1.5, the rate in force from 2025-01-20
    assert a.reason_codes == ("ROUNDING", "RATE", "COEFFICIENT")
    used = {p.path: (p.value, p.since) for p in b.parameters}
    assert used["volunteer.activities.patrol.points_per_hour"] == (3, dt.date(2025, 1, 20))
    assert "in force since 2025-01-20" in b.explain()
    assert b.policy.id == "vol-test" and len(b.policy.hash) == 64 and b.as_of == AS_OF


def test_max_hours_and_daily_hour_cap(policy: civicscore.Policy) -> None:
    r = policy.volunteer.evaluate([
        rec("a", "2025-03-03T06:00", "2025-03-03T13:00", "patrol"),   # 7 h -> 6 (max_hours)
        rec("b", "2025-03-03T14:00", "2025-03-03T18:00"),              # 4 h -> 2 (day cap 8)
    ], as_of=AS_OF)
    a, b = r.records
    assert a.counted_hours == 6 and "MAX_HOURS" in a.reason_codes
    assert b.counted_hours == 2 and "CAP_HOURS_DAY" in b.reason_codes


def test_daily_points_cap_and_multipliers(policy: civicscore.Policy) -> None:
    r = policy.volunteer.evaluate([
        rec("a", "2025-03-04T08:00", "2025-03-04T11:00", holiday_bonus=True),  # 3h*1.25*2*1.1
        rec("b", "2025-03-04T12:00", "2025-03-04T13:00", "talk", holiday_bonus="yes"),
        rec("c", "2025-03-04T14:00", "2025-03-04T15:00", "talk"),
    ], as_of=AS_OF)
    a, b, c = r.records
    assert a.points == 8.25 and a.reason_codes.count("MULTIPLIER") == 2
    assert b.points == 8.0
    assert c.points == 20 - 8.25 - 8.0 and "CAP_POINTS_DAY" in c.reason_codes


def test_rejections_carry_every_reason(policy: civicscore.Policy) -> None:
    r = policy.volunteer.evaluate([
        {"record_id": "x", "volunteer_id": "v1", "activity": "patrl", "start": "2025-03-05T10:00",
         "end": "2025-03-05T09:00", "confirmed": "no", "submitted_at": "2025-05-05T09:00"},
        {"record_id": "y", "activity": "cleanup", "start": "yesterday", "end": None},
        rec("z", "2026-01-01T09:00", "2026-01-01T10:00"),
        rec("w", "2023-03-05T09:00", "2023-03-05T10:00", "patrol"),
        rec("v", "2025-03-05T09:00", "2025-03-05T10:00", holiday_bonus="perhaps"),
    ], as_of=AS_OF)
    x, y, z, w, v = r.records
    assert set(x.reason_codes) == {"UNKNOWN_ACTIVITY", "END_NOT_AFTER_START", "NOT_CONFIRMED",
                                   "LATE_SUBMISSION"}
    assert "did you mean 'patrol'?" in x.explain()
    assert set(y.reason_codes) == {"MISSING_FIELD", "INVALID_DATETIME", "NOT_CONFIRMED"}
    assert "field 'volunteer_id' is required" in y.explain()
    assert z.reason_codes == ("AFTER_AS_OF",)
    assert w.reason_codes == ("RATE_NOT_IN_FORCE",)
    assert v.reason_codes == ("INVALID_FIELD",) and "holiday_bonus" in v.reasons[0].message
    assert all(d.rejected and d.points == 0 for d in r.records)


def test_overlap_and_duplicate(policy: civicscore.Policy) -> None:
    r = policy.volunteer.evaluate([
        rec("a", "2025-03-06T09:00", "2025-03-06T11:00"),
        rec("b", "2025-03-06T10:00", "2025-03-06T12:00"),
        rec("a", "2025-03-07T09:00", "2025-03-07T11:00"),
        rec("c", "2025-03-06T10:00", "2025-03-06T12:00", vid="v2"),
    ], as_of=AS_OF)
    assert [d.status for d in r.records] == ["scored", "rejected", "rejected", "scored"]
    assert r.records[1].reason_codes == ("OVERLAP",)
    assert "record a" in r.records[1].reasons[0].message
    assert r.records[2].reason_codes == ("DUPLICATE_RECORD",)


def test_expiry_and_oldest_first_redemption(policy: civicscore.Policy) -> None:
    r = policy.volunteer.evaluate(
        [rec("a", "2025-01-05T09:00", "2025-01-05T13:00"),   # 4h*1.25*1.1 = 5.5, expires 02-05
         rec("b", "2025-02-01T09:00", "2025-02-01T11:00")],  # 2.5, expires 03-01
        [{"redemption_id": "r1", "volunteer_id": "v1", "date": "2025-02-02", "points": 6},
         {"redemption_id": "r2", "volunteer_id": "v1", "date": "2025-02-03", "points": 5}],
        as_of=dt.date(2025, 2, 20))
    s = r.statements["v1"]
    assert [x.status for x in r.redemptions] == ["applied", "rejected"]
    assert r.redemptions[1].reasons[0].code == "INSUFFICIENT_BALANCE"
    # r1 took all 5.5 of 'a' (oldest first) and 0.5 of 'b'; nothing was left to expire.
    assert (s.earned, s.redeemed, s.expired, s.balance) == (8.0, 6.0, 0.0, 2.0)
    later = policy.volunteer.evaluate(
        [rec("a", "2025-01-05T09:00", "2025-01-05T13:00"),
         rec("b", "2025-02-01T09:00", "2025-02-01T11:00")], as_of=dt.date(2025, 3, 1))
    assert later.statements["v1"].expired == 8.0 and later.statements["v1"].balance == 0
    assert later.statements["v1"].hours == 6.0  # hours never expire


def test_star_levels_from_example_policy() -> None:
    policy = civicscore.load(EXAMPLE_POLICY)
    records = [rec(f"d{i}", f"2025-0{1 + i // 28}-{1 + i % 28:02d}T08:00",
                   f"2025-0{1 + i // 28}-{1 + i % 28:02d}T12:00", "general") for i in range(26)]
    s = policy.volunteer.evaluate(records, as_of=AS_OF).statements["v1"]
    assert s.hours == 104 and s.star_level == 1 and s.star_label == "一星志愿者"
    assert s.next_star_hours == 300


def test_unreadable_rows_are_rejected_not_dropped(policy: civicscore.Policy) -> None:
    from civicscore.records import UnreadableRow

    r = policy.volunteer.evaluate([UnreadableRow(1, "row 1 is not valid JSON"), "junk"],
                                  as_of=AS_OF)
    assert [d.reason_codes for d in r.records] == [("UNREADABLE_ROW",), ("UNREADABLE_ROW",)]


def test_evaluate_record_matches_batch_of_one(policy: civicscore.Policy) -> None:
    one = rec("a", "2025-03-06T09:00", "2025-03-06T11:00")
    assert policy.volunteer.evaluate_record(one, as_of=AS_OF) == \
        policy.volunteer.evaluate([one], as_of=AS_OF).records[0]


# --- properties --------------------------------------------------------------------------


@given(records=activity_records(), redemptions=redemption_records())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_properties(policy: civicscore.Policy, records: list[dict[str, object]],
                    redemptions: list[dict[str, object]]) -> None:
    as_of = dt.date(2025, 3, 1)
    r = policy.volunteer.evaluate(records, redemptions, as_of=as_of)

    # Every input record is either scored or rejected with a reason, in input order.
    assert [d.row for d in r.records] == list(range(1, len(records) + 1))
    assert [d.row for d in r.redemptions] == list(range(1, len(redemptions) + 1))
    for d in r.records:
        assert d.status in ("scored", "rejected")
        assert d.reasons, d
        if d.rejected:
            assert d.points == 0
        else:
            assert "RATE" in d.reason_codes

    # Points are never negative; counted hours never exceed service hours.
    assert all(d.points >= 0 and d.counted_hours <= d.service_hours for d in r.records)

    # Every cap holds in every window.
    day_h: dict[tuple, float] = defaultdict(float)
    day_p: dict[tuple, float] = defaultdict(float)
    mon_h: dict[tuple, float] = defaultdict(float)
    mon_p: dict[tuple, float] = defaultdict(float)
    for d in r.scored:
        assert d.date is not None
        day_h[d.volunteer_id, d.date] += d.counted_hours
        day_p[d.volunteer_id, d.date] += d.points
        mon_h[d.volunteer_id, d.date.year, d.date.month] += d.counted_hours
        mon_p[d.volunteer_id, d.date.year, d.date.month] += d.points
        assert d.counted_hours <= 6 or d.activity != "patrol"
    eps = 1e-9
    assert all(v <= 8 + eps for v in day_h.values())
    assert all(v <= 20 + eps for v in day_p.values())
    assert all(v <= 40 + eps for v in mon_h.values())
    assert all(v <= 90 + eps for v in mon_p.values())

    # Statements add up; expiry never takes more than was earned; no balance below zero.
    for s in r.statements.values():
        assert 0 <= s.expired <= s.earned + eps
        assert s.redeemed <= s.earned + eps
        assert s.balance >= -eps
        assert abs(s.earned - s.expired - s.redeemed - s.balance) < 1e-6
        earned = sum(d.points for d in r.scored if d.volunteer_id == s.volunteer_id)
        assert abs(s.earned - earned) < 1e-6
    for x in r.redemptions:
        assert x.status in ("applied", "rejected") and x.reasons

    # Scoring is deterministic and independent of input order for the scored totals.
    again = policy.volunteer.evaluate(list(reversed(records)), redemptions, as_of=as_of)
    if len({rr.get("record_id") for rr in records}) == len(records):
        assert {k: v.balance for k, v in again.statements.items()} == \
            {k: v.balance for k, v in r.statements.items()}


def test_parameter_not_in_force_rejects_only_that_record(load_text) -> None:
    policy = load_text("""
[policy]
id = "t"
version = "1"
[volunteer.caps]
hours_per_day = { 2025-06-01 = 4 }
[volunteer.activities.a]
points_per_hour = 1
""")
    r = policy.volunteer.evaluate([rec("early", "2025-05-01T09:00", "2025-05-01T10:00", "a"),
                                   rec("late", "2025-06-02T09:00", "2025-06-02T10:00", "a")],
                                  as_of=AS_OF)
    early, late = r.records
    assert early.reason_codes == ("PARAMETER_NOT_IN_FORCE",)
    assert "volunteer.caps.hours_per_day has no value in force on 2025-05-01" in \
        early.reasons[0].message
    assert late.points == 1


def test_expression_error_names_the_multiplier_and_uses_no_cap(load_text) -> None:
    policy = load_text("""
[policy]
id = "t"
version = "1"
[facts.activity]
people = { type = "int", default = 1 }
[volunteer.caps]
hours_per_day = 2
[volunteer.activities.a]
points_per_hour = 1
[[volunteer.multipliers]]
id = "per_head"
when = "10 / people > 1"
factor = 2
""")
    r = policy.volunteer.evaluate([rec("x", "2025-05-01T08:00", "2025-05-01T10:00", "a", people=0),
                                   rec("y", "2025-05-01T11:00", "2025-05-01T13:00", "a", people=20)],
                                  as_of=AS_OF)
    x, y = r.records
    assert x.reason_codes == ("EXPR_ERROR",) and "multiplier 'per_head'" in x.reasons[0].message
    assert y.counted_hours == 2  # the rejected record used none of the day's two hours


def test_point_rounding_is_explained(load_text) -> None:
    policy = load_text("""
[policy]
id = "t"
version = "1"
[volunteer]
points_decimals = 0
[volunteer.activities.a]
points_per_hour = 1.5
""")
    d = policy.volunteer.evaluate_record(rec("x", "2025-05-01T08:00", "2025-05-01T09:30", "a"),
                                         as_of=AS_OF)
    assert d.points == 2 and "ROUNDING_POINTS" in d.reason_codes
