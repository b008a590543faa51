"""Reading records from and writing decisions to CSV, JSON Lines and Parquet.

The format is chosen by the file's extension. Readers stream (one row at a
time) and never give up on a bad row: a line that is not valid JSON, or a row
with the wrong number of CSV cells, becomes an :class:`UnreadableRow` that
the scheme rejects with a reason, so that *input rows = scored + rejected*
holds even for damaged files. Only a file that cannot be read at all (missing,
not UTF-8, unknown format) raises :class:`InputError`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from .errors import InputError
from .records import UnreadableRow

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
           ".parquet": "parquet"}


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{path}: unknown file type {suffix or '(none)'!r}; use "
                         f".csv, .jsonl, .json or .parquet")
    return FORMATS[suffix]


def read_records(path: str | Path) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    """Stream the rows of a CSV, JSON Lines, JSON (a list) or Parquet file."""
    p = Path(path)
    kind = format_of(p)
    if not p.is_file():
        raise InputError(f"{path}: no such file")
    if kind == "parquet":
        return _read_parquet(p)
    try:
        p.open("rb").close()
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None
    if kind == "csv":
        return _read_csv(p)
    if kind == "json":
        return _read_json(p)
    return _read_jsonl(p)


def _text_lines(path: Path) -> Iterator[str]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                yield raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{path}:{n}: the file is not UTF-8 text (save it as UTF-8; "
                                 f"Excel: 'CSV UTF-8')") from None


def _read_csv(path: Path) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    reader = csv.reader(_text_lines(path), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        raise InputError(f"{path}:1: the header row cannot be read ({e})") from None
    header = [h.strip() for h in header]
    check_column_names(path, header, ":1")
    row = 0
    while True:
        starts_at = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            if "unexpected end of data" in str(e):  # an unclosed quote swallowed the rest
                raise InputError(f"{path}:{starts_at}: a quoted cell is never closed "
                                 f"(a \" is missing); the rows after it cannot be read"
                                 ) from None
            row += 1
            yield UnreadableRow(row, f"row {row} (line {reader.line_num}) cannot be read: {e}")
            continue
        if not cells or all(not c.strip() for c in cells):
            continue  # blank line: not a record
        row += 1
        if len(cells) != len(header):
            yield UnreadableRow(row, f"row {row} (line {reader.line_num}) has {len(cells)} "
                                     f"cells, the header has {len(header)}")
            continue
        yield dict(zip(header, cells, strict=True))


def _read_jsonl(path: Path) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    row = 0
    for n, line in enumerate(_text_lines(path), start=1):
        if not line.strip():
            continue
        row += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            yield UnreadableRow(row, f"row {row} (line {n}) is not valid JSON: {e.msg}")
            continue
        except (ValueError, RecursionError) as e:  # 4300+ digit integers, deep nesting
            yield UnreadableRow(row, f"row {row} (line {n}) cannot be read: "
                                     f"{type(e).__name__}: {str(e)[:120]}")
            continue
        if not isinstance(value, dict):
            yield UnreadableRow(row, f"row {row} (line {n}) is not a JSON object")
            continue
        yield value


def _read_json(path: Path) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    try:
        data = json.loads("".join(_text_lines(path)))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:
        raise InputError(f"{path}: cannot be read as JSON ({type(e).__name__}: "
                         f"{str(e)[:120]})") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of records")
    for row, value in enumerate(data, start=1):
        yield value if isinstance(value, dict) else UnreadableRow(
            row, f"row {row} is not a JSON object")


def check_column_names(path: str | Path, names: Iterable[str], line: str = "") -> None:
    """Refuse an input whose columns are not uniquely named: which of two ``id``
    columns a record's id is would be a guess (and the engines would guess apart)."""
    names = [n.strip() for n in names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{path}{line}: column names appear twice: {', '.join(dupes)} "
                         f"(give each column its own name)")


