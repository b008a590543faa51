"""``verify``: every invariant of a ledger, checked from its rows, each break in words.

The invariants (docs/ledger.md explains them):

1. the schema is of this library's version, and the append-only triggers are there;
2. every transfer moves a positive amount (an earning of hours only may be 0) between
   two different accounts that exist, of the kinds its own kind allows, and a
   volunteer side that is the transfer's volunteer;
3. every earning names its policy (id, version, hash); every earning of points has
   exactly one lot of the same amount, and every lot is of an earning or a positive
   adjustment;
4. no lot is used more than its amount; the uses of a redemption, an expiry or a
   negative adjustment add up to its amount; a redemption or adjustment uses only lots
   earned by its day and not expired by then, an expiry only lots expired by its day;
5. no volunteer's account is below zero, and each equals what is left of its lots;
6. the balances of all accounts add up to zero (double entry);
7. every capture or release settles one earlier hold of the same volunteer and amount
   (a capture before the hold lapses), and gives back exactly the hold's lot uses (a
   release); the hold account holds exactly the open holds;
8. every reversal mirrors one earning, redemption or adjustment (same volunteer, amount
   and minutes, the accounts swapped, not earlier), with its author and reason; it takes
   back exactly the lot of what it reverses, or gives back exactly its lot uses;
9. nothing is settled or reversed twice (also a UNIQUE index of the database).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from .model import (
    ADJUST,
    ADJUSTMENT,
    CAPTURE,
    EARN,
    EXPIRE,
    EXPIRY,
    HOLD,
    ISSUANCE,
    REDEEM,
    REDEMPTION,
    RELEASE,
    REVERSE,
    VOLUNTEER,
    Transfer,
    programme_account,
    text,
    volunteer_account,
)
from .rows import SELECT_TRANSFER, Tx, day, dec, transfer_of
from .schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from .core import Ledger

_SIDES = {
    EARN: (programme_account(ISSUANCE), VOLUNTEER),
    REDEEM: (VOLUNTEER, programme_account(REDEMPTION)),
    EXPIRE: (VOLUNTEER, programme_account(EXPIRY)),
    HOLD: (VOLUNTEER, programme_account(HOLD)),
    CAPTURE: (programme_account(HOLD), programme_account(REDEMPTION)),
    RELEASE: (programme_account(HOLD), VOLUNTEER),
}
_REVERSIBLE = (EARN, REDEEM, ADJUST)


def check(ledger: Ledger, tx: Tx) -> list[str]:
    """The broken invariants of the ledger ``tx`` reads (empty when it is sound)."""
    problems: list[str] = []
    version = ledger._version(tx)
    if version != SCHEMA_VERSION:
        return [f"schema: version {version}, expected {SCHEMA_VERSION}"]
    missing = {f"{t}_append_only" for t in ("accounts", "transfers", "lots", "lot_uses")} \
        - ledger._triggers(tx)
    if missing:
        problems.append(f"append-only: trigger(s) {', '.join(sorted(missing))} are missing")
    links: dict[str, list[str]] = defaultdict(list)
    accounts = {r[0]: (r[1], r[2]) for r in tx.execute(
        "SELECT code, kind, volunteer_id FROM accounts")}
    transfers = [transfer_of(r) for r in tx.execute(f"{SELECT_TRANSFER} ORDER BY seq")]
    by_id = {t.id: t for t in transfers}
    balance: dict[str, Decimal] = defaultdict(Decimal)
    for t in transfers:
        where = f"transfer {t.id!r}"
        for side in (t.debit_account, t.credit_account):
            if side not in accounts:
                problems.append(f"{where}: account {side!r} does not exist")
        if t.debit_account == t.credit_account:
            problems.append(f"{where}: debits and credits the same account")
        zero_ok = t.kind == EARN or (t.kind == REVERSE and t.links in by_id
                                     and by_id[t.links].kind == EARN)
        if t.amount < 0 or (t.amount == 0 and not zero_ok):
            problems.append(f"{where}: amount {text(t.amount)} is not positive")
        mine = volunteer_account(t.volunteer_id)
        if t.kind in _SIDES:
            debit, credit = (mine if s == VOLUNTEER else s for s in _SIDES[t.kind])
            if (t.debit_account, t.credit_account) != (debit, credit):
                problems.append(f"{where}: a {t.kind} must move from {debit} to {credit}, "
                                f"not from {t.debit_account} to {t.credit_account}")
        elif t.kind == ADJUST:
            if {t.debit_account, t.credit_account} != {mine, programme_account(ADJUSTMENT)}:
                problems.append(f"{where}: an adjustment must be between {mine} and "
                                f"{programme_account(ADJUSTMENT)}")
            if not t.author or not t.memo:
                problems.append(f"{where}: an adjustment without its author or reason")
        elif t.kind == REVERSE:
            problems.extend(_reversal(t, by_id.get(t.links or "")))
        else:
            problems.append(f"{where}: unknown kind {t.kind!r}")
        if t.kind in (CAPTURE, RELEASE):
            problems.extend(_settles(t, by_id.get(t.links or "")))
        elif t.kind != REVERSE and t.links:
            problems.append(f"{where}: a {t.kind} links to {t.links!r}")
        if t.links:
            links[t.links].append(t.id)
        if t.kind == EARN and not (t.policy_id and t.policy_version and t.policy_hash):
            problems.append(f"{where}: an earning without its policy id, version and hash")
        balance[t.debit_account] -= t.amount
        balance[t.credit_account] += t.amount
    lots = {}
    for r in tx.execute("SELECT id, volunteer_id, earned_on, expires_on, amount FROM lots"):
        lots[r[0]] = (r[1], day(r[2]), None if r[3] is None else day(r[3]), dec(r[4]))
        made = by_id.get(r[0])
        if made is None or made.credit_account != volunteer_account(r[1]) or \
                made.amount != dec(r[4]):
            problems.append(f"lot {r[0]!r}: not the credit of an earning or adjustment of "
                            f"the same volunteer and amount")
    for t in transfers:
        if t.kind == EARN and t.amount > 0 and t.id not in lots:
            problems.append(f"transfer {t.id!r}: an earning of points without its lot")
    for target, settlers in sorted(links.items()):
        if len(settlers) > 1:
            problems.append(f"transfer {target!r}: settled or reversed more than once "
                            f"({', '.join(settlers)})")
    used: dict[str, Decimal] = defaultdict(Decimal)
    uses_of: dict[str, Decimal] = defaultdict(Decimal)
    per: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for tid, lot_id, amount in tx.execute("SELECT transfer_id, lot_id, amount FROM lot_uses"):
        amount = dec(amount)
        used[lot_id] += amount
        uses_of[tid] += amount
        per[tid][lot_id] += amount
        user, lot = by_id.get(tid), lots.get(lot_id)
        if user is None or lot is None:
            problems.append(f"lot use {tid!r} of {lot_id!r}: the transfer or lot is missing")
            continue
        gives_back = user.kind == RELEASE or (user.kind == REVERSE and
                                              user.credit_account ==
                                              volunteer_account(user.volunteer_id))
        if (amount <= 0) != gives_back or amount == 0:
            problems.append(f"lot use {tid!r} of {lot_id!r}: amount {text(amount)} is not "
                            + ("negative (a release or reversal gives points back)"
                               if gives_back else "positive"))
        if lot[0] != user.volunteer_id:
            problems.append(f"lot use {tid!r} of {lot_id!r}: another volunteer's lot")
        if gives_back:
            continue  # checked against the uses it gives back, below
        if user.kind == REVERSE:
            if lot_id != user.links:
                problems.append(f"transfer {tid!r}: takes points of lot {lot_id!r}, not of "
                                f"the lot of {user.links!r}")
        elif user.kind == EXPIRE:
            if lot[2] is None or lot[2] > user.effective_on:
                problems.append(f"transfer {tid!r}: expires lot {lot_id!r} before its "
                                f"expiry date ({lot[2]})")
        elif not (lot[1] <= user.effective_on and
                  (lot[2] is None or lot[2] > user.effective_on)):
            problems.append(f"transfer {tid!r}: on {user.effective_on} uses lot {lot_id!r}, "
                            f"earned {lot[1]}, expiring {lot[2]}")
    for lot_id, total in used.items():
        if lot_id in lots and (total > lots[lot_id][3] or total < 0):
            problems.append(f"lot {lot_id!r}: used {text(total)} of its "
                            f"{text(lots[lot_id][3])} points")
    held = Decimal(0)
    for t in transfers:
        mine = volunteer_account(t.volunteer_id)
        if t.debit_account == mine and uses_of.get(t.id, Decimal(0)) != t.amount:
            problems.append(f"transfer {t.id!r}: takes {text(t.amount)} points but its lot "
                            f"uses add up to {text(uses_of.get(t.id, Decimal(0)))}")
        if t.kind == RELEASE or (t.kind == REVERSE and t.credit_account == mine):
            source = t.links or ""
            back = {lot: -amount for lot, amount in per.get(t.id, {}).items()}
            if back != dict(per.get(source, {})):
                problems.append(f"transfer {t.id!r}: does not give back exactly the lot "
                                f"uses of {source!r}")
        if t.kind == HOLD and t.id not in links:
            held += t.amount
    if balance[programme_account(HOLD)] != held:
        problems.append(f"account {programme_account(HOLD)!r}: balance "
                        f"{text(balance[programme_account(HOLD)])} is not the open holds "
                        f"({text(held)})")
    left: dict[str, Decimal] = defaultdict(Decimal)
    for lot_id, (vid, _, _, amount) in lots.items():
        left[vid] += amount - used.get(lot_id, Decimal(0))
    for code, (kind, vid) in sorted(accounts.items()):
        if kind != VOLUNTEER:
            continue
        if balance[code] < 0:
            problems.append(f"account {code!r}: balance {text(balance[code])} is below zero")
        if balance[code] != left[vid]:
            problems.append(f"account {code!r}: balance {text(balance[code])} is not what "
                            f"is left of its lots ({text(left[vid])})")
    total = sum(balance.values(), Decimal(0))
    if total != 0:
        problems.append(f"double entry: the accounts add up to {text(total)}, not 0")
    return problems


def _settles(t: Transfer, held: Transfer | None) -> list[str]:
    """What is wrong with capture or release ``t`` of the hold it links to."""
    where = f"transfer {t.id!r}"
    if held is None or held.kind != HOLD:
        return [f"{where}: a {t.kind} of {t.links!r}, which is not a hold"]
    out = []
    if (held.volunteer_id, held.amount) != (t.volunteer_id, t.amount):
        out.append(f"{where}: settles hold {held.id!r} of another volunteer or amount")
    if t.effective_on < held.effective_on or t.seq < held.seq:
        out.append(f"{where}: dated or posted before hold {held.id!r}")
    if held.expires_on is not None and (t.effective_on >= held.expires_on if t.kind == CAPTURE
                                        else t.effective_on > held.expires_on):
        out.append(f"{where}: a {t.kind} on {t.effective_on}, after hold {held.id!r} "
                   f"lapsed ({held.expires_on})")
    return out


def _reversal(t: Transfer, original: Transfer | None) -> list[str]:
    """What is wrong with reversal ``t`` of the transfer it links to."""
    where = f"transfer {t.id!r}"
    if original is None or original.kind not in _REVERSIBLE:
        return [f"{where}: reverses {t.links!r}, which is not an earning, redemption or "
                f"adjustment"]
    out = []
    if (t.debit_account, t.credit_account) != (original.credit_account,
                                               original.debit_account):
        out.append(f"{where}: does not move {original.id!r}'s points back between its "
                   f"accounts")
    if (t.volunteer_id, t.amount, t.minutes) != (original.volunteer_id, original.amount,
                                                 original.minutes):
        out.append(f"{where}: not the volunteer, amount and minutes of {original.id!r}")
    if t.effective_on < original.effective_on or t.seq < original.seq:
        out.append(f"{where}: dated or posted before {original.id!r}")
    if not t.author or not t.memo:
        out.append(f"{where}: a reversal without its author or reason")
    return out
