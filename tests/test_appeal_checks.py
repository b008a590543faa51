"""An appeal that could not give the right answer is refused with the reason: a corrected
field the record does not have (a typo), or a run whose redacted inputs feed the rules."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from civicscore.cli import main

from .conftest import EXAMPLE_POLICY, EXAMPLES


def log_of(tmp_path: Path, *redact: str) -> tuple[Path, str]:
    log = tmp_path / "d.jsonl"
    args = [a for r in redact for a in ("--redact", r)]
    r = CliRunner().invoke(main, ["score", str(EXAMPLE_POLICY), "--scheme", "visits",
                                  str(EXAMPLES / "visits-households.csv"), "-o",
                                  str(tmp_path / "o.csv"), "--as-of", "2025-12-31",
                                  "--log", str(log), *args])
    assert r.exit_code == 0, r.output
    return log, json.loads(log.read_text("utf-8").splitlines()[0])["decision_id"]


def test_a_misspelt_field_is_refused_with_did_you_mean(tmp_path: Path) -> None:
    log, did = log_of(tmp_path)
    r = CliRunner().invoke(main, ["appeal", str(log), did, "--set", "agee_oldest=60"])
    assert r.exit_code == 2
    assert "'agee_oldest' is not a field of the appealed record" in r.stderr
    assert "did you mean 'age_oldest'?" in r.stderr


def test_an_appeal_from_erased_ids_is_refused_with_the_reason(tmp_path: Path) -> None:
    log, did = log_of(tmp_path, "household_id=erase")
    r = CliRunner().invoke(main, ["appeal", str(log), did, "--set", "age_oldest=60"])
    assert r.exit_code == 2
    assert "redacted household_id, which the rules read" in r.stderr


def test_an_appeal_with_by_and_reason_is_recorded_in_the_chained_log(tmp_path: Path) -> None:
    """An appeal decided by a person is written to the log: who, when, why, the
    corrected facts and what changed; the chain still verifies and replay shows it.
    Without --by and --reason it is a preview, and says it was not recorded."""
    log, did = log_of(tmp_path)
    lines = len(log.read_text("utf-8").splitlines())
    preview = CliRunner().invoke(main, ["appeal", str(log), did, "--set", "age_oldest=55",
                                        "--set", "lives_alone=no"])
    assert preview.exit_code == 0, preview.output
    assert "not recorded: add --by NAME --reason TEXT" in preview.stderr
    assert len(log.read_text("utf-8").splitlines()) == lines
    r = CliRunner().invoke(main, ["appeal", str(log), did, "--set", "age_oldest=55",
                                  "--set", "lives_alone=no", "--by", "王芳",
                                  "--reason", "户籍复核：年龄登记有误"])
    assert r.exit_code == 0, r.output
    assert "recorded: " in r.stderr and "王芳 appealed " + did in r.stderr
    entries = [json.loads(x) for x in log.read_text("utf-8").splitlines()]
    assert len(entries) == lines + 1
    appeal = entries[-1]
    assert appeal["action"] == "appeal" and appeal["by"] == "王芳"
    assert appeal["set"] == {"age_oldest": "55", "lives_alone": "no"}
    assert appeal["after"].get("tier") and appeal["before"]["tier"] != appeal["after"]["tier"]
    assert CliRunner().invoke(main, ["verify-log", str(log)]).exit_code == 0
    half = CliRunner().invoke(main, ["appeal", str(log), did, "--set", "age_oldest=55",
                                     "--by", "王芳"])
    assert half.exit_code == 2 and "needs both --by NAME and --reason TEXT" in half.stderr


def test_an_appeal_may_correct_a_fact_of_any_scorecards_subject(tmp_path: Path) -> None:
    """karamay appraises projects on a scorecard of their own entity ([facts.project]): an
    appeal of a project's decision may correct a project fact, and a typo in one is still
    refused with did-you-mean."""
    projects = (Path(__file__).parents[1] / "plugins" / "civicscore-karamay" / "examples"
                / "projects.csv")
    log = tmp_path / "d.jsonl"
    r = CliRunner().invoke(main, ["score", "karamay", "--scheme", "appraisal", str(projects),
                                  "-o", str(tmp_path / "o.csv"), "--as-of", "2025-12-31",
                                  "--log", str(log)])
    assert r.exit_code == 0, r.output
    did = json.loads(log.read_text("utf-8").splitlines()[0])["decision_id"]
    ok = CliRunner().invoke(main, ["appeal", str(log), did, "--set",
                                   "beneficiaries_reached=100"])
    assert ok.exit_code == 0, ok.output
    typo = CliRunner().invoke(main, ["appeal", str(log), did, "--set",
                                     "beneficiaries_reachd=100"])
    assert typo.exit_code == 2
    assert "did you mean 'beneficiaries_reached'?" in typo.stderr
