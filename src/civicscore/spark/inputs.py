"""What a Spark run reads: its records and its extra inputs, numbered as local batch
numbers them.

A source is a Spark DataFrame, a table name, a Parquet file, a directory of Parquet
files (what Spark writes), a CSV file (:mod:`civicscore.spark.csv_input`) or a JSON
file (:mod:`civicscore.spark.json_input`). CSV and JSON rows travel as JSON text and
are built into a frame by the batch reader in each part (``Input.json``); the others
travel as their columns.

A directory is read as the local readers read one (``io.data_files``, the one
definition both share): a file whose name starts with ``_`` or ``.`` is not data
(``_SUCCESS``, ``_committed_*``, ``.part-00000.crc``) and is skipped; the other files,
all of one kind (CSV, JSON Lines, JSON or Parquet), in name order, are the rows,
numbered across the files in that order (the order a person reads ``ls`` in; Spark's
own would be by file size), as if the files were one. Each CSV or JSON Lines file is
read as one file is (its own header, its own line numbers, which an unreadable row's
message names with the file), its rows numbered from the rows of the files before it;
a directory of JSON lists is read on the driver (``io.read_directory``), as one list
is. A directory with no data file, with subdirectories (partition columns, which local
batch has no equivalent of), of files of several kinds, or of CSV files whose headers
differ is refused with local batch's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..batch.frames import ROW, UNREADABLE
from ..errors import InputError
from ..io import FORMAT_NAMES, data_files, directory_files
from ..io import hidden as hidden
from . import csv_input, json_input
from .numbering import numbered as _numbered

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Names Spark's CSV and JSON steps give their columns.
TEXT_COLUMNS = (json_input.TEXT, json_input.MESSAGE, json_input.RAW_ID, json_input.LINE)
_FILE, _INDEX = "__file", "__index"
FILE_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson", ".parquet", ".pq")


@dataclass
class Input:
    """One input, numbered: ``frame`` has ``__row``; ``columns`` are its columns besides
    it; ``json`` when its rows are JSON text; ``empty`` its columns with no rows, as
    the driver gives them to the scheme's batch for the result's shape."""

    frame: DataFrame
    rows: int
    columns: list[str]
    json: bool
    empty: pl.DataFrame


def read_input(spark: SparkSession, source: Any, reserved: tuple[str, ...],
               kept: list[DataFrame]) -> Input:
    """``source`` numbered over the whole of it (its persisted frame added to ``kept``);
    a column named like one of ``reserved`` (or of the batch reader's own) is refused,
    never overwritten."""
    reserved = (*reserved, *TEXT_COLUMNS, _FILE, _INDEX)
    if isinstance(source, (str, Path)) and "://" not in str(source) and Path(source).is_dir():
        found, files = data_files(Path(source))
        if found != "parquet":
            return _text_directory(spark, Path(source), found, files, kept, reserved)
        directory_files(Path(source))  # the same columns in every file
        frame = _directory(spark, files)
    elif isinstance(source, (str, Path)) and hidden(Path(str(source)).name) \
            and Path(str(source)).suffix.lower() in FILE_SUFFIXES:
        # Spark reads such a file, named on its own, as no rows at all, and says nothing
        raise InputError(f"{source}: Spark skips files whose names start with _ or . (as "
                         f"Hadoop does, for _SUCCESS and .crc files), and would read no "
                         f"rows; rename the file")
    else:
        kind = json_input.kind_of(source)
        if kind is None and isinstance(source, (str, Path)) \
                and Path(str(source)).suffix.lower() == ".csv":
            kind = "csv"
        if kind is not None:
            if kind == "csv":
                rows, total = csv_input.read(spark, str(source), kept, reserved)
            else:
                rows, total = json_input.read(spark, str(source), kind, kept)
            return Input(rows, total, [json_input.TEXT, json_input.MESSAGE], True,
                         pl.DataFrame())
        frame = read(spark, source)
    _check_names(frame.columns, reserved)
    numbered, total = _numbered(frame, kept)
    empty = pl.from_arrow(frame.limit(0).toArrow())
    assert isinstance(empty, pl.DataFrame)
    return Input(numbered, total, list(frame.columns), False, empty)


def _check_names(columns: list[str], reserved: tuple[str, ...]) -> None:
    for name in columns:
        if name in (ROW, UNREADABLE):  # the batch reader's own words (frames._numbered)
            raise InputError(f"the input has a column named {name!r}, which civicscore "
                             f"reserves for its own bookkeeping; rename it")
        if name in reserved:
            raise InputError(f"the input has a column named {name!r}, a name civicscore "
                             f"uses for its own bookkeeping on Spark; rename it")


def read(spark: SparkSession, source: Any) -> DataFrame:
    """A Spark DataFrame of ``source``: itself, a Parquet path, or a table name (CSV
    and JSON are read by :func:`read_input`, as local batch reads them)."""
    from pyspark.sql import DataFrame

    if isinstance(source, DataFrame):
        return source
    if isinstance(source, Path) or (isinstance(source, str) and source.lower().endswith(
            (".parquet", ".pq"))):
        path = str(source)
        if not Path(path).exists() and "://" not in path:
            raise InputError(f"{path}: no such file")
        return spark.read.parquet(path)
    if isinstance(source, str):
        return spark.table(source)
    raise InputError(f"cannot read records on Spark from a {type(source).__name__}; pass a "
                     f"Spark DataFrame, a Parquet, CSV or JSON path, or a table name")


def _text_directory(spark: SparkSession, path: Path, kind: str, files: list[Path],
                    kept: list[DataFrame], reserved: tuple[str, ...]) -> Input:
    """A directory of CSV, JSON Lines or JSON files as ``io.read_directory`` reads it:
    each file read as one file is, its rows numbered after the files before it."""
    if kind != "json":
        json_input.utf8_only(str(path), FORMAT_NAMES[kind])
    directory_files(path)  # every CSV header the first's (on the driver, as locally)
    if kind == "json":  # JSON lists are read whole on the driver, as one list is
        rows, total = json_input.read(spark, str(path), "json", kept)
    else:
        parts, total = [], 0
        for p in files:
            if kind == "csv":
                part, n = csv_input.read(spark, str(p), kept, reserved, total, p.name)
            else:
                part, n = json_input.read(spark, str(p), kind, kept, total, p.name)
            parts.append(part)
            total += n
        rows = parts[0]
        for part in parts[1:]:
            rows = rows.unionByName(part)
    return Input(rows, total, [json_input.TEXT, json_input.MESSAGE], True, pl.DataFrame())


def _directory(spark: SparkSession, files: list[Path]) -> DataFrame:
    """The Parquet files of a directory as one frame, file after file in name order."""
    from pyspark.sql import functions as F

    frame = spark.read.parquet(*(str(p) for p in files))
    # Spark orders a directory's splits by size: the rows are put in name order again
    ordered = frame.select("*", F.col("_metadata.file_name").alias(_FILE),
                           F.col("_metadata.row_index").alias(_INDEX))
    return ordered.orderBy(_FILE, _INDEX).drop(_FILE, _INDEX)
