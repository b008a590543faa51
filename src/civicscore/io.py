"""Reading records from and writing decisions to CSV, JSON Lines and Parquet (and reading
Excel workbooks, through :mod:`civicscore.excel`).

The format is chosen by the file's extension. Readers stream (one row at a
time) and never give up on a bad row: a line that is not valid JSON, or a row
with the wrong number of CSV cells, becomes an :class:`UnreadableRow` that
the scheme rejects with a reason, so that *input rows = scored + rejected*
holds even for damaged files. Only a file that cannot be read at all (missing,
not UTF-8, unknown format, not a regular file) raises :class:`InputError`.

Every output is written to a temporary file beside its target and renamed into
place only when it is complete and on disk (:func:`output_file`), so a full
disk, a killed run or a bad row never leaves a cut-off results file under the
target's name; the command line stages all of a run's outputs and renames them
together (:func:`staged_outputs`). Text cells that a spreadsheet would run as a
formula are written with a leading quote in CSV (:func:`neutralise_formula`).
"""

from __future__ import annotations

import contextvars
import csv
import datetime as dt
import errno
import json
import math
import os
import re
import secrets
import stat
import sys
from collections.abc import Generator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO, cast

from .errors import InputError, UsageError
from .record_words import unreadable_row as _unreadable
from .records import UnreadableRow
from .records import check_column_names as check_column_names  # its home before excel.py

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
           ".parquet": "parquet", ".xlsx": "xlsx"}
INPUT_ONLY = {"xlsx"}
"""Formats read but never written: results for Excel are written as ``.csv``, which Excel
opens (with a byte-order mark, so that it reads the Chinese right)."""


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{path}: unknown file type {suffix or '(none)'!r}; use "
                         f".csv, .xlsx, .jsonl, .json or .parquet")
    return FORMATS[suffix]


@dataclass(frozen=True)
class InputOptions:
    """How text and workbook inputs are read: the encoding of CSV and JSON text (None:
    UTF-8, a byte-order mark allowed) and the sheet of a workbook (None: the first)."""

    encoding: str | None = None
    sheet: str | None = None


INPUT_OPTIONS: contextvars.ContextVar[InputOptions | None] = contextvars.ContextVar(
    "civicscore_input_options", default=None)
"""The options every reader of a run uses (the command line's ``--encoding`` and
``--sheet``), so that the per-record and batch readers, and extra inputs, read alike;
None is the defaults (:func:`input_options`)."""


def input_options() -> InputOptions:
    """The run's :data:`INPUT_OPTIONS`."""
    return INPUT_OPTIONS.get() or InputOptions()


MAX_JSON_BYTES = 1 << 30
"""Largest ``.json`` input (one list, parsed whole in memory): 1 GiB. Larger inputs are
refused before reading; write them as JSON Lines or CSV, which are read a row at a time."""

MAX_RECORD_BYTES = 16 << 20
"""Largest ``--record @file``: 16 MiB, checked before reading."""


