"""CSV input on Spark, read as local batch reads it (``io.read_records``, Python's ``csv``).

Spark's own CSV reader cannot give local batch's rows: it reads an empty cell as null
(local batch as ``""``), keeps a line of blank cells (``,,``) as a row of nulls (local
batch skips it and does not number it), pads a row with too few cells with nulls and
drops the cells of a row with too many (local batch rejects both as
``UNREADABLE_ROW``, ``row 7 (line 9) has 3 cells, the header has 8``), and has no line
numbers. So a CSV travels as the JSON records do (:mod:`civicscore.spark.json_input`):

* Spark reads the file as text, one Spark row a line (split on ``\\n`` only, as Python
  iterates a file; a ``\\r`` stays and ``csv`` reads it as the line end), numbered over
  the whole file; line 1 is the header, read on the driver with local batch's checks
  (its BOM, names stripped, blank or repeated names, names civicscore reserves).
* Each other line is parsed by ``csv.reader(..., strict=True)`` on an executor: a line
  of blank cells is no record and is dropped; the rest are numbered again (the reader's
  row numbers), and a row is its record as JSON text (a dict of the header's names to
  text cells, ``json`` gives the same strings back) or the reader's message.
* A quoted cell may hold a line break, and then a record is more than one line and a
  line cannot be parsed alone. A line with an odd number of ``"`` is the only way a
  cell can go on to the next line, so when Spark finds one (in the JVM) the driver reads
  the file with ``io.read_records`` itself, as for a JSON array: the same rows, read on
  one machine, then split.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..batch.frames import ROW, UNREADABLE
from ..errors import InputError
from ..record_words import unreadable_row
from . import json_input
from .json_input import LINE, MESSAGE, TEXT
from .numbering import numbered as _numbered
from .numbering import release

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

#: Stands for the row number in a message written before the rows are numbered.
_ROW_MARK = "\x00row\x00"
SCHEMA = "__json string, __json_unreadable string, __row bigint"


def read(spark: SparkSession, path: str, kept: list[DataFrame], reserved: tuple[str, ...] = (),
         start: int = 0, file: str | None = None) -> tuple[DataFrame, int]:
    """The rows of a CSV file as (``__json`` text, ``__json_unreadable`` message,
    ``__row``), numbered as the per-record reader numbers them, and how many there are;
    the frame they are persisted in is added to ``kept`` (``numbering.numbered``).
    ``reserved``: names civicscore's Spark steps use, refused as column names. ``start``
    and ``file``: the file is one of a directory, its rows numbered from ``start + 1``
    and its unreadable rows naming it ``file`` (as ``io.read_directory`` does)."""
    from pyspark.sql import functions as F

    local = "://" not in path
    if local and not Path(path).exists():
        raise InputError(f"{path}: no such file")
    json_input.utf8_only(path, "CSV")
    text = spark.read.option("lineSep", "\n").text(path).withColumnRenamed("value", TEXT)
    own: list[DataFrame] = []
    try:
        lines, total_lines = _numbered(text, own)
        lines = lines.withColumnRenamed(ROW, LINE)
        bad = lines.filter(~F.is_valid_utf8(F.col(TEXT))).select(LINE).limit(1).collect()
        if bad:
            json_input._check_text(path, local, int(bad[0][LINE]))
        if total_lines == 0:
            return spark.createDataFrame([], SCHEMA), 0
        first = lines.filter(F.col(LINE) == 1).select(TEXT).collect()[0][TEXT]
        quotes = F.length(F.col(TEXT)) - F.length(F.regexp_replace(F.col(TEXT), '"', ""))
        if lines.filter(quotes % 2 == 1).limit(1).count():  # a cell goes on to the next line
            return json_input._array(spark, path, "csv", start, file)
        header = _header(path, first[1:] if first.startswith("\ufeff") else first, reserved)
        cells = lines.filter(F.col(LINE) > 1).mapInArrow(
            _Cells(header, file), "__json string, __json_unreadable string, __line bigint")
        numbered, total = _numbered(cells, kept)
    finally:
        release(own)
    if start:
        numbered = numbered.withColumn(ROW, F.col(ROW) + F.lit(start).cast("long"))
    return numbered.mapInArrow(_Numbers(), SCHEMA), total


def _header(path: str, line: str, reserved: tuple[str, ...]) -> list[str]:
    """The header as ``io._read_csv`` reads it, with its errors."""
    from ..io import check_column_names

    try:
        header = next(csv.reader([line + "\n"], strict=True))
    except csv.Error as e:
        raise InputError(f"{path}:1: the header row cannot be read ({e})") from None
    except StopIteration:  # pragma: no cover - a line always gives a row
        header = []
    header = [h.strip() for h in header]
    check_column_names(path, header, ":1")
    for name in header:
        if name in (ROW, UNREADABLE):  # as the batch reader words it (frames._chunk)
            raise InputError(f"the input has a field named {name!r}, which civicscore "
                             f"reserves for its own bookkeeping; rename it")
        if name in reserved:
            raise InputError(f"{path}:1: the column {name!r} has a name civicscore uses for "
                             f"its own bookkeeping on Spark; rename it")
    return header


def cells_record(header: list[str], text: str, line: int, file: str | None = None
                 ) -> tuple[bool, str | None, str | None]:
    """One line (not the header) of a CSV whose cells stay on their line, as
    ``io._read_csv`` reads it: (is a row, the record as JSON text, the message of its
    ``UNREADABLE_ROW`` with :data:`_ROW_MARK` for its row number, naming ``file``, one
    file of a directory)."""
    try:
        cells = next(csv.reader([text + "\n"], strict=True))
    except csv.Error as e:
        return True, None, unreadable_row("unreadable_csv", file, row=_ROW_MARK, line=line,
                                          error=e)
    except StopIteration:  # pragma: no cover - a line always gives a row
        cells = []
    if not cells or all(not c.strip() for c in cells):
        return False, None, None  # blank line: not a record
    if len(cells) != len(header):
        return True, None, unreadable_row("unreadable_cells", file, row=_ROW_MARK, line=line,
                                          cells=len(cells), header=len(header))
    return True, json.dumps(dict(zip(header, cells, strict=True))), None


class _Cells:
    """Every line after the header parsed; the blank ones dropped."""

    def __init__(self, header: list[str], file: str | None = None) -> None:
        self.header, self.file = header, file

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in batches:
            texts: list[Any] = batch.column(TEXT).to_pylist()
            numbers: list[Any] = batch.column(LINE).to_pylist()
            out: list[list[Any]] = [[], [], []]
            for text, line in zip(texts, numbers, strict=True):
                is_row, record, message = cells_record(self.header, str(text), int(line),
                                                         self.file)
                if is_row:
                    for column, value in zip(out, (record, message, line), strict=True):
                        column.append(value)
            yield pa.record_batch([pa.array(out[0], pa.string()), pa.array(out[1], pa.string()),
                                   pa.array(out[2], pa.int64())], names=[TEXT, MESSAGE, LINE])


class _Numbers:
    """The row numbers put into the messages, once the rows are numbered."""

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in batches:
            rows: list[Any] = batch.column(ROW).to_pylist()
            messages = [None if m is None else str(m).replace(_ROW_MARK, str(r))
                        for m, r in zip(batch.column(MESSAGE).to_pylist(), rows, strict=True)]
            yield pa.record_batch([batch.column(TEXT), pa.array(messages, pa.string()),
                                   pa.array(rows, pa.int64())], names=[TEXT, MESSAGE, ROW])
