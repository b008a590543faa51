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
