"""The ledger's tables, one list of migrations per SQL dialect, and its version.

The schema is created and upgraded by the library (``civicscore ledger init`` and
``migrate``): ``ledger_meta.schema_version`` says which migrations ran. Migration
``n`` takes a ledger from version ``n - 1`` to ``n``; a ledger newer than this
library is refused rather than guessed at.

Append-only is enforced by the database, not only by this code: triggers refuse
every UPDATE and DELETE of accounts, transfers, lots and lot uses.

Version 2 adds redemption holds and reversals: the ``hold`` account kind, the
``hold``/``capture``/``release``/``reverse`` transfer kinds, a transfer's ``links``
(the hold it settles or the transfer it reverses; UNIQUE, so nothing is settled or
reversed twice, whatever the code does) and ``expires_on`` (when a hold lapses).
SQLite cannot change a CHECK constraint in place, so there the two tables are
rebuilt (SQLite's documented twelve-step procedure, foreign keys off for the
copy and checked before the commit); this also drops ``AUTOINCREMENT``, which
only costs a write per transfer in a table whose rows are never deleted.

Version 3 holds a lot as two columns of the transfer that made it (``lot``, true for
an earning or added adjustment that carries points, and ``lot_expires_on``): a lot's
id, volunteer, earning day and amount always were its transfer's, so the ``lots`` table
was a second copy of them, and writing it (a row, its key and two indexes) was about
half of a post's time in SQLite. ``lots`` is now a view of those columns, so every
reader is unchanged; a lot use references its lot's transfer. The migration copies the
lots into their transfers (refused, nothing changed, if a lot ever differed from its
transfer: ``Ledger.migrate``), keeps every row and ``seq``, and drops the table. It also
makes the UNIQUE of ``links`` a partial index (``WHERE links IS NOT NULL``): the same
rule, without an index entry for each transfer that links nothing; SQLite's CHECK of a
transfer's kind is written as comparisons (``_KIND_IS_3``). Updates and deletes
of the view are refused as of the tables (``lots_no_UPDATE``/``lots_no_DELETE`` INSTEAD
OF triggers; ``lots_append_only`` on PostgreSQL). The lot's expiry has no index: only
``expire`` reads it, and scans the transfers once (docs/ledger.md, "Speed").
"""

from __future__ import annotations

SCHEMA_VERSION = 3

_TABLES = """
CREATE TABLE ledger_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE accounts (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL
        CHECK (kind IN ('volunteer', 'issuance', 'redemption', 'expiry', 'adjustment')),
    volunteer_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE transfers (
    seq {serial},
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('earn', 'redeem', 'expire', 'adjust')),
    debit_account TEXT NOT NULL REFERENCES accounts (code),
    credit_account TEXT NOT NULL REFERENCES accounts (code),
    amount {decimal} NOT NULL,
    effective_on {date} NOT NULL,
    volunteer_id TEXT NOT NULL,
    minutes BIGINT NOT NULL DEFAULT 0,
    policy_id TEXT NOT NULL DEFAULT '',
    policy_version TEXT NOT NULL DEFAULT '',
    policy_hash TEXT NOT NULL DEFAULT '',
    reason_codes TEXT NOT NULL DEFAULT '[]',
    content_hash TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    memo TEXT NOT NULL DEFAULT '',
    posted_at TEXT NOT NULL,
    CHECK (debit_account <> credit_account)
);
CREATE INDEX transfers_volunteer ON transfers (volunteer_id, seq);
CREATE TABLE lots (
    id TEXT PRIMARY KEY REFERENCES transfers (id),
    volunteer_id TEXT NOT NULL,
    earned_on {date} NOT NULL,
    expires_on {date},
    amount {decimal} NOT NULL
);
CREATE INDEX lots_volunteer ON lots (volunteer_id, earned_on, id);
CREATE INDEX lots_expiry ON lots (expires_on);
CREATE TABLE lot_uses (
    transfer_id TEXT NOT NULL REFERENCES transfers (id),
    lot_id TEXT NOT NULL REFERENCES lots (id),
    amount {decimal} NOT NULL,
    PRIMARY KEY (transfer_id, lot_id)
);
CREATE INDEX lot_uses_lot ON lot_uses (lot_id);
"""

_APPEND_ONLY = ("accounts", "transfers", "lots", "lot_uses")

_ACCOUNT_KINDS_2 = "'volunteer', 'issuance', 'redemption', 'expiry', 'adjustment', 'hold'"
_TRANSFER_KINDS_2 = ("'earn', 'redeem', 'expire', 'adjust', 'hold', 'capture', 'release', "
                     "'reverse'")

