"""Redemption holds and reversals (issue 14), on SQLite and on a real PostgreSQL.

* a hold counts against the balance at once; capture redeems it, release gives its
  lots back; a hold past its expiry lapses (a balance counts it released, the next
  spend or ``expire`` posts the release);
* each hold is settled once, each transfer reversed once: by the code and by the
  database's own UNIQUE index;
* a reversal mirrors an earning, redemption or adjustment, and refuses what cannot be
  undone (spent points, an expiry, a hold);
* a schema-1 ledger with data migrates to schema 2 and still verifies;
* the ``hold``, ``capture``, ``release`` and ``reverse`` commands.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import main
from civicscore.errors import LedgerError
from civicscore.ledger import SCHEMA_VERSION, Ledger, open_ledger
from civicscore.ledger.schema import migrations

from .test_ledger_server import ledger_url, pg_server  # noqa: F401  (fixtures)

D = Decimal
POLICY = """
[policy]
id = "holds"
version = "1"
[volunteer]
confirmation_required = false
point_expiry_months = 2
[volunteer.activities.e]
points_per_event = 5
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> civicscore.Policy:
    path = tmp_path_factory.mktemp("holds") / "holds.toml"
    path.write_text(POLICY, encoding="utf-8")
    return civicscore.load(path, today=dt.date(2025, 1, 1))


def _records(*days: tuple[str, str]) -> list[dict[str, str]]:
    return [{"record_id": f"R{i}", "volunteer_id": vid, "activity": "e",
             "start": f"{day}T09:00", "end": f"{day}T10:00"}
            for i, (vid, day) in enumerate(days, 1)]


@pytest.fixture
def book(ledger_url: str, policy: civicscore.Policy) -> Any:  # noqa: F811
    """V1 earned 5 points on 1 March and 5 on 1 April (each expiring two months later)."""
    with open_ledger(ledger_url, create=True) as ledger:
        ledger.migrate()
        ledger.post(policy, _records(("V1", "2025-03-01"), ("V1", "2025-04-01")),
                    as_of=dt.date(2025, 4, 30))
        yield ledger


def _bal(book: Ledger, on: str) -> tuple[Decimal, Decimal, Decimal]:
    b = book.balance("V1", on=on)
    assert b.balance == b.earned + b.adjusted - b.redeemed - b.expired - b.held
    return b.balance, b.held, b.redeemed


def test_a_hold_counts_at_once_and_capture_redeems_it(book: Ledger) -> None:
    t = book.hold("V1", "7", id="H1", on="2025-04-02", expires_on="2025-04-09")
    assert (t.id, t.kind, t.debit_account, t.credit_account) == (
        "hold:H1", "hold", "volunteer:V1", "programme:hold")
    assert _bal(book, "2025-04-02") == (D(3), D(7), D(0))
    with pytest.raises(LedgerError, match="only 3 unexpired points") as e:
        book.redeem("V1", "4", id="X1", on="2025-04-03")
    assert e.value.field == "points"
    c = book.capture("H1", on="2025-04-05")
    assert (c.id, c.links, c.amount) == ("capture:H1", "hold:H1", D(7))
    assert _bal(book, "2025-04-05") == (D(3), D(0), D(7))
    assert book.capture("hold:H1", on="2025-04-05") == c  # settled once: the same capture
    with pytest.raises(LedgerError, match="was captured on 2025-04-05; it cannot be released"):
        book.release("H1", on="2025-04-06")
    assert book.verify() == []


def test_release_gives_the_same_lots_back(book: Ledger) -> None:
    book.hold("V1", "7", id="H1", on="2025-04-02")
    r = book.release("H1", on="2025-04-03")
    assert (r.id, r.kind, r.credit_account, r.links) == ("release:H1", "release",
                                                          "volunteer:V1", "hold:H1")
    assert _bal(book, "2025-04-03") == (D(10), D(0), D(0))
    assert book.release("H1", on="2025-04-04") == r
    with pytest.raises(LedgerError, match="was released on 2025-04-03; it cannot be captured"):
        book.capture("H1", on="2025-04-04")
    # the oldest lot is whole again: it expires on 1 May with all its 5 points
    assert _bal(book, "2025-05-01") == (D(5), D(0), D(0))
    assert book.verify() == []


