"""Input for the batch evaluator: any source -> one polars frame -> typed fact columns.

Sources: a polars DataFrame or LazyFrame, a pandas DataFrame, a pyarrow Table,
a list of mappings, or a path to CSV, JSON Lines, JSON or Parquet. Parquet is
scanned by polars and never becomes Python objects. CSV and JSON are read by
the very readers the per-record path uses (``io.read_records``), in chunks, so
a ragged CSV line or a JSON line that is not an object is the same
``UNREADABLE_ROW`` in both evaluators, and the row numbers are the same.

Coercion must accept and refuse exactly what ``records.coerce_fact`` does.
Rather than re-implement every rule of that function in polars (and drift
from it), each fact column is split three ways:

* missing (null, or blank text): the default, "never" for optional dates, or
  ``MISSING_FIELD``, vectorised;
* values of the natural column type, or text in the one plain spelling
  (``12``, ``-3.5``, ``2025-01-31``, ``true``): converted vectorised;
* everything else (``1,200``, ``是``, a float in an int column, typos): sent
  to ``coerce_fact`` itself, once per *distinct* value, and joined back.

Range and enum checks then run vectorised on the converted values.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError, RecordError
from ..expr.ir import MAX_SAFE_INT
from ..policy.model import FactSpec
from ..record_words import say
from ..records import (
    _FALSE,
    _TRUE,
    FORMAT_CATEGORY,
    NEVER,
    UNASSIGNED_CATEGORY,
    UnreadableRow,
    coerce_fact,
    fact_default,
    is_missing,
    normal_id,
)

ROW = "__row"
"""1-based row number of the input, as the per-record readers count rows."""
UNREADABLE = "__unreadable"
"""The reader's message for a row that is not a record at all (else null)."""

CHUNK_ROWS = 200_000
FACT_DTYPES: dict[str, pl.DataType] = {
    "bool": pl.Boolean(), "int": pl.Int64(), "decimal": pl.Float64(), "date": pl.Date(),
    "string": pl.String(), "enum": pl.String(),
}

#: Exactly the characters Python's ``str.strip()`` removes (Unicode White_Space plus the
#: four information separators \x1c-\x1f), so stripping agrees with ``records.py``.
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003"
                 "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_PLAIN_INT = r"^[+-]?[0-9]{1,16}$"
_PLAIN_DECIMAL = r"^[+-]?[0-9]{1,300}(\.[0-9]{1,300})?$"
_PLAIN_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_NON_ASCII = r"[^\x00-\x7F]"
_ID_TEXT = FactSpec(type="string")
"""How an id is read before it is normalised: text, stripped, a broken surrogate refused."""


def strip(text: pl.Series) -> pl.Series:
    return text.str.strip_chars(PY_WHITESPACE)


# --- ids -----------------------------------------------------------------------------------


@cache
def _category_classes() -> dict[str, str]:
    """A regular-expression character class (polars' syntax) of every code point of the
    format and of the unassigned category, from this Python's ``unicodedata``: the very
    table ``records.normal_id`` consults, so the two engines drop the same characters.
    Built on first use (it walks all of Unicode, a few tenths of a second)."""
    wanted = (FORMAT_CATEGORY, UNASSIGNED_CATEGORY)
    ranges: dict[str, list[str]] = {name: [] for name in wanted}
    category = unicodedata.category
    current, start = "", 0
    for code in range(0x110001):
        kind = category(chr(code)) if code <= 0x10FFFF else ""
        if kind != current:
            if current in ranges:
                ranges[current].append(f"\\x{{{start:X}}}-\\x{{{code - 1:X}}}")
            current, start = kind, code
    return {name: "[" + "".join(parts) + "]" for name, parts in ranges.items()}


def id_expr(text: pl.Expr) -> pl.Expr:
    """``records.normal_id`` as a polars expression over a String column, or null where
    the text holds a code point this Python's Unicode does not know (``normal_id`` itself
    must decide those: see ``records.UNASSIGNED_CATEGORY``; :func:`normal_ids` does)."""
    classes = _category_classes()
    normal = (text.str.replace_all(classes[FORMAT_CATEGORY], "")
              .str.normalize("NFKC").str.strip_chars(PY_WHITESPACE))
    ascii_only = ~text.str.contains(_NON_ASCII)
    return (pl.when(ascii_only).then(text.str.strip_chars(PY_WHITESPACE))
            .when(~text.str.contains(classes[UNASSIGNED_CATEGORY])).then(normal))


