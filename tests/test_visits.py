"""Care visit tiers: worked scenarios, load-time checks, the CLI, and properties."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.cli import main
from civicscore.expr.analysis import analyse_condition, domain_of
from civicscore.messages import problem_line
from civicscore.records import UnreadableRow
from civicscore.schemes.visits.scheme import add_months, parse_cadence, scheme_result_word

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES, problems_of

POLICY = """
[policy]
id = "visits-test"
version = "1"

[facts.household]
age = { type = "int", min = 0, max = 130, care_need = true, concept = "age", label = "年龄" }
alone = { type = "bool", default = false, care_need = true, concept = "lives_alone" }
illness = { type = "bool", default = false, care_need = true, concept = "end_of_life" }
mobility = { type = "enum", values = ["good", "limited", "bedbound"], default = "good", \
care_need = true, concept = "bedridden" }
agreed = { type = "bool", default = true, concept = "visit_consent" }
discharged_on = { type = "date", optional = true, care_need = true, concept = "hospital_discharge" }
fall_on = { type = "date", optional = true, care_need = true, concept = "fall" }
hygiene = { type = "int", min = 0, max = 12, default = 0, label = "卫生检查" }

[visits]
hit_policy = "first"
default_tier = "routine"
max_interval = "P3M"

[[visits.tiers]]
id = "intensive"
label = "重点关爱"
label_en = "Intensive care"
cadence = "P3D"
when = "(mobility == \\"bedbound\\" or (illness and alone)) and agreed"

[[visits.tiers]]
id = "weekly"
label = "每周探访"
label_en = "Weekly visits"
cadence = "weekly"
when = "age >= 80 and alone"

[[visits.tiers]]
id = "monthly"
cadence = "P1M"
when = "age >= 70 or illness"

[[visits.tiers]]
id = "routine"
label = "常规探访"
label_en = "Routine visits"
cadence = "quarterly"

[[visits.triggers]]
id = "discharge"
label = "出院后探访"
label_en = "Visit after a hospital discharge"
event = "discharged_on"
within_days = 1

[[visits.triggers]]
id = "fall"
event = "fall_on"
when = "age >= 75"
within_days = 3

