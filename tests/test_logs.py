"""Structured (JSON) records of runs through ``logging`` (civicscore.logs, --log-json)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from click.testing import CliRunner

from civicscore import logs
from civicscore.cli import main

from .conftest import EXAMPLE_POLICY, EXAMPLES


def test_a_record_is_one_json_object_with_only_the_fields_given() -> None:
    stream = io.StringIO()
    with logs.json_lines_to(stream):
        logs.logger.info("score", extra={logs.FIELDS: {"rows_in": 3, "scheme": "visits"},
                                         "household_id": "H001"})
    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert list(entry) == ["time", "level", "logger", "event", "rows_in", "scheme"]
    assert (entry["level"], entry["logger"], entry["event"]) == ("info", "civicscore", "score")
    assert entry["time"].endswith("+00:00")
    assert "H001" not in line  # an attribute not put under FIELDS never reaches the log


def test_the_library_adds_no_output_of_its_own_and_detaching_restores_the_logger(
        capsys) -> None:
    handlers, level = list(logs.logger.handlers), logs.logger.level
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
    logs.event("nobody listens", rows_in=1)
    with logs.json_lines_to(io.StringIO(), level=logging.DEBUG):
        assert logs.logger.level == logging.DEBUG
    assert (list(logs.logger.handlers), logs.logger.level) == (handlers, level)
    assert capsys.readouterr().err == ""


def test_a_score_run_logs_what_ran_and_its_counts_but_nothing_it_read(
        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    households = EXAMPLES / "visits-households.csv"
    runs = tmp_path / "runs.jsonl"
    args = ["--log-json", str(runs), "score", str(EXAMPLE_POLICY), str(households),
            "--scheme", "visits", "--as-of", "2025-12-31", "-o", "out.csv",
            "--rejects", "rejects.csv"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, [*args, "--engine", "per-record"])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(x) for x in runs.read_text("utf-8").splitlines())
    for entry in (first, second):
        assert entry["event"] == "score" and entry["scheme"] == "visits"
        assert (entry["rows_in"], entry["scored"], entry["rejected"]) == (21, 15, 6)
        assert entry["policy_id"] == "example-district" and entry["exit_status"] == 0
        assert len(entry["policy_hash"]) == 64 and entry["as_of"] == "2025-12-31"
    assert second["engine"] == "per-record"
    text = runs.read_text("utf-8")
    for private in ("H001", "G01", "visits-households", "out.csv", "2025-12-22"):
        assert private not in text  # no ids, no file names, no fact values


def test_log_json_to_standard_error() -> None:
    result = CliRunner().invoke(main, ["--log-json", "-", "score", str(EXAMPLE_POLICY),
                                       str(EXAMPLES / "visits-households.csv"),
                                       "--scheme", "visits", "--as-of", "2025-12-31",
                                       "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    [record] = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    assert record["rows_in"] == 21
