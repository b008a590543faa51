"""Appraisal: worked scorecards, load-time checks, rejections, the CLI, then properties."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.cli import main
from civicscore.io import read_records
from civicscore.records import UnreadableRow

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES, problems_of

POLICY = """
[policy]
id = "appr-test"
version = "1"

[facts.subject]
done = { type = "decimal", min = 0, max = 100, label = "完成率", label_en = "Done (%)" }
complaints = { type = "int", min = 0, default = 0 }
visits = { type = "int", min = 0, default = 10 }
planned = { type = "int", min = 0, default = 10 }
sat_staff = { type = "decimal", min = 0, max = 100, default = 100 }
sat_users = { type = "decimal", min = 0, max = 100, default = 100 }
self_score = { type = "decimal", default = 100 }
incidents = { type = "int", min = 0, default = 0 }
fraud = { type = "bool", default = false }

[appraisal]

[appraisal.groups.work]
label = "工作"
label_en = "Work"
weight = 0.75

[appraisal.groups.people]
weight = 0.25

[[appraisal.indicators]]
id = "completion"
label = "任务完成"
label_en = "Task completion"
group = "work"
weight = 0.5
value = "done"
normalise = { method = "linear", floor = 50, target = 100 }

[[appraisal.indicators]]
id = "complaints"
group = "work"
weight = 0.25
value = "complaints"
normalise = { method = "thresholds", higher_is_better = false, steps = [
  { at = 0, score = 100 }, { at = 2, score = 60 }, { at = 5, score = 20 }] }

[[appraisal.indicators]]
id = "visit_rate"
group = "work"
weight = 0.25
value = "visits / planned * 100"
normalise = { method = "bands", bands = [
  { from = 0, to = 50, score = 20 }, { from = 50, to = 80, score = 60 },
  { from = 80, to = 100, score = 100 }] }

[[appraisal.indicators]]
id = "satisfaction"
group = "people"
weight = 0.6
raters = { sat_staff = 1, sat_users = 2 }
normalise = { method = "linear", floor = 60, target = 100 }

[[appraisal.indicators]]
id = "self"
group = "people"
weight = 0.4
value = "self_score"
normalise = { method = "none" }

[[appraisal.grades]]
id = "top"
label = "优秀"
label_en = "Excellent"
min_score = 90

[[appraisal.grades]]
id = "good"
label = "良好"
min_score = 75

[[appraisal.grades]]
id = "ok"
min_score = 60

[[appraisal.grades]]
id = "poor"
label_en = "Poor"
min_score = 0

[[appraisal.vetoes]]
id = "incident"
label = "重大事故"
label_en = "A major incident"
when = "incidents > 0"

[[appraisal.vetoes]]
id = "fraud"
when = "fraud"

[appraisal.quota]
grade = "top"
max_share = 0.25
rounding = "floor"
tie_break = ["total", "indicator:completion", "subject_id"]
"""

GRADES = ("top", "good", "ok", "poor")


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> civicscore.Policy:
    path = tmp_path_factory.mktemp("appr") / "policy.toml"
    path.write_text(POLICY.lstrip("\n"), encoding="utf-8")
    return civicscore.load(path, today=dt.date(2025, 1, 1))


def subj(sid: str, **facts: Any) -> dict[str, Any]:
    return {"subject_id": sid, "done": 100, **facts}


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing ``needle`` (after the fixture's dedent)."""
    hits = [i for i, ln in enumerate(text.lstrip("\n").splitlines(), start=1) if needle in ln]
    return hits[nth - 1]


# --- worked scenarios ----------------------------------------------------------------------


def test_full_trace_raw_normalised_weighted_total_grade(policy: civicscore.Policy) -> None:
    d = policy.appraisal.evaluate(subj("a", done="90", complaints=1, visits=9,
                                       sat_staff=90, sat_users=81, self_score=70), as_of=AS_OF)
    assert d.status == "scored" and d.row == 1
    t = {x.id: x for x in d.indicators}
    # linear: (90 - 50) / (100 - 50) x 100 = 80; x 0.5 x 0.75 = 30
    assert (t["completion"].raw, t["completion"].normalised, t["completion"].weighted) == \
        (90, 80, 30)
    # thresholds, lower is better: the lowest step at >= 1 is at 2 -> 60; x 0.25 x 0.75
    assert (t["complaints"].normalised, t["complaints"].weighted) == (60, 11.25)
    # bands: 9 / 10 x 100 = 90 is in [80, 100] -> 100
    assert (t["visit_rate"].raw, t["visit_rate"].normalised) == (90, 100)
    # raters: (90 x 1 + 81 x 2) / 3 = 84 -> (84 - 60) / 40 x 100 = 60; x 0.6 x 0.25 = 9
    sat = t["satisfaction"]
    assert sat.raw == 84 and sat.normalised == pytest.approx(60) and sat.weighted == \
        pytest.approx(9)
    assert [(r.fact, r.value, r.weight) for r in sat.raters] == [("sat_staff", 90, 1),
                                                                 ("sat_users", 81, 2)]
    assert (t["self"].normalised, t["self"].weight, t["self"].group_weight) == (70, 0.4, 0.25)
    assert d.total == 76.0
    assert (d.computed_grade, d.grade, d.grade_label) == ("good", "good", "良好")
    assert d.reason_codes == ("INDICATOR",) * 5 + ("TOTAL", "GRADE")
    assert not d.needs_confirmation and d.vetoed == () and d.rank is None
    assert d.policy.id == "appr-test" and d.as_of == AS_OF
    text = d.explain()
    assert "任务完成 (Task completion): done = 90 -> 80" in text
    assert "x weight 0.5 x group 工作 (Work) 0.75 = 30" in text
    assert "rater-weighted mean of sat_staff 90 x1, sat_users 81 x2 = 84" in text
    assert "14 short of 优秀 (Excellent) at 90" in text
    assert "quota" in text and "was not applied" in text