[visits.capacity]
households_per_liaison = 3
visits_per_month = 10
"""

#: The same needs, decided by priority instead of order.
PRIORITY = POLICY.replace('hit_policy = "first"', 'hit_policy = "priority"').replace(
    'cadence = "P3D"\n', 'cadence = "P3D"\npriority = 10\n').replace(
    'cadence = "weekly"\n', 'cadence = "weekly"\npriority = 5\n').replace(
    'cadence = "P1M"\n', 'cadence = "P1M"\npriority = 7\n')

# Independent oracles for the policies above (not the compiled expressions).
CONDITIONS = {
    "intensive": lambda h: h["mobility"] == "bedbound" or (h["illness"] and h["alone"]),
    "weekly": lambda h: h["age"] >= 80 and h["alone"],
    "monthly": lambda h: h["age"] >= 70 or h["illness"],
}
PRIORITIES = {"intensive": 10, "weekly": 5, "monthly": 7}
CADENCES = {"intensive": (0, 3), "weekly": (0, 7), "monthly": (1, 0), "routine": (3, 0)}


def load(write_policy: Any, text: str, name: str = "policy.toml") -> civicscore.Policy:
    return civicscore.load(write_policy(text, name), today=dt.date(2025, 1, 1))


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> civicscore.Policy:
    path = tmp_path_factory.mktemp("visits") / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return civicscore.load(path, today=dt.date(2025, 1, 1))


@pytest.fixture(scope="module")
def priority_policy(tmp_path_factory: pytest.TempPathFactory) -> civicscore.Policy:
    path = tmp_path_factory.mktemp("visits") / "priority.toml"
    path.write_text(PRIORITY, encoding="utf-8")
    return civicscore.load(path, today=dt.date(2025, 1, 1))


def hh(hid: str, age: int = 50, last: str | None = "2025-12-01", lid: str | None = "L1",
       **facts: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"household_id": hid, "age": age, **facts}
    if last is not None:
        out["last_visit"] = last
    if lid is not None:
        out["liaison_id"] = lid
    return out


# --- scenarios ---------------------------------------------------------------------------


def test_first_matching_tier_cadence_and_overdue(policy: civicscore.Policy) -> None:
    d = policy.visits.evaluate(hh("H1", 85, "2025-12-20", alone="yes"), as_of=AS_OF)
    assert (d.status, d.tier, d.tier_label, d.tier_label_en) == \
        ("scored", "weekly", "每周探访", "Weekly visits")
    assert (d.cadence, d.next_due, d.overdue) == ("weekly", dt.date(2025, 12, 27), True)
    assert d.reason_codes == ("TIER_MATCHED", "CADENCE", "OVERDUE")
    matched = d.reasons[0]
    assert matched.rule == "visits.tiers.weekly"
    assert matched.facts == {"age": 85, "alone": True}
    assert "age >= 80 and alone" in matched.message and "age = 85, alone = true" in \
        matched.message
    text = d.explain()
    assert "每周探访 / Weekly visits" in text and "OVERDUE by 4 days" in text
    assert d.policy.id == "visits-test" and d.as_of == AS_OF and d.row == 1
    # An earlier tier wins under "first" even when a later one matches too.
    d = policy.visits.evaluate(hh("H2", 85, alone=True, mobility="bedbound"), as_of=AS_OF)
    assert d.tier == "intensive" and d.next_due == dt.date(2025, 12, 4)


def test_months_follow_the_calendar_and_clip_to_the_month_end(policy) -> None:
    d = policy.visits.evaluate(hh("H1", 72, "2025-01-31"), as_of=dt.date(2025, 2, 10))
    assert d.tier == "monthly" and d.next_due == dt.date(2025, 2, 28) and not d.overdue
    d = policy.visits.evaluate(hh("H1", 40, "2023-11-30"), as_of=dt.date(2024, 2, 10))
    assert d.tier == "routine" and d.next_due == dt.date(2024, 2, 29)  # leap year
    assert "every 3 months (quarterly)" in d.explain()


def test_default_tier_and_never_visited(policy: civicscore.Policy) -> None:
    d = policy.visits.evaluate(hh("H3", 45, last=None, lid=None), as_of=AS_OF)
    assert d.tier == "routine" and d.next_due == AS_OF and not d.overdue
    assert d.reason_codes == ("DEFAULT_TIER", "NEVER_VISITED")
    assert d.reasons[0].rule == "visits.default_tier"
    assert "checked intensive, weekly, monthly" in d.reasons[0].message
    assert d.reasons[0].facts["age"] == 45
    assert "never visited" in d.explain() and d.last_visit is None


def test_triggers_bring_the_visit_forward(policy: civicscore.Policy) -> None:
    d = policy.visits.evaluate(hh("H4", discharged_on="2025-12-20"), as_of=AS_OF)
    assert d.triggers == ("discharge",) and d.next_due == dt.date(2025, 12, 21) and d.overdue
    trig = next(r for r in d.reasons if r.code == "TRIGGER")
    assert trig.rule == "visits.triggers.discharge" and "2025-12-20" in trig.message
    assert "by 2025-12-21" in trig.message and "within 1 day," in trig.message
    overdue = next(r for r in d.reasons if r.code == "OVERDUE")
    assert overdue.rule == "visits.triggers.discharge"  # the rule that set the date
    # An event before the last visit, after the as-of date, or never: nothing fired.
    for when in ("2025-11-30", "2025-12-01", "2026-01-02", None):
        d = policy.visits.evaluate(hh("H5", discharged_on=when), as_of=AS_OF)
        assert d.triggers == () and d.next_due == dt.date(2026, 3, 1), when
    # A trigger's own condition: a fall counts from age 75 only.
    young = policy.visits.evaluate(hh("H6", 60, fall_on="2025-12-30"), as_of=AS_OF)
    old = policy.visits.evaluate(hh("H7", 76, "2025-12-15", fall_on="2025-12-30"), as_of=AS_OF)
    assert young.triggers == () and old.triggers == ("fall",)
    assert old.next_due == dt.date(2026, 1, 2) and not old.overdue
    # A trigger never pushes a visit later than the cadence would.
    d = policy.visits.evaluate(hh("H8", 85, "2025-12-28", alone=True, fall_on="2025-12-30"),
                               as_of=AS_OF)
    assert d.triggers == ("fall",) and d.next_due == dt.date(2026, 1, 2)
    # Never visited: a trigger still applies, and may make the household overdue.
    d = policy.visits.evaluate(hh("H9", last=None, discharged_on="2025-12-01"), as_of=AS_OF)
    assert d.reason_codes == ("DEFAULT_TIER", "NEVER_VISITED", "TRIGGER", "OVERDUE")
    assert d.next_due == dt.date(2025, 12, 2)


def test_priority_hit_policy(priority_policy: civicscore.Policy) -> None:
    v = priority_policy.visits
    # weekly (5) and monthly (7) match: monthly has the higher priority.
    d = v.evaluate(hh("H1", 85, alone=True), as_of=AS_OF)
    assert d.tier == "monthly"
    assert "highest priority among the matching tiers: weekly (5), monthly (7)" in \
        d.reasons[0].message
    d = v.evaluate(hh("H2", 85, alone=True, illness=True), as_of=AS_OF)
    assert d.tier == "intensive"
    assert v.evaluate(hh("H3", 30), as_of=AS_OF).tier == "routine"


def test_unique_hit_policy_rejects_overlaps_at_evaluation(write_policy) -> None:
    text = POLICY.replace('hit_policy = "first"', 'hit_policy = "unique"')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overlapping tiers are not a load-time problem
        pol = load(write_policy, text)
    r = pol.visits.evaluate_many([hh("A", 85, alone=True), hh("B", 72), hh("C", 30)],
                                 as_of=AS_OF)
    a, b, c = r.decisions
    assert a.status == "rejected" and a.reason_codes == ("UNIQUE_VIOLATION",)
    assert "weekly (age >= 80 and alone)" in a.reasons[0].message
    assert "monthly (age >= 70 or illness)" in a.reasons[0].message
    assert "2 tiers match" in a.reasons[0].message
    assert (b.tier, c.tier) == ("monthly", "routine")
    assert r.rejected_rows()[0]["reason_codes"] == ["UNIQUE_VIOLATION"]


def test_caseload_and_capacity_warnings(policy: civicscore.Policy) -> None:
    r = policy.visits.evaluate_many([
        hh("A", 85, alone=True, last="2025-12-30"),     # weekly: 30.44/7 visits a month
        hh("B", mobility="bedbound", last="2025-12-30"),  # P3D: 30.44/3
        hh("C", 72, last="2025-12-30"),                 # monthly: 1
        hh("D", 40, last="2025-12-30"),                 # quarterly: 1/3
        hh("E", 40, lid="L2", last="2025-09-01"),
        hh("F", 40, lid=None),
        hh("G", age="old"),                             # rejected: not in any caseload
    ], as_of=AS_OF)
    assert list(r.caseload) == ["L1", "L2", "(unassigned)"]
    l1 = r.caseload["L1"]
    assert (l1.households, l1.visits_per_month, l1.overdue) == (4, 15.8, 0)
    assert [w.code for w in l1.warnings] == ["CAPACITY_EXCEEDED", "CAPACITY_EXCEEDED"]
    assert "liaison L1: 4 households, more than the 3" in l1.warnings[0].message
    assert "liaison L1: 15.8 visits owed per month, more than the 10" in l1.warnings[1].message
    assert r.caseload["L2"].overdue == 1 and not r.caseload["L2"].warnings
    assert r.caseload["(unassigned)"].households == 1
    assert sum(c.households for c in r.caseload.values()) == len(r.scored) == 6
    assert "; warnings: liaison L1: 4 households" in r.summary()
    assert "6 of 7 households scored, 1 rejected" in r.summary()
    rows = list(r.detail_rows())
    assert rows[0]["liaison_id"] == "L1" and rows[0]["warning_codes"] == ["CAPACITY_EXCEEDED"] * 2
    assert all(row["policy_id"] == "visits-test" and row["as_of"] == AS_OF for row in rows)
    out = list(r.output_rows())
    assert len(out) == 7 and out[0]["tier"] == "weekly" and out[6]["status"] == "rejected"
    title, columns, table = r.table()
    assert title.startswith("Care visits as of 2025-12-31")
    assert columns == ["household", "tier", "cadence", "last visit", "next due", "overdue"]
    assert table[0] == ["A", "每周探访", "weekly", "2025-12-30", "2026-01-06", ""]
    assert table[4][-1] == "OVERDUE" and table[6][1].startswith("rejected")


def test_bad_records_are_rejected_with_every_reason(policy: civicscore.Policy) -> None:
    r = policy.visits.evaluate_many([
        {"liaison_id": "L1", "age": 50},
        {"household_id": "X", "age": 200, "last_visit": "2025/12/32", "alone": "maybe"},
        hh("Y", last="2026-01-05"),
        hh("Z", hygiene=13),              # a fact only civility reads: still one household
        hh("Z"),
        UnreadableRow(6, "row 6 (line 7) has 3 cells, the header has 5"),
        "junk",
        hh("W", 50, mobility="bedbund"),
        {"household_id": True, "age": 50},
    ], as_of=AS_OF)
    d = r.decisions
    assert [x.row for x in d] == list(range(1, 10))
    assert all(x.status == "rejected" for x in d[:2]) and d[4].status == "rejected"
    assert d[0].reason_codes == ("MISSING_FIELD",) and d[0].household_id == "row 1"
    assert "field 'household_id' is required" in d[0].reasons[0].message
    assert set(d[1].reason_codes) == {"INVALID_DATE", "OUT_OF_RANGE", "INVALID_FIELD"}
    assert any("record X: field 'age': 200 is above the maximum 130" in m.message
               for m in d[1].reasons)
    assert d[2].reason_codes == ("AFTER_AS_OF",)
    assert d[3].reason_codes == ("OUT_OF_RANGE",) and "hygiene" in d[3].reasons[0].message
    assert d[4].reason_codes == ("DUPLICATE_RECORD",) and "row 4" in d[4].reasons[0].message
    assert d[5].reason_codes == d[6].reason_codes == ("UNREADABLE_ROW",)
    assert d[7].reason_codes == ("INVALID_VALUE",) and "did you mean 'bedbound'?" in \
        d[7].reasons[0].message
    assert d[8].reason_codes == ("INVALID_FIELD",)
    assert all(x.next_due is None and x.tier == "" for x in d)
    assert len(r.rejected_rows()) == 9 and not r.caseload
    assert "was not scored" in d[1].explain() and "maybe" in d[1].explain()


def test_expression_error_rejects_the_record(write_policy) -> None:
    text = POLICY.replace('when = "age >= 70 or illness"', 'when = "100 / age > 2"')
    pol = load(write_policy, text)
    r = pol.visits.evaluate_many([hh("A", 0), hh("B", 30)], as_of=AS_OF)
    assert r.decisions[0].reason_codes == ("EXPR_ERROR",)
    assert "'100 / age > 2' could not be computed" in r.decisions[0].reasons[0].message
    assert r.decisions[1].tier == "monthly"


def test_policy_out_of_effect_is_refused(write_policy) -> None:
    text = POLICY.replace('version = "1"', 'version = "1"\neffective = { from = 2026-01-01 }')
    pol = load(write_policy, text)
    with pytest.raises(civicscore.CivicScoreError, match="in effect from 2026-01-01"):
        pol.visits.evaluate(hh("A"), as_of=AS_OF)


def test_baseline_section_works() -> None:
    pol = civicscore.load("baseline", today=dt.date(2025, 1, 1))
    r = pol.visits.evaluate_many([
        {"household_id": "1", "age_oldest": "84", "lives_alone": "是", "last_visit": "2025-12-28"},
        {"household_id": "2", "age_oldest": 66, "dementia": True, "last_visit": "2025-11-30"},
        {"household_id": "3", "age_oldest": 40, "bereaved_on": "2025-12-30",
         "last_visit": "2025-12-01", "law_violations": 2},
    ], as_of=AS_OF)
    assert [d.tier for d in r.decisions] == ["weekly_care", "monthly_care", "routine"]
    assert [d.next_due for d in r.decisions] == [dt.date(2026, 1, 4), dt.date(2025, 12, 30),
                                                 dt.date(2025, 12, 31)]
    assert r.decisions[2].triggers == ("bereavement",)
    assert pol.warnings == ()


def test_example_district_overrides_the_routine_cadence() -> None:
    pol = civicscore.load(EXAMPLE_POLICY, today=dt.date(2025, 1, 1))
    d = pol.visits.evaluate({"household_id": "1", "age_oldest": 40,
                             "last_visit": "2025-10-31"}, as_of=AS_OF)
    assert (d.tier, d.cadence, d.next_due) == ("routine", "bimonthly", dt.date(2025, 12, 31))
    assert pol.visits.rules.capacity.households_per_liaison == 300


# --- load-time checks --------------------------------------------------------------------

MISTAKES = """
[policy]
id = "bad"
version = "1"

