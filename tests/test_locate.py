"""Tests for civicscore.policy.locate: key paths of TOML text -> line:col.

Besides hand-checked positions, two broader checks guard the contract the
error reporter relies on: every path ``tomllib`` produces is located, and the
recorded value position really is where that value is written.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from civicscore.policy.locate import MAX_DEPTH, Path, PositionMap, Span, locate

# --- helpers -----------------------------------------------------------------


def key_at(text: str, line: int, col: int) -> str:
    """Text of ``line`` from ``col`` on (without the line ending)."""
    return text.split("\n")[line - 1].rstrip("\r")[col - 1 :]


def offset_of(text: str, line: int, col: int) -> int:
    """Text offset of a 1-based (line, col)."""
    lines = text.split("\n")
    return sum(len(chunk) + 1 for chunk in lines[: line - 1]) + col - 1


def nodes(obj: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) below the root of a tomllib result, containers included."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield (*path, key), value
            yield from nodes(value, (*path, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield (*path, index), value
            yield from nodes(value, (*path, index))


_BOUNDARY = re.compile(r"[\s,\]}#]")


def value_starts_at(text: str, span: Span, expected: Any) -> bool:
    """True if the shortest value written at the span's value position equals ``expected``.

    Cuts the text at each plausible value end (before ``,``, ``]``, ``}``,
    ``#``, whitespace or the end of text) and parses ``v = <cut>``.
    """
    start = offset_of(text, span.value_line, span.value_col)
    ends = [m.start() for m in _BOUNDARY.finditer(text, start + 1)]
    ends.append(len(text))
    for end in ends:
        try:
            parsed = tomllib.loads("v = " + text[start:end] + "\n")
        except (tomllib.TOMLDecodeError, ValueError):
            continue
        if parsed == {"v": expected}:
            return True
    return False


def is_header(text: str, span: Span) -> bool:
    """Whether the span is a ``[table]`` / ``[[array]]`` header (first thing on its line)."""
    line = text.split("\n")[span.line - 1]
    return line[span.col - 1 :].startswith("[") and not line[: span.col - 1].strip()


def is_table(text: str, span: Span, value: Any) -> bool:
    """Whether ``value`` is a table or an array of tables written with ``[[headers]]``."""
    if isinstance(value, dict):
        return True
    is_table_list = (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
    )
    return is_table_list and is_header(text, span)


def check_consistent(text: str) -> PositionMap:
    """Every tomllib path is located; every inline value's value position starts it."""
    data = tomllib.loads(text)
    positions = locate(text)
    for path, value in nodes(data):
        span = positions.get(path)
        assert span is not None, f"{path} not located"
        if not is_table(text, span, value):
            assert value_starts_at(text, span, value), (path, span, value)
    return positions


# --- top level, headers --------------------------------------------------------


def test_top_level_keys() -> None:
    text = 'name = "Patrol scheme"\nversion  =  3\n\n  enabled=true\n'
    positions = locate(text)
    assert positions.get(("name",)) == Span(1, 1, 1, 8)
    assert positions.get(("version",)) == Span(2, 1, 2, 13)
    assert positions.get(("enabled",)) == Span(4, 3, 4, 11)
    assert len(positions) == 3
    assert ("name",) in positions
    assert ("nope",) not in positions
    assert [path for path, _ in positions.items()] == [("name",), ("version",), ("enabled",)]


def test_table_header() -> None:
    text = "[scheme]\nname = 'x'\n\n[ limits ]  # comment\nmax = 10\n"
    positions = locate(text)
    assert positions.get(("scheme",)) == Span(1, 1, 1, 1)
    assert positions.get(("scheme", "name")) == Span(2, 1, 2, 8)
    assert positions.get(("limits",)) == Span(4, 1, 4, 1)
    assert positions.get(("limits", "max")) == Span(5, 1, 5, 7)


def test_dotted_header_records_parents_at_their_segment() -> None:
    text = "[volunteer.activities.patrol]\npoints_per_hour = 2\n"
    positions = locate(text)
    # The header path itself points at "[", implicit parents at their own segment.
    assert positions.get(("volunteer", "activities", "patrol")) == Span(1, 1, 1, 1)
    assert positions.get(("volunteer",)) == Span(1, 2, 1, 2)
    assert positions.get(("volunteer", "activities")) == Span(1, 12, 1, 12)
    assert positions.get(("volunteer", "activities", "patrol", "points_per_hour")) == Span(
        2, 1, 2, 19
    )