_SQLITE_2 = f"""
DROP TRIGGER accounts_no_UPDATE;
DROP TRIGGER accounts_no_DELETE;
DROP TRIGGER transfers_no_UPDATE;
DROP TRIGGER transfers_no_DELETE;
CREATE TABLE accounts_v2 (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ({_ACCOUNT_KINDS_2})),
    volunteer_id TEXT,
    created_at TEXT NOT NULL
);
INSERT INTO accounts_v2 (code, kind, volunteer_id, created_at)
    SELECT code, kind, volunteer_id, created_at FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_v2 RENAME TO accounts;
CREATE TABLE transfers_v2 (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ({_TRANSFER_KINDS_2})),
    debit_account TEXT NOT NULL REFERENCES accounts (code),
    credit_account TEXT NOT NULL REFERENCES accounts (code),
    amount TEXT NOT NULL,
    effective_on TEXT NOT NULL,
    volunteer_id TEXT NOT NULL,
    minutes BIGINT NOT NULL DEFAULT 0,
    policy_id TEXT NOT NULL DEFAULT '',
    policy_version TEXT NOT NULL DEFAULT '',
    policy_hash TEXT NOT NULL DEFAULT '',
    reason_codes TEXT NOT NULL DEFAULT '[]',
    content_hash TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    memo TEXT NOT NULL DEFAULT '',
    posted_at TEXT NOT NULL,
    links TEXT UNIQUE REFERENCES transfers (id),
    expires_on TEXT,
    CHECK (debit_account <> credit_account)
);
INSERT INTO transfers_v2 (seq, id, kind, debit_account, credit_account, amount, effective_on,
        volunteer_id, minutes, policy_id, policy_version, policy_hash, reason_codes,
        content_hash, author, memo, posted_at)
    SELECT seq, id, kind, debit_account, credit_account, amount, effective_on, volunteer_id,
        minutes, policy_id, policy_version, policy_hash, reason_codes, content_hash, author,
        memo, posted_at FROM transfers;
DROP TABLE transfers;
ALTER TABLE transfers_v2 RENAME TO transfers;
CREATE INDEX transfers_volunteer ON transfers (volunteer_id, seq);
CREATE INDEX transfers_holds ON transfers (expires_on) WHERE kind = 'hold';
"""

_PG_2 = f"""
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN ({_ACCOUNT_KINDS_2}));
ALTER TABLE transfers DROP CONSTRAINT transfers_kind_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind_check
    CHECK (kind IN ({_TRANSFER_KINDS_2}));
ALTER TABLE transfers ADD COLUMN links TEXT UNIQUE REFERENCES transfers (id);
ALTER TABLE transfers ADD COLUMN expires_on DATE;
CREATE INDEX transfers_holds ON transfers (expires_on) WHERE kind = 'hold';
"""

_KIND_IS_3 = " OR ".join(f"kind = {k.strip()}" for k in _TRANSFER_KINDS_2.split(","))
"""The kind CHECK of schema 3 in SQLite: the same rule as ``kind IN (...)``, written as
comparisons, because SQLite builds a temporary index of an IN list of more than two
values for every row it checks (4 microseconds a row here, a fifth of a post's inserts)."""

_LOTS_VIEW = """
CREATE VIEW lots (id, volunteer_id, earned_on, expires_on, amount) AS
    SELECT id, volunteer_id, effective_on, lot_expires_on, amount FROM transfers WHERE lot;
"""

_V2_COLUMNS = ("seq, id, kind, debit_account, credit_account, amount, effective_on, "
               "volunteer_id, minutes, policy_id, policy_version, policy_hash, reason_codes, "
               "content_hash, author, memo, posted_at, links, expires_on")

_SQLITE_3 = f"""
DROP TRIGGER transfers_no_UPDATE;
DROP TRIGGER transfers_no_DELETE;
DROP TRIGGER lots_no_UPDATE;
DROP TRIGGER lots_no_DELETE;
DROP TRIGGER lot_uses_no_UPDATE;
DROP TRIGGER lot_uses_no_DELETE;
CREATE TABLE transfers_v3 (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK ({_KIND_IS_3}),
    debit_account TEXT NOT NULL REFERENCES accounts (code),
    credit_account TEXT NOT NULL REFERENCES accounts (code),
    amount TEXT NOT NULL,
    effective_on TEXT NOT NULL,
    volunteer_id TEXT NOT NULL,
    minutes BIGINT NOT NULL DEFAULT 0,
    policy_id TEXT NOT NULL DEFAULT '',
    policy_version TEXT NOT NULL DEFAULT '',
    policy_hash TEXT NOT NULL DEFAULT '',
    reason_codes TEXT NOT NULL DEFAULT '[]',
    content_hash TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    memo TEXT NOT NULL DEFAULT '',
    posted_at TEXT NOT NULL,
    links TEXT REFERENCES transfers (id),
    expires_on TEXT,
    lot INTEGER NOT NULL DEFAULT 0 CHECK (lot IN (0, 1)),
    lot_expires_on TEXT,
    CHECK (debit_account <> credit_account),
    CHECK (lot OR lot_expires_on IS NULL)
);
INSERT INTO transfers_v3 ({_V2_COLUMNS}, lot, lot_expires_on)
    SELECT {', '.join(f"t.{c.strip()}" for c in _V2_COLUMNS.split(","))},
        l.id IS NOT NULL, l.expires_on
    FROM transfers t LEFT JOIN lots l ON l.id = t.id ORDER BY t.seq;
DROP TABLE lots;
DROP TABLE transfers;
ALTER TABLE transfers_v3 RENAME TO transfers;
CREATE INDEX transfers_volunteer ON transfers (volunteer_id, seq);
CREATE INDEX transfers_holds ON transfers (expires_on) WHERE kind = 'hold';
CREATE UNIQUE INDEX transfers_links ON transfers (links) WHERE links IS NOT NULL;
CREATE TABLE lot_uses_v3 (
    transfer_id TEXT NOT NULL REFERENCES transfers (id),
    lot_id TEXT NOT NULL REFERENCES transfers (id),
    amount TEXT NOT NULL,
    PRIMARY KEY (transfer_id, lot_id)
);
INSERT INTO lot_uses_v3 (transfer_id, lot_id, amount)
    SELECT transfer_id, lot_id, amount FROM lot_uses;
DROP TABLE lot_uses;
ALTER TABLE lot_uses_v3 RENAME TO lot_uses;
CREATE INDEX lot_uses_lot ON lot_uses (lot_id);
{_LOTS_VIEW}
"""