[facts.household]
age = { type = "int", min = 0, max = 130, care_need = true, concept = "age" }
civility_stars = { type = "int", default = 0, care_need = true }
jf = { type = "decimal", default = 0, care_need = true, label = "积分余额" }
hygiene = { type = "int", default = 0, label = "卫生检查" }
seen_on = { type = "date", optional = true, care_need = true, concept = "fall" }

[visits]
default_tier = "routin"
max_interval = "P2M"

[[visits.tiers]]
id = "weekly"
cadence = "P0D"
when = "age >= 80 and hygiene > 3"

[[visits.tiers]]
id = "weekly"
cadence = "P1M"
priority = 3

[[visits.tiers]]
id = "routine"
cadence = "quarterly"
when = "True"

[[visits.triggers]]
id = "t"
event = "age"
within_days = 1

[[visits.triggers]]
id = "t"
event = "seen_on"
when = "seen_on"
within_days = 1
"""


def test_every_mistake_is_located(write_policy) -> None:
    path = write_policy(MISTAKES)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    got = [g.removeprefix(f"{path}:") for g in problems_of(e)]
    assert len(got) == 12, "\n".join(got)
    assert got[0].startswith("7:1: fact 'civility_stars' is marked care_need = true but "
                             "denotes the result of another scheme ('civility'): one scheme's "
                             "result must not change how often a household is visited")
    assert got[1].startswith("8:1: fact 'jf' is marked care_need = true but denotes the "
                             "result of another scheme ('积分')")
    assert got[2].startswith("13:16: default tier 'routin' is not one of the tiers")
    assert "did you mean 'routine'?" in got[2]
    assert got[3].startswith("18:11: cadence 'P0D' is zero")
    assert got[4].startswith("19:23: visit tier 'weekly' may not read 'hygiene': visit "
                             "tiers read care needs only, and fact 'hygiene' (卫生检查) is "
                             "not marked care_need = true")
    assert got[5].startswith("21:1: tier 'weekly' needs a 'when' condition")
    assert got[6].startswith("22:6: tier id 'weekly' is used twice")
    assert got[7].startswith("24:1: priority is only used with hit_policy = 'priority'")
    assert got[8].startswith("28:11: tier 'routine' visits every 3 months (quarterly, about "
                             "91.3 days), longer than max_interval 'P2M' (every 2 months, "
                             "about 60.9 days)")
    assert got[9].startswith("33:10: visit trigger 't' may not read 'age': fact 'age' carries "
                             "the care need 'age', not a care event")
    assert got[10].startswith("37:6: trigger id 't' is used twice")
    assert got[11].startswith("39:9: visit trigger 't' must give bool, this gives date")


def test_default_tier_with_a_condition(write_policy) -> None:
    text = POLICY.replace('cadence = "quarterly"\n', 'cadence = "quarterly"\nwhen = "alone"\n')
    path = write_policy(text)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    got = [g.removeprefix(f"{path}:") for g in problems_of(e)]
    assert got == ["44:1: the default tier 'routine' cannot have a condition: it applies when "
                   "no other tier does [visits.tiers[3].when] (remove 'when', or make another "
                   "tier the default_tier)"]


PRIORITY_MISTAKES = """
[policy]
id = "bad"
version = "1"

