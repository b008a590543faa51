"""A bulk post (at least ``core.BULK`` transfers, and at least as many as the ledger holds)
builds the volunteer index after its inserts instead of entry by entry. Whatever path it
takes, it must end with the same indexes, the same rows and balances as a post of the same
records in small pieces, and a re-used id must still be found (a no-op, or a refusal with
nothing written) with the index back in place. ``BULK`` is lowered so that a few hundred
records take the bulk path; the 20,000-record crash tests of test_ledger_concurrency.py
(CIVICSCORE_SLOW=1) take it at the real threshold, killed part way."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import civicscore
from civicscore.errors import LedgerError
from civicscore.ledger import Ledger, core, open_ledger
from civicscore.ledger.sqlite import SQLiteLedger

from .test_ledger_server import ledger_url, pg_server  # noqa: F401  (fixtures)

AS_OF = dt.date(2025, 12, 31)
POLICY = """
[policy]
id = "bulk"
version = "1"
[volunteer]
confirmation_required = false
overlap = "allow"
point_expiry_months = 6
[volunteer.activities.a]
points_per_hour = 1.25
"""


@pytest.fixture
def policy(tmp_path: Path) -> civicscore.Policy:
    (tmp_path / "bulk.toml").write_text(POLICY, encoding="utf-8")
    return civicscore.load(tmp_path / "bulk.toml", today=dt.date(2025, 1, 1))


@pytest.fixture(autouse=True)
def small_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "BULK", 50)


def _records(lo: int, hi: int, *, longer: int | None = None) -> list[dict[str, str]]:
    out = []
    for i in range(lo, hi):
        day = dt.date(2025, 1, 1) + dt.timedelta(days=i % 300)
        end = 12 if i == longer else 10 + i % 2
        out.append({"record_id": f"B{i}", "volunteer_id": f"V{i % 13}", "activity": "a",
                    "start": f"{day}T09:00", "end": f"{day}T{end}:30"})
    return out


def _indexes(book: Ledger) -> list[tuple[str, str]]:
    if not isinstance(book, SQLiteLedger):
        return []  # PostgreSQL keeps its indexes (it takes up no rebuild)
    with sqlite3.connect(book.path) as conn:
        return sorted(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
                      .fetchall())


def _state(book: Ledger) -> tuple[list[Any], list[Any]]:
    rows = [(t.id, t.amount, t.effective_on, t.volunteer_id, t.content_hash)
            for t in book.transfers()]
    return sorted(rows), [b.to_row() for b in book.balances(on=AS_OF)]


def _fresh(url: str) -> Ledger:
    book = open_ledger(url, create=True)
    book.migrate()
    return book


def test_a_bulk_post_keeps_every_index_and_equals_small_posts(
        ledger_url: str, policy: civicscore.Policy, tmp_path: Path) -> None:  # noqa: F811
    with _fresh(ledger_url) as book:
        indexes = _indexes(book)
        statements: list[str] = []
        if isinstance(book, SQLiteLedger):
            book.conn.set_trace_callback(statements.append)
        summary = book.post(policy, _records(0, 200), as_of=AS_OF)
        assert (summary.posted, summary.unchanged) == (200, 0)
        if isinstance(book, SQLiteLedger):  # the bulk path was taken
            book.conn.set_trace_callback(None)
            assert 'DROP INDEX "transfers_volunteer"' in statements
        assert _indexes(book) == indexes  # dropped and built again, the same definition
        assert book.verify() == []
        bulk = _state(book)
    with _fresh(str(tmp_path / "pieces.db")) as pieces:
        statements.clear()
        assert isinstance(pieces, SQLiteLedger)
        pieces.conn.set_trace_callback(statements.append)
        for lo in range(0, 200, 20):  # 20 < BULK: entry by entry
            pieces.post(policy, _records(lo, lo + 20), as_of=AS_OF)
        pieces.conn.set_trace_callback(None)
        assert not any("DROP INDEX" in s for s in statements)
        assert _state(pieces) == bulk


def test_the_balance_query_uses_the_rebuilt_index(policy: civicscore.Policy,
                                                  tmp_path: Path) -> None:
    with _fresh(str(tmp_path / "points.db")) as book:
        book.post(policy, _records(0, 200), as_of=AS_OF)
        with sqlite3.connect(tmp_path / "points.db") as conn:
            plan = conn.execute("EXPLAIN QUERY PLAN SELECT id FROM transfers WHERE "
                                "volunteer_id = ? ORDER BY seq", ("V1",)).fetchall()
        assert "transfers_volunteer" in " ".join(str(r) for r in plan)


def test_a_bulk_repost_over_earlier_ids_posts_only_the_new(
        ledger_url: str, policy: civicscore.Policy) -> None:  # noqa: F811
    with _fresh(ledger_url) as book:
        indexes = _indexes(book)
        book.post(policy, _records(0, 40), as_of=AS_OF)  # under BULK
        again = book.post(policy, _records(0, 120), as_of=AS_OF)  # bulk, 40 ids taken
        assert (again.posted, again.unchanged) == (80, 40)
        assert _indexes(book) == indexes  # the savepoint rolled back gave the index back
        assert book.verify() == []
        state = _state(book)
        assert book.post(policy, _records(0, 120), as_of=AS_OF).posted == 0
        assert _state(book) == state


def test_a_bulk_post_with_a_changed_record_writes_nothing(
        ledger_url: str, policy: civicscore.Policy) -> None:  # noqa: F811
    with _fresh(ledger_url) as book:
        indexes = _indexes(book)
        book.post(policy, _records(0, 40), as_of=AS_OF)
        state = _state(book)
        with pytest.raises(LedgerError, match="record B7 is already in the ledger with other "
                                              "content; nothing was posted"):
            book.post(policy, _records(0, 120, longer=7), as_of=AS_OF)
        assert _state(book) == state
        assert _indexes(book) == indexes
        assert book.verify() == []
