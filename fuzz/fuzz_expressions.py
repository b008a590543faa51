#!/usr/bin/env python3
"""atheris harness: arbitrary text through civicscore.expr.compile_expression().

Not run in CI. See fuzz/README.md for how to install and run it.

The scope is fixed (one fact of each type, an enum, the built-in functions).
An ``ExpressionError`` is the expected refusal. An expression that compiles is
then evaluated on a few fixed records; it must give a value of its checked
type. ``ArithmeticError`` (division by zero, a date out of range) and
``ValueError`` at evaluation are expected too: the schemes turn them into a
rejected record with a reason. Anything else is a crash.

While a bug it keeps finding is open, set ``CIVICSCORE_FUZZ_IGNORE`` to a
comma-separated list of checks to skip, so the campaign can look further:
``offset`` skips the check that an error's offset lies inside the text
(docs/security.md, 4.9).
"""

from __future__ import annotations

import datetime as dt
import os
import sys

import atheris

with atheris.instrument_imports():
    from civicscore import ExpressionError
    from civicscore.expr import Fact, Scope, Type, builtin_functions, compile_expression

HOLIDAYS = {dt.date(2025, 10, 1)}
SCOPE = Scope(
    {
        "night": Fact(Type.BOOL),
        "group_size": Fact(Type.INT),
        "distance_km": Fact(Type.DECIMAL),
        "note": Fact(Type.STRING),
        "district": Fact(Type.STRING, ("north", "south")),
        "registered_on": Fact(Type.DATE),
        "date": Fact(Type.DATE),
        "as_of": Fact(Type.DATE),
        "年龄": Fact(Type.INT),
    },
    builtin_functions(lambda d: d in HOLIDAYS),
    "fuzzed expression",
)
RECORDS = [
    {"night": True, "group_size": 3, "distance_km": 2.5, "note": "", "district": "north",
     "registered_on": dt.date(2020, 1, 1), "date": dt.date(2025, 10, 1),
     "as_of": dt.date(2025, 12, 31), "年龄": 82},
    {"night": False, "group_size": 0, "distance_km": 0.0, "note": "x" * 50,
     "district": "south", "registered_on": dt.date.min, "date": dt.date.max,
     "as_of": dt.date.min, "年龄": -(10**15)},
]
IGNORE = set(filter(None, os.environ.get("CIVICSCORE_FUZZ_IGNORE", "").split(",")))
PY_TYPES = {Type.BOOL: (bool,), Type.INT: (int,), Type.DECIMAL: (float,),
            Type.STRING: (str,), Type.DATE: (dt.date,)}


def TestOneInput(data: bytes) -> None:
    # Plain UTF-8, so that a seed file is exactly the expression it holds.
    text = data.decode("utf-8", errors="replace")
    try:
        expr = compile_expression(text, SCOPE)
    except ExpressionError as e:
        if "offset" not in IGNORE and not 0 <= e.offset <= len(text) + 1:
            raise AssertionError(f"offset {e.offset} outside the text") from e
        return
    for record in RECORDS:
        try:
            value = expr(record)
        except (ArithmeticError, ValueError):
            continue
        want = PY_TYPES[expr.type]
        if not isinstance(value, want) or (expr.type is Type.INT and isinstance(value, bool)):
            raise AssertionError(f"{text!r} is {expr.type} but gave {value!r}")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
