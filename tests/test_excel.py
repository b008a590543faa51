"""Excel workbooks in: an officer's ``.xlsx`` scores exactly as the same sheet saved as CSV.

The workbooks are written here with openpyxl, with typed cells (numbers, dates, times,
booleans) as Excel stores them, merged header cells and extra sheets, and read through
the real reader (python-calamine)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from civicscore.cli import main
from civicscore.errors import InputError
from civicscore.excel import cell_text, column_letter
from civicscore.io import read_records

from .conftest import EXAMPLE_POLICY, EXAMPLES


def run(*args: Any) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output + result.stderr
    return result


def typed(column: str, text: str) -> Any:
    """A CSV cell as an officer's Excel holds it: numbers as numbers, dates as dates."""
    if not text:
        return None
    if column in ("last_visit", "discharged_on", "bereaved_on"):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return text  # typed as text (2025/12/32): it stays text, as in the CSV
    if text.lstrip("-").isdigit():
        return int(text)
    return text


def workbook_of(csv_path: Path, target: Path, *, title_sheet: bool = False,
                merged_note: bool = False) -> Path:
    """The CSV's rows as a workbook with typed cells (and, optionally, a first sheet that is
    not the data, and a merged header spanning two unnamed columns)."""
    with csv_path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    if title_sheet:
        sheet.title = "说明"
        sheet.append(["这一页不是数据"])
        sheet = book.create_sheet("住户")
    header = rows[0] + (["备注", None] if merged_note else [])
    sheet.append(header)
    if merged_note:
        last = column_letter(len(header) - 1)
        before = column_letter(len(header) - 2)
        sheet.merge_cells(f"{before}1:{last}1")
    for row in rows[1:]:
        sheet.append([typed(c, v) for c, v in zip(rows[0], row, strict=True)]
                     + (["独居", "需关注"] if merged_note else []))
        sheet.append([None] * len(header))  # a blank row: skipped, as a blank CSV line
    book.save(target)
    return target


@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_an_excel_export_scores_as_its_csv(tmp_path: Path, engine: str) -> None:
    """Typed cells (numbers, dates), a blank row after every record, a merged header over
    two extra columns and the data on the second sheet: the results are byte for byte those
    of the CSV, from either engine."""
    source = EXAMPLES / "visits-households.csv"
    book = workbook_of(source, tmp_path / "households.xlsx", title_sheet=True,
                       merged_note=True)
    outs = {}
    for name, args in (("csv", [source]), ("xlsx", [book, "--sheet", "住户"])):
        out = tmp_path / f"{name}.jsonl"
        r = run("score", EXAMPLE_POLICY, "--scheme", "visits", *args, "--engine", engine,
                "--as-of", "2025-12-31", "-o", out)
        assert r.exit_code == 0, r.stderr
        outs[name] = out.read_bytes()
    assert outs["xlsx"] == outs["csv"]


def test_cells_are_read_as_the_csv_reader_reads_text() -> None:
    assert cell_text(1001.0) == "1001"  # a household number typed as a number is still 1001
    assert cell_text(81.5) == "81.5"
    assert cell_text(0.1 + 0.2) == "0.3"  # Excel's 15 significant digits, as the cell shows
    assert cell_text(-3) == "-3" and cell_text(True) == "true" and cell_text(None) == ""
    assert cell_text(dt.date(2025, 3, 1)) == "2025-03-01"
    assert cell_text(dt.datetime(2025, 3, 1, 9, 30)) == "2025-03-01T09:30:00"
    assert cell_text(dt.time(9, 30)) == "09:30:00"
    assert cell_text(dt.timedelta(hours=26, minutes=5)) == "26:05:00"
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


def test_typed_cells_and_unnamed_columns(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([None, None, None])  # leading blank rows: the header is the first with text
    sheet.append(["household_id", "地址", None, "age", "visited", "start", "alone"])
    sheet.merge_cells("B2:C2")
    sheet.append([1001, "幸福路", "3号", 80, dt.date(2025, 3, 1),
                  dt.datetime(2025, 3, 1, 9, 30), True])
    path = tmp_path / "t.xlsx"
    book.save(path)
    assert list(read_records(path)) == [{
        "household_id": "1001", "地址": "幸福路", "column C": "3号", "age": "80",
        "visited": "2025-03-01", "start": "2025-03-01T09:30:00", "alone": "true"}]


def test_sheets_by_name_or_number_and_a_sheet_that_is_not_there(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "一月"
    first.append(["id"])
    first.append(["a"])
    second = book.create_sheet("二月")
    second.append(["id"])
    second.append(["b"])
    path = tmp_path / "months.xlsx"
    book.save(path)
    assert list(read_records(path)) == [{"id": "a"}]
    assert list(read_records(path, sheet="二月")) == [{"id": "b"}]
    assert list(read_records(path, sheet="2")) == [{"id": "b"}]
    with pytest.raises(InputError, match=r"no sheet named '三月'; its sheets are '一月', '二月'"):
        read_records(path, sheet="三月")


def test_duplicate_headers_damaged_and_empty_workbooks(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "age", "id"])
    path = tmp_path / "dupes.xlsx"
    book.save(path)
    with pytest.raises(InputError, match=r"dupes.xlsx:1 \(sheet 'Sheet'\): column names "
                                         r"appear twice: id \(columns 1 and 3\)"):
        list(read_records(path))
    empty = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(empty)
    assert list(read_records(empty)) == []
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(InputError, match=r"damaged\.xlsx: not a readable Excel workbook"):
        read_records(damaged)


def test_the_command_line_on_workbooks(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(b"not a zip")
    r = run("score", EXAMPLE_POLICY, "--scheme", "visits", damaged)
    assert r.exit_code == 2 and "not a readable Excel workbook" in r.stderr
    book = workbook_of(EXAMPLES / "visits-households.csv", tmp_path / "h.xlsx")
    r = run("score", EXAMPLE_POLICY, "--scheme", "visits", book, "--sheet", "Shet")
    assert r.exit_code == 2 and "no sheet named 'Shet' (did you mean 'Sheet'?)" in r.stderr
    r = run("score", EXAMPLE_POLICY, "--scheme", "visits", book, "-o", tmp_path / "out.xlsx")
    assert r.exit_code == 2 and "reads .xlsx files but does not write them" in r.stderr
    assert not (tmp_path / "out.xlsx").exists()
