"""The policy loads, every [[case]] in it passes (pytest also collects them directly),
and it encodes Chengdu's own facts (see the README and [[policy.references]])."""

from __future__ import annotations

import datetime as dt

import civicscore_chengdu
import pytest

import civicscore
from civicscore.cases import run_cases

AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def policy():  # type: ignore[no-untyped-def]
    engine = civicscore.Engine(plugins=[civicscore_chengdu], entry_points=False)
    return engine.load("chengdu")


def test_policy_loads_and_cases_pass() -> None:
    engine = civicscore.Engine(plugins=[civicscore_chengdu], entry_points=False)
    policy = engine.load("chengdu")
    assert policy.id == "chengdu"
    results, _coverage = run_cases(policy)
    assert results, "the policy has no [[case]] tables"
    failed = [(r.name, r.mismatches) for r in results if not r.passed]
    assert not failed, failed


# --- the policy itself ---------------------------------------------------------------


def test_metadata(policy) -> None:  # type: ignore[no-untyped-def]
    meta = policy.model.policy
    assert meta.version == "2025.1"
    assert meta.extends == "baseline"
    assert "成都" in meta.title and "Chengdu" in meta.title
    assert meta.effective is not None and meta.effective.from_ == dt.date(2025, 1, 1)
    assert meta.review_by is not None and meta.review_by.year == 2027
    assert not policy.warnings


def test_references_name_the_reported_facts(policy) -> None:  # type: ignore[no-untyped-def]
    notes = " ".join(r.title + " " + r.note for r in policy.model.policy.references)
    for fact in ("883 courtyards", "6 heart-link stations", "8 volunteer teams",
                 "139 services", "30.85 million yuan", "240 services", "about 90%",
                 "1,177 social organisations", "10+ million yuan",
                 "social-security help", "treatment", "counselling"):
        assert fact in notes, fact


def test_overrides_are_exactly_the_intended_ones(policy) -> None:  # type: ignore[no-untyped-def]
    assert sorted(policy.model.policy.overrides) == sorted([
        "civility.stars.participation", "appraisal.entity", "appraisal.groups",
        "appraisal.indicators", "appraisal.vetoes"])


def test_cases_cover_every_rule(policy) -> None:  # type: ignore[no-untyped-def]
    results, coverage = run_cases(policy)
    assert len(results) >= 15
    assert coverage.percent == 100.0, coverage.missing


def test_every_rule_is_labelled_in_both_languages(policy) -> None:  # type: ignore[no-untyped-def]
    m = policy.model
    labelled = [*m.volunteer.categories.values(), *m.volunteer.activities.values(),
                *m.volunteer.multipliers, *m.volunteer.star_levels, *m.civility.stars,
                *m.civility.titles, *m.visits.tiers, *m.visits.triggers,
                *m.appraisal.groups.values(), *m.appraisal.indicators, *m.appraisal.vetoes,
                *m.appraisal.grades]
    labelled += [f for facts in m.facts.values() for f in facts.values()]
    missing = [x for x in labelled if not (x.label and x.label_en)]
    assert not missing, missing


# --- volunteer: the courtyard volunteer teams and the heart-link stations ------------


def test_six_heart_link_stations(policy) -> None:  # type: ignore[no-untyped-def]
    station = policy.model.facts["activity"]["station_no"]
    assert (station.min, station.max, station.default) == (0, 6, 0)
    record = {"record_id": "x", "volunteer_id": "v", "activity": "heart_link_station",
              "start": "2025-12-06T09:00", "end": "2025-12-06T11:00", "confirmed": True,
              "submitted_at": "2025-12-06T12:00"}
    ok = policy.volunteer.evaluate_record({**record, "station_no": 6}, as_of=AS_OF)
    assert ok.status == "scored" and ok.points == 2
    refused = policy.volunteer.evaluate_record({**record, "station_no": 7}, as_of=AS_OF)
    assert refused.rejected and "OUT_OF_RANGE" in refused.reason_codes


