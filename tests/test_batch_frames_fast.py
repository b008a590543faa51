"""The shortcuts of ``batch.frames`` give what their plain definitions give.

``repeated`` finds repeats among the rows that share a key hash only: it must
equal ``is_first_distinct`` over every key. A fact with no column is coerced
from one missing value, repeated: it must equal coercing a column of blanks.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.errors import RecordError
from civicscore.policy.model import FactSpec
from civicscore.records import coerce_fact

pl = pytest.importorskip("polars")
from civicscore.batch.frames import coerce_columns, repeated  # noqa: E402


def plain_repeats(key: Any) -> list[bool]:
    """The definition: a non-null key seen in an earlier row."""
    seen: set[str] = set()
    out = []
    for k in key.to_list():
        out.append(k is not None and k in seen)
        if k is not None:
            seen.add(k)
    return out


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "", " a", "row 1"]),
                               st.text(max_size=3)), max_size=40))
@example(keys=[])
@example(keys=[None, None])
@example(keys=["a", None, "a", "a"])
def test_repeated_is_every_later_copy_of_a_key(keys: list[str | None]) -> None:
    key = pl.Series("k", keys, dtype=pl.String)
    got = repeated(key)
    assert got.dtype == pl.Boolean and got.len() == len(keys)
    assert got.to_list() == plain_repeats(key)


def test_repeated_many_rows_few_repeats() -> None:
    keys = [f"H{i}" for i in range(50_000)] + ["H7", "H49999", "H7"]
    got = repeated(pl.Series(keys)).arg_true().to_list()
    assert got == [50_000, 50_001, 50_002]


SPECS = {
    "n": FactSpec(type="int", default=0, min=1),
    "d": FactSpec(type="decimal", default=1.5),
    "b": FactSpec(type="bool", default=True),
    "on": FactSpec(type="date", optional=True),
    "need": FactSpec(type="int"),
    "kind": FactSpec(type="enum", values=["x", "y"], default="z"),
    "s": FactSpec(type="string"),
}


@pytest.mark.parametrize("missing_ok", [False, True])
@pytest.mark.parametrize("rows", [0, 1, 5])
def test_a_fact_without_a_column_is_a_column_of_blanks(rows: int, missing_ok: bool) -> None:
    base = pl.DataFrame({"other": list(range(rows))})
    blanks = base.with_columns(pl.lit(None, dtype=pl.String).alias(n) for n in SPECS)
    absent = coerce_columns(base, SPECS, missing_ok)
    present = coerce_columns(blanks, SPECS, missing_ok)
    assert list(absent) == list(SPECS)
    for name in SPECS:
        for part in ("value", "code"):
            a, b = getattr(absent[name], part), getattr(present[name], part)
            assert a.name == b.name == name
            assert a.dtype == b.dtype, (name, part)
            assert a.to_list() == b.to_list(), (name, part)


def test_absent_and_given_facts_are_what_coerce_fact_gives() -> None:
    """Given and absent facts side by side, in the order of the specs, each value or code
    the per-record ``coerce_fact`` gives for that record."""
    records = [{"on": "2025-01-02", "need": "3"}, {"on": None, "need": "x"}]
    out = coerce_columns(pl.DataFrame(records), SPECS)
    assert list(out) == list(SPECS)
    for row, record in enumerate(records):
        for name, spec in SPECS.items():
            try:
                want: tuple[Any, str | None] = (coerce_fact(name, spec, record, "r"), None)
            except RecordError as e:
                want = (None, e.code)
            got = (out[name].value[row], out[name].code[row])
            assert got == want or (want[1] is not None and got[1] == want[1]), (name, row)
    assert out["s"].code.to_list() == ["MISSING_FIELD"] * 2