def test_implicit_parent_first_wins_but_explicit_header_replaces_it() -> None:
    text = "[a.b.c]\nx = 1\n[a.d]\ny = 2\n[a]\nz = 3\n"
    positions = locate(text)
    assert positions.get(("a",)) == Span(5, 1, 5, 1)  # explicit [a] wins
    assert positions.get(("a", "b")) == Span(1, 4, 1, 4)  # only implicit: first mention
    assert positions.get(("a", "d")) == Span(3, 1, 3, 1)
    assert positions.get(("a", "z")) == Span(6, 1, 6, 5)


def test_quoted_header_segments() -> None:
    text = '[ "a.b" . \'c d\' ."名字"]\nk = 1\n'
    positions = locate(text)
    assert positions.get(("a.b", "c d", "名字")) == Span(1, 1, 1, 1)
    assert positions.get(("a.b",)) == Span(1, 3, 1, 3)
    assert positions.get(("a.b", "c d")) == Span(1, 11, 1, 11)
    assert positions.get(("a.b", "c d", "名字", "k")) == Span(2, 1, 2, 5)


# --- arrays of tables -----------------------------------------------------------


def test_array_of_tables_elements() -> None:
    text = (
        "[[visits.tiers]]\n"
        "when = 'a'\n"
        "\n"
        "[[visits.tiers]]\n"
        "when = 'b'\n"
        "[[visits.tiers]]\n"
        "  when = 'c'\n"
    )
    positions = locate(text)
    assert positions.get(("visits",)) == Span(1, 3, 1, 3)
    assert positions.get(("visits", "tiers")) == Span(1, 1, 1, 1)
    assert positions.get(("visits", "tiers", 0)) == Span(1, 1, 1, 1)
    assert positions.get(("visits", "tiers", 1)) == Span(4, 1, 4, 1)
    assert positions.get(("visits", "tiers", 2)) == Span(6, 1, 6, 1)
    assert positions.get(("visits", "tiers", 0, "when")) == Span(2, 1, 2, 8)
    assert positions.get(("visits", "tiers", 2, "when")) == Span(7, 3, 7, 10)
    check_consistent(text)


def test_nested_arrays_of_tables_and_subtable_of_last_element() -> None:
    text = (
        "[[fruit]]\n"  # 1
        'name = "apple"\n'  # 2
        "[fruit.physical]\n"  # 3
        'color = "red"\n'  # 4
        "[[fruit.variety]]\n"  # 5
        'name = "red delicious"\n'  # 6
        "[[fruit.variety]]\n"  # 7
        'name = "granny smith"\n'  # 8
        "[[fruit]]\n"  # 9
        'name = "banana"\n'  # 10
        "[[fruit.variety]]\n"  # 11
        'name = "plantain"\n'  # 12
        "[fruit.variety.extra]\n"  # 13
        "ripe = true\n"  # 14
    )
    positions = check_consistent(text)
    assert positions.get(("fruit", 0, "physical")) == Span(3, 1, 3, 1)
    assert positions.get(("fruit", 0, "physical", "color")) == Span(4, 1, 4, 9)
    assert positions.get(("fruit", 0, "variety", 0, "name")) == Span(6, 1, 6, 8)
    assert positions.get(("fruit", 0, "variety", 1)) == Span(7, 1, 7, 1)
    assert positions.get(("fruit", 0, "variety", 1, "name")) == Span(8, 1, 8, 8)
    assert positions.get(("fruit", 1)) == Span(9, 1, 9, 1)
    assert positions.get(("fruit", 1, "variety")) == Span(11, 1, 11, 1)
    assert positions.get(("fruit", 1, "variety", 0, "name")) == Span(12, 1, 12, 8)
    assert positions.get(("fruit", 1, "variety", 0, "extra", "ripe")) == Span(14, 1, 14, 8)
    assert ("fruit", 1, "physical") not in positions


# --- inline tables, dotted keys ---------------------------------------------------


