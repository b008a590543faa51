"""Policy tests as data: [[case]] tables, civicscore test, coverage and the pytest plugin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cases import compare, run_cases
from civicscore.cli import main

POLICY = """
[policy]
id = "cases"
version = "1"

[volunteer]
rounding_minutes = 30

[volunteer.activities.patrol]
points_per_hour = 2

[volunteer.activities.cleanup]
points_per_hour = 1

[[volunteer.multipliers]]
id = "weekend"
when = "weekday(date) >= 6"
factor = 2

[[case]]
name = "two hours of patrol"
scheme = "volunteer"
as_of = 2025-12-31
tags = ["patrol"]
input = { record_id = "r1", volunteer_id = "v1", activity = "patrol", start = "2025-03-04T09:00", end = "2025-03-04T11:10", confirmed = true }
expect = { earned = 4.0, hours = 2 }
expect_details = { reason_codes = ["RATE"] }

[[case]]
name = "saturday patrol is doubled"
scheme = "volunteer"
as_of = 2025-12-31
tags = ["weekend"]
records = [
  { record_id = "r1", volunteer_id = "v1", activity = "patrol", start = "2025-03-08T09:00", end = "2025-03-08T10:00", confirmed = true },
  { record_id = "r2", volunteer_id = "v1", activity = "patrol", start = "2025-03-08T09:30", end = "2025-03-08T10:00", confirmed = true },
]
expect = { earned = 4.001, balance = 4 }
tolerance = 0.01
expect_details = [{ status = "scored" }, { status = "rejected", reason_codes = ["OVERLAP"] }]
"""


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "cases.toml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def test_cases_pass_and_report_coverage(policy_file: Path) -> None:
    policy = civicscore.load(policy_file)
    results, coverage = run_cases(policy)
    assert [r.passed for r in results] == [True, True]
    assert coverage.rules == {"volunteer.activities.patrol", "volunteer.activities.cleanup",
                              "volunteer.multipliers.weekend"}
    assert coverage.missing == ["volunteer.activities.cleanup"]
    assert round(coverage.percent) == 67


def test_selection_by_name_or_tag(policy_file: Path) -> None:
    policy = civicscore.load(policy_file)
    assert [r.name for r in run_cases(policy, "weekend")[0]] == ["saturday patrol is doubled"]
    assert [r.name for r in run_cases(policy, "two*")[0]] == ["two hours of patrol"]


def test_failing_case_explains_itself(policy_file: Path) -> None:
    policy_file.write_text(POLICY.replace("earned = 4.0, hours = 2", "earned = 5, hours = 2"),
                           encoding="utf-8")
    r = CliRunner().invoke(main, ["test", str(policy_file)])
    assert r.exit_code == 1
    assert "FAIL" in r.stdout and "output: earned expected 5, got 4.0" in r.stdout
    assert "| Record r1 (patrol, volunteer v1, 2025-03-04) earned 4 points" in r.stdout
    assert "1 passed, 1 failed" in r.stdout


def test_min_coverage(policy_file: Path) -> None:
    ok = CliRunner().invoke(main, ["test", str(policy_file), "--min-coverage", "60"])
    assert ok.exit_code == 0 and "rule coverage 67% (2 of 3)" in ok.stdout
    low = CliRunner().invoke(main, ["test", str(policy_file), "--min-coverage", "100"])
    assert low.exit_code == 1 and "not exercised: volunteer.activities.cleanup" in low.stdout


def test_case_mistakes_are_located(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(POLICY.replace('scheme = "volunteer"\nas_of = 2025-12-31\ntags = ["patrol"]',
                                   'scheme = "volunter"\nas_of = 2025-12-31\ntags = ["patrol"]'),
                    encoding="utf-8")
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    (p,) = e.value.problems
    assert p.line == 22 and "did you mean 'volunteer'?" in p.hint


def test_cases_do_not_change_the_hash(tmp_path: Path, policy_file: Path) -> None:
    bare = tmp_path / "bare.toml"
    bare.write_text(POLICY.split("[[case]]")[0], encoding="utf-8")
    assert civicscore.load(bare).hash == civicscore.load(policy_file).hash


def test_compare_rules() -> None:
    assert compare({"a": 1.0}, [{"a": 1.004}], 0.01, "output") == []
    assert compare({"reason_codes": ["X"]}, [{"reason_codes": ["Y", "X"]}], 0, "o") == []
    assert compare({"triggers": []}, [{"triggers": []}], 0, "o") == []
    assert compare({"triggers": []}, [{"triggers": ["t"]}], 0, "o") == [
        "o: triggers expected [], got ['t']"]
    assert compare({"d": "2025-01-01"}, [{"d": __import__("datetime").date(2025, 1, 1)}], 0,
                   "o") == []
    assert compare({"a": True}, [{"a": 1}], 0, "o") == ["o: a expected True, got 1"]
    assert compare({"z": 1}, [{"a": 1}], 0, "o") == ["o: no field 'z' (fields: a)"]
    assert compare([{"a": 1}, {"a": 2}], [{"a": 1}], 0, "o") == ["expected 2 o row(s), got 1"]


def test_pytest_collects_cases(policy_file: Path) -> None:
    policy_file.write_text(POLICY.replace("earned = 4.0, hours = 2", "earned = 5, hours = 2"),
                           encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(policy_file)], capture_output=True, text=True,
                         cwd=policy_file.parent)
    assert run.returncode == 1, run.stdout
    assert "1 failed, 1 passed" in run.stdout
    assert "case 'two hours of patrol' failed" in run.stdout
    assert "output: earned expected 5, got 4.0" in run.stdout


def test_a_case_giving_an_input_its_scheme_does_not_take_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(POLICY + '''
[[case]]
name = "redemptions through inputs"
scheme = "volunteer"
as_of = 2025-12-31
input = { record_id = "r9", volunteer_id = "v1", activity = "patrol", start = "2025-03-04T09:00", end = "2025-03-04T10:00", confirmed = true }
inputs = { redemptions = [{ redemption_id = "x", volunteer_id = "v1", date = 2025-04-01, points = 1 }], gifts = [] }
expect = { volunteer_id = "v1" }
''', encoding="utf-8")
    with pytest.raises(civicscore.PolicyError) as e:
        civicscore.load(path)
    messages = [p.message for p in e.value.problems]
    assert any("scheme 'volunteer' takes no 'gifts' input" in m for m in messages)
    assert all("gives redemptions twice" not in m for m in messages)
    fixed = path.read_text(encoding="utf-8").replace(', gifts = []', '')
    path.write_text(fixed, encoding="utf-8")
    results, _ = run_cases(civicscore.load(path), "inputs")
    assert [r.passed for r in results] == [True]  # redemptions given as inputs are applied
