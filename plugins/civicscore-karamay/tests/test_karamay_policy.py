"""The Karamay policies load, every [[case]] passes, and they encode the locality's facts.

pytest also collects the TOML cases directly (one test per case); the tests
here check what the reports say Karamay does: its four care tiers and their
cadences, the two-month maximum interval, one liaison per grid of about a
hundred households, the "five hundreds" (五百) scorecard, the elder-service
activities and the venture-philanthropy fund's project appraisal (a second
scorecard of ``karamay``; ``karamay-projects`` is a deprecated name of it).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from typing import Any

import civicscore_karamay
import pytest

import civicscore
from civicscore.cases import run_cases

AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def engine() -> civicscore.Engine:
    return civicscore.Engine(plugins=[civicscore_karamay], entry_points=False)


@pytest.fixture(scope="module")
def policy(engine: civicscore.Engine) -> civicscore.Policy:
    return engine.load("karamay", today=dt.date(2025, 12, 31))


@pytest.fixture(scope="module")
def projects(policy: civicscore.Policy) -> Any:
    """The funded projects' scorecard of ``karamay``."""
    card = policy.model.appraisal.scorecard[0]
    assert card.id == "projects"
    return card


@pytest.fixture(scope="module")
def baseline(engine: civicscore.Engine) -> civicscore.Policy:
    return engine.load("baseline", today=dt.date(2025, 12, 31))


# --- the scaffold's test, for both policies ------------------------------------------


@pytest.mark.parametrize("name", ["karamay"])
def test_policy_loads_and_cases_pass(engine: civicscore.Engine, name: str) -> None:
    policy = engine.load(name)
    assert policy.id == name
    results, coverage = run_cases(policy)
    assert results, "the policy has no [[case]] tables"
    failed = [(r.name, r.mismatches) for r in results if not r.passed]
    assert not failed, failed
    assert coverage.percent == 100.0, coverage.missing


def test_plugin_registers_both_policies(engine: civicscore.Engine) -> None:
    assert {"karamay", "karamay-projects"} <= set(engine.policy_names())


def test_karamay_projects_is_a_deprecated_name_of_karamay() -> None:
    fresh = civicscore.Engine(plugins=[civicscore_karamay], entry_points=False)
    with pytest.warns(civicscore_karamay.DeprecatedPolicyName,
                      match="karamay's 'projects' scorecard"):
        old = fresh.load("karamay-projects", today=AS_OF)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = fresh.load("karamay", today=AS_OF)
    assert old.id == "karamay" and old.hash == new.hash
    # the old policy's example, now with kind = "project", is scored on the projects card
    d = old.appraisal.evaluate_many(
        [{"kind": "project", **PROJECT, "subject_id": "P1"}], as_of=AS_OF).decisions[0]
    assert (d.status, d.scorecard, d.total) == ("scored", "projects", 98)


@pytest.mark.parametrize("name", ["karamay"])
def test_metadata_and_no_warnings(engine: civicscore.Engine, name: str) -> None:
    policy = engine.load(name, today=dt.date(2025, 12, 31))
    meta = policy.model.policy
    assert meta.version == "2025.1"
    assert "克拉玛依区" in meta.title and "Karamay District" in meta.title
    assert meta.effective is not None and meta.effective.from_ == dt.date(2025, 1, 1)
    assert meta.review_by is not None and meta.review_by.year == 2027
    assert meta.references
    assert policy.warnings == ()


def test_karamay_covers_all_four_schemes(policy: civicscore.Policy) -> None:
    assert set(policy.schemes) == {"volunteer", "civility", "visits", "appraisal", "events"}
    assert policy.model.policy.extends == "baseline"


def test_every_added_rule_and_fact_is_bilingual(policy: civicscore.Policy,
                                                projects: Any) -> None:
    m = policy.model
    labelled: list[Any] = [*m.visits.tiers, *m.visits.triggers, *m.appraisal.indicators,
                           *m.appraisal.vetoes, *m.volunteer.activities.values()]
    for entity in ("household", "subject"):
        labelled += list(m.facts[entity].values())
    labelled += [m.appraisal, projects, *projects.indicators, *projects.vetoes,
                 *projects.grades, *projects.groups.values(), *m.facts["project"].values()]
    unlabelled = [x for x in labelled if not (x.label and x.label_en)]
    assert not unlabelled


# --- the care-liaison grid: tiers, cadences, the two-month rule ------------------------


def test_grid_facts_are_recorded(policy: civicscore.Policy) -> None:
    text = policy.model.policy.description
    for figure in ("4个街道片区", "61个社区节点", "13个延伸节点", "783个联络网格"):
        assert figure in text


def test_four_care_tiers_with_the_reported_cadences(policy: civicscore.Policy) -> None:
    v = policy.model.visits
    cadence = {t.id: t.cadence for t in v.tiers}
    assert cadence == {"warm_heart": "weekly", "concern": "weekly",
                       "basic": "monthly", "reassured": "monthly"}
    labels = {t.id: t.label for t in v.tiers}
    assert labels == {"warm_heart": "暖心户", "concern": "关心户",
                      "basic": "基本户", "reassured": "放心户"}
    assert v.default_tier == "reassured"
    assert v.hit_policy == "first"


