"""The policy loads, every [[case]] in it passes (pytest also collects them directly),
and it encodes Hengshui's own facts: grids of about 200 households, the must-visit
situations (五必访) as care tiers and triggers, and the community standards."""

from __future__ import annotations

import datetime as dt
from typing import Any

import civicscore_hengshui
import pytest
from civicscore_hengshui.targets import DEMONSTRATION_SHARE_TARGET, space_targets

import civicscore
from civicscore.cases import run_cases

AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def engine() -> civicscore.Engine:
    return civicscore.Engine(plugins=[civicscore_hengshui], entry_points=False)


@pytest.fixture(scope="module")
def policy(engine: civicscore.Engine) -> Any:
    return engine.load("hengshui")


def test_policy_loads_and_cases_pass() -> None:
    engine = civicscore.Engine(plugins=[civicscore_hengshui], entry_points=False)
    policy = engine.load("hengshui")
    assert policy.id == "hengshui"
    results, _coverage = run_cases(policy)
    assert results, "the policy has no [[case]] tables"
    failed = [(r.name, r.mismatches) for r in results if not r.passed]
    assert not failed, failed


def test_cases_cover_every_rule_and_are_enough(policy: Any) -> None:
    results, coverage = run_cases(policy)
    assert len(results) >= 15
    assert coverage.missing == [], coverage.missing
    assert coverage.percent == 100.0
    assert all(r.case.tags for r in results), "every case has tags"


def test_policy_header(policy: Any) -> None:
    meta = policy.model.policy
    assert policy.version == "2025.1"
    assert meta.extends == "baseline"
    assert "衡水" in meta.title and "Hengshui" in meta.title
    assert meta.effective.from_ == dt.date(2025, 1, 1) and meta.effective.to is None
    assert meta.review_by.year == 2027
    assert len(meta.references) >= 3
    assert not policy.warnings


# --- care visits -------------------------------------------------------------------


def test_grid_of_200_households_per_building_head(policy: Any) -> None:
    assert policy.model.visits.capacity.households_per_liaison == 200


@pytest.mark.parametrize(("households", "warned"), [(200, False), (201, True)])
def test_capacity_warning_above_200_households(policy: Any, households: int,
                                               warned: bool) -> None:
    result = policy.visits.evaluate_many(
        [{"household_id": f"H{i}", "liaison_id": "G01", "age_oldest": 40}
         for i in range(households)], as_of=AS_OF)
    codes = [w.code for w in result.caseload["G01"].warnings]
    assert ("CAPACITY_EXCEEDED" in codes) is warned
    assert len(result.scored) == households  # a warning never drops a household


def test_tier_cadences(policy: Any) -> None:
    cadences = {t.id: t.cadence for t in policy.model.visits.tiers}
    assert cadences == {"weekly_care": "weekly", "monthly_care": "monthly",
                        "must_visit": "monthly", "routine": "quarterly"}
    assert policy.model.visits.default_tier == "routine"


def test_must_visit_tier_reads_the_standing_situations(policy: Any) -> None:
    tier = next(t for t in policy.model.visits.tiers if t.id == "must_visit")
    for need in ("lives_alone", "disability", "living_hardship", "long_term_illness"):
        assert need in tier.when


# The five must-visit situations (五必访) and the trigger(s) that carry each one.
MUST_VISIT_TRIGGERS = {
    "illness": ("hospitalised_on", "hospitalised"),
    "bereavement": ("bereaved_on", "bereavement"),
    "hardship": ("hardship_began_on", "hardship"),
    "disability": ("disabled_on", "disability_onset"),
    "living alone": ("living_alone_since", "began_living_alone"),
}


@pytest.mark.parametrize("situation", sorted(MUST_VISIT_TRIGGERS))
def test_each_must_visit_situation_brings_a_visit_within_24_hours(
        policy: Any, situation: str) -> None:
    event, trigger_id = MUST_VISIT_TRIGGERS[situation]
    trigger = next(t for t in policy.model.visits.triggers if t.id == trigger_id)
    assert trigger.event == event and trigger.within_days == 1
    household = {"household_id": "H1", "age_oldest": 50, "last_visit": "2025-12-01",
                 event: "2025-12-30", "lives_alone": situation == "living alone"}
    decision = policy.visits.evaluate(household, as_of=AS_OF)
    assert trigger_id in decision.triggers
    assert decision.next_due == dt.date(2025, 12, 31)


