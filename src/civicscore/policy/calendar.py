"""Holiday calendars for ``is_holiday(d)`` and holiday multipliers.

National calendars come from the ``holidays`` package rather than a list we
would have to maintain; a policy adds local holidays and removes make-up
working days (调休) on top.

``holidays`` is imported only when a calendar is checked or asked about, and
a country's calendar is built on the first question: building one imports
the module of every country ``holidays`` knows (about a tenth of a second),
which ``civicscore check`` and ``--help`` have no need to wait for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from holidays import HolidayBase


@lru_cache(maxsize=1)
def supported_countries() -> tuple[str, ...]:
    """The country codes (with aliases, such as CHN) that the ``holidays`` package knows.

    Read from its registry, the same list ``holidays.list_supported_countries()``
    gives, without importing every country's module as that function does.
    """
    from holidays.registry import EntityLoader  # lazy: see the module docstring

    return tuple(EntityLoader.get_country_codes())


def subdivisions(country: str) -> list[str]:
    """The subdivision codes of a supported country (imports the country modules)."""
    import holidays  # lazy: see the module docstring

    return list(getattr(holidays, country).subdivisions)


class HolidayCalendar:
    """Answers "is this day a public holiday?" for one policy."""

    def __init__(self, country: str | None, subdivision: str | None = None,
                 extra_holidays: Iterable[dt.date] = (),
                 extra_workdays: Iterable[dt.date] = ()) -> None:
        self.country = country
        self.subdivision = subdivision
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self._built: HolidayBase | None = None
        if country and (subdivision or country not in supported_countries()):
            # A wrong code (e.g. from a plugin's calendar) fails now, at load time, not at
            # the first question; checking a subdivision needs the country's module anyway.
            self._national()

    def _national(self) -> HolidayBase | None:
        """The country's own calendar, built on first use (see the module docstring)."""
        if self._built is None and self.country:
            import holidays  # lazy: see the module docstring

            self._built = holidays.country_holidays(self.country, subdiv=self.subdivision)
        return self._built

    def __call__(self, day: dt.date) -> bool:
        if day in self.extra_workdays:
            return False
        if day in self.extra_holidays:
            return True
        national = self._national()
        return national is not None and day in national

    def name(self, day: dt.date) -> str:
        """The holiday's name, for explanations ("" when it is not a holiday)."""
        if day in self.extra_holidays:
            return "local holiday"
        national = self._national()
        if national is not None and day not in self.extra_workdays:
            return str(national.get(day) or "")
        return ""
