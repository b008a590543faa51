"""Holiday calendars for ``is_holiday(d)`` and holiday multipliers.

National calendars come from the ``holidays`` package rather than a list we
would have to maintain; a policy adds local holidays and removes make-up
working days (调休) on top.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache

import holidays


@lru_cache(maxsize=1)
def supported_countries() -> dict[str, list[str]]:
    """Country code -> subdivision codes that the ``holidays`` package knows."""
    return {k: list(v) for k, v in holidays.list_supported_countries().items()}


class HolidayCalendar:
    """Answers "is this day a public holiday?" for one policy."""

    def __init__(self, country: str | None, subdivision: str | None = None,
                 extra_holidays: Iterable[dt.date] = (),
                 extra_workdays: Iterable[dt.date] = ()) -> None:
        self.country = country
        self.subdivision = subdivision
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self._national = (
            holidays.country_holidays(country, subdiv=subdivision) if country else None
        )

    def __call__(self, day: dt.date) -> bool:
        if day in self.extra_workdays:
            return False
        if day in self.extra_holidays:
            return True
        return self._national is not None and day in self._national

    def name(self, day: dt.date) -> str:
        """The holiday's name, for explanations ("" when it is not a holiday)."""
        if day in self.extra_holidays:
            return "local holiday"
        if self._national is not None and day not in self.extra_workdays:
            return str(self._national.get(day) or "")
        return ""