def test_inline_tables_nested() -> None:
    text = "k = { a = 1, b = { c = 2, d.e = 'x' }, \"q.r\" = [] }\n"
    positions = check_consistent(text)
    assert positions.get(("k",)) == Span(1, 1, 1, 5)
    assert positions.get(("k", "a")) == Span(1, 7, 1, 11)
    assert positions.get(("k", "b")) == Span(1, 14, 1, 18)
    assert positions.get(("k", "b", "c")) == Span(1, 20, 1, 24)
    assert positions.get(("k", "b", "d")) == Span(1, 27, 1, 27)
    assert positions.get(("k", "b", "d", "e")) == Span(1, 29, 1, 33)
    assert positions.get(("k", "q.r")) == Span(1, 40, 1, 48)


def test_dotted_keys_in_root_and_in_tables() -> None:
    text = "x.y.z = 1\nx . w = 2\n[t]\na.b = 'v'\n  a.\"c.d\" = 3\n"
    positions = check_consistent(text)
    assert positions.get(("x",)) == Span(1, 1, 1, 1)
    assert positions.get(("x", "y")) == Span(1, 3, 1, 3)
    assert positions.get(("x", "y", "z")) == Span(1, 5, 1, 9)
    assert positions.get(("x", "w")) == Span(2, 5, 2, 9)
    assert positions.get(("t", "a")) == Span(4, 1, 4, 1)  # first mention wins
    assert positions.get(("t", "a", "b")) == Span(4, 3, 4, 7)
    assert positions.get(("t", "a", "c.d")) == Span(5, 5, 5, 13)


# --- arrays --------------------------------------------------------------------------


def test_array_elements_and_nested_arrays() -> None:
    text = "k = [1, {a = 1}, [2, 3]]\n"
    positions = check_consistent(text)
    assert positions.get(("k",)) == Span(1, 1, 1, 5)
    assert positions.get(("k", 0)) == Span(1, 6, 1, 6)
    assert positions.get(("k", 1)) == Span(1, 9, 1, 9)
    assert positions.get(("k", 1, "a")) == Span(1, 10, 1, 14)
    assert positions.get(("k", 2)) == Span(1, 18, 1, 18)
    assert positions.get(("k", 2, 0)) == Span(1, 19, 1, 19)
    assert positions.get(("k", 2, 1)) == Span(1, 22, 1, 22)


def test_multiline_arrays_with_comments_and_trailing_commas() -> None:
    text = (
        "levels = [  # comment, with ] and [\n"  # 1
        "  10,\n"  # 2
        "  # 99,\n"  # 3
        "  20 , # 30\n"  # 4
        "  30,\n"  # 5
        "]\n"  # 6
        "tiers = [\n"  # 7
        "  { when = 'a', points = 1 },  # first\n"  # 8
        '  {when="b",points=2},\n'  # 9
        "]\n"  # 10
        "after = 1\n"  # 11
    )
    positions = check_consistent(text)
    assert positions.get(("levels", 0)) == Span(2, 3, 2, 3)
    assert positions.get(("levels", 1)) == Span(4, 3, 4, 3)
    assert positions.get(("levels", 2)) == Span(5, 3, 5, 3)
    assert ("levels", 3) not in positions
    assert positions.get(("tiers", 0, "points")) == Span(8, 17, 8, 26)
    assert positions.get(("tiers", 1, "when")) == Span(9, 4, 9, 9)
    assert positions.get(("after",)) == Span(11, 1, 11, 9)


# --- keys and strings ------------------------------------------------------------------