def _non_ascii(text: pl.Series) -> pl.Series:
    """Rows whose text is not plain ASCII (a byte count above the character count)."""
    return (text.str.len_bytes() != text.str.len_chars()).fill_null(False)


def _normalise(text: pl.Series, out: pl.Series, where: pl.Series) -> pl.Series:
    """``out`` with the rows ``where`` replaced by ``normal_id`` of ``text``: by
    ``id_expr``, once per distinct value (ids repeat: one volunteer, many records), and by
    ``normal_id`` itself for the few values ``id_expr`` leaves to it."""
    if not where.any():
        return out
    distinct = text.filter(where).unique()
    normal = distinct.to_frame("t").select(id_expr(pl.col("t"))).to_series()
    unsure = normal.is_null()
    if unsure.any():
        normal = normal.scatter(unsure.arg_true(), [normal_id(v) for v in
                                                    distinct.filter(unsure).to_list()])
    rows = where.arg_true()
    done = text.gather(rows).replace_strict(distinct, normal, return_dtype=pl.String)
    return out.scatter(rows, done)


def normal_ids(text: pl.Series) -> pl.Series:
    """``records.normal_id`` of every value of a String column (nulls stay null); plain
    ASCII is only stripped."""
    return _normalise(text, text.str.strip_chars(PY_WHITESPACE), _non_ascii(text))


def coerce_id(frame: pl.DataFrame, name: str, missing_ok: bool = False) -> Coerced:
    """An id field of every row, as ``records.to_id`` reads it: text checked and stripped
    as a string fact is (``to_text``), then normalised as ``normal_id`` does; an id with
    nothing left once its format characters are gone is ``INVALID_FIELD``, as ``to_id``
    refuses it."""
    text = coerce_column(frame, name, _ID_TEXT, missing_ok)
    other = _non_ascii(text.value)  # plain ASCII, already stripped, is done
    if not other.any():
        return text
    normal = _normalise(text.value, text.value, other)
    empty = other & (normal == "") & text.code.is_null()
    code = text.code.set(empty, "INVALID_FIELD") if empty.any() else text.code
    return Coerced(normal.alias(name), code.alias(name))


# --- reading -------------------------------------------------------------------------------