def test_every_resident_at_least_every_two_months(policy: civicscore.Policy) -> None:
    assert policy.model.visits.max_interval == "bimonthly"
    # whatever the tier, the next visit is never more than two months after the last
    for household in _one_household_per_tier():
        d = policy.visits.evaluate({**household, "last_visit": "2025-10-31"}, as_of=AS_OF)
        assert d.next_due <= dt.date(2025, 12, 31), (d.tier, d.next_due)


def test_one_liaison_per_grid_of_about_a_hundred_households(policy: civicscore.Policy) -> None:
    assert policy.model.visits.capacity.households_per_liaison == 100
    full = [{"household_id": f"H{i:03}", "liaison_id": "G001", "age_oldest": 40,
             "last_visit": "2025-12-20"} for i in range(100)]
    result = policy.visits.evaluate_many(full, as_of=AS_OF)
    assert result.caseload["G001"].households == 100
    assert not result.capacity_warnings
    over = policy.visits.evaluate_many(
        [*full, {"household_id": "H100", "liaison_id": "G001", "age_oldest": 40}], as_of=AS_OF)
    assert [w.code for w in over.capacity_warnings] == ["CAPACITY_EXCEEDED"]


def test_tiers_read_care_needs_only(policy: civicscore.Policy) -> None:
    facts = policy.model.facts["household"]
    for name in ("empty_nest", "chronic_illness", "low_income_support", "hardship_reported_on"):
        assert facts[name].care_need, name
    # a household's civic record never changes how often it is visited
    civic = {"law_violations": 3, "neighbour_disputes_unresolved": 2, "covenant_signed": False,
             "hygiene_inspections_passed": 0, "safety_hazards_open": 4, "meetings_attended": 0}
    for household in _one_household_per_tier():
        plain = policy.visits.evaluate(household, as_of=AS_OF)
        with_record = policy.visits.evaluate({**household, **civic}, as_of=AS_OF)
        assert (plain.tier, plain.next_due) == (with_record.tier, with_record.next_due)


@pytest.mark.parametrize(("needs", "tier"), [
    ({"extreme_poverty": True}, "warm_heart"),
    ({"life_threatening_illness": True}, "warm_heart"),
    ({"discharged_on": "2025-12-01"}, "warm_heart"),        # 30 days before 31 December
    ({"discharged_on": "2025-11-30"}, "reassured"),         # 31 days: recovered
    ({"bereaved_on": "2025-12-20"}, "warm_heart"),
    ({"hardship_reported_on": "2025-12-31"}, "warm_heart"),
    ({"age_oldest": 60, "lives_alone": True}, "concern"),
    ({"age_oldest": 59, "lives_alone": True}, "reassured"),
    ({"age_oldest": 70, "empty_nest": True}, "concern"),
    ({"dementia": True}, "concern"),
    ({"disability": True}, "concern"),
    ({"age_oldest": 60}, "basic"),
    ({"chronic_illness": True}, "basic"),
    ({"low_income_support": True}, "basic"),
    ({"open_service_requests": 1}, "basic"),
    ({}, "reassured"),
])
def test_tier_by_care_need(policy: civicscore.Policy, needs: dict[str, Any], tier: str) -> None:
    household = {"household_id": "h", "age_oldest": 40, **needs}
    assert policy.visits.evaluate(household, as_of=AS_OF).tier == tier


def test_events_bring_a_visit_forward_within_24_hours(policy: civicscore.Policy) -> None:
    triggers = {t.id: t.within_days for t in policy.model.visits.triggers}
    assert triggers == {"hospital_discharge": 1, "bereavement": 1, "hardship_reported": 1}


# --- volunteers: elder services ---------------------------------------------------------


def test_elder_service_and_liaison_visits_are_volunteer_activities(
        policy: civicscore.Policy) -> None:
    acts = policy.model.volunteer.activities
    for name in ("elder_alliance_service", "care_liaison_visit", "elder_care"):
        assert acts[name].category == "care"
        assert acts[name].points_per_hour.value_at(AS_OF) == 1
    assert "260" in acts["elder_alliance_service"].description


# --- civility: inherited unchanged ------------------------------------------------------


def test_civility_is_the_baseline_s(policy: civicscore.Policy,
                                    baseline: civicscore.Policy) -> None:
    assert policy.model.civility == baseline.model.civility


# --- appraisal of care liaisons: the five hundreds ---------------------------------------


def test_five_hundreds_scorecard(policy: civicscore.Policy) -> None:
    a = policy.model.appraisal
    ids = {i.id: (i.group, i.weight) for i in a.indicators}
    assert ids == {
        "task_completion": ("tasks", 0.2),
        "knock_doors": ("tasks", 0.2),          # 敲百家门
        "know_households": ("tasks", 0.2),      # 知百家情
        "handle_affairs": ("tasks", 0.2),       # 办百家事
        "solve_difficulties": ("tasks", 0.2),   # 解百家难
        "warm_hearts": ("social", 1.0),         # 暖百家心
    }
    labels = "".join(i.label for i in a.indicators)
    for hundred in ("敲百家门", "知百家情", "办百家事", "解百家难", "暖百家心"):
        assert hundred in labels
    assert {g: x.weight for g, x in a.groups.items()} == {"tasks": 0.8, "social": 0.2}
    assert [(g.id, g.min_score) for g in a.grades] == [
        ("excellent", 90), ("good", 80), ("pass", 60), ("fail", 0)]
    assert a.quota is not None and a.quota.max_share == 0.2
    assert {v.id for v in a.vetoes} == {"major_safety_incident", "financial_irregularity",
                                        "privacy_breach"}


