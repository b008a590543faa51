"""The policy loads, and every [[case]] in it passes (pytest also collects them directly).

The other tests pin the West Coast New Area's own facts in the policy: who may
earn governance points, the village-rules stars, the grid worker's caseload,
and the grid-worker scorecard with its hotline, task-list and coverage targets.
"""

from __future__ import annotations

import datetime as dt

import civicscore_qingdao
import pytest

import civicscore
from civicscore.cases import run_cases
from civicscore.policy.protected import protected_in, protected_reason

AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def policy():  # type: ignore[no-untyped-def]
    engine = civicscore.Engine(plugins=[civicscore_qingdao], entry_points=False)
    return engine.load("qingdao")


def test_policy_loads_and_cases_pass() -> None:
    engine = civicscore.Engine(plugins=[civicscore_qingdao], entry_points=False)
    policy = engine.load("qingdao")
    assert policy.id == "qingdao"
    results, _coverage = run_cases(policy)
    assert results, "the policy has no [[case]] tables"
    failed = [(r.name, r.mismatches) for r in results if not r.passed]
    assert not failed, failed


def test_every_rule_is_exercised_by_a_case(policy) -> None:  # type: ignore[no-untyped-def]
    results, coverage = run_cases(policy)
    assert len(results) >= 15
    assert coverage.missing == [], coverage.missing
    assert coverage.percent == 100.0


# --- [policy] ------------------------------------------------------------------------


def test_policy_metadata(policy) -> None:  # type: ignore[no-untyped-def]
    meta = policy.model.policy
    assert meta.version == "2025.1"
    assert meta.extends == "baseline"
    assert "青岛西海岸新区" in meta.title and "West Coast New Area" in meta.title
    assert meta.effective is not None and meta.effective.from_ == dt.date(2025, 1, 1)
    assert meta.review_by is not None and meta.review_by.year == 2027
    assert policy.warnings == ()
    # The only baseline rule changed is the appraisal scorecard.
    assert meta.overrides == ["appraisal.indicators"]


def test_references_name_the_reported_figures(policy) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(f"{r.title} {r.note}" for r in policy.model.policy.references)
    for figure in ("700+", "1,300+", "75%", "88%", "1,106", "1 grid head + 1 full-time + N",
                   "ten service domains", "137", "48", "100 service stations",
                   "村规民约积分制", "unions, women's and youth federations"):
        assert figure in text, figure


def test_every_added_rule_and_fact_is_labelled_in_both_languages(policy) -> None:  # type: ignore[no-untyped-def]
    m = policy.model
    labelled = [m.volunteer.categories["governance"],
                *(m.volunteer.activities[a] for a in
                  ("consultation", "co_building_project", "resource_sharing")),
                *m.volunteer.multipliers, *m.civility.stars, *m.visits.tiers,
                *m.visits.triggers, *m.appraisal.indicators, *m.appraisal.vetoes,
                *m.appraisal.grades]
    for entity in ("activity", "household", "subject"):
        labelled += list(m.facts[entity].values())
    for item in labelled:
        assert item.label and item.label_en, item


# --- volunteer: points for organisations as well as people -----------------------------


def test_participant_kinds_cover_people_and_organisations(policy) -> None:  # type: ignore[no-untyped-def]
    kind = policy.model.facts["activity"]["participant_kind"]
    assert kind.type == "enum"
    assert kind.values == ["resident", "enterprise", "social_organisation", "mass_organisation"]
    assert kind.default == "resident"
    # the kinds describe who takes part as an organisation, never who a person is
    assert protected_in(kind.values) is None
    assert protected_reason("participant_kind", kind.label, kind.label_en,
                            kind.description) is None


def test_organisation_mobilisation_multiplier(policy) -> None:  # type: ignore[no-untyped-def]
    (m,) = [m for m in policy.model.volunteer.multipliers
            if m.id == "organisation_mobilisation"]
    assert m.factor.values == (1.5,)
    assert m.when == 'participant_kind != "resident" and participants >= 10'
    # baseline holiday multiplier kept; the larger of the two applies, not both
    assert policy.model.volunteer.multiplier_rule == "max"


