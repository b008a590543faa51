"""What a points ledger holds: accounts, transfers, lots, and the checks on amounts.

The model is TigerBeetle's: every movement of points is one *transfer* with a
unique id, from a debit account to a credit account, of a positive amount.
Nothing is ever updated or deleted; a correction is a new transfer the other
way. A volunteer's account has TigerBeetle's ``debits_must_not_exceed_credits``
flag: the ledger refuses any transfer that would take it below zero.

Points are held in *lots* (as Beancount holds commodities): each earning is
one lot with the day it was earned and the day it expires (never, for hours
or when the policy sets no expiry). A redemption, an expiry or a negative
adjustment *uses* lots, oldest first; a lot's remainder is its amount less
its uses, so a lot is never rewritten either.

Amounts are exact ``Decimal`` values, stored as NUMERIC (PostgreSQL) or as
decimal text (SQLite), never as a float.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from operator import add, itemgetter
from typing import Any

from .errors import LedgerInvalid

#: Account kinds: one account per volunteer, and one of each programme account.
VOLUNTEER = "volunteer"
ISSUANCE = "issuance"  # the programme's source of earned points
REDEMPTION = "redemption"  # where redeemed points go (the points supermarket)
EXPIRY = "expiry"  # where expired points go
ADJUSTMENT = "adjustment"  # the other side of every manual adjustment
HOLD = "hold"  # points reserved by an open redemption hold
PROGRAMME_ACCOUNTS = (ISSUANCE, REDEMPTION, EXPIRY, ADJUSTMENT, HOLD)

#: Transfer kinds.
EARN = "earn"
REDEEM = "redeem"
EXPIRE = "expire"
ADJUST = "adjust"
CAPTURE = "capture"  # a hold's points handed over: hold -> redemption
RELEASE = "release"  # a hold given up (or lapsed): hold -> volunteer, its lots restored
REVERSE = "reverse"  # a posted transfer undone by its mirror image, never by deletion
KINDS = (EARN, REDEEM, EXPIRE, ADJUST, HOLD, CAPTURE, RELEASE, REVERSE)

MAX_DECIMALS = 6
"""The most decimals an amount may have: the volunteer scheme's ``points_decimals`` is at
most 6, so every earned amount fits, and a redemption finer than any lot is refused."""

MAX_AMOUNT = Decimal(10) ** 15
"""Amounts at or above this are refused: more than any policy can award (the scheme's
bound is 2**53 - 1 units of the last decimal, 9.0e13 points at 2 decimals)."""


def volunteer_account(volunteer_id: str) -> str:
    """The account code of a volunteer (``volunteer:V01``)."""
    return f"{VOLUNTEER}:{volunteer_id}"


def programme_account(kind: str) -> str:
    """The account code of a programme account (``programme:issuance``)."""
    return f"programme:{kind}"


def amount_of(value: Any, name: str = "points", *, signed: bool = False) -> Decimal:
    """``value`` as an exact, finite amount of points, refused with ``name`` when it is
    not a number, not finite, zero, negative (unless ``signed``), finer than
    ``MAX_DECIMALS`` or too large. A float is taken as written (``Decimal(repr(x))``)."""
    if isinstance(value, bool):
        raise LedgerInvalid(name, f"expected a number of points, got {value!r}")
    try:
        if isinstance(value, float):
            amount = Decimal(repr(value))
        else:
            amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise LedgerInvalid(name, f"expected a number of points, got {value!r}") from None
    if not amount.is_finite():
        raise LedgerInvalid(name, f"must be a finite number, got {value!r}")
    if amount == 0:
        raise LedgerInvalid(name, f"must not be 0, got {value!r}")
    if amount < 0 and not signed:
        raise LedgerInvalid(name, f"must be more than 0, got {value!r}")
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > MAX_DECIMALS:
        raise LedgerInvalid(name, f"has more than {MAX_DECIMALS} decimals: {value!r}")
    if abs(amount) >= MAX_AMOUNT:
        raise LedgerInvalid(name, f"{value!r} is more than a ledger holds (less than "
                                  f"{MAX_AMOUNT:.0e} points)")
    return canonical(amount)


def canonical(amount: Decimal) -> Decimal:
    """One spelling per value (``1.50`` and ``1.5`` are one amount), without exponent."""
    n = amount.normalize()
    exponent = n.as_tuple().exponent
    assert isinstance(exponent, int)
    return n.quantize(Decimal(1)) if exponent > 0 else n


def text(amount: Decimal) -> str:
    """An amount as the decimal text stored and shown (``12.5``, never ``1.25E+1``)."""
    shown = format(amount, "f")
    if "." in shown:  # 12.50 -> 12.5, 3.000 -> 3
        shown = shown.rstrip("0").rstrip(".")
    return "0" if shown in ("-0", "") else shown


def date_of(value: Any, name: str = "date") -> dt.date:
    """A day, from a ``date`` or ISO text; refused naming ``name`` otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise LedgerInvalid(name, f"expected a date YYYY-MM-DD, got {value!r}") from None


