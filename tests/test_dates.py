"""Dates as officers type them (2025/3/1, 2025年3月1日, full-width digits...), read by one
rule in both engines, from real CSV files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicscore.cli import main
from civicscore.errors import RecordError
from civicscore.records import spelled_date, to_date, to_datetime

from .conftest import EXAMPLE_POLICY, EXAMPLES

MARCH_1 = dt.date(2025, 3, 1)
SPELLINGS = ["2025-03-01", "2025-3-1", "2025/3/1", "2025/03/01", "2025.3.1", "2025年3月1日",
             "2025年03月01日", "2025 年 3 月 1 日", "2025年3月1号", "2025年3月1",
             "２０２５年３月１日", "２０２５／３／１", " 2025/3/1 ", "2025/3/1 9:30",
             "2025年3月1日 09:30:15"]
REFUSED = ["2025/2/30", "2025/12/32", "2025/13/1", "2025/3-1", "1/3/2025", "31/12/2025",
           "2025/3/1 25:00", "0000/1/1", "25/3/1", "2025年3月", "٢٠٢٥/3/1", "2025/3/1/", "三月一日"]


@pytest.mark.parametrize("text", SPELLINGS)
def test_every_spelling_is_the_first_of_march(text: str) -> None:
    assert to_date(text, "r1", "last_visit") == MARCH_1


@pytest.mark.parametrize("text", REFUSED)
def test_impossible_and_day_first_dates_are_refused(text: str) -> None:
    assert spelled_date(text) is None
    with pytest.raises(RecordError, match="expected a date YYYY-MM-DD") as e:
        to_date(text, "r1", "last_visit")
    assert e.value.code == "INVALID_DATE"


def test_times_need_a_time_of_day() -> None:
    assert to_datetime("2025/3/1 9:30", "r1", "start") == dt.datetime(2025, 3, 1, 9, 30)
    assert to_datetime("2025年3月1日 19:05:30", "r1", "start") == \
        dt.datetime(2025, 3, 1, 19, 5, 30)
    for text in ("2025/3/1", "2025年3月1日", "2025/3/1 7pm"):
        with pytest.raises(RecordError) as e:
            to_datetime(text, "r1", "start")
        assert e.value.code == "INVALID_DATETIME"


def run(*args: Any) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output + result.stderr
    return result


@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_a_file_of_typed_dates_scores_as_its_iso_twin(tmp_path: Path, engine: str) -> None:
    """The example households with every last_visit respelled: the results are the same
    bytes as with ISO dates, from either engine."""
    lines = (EXAMPLES / "visits-households.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    at = header.index("last_visit")
    styles = [lambda d: f"{d.year}/{d.month}/{d.day}", lambda d: f"{d.year}年{d.month}月{d.day}日",
              lambda d: f"{d.year}.{d.month}.{d.day}",
              lambda d: f"{d.year}-{d.month}-{d.day}".translate(
                  {ord(c): ord(c) + 0xFEE0 for c in "0123456789-"})]
    respelled = [lines[0]]
    for n, line in enumerate(lines[1:]):
        cells = line.split(",")
        try:
            day = dt.date.fromisoformat(cells[at])
        except ValueError:
            pass  # blank, or already not a date: left as it is
        else:
            cells[at] = styles[n % len(styles)](day)
        respelled.append(",".join(cells))
    typed = tmp_path / "typed.csv"
    typed.write_text("\n".join(respelled) + "\n", encoding="utf-8")
    outs = []
    for path in (EXAMPLES / "visits-households.csv", typed):
        out = tmp_path / f"{path.stem}.jsonl"
        r = run("score", EXAMPLE_POLICY, "--scheme", "visits", path, "--as-of", "2025-12-31",
                "--engine", engine, "-o", out)
        assert r.exit_code == 0, r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


_STYLES = ["{y}/{m}/{d}", "{y}.{m}.{d}", "{y}-{m}-{d}", "{y}年{m}月{d}日", "{y} 年 {m:02d} 月 {d:02d} 号",
           "{y}/{m:02d}/{d:02d} 9:30"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days=st.lists(st.dates(min_value=dt.date(1000, 1, 1)), min_size=1, max_size=5),
       style=st.sampled_from(_STYLES), wide=st.booleans())
def test_both_engines_read_every_spelled_date_as_that_date(days: list[dt.date], style: str,
                                                           wide: bool) -> None:
    pytest.importorskip("polars")
    from civicscore.batch.frames import coerce_column, read_source
    from civicscore.policy.model import FactSpec

    texts = [style.format(y=d.year, m=d.month, d=d.day) for d in days]
    if wide:  # typed with a Chinese input method's full-width digits and slashes
        texts = [t.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789/.-:"})
                 for t in texts]
    got = coerce_column(read_source([{"f": t} for t in texts]), "f", FactSpec(type="date"))
    assert got.code.to_list() == [None] * len(days)
    assert got.value.to_list() == days == [to_date(t, "r1", "f") for t in texts]