class Numbered:
    """A polars frame that is part of a larger input and carries each row's number in the
    whole input as an Int64 ``__row`` column, ascending (``civicscore.spark`` scores the
    parts of a split input this way). Rejected rows, and the messages that name rows
    ("already appears in row 7"), then name rows of the whole input, not of the part.
    It may carry the reader's ``__unreadable`` message too (a CSV row with the wrong
    number of cells, read on a Spark executor), kept as :func:`read_source` would set it."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame


def read_source(source: Any) -> pl.DataFrame:
    """Every input row, in order, with ``__row`` and ``__unreadable`` columns added (a
    :class:`Numbered` frame keeps its own ``__row``)."""
    if isinstance(source, Numbered):
        part = source.frame
        read = _numbered(part.drop(ROW, UNREADABLE, strict=False),
                         rows=part[ROW].cast(pl.Int64))
        if UNREADABLE in part.columns:
            read = read.with_columns(part[UNREADABLE].cast(pl.String))
        return read
    if isinstance(source, (str, Path)):
        return _read_path(Path(source))
    if isinstance(source, pl.LazyFrame):
        return _numbered(source.collect())
    if isinstance(source, pl.DataFrame):
        return _numbered(source)
    module = type(source).__module__.split(".")[0]
    if module in ("pandas", "pyarrow"):  # polars refuses repeated names with a traceback
        from ..io import check_column_names

        names = source.column_names if module == "pyarrow" else source.columns
        check_column_names(f"the {module} table", [str(n) for n in names])
    if module == "pandas":
        return _numbered(pl.from_pandas(source))
    if module == "pyarrow":
        frame = pl.from_arrow(source)
        assert isinstance(frame, pl.DataFrame)
        return _numbered(frame)
    if isinstance(source, Iterable):
        return _from_records(iter(source))
    raise InputError(f"cannot read records from a {type(source).__name__}; pass a polars, "
                     f"pandas or pyarrow table, a list of records, or a file path")


def _numbered(frame: pl.DataFrame, where: Path | str = "the input",
              rows: pl.Series | None = None) -> pl.DataFrame:
    _check_dates(where, frame)
    for reserved in (ROW, UNREADABLE):
        if reserved in frame.columns:
            raise InputError(f"the input has a column named {reserved!r}, which civicscore "
                             f"reserves for its own bookkeeping; rename it")
    return frame.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(ROW) if rows is None
        else rows.alias(ROW),
        pl.lit(None, dtype=pl.String).alias(UNREADABLE))


def _read_path(path: Path) -> pl.DataFrame:
    from ..io import directory_files, format_of, read_records

    if path.is_dir():  # its files as one input, in order (io.read_directory)
        kind, files = directory_files(path)
        if kind != "parquet":
            return _from_records(read_records(path))
        frames = [_parquet(p) for p in files]
        for p, frame in zip(files, frames, strict=True):
            _check_dates(p, frame)  # naming the file
        return _numbered(pl.concat(frames, how="vertical_relaxed"), path)
    if format_of(path) == "parquet":
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        return _numbered(_parquet(path), path)
    return _from_records(read_records(path))


def _parquet(path: Path) -> pl.DataFrame:
    """A Parquet file as a frame, its column names checked as the per-record reader
    checks them."""
    from ..io import check_column_names, parquet_column_names

    # polars reads the file, and only a file it refuses is opened by pyarrow (for its
    # column names, duplicates kept, or its own words of what is wrong): importing
    # pyarrow costs half a second that a readable file need not pay
    try:
        frame = pl.read_parquet(path)
    except pl.exceptions.DuplicateError as e:
        names = parquet_column_names(path)
        if names is not None:
            check_column_names(path, names)
        found = re.search(r"name '(.*)' has more than one", str(e))  # no pyarrow
        check_column_names(path, [found.group(1)] * 2 if found else [])
        raise InputError(f"{path}: column names appear twice ({e})") from None
    except (pl.exceptions.PolarsError, OSError) as e:
        names = parquet_column_names(path)  # pyarrow's message for a file it refuses
        if names is not None:
            check_column_names(path, names)
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None
    check_column_names(path, frame.columns)  # names alike once stripped, or blank
    return frame


def _check_dates(path: Path | str, frame: pl.DataFrame) -> None:
    """Refuse, as the per-record reader does, a date or time polars can hold and Python
    cannot (years before 1 or after 9999): every later step would meet it as a value."""
    from ..io import date_out_of_range

    for name, dtype in frame.schema.items():
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            years = frame[name].dt.year()
            low, high = years.min(), years.max()
            if (isinstance(low, int) and low < 1) or (isinstance(high, int) and high > 9999):
                raise InputError(date_out_of_range(path, name))


def _from_records(rows: Iterator[Any]) -> pl.DataFrame:
    """Rows from a Python reader, built into columns a chunk at a time."""
    chunks: list[pl.DataFrame] = []
    batch: list[Any] = []
    start = 1
    for item in rows:
        batch.append(item)
        if len(batch) >= CHUNK_ROWS:
            chunks.append(_chunk(batch, start))
            start += len(batch)
            batch = []
    if batch or not chunks:
        chunks.append(_chunk(batch, start))
    return pl.concat(chunks, how="diagonal_relaxed") if len(chunks) > 1 else chunks[0]


def _chunk(items: list[Any], start: int) -> pl.DataFrame:
    names: dict[str, None] = {}
    unreadable: list[str | None] = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            names.update(dict.fromkeys(str(k) for k in item))
            unreadable.append(None)
        else:
            unreadable.append(item.message if isinstance(item, UnreadableRow)
                              else say("unreadable_record", "en", row=start + i))
    columns: dict[str, pl.Series] = {}
    for name in names:
        if name in (ROW, UNREADABLE):
            raise InputError(f"the input has a field named {name!r}, which civicscore "
                             f"reserves for its own bookkeeping; rename it")
        values = [item.get(name) if isinstance(item, Mapping) else None for item in items]
        columns[name] = _column(name, values)
    numbers = pl.Series(ROW, range(start, start + len(items)), dtype=pl.Int64)
    return pl.DataFrame([*columns.values(), numbers,
                         pl.Series(UNREADABLE, unreadable, dtype=pl.String)])


def _column(name: str, values: list[Any]) -> pl.Series:
    """A typed column when every value has one Python type, else an Object column
    (coerced value by value, exactly as the per-record path does)."""
    kinds = {type(v) for v in values if v is not None}
    simple = {str: pl.String, bool: pl.Boolean, float: pl.Float64, dt.date: pl.Date}
    if len(kinds) == 1:
        kind = next(iter(kinds))
        if kind in simple:
            try:
                return pl.Series(name, values, dtype=simple[kind])
            except UnicodeEncodeError:  # a broken surrogate: coerced one by one, and refused
                pass
        if kind is int and all(v is None or -2**63 <= v < 2**63 for v in values):
            return pl.Series(name, values, dtype=pl.Int64)
    return pl.Series(name, values, dtype=pl.Object)


# --- coercion ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coerced:
    """A fact's typed values and, where a row's value is unusable, the reason code."""

    value: pl.Series
    code: pl.Series  # String, null where the value is fine


def python_coerce(raw: pl.Series,
                  convert: Callable[[Any], object]) -> tuple[pl.Series, pl.Series]:
    """``convert(value)`` (a records.py conversion) once per distinct value; returns the
    converted values and RecordError codes, row-aligned with ``raw``."""
    def run(v: Any) -> tuple[Any, str | None]:
        try:
            return convert(v), None
        except RecordError as e:
            return None, e.code

    if raw.dtype == pl.Object or raw.dtype.is_float():  # NaN never equals itself in a join
        pairs = [run(v) for v in raw.to_list()]
        return (pl.Series([p[0] for p in pairs], dtype=pl.Object),
                pl.Series([p[1] for p in pairs], dtype=pl.String))
    distinct = raw.unique()
    pairs = [run(v) for v in distinct.to_list()]
    table = pl.DataFrame({"raw": distinct,
                          "value": pl.Series([p[0] for p in pairs], dtype=pl.Object),
                          "code": pl.Series([p[1] for p in pairs], dtype=pl.String)})
    index = pl.DataFrame({"raw": raw}).with_row_index("i")
    joined = index.join(table, on="raw", how="left", nulls_equal=True).sort("i")
    return joined["value"], joined["code"]


def first_rows(key: pl.Series, rows: pl.Series) -> pl.Series:
    """The first of ``rows`` with each row's ``key`` (null where the key is null): where
    it is not the row's own, the row repeats a key ("already appears in row N").

    Grouping 10^6 distinct ids by text costs half a second; their 64-bit hashes, sorted,
    show at once which rows may share a key (a hash that occurs once is a key that
    occurs once, the row its own first), and the exact grouping runs on those only."""
    hashes = key.hash()
    ordered = hashes.sort()
    later = ordered.slice(1)
    shared = later.filter(later == ordered.slice(0, max(len(ordered) - 1, 0)))
    first = rows.set(key.is_null(), None) if key.null_count() else rows
    if not shared.len():
        return first
    may = hashes.is_in(shared.unique().implode()) & key.is_not_null()
    if not may.any():
        return first
    firsts = pl.DataFrame({"k": key.filter(may), "r": rows.filter(may)}).select(
        pl.col("r").first().over("k")).to_series()
    return first.clone().scatter(may.arg_true(), firsts)  # scatter writes in place


def repeated(key: pl.Series) -> pl.Series:
    """Rows whose (non-null) key already appeared in an earlier row: those whose first
    row (:func:`first_rows`) is not their own."""
    at = pl.int_range(key.len(), dtype=pl.Int64, eager=True)
    return (first_rows(key, at) != at).fill_null(False)


def _blank_expr(col: pl.Expr, raw: pl.Series) -> pl.Expr:
    """``records.is_missing`` of every value of ``raw`` (read as ``col``): null, text of
    only spaces, or a float NaN (a blank cell as pandas reads it). A column of mixed
    Python values is asked of ``is_missing`` itself, value by value."""
    if raw.dtype == pl.Object:
        return pl.lit(pl.Series([is_missing(v) for v in raw.to_list()], dtype=pl.Boolean))
    if raw.dtype == pl.String:
        return col.is_null() | (col.str.strip_chars(PY_WHITESPACE) == "")
    if raw.dtype.is_float():
        return col.is_null() | col.is_nan()
    return col.is_null()


def blank(raw: pl.Series) -> pl.Series:
    """Which values of a column are blank cells, as ``records.is_missing`` says."""
    return raw.to_frame("v").select(_blank_expr(pl.col("v"), raw)).to_series()


def nulls(name: str, n: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(None, n, dtype=dtype, eager=True).alias(name)


def _typed(values: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Python values (already validated) as a typed column."""
    return pl.Series(values.to_list(), dtype=dtype)


