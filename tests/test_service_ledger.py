"""The ledger over HTTP (``serve --ledger``), on a real SQLite file and a real PostgreSQL.

What is pinned: a post through the service leaves the balances a post through
the library leaves; a transfer id sent again with the same content is a no-op
answered 200 with the first transfer, with other content a 409 naming the id
and nothing written; a spend over the balance is a 409 naming the account, the
points asked for and the points available, and takes nothing; holds are
captured or voided once; the author of an adjustment is the token's name; bad
input is a 422 (or 404) naming the field; every route asks for its role.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi", reason="the service needs civicscore[serve]")
pytest.importorskip("httpx", reason="the service tests need httpx")

import civicscore
from civicscore.cli import main
from civicscore.io import read_records
from civicscore.ledger import open_ledger
from civicscore.service import create_app
from civicscore.service.tokens import Tokens

from .conftest import EXAMPLE_POLICY, EXAMPLES
from .test_ledger_server import ledger_url, pg_server  # noqa: F401  (fixtures)
from .test_service import AS_OF, POLICIES, Client, _problem, tokens_of

CSV = EXAMPLES / "volunteer-activities.csv"
POST = f"/v1/ledger/post/example-district?as_of={AS_OF}"
CLERK = {"Authorization": "Bearer clerk-token-1"}
READER = {"Authorization": "Bearer reader-token-2"}


def tokens(tmp_path: Path) -> Tokens:
    return tokens_of(tmp_path, {"clerk-token-1": ("Counter Clerk", ["ledger", "read"]),
                                "reader-token-2": ("dashboard", ["read"])})


@pytest.fixture
def ledger(ledger_url: str) -> str:  # noqa: F811
    with open_ledger(ledger_url, create=True) as book:
        book.migrate()
    return ledger_url


@pytest.fixture
def service(ledger: str, tmp_path: Path) -> Client:
    return Client(create_app([POLICIES], ledger=ledger, tokens=tokens(tmp_path)))


@pytest.fixture
def posted(service: Client) -> Client:
    r = service.post(POST, content=CSV.read_bytes(), headers={"Content-Type": "text/csv",
                                                              **CLERK})
    assert r.status_code == 200, r.text
    return service


def library_balances(tmp_path: Path) -> list[dict[str, Any]]:
    """The balances the library itself leaves after posting the same file."""
    with open_ledger(tmp_path / "library.db", create=True) as book:
        book.migrate()
        book.post(civicscore.load(EXAMPLE_POLICY), list(read_records(CSV)),
                  as_of=dt.date.fromisoformat(AS_OF))
        return [b.to_row() for b in book.balances(on=AS_OF)]


def count(ledger: str) -> int:
    with open_ledger(ledger) as book:
        return sum(1 for _ in book.transfers())


def balance(service: Client, vid: str = "V01") -> dict[str, Any]:
    r = service.get(f"/v1/ledger/accounts/{vid}?on=2025-12-31", headers=READER)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# --- posting ------------------------------------------------------------------------------


def test_a_post_leaves_the_balances_the_library_leaves(service: Client, ledger: str,
                                                       tmp_path: Path) -> None:
    headers = {"Content-Type": "text/csv", **CLERK}
    r = service.post(POST, content=CSV.read_bytes(), headers=headers)
    assert r.status_code == 200, r.text
    first = r.json()
    policy = civicscore.load(EXAMPLE_POLICY)
    assert first["policy"] == {"id": policy.id, "version": policy.version,
                               "hash": policy.hash}
    rows = list(read_records(CSV))
    assert first["posted"] + len(first["rejected"]) == len(rows) and first["posted"] > 0
    assert all(r["reason_codes"] for r in first["rejected"])
    got = service.get(f"/v1/ledger/balances?on={AS_OF}", headers=READER).json()
    assert got["balances"] == library_balances(tmp_path)
    # the same file again: the ledger's no-op
    again = service.post(POST, content=CSV.read_bytes(), headers=headers).json()
    assert (again["posted"], again["unchanged"]) == (0, first["posted"])
    # a posted record with other content: 409 naming it, and nothing written
    before = count(ledger)
    lines = CSV.read_text(encoding="utf-8").splitlines()
    changed = [lines[0], lines[1].replace("22:00", "23:00")]
    r = service.post(POST, content="\n".join(changed).encode(), headers=headers)
    body = _problem(r, 409)
    assert body["field"] == "record_id" and "A001" in body["detail"]
    assert count(ledger) == before
    statement = service.get(f"/v1/ledger/accounts/V01/statement?on={AS_OF}",
                            headers=READER).json()
    assert statement["balance"] == balance(service)
    assert [t["id"] for t in statement["transfers"]][:2] == ["earn:A001", "earn:A002"]
    assert service.get("/v1/ledger/verify", headers=READER).json() == {"ok": True,
                                                                       "broken": []}


# --- spending -----------------------------------------------------------------------------


def test_a_redemption_is_idempotent_by_its_id(posted: Client, ledger: str) -> None:
    have = balance(posted)["balance"]
    body = {"id": "R1", "volunteer_id": "V01", "points": 2.5, "on": "2025-11-01",
            "memo": "soap"}
    r = posted.post("/v1/ledger/redemptions", json=body, headers=CLERK)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["transfer"]["id"] == "redeem:R1" and first["transfer"]["amount"] == "2.5"
    n = count(ledger)
    again = posted.post("/v1/ledger/redemptions", json=body, headers=CLERK)
    assert again.status_code == 200 and again.json()["transfer"] == first["transfer"]
    assert count(ledger) == n
    r = posted.post("/v1/ledger/redemptions", json={**body, "points": "3"}, headers=CLERK)
    problem = _problem(r, 409)
    assert problem["id"] == "redeem:R1" and problem["field"] == "id"
    assert count(ledger) == n
    assert Decimal(balance(posted)["balance"]) == Decimal(have) - Decimal("2.5")


def test_an_overdraft_names_the_account_and_the_amounts_and_takes_nothing(
        posted: Client, ledger: str) -> None:
    have = balance(posted)["balance"]
    n = count(ledger)
    for url, extra in (("/v1/ledger/redemptions", {}),
                       ("/v1/ledger/holds", {"expires_on": "2025-12-01"})):
        r = posted.post(url, json={"id": "BIG", "volunteer_id": "V01", "points": "100000",
                                   "on": "2025-11-01", **extra}, headers=CLERK)
        body = _problem(r, 409)
        assert (body["account"], body["requested"], body["available"]) == (
            "volunteer:V01", "100000", have)
        assert "100000" in body["detail"] and body["field"] == "points"
    r = posted.post("/v1/ledger/adjustments", json={
        "id": "TAKE", "volunteer_id": "V01", "points": "-100000", "on": "2025-11-01",
        "reason": "wrongly credited"}, headers=CLERK)
    assert _problem(r, 409)["requested"] == "100000"
    assert count(ledger) == n and balance(posted)["balance"] == have


def test_counters_racing_for_the_same_points_cannot_both_spend_them(
        posted: Client, ledger: str) -> None:
    """Four requests at once, each for 60% of the balance under its own id: the ledger's
    lock lets exactly one through, the others are overdrafts, and the books balance."""
    from concurrent.futures import ThreadPoolExecutor

    have = Decimal(balance(posted)["balance"])
    share = str((have * Decimal("0.6")).quantize(Decimal("0.01")))

    def redeem(n: int) -> Any:
        return posted.post("/v1/ledger/redemptions", json={
            "id": f"RACE{n}", "volunteer_id": "V01", "points": share, "on": "2025-11-01"},
            headers=CLERK)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(redeem, range(4)))
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409]
    for r in answers:
        if r.status_code == 409:
            assert _problem(r, 409)["type"].endswith("/ledger-overdraft")
    assert Decimal(balance(posted)["balance"]) == have - Decimal(share)
    assert posted.get("/v1/ledger/verify", headers=READER).json()["ok"]


def test_a_hold_is_captured_or_voided_once(posted: Client) -> None:
    have = balance(posted)["balance"]
    hold = {"id": "H1", "volunteer_id": "V01", "points": "1.25", "on": "2025-11-01"}
    r = posted.post("/v1/ledger/holds", json=hold, headers=CLERK)
    assert r.status_code == 200, r.text
    assert r.json()["balance"]["held"] == "1.25"
    settle = {"on": "2025-11-02"}
    captured = posted.post("/v1/ledger/holds/H1/capture", json=settle, headers=CLERK)
    assert captured.status_code == 200 and captured.json()["transfer"]["id"] == "capture:H1"
    again = posted.post("/v1/ledger/holds/H1/capture", json=settle, headers=CLERK)
    assert again.json()["transfer"] == captured.json()["transfer"]
    assert _problem(posted.post("/v1/ledger/holds/H1/release", json=settle, headers=CLERK),
                    409)["field"] == "hold"
    # a hold voided: its points come back
    posted.post("/v1/ledger/holds", json={**hold, "id": "H2"}, headers=CLERK)
    r = posted.post("/v1/ledger/holds/H2/release", json=settle, headers=CLERK)
    assert r.status_code == 200 and r.json()["transfer"]["id"] == "release:H2"
    assert Decimal(balance(posted)["balance"]) == Decimal(have) - Decimal("1.25")
    assert _problem(posted.post("/v1/ledger/holds/NOPE/capture", json=settle,
                                headers=CLERK), 404)["field"] == "hold"


def test_adjustments_and_reversals_are_signed_by_the_token(posted: Client) -> None:
    r = posted.post("/v1/ledger/adjustments", json={
        "id": "A1", "volunteer_id": "V01", "points": "5", "on": "2025-11-01",
        "reason": "award for the flood"}, headers=CLERK)
    assert r.status_code == 200, r.text
    assert r.json()["transfer"]["author"] == "Counter Clerk"
    r = posted.post("/v1/ledger/adjustments", json={
        "id": "A2", "volunteer_id": "V01", "points": "5", "on": "2025-11-01",
        "reason": "again", "by": "someone else"}, headers=CLERK)
    assert _problem(r, 422)["field"] == "by"
    r = posted.post("/v1/ledger/reversals", json={
        "transfer_id": "adjust:A1", "on": "2025-11-02", "reason": "entered twice"},
        headers=CLERK)
    assert r.status_code == 200 and r.json()["transfer"]["author"] == "Counter Clerk"
    r = posted.post("/v1/ledger/reversals", json={
        "transfer_id": "adjust:A1", "on": "2025-11-03", "reason": "entered twice"},
        headers=CLERK)
    assert "reversed once" in _problem(r, 409)["detail"]
    r = posted.post("/v1/ledger/expire", json={"on": "2025-12-31"}, headers=CLERK)
    assert r.status_code == 200 and set(r.json()) == {"on", "expired", "points"}


def test_bad_input_names_the_field_and_writes_nothing(posted: Client, ledger: str) -> None:
    n = count(ledger)
    redeem = {"id": "R9", "volunteer_id": "V01", "points": "1", "on": "2025-11-01"}
    for change, status, field in (({"points": "abc"}, 422, "points"),
                                  ({"points": 0}, 422, "points"),
                                  ({"points": "0.0000001"}, 422, "points"),
                                  ({"points": -1}, 422, "points"),
                                  ({"on": "2025-13-01"}, 422, "on"),
                                  ({"id": "  "}, 422, "id"),
                                  ({"volunteer_id": "V404"}, 404, "volunteer_id"),
                                  ({"on": "2020-01-01"}, 422, "date")):
        r = posted.post("/v1/ledger/redemptions", json={**redeem, **change}, headers=CLERK)
        body = _problem(r, status)
        assert field in (body.get("field"), *(f["field"] for f in body.get("fields", []))), \
            (change, body)
    assert _problem(posted.post("/v1/ledger/redemptions", content=b"{", headers=CLERK), 400)
    assert _problem(posted.get("/v1/ledger/accounts/V404", headers=READER), 404)
    r = posted.post(f"/v1/ledger/post/baseline?as_of={AS_OF}", content=CSV.read_bytes(),
                    headers={"Content-Type": "text/plain", **CLERK})
    assert _problem(r, 415)
    r = posted.post(f"/v1/ledger/post/nosuch?as_of={AS_OF}", content=CSV.read_bytes(),
                    headers={"Content-Type": "text/csv", **CLERK})
    assert _problem(r, 404)["policy"] == "nosuch"
    assert count(ledger) == n


# --- roles, the document, serve --ledger ----------------------------------------------------

ROUTES = [("GET", "/v1/ledger/balances", "read"),
          ("GET", "/v1/ledger/accounts/V01", "read"),
          ("GET", "/v1/ledger/accounts/V01/statement", "read"),
          ("GET", "/v1/ledger/verify", "read"),
          ("POST", POST, "ledger"),
          ("POST", "/v1/ledger/redemptions", "ledger"),
          ("POST", "/v1/ledger/holds", "ledger"),
          ("POST", "/v1/ledger/holds/H1/capture", "ledger"),
          ("POST", "/v1/ledger/holds/H1/release", "ledger"),
          ("POST", "/v1/ledger/adjustments", "ledger"),
          ("POST", "/v1/ledger/reversals", "ledger"),
          ("POST", "/v1/ledger/expire", "ledger")]


@pytest.fixture
def sqlite_service(tmp_path: Path) -> Iterator[tuple[Client, str]]:
    url = str(tmp_path / "points.db")
    with open_ledger(url, create=True) as book:
        book.migrate()
    yield Client(create_app([POLICIES], ledger=url, tokens=tokens(tmp_path))), url


def test_every_ledger_route_asks_for_its_role(sqlite_service: tuple[Client, str],
                                              tmp_path: Path) -> None:
    service, url = sqlite_service
    only = tokens_of(tmp_path / "till", {"till-3": ("till", ["ledger"])})
    till = Client(create_app([POLICIES], ledger=url, tokens=only))
    for method, path, role in ROUTES:
        r = service.request(method, path, json={})
        assert _problem(r, 401)["type"].endswith("/token"), path
        r = service.request(method, path, json={},
                            headers={"Authorization": "Bearer wrong"})
        _problem(r, 401)
        other = READER if role == "ledger" else None
        if other is not None:
            r = service.request(method, path, json={}, headers=other)
        else:
            r = till.request(method, path, json={}, headers={"Authorization": "Bearer till-3"})
        assert _problem(r, 403)["role"] == role, path
    spec = service.get("/openapi.json").json()
    for method, path, role in ROUTES:
        template = (path.split("?")[0].replace("/V01", "/{volunteer_id}")
                    .replace("/H1/", "/{hold_id}/").replace("/example-district", "/{name}"))
        op = spec["paths"][template][method.lower()]
        assert op["x-civicscore-roles"] == [role], path
        assert {"401", "403", "422", "503"} <= set(op["responses"]), path
        assert "application/problem+json" in op["responses"]["403"]["content"]
        if method == "POST":
            assert "409" in op["responses"], path


def test_without_a_ledger_the_routes_say_how_to_get_one() -> None:
    service = Client(create_app([POLICIES]))
    r = service.get("/v1/ledger/accounts/V01")
    assert "--ledger" in _problem(r, 404)["detail"]


def test_serve_refuses_a_ledger_that_is_not_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--ledger", str(tmp_path / "none.db"),
                                       "--policy-root", str(POLICIES)])
    assert result.exit_code == 2 and "civicscore ledger init" in result.output
    open_ledger(tmp_path / "new.db", create=True).close()
    result = CliRunner().invoke(main, ["serve", "--policy-root", str(POLICIES)],
                                env={"CIVICSCORE_LEDGER": str(tmp_path / "new.db")})
    assert result.exit_code == 2 and "not a ledger yet" in result.output
    assert "Traceback" not in result.output


def test_each_kind_of_refusal_keeps_its_answer() -> None:
    """The service tells refusals apart by their kind (issue 16), and answers each as it
    did when it matched message prefixes: the status, problem type and text."""
    from civicscore.errors import LedgerError
    from civicscore.ledger.errors import (
        LedgerConflict,
        LedgerInvalid,
        LedgerOverdraft,
        LedgerRefused,
        LedgerUnavailable,
        LedgerUnknown,
    )
    from civicscore.service.ledger import refusal

    cases: list[tuple[LedgerError, int, str]] = [
        (LedgerInvalid("id", "is required and missing (got ' ')"), 422, "ledger-refused"),
        (LedgerInvalid("points", "must be more than 0, got '-1'"), 422, "ledger-refused"),
        (LedgerUnknown("volunteer_id", "unknown volunteer 'X'"), 404, "ledger-unknown"),
        (LedgerUnknown("hold", "no hold 'H9' in the ledger"), 404, "ledger-unknown"),
        (LedgerConflict("transfer_id", "a hold transfer is not reversed"), 409,
         "ledger-conflict"),
        (LedgerOverdraft("points", "redemption 'R1' asks for 9 points"), 422,
         "ledger-refused"),
        (LedgerRefused("date", "2000-01-01 is before the account opened"), 422,
         "ledger-refused"),
        (LedgerUnavailable("db", "cannot connect to PostgreSQL at host"), 503,
         "ledger-unavailable"),
        (LedgerError("db", "a bare one"), 503, "ledger-unavailable"),
    ]
    for error, status, kind in cases:
        answer = refusal(error)
        assert (answer.status, answer.kind) == (status, kind), error
        if status != 503:
            assert answer.detail == str(error) and answer.extra["field"] == error.field
    conflict = refusal(LedgerConflict("id", "redeem id 'R1' is already in the ledger"),
                       "redeem:R1")
    assert conflict.status == 409 and conflict.extra["id"] == "redeem:R1"
