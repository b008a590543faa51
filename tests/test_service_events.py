"""Rules over time over HTTP: ``POST /v1/policies/{name}/events/run``, as ``civicscore events``.

What is pinned: the answer is what ``civicscore events`` writes for the same
log (actions, rejected events, summary line), on either engine and from any
upload format, and ``format=jsonl|csv`` is the command's ``-o`` file byte for
byte; every refusal is problem+json naming the query field; the route needs
the ``read`` role, and the OpenAPI document says so and names its problem
types; with a decision log the run is logged as ``score --scheme events --log``
logs it, and replays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi", reason="the service needs civicscore[serve]")
pytest.importorskip("httpx", reason="the service tests need httpx")
pytest.importorskip("durable", reason="the online events engine needs civicscore[events]")

import civicscore
from civicscore.audit import DecisionLog
from civicscore.cli import main
from civicscore.io import write_rows
from civicscore.service import Limits, create_app

from .test_service import POLICIES, Client, _problem, tokens_of

#: A policy with no [events] (appraisal only): asking it for events is a 404.
NO_EVENTS = """
[policy]
id = "appraisal-only"
version = "1"
effective = { from = 2025-01-01 }

[facts.subject]
done = { type = "decimal", min = 0, max = 100 }

[appraisal]

[[appraisal.indicators]]
id = "done"
weight = 1
value = "done"
normalise = { method = "none" }

[[appraisal.grades]]
id = "good"
min_score = 50

[[appraisal.grades]]
id = "poor"
min_score = 0
"""


def no_events_client(tmp_path: Path) -> Client:
    """A service over one policy, ``appraisal-only``, that has no [events]."""
    (tmp_path / "appraisal-only.toml").write_text(NO_EVENTS.lstrip(), encoding="utf-8")
    return Client(create_app([tmp_path]))

RUN = "/v1/policies/baseline/events/run"
UNTIL = "2025-12-31"


def ev(eid: str, kind: str, subject: str, at: str, **fields: Any) -> dict[str, Any]:
    """An event row; every row has both fields' columns (a CSV has one header), empty
    where the event's type carries no such field."""
    return {"event_id": eid, "type": kind, "subject_id": subject, "at": at,
            "hours": None, "falsified_hours": None, **fields}


#: a log that fires all four baseline rules, with refused rows of four kinds
LOG = [
    ev("a1", "activity", "v1", "2025-01-05T09:00:00", hours=3),
    ev("d1", "discharged", "h1", "2025-03-01T10:00:00"),
    ev("m1", "visit_missed", "h2", "2025-03-02T09:00:00"),
    ev("m2", "visit_missed", "h2", "2025-03-03T09:00:00"),
    ev("m3", "visit_missed", "h2", "2025-03-04T09:00:00"),
    ev("late", "visit_done", "h1", "2025-03-01T11:00:00"),
    ev("f1", "falsification_confirmed", "v2", "2025-04-01T09:00:00", falsified_hours=2),
    ev("bad", "discharge", "h1", "2025-03-01T10:00:00"),
    ev("d1", "discharged", "h3", "2025-03-05T10:00:00"),
    ev("t1", "discharged", "h4", "not a time"),
]


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(create_app([POLICIES]))


def _cli_events(tmp_path: Path, log: Path, engine: str, out: str) -> tuple[Path, Path, str]:
    actions, rejects = tmp_path / f"cli-{engine}.{out}", tmp_path / f"cli-{engine}-rej.jsonl"
    r = CliRunner().invoke(main, ["events", "baseline", str(log), "--until", UNTIL,
                                  "--engine", engine, "-o", str(actions),
                                  "--rejects", str(rejects)])
    assert r.exit_code == 0, r.output
    return actions, rejects, r.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("engine", ["durable", "reference"])
@pytest.mark.parametrize("suffix,media", [(".jsonl", "application/x-ndjson"),
                                          (".csv", "text/csv"),
                                          (".json", "application/json")])