def check_input_file(path: str | Path, what: str = "input") -> os.stat_result:
    """Refuse an input that is missing or not a regular file, before anything reads it.

    A FIFO would block the run forever, a device has no end, and a directory
    is a slip of the shell; each gets a message naming the path instead.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, ValueError) as e:  # a name too long, a NUL byte, a symlink loop
        raise InputError(f"{path}: cannot be read ({_reason(e)})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: {_not_regular(info.st_mode)}, not a file; give the "
                         f"{what} as a regular file")
    return info


def _not_regular(mode: int) -> str:
    """What a path that is not a regular file is, for a message."""
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device"
    if stat.S_ISSOCK(mode):
        return "is a socket"
    return "is a special file"


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__


def output_format(target: str | Path) -> str:
    """The format of an output, by its extension; a device such as ``/dev/null`` that has
    none is written as JSON Lines (what is written there is not kept)."""
    if Path(target).suffix.lower() not in FORMATS and _special(Path(target)):
        return "jsonl"
    kind = format_of(target)
    if kind in INPUT_ONLY:
        raise UsageError(f"{target}: civicscore reads .{kind} files but does not write "
                         f"them; write .csv, which Excel opens")
    return kind


# --- a directory of files, read as one input -----------------------------------------

DIRECTORY_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
                     ".parquet": "parquet", ".pq": "parquet"}
"""The files a directory may hold, by extension (as :data:`FORMATS` reads them alone, and
``.pq``, which Spark writes for Parquet too): all of one format."""
FORMAT_NAMES = {"csv": "CSV", "jsonl": "JSON Lines", "json": "JSON", "parquet": "Parquet"}


def hidden(name: str) -> bool:
    """Whether a file of a directory is no data: its name starts with ``_`` or ``.``
    (``_SUCCESS``, ``_committed_*``, ``.part-00000.crc``), as Spark and Hadoop skip it
    (``FileInputFormat``'s rule)."""
    return name.startswith(("_", "."))


def data_files(directory: str | Path) -> tuple[str, list[Path]]:
    """The data files of a directory read as one input, in the order their rows are read
    (by name, as ``ls`` lists them), and their one format: the single definition the
    local readers and ``civicscore.spark`` share. A file that :func:`hidden` says is no
    data is skipped; a subdirectory, a file of no format civicscore reads, files of
    several formats, or no data file at all is an InputError saying what to give."""
    path = Path(directory)
    try:
        entries = sorted(path.iterdir(), key=lambda p: p.name)
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({_reason(e)})") from None
    data = [p for p in entries if not hidden(p.name)]
    folders = [p for p in data if p.is_dir()]
    if folders:
        raise InputError(f"{path}: a directory with subdirectories ({folders[0].name}); "
                         f"civicscore reads a directory of files of one kind (CSV, JSON "
                         f"Lines, JSON or Parquet), not partition subdirectories; give the "
                         f"files in one directory, or one file")
    if not data:
        skipped = ", ".join(p.name for p in entries[:3]) or "nothing"
        raise InputError(f"{path}: a directory with no data files (it holds {skipped}; "
                         f"names that start with _ or . are skipped, as Spark and Hadoop "
                         f"skip them)")
    found: dict[str, Path] = {}
    for p in data:
        kind = DIRECTORY_FORMATS.get(p.suffix.lower())
        if kind is None:
            raise InputError(f"{path}: {p.name} is not a file civicscore reads in a "
                             f"directory (its files are all .csv, all .jsonl or .ndjson, "
                             f"all .json or all .parquet)")
        found.setdefault(kind, p)
    if len(found) > 1:
        kinds = " and ".join(f"{FORMAT_NAMES[k]} ({p.name})" for k, p in found.items())
        raise InputError(f"{path}: a directory is read as one input when its files are all "
                         f"of one kind, and it holds {kinds}; give the files of one kind")
    for p in data:
        check_input_file(p)
    return next(iter(found)), data


def _csv_header(path: Path, encoding: str | None) -> list[str] | None:
    """A CSV file's header as :func:`_read_csv` reads it (None: the file is empty)."""
    lines = _text_lines(path, encoding)
    try:
        header = next(csv.reader(lines, strict=True), None)
    except csv.Error as e:
        raise InputError(f"{path}:1: the header row cannot be read ({e})") from None
    finally:
        lines.close()
    return None if header is None else [h.strip() for h in header]


def directory_files(directory: str | Path, encoding: str | None = None
                    ) -> tuple[str, list[Path]]:
    """:func:`data_files`, and every CSV file's header (every Parquet file's columns) the
    first's: the files are one input, of one set of columns. An empty CSV file has no
    header, and no rows. ``encoding`` defaults to the run's :data:`INPUT_OPTIONS`."""
    kind, files = data_files(directory)
    if kind not in ("csv", "parquet"):
        return kind, files
    encoding = encoding or input_options().encoding
    what, verb = ("header", "differs") if kind == "csv" else ("columns", "differ")
    first: tuple[Path, list[str]] | None = None
    for p in files:
        names = _csv_header(p, encoding) if kind == "csv" else parquet_column_names(p)
        if names is None:
            continue
        if first is None:
            first = (p, names)
        elif names != first[1]:
            raise InputError(f"{p}: its {what} ({', '.join(names)}) {verb} from the {what} "
                             f"of {first[0].name} ({', '.join(first[1])}); the files of a "
                             f"directory are read as one input, and must have the same "
                             f"columns in the same order")
    return kind, files


def check_input(path: str | Path) -> None:
    """Refuse, before a run, an input that cannot be read: a file of an unknown type, a
    file that is missing or not a regular file, or a directory whose files are not one
    input (:func:`directory_files`)."""
    if Path(path).is_dir():
        directory_files(path)
        return
    format_of(path)  # an unknown file type first: it says what to give instead
    check_input_file(path)


def read_records(path: str | Path, *, encoding: str | None = None, sheet: str | None = None
                 ) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    """Stream the rows of a CSV, JSON Lines, JSON (a list), Parquet or Excel file, or of
    a directory of such files (:func:`read_directory`).

    ``encoding`` (text files) and ``sheet`` (workbooks) default to the run's
    :data:`INPUT_OPTIONS`."""
    options = input_options()
    encoding = encoding or options.encoding
    sheet = sheet or options.sheet
    if encoding:
        text_encoding(encoding)  # an unknown name is refused before anything is read
    p = Path(path)
    if p.is_dir():
        return read_directory(p, encoding)
    return _read_file(p, format_of(p), encoding, sheet, shown=path)


def read_directory(path: str | Path, encoding: str | None = None
                   ) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    """The rows of a directory's data files (:func:`directory_files`, checked before the
    first row), file after file, as if the files were one: rows are numbered through
    the whole input (row N of the second file is the first file's rows + N), and an
    unreadable row's message names its file and the file's own line."""
    kind, files = directory_files(path, encoding)

    def rows() -> Iterator[Mapping[str, Any] | UnreadableRow]:
        start = 0
        for p in files:
            for item in read_part(p, kind, start, encoding):
                start += 1
                yield item

    return rows()


def read_part(path: Path, kind: str, start: int, encoding: str | None = None
              ) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    """The rows of one file of a directory, the first numbered ``start + 1``, its
    unreadable rows naming the file (for :func:`read_directory` and Spark's readers)."""
    return _read_file(path, kind, encoding or input_options().encoding, None, start,
                      path.name)


def _read_file(p: Path, kind: str, encoding: str | None, sheet: str | None, start: int = 0,
               file: str | None = None, shown: str | Path | None = None
               ) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    """The rows of one file of format ``kind`` (``shown``: its path as the caller gave
    it, for the messages)."""
    shown = p if shown is None else shown
    info = check_input_file(p)
    if kind == "json" and info.st_size > MAX_JSON_BYTES:
        raise InputError(f"{shown}: a .json input is read whole and this one is larger than "
                         f"{MAX_JSON_BYTES >> 20} MiB; write it as JSON Lines (.jsonl) or CSV")
    if kind == "parquet":
        return _read_parquet(p)
    if kind == "xlsx":
        from .excel import read_xlsx

        return read_xlsx(p, sheet)
    try:
        p.open("rb").close()
    except OSError as e:
        raise InputError(f"{shown}: cannot be read ({e.strerror})") from None
    if kind == "csv":
        return _read_csv(p, encoding, start, file)
    if kind == "json":
        return _read_json(p, encoding, start, file)
    return _read_jsonl(p, encoding, start, file)


def text_encoding(name: str) -> str:
    """The codec ``--encoding NAME`` names (``gbk``, ``gb18030``, ``utf-8``, ``big5``...),
    or a UsageError: an unknown name, or an encoding whose line break is not the byte
    ``\\n`` (UTF-16, UTF-32), which the line readers cannot split."""
    import codecs

    try:
        info = codecs.lookup(name)
    except LookupError:
        raise UsageError(f"--encoding {name!r}: not an encoding Python knows (for Chinese "
                         f"Windows files use gb18030; others: utf-8, big5)") from None
    if "\n".encode(info.name) != b"\n" or "a".encode(info.name) != b"a":
        raise UsageError(f"--encoding {name!r}: files in {info.name} cannot be read; save "
                         f"the file as UTF-8")
    return info.name


def _guess(raw: bytes) -> str | None:
    """The encoding a line that is not UTF-8 reads as, for the message: GB18030 (GBK's
    superset, what Excel's plain "CSV" writes on a Chinese Windows) or Big5."""
    for name in ("gb18030", "big5"):
        try:
            text = raw.decode(name)
        except UnicodeDecodeError:
            continue
        if any("\u4e00" <= c <= "\u9fff" for c in text):  # it reads as Chinese
            return name
    return None


def _text_lines(path: Path, encoding: str | None = None) -> Generator[str, None, None]:
    """The lines of a text input: UTF-8 (a byte-order mark allowed) unless ``encoding``
    says otherwise. A line that is not valid text is an InputError naming the line, and,
    when the file is not UTF-8 but reads as Chinese in GB18030 or Big5, the option that
    reads it: the encoding is never guessed silently (a wrong guess turns every name into
    other characters without an error)."""
    codec = text_encoding(encoding) if encoding else None
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode(codec or "utf-8")
            except UnicodeDecodeError:
                if codec:
                    raise InputError(f"{path}:{n}: the file is not {codec} text (check "
                                     f"--encoding)") from None
                guess = _guess(raw)
                shown_name = {"gb18030": "GB18030", "big5": "Big5"}[guess] if guess else ""
                hint = (f"it reads as {shown_name}: add --encoding {guess}, or save it "
                        f"as UTF-8 (Excel: 'CSV UTF-8')" if guess else
                        "save it as UTF-8 (Excel: 'CSV UTF-8'), or name its encoding with "
                        "--encoding")
                raise InputError(f"{path}:{n}: the file is not UTF-8 text; {hint}") from None
            yield line[1:] if n == 1 and line.startswith("\ufeff") else line


def _read_csv(path: Path, encoding: str | None = None, start: int = 0, file: str | None = None
              ) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    reader = csv.reader(_text_lines(path, encoding), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        raise InputError(f"{path}:1: the header row cannot be read ({e})") from None
    header = [h.strip() for h in header]
    check_column_names(path, header, ":1")
    row = start
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
            yield UnreadableRow(row, _unreadable("unreadable_csv", file, row=row,
                                                 line=reader.line_num, error=e))
            continue
        if not cells or all(not c.strip() for c in cells):
            continue  # blank line: not a record
        row += 1
        if len(cells) != len(header):
            yield UnreadableRow(row, _unreadable("unreadable_cells", file, row=row,
                                                 line=reader.line_num, cells=len(cells),
                                                 header=len(header)))
            continue
        yield dict(zip(header, cells, strict=True))


def _read_jsonl(path: Path, encoding: str | None = None, start: int = 0,
                file: str | None = None) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    row = start
    for n, line in enumerate(_text_lines(path, encoding), start=1):
        if not line.strip():
            continue
        row += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            yield UnreadableRow(row, _unreadable("unreadable_json", file, row=row, line=n,
                                                 error=e.msg))
            continue
        except (ValueError, RecursionError) as e:  # 4300+ digit integers, deep nesting
            yield UnreadableRow(row, _unreadable("unreadable_csv", file, row=row, line=n,
                                                 error=f"{type(e).__name__}: {str(e)[:120]}"))
            continue
        if not isinstance(value, dict):
            yield UnreadableRow(row, _unreadable("unreadable_object_line", file, row=row,
                                                 line=n))
            continue
        yield value


def _read_json(path: Path, encoding: str | None = None, start: int = 0,
               file: str | None = None) -> Iterator[Mapping[str, Any] | UnreadableRow]:
    try:
        data = json.loads("".join(_text_lines(path, encoding)))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    except (ValueError, RecursionError) as e:
        raise InputError(f"{path}: cannot be read as JSON ({type(e).__name__}: "
                         f"{str(e)[:120]})") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of records")
    for item, value in enumerate(data, start=1):
        row = start + item
        yield value if isinstance(value, dict) else UnreadableRow(
            row, _unreadable("unreadable_object", file, row=row,
                             **({} if file is None else {"item": item})))


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


def date_out_of_range(path: Path | str, column: str) -> str:
    """The message for a Parquet date or time beyond what civicscore (and Python) can hold,
    the same from both engines."""
    return (f"{path}: column {column!r} holds a date outside the years 1 to 9999, which "
            f"civicscore cannot read (correct the value, or leave the cell empty)")


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

    def damaged(e: Exception) -> InputError:
        return InputError(f"{path}: damaged Parquet data ({type(e).__name__}: "
                          f"{str(e)[:200]})")

    def rows() -> Iterator[Mapping[str, Any]]:
        batches = file.iter_batches(batch_size=65536)
        while True:
            try:  # a damaged row group shows only when it is read
                batch = next(batches, None)
            except Exception as e:
                raise damaged(e) from None
            if batch is None:
                return
            try:
                converted = batch.to_pylist()
            except (OverflowError, ValueError) as e:  # a date Python cannot hold
                for name, column in zip(batch.schema.names, batch.columns, strict=True):
                    try:
                        column.to_pylist()
                    except (OverflowError, ValueError):
                        raise InputError(date_out_of_range(path, name)) from None
                raise damaged(e) from None
            except Exception as e:
                raise damaged(e) from None
            yield from converted

    return rows()


# --- writing ------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _csv_cell(value: Any, escape: bool = False) -> Any:
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value)
    value = _cell(value)
    if escape and isinstance(value, str):
        return neutralise_formula(value)
    return "" if value is None else value


# --- outputs: written whole or not at all -------------------------------------------


def cannot_write(target: str | Path, e: BaseException) -> UsageError:
    """The message for an output that cannot be written: the path and why, with what to do
    for the usual causes."""
    code = e.errno if isinstance(e, OSError) else None
    why = {errno.ENOENT: "the directory does not exist",
           errno.ENOTDIR: "a part of the path is not a directory",
           errno.EACCES: "permission denied", errno.EPERM: "permission denied",
           errno.EROFS: "the file system is read-only",
           errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
           errno.EFBIG: "the file is larger than this process may write (file size limit)",
           errno.EISDIR: "it is a directory"}.get(code or -1, _reason(e))
    return UsageError(f"cannot write {target}: {why}; nothing was written to it")


def is_stdout(target: str | Path | None) -> bool:
    return target is None or str(target) == "-"


def _special(target: Path) -> bool:
    """An existing target that is not a regular file (``/dev/null``, a terminal, a pipe):
    written directly, since it cannot be replaced by a rename."""
    try:
        return not stat.S_ISREG(os.stat(target).st_mode)
    except OSError:
        return False


class _Stage:
    """Outputs written so far in a :func:`staged_outputs` block: temporary file -> target."""

    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []


_STAGE: contextvars.ContextVar[_Stage | None] = contextvars.ContextVar("civicscore_stage",
                                                                     default=None)


def check_output_target(target: str | Path) -> None:
    """Refuse, before a run, an output that cannot be created: a missing directory, a
    directory in its place, a directory that is not writable."""
    path = Path(target)
    if _special(path):
        return
    if path.is_dir():
        raise cannot_write(target, OSError(errno.EISDIR, "is a directory"))
    parent = path.parent
    if not parent.is_dir():
        code = errno.ENOENT if not parent.exists() else errno.ENOTDIR
        raise cannot_write(target, OSError(code, os.strerror(code)))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise cannot_write(target, OSError(errno.EACCES, os.strerror(errno.EACCES)))
    if path.exists() and not os.access(path, os.W_OK):
        raise cannot_write(target, OSError(errno.EACCES, os.strerror(errno.EACCES)))


def _temporary(target: Path) -> tuple[Path, int]:
    """A new, hidden file beside ``target`` (the same file system, so the final rename is
    atomic), created with the permissions a plain ``open`` would give."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                         0o666)
        except FileExistsError:
            continue
        return tmp, fd
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(target))


def _sync_directory(directory: Path) -> None:
    """Make a rename durable (the directory entry on disk); best effort where a
    directory cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(pending: list[tuple[Path, Path]]) -> None:
    for tmp, target in pending:
        try:
            os.replace(tmp, target)
        except OSError as e:
            _discard([t for t, _ in pending])
            raise cannot_write(target, e) from None
    for directory in {t.parent for _, t in pending}:
        _sync_directory(directory)


def _discard(temps: Iterable[Path]) -> None:
    for tmp in temps:
        try:
            os.unlink(tmp)
        except OSError:
            pass


@contextmanager
def staged_outputs() -> Iterator[None]:
    """Hold back every output written inside the block and rename them all into place
    only when the block ends without error; on any error (or an interrupt) none of them
    appears and their temporary files are removed. The command line runs ``score`` in
    one such block, so a rejects file that cannot be written leaves no results either."""
    stage = _Stage()
    token = _STAGE.set(stage)
    try:
        yield
    except BaseException:
        _discard(t for t, _ in stage.pending)
        raise
    finally:
        _STAGE.reset(token)
    _commit(stage.pending)


@contextmanager
def output_file(target: str | Path, binary: bool = False) -> Iterator[IO[Any]]:
    """A file to write ``target`` through: a temporary file beside it, flushed, fsynced
    and renamed over ``target`` when the block ends (or, inside :func:`staged_outputs`,
    when that block ends). On an error nothing is left under either name; an
    ``OSError`` of the writing (a full disk, a missing directory, a file size limit) is a
    :class:`UsageError` naming ``target``. A target that exists and is not a regular
    file (``/dev/null``) is written directly."""
    path = Path(target)
    if _special(path):
        try:
            with path.open("wb" if binary else "w", **({} if binary else _TEXT)) as out:
                yield out
        except OSError as e:
            if e.filename not in (None, str(path)):
                raise
            raise cannot_write(target, e) from None
        return
    try:
        tmp, fd = _temporary(path)
    except OSError as e:
        raise cannot_write(target, e) from None
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else _TEXT)) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
    except OSError as e:
        _discard([tmp])
        if e.filename not in (None, str(tmp), str(path)):
            raise  # an input that failed to read while writing: not this output's fault
        raise cannot_write(target, e) from None
    except BaseException:
        _discard([tmp])
        raise
    stage = _STAGE.get()
    if stage is not None:
        stage.pending.append((tmp, path))
    else:
        _commit([(tmp, path)])