[facts.household]
age = { type = "int", min = 0, max = 130, care_need = true, concept = "age" }

[visits]
hit_policy = "priority"
default_tier = "routine"

[[visits.tiers]]
id = "a"
cadence = "weekly"
when = "age >= 90"
priority = 2

[[visits.tiers]]
id = "b"
cadence = "monthly"
when = "age >= 80"
priority = 2

[[visits.tiers]]
id = "c"
cadence = "fortnightly"
when = "age >= 85"

[[visits.tiers]]
id = "routine"
cadence = "P1Y1D"
"""


def test_priority_mistakes(write_policy) -> None:
    path = write_policy(PRIORITY_MISTAKES)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    got = [g.removeprefix(f"{path}:") for g in problems_of(e)]
    assert got == [
        "22:12: tiers 'a' and 'b' have the same priority 2 [visits.tiers[1].priority] "
        "(give each tier its own priority)",
        "24:1: tier 'c' needs a priority (hit_policy = 'priority') [visits.tiers[2]] "
        "(add priority = <number>; the highest matching priority wins)",
    ]


@pytest.mark.parametrize("cadence, months, days", [
    ("daily", 0, 1), ("weekly", 0, 7), ("fortnightly", 0, 14), ("monthly", 1, 0),
    ("bimonthly", 2, 0), ("quarterly", 3, 0), ("half-yearly", 6, 0), ("yearly", 12, 0),
    ("P1Y2M3W4D", 14, 25), ("P10D", 0, 10), ("P2W", 0, 14),
])
def test_cadences(cadence: str, months: int, days: int) -> None:
    c = parse_cadence(cadence)
    assert (c.months, c.days, c.text) == (months, days, cadence)


@pytest.mark.parametrize("cadence, message", [
    ("P0D", "is zero"), ("P0Y0M", "is zero"), ("P1D1M", "in the order"),
    ("P1M1M", "in the order"), ("P999999D", "too large"), ("P", "is not a period"),
])
def test_bad_cadences(cadence: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cadence(cadence)


def test_add_months() -> None:
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 11, 30), 3) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2025, 12, 15), 12) == dt.date(2026, 12, 15)
    assert parse_cadence("P1M1D").after(dt.date(2025, 1, 31)) == dt.date(2025, 3, 1)
    assert parse_cadence("yearly").after(dt.date(9999, 6, 1)) == dt.date.max


@pytest.mark.parametrize("name, label, label_en, word", [
    ("star_level", "", "", "star level"), ("civility_stars", "", "", "civility"), ("my_stars", "", "", "stars"),
    ("pointsBalance", "", "", "balance"), ("pts", "", "Points", "points"), ("cs", "", "Credit score", "credit score"),
    ("x", "信用等级", "", "信用"), ("x", "十星级文明户", "", "星级"), ("x", "评分", "", "评分"),
    ("x", "考核等次", "", "等次"), ("honour", "", "Civilised household title", "civilised"),
])
def test_scheme_result_words(name: str, label: str, label_en: str, word: str) -> None:
    assert scheme_result_word(name, label, label_en) == word


@pytest.mark.parametrize("name", ["age_oldest", "lives_alone", "disability", "appointments",
                                  "starving", "pointed", "disappointed", "entitled", "upgrade",
                                  "discharged_on", "open_service_requests"])
def test_scheme_result_words_leave_care_needs_alone(name: str) -> None:
    assert scheme_result_word(name, "独居", "Lives alone") == ""


def test_non_care_fact_of_the_baseline_is_refused(write_policy) -> None:
    path = write_policy("""
        [policy]
        id = "child"
        version = "1"
        extends = "baseline"

        [[visits.triggers]]
        id = "disputes"
        event = "as_of"
        when = "neighbour_disputes_unresolved > 0"
        within_days = 7
    """)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    as_of, got = problems_of(e)  # as_of is no care event either (docs/responsible-use.md)
    assert as_of.startswith(f"{path}:8:10: visit trigger 'disputes' may not read 'as_of': "
                            f"'as_of' is not the date of a care event")
    assert got.startswith(f"{path}:9:9: visit trigger 'disputes' may not read "
                          f"'neighbour_disputes_unresolved': visit tiers read care needs only")


# --- shadowed and impossible tiers -------------------------------------------------------

SHADOWS = """
[policy]
id = "shadows"
version = "1"

