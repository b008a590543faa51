"""The kinds of ledger refusal, so that a caller tells them apart by class, not by words.

Every refusal the ledger raises is one of these ``LedgerError`` subclasses (a test checks
that the package raises no bare ``LedgerError``), and each keeps the base's ``field`` and
``message``, and so its text, exactly::

    LedgerError (civicscore.errors, a ValueError)  an operation refused, nothing written
    ├── LedgerInvalid       a value given is malformed or out of range: a missing or too
    │                       long id, an amount that is not a positive finite number of at
    │                       most 6 decimals, a date that is not YYYY-MM-DD, an expiry not
    │                       after its day
    ├── LedgerUnknown       names what the ledger does not have: a volunteer, a hold, a
    │   (also LookupError)  transfer
    ├── LedgerConflict      clashes with what the ledger holds: an id used for other content,
    │                       a hold settled the other way, a transfer already reversed, not
    │                       reversible, or whose lot was spent
    ├── LedgerOverdraft     a spend (redemption, hold, taken adjustment) over the unexpired
    │                       points available
    ├── LedgerRefused       well-formed, but not on that day: before the account opened,
    │                       before the hold or transfer it settles, after a hold lapsed
    └── LedgerUnavailable   the ledger itself cannot be used: none given, a malformed URL,
                            an unreachable server, a file that is not a ledger, a schema of
                            another version, a busy file (``field`` is ``db``)

``kind`` is the same distinction as a word (``"invalid"``, ``"unknown"``, ...), for code
that reports it (the HTTP service's problem types are made from it) rather than catches.
"""

from __future__ import annotations

from ..errors import LedgerError

__all__ = ["LedgerConflict", "LedgerError", "LedgerInvalid", "LedgerOverdraft",
           "LedgerRefused", "LedgerUnavailable", "LedgerUnknown", "kind_of"]


class LedgerInvalid(LedgerError):
    """A value given to the ledger is malformed or out of range (``field`` names it)."""

    kind = "invalid"


class LedgerUnknown(LedgerError, LookupError):
    """The operation names a volunteer, hold or transfer the ledger does not have."""

    kind = "unknown"


class LedgerConflict(LedgerError):
    """The operation clashes with what the ledger already holds (an id reused for other
    content, a hold or transfer already settled or reversed, or one that cannot be)."""

    kind = "conflict"


class LedgerOverdraft(LedgerError):
    """A spend asks for more unexpired points than the account has (``field`` is
    ``points``); the account is never taken below zero."""

    kind = "overdraft"


class LedgerRefused(LedgerError):
    """Well-formed, known and not a conflict, but not allowed on the day asked."""

    kind = "refused"


class LedgerUnavailable(LedgerError):
    """The ledger cannot be used at all (``field`` is ``db``): its message may name a path
    or a host, which is for the operator, not for a client of a service."""

    kind = "unavailable"


def kind_of(error: LedgerError) -> str:
    """The kind of ``error``: its class's ``kind``; for a bare ``LedgerError`` (raised by
    code outside this package), ``"unavailable"`` when it names the ``db``, else
    ``"invalid"``."""
    kind = getattr(error, "kind", None)
    if isinstance(kind, str):
        return kind
    return "unavailable" if error.field == "db" else "invalid"