_TEXT: dict[str, Any] = {"encoding": "utf-8", "newline": "", "errors": "backslashreplace"}
"""How text outputs are encoded: UTF-8, newlines as written, unencodable text escaped."""


@contextmanager
def _text_output(target: str | Path | None) -> Iterator[TextIO]:
    """The text stream a writer writes to: stdout for None or ``-``, else the file, written
    whole or not at all (:func:`output_file`)."""
    if is_stdout(target):
        yield sys.stdout
        return
    assert target is not None
    with output_file(target) as out:
        yield cast(TextIO, out)


def write_text(target: str | Path, text: str) -> None:
    """Write one text output (the policy schema, a report) whole or not at all."""
    with output_file(target) as out:
        out.write(text)


# --- CSV formula neutralising ---------------------------------------------------------

CSV_ESCAPE: contextvars.ContextVar[bool] = contextvars.ContextVar("civicscore_csv_escape",
                                                                  default=True)
"""Whether CSV output neutralises formula-like text cells (the ``--no-csv-escape`` flag of
the command line turns it off for a run)."""

CSV_BOM: contextvars.ContextVar[bool] = contextvars.ContextVar("civicscore_csv_bom",
                                                               default=False)
"""Whether a CSV *file* starts with the UTF-8 byte-order mark: Excel on a Chinese Windows
reads a CSV without one in the system's GBK and shows UTF-8 Chinese as mojibake; with it,
Excel reads UTF-8. ``civicscore score`` writes it by default (its files are for officers;
``--no-bom`` turns it off); the library default stays off, since a program calling
:func:`write_rows` reads what it writes. Standard output never gets one (a pipe is read by
programs), nor do JSON and Parquet."""