def test_edges_of_each_method(policy: civicscore.Policy) -> None:
    run = policy.appraisal.evaluate_many([
        subj("clamp", done=40, complaints=6, visits=11),    # linear clamps; no step; no band
        subj("edge", done=100, complaints=5, visits=10),    # 100 is in the last band (inclusive)
        subj("step", complaints=2, visits=8, self_score=0),
    ], as_of=AS_OF)
    clamp, edge, step = run.decisions
    c = {x.id: x for x in clamp.indicators}
    assert c["completion"].normalised == 0 and "clamped to 0" in c["completion"].how
    assert c["complaints"].normalised == 0 and c["visit_rate"].normalised == 0
    assert {"NO_STEP_REACHED", "OUT_OF_BANDS"} <= set(clamp.reason_codes)
    assert "110 falls in no band" in clamp.explain()
    e = {x.id: x for x in edge.indicators}
    assert e["visit_rate"].normalised == 100 and e["complaints"].normalised == 20
    s = {x.id: x for x in step.indicators}
    assert s["complaints"].normalised == 60 and s["visit_rate"].normalised == 100
    assert s["self"].normalised == 0


def test_total_rounds_half_up_to_two_decimals(load_text: Callable[..., Any]) -> None:
    p = load_text("""
        [policy]
        id = "r"
        version = "1"
        [facts.subject]
        x = { type = "decimal" }
        [appraisal]
        [[appraisal.indicators]]
        id = "x"
        weight = 1
        value = "x"
        normalise = { method = "none" }
        [[appraisal.grades]]
        id = "pass"
        min_score = 60
        [[appraisal.grades]]
        id = "fail"
        min_score = 0
    """)
    assert p.appraisal.evaluate({"subject_id": "a", "x": 2.675}, as_of=AS_OF).total == 2.68
    d = p.appraisal.evaluate({"subject_id": "b", "x": "59.995"}, as_of=AS_OF)
    assert (d.total, d.grade) == (60.0, "pass")  # rounded before the grade is chosen


def test_veto_gives_lowest_grade_and_needs_confirmation(policy: civicscore.Policy) -> None:
    d = policy.appraisal.evaluate(subj("v", incidents=2, fraud="yes"), as_of=AS_OF)
    assert d.total == 100 and d.computed_grade == "top" and d.grade == "poor"
    assert d.vetoed == ("incident", "fraud") and d.needs_confirmation
    veto = [r for r in d.reasons if r.code == "VETO"]
    assert veto[0].facts == {"incidents": 2} and veto[1].facts == {"fraud": True}
    assert "重大事故 (A major incident)" in veto[0].message
    assert "a human must confirm this before it takes effect" in veto[0].message
    assert "the total alone gives 优秀 (Excellent); Poor is a recommendation" in d.explain()


def test_quota_with_tie_break_order(policy: civicscore.Policy) -> None:
    cohort = [
        subj("p1", self_score=50),               # 95
        subj("p2", done=98, self_score=65),      # 95, but a lower completion score
        subj("p0", self_score=50),               # 95, same completion as p1: p0 first
        subj("p3", self_score=80),               # 98
        subj("p4", incidents=1),                 # 100, vetoed: not in the quota
        subj("low1", done=60), subj("low2", done=70), subj("low3", done=50),
        {"subject_id": "bad", "done": "lots"},   # rejected: not in the cohort
    ]
    r = policy.appraisal.evaluate_many(cohort, as_of=AS_OF)
    by = r.by_subject()
    assert [by[s].total for s in ("p1", "p2", "p0", "p3")] == [95, 95, 95, 98]
    assert r.quota is not None
    assert (r.quota.cohort, r.quota.places, r.quota.candidates) == (8, 2, 4)
    assert r.quota.kept == ("p3", "p0") and r.quota.demoted == ("p1", "p2")
    assert [(by[s].grade, by[s].rank) for s in ("p3", "p0", "p1", "p2")] == \
        [("top", 1), ("top", 2), ("good", 3), ("good", 4)]
    assert by["p1"].computed_grade == "top" and by["p1"].needs_confirmation
    assert not by["p3"].needs_confirmation and by["p3"].reason_codes[-1] == "QUOTA_KEPT"
    demoted = by["p2"].reasons[-1]
    assert demoted.code == "QUOTA_DEMOTED" and demoted.threshold == 2
    for words in ("at most 25% of the 8 scored subjects", "floor(0.25 x 8) = 2",
                  "ranked 4 of 4", "total (higher first), then completion score",
                  "moved to 良好", "until a human confirms"):
        assert words in demoted.message
    assert by["p4"].grade == "poor" and by["p4"].rank is None
    assert "QUOTA_KEPT" not in by["p4"].reason_codes
    assert "2 kept, 2 moved down" in r.summary()
    # The order of the input does not change who keeps the grade.
    again = policy.appraisal.evaluate_many(list(reversed(cohort)), as_of=AS_OF)
    assert {d.subject_id: d.grade for d in again.scored} == \
        {d.subject_id: d.grade for d in r.scored}


