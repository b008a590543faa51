"""JSON input on Spark, read as local batch reads it (``io.read_records``).

Spark's own JSON reader cannot give local batch's result: it decides one Spark type
per column over the whole file (local batch keeps a field whose values have several
Python types as values, coerced one by one as the per-record path does), and it puts
a line that is not JSON in a ``_corrupt_record`` column (local batch rejects it as
``UNREADABLE_ROW`` with its row and line number). So a record travels through the
split as its JSON text, and each step parses it with Python's ``json``, the parser of
the per-record reader:

* **JSON Lines** (``.jsonl``, ``.ndjson``) are read by Spark as text, one Spark row a
  line (split on ``\\n`` only, as Python's file iteration splits them), numbered over
  the whole file; blank lines are dropped (they are no record) and the rest numbered
  again: the row numbers of the reader. A line that is not JSON, or not an object,
  carries the reader's message (:func:`line_record`, tested line for line against
  ``io.read_records``).
* **A JSON array** (``.json``) is one document and does not split: the driver reads
  it with ``io.read_records`` itself (its errors, its 1 GiB bound) and hands Spark
  one row per item, the record as JSON text (``json.dumps`` then ``json.loads`` gives
  back the same Python values) or the reader's message for an item that is no object.

In a bucket the records are built into a frame by the batch reader
(``batch.frames.read_source``, the same column typing); rows that are not records are
decided by the scheme's batch alone, their ``row`` put back to the whole input's.
Spark reads text as UTF-8: ``--encoding`` other than UTF-8 is refused, and a file with
a line that is not valid UTF-8 (``is_valid_utf8``, in the JVM) is refused by the
per-record reader on the driver, which names the line as local batch does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..batch.frames import ROW, UNREADABLE, Numbered, read_source
from ..errors import InputError
from ..record_words import unreadable_row
from ..records import UnreadableRow
from .numbering import numbered as _numbered
from .numbering import release

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

TEXT, MESSAGE, RAW_ID, LINE = "__json", "__json_unreadable", "__json_id", "__line"
KINDS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}


def kind_of(source: Any) -> str | None:
    """``"jsonl"`` or ``"json"`` for a path Spark reads as JSON here, else None."""
    if isinstance(source, (str, Path)):
        return KINDS.get(Path(str(source)).suffix.lower())
    return None


def line_record(text: str, row: int, line: int, file: str | None = None
                ) -> tuple[Any, str | None]:
    """One non-blank line of JSON Lines as ``io.read_records`` reads it: the record, or
    None and the message of its ``UNREADABLE_ROW`` (naming ``file``, one file of a
    directory, as ``io.read_directory`` does)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        return None, unreadable_row("unreadable_json", file, row=row, line=line, error=e.msg)
    except (ValueError, RecursionError) as e:  # 4300+ digit integers, deep nesting
        return None, unreadable_row("unreadable_csv", file, row=row, line=line,
                                    error=f"{type(e).__name__}: {str(e)[:120]}")
    if not isinstance(value, dict):
        return None, unreadable_row("unreadable_object_line", file, row=row, line=line)
    return value, None


def utf8_only(path: str, what: str) -> None:
    """Refuse an ``--encoding`` other than UTF-8: Spark reads text as UTF-8 only."""
    from ..io import input_options

    encoding = input_options().encoding
    if encoding and encoding.replace("-", "").replace("_", "").lower() != "utf8":
        raise InputError(f"{path}: Spark reads {what} as UTF-8 only; save the file as "
                         f"UTF-8, or score it with --engine batch (which reads {encoding})")


def read(spark: SparkSession, path: str, kind: str, kept: list[DataFrame], start: int = 0,
         file: str | None = None) -> tuple[DataFrame, int]:
    """The rows of a JSON input as (``__json`` text, ``__json_unreadable`` message,
    ``__row``), numbered over the whole input, and how many rows there are; the frame
    the rows are persisted in is added to ``kept`` (``numbering.numbered``). ``start``
    and ``file``: the file is one of a directory, its rows numbered from ``start + 1``
    and its unreadable rows naming it ``file``."""
    local = "://" not in path
    if local and not Path(path).exists():
        raise InputError(f"{path}: no such file")
    if kind == "json":
        return _array(spark, path, kind, start, file)
    utf8_only(path, "JSON Lines")
    from pyspark.sql import functions as F

    text = spark.read.option("lineSep", "\n").text(path).withColumnRenamed("value", TEXT)
    own: list[DataFrame] = []
    try:
        lines, total_lines = _numbered(text, own)
        lines = lines.withColumnRenamed(ROW, LINE)
        bad = lines.filter(~F.is_valid_utf8(F.col(TEXT))).select(LINE).limit(1).collect()
        if bad:
            _check_text(path, local, int(bad[0][LINE]))
        # blank lines are no record: Python's str.strip() decides, as the reader's does
        records = lines.mapInArrow(_NotBlank(), lines.schema)
        numbered, total = _numbered(records, kept)
    finally:
        release(own)
    if start:
        numbered = numbered.withColumn(ROW, F.col(ROW) + F.lit(start).cast("long"))
    # the reader parses a line with its line break ("\n" inside a string is another
    # error than a string cut short); Spark gives the line without it, and the last
    # line of a file that does not end with one has none
    bare = total_lines if local and not _ends_with_newline(path) else 0
    parsed = numbered.mapInArrow(_Parse(file, bare), "__json string, __json_unreadable "
                                                     "string, __row bigint")
    return parsed, total