def _bom(out: TextIO, target: str | Path | None) -> None:
    """Start a CSV output with the byte-order mark when :data:`CSV_BOM` asks for one."""
    if CSV_BOM.get() and not is_stdout(target):
        out.write("\ufeff")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_TEXT = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(_NUMBER_TEXT)  # ASCII digits: the polars writer matches the same
_NUMBER_PATTERN = "^" + _NUMBER_TEXT + "$"
_FORMULA_PATTERN = r"^[=+\-@\t\r]"


def _neutralised(text: Any) -> Any:
    """:func:`neutralise_formula` over a polars text column (the batch writer)."""
    import polars as pl

    col = pl.lit(text)
    risky = col.str.contains(_FORMULA_PATTERN) & ~col.str.contains(_NUMBER_PATTERN)
    return pl.select(pl.when(risky).then(pl.lit("'") + col).otherwise(col)).to_series()


def neutralise_formula(text: str) -> str:
    """A text cell a spreadsheet would evaluate (``=HYPERLINK(...)``, ``+SUM(...)``,
    ``@cmd``, a leading tab or carriage return) with a single quote put in front, as
    OWASP recommends for CSV injection; a number written as text (``-5``, ``+1.5e3``)
    is left alone, since a spreadsheet reads it as that number and runs nothing."""
    if text and text[0] in FORMULA_START and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def write_rows(rows: Iterable[Mapping[str, Any]], target: str | Path | None,
               kind: str | None = None, columns: Iterable[str] | None = None) -> int:
    """Write rows to a file (format by extension) or to stdout; returns the count.

    This is the one writer of ``civicscore score``: the batch engine's frames are
    written through it too (:func:`write_frame`), so that the engine never changes
    a byte of the output. CSV joins lists with ``'; '``; dates are ISO text;
    ``json`` is one JSON array, ``jsonl`` one object per line. ``columns`` is the CSV
    header written when there are no rows (an empty rejects file still says what it
    would hold).
    """
    kind = kind or (output_format(target) if target else "jsonl")
    if kind == "parquet":
        return _write_parquet(rows, target)
    n = 0
    escape = CSV_ESCAPE.get()
    with _text_output(target) as out:
        if kind == "csv":
            _bom(out, target)
            writer: csv.DictWriter[str] | None = None
            for row in rows:
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow({k: _csv_cell(v, escape) for k, v in row.items()})
                n += 1
            if writer is None and columns is not None:
                csv.writer(out).writerow(list(columns))
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
    return n