@pytest.mark.parametrize(("share", "n", "rounding", "places"), [
    (0.25, 7, "floor", 1), (0.25, 7, "round_half_up", 2), (0.25, 7, "ceil", 2),
    (0.7, 10, "ceil", 7), (0.3, 5, "round_half_up", 2), (0.1, 5, "floor", 0),
])
def test_quota_rounding(load_text: Callable[..., Any], share: float, n: int, rounding: str,
                        places: int) -> None:
    text = POLICY.replace("max_share = 0.25", f"max_share = {share}").replace(
        'rounding = "floor"', f'rounding = "{rounding}"')
    r = load_text(text).appraisal.evaluate_many([subj(f"s{i}") for i in range(n)], as_of=AS_OF)
    assert r.quota.places == places
    assert [d.grade for d in r.decisions].count("top") == places
    assert [d.subject_id for d in r.decisions if d.grade == "top"] == \
        [f"s{i}" for i in range(places)]  # all tied on every key: subject id decides


def test_rejections_carry_every_reason(policy: civicscore.Policy) -> None:
    r = policy.appraisal.evaluate_many([
        {"done": 90, "complaints": -1},                          # no id, and below min
        {"subject_id": "x", "done": "ninety", "fraud": "maybe"},
        subj("y", planned=0),                                    # 9 / 0: division by zero
        subj("z", self_score=120),                               # method none: not 0-100
        subj("y"),
        UnreadableRow(6, "row 6 (line 7) has 3 cells, the header has 9"),
        "junk",
        {"subject_id": "w"},                                     # 'done' is required
    ], as_of=AS_OF)
    codes = [d.reason_codes for d in r.decisions]
    assert codes == [("MISSING_FIELD", "OUT_OF_RANGE"), ("INVALID_FIELD", "INVALID_FIELD"),
                     ("EXPR_ERROR",), ("SCORE_OUT_OF_RANGE",), ("DUPLICATE_RECORD",),
                     ("UNREADABLE_ROW",), ("UNREADABLE_ROW",), ("MISSING_FIELD",)]
    assert all(d.rejected and d.total is None and d.grade == "" for d in r.decisions)
    assert [d.row for d in r.decisions] == list(range(1, 9))
    assert r.decisions[0].subject_id == "row 1"
    assert "record x: field 'done': expected a number, got 'ninety'" in r.decisions[1].explain()
    assert "division by zero" in r.decisions[2].reasons[0].message
    assert "visits / planned * 100" in r.decisions[2].reasons[0].message
    assert "gives 120" in r.decisions[3].reasons[0].message
    assert "already appears in row 3" in r.decisions[4].reasons[0].message
    assert r.decisions[5].reasons[0].message.startswith("row 6 (line 7)")
    rows = r.rejected_rows()
    assert len(rows) == 8 and rows[1]["reason_codes"] == ["INVALID_FIELD", "INVALID_FIELD"]
    assert r.quota is not None and r.quota.cohort == 0 and r.quota.places == 0


def test_rows_details_and_table(policy: civicscore.Policy) -> None:
    r = policy.appraisal.run([subj("a"), subj("b", incidents=1), {"subject_id": "c"}],
                             as_of=AS_OF)
    out = list(r.output_rows())
    assert [o["status"] for o in out] == ["scored", "scored", "rejected"]
    assert out[1]["vetoed"] == ["incident"] and out[1]["needs_confirmation"] is True
    # 25% of 2 scored subjects, rounded down, is 0 places: 'a' moves down a grade.
    assert (out[0]["computed_grade"], out[0]["grade"], out[0]["rank"]) == ("top", "good", 1)
    assert {"policy_id", "policy_version", "policy_hash", "as_of", "reason_codes",
            "computed_grade"} <= set(out[0])
    details = list(r.detail_rows())
    assert len(details) == 2 * 5 and details[3]["indicator"] == "satisfaction"
    assert details[3]["raters"] == ["sat_staff=100 x1", "sat_users=100 x2"]
    assert details[0]["as_of"] == AS_OF and details[0]["policy_id"] == "appr-test"
    _, columns, rows = r.table()
    assert columns == ["subject", "total", "grade", "notes"]
    assert rows[0] == ["a", "100", "良好 (good)", "quota: moved down from top (rank 1); to confirm"]
    assert rows[1][3] == "veto: incident (bands gave top); to confirm"
    assert rows[2][3] == "rejected: MISSING_FIELD"
    json.dumps(r.to_jsonable())  # everything is plain JSON


def test_outside_effective_dates_is_refused(load_text: Callable[..., Any]) -> None:
    p = load_text(POLICY.replace('version = "1"',
                                 'version = "1"\neffective = { from = 2025-01-01 }'))
    with pytest.raises(civicscore.CivicScoreError, match="in effect from 2025-01-01"):
        p.appraisal.evaluate_many([subj("a")], as_of=dt.date(2024, 12, 31))
    with pytest.raises(civicscore.CivicScoreError):
        p.appraisal.evaluate(subj("a"), as_of=dt.date(2024, 12, 31))