def test_governance_activities_earn_per_event(policy) -> None:  # type: ignore[no-untyped-def]
    acts = policy.model.volunteer.activities
    assert {a: acts[a].points_per_event.values for a in
            ("consultation", "co_building_project", "resource_sharing")} == {
        "consultation": (2,), "co_building_project": (10,), "resource_sharing": (5,)}
    assert {acts[a].category for a in ("consultation", "co_building_project",
                                       "resource_sharing")} == {"governance"}
    # the baseline's activities and rates are inherited unchanged
    assert acts["patrol"].points_per_hour.values == (1,)
    assert policy.model.volunteer.point_expiry_months == 36


def test_an_enterprise_and_a_resident_score_on_the_same_scheme(policy) -> None:  # type: ignore[no-untyped-def]
    base = {"activity": "co_building_project", "start": "2025-09-16T09:00",
            "end": "2025-09-16T12:00", "confirmed": True, "submitted_at": "2025-09-16T13:00"}
    result = policy.volunteer.evaluate([
        {**base, "record_id": "a", "volunteer_id": "ENT-1", "participant_kind": "enterprise",
         "participants": 10},
        {**base, "record_id": "b", "volunteer_id": "R-1", "participants": 10},
    ], as_of=AS_OF)
    assert result.statements["ENT-1"].earned == 15   # 10 x 1.5: an organisation mobilising 10
    assert result.statements["R-1"].earned == 10     # a resident: no mobilisation bonus


# --- civility: the unified village-rules points system ---------------------------------


def test_village_rules_domains_are_four_stars_with_one_threshold(policy) -> None:  # type: ignore[no-untyped-def]
    stars = {s.id: s.when for s in policy.model.civility.stars}
    assert {k: v for k, v in stars.items() if k.startswith("rules_")} == {
        "rules_public_order": "rules_public_order >= 10",
        "rules_public_morality": "rules_public_morality >= 10",
        "rules_customs": "rules_customs >= 10",
        "rules_civic_culture": "rules_civic_culture >= 10",
    }
    assert len(stars) == 14  # the baseline's ten and the four domains
    household = policy.model.facts["household"]
    for name in ("rules_public_order", "rules_public_morality", "rules_customs",
                 "rules_civic_culture"):
        assert not household[name].care_need  # civic conduct, never a care need
        assert "村规民约积分" in household[name].label


def test_village_rules_points_do_not_change_visits(policy) -> None:  # type: ignore[no-untyped-def]
    base = {"household_id": "H", "age_oldest": 70, "last_visit": "2025-12-01"}
    low = policy.visits.evaluate({**base}, as_of=AS_OF)
    high = policy.visits.evaluate({**base, "rules_public_order": 90, "rules_customs": 90},
                                  as_of=AS_OF)
    assert (low.tier, low.next_due) == (high.tier, high.next_due) == (
        "routine", dt.date(2026, 3, 1))


# --- visits: need-based tiers; one full-time grid worker per grid ----------------------


def test_visit_tiers_are_the_baseline_need_based_tiers(policy) -> None:  # type: ignore[no-untyped-def]
    v = policy.model.visits
    assert [(t.id, t.cadence) for t in v.tiers] == [
        ("weekly_care", "weekly"), ("monthly_care", "monthly"), ("routine", "quarterly")]
    assert v.default_tier == "routine"
    assert {(t.id, t.within_days) for t in v.triggers} == {
        ("hospital_discharge", 1), ("bereavement", 1)}
    household = policy.model.facts["household"]
    for t in v.tiers:
        for name in household:
            if t.when and name in t.when:
                assert household[name].care_need, (t.id, name)


