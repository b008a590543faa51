"""The volunteer reasons' templates and their batch helpers.

``say_lists`` gives the lists ``plan.words.say_frame`` gives (it only assembles them
faster); ``quotient`` is Python's ``int / int``; the templates are built once per policy
and say, for a trace row, what the per-record reasons say (the engines' parity over
whole runs is ``test_batch_volunteer``'s).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.plan.words import Choose, Say, Slot, Words, say_frame, say_row
from civicscore.schemes.volunteer_words import (
    code_entries,
    month_text,
    quotient,
    say_lists,
)

from .test_volunteer import POLICY

pl = pytest.importorskip("polars")

ENTRIES = (
    Say(Words.of("a ", Slot("x", "fact"), " b"), "k"),
    Choose("i", (Words.of("zero"), Words.of("one ", Slot("d", "text")), Words.of(""))),
    Say(Words.of("always ", Slot("n", "int"))),
    Say(Words.of(Slot("x", "fact")), "j"),
)

rows = st.fixed_dictionaries({
    "k": st.booleans() | st.none(), "j": st.booleans(),
    "x": st.floats(allow_nan=False, allow_infinity=False) | st.none(),
    "i": st.sampled_from([0, 1, 2, None]), "n": st.integers(-10**6, 10**6),
    "d": st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))})


@settings(max_examples=40, deadline=None)
@given(st.lists(rows, min_size=0, max_size=12))
def test_say_lists_is_say_frame(data: list[dict[str, object]]) -> None:
    frame = pl.DataFrame(data, schema={"k": pl.Boolean, "j": pl.Boolean, "x": pl.Float64,
                                       "i": pl.Int64, "n": pl.Int64, "d": pl.Date})
    assert say_lists(ENTRIES, frame).to_list() == say_frame(ENTRIES, frame).to_list()
    assert say_lists(code_entries([("C", e) for e in ENTRIES]), frame).to_list() == \
        say_frame(code_entries([("C", e) for e in ENTRIES]), frame).to_list()
    for row, said in zip(data, say_lists(ENTRIES, frame).to_list(), strict=True):
        assert said == say_row(ENTRIES, {**row, "k": bool(row["k"])})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-2**70, 2**70), st.integers(1, 2**70)), max_size=8))
@example([(2**53 + 1, 3), (9007199254740993, 60), (267, 100)])
def test_quotient_is_python_division(pairs: list[tuple[int, int]]) -> None:
    num = pl.Series([a for a, _ in pairs], dtype=pl.Int128)
    den = pl.Series([b for _, b in pairs], dtype=pl.Int128)
    assert quotient(num, den).to_list() == [a / b for a, b in pairs]


def test_templates_built_once_from_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    scheme = civicscore.load(path).schemes.get("volunteer")
    words = scheme.words
    assert words is scheme.words  # built at compile time, not per record
    codes = [code for code, _ in words.entries()]
    assert codes[-1] == "CAP_POINTS_MONTH" and "RATE" in codes
    assert month_text(dt.date(25, 3, 9)) == "25-03"