[facts.household]
age = { type = "int", min = 0, max = 130, care_need = true, concept = "age" }
alone = { type = "bool", default = false, care_need = true, concept = "lives_alone" }
mobility = { type = "enum", values = ["good", "limited", "bedbound"], default = "good", \
care_need = true, concept = "bedridden" }
income = { type = "decimal", min = 0, default = 0, care_need = true, concept = "economic_hardship" }
seen_on = { type = "date", optional = true, care_need = true, concept = "fall" }

[visits]
hit_policy = "first"
default_tier = "routine"

[[visits.tiers]]
id = "a"
cadence = "weekly"
when = "age >= 80"

[[visits.tiers]]
id = "b"
cadence = "weekly"
when = "age >= 85 and alone"

[[visits.tiers]]
id = "c"
cadence = "weekly"
when = "70 <= age < 80"

[[visits.tiers]]
id = "d"
cadence = "weekly"
when = "age >= 90 and age < 85"

[[visits.tiers]]
id = "e"
cadence = "weekly"
when = "mobility in [\\"limited\\", \\"bedbound\\"]"

[[visits.tiers]]
id = "f"
cadence = "weekly"
when = "mobility == \\"bedbound\\" and not alone"

[[visits.tiers]]
id = "g"
cadence = "weekly"
when = "age >= 85 or alone"

[[visits.tiers]]
id = "h"
cadence = "weekly"
when = "age > 79.5 and income < 100"

[[visits.tiers]]
id = "i"
cadence = "weekly"
when = "income < 1000 and seen_on > date(\\"2025-01-01\\")"

[[visits.tiers]]
id = "j"
cadence = "weekly"
when = "income <= 500 and seen_on >= date(\\"2025-06-01\\") and not (age >= 70)"

[[visits.tiers]]
id = "k"
cadence = "weekly"
when = "days_between(seen_on, as_of) < 30 and age >= 90"

[[visits.tiers]]
id = "l"
cadence = "weekly"
when = "age >= 82 or mobility == \\"limited\\""

[[visits.tiers]]
id = "m"
cadence = "weekly"
when = "(age >= 75 or age < 10) and alone"

[[visits.tiers]]
id = "n"
cadence = "weekly"
when = "age < 5 or mobility == \\"good\\" and not alone"

