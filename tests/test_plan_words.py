"""plan.words: the per-record and the polars renderer give the same sentences.

Every way of showing a value is one Python function; polars writes it natively only
where these tests find the same text for random values of every column type (nulls,
dates from year 1, -0.0, huge and tiny floats, exact decimals), else it maps the
distinct values through the Python function.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.plan.words import (
    SHOWS,
    Branch,
    Choose,
    Entry,
    Say,
    Slot,
    Words,
    entry_columns,
    say_frame,
    say_row,
)

#: column name -> (polars dtype, strategy of its Python values)
COLUMNS: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "i": (pl.Int64, st.integers(-10**15, 10**15)),
    "n": (pl.Int32, st.integers(-3, 3)),
    "s": (pl.String, st.text(max_size=6)),
    "b": (pl.Boolean, st.booleans()),
    "d": (pl.Date, st.dates()),
    "f": (pl.Float64, st.floats(allow_nan=False, allow_infinity=False)),
    "x": (pl.Decimal(20, 4), st.decimals(min_value=-10**9, max_value=10**9, places=4,
                                          allow_nan=False, allow_infinity=False)),
}
SHOW_OF = {"i": ["int", "text", "fact", "decimal", "days", "days_zh", "fact_zh"],
           "n": ["days", "int", "fact", "days_zh"], "s": ["text", "fact", "fact_zh"],
           "b": ["bool", "fact", "text", "fact_zh"],
           "d": ["date", "fact", "text", "date_zh", "fact_zh"],
           "f": ["fact", "text", "decimal", "fact_zh"], "x": ["decimal", "text", "fact", "fact_zh"]}


@st.composite
def frames(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 12))
    data = {}
    for name, (dtype, values) in COLUMNS.items():
        data[name] = pl.Series(name, draw(st.lists(st.none() | values, min_size=n, max_size=n)),
                               dtype=dtype)
    data["k"] = pl.Series("k", draw(st.lists(st.none() | st.integers(0, 2), min_size=n,
                                             max_size=n)), dtype=pl.Int64)
    return pl.DataFrame(data)


def words(depth: int = 0) -> st.SearchStrategy[Words]:
    slot = st.sampled_from(list(SHOW_OF)).flatmap(
        lambda c: st.sampled_from(SHOW_OF[c]).map(lambda s: Slot(c, s)))  # type: ignore[arg-type]
    parts: st.SearchStrategy[object] = st.text(max_size=4) | slot
    if depth < 1:
        parts = parts | st.builds(Branch, st.just("b"), words(depth + 1), words(depth + 1))
    return st.lists(parts, max_size=4).map(lambda ps: Words.of(*ps))  # type: ignore[arg-type]


entries = st.lists(
    st.builds(Say, words(), st.none() | st.just("b"))
    | st.builds(Choose, st.just("k"), st.tuples(words(), words(), words())),
    max_size=4)


@settings(max_examples=150, deadline=None)
@given(frame=frames(), said=entries)
@example(frame=pl.DataFrame({"f": [-0.0, 0.0, 1e20, 1e-7]}),
         said=[Say(Words.of("f=", Slot("f", "fact"), " ", Slot("f", "decimal")))])
@example(frame=pl.DataFrame({"d": [dt.date.min, dt.date(5, 2, 3), None]}),
         said=[Say(Words.of(Slot("d", "date"), "|", Slot("d", "fact")))])
@example(frame=pl.DataFrame({"d": [dt.date.min, dt.date(5, 2, 3), None]}),
         said=[Say(Words.of(Slot("d", "date_zh"), "|", Slot("d", "fact_zh")))])
@example(frame=pl.DataFrame({"s": ["a\x1fb", None, ""]}),  # a text holding the separator
         said=[Say(Words.of(Slot("s", "text"))), Say(Words.of("x"))])
@example(frame=pl.DataFrame({"s": ["a", "b"]}),
         said=[Say(Words.of("un\x1fit")), Say(Words.of(Slot("s", "text")))])
def test_frame_and_row_renderers_say_the_same(frame: pl.DataFrame, said: list[Entry]) -> None:
    missing = entry_columns(said) - set(frame.columns)
    if missing:  # an example frame holds only the columns its entries read
        frame = frame.with_columns(pl.lit(None).alias(c) for c in missing)
    by_frame = say_frame(said, frame).to_list()
    by_row = [say_row(said, row) for row in frame.iter_rows(named=True)]
    assert by_frame == by_row


def test_choose_gives_the_chosen_item_or_nothing() -> None:
    frame = pl.DataFrame({"k": [1, None, 0, 1], "v": [3, 4, 5, 6]})
    said: list[Entry] = [Choose("k", (Words.of("zero"), Words.of("one with ", Slot("v", "days")))),
            Say(Words.of("always"))]
    assert say_frame(said, frame).to_list() == [
        ["one with 3 days", "always"], ["always"], ["zero", "always"],
        ["one with 6 days", "always"]]


@settings(max_examples=30, deadline=None)
@given(picks=st.lists(st.none() | st.integers(0, 19), max_size=30))
def test_a_choice_among_many_items_renders_each_over_its_rows(picks: list[int | None]) -> None:
    # more computed items than a when/then chain takes: each is rendered over its rows
    items = tuple(Words.of(f"item {k}: ", Slot("v", "days")) if k % 3 else Words.of(f"fixed {k}")
                  for k in range(20))
    frame = pl.DataFrame({"k": pl.Series(picks, dtype=pl.Int64),
                          "v": pl.Series(range(len(picks)), dtype=pl.Int64)})
    said: list[Entry] = [Say(Words.of("first")), Choose("k", items)]
    assert say_frame(said, frame).to_list() == [say_row(said, row)
                                                for row in frame.iter_rows(named=True)]


def test_texts_at_row_positions_follow_the_entries_in_their_order() -> None:
    frame = pl.DataFrame({"a": [1, 2, 3]})
    more = [(pl.Series([2, 0, 2]), pl.Series(["late 1", "early", "late 2"]))]
    assert say_frame([Say(Words.of("x"), None)], frame, more).to_list() == [
        ["x", "early"], ["x"], ["x", "late 1", "late 2"]]


def test_an_empty_frame_and_no_entries() -> None:
    assert say_frame([], pl.DataFrame({"a": [1, 2]})).to_list() == [[], []]
    assert say_frame([Say(Words.of("x"))], pl.DataFrame({"a": []})).to_list() == []


@pytest.mark.parametrize(("show", "value", "text"), [
    ("fact", True, "true"), ("fact", dt.date.min, "never"), ("fact", 0.5, "0.5"),
    ("fact", 1234567.0, "1.23457e+06"), ("days", 1, "1 day"), ("days", 2, "2 days"),
    ("decimal", decimal.Decimal("4.730"), "4.730"), ("decimal", 0.1, "0.1"),
    ("date", dt.date(2025, 3, 1), "2025-03-01"), ("bool", False, "false"),
    ("date_zh", dt.date.min, "从未"), ("date_zh", dt.date(2025, 3, 1), "2025-03-01"),
    ("fact_zh", dt.date.min, "从未"), ("fact_zh", True, "true"), ("days_zh", 1, "1 天"),
])
def test_each_show_writes_what_an_officer_reads(show: str, value: object, text: str) -> None:
    assert SHOWS[show](value) == text
