"""The city ledger: PostgreSQL through psycopg 3 (``pip install 'civicscore[postgres]'``).

Writers of the same volunteer are serialised by row locks: a redemption, an
adjustment or an expiry first takes ``SELECT ... FOR UPDATE`` on the accounts it
debits (in code order, so two writers cannot deadlock on each other), and only
then reads the lots it checks; a second redeemer waits, then sees the first one's
transfer. Writes run at READ COMMITTED (each statement sees what committed
before it, so what a writer reads after its lock is current); reads (a balance, a
statement, ``verify``) at REPEATABLE READ, one snapshot for all their statements.
A transaction that still loses a race -- a deadlock, a serialisation
failure, or two posts of the same new transfer id, where the second insert fails
on the unique index -- is rolled back and run again from the start, where it finds
the other's transfer (a no-op, or a refusal naming the id).

The URL is never echoed with its password.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from .core import Ledger
from .errors import LedgerUnavailable
from .rows import Row

T = TypeVar("T")

SCHEMA_LOCK = 0x4C454447  # "LEDG": the advisory lock two migrations at once queue on

RETRIES = 8
"""Times a transaction that lost a race is run again before the error is reported."""


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages)."""
    url = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    return re.sub(r"(password=)[^&\s]*", r"\1***", url)


def _sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _Tx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = self.conn.execute(_sql(sql), list(params)) if params else \
            self.conn.execute(sql)
        return list(cur.fetchall()) if cur.description is not None else []

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], *,
                    stored: bool = False) -> None:
        batch = [list(r) for r in rows]
        if batch:
            with self.conn.cursor() as cur:
                cur.executemany(_sql(sql), batch)


    def insert_new(self, tables: Sequence[tuple[str, Sequence[str], Sequence[Row]]], *,
                   rebuild: Sequence[str] = ()) -> bool:
        """``rebuild`` is not taken up: dropping an index in PostgreSQL locks the table
        against every reader until the commit, and one COPY already keeps its cost low."""
        from psycopg import errors

        try:
            with self.conn.transaction(), self.conn.cursor() as cur:  # a savepoint
                for table, columns, rows in tables:
                    if not rows:
                        continue
                    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
        except errors.UniqueViolation:
            return False
        return True


class PostgresLedger(Ledger):
    """A ledger in the PostgreSQL database at ``url`` (``postgresql://...``)."""

    dialect = "postgresql"
    sum_function = "SUM"

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        try:
            import psycopg
            from psycopg import conninfo
        except ImportError:
            raise LedgerUnavailable("db", "a PostgreSQL ledger needs psycopg: pip install "
                                          "'civicscore[postgres]'") from None
        self.psycopg = psycopg
        self.where = f"the ledger {safe_url(url)}"
        try:
            params = conninfo.conninfo_to_dict(url)  # checks the URL before connecting
        except psycopg.ProgrammingError as e:
            raise LedgerUnavailable("db", f"malformed PostgreSQL URL {safe_url(url)}: "
                                          f"{safe_url(str(e).strip())}") from None
        port = str(params.get("port") or "")
        if port and not all(p.strip().isdigit() for p in port.split(",")):
            raise LedgerUnavailable("db", f"malformed PostgreSQL URL {safe_url(url)}: the port "
                                          f"{port!r} is not a number")
        timeout = params.get("connect_timeout") or connect_timeout
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=int(timeout))
        except psycopg.OperationalError as e:
            first = safe_url(str(e).strip().splitlines()[0] if str(e).strip() else repr(e))
            raise LedgerUnavailable("db", f"cannot connect to PostgreSQL at {safe_url(url)}: "
                                          f"{first}") from None

    def _attempt(self, fn: Callable[[Any], T], *, read: bool = False) -> T:
        errors = self.psycopg.errors
        retry = (errors.SerializationFailure, errors.DeadlockDetected, errors.UniqueViolation)
        for attempt in range(RETRIES):
            try:
                with self.conn.transaction():
                    tx = _Tx(self.conn)
                    if read:  # one snapshot for all the statements of a balance or verify
                        tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    return fn(tx)
            except retry:
                if attempt == RETRIES - 1:
                    raise
            except self.psycopg.OperationalError as e:
                raise LedgerUnavailable("db", f"lost the connection to {self.where}: "
                                              f"{safe_url(str(e).strip())}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, fn: Callable[[Any], T]) -> T:
        return self._attempt(fn)

    def _read(self, fn: Callable[[Any], T]) -> T:
        return self._attempt(fn, read=True)

    def _lock(self, tx: Any, accounts: Sequence[str]) -> None:
        codes = sorted(set(accounts))
        if codes:
            tx.execute("SELECT code FROM accounts WHERE code = ANY(?) ORDER BY code "
                       "FOR UPDATE", (codes,))

    def _lock_schema(self, tx: Any) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))

    def _tables(self, tx: Any) -> set[str]:
        return {r[0] for r in tx.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}

    def _triggers(self, tx: Any) -> set[str]:
        return {r[0] for r in tx.execute(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT t.tgisinternal AND n.nspname = current_schema()")}

    def close(self) -> None:
        self.conn.close()