def test_baseline_section() -> None:
    p = civicscore.load("baseline")
    d = p.appraisal.evaluate({
        "subject_id": "w1", "tasks_completed_pct": 92, "requests_resolved_pct": "88",
        "satisfaction_staff": 90, "satisfaction_users": 85, "satisfaction_departments": 80,
        "satisfaction_leaders": 95}, as_of=AS_OF)
    # 80 x 0.4 + 85 x 0.4 + ((90x3 + 85x6 + 80x3 + 95x3) / 15 = 87 -> 67.5) x 0.2
    assert d.total == 79.5 and d.grade == "pass" and d.grade_label == "合格"
    assert d.indicator("satisfaction").raw == 87


def test_example_input_with_example_policy() -> None:
    p = civicscore.load(EXAMPLE_POLICY)
    rows = list(read_records(EXAMPLES / "appraisal-subjects.csv"))
    r = p.appraisal.evaluate_many(rows, as_of=AS_OF)
    assert 10 <= len(rows) <= 25 and len(r.decisions) == len(rows)
    assert 1 <= len(r.rejected) < len(rows)
    assert r.quota is not None and r.quota.demoted and all(
        d.grade in ("excellent", "good", "pass", "fail") for d in r.scored)
    assert any(d.vetoed for d in r.scored)


# --- load-time errors ------------------------------------------------------------------------


def test_weights_must_sum_to_one_with_located_errors(write_policy: Callable[..., Path]) -> None:
    text = POLICY.replace("weight = 0.25\nvalue = \"complaints\"",
                          "weight = 0.15\nvalue = \"complaints\"").replace(
        "[appraisal.groups.people]\nweight = 0.25", "[appraisal.groups.people]\nweight = 0.2")
    path = write_policy(text)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    first_weight = line_of(text, "weight = 0.5")
    group_weight = line_of(text, "weight = 0.75")
    assert problems_of(e) == [
        f"{path}:{group_weight}:10: group weights sum to 0.95 (work 0.75, people 0.2); they "
        f"must sum to 1 [appraisal.groups.work.weight]",
        f"{path}:{first_weight}:10: weights of group 'work' sum to 0.9 (completion 0.5, "
        f"complaints 0.15, visit_rate 0.25); they must sum to 1 "
        f"[appraisal.indicators[0].weight]",
    ]
    assert first_weight == 31 and group_weight == 21


BASE = """
[policy]
id = "bad"
version = "1"

[facts.subject]
a = { type = "decimal" }
b = { type = "int", default = 0 }
flag = { type = "bool", default = false }

[appraisal]

[[appraisal.indicators]]
id = "x"
weight = 0.5
value = "a"
normalise = { method = "linear", floor = 0, target = 100 }

[[appraisal.indicators]]
id = "y"
weight = 0.5
value = "b"
normalise = NORM

[[appraisal.grades]]
id = "high"
min_score = 50

[[appraisal.grades]]
id = "low"
min_score = 0
"""

NORM_LINE = 22


@pytest.mark.parametrize(("norm", "at", "message"), [
    ('{ method = "linear", floor = 10 }', None,
     "method = 'linear' needs target (floor: the value scoring 0; target: the value "
     "scoring 100)"),
    ('{ method = "linear", floor = 10, target = 10 }', "10 }", "target 10 equals floor 10"),
    ('{ method = "linear", floor = 10, target = 5 }', "5 }",
     "target 5 is below floor 10, but higher_is_better is true"),
    ('{ method = "linear", floor = 5, target = 0, higher_is_better = false, '
     'bands = [] }', "bands", "'bands' is only used with method = 'bands'"),
    ('{ method = "linear", floor = 0, target = 5, steps = [{ at = 1, score = 5 }] }', "steps",
     "'steps' is only used with method = 'thresholds'"),
    ('{ method = "thresholds", floor = 1, steps = [{ at = 1, score = 5 }] }', "floor",
     "'floor' is only used with method = 'linear'"),
    ('{ method = "bands", bands = [{ from = 0, to = 1, score = 5 }], target = 3 }', "target",
     "'target' is only used with method = 'linear'"),
    ('{ method = "none", higher_is_better = true }', "higher_is_better",
     "'higher_is_better' is not used with method = 'none'"),
    ('{ method = "thresholds" }', None, "method = 'thresholds' needs at least one step"),
    ('{ method = "thresholds", steps = [{ at = 1, score = 5 }, { at = 1, score = 6 }] }',
     "1, score = 6", "two steps are at 1 (steps 1 and 2)"),
    ('{ method = "thresholds", steps = [{ at = 5, score = 10 }, { at = 1, score = 50 }] }',
     "10 }", "the step at 5 scores 10, less than the step at 1 (50), but higher values are "
             "better"),
    ('{ method = "thresholds", higher_is_better = false, steps = [{ at = 5, score = 10 }, '
     '{ at = 1, score = 5 }] }', "5 }", "the step at 1 scores 5, less than the step at 5 "
                                        "(10), but lower values are better"),
    ('{ method = "bands" }', None, "method = 'bands' needs at least one band"),
    ('{ method = "bands", bands = [{ from = 5, to = 5, score = 1 }] }', "5, score",
     "band 1 goes from 5 to 5; 'from' must be below 'to'"),
    ('{ method = "bands", bands = [{ from = 0, to = 5, score = 1 }, '
     '{ from = 4, to = 9, score = 2 }] }', "4, to", "band 2 [4, 9) overlaps band 1 [0, 5)"),
    ('{ method = "bands", higher_is_better = false, bands = [{ from = 0, to = 5, score = 1 }, '
     '{ from = 5, to = 9, score = 2 }] }', "1 }",
     "band 1 scores 1, less than band 2 (2), but lower values are better"),
])
def test_normalise_checks(write_policy: Callable[..., Path], norm: str, at: str | None,
                          message: str) -> None:
    path = write_policy(BASE.replace("NORM", norm))
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    problems = e.value.problems
    assert len(problems) == 1, problems_of(e)
    p = problems[0]
    # Located at the key or value at fault; a missing key is reported at 'normalise'.
    col = 1 if at is None else len("normalise = ") + norm.index(at) + 1
    assert norm.count(at or "") == 1 or at is None
    assert (p.line, p.col) == (NORM_LINE, col), str(p)
    assert message in p.message, p.message
    assert p.path.startswith("appraisal.indicators[1].normalise")