def test_a_hold_lapses_on_its_expiry(book: Ledger) -> None:
    book.hold("V1", "8", id="H1", on="2025-04-02", expires_on="2025-04-10")
    assert _bal(book, "2025-04-09") == (D(2), D(8), D(0))
    assert _bal(book, "2025-04-10") == (D(10), D(0), D(0))  # lapsed: counted released
    with pytest.raises(LedgerError, match="lapsed on 2025-04-10; it cannot be captured"):
        book.capture("H1", on="2025-04-10")
    book.redeem("V1", "9", id="X1", on="2025-04-12")  # posts the lapse first
    released = [t for t in book.transfers() if t.kind == "release"]
    assert [(t.id, t.effective_on, t.memo) for t in released] == [
        ("release:H1", dt.date(2025, 4, 10), "lapsed")]
    assert _bal(book, "2025-04-12") == (D(1), D(0), D(9))
    assert book.verify() == []


def test_expire_releases_lapsed_holds_before_it_expires_lots(book: Ledger) -> None:
    book.hold("V1", "6", id="H1", on="2025-04-02", expires_on="2025-04-20")
    done = book.expire("2025-05-01")  # the March lot (5 points, held) expires on 1 May
    assert [t.id for t in done] == ["expire:earn:R1"]
    assert [t.id for t in book.transfers() if t.kind == "release"] == ["release:H1"]
    assert _bal(book, "2025-05-01") == (D(5), D(0), D(0))
    assert book.expire("2025-05-01") == []
    assert book.verify() == []


def test_a_hold_is_idempotent_by_id_and_bad_holds_write_nothing(book: Ledger) -> None:
    first = book.hold("V1", "2", id="H1", on="2025-04-02", expires_on="2025-05-02")
    assert book.hold("V1", "2", id="H1", on="2025-04-02", expires_on="2025-05-02") == first
    n = sum(1 for _ in book.transfers())
    cases: list[tuple[dict[str, Any], str, str]] = [
        (dict(volunteer_id="V1", points="3", id="H1", on="2025-04-02"), "id",
         "already in the ledger with other content"),
        (dict(volunteer_id="V1", points="11", id="H2", on="2025-04-02"), "points",
         "only 8 unexpired points"),
        (dict(volunteer_id="V9", points="1", id="H3", on="2025-04-02"), "volunteer_id",
         "unknown volunteer"),
        (dict(volunteer_id="V1", points="1", id="H4", on="2025-04-02",
              expires_on="2025-04-02"), "expires_on", "is not after"),
        (dict(volunteer_id="V1", points="-1", id="H5", on="2025-04-02"), "points",
         "more than 0"),
    ]
    for kwargs, field, message in cases:
        with pytest.raises(LedgerError, match=message) as e:
            book.hold(**kwargs)
        assert e.value.field == field
    with pytest.raises(LedgerError, match="no hold 'H9'"):
        book.capture("H9", on="2025-04-03")
    with pytest.raises(LedgerError, match="before hold 'H1' was made"):
        book.release("H1", on="2025-04-01")
    assert sum(1 for _ in book.transfers()) == n
    assert book.verify() == []


def test_reversing_an_earning_takes_its_lot_and_its_hours(book: Ledger) -> None:
    before = book.balance("V1", on="2025-04-02")
    r = book.reverse("earn:R2", on="2025-04-02", by="clerk", reason="duplicate record")
    assert (r.id, r.kind, r.debit_account, r.credit_account, r.links, r.author) == (
        "reverse:earn:R2", "reverse", "volunteer:V1", "programme:issuance", "earn:R2",
        "clerk")
    after = book.balance("V1", on="2025-04-02")
    assert (after.earned, after.balance, after.hours) == (
        before.earned - 5, before.balance - 5, before.hours - 1)
    with pytest.raises(LedgerError, match="already reversed by reverse:earn:R2") as e:
        book.reverse("earn:R2", on="2025-04-03", by="clerk", reason="again")
    assert e.value.field == "transfer_id"
    assert book.verify() == []