def test_no_difficulty_reported_counts_as_all_solved(policy: civicscore.Policy) -> None:
    subject = {"subject_id": "L1", "tasks_completed_pct": 100, "grid_households": 100,
               "households_visited": 100, "households_known": 100,
               "requests_resolved_pct": 100, "satisfaction_staff": 100,
               "satisfaction_users": 100, "satisfaction_departments": 100,
               "satisfaction_leaders": 100}
    d = policy.appraisal.evaluate(subject, as_of=AS_OF)
    solve = next(t for t in d.indicators if t.id == "solve_difficulties")
    assert (solve.raw, solve.normalised) == (100, 100)
    assert d.total == 100


# --- the venture-philanthropy fund's projects -------------------------------------------


def test_project_grant_cannot_exceed_the_annual_fund(policy: civicscore.Policy,
                                                    projects: Any) -> None:
    assert policy.model.facts["project"]["grant_yuan"].max == 1_000_000
    assert projects.entity == "project"
    assert projects.applies_to == 'kind == "project"'


def test_project_scorecard(projects: Any) -> None:
    a = projects
    assert {i.id: (i.group, i.weight) for i in a.indicators} == {
        "delivery": ("tasks", 0.5),
        "beneficiaries_reached": ("tasks", 0.5),
        "satisfaction": ("social", 1.0),
    }
    assert {v.id for v in a.vetoes} == {"major_safety_incident", "financial_irregularity",
                                        "privacy_breach"}


def test_project_appraisal_restates_the_baseline(projects: Any,
                                                  baseline: civicscore.Policy) -> None:
    """The report is silent on grades, quota, group weights and raters: keep the baseline's."""
    mine, base = projects, baseline.model.appraisal
    assert mine.grades == base.grades
    assert mine.quota == base.quota
    assert {g: x.weight for g, x in mine.groups.items()} == \
        {g: x.weight for g, x in base.groups.items()}
    rater = {i.id: i.raters for i in mine.indicators}["satisfaction"]
    base_rater = {i.id: i.raters for i in base.indicators}["satisfaction"]
    assert rater == base_rater


def test_liaisons_and_projects_are_separate_cohorts(policy: civicscore.Policy) -> None:
    # a project record that does not say kind = "project" is a liaison's: it is
    # rejected for the liaison's facts it lacks, not scored on the wrong card
    d = policy.appraisal.evaluate({"subject_id": "P1", "grant_yuan": 50000}, as_of=AS_OF)
    assert d.status == "rejected" and d.scorecard == "liaisons"
    assert "MISSING_FIELD" in d.reason_codes
    # each scorecard has its own 20 % excellent quota: five of each, one place each
    liaison = {"tasks_completed_pct": 100, "grid_households": 100, "households_visited": 100,
               "households_known": 100, "requests_resolved_pct": 100,
               "difficulties_reported": 0, "satisfaction_staff": 100,
               "satisfaction_users": 100, "satisfaction_departments": 100,
               "satisfaction_leaders": 100}
    run = [*({"subject_id": f"L{i}", **liaison} for i in range(5)),
           *({"subject_id": f"P{i}", "kind": "project", **PROJECT} for i in range(5))]
    result = policy.appraisal.evaluate_many(run, as_of=AS_OF)
    kept = {d.subject_id: d.scorecard for d in result.decisions if "QUOTA_KEPT" in d.reason_codes}
    assert kept == {"L0": "liaisons", "P0": "projects"}
    assert {(q.scorecard, q.cohort, q.places) for q in result.quotas} == {
        ("liaisons", 5, 1), ("projects", 5, 1)}
    assert "考核表：公益创投项目考评（projects）" in result.decisions[5].explain("zh")
    assert "Scorecard: 关爱居民联络员考评（五百工作法） (Care liaisons (the five hundreds))" \
        in result.decisions[0].explain("en")


PROJECT = {"grant_yuan": 120000, "milestones_planned": 10, "milestones_delivered": 10,
           "beneficiaries_planned": 300, "beneficiaries_reached": 320,
           "satisfaction_staff": 96, "satisfaction_users": 96, "satisfaction_departments": 96,
           "satisfaction_leaders": 96}


# --- helpers --------------------------------------------------------------------------


def _one_household_per_tier() -> Iterator[dict[str, Any]]:
    yield {"household_id": "w", "age_oldest": 50, "extreme_poverty": True}
    yield {"household_id": "c", "age_oldest": 84, "lives_alone": True}
    yield {"household_id": "b", "age_oldest": 65}
    yield {"household_id": "r", "age_oldest": 30}