@pytest.mark.parametrize(("activity", "category", "label"), [
    ("civility_persuasion", "civility", "文明劝导"),
    ("neighbour_mutual_aid", "mutual_aid", "邻里互助"),
    ("legal_services", "legal", "法律服务"),
    ("heart_link_station", "community", "连心驿站值守"),
    ("disability_assistance", "care", "助残服务"),
])
def test_team_activities(policy, activity: str, category: str, label: str) -> None:  # type: ignore[no-untyped-def]
    a = policy.model.volunteer.activities[activity]
    assert a.category == category and a.label == label
    # the reports give no rate: the baseline's 1 point per hour applies
    assert a.points_per_hour.values == (1,)
    assert policy.model.volunteer.categories[category].coefficient.values == (1,)


def test_volunteer_rules_inherited_from_the_baseline(policy) -> None:  # type: ignore[no-untyped-def]
    v = policy.model.volunteer
    assert [s.hours for s in v.star_levels] == [100, 300, 600, 1000, 1500]
    assert v.submission_window_days == 30 and v.point_expiry_months == 36
    assert v.caps.hours_per_day.values == (8,)
    assert [m.id for m in v.multipliers] == ["public_holiday"]


# --- civility: courtyard-based civic life --------------------------------------------


def test_participation_counts_courtyard_meetings(policy) -> None:  # type: ignore[no-untyped-def]
    stars = {s.id: s for s in policy.model.civility.stars}
    assert len(stars) == 11
    assert "courtyard_meetings_attended" in stars["participation"].when
    assert "courtyard_org_member" in stars["participation"].when
    assert stars["participation"].label == "院落议事星"
    assert stars["mutual_aid"].label == "邻里互助星"
    d = policy.civility.evaluate({"household_id": "h", "courtyard_meetings_attended": 3},
                                 as_of=AS_OF)
    assert "participation" in [c.id for c in d.criteria if c.met]
    d = policy.civility.evaluate({"household_id": "h", "courtyard_meetings_attended": 2},
                                 as_of=AS_OF)
    assert "participation" not in [c.id for c in d.criteria if c.met]


def test_titles_inherited(policy) -> None:  # type: ignore[no-untyped-def]
    titles = {t.min_stars: t.label for t in policy.model.civility.titles}
    assert titles == {10: "十星级文明户", 8: "文明户"}


def test_civic_life_facts_are_not_care_needs(policy) -> None:  # type: ignore[no-untyped-def]
    household = policy.model.facts["household"]
    for name in ("courtyard_meetings_attended", "courtyard_org_member",
                 "mutual_aid_team_member", "mutual_aid_commended"):
        assert household[name].care_need is False, name


# --- visits: home services for disabled residents ------------------------------------


def test_disability_home_services_are_care_needs(policy) -> None:  # type: ignore[no-untyped-def]
    household = policy.model.facts["household"]
    for name in ("needs_social_security_help", "home_treatment", "needs_counselling",
                 "home_service_requested_on"):
        assert household[name].care_need is True, name


def test_visit_tiers_and_cadences(policy) -> None:  # type: ignore[no-untyped-def]
    v = policy.model.visits
    cadences = {t.id: t.cadence for t in v.tiers}
    assert cadences == {"weekly_care": "weekly", "monthly_care": "monthly",
                        "routine": "quarterly", "disability_home_care": "monthly"}
    assert v.default_tier == "routine" and v.max_interval == "quarterly"
    tier = next(t for t in v.tiers if t.id == "disability_home_care")
    for need in ("disability", "needs_social_security_help", "home_treatment",
                 "needs_counselling"):
        assert need in tier.when


def test_home_service_request_trigger(policy) -> None:  # type: ignore[no-untyped-def]
    trigger = next(t for t in policy.model.visits.triggers if t.id == "home_service_request")
    assert trigger.event == "home_service_requested_on"
    assert trigger.when == "disability"
    assert trigger.within_days == 1


