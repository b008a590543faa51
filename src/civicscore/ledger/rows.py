"""How the ledger's rows are read and written: the transfer columns, the one-transaction
protocol both backends give (``Tx``), and stored values back to Python (NUMERIC or
decimal text to ``Decimal``, DATE or ISO text to ``date``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from .model import Transfer, canonical

Row = tuple[Any, ...]

TRANSFER_COLUMNS = ("id", "kind", "debit_account", "credit_account", "amount", "effective_on",
                    "volunteer_id", "minutes", "policy_id", "policy_version", "policy_hash",
                    "reason_codes", "content_hash", "author", "memo", "posted_at", "links",
                    "expires_on")
SELECT_TRANSFER = f"SELECT {', '.join(TRANSFER_COLUMNS)}, seq FROM transfers"
WRITE_COLUMNS = (*TRANSFER_COLUMNS, "lot", "lot_expires_on")
"""A transfer as written: its columns, then the lot it makes (schema 3: whether it makes
one, and when that lot expires; read back through the ``lots`` view)."""
INSERT_TRANSFER = (f"INSERT INTO transfers ({', '.join(WRITE_COLUMNS)}) VALUES "
                   f"({', '.join('?' for _ in WRITE_COLUMNS)})")


class Tx(Protocol):
    """One transaction: ``?`` placeholders, rows as tuples."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], *,
                    stored: bool = False) -> None:
        """``stored``: the values are already in the backend's stored form
        (``Ledger.store_date`` / ``store_amount``), so nothing is converted."""

    def insert_new(self, tables: Sequence[tuple[str, Sequence[str], Sequence[Row]]], *,
                   rebuild: Sequence[str] = ()) -> bool:
        """Insert every row (stored form) of each ``(table, columns, rows)``, in one round
        trip per table where the backend can (PostgreSQL: COPY), and return True; or, when
        a row takes a unique key already there, insert none of them and return False (a
        savepoint is rolled back; the transaction goes on). This is posting's fast path: a
        batch of new ids needs no query to find which ids are new.

        ``rebuild``: names of (non-unique) indexes of those tables that the backend may
        drop before the inserts and build again, with the same definition, after them,
        inside the same savepoint, so no reader or later statement ever sees them missing.
        The caller passes them only for a batch at least as big as the table: SQLite then
        builds an index by one sort of its rows in a fraction of what as many inserts at
        random places in it cost (docs/ledger.md, "Speed")."""


def dec(value: Any) -> Decimal:
    """A stored amount (NUMERIC, decimal text, or NULL for an empty sum) as a Decimal."""
    return Decimal(0) if value is None else canonical(Decimal(str(value)))


def day(value: Any) -> dt.date:
    """A stored day (DATE or ISO text)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def transfer_of(row: Row) -> Transfer:
    """A ``transfers`` row (``SELECT_TRANSFER`` order) as a Transfer."""
    (tid, kind, debit, credit, amount, eff, vid, minutes, pid, pver, phash, codes, chash,
     author, memo, posted, links, until, seq) = row
    return Transfer(tid, kind, debit, credit, dec(amount), day(eff), vid, int(minutes), pid,
                    pver, phash, tuple(json.loads(codes)), chash, author, memo, posted,
                    int(seq), links, None if until is None else day(until))