[[visits.tiers]]
id = "o"
cadence = "weekly"
when = "(age < 3 or age > 125) and 4 < age < 100"

[[visits.tiers]]
id = "routine"
cadence = "monthly"
"""


def test_shadowed_and_impossible_tiers_warn(write_policy) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pol = load(write_policy, SHADOWS)
    got = [str(w) for w in pol.warnings]
    assert len(got) == 8, "\n".join(got)
    path = got[0].split(":")[0]
    assert ":24:8: warning: visit tier 'b' can never match: every household it matches " \
           "(age >= 85 and alone) is already taken by the earlier tier 'a' (age >= 80, " \
           f"at {path}:19:8), and hit_policy = 'first'" in got[0]
    assert "(move 'b' before 'a', or narrow 'a')" in got[0]
    assert ":34:8: warning: visit tier 'd' can never match: its condition " \
           "'age >= 90 and age < 85' cannot hold for any household (no value of age " \
           "satisfies it)" in got[1]
    assert ":44:8: warning: visit tier 'f' can never match" in got[2] and \
        "earlier tier 'e'" in got[2]
    assert ":54:8:" in got[3] and "tier 'h'" in got[3] and "earlier tier 'a'" in got[3]
    assert ":64:8:" in got[4] and "tier 'j'" in got[4] and "earlier tier 'i'" in got[4]
    # or: two earlier tiers take its households together, or one tier with an or does
    assert ":74:8: warning: visit tier 'l' can never match: every household it matches " \
           "(age >= 82 or mobility == \"limited\") is already taken by the earlier tiers " \
           f"'a' (age >= 80, at {path}:19:8) and 'e' (mobility in [\"limited\", " \
           f"\"bedbound\"], at {path}:39:8) together, and hit_policy = 'first'" in got[5]
    assert "(move 'l' before 'a', or narrow those tiers)" in got[5]
    assert ":79:8:" in got[6] and "tier 'm'" in got[6] and "earlier tier 'g'" in got[6]
    # n has households no earlier tier takes (under 5, or in good health and not alone)
    assert ":89:8:" in got[7] and "tier 'o'" in got[7] and \
        "cannot hold for any household (none of its alternatives can hold)" in got[7]
    assert len([w for w in caught if issubclass(w.category, civicscore.PolicyWarning)]) == 8
    # in Chinese, the same facts in the officer's words
    zh = [problem_line(w, "zh") for w in pol.warnings]
    assert f"{path} 第 74 行第 8 列：提示：走访档次 'l' 永远不会被选中：它匹配的每一户" \
           "（age >= 82 or mobility == \"limited\"）都已被前面的档次 'a'（age >= 80，位于 " \
           f"{path} 第 19 行第 8 列）、'e'（mobility in [\"limited\", \"bedbound\"]，位于 " \
           f"{path} 第 39 行第 8 列）合起来选中（hit_policy = 'first'）" in zh[5], zh[5]
    assert "（建议：把 'l' 移到 'a' 之前，或收窄这些档次的条件）" in zh[5]
    assert "永远不会被选中：它的条件" in zh[1] and "age 没有一个值满足它" in zh[1]
    # A tier that would be shadowed is still a valid tier: the policy loads and works.
    assert pol.visits.evaluate(hh("X", 86, alone=True), as_of=AS_OF).tier == "a"


def test_no_shadow_warnings_under_priority_or_unique(write_policy) -> None:
    text = SHADOWS.replace('hit_policy = "first"', 'hit_policy = "unique"')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pol = load(write_policy, text)
    # Only the tier that can never hold is reported; overlaps are for evaluation time.
    assert [w.message.split(":")[0] for w in pol.warnings] == [
        "visit tier 'd' can never match", "visit tier 'o' can never match"]


def test_condition_analysis(policy: civicscore.Policy) -> None:
    from civicscore.expr import Fact, Scope, Type, compile_expression
    from civicscore.policy.model import FactSpec

    specs = {"age": FactSpec(type="int", min=0, max=130),
             "kind": FactSpec(type="string"), "x": FactSpec(type="decimal")}
    kinds = {n: ({"int": Type.INT, "string": Type.STRING, "decimal": Type.DECIMAL}[s.type], s)
             for n, s in specs.items()}
    scope = Scope({n: Fact(k) for n, (k, _) in kinds.items()}, policy.functions)

    def sets(text: str) -> Any:
        return analyse_condition(compile_expression(text, scope, Type.BOOL).node, kinds)

    assert sets("age >= 10 and age < 13")["age"].finite == {10, 11, 12}
    assert sets("not (age < 129)")["age"].finite == {129, 130}
    assert sets("age != 5 and 3 < age <= 6")["age"].finite == {4, 6}
    assert sets("x > 1 and x < 1").get("x").empty
    assert not sets("x >= 1 and x <= 1").get("x").empty
    assert sets("not (kind == \"a\" or kind == \"b\")")["kind"].excluded == {"a", "b"}
    assert sets("kind not in [\"a\"] and kind == \"a\"")["kind"].empty
    assert sets("age >= 1 or age < 0") is None
    assert sets("age + 1 > 3") is None
    assert sets("False")[""].empty and sets("True") == {}
    inner = sets("x > 2 and x < 3")["x"]
    assert inner.within(sets("x >= 2")["x"]) and not sets("x >= 2")["x"].within(inner)
    assert not sets("kind != \"a\"")["kind"].within(sets("kind == \"b\"")["kind"])


# --- command line --------------------------------------------------------------------------


def run(*args: Any) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output + result.stderr
    return result


def test_cli_score_the_example(tmp_path: Path) -> None:
    example = EXAMPLES / "visits-households.csv"
    caseload = tmp_path / "caseload.csv"
    rejects = tmp_path / "rejects.jsonl"
    r = run("score", EXAMPLE_POLICY, "--scheme", "visits", example, "--as-of", "2025-12-31",
            "--details", caseload, "--rejects", rejects)
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    n_input = len(example.read_text(encoding="utf-8").strip().splitlines()) - 1
    assert len(rows) == n_input
    scored = [x for x in rows if x["status"] == "scored"]
    rejected = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert len(scored) + len(rejected) == n_input and len(rejected) >= 3
    assert all(x["policy_id"] == "example-district" and x["as_of"] == "2025-12-31"
               for x in rows)
    by_id = {x["household_id"]: x for x in scored}
    assert by_id["H001"]["tier"] == "weekly_care" and by_id["H001"]["overdue"] is True
    assert by_id["H006"]["triggers"] == ["hospital_discharge"]
    assert by_id["H007"]["cadence"] == "bimonthly" and by_id["H007"]["next_due"] == "2025-12-31"
    assert caseload.read_bytes().startswith(b"\xef\xbb\xbf")  # the mark Excel needs
    lines = caseload.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("liaison_id,households,visits_per_month,trigger_visits,overdue")
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == len(scored)
    assert f"{len(scored)} of {n_input} households scored" in r.stderr


def test_cli_table_and_explain() -> None:
    r = run("score", EXAMPLE_POLICY, "--scheme", "visits", EXAMPLES / "visits-households.csv",
            "--as-of", "2025-12-31", "--format", "table")
    assert r.exit_code == 0 and "next due" in r.stdout and "OVERDUE" in r.stdout
    record = json.dumps({"household_id": "H9", "age_oldest": 82, "lives_alone": True,
                         "last_visit": "2025-12-20", "liaison_id": "G01"})
    r = run("explain", EXAMPLE_POLICY, "--scheme", "visits", "--record", record,
            "--as-of", "2025-12-31")
    assert r.exit_code == 0, r.stderr
    assert "Household H9 (liaison G01): tier 每周探访 / Weekly visits [weekly_care]" in r.stdout
    assert "Next visit due on 2025-12-27: OVERDUE by 4 days" in r.stdout
    assert "age_oldest = 82, lives_alone = true" in r.stdout


# --- properties ------------------------------------------------------------------------------

PROP_AS_OF = dt.date(2025, 6, 30)
_dates = st.dates(dt.date(2024, 1, 1), dt.date(2025, 8, 31))


@st.composite
def households(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Households with random care needs, a few of them malformed or duplicated."""
    n = draw(st.integers(0, 25))
    out: list[dict[str, Any]] = []
    for i in range(n):
        h: dict[str, Any] = {
            "household_id": draw(st.sampled_from([f"H{i}", f"H{i}", f"H{i}", "H0"])),
            "age": draw(st.integers(0, 130) | st.sampled_from(["", "old", 131, "85"])),
            "alone": draw(st.booleans() | st.sampled_from(["yes", "否"])),
            "illness": draw(st.booleans()),
            "mobility": draw(st.sampled_from(["good", "limited", "bedbound"])),
        }
        for key in ("discharged_on", "fall_on", "last_visit"):
            if draw(st.booleans()):
                h[key] = draw(_dates).isoformat()
        lid = draw(st.sampled_from(["L1", "L2", "", None]))
        if lid is not None:
            h["liaison_id"] = lid
        out.append(h)
    return out