@pytest.mark.parametrize("need", ["lives_alone", "disability", "living_hardship",
                                  "long_term_illness"])
def test_a_standing_must_visit_need_means_a_visit_at_least_monthly(policy: Any,
                                                                    need: str) -> None:
    decision = policy.visits.evaluate(
        {"household_id": "H1", "age_oldest": 40, "last_visit": "2025-12-10", need: True},
        as_of=AS_OF)
    assert decision.tier == "must_visit"
    assert decision.next_due == dt.date(2026, 1, 10)


def test_visit_rules_read_care_needs_only(policy: Any) -> None:
    facts = policy.model.facts["household"]
    for name in ("living_hardship", "long_term_illness", "hospitalised_on",
                 "hardship_began_on", "disabled_on", "living_alone_since"):
        assert facts[name].care_need, name
        assert facts[name].label and facts[name].label_en, name


def test_must_report_matters_are_not_encoded(policy: Any) -> None:
    """八必报 (must-report matters) are reporting on residents: no fact or rule for them."""
    texts: list[str] = []
    for entity in policy.model.facts.values():
        for name, fact in entity.items():
            texts += [name, fact.label, fact.label_en, fact.description]
    for rule in [*policy.model.visits.tiers, *policy.model.visits.triggers]:
        texts += [rule.id, rule.label, rule.label_en]
    joined = " ".join(texts).lower()
    for word in ("必报", "上报", "报告", "report", "inform"):
        assert word not in joined, word


# --- community appraisal -------------------------------------------------------------

COMMUNITY = {
    "community_kind": "city", "households": 1000, "community_space_m2": 600,
    "work_funds_yuan": 100000, "service_funds_yuan": 200000,
    "college_graduates_on_staff": 1, "certified_social_workers": 0,
    "social_worker_allowance_yuan": 0, "tasks_completed_pct": 80,
    "requests_resolved_pct": 80, "satisfaction_staff": 80, "satisfaction_users": 80,
    "satisfaction_departments": 80, "satisfaction_leaders": 80,
}


def appraise(policy: Any, **changes: Any) -> Any:
    record = {**COMMUNITY, "subject_id": "C1", **changes}
    decision = policy.appraisal.evaluate(record, as_of=AS_OF)
    assert decision.status == "scored", decision.reasons
    return decision


def score_of(decision: Any, indicator: str) -> float:
    return next(i.normalised for i in decision.indicators if i.id == indicator)


def test_community_kind_is_city_or_town(policy: Any) -> None:
    kind = policy.model.facts["subject"]["community_kind"]
    assert kind.type == "enum" and list(kind.values) == ["city", "town"]


def test_group_weights_keep_the_national_80_20_split(policy: Any) -> None:
    groups = policy.model.appraisal.groups
    assert groups["tasks"].weight == pytest.approx(0.4)
    assert groups["standards"].weight == pytest.approx(0.4)
    assert groups["social"].weight == pytest.approx(0.2)
    standards = [i for i in policy.model.appraisal.indicators if i.group == "standards"]
    assert {i.id for i in standards} == {"space_per_100_households", "community_space",
                                         "work_funds", "service_funds", "college_graduate"}
    assert sum(i.weight for i in standards) == pytest.approx(1.0)


@pytest.mark.parametrize(("households", "space", "score"), [
    (2000, 600, 100),   # exactly 30 m² per 100 households
    (2001, 600, 0),     # just under 30
    (1000, 500, 100),   # 50 per 100
])
def test_space_per_100_households_at_least_30(policy: Any, households: int, space: float,
                                              score: float) -> None:
    d = appraise(policy, households=households, community_space_m2=space)
    assert score_of(d, "space_per_100_households") == score


@pytest.mark.parametrize(("space", "score", "vetoed"), [
    (499.9, 0, True), (500, 60, False), (999.9, 60, False), (1000, 100, False),
])
def test_community_space_minimum_500_and_demonstration_1000(policy: Any, space: float,
                                                            score: float,
                                                            vetoed: bool) -> None:
    d = appraise(policy, households=1000, community_space_m2=space)
    assert score_of(d, "community_space") == score
    assert ("space_below_minimum" in d.vetoed) is vetoed


