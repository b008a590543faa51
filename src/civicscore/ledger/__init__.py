"""A points ledger for the volunteer scheme: SQLite by default, PostgreSQL for a city.

::

    from civicscore.ledger import open_ledger
    with open_ledger("points.db", create=True) as ledger:
        ledger.migrate()
        ledger.post(civicscore.load("policy.toml"), records, as_of=day)
        ledger.redeem("V01", "10", id="R001", on="2025-10-10")
        print(ledger.balance("V01", on=day).balance)

``open_ledger`` takes a file path (or ``sqlite:///PATH``, with ``?synchronous=full``
to survive a power cut too) or a ``postgresql://`` URL; ``None`` reads the
``CIVICSCORE_LEDGER`` environment variable. See docs/ledger.md for the accounts, the
lots, holds, reversals and the invariants ``verify`` checks. A refusal is one of the
``LedgerError`` kinds of :mod:`civicscore.ledger.errors` (``LedgerUnknown``,
``LedgerConflict``, ``LedgerOverdraft``, ...); ``statement_row`` words a statement's line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .core import Ledger
from .errors import (
    LedgerConflict,
    LedgerError,
    LedgerInvalid,
    LedgerOverdraft,
    LedgerRefused,
    LedgerUnavailable,
    LedgerUnknown,
    kind_of,
)
from .model import Balance, Lot, PostSummary, Transfer, statement_row
from .schema import SCHEMA_VERSION

ENV = "CIVICSCORE_LEDGER"

__all__ = ["ENV", "SCHEMA_VERSION", "Balance", "Ledger", "LedgerConflict", "LedgerError",
           "LedgerInvalid", "LedgerOverdraft", "LedgerRefused", "LedgerUnavailable",
           "LedgerUnknown", "Lot", "PostSummary", "Transfer", "kind_of", "open_ledger",
           "statement_row"]


def open_ledger(url: str | Path | None = None, *, create: bool = False) -> Ledger:
    """The ledger at ``url``: a SQLite file path (``sqlite:///PATH`` too), or a
    ``postgresql://`` URL. A SQLite file must exist unless ``create``; either way its
    tables come from ``migrate()`` (``civicscore ledger init``)."""
    if url is None or str(url).strip() == "":
        url = os.environ.get(ENV, "")
        if not url.strip():
            raise LedgerUnavailable("db", f"no ledger given: pass --db PATH_OR_URL or set {ENV}")
    if isinstance(url, Path):
        return _sqlite(url, create)
    text = url.strip()
    if text.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresLedger

        ledger: Ledger = PostgresLedger(text)
        return ledger
    if text.startswith("sqlite://"):
        path, _, query = text[len("sqlite://"):].partition("?")
        if not path:
            raise LedgerUnavailable("db", f"malformed URL {text!r}: write sqlite:///PATH")
        options = dict(part.partition("=")[::2] for part in query.split("&") if part)
        unknown = sorted(set(options) - {"synchronous"})
        if unknown:
            raise LedgerUnavailable("db", f"malformed URL {text!r}: unknown parameter "
                                          f"{unknown[0]!r} (a SQLite ledger takes synchronous="
                                          f"normal|full|extra)")
        return _sqlite(Path(path), create, options.get("synchronous", "NORMAL"))
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) or text.startswith("postgresql:"):
        scheme = text.split(":", 1)[0]
        raise LedgerUnavailable("db", f"malformed URL: {scheme!r} is not a kind of ledger; give a "
                                      f"file path, sqlite:///PATH or postgresql://HOST/DB")
    return _sqlite(Path(text), create)


def _sqlite(path: Path, create: bool, synchronous: str = "NORMAL") -> Ledger:
    from .sqlite import SQLiteLedger

    return SQLiteLedger(path, create=create, synchronous=synchronous)
