"""Dated values: a number that changes on known dates.

Rates change by decree on a given day (``points_per_hour = { 2023-01-01 = 2,
2025-07-01 = 3 }``). As OpenFisca does with its parameters, a policy keeps
the whole history and every evaluation picks the value in force on its as-of
date, so last year's statements can be reproduced after this year's change.
The trace records which dated value was used.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema


class NotInForce(LookupError):
    """The as-of date is before the first date of a dated value."""

    def __init__(self, first: dt.date, as_of: dt.date) -> None:
        self.first = first
        self.as_of = as_of
        super().__init__(f"no value in force on {as_of} (the first is from {first})")


@dataclass(frozen=True, slots=True)
class DatedValue:
    """A value, or a history of values each in force from a start date."""

    starts: tuple[dt.date, ...]
    values: tuple[float, ...]

    @classmethod
    def constant(cls, value: float) -> DatedValue:
        return cls((dt.date.min,), (value,))

    @property
    def is_dated(self) -> bool:
        return self.starts != (dt.date.min,)

    def at(self, as_of: dt.date) -> tuple[float, dt.date | None]:
        """The value in force on ``as_of`` and the date it has been in force since.

        The second item is ``None`` for a plain (undated) value.
        """
        i = bisect.bisect_right(self.starts, as_of) - 1
        if i < 0:
            raise NotInForce(self.starts[0], as_of)
        return self.values[i], (self.starts[i] if self.is_dated else None)

    def value_at(self, as_of: dt.date) -> float:
        return self.at(as_of)[0]

    def to_toml_value(self) -> float | dict[str, float]:
        if not self.is_dated:
            return self.values[0]
        return {d.isoformat(): v for d, v in zip(self.starts, self.values, strict=True)}


MAX_VALUE = 1e12
"""No rate, cap or factor is this large; a bigger one (or inf, nan) is a typing slip."""


def _bounded(value: float) -> float:
    if not math.isfinite(value) or abs(value) > MAX_VALUE:
        raise ValueError(f"{value!r} is not a usable number here (at most {MAX_VALUE:.0e})")
    return value


def _parse(raw: Any) -> DatedValue:
    if isinstance(raw, DatedValue):
        return raw
    if isinstance(raw, bool):
        raise ValueError(f"expected a number or a table of dated numbers, got {raw!r}")
    if isinstance(raw, (int, float)):
        return DatedValue.constant(_bounded(raw))
    if isinstance(raw, dict):
        if not raw:
            raise ValueError("a dated value needs at least one date, e.g. { 2025-01-01 = 2 }")
        items: list[tuple[dt.date, float]] = []
        keys: dict[dt.date, str] = {}
        for key, value in raw.items():
            try:
                start = dt.date.fromisoformat(str(key))
            except ValueError:
                raise ValueError(
                    f"dated value key {key!r} is not a date; write it as YYYY-MM-DD = value"
                ) from None
            if start in keys:
                # 2025-01-01 and "20250101" are one day: which value is in force would
                # depend on the order of the keys, so neither is taken
                raise ValueError(
                    f"the day {start.isoformat()} has two values ({keys[start]!r} = "
                    f"{raw[keys[start]]!r} and {key!r} = {value!r}); keep one of them, "
                    f"written as {start.isoformat()} = value")
            keys[start] = str(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"the value dated {key} must be a number, got {value!r}")
            items.append((start, _bounded(value)))
        items.sort()
        return DatedValue(tuple(d for d, _ in items), tuple(v for _, v in items))
    raise ValueError(
        f"expected a number or a table of dated numbers such as "
        f"{{ 2024-01-01 = 2, 2025-07-01 = 3 }}, got {type(raw).__name__} {raw!r}"
    )


_SCHEMA = {
    "anyOf": [
        {"type": "number"},
        {
            "type": "object",
            "description": "Values in force from each date (YYYY-MM-DD = value).",
            "patternProperties": {r"^\d{4}-\d{2}-\d{2}$": {"type": "number"}},
            "additionalProperties": False,
            "minProperties": 1,
        },
    ]
}

Dated = Annotated[
    DatedValue,
    BeforeValidator(_parse),
    PlainSerializer(lambda v: v.to_toml_value()),
    WithJsonSchema(_SCHEMA),
]
"""A number, or ``{ YYYY-MM-DD = number, ... }``: usable anywhere a rate can stand."""