@pytest.mark.parametrize(("age", "services", "tier"), [
    (45, {}, "routine"),
    (45, {"needs_social_security_help": True}, "disability_home_care"),
    (45, {"home_treatment": True}, "disability_home_care"),
    (45, {"needs_counselling": True}, "disability_home_care"),
    (17, {"home_treatment": True}, "disability_home_care"),
    (60, {"home_treatment": True}, "monthly_care"),
])
def test_disabled_residents_at_any_age(policy, age: int, services: dict, tier: str) -> None:  # type: ignore[no-untyped-def]
    d = policy.visits.evaluate({"household_id": "h", "age_oldest": age, "disability": True,
                                **services}, as_of=AS_OF)
    assert d.tier == tier


def test_home_services_without_a_disability_do_not_change_the_tier(policy) -> None:  # type: ignore[no-untyped-def]
    d = policy.visits.evaluate({"household_id": "h", "age_oldest": 45, "home_treatment": True},
                               as_of=AS_OF)
    assert d.tier == "routine"


# --- appraisal: Wuhou District's purchased services -----------------------------------


def test_appraisal_subject_is_the_contracted_service(policy) -> None:  # type: ignore[no-untyped-def]
    a = policy.model.appraisal
    assert a.entity == "contract"
    contract = policy.model.facts["contract"]
    # about 90% of purchased services are community public services in these areas
    assert contract["service_area"].values == ["culture", "youth", "elderly", "disability",
                                               "other"]
    assert contract["budget_yuan"].unit == "元"
    assert contract["services_contracted"].min == 1  # no division by zero


def test_appraisal_weights(policy) -> None:  # type: ignore[no-untyped-def]
    a = policy.model.appraisal
    groups = {g: x.weight for g, x in a.groups.items()}
    assert groups == {"delivery": 0.6, "funds": 0.2, "social": 0.2}
    # the baseline's tasks 80% : social evaluation 20% is kept
    assert groups["delivery"] + groups["funds"] == pytest.approx(0.8)
    for g in groups:
        assert sum(i.weight for i in a.indicators if i.group == g) == pytest.approx(1.0)
    sat = next(i for i in a.indicators if i.id == "user_satisfaction")
    assert sat.raters == {"satisfaction_users": 6, "satisfaction_purchaser": 3,
                          "satisfaction_community": 3}
    assert [i.id for i in a.indicators] == ["services_delivered", "beneficiaries_reached",
                                            "budget_execution", "user_satisfaction"]


def test_appraisal_vetoes_grades_and_quota(policy) -> None:  # type: ignore[no-untyped-def]
    a = policy.model.appraisal
    assert {v.id: v.when for v in a.vetoes} == {"safety_incident": "safety_incidents > 0",
                                                "misuse_of_funds": "funds_misused"}
    assert [(g.id, g.min_score) for g in a.grades] == [("excellent", 90), ("good", 80),
                                                       ("pass", 60), ("fail", 0)]
    assert a.quota is not None and a.quota.grade == "excellent" and a.quota.max_share == 0.2


def test_overspending_counts_as_full_execution(policy) -> None:  # type: ignore[no-untyped-def]
    base = {"subject_id": "s", "services_contracted": 10, "services_delivered": 10,
            "beneficiaries_target": 10, "beneficiaries_served": 10, "budget_yuan": 100000,
            "satisfaction_users": 100, "satisfaction_purchaser": 100,
            "satisfaction_community": 100}
    over = policy.appraisal.evaluate({**base, "spent_yuan": 130000}, as_of=AS_OF)
    under = policy.appraisal.evaluate({**base, "spent_yuan": 60000}, as_of=AS_OF)
    assert over.total == 100
    assert under.total == pytest.approx(100 - 0.2 * (100 - 40))  # below 70%: scores 40