_PG_3 = f"""
ALTER TABLE transfers ADD COLUMN lot BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE transfers ADD COLUMN lot_expires_on DATE;
ALTER TABLE transfers ADD CONSTRAINT transfers_lot_check CHECK (lot OR lot_expires_on IS NULL);
ALTER TABLE transfers DISABLE TRIGGER transfers_append_only;
UPDATE transfers t SET lot = TRUE, lot_expires_on = l.expires_on FROM lots l WHERE l.id = t.id;
ALTER TABLE transfers ENABLE TRIGGER transfers_append_only;
ALTER TABLE transfers DROP CONSTRAINT transfers_links_key;
CREATE UNIQUE INDEX transfers_links ON transfers (links) WHERE links IS NOT NULL;
ALTER TABLE lot_uses DROP CONSTRAINT lot_uses_lot_id_fkey;
ALTER TABLE lot_uses ADD CONSTRAINT lot_uses_lot_id_fkey FOREIGN KEY (lot_id)
    REFERENCES transfers (id);
DROP TABLE lots;
{_LOTS_VIEW}
CREATE TRIGGER lots_append_only INSTEAD OF UPDATE OR DELETE ON lots
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()
"""

LOT_MISMATCH = """
SELECT l.id FROM lots l LEFT JOIN transfers t ON t.id = l.id
WHERE t.id IS NULL OR t.volunteer_id <> l.volunteer_id OR t.effective_on <> l.earned_on
    OR t.amount <> l.amount
ORDER BY l.id
"""
"""Lots of a version 1 or 2 ledger that are not their transfer's id, volunteer, day and
amount: migration 3 would lose what they say, so it refuses them."""

_SQLITE_TRIGGER = """
CREATE TRIGGER {table}_no_{op} BEFORE {op} ON {table}
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {table} rows are never changed'); END;
"""

_SQLITE_VIEW_TRIGGER = """
CREATE TRIGGER lots_no_{op} INSTEAD OF {op} ON lots
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: lots rows are never changed'); END;
"""

_PG_FUNCTION = """
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % rows are never changed', TG_TABLE_NAME;
END $$;
"""

_PG_TRIGGER = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
"""


def _split(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


def migrations(dialect: str) -> dict[int, list[str]]:
    """Statements of each migration, by the version it brings the ledger to."""
    if dialect == "sqlite":
        tables = _TABLES.format(serial="INTEGER PRIMARY KEY AUTOINCREMENT", decimal="TEXT",
                                date="TEXT")
        triggers = [_SQLITE_TRIGGER.format(table=t, op=op).strip()
                    for t in _APPEND_ONLY for op in ("UPDATE", "DELETE")]
        rebuilt = [_SQLITE_TRIGGER.format(table=t, op=op).strip()
                   for t in ("accounts", "transfers") for op in ("UPDATE", "DELETE")]
        third = [_SQLITE_TRIGGER.format(table=t, op=op).strip()
                 for t in ("transfers", "lot_uses") for op in ("UPDATE", "DELETE")]
        view = [_SQLITE_VIEW_TRIGGER.format(op=op).strip() for op in ("UPDATE", "DELETE")]
        return {1: [*_split(tables), *triggers], 2: [*_split(_SQLITE_2), *rebuilt],
                3: [*_split(_SQLITE_3), *third, *view]}
    tables = _TABLES.format(serial="BIGSERIAL PRIMARY KEY", decimal="NUMERIC", date="DATE")
    triggers = [_PG_FUNCTION.strip()] + [_PG_TRIGGER.format(table=t).strip()
                                         for t in _APPEND_ONLY]
    return {1: [*_split(tables), *triggers], 2: _split(_PG_2), 3: _split(_PG_3)}
