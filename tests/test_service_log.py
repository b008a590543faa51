"""The service's decision log: the entries ``civicscore score --log`` writes, no more.

What is pinned: a batch scored by the service logs, entry for entry, what the
command line logs for the same file (the same inputs, minimised to the
declared facts and the fields the scheme reads, the same redactions, the same
results), but for the ids and times that make each run its own; a decided
record is logged and replays; a log that cannot be written answers 503 and
decides nothing; ``serve --log/--redact`` refuse what ``score`` refuses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi", reason="the service needs civicscore[serve]")
pytest.importorskip("httpx", reason="the service tests need httpx")

import civicscore
from civicscore.audit import DecisionLog
from civicscore.cli import main
from civicscore.service import create_app

from .conftest import EXAMPLE_POLICY, EXAMPLES
from .test_service import AS_OF, POLICIES, Client

KEY = "a key the office keeps"
VISITS = "/v1/policies/example-district/visits"
#: what differs between two runs of the same records (a run's id and time, and so the
#: hash of the line before, which chains the log)
OWN = ("run_id", "decision_id", "logged_at", "prev")


def households(tmp_path: Path) -> Path:
    """The example households, with a column no rule reads (and no log may keep)."""
    lines = (EXAMPLES / "visits-households.csv").read_text(encoding="utf-8").splitlines()
    rows = [lines[0] + ",民族"] + [line + ",回族" for line in lines[1:] if line]
    path = tmp_path / "households.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def comparable(entry: dict[str, Any]) -> dict[str, Any]:
    same = {k: v for k, v in entry.items() if k not in OWN}
    same["policy"] = {k: v for k, v in entry["policy"].items() if k != "source"}
    return same


def test_a_batch_logs_what_score_log_writes(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    records = households(tmp_path)
    served_log, cli_log = tmp_path / "served.jsonl", tmp_path / "cli.jsonl"
    client = Client(create_app([POLICIES], log=DecisionLog(
        served_log, {"household_id": "hash"}, salt=KEY)))
    r = client.post(f"{VISITS}/batch?as_of={AS_OF}", content=records.read_bytes(),
                    headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["engine"] == "per-record"  # as score --log: every decision's reasons
    monkeypatch.setenv("CIVICSCORE_REDACT_KEY", KEY)
    result = CliRunner().invoke(main, ["score", str(EXAMPLE_POLICY), "--scheme", "visits",
                                       str(records), "--as-of", AS_OF, "-o",
                                       str(tmp_path / "out.jsonl"), "--log", str(cli_log),
                                       "--redact", "household_id=hash"])
    assert result.exit_code == 0, result.output
    served, cli = entries(served_log), entries(cli_log)
    assert answer["logged"] == len(served) == answer["rows_in"]
    assert [comparable(e) for e in served] == [comparable(e) for e in cli]
    text = served_log.read_text(encoding="utf-8")
    assert "民族" not in text and "回族" not in text  # undeclared: never the log's business
    assert "H001" not in text and '"household_id": "hmac-sha256:' in text
    # the answer itself is never redacted
    assert answer["rows"][0]["household_id"] == "H001"


def test_a_decided_record_is_logged_and_replays(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    client = Client(create_app([POLICIES], log=DecisionLog(log)))
    record = {"household_id": "H9", "liaison_id": "G01", "last_visit": "2025-10-01",
              "age_oldest": 86, "lives_alone": "yes"}
    r = client.post(f"{VISITS}/decide", json={"record": record, "as_of": AS_OF})
    assert r.status_code == 200 and r.json()["logged"] == 1
    (entry,) = entries(log)
    assert entry["input"]["household_id"] == "H9" and entry["as_of"] == AS_OF
    assert entry["result"]["tier"] == r.json()["rows"][0]["tier"]
    policy = civicscore.load(EXAMPLE_POLICY)
    report = civicscore.replay(log, {policy.hash: policy})
    assert report.ok and not report.differences
    # explain decides nothing that is acted on: like civicscore explain, it logs nothing
    r = client.post(f"{VISITS}/explain", json={"record": record, "as_of": AS_OF})
    assert r.status_code == 200 and len(entries(log)) == 1


def test_a_logging_service_refuses_engine_batch(tmp_path: Path) -> None:
    client = Client(create_app([POLICIES], log=DecisionLog(tmp_path / "d.jsonl")))
    r = client.post(f"{VISITS}/batch?engine=batch&as_of={AS_OF}",
                    content=(EXAMPLES / "visits-households.csv").read_bytes(),
                    headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and "engine=per-record" in r.json()["detail"]
    assert not (tmp_path / "d.jsonl").exists()


def test_a_log_that_cannot_be_written_decides_nothing(tmp_path: Path) -> None:
    where = tmp_path / "not-a-file"
    where.mkdir()
    client = Client(create_app([POLICIES], log=DecisionLog(where)))
    r = client.post(f"{VISITS}/decide", json={"record": {"household_id": "H1"},
                                              "as_of": AS_OF})
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"].endswith("/decision-log") and "rows" not in body
    assert str(tmp_path) not in r.text  # where the service keeps its log is its business


@pytest.mark.parametrize("args,expect", [
    (["--redact", "household_id=erase"], "add --log FILE"),
    (["--log", "{tmp}/d.jsonl", "--redact", "household_id=shred"], "FIELD=erase or FIELD=hash"),
    (["--log", "{tmp}/d.jsonl", "--redact", "household_id=hash"], "CIVICSCORE_REDACT_KEY"),
    (["--log", "{tmp}/missing/d.jsonl"], "directory does not exist"),
])
def test_serve_refuses_what_score_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          args: list[str], expect: str) -> None:
    monkeypatch.delenv("CIVICSCORE_REDACT_KEY", raising=False)
    monkeypatch.delenv("CIVICSCORE_REDACT_SALT", raising=False)
    r = CliRunner().invoke(main, ["serve", "--policy-root", str(POLICIES), "--port", "1",
                                  *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    assert r.exit_code == 2 and expect in r.output + r.stderr, r.output
    assert "Traceback" not in r.output + r.stderr
