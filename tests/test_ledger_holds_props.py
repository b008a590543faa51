"""Holds and reversals under any sequence (issue 14), on both backends.

Random earnings (two volunteers, lots expiring after a month) are posted, then a random
sequence of redemptions, holds (some with an expiry), captures, releases, reversals of
earnings and of redemptions, and ``expire`` runs, in date order. A small model written
here from docs/ledger.md (oldest usable lots first, a hold takes points at once, a lapsed
hold is released on its expiry day, a reversal takes back a whole unspent lot or gives
back exactly the lots a redemption used) says which operations must be refused. After
every operation: the ledger refused exactly what the model refused, every balance and
held amount equals the model's, no balance is below zero, and ``verify`` (double entry:
the accounts add up to zero; lots; settled and reversed once) finds nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.errors import LedgerError
from civicscore.ledger import Ledger, open_ledger

from .test_ledger_server import pg_server, server, slow  # noqa: F401  (fixtures)

POLICY = """
[policy]
id = "holdprops"
version = "1"
[volunteer]
confirmation_required = false
point_expiry_months = 1
[volunteer.activities.e]
points_per_event = 3
"""
START = dt.date(2025, 1, 1)
VOLS = ("v1", "v2")
_ids = itertools.count()


@pytest.fixture(scope="module")
def policy() -> civicscore.Policy:
    path = Path(tempfile.mkdtemp(prefix="ledger-holds-")) / "p.toml"
    path.write_text(POLICY, encoding="utf-8")
    return civicscore.load(path, today=START)


@dataclass
class ModelLot:
    vid: str
    earned: dt.date
    expires: dt.date
    amount: Decimal
    left: Decimal


@dataclass
class Spend:
    """A redemption or a hold: the lots it used."""

    vid: str
    amount: Decimal
    on: dt.date
    uses: dict[str, Decimal]
    expires: dt.date | None = None
    is_hold: bool = False
    state: str = "open"  # holds: open, captured, released; redemptions: open, reversed


@dataclass
class Model:
    lots: dict[str, ModelLot] = field(default_factory=dict)
    spends: dict[str, Spend] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)

    def opened(self, vid: str, day: dt.date) -> bool:
        days = [lot.earned for lot in self.lots.values() if lot.vid == vid]
        return bool(days) and day >= min(days)

    def lapse(self, vid: str | None, day: dt.date) -> None:
        for s in self.spends.values():
            if s.state == "open" and s.expires is not None and s.expires <= day and \
                    (vid is None or s.vid == vid):
                self.give_back(s)
                s.state = "released"

    def give_back(self, s: Spend) -> None:
        for lot_id, amount in s.uses.items():
            self.lots[lot_id].left += amount

    def spend(self, sid: str, vid: str, amount: Decimal, day: dt.date,
              expires: dt.date | None = None, is_hold: bool = False) -> bool:
        if not self.opened(vid, day):
            return False
        self.lapse(vid, day)
        usable = sorted((lot.earned, lot_id) for lot_id, lot in self.lots.items()
                        if lot.vid == vid and lot.earned <= day < lot.expires and lot.left > 0)
        if sum((self.lots[i].left for _, i in usable), Decimal(0)) < amount:
            return False
        uses, need = {}, amount
        for _, lot_id in usable:
            take = min(need, self.lots[lot_id].left)
            self.lots[lot_id].left -= take
            uses[lot_id] = take
            need -= take
            if need == 0:
                break
        self.spends[sid] = Spend(vid, amount, day, uses, expires, is_hold)
        return True

    def balance(self, vid: str, day: dt.date) -> tuple[Decimal, Decimal]:
        """(balance, held) as of ``day``: lapsed holds counted released, expired lots not."""
        back: dict[str, Decimal] = {}
        held = Decimal(0)
        for s in self.spends.values():
            if s.vid != vid or s.state != "open" or not s.is_hold:
                continue
            if s.expires is not None and s.expires <= day:
                for lot_id, amount in s.uses.items():
                    back[lot_id] = back.get(lot_id, Decimal(0)) + amount
            else:
                held += s.amount
        total = sum((lot.left + back.get(i, Decimal(0)) for i, lot in self.lots.items()
                     if lot.vid == vid and lot.expires > day), Decimal(0))
        return total, held


ops_st = st.lists(st.tuples(
    st.sampled_from(["hold", "redeem", "hold", "capture", "release", "redeem", "reverse_earn",
                     "reverse_redeem", "expire"]),
    st.integers(0, 4),  # days after the previous operation
    st.sampled_from(VOLS),
    st.integers(1, 6),  # points
    st.one_of(st.none(), st.integers(1, 6)),  # a hold's days to lapse
    st.integers(0, 30)), max_size=25)  # which earlier hold / lot / redemption
earnings_st = st.lists(st.tuples(st.sampled_from(VOLS), st.integers(0, 20)), min_size=2,
                       max_size=12)


def _run(book: Ledger, policy: civicscore.Policy, earnings: list[Any], ops: list[Any]) -> None:
    records = [{"record_id": f"R{i}", "volunteer_id": vid, "activity": "e",
                "start": f"{START + dt.timedelta(days=d)}T09:00",
                "end": f"{START + dt.timedelta(days=d)}T10:00"}
               for i, (vid, d) in enumerate(earnings)]
    book.post(policy, records, as_of=START + dt.timedelta(days=90))
    model = Model()
    for stored in book._read(lambda tx: book._lots(tx)):
        assert stored.expires_on is not None
        model.lots[stored.id] = ModelLot(stored.volunteer_id, stored.earned_on,
                                         stored.expires_on, stored.amount, stored.amount)
    holds: list[str] = []
    redemptions: list[str] = []
    day = START
    for n, (op, gap, vid, points, lapse_days, pick) in enumerate(ops):
        day += dt.timedelta(days=gap)
        amount = Decimal(points)
        expected: bool
        try:
            if op == "redeem":
                expected = model.spend(f"redeem:X{n}", vid, amount, day)
                book.redeem(vid, amount, id=f"X{n}", on=day)
                redemptions.append(f"redeem:X{n}")
            elif op == "hold":
                until = None if lapse_days is None else day + dt.timedelta(days=lapse_days)
                expected = model.spend(f"hold:H{n}", vid, amount, day, until, is_hold=True)
                book.hold(vid, amount, id=f"H{n}", on=day, expires_on=until)
                holds.append(f"hold:H{n}")
            elif op in ("capture", "release"):
                if not holds:
                    continue
                hid = holds[pick % len(holds)]
                h = model.spends[hid]
                lapsed = h.expires is not None and h.expires <= day
                if op == "capture":
                    expected = h.state == "captured" or (h.state == "open" and not lapsed)
                    if expected:
                        h.state = "captured"
                    book.capture(hid, on=day)
                else:
                    expected = h.state != "captured"
                    if h.state == "open":
                        model.give_back(h)
                        h.state = "released"
                    book.release(hid, on=day)
            elif op == "reverse_earn":
                lot_id = sorted(model.lots)[pick % len(model.lots)]
                lot = model.lots[lot_id]
                model.lapse(lot.vid, day)
                expected = (lot_id not in model.reversed and day >= lot.earned
                            and lot.left == lot.amount)
                if expected:
                    model.reversed.add(lot_id)
                    lot.left = Decimal(0)
                book.reverse(lot_id, on=day, by="clerk", reason="test")
            elif op == "reverse_redeem":
                if not redemptions:
                    continue
                rid = redemptions[pick % len(redemptions)]
                r = model.spends[rid]
                model.lapse(r.vid, day)
                expected = r.state == "open"
                if expected:
                    model.give_back(r)
                    r.state = "reversed"
                book.reverse(rid, on=day, by="clerk", reason="test")
            else:
                expected = True
                model.lapse(None, day)
                for lot in model.lots.values():
                    if lot.expires <= day:
                        lot.left = Decimal(0)
                book.expire(day)
            done = True
        except LedgerError:
            done = False
        assert done == expected, (n, op, vid, points, day)
        for v in VOLS:
            if not model.opened(v, START + dt.timedelta(days=365)):
                continue
            b = book.balance(v, on=day)
            assert (b.balance, b.held) == model.balance(v, day), (n, op, v, day)
            assert b.balance >= 0 and b.held >= 0
            assert b.balance == b.earned + b.adjusted - b.redeemed - b.expired - b.held
        assert book.verify() == [], (n, op)


def _url(backend: str) -> str:
    if backend == "sqlite":
        return str(Path(tempfile.mkdtemp(prefix="ledger-holds-")) / f"p{next(_ids)}.db")
    found = server()
    assert not isinstance(found, str)
    return found.fresh_url()


@pytest.mark.parametrize(("backend", "examples"), [
    ("sqlite", 30), ("postgres", 8),
    pytest.param("sqlite", 500, marks=slow), pytest.param("postgres", 150, marks=slow)])
def test_holds_and_reversals_conserve_points_and_never_overdraw(
        request: pytest.FixtureRequest, policy: civicscore.Policy, backend: str,
        examples: int) -> None:
    if backend == "postgres":
        request.getfixturevalue("pg_server")  # started, or skipped saying why

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(earnings=earnings_st, ops=ops_st)
    # a lapsed hold's points are spent again (lapse disabled, only this case failed)
    @example(earnings=[("v1", 0), ("v2", 1)],
             ops=[("hold", 1, "v1", 3, 1, 0), ("redeem", 2, "v1", 3, None, 0)])
    # given back after the lot expired, then expired again; a reversed earning re-spent
    @example(earnings=[("v1", 0), ("v1", 20)],
             ops=[("hold", 1, "v1", 3, None, 0), ("expire", 0, "v1", 1, None, 0),
                  ("release", 35, "v1", 1, None, 0), ("expire", 0, "v1", 1, None, 0),
                  ("reverse_earn", 0, "v1", 1, None, 1), ("redeem", 0, "v1", 1, None, 0),
                  ("reverse_redeem", 1, "v1", 1, None, 0), ("capture", 0, "v1", 1, None, 0)])
    def run(earnings: list[Any], ops: list[Any]) -> None:
        with open_ledger(_url(backend), create=True) as book:
            book.migrate()
            _run(book, policy, earnings, ops)

    run()
