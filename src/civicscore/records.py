"""Turning input values into typed facts, or into an error naming record and field.

Records arrive from spreadsheets, CSV exports and other systems, so a value
may be a string where a number is meant, a blank cell, ``NaN``, or a date in
the wrong format. Every scheme coerces through these functions so that the
same mistake gets the same message everywhere, and no bad value reaches an
expression (which has no nulls by design).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import record_words as rw
from ._suggest import closest, one_of
from .errors import InputError, RecordError
from .expr.ir import MAX_SAFE_INT
from .messages import reasons_language
from .policy.model import FactSpec
from .record_words import detail, details
from .results import Reason

NEVER = dt.date.min
"""The value of a missing optional date fact: 'never', which compares as long ago."""


@dataclass(frozen=True, slots=True)
class UnreadableRow:
    """A row a reader could not parse; schemes reject it with ``message``, never drop it."""

    row: int
    message: str


_TRUE = {"true", "t", "yes", "y", "1", "是", "对", "已确认"}
_FALSE = {"false", "f", "no", "n", "0", "否", "不", "未确认"}


def check_column_names(path: object, names: Iterable[str], line: str = "") -> None:
    """Refuse an input whose columns are not uniquely named: which of two ``id``
    columns a record's id is would be a guess (and the engines would guess apart).
    The message names the columns by position (1-based), which is all an officer
    can find a header cell with no name by."""
    names = [n.strip() for n in names]
    where: dict[str, list[int]] = {}
    for i, n in enumerate(names, start=1):
        where.setdefault(n, []).append(i)
    blank = where.pop("", [])
    if len(blank) > 1:  # one unnamed column is no ambiguity (a trailing comma): kept
        raise InputError(f"{path}{line}: columns {_positions(blank)} have no name (give "
                         f"each column a name in the header row)")
    dupes = [(n, at) for n, at in where.items() if len(at) > 1]
    if dupes:
        listed = "; ".join(f"{n} (columns {_positions(at)})" for n, at in dupes)
        raise InputError(f"{path}{line}: column names appear twice: {listed} "
                         f"(give each column its own name)")


def _positions(at: list[int]) -> str:
    """``3 and 5``, ``1, 2 and 7``."""
    text = [str(i) for i in at]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " and " + text[-1]


def is_missing(value: Any) -> bool:
    """Blank cells and nulls count as missing; ``0`` and ``False`` do not.

    A float NaN is a blank cell too: pandas, with its default dtypes, reads an
    empty cell of a number, date or mixed column as ``float('nan')`` (and
    ``pl.from_pandas`` turns it into a null, so the batch evaluator saw a blank
    there all along). A blank optional date is then "never", a fact with a
    default takes it, and a required fact is refused as ``MISSING_FIELD`` —
    in both evaluators. Only the float is blank: the text ``"nan"`` and a
    ``Decimal('NaN')`` are values, and are refused as not finite numbers.
    """
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return value != value  # NaN, including numpy.float64 (a float subclass)
    return False


_NUMBER = re.compile(r"^[+-]?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?([eE][+-]?\d+)?$")
"""A number as people write it: thousands grouped by commas (1,200.5), never 1,5 or 1_0."""

MAX_SHOWN = 80


def shown(value: Any) -> str:
    """A value as messages quote it: short, so a 100k-character cell cannot flood a report."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "...'"


def refused(record: str, field: str, kind: str, code: str = "INVALID_FIELD",
            **values: Any) -> RecordError:
    """The error for field ``field`` of ``record``: what :data:`record_words.DETAILS`
    says of ``kind``, in English and Chinese (raise it)."""
    words = details(kind, **values)
    return RecordError(record, field, words["en"], code=code, message_zh=words["zh"])


def _not_allowed(record: str, field: str, value: str, allowed: list[str]) -> RecordError:
    """An enum value the fact does not allow, with the closest allowed one (or the list)."""
    choice = closest(value, allowed)
    hints = details("did_you_mean", choice=repr(choice)) if choice is not None else {
        "en": detail("allowed", "en", choices=one_of(allowed)),
        "zh": detail("allowed", "zh", choices=one_of(allowed, words=("、", " 或 ")))}
    return RecordError(record, field, detail("not_allowed", "en", value=repr(value),
                                             hint=hints["en"]), code="INVALID_VALUE",
                       message_zh=detail("not_allowed", "zh", value=repr(value),
                                         hint=hints["zh"]))


