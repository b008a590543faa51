"""The embedded ledger: one SQLite file (stdlib ``sqlite3``), nothing to start.

Write-ahead logging lets readers go on while one process writes. Every write
is one ``BEGIN IMMEDIATE`` transaction: it takes the file's write lock before
it reads the balance it checks, so two processes redeeming the same points are
serialised and the second sees the first's transfer (a busy file is waited for,
up to ``timeout`` seconds). ``synchronous = NORMAL`` in WAL mode keeps every
committed transaction across a crash of the process (``kill -9``); only a
power cut may lose the last ones, never leaving a partial one.

Amounts are stored as decimal text and summed by ``dsum``, an exact ``Decimal``
aggregate registered on the connection (SQLite's own SUM would use floats).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from .core import Ledger
from .errors import LedgerUnavailable
from .model import text
from .rows import Row

T = TypeVar("T")


class _DecimalSum:
    """``dsum(x)``: the exact sum of decimal texts, as text (NULL for no rows)."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            self.total = (self.total or Decimal(0)) + Decimal(str(value))

    def finalize(self) -> str | None:
        return None if self.total is None else text(self.total)


def _param(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or value is None:  # the common case, first
        return value
    if kind is Decimal:
        return text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class _Tx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(sql, [_param(p) for p in params]).fetchall()

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], *,
                    stored: bool = False) -> None:
        self.conn.executemany(sql, rows if stored else ([_param(p) for p in row]
                                                        for row in rows))


    def insert_new(self, tables: Sequence[tuple[str, Sequence[str], Sequence[Row]]], *,
                   rebuild: Sequence[str] = ()) -> bool:
        self.conn.execute("SAVEPOINT insert_new")
        try:
            built = []  # each index of ``rebuild`` as SQLite stores it, dropped until the end
            for name in rebuild:
                found = self.conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' "
                                          "AND name = ?", (name,)).fetchall()
                if found and found[0][0]:
                    built.append(found[0][0])
                    self.conn.execute(f'DROP INDEX "{name}"')
            for table, columns, rows in tables:
                self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                      f"({', '.join('?' for _ in columns)})", rows)
            for sql in built:  # the same definition, built by one sort of every row
                self.conn.execute(sql)
        except sqlite3.IntegrityError as e:
            self.conn.execute("ROLLBACK TO insert_new")  # the dropped indexes come back too
            self.conn.execute("RELEASE insert_new")
            if "UNIQUE" in str(e):
                return False
            raise
        except BaseException:
            self.conn.execute("ROLLBACK TO insert_new")
            self.conn.execute("RELEASE insert_new")
            raise
        self.conn.execute("RELEASE insert_new")
        return True


class SQLiteLedger(Ledger):
    """A ledger in the SQLite file at ``path``."""

    dialect = "sqlite"
    sum_function = "dsum"

    @staticmethod
    def store_date(value: dt.date | None) -> Any:
        return None if value is None else value.isoformat()

    @staticmethod
    def store_amount(value: Decimal) -> Any:
        return text(value)

    def __init__(self, path: str | Path, *, create: bool = False, timeout: float = 60.0,
                 synchronous: str = "NORMAL") -> None:
        """``synchronous``: ``NORMAL`` (the default) keeps every committed transaction
        across a crash of the process; ``FULL`` also across a power cut, at an fsync per
        commit (docs/ledger.md, "Durability")."""
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise LedgerUnavailable("db", f"synchronous must be NORMAL, FULL or EXTRA, not "
                                          f"{synchronous!r}")
        synchronous = synchronous.upper()
        self.path = Path(path)
        self.where = f"the ledger {self.path}"
        if not self.path.parent.is_dir():
            raise LedgerUnavailable("db", f"directory {self.path.parent} does not exist (for the "
                                          f"ledger file {self.path})")
        if not create and not self.path.exists():
            raise LedgerUnavailable("db", f"no ledger at {self.path}: create it with civicscore "
                                          f"ledger init --db {self.path}")
        try:
            self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.DatabaseError as e:
            raise LedgerUnavailable("db", f"{self.path} is not a SQLite ledger ({e})") from None
        self.conn.execute(f"PRAGMA synchronous = {synchronous}")
        # 64 MiB of page cache (SQLite's default is 2 MiB): a big post then keeps its
        # index pages in memory instead of spilling and re-reading them mid-transaction.
        self.conn.execute("PRAGMA cache_size = -65536")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.create_aggregate("dsum", 1, _DecimalSum)  # type: ignore[arg-type]

    def _run(self, begin: str, fn: Callable[[_Tx], T]) -> T:
        try:
            self.conn.execute(begin)
        except sqlite3.OperationalError as e:
            raise LedgerUnavailable("db", f"{self.where} is busy or unwritable ({e})") from None
        try:
            result = fn(_Tx(self.conn))
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return result

    def _write(self, fn: Callable[[Any], T]) -> T:
        return self._run("BEGIN IMMEDIATE", fn)

    def _read(self, fn: Callable[[Any], T]) -> T:
        return self._run("BEGIN", fn)  # one snapshot for the whole read

    def migrate(self) -> tuple[int, int]:
        """As ``Ledger.migrate``, with foreign keys off while tables are rebuilt (SQLite's
        twelve-step procedure; they are checked before the commit, ``_check_keys``)."""
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            return super().migrate()
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")

    def _check_keys(self, tx: Any) -> None:
        broken = tx.execute("PRAGMA foreign_key_check")
        if broken:
            raise LedgerUnavailable("db", f"migrating {self.where} would leave {len(broken)} "
                                          f"dangling reference(s), first {broken[0]}; nothing "
                                          f"was changed")

    def _tables(self, tx: Any) -> set[str]:
        return {r[0] for r in tx.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _triggers(self, tx: Any) -> set[str]:
        names = {r[0] for r in tx.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        return {f"{t}_append_only" for t in ("accounts", "transfers", "lots", "lot_uses")
                if {f"{t}_no_UPDATE", f"{t}_no_DELETE"} <= names}

    def close(self) -> None:
        self.conn.close()
