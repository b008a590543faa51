"""Redemption holds and reversals: the ledger's two-step and undo movements.

A **hold** is TigerBeetle's pending transfer: a counter reserves points before
the goods are handed over. It moves the points from the volunteer to the
``programme:hold`` account, using their lots oldest first exactly as a
redemption does, so held points count against the balance at once and two
counters cannot hold (or spend) the same points. It is then settled once:

* **capture** (``capture:<hold id>``) moves them on to ``programme:redemption``;
* **release** (``release:<hold id>``) gives them back: ``programme:hold`` to the
  volunteer, with *negative* lot uses that restore exactly the lots the hold used;
* a hold with an expiry that is neither captured nor released by then **lapses**:
  the next write of that volunteer (a spend, a hold, ``expire``) posts its release,
  dated the expiry day, and a balance already counts it released.

A **reversal** (``reverse:<transfer id>``) undoes one posted earning, redemption
or adjustment by its mirror image: the same amount between the same accounts the
other way, linked to it. Nothing is deleted. Reversing a credit (an earning, an
added adjustment) takes back exactly its lot, so it is refused once any of that
lot has been spent, held or expired; reversing a debit (a redemption, a taken
adjustment) restores exactly the lots it used.

The database keeps both settled-once rules on its own: a transfer's ``links`` is
UNIQUE, so no hold is settled twice and nothing is reversed twice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import LedgerConflict, LedgerInvalid, LedgerRefused, LedgerUnknown
from .model import (
    ADJUST,
    CAPTURE,
    EARN,
    HOLD,
    REDEEM,
    REDEMPTION,
    RELEASE,
    REVERSE,
    Transfer,
    amount_of,
    content_hash,
    date_of,
    ident,
    programme_account,
    text,
    volunteer_account,
)
from .rows import SELECT_TRANSFER, Tx, transfer_of

if TYPE_CHECKING:
    from .core import Ledger

REVERSIBLE = (EARN, REDEEM, ADJUST)
USES = "INSERT INTO lot_uses (transfer_id, lot_id, amount) VALUES (?, ?, ?)"


def hold(ledger: Ledger, volunteer_id: str, points: Any, *, id: str, on: Any,
         expires_on: Any = None, memo: str = "") -> Transfer:
    """Reserve ``points`` of a volunteer's unexpired points on ``on`` (oldest lots first),
    until captured, released or, with ``expires_on``, lapsed on that day."""
    vid = ident(volunteer_id, "volunteer_id")
    hid = ident(id, "id")
    amount = amount_of(points, "points")
    when = date_of(on, "date")
    until = None if expires_on in (None, "") else date_of(expires_on, "expires_on")
    if until is not None and until <= when:
        raise LedgerInvalid("expires_on", f"{until} is not after the hold's date {when}")
    content = {"volunteer_id": vid, "points": text(amount), "date": when.isoformat(),
               "expires_on": until and until.isoformat()}
    transfer = Transfer(f"{HOLD}:{hid}", HOLD, volunteer_account(vid), programme_account(HOLD),
                        amount, when, vid, content_hash=content_hash(content), memo=memo,
                        expires_on=until)
    return ledger._write(lambda tx: ledger._spend(tx, transfer, "hold"))


def _held(ledger: Ledger, tx: Tx, hold_id: str) -> Transfer:
    """The hold ``hold_id`` (``H1`` or ``hold:H1``), its volunteer's account locked."""
    hid = ident(hold_id, "hold")
    tid = hid if hid.startswith(f"{HOLD}:") else f"{HOLD}:{hid}"
    rows = tx.execute(f"{SELECT_TRANSFER} WHERE id = ?", (tid,))
    if not rows:
        raise LedgerUnknown("hold", f"no hold {hid!r} in the ledger")
    found = transfer_of(rows[0])
    ledger._lock(tx, [found.debit_account])
    return found


def _settlement(tx: Tx, tid: str) -> Transfer | None:
    rows = tx.execute(f"{SELECT_TRANSFER} WHERE links = ?", (tid,))
    return transfer_of(rows[0]) if rows else None


def capture(ledger: Ledger, hold_id: str, *, on: Any, memo: str = "") -> Transfer:
    """Hand over a hold's points (hold -> redemption) on ``on``, before it lapses. Capturing
    a captured hold again returns its capture; a released or lapsed hold is refused."""
    when = date_of(on, "date")

    def run(tx: Tx) -> Transfer:
        held = _held(ledger, tx, hold_id)
        name = held.id.partition(":")[2]
        done = _settlement(tx, held.id)
        if done is not None and done.kind == CAPTURE:
            return done
        if done is not None:
            raise LedgerConflict("hold", f"hold {name!r} was released on {done.effective_on}; "
                                         f"it cannot be captured")
        if when < held.effective_on:
            raise LedgerRefused("date", f"{when} is before hold {name!r} was made "
                                        f"({held.effective_on})")
        if held.expires_on is not None and when >= held.expires_on:
            raise LedgerRefused("date", f"hold {name!r} lapsed on {held.expires_on}; it cannot "
                                        f"be captured on {when}")
        t = Transfer(f"{CAPTURE}:{name}", CAPTURE, programme_account(HOLD),
                     programme_account(REDEMPTION), held.amount, when, held.volunteer_id,
                     content_hash=content_hash({"hold": held.id, "date": when.isoformat()}),
                     memo=memo, links=held.id)
        ledger._insert(tx, [t])
        return ledger._transfer(tx, t.id)

    return ledger._write(run)