def coerce_column(frame: pl.DataFrame, name: str, spec: FactSpec,
                  missing_ok: bool = False) -> Coerced:
    """The fact ``name`` of every row, as ``records.coerce_fact`` would give it."""
    return coerce_columns(frame, {name: spec}, missing_ok)[name]


def _coerce_one(name: str, spec: FactSpec, value: object) -> Any:
    """``coerce_fact`` of one raw value, as if it were a record's only field."""
    return coerce_fact(name, spec, {name: value}, name)


def coerce_columns(frame: pl.DataFrame, specs: Mapping[str, FactSpec],
                   missing_ok: bool = False) -> dict[str, Coerced]:
    """Every fact of ``specs`` at once: two vectorised passes over the frame, and Python
    only for the odd values in between (see the module docstring). A fact the frame has
    no column for is missing in every row: its pass 2 is run on one row and repeated."""
    n = frame.height
    given = {i: name for i, name in enumerate(specs) if name in frame.columns}
    raws = {name: frame[name] for name in given.values()}
    # pass 1: what is missing, and what the plain conversion is sure about
    exprs: list[pl.Expr] = []
    for i, name in given.items():
        raw = raws[name]
        col = pl.col(name)
        fast = _fast_expr(col, raw.dtype, specs[name])
        exprs += [_blank_expr(col, raw).alias(f"m{i}"), fast.alias(f"v{i}")]
    first = frame.lazy().select(exprs).collect(engine="in-memory") if exprs \
        else pl.DataFrame()  # lazy, for common-subexpression elimination
    # the odd values: coerce_fact itself, once per distinct value
    columns: dict[str, pl.Series] = {}
    finishing: list[pl.Expr] = []
    for i, name in given.items():
        spec = specs[name]
        dtype = FACT_DTYPES[spec.type]
        missing, value = first[f"m{i}"], first[f"v{i}"]
        unsure = ~missing & value.is_null()
        code = nulls(name, n, pl.String())
        if unsure.any():
            converted, codes = python_coerce(
                raws[name].filter(unsure),
                partial(_coerce_one, name, spec))
            where = unsure.arg_true()
            value = value.scatter(where, _typed(converted, dtype))
            code = code.scatter(where, codes)
        columns |= {f"v{i}": value, f"c{i}": code, f"m{i}": missing, f"u{i}": unsure}
        finishing += _finish(i, spec, missing_ok)
    del first, raws
    # pass 2, all facts in one select
    done = pl.DataFrame(columns).select(finishing) if columns else pl.DataFrame()
    del columns
    out: dict[str, Coerced] = {}
    for i, name in enumerate(specs):
        if i in given:
            out[name] = Coerced(done[f"v{i}"].alias(name), done[f"c{i}"].alias(name))
        else:
            out[name] = _absent(name, specs[name], n, missing_ok)
    return out


