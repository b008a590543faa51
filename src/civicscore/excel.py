"""Reading an Excel workbook (``.xlsx``) as records, exactly as its CSV export would read.

Officers keep their lists in Excel; asking them to "save as CSV UTF-8" first is a step
that loses the sheet they meant, the dates they typed and, on a Chinese Windows, the
encoding. So a workbook is read directly, and every cell is turned into the *text* the
CSV reader would have been given for it, so that one rule (``records.coerce_fact``, and
its columnar twin in ``batch.frames``) reads both files, and an ``.xlsx`` scores exactly
as the same sheet saved as CSV:

* a number is written as Excel shows it: a whole number without ``.0`` (``1001``, not
  ``1001.0``: a household number typed as a number is still the id ``1001``), any other
  with Excel's 15 significant digits (``0.1 + 0.2`` is ``0.3``, as the cell displays);
* a date cell is ``YYYY-MM-DD``, a date-and-time cell ``YYYY-MM-DDTHH:MM:SS`` and a time
  cell ``HH:MM:SS`` (ISO, which every date fact reads); text typed as a date
  (``2025/3/1``) stays text and is read by the date rule like any CSV cell;
* ``TRUE``/``FALSE`` cells are ``true``/``false``; an empty cell is blank (missing), and
  an error cell (``#DIV/0!``) is its text, which no number or date fact accepts;
* the first non-blank row is the header. A header cell that is blank (the cells a merged
  header spans after its first, or a column nobody named) is named by its position,
  ``column C`` as Excel's column letter shows it, so nothing is silently dropped and two
  blank headers are not a clash.

The reader is python-calamine (the Rust calamine library, a binary wheel with no further
dependencies): reading a 10^5-row, five-column sheet on this project's shared machine
took it 1.9 s against openpyxl's 38 s in read-only mode (the command is in
docs/input-files.md); both give typed cells. It is optional:
``pip install 'civicscore[excel]'``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ._suggest import did_you_mean
from .errors import InputError
from .records import UnreadableRow, check_column_names

EXCEL_DIGITS = 15
"""Significant digits Excel shows (and keeps) of a number."""


def column_letter(index: int) -> str:
    """Excel's name of the column at 0-based ``index``: ``A``, ..., ``Z``, ``AA``, ..."""
    letters = ""
    n = index + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def cell_text(value: Any) -> str:
    """The text the CSV reader would be given for one Excel cell (see the module doc)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value == int(value) and abs(value) < 2**53:
            return str(int(value))
        return format(value, f".{EXCEL_DIGITS}g")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # a duration cell: as Excel's [h]:mm:ss shows it
        seconds = int(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return str(value)


def header_names(cells: list[Any]) -> list[str]:
    """The header row's names: each cell's text stripped, a blank one named ``column C``."""
    names = []
    for i, cell in enumerate(cells):
        text = cell_text(cell).strip()
        names.append(text or f"column {column_letter(i)}")
    return names


def _workbook(path: Path) -> Any:
    try:
        import python_calamine
    except ImportError:
        raise InputError(f"{path}: reading Excel files needs python-calamine: pip install "
                         f"'civicscore[excel]' (or save the sheet as CSV UTF-8)") from None
    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError:
        raise InputError(f"{path}: the workbook is protected by a password; save a copy "
                         f"without one") from None
    except Exception as e:  # calamine raises several types for damaged files
        raise InputError(f"{path}: not a readable Excel workbook ({str(e)[:200]})") from None


def sheet_names(path: str | Path) -> list[str]:
    """The names of a workbook's sheets, in order."""
    return list(_workbook(Path(path)).sheet_names)


def sheet_rows(path: Path, sheet: str | None = None) -> int:
    """How many rows a sheet spans (its header and blank rows included): what ``--engine
    auto`` weighs. An unreadable workbook counts 0 (the reader then says what is wrong).
    The sheet is kept for the reader that follows (:func:`_grid`)."""
    try:
        return len(_grid(path, sheet)[1])
    except InputError:
        return 0


def _sheet(path: Path, book: Any, sheet: str | None) -> tuple[str, Any]:
    names = list(book.sheet_names)
    if not names:
        raise InputError(f"{path}: the workbook has no sheets")
    if sheet is None:
        chosen = names[0]
    elif sheet in names:
        chosen = sheet
    elif sheet.isdigit() and 1 <= int(sheet) <= len(names):
        chosen = names[int(sheet) - 1]  # --sheet 2: the second sheet
    else:
        hint = did_you_mean(sheet, names)
        raise InputError(f"{path}: no sheet named {sheet!r}"
                         + (f" ({hint})" if hint else "")
                         + f"; its sheets are {', '.join(repr(n) for n in names)}")
    try:
        return chosen, book.get_sheet_by_name(chosen)
    except Exception as e:
        raise InputError(f"{path}: sheet {chosen!r} cannot be read ({str(e)[:200]})"
                         ) from None


def read_xlsx(path: Path, sheet: str | None = None
              ) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    """The records of one sheet (the first, or ``sheet`` by name or 1-based number): the
    first non-blank row names the columns, every later non-blank row is a record of the
    cells' texts (:func:`cell_text`). Blank rows are skipped, as blank CSV lines are.

    The workbook and the sheet are opened at once (a missing sheet or a damaged file is an
    :class:`InputError` here, before a run starts); the rows are then streamed."""
    name, grid = _grid(path, sheet)
    return _records(path, name, grid)


_LAST: dict[tuple[Any, ...], tuple[str, list[list[Any]]]] = {}
"""The last sheet read, by file identity: ``score`` looks at a workbook up to three times
(how many rows for ``--engine auto``, which columns, the records), and parsing it is the
cost; one entry, so memory holds one sheet at most."""


def _grid(path: Path, sheet: str | None) -> tuple[str, list[list[Any]]]:
    """The sheet's name and its cells, from A1, every row as long as the longest."""
    try:
        info = path.stat()
        key: tuple[Any, ...] = (str(path.resolve()), info.st_mtime_ns, info.st_size, sheet)
    except OSError:
        key = ()
    if key and key in _LAST:
        return _LAST[key]
    name, data = _sheet(path, _workbook(path), sheet)
    try:
        grid = data.to_python(skip_empty_area=False)
    except Exception as e:
        raise InputError(f"{path}: sheet {name!r} cannot be read ({str(e)[:200]})") from None
    _LAST.clear()
    if key:
        _LAST[key] = (name, grid)
    return name, grid


def _records(path: Path, name: str, grid: list[list[Any]]
             ) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    rows = iter(enumerate(grid, start=1))
    for line, cells in rows:
        if any(cell_text(c).strip() for c in cells):
            header = header_names(list(cells))
            check_column_names(path, header, f":{line} (sheet {name!r})")
            break
    else:
        return
    for _line, cells in rows:
        texts = [cell_text(c) for c in cells]
        if not any(t.strip() for t in texts):
            continue
        texts += [""] * (len(header) - len(texts))
        yield dict(zip(header, texts, strict=False))