def release(ledger: Ledger, hold_id: str, *, on: Any, memo: str = "") -> Transfer:
    """Give a hold's points back to the volunteer's lots on ``on`` (on its expiry day if it
    lapsed before). Releasing a released hold again returns its release; a captured hold is
    refused (reverse a redemption, or adjust, to refund it)."""
    when = date_of(on, "date")

    def run(tx: Tx) -> Transfer:
        held = _held(ledger, tx, hold_id)
        name = held.id.partition(":")[2]
        done = _settlement(tx, held.id)
        if done is not None and done.kind == RELEASE:
            return done
        if done is not None:
            raise LedgerConflict("hold", f"hold {name!r} was captured on {done.effective_on}; "
                                         f"it cannot be released")
        if when < held.effective_on:
            raise LedgerRefused("date", f"{when} is before hold {name!r} was made "
                                        f"({held.effective_on})")
        lapsed = held.expires_on is not None and held.expires_on <= when
        return _release(ledger, tx, held, held.expires_on if lapsed and held.expires_on
                        else when, "lapsed" if lapsed else memo)

    return ledger._write(run)


def _release(ledger: Ledger, tx: Tx, held: Transfer, when: dt.date, memo: str) -> Transfer:
    """Post the release of ``held`` (its account locked, not yet settled) on ``when``."""
    name = held.id.partition(":")[2]
    t = Transfer(f"{RELEASE}:{name}", RELEASE, programme_account(HOLD), held.debit_account,
                 held.amount, when, held.volunteer_id,
                 content_hash=content_hash({"hold": held.id, "date": when.isoformat()}),
                 memo=memo, links=held.id)
    ledger._insert(tx, [t])
    uses = ledger._uses(tx, [held.id])[held.id]
    tx.executemany(USES, [(t.id, lot, -amount) for lot, amount in uses])
    return ledger._transfer(tx, t.id)


def lapse(ledger: Ledger, tx: Tx, volunteers: list[str], when: dt.date) -> list[Transfer]:
    """Release every open hold of ``volunteers`` (their accounts locked) that lapsed on or
    before ``when``, each on its expiry day."""
    out: list[Transfer] = []
    for vid in sorted(set(volunteers)):
        for r in tx.execute(
                f"{SELECT_TRANSFER} WHERE volunteer_id = ? AND kind = 'hold' AND expires_on <= ? "
                f"AND NOT EXISTS (SELECT 1 FROM transfers s WHERE s.links = transfers.id) "
                f"ORDER BY seq", (vid, ledger.store_date(when))):
            held = transfer_of(r)
            assert held.expires_on is not None
            out.append(_release(ledger, tx, held, held.expires_on, "lapsed"))
    return out


def reverse(ledger: Ledger, transfer_id: str, *, on: Any, by: str, reason: str) -> Transfer:
    """Undo the earning, redemption or adjustment ``transfer_id`` (``earn:R1``) on ``on`` by
    its mirror image ``reverse:<transfer id>``; ``by`` and ``reason`` are kept with it.
    A transfer is reversed at most once; what cannot be undone is refused, naming why."""
    tid = ident(transfer_id, "transfer_id")
    when = date_of(on, "date")
    author = ident(by, "by")
    why = ident(reason, "reason")

    def run(tx: Tx) -> Transfer:
        rows = tx.execute(f"{SELECT_TRANSFER} WHERE id = ?", (tid,))
        if not rows:
            raise LedgerUnknown("transfer_id", f"no transfer {tid!r} in the ledger (give its "
                                               f"full id, such as earn:R1 or redeem:R001)")
        original = transfer_of(rows[0])
        if original.kind not in REVERSIBLE:
            hint = {HOLD: "release the hold instead", CAPTURE: "adjust to refund it",
                    RELEASE: "hold again instead", REVERSE: "post the transfer again under "
                    "a new id"}.get(original.kind, "its lot is past its date; adjust instead")
            raise LedgerConflict("transfer_id", f"a {original.kind} transfer is not reversed "
                                                f"({tid}): {hint}")
        mine = volunteer_account(original.volunteer_id)
        ledger._lock(tx, [mine])
        lapse(ledger, tx, [original.volunteer_id], when)
        done = _settlement(tx, original.id)
        if done is not None:
            raise LedgerConflict("transfer_id", f"{tid} is already reversed by {done.id} on "
                                                f"{done.effective_on}; a transfer is reversed "
                                                f"once")
        if when < original.effective_on:
            raise LedgerRefused("date", f"{when} is before {tid} ({original.effective_on})")
        t = Transfer(f"{REVERSE}:{tid}", REVERSE, original.credit_account,
                     original.debit_account, original.amount, when, original.volunteer_id,
                     minutes=original.minutes,
                     content_hash=content_hash({"transfer": tid, "date": when.isoformat(),
                                                "by": author, "reason": why}),
                     author=author, memo=why, links=tid)
        if original.credit_account == mine:  # an earning or an added adjustment
            uses: list[tuple[str, str, Decimal]] = []
            if original.amount > 0:
                lots = {lot.id: lot for lot in ledger._lots(tx, original.volunteer_id)}
                lot = lots.get(original.id)
                left = lot.remaining if lot is not None else Decimal(0)
                if left != original.amount:
                    raise LedgerConflict("transfer_id", f"{tid} cannot be reversed: "
                                                        f"{text(original.amount - left)} of its "
                                                        f"{text(original.amount)} points were "
                                                        f"already spent, held or expired")
                uses = [(t.id, original.id, original.amount)]
            ledger._insert(tx, [t])
            tx.executemany(USES, uses)
        else:  # a redemption or a taken adjustment: its lots get their points back
            ledger._insert(tx, [t])
            used = ledger._uses(tx, [original.id])[original.id]
            tx.executemany(USES, [(t.id, lot, -amount) for lot, amount in used])
        return ledger._transfer(tx, t.id)

    return ledger._write(run)