def test_a_spent_earning_cannot_be_reversed_until_its_spending_is(book: Ledger) -> None:
    book.redeem("V1", "3", id="X1", on="2025-04-02")  # from the March lot, earn:R1
    with pytest.raises(LedgerError, match="3 of its 5 points were already spent"):
        book.reverse("earn:R1", on="2025-04-03", by="clerk", reason="mistake")
    book.hold("V1", "1", id="H1", on="2025-04-02")
    with pytest.raises(LedgerError, match=r"a hold transfer is not reversed.*release the hold"):
        book.reverse("hold:H1", on="2025-04-03", by="clerk", reason="mistake")
    back = book.reverse("redeem:X1", on="2025-04-03", by="clerk", reason="goods returned")
    assert (back.debit_account, back.credit_account) == ("programme:redemption",
                                                          "volunteer:V1")
    assert _bal(book, "2025-04-03") == (D(9), D(1), D(0))
    book.release("H1", on="2025-04-03")
    book.reverse("earn:R1", on="2025-04-04", by="clerk", reason="mistake")
    assert _bal(book, "2025-04-04") == (D(5), D(0), D(0))
    with pytest.raises(LedgerError, match="no transfer 'earn:R7'"):
        book.reverse("earn:R7", on="2025-04-04", by="clerk", reason="x")
    with pytest.raises(LedgerError, match="reason: is required"):
        book.reverse("earn:R2", on="2025-04-04", by="clerk", reason=" ")
    assert book.verify() == []


def test_a_lot_given_back_after_its_expiry_expires_again(book: Ledger) -> None:
    book.redeem("V1", "5", id="X1", on="2025-04-02")  # all of the March lot
    assert book.expire("2025-05-01") == []  # nothing left in it
    book.reverse("redeem:X1", on="2025-05-03", by="clerk", reason="refund")
    assert _bal(book, "2025-05-03") == (D(5), D(0), D(0))  # the March lot is past its date
    assert [t.id for t in book.expire("2025-05-03")] == ["expire:earn:R1"]
    book.adjust("V1", "-1", id="A1", on="2025-05-04", by="clerk", reason="fix")
    book.reverse("adjust:A1", on="2025-05-05", by="clerk", reason="undo fix")
    assert _bal(book, "2025-05-05") == (D(5), D(0), D(0))
    assert book.verify() == []


def test_the_database_refuses_a_second_settlement(book: Ledger) -> None:
    book.hold("V1", "2", id="H1", on="2025-04-02")
    book.capture("H1", on="2025-04-03")
    forged = ("release:H1", "release", "programme:hold", "volunteer:V1", D(2),
              dt.date(2025, 4, 4), "V1", 0, "", "", "", "[]", "x", "", "", "now", "hold:H1",
              None)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        book._write(lambda tx: tx.execute(
            "INSERT INTO transfers (id, kind, debit_account, credit_account, amount, "
            "effective_on, volunteer_id, minutes, policy_id, policy_version, policy_hash, "
            "reason_codes, content_hash, author, memo, posted_at, links, expires_on) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", forged))
    assert book.verify() == []


def test_verify_names_a_release_that_gives_back_other_lots(tmp_path: Path,
                                                           policy: civicscore.Policy) -> None:
    path = tmp_path / "points.db"
    with open_ledger(path, create=True) as book:
        book.migrate()
        book.post(policy, _records(("V1", "2025-03-01"), ("V1", "2025-04-01")),
                  as_of=dt.date(2025, 4, 30))
        book.hold("V1", "2", id="H1", on="2025-04-02")
        book.release("H1", on="2025-04-03")
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO lot_uses VALUES ('release:H1', 'earn:R2', '-1')")
    conn.commit()
    conn.close()
    with open_ledger(path) as book:
        problems = book.verify()
    assert any("'release:H1': does not give back exactly the lot uses of 'hold:H1'" in p
               for p in problems), problems


def test_a_schema_1_ledger_with_data_migrates(ledger_url: str,  # noqa: F811
                                              policy: civicscore.Policy) -> None:
    """Build a ledger as schema 1 made it (its migration alone, its rows), then upgrade."""
    with open_ledger(ledger_url, create=True) as book:
        old = migrations(book.dialect)[1]

        def v1(tx: Any) -> None:
            for statement in old:
                tx.execute(statement)
            tx.execute("INSERT INTO ledger_meta (key, value) VALUES ('schema_version', '1')")
            tx.executemany("INSERT INTO accounts (code, kind, volunteer_id, created_at) "
                           "VALUES (?, ?, NULL, 'then')",
                           [(f"programme:{k}", k) for k in
                            ("issuance", "redemption", "expiry", "adjustment")])
            tx.execute("INSERT INTO accounts VALUES ('volunteer:V1', 'volunteer', 'V1', 't')")
            tx.execute("INSERT INTO transfers (id, kind, debit_account, credit_account, "
                       "amount, effective_on, volunteer_id, minutes, content_hash, posted_at) "
                       "VALUES ('earn:R1', 'earn', 'programme:issuance', 'volunteer:V1', 5, "
                       "'2025-03-01', 'V1', 60, 'h', 't')")
            tx.execute("INSERT INTO lots VALUES ('earn:R1', 'V1', '2025-03-01', "
                       "'2025-05-01', 5)")

        book._write(v1)
        assert book.version() == 1
        assert book.migrate() == (1, SCHEMA_VERSION)
        assert [(t.seq, t.id, t.amount) for t in book.transfers()] == [(1, "earn:R1", D(5))]
        problems = book.verify()
        assert problems == ["transfer 'earn:R1': an earning without its policy id, version "
                            "and hash"]  # as the hand-made row is: nothing else broke
        book.hold("V1", "2", id="H1", on="2025-03-02")
        book.capture("H1", on="2025-03-03")
        assert book.balance("V1", on="2025-03-03").balance == 3