def write_frame(frame: Any, target: str | Path | None, kind: str | None = None) -> int:
    """Write a polars frame exactly as :func:`write_rows` writes the same rows.

    Text formats go through :func:`write_rows` a slice at a time (the frame's
    values are the per-record rows' values: lists, dates, ints, floats), so both
    engines write the same bytes; Parquet is written by the shared Parquet
    writer from the frame's own columns.
    """
    kind = kind or (output_format(target) if target else "jsonl")
    if kind == "parquet":
        return _write_parquet_table(frame.to_arrow(), target)
    if kind == "csv" and frame.height and _csv_columns(frame.head(0)) is not None:
        return _write_frame_csv(frame, target)
    if kind in ("json", "jsonl") and frame.height and frame.width \
            and _json_columns(frame.head(0), kind == "json") is not None:
        return _write_frame_json(frame, target, kind)
    slices = frame.iter_slices(50_000)
    return write_rows((row for part in slices for row in part.iter_rows(named=True)),
                      target, kind)


FRAME_SLICE_ROWS = 200_000
"""Rows formatted at a time when a frame is written as CSV (bounds the memory used)."""


_NOT_SCALAR: Any = object()
"""What :func:`_scalar_text` gives for a column that is not a scalar type it formats."""


def _scalar_text(col: Any, booleans: tuple[str, str]) -> Any:
    """A null, integer, boolean (as ``booleans``), date or float column as the text both
    writers put in a cell, the way Python formats the same values (``str``/``repr``,
    ``isoformat``); None when Python must format it (a year before 1000, which
    ``isoformat`` pads); :data:`_NOT_SCALAR` for any other type."""
    import polars as pl

    dtype = col.dtype
    if dtype == pl.Null:
        return pl.Series(col.name, [None] * col.len(), dtype=pl.String)
    if dtype.is_integer():
        return col.cast(pl.String)
    if dtype == pl.Boolean:
        return col.replace_strict({True: booleans[0], False: booleans[1]},
                                  return_dtype=pl.String)
    if dtype == pl.Date:
        if col.len() and not (1000 <= (col.dt.year().min() or 1000)
                              and (col.dt.year().max() or 1000) <= 9999):
            return None
        return col.cast(pl.String)
    if dtype == pl.Float64 or dtype == pl.Float32:
        return _float_cells(col.cast(pl.Float64))
    return _NOT_SCALAR