def test_grid_worker_caseload_capacity(policy) -> None:  # type: ignore[no-untyped-def]
    cap = policy.model.visits.capacity
    assert cap.households_per_liaison == 500
    assert cap.visits_per_month is None  # the reports give no visits-per-month figure
    grid = [{"household_id": f"H{i:03d}", "liaison_id": "G-HD-07", "age_oldest": 40,
             "last_visit": "2025-12-01"} for i in range(501)]
    load = policy.visits.evaluate_many(grid, as_of=AS_OF).caseload["G-HD-07"]
    assert load.households == 501
    assert [w.code for w in load.warnings] == ["CAPACITY_EXCEEDED"]
    fits = policy.visits.evaluate_many(grid[:500], as_of=AS_OF).caseload["G-HD-07"]
    assert fits.warnings == ()


# --- appraisal of full-time grid workers -------------------------------------------------


def _indicators(policy):  # type: ignore[no-untyped-def]
    return {i.id: i for i in policy.model.appraisal.indicators}


def test_callback_satisfaction_runs_from_75_to_the_88_target(policy) -> None:  # type: ignore[no-untyped-def]
    n = _indicators(policy)["callback_satisfaction"].normalise
    assert (n.method, n.floor, n.target) == ("linear", 75, 88)


def test_participation_and_awareness_target_at_least_75(policy) -> None:  # type: ignore[no-untyped-def]
    for ind in ("participation", "awareness"):
        steps = {s.at: s.score for s in _indicators(policy)[ind].normalise.steps}
        assert steps[75] == 100 and max(steps) == 75, ind  # 75% is the full-score target


def test_grid_coverage_targets_100(policy) -> None:  # type: ignore[no-untyped-def]
    steps = {s.at: s.score for s in _indicators(policy)["grid_coverage"].normalise.steps}
    assert steps[100] == 100
    assert all(score < 100 for at, score in steps.items() if at < 100)


def test_tasks_come_from_the_48_item_list_and_ten_service_domains(policy) -> None:  # type: ignore[no-untyped-def]
    subject = policy.model.facts["subject"]
    assert "48-item community task list" in subject["tasks_completed_pct"].description
    assert "hotline" in subject["requests_resolved_pct"].description
    assert subject["service_domains_covered"].max == 10
    n = _indicators(policy)["service_domains"].normalise
    assert (n.method, n.floor, n.target) == ("linear", 0, 10)


def test_scorecard_weights_and_inherited_grades(policy) -> None:  # type: ignore[no-untyped-def]
    a = policy.model.appraisal
    assert {g: grp.weight for g, grp in a.groups.items()} == {"tasks": 0.8, "social": 0.2}
    for group in a.groups:
        total = sum(i.weight for i in a.indicators if i.group == group)
        assert total == pytest.approx(1.0), group
    assert _indicators(policy)["satisfaction"].raters == {
        "satisfaction_staff": 3, "satisfaction_users": 6, "satisfaction_departments": 3,
        "satisfaction_leaders": 3}
    assert [(g.id, g.min_score) for g in a.grades] == [
        ("excellent", 90), ("good", 80), ("pass", 60), ("fail", 0)]
    assert a.quota is not None and a.quota.max_share == 0.2
    assert {v.id for v in a.vetoes} == {"major_safety_incident", "financial_irregularity"}


def test_a_grid_worker_meeting_every_target_scores_100(policy) -> None:  # type: ignore[no-untyped-def]
    d = policy.appraisal.evaluate({
        "subject_id": "GW", "tasks_completed_pct": 100, "requests_resolved_pct": 95,
        "grid_coverage_pct": 100, "service_domains_covered": 10,
        "participation_rate_pct": 75, "awareness_rate_pct": 75,
        "callback_satisfaction_pct": 88, "satisfaction_staff": 100, "satisfaction_users": 100,
        "satisfaction_departments": 100, "satisfaction_leaders": 100}, as_of=AS_OF)
    assert d.total == 100
    assert d.computed_grade == "excellent"
