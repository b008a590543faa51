"""The segmented cap scan (plan.scan.CapScan): both backends equal a plain sequential oracle.

The oracle below is written from the op's docstring alone, apart from the
implementations: rows of a key in order, each reduced to what is left of each of
its windows in turn, the grant accumulating. Windows are drawn both nested
(day within month) and crossing (week and month, a per-activity window), with
limits constant per segment or changing from row to row, and nulls.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from civicscore.plan.scan import (
    CapScan,
    OverlapScan,
    Window,
    cap_scan_frame,
    cap_scan_rows,
    grant_column,
    left_column,
    overlap_columns,
    overlap_scan_frame,
    overlap_scan_rows,
)

pl = pytest.importorskip("polars")

BIG = 2**53 - 1


def oracle(op: CapScan, rows: list[dict[str, Any]]) -> list[tuple[int, tuple[Any, ...]]]:
    """Sequential, by the docstring: per key, rows by (order, input position)."""
    out: dict[int, tuple[int, tuple[Any, ...]]] = {}
    keys = {tuple(r[c] for c in op.key) for r in rows}
    for k in keys:
        mine = [i for i, r in enumerate(rows) if tuple(r[c] for c in op.key) == k]
        mine.sort(key=lambda i: (tuple(rows[i][c] for c in op.order), i))
        granted: list[int] = []
        for pos, i in enumerate(mine):
            r = rows[i]
            x = r[op.amount] or 0
            lefts: list[int | None] = []
            for w in op.windows:
                if r[w.limit] is None:
                    lefts.append(None)
                    continue
                used = sum(granted[q] for q, j in enumerate(mine[:pos])
                           if all(rows[j][c] == r[c] for c in w.keys))
                left = max(r[w.limit] - used, 0)
                lefts.append(left)
                x = min(x, left)
            granted.append(x)
            out[i] = (x, tuple(lefts))
    return [out[i] for i in range(len(rows))]


def frame_result(op: CapScan, rows: list[dict[str, Any]]) -> list[tuple[int, tuple[Any, ...]]]:
    """The polars side, on the rows as given and (``ordered``) on them sorted first."""
    schema = {c: pl.Int64 for c in op.columns()}
    frame = pl.DataFrame(rows, schema=schema)
    done = cap_scan_frame(op, frame, prefix="s.")
    assert done.columns[:len(schema)] == list(schema)
    grants = done[grant_column("s.")].to_list()
    lefts = [done[left_column("s.", i)].to_list() for i in range(len(op.windows))]
    out = [(g, tuple(col[n] for col in lefts)) for n, g in enumerate(grants)]
    position = pl.int_range(pl.len()).alias("pos")
    sorted_frame = frame.with_columns(position).sort([*op.key, *op.order], maintain_order=True)
    again = cap_scan_frame(op, sorted_frame.drop("pos"), prefix="s.", ordered=True) \
        .with_columns(sorted_frame["pos"]).sort("pos")
    lefts_again = [again[left_column("s.", i)].to_list() for i in range(len(op.windows))]
    assert [(g, tuple(col[n] for col in lefts_again))
            for n, g in enumerate(again[grant_column("s.")].to_list())] == out
    return out


NESTED = CapScan(("vol",), ("t",), "amount", (Window(("day",), "ld"), Window(("month",), "lm")))
CROSSING = CapScan(("vol",), ("t",), "amount", (
    Window(("day",), "ld"), Window(("week",), "lw"), Window(("month",), "lm"),
    Window(("act",), "la"), Window((), "ly")))


@st.composite
def scan_rows(draw: st.DrawFn, constant_limits: bool) -> list[dict[str, Any]]:
    """Rows of a few volunteers over ~40 days; limits per segment, or per row."""
    n = draw(st.integers(0, 40))
    limit = st.one_of(st.none(), st.integers(0, 12), st.integers(0, BIG))
    per_segment: dict[tuple[Any, ...], Any] = {}

    def cap(name: str, seg: tuple[Any, ...]) -> Any:
        if not constant_limits:
            return draw(limit)
        if (name, seg) not in per_segment:
            per_segment[name, seg] = draw(limit)
        return per_segment[name, seg]

    rows = []
    for _ in range(n):
        vol = draw(st.integers(0, 2))
        day = draw(st.integers(0, 40))
        week, month = day // 7, day // 30  # weeks cross months
        act = draw(st.integers(0, 2))
        rows.append({
            "vol": vol, "t": day * 10 + draw(st.integers(0, 3)), "day": day, "week": week,
            "month": month, "act": act,
            "amount": draw(st.one_of(st.none(), st.integers(0, 8), st.integers(0, BIG))),
            "ld": cap("d", (vol, day)), "lw": cap("w", (vol, week)),
            "lm": cap("m", (vol, month)), "la": cap("a", (vol, act)), "ly": cap("y", (vol,))})
    return rows


@settings(max_examples=60, deadline=None)
@given(scan_rows(constant_limits=True))
def test_nested_windows_with_limits_per_segment(rows: list[dict[str, Any]]) -> None:
    expected = oracle(NESTED, rows)
    assert cap_scan_rows(NESTED, rows) == expected
    assert frame_result(NESTED, rows) == expected


@settings(max_examples=60, deadline=None)
@given(scan_rows(constant_limits=False), st.booleans())
def test_crossing_windows_and_changing_limits(rows: list[dict[str, Any]], crossing: bool
                                              ) -> None:
    op = CROSSING if crossing else NESTED
    expected = oracle(op, rows)
    assert cap_scan_rows(op, rows) == expected
    assert frame_result(op, rows) == expected


@example(grants=[5] * 30)
@given(st.lists(st.integers(0, 5), max_size=30))
@settings(deadline=None)
def test_long_keys_past_the_passes_are_finished_sequentially(grants: list[int]) -> None:
    """One volunteer, a limit that changes at every row: the guess is wrong far down the
    key, more passes than MAX_PASSES would be needed, and the loop finishes it."""
    rows = [{"vol": 0, "t": i, "day": 0, "month": 0, "amount": g, "ld": 3 + (i % 7) * 4,
             "lm": None} for i, g in enumerate(grants)]
    expected = oracle(NESTED, rows)
    assert cap_scan_rows(NESTED, rows) == expected
    assert frame_result(NESTED, rows) == expected


def test_a_cut_row_leaves_what_was_left() -> None:
    """Day cap 6, month cap 10: 4 on day 1, then 5 and 5 on day 2: the second of day 2
    finds 1 left of the day and 1 of the month, and is granted 1."""
    rows = [{"vol": 0, "t": 1, "day": 1, "month": 0, "amount": 4, "ld": 6, "lm": 10},
            {"vol": 0, "t": 2, "day": 2, "month": 0, "amount": 5, "ld": 6, "lm": 10},
            {"vol": 0, "t": 3, "day": 2, "month": 0, "amount": 5, "ld": 6, "lm": 10}]
    assert cap_scan_rows(NESTED, rows) == [(4, (6, 10)), (5, (6, 6)), (1, (1, 1))]
    assert frame_result(NESTED, rows) == cap_scan_rows(NESTED, rows)


def test_no_rows() -> None:
    assert cap_scan_rows(NESTED, []) == []
    assert frame_result(NESTED, []) == []


# --- overlaps --------------------------------------------------------------------------

OVERLAP = OverlapScan(("vol",), ("start", "end", "id"), "start", "end", "id", "ok")


def overlap_oracle(rows: list[dict[str, Any]]) -> list[tuple[bool, Any, Any]]:
    """Per volunteer, by (start, end, id, position): overlaps an accepted earlier row?"""
    out: dict[int, tuple[bool, Any, Any]] = {}
    for vol in {r["vol"] for r in rows}:
        mine = sorted((i for i, r in enumerate(rows) if r["vol"] == vol),
                      key=lambda i: (rows[i]["start"], rows[i]["end"], rows[i]["id"], i))
        accepted: list[int] = []
        for i in mine:
            r = rows[i]
            ends = [rows[j]["end"] for j in accepted]
            latest = max(ends) if ends else None
            setter = next((rows[j]["id"] for j in accepted if rows[j]["end"] == latest), None)
            hit = latest is not None and r["start"] < latest
            out[i] = (hit, latest, setter)
            if r["ok"] is True and not hit:
                accepted.append(i)
    return [out[i] for i in range(len(rows))]


@st.composite
def intervals(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for n in range(draw(st.integers(0, 30))):
        start = draw(st.integers(0, 60))
        rows.append({"vol": draw(st.integers(0, 2)), "start": start,
                     "end": start + draw(st.integers(1, 20)), "id": f"r{n % 7}",
                     "ok": draw(st.sampled_from([True, True, True, False, None]))})
    return rows


def overlap_frame(rows: list[dict[str, Any]]) -> list[tuple[bool, Any, Any]]:
    schema = {"vol": pl.Int64, "start": pl.Int64, "end": pl.Int64, "id": pl.String,
              "ok": pl.Boolean}
    frame = pl.DataFrame(rows, schema=schema)
    done = overlap_scan_frame(OVERLAP, frame, prefix="o.")
    cols = [done[c].to_list() for c in overlap_columns("o.")]
    out = list(zip(*cols, strict=True)) if rows else []
    sorted_frame = frame.with_columns(pl.int_range(pl.len()).alias("pos")).sort(
        [*OVERLAP.key, *OVERLAP.order], maintain_order=True)
    again = overlap_scan_frame(OVERLAP, sorted_frame.drop("pos"), prefix="o.", ordered=True) \
        .with_columns(sorted_frame["pos"]).sort("pos")
    assert again.select(overlap_columns("o.")).rows() == out
    return out


@settings(max_examples=80, deadline=None)
@given(intervals())
def test_overlaps_equal_the_sequential_oracle(rows: list[dict[str, Any]]) -> None:
    expected = overlap_oracle(rows)
    assert overlap_scan_rows(OVERLAP, rows) == expected
    assert overlap_frame(rows) == expected


def test_a_chain_of_overlaps_longer_than_the_passes() -> None:
    """Each record overlaps the one before only: accepted, rejected, accepted, ... --
    a chain of 30 settles one link per pass, so the loop finishes it."""
    rows = [{"vol": 0, "start": 2 * i, "end": 2 * i + 3, "id": f"r{i:02d}", "ok": True}
            for i in range(30)]
    expected = overlap_oracle(rows)
    assert [hit for hit, _, _ in expected] == [i % 2 == 1 for i in range(30)]
    assert overlap_scan_rows(OVERLAP, rows) == expected
    assert overlap_frame(rows) == expected


@settings(max_examples=40, deadline=None)
@given(intervals(), st.sampled_from(["datetime", "text"]))
def test_overlaps_of_other_orderable_types(rows: list[dict[str, Any]], kind: str) -> None:
    """Starts and ends as datetimes (their physical values) or as text that sorts as the
    numbers do (ranks): the same overlaps, latest ends and setters as the oracle's."""
    import datetime as dt

    def to(v: int) -> Any:
        return dt.datetime(2025, 1, 1) + dt.timedelta(minutes=v) if kind == "datetime" \
            else f"{v:03d}"

    moved = [{**r, "start": to(r["start"]), "end": to(r["end"])} for r in rows]
    expected = overlap_oracle(moved)
    kind_type = pl.Datetime("us") if kind == "datetime" else pl.String
    frame = pl.DataFrame(moved, schema={"vol": pl.Int64, "start": kind_type, "end": kind_type,
                                        "id": pl.String, "ok": pl.Boolean})
    done = overlap_scan_frame(OVERLAP, frame, prefix="o.")
    assert done.select(overlap_columns("o.")).rows() == expected
    assert done.schema[overlap_columns("o.")[1]] == kind_type