def _text_list(dtype: Any) -> bool:
    """A list of text: of String, of nothing, or of Categorical (a batch frame's
    ``reasons``, ``plan.words.reasons_dtype``), written as the same texts."""
    import polars as pl

    return isinstance(dtype, pl.List) and (dtype.inner in (pl.String, pl.Null)
                                           or isinstance(dtype.inner, pl.Categorical))


def _csv_columns(frame: Any, escape: bool = False) -> list[Any] | None:
    """Each column of ``frame`` as CSV cells, formatted in polars exactly as
    :func:`_csv_cell` and Python's csv module format the same Python values; None
    when a column has a type this does not cover (then rows go through Python)."""
    import polars as pl

    out = []
    for name, dtype in frame.schema.items():
        col = frame.get_column(name)
        if dtype == pl.String:
            text = col
        elif (scalar := _scalar_text(col, ("True", "False"))) is not _NOT_SCALAR:
            if scalar is None:
                return None
            text = scalar
        elif _text_list(dtype):
            if col.list.eval(pl.element().is_null()).list.any().any():
                return None  # str(None) inside a list: keep to Python
            text = col.cast(pl.List(pl.String)).list.join("; ")
        else:
            return None
        if escape and (dtype == pl.String or isinstance(dtype, pl.List)):
            text = _neutralised(text)
        out.append(text.fill_null(""))
    return out