def parquet_column_names(path: str | Path) -> list[str] | None:
    """A Parquet file's column names, duplicates kept (None without pyarrow)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None
    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except Exception as e:  # pyarrow raises several types for damaged files
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None


def _read_parquet(path: Path) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow: pip install 'civicscore[parquet]'"
                         ) from None
    try:
        file = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for damaged files
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None
    check_column_names(path, file.schema_arrow.names)

    def rows() -> Iterator[Mapping[str, Any]]:
        try:
            for batch in file.iter_batches(batch_size=65536):
                yield from batch.to_pylist()
        except Exception as e:  # a damaged row group shows only when it is read
            raise InputError(f"{path}: damaged Parquet data ({type(e).__name__}: "
                             f"{str(e)[:200]})") from None

    return rows()


# --- writing ------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    value = _cell(value)
    return "" if value is None else value


def write_rows(rows: Iterable[Mapping[str, Any]], target: str | Path | None,
               kind: str | None = None) -> int:
    """Write rows to a file (format by extension) or to stdout; returns the count.

    This is the one writer of ``civicscore score``: the batch engine's frames are
    written through it too (:func:`write_frame`), so that the engine never changes
    a byte of the output. CSV joins lists with ``'; '``; dates are ISO text;
    ``json`` is one JSON array, ``jsonl`` one object per line.
    """
    kind = kind or (format_of(target) if target else "jsonl")
    if kind == "parquet":
        return _write_parquet(rows, target)
    out: TextIO
    if target is None or str(target) == "-":
        out, close = sys.stdout, False
    else:
        out, close = Path(target).open("w", encoding="utf-8", newline="",
                                       errors="backslashreplace"), True
    n = 0
    try:
        if kind == "csv":
            writer: csv.DictWriter[str] | None = None
            for row in rows:
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow({k: _csv_cell(v) for k, v in row.items()})
                n += 1
        elif kind == "json":
            out.write("[")
            for row in rows:
                text = json.dumps({k: _cell(v) for k, v in row.items()}, ensure_ascii=False,
                                  indent=2, default=str)
                out.write(("," if n else "") + "\n  " + text.replace("\n", "\n  "))
                n += 1
            out.write("\n]\n" if n else "]\n")
        else:
            for row in rows:
                out.write(json.dumps({k: _cell(v) for k, v in row.items()},
                                     ensure_ascii=False, default=str))
                out.write("\n")
                n += 1
    finally:
        if close:
            out.close()
    return n


def write_frame(frame: Any, target: str | Path | None, kind: str | None = None) -> int:
    """Write a polars frame exactly as :func:`write_rows` writes the same rows.

    Text formats go through :func:`write_rows` a slice at a time (the frame's
    values are the per-record rows' values: lists, dates, ints, floats), so both
    engines write the same bytes; Parquet is written by the shared Parquet
    writer from the frame's own columns.
    """
    kind = kind or (format_of(target) if target else "jsonl")
    if kind == "parquet":
        return _write_parquet_table(frame.to_arrow(), target)
    slices = frame.iter_slices(50_000)
    return write_rows((row for part in slices for row in part.iter_rows(named=True)),
                      target, kind)


def _write_parquet(rows: Iterable[Mapping[str, Any]], target: str | Path | None) -> int:
    if target is None:
        raise InputError("Parquet output needs a file name (-o out.parquet)")
    try:
        import pyarrow as pa
    except ImportError:
        raise InputError("writing Parquet needs pyarrow: pip install 'civicscore[parquet]'"
                         ) from None
    data = [dict(r) for r in rows]
    return _write_parquet_table(pa.Table.from_pylist(data), target)


def _write_parquet_table(table: Any, target: str | Path | None) -> int:
    """One Parquet layout whichever engine made the rows: plain (not large or view)
    strings and lists, and text for a column with no value at all (so that an
    all-empty column has the same type from Python rows as from a frame)."""
    if target is None:
        raise InputError("Parquet output needs a file name (-o out.parquet)")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("writing Parquet needs pyarrow: pip install 'civicscore[parquet]'"
                         ) from None

    def plain(t: Any) -> Any:
        if pa.types.is_null(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return pa.string()
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
            return pa.list_(plain(t.value_type))
        return t

    schema = pa.schema([pa.field(f.name, plain(f.type)) for f in table.schema])
    pq.write_table(table.cast(schema), str(target))
    return int(table.num_rows)


def parse_json_record(text: str) -> Mapping[str, Any]:
    """A record given on the command line as JSON (or @file.json)."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as e:
            raise InputError(f"{text[1:]}: cannot be read ({e.strerror})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"--record is not valid JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(value, dict):
        raise InputError("--record must be a JSON object such as {\"record_id\": \"a1\", ...}")
    return value

