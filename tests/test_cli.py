"""The command-line contract: exit codes, outputs, and no tracebacks for user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from civicscore.cli import main
from civicscore.policy.schema import policy_json_schema

from .conftest import EXAMPLE_POLICY, EXAMPLES, ROOT
from .test_policy_load import FOUR_MISTAKES

ACTIVITIES = EXAMPLES / "volunteer-activities.csv"
REDEMPTIONS = EXAMPLES / "redemptions.csv"


def run(*args: str) -> object:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output + result.stderr
    return result


def test_check_valid_policies() -> None:
    r = run("check", EXAMPLE_POLICY, "baseline")
    assert r.exit_code == 0, r.output
    assert "ok: " in r.output and "example-district 2025.2 (sha256:" in r.output


def test_check_reports_four_located_errors_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(FOUR_MISTAKES.lstrip("\n"), encoding="utf-8")
    r = run("check", bad)
    assert r.exit_code == 1
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(str(bad))]
    assert len(lines) == 4
    assert [ln.split(":")[1:3] for ln in lines] == [["9", "1"], ["10", "19"], ["17", "9"],
                                                      ["22", "9"]]
    assert "4 problem(s)" in r.stderr


def test_check_json_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nid = "x"\nversion = "1"\ntitel = "t"\n', encoding="utf-8")
    r = run("check", "--format", "json", bad, EXAMPLE_POLICY)
    assert r.exit_code == 1
    document = json.loads(r.stdout)  # one document for the whole run
    assert document["schema"] == "civicscore.check/1" and document["ok"] is False
    assert document["failed"] == 1
    first, second = document["policies"]
    assert first["ok"] is False and first["problems"][0]["hint"] == "did you mean 'title'?"
    assert second["ok"] is True and len(second["hash"]) == 64


def test_score_example_as_jsonl_with_rejects(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    records = tmp_path / "records.jsonl"
    r = run("score", EXAMPLE_POLICY, "--scheme", "volunteer", ACTIVITIES, "--redemptions",
            REDEMPTIONS, "--as-of", "2025-12-31", "--rejects", rejects, "--details", records)
    assert r.exit_code == 0, r.stderr
    statements = [json.loads(line) for line in r.stdout.splitlines()]
    by_id = {s["volunteer_id"]: s for s in statements}
    assert set(by_id) == {"V01", "V02", "V03", "V04", "V05"}
    assert by_id["V04"]["expired"] > 0 and by_id["V01"]["redeemed"] == 10
    assert all(s["policy_id"] == "example-district" for s in statements)
    decisions = [json.loads(line) for line in records.read_text().splitlines()]
    n_input = len(ACTIVITIES.read_text().strip().splitlines()) - 1
    assert len(decisions) == n_input
    rejected_rows = rejects.read_text().strip().splitlines()[1:]
    n_rejected = sum(d["status"] == "rejected" for d in decisions)
    assert len(rejected_rows) == n_rejected + 1  # + the refused redemption
    assert f"{n_input - n_rejected} of {n_input} activity records scored" in r.stderr


def test_score_writes_csv_and_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    for name in ("out.csv", "out.parquet", "out.json"):
        out = tmp_path / name
        r = run("score", EXAMPLE_POLICY, "--scheme", "volunteer", ACTIVITIES, "-o", out,
                "--as-of", "2025-12-31")
        assert r.exit_code == 0 and out.exists()
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 5
    # a CSV file for officers starts with the UTF-8 mark by default (Excel reads it as UTF-8)
    assert (tmp_path / "out.csv").read_bytes().startswith(b"\xef\xbb\xbfvolunteer_id,as_of,earned")


def test_score_table_format_prints_a_statement() -> None:
    r = run("score", EXAMPLE_POLICY, "--scheme", "volunteer", ACTIVITIES, "--as-of",
            "2025-12-31", "--format", "table")
    assert r.exit_code == 0 and "Volunteer statements as of 2025-12-31" in r.stdout


def test_score_rejected_rows_go_to_stderr_without_rejects_file() -> None:
    r = run("score", EXAMPLE_POLICY, "--scheme", "volunteer", ACTIVITIES, "--as-of",
            "2025-12-31")
    assert "rejected activities row 11 (A011)" in r.stderr
    assert "did you mean 'patrol'?" in r.stderr


@pytest.mark.parametrize("content,expect", [
    (b"\xff\xfe not utf-8", "not UTF-8"),
])
def test_unusable_input_exits_2(tmp_path: Path, content: bytes, expect: str) -> None:
    bad = tmp_path / "in.csv"
    bad.write_bytes(b"record_id,volunteer_id\n" + content)
    r = run("score", EXAMPLE_POLICY, "--scheme", "volunteer", bad)
    assert r.exit_code == 2 and expect in r.stderr


def test_unknown_input_format_and_missing_file(tmp_path: Path) -> None:
    r = run("score", EXAMPLE_POLICY, "--scheme", "volunteer", tmp_path / "x.xls")
    assert r.exit_code == 2 and "unknown file type '.xls'" in r.stderr
    r = run("score", EXAMPLE_POLICY, "--scheme", "volunteer", tmp_path / "x.csv")
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_score_with_broken_policy_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy\n", encoding="utf-8")
    r = run("score", bad, "--scheme", "volunteer", ACTIVITIES)
    assert r.exit_code == 1 and f"{bad}:1:" in r.stderr


def test_explain_prints_reasons() -> None:
    record = json.dumps({"record_id": "A1", "volunteer_id": "V1", "activity": "patrol",
                         "start": "2025-07-05T19:00", "end": "2025-07-05T23:40",
                         "confirmed": True, "submitted_at": "2025-07-06T10:00",
                         "night": True})
    r = run("explain", EXAMPLE_POLICY, "--scheme", "volunteer", "--record", record,
            "--as-of", "2025-12-31")
    assert r.exit_code == 0
    assert "earned 18 points for 4 counted hours" in r.stdout
    assert "points_per_hour = 3 (in force since 2025-07-01)" in r.stdout
    assert "夜间巡逻 applies" in r.stdout


def test_explain_bad_json_is_an_error_not_a_traceback() -> None:
    r = run("explain", EXAMPLE_POLICY, "--scheme", "volunteer", "--record", "{not json")
    assert r.exit_code == 2 and "--record is not valid JSON" in r.stderr


def test_bad_as_of_is_a_usage_error() -> None:
    r = run("score", EXAMPLE_POLICY, "--scheme", "volunteer", ACTIVITIES, "--as-of", "31/12")
    assert r.exit_code == 2 and "--as-of" in r.stderr


def test_shipped_schema_is_current() -> None:
    shipped = (ROOT / "policies" / "civicscore-policy.schema.json").read_text(encoding="utf-8")
    assert shipped == policy_json_schema(), (
        "the JSON Schema is out of date: run "
        "`civicscore schema -o policies/civicscore-policy.schema.json`")
    r = run("schema")
    assert json.loads(r.stdout)["title"] == "PolicyModel"


def test_a_reader_that_closes_the_pipe_stops_score_quietly(tmp_path: Path) -> None:
    """``civicscore score ... | head``: no "internal error", no traceback, exit 141."""
    import csv
    import subprocess
    import sys

    with (EXAMPLES / "visits-households.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    big = tmp_path / "households.csv"
    with big.open("w", encoding="utf-8", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(rows[0]))
        out.writeheader()
        for i in range(3000):  # megabytes of output: far more than a pipe holds
            out.writerow({**rows[i % 15], "household_id": f"H{i:05d}"})
    p = subprocess.Popen([sys.executable, "-m", "civicscore", "score", str(EXAMPLE_POLICY),
                          "--scheme", "visits", str(big), "--as-of", "2025-12-31"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert p.stdout is not None and p.stderr is not None
    assert p.stdout.read(100)
    p.stdout.close()  # as `head -c 100` does
    errors = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141, errors
    assert "error" not in errors and "Traceback" not in errors