def _add(day: dt.date, months: int, days: int) -> dt.date:
    m = day.month - 1 + months
    y, mo = day.year + m // 12, m % 12 + 1
    return dt.date(y, mo, min(day.day, calendar.monthrange(y, mo)[1])) + dt.timedelta(days)


def _typed(h: dict[str, Any]) -> dict[str, Any]:
    return {"age": int(h["age"]), "alone": h["alone"] in (True, "yes"),
            "illness": h["illness"], "mobility": h["mobility"]}


def _check_common(scheme: Any, r: Any, homes: list[dict[str, Any]]) -> None:
    assert len(r.decisions) == len(homes)
    assert [d.row for d in r.decisions] == list(range(1, len(homes) + 1))
    for d, h in zip(r.decisions, homes, strict=True):
        assert d.status in ("scored", "rejected") and d.reasons
        if d.rejected:
            assert d.next_due is None and d.tier == ""
            continue
        assert d.tier in CADENCES
        months, days = CADENCES[d.tier]
        if d.last_visit is None:
            assert d.next_due <= PROP_AS_OF
        else:
            assert d.next_due <= _add(d.last_visit, months, days)
        assert d.overdue == (d.next_due < PROP_AS_OF)
        # A fired trigger never makes the next due date later: drop the events and compare.
        if d.triggers:
            calm = {k: v for k, v in h.items() if k not in ("discharged_on", "fall_on")}
            plain = scheme.evaluate(calm, as_of=PROP_AS_OF)
            assert plain.triggers == () and d.next_due <= plain.next_due
    assert sum(c.households for c in r.caseload.values()) == len(r.scored)
    assert sum(c.overdue for c in r.caseload.values()) == len(r.overdue)
    counted = Counter(d.liaison_id or "(unassigned)" for d in r.scored)
    assert {k: c.households for k, c in r.caseload.items()} == dict(counted)