def ident(value: Any, name: str) -> str:
    """A non-blank id (a volunteer, a redemption, an author)."""
    if not isinstance(value, str) or not value.strip():
        raise LedgerInvalid(name, f"is required and missing (got {value!r})")
    if len(value) > 200:
        raise LedgerInvalid(name, "is longer than 200 characters")
    return value.strip()


def content_hash(content: Mapping[str, Any]) -> str:
    """The sha256 of ``content`` as canonical JSON: what makes a re-post a no-op (same
    id, same hash) or a conflict (same id, another hash)."""
    data = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str,
                      separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def record_hash(record: Mapping[str, Any]) -> str:
    """The content hash of an input record: its fields in name order, each name and
    value's text separated by control characters no CSV cell or JSON key of a record
    holds unescaped (faster than JSON on the hot path of a post)."""
    try:
        items = sorted(record.items())  # names are unique: values are never compared
    except TypeError:  # a name that is not text
        items = sorted(record.items(), key=lambda kv: str(kv[0]))
    try:  # text names and values (every CSV record): the same bytes, a third faster
        data = "\x1e".join([k + "\x1f" + v for k, v in items])
    except TypeError:
        data = "\x1e".join(f"{k}\x1f{'' if v is None else v}" for k, v in items)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def record_hasher() -> Callable[[Mapping[str, Any]], str]:
    """``record_hash`` for many records, the same text for each: the records of one file
    have the same field names, so they are sorted once per set of names (not once per
    record) and each record's text is joined in C (``map`` of ``+`` over the
    ``name + "\x1f"`` prefixes and the values). A record it cannot join so (a value or
    name that is not text, fewer than two fields) is hashed by ``record_hash`` itself."""
    layouts: dict[tuple[Any, ...], tuple[list[str], Callable[[Any], Any]] | None] = {}
    sha256 = hashlib.sha256

    def hash_of(record: Mapping[str, Any]) -> str:
        names = tuple(record)
        try:
            layout = layouts[names]
        except KeyError:
            layout = None
            if len(names) > 1 and all(type(k) is str for k in names):
                order = sorted(names)
                layout = ([k + "\x1f" for k in order], itemgetter(*order))
            layouts[names] = layout
        if layout is None:
            return record_hash(record)
        prefixes, values = layout
        try:
            data = "\x1e".join(map(add, prefixes, values(record)))
        except TypeError:  # a value that is not text
            return record_hash(record)
        return sha256(data.encode("utf-8", "surrogatepass")).hexdigest()

    return hash_of


@dataclass(frozen=True, slots=True)
class Transfer:
    """One movement of points between two accounts; never changed once written."""

    id: str
    kind: str
    debit_account: str
    credit_account: str
    amount: Decimal
    effective_on: dt.date
    volunteer_id: str
    minutes: int = 0
    policy_id: str = ""
    policy_version: str = ""
    policy_hash: str = ""
    reason_codes: tuple[str, ...] = ()
    content_hash: str = ""
    author: str = ""
    memo: str = ""
    posted_at: str = ""
    seq: int = 0
    links: str | None = None
    """The hold a capture or release settles, or the transfer a reversal undoes."""
    expires_on: dt.date | None = None
    """When a hold lapses (released by the ledger if neither captured nor released)."""

    def to_row(self) -> dict[str, Any]:
        """The transfer as export and statement rows show it (amount as decimal text)."""
        return {
            "seq": self.seq, "id": self.id, "kind": self.kind,
            "debit_account": self.debit_account, "credit_account": self.credit_account,
            "amount": text(self.amount), "effective_on": self.effective_on.isoformat(),
            "volunteer_id": self.volunteer_id, "minutes": self.minutes,
            "policy_id": self.policy_id, "policy_version": self.policy_version,
            "policy_hash": self.policy_hash, "reason_codes": list(self.reason_codes),
            "content_hash": self.content_hash, "author": self.author, "memo": self.memo,
            "posted_at": self.posted_at, "links": self.links or "",
            "expires_on": self.expires_on.isoformat() if self.expires_on else "",
        }