def test_quoted_keys_with_dots_escapes_and_chinese() -> None:
    text = (
        '"a.b" = 1\n'
        "'c.d' = 2\n"
        '"名字" = "张三"\n'
        "名前 = 3\n"  # lenient Unicode bare key (TOML 1.1)
        '"tab\\tkey" = 4\n'
        '"\\u540d" = 5\n'
        "'lit\\t' = 6\n"
        '"" = 7\n'
        "名字x.值 = 8\n"
    )
    positions = locate(text)
    assert positions.get(("a.b",)) == Span(1, 1, 1, 9)
    assert positions.get(("c.d",)) == Span(2, 1, 2, 9)
    assert positions.get(("名字",)) == Span(3, 1, 3, 8)
    assert positions.get(("名前",)) == Span(4, 1, 4, 6)
    assert positions.get(("tab\tkey",)) == Span(5, 1, 5, 14)
    assert positions.get(("名",)) == Span(6, 1, 6, 12)
    assert positions.get(("lit\\t",)) == Span(7, 1, 7, 11)
    assert positions.get(("",)) == Span(8, 1, 8, 6)
    assert positions.get(("名字x", "值")) == Span(9, 5, 9, 9)
    data = tomllib.loads(text.replace("名前 = 3\n", "").replace("名字x.值 = 8\n", ""))
    assert all(positions.get(path) is not None for path, _ in nodes(data))


def test_multiline_strings_do_not_confuse_the_scanner() -> None:
    text = (
        'doc = """\n'  # 1
        "[fake]\n"  # 2
        "x = 1\n"  # 3
        'quote \\""" still inside # not a comment\n'  # 4
        "{ y = 2 }\n"  # 5
        'ends with two quotes""""\n'  # 6
        "lit = '''\n"  # 7
        "[[also.fake]]\n"  # 8
        "z = \"\"\" '' ''''\n"  # 9
        "real = 'yes'\n"  # 10
        's = "a # b = [c] \\" d"  # comment\n'  # 11
        "t = 'it''s'\n"  # 12 (invalid TOML, but must not derail us)
    )
    positions = locate(text)
    assert list(positions) == [("doc",), ("lit",), ("real",), ("s",), ("t",)]
    assert positions.get(("lit",)) == Span(7, 1, 7, 7)
    assert positions.get(("real",)) == Span(10, 1, 10, 8)
    assert positions.get(("s",)) == Span(11, 1, 11, 5)
    check_consistent(text.replace("t = 'it''s'\n", ""))


def test_date_keys_and_datetime_values() -> None:
    text = (
        "[volunteer.activities.patrol]\n"
        "points_per_hour = { 2023-01-01 = 2, 2025-07-01 = 3 }\n"
        "since = 1979-05-27T07:32:00\n"
        "local = 1979-05-27 07:32:00.5 # space separated\n"
        "day = 2024-01-01\n"
        "at = 07:32:00\n"
        "offset = 1979-05-27T00:32:00-07:00\n"
        "list = [2024-01-01, 1979-05-27 07:32:00, 07:32:00]\n"
    )
    positions = check_consistent(text)
    base = ("volunteer", "activities", "patrol")
    assert positions.get((*base, "points_per_hour", "2023-01-01")) == Span(2, 21, 2, 34)
    assert positions.get((*base, "points_per_hour", "2025-07-01")) == Span(2, 37, 2, 50)
    assert positions.get((*base, "local")) == Span(4, 1, 4, 9)
    assert positions.get((*base, "day")) == Span(5, 1, 5, 7)
    assert positions.get((*base, "list", 1)) == Span(8, 21, 8, 21)
    assert positions.get((*base, "list", 2)) == Span(8, 42, 8, 42)


def test_crlf_line_endings() -> None:
    text = (
        "a = 1\r\n[t]\r\nb = [\r\n  1,\r\n  2, # c\r\n]\r\n[[r]]\r\nc = '''x\r\n[y]'''\r\nd = 2\r\n"
    )
    positions = check_consistent(text)
    assert positions.get(("a",)) == Span(1, 1, 1, 5)
    assert positions.get(("t", "b", 1)) == Span(5, 3, 5, 3)
    assert positions.get(("r", 0, "c")) == Span(8, 1, 8, 5)
    assert positions.get(("r", 0, "d")) == Span(10, 1, 10, 5)


def test_columns_count_code_points() -> None:
    text = '"名字名字" = { "值" = 1, b = 2 }\n'
    positions = check_consistent(text)
    assert positions.get(("名字名字",)) == Span(1, 1, 1, 10)
    assert positions.get(("名字名字", "值")) == Span(1, 12, 1, 18)
    assert positions.get(("名字名字", "b")) == Span(1, 21, 1, 25)


# --- PositionMap -------------------------------------------------------------------------