def to_text(value: Any, record: str, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise refused(record, field, "expected_text", value=shown(value))
    text = value.strip() if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise refused(record, field, "broken_text") from None
    return text


# --- ids ------------------------------------------------------------------------------------
#
# An id is how a volunteer, household or subject is recognised across rows: duplicates,
# caps, caseloads and statements group by it. Text that looks the same must therefore be
# the same id, or "V1", full-width "Ｖ1", "V1" followed by a zero-width space and the NFC
# and NFD spellings of "Zoë" would be four people, each under their own cap. One
# definition, applied by both engines (``batch.frames.id_expr`` builds the polars form from
# the same tables):
#
# 1. drop Unicode format characters (general category Cf: zero-width space and joiners,
#    the byte-order mark, soft hyphen, bidi controls, tags...). They come first so that a
#    joiner between a letter and its accent cannot keep the two from composing;
# 2. NFKC (compatibility composition): full-width and half-width forms, ligatures,
#    circled and superscript digits, and composed vs decomposed accents become one form;
# 3. strip surrounding whitespace (Python's ``str.strip``, as every text field).
#
# Every output, detail and rejected row shows the normalised id, so the same person is
# one row. Case is kept ("v1" is not "V1"):
# case folding would merge ids that some registers use as distinct.

FORMAT_CATEGORY = "Cf"
"""Characters dropped from ids: the Unicode general category of invisible formatting."""
UNASSIGNED_CATEGORY = "Cn"
"""Code points this Python's Unicode database does not know. Their NFKC may differ in a
library built on a newer Unicode (polars' is), so the batch engine leaves any id holding
one to ``normal_id`` itself. Normalisation of assigned characters never changes between
Unicode versions (the Unicode normalisation stability policy), so that is the only gap."""


def normal_id(text: str) -> str:
    """The id ``text`` stands for: format characters dropped, NFKC, spaces stripped.

    Idempotent (``normal_id(normal_id(t)) == normal_id(t)``, a test checks it), and ASCII
    text is returned stripped without further work: it has no format characters and is
    its own NFKC.
    """
    if text.isascii():
        return text.strip()
    category = unicodedata.category
    visible = "".join(c for c in text if category(c) != FORMAT_CATEGORY)
    return unicodedata.normalize("NFKC", visible).strip()


def to_id(value: Any, record: str, field: str) -> str:
    """An id field (``record_id``, ``volunteer_id``, ``household_id``...) as ``normal_id``
    reads it, or a RecordError: not text, a broken surrogate (as ``to_text``), or nothing
    left once the invisible characters are gone (an id nobody could read or type)."""
    text = to_text(value, record, field)
    if text.isascii():
        return text
    ident = normal_id(text)
    if not ident:
        raise refused(record, field, "invisible_id", value=shown(value))
    return ident


def _number_text(value: str) -> str | None:
    """The text of a number without its thousands commas, or None if it is not one."""
    text = value.strip()
    return text.replace(",", "") if _NUMBER.match(text) else None


def to_bool(value: Any, record: str, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    raise refused(record, field, "expected_bool", value=shown(value))


def _finite(value: float | decimal.Decimal) -> bool:
    """``math.isfinite`` that answers False for a signalling NaN Decimal instead of raising."""
    if isinstance(value, decimal.Decimal):
        return value.is_finite()
    return math.isfinite(value)


def to_int(value: Any, record: str, field: str) -> int:
    """A whole number within the safe-integer range (see ``expr.ir``), or a RecordError."""
    if isinstance(value, bool):
        raise refused(record, field, "expected_int", value=shown(value))
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, (float, decimal.Decimal)):
        if _finite(value) and value == int(value):
            number = int(value)
    elif isinstance(value, str):
        text = _number_text(value)
        if text is not None and "." not in text and "e" not in text.lower():
            number = int(text) if len(text) <= 20 else MAX_SAFE_INT + 1
    if number is None:
        raise refused(record, field, "expected_int", value=shown(value))
    if not -MAX_SAFE_INT <= number <= MAX_SAFE_INT:
        raise refused(record, field, "int_too_large", "OUT_OF_RANGE", value=shown(value),
                      limit=f"{MAX_SAFE_INT:,}")
    return number


def to_decimal(value: Any, record: str, field: str) -> float:
    if isinstance(value, bool):
        raise refused(record, field, "expected_number", value=shown(value))
    number: float | None = None
    try:
        if isinstance(value, (int, float, decimal.Decimal)):
            number = float(value) if _finite(value) or not isinstance(
                value, decimal.Decimal) else math.nan
        elif isinstance(value, str):
            text = _number_text(value)
            if text is not None:
                number = float(text)
            elif value.strip().lower() in ("nan", "inf", "+inf", "-inf", "infinity",
                                           "+infinity", "-infinity"):
                number = float(value.strip())
    except OverflowError:
        raise refused(record, field, "number_too_large", "OUT_OF_RANGE",
                      value=shown(value)) from None
    if number is None:
        raise refused(record, field, "expected_number", value=shown(value))
    if not math.isfinite(number):
        raise refused(record, field, "expected_finite", value=shown(value))
    return number


_SPELLED_DATE = re.compile(
    r"([0-9]{4})(?:([-/.])([0-9]{1,2})\2([0-9]{1,2})"
    r"|\s*年\s*([0-9]{1,2})\s*月\s*([0-9]{1,2})\s*[日号]?)"
    r"(?:(?:\s+|T)([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?")
"""A date as officers type it, year first: ``2025-1-1``, ``2025/3/1``, ``2025.3.1``,
``2025年3月1日`` (or ``号``), after NFKC (so full-width ``２０２５／３／１`` too); then an
optional time ``9:30`` or ``09:30:00``. Day-first forms (``1/3/2025``) are refused: which
of day and month comes first would be a guess."""


def spelled_date(text: str) -> tuple[dt.date, dt.time | None] | None:
    """The date (and time, if one is written) of a text in one of the spellings of
    :data:`_SPELLED_DATE`, or None. The one rule both engines read date text by beyond
    plain ISO: ``batch.frames`` converts only ``YYYY-MM-DD`` itself and sends every
    other text here, through ``coerce_fact``."""
    found = _SPELLED_DATE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if found is None:
        return None
    year, _, month, day, month2, day2, hour, minute, second = found.groups()
    try:
        date = dt.date(int(year), int(month or month2), int(day or day2))
        time = None if hour is None else dt.time(int(hour), int(minute), int(second or 0))
    except ValueError:  # 2025/2/30, month 13, hour 25, year 0
        return None
    return date, time


def to_date(value: Any, record: str, field: str) -> dt.date:
    """A date: a date value, ISO text (``2025-03-01``, or a date and time), or one of the
    spellings of :func:`spelled_date` (``2025/3/1``, ``2025年3月1日``...)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            pass
        spelled = spelled_date(text)
        if spelled is not None:
            return spelled[0]
    raise refused(record, field, "expected_date", "INVALID_DATE", value=shown(value))


def to_datetime(value: Any, record: str, field: str, *,
                keep_offset: bool = False) -> dt.datetime:
    """A wall-clock time; an offset such as +08:00 is dropped (local time is kept).

    With ``keep_offset`` the offset is kept (an aware datetime, its wall clock
    unchanged), so that a caller can refuse times written with different UTC
    offsets instead of silently mixing two clocks (volunteer start and end).
    Besides ISO text, a date spelled as :func:`spelled_date` reads followed by a time
    (``2025/3/1 9:30``, ``2025年3月1日 09:30``) is read; a date alone is not a time.
    """
    if isinstance(value, dt.datetime):
        return value if keep_offset else value.replace(tzinfo=None)
    if isinstance(value, str) and len(value.strip()) > 10:  # a bare date is not a time
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return parsed if keep_offset else parsed.replace(tzinfo=None)
    if isinstance(value, str):
        spelled = spelled_date(value)
        if spelled is not None:
            day, time = spelled
            if time is not None:
                return dt.datetime.combine(day, time)
    raise refused(record, field, "expected_datetime", "INVALID_DATETIME", value=shown(value))


def fact_default(spec: FactSpec) -> bool | int | float | str | dt.date | None:
    """What a record that leaves the fact out reads: the declared default, as a float for a
    decimal fact (``compile`` has checked that a decimal fact's default is a number)."""
    d = spec.default
    if spec.type == "decimal" and isinstance(d, int | float):
        return float(d)
    return d


def coerce_fact(name: str, spec: FactSpec, record: Mapping[str, Any], record_id: str) -> Any:
    """The typed value of one declared fact, its default, or a ``RecordError``."""
    value = record.get(name)
    if is_missing(value):
        if spec.optional:
            return NEVER
        if spec.default is not None:
            return fact_default(spec)
        raise refused(record_id, name, "required", "MISSING_FIELD")
    kind = spec.type
    out: Any
    if kind == "bool":
        out = to_bool(value, record_id, name)
    elif kind == "int":
        out = to_int(value, record_id, name)
    elif kind == "decimal":
        out = to_decimal(value, record_id, name)
    elif kind == "date":
        out = to_date(value, record_id, name)
    else:
        out = to_text(value, record_id, name)
        if kind == "enum" and spec.values is not None and out not in spec.values:
            raise _not_allowed(record_id, name, out, spec.values)
    if kind in ("int", "decimal"):
        if spec.min is not None and out < spec.min:
            raise refused(record_id, name, "below_min", "OUT_OF_RANGE", value=out,
                          limit=f"{spec.min:g}")
        if spec.max is not None and out > spec.max:
            raise refused(record_id, name, "above_max", "OUT_OF_RANGE", value=out,
                          limit=f"{spec.max:g}")
    return out


#: ``Ready.missing`` of a fact that has neither a default nor ``optional``.
REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()


@dataclass(frozen=True, slots=True)
class Ready:
    """When :func:`coerce_fact` would return a record's value of fact ``name`` unchanged,
    so a fast reader may take it as it is (and hand any other value to ``coerce_fact``).

    Unchanged are: a value of exactly class ``cls`` (a bool is not an int, a datetime
    not a date); for int and decimal facts, within ``lo .. hi`` (the declared bounds,
    within the safe integers or the finite floats); for enum facts, one of ``allowed``
    (the values as written, nothing for ``to_text`` to strip); for string facts
    (``text``), a non-blank ASCII text with no space to strip. A missing value (None)
    reads ``missing``, or is refused when that is :data:`REQUIRED`. Only None: a blank
    text or a NaN goes through ``coerce_fact``, which knows them as missing too.
    """

    name: str
    cls: type
    lo: float | None = None
    hi: float | None = None
    allowed: frozenset[str] | None = None
    text: bool = False
    missing: Any = REQUIRED


def ready_of(name: str, spec: FactSpec) -> Ready:
    """The :class:`Ready` of a declared fact (see there)."""
    try:
        missing = coerce_fact(name, spec, {}, "")
    except RecordError:
        missing = REQUIRED
    kind = spec.type
    if kind in ("bool", "date"):
        return Ready(name, bool if kind == "bool" else dt.date, missing=missing)
    if kind == "int":
        lo = -MAX_SAFE_INT if spec.min is None else max(spec.min, -MAX_SAFE_INT)
        hi = MAX_SAFE_INT if spec.max is None else min(spec.max, MAX_SAFE_INT)
        return Ready(name, int, lo, hi, missing=missing)
    if kind == "decimal":
        lo = -sys.float_info.max if spec.min is None else spec.min
        hi = sys.float_info.max if spec.max is None else spec.max
        return Ready(name, float, lo, hi, missing=missing)
    if kind == "enum":
        return Ready(name, str, allowed=frozenset(
            v for v in spec.values or () if _as_written(v)), missing=missing)
    return Ready(name, str, text=True, missing=missing)


def _as_written(text: str) -> bool:
    """Does ``to_text`` return ``text`` unchanged (no spaces to strip, valid UTF-8)?"""
    try:
        return bool(text) and text == text.strip() and bool(text.encode("utf-8"))
    except UnicodeEncodeError:
        return False


def coerce_facts(record: Mapping[str, Any], specs: Mapping[str, FactSpec], label: str,
                 entity: str, locale: object = None) -> tuple[dict[str, Any], list[Reason]]:
    """Every declared fact of a record, and a reason for each one that is unusable,
    worded in the reasons' language (``messages.reasons_language`` of the deciding
    policy's ``locale``, resolved only when there is something to say).

    All facts are tried, so a record with three mistakes is rejected once with
    three reasons rather than three times in three runs.
    """
    facts: dict[str, Any] = {}
    reasons: list[Reason] = []
    for name, spec in specs.items():
        try:
            facts[name] = coerce_fact(name, spec, record, label)
        except RecordError as e:
            reasons.append(Reason(e.code, f"facts.{entity}.{name}",
                                  e.text(reasons_language(locale)),
                                  {name: record.get(name)}))
    return facts, reasons


def unreadable_reason(row: int, record: Any, locale: str | None = None) -> Reason | None:
    """The reason a row cannot be read as a record at all, or None when it can: the
    reader's sentence in the language of the policy's ``locale`` (its reasons')."""
    if isinstance(record, Mapping):
        return None
    message = (record.message if isinstance(record, UnreadableRow)
               else rw.say("unreadable_record", "en", row=row))
    return Reason("UNREADABLE_ROW", "input", rw.unreadable(message, reasons_language(locale)))