@pytest.mark.parametrize(("kind", "work", "service", "work_score", "service_score"), [
    ("city", 100000, 200000, 100, 100),
    ("city", 99999, 199999, 0, 0),
    ("town", 50000, 100000, 100, 100),
    ("town", 49999, 99999, 0, 0),
    ("town", 100000, 200000, 100, 100),
])
def test_fund_standards_by_kind_of_community(policy: Any, kind: str, work: float,
                                             service: float, work_score: float,
                                             service_score: float) -> None:
    d = appraise(policy, community_kind=kind, work_funds_yuan=work,
                 service_funds_yuan=service)
    assert score_of(d, "work_funds") == work_score
    assert score_of(d, "service_funds") == service_score


@pytest.mark.parametrize(("graduates", "score"), [(0, 0), (1, 100), (3, 100)])
def test_at_least_one_college_graduate(policy: Any, graduates: int, score: float) -> None:
    assert score_of(appraise(policy, college_graduates_on_staff=graduates),
                    "college_graduate") == score


@pytest.mark.parametrize(("workers", "allowance", "vetoed"), [
    (0, 0, False), (2, 200, False), (2, 199.99, True), (1, 0, True),
])
def test_social_worker_allowance_at_least_200_a_month(policy: Any, workers: int,
                                                      allowance: float,
                                                      vetoed: bool) -> None:
    d = appraise(policy, certified_social_workers=workers,
                 social_worker_allowance_yuan=allowance)
    assert ("social_worker_allowance_below_standard" in d.vetoed) is vetoed
    assert d.needs_confirmation is vetoed
    if vetoed:
        assert d.grade == "fail"


def test_a_cohort_of_120_communities_has_24_excellent_places(policy: Any) -> None:
    best = {**COMMUNITY, "community_space_m2": 1200, "tasks_completed_pct": 100,
            "requests_resolved_pct": 100, "satisfaction_staff": 100,
            "satisfaction_users": 100, "satisfaction_departments": 100,
            "satisfaction_leaders": 100}
    result = policy.appraisal.evaluate_many(
        [{**best, "subject_id": f"C{i:03d}"} for i in range(120)], as_of=AS_OF)
    assert result.quota.cohort == 120
    assert result.quota.places == 24
    assert len(result.quota.kept) == 24


def test_volunteer_and_civility_are_inherited_unchanged(engine: civicscore.Engine,
                                                        policy: Any) -> None:
    baseline = engine.load("baseline")
    assert policy.model.volunteer == baseline.model.volunteer
    assert policy.model.civility == baseline.model.civility


# --- the county targets (targets.py) -------------------------------------------------


def test_space_targets_read_500_and_1000_from_the_policy(policy: Any) -> None:
    result = space_targets(policy, [])
    assert (result.minimum_m2, result.demonstration_m2) == (500, 1000)
    assert result.communities == 0 and not result.demonstration_target_met
    assert DEMONSTRATION_SHARE_TARGET == 0.2


def test_space_targets_per_county_and_demonstration_share(policy: Any) -> None:
    communities = [
        {"subject_id": "A1", "county": "甲县", "community_space_m2": 1200},
        {"subject_id": "A2", "county": "甲县", "community_space_m2": "450"},
        {"subject_id": "B1", "county": "乙县", "community_space_m2": 499},
        {"subject_id": "B2", "county": "乙县", "community_space_m2": 300},
        {"subject_id": "C1", "county": "", "community_space_m2": 1000},
    ]
    result = space_targets(policy, communities)
    by_county = {c.county: c for c in result.counties}
    assert by_county["甲县"].target_met and by_county["甲县"].with_minimum_space == 1
    assert not by_county["乙县"].target_met
    assert by_county["(no county)"].communities == 1
    assert result.counties_short == ("乙县",)
    assert result.demonstration_communities == 2          # 1200 and 1000 m²
    assert result.demonstration_share == pytest.approx(0.4)
    assert result.demonstration_target_met                # 40% >= 20%
    short = space_targets(policy, [*communities, *({"community_space_m2": 600},) * 6])
    assert short.demonstration_share == pytest.approx(2 / 11)
    assert not short.demonstration_target_met


def test_space_targets_reject_a_missing_area(policy: Any) -> None:
    with pytest.raises(ValueError, match="C9"):
        space_targets(policy, [{"subject_id": "C9", "community_space_m2": "n/a"}])
