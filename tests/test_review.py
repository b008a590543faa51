"""Human review is recorded in the decision log: who, when, why, before and after, and the
policy hash; never silent, never by "." (issue 11, item 6)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from civicscore.audit import read_log, scan_log
from civicscore.cli import main
from civicscore.errors import ReviewError
from civicscore.review import current_values, record_review

from .conftest import EXAMPLE_POLICY, EXAMPLES

AT = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)


def logged(tmp_path: Path, scheme: str, name: str) -> tuple[Path, list[dict[str, Any]]]:
    log = tmp_path / "d.jsonl"
    r = CliRunner().invoke(main, ["score", str(EXAMPLE_POLICY), "--scheme", scheme,
                                  str(EXAMPLES / name), "-o", str(tmp_path / "o.csv"),
                                  "--as-of", "2025-12-31", "--log", str(log)])
    assert r.exit_code == 0, r.output
    return log, read_log(log)


@pytest.fixture
def visits_log(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    return logged(tmp_path, "visits", "visits-households.csv")


def test_an_override_is_an_entry_with_who_when_why_before_after_and_hash(visits_log) -> None:
    log, entries = visits_log
    first = entries[0]
    entry = record_review(log, first["decision_id"], "override", by="王芳",
                          reason="家访核实：老人已由子女接回同住", sets={"tier": "routine"}, at=AT)
    assert entry["before"] == {"tier": first["result"]["tier"]}
    assert entry["after"] == {"tier": "routine"}
    assert entry["by"] == "王芳" and entry["at"] == "2026-01-05T09:30:00+00:00"
    assert entry["policy"]["hash"] == first["policy"]["hash"]
    last = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert last == entry  # written to the log, whole
    contents = scan_log(log)
    assert contents.entries == entries and not contents.incomplete  # runs still whole
    assert current_values(contents.reviews, first["decision_id"]) == {"tier": "routine"}


@pytest.mark.parametrize("by, reason, sets, why", [
    (".", "家访核实后调整", {"tier": "routine"}, "does not name a person"),
    ("王芳", "-", {"tier": "routine"}, "gives no reason"),
    ("王芳", "家访核实后调整", {"teir": "routine"}, "did you mean 'tier'?"),
    ("王芳", "家访核实后调整", {}, "override needs --set"),
])
def test_a_review_that_says_nothing_is_refused(visits_log, by: str, reason: str,
                                               sets: dict[str, str], why: str) -> None:
    log, entries = visits_log
    size = log.stat().st_size
    with pytest.raises(ReviewError, match=why.replace("?", r"\?")):
        record_review(log, entries[0]["decision_id"], "override", by=by, reason=reason,
                      sets=sets)
    assert log.stat().st_size == size  # nothing written


def test_an_unknown_decision_is_named_with_did_you_mean(visits_log) -> None:
    log, entries = visits_log
    with pytest.raises(ReviewError, match="no decision"):
        record_review(log, entries[0]["decision_id"] + "x", "override", by="王芳",
                      reason="家访核实后调整", sets={"tier": "routine"})


def test_confirm_is_only_for_a_recommendation(tmp_path: Path) -> None:
    log, entries = logged(tmp_path, "appraisal", "appraisal-subjects.csv")
    pending = [e for e in entries if e["result"].get("needs_confirmation")]
    plain = next(e for e in entries if not e["result"].get("needs_confirmation")
                 and e["result"].get("status") != "rejected")
    with pytest.raises(ReviewError, match="needs no confirmation"):
        record_review(log, plain["decision_id"], "confirm", by="Li Wei",
                      reason="checked the incident report")
    assert pending, "the example appraisal has a veto to confirm"
    entry = record_review(log, pending[0]["decision_id"], "confirm", by="Li Wei",
                          reason="checked the incident report", at=AT)
    assert entry["before"] == {"grade": pending[0]["result"]["computed_grade"]}
    assert entry["after"] == {"grade": pending[0]["result"]["grade"]}


def test_the_cli_records_lists_shows_and_replay_reports_reviews(visits_log) -> None:
    log, entries = visits_log
    did = entries[0]["decision_id"]
    run = CliRunner()
    r = run.invoke(main, ["review", str(log), did, "override", "--set", "tier=routine",
                          "--by", "王芳", "--reason", "家访核实：子女已接回同住"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("recorded: ") and "王芳 overrode" in r.stdout
    r = run.invoke(main, ["review", str(log)])
    assert r.exit_code == 0 and "REVIEWED " in r.stdout and did in r.stdout
    r = run.invoke(main, ["review", str(log), did])
    assert r.exit_code == 0 and "Review:" in r.stdout and "After review: tier = 'routine'" \
        in r.stdout
    r = run.invoke(main, ["review", str(log), did, "override", "--set", "tier=routine"])
    assert r.exit_code == 2 and "--by NAME and --reason TEXT" in r.stderr
    r = run.invoke(main, ["replay", str(log)])
    assert r.exit_code == 0, r.output
    assert "REVIEWED" in r.stdout and "0 differ, 0 could not be replayed" in r.stdout


def test_the_concepts_command_lists_the_vocabulary() -> None:
    r = CliRunner().invoke(main, ["concepts"])
    assert r.exit_code == 0 and "GB/T 42195-2022" in r.stdout and "visit_consent" in r.stdout
    r = CliRunner().invoke(main, ["concepts", "--json"])
    data = json.loads(r.stdout)
    assert data["id"] == "civicscore-care" and any(c["id"] == "age" for c in data["concepts"])


def test_a_demotion_is_proposed_until_confirmed_and_the_log_holds_both(tmp_path: Path) -> None:
    log, entries = logged(tmp_path, "appraisal", "appraisal-subjects.csv")
    demoted = [e for e in entries if e["result"].get("needs_confirmation")]
    assert demoted
    did = demoted[0]["decision_id"]
    run = CliRunner()
    r = run.invoke(main, ["review", str(log)])
    assert r.exit_code == 0 and f"PROPOSED {did}: grade " in r.stdout
    assert "not final until a person confirms it" in r.stdout
    r = run.invoke(main, ["review", str(log), did])
    assert "  Proposed: " in r.stdout and "Final:" not in r.stdout
    r = run.invoke(main, ["review", str(log), did, "confirm", "--by", "Li Wei", "--reason",
                          "checked the incident report"])
    assert r.exit_code == 0, r.output
    r = run.invoke(main, ["review", str(log), did])
    grade = demoted[0]["result"]["grade"]
    assert "Proposed:" not in r.stdout and f"  Final: grade {grade!r}" in r.stdout
    r = run.invoke(main, ["review", str(log)])
    assert f"PROPOSED {did}:" not in r.stdout and "REVIEWED " in r.stdout
    contents = scan_log(log)  # the proposal (the decision) and the confirmation, both
    assert contents.entries == entries and contents.reviews[0]["decision_id"] == did
