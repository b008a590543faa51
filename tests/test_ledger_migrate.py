"""Schema 3 (a lot as two columns of its transfer) reached in place from a schema 2 ledger
with data, on both backends: every transfer, ``seq``, lot, lot use and hold is kept, the
balances and ``verify`` say the same after as before, and a lot that ever differed from
its transfer refuses the migration with nothing changed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from civicscore.errors import LedgerError
from civicscore.ledger import SCHEMA_VERSION, Ledger, open_ledger
from civicscore.ledger.schema import migrations

from .test_ledger_server import ledger_url, pg_server  # noqa: F401  (fixtures)

D = Decimal
DAY = dt.date
COLUMNS = ("id, kind, debit_account, credit_account, amount, effective_on, volunteer_id, "
           "minutes, policy_id, policy_version, policy_hash, content_hash, author, memo, "
           "posted_at, links, expires_on")
ISSUE, VOL, HOLD = "programme:issuance", "volunteer:V1", "programme:hold"
TRANSFERS = [  # as a schema 2 ledger holds them, in posting order
    ("earn:R1", "earn", ISSUE, VOL, D(5), DAY(2025, 3, 1), "V1", 60, "p", "1", "h", "c1", "",
     "", "t", None, None),
    ("earn:R0", "earn", ISSUE, VOL, D(0), DAY(2025, 3, 1), "V1", 30, "p", "1", "h", "c0", "",
     "", "t", None, None),  # hours, no points: no lot
    ("earn:R2", "earn", ISSUE, VOL, D("3.5"), DAY(2025, 3, 2), "V1", 90, "p", "1", "h", "c2",
     "", "", "t", None, None),
    ("adjust:A1", "adjust", "programme:adjustment", VOL, D(2), DAY(2025, 3, 3), "V1", 0, "",
     "", "", "c3", "clerk", "found", "t", None, None),  # a lot that never expires
    ("redeem:X1", "redeem", VOL, "programme:redemption", D(6), DAY(2025, 3, 4), "V1", 0, "",
     "", "", "c4", "", "", "t", None, None),
    ("hold:H1", "hold", VOL, HOLD, D(1), DAY(2025, 3, 5), "V1", 0, "", "", "", "c5", "", "",
     "t", None, DAY(2025, 3, 20)),
]
LOTS = [("earn:R1", "V1", DAY(2025, 3, 1), DAY(2025, 5, 1), D(5)),
        ("earn:R2", "V1", DAY(2025, 3, 2), DAY(2025, 5, 2), D("3.5")),
        ("adjust:A1", "V1", DAY(2025, 3, 3), None, D(2))]
USES = [("redeem:X1", "earn:R1", D(5)), ("redeem:X1", "earn:R2", D(1)),
        ("hold:H1", "earn:R2", D(1))]


def _schema_2(book: Ledger, lots: list[tuple[Any, ...]]) -> None:
    """The ledger as schema 2 left it: its migrations alone, then its rows."""

    def run(tx: Any) -> None:
        for version in (1, 2):
            for statement in migrations(book.dialect)[version]:
                tx.execute(statement)
        tx.execute("INSERT INTO ledger_meta (key, value) VALUES ('schema_version', '2')")
        tx.executemany("INSERT INTO accounts (code, kind, volunteer_id, created_at) "
                       "VALUES (?, ?, NULL, 'then')",
                       [(f"programme:{k}", k) for k in
                        ("issuance", "redemption", "expiry", "adjustment", "hold")])
        tx.execute("INSERT INTO accounts VALUES ('volunteer:V1', 'volunteer', 'V1', 't')")
        tx.executemany(f"INSERT INTO transfers ({COLUMNS}) VALUES "
                       f"({', '.join('?' for _ in COLUMNS.split(','))})", TRANSFERS)
        tx.executemany("INSERT INTO lots VALUES (?, ?, ?, ?, ?)", lots)
        tx.executemany("INSERT INTO lot_uses VALUES (?, ?, ?)", USES)

    book._write(run)


def test_a_schema_2_ledger_with_lots_and_holds_migrates(ledger_url: str) -> None:  # noqa: F811
    with open_ledger(ledger_url, create=True) as book:
        _schema_2(book, LOTS)
        assert book.version() == 2
        before = ([(t.seq, t.id, t.amount, t.expires_on) for t in book.transfers()],
                  book._read(lambda tx: book._lots(tx)),
                  book.balance("V1", on="2025-03-10"), book.balance("V1", on="2025-06-01"))
        assert book.migrate() == (2, SCHEMA_VERSION)
        after = ([(t.seq, t.id, t.amount, t.expires_on) for t in book.transfers()],
                 book._read(lambda tx: book._lots(tx)),
                 book.balance("V1", on="2025-03-10"), book.balance("V1", on="2025-06-01"))
        assert after == before
        assert [lot.remaining for lot in after[1]] == [D(0), D("1.5"), D(2)]
        assert book.verify() == []
        assert before[2].balance == D("3.5") and before[2].held == D(1)
        # the migrated ledger goes on: the hold is captured, a lot is added and expired
        book.capture("H1", on="2025-03-06")
        book.adjust("V1", "1", id="A2", on="2025-03-07", by="clerk", reason="x",
                    expires_on="2025-04-01")
        assert [(t.id, t.amount) for t in book.expire("2025-06-01")] == [
            ("expire:earn:R2", D("1.5")), ("expire:adjust:A2", D(1))]  # oldest lot first
        assert book.balance("V1", on="2025-06-01").balance == D(2)
        assert book.verify() == []
        with pytest.raises(Exception, match=r"(?i)check constraint"):  # schema 3's kinds
            book._write(lambda tx: tx.execute(
                f"INSERT INTO transfers ({COLUMNS}) VALUES "
                f"({', '.join('?' for _ in COLUMNS.split(','))})",
                ("bogus:1", "bogus", *TRANSFERS[0][2:])))
        for sql in ("UPDATE lots SET amount = 9", "DELETE FROM lots"):
            with pytest.raises(Exception, match="append-only"):
                book._write(lambda tx, sql=sql: tx.execute(sql))


def test_a_lot_unlike_its_transfer_refuses_the_migration(ledger_url: str) -> None:  # noqa: F811
    with open_ledger(ledger_url, create=True) as book:
        _schema_2(book, [LOTS[0], (*LOTS[1][:4], D(3)), LOTS[2]])
        with pytest.raises(LedgerError, match=r"1 lot\(s\) differ from the transfer that "
                                              r"made them .* first 'earn:R2'; nothing was "
                                              r"changed"):
            book.migrate()
        assert book.version() == 2
        assert len(book._read(lambda tx: book._lots(tx))) == 3