def _float_cells(col: Any) -> Any:
    """``str(x)`` of every float (``repr``: polars writes the same shortest digits for
    0 and for 1e-4 <= |x| < 1e16, the rest are formatted by Python); inf and nan are
    empty, as :func:`_cell` makes them."""
    import polars as pl

    text = col.cast(pl.String)
    finite = col.is_finite()
    odd = (finite & (col != 0) & ((col.abs() < 1e-4) | (col.abs() >= 1e16))).fill_null(False)
    where = odd.arg_true()
    if where.len():
        text = text.scatter(where, [repr(x) for x in col.gather(where).to_list()])
    return pl.select(pl.when(pl.lit(finite.fill_null(True))).then(pl.lit(text))
                     .otherwise(None)).to_series()


def _csv_quoted(cells: Any, lone: bool) -> Any:
    """Python's csv.QUOTE_MINIMAL: quote a cell holding the delimiter, a quote or a line
    break (doubling quotes); an empty cell of a one-column row is written as \"\"."""
    import polars as pl

    needs = cells.str.contains(r'[,"\r\n]')
    quoted = pl.lit('"') + pl.lit(cells).str.replace_all('"', '""', literal=True) + pl.lit('"')
    rule = pl.when(pl.lit(needs)).then(quoted)
    if lone:
        cell = rule.when(pl.lit(cells) == "").then(pl.lit('""')).otherwise(pl.lit(cells))
    else:
        cell = rule.otherwise(pl.lit(cells))
    return pl.select(cell).to_series()


_JSON_ESCAPES = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}


def _json_text(expr: Any, controls: Iterable[str]) -> Any:
    """A JSON string literal of each text, as ``json.dumps(..., ensure_ascii=False)``
    writes it: backslash and quote escaped, and the ``controls`` characters that occur
    as \\n or \\u00XX."""
    import polars as pl

    expr = expr.str.replace_all("\\", "\\\\", literal=True).str.replace_all(
        '"', '\\"', literal=True)
    for ch in controls:
        expr = expr.str.replace_all(ch, _JSON_ESCAPES.get(ord(ch), f"\\u{ord(ch):04x}"),
                                    literal=True)
    return pl.lit('"') + expr + pl.lit('"')


def _controls(text: Any) -> list[str]:
    """The control characters (U+0000-U+001F) that occur in a text column."""
    found = text.str.extract_all(r"[\x00-\x1f]").explode().drop_nulls().unique()
    return sorted(found.to_list())


def _json_columns(frame: Any, indented: bool) -> list[Any] | None:
    """Each column of ``frame`` as JSON values, written exactly as :func:`write_rows`
    writes the same Python values; None for a type this does not cover."""
    import polars as pl

    out = []
    for name, dtype in frame.schema.items():
        col = frame.get_column(name)
        if dtype == pl.String:
            text = pl.select(_json_text(pl.lit(col), _controls(col))).to_series()
        elif (scalar := _scalar_text(col, ("true", "false"))) is not _NOT_SCALAR:
            if scalar is None:
                return None
            # a date is a JSON string; the other scalars are written bare
            text = pl.select(pl.lit('"') + pl.lit(scalar) + pl.lit('"')).to_series() \
                if dtype == pl.Date else scalar
        elif _text_list(dtype):
            items = col.cast(pl.List(pl.String))
            encoded = items.list.eval(_json_text(pl.element(), _controls(items.explode()))
                                      .fill_null("null"))
            start, sep, end = ("[\n      ", ",\n      ", "\n    ]") if indented \
                else ("[", ", ", "]")
            text = pl.select(pl.when(pl.lit(items).list.len() == 0).then(pl.lit("[]"))
                             .otherwise(pl.lit(start) + pl.lit(encoded).list.join(sep)
                                        + pl.lit(end))).to_series()
        else:
            return None
        out.append(text.fill_null("null"))
    return out


