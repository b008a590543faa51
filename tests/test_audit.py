"""Decision logs, replay, redaction, human review and appeals."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import main
from civicscore.io import read_records

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES

SCHEMES = {
    "volunteer": "volunteer-activities.csv",
    "civility": "civility-households.csv",
    "visits": "visits-households.csv",
    "appraisal": "appraisal-subjects.csv",
}
NOW = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)


def score(*args: object) -> object:
    return CliRunner().invoke(main, ["score", str(EXAMPLE_POLICY), *map(str, args),
                                     "--as-of", "2025-12-31"])


def test_example_runs_replay_with_zero_differences(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    for scheme, name in SCHEMES.items():
        r = score("--scheme", scheme, EXAMPLES / name, "-o", tmp_path / f"{scheme}.csv",
                  "--log", log)
        assert r.exit_code == 0 and "decisions logged to" in r.stderr
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert {e["scheme"] for e in entries} == set(SCHEMES)
    first = entries[0]
    assert set(first) >= {"decision_id", "run_id", "logged_at", "policy", "as_of", "input",
                          "result", "scheme", "kind"}
    assert first["policy"]["hash"] == civicscore.load(EXAMPLE_POLICY).hash
    assert len({e["decision_id"] for e in entries}) == len(entries)
    r = CliRunner().invoke(main, ["replay", str(log)])
    assert r.exit_code == 0, r.stdout
    assert f"{len(entries)} decisions replayed, 0 differ, 0 could not be replayed" in r.stdout


def test_a_run_logged_in_chinese_replays_in_chinese(tmp_path: Path) -> None:
    """The run's header names the language its reasons were worded in (``--lang zh``
    here); replay words them so, whatever language the replaying process speaks."""
    log = tmp_path / "decisions.jsonl"
    r = CliRunner().invoke(main, ["score", "--lang", "zh", str(EXAMPLE_POLICY),
                                  str(EXAMPLES / SCHEMES["visits"]), "--scheme", "visits",
                                  "--as-of", "2025-12-31", "-o", str(tmp_path / "v.csv"),
                                  "--log", str(log)])
    assert r.exit_code == 0, r.output
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries[0]["lang"] == "zh"
    assert any("探访" in m for e in entries for m in (e["result"] or {}).get("reasons", []))
    r = CliRunner().invoke(main, ["replay", str(log)])  # the suite speaks English
    assert r.exit_code == 0, r.stdout
    assert f"{len(entries)} decisions replayed, 0 differ" in r.stdout


def test_replay_reports_a_tampered_decision(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    score("--scheme", "visits", EXAMPLES / SCHEMES["visits"], "-o", tmp_path / "o.csv",
          "--log", log)
    lines = log.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["result"]["tier"] = "routine"
    lines[0] = json.dumps(entry, ensure_ascii=False)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["replay", str(log)])
    assert r.exit_code == 1
    assert f"DIFFERS {entry['decision_id']}: differs in tier" in r.stdout
    assert "tier: logged 'routine', now 'weekly_care'" in r.stdout


def test_replay_needs_the_policy_with_the_same_hash(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    score("--scheme", "visits", EXAMPLES / SCHEMES["visits"], "-o", tmp_path / "o.csv",
          "--log", log)
    text = log.read_text().replace(civicscore.load(EXAMPLE_POLICY).hash, "0" * 64)
    log.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(main, ["replay", str(log)])
    assert r.exit_code == 1 and "no policy with hash 000000000000" in r.stdout


def test_a_file_that_is_not_a_log_is_an_input_error(tmp_path: Path) -> None:
    # No line of it is a whole log entry (the first lacks every field of one): refused,
    # naming the first line. A log with whole runs and a damaged line is replayed, with
    # the damaged run named (tests/test_operator_safety_log.py).
    log = tmp_path / "d.jsonl"
    log.write_text('{"format": "civicscore-decision-log/1"}\nnot json\n', encoding="utf-8")
    r = CliRunner().invoke(main, ["replay", str(log)])
    assert r.exit_code == 2 and f"{log}:1: not a civicscore decision-log entry" in r.stderr
    log.write_text('not json\n{"format": "civicscore-decision-log/1"}\n', encoding="utf-8")
    r = CliRunner().invoke(main, ["replay", str(log)])
    assert r.exit_code == 2 and f"{log}:1: not a decision-log line" in r.stderr


def test_redaction_hides_fields_in_the_log_but_never_changes_results(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICSCORE_REDACT_KEY", "a secret the office keeps")
    plain, logged = tmp_path / "plain.csv", tmp_path / "logged.csv"
    log = tmp_path / "d.jsonl"
    score("--scheme", "volunteer", EXAMPLES / SCHEMES["volunteer"], "-o", plain)
    r = score("--scheme", "volunteer", EXAMPLES / SCHEMES["volunteer"], "-o", logged,
              "--log", log, "--redact", "volunteer_id=hash", "--redact", "record_id=erase")
    assert r.exit_code == 0
    assert plain.read_text() == logged.read_text()  # the returned results are untouched
    text = log.read_text()
    assert "V01" not in text and "A001" not in text
    assert '"record_id": "[erased]"' in text and '"volunteer_id": "hmac-sha256:' in text
    report = civicscore.replay(log, {civicscore.load(EXAMPLE_POLICY).hash:
                                     civicscore.load(EXAMPLE_POLICY)})
    # hashed ids keep volunteers apart, so statements replay; erased record ids make
    # every record look like a duplicate, which replay reports instead of hiding.
    assert not report.differences and report.skipped


def test_redact_needs_a_log_and_a_valid_rule(tmp_path: Path) -> None:
    r = score("--scheme", "visits", EXAMPLES / SCHEMES["visits"], "--redact", "x=erase")
    assert r.exit_code == 2 and "add --log FILE" in r.stderr
    r = score("--scheme", "visits", EXAMPLES / SCHEMES["visits"], "--log",
              tmp_path / "d.jsonl", "--redact", "x=shred")
    assert r.exit_code == 2 and "FIELD=erase or FIELD=hash" in r.stderr


# --- human review -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy() -> civicscore.Policy:
    return civicscore.load(EXAMPLE_POLICY)


def test_override_keeps_the_computed_value(policy: civicscore.Policy) -> None:
    d = policy.visits.evaluate({"household_id": "h1", "age_oldest": 70}, as_of=AS_OF)
    assert d.tier == "routine"
    reviewed = civicscore.override(d, "tier", "monthly_care", reason="husband in hospice",
                                   author="liaison Li", policy=policy, at=NOW)
    assert reviewed.decision.tier == "routine" and reviewed.final("tier") == "monthly_care"
    row = reviewed.to_row()
    assert row["tier"] == "routine" and row["final_tier"] == "monthly_care"
    assert row["overrides"][0]["author"] == "liaison Li"
    assert "liaison Li overrode tier on 2026-01-05 09:30: computed 'routine', final " \
           "'monthly_care' — husband in hospice" in reviewed.explain()
    again = civicscore.override(reviewed, "tier", "weekly_care", reason="fell twice",
                                author="Wang", at=NOW)
    assert [o.computed for o in again.overrides] == ["routine", "monthly_care"]


def test_override_is_refused_without_reason_or_for_unknown_values(policy) -> None:
    d = policy.visits.evaluate({"household_id": "h1", "age_oldest": 70}, as_of=AS_OF)
    with pytest.raises(civicscore.CivicScoreError, match="needs a reason"):
        civicscore.override(d, "tier", "weekly_care", reason=" ", author="Li")
    with pytest.raises(civicscore.CivicScoreError, match="not a tier of example-district"):
        civicscore.override(d, "tier", "weekly", reason="r", author="Li", policy=policy)
    with pytest.raises(civicscore.CivicScoreError, match="allows overriding tier, not 'next_due'"):
        civicscore.override(d, "next_due", AS_OF, reason="r", author="Li")
    bad = policy.visits.evaluate({"household_id": "h2"}, as_of=AS_OF)
    with pytest.raises(civicscore.CivicScoreError, match="correct the record and appeal"):
        civicscore.override(bad, "tier", "routine", reason="r", author="Li")


def test_veto_is_a_recommendation_until_confirmed(policy) -> None:
    subjects = list(read_records(EXAMPLES / SCHEMES["appraisal"]))
    vetoed = next(d for d in policy.appraisal.evaluate_many(subjects, as_of=AS_OF).decisions
                  if d.vetoed)
    pending = civicscore.Reviewed(vetoed)
    assert pending.awaiting_confirmation and "recommendation" in pending.explain()
    done = civicscore.confirm(vetoed, reason="incident confirmed by the safety office",
                              author="Director Zhao", at=NOW)
    assert not done.awaiting_confirmation and done.final("grade") == vetoed.grade
    assert done.overrides[0].kind == "confirmation"
    lifted = civicscore.override(vetoed, "grade", vetoed.computed_grade,
                                 reason="incident was not the worker's", author="Zhao")
    assert lifted.final("grade") == vetoed.computed_grade and not lifted.awaiting_confirmation
    plain = next(d for d in policy.appraisal.evaluate_many(subjects, as_of=AS_OF).decisions
                 if not d.needs_confirmation and not d.rejected)
    with pytest.raises(civicscore.CivicScoreError, match="needs no confirmation"):
        civicscore.confirm(plain, reason="r", author="a")


def test_civility_stars_override_is_bounded(policy) -> None:
    d = policy.civility.evaluate({"household_id": "h1"}, as_of=AS_OF)
    with pytest.raises(civicscore.CivicScoreError, match="from 0 to 10"):
        civicscore.override(d, "stars", 11, reason="r", author="a", policy=policy)
    assert civicscore.override(d, "stars", 10, reason="r", author="a",
                               policy=policy).final("stars") == 10


# --- appeals ----------------------------------------------------------------------------


def test_appeal_shows_what_corrected_facts_change(policy) -> None:
    records = [{"household_id": "h1", "age_oldest": 84, "last_visit": "2025-12-01"},
               {"household_id": "h2", "age_oldest": 50, "last_visit": "2025-12-01"}]
    a = civicscore.appeal(policy, "visits", records, {1: {"lives_alone": True}}, as_of=AS_OF,
                          expected_hash=policy.hash)
    assert set(a.changes) == {"record 1"}
    assert a.changes["record 1"]["tier"] == ("routine", "weekly_care")
    assert "tier: 'routine' -> 'weekly_care'" in a.explain()
    unchanged = civicscore.appeal(policy, "visits", records, {2: {"age_oldest": 51}},
                                  as_of=AS_OF)
    assert not unchanged.changes and "no decision changes" in unchanged.explain()


def test_appeal_runs_only_under_the_same_policy_version(policy) -> None:
    with pytest.raises(civicscore.CivicScoreError, match="must run under the policy that decided"):
        civicscore.appeal(policy, "visits", [{"household_id": "h"}], {}, as_of=AS_OF,
                          expected_hash="f" * 64)
    with pytest.raises(civicscore.CivicScoreError, match="no row 3 to correct"):
        civicscore.appeal(policy, "visits", [{"household_id": "h"}], {3: {}}, as_of=AS_OF)


def test_appeal_in_a_cohort_shows_quota_effects(policy) -> None:
    subjects = list(read_records(EXAMPLES / SCHEMES["appraisal"]))
    ids = [s.get("subject_id") for s in subjects]
    row = ids.index("W008") + 1
    a = civicscore.appeal(policy, "appraisal", subjects,
                          {row: {"tasks_completed_pct": "100", "requests_resolved_pct": "100",
                                 "satisfaction_staff": "100", "satisfaction_users": "100",
                                 "satisfaction_departments": "100",
                                 "satisfaction_leaders": "100"}}, as_of=AS_OF)
    assert a.changes[f"record {row}"]["grade"][1] == "excellent"
    assert len(a.changes) > 1  # someone else lost an excellent place to the quota


def test_appeal_command_from_a_log(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    score("--scheme", "visits", EXAMPLES / SCHEMES["visits"], "-o", tmp_path / "o.csv",
          "--log", log)
    first = json.loads(log.read_text().splitlines()[0])
    r = CliRunner().invoke(main, ["appeal", str(log), first["decision_id"], "--set",
                                  "age_oldest=60", "--set", "lives_alone=false"])
    assert r.exit_code == 0, r.output
    assert "record 1:" in r.stdout and "tier: 'weekly_care' -> 'routine'" in r.stdout
    r = CliRunner().invoke(main, ["appeal", str(log), "nope", "--set", "a=1"])
    assert r.exit_code == 2 and "is not a record decision" in r.stderr


def test_an_empty_log_is_not_a_pass(tmp_path: Path) -> None:
    """An empty file replays "0 decisions, 0 differ" and verified as fine: it proves
    nothing, so both commands now say it is empty and exit non-zero."""
    log = tmp_path / "decisions.jsonl"
    log.write_text("", encoding="utf-8")
    r = CliRunner().invoke(main, ["replay", str(log)])
    assert r.exit_code == 2 and "the decision log is empty" in r.stderr
    r = CliRunner().invoke(main, ["verify-log", str(log)])
    assert r.exit_code == 1 and "the log holds no entries" in r.output
