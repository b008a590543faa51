"""An appeal of a decision that depends on its cohort (an appraisal quota or rank, a
liaison's caseload) says how the cohort it re-decided in differs from the run's, by id,
instead of comparing silently (issue 11, item 6)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.audit import DecisionLog, read_log
from civicscore.cli import main
from civicscore.io import read_records

from .conftest import EXAMPLE_POLICY, EXAMPLES

AS_OF = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def policy() -> civicscore.Policy:
    return civicscore.load(EXAMPLE_POLICY)


def logged(policy: civicscore.Policy, tmp_path: Path, scheme: str, name: str
           ) -> tuple[Path, list[Any], list[dict[str, Any]]]:
    records = list(read_records(EXAMPLES / name))
    log = DecisionLog(tmp_path / "d.jsonl")
    log.write_run(policy, scheme, AS_OF, policy.scheme(scheme).run(records, as_of=AS_OF),
                  records)
    return log.path, records, [e for e in read_log(log.path) if e["kind"] == "record"]


def test_an_appraisal_appeal_among_other_subjects_names_them(policy, tmp_path: Path) -> None:
    _, subjects, entries = logged(policy, tmp_path, "appraisal", "appraisal-subjects.csv")
    today = [s for s in subjects if s.get("subject_id") not in ("W001", "W002")]
    row = [s.get("subject_id") for s in today].index("W008") + 1
    a = civicscore.appeal(policy, "appraisal", today, {row: {"tasks_completed_pct": "99"}},
                          as_of=AS_OF, logged=entries)
    (note, *_) = a.notes
    assert "the cohort of W008 differs from the run that decided (the whole run)" in note.en
    assert "2 of its" in note.en and "(W001, W002)" in note.en and "W001、W002" in note.zh
    assert any("differ from what the run decided" in n.en for n in a.notes)
    assert a.explain().startswith("Warning: the cohort of W008 differs")


def test_a_correction_that_makes_a_subject_count_changes_the_quota_cohort(policy, tmp_path
                                                                          ) -> None:
    _, subjects, entries = logged(policy, tmp_path, "appraisal", "appraisal-subjects.csv")
    row = [s.get("subject_id") for s in subjects].index("W014") + 1
    a = civicscore.appeal(policy, "appraisal", subjects, {row: {"satisfaction_users": "88"}},
                          as_of=AS_OF, logged=entries)
    assert [n.en for n in a.notes] == [
        n.en for n in a.notes if "changes who counts in the cohort of W014" in n.en]
    assert len(a.notes) == 1 and "decided in the run" in a.notes[0].en
    plain = civicscore.appeal(policy, "appraisal", subjects, {row: {"satisfaction_users": "88"}},
                              as_of=AS_OF)  # without the run: said, not silent
    assert "without the run that decided" in plain.notes[0].en


def test_moving_a_household_to_another_liaison_is_another_caseload(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    r = CliRunner().invoke(main, ["score", str(EXAMPLE_POLICY), "--scheme", "visits",
                                  str(EXAMPLES / "visits-households.csv"), "-o",
                                  str(tmp_path / "o.csv"), "--as-of", "2025-12-31",
                                  "--log", str(log)])
    assert r.exit_code == 0, r.output
    first = read_log(log)[0]
    r = CliRunner().invoke(main, ["appeal", str(log), first["decision_id"], "--set",
                                  "liaison_id=G02"], env={"CIVICSCORE_LANG": "en"})
    assert r.exit_code == 0, r.output
    assert "Warning: the correction moves H001 from liaison_id G01 to G02" in r.stdout
    r = CliRunner().invoke(main, ["appeal", str(log), first["decision_id"], "--set",
                                  "age_oldest=60"])
    assert r.exit_code == 0 and "Warning" not in r.stdout and "注意" not in r.stdout


def test_a_scheme_deciding_each_record_alone_has_no_cohort(policy) -> None:
    records = [{"household_id": "h1"}, {"household_id": "h2"}]
    a = civicscore.appeal(policy, "civility", records, {1: {}}, as_of=AS_OF, logged=[])
    assert a.notes == ()