def _absent(name: str, spec: FactSpec, n: int, missing_ok: bool) -> Coerced:
    """A fact with no column: pass 2 (``_finish``) of one missing value, repeated."""
    one = pl.DataFrame([nulls("v0", 1, FACT_DTYPES[spec.type]), nulls("c0", 1, pl.String()),
                        pl.Series("m0", [True]), pl.Series("u0", [False])]) \
        .select(_finish(0, spec, missing_ok))
    return Coerced(*(pl.repeat(one[c].item(), n, dtype=one[c].dtype, eager=True).alias(name)
                     for c in ("v0", "c0")))


def _finish(i: int, spec: FactSpec, missing_ok: bool) -> list[pl.Expr]:
    """Pass 2 for fact number ``i``: defaults for missing values, then the range and enum
    checks that ``coerce_fact`` applies after converting (the odd values had them)."""
    dtype = FACT_DTYPES[spec.type]
    v, c, m = pl.col(f"v{i}"), pl.col(f"c{i}"), pl.col(f"m{i}")
    checked = ~m & ~pl.col(f"u{i}")
    if spec.optional:
        fill: Any = NEVER
    elif spec.default is not None:
        fill = fact_default(spec)
    else:
        fill = None
    value, code = v, c
    if fill is not None:
        value = pl.when(m).then(pl.lit(fill, dtype=dtype)).otherwise(v)
    elif not missing_ok:
        code = pl.when(m).then(pl.lit("MISSING_FIELD")).otherwise(code)
    if spec.type == "enum" and spec.values is not None:
        allowed = pl.lit(pl.Series(spec.values, dtype=pl.String)).implode()
        code = pl.when(checked & ~v.is_in(allowed)).then(pl.lit("INVALID_VALUE")) \
            .otherwise(code)
    elif spec.type in ("int", "decimal") and (spec.min is not None or spec.max is not None):
        bad = pl.lit(False)
        if spec.min is not None:
            bad = bad | (v < spec.min)
        if spec.max is not None:
            bad = bad | (v > spec.max)
        code = pl.when(checked & bad).then(pl.lit("OUT_OF_RANGE")).otherwise(code)
    return [value.cast(dtype).alias(f"v{i}"), code.cast(pl.String).alias(f"c{i}")]


