"""China's national calendar of 2025 and 2026 is the one the State Council announced.

A policy names its calendar by country ("CN", the default), not by its days: the
days come from the installed ``holidays`` package, and the policy hash cannot see
them. An older ``holidays`` lacks a year's announced days off (调休): 0.60 and
earlier have neither 2025's nor 2026's, 0.61-0.84 lack six of 2026's, so a
clean-up on 2026-02-20 silently earns 2 points instead of the 4 a holiday
multiplier gives. 0.85 is the first release with both years whole, and 0.92 the
first with 2019's Labour Day extension (05-02 and 05-03 off, Sundays 04-28 and 05-05
worked): the days are in the hash of every policy that reads its calendar, so the
hashes docs/ shows hold from pyproject's floor (``holidays>=0.92``) on. These tests
fail, naming the installed version, when what is installed says otherwise (an older
release below the floor, or a later one that changed a year already announced).
"""

from __future__ import annotations

import datetime as dt
from importlib.metadata import version

import pytest

import civicscore
from civicscore.policy.calendar import HolidayCalendar

# The statutory days (weekend or not) and the weekdays off in lieu, as the State
# Council's notices on the year's holidays (部分节假日安排的通知) set them; the make-up
# working days are weekends that a policy lists in extra_workdays, not these.
CHINA = {
    2025: ["01-01", "01-28", "01-29", "01-30", "01-31", "02-03", "02-04", "04-04", "05-01",
           "05-02", "05-05", "05-31", "06-02", "10-01", "10-02", "10-03", "10-06", "10-07",
           "10-08"],
    2026: ["01-01", "01-02", "02-16", "02-17", "02-18", "02-19", "02-20", "02-23", "04-05",
           "04-06", "05-01", "05-02", "05-04", "05-05", "06-19", "09-25", "10-01", "10-02",
           "10-03", "10-05", "10-06", "10-07"],
}


def _days(year: int) -> list[dt.date]:
    first = dt.date(year, 1, 1)
    return [first + dt.timedelta(n) for n in range((dt.date(year + 1, 1, 1) - first).days)]


@pytest.mark.parametrize("year", sorted(CHINA))
def test_china_public_holidays_of_the_year_are_the_announced_ones(year: int) -> None:
    calendar = HolidayCalendar("CN")
    expected = {dt.date.fromisoformat(f"{year}-{md}") for md in CHINA[year]}
    got = {day for day in _days(year) if calendar(day)}
    assert got == expected, (
        f"holidays {version('holidays')} does not give China's {year} calendar as announced: "
        f"missing {sorted(str(d) for d in expected - got)}, "
        f"extra {sorted(str(d) for d in got - expected)}; civicscore needs holidays>=0.92 "
        f"(pyproject.toml), and a later release that changes an announced year changes "
        f"every policy's results without changing its hash")


def test_a_day_off_in_lieu_earns_a_shipped_policys_holiday_bonus() -> None:
    # qingdao doubles a clean-up's points on a public holiday (is_holiday(date)): the
    # days off of 2025's National Day week and 2026's Spring Festival are holidays too
    days = ["2025-10-07", "2026-02-20", "2026-02-23", "2025-10-09"]
    records = [{"record_id": f"c{n}", "volunteer_id": "R-1", "activity": "cleanup",
                "start": f"{day}T09:00", "end": f"{day}T11:00", "confirmed": True,
                "submitted_at": f"{day}T12:00"} for n, day in enumerate(days)]
    result = civicscore.load("qingdao").volunteer.evaluate(records, as_of=dt.date(2026, 12, 31))
    points = {str(d.date): d.points for d in result.records}
    assert points == {"2025-10-07": 4, "2026-02-20": 4, "2026-02-23": 4, "2025-10-09": 2}, (
        f"holidays {version('holidays')}: {points}")


#: ``HolidayCalendar("CN").digest()``: China's holidays and make-up working days of
#: 2000-2040 as holidays 0.92 to 0.109 give them (0.85-0.91 lack 2019's Labour Day days).
CHINA_DIGEST = "d892671f089d335306f0aae3e02b8886a9263e3b51416497e3e94a8fefe9c59f"


def test_2019_labour_day_is_the_extended_one() -> None:
    calendar = HolidayCalendar("CN")
    off = [d for d in ("2019-05-01", "2019-05-02", "2019-05-03", "2019-05-06")
           if calendar(dt.date.fromisoformat(d))]
    worked = [d for d in ("2019-04-28", "2019-05-05")
              if calendar.is_makeup_workday(dt.date.fromisoformat(d))]
    assert (off, worked) == (["2019-05-01", "2019-05-02", "2019-05-03"],
                             ["2019-04-28", "2019-05-05"]), (
        f"holidays {version('holidays')}: {off}, {worked}; civicscore needs holidays>=0.92")


def test_chinas_days_are_the_ones_the_pinned_hashes_hold() -> None:
    # a release that moves any day of 2000-2040 moves the hash of every policy that
    # reads its calendar (example-district's 754572404ea0 in docs/, the localities')
    assert HolidayCalendar("CN").digest() == CHINA_DIGEST, (
        f"holidays {version('holidays')} gives China other days in 2000-2040 than "
        f"0.92-0.109: every policy that reads its calendar has another hash; update "
        f"CHINA_DIGEST and the hashes docs/ shows, in a commit that names the days")
