"""Reviews over HTTP: confirm or override what the service logged, as ``civicscore review``.

What is pinned: the proposals are the demotions ``civicscore review LOG`` lists
as proposed; a confirmation or override through the service is the entry
``record_review`` writes, appended to the service's own decision log, signed
with the token's name and the time, and read back by the command line; what the
library refuses is a problem naming why, never the log's place on the server;
every route needs the ``review`` role.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi", reason="the service needs civicscore[serve]")
pytest.importorskip("httpx", reason="the service tests need httpx")

from civicscore.audit import DecisionLog, read_log, scan_log
from civicscore.cli import main
from civicscore.review import pending
from civicscore.service import create_app
from civicscore.service.tokens import Tokens

from .conftest import EXAMPLES
from .test_service import AS_OF, POLICIES, Client, _problem, tokens_of

BASE = "/v1/policies/example-district"
REVIEWER = {"Authorization": "Bearer reviewer-1"}
READER = {"Authorization": "Bearer reader-2"}


def tokens(tmp_path: Path) -> Tokens:
    return tokens_of(tmp_path, {"reviewer-1": ("Wang Fang", ["review", "read"]),
                                "reader-2": ("case app", ["read"])})


def service_with_log(tmp_path: Path) -> tuple[Client, Path]:
    log = tmp_path / "decisions.jsonl"
    return Client(create_app([POLICIES], log=DecisionLog(log),
                             tokens=tokens(tmp_path))), log


def batch(service: Client, scheme: str, file: str) -> None:
    r = service.post(f"{BASE}/{scheme}/batch?as_of={AS_OF}",
                     content=(EXAMPLES / file).read_bytes(),
                     headers={"Content-Type": "text/csv", **READER})
    assert r.status_code == 200 and r.json()["logged"] > 0, r.text


def test_a_confirmation_through_the_service_is_the_review_the_cli_records(
        tmp_path: Path) -> None:
    service, log = service_with_log(tmp_path)
    assert service.get("/v1/reviews/proposals", headers=REVIEWER).json() == {"proposals": []}
    batch(service, "appraisal", "appraisal-subjects.csv")
    contents = scan_log(log)
    expected = pending(contents.entries, contents.reviews)
    assert expected, "the example appraisal has a demotion to confirm"
    listed = service.get("/v1/reviews/proposals", headers=REVIEWER).json()["proposals"]
    assert [p["decision_id"] for p in listed] == [e["decision_id"] for e in expected]
    assert all("not final until a person confirms it" in p["text"] for p in listed)
    did = listed[0]["decision_id"]
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    r = service.post(f"/v1/reviews/{did}/confirm",
                     json={"reason": "checked the incident report"}, headers=REVIEWER)
    assert r.status_code == 200, r.text
    entry = r.json()
    assert entry["by"] == "Wang Fang" and entry["action"] == "confirm"
    assert before <= dt.datetime.fromisoformat(entry["at"]) <= dt.datetime.now(dt.UTC)
    assert entry["before"] == {"grade": expected[0]["result"]["computed_grade"]}
    assert json.loads(log.read_text(encoding="utf-8").splitlines()[-1]) == entry
    left = service.get("/v1/reviews/proposals", headers=REVIEWER).json()["proposals"]
    assert [p["decision_id"] for p in left] == [e["decision_id"] for e in expected[1:]]
    shown = service.get(f"/v1/reviews/{did}", headers=REVIEWER).json()
    assert shown["proposed"] is False and shown["reviews"] == [entry]
    assert shown["after_review"] == entry["after"]
    # the command line reads the service's review like its own
    r = CliRunner().invoke(main, ["review", str(log), did])
    assert r.exit_code == 0 and "Wang Fang confirmed" in r.stdout and "Final: grade" in r.stdout
    # a decision that needs no confirmation is refused, and nothing written
    plain = next(e for e in contents.entries if not e["result"].get("needs_confirmation")
                 and e["result"].get("status") != "rejected")
    size = log.stat().st_size
    r = service.post(f"/v1/reviews/{plain['decision_id']}/confirm",
                     json={"reason": "checked the incident report"}, headers=REVIEWER)
    assert "needs no confirmation" in _problem(r, 422)["detail"]
    assert log.stat().st_size == size


def test_an_override_sets_only_what_the_scheme_allows(tmp_path: Path) -> None:
    service, log = service_with_log(tmp_path)
    batch(service, "visits", "visits-households.csv")
    first = read_log(log)[0]
    did = first["decision_id"]
    url = f"/v1/reviews/{did}/override"
    reason = "家访核实：老人已由子女接回同住"
    r = service.post(url, json={"reason": reason, "set": {"tier": "routine"}},
                     headers=REVIEWER)
    assert r.status_code == 200, r.text
    assert r.json()["before"] == {"tier": first["result"]["tier"]}
    assert r.json()["after"] == {"tier": "routine"} and r.json()["by"] == "Wang Fang"
    size = log.stat().st_size
    for body, status, words in (
            ({"reason": reason, "set": {"teir": "routine"}}, 422, "did you mean 'tier'?"),
            ({"reason": "-", "set": {"tier": "routine"}}, 422, "gives no reason"),
            ({"reason": reason, "set": {}}, 422, "override needs --set"),
            ({"set": {"tier": "routine"}}, 422, "reason"),
            ({"reason": reason, "set": {"tier": "routine"}, "by": "Li Wei"}, 422, "by:")):
        r = service.post(url, json=body, headers=REVIEWER)
        assert words in _problem(r, status)["detail"], body
    r = service.post("/v1/reviews/nosuch/override",
                     json={"reason": reason, "set": {"tier": "routine"}}, headers=REVIEWER)
    body = _problem(r, 404)
    assert "no decision 'nosuch'" in body["detail"] and str(tmp_path) not in r.text
    assert log.stat().st_size == size
    assert _problem(service.get("/v1/reviews/nosuch", headers=REVIEWER), 404)


REVIEW_ROUTES = [("GET", "/v1/reviews/proposals"), ("GET", "/v1/reviews/D1"),
                 ("POST", "/v1/reviews/D1/confirm"), ("POST", "/v1/reviews/D1/override")]


def test_every_review_route_needs_the_review_role(tmp_path: Path) -> None:
    service, _ = service_with_log(tmp_path)
    for method, path in REVIEW_ROUTES:
        r = service.request(method, path, json={"reason": "x"})
        assert _problem(r, 401)["type"].endswith("/token"), path
        r = service.request(method, path, json={"reason": "x"},
                            headers={"Authorization": "Bearer wrong"})
        _problem(r, 401)
        r = service.request(method, path, json={"reason": "x"}, headers=READER)
        assert _problem(r, 403)["role"] == "review", path
    spec: dict[str, Any] = service.get("/openapi.json").json()
    for method, path in REVIEW_ROUTES:
        op = spec["paths"][path.replace("/D1", "/{decision_id}")][method.lower()]
        assert op["x-civicscore-roles"] == ["review"], path
        assert {"401", "403", "404", "422"} <= set(op["responses"]), path


def test_without_a_log_there_is_nothing_to_review() -> None:
    r = Client(create_app([POLICIES])).get("/v1/reviews/proposals")
    assert "--log" in _problem(r, 404)["detail"]
