"""The rank and quota frame ops mean the same over Python rows and over a polars frame,
and both agree with a plain-Python oracle written from the docstring's words alone."""

from __future__ import annotations

import functools
import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.plan.rank import (
    TIES,
    Quota,
    Rank,
    SortKey,
    places,
    quota_frame,
    quota_rows,
    rank_frame,
    rank_rows,
)

pl = pytest.importorskip("polars")

SCHEMA = {"g": pl.Int64, "h": pl.String, "x": pl.Int64, "f": pl.Float64, "s": pl.String,
          "w": pl.Boolean, "c": pl.Boolean}

rows_st = st.lists(st.fixed_dictionaries({
    "g": st.one_of(st.none(), st.integers(0, 2)),
    "h": st.one_of(st.none(), st.sampled_from(["a", "b", "é", "Z"])),
    "x": st.one_of(st.none(), st.integers(-3, 3)),
    "f": st.one_of(st.none(), st.sampled_from([0.0, -0.0, 1.5, -1.5, math.nan, 92.82])),
    "s": st.one_of(st.none(), st.sampled_from(["", "a", "ab", "b", "语", "Ａ"])),
    "w": st.one_of(st.none(), st.booleans()),
    "c": st.one_of(st.none(), st.booleans()),
}), max_size=30)
keys_st = st.lists(st.builds(SortKey, st.sampled_from(["x", "f", "s", "w"]), st.booleans()),
                   min_size=1, max_size=3)
group_st = st.sampled_from([(), ("g",), ("h",), ("g", "h")])


def _norm(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) else v + 0.0
    return v


def _compare(a: dict[str, Any], b: dict[str, Any], by: list[SortKey]) -> int:
    """The docstring's order: each key in turn, a null after every value."""
    for k in by:
        x, y = _norm(a[k.column]), _norm(b[k.column])
        if x == y:
            continue
        if x is None:
            return 1
        if y is None:
            return -1
        less = x < y
        return (-1 if less else 1) * (-1 if k.descending else 1)
    return 0


def oracle_rank(op: Rank, rows: list[dict[str, Any]]) -> list[int | None]:
    """Rank by counting: how many rows of the group come strictly before (min), how
    many distinct tuples do (dense), and, for first, the tied rows earlier in input."""
    out: list[int | None] = []
    members = [i for i, r in enumerate(rows) if op.where is None or r[op.where] is True]
    for i, r in enumerate(rows):
        if i not in members:
            out.append(None)
            continue
        group = [j for j in members
                 if all(_norm(rows[j][k]) == _norm(r[k]) for k in op.keys)]
        before = [j for j in group if _compare(rows[j], r, list(op.by)) < 0]
        tied_earlier = [j for j in group if j < i and _compare(rows[j], r, list(op.by)) == 0]
        if op.ties == "first":
            out.append(len(before) + len(tied_earlier) + 1)
        elif op.ties == "min":
            out.append(len(before) + 1)
        else:
            distinct = {tuple(_norm(rows[j][k.column]) for k in op.by) for j in before}
            out.append(len(distinct) + 1)
    return out


def _frame(rows: list[dict[str, Any]]) -> Any:
    return pl.DataFrame(rows, schema=SCHEMA)


@settings(max_examples=80, deadline=None)
@given(rows_st, keys_st, group_st, st.sampled_from([None, "w"]), st.sampled_from(TIES))
@example([{"g": 0, "h": "a", "x": 1, "f": -0.0, "s": "a", "w": True, "c": True},
          {"g": 0, "h": "a", "x": 1, "f": 0.0, "s": "a", "w": True, "c": True}],
         [SortKey("f")], (), None, "min")
def test_rank_rows_and_frame_agree_with_the_oracle(rows: list[dict[str, Any]],
                                                   by: list[SortKey], keys: tuple[str, ...],
                                                   where: str | None, ties: str) -> None:
    op = Rank(tuple(by), keys, where, ties)
    expected = oracle_rank(op, rows)
    assert rank_rows(op, rows) == expected
    assert rank_frame(op, _frame(rows)).to_list() == expected