def statement_row(transfer: Transfer, after: Decimal) -> dict[str, Any]:
    """One line of a volunteer's statement, as ``civicscore ledger statement`` prints it
    and ``GET /v1/ledger/accounts/{id}/statement`` answers it: ``transfer`` of the
    volunteer's account and ``after``, the book balance after it (``Ledger.statement``
    gives both). ``points`` is what the transfer did to the account (signed; 0 for a
    capture, which moves held points on), ``policy`` its policy's id, version and the
    first 12 characters of its hash. Written once, so the CLI and the service cannot
    word a statement apart."""
    t = transfer
    mine = volunteer_account(t.volunteer_id)
    points = (text(t.amount) if t.credit_account == mine else
              "-" + text(t.amount) if t.debit_account == mine else "0")
    return {"seq": t.seq, "id": t.id, "kind": t.kind, "date": t.effective_on.isoformat(),
            "points": points,
            "book_balance": text(after),
            "policy": f"{t.policy_id} {t.policy_version} {t.policy_hash[:12]}".strip(),
            "reason_codes": "; ".join(t.reason_codes), "by": t.author, "memo": t.memo}


@dataclass(frozen=True, slots=True)
class Lot:
    """Points earned together: what is left of them is ``amount`` less their uses."""

    id: str
    volunteer_id: str
    earned_on: dt.date
    expires_on: dt.date | None
    amount: Decimal
    remaining: Decimal

    def usable_on(self, day: dt.date) -> bool:
        """Whether a redemption on ``day`` may use it (as the scheme: earned by then, not
        expired by then, something left)."""
        return (self.earned_on <= day and (self.expires_on is None or self.expires_on > day)
                and self.remaining > 0)


@dataclass(frozen=True, slots=True)
class Balance:
    """A volunteer's account as of a day: ``balance`` is what can be redeemed then
    (``earned + adjusted - redeemed - expired - held``, counting lots past their expiry
    date even before ``expire`` has moved them, and holds past theirs as released);
    ``book`` is credits less debits so far; ``held`` is what open holds reserve."""

    volunteer_id: str
    as_of: dt.date
    earned: Decimal
    adjusted: Decimal
    redeemed: Decimal
    expired: Decimal
    balance: Decimal
    book: Decimal
    hours: Decimal
    transfers: int
    held: Decimal = Decimal(0)

    def to_row(self) -> dict[str, Any]:
        return {"volunteer_id": self.volunteer_id, "as_of": self.as_of.isoformat(),
                "earned": text(self.earned), "adjusted": text(self.adjusted),
                "redeemed": text(self.redeemed), "expired": text(self.expired),
                "balance": text(self.balance), "book": text(self.book),
                "hours": text(self.hours), "transfers": self.transfers,
                "held": text(self.held)}  # last: the columns of schema 1 keep their places


@dataclass(frozen=True, slots=True)
class PostSummary:
    """What one ``post`` did: transfers written, records already there (no-ops), and the
    scheme's rejected records (never posted), as ``(record_id, reason codes)``; and
    ``warnings``: months of a volunteer that an earlier post already had earnings in,
    whose caps and overlaps this post could not see."""

    posted: int
    unchanged: int
    rejected: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ids: tuple[str, ...] = field(default=(), repr=False)
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        return (f"{self.posted} transfers posted, {self.unchanged} already in the ledger, "
                f"{len(self.rejected)} records rejected by the policy (not posted)")
