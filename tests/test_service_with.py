"""A scheme's extra inputs over HTTP: ``--with NAME=FILE`` for ``batch`` and ``decide``.

What is pinned: a JSON body ``{"records": ..., "with": {"redemptions": ...}}`` is
scored as ``civicscore score --with redemptions=FILE`` scores the same files, on
either engine (its rows, rejects of both inputs and summary); ``decide`` takes
``with`` too; an input the scheme does not take, an oversized one and an unreadable
one are problems naming that input; the decision log keeps the extra input's rows
as ``score --log`` keeps them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs civicscore[serve]")
pytest.importorskip("httpx", reason="the service tests need httpx")

from civicscore.audit import DecisionLog
from civicscore.io import read_records
from civicscore.service import Limits, create_app

from .conftest import EXAMPLE_POLICY, EXAMPLES
from .test_service import AS_OF, POLICIES, RECORD, Client, _cli, _jsonl, _problem

VOLUNTEER = "/v1/policies/example-district/volunteer"
ACTIVITIES = EXAMPLES / "volunteer-activities.csv"
REDEMPTIONS = EXAMPLES / "redemptions.csv"
#: a redemption that cannot be used, so that the rejects of both inputs are compared
BAD = "R9,V01,someday,5\n"


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(create_app([POLICIES]))


def inline(path: Path, more: str = "") -> dict[str, str]:
    return {"format": "csv", "content": path.read_text(encoding="utf-8") + more}


@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_a_batch_with_redemptions_is_what_score_with_writes(client: Client, tmp_path: Path,
                                                            engine: str) -> None:
    if engine == "batch":
        pytest.importorskip("polars")
    redemptions = tmp_path / "redemptions.csv"
    redemptions.write_text(REDEMPTIONS.read_text(encoding="utf-8") + BAD, encoding="utf-8")
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    cli = _cli("score", EXAMPLE_POLICY, ACTIVITIES, "--scheme", "volunteer", "-o", out,
               "--rejects", rejects, "--as-of", AS_OF, "--with",
               f"redemptions={redemptions}")
    body = {"records": inline(ACTIVITIES), "with": {"redemptions": inline(redemptions)}}
    r = client.post(f"{VOLUNTEER}/batch?as_of={AS_OF}&engine={engine}", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["engine"] == engine
    assert answer["rows"] == _jsonl(out)
    assert answer["rejected"] == _jsonl(rejects)
    assert {row["input"] for row in answer["rejected"]} >= {"redemptions"}
    assert answer["summary"] in cli.stderr.splitlines()
    # the same rows as JSON arrays
    rows = {"records": list(read_records(ACTIVITIES)),
            "with": {"redemptions": list(read_records(redemptions))}}
    again = client.post(f"{VOLUNTEER}/batch?as_of={AS_OF}&engine={engine}", json=rows)
    assert again.status_code == 200 and again.json()["rows"] == answer["rows"]
    # and redemptions change the statements: the answer did read them
    plain = client.post(f"{VOLUNTEER}/batch?as_of={AS_OF}&engine={engine}",
                        content=ACTIVITIES.read_bytes(), headers={"Content-Type": "text/csv"})
    assert plain.json()["rows"] != answer["rows"]


def test_the_schemes_say_which_extra_inputs_they_take(client: Client) -> None:
    schemes = {s["name"]: s for s in client.get("/v1/schemes").json()["schemes"]}
    assert schemes["volunteer"]["extra_inputs"] == ["redemptions"]
    assert schemes["visits"]["extra_inputs"] == []
    batch = client.get("/openapi.json").json()
    body = batch["paths"]["/v1/policies/{name}/{scheme}/batch"]["post"]["requestBody"]
    shapes = body["content"]["application/json"]["schema"]["oneOf"]
    assert {"$ref": "#/components/schemas/WithInputs"} in shapes
    assert set(batch["components"]["schemas"]["WithInputs"]["properties"]) == {"records",
                                                                               "with"}
    assert "InlineFile" in batch["components"]["schemas"]


def test_decide_takes_with_as_score_does(client: Client, tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps([RECORD]), encoding="utf-8")
    spent = [{"redemption_id": "R1", "volunteer_id": "V1", "date": "2025-11-01",
              "points": 2}]
    redemptions = tmp_path / "r.json"
    redemptions.write_text(json.dumps(spent), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    _cli("score", EXAMPLE_POLICY, one, "--scheme", "volunteer", "-o", out, "--as-of", AS_OF,
         "--with", f"redemptions={redemptions}")
    r = client.post(f"{VOLUNTEER}/decide", json={"record": RECORD, "as_of": AS_OF,
                                                 "with": {"redemptions": spent}})
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == _jsonl(out)
    alone = client.post(f"{VOLUNTEER}/decide", json={"record": RECORD, "as_of": AS_OF})
    assert alone.json()["rows"] != r.json()["rows"]
    body = _problem(client.post("/v1/policies/example-district/visits/decide", json={
        "record": {"household_id": "H1"}, "with": {"redemptions": spent}}), 422)
    assert body["field"] == "with.redemptions" and "no extra inputs" in body["detail"]


def test_extra_inputs_are_bounded_and_named_when_unreadable(tmp_path: Path) -> None:
    service = Client(create_app([POLICIES], limits=Limits(max_rows=3)))
    records = [RECORD]
    spent = [{"redemption_id": f"R{i}", "volunteer_id": "V1", "date": "2025-11-01",
              "points": 1} for i in range(4)]
    url = f"{VOLUNTEER}/batch?as_of={AS_OF}"
    body = _problem(service.post(url, json={"records": records,
                                            "with": {"redemptions": spent}}), 413)
    assert "the uploaded redemptions have 4 rows" in body["detail"]
    body = _problem(service.post(url, json={"records": records, "with": {
        "redemptions": {"format": "csv", "content": 'redemption_id,points\n"R1,2\n'}}}), 422)
    assert "the uploaded redemptions" in body["detail"] and "/tmp" not in body["detail"]
    body = _problem(service.post(url, json={"records": records, "with": {"redeem": []}}), 422)
    assert body["field"] == "with.redeem" and "only redemptions" in body["detail"]


def test_a_logged_batch_keeps_the_redemptions_as_score_log_does(tmp_path: Path) -> None:
    served_log, cli_log = tmp_path / "served.jsonl", tmp_path / "cli.jsonl"
    service = Client(create_app([POLICIES], log=DecisionLog(served_log)))
    body = {"records": inline(ACTIVITIES), "with": {"redemptions": inline(REDEMPTIONS)}}
    r = service.post(f"{VOLUNTEER}/batch?as_of={AS_OF}", json=body)
    assert r.status_code == 200, r.text
    _cli("score", EXAMPLE_POLICY, ACTIVITIES, "--scheme", "volunteer", "-o",
         tmp_path / "o.jsonl", "--as-of", AS_OF, "--with", f"redemptions={REDEMPTIONS}",
         "--log", cli_log)

    def comparable(path: Path) -> list[dict[str, Any]]:
        own = ("run_id", "decision_id", "logged_at", "prev")
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = {k: v for k, v in json.loads(line).items() if k not in own}
            entry["policy"] = {k: v for k, v in entry["policy"].items() if k != "source"}
            out.append(entry)
        return out

    served = comparable(served_log)
    assert served == comparable(cli_log)
    assert any(e["kind"] == "redemption" for e in served)
    assert r.json()["logged"] == len(served)