def _cli(args: list[str], db: str) -> Any:
    return CliRunner().invoke(main, ["ledger", *args, "--db", db], catch_exceptions=False)


def test_the_hold_and_reverse_commands(book: Ledger, ledger_url: str) -> None:  # noqa: F811
    r = _cli(["hold", "V1", "4", "--id", "H1", "--on", "2025-04-02", "--expires-on",
              "2025-04-09"], ledger_url)
    assert r.exit_code == 0, r.output
    assert r.output == "hold:H1: 4 points of V1 held on 2025-04-02 until 2025-04-09; " \
                       "balance 6\n"
    r = _cli(["capture", "H1", "--on", "2025-04-03"], ledger_url)
    assert r.output == "capture:H1: 4 points of V1 redeemed on 2025-04-03; balance 6\n"
    _cli(["hold", "V1", "1", "--id", "H2", "--on", "2025-04-03"], ledger_url)
    r = _cli(["release", "H2", "--on", "2025-04-04"], ledger_url)
    assert r.output == "release:H2: 1 points of V1 given back on 2025-04-04; balance 6\n"
    r = _cli(["reverse", "capture:H1", "--on", "2025-04-05", "--by", "clerk", "--reason",
              "x"], ledger_url)
    assert r.exit_code == 2 and "adjust to refund it" in r.output
    r = _cli(["reverse", "earn:R2", "--on", "2025-04-05", "--by", "clerk", "--reason",
              "duplicate"], ledger_url)
    assert r.output == "reverse:earn:R2: 5 points of V1 back from volunteer:V1 to " \
                       "programme:issuance on 2025-04-05; balance 1\n"
    r = _cli(["reverse", "earn:R2", "--on", "2025-04-05", "--reason", "x"], ledger_url)
    assert r.exit_code == 2 and "--by" in r.output
    r = _cli(["balance", "V1", "--on", "2025-04-05", "--format", "json"], ledger_url)
    assert '"held": "0"' in r.output and '"redeemed": "4"' in r.output
    r = _cli(["verify"], ledger_url)
    assert r.exit_code == 0 and r.output.startswith("ok: ")


def test_a_sqlite_url_may_ask_for_full_durability(tmp_path: Path) -> None:
    with open_ledger(f"sqlite://{tmp_path}/a.db?synchronous=full", create=True) as book:
        assert book.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # type: ignore[attr-defined]
    with open_ledger(f"sqlite://{tmp_path}/a.db", create=True) as book:
        assert book.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # type: ignore[attr-defined]
    for bad, message in [("?synchronous=off", "synchronous must be NORMAL, FULL or EXTRA"),
                         ("?journal=delete", "unknown parameter 'journal'")]:
        with pytest.raises(LedgerError, match=message):
            open_ledger(f"sqlite://{tmp_path}/a.db{bad}", create=True)


def test_a_statement_shows_what_each_transfer_did_to_the_account(
        book: Ledger, ledger_url: str) -> None:  # noqa: F811
    book.hold("V1", "4", id="H1", on="2025-04-02")
    book.capture("H1", on="2025-04-03")
    r = _cli(["statement", "V1", "--on", "2025-04-03", "--format", "csv"], ledger_url)
    rows = [line.split(",")[1:6] for line in r.output.splitlines()[1:]]
    assert rows == [["earn:R1", "earn", "2025-03-01", "5", "5"],
                    ["earn:R2", "earn", "2025-04-01", "5", "10"],
                    ["hold:H1", "hold", "2025-04-02", "-4", "6"],
                    ["capture:H1", "capture", "2025-04-03", "0", "6"]]
