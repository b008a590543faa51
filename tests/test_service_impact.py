"""The impact report over HTTP: ``civicscore impact`` on an uploaded file of records.

What is pinned: the JSON answer is the report ``impact.compare`` makes for the
same policies and records, the HTML answer the page ``civicscore impact
--html`` writes (static, under the pages' Content-Security-Policy); a
disparity column the rules read is refused as ``--by`` refuses it; the route
needs the ``read`` role.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service needs civicscore[serve]")
pytest.importorskip("httpx", reason="the service tests need httpx")

import civicscore
from civicscore.impact import compare, to_json
from civicscore.io import read_records
from civicscore.report.impact_page import impact_html
from civicscore.service import create_app

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES
from .test_service import POLICIES, Client, _problem, tokens_of

VISITS = EXAMPLES / "visits-households.csv"
URL = f"/v1/policies/example-district/visits/impact?against=baseline&as_of={AS_OF}"
CSV = {"Content-Type": "text/csv"}


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(create_app([POLICIES]))


def expected() -> dict[str, object]:
    """The report of the library itself, as JSON text read back."""
    engine = civicscore.Engine()
    report = compare(engine.load("baseline"), engine.load(EXAMPLE_POLICY), "visits",
                     list(read_records(VISITS)), as_of=AS_OF)
    loaded: dict[str, object] = json.loads(to_json(report))
    return loaded


def test_the_json_report_is_the_one_compare_makes(client: Client) -> None:
    r = client.post(URL, content=VISITS.read_bytes(), headers=CSV)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == expected()
    assert r.json()["changed"] > 0  # the district differs from its baseline


def test_the_html_report_is_the_page_impact_writes(client: Client) -> None:
    r = client.post(URL + "&format=html", content=VISITS.read_bytes(), headers=CSV)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    engine = civicscore.Engine()
    page = impact_html(compare(engine.load("baseline"), engine.load(EXAMPLE_POLICY),
                               "visits", list(read_records(VISITS)), as_of=AS_OF))
    assert r.text == page and "<script" not in r.text


def test_a_disparity_column_is_checked_and_never_one_the_rules_read(client: Client) -> None:
    rows = list(csv.DictReader(io.StringIO(VISITS.read_text(encoding="utf-8"))))
    out = io.StringIO()
    writer = csv.DictWriter(out, [*rows[0], "zone"], lineterminator="\n")
    writer.writeheader()
    for i, row in enumerate(rows):
        writer.writerow({**row, "zone": "north" if i % 2 else "south"})
    r = client.post(URL + "&by=zone&min_group=2", content=out.getvalue().encode(),
                    headers=CSV)
    assert r.status_code == 200, r.text
    check = r.json()["disparity"]["zone"]
    assert sorted(g["value"] for g in check["groups"]) == ["north", "south"]
    assert "zone" not in json.dumps(r.json()["rows"])
    r = client.post(URL + "&by=age_oldest", content=VISITS.read_bytes(), headers=CSV)
    assert "never read" in _problem(r, 400)["detail"]
    r = client.post(URL.replace("against=baseline", "against=nosuch"),
                    content=VISITS.read_bytes(), headers=CSV)
    assert _problem(r, 404)["policy"] == "nosuch"


def test_the_impact_route_needs_the_read_role(tmp_path: Path) -> None:
    tokens = tokens_of(tmp_path, {"r-1": ("dashboard", ["read"]),
                                  "l-2": ("till", ["ledger"])})
    service = Client(create_app([POLICIES], tokens=tokens))
    _problem(service.post(URL, content=VISITS.read_bytes(), headers=CSV), 401)
    r = service.post(URL, content=VISITS.read_bytes(),
                     headers={**CSV, "Authorization": "Bearer l-2"})
    assert _problem(r, 403)["role"] == "read"
    r = service.post(URL, content=VISITS.read_bytes(),
                     headers={**CSV, "Authorization": "Bearer r-1"})
    assert r.status_code == 200
    op = service.get("/openapi.json").json()["paths"][
        "/v1/policies/{name}/{scheme}/impact"]["post"]
    assert op["x-civicscore-roles"] == ["read"]
    assert {p["name"] for p in op["parameters"]} >= {"against", "as_of", "by", "min_group"}


ACTIVITIES = EXAMPLES / "volunteer-activities.csv"
REDEMPTIONS = EXAMPLES / "redemptions.csv"
VOLUNTEER = f"/v1/policies/example-district/volunteer/impact?against=baseline&as_of={AS_OF}"


def test_extra_inputs_are_taken_as_with_takes_them(client: Client) -> None:
    """``--with redemptions=FILE`` over HTTP: a JSON body of records and ``with`` inputs,
    each a JSON array or an inline CSV file; the report is compare's with those inputs."""
    engine = civicscore.Engine()
    redemptions = list(read_records(REDEMPTIONS))
    report = compare(engine.load("baseline"), engine.load(EXAMPLE_POLICY), "volunteer",
                     list(read_records(ACTIVITIES)), as_of=AS_OF,
                     extra={"redemptions": redemptions})
    want = json.loads(to_json(report))
    inline = {"records": {"format": "csv", "content": ACTIVITIES.read_text("utf-8")},
              "with": {"redemptions": {"format": "csv",
                                       "content": REDEMPTIONS.read_text("utf-8")}}}
    r = client.post(VOLUNTEER, json=inline)
    assert r.status_code == 200, r.text
    assert r.json() == want
    as_rows = {"records": list(read_records(ACTIVITIES)),
               "with": {"redemptions": [dict(row) for row in redemptions]}}
    r = client.post(VOLUNTEER, json=as_rows)
    assert r.status_code == 200 and r.json() == want
    # the redemptions count: without them the balances differ
    without = client.post(VOLUNTEER, json={"records": as_rows["records"]}).json()
    assert without != want
    # an input the scheme does not take is refused, naming it, as --with refuses it
    body = _problem(client.post(URL, json={"records": [], "with": {"redemptions": []}}), 422)
    assert body["field"] == "with.redemptions" and "no extra inputs" in body["detail"]
    body = _problem(client.post(VOLUNTEER, json={"records": [], "with": {"redemption": []}}),
                    422)
    assert "only redemptions" in body["detail"]
    body = _problem(client.post(VOLUNTEER, json={"records": {"format": "xml",
                                                             "content": ""}}), 422)
    assert body["fields"][0]["field"].startswith("records")
    body = _problem(client.post(VOLUNTEER, json={"record": []}), 422)  # a typo: no records
    assert {f["field"] for f in body["fields"]} == {"records", "record"}
