"""civility_words: the sentences of steps 3 to 5 written once, rendered by both engines.

The parity tests (tests/test_batch_civility.py) check the sentences row by row; this
checks the one piece of showing the templates add beside ``plan.words``: a date as
``str(date)`` in polars, over every year (``0001-01-01`` included, which ``plan.words``'
``date`` show writes as "never").
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.schemes.civility_words import iso, iso_frame

pl = pytest.importorskip("polars")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.none() | st.dates(), max_size=20))
@example([dt.date.min, dt.date.max, dt.date(999, 1, 2), dt.date(10, 10, 10), None])
def test_iso_frame_is_str_of_the_date(days: list[dt.date | None]) -> None:
    got = pl.DataFrame({"d": pl.Series(days, dtype=pl.Date)}).select(
        iso_frame(pl.col("d"))).to_series().to_list()
    assert got == [None if d is None else iso(d) for d in days]
