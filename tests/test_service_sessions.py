"""Online events sessions over HTTP: ``policy.events.session()`` as routes.

What is pinned: the actions a session gives as events are posted one at a time
(and when it is closed) are the actions ``events/run`` gives for the same log;
a heartbeat releases an overdue visit with no further event; refused events
are named and counted; a session belongs to the token that opened it; the
number of open sessions and their idleness are bounded; a logging service
refuses sessions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs civicscore[serve]")
pytest.importorskip("httpx", reason="the service tests need httpx")
pytest.importorskip("durable", reason="the online events engine needs civicscore[events]")

from civicscore.audit import DecisionLog
from civicscore.events.core import action_order
from civicscore.service import create_app

from .test_service import POLICIES, Client, _problem, tokens_of
from .test_service_events import LOG, UNTIL, ev, no_events_client

OPEN = f"/v1/policies/baseline/events/sessions?until={UNTIL}"


@pytest.fixture()
def client() -> Client:
    return Client(create_app([POLICIES]))


def test_a_session_gives_the_actions_of_a_whole_run(client: Client) -> None:
    r = client.post(OPEN)
    assert r.status_code == 201, r.text
    key = r.json()["id"]
    assert r.json()["until"] == UNTIL and r.json()["policy"]["id"] == "baseline"
    released: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for event in LOG:
        answer = client.post(f"/v1/events/sessions/{key}/events", json=event).json()
        released += answer["actions"]
        refused += answer["rejected"]
    closed = client.request("DELETE", f"/v1/events/sessions/{key}").json()
    released += closed["actions"]
    whole = client.post(f"/v1/policies/baseline/events/run?until={UNTIL}", json=LOG).json()
    assert sorted(released, key=action_order) == whole["actions"]
    assert refused == whole["rejected"] == closed["rejected"]
    assert closed["rows_in"] == len(LOG) == closed["taken"] + len(closed["rejected"])
    # closed: it is gone
    body = _problem(client.post(f"/v1/events/sessions/{key}/events", json=LOG[0]), 404)
    assert body["type"].endswith("/session-unknown")


def test_an_array_of_events_and_a_heartbeat(client: Client, tmp_path: Path) -> None:
    key = client.post(OPEN).json()["id"]
    first = client.post(f"/v1/events/sessions/{key}/events", json=[
        ev("d1", "discharged", "h1", "2025-03-01T10:00:00"),
        ev("x", "discharged", "h1", "never")]).json()
    assert first["rows_in"] == 2 and first["rejected"][0]["id"] == "x"
    # no event comes: a heartbeat past the deadline (and max_lateness) releases it
    beat = client.post(f"/v1/events/sessions/{key}/advance?to=2025-03-02T11:30").json()
    assert "visit_overdue" in [a["action"] for a in first["actions"] + beat["actions"]]
    body = _problem(client.post(f"/v1/events/sessions/{key}/advance?to=soon"), 422)
    assert body["field"] == "to"
    body = _problem(client.post(f"/v1/events/sessions/{key}/events", content=b"{",
                                headers={"Content-Type": "application/json"}), 400)
    assert "not valid JSON" in body["detail"]
    body = _problem(no_events_client(tmp_path).post(
        "/v1/policies/appraisal-only/events/sessions?until=" + UNTIL), 404)
    assert body["type"].endswith("/scheme-unknown")
    assert _problem(client.post("/v1/policies/baseline/events/sessions?until=x"),
                    422)["field"] == "until"


def test_sessions_are_bounded_in_number_and_idleness(client: Client) -> None:
    store = client.app.state.sessions
    store.max_sessions = 1
    key = client.post(OPEN).json()["id"]
    body = _problem(client.post(OPEN), 503)
    assert body["type"].endswith("/sessions-full")
    store.idle_seconds = 0.0  # every session is now idle too long: closed on next use
    _problem(client.post(f"/v1/events/sessions/{key}/advance?to={UNTIL}"), 404)
    assert client.post(OPEN).status_code == 201  # its place is free again


def test_a_session_is_its_tokens_alone(tmp_path: Path) -> None:
    tokens = tokens_of(tmp_path, {"a-1": ("app one", ["read"]), "b-2": ("app two", ["read"]),
                                  "l-3": ("till", ["ledger"])})
    service = Client(create_app([POLICIES], tokens=tokens))
    _problem(service.post(OPEN), 401)
    assert _problem(service.post(OPEN, headers={"Authorization": "Bearer l-3"}),
                    403)["role"] == "read"
    key = service.post(OPEN, headers={"Authorization": "Bearer a-1"}).json()["id"]
    url = f"/v1/events/sessions/{key}/events"
    event = ev("d1", "discharged", "h1", "2025-03-01T10:00:00")
    _problem(service.post(url, json=event, headers={"Authorization": "Bearer b-2"}), 404)
    r = service.post(url, json=event, headers={"Authorization": "Bearer a-1"})
    assert r.status_code == 200 and (r.json()["rows_in"], r.json()["rejected"]) == (1, [])
    spec = service.get("/openapi.json").json()["paths"]
    for path, method in (("/v1/policies/{name}/events/sessions", "post"),
                         ("/v1/events/sessions/{key}/events", "post"),
                         ("/v1/events/sessions/{key}/advance", "post"),
                         ("/v1/events/sessions/{key}", "delete")):
        assert spec[path][method]["x-civicscore-roles"] == ["read"], path


def test_a_logging_service_refuses_sessions(tmp_path: Path) -> None:
    service = Client(create_app([POLICIES], log=DecisionLog(tmp_path / "d.jsonl")))
    body = _problem(service.post(OPEN), 400)
    assert body["type"].endswith("/events-log") and "events/run" in body["detail"]
