"""The policy loads, and every [[case]] in it passes (pytest also collects them directly).

The other tests pin the facts of Chengguan Town (房县城关镇) that the policy encodes:
if someone edits a cadence, a target, a rater group or a star, a test names it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import civicscore_fangxian
import pytest

import civicscore
from civicscore.cases import run_cases

AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def policy():  # type: ignore[no-untyped-def]
    engine = civicscore.Engine(plugins=[civicscore_fangxian], entry_points=False)
    return engine.load("fangxian", today=dt.date(2025, 12, 31))


def test_policy_loads_and_cases_pass() -> None:
    engine = civicscore.Engine(plugins=[civicscore_fangxian], entry_points=False)
    policy = engine.load("fangxian")
    assert policy.id == "fangxian"
    results, _coverage = run_cases(policy)
    assert results, "the policy has no [[case]] tables"
    failed = [(r.name, r.mismatches) for r in results if not r.passed]
    assert not failed, failed


# --- the policy as a whole -----------------------------------------------------------


def test_cases_cover_every_rule_and_there_are_enough(policy) -> None:  # type: ignore[no-untyped-def]
    results, coverage = run_cases(policy)
    assert len(results) >= 15
    assert coverage.missing == [], coverage.missing
    assert coverage.percent == 100.0
    for scheme in ("volunteer", "civility", "visits", "appraisal"):
        assert any(r.case.scheme == scheme for r in results), scheme
    assert all(r.case.tags for r in results), "every case has tags"


def test_metadata(policy) -> None:  # type: ignore[no-untyped-def]
    meta = policy.model.policy
    assert meta.id == "fangxian"
    assert meta.version == "2025.1"
    assert meta.extends == "baseline"
    assert "房县城关镇" in meta.title and "Chengguan Town" in meta.title
    assert meta.effective is not None and meta.effective.from_ == dt.date(2025, 1, 1)
    assert meta.review_by is not None and meta.review_by.year == 2027
    notes = " ".join(r.note for r in meta.references)
    for reported in ("18 held", "121 problems", "110", "27", "14 disputes", "100%",
                     "14 grids", "400 people", "98%"):
        assert reported in notes, reported


def test_loads_without_warnings(policy) -> None:  # type: ignore[no-untyped-def]
    assert policy.warnings == ()


def test_all_four_schemes(policy) -> None:  # type: ignore[no-untyped-def]
    assert set(policy.schemes) >= {"volunteer", "civility", "visits", "appraisal"}


def test_every_added_rule_and_fact_is_labelled_in_both_languages(policy) -> None:  # type: ignore[no-untyped-def]
    m = policy.model
    labelled = [
        *m.facts["household"].values(), *m.facts["subject"].values(),
        *m.volunteer.activities.values(), *m.civility.stars, *m.civility.titles,
        *m.visits.tiers, *m.visits.triggers, *m.appraisal.indicators, *m.appraisal.vetoes,
        *m.appraisal.grades,
    ]
    for item in labelled:
        assert item.label and item.label_en, item


# --- volunteer: the town's safety activities -------------------------------------------


def test_the_reported_volunteer_activities_are_scored(policy) -> None:  # type: ignore[no-untyped-def]
    acts = policy.model.volunteer.activities
    # holiday patrols, major-event security, helping the police, anti-fraud outreach,
    # school guarding, environmental clean-ups
    for aid in ("patrol", "event_security", "police_dispute_help", "anti_fraud_outreach",
                "school_guard", "cleanup"):
        assert aid in acts, aid
    for aid in ("patrol", "event_security", "police_dispute_help", "anti_fraud_outreach",
                "school_guard"):
        assert acts[aid].category == "safety", aid
    assert acts["cleanup"].category == "community"
    assert acts["police_dispute_help"].points_per_event is not None
    assert acts["anti_fraud_outreach"].points_per_event is not None
    assert acts["school_guard"].label == "护学岗"
    assert acts["event_security"].label == "重大活动安保"


def test_rates_caps_and_expiry_are_the_baselines(policy) -> None:  # type: ignore[no-untyped-def]
    v = policy.model.volunteer
    assert v.point_expiry_months == 36
    assert v.submission_window_days == 30
    assert [s.hours for s in v.star_levels] == [100, 300, 600, 1000, 1500]
    (holiday,) = [m for m in v.multipliers if m.id == "public_holiday"]
    assert holiday.factor.at(dt.date(2025, 10, 1))[0] == 2


def _patrol(day: str) -> dict[str, object]:
    return {"record_id": f"p-{day}", "volunteer_id": "v", "activity": "patrol",
            "start": f"{day}T19:00", "end": f"{day}T21:00", "confirmed": True,
            "submitted_at": f"{day}T22:00"}


def test_a_holiday_patrol_earns_double(policy) -> None:  # type: ignore[no-untyped-def]
    holiday = policy.volunteer.evaluate_record(_patrol("2025-10-01"), as_of=AS_OF)
    ordinary = policy.volunteer.evaluate_record(_patrol("2025-09-30"), as_of=AS_OF)
    assert (holiday.points, ordinary.points) == (4, 2)


# --- civility: ten stars from the good-people list and the residents' covenant ---------


def test_ten_stars_virtues_and_covenant(policy) -> None:  # type: ignore[no-untyped-def]
    stars = {s.id: s for s in policy.model.civility.stars}
    virtues = {"respect_elders", "law_abiding", "dedication", "honesty"}
    covenant = {"customs", "weddings_funerals", "neighbourliness", "community_appearance",
                "safety"}
    assert set(stars) == virtues | covenant | {"courtyard_meetings"}
    assert len(stars) == 10
    # the baseline's volunteering and generic-meeting stars are not the town's
    assert "volunteering" not in stars and "participation" not in stars
    assert stars["courtyard_meetings"].when == "courtyard_meetings_attended >= 3"
    assert "appearance_violations == 0" in stars["community_appearance"].when
    assert "customs_breaches == 0" in stars["customs"].when


def test_ten_star_title_needs_all_ten(policy) -> None:  # type: ignore[no-untyped-def]
    titles = {t.min_stars: t.label for t in policy.model.civility.titles}
    assert titles[10] == "十星级文明户"
    assert policy.civility.max_stars == 10


def test_civility_reads_no_care_need(policy) -> None:  # type: ignore[no-untyped-def]
    facts = policy.model.facts["household"]
    for name in ("customs_breaches", "appearance_violations", "courtyard_meetings_attended"):
        assert not facts[name].care_need, name
    care = {n for n, f in facts.items() if f.care_need}
    for star in policy.model.civility.stars:
        assert not any(n in star.when for n in care), star.id


# --- visits: the baseline's need-based tiers, per grid ---------------------------------


def test_visit_tiers_are_the_baselines_need_based_tiers(policy) -> None:  # type: ignore[no-untyped-def]
    v = policy.model.visits
    assert [(t.id, t.cadence) for t in v.tiers] == [
        ("weekly_care", "weekly"), ("monthly_care", "monthly"), ("routine", "quarterly")]
    assert v.default_tier == "routine"
    assert v.max_interval == "quarterly"
    assert {t.id: t.within_days for t in v.triggers} == {"hospital_discharge": 1,
                                                         "bereavement": 1}


def test_caseload_is_reported_per_grid(policy) -> None:  # type: ignore[no-untyped-def]
    grids = [f"G{i:02d}" for i in range(1, 15)]  # the town's 14 grids
    households = [{"household_id": f"{g}-{n}", "liaison_id": g, "age_oldest": 85,
                   "lives_alone": n == 0, "last_visit": "2025-12-20"}
                  for g in grids for n in range(3)]
    result = policy.visits.evaluate_many(households, as_of=AS_OF)
    assert sorted(result.caseload) == grids
    # one weekly (30.44 / 7 = 4.35 a month) and two quarterly (1/3 each) per grid
    for load in result.caseload.values():
        assert load.households == 3
        assert load.visits_per_month == pytest.approx(5.0, abs=0.05)


# --- appraisal: residents rate, residents inspect, meetings keep their cadence ---------


def test_group_weights_sum_to_one(policy) -> None:  # type: ignore[no-untyped-def]
    a = policy.model.appraisal
    assert {g: grp.weight for g, grp in a.groups.items()} == {"tasks": 0.8, "social": 0.2}
    sums: dict[str, float] = defaultdict(float)
    for i in a.indicators:
        sums[i.group or ""] += i.weight
    assert all(math.isclose(s, 1.0) for s in sums.values()), sums


def _indicator(policy, iid):  # type: ignore[no-untyped-def]
    (ind,) = [i for i in policy.model.appraisal.indicators if i.id == iid]
    return ind


def test_residents_representatives_rate_the_yearly_appraisal(policy) -> None:  # type: ignore[no-untyped-def]
    raters = _indicator(policy, "satisfaction").raters
    assert raters == {"satisfaction_staff": 3, "satisfaction_users": 6,
                      "satisfaction_departments": 3, "satisfaction_leaders": 3,
                      "satisfaction_resident_reps": 3}


def test_meeting_cadences_are_appraisal_targets(policy) -> None:  # type: ignore[no-untyped-def]
    monthly = _indicator(policy, "courtyard_meetings").normalise
    weekly = _indicator(policy, "joint_meetings").normalise
    assert (monthly.method, monthly.floor, monthly.target) == ("linear", 0, 12)
    assert (weekly.method, weekly.floor, weekly.target) == ("linear", 0, 52)


def test_safety_satisfaction_target_is_98(policy) -> None:  # type: ignore[no-untyped-def]
    n = _indicator(policy, "safety_satisfaction").normalise
    assert (n.method, n.target) == ("linear", 98)
    assert _indicator(policy, "dispute_follow_up").normalise.target == 100


def test_residents_inspect_project_progress_and_quality(policy) -> None:  # type: ignore[no-untyped-def]
    ind = _indicator(policy, "project_inspection")
    assert ind.group == "tasks" and ind.value == "projects_accepted_pct"


def test_the_town_reported_problems_resolved_rate(policy) -> None:  # type: ignore[no-untyped-def]
    record = {"subject_id": "chengguan", "tasks_completed_pct": 95,
              "requests_resolved_pct": 92, "satisfaction_staff": 90, "satisfaction_users": 95,
              "satisfaction_departments": 90, "satisfaction_leaders": 90,
              "satisfaction_resident_reps": 95, "courtyard_meetings_held": 18,
              "courtyard_problems_collected": 121, "courtyard_problems_resolved": 110,
              "joint_meetings_held": 27, "projects_accepted_pct": 100,
              "safety_satisfaction_pct": 98, "dispute_follow_up_satisfaction_pct": 100}
    d = policy.appraisal.evaluate(record, as_of=AS_OF)
    trace = {t.id: t for t in d.indicators}
    assert trace["courtyard_problems"].raw == pytest.approx(110 / 121 * 100)
    assert trace["courtyard_problems"].normalised == 85
    assert trace["safety_satisfaction"].normalised == 100  # 98% meets the target
    assert trace["courtyard_meetings"].normalised == 100  # 18 >= 12 monthly meetings
    assert d.total == pytest.approx(87.68)
    assert d.grade == "good"


def test_baseline_vetoes_grades_and_quota_are_kept(policy) -> None:  # type: ignore[no-untyped-def]
    a = policy.model.appraisal
    assert [v.id for v in a.vetoes] == ["major_safety_incident", "financial_irregularity"]
    assert [(g.id, g.min_score) for g in a.grades] == [
        ("excellent", 90), ("good", 80), ("pass", 60), ("fail", 0)]
    assert a.quota is not None and a.quota.max_share == 0.2