def _write_frame_json(frame: Any, target: str | Path | None, kind: str) -> int:
    """A frame as JSON (one array, indented) or JSON Lines, byte for byte what
    :func:`write_rows` writes for its rows."""
    import polars as pl

    indented = kind == "json"
    keys = [json.dumps(str(c), ensure_ascii=False) + ": " for c in frame.columns]
    start, sep, end = ("  {\n    ", ",\n    ", "\n  }") if indented else ("{", ", ", "}")
    n = 0
    with _text_output(target) as out:
        if indented:
            out.write("[")
        for part in frame.iter_slices(FRAME_SLICE_ROWS):
            cells = _json_columns(part, indented)
            if cells is None:  # values the vectorised path leaves to Python
                rows = [json.dumps({k: _cell(v) for k, v in row.items()}, ensure_ascii=False,
                                   indent=2 if indented else None, default=str)
                        for row in part.iter_rows(named=True)]
                lines = [r.replace("\n", "\n  ") if indented else r for r in rows]
                lines = [("  " + r) if indented else r for r in lines]
            else:
                joined = pl.select(pl.lit(start) + pl.concat_str(
                    [pl.lit(k) + pl.lit(c) for k, c in zip(keys, cells, strict=True)],
                    separator=sep) + pl.lit(end)).to_series()
                lines = joined.to_list()
            if indented:
                out.write(("," if n else "") + "\n" + ",\n".join(lines))
            else:
                out.write("\n".join(lines) + "\n")
            n += len(lines)
        if indented:
            out.write("\n]\n" if n else "]\n")
    return n


def _write_frame_csv(frame: Any, target: str | Path | None) -> int:
    """A frame as CSV, byte for byte what :func:`write_rows` writes for its rows."""
    import polars as pl

    lone = frame.width == 1
    escape = CSV_ESCAPE.get()
    with _text_output(target) as out:
        _bom(out, target)
        header = pl.Series(frame.columns, dtype=pl.String)
        out.write(",".join(_csv_quoted(header, lone).to_list()) + "\r\n")
        for part in frame.iter_slices(FRAME_SLICE_ROWS):
            cells = _csv_columns(part, escape)
            if cells is None:  # a slice with values the vectorised path leaves to Python
                writer = csv.writer(out)
                for row in part.iter_rows():
                    writer.writerow([_csv_cell(v, escape) for v in row])
                continue
            lines = pl.select(pl.concat_str([pl.lit(_csv_quoted(c, lone)) for c in cells],
                                            separator=",")).to_series()
            out.write("\r\n".join(lines.to_list()) + "\r\n")
    return int(frame.height)


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
        if pa.types.is_dictionary(t):
            return pa.dictionary(pa.int32(), plain(t.value_type))
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
            return pa.list_(plain(t.value_type))
        return t

    def typed(name: str, t: Any) -> Any:
        t = plain(t)
        if name == "reasons" and pa.types.is_list(t) and pa.types.is_string(t.value_type):
            # a list of dictionary-encoded text, from Python rows as from a batch frame
            # (whose reasons are List(Categorical): plan.words.reasons_dtype)
            return pa.list_(pa.dictionary(pa.int32(), pa.string()))
        return t

    schema = pa.schema([pa.field(f.name, typed(f.name, f.type)) for f in table.schema])
    with output_file(target, binary=True) as out:
        pq.write_table(table.cast(schema), out)
    return int(table.num_rows)


def parse_json_record(text: str) -> Mapping[str, Any]:
    """A record given on the command line as JSON (or @file.json)."""
    if text.startswith("@"):
        name = text[1:]
        info = check_input_file(name, "record")
        if info.st_size > MAX_RECORD_BYTES:
            raise InputError(f"{name}: larger than {MAX_RECORD_BYTES >> 20} MiB; a --record "
                             f"file holds one record")
        try:
            with open(name, "rb") as f:
                raw = f.read(MAX_RECORD_BYTES + 1)
        except OSError as e:
            raise InputError(f"{name}: cannot be read ({_reason(e)})") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
            raise InputError(f"{name}:{line}:{col}: the file is not UTF-8 text (save it as "
                             f"UTF-8)") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"--record is not valid JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(value, dict):
        raise InputError("--record must be a JSON object such as {\"record_id\": \"a1\", ...}")
    return value