def test_nearest_falls_back_to_longest_written_prefix() -> None:
    text = "[visits]\n[[visits.tiers]]\nwhen = 'a'\n"
    positions = locate(text)
    assert positions.nearest(("visits", "tiers", 0, "when")) == (
        ("visits", "tiers", 0, "when"),
        Span(3, 1, 3, 8),
    )
    assert positions.nearest(("visits", "tiers", 0, "points")) == (
        ("visits", "tiers", 0),
        Span(2, 1, 2, 1),
    )
    assert positions.nearest(("visits", "tiers", 5, "when")) == (
        ("visits", "tiers"),
        Span(2, 1, 2, 1),
    )
    assert positions.nearest(("visits", "cap")) == (("visits",), Span(1, 1, 1, 1))
    assert positions.nearest(("missing", "x")) == ((), Span(1, 1, 1, 1))
    assert positions.nearest(()) == ((), Span(1, 1, 1, 1))
    assert positions.get(("visits", "cap")) is None


def test_lazy_spans_match_eager_ones() -> None:
    text = SAMPLES[0]
    positions = locate(text)
    looked_up = positions.get(("visits", "tiers", 2, "when"))
    assert positions.nearest(("volunteer", "nope")) == (("volunteer",), Span(7, 1, 7, 1))
    everything = dict(positions.items())
    assert everything == dict(locate(text).items())
    assert everything[("visits", "tiers", 2, "when")] == looked_up
    assert len(positions) == len(everything) == len(list(positions))
    assert positions.get(("visits", "tiers", 2, "when")) == looked_up  # after materialising
    assert PositionMap(everything).get(("visits", "tiers", 2, "when")) == looked_up


def test_position_map_is_a_snapshot() -> None:
    spans: dict[Path, Span] = {("a",): Span(1, 1, 1, 5)}
    positions = PositionMap(spans)
    spans[("b",)] = Span(2, 1, 2, 5)
    assert len(positions) == 1
    assert list(positions) == [("a",)]
    assert ["a"] in positions  # any sequence is looked up as a tuple
    assert 42 not in positions  # not a path at all: no exception


# --- robustness --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n# only comments\n",
        "a = ",
        "a = [1, 2",
        "a = {b = 1",
        "a = 'unterminated\nb = 2\n",
        'a = "unterminated\nb = 2\n',
        'a = """never closed\nb = 2\n',
        "a = '''never closed\nb = 2\n",
        "[unclosed\nb = 2\n",
        "[[\n]]\n= 3\n",
        "a == 1\nb = 2\n",
        "a = 1 2 3\nb = 2\n",
        "a = [1 } ]\nb = 2\n",
        "a = {1}\nb = 2\n",
        "a = [,,]\nb = 2\n",
        '"\\u12" = 1\n"\\UFFFFFFFF" = 2\nb = 2\n',
        "}{][\nb = 2\n",
        "\ufeffb = 2\n",
        "a.\nb = 2\n",
        "[a.]\nb = 2\n",
    ],
)
def test_malformed_input_never_raises(text: str) -> None:
    positions = locate(text)
    if text.endswith("b = 2\n") and "never closed" not in text:  # else b is inside the string
        span = (
            positions.get(("b",)) or positions.get(("a", "b")) or positions.get(("unclosed", "b"))
        )
        assert span is not None, list(positions.items())


def test_deep_nesting_is_capped_but_skipped_correctly() -> None:
    depth = MAX_DEPTH + 400
    text = (
        "deep = "
        + "[" * depth
        + "1"
        + "]" * depth
        + "\nafter = { x = "
        + "{ y = " * depth
        + "1"
        + "}" * depth
        + " }\nlast = 3\n"
    )
    positions = locate(text)
    assert positions.get(("last",)) == Span(3, 1, 3, 8)
    assert ("deep", 0, 0) in positions
    assert max(len(path) for path in positions) <= MAX_DEPTH + 2