def oracle_places(share: float, n: int, rounding: str) -> int:
    mode = {"floor": ROUND_FLOOR, "ceil": ROUND_CEILING, "round_half_up": ROUND_HALF_UP}
    return int((Decimal(repr(share)) * n).quantize(Decimal(1), rounding=mode[rounding]))


@settings(max_examples=80, deadline=None)
@given(rows_st, keys_st, group_st, st.sampled_from([None, "c"]),
       st.sampled_from([0.0, 0.15, 0.2, 0.25, 0.7, 1 / 3, 1.0]),
       st.sampled_from(["floor", "ceil", "round_half_up"]), st.sampled_from(TIES))
def test_quota_rows_and_frame_agree_with_the_oracle(
        rows: list[dict[str, Any]], by: list[SortKey], keys: tuple[str, ...],
        cohort: str | None, share: float, rounding: str, ties: str) -> None:
    op = Quota(Rank(tuple(by), keys, "w", ties), share, rounding, cohort)
    ranks = oracle_rank(op.rank, rows)
    groups: dict[tuple[Any, ...], tuple[int, int, int]] = {}
    for key in {tuple(_norm(r[k]) for k in keys) for r in rows}:
        inside = [i for i, r in enumerate(rows) if tuple(_norm(r[k]) for k in keys) == key]
        n = sum(cohort is None or rows[i][cohort] is True for i in inside)
        c = sum(ranks[i] is not None for i in inside)
        if n or c:
            groups[key] = (n, c, oracle_places(share, n, rounding))
    kept = [None if r is None else r <= groups[tuple(_norm(row[k]) for k in keys)][2]
            for row, r in zip(rows, ranks, strict=True)]
    got = quota_rows(op, rows)
    assert (got.rank, got.kept, got.groups) == (ranks, kept, groups)
    frame, frame_groups = quota_frame(op, _frame(rows))
    assert frame["rank"].to_list() == ranks
    assert frame["kept"].to_list() == kept
    assert frame_groups == groups


def test_places_is_exact_on_decimals() -> None:
    assert places(0.7, 10, "floor") == 7  # 0.7 x 10 in floats is 7.000000000000001
    assert places(0.15, 10, "round_half_up") == 2
    assert places(0.15, 10, "floor") == 1
    assert places(0.15, 10, "ceil") == 2


def test_a_stated_tie_rule_is_one_of_three() -> None:
    with pytest.raises(ValueError, match="tie rule"):
        Rank((SortKey("x"),), ties="average")
    with pytest.raises(ValueError, match="rounding"):
        Quota(Rank((SortKey("x"),)), 0.1, "nearest")


@functools.cache
def _big() -> list[dict[str, Any]]:
    return [{"g": i % 3, "h": None, "x": (i * 7) % 11, "f": float(i % 5), "s": str(i % 13),
             "w": i % 4 != 0, "c": True} for i in range(2_000)]


def test_ties_at_the_cut_keep_every_tied_row_under_min() -> None:
    rows = [{"x": v, "w": True} for v in (9, 8, 8, 7)]
    op = Quota(Rank((SortKey("x", True),), where="w", ties="min"), 0.5, "floor")
    got = quota_rows(op, rows)
    assert got.rank == [1, 2, 2, 4]
    assert got.kept == [True, True, True, False]  # k = 2: the tie at 2 keeps both
    first = Quota(Rank((SortKey("x", True),), where="w"), 0.5, "floor")
    assert quota_rows(first, rows).kept == [True, True, False, False]


def test_a_larger_frame_agrees() -> None:
    rows = _big()
    for ties in TIES:
        op = Rank((SortKey("x", True), SortKey("s")), ("g",), "w", ties)
        assert rank_frame(op, _frame(rows)).to_list() == rank_rows(op, rows)