@given(homes=households())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_properties_first(policy: civicscore.Policy, homes: list[dict[str, Any]]) -> None:
    r = policy.visits.evaluate_many(homes, as_of=PROP_AS_OF)
    _check_common(policy.visits, r, homes)
    for d, h in zip(r.decisions, homes, strict=True):
        if d.rejected:
            continue
        facts = _typed(h)
        matching = [t for t, cond in CONDITIONS.items() if cond(facts)]
        # Exactly one tier: the first matching one, and the default exactly when none match.
        assert d.tier == (matching[0] if matching else "routine")
        assert (d.tier == "routine") == (not matching)


@given(homes=households())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_properties_priority(priority_policy: civicscore.Policy,
                             homes: list[dict[str, Any]]) -> None:
    r = priority_policy.visits.evaluate_many(homes, as_of=PROP_AS_OF)
    _check_common(priority_policy.visits, r, homes)
    for d, h in zip(r.decisions, homes, strict=True):
        if d.rejected:
            continue
        matching = [t for t, cond in CONDITIONS.items() if cond(_typed(h))]
        if matching:
            assert PRIORITIES[d.tier] == max(PRIORITIES[t] for t in matching)
        else:
            assert d.tier == "routine"



_OPS = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
_ATOM = st.one_of(
    st.builds("age {} {}".format, _OPS, st.integers(-5, 135) | st.sampled_from([79.5, 0.5])),
    st.builds("{} {} age".format, st.integers(-5, 135), _OPS),
    st.sampled_from(["alone", "not alone", 'mobility == "good"', 'mobility != "limited"',
                     'mobility in ["good", "bedbound"]', 'mobility not in ["bedbound"]',
                     "not (age < 40)", "30 <= age < 60", "True"]),
)

@given(a=st.lists(_ATOM, min_size=1, max_size=3), b=st.lists(_ATOM, min_size=1, max_size=3))
@settings(max_examples=150, deadline=None)
def test_shadow_analysis_agrees_with_brute_force(policy: civicscore.Policy, a: list[str],
                                                 b: list[str]) -> None:
    """For int, bool and enum facts the analysis is exact: check it against every household."""
    from civicscore.expr import Fact, Scope, Type, compile_expression

    specs = policy.model.facts["household"]
    kinds = {n: ({"int": Type.INT, "bool": Type.BOOL, "enum": Type.STRING}[specs[n].type],
                 specs[n]) for n in ("age", "alone", "mobility")}
    scope = Scope({"age": Fact(Type.INT), "alone": Fact(Type.BOOL),
                   "mobility": Fact(Type.STRING, ("good", "limited", "bedbound"))},
                  policy.functions)
    ea, eb = (compile_expression(" and ".join(x), scope, Type.BOOL) for x in (a, b))
    everyone = [{"age": n, "alone": al, "mobility": m} for n in range(131)
                for al in (False, True) for m in ("good", "limited", "bedbound")]
    in_a = {i for i, h in enumerate(everyone) if ea(h)}
    in_b = {i for i, h in enumerate(everyone) if eb(h)}
    sa, sb = analyse_condition(ea.node, kinds), analyse_condition(eb.node, kinds)
    assert sa is not None and sb is not None
    assert any(s.empty for s in sb.values()) == (not in_b)
    if in_b and not any(s.empty for s in sa.values()):
        shadowed = all(sb.get(n, domain_of(n, kinds)).within(s) for n, s in sa.items())
        assert shadowed == (in_b <= in_a), (a, b)



DISTRICT_AFTER_BASELINE = """
[policy]
id = "district"
version = "1"
extends = "baseline"
effective = { from = 2025-01-01 }

[[visits.tiers]]
id = "very_old_alone"
cadence = "P10D"
when = "age_oldest >= 85 and lives_alone or life_threatening_illness and age_oldest >= 90"
"""


def test_check_names_a_district_tier_the_baselines_weekly_tier_takes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13: a district's new tier placed after the baseline's never fires (the
    weekly tier, an or, takes those households first), and check says so: where the
    dead tier is, and where the tier that takes its households is (in the baseline)."""
    policy = tmp_path / "district.toml"
    policy.write_text(DISTRICT_AFTER_BASELINE.lstrip("\n"), encoding="utf-8")
    en = run("check", policy)  # CIVICSCORE_LANG=en (conftest)
    assert en.exit_code == 0, en.stderr
    assert f"{policy}:10:8: warning: visit tier 'very_old_alone' can never match: every " \
           "household it matches (age_oldest >= 85 and lives_alone or " \
           "life_threatening_illness and age_oldest >= 90) is already taken by the earlier " \
           "tier 'weekly_care' ((age_oldest >= 80 and lives_alone) or " \
           "life_threatening_illness, at <civicscore>/baseline:255:8)" in en.stderr, en.stderr
    monkeypatch.delenv("CIVICSCORE_LANG")
    zh = run("check", policy)  # the baseline's locale, zh-CN
    assert f"{policy} 第 10 行第 8 列：提示：走访档次 'very_old_alone' 永远不会被选中：" \
           in zh.stderr and "位于 <civicscore>/baseline 第 255 行第 8 列" in zh.stderr
    assert "（建议：把 'very_old_alone' 移到 'weekly_care' 之前，或收窄 'weekly_care' " \
           "的条件）" in zh.stderr