def test_lower_is_better_bands_may_descend_and_a_gap_is_a_warning(
        write_policy: Callable[..., Path]) -> None:
    path = write_policy(BASE.replace("NORM", (
        '{ method = "bands", higher_is_better = false, bands = [{ from = 0, to = 5, '
        'score = 90 }, { from = 6, to = 9, score = 20 }] }')))
    with pytest.warns(civicscore.PolicyWarning, match="values from 5 up to 6 fall in no band"):
        p = civicscore.load(path)
    d = p.appraisal.evaluate({"subject_id": "s", "a": 0, "b": 7}, as_of=AS_OF)
    assert d.indicator("y").normalised == 20


def test_structure_checks_collect_every_problem(write_policy: Callable[..., Path]) -> None:
    text = """
        [policy]
        id = "bad"
        version = "1"

        [facts.subject]
        a = { type = "decimal" }
        flag = { type = "bool", default = false }
        subject_id = { type = "string", default = "" }

        [appraisal]

        [appraisal.groups.tasks]
        weight = 0.5

        [appraisal.groups.social]
        weight = 0.5

        [appraisal.groups.unused]
        weight = 0.1

        [[appraisal.indicators]]
        id = "x"
        group = "taks"
        weight = 1
        value = "a"
        raters = { a = 1 }
        normalise = { method = "none" }

        [[appraisal.indicators]]
        id = "x"
        group = "social"
        weight = 1
        raters = { a = 1, flag = 2, nope = 1, a2 = 0 }
        normalise = { method = "none" }

        [[appraisal.indicators]]
        id = "z"
        weight = 1
        normalise = { method = "none" }

        [[appraisal.grades]]
        id = "top"
        min_score = 80

        [[appraisal.grades]]
        id = "top"
        min_score = 80

        [[appraisal.grades]]
        id = "low"
        min_score = 10

        [[appraisal.vetoes]]
        id = "v"
        when = "a + 1"

        [[appraisal.vetoes]]
        id = "v"
        when = "flag"

        [appraisal.quota]
        grade = "tpo"
        max_share = 0.2
        tie_break = ["total", "indicator:y", "score"]
    """
    path = write_policy(text)
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    got = [(p.line, p.col, p.message) for p in e.value.problems]
    expected = [
        (8, 1, "fact name 'subject_id' is reserved"),
        (12, 1, "group 'tasks' has no indicators"),
        (13, 10, "group weights sum to 1.1 (tasks 0.5, social 0.5, unused 0.1); they must "
                 "sum to 1"),
        (18, 1, "group 'unused' has no indicators"),
        (23, 9, "unknown group 'taks'"),
        (26, 1, "indicator 'x' has both value and raters; give exactly one"),
        (30, 6, "indicator id 'x' is used twice (first in indicator 1)"),
        (33, 19, "rater fact 'flag' is a bool fact; raters read int or decimal facts"),
        (33, 29, "unknown fact 'nope'"),
        (33, 39, "unknown fact 'a2'"),
        (33, 44, "rater weight 0 of 'a2' must be more than 0"),
        (37, 1, "indicator 'z' has no group; when any indicator has a group, all must"),
        (37, 1, "indicator 'z' needs a value expression or raters"),
        (46, 6, "grade id 'top' is used twice"),
        (47, 13, "grades must be written best first with decreasing min_score: 80 is not "
                 "below 80 (top)"),
        (51, 13, "the last grade (low) must have min_score = 0, so that every total has a "
                 "grade"),
        (55, 9, "veto 'v' must give bool, this gives decimal"),
        (58, 6, "veto id 'v' is used twice"),
        (62, 9, "unknown grade 'tpo'"),
        (64, 23, "unknown indicator 'y' in tie_break"),
        (64, 38, "unknown tie_break entry 'score'"),
    ]
    assert len(got) == len(expected), got
    for (line, col, message), (want_line, want_col, words) in zip(got, expected, strict=True):
        assert (line, col) == (want_line, want_col) and message.startswith(words), \
            (line, col, message)
    lines = textwrap.dedent(text).lstrip("\n").splitlines()
    assert lines[7].startswith("subject_id") and lines[36] == 'id = "z"'
    hints = {p.message: p.hint for p in e.value.problems}
    assert hints["unknown group 'taks'"] == "did you mean 'tasks'?"
    assert hints["unknown grade 'tpo'"] == "did you mean 'top'?"
    assert hints["unknown fact 'a2'"] == "did you mean 'a'?"