def _check_text(path: str, local: bool, line: int) -> None:
    """Spark found bytes that are not UTF-8 in ``line`` (it hands them on undecoded). The
    per-record reader refuses the file with local batch's message (naming the line, and
    the encoding it reads as); a file the driver cannot open is refused naming the line."""
    if local:
        from ..io import read_records

        for _ in read_records(path):  # raises the reader's InputError at the first such line
            pass
    raise InputError(f"{path}:{line}: the file is not UTF-8 text; save it as UTF-8 (Spark "
                     f"reads JSON Lines as UTF-8 only)")


class _NotBlank:
    """The lines that are not blank (``str.strip()``), the first one without its BOM."""

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in batches:
            read: list[Any] = batch.column(TEXT).to_pylist()  # text, never null
            lines: list[Any] = batch.column(LINE).to_pylist()
            texts = [str(t)[1:] if n == 1 and str(t).startswith("\ufeff") else str(t)
                     for t, n in zip(read, lines, strict=True)]
            keep = [bool(t.strip()) for t in texts]
            batch = batch.set_column(batch.schema.get_field_index(TEXT), TEXT,
                                     pa.array(texts, pa.string()))
            yield batch.filter(pa.array(keep, pa.bool_()))


def _ends_with_newline(path: str) -> bool:
    """Whether a (local) file's last byte is ``\n`` (an empty file: True)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        if not f.tell():
            return True
        f.seek(-1, 2)
        return f.read(1) == b"\n"


class _Parse:
    """Each record line parsed, with its line break as the reader reads it (but line
    ``bare``, the last of a file with no line break at its end): kept as text when it is
    an object, else the message (naming ``file``, one file of a directory)."""

    def __init__(self, file: str | None = None, bare: int = 0) -> None:
        self.file, self.bare = file, bare

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in batches:
            texts, lines, rows = (list[Any](batch.column(c).to_pylist())
                                  for c in (TEXT, LINE, ROW))
            messages = [line_record(str(t) if n == self.bare else str(t) + "\n", int(r),
                                    int(n), self.file)[1]
                        for t, r, n in zip(texts, rows, lines, strict=True)]
            texts = [None if m else t for t, m in zip(texts, messages, strict=True)]
            yield pa.record_batch([pa.array(texts, pa.string()), pa.array(messages, pa.string()),
                                   pa.array(rows, pa.int64())], names=[TEXT, MESSAGE, ROW])


def _array(spark: SparkSession, path: str, kind: str | None = None, start: int = 0,
           file: str | None = None) -> tuple[DataFrame, int]:
    """The rows of ``path`` read on the driver by the per-record reader (a file, or a
    directory: ``io.read_directory``); for one file of a directory (``file``), by
    ``io.read_part``, numbered from ``start + 1``."""
    from ..io import read_part, read_records

    texts: list[str | None] = []
    messages: list[str | None] = []
    items = read_records(path) if file is None or kind is None \
        else read_part(Path(path), kind, start)
    for item in items:
        if isinstance(item, UnreadableRow):
            texts.append(None)
            messages.append(item.message)
        else:
            texts.append(json.dumps(item))
            messages.append(None)
    import pyarrow as pa

    table = pa.table({TEXT: pa.array(texts, pa.string()), MESSAGE: pa.array(messages, pa.string()),
                      ROW: pa.array(range(start + 1, start + len(texts) + 1), pa.int64())})
    schema = "__json string, __json_unreadable string, __row bigint"
    return spark.createDataFrame(table, schema), len(texts)


def records(texts: list[str | None], messages: list[str | None], raw_ids: list[str | None],
            ghosts: list[bool], id_field: str) -> list[Any]:
    """A bucket's rows as the per-record reader gives them: a record, an
    ``UnreadableRow`` (row numbers are put back by the caller), or for a copy of an id's
    first row (``Split.duplicates == "ghost"``) a record holding only that id."""
    out: list[Any] = []
    for text, message, raw, ghost in zip(texts, messages, raw_ids, ghosts, strict=True):
        if ghost:
            out.append({} if raw is None else {id_field: json.loads(raw)})
        elif message is not None:
            out.append(UnreadableRow(0, message))
        else:
            out.append(json.loads(text or "{}"))
    return out


def frame_of(items: list[Any], rows: list[int]) -> pl.DataFrame:
    """The records among ``items`` as the batch reader builds them into columns, each
    with its row number in the whole input (``__row``), for :class:`Numbered`."""
    kept = [(item, row) for item, row in zip(items, rows, strict=True)
            if isinstance(item, Mapping)]
    frame = read_source([item for item, _ in kept]).drop(UNREADABLE)
    return frame.with_columns(pl.Series(ROW, [row for _, row in kept], dtype=pl.Int64))


def unreadable(items: list[Any], rows: list[int]) -> tuple[list[UnreadableRow], list[int]]:
    """The rows among ``items`` that are no record, and their rows in the whole input."""
    pairs = [(item, row) for item, row in zip(items, rows, strict=True)
             if isinstance(item, UnreadableRow)]
    return ([UnreadableRow(i, item.message) for i, (item, _) in enumerate(pairs, start=1)],
            [row for _, row in pairs])


__all__ = ["Numbered", "frame_of", "kind_of", "line_record", "read", "records", "unreadable"]