def test_overlong_keys_and_headers_map_only_their_first_tables() -> None:
    # the tables of the first MAX_DEPTH segments (so a problem there, such as an unknown
    # section, is located), not the key itself, its value or the keys under the header
    long_key = ".".join(["k"] * (MAX_DEPTH + 1))
    text = f"{long_key} = [1, {{ a = 2 }}]\nok = 1\n[{long_key}]\nhidden = [3]\n[t]\nseen = 4\n"
    positions = locate(text)
    firsts = [("k",) * d for d in range(1, MAX_DEPTH + 1)]
    assert list(positions) == [*firsts, ("ok",), ("t",), ("t", "seen")]
    assert positions.get(("k",)) == Span(1, 1, 1, 1)
    assert positions.get(("k",) * MAX_DEPTH) == Span(1, 2 * MAX_DEPTH - 1, 1, 2 * MAX_DEPTH - 1)
    assert positions.get(("t", "seen")) == Span(6, 1, 6, 8)


def test_large_and_pathological_files_are_scanned() -> None:
    """Big and hostile inputs finish and map correctly (speed is for benchmarks/, not here)."""
    block = (
        "[[visits.tiers]]\n"
        'when = "visits >= 3 # not a comment"\n'
        "points = { 2023-01-01 = 2, 2025-07-01 = 3 }\n"
        "levels = [1, 2, 3, [4, 5], { a = 'x' }]\n"
        'note = """\n[fake]\nx = 1\n"""\n'
        "名字.x = 1979-05-27 07:32:00  # comment\n\n"
    )
    text = block * (1_000_000 // len(block) + 1)
    positions = locate(text)
    count = text.count("[[visits.tiers]]")
    assert positions.get(("visits", "tiers", count - 1, "名字", "x")) is not None
    # Pathological shapes must stay linear too.
    for bad in (
        'a = "' + "\\x" * 200_000,
        "a = [" * 200_000,
        'a = """' + '"" ' * 200_000,
        "# " * 300_000,
        "a = {" * 100_000,
        "a." * 200_000 + "a = 1\n",  # paths would be quadratic if built
        "[" + "a." * 200_000 + "a]\nb = 1\n",
        "x = 1 " * 100_000,
    ):
        assert isinstance(locate(bad), PositionMap)


# --- cross-check against tomllib -----------------------------------------------------------

Q3 = '"' * 3  # written as <Q3> inside the raw samples below

SAMPLES = [
    # a realistic policy
    r"""
# Neighbourhood civic points policy
title = "Civic score 2025"
version = 2
effective = 2025-01-01

[volunteer]
cap_per_month = 40.5

[volunteer.activities.patrol]
label = "Night patrol"
points_per_hour = { 2023-01-01 = 2, 2025-07-01 = 3 }

[volunteer.activities."litter pick"]
label = 'Litter pick (Saturday)'
points_per_hour = 1.5
requires = ["gloves", "vest",]

[[visits.tiers]]
when = "visits >= 1"
points = 1

[[visits.tiers]]
when = "visits >= 5"
points = 3
bonus = { kind = "flat", amount = 2 }

[[visits.tiers]]
when = <Q3>
visits >= 10
  and streak >= 3  # not a comment
<Q3>
points = 10

[visits.tiers.explain]
text = '''
[not.a.table]
x = 1
'''
""".replace("<Q3>", Q3),
    # the TOML spec's flavour of everything
    r"""
str1 = "I'm a string. \"You can quote me\". Name\tJos\u00E9\nLocation\tSF."
str2 = <Q3>
Roses are red
Violets are blue<Q3>
str3 = <Q3>Here are two quotation marks: "". Simple enough.<Q3>
str4 = <Q3>Here are fifteen quotation marks: ""\"""\"""\"""\"""\".<Q3>
str5 = <Q3>"This," she said, "is just a pointless statement."<Q3>
str7 = <Q3>a \
       b \\<Q3>
winpath  = 'C:\Users\nodejs\templates'
quoted   = 'Tom "Dubs" Preston-Werner'
lines  = '''
The first newline is
trimmed in raw strings.
'''
quot15 = '''Here are fifteen quotation marks: <Q3><Q3><Q3><Q3><Q3>'''
apos15 = "Here are fifteen apostrophes: '''''''''''''''"
str6 = ''''That,' she said, 'is still pointless.''''
int1 = +99
int2 = 1_000
hex1 = 0xDEAD_BEEF
oct1 = 0o755
bin1 = 0b1101_0110
flt1 = -3.1415
flt2 = 6.626e-34
flt3 = inf
flt4 = -inf
bool1 = false
odt1 = 1979-05-27T07:32:00Z
odt2 = 1979-05-27T00:32:00.999999-07:00
ldt1 = 1979-05-27 07:32:00
ld1 = 1979-05-27
lt1 = 00:32:00.999999
integers = [ 1, 2, 3 ]
nested_mixed_array = [ [ 1, 2 ], ["a", "b", "c"] ]
contributors = [
  "Foo Bar <foo@example.com>",
  { name = "Baz Qux", email = "bazqux@example.com", url = "https://example.com/bazqux" }
]
"127.0.0.1" = "value"
"character encoding" = "value"
"ʎǝʞ" = "value"
'key2' = "value"
'quoted "value"' = "value"
physical.color = "orange"
physical.shape = "round"
site."google.com" = true
3.14159 = "pi"
1234 = "digits"
2024-01-01 = "date-like key"

[dog."tater.man"]
type.name = "pug"

[ j . "ʞ" . 'l' ]
empty = {}
none = []

[[products]]
name = "Hammer"
sku = 738594937

[[products]]  # empty table within the array

[[products]]
name = "Nail"
sku = 284758393
color = "gray"
""".replace("<Q3>", Q3),
    # CRLF and Chinese
    "\r\n".join(
        [
            "# 政策",
            '"名称" = "志愿服务"',
            '"积分"."每小时" = 2',
            '["活动"]',
            '"巡逻" = { "点数" = 3, "日期" = 2024-01-01 }',
            '"列表" = [',
            "  '甲', # 注释",
            "  '乙',",
            "]",
            "",
        ]
    ),
]


@pytest.mark.parametrize("text", SAMPLES, ids=["policy", "spec", "crlf-chinese"])
def test_every_tomllib_path_is_located_and_value_starts_there(text: str) -> None:
    check_consistent(text)


# --- property test: render random documents, locate them ----------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def render_key(key: str) -> str:
    """Bare when possible, otherwise a basic string (JSON escapes are valid TOML)."""
    return key if _BARE.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def render_string(value: str, literal: bool) -> str:
    """Render in one of four TOML string styles, chosen by content and ``literal``."""
    if "\n" in value:
        if literal and "'" not in value:
            return "'''\n" + value + "'''"
        return '"""\n' + value.replace("\\", "\\\\").replace('"', '\\"') + '"""'
    if literal and "'" not in value:
        return "'" + value + "'"
    return json.dumps(value, ensure_ascii=False)


def render_value(value: Any, literal: bool, multiline: bool) -> str:
    """Render any value inline (arrays optionally one element per line with comments)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return render_string(value, literal)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        inner = ", ".join(
            f"{render_key(k)} = {render_value(v, literal, multiline)}" for k, v in value.items()
        )
        return "{ " + inner + " }" if inner else "{}"
    assert isinstance(value, list)
    items = [render_value(v, literal, multiline) for v in value]
    if multiline:
        return "[  # start\n" + "".join(f"  {item},  # item\n  # spacer\n" for item in items) + "]"
    return "[" + ", ".join(items) + "]"


def render(doc: dict[str, Any], style: str, literal: bool, multiline: bool) -> str:
    """Render ``doc`` as TOML in ``style``: inline, headers, dotted or headers+dotted."""
    out: list[str] = []

    def dotted_key(keys: list[str]) -> str:
        return ".".join(render_key(k) for k in keys)

    def scalar_line(keys: list[str], value: Any) -> None:
        out.append(dotted_key(keys) + " = " + render_value(value, literal, multiline))

    def dotted(prefix: list[str], table: dict[str, Any]) -> None:
        for key, value in table.items():
            if isinstance(value, dict) and value:
                dotted([*prefix, key], value)
            else:
                scalar_line([*prefix, key], value)

    def is_table_array(value: Any) -> bool:
        return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)

    def table(path: list[str], content: dict[str, Any], use_dotted: bool, kind: str) -> None:
        subtables = {k: v for k, v in content.items() if isinstance(v, dict) and v}
        arrays = {k: v for k, v in content.items() if is_table_array(v)}
        simple = {k: v for k, v in content.items() if k not in subtables and k not in arrays}
        if kind == "array":
            out.append("[[" + dotted_key(path) + "]]")
        elif kind == "table" and (simple or (use_dotted and subtables) or not content):
            out.append("[" + dotted_key(path) + "]")  # otherwise left implicit
        for key, value in simple.items():
            scalar_line([key], value)
        for key, value in subtables.items():
            if use_dotted:
                dotted([key], value)
            else:
                table([*path, key], value, use_dotted, "table")
        for key, elements in arrays.items():
            for element in elements:  # later headers through path+key mean the last element
                table([*path, key], element, use_dotted, "array")

    if style == "inline":
        for key, value in doc.items():
            scalar_line([key], value)
    elif style == "dotted":
        dotted([], doc)
    else:
        table([], doc, style == "headers+dotted", "root")
    return "\n".join(out) + "\n"


def key_column_ok(text: str, path: Path, span: Span, value: Any) -> bool:
    """The span's line, at its column, starts with the last key of ``path`` as rendered.

    For ``[[header]]`` spans (which point at the bracket) the header line must
    contain the key instead.
    """
    last = path[-1]
    if isinstance(last, int):
        return True
    if is_table(text, span, value) and is_header(text, span):
        return render_key(last) in key_at(text, span.line, span.col)
    return key_at(text, span.line, span.col).startswith(render_key(last))


_keys = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_-]{0,4}", fullmatch=True),
    st.sampled_from(["a.b", "名字", "2024-01-01", "x y", 'q"t', "", "key#1", "[k]", "=", "it's"]),
)
_text = st.text(alphabet="ab #=[]{},.\"'\\\n\t名😀", max_size=8)
_scalars = st.one_of(
    st.integers(-(10**6), 10**6),
    st.booleans(),
    _text,
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.times(),
    st.datetimes(),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(_keys, children, max_size=3)
    ),
    max_leaves=10,
)
# Table-shaped documents, so the "headers" styles produce [tables], arrays of
# tables, nested arrays of tables and sub-tables of their last element.
_tables = st.recursive(
    st.dictionaries(_keys, _scalars, max_size=2),
    lambda tables: st.dictionaries(
        _keys,
        st.one_of(st.lists(tables, min_size=1, max_size=2), tables, _scalars),
        min_size=1,
        max_size=3,
    ),
    max_leaves=12,
)
_documents = st.dictionaries(_keys, _values, max_size=4)


def check_rendered(text: str) -> None:
    """Every tomllib path is located, at its key, with the value starting where recorded."""
    data = tomllib.loads(text)
    positions = locate(text)
    for path, value in nodes(data):
        span = positions.get(path)
        assert span is not None, (path, text)
        assert key_column_ok(text, path, span, value), (path, span, text)
        if not is_table(text, span, value):
            assert value_starts_at(text, span, value), (path, span, value, text)


@hypothesis.settings(max_examples=200, deadline=None, derandomize=True)
@hypothesis.given(
    doc=_documents,
    style=st.sampled_from(["inline", "headers", "dotted", "headers+dotted"]),
    literal=st.booleans(),
    multiline=st.booleans(),
)
def test_rendered_documents_are_fully_located(
    doc: dict[str, Any], style: str, literal: bool, multiline: bool
) -> None:
    check_rendered(render(doc, style, literal, multiline))


@hypothesis.settings(max_examples=150, deadline=None, derandomize=True)
@hypothesis.given(
    doc=_tables,
    style=st.sampled_from(["headers", "headers+dotted"]),
    literal=st.booleans(),
)
def test_rendered_table_documents_are_fully_located(
    doc: dict[str, Any], style: str, literal: bool
) -> None:
    check_rendered(render(doc, style, literal, multiline=False))


@hypothesis.settings(max_examples=300, deadline=None, derandomize=True)
@hypothesis.given(text=st.text(alphabet="[]{}\"'#=.,\n\r\t abc123-:名\\uU", max_size=80))
def test_arbitrary_text_never_raises_and_valid_toml_is_located(text: str) -> None:
    positions = locate(text)
    for _, span in positions.items():
        assert span.line >= 1 and span.col >= 1 and span.value_line >= span.line
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return
    for path, _ in nodes(data):
        assert path in positions, (path, text)