def test_quota_on_the_lowest_grade_and_unknown_entity(load_text: Callable[..., Any]) -> None:
    text = POLICY.replace('grade = "top"', 'grade = "poor"').replace(
        "[appraisal]\n", '[appraisal]\nentity = "subjekt"\n')
    with pytest.raises(civicscore.PolicyError) as e:
        load_text(text)
    messages = [p.message for p in e.value.problems]
    assert any("no facts are declared for entity 'subjekt'" in m for m in messages)
    assert any("the quota cannot apply to the lowest grade 'poor'" in m for m in messages)
    assert {p.hint for p in e.value.problems} >= {"did you mean 'subject'?"}


# --- the command line --------------------------------------------------------------------------


def cli(*args: Any) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output + result.stderr
    return result


def test_cli_score_example(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    details = tmp_path / "trace.jsonl"
    r = cli("score", EXAMPLE_POLICY, "--scheme", "appraisal", EXAMPLES / "appraisal-subjects.csv",
            "--as-of", "2025-12-31", "--rejects", rejects, "--details", details)
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 16 and rows[0]["subject_id"] == "W001"
    assert rows[0]["policy_id"] == "example-district" and rows[0]["as_of"] == "2025-12-31"
    assert "12 of 16 subjects scored, 4 rejected" in r.stderr
    assert rejects.read_text(encoding="utf-8").count("\n") == 5  # header + 4 rejected rows
    trace = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    assert len(trace) == 12 * 3 and {t["indicator"] for t in trace} == {
        "task_completion", "requests_resolved", "satisfaction"}


def test_cli_explain(tmp_path: Path) -> None:
    record = {"subject_id": "W100", "tasks_completed_pct": 100, "requests_resolved_pct": 99,
              "satisfaction_staff": 99, "satisfaction_users": 99,
              "satisfaction_departments": 99, "satisfaction_leaders": 99,
              "financial_irregularities": True}
    r = cli("explain", EXAMPLE_POLICY, "--scheme", "appraisal", "--record",
            json.dumps(record), "--as-of", "2025-12-31")
    assert r.exit_code == 0, r.stderr
    assert ("Subject W100 (row 1): total 99.5, recommended grade 不合格 (Fail), to be "
            "confirmed by a person.") in r.stdout
    assert "财务违规 (Financial irregularities) holds" in r.stdout


def test_cli_check_fails_when_weights_sum_to_0_9(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = POLICY.replace('weight = 0.25\nvalue = "complaints"',
                          'weight = 0.15\nvalue = "complaints"')
    bad.write_text(text.lstrip("\n"), encoding="utf-8")
    r = cli("check", bad)
    assert r.exit_code == 1
    assert (f"{bad}:{line_of(text, 'weight = 0.5')}:10: weights of group 'work' sum to 0.9 "
            f"(completion 0.5, complaints 0.15, visit_rate 0.25); they must sum to 1") \
        in r.stdout


# --- properties --------------------------------------------------------------------------------


def _decimal_text(units: int, scale: int = 100) -> str:
    return str(Decimal(units) / scale)


@st.composite
def split_units(draw: st.DrawFn, parts: int, total: int = 100) -> list[int]:
    """``parts`` positive integers summing to ``total`` (weights in hundredths)."""
    cuts = sorted(draw(st.lists(st.integers(1, total - 1), min_size=parts - 1,
                                max_size=parts - 1, unique=True)))
    bounds = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(bounds)]


@dataclass
class Generated:
    text: str
    weight_lines: dict[tuple[str, str], int]  # ("group"|"indicator", id) -> line of weight
    sets: list[list[tuple[str, str]]]          # the weight sets that must each sum to 1


@st.composite
def weighted_policies(draw: st.DrawFn) -> Generated:
    """A valid appraisal policy with random groups, indicators and weights."""
    grouped = draw(st.booleans())
    n_groups = draw(st.integers(1, 3)) if grouped else 0
    sizes = [draw(st.integers(1, 3)) for _ in range(n_groups)] if grouped else \
        [draw(st.integers(1, 4))]
    lines = ['[policy]', 'id = "gen"', 'version = "1"', '', '[facts.subject]',
             'x = { type = "decimal", min = 0, max = 100 }', '', '[appraisal]']
    where: dict[tuple[str, str], int] = {}
    sets: list[list[tuple[str, str]]] = []
    if grouped:
        gw = draw(split_units(n_groups))
        for g in range(n_groups):
            lines += ['', f'[appraisal.groups.g{g}]']
            lines.append(f"weight = {_decimal_text(gw[g])}")
            where["group", f"g{g}"] = len(lines)
        sets.append([("group", f"g{g}") for g in range(n_groups)])
    k = 0
    for g, size in enumerate(sizes):
        ws = draw(split_units(size))
        members = []
        for w in ws:
            lines += ['', '[[appraisal.indicators]]', f'id = "i{k}"']
            if grouped:
                lines.append(f'group = "g{g}"')
            lines.append(f"weight = {_decimal_text(w)}")
            where["indicator", f"i{k}"] = len(lines)
            lines += ['value = "x"', 'normalise = { method = "none" }']
            members.append(("indicator", f"i{k}"))
            k += 1
        sets.append(members)
    lines += ['', '[[appraisal.grades]]', 'id = "a"', 'min_score = 50', '',
              '[[appraisal.grades]]', 'id = "b"', 'min_score = 0', '']
    return Generated("\n".join(lines), where, sets)


@given(gen=weighted_policies(), data=st.data())
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_weights_sum_to_one_or_the_policy_is_refused(
        write_policy: Callable[..., Path], gen: Generated, data: st.DataObject) -> None:
    path = write_policy(gen.text)
    p = civicscore.load(path)
    d = p.appraisal.evaluate({"subject_id": "s", "x": 100}, as_of=AS_OF)
    assert math.fsum(t.weight * t.group_weight for t in d.indicators) == pytest.approx(1, abs=1e-9)
    assert d.total == 100  # every indicator scores 100, so the weights must sum to 1

    # Now break one set: change one of its weights by 0.01.
    bad_set = data.draw(st.sampled_from(gen.sets))
    victim = data.draw(st.sampled_from(bad_set))
    line = gen.weight_lines[victim]
    lines = gen.text.split("\n")
    w = Decimal(lines[line - 1].split("=")[1].strip())
    new = w - Decimal("0.01") if w > Decimal("0.01") else w + Decimal("0.01")
    lines[line - 1] = f"weight = {new}"
    bad = write_policy("\n".join(lines), "bad.toml")
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(bad)
    (problem,) = e.value.problems
    assert problem.line == gen.weight_lines[bad_set[0]] and problem.col == 10
    assert "they must sum to 1" in problem.message and bad_set[0][1] in problem.message


@st.composite
def cohorts(draw: st.DrawFn) -> list[Any]:
    """Subjects of the test policy, some of them bad, some vetoed, many tied."""
    n = draw(st.integers(0, 25))
    out: list[Any] = []
    for i in range(n):
        kind = draw(st.sampled_from(["good"] * 6 + ["bad", "unreadable", "dup"]))
        if kind == "unreadable":
            out.append(UnreadableRow(i + 1, f"row {i + 1} cannot be read"))
            continue
        sid = f"s{draw(st.integers(0, i))}" if kind == "dup" else f"s{i}"
        rec: dict[str, Any] = {
            "subject_id": sid,
            "done": draw(st.sampled_from([100, 99.5, 95, 90, 70, 40])),
            "complaints": draw(st.integers(0, 6)),
            "visits": draw(st.integers(0, 12)),
            "self_score": draw(st.sampled_from([100, 90, 50, 0])),
            "incidents": draw(st.sampled_from([0, 0, 0, 1])),
            "fraud": draw(st.sampled_from([False, False, "yes"])),
        }
        if kind == "bad":
            field = draw(st.sampled_from(["done", "planned", "self_score", "subject_id",
                                          "sat_users"]))
            rec[field] = draw(st.sampled_from([None, "", "n/a", -5, 0, 150, True, 1e300,
                                               "1e400", "-0"]))
        out.append(rec)
    return out


def _places(share: float, n: int, rounding: str) -> int:
    mode = {"floor": ROUND_FLOOR, "ceil": ROUND_CEILING, "round_half_up": ROUND_HALF_UP}
    return int((Decimal(str(share)) * n).quantize(Decimal(1), rounding=mode[rounding]))


QUOTA_POLICIES: dict[tuple[float, str], civicscore.Policy] = {}


def quota_policy(tmp: Path, share: float, rounding: str) -> civicscore.Policy:
    if (share, rounding) not in QUOTA_POLICIES:
        path = tmp / f"q-{share}-{rounding}.toml"
        path.write_text(POLICY.lstrip("\n").replace("max_share = 0.25", f"max_share = {share}")
                        .replace('rounding = "floor"', f'rounding = "{rounding}"'),
                        encoding="utf-8")
        QUOTA_POLICIES[share, rounding] = civicscore.load(path, today=dt.date(2025, 1, 1))
    return QUOTA_POLICIES[share, rounding]


@given(records=cohorts(), share=st.sampled_from([0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 1.0]),
       rounding=st.sampled_from(["floor", "round_half_up", "ceil"]))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_cohort_properties(tmp_path_factory: pytest.TempPathFactory, records: list[Any],
                           share: float, rounding: str) -> None:
    policy = quota_policy(tmp_path_factory.getbasetemp(), share, rounding)
    r = policy.appraisal.evaluate_many(records, as_of=AS_OF)

    # Every row is scored or rejected, in input order; nothing is dropped.
    assert len(r.decisions) == len(records)
    assert [d.row for d in r.decisions] == list(range(1, len(records) + 1))
    for d in r.decisions:
        assert d.status in ("scored", "rejected") and d.reasons
        if d.rejected:
            assert d.total is None and d.grade == ""
        else:
            # The grade is always one of the policy's grades, and the total on 0-100.
            assert d.grade in GRADES and d.computed_grade in GRADES
            assert d.total is not None and 0 <= d.total <= 100
            assert len(d.indicators) == 5

    # The quota is never exceeded, and exactly the best-ranked candidates keep the grade.
    scored = r.scored
    k = _places(share, len(scored), rounding)
    top = [d for d in scored if d.grade == "top"]
    candidates = [d for d in scored if d.computed_grade == "top" and not d.vetoed]
    assert len(top) <= k and len(top) == min(k, len(candidates))
    assert r.quota is not None and r.quota.places == k
    assert sorted(d.rank for d in candidates) == list(range(1, len(candidates) + 1))
    for d in candidates:
        assert (d.grade == "top") == (d.rank <= k)
        if d.rank > k:
            assert d.grade == "good" and d.needs_confirmation
            assert d.reason_codes[-1] == "QUOTA_DEMOTED"
    ranked = sorted(candidates, key=lambda d: d.rank)
    for a, b in itertools.pairwise(ranked):
        assert (a.total, a.indicator("completion").normalised) >= \
            (b.total, b.indicator("completion").normalised)

    # A veto always gives the lowest grade, and needs a person's confirmation.
    for d in scored:
        if d.vetoed:
            assert d.grade == "poor" and d.needs_confirmation and "VETO" in d.reason_codes
        else:
            assert d.grade == d.computed_grade or "QUOTA_DEMOTED" in d.reason_codes

    # The result does not depend on the order of the input (for distinct ids).
    ids = [x.get("subject_id") for x in records if isinstance(x, dict)]
    if len(set(ids)) == len(ids):
        shuffled = list(records)
        random.Random(0).shuffle(shuffled)
        again = policy.appraisal.evaluate_many(shuffled, as_of=AS_OF)
        assert {d.subject_id: (d.grade, d.rank) for d in again.scored} == \
            {d.subject_id: (d.grade, d.rank) for d in scored}


# Monotonicity: for each method, a random higher-is-better normalisation; doing better on
# that indicator, all else equal, never lowers the total.

@st.composite
def normalisations(draw: st.DrawFn, method: str) -> tuple[str, float, float]:
    """TOML of a higher-is-better normalise table, and the raw range it is defined on."""
    num = st.integers(0, 1000).map(lambda v: v / 10)
    if method == "linear":
        lo, hi = sorted(draw(st.lists(num, min_size=2, max_size=2, unique=True)))
        return f'{{ method = "linear", floor = {lo}, target = {hi} }}', -50.0, 150.0
    if method == "thresholds":
        ats = draw(st.lists(num, min_size=1, max_size=5, unique=True))
        scores = sorted(draw(st.lists(st.integers(0, 100), min_size=len(ats),
                                      max_size=len(ats))))
        steps = ", ".join(f"{{ at = {a}, score = {s} }}"
                          for a, s in zip(sorted(ats), scores, strict=True))
        return f'{{ method = "thresholds", steps = [{steps}] }}', -50.0, 150.0
    if method == "bands":
        edges = sorted(draw(st.lists(num, min_size=2, max_size=6, unique=True)))
        scores = sorted(draw(st.lists(st.integers(0, 100), min_size=len(edges) - 1,
                                      max_size=len(edges) - 1)))
        bands = ", ".join(f"{{ from = {a}, to = {b}, score = {s} }}"
                          for a, b, s in zip(edges, edges[1:], scores, strict=False))
        return f'{{ method = "bands", bands = [{bands}] }}', edges[0], edges[-1]
    return '{ method = "none" }', 0.0, 100.0


MONO = """
[policy]
id = "mono"
version = "1"

[facts.subject]
x = { type = "decimal" }
other = { type = "decimal", default = 73.3 }

[appraisal]

[[appraisal.indicators]]
id = "x"
weight = 0.35
value = "x"
normalise = NORM

[[appraisal.indicators]]
id = "other"
weight = 0.65
value = "other"
normalise = { method = "linear", floor = 0, target = 100 }

[[appraisal.grades]]
id = "a"
min_score = 90

[[appraisal.grades]]
id = "b"
min_score = 45.5

[[appraisal.grades]]
id = "c"
min_score = 0
"""


@pytest.mark.parametrize("method", ["linear", "thresholds", "bands", "none"])
@given(data=st.data())
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_total_is_monotone_in_a_higher_is_better_raw_value(
        write_policy: Callable[..., Path], method: str, data: st.DataObject) -> None:
    norm, lo, hi = data.draw(normalisations(method))
    policy = civicscore.load(write_policy(MONO.replace("NORM", norm)))
    raws = sorted(data.draw(st.lists(st.floats(lo, hi, allow_nan=False), min_size=2,
                                     max_size=6)))
    other = data.draw(st.floats(0, 100))
    r = policy.appraisal.evaluate_many(
        [{"subject_id": f"s{i}", "x": x, "other": other} for i, x in enumerate(raws)],
        as_of=AS_OF)
    assert all(not d.rejected for d in r.decisions)
    totals = [d.total for d in r.decisions]
    assert totals == sorted(totals), (norm, raws, totals)
    order = ["c", "b", "a"]
    grades = [order.index(d.grade) for d in r.decisions]
    assert grades == sorted(grades)


def test_higher_is_better_false_runs_downhill(load_text: Callable[..., Any]) -> None:
    text = MONO.replace("NORM", '{ method = "linear", floor = 20, target = 0, '
                                'higher_is_better = false }')
    p = load_text(text)
    r = p.appraisal.evaluate_many([{"subject_id": str(x), "x": x, "other": 0}
                                   for x in (0, 5, 20, 30)], as_of=AS_OF)
    assert [d.indicator("x").normalised for d in r.decisions] == [100, 75, 0, 0]
