"""Hypothesis strategies shared by the property tests (one place, as attrs does)."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

INT_NAMES = ("a", "b", "c")
BOOL_NAMES = ("p", "q")

small_ints = st.integers(min_value=-1000, max_value=1000)


def int_expressions(depth: int = 3) -> st.SearchStrategy[str]:
    """Well-typed integer expressions over facts a, b, c (no division)."""
    leaf = st.one_of(st.sampled_from(INT_NAMES), small_ints.map(str))
    if depth == 0:
        return leaf
    sub = int_expressions(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda s: f"(-{s})"),
        sub.map(lambda s: f"abs({s})"),
        st.tuples(sub, sub).map(lambda t: f"max({t[0]}, {t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"min({t[0]}, {t[1]})"),
        st.tuples(bool_expressions(depth - 1), sub, sub).map(
            lambda t: f"({t[1]} if {t[0]} else {t[2]})"),
    )


def bool_expressions(depth: int = 3) -> st.SearchStrategy[str]:
    """Well-typed boolean expressions over facts p, q and integer comparisons."""
    leaf = st.one_of(st.sampled_from(BOOL_NAMES), st.sampled_from(["True", "False"]))
    if depth == 0:
        return leaf
    ints = int_expressions(depth - 1)
    sub = bool_expressions(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(ints, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), ints).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(ints, ints, ints).map(lambda t: f"({t[0]} < {t[1]} <= {t[2]})"),
        st.tuples(sub, st.sampled_from(["and", "or"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        sub.map(lambda s: f"(not {s})"),
        st.tuples(ints, st.lists(small_ints, min_size=1, max_size=4)).map(
            lambda t: f"({t[0]} in {t[1]})"),
    )


int_records = st.fixed_dictionaries(
    {**{n: small_ints for n in INT_NAMES}, **{n: st.booleans() for n in BOOL_NAMES}})

# --- volunteer records -------------------------------------------------------------------

ACTIVITIES = ("patrol", "cleanup", "talk", "unknown_thing")
VOLUNTEERS = ("v1", "v2", "v3")
BASE = dt.datetime(2025, 1, 1, 6, 0)


@st.composite
def activity_records(draw: st.DrawFn, max_size: int = 25) -> list[dict[str, object]]:
    """Plausible and implausible activity records: overlaps, bad fields, late submissions."""
    n = draw(st.integers(min_value=0, max_value=max_size))
    out: list[dict[str, object]] = []
    for i in range(n):
        start = BASE + dt.timedelta(
            days=draw(st.integers(0, 20)), minutes=15 * draw(st.integers(0, 60)))
        minutes = draw(st.integers(-30, 16 * 60))
        end = start + dt.timedelta(minutes=minutes)
        record: dict[str, object] = {
            "record_id": draw(st.sampled_from([f"r{i}", f"r{i}", f"r{i}", "dup"])),
            "volunteer_id": draw(st.sampled_from(VOLUNTEERS)),
            "activity": draw(st.sampled_from(ACTIVITIES)),
            "start": start.isoformat(),
            "end": end.isoformat(),
            "confirmed": draw(st.sampled_from([True, True, True, False, "yes", "maybe"])),
            "submitted_at": (end + dt.timedelta(days=draw(st.integers(0, 40)))).isoformat(),
            "holiday_bonus": draw(st.booleans()),
        }
        if draw(st.integers(0, 12)) == 0:
            record.pop(draw(st.sampled_from(sorted(record))))
        if draw(st.integers(0, 15)) == 0:
            record["start"] = draw(st.sampled_from(["", "2025-13-01T00:00", "NaN", None, 7]))
        out.append(record)
    return out


@st.composite
def redemption_records(draw: st.DrawFn) -> list[dict[str, object]]:
    n = draw(st.integers(min_value=0, max_value=6))
    return [{
        "redemption_id": f"x{i}",
        "volunteer_id": draw(st.sampled_from(VOLUNTEERS)),
        "date": (BASE.date() + dt.timedelta(days=draw(st.integers(0, 900)))).isoformat(),
        "points": draw(st.sampled_from([1, 2.5, 5, 10, 0, -1, "abc"])),
    } for i in range(n)]
