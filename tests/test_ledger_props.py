"""The ledger's balances equal re-scoring the whole history (issue 14), on both backends.

A random history of six months (three volunteers; records with caps, overlaps, unconfirmed
ones and 15-minute rounding; redemptions, some too large; expiry after two months) is
posted a month at a time, as a programme would: that month's records, then that month's
redemptions in date order, then sometimes ``expire`` and a repeated post. At the end
every balance, earned, expired, redeemed and hour total, and whether each redemption was
applied, equal what the volunteer scheme gives scoring the full history in one run.

Batches are calendar months and every activity ends on the day it starts, so the
scheme's per-day and per-month caps and its overlap check see the same records in a
monthly post as in the one run (docs/ledger.md: post a period's records together).
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.errors import LedgerError
from civicscore.ledger import open_ledger

from .test_ledger_server import pg_server, server, slow  # noqa: F401  (fixtures)

POLICY = """
[policy]
id = "prop"
version = "1"
[volunteer]
rounding_minutes = 15
points_decimals = 2
point_expiry_months = 2
overlap = "reject"
[volunteer.caps]
hours_per_day = 3
points_per_month = 20
[volunteer.activities.a]
points_per_hour = 1.25
[volunteer.activities.e]
points_per_event = 0.5
"""

START = dt.date(2025, 1, 1)
FINAL = dt.date(2025, 6, 30)
_ids = itertools.count()


@pytest.fixture(scope="module")
def policy() -> civicscore.Policy:
    path = Path(tempfile.mkdtemp(prefix="ledger-props-")) / "prop.toml"
    path.write_text(POLICY, encoding="utf-8")
    return civicscore.load(path, today=START)


records_st = st.lists(st.tuples(
    st.sampled_from(["v1", "v2", "v3"]), st.integers(0, 179), st.integers(6 * 4, 18 * 4),
    st.integers(1, 20), st.sampled_from(["a", "a", "e"]),
    st.sampled_from(["yes", "yes", "yes", "no"])), max_size=40)
redemptions_st = st.lists(st.tuples(
    st.sampled_from(["v1", "v2", "v3", "v4"]), st.integers(0, 180), st.integers(1, 500)),
    max_size=12)


def _month_end(day: dt.date) -> dt.date:
    first = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first - dt.timedelta(days=1)


def _history(raw: list[Any], raw_redemptions: list[Any]) -> tuple[list[Any], list[Any]]:
    records = []
    for i, (vid, offset, quarter, length, activity, confirmed) in enumerate(raw):
        day = START + dt.timedelta(days=offset)
        start = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=15 * quarter)
        end = start + dt.timedelta(minutes=17 * length)  # rounds down to 15-minute units
        records.append({"record_id": f"R{i}", "volunteer_id": vid, "activity": activity,
                        "start": start.isoformat(timespec="minutes"),
                        "end": end.isoformat(timespec="minutes"), "confirmed": confirmed})
    redemptions = [{"redemption_id": f"X{i}", "volunteer_id": vid,
                    "date": (START + dt.timedelta(days=offset)).isoformat(),
                    "points": str(Decimal(cents) / 100)}
                   for i, (vid, offset, cents) in enumerate(raw_redemptions)]
    return records, redemptions


def _replay(url: str, policy: civicscore.Policy, records: list[Any], redemptions: list[Any],
            expire_months: set[int], repost: bool) -> dict[str, bool]:
    applied: dict[str, bool] = {}
    with open_ledger(url, create=True) as book:
        book.migrate()
        for month in range(1, 7):
            end = _month_end(dt.date(2025, month, 1))
            batch = [r for r in records if dt.date.fromisoformat(r["start"][:10]).month == month]
            if batch:
                first = book.post(policy, batch, as_of=end)
                if repost:
                    again = book.post(policy, batch, as_of=end)
                    assert (again.posted, again.unchanged) == (0, first.posted + first.unchanged)
            for r in sorted((r for r in redemptions
                             if dt.date.fromisoformat(r["date"]).month == month),
                            key=lambda r: (r["date"], r["redemption_id"])):
                try:
                    book.redeem(r["volunteer_id"], r["points"], id=r["redemption_id"],
                                on=r["date"])
                    applied[r["redemption_id"]] = True
                except LedgerError as e:
                    assert e.field in ("points", "volunteer_id", "date"), e
                    applied[r["redemption_id"]] = False
            if month in expire_months:
                book.expire(on=end)
        assert book.verify() == []
    return applied


def _check(url: str, policy: civicscore.Policy, raw: list[Any], raw_redemptions: list[Any],
           expire_months: set[int], repost: bool) -> None:
    records, redemptions = _history(raw, raw_redemptions)
    applied = _replay(url, policy, records, redemptions, expire_months, repost)
    truth = policy.volunteer.decide_many(records, as_of=FINAL, redemptions=redemptions)
    assert applied == {r.redemption_id: r.status == "applied" for r in truth.redemptions}
    with open_ledger(url) as book:
        have = {b.volunteer_id: b for b in book.balances(on=FINAL)}
    for vid, s in truth.statements.items():
        if vid not in have:  # no record of theirs was scored: no account
            assert s.earned == 0 and s.redeemed == 0, vid
            continue
        b = have[vid]
        assert (b.earned, b.expired, b.redeemed, b.balance, b.adjusted) == (
            Decimal(str(s.earned)), Decimal(str(s.expired)), Decimal(str(s.redeemed)),
            Decimal(str(s.balance)), 0), vid
        assert float(b.hours) == s.hours, vid
    assert set(have) <= set(truth.statements)


def _url(backend: str) -> str:
    if backend == "sqlite":
        return str(Path(tempfile.mkdtemp(prefix="ledger-props-")) / f"p{next(_ids)}.db")
    found = server()
    assert not isinstance(found, str)
    return found.fresh_url()


_history_args = dict(raw=records_st, raw_redemptions=redemptions_st,
                     expire_months=st.sets(st.integers(1, 6)), repost=st.booleans())
_settings = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                       HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize(("backend", "examples"), [
    ("sqlite", 25), ("postgres", 8),
    pytest.param("sqlite", 400, marks=slow), pytest.param("postgres", 150, marks=slow)])
def test_balances_equal_rescoring_the_history(request: pytest.FixtureRequest,
                                              policy: civicscore.Policy, backend: str,
                                              examples: int) -> None:
    if backend == "postgres":
        request.getfixturevalue("pg_server")  # started, or skipped saying why

    @settings(max_examples=examples, **_settings)  # type: ignore[arg-type]
    @given(**_history_args)
    def run(raw: list[Any], raw_redemptions: list[Any], expire_months: set[int],
            repost: bool) -> None:
        _check(_url(backend), policy, raw, raw_redemptions, expire_months, repost)

    run()