def _fast_expr(col: pl.Expr, dtype: pl.DataType, spec: FactSpec) -> pl.Expr:
    """The values the plain, vectorised conversion is sure about; null elsewhere."""
    kind = spec.type
    out: pl.Expr | None = None
    if kind in ("string", "enum"):
        if dtype == pl.String:
            # text is stripped; a broken surrogate cannot occur in a polars string
            out = col.str.strip_chars(PY_WHITESPACE)
        elif dtype.is_integer():
            out = col.cast(pl.String)
    elif kind == "int":
        if dtype.is_integer():
            wide = col.cast(pl.Int64, strict=False)  # a UInt64 beyond it: null, slow path
            out = pl.when(wide.abs() <= MAX_SAFE_INT).then(wide)
        elif dtype == pl.String:
            text = col.str.strip_chars(PY_WHITESPACE)
            number = text.cast(pl.Int64, strict=False)
            out = pl.when(text.str.contains(_PLAIN_INT) & (number.abs() <= MAX_SAFE_INT)) \
                .then(number)
    elif kind == "decimal":
        if dtype in (pl.Float64, pl.Float32):
            wide = col.cast(pl.Float64)
            out = pl.when(wide.is_finite()).then(wide)
        elif dtype.is_integer():
            out = col.cast(pl.Float64)
        elif dtype == pl.String:
            text = col.str.strip_chars(PY_WHITESPACE)
            number = text.cast(pl.Float64, strict=False)
            out = pl.when(text.str.contains(_PLAIN_DECIMAL) & number.is_finite()).then(number)
    elif kind == "bool":
        if dtype == pl.Boolean:
            out = col
        elif dtype == pl.String:
            word = col.str.strip_chars(PY_WHITESPACE).str.to_lowercase()
            out = pl.when(word.is_in(pl.lit(pl.Series(sorted(_TRUE))).implode())).then(True) \
                .when(word.is_in(pl.lit(pl.Series(sorted(_FALSE))).implode())).then(False)
    elif kind == "date":
        if dtype == pl.Date:
            out = col
        elif isinstance(dtype, pl.Datetime):
            out = (col.dt.replace_time_zone(None) if dtype.time_zone else col).dt.date()
        elif dtype == pl.String:
            text = col.str.strip_chars(PY_WHITESPACE)
            plain = text.str.contains(_PLAIN_DATE) & ~text.str.starts_with("0000")
            out = pl.when(plain).then(text.str.to_date("%Y-%m-%d", strict=False))
    if out is None:
        return pl.lit(None, dtype=FACT_DTYPES[kind])
    return out.cast(FACT_DTYPES[kind])


def nan_as_null(frame: pl.DataFrame) -> pl.DataFrame:
    """Float NaN cells as nulls: a NaN is a blank cell (``records.is_missing``), whether it
    comes in a float column (a frame, or records whose column holds floats only) or in a
    column of mixed Python values. Then the columnar checks treat it as the per-record
    path does: the default, "never", or MISSING_FIELD for a required field."""
    changed: list[pl.Series | pl.Expr] = []
    for name, dtype in frame.schema.items():
        if name in (ROW, UNREADABLE):
            continue
        if dtype.is_float():
            changed.append(pl.col(name).fill_nan(None))
        elif dtype == pl.Object:
            values = frame[name].to_list()
            if any(type(v) is not str and is_missing(v) for v in values if v is not None):
                changed.append(pl.Series(name, [None if v is not None and type(v) is not str
                                                and is_missing(v) else v for v in values],
                                         dtype=pl.Object))
    return frame.with_columns(changed) if changed else frame
