"""The ledger's operations, written once over a small SQL interface both backends offer.

A backend (``sqlite.py``, ``postgres.py``) supplies a connection, a write
transaction that serialises writers of the same accounts (SQLite: ``BEGIN
IMMEDIATE``; PostgreSQL: ``SELECT ... FOR UPDATE`` on the accounts, retried on
a serialisation failure, a deadlock or a racing insert of the same id), and
the name of an exact decimal ``SUM``. Everything else (what a redemption takes,
what a re-post means, what a balance is) is here, so the two backends cannot
disagree on it.

Every operation runs in one transaction: it writes all its transfers or none,
so a crash (even ``kill -9``) leaves no partial run, and re-running it is a
no-op for what was committed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import (
    LedgerConflict,
    LedgerInvalid,
    LedgerOverdraft,
    LedgerRefused,
    LedgerUnavailable,
    LedgerUnknown,
)
from .model import (
    ADJUST,
    ADJUSTMENT,
    CAPTURE,
    EARN,
    EXPIRE,
    EXPIRY,
    HOLD,
    ISSUANCE,
    PROGRAMME_ACCOUNTS,
    REDEEM,
    REDEMPTION,
    RELEASE,
    REVERSE,
    VOLUNTEER,
    Balance,
    Lot,
    PostSummary,
    Transfer,
    amount_of,
    canonical,
    content_hash,
    date_of,
    ident,
    programme_account,
    record_hasher,
    text,
    volunteer_account,
)
from .rows import (
    INSERT_TRANSFER,
    SELECT_TRANSFER,
    WRITE_COLUMNS,
    Tx,
    day,
    dec,
    transfer_of,
)
from .schema import LOT_MISMATCH, SCHEMA_VERSION, migrations

if TYPE_CHECKING:
    from ..policy.compile import Policy
    from ..schemes.volunteer.scheme import VolunteerResult, VolunteerScheme

T = TypeVar("T")
REJECTED = "rejected"  # the status of a rejected ActivityDecision

CHUNK = 500
"""Ids looked up per ``IN (...)`` query (below every backend's parameter limit)."""

BULK = 10_000
"""A post of at least this many transfers, and at least as many as the ledger holds,
builds the volunteer index once after its inserts instead of entry by entry
(``Tx.insert_new``'s ``rebuild``): a first import of a history, or a big back-fill."""
BULK_INDEXES = ("transfers_volunteer",)
"""The index a bulk post rebuilds: (volunteer, seq), where each new transfer lands at a
random place. The unique index of the ids stays, as it is what refuses a re-used id."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class Ledger:
    """A points ledger; open one with :func:`civicscore.ledger.open_ledger`.

    Subclasses give ``_write``/``_read`` (transactions), ``_lock`` (serialise the
    writers of some accounts) and ``dialect``/``sum_function``.
    """

    dialect = ""
    sum_function = "SUM"
    where = ""

    @staticmethod
    def store_date(value: dt.date | None) -> Any:
        """A day as the backend stores it (a ``date``; SQLite: ISO text)."""
        return value

    @staticmethod
    def store_amount(value: Decimal) -> Any:
        """An amount as the backend stores it (a ``Decimal``; SQLite: decimal text)."""
        return value

    # -- the backend's part ----------------------------------------------------------------
    def _write(self, fn: Callable[[Tx], T]) -> T:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read(self, fn: Callable[[Tx], T]) -> T:  # pragma: no cover - abstract
        raise NotImplementedError

    def _lock(self, tx: Tx, accounts: Sequence[str]) -> None:
        """Block other writers of ``accounts`` until this transaction ends."""

    def _lock_schema(self, tx: Tx) -> None:
        """Block another ``migrate`` until this transaction ends (two ``init`` at once)."""

    def _check_keys(self, tx: Tx) -> None:
        """Refuse a migration that left a foreign key dangling (SQLite rebuilds tables
        with its checks off)."""

    def _tables(self, tx: Tx) -> set[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _triggers(self, tx: Tx) -> set[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------------------
    def version(self) -> int:
        """The schema version of this ledger (0 when it has no tables yet)."""
        return self._read(self._version)

    def _version(self, tx: Tx) -> int:
        if "ledger_meta" not in self._tables(tx):
            return 0
        rows = tx.execute("SELECT value FROM ledger_meta WHERE key = 'schema_version'")
        return int(rows[0][0]) if rows else 0

    def migrate(self) -> tuple[int, int]:
        """Create or upgrade the schema to ``SCHEMA_VERSION``; returns (from, to)."""

        def run(tx: Tx) -> tuple[int, int]:
            self._lock_schema(tx)
            before = self._version(tx)
            if before > SCHEMA_VERSION:
                raise LedgerUnavailable("db", f"the ledger has schema version {before}, newer "
                                              f"than this civicscore ({SCHEMA_VERSION}); "
                                              f"upgrade civicscore")
            if 1 <= before < 3:  # version 3 keeps a lot as columns of its transfer
                odd = [r[0] for r in tx.execute(LOT_MISMATCH)]
                if odd:
                    raise LedgerUnavailable("db", f"cannot migrate {self.where}: {len(odd)} lot(s) "
                                                  f"differ from the transfer that made them (id, "
                                                  f"volunteer, day or amount), first {odd[0]!r}; "
                                                  f"nothing was changed")
            for version, statements in sorted(migrations(self.dialect).items()):
                if version <= before:
                    continue
                for statement in statements:
                    tx.execute(statement)
            if before == 0:
                tx.execute("INSERT INTO ledger_meta (key, value) VALUES ('schema_version', ?)",
                           (str(SCHEMA_VERSION),))
            elif before < SCHEMA_VERSION:
                tx.execute("UPDATE ledger_meta SET value = ? WHERE key = 'schema_version'",
                           (str(SCHEMA_VERSION),))
            if before < SCHEMA_VERSION:  # the programme accounts a version brings
                tx.executemany("INSERT INTO accounts (code, kind, volunteer_id, created_at) "
                               "VALUES (?, ?, NULL, ?) ON CONFLICT (code) DO NOTHING",
                               [(programme_account(k), k, _now()) for k in PROGRAMME_ACCOUNTS])
                self._check_keys(tx)
            return before, SCHEMA_VERSION

        return self._write(run)

    def require_current(self) -> None:
        """Refuse a ledger without tables, or of another schema version."""
        have = self.version()
        if have == 0:
            raise LedgerUnavailable("db", f"{self.where} is not a ledger yet: create it with "
                                          f"civicscore ledger init")
        if have != SCHEMA_VERSION:
            raise LedgerUnavailable("db", f"{self.where} has schema version {have}, this "
                                          f"civicscore uses {SCHEMA_VERSION}: run civicscore "
                                          f"ledger migrate"
                                          if have < SCHEMA_VERSION else
                                          f"{self.where} has schema version {have}, newer "
                                          f"than this civicscore ({SCHEMA_VERSION}); "
                                          f"upgrade civicscore")

    # -- posting a scheme's decisions -------------------------------------------------------
    def post(self, policy: Policy, records: Iterable[Any], *,
             as_of: dt.date) -> PostSummary:
        """Score ``records`` with the policy's volunteer scheme as of ``as_of`` and post
        the accepted ones (one earning transfer and one lot each), all or nothing.

        Caps and overlaps see the records of this call only (as ``score`` does for one
        file): post a period's records together. A record already posted with the same
        content is left alone; one posted with other content refuses the whole call."""
        rows = list(records)
        result = policy.volunteer.decide_many(rows, as_of=as_of)
        return self.post_result(policy.volunteer, result, rows)

    def post_result(self, scheme: VolunteerScheme, result: VolunteerResult,
                    records: Sequence[Mapping[str, Any]]) -> PostSummary:
        """Post the scored decisions of ``result``, a run of ``scheme`` (``records`` are
        its inputs, for the content hash that makes a re-post a no-op).

        Rows are built as plain tuples (no Transfer objects): a post of 10^6 records is
        the hot path of a ledger, see benchmarks/ledger_bench.py."""
        ref = result.policy
        counted = scheme.rules.star_hours == "counted"
        decimals = scheme.rules.points_decimals
        rows: list[tuple[Any, ...]] = []
        rejected = []
        posted_at = _now()
        issuance = programme_account(ISSUANCE)
        # What many records share is converted once: reason codes to JSON, point units
        # to a stored amount, an end day to a stored date (with its month, for _unseen)
        # and an expiry date to its stored form. Half a post's time was these.
        codes_json: dict[tuple[str, ...], str] = {}
        amounts: dict[int, Any] = {}
        ends: dict[str, tuple[Any, dt.date]] = {}
        expiries: dict[dt.date | None, Any] = {}
        days: list[dt.date] = []
        store_date, store_amount = self.store_date, self.store_amount
        pid, pver, phash = ref.id, ref.version, ref.hash
        record_hash = record_hasher()
        code_of = attrgetter("code")
        for d in result.records:
            codes = tuple(map(code_of, d.reasons))  # d.reason_codes, without a generator
            if d.status == REJECTED:
                rejected.append((d.record_id, codes))
                continue
            record = records[d.row - 1]
            hours = d.counted_hours if counted else d.service_hours
            units = d.point_units
            amount = amounts.get(units)
            if amount is None:
                amount = amounts[units] = store_amount(
                    canonical(Decimal(units).scaleb(-decimals)))
            end = record.get("end")
            key = end[:10] if isinstance(end, str) and len(end) > 10 and end[10] in "T " \
                else None
            known = ends.get(key) if key is not None else None
            if known is None:
                when = _earned_on(record, d.date)
                known = (store_date(when), when)
                if key is not None and when.isoformat() == key:
                    ends[key] = known
            earned_on, when = known
            days.append(when)
            text_codes = codes_json.get(codes)
            if text_codes is None:
                text_codes = codes_json[codes] = json.dumps(list(codes))
            vid = d.volunteer_id
            tid = f"{EARN}:{d.record_id}"
            if units > 0:  # the earning is a lot (schema 3: two columns of its row)
                expires = d.expires_on
                stored = expiries.get(expires)
                if stored is None:
                    stored = expiries[expires] = store_date(expires)
                rows.append((tid, EARN, issuance, f"{VOLUNTEER}:{vid}", amount, earned_on,
                             vid, round(hours * 60), pid, pver, phash, text_codes,
                             record_hash(record), "", "", posted_at, None, None, True, stored))
            else:
                rows.append((tid, EARN, issuance, f"{VOLUNTEER}:{vid}", amount, earned_on,
                             vid, round(hours * 60), pid, pver, phash, text_codes,
                             record_hash(record), "", "", posted_at, None, None, False, None))
        posted, unchanged, ids, warnings = self._write(
            lambda tx: self._post(tx, rows, days))
        return PostSummary(posted, unchanged, tuple(rejected), tuple(ids), tuple(warnings))

    def _post(self, tx: Tx, rows: list[tuple[Any, ...]],
              days: list[dt.date]) -> tuple[int, int, list[str], list[str]]:
        """Insert the earning rows (``WRITE_COLUMNS`` order, their lots in them; ``days``
        their earning days) not yet in the ledger; refuse all of them if one id is there
        with another content hash.

        Fast path: a batch of new ids is inserted at once (``insert_new``), with no query
        to find which are new; only when one id is already there does the post look them
        up (a re-post, or a file that overlaps an earlier one)."""
        self._open_accounts(tx, sorted({r[6] for r in rows}))
        before = int(tx.execute("SELECT COALESCE(MAX(seq), 0) FROM transfers")[0][0])
        rebuild = BULK_INDEXES if len(rows) >= max(before, BULK) else ()
        if rows and tx.insert_new([("transfers", WRITE_COLUMNS, rows)], rebuild=rebuild):
            ids = [r[0] for r in rows]
            return len(rows), 0, ids, self._unseen(tx, rows, days, before)
        existing = self._existing(tx, [r[0] for r in rows])
        conflicts = [r[0].partition(":")[2] for r in rows
                     if r[0] in existing and existing[r[0]] != r[12]]
        if conflicts:
            shown = ", ".join(conflicts[:10]) + (f" and {len(conflicts) - 10} more"
                                                 if len(conflicts) > 10 else "")
            raise LedgerConflict("record_id", f"record {shown} is already in the ledger with "
                                              f"other content; nothing was posted (correct a "
                                              f"posted record with an adjustment, not a re-post)")
        keep = [r[0] not in existing for r in rows]
        new = [r for r, k in zip(rows, keep, strict=True) if k]
        new_days = [d for d, k in zip(days, keep, strict=True) if k]
        warnings = self._unseen(tx, new, new_days, before)
        tx.executemany(INSERT_TRANSFER, new, stored=True)
        return len(new), len(rows) - len(new), [r[0] for r in new], warnings

    def _unseen(self, tx: Tx, new: Sequence[tuple[Any, ...]], days: Sequence[dt.date],
                before: int) -> list[str]:
        """Warnings for months of a volunteer that earlier posts (transfers up to ``seq``
        ``before``) already have earnings in: this post's caps and overlap check did not
        see those records (docs/ledger.md, "post a period's records together")."""
        if not new or before == 0:
            return []
        months = {(r[6], d.year, d.month) for r, d in zip(new, days, strict=True)}
        lo = min(days).replace(day=1)  # whole months
        last = max(days)
        hi = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        vids = sorted({m[0] for m in months})
        earlier: dict[tuple[str, int, int], int] = {}
        for i in range(0, len(vids), CHUNK):
            part = vids[i:i + CHUNK]
            for vid, eff in tx.execute(
                    f"SELECT volunteer_id, effective_on FROM transfers WHERE kind = 'earn' "
                    f"AND seq <= ? AND effective_on >= ? AND effective_on <= ? AND "
                    f"volunteer_id IN ({', '.join('?' for _ in part)})", (before, lo, hi, *part)):
                when = day(eff)
                key = (vid, when.year, when.month)
                if key in months:
                    earlier[key] = earlier.get(key, 0) + 1
        out = [f"volunteer {vid}: {n} record(s) earned in {year}-{month:02d} were posted "
               f"before; this post's caps and overlap check did not see them (post a "
               f"month's records together)" for (vid, year, month), n in sorted(earlier.items())]
        return out[:20] + ([f"... and {len(out) - 20} more such months"] if len(out) > 20
                           else [])

    def _existing(self, tx: Tx, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for i in range(0, len(ids), CHUNK):
            part = ids[i:i + CHUNK]
            found.update((r[0], r[1]) for r in tx.execute(
                f"SELECT id, content_hash FROM transfers WHERE id IN "
                f"({', '.join('?' for _ in part)})", part))
        return found

    def _open_accounts(self, tx: Tx, volunteers: Sequence[str]) -> None:
        now = _now()  # one clock reading for the accounts one transaction opens
        tx.executemany("INSERT INTO accounts (code, kind, volunteer_id, created_at) "
                       "VALUES (?, ?, ?, ?) ON CONFLICT (code) DO NOTHING",
                       [(volunteer_account(v), VOLUNTEER, v, now) for v in volunteers])

    def _insert(self, tx: Tx, transfers: Sequence[Transfer], *, lot: bool = False,
                lot_expires_on: dt.date | None = None) -> None:
        """Write ``transfers``; ``lot``: each is also a lot (of its amount, earned on its
        day, expiring on ``lot_expires_on`` or never)."""
        tx.executemany(INSERT_TRANSFER, [(
            t.id, t.kind, t.debit_account, t.credit_account, t.amount, t.effective_on,
            t.volunteer_id, t.minutes, t.policy_id, t.policy_version, t.policy_hash,
            json.dumps(list(t.reason_codes)), t.content_hash, t.author, t.memo,
            t.posted_at or _now(), t.links, t.expires_on, lot, lot_expires_on)
            for t in transfers])

    # -- redemptions, adjustments, expiry -----------------------------------------------------
    def redeem(self, volunteer_id: str, points: Any, *, id: str, on: Any,
               memo: str = "") -> Transfer:
        """Spend ``points`` of a volunteer's unexpired points on ``on``, oldest lots first,
        or refuse (nothing taken) when they are not enough. Posting the same ``id`` with the
        same content again returns the first transfer."""
        vid = ident(volunteer_id, "volunteer_id")
        rid = ident(id, "id")
        amount = amount_of(points, "points")
        when = date_of(on, "date")
        content = {"volunteer_id": vid, "points": text(amount), "date": when.isoformat()}
        return self._write(lambda tx: self._spend(
            tx, Transfer(f"{REDEEM}:{rid}", REDEEM, volunteer_account(vid),
                         programme_account(REDEMPTION), amount, when, vid,
                         content_hash=content_hash(content), memo=memo), "redemption"))

    def adjust(self, volunteer_id: str, points: Any, *, id: str, on: Any, by: str,
               reason: str, expires_on: Any = None) -> Transfer:
        """A manual correction: add points (a new lot, expiring on ``expires_on`` or never)
        or take them (negative ``points``: oldest lots first, never below zero). ``by``
        and ``reason`` are required and kept with the transfer."""
        vid = ident(volunteer_id, "volunteer_id")
        aid = ident(id, "id")
        amount = amount_of(points, "points", signed=True)
        when = date_of(on, "date")
        author = ident(by, "by")
        why = ident(reason, "reason")
        until = None if expires_on in (None, "") else date_of(expires_on, "expires_on")
        if until is not None and until <= when:
            raise LedgerInvalid("expires_on", f"{until} is not after the adjustment's date {when}")
        content = {"volunteer_id": vid, "points": text(amount), "date": when.isoformat(),
                   "by": author, "reason": why, "expires_on": until and until.isoformat()}
        tid = f"{ADJUST}:{aid}"
        if amount < 0:
            return self._write(lambda tx: self._spend(tx, Transfer(
                tid, ADJUST, volunteer_account(vid), programme_account(ADJUSTMENT), -amount,
                when, vid, content_hash=content_hash(content), author=author, memo=why),
                "adjustment"))
        transfer = Transfer(tid, ADJUST, programme_account(ADJUSTMENT), volunteer_account(vid),
                            amount, when, vid, content_hash=content_hash(content),
                            author=author, memo=why)

        def run(tx: Tx) -> Transfer:
            self._lock(tx, [transfer.credit_account])
            same = self._same(tx, transfer)
            if same is not None:
                return same
            self._account_opened(tx, vid, when)
            self._insert(tx, [transfer], lot=True, lot_expires_on=until)
            return self._transfer(tx, tid)

        return self._write(run)

    # -- holds and reversals (holds.py) ----------------------------------------------------
    def hold(self, volunteer_id: str, points: Any, *, id: str, on: Any,
             expires_on: Any = None, memo: str = "") -> Transfer:
        """Reserve ``points`` of a volunteer's unexpired points (oldest lots first) until
        captured, released, or lapsed on ``expires_on``; they count against the balance at
        once. The same ``id`` with the same content again returns the first hold."""
        from .holds import hold

        return hold(self, volunteer_id, points, id=id, on=on, expires_on=expires_on,
                    memo=memo)

    def capture(self, hold_id: str, *, on: Any, memo: str = "") -> Transfer:
        """Hand over the points of hold ``hold_id`` (a redemption), before it lapses."""
        from .holds import capture

        return capture(self, hold_id, on=on, memo=memo)

    def release(self, hold_id: str, *, on: Any, memo: str = "") -> Transfer:
        """Give the points of hold ``hold_id`` back to the lots it took them from."""
        from .holds import release

        return release(self, hold_id, on=on, memo=memo)

    def reverse(self, transfer_id: str, *, on: Any, by: str, reason: str) -> Transfer:
        """Undo an earning, redemption or adjustment by a linked mirror transfer (once)."""
        from .holds import reverse

        return reverse(self, transfer_id, on=on, by=by, reason=reason)

    def _same(self, tx: Tx, transfer: Transfer) -> Transfer | None:
        """The transfer already posted under this id (a no-op re-post), or None; refuses
        the id when it was used for other content."""
        found = self._existing(tx, [transfer.id])
        if transfer.id not in found:
            return None
        if found[transfer.id] != transfer.content_hash:
            kind, _, name = transfer.id.partition(":")
            raise LedgerConflict("id", f"{kind} id {name!r} is already in the ledger with other "
                                       f"content; nothing was written (use a new id)")
        return self._transfer(tx, transfer.id)

    def _transfer(self, tx: Tx, tid: str) -> Transfer:
        return transfer_of(tx.execute(f"{SELECT_TRANSFER} WHERE id = ?", (tid,))[0])

    def _account_opened(self, tx: Tx, vid: str, when: dt.date) -> None:
        """Refuse an unknown volunteer, or a date before their account's first movement."""
        rows = tx.execute("SELECT MIN(effective_on) FROM transfers WHERE volunteer_id = ?",
                          (vid,))
        if not rows or rows[0][0] is None:
            raise LedgerUnknown("volunteer_id", f"unknown volunteer {vid!r}: the ledger has no "
                                                f"account for them (post their records first)")
        opened = day(rows[0][0])
        if when < opened:
            raise LedgerRefused("date", f"{when} is before the account of volunteer {vid!r} "
                                        f"opened ({opened})")

    def _spend(self, tx: Tx, transfer: Transfer, what: str) -> Transfer:
        """Post a debit of a volunteer's account, using their usable lots oldest first."""
        vid, when, amount = transfer.volunteer_id, transfer.effective_on, transfer.amount
        self._lock(tx, [transfer.debit_account])
        same = self._same(tx, transfer)
        if same is not None:
            return same
        self._account_opened(tx, vid, when)
        from .holds import lapse

        lapse(self, tx, [vid], when)  # a hold past its expiry no longer holds points
        usable = [lot for lot in self._lots(tx, vid) if lot.usable_on(when)]
        have = sum((lot.remaining for lot in usable), Decimal(0))
        if amount > have:
            name = transfer.id.partition(":")[2]
            raise LedgerOverdraft("points", f"{what} {name!r} asks for {text(amount)} points of "
                                            f"volunteer {vid!r} on {when}; only {text(have)} "
                                            f"unexpired points are available")
        uses = []
        left = amount
        for lot in usable:  # oldest first
            take = min(lot.remaining, left)
            uses.append((transfer.id, lot.id, take))
            left -= take
            if left == 0:
                break
        self._insert(tx, [transfer])
        tx.executemany("INSERT INTO lot_uses (transfer_id, lot_id, amount) VALUES (?, ?, ?)",
                       uses)
        return self._transfer(tx, transfer.id)

    def _uses(self, tx: Tx, tids: Sequence[str]) -> dict[str, list[tuple[str, Decimal]]]:
        """The lot uses of each transfer in ``tids``: (lot id, amount), in lot order."""
        out: dict[str, list[tuple[str, Decimal]]] = {t: [] for t in tids}
        for i in range(0, len(tids), CHUNK):
            part = tids[i:i + CHUNK]
            for tid, lot, amount in tx.execute(
                    f"SELECT transfer_id, lot_id, amount FROM lot_uses WHERE transfer_id IN "
                    f"({', '.join('?' for _ in part)}) ORDER BY transfer_id, lot_id", part):
                out[tid].append((lot, dec(amount)))
        return out

    def _lots(self, tx: Tx, vid: str | None = None) -> list[Lot]:
        """Lots (of one volunteer, or all) oldest first, with what is left of each."""
        sql = (f"SELECT l.id, l.volunteer_id, l.earned_on, l.expires_on, l.amount, "
               f"(SELECT {self.sum_function}(u.amount) FROM lot_uses u WHERE u.lot_id = l.id) "
               f"FROM lots l")
        rows = (tx.execute(sql + " WHERE l.volunteer_id = ? ORDER BY l.earned_on, l.id",
                           (vid,)) if vid is not None
                else tx.execute(sql + " ORDER BY l.volunteer_id, l.earned_on, l.id"))
        return [Lot(r[0], r[1], day(r[2]), None if r[3] is None else day(r[3]), dec(r[4]),
                    dec(r[4]) - dec(r[5])) for r in rows]

    def expire(self, on: Any) -> list[Transfer]:
        """Move what is left of every lot expired on or before ``on`` to the expiry
        account (one transfer per lot, dated its expiry day; running it again is a no-op)."""
        when = date_of(on, "date")

        def run(tx: Tx) -> list[Transfer]:
            from .holds import lapse

            held = [r[0] for r in tx.execute(
                "SELECT DISTINCT h.volunteer_id FROM transfers h WHERE h.kind = 'hold' AND "
                "h.expires_on <= ? AND NOT EXISTS (SELECT 1 FROM transfers s WHERE "
                "s.links = h.id)", (when,))]
            vids = sorted({r[0] for r in tx.execute(
                "SELECT DISTINCT volunteer_id FROM lots WHERE expires_on <= ?", (when,))}
                | set(held))
            self._lock(tx, [volunteer_account(v) for v in vids])
            lapse(self, tx, held, when)  # lapsed holds give their points back first
            out: list[Transfer] = []
            for vid in vids:
                for lot in self._lots(tx, vid):
                    if lot.expires_on is None or lot.expires_on > when or lot.remaining <= 0:
                        continue
                    # a lot expires again only if a release or reversal restored points to
                    # it after its expiry: expire:LOT, then expire:LOT#2, ...
                    tid, n = f"{EXPIRE}:{lot.id}", 1
                    while self._existing(tx, [tid]):
                        n += 1
                        tid = f"{EXPIRE}:{lot.id}#{n}"
                    t = Transfer(tid, EXPIRE, volunteer_account(vid),
                                 programme_account(EXPIRY), lot.remaining, lot.expires_on, vid,
                                 content_hash=content_hash({"lot": lot.id, "n": n}
                                                           if n > 1 else {"lot": lot.id}))
                    self._insert(tx, [t])
                    tx.execute("INSERT INTO lot_uses (transfer_id, lot_id, amount) "
                               "VALUES (?, ?, ?)", (t.id, lot.id, lot.remaining))
                    out.append(t)
            return out

        return self._write(run)

    # -- reading -------------------------------------------------------------------------------
    def volunteers(self) -> list[str]:
        """Every volunteer with an account, sorted."""
        return self._read(lambda tx: sorted(r[0] for r in tx.execute(
            "SELECT volunteer_id FROM accounts WHERE kind = 'volunteer'")))

    def balance(self, volunteer_id: str, *, on: Any = None) -> Balance:
        """A volunteer's balance as of ``on`` (default today); an unknown volunteer is
        refused."""
        vid = ident(volunteer_id, "volunteer_id")
        when = dt.date.today() if on is None else date_of(on, "date")
        return self._read(lambda tx: self._balance(tx, vid, when))

    def balances(self, *, on: Any = None) -> list[Balance]:
        """Every volunteer's balance as of ``on`` (default today)."""
        when = dt.date.today() if on is None else date_of(on, "date")
        return self._read(lambda tx: [self._balance(tx, r[0], when) for r in sorted(tx.execute(
            "SELECT volunteer_id FROM accounts WHERE kind = 'volunteer'"))])

    def _balance(self, tx: Tx, vid: str, when: dt.date) -> Balance:
        transfers = [transfer_of(r) for r in tx.execute(
            f"{SELECT_TRANSFER} WHERE volunteer_id = ? ORDER BY seq", (vid,))]
        if not transfers:
            raise LedgerUnknown("volunteer_id", f"unknown volunteer {vid!r}: the ledger has no "
                                                f"account for them")
        settled = {t.links for t in transfers if t.kind in (CAPTURE, RELEASE)}
        lapsed = [t.id for t in transfers if t.kind == HOLD and t.id not in settled
                  and t.expires_on is not None and t.expires_on <= when]
        back: dict[str, Decimal] = {}
        for uses in self._uses(tx, lapsed).values():
            for lot, amount in uses:
                back[lot] = back.get(lot, Decimal(0)) + amount
        return summarise(vid, when, transfers, self._lots(tx, vid), back)

    def statement(self, volunteer_id: str, *, on: Any = None
                  ) -> tuple[Balance, list[tuple[Transfer, Decimal]]]:
        """A volunteer's balance and every transfer of their account in posting order, each
        with the book balance after it."""
        vid = ident(volunteer_id, "volunteer_id")
        when = dt.date.today() if on is None else date_of(on, "date")

        def run(tx: Tx) -> tuple[Balance, list[tuple[Transfer, Decimal]]]:
            balance = self._balance(tx, vid, when)
            lines = []
            book = Decimal(0)
            account = volunteer_account(vid)
            for r in tx.execute(f"{SELECT_TRANSFER} WHERE volunteer_id = ? ORDER BY seq",
                                (vid,)):
                t = transfer_of(r)
                book += (t.amount if t.credit_account == account else
                         -t.amount if t.debit_account == account else Decimal(0))
                lines.append((t, book))
            return balance, lines

        return self._read(run)

    def transfers(self) -> Iterator[Transfer]:
        """Every transfer, in posting order (for ``export`` and ``verify``)."""
        return iter(self._read(lambda tx: [transfer_of(r) for r in tx.execute(
            f"{SELECT_TRANSFER} ORDER BY seq")]))

    def verify(self) -> list[str]:
        """Every broken invariant, in words (empty when the ledger is sound)."""
        from .verify import check

        return self._read(lambda tx: check(self, tx))


def summarise(vid: str, when: dt.date, transfers: Sequence[Transfer],
              lots: Sequence[Lot], lapsed: Mapping[str, Decimal] | None = None) -> Balance:
    """A balance from a volunteer's transfers and lots (shared by ``balance`` and the
    checks of ``verify``). ``lapsed``: what open holds past their expiry on ``when`` use of
    each lot; they are counted as released (as ``expire`` or the next spend releases them).

    A reversal counts as a negative of what it reverses (an earning's points and hours, a
    redemption, an adjustment); a capture is redeemed; an open hold is ``held``."""
    zero = Decimal(0)
    earned = adjusted = redeemed = expired = book = held = zero
    minutes = 0
    account = volunteer_account(vid)
    kinds = {t.id: t.kind for t in transfers}
    settled = {t.links for t in transfers if t.kind in (CAPTURE, RELEASE)}
    lapsed_total = zero
    for t in transfers:
        signed = (t.amount if t.credit_account == account else
                  -t.amount if t.debit_account == account else zero)
        book += signed
        kind = kinds.get(t.links or "", "") if t.kind == REVERSE else t.kind
        if kind == EARN:
            earned += signed
            minutes += -t.minutes if t.kind == REVERSE else t.minutes
        elif kind == REDEEM:
            redeemed -= signed
        elif kind == EXPIRE:
            expired -= signed
        elif kind == ADJUST:
            adjusted += signed
        elif kind == CAPTURE:
            redeemed += t.amount
        elif kind == HOLD and t.id not in settled:
            if t.expires_on is not None and t.expires_on <= when:
                lapsed_total += t.amount
            else:
                held += t.amount
    back = lapsed or {}
    pending = zero
    for lot in lots:
        left = lot.remaining + back.get(lot.id, zero)
        if lot.expires_on is not None and lot.expires_on <= when and left > 0:
            pending += left
    expired += pending
    hours = canonical(Decimal(minutes) / 60) if minutes else zero
    return Balance(vid, when, canonical(earned), canonical(adjusted), canonical(redeemed),
                   canonical(expired), canonical(book + lapsed_total - pending), book,
                   hours, len(transfers), canonical(held))


def _earned_on(record: Mapping[str, Any], start_day: dt.date | None) -> dt.date:
    """The day a record's points were earned: the day its activity ended (as the scheme
    dates a lot, and counts its expiry from)."""
    end = record.get("end")
    if isinstance(end, str) and len(end) > 10 and end[10] in "T ":
        try:  # the ISO forms the scheme reads: the day is the first ten characters
            return dt.date.fromisoformat(end[:10])
        except ValueError:
            pass
    from ..records import to_datetime

    try:
        return to_datetime(end, "", "end").date()
    except ValueError:  # pragma: no cover - a scored record's end was readable
        assert start_day is not None
        return start_day




__all__ = ["Ledger", "summarise"]
