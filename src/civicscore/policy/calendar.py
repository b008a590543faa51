"""Holiday calendars for ``is_holiday(d)``, ``is_workday(d)``, ``is_makeup_workday(d)``
and the holiday multipliers written with them.

National calendars come from the ``holidays`` package rather than a list we
would have to maintain; a policy adds local holidays and removes make-up
working days (调休) on top. The national make-up working days (a Sunday such as
2025-09-28 worked in exchange for a day off in National Day week) come from
``holidays`` too, through its public ``is_working_day`` and ``is_weekend``.

What the days are is part of a policy's meaning, so :meth:`HolidayCalendar.digest`
condenses them (every holiday and make-up working day of :data:`DIGEST_YEARS`) for
the policy hash: a ``holidays`` release that moves a day moves the hash of every
policy that reads the calendar; one that only renames or reformats does not.

``holidays`` is imported only when a calendar is checked or asked about, and
a country's calendar is built on the first question: building one imports
the module of every country ``holidays`` knows (about a tenth of a second),
which ``civicscore check`` and ``--help`` have no need to wait for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from holidays import HolidayBase


@lru_cache(maxsize=1)
def supported_countries() -> tuple[str, ...]:
    """The country codes (with aliases, such as CHN) that the ``holidays`` package knows.

    Read from its registry, the same list ``holidays.list_supported_countries()``
    gives, without importing every country's module as that function does. Even
    importing ``holidays.registry`` runs the package's ``__init__`` (the lunar and
    Islamic calendars, about 50 ms), so the registry's ``COUNTRIES`` table is read
    from its source as data; should that ever fail, the registry is imported.
    """
    codes = _registry_country_codes()
    if codes is not None:
        return codes
    from holidays.registry import EntityLoader  # lazy: see the module docstring

    return tuple(EntityLoader.get_country_codes())


def _registry_country_codes() -> tuple[str, ...] | None:
    """``EntityLoader.get_country_codes()`` from the literal ``COUNTRIES`` dict in
    ``holidays/registry.py`` (each value: class name, then codes of 2 or 3 letters),
    or None when the file does not hold one as expected."""
    import ast
    import importlib.util

    try:
        spec = importlib.util.find_spec("holidays")
        origin = spec.origin if spec is not None else None
        if origin is None:
            return None
        import os

        path = os.path.join(os.path.dirname(origin), "registry.py")
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        table: Any = None
        for node in tree.body:
            target: ast.expr
            value: ast.expr | None
            if isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id == "COUNTRIES" and value is not None:
                table = ast.literal_eval(value)
                break
        if not isinstance(table, dict):
            return None
        codes = [code for entities in table.values() for code in entities[1:]
                 if 2 <= len(code) <= 3]  # as EntityLoader._get_entity_codes
    except (OSError, SyntaxError, ValueError, TypeError, AttributeError, ImportError):
        return None
    return tuple(codes) if codes and all(isinstance(c, str) for c in codes) else None


#: The years whose days :meth:`HolidayCalendar.digest` condenses: those a policy's records
#: are dated in (a decision about service in 1999 or 2041 is not one civicscore is used
#: for), each a few hundred microseconds to compute.
DIGEST_YEARS = range(2000, 2041)


def subdivisions(country: str) -> list[str]:
    """The subdivision codes of a supported country (imports the country modules)."""
    import holidays  # lazy: see the module docstring

    return list(getattr(holidays, country).subdivisions)


class HolidayCalendar:
    """Answers "is this day a public holiday?" and "do people work on this day?" for
    one policy.

    A day in ``extra_workdays`` is worked (and no holiday), one in ``extra_holidays``
    is a holiday (and not worked); every other day is as the national calendar has
    it, or, without a country, a working day from Monday to Friday.
    """

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

    def is_workday(self, day: dt.date) -> bool:
        """A day people work: a weekday that is no holiday, or a make-up working day."""
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        national = self._national()
        if national is None:
            return day.weekday() < 5
        return bool(national.is_working_day(day))

    def is_weekend(self, day: dt.date) -> bool:
        """The country's weekend (Saturday and Sunday without a country)."""
        national = self._national()
        return bool(national.is_weekend(day)) if national is not None else day.weekday() >= 5

    def is_makeup_workday(self, day: dt.date) -> bool:
        """A weekend day declared a working day (调休上班), nationally or by the policy."""
        return self.is_weekend(day) and self.is_workday(day)

    def digest(self) -> str:
        """SHA-256 of the days this calendar gives over :data:`DIGEST_YEARS`: its public
        holidays, its weekend days worked, and the local days laid over them (a plugin's
        calendar lists its own, which the policy file does not). Days, not the
        ``holidays`` release: a release that changes no day keeps the digest."""
        national = _national_days(self.country, self.subdivision) if self.country else ""
        text = json.dumps({"national": national,
                           "holidays": sorted(d.isoformat() for d in self.extra_holidays),
                           "workdays": sorted(d.isoformat() for d in self.extra_workdays)},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("ascii")).hexdigest()

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


@cache
def _national_days(country: str, subdivision: str | None) -> str:
    """SHA-256 of a national calendar's holidays and weekend working days over
    :data:`DIGEST_YEARS`, computed once per process (building a calendar imports every
    country module of ``holidays``, about a tenth of a second; the days take 10 ms)."""
    import holidays  # lazy: see the module docstring

    years = DIGEST_YEARS
    national = holidays.country_holidays(country, subdiv=subdivision, years=years)
    first, last = dt.date(years.start, 1, 1), dt.date(years.stop - 1, 12, 31)
    # every holiday of the years (the calendar's keys), and the weekend days it works:
    # ``is_working_day`` of a weekend day is membership of ``weekend_workdays``
    days = sorted(d.isoformat() for d in national if first <= d <= last)
    worked = sorted(d.isoformat() for d in national.weekend_workdays
                    if first <= d <= last and national.is_weekend(d))
    text = json.dumps({"country": country, "subdivision": subdivision, "holidays": days,
                       "workdays": worked}, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()