def test_a_run_answers_what_civicscore_events_writes(client: Client, tmp_path: Path,
                                                     engine: str, suffix: str,
                                                     media: str) -> None:
    log = tmp_path / f"events{suffix}"
    write_rows(LOG, log)
    actions, rejects, summary = _cli_events(tmp_path, log, engine, "jsonl")
    r = client.post(f"{RUN}?until={UNTIL}&engine={engine}", content=log.read_bytes(),
                    headers={"Content-Type": media})
    assert r.status_code == 200, r.text
    answer = r.json()
    expected = [json.loads(line) for line in actions.read_text("utf-8").splitlines()]
    assert answer["actions"] == expected
    assert {a["rule"] for a in expected} == {
        "discharge_visit_24h", "missed_visits_escalate", "volunteer_inactive_reminder",
        "falsified_hours_bar"}  # all four forms, so the comparison covers them
    assert answer["rejected"] == [json.loads(line)
                                  for line in rejects.read_text("utf-8").splitlines()]
    assert answer["summary"] == summary
    assert answer["rows_in"] == len(LOG) == answer["taken"] + len(answer["rejected"])
    codes = {r["id"]: r["reason_codes"] for r in answer["rejected"]}
    assert codes == {"bad": ["UNKNOWN_EVENT_TYPE"], "d1": ["DUPLICATE_EVENT"],
                     "t1": ["INVALID_DATETIME"], "late": ["LATE_EVENT"]}
    policy = civicscore.load("baseline")
    assert answer["policy"] == {"id": policy.id, "version": policy.version,
                                "hash": policy.hash}
    assert (answer["until"], answer["engine"]) == (UNTIL, engine)


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_the_actions_file_is_the_commands_byte_for_byte(client: Client, tmp_path: Path,
                                                        kind: str) -> None:
    log = tmp_path / "events.jsonl"
    write_rows(LOG, log)
    actions, _, _ = _cli_events(tmp_path, log, "durable", kind)
    r = client.post(f"{RUN}?until={UNTIL}&format={kind}", content=log.read_bytes(),
                    headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.content == actions.read_bytes()
    assert r.headers["X-Civicscore-Rows-In"] == str(len(LOG))
    assert r.headers["X-Civicscore-Rejected"] == "4"
    assert int(r.headers["X-Civicscore-Actions"]) == len(actions.read_text(
        "utf-8").splitlines()) - (1 if kind == "csv" else 0)


def test_until_may_be_a_time_and_a_deadline_after_it_is_still_open(client: Client) -> None:
    log = [ev("d1", "discharged", "h1", "2025-03-01T10:00:00")]
    before = client.post(f"{RUN}?until=2025-03-02T09:59", json=log).json()
    after = client.post(f"{RUN}?until=2025-03-02T10:00", json=log).json()
    assert [a["action"] for a in before["actions"]] == ["visit_due"]
    assert [a["action"] for a in after["actions"]] == ["visit_due", "visit_overdue"]
    assert before["until"] == "2025-03-02T09:59:00"


def test_bad_requests_are_problems_naming_the_field(client: Client, tmp_path: Path) -> None:
    log = [ev("d1", "discharged", "h1", "2025-03-01T10:00:00")]
    body = _problem(client.post(f"{RUN}?until=yesterday", json=log), 422)
    assert body["field"] == "until" and "'yesterday'" in body["detail"]
    assert body["type"].endswith("/events-until")
    body = _problem(client.post(RUN, json=log), 422)  # no until at all
    assert body["fields"][0]["field"] == "query.until"
    body = _problem(client.post(f"{RUN}?until=2019-12-31", json=log), 422)
    assert body["field"] == "until" and "in effect from" in body["detail"]
    body = _problem(client.post(f"{RUN}?until={UNTIL}&engine=drools", json=log), 422)
    assert body["fields"][0]["field"] == "query.engine"
    body = _problem(client.post(f"{RUN}?until={UNTIL}&format=xml", json=log), 422)
    assert body["fields"][0]["field"] == "query.format"
    body = _problem(no_events_client(tmp_path).post(
        f"/v1/policies/appraisal-only/events/run?until={UNTIL}", json=log), 404)
    assert body["type"].endswith("/scheme-unknown") and "appraisal" in body["detail"]
    body = _problem(client.post(f"/v1/policies/baseline-x/events/run?until={UNTIL}",
                                json=log), 404)
    assert body["type"].endswith("/policy-unknown")
    _problem(client.post(f"{RUN}?until={UNTIL}", content=b"x",
                         headers={"Content-Type": "text/plain"}), 415)
    body = _problem(client.post(f"{RUN}?until={UNTIL}", content=b'{"event_id": "e1"',
                                headers={"Content-Type": "application/json"}), 422)
    assert "the uploaded records" in body["detail"] and "/tmp" not in body["detail"]
    # an event that cannot be used is no error of the request: it is a rejected row
    answer = client.post(f"{RUN}?until={UNTIL}", json=[{"event_id": "e1", "type": 3}]).json()
    (rejected,) = answer["rejected"]
    assert "field 'type'" in rejected["reasons"][0] and answer["actions"] == []


def test_a_run_is_bounded_like_a_batch() -> None:
    service = Client(create_app([POLICIES], limits=Limits(max_body_bytes=4000, max_rows=3)))
    log = [ev(f"e{i}", "activity", "v1", f"2025-01-0{i + 1}T09:00:00", hours=1)
           for i in range(4)]
    assert _problem(service.post(f"{RUN}?until={UNTIL}", json=log), 413)["max_rows"] == 3
    assert service.post(f"{RUN}?until={UNTIL}", json=log[:3]).status_code == 200
    assert _problem(service.post(f"{RUN}?until={UNTIL}", json=log * 20), 413)[
        "max_bytes"] == 4000


def test_the_route_needs_the_read_role_and_says_so(tmp_path: Path) -> None:
    tokens = tokens_of(tmp_path, {"read-1": ("app", ["read"]),
                                  "ledger-1": ("clerk", ["ledger"])})
    service = Client(create_app([POLICIES], tokens=tokens))
    log = [ev("d1", "discharged", "h1", "2025-03-01T10:00:00")]
    url = f"{RUN}?until={UNTIL}"
    _problem(service.post(url, json=log), 401)
    assert _problem(service.post(url, json=log, headers={
        "Authorization": "Bearer ledger-1"}), 403)["role"] == "read"
    r = service.post(url, json=log, headers={"Authorization": "Bearer read-1"})
    assert r.status_code == 200 and len(r.json()["actions"]) == 2
    spec = service.get("/openapi.json").json()
    op = spec["paths"]["/v1/policies/{name}/events/run"]["post"]
    assert op["x-civicscore-roles"] == ["read"]
    assert {"401", "403", "404", "413", "415", "422"} <= set(op["responses"])
    types = op["responses"]["422"]["content"]["application/problem+json"]["schema"][
        "properties"]["type"]["enum"]
    assert "https://civicscore.invalid/problems/events-until" in types
    assert {"application/x-ndjson", "text/csv"} <= set(op["requestBody"]["content"])
    assert {p["name"] for p in op["parameters"]} >= {"until", "engine", "format"}


def test_a_logged_run_is_what_score_logs_and_replays(tmp_path: Path) -> None:
    decisions = tmp_path / "decisions.jsonl"
    service = Client(create_app([POLICIES], log=DecisionLog(decisions)))
    r = service.post(f"{RUN}?until={UNTIL}", json=LOG)
    assert r.status_code == 200, r.text
    answer = r.json()
    entries = [json.loads(line) for line in decisions.read_text("utf-8").splitlines()]
    assert answer["logged"] == len(entries) == len(LOG) + len(answer["actions"])
    assert {e["scheme"] for e in entries} == {"events"} and entries[0]["as_of"] == UNTIL
    r = CliRunner().invoke(main, ["replay", str(decisions)])
    assert r.exit_code == 0, r.output
    assert f"{answer['logged']} decisions replayed, 0 differ" in r.output
    # a log keeps a run's day: a run to a time is refused, and nothing is logged
    body = _problem(service.post(f"{RUN}?until=2025-12-31T18:00", json=LOG), 400)
    assert body["field"] == "until" and body["type"].endswith("/events-log")
    assert len(decisions.read_text("utf-8").splitlines()) == len(entries)
