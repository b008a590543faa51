"""A batch run split over Spark executors, deciding exactly what local batch decides.

Splitting an input by hand changes decisions (duplicate ids in two parts are
no longer seen; row numbers restart in every part; a liaison's caseload is
counted in pieces). So the split follows what the scheme's registration says
about its rows (:class:`~civicscore.schemes.base.Split`), and each part is
decided by the scheme's own local batch (``scheme.batch``), never by code
written again for Spark:

1. **Row numbers first**, over the input as read: each row's number in the
   whole input (partition offsets from a count per partition, plus the row's
   place in its partition, all JVM expressions), so rejects and messages name
   rows of the whole input.
2. **Keys** per partition, in ``mapInArrow`` with polars inside (Arrow in,
   Arrow out): the row's id and its group field normalised exactly as the
   batch reader normalises them (``batch.frames.coerce_id``).
3. **Duplicates over the whole input**: a window over the id (one shuffle on
   the id column) finds the first row of every id; a later row is put with
   that first row, or beside a copy of it (``Split.duplicates``).
4. **Groups**: rows are hashed into ``partitions`` buckets by the group field
   (a liaison, a volunteer), so all rows that interact meet in one bucket; a
   scheme with independent rows is spread by row number; one cohort is one
   bucket. Each bucket is decided by the local batch inside
   ``groupBy(...).applyInArrow`` (a polars frame in, Arrow IPC out; no Python
   per row), its rows keeping their numbers in the whole input
   (``batch.frames.Numbered``). An extra input the scheme declares split
   (``Split.extra``: redemptions by ``volunteer_id``) is numbered over itself, hashed
   by its own group field into the same buckets, and met with the records of its
   bucket by a ``cogroup``; the bucket's batch gets it as a ``Numbered`` frame too.
5. **The result**: the buckets' frames, concatenated and put in the order the
   local batch gives (by ``row``, or by ``Split.order`` for frames of groups).

The policy travels to the executors pickled as its sources and is rebuilt and
hash-checked there (``policy.portable``); plugins are loaded there by entry
point. A task that fails is retried by Spark: a bucket's result depends only
on its rows, so a retry gives the same frames.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import polars as pl

from ..batch.frames import ROW, UNREADABLE, Numbered, coerce_id, read_source
from ..batch.result import BatchResult
from ..errors import UsageError
from ..messages import LANG, reasons_language
from ..schemes.base import ONE_GROUP, Split
from . import json_input
from .collected import KINDS, SparkBatch
from .collected import SparkBatchResult as SparkBatchResult  # re-exported: defined here once
from .inputs import read as read  # re-exported: it was defined here
from .inputs import read_input
from .numbering import _MID, _PID, _TOKEN

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from ..policy.compile import Policy

KEY, GROUP_KEY, BUCKET, FIRST_BUCKET, FIRST_ROW, GHOST, FIRST_ID, ONCE, INPUT = (
    "__key", "__gkey", "__bucket", "__fbucket", "__first", "__ghost", "__fid", "__once",
    "__input")
#: The columns the steps add: an input column of one of these names is refused.
HELPERS = (ROW, UNREADABLE, KEY, GROUP_KEY, BUCKET, FIRST_BUCKET, FIRST_ROW, GHOST, FIRST_ID,
           ONCE, INPUT, _PID, _MID, _TOKEN)
#: Rows per Arrow IPC piece a bucket's frame is cut into: what one Spark row (and the
#: driver, while it decodes one) holds at a time, whatever the size of a bucket.
PIECE_ROWS = 50_000


def session(master: str | None = None, *, partitions: int | None = None) -> SparkSession:
    """The active Spark session, or a new one on ``master`` (``local[2]`` by default),
    quiet (warnings and errors only), whose Python workers run this Python."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # under spark-submit (which started the JVM and gives its port) the master is its
    # --master: kept, not replaced by local[2]
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        master = "local[2]"
    builder = SparkSession.builder.appName("civicscore")
    if master is not None:
        builder = builder.master(master)
    builder = (builder
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC"))
    if partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def score(policy: Policy, scheme: str, source: Any, *, as_of: dt.date,
          master: str | None = None, partitions: int | None = None,
          **extra: Any) -> BatchResult:
    """Decide every row of ``source`` with ``policy``'s ``scheme`` on Spark.

    ``source`` is a Parquet, CSV or JSON path, a directory of Parquet files, a Spark
    DataFrame or a table name (:mod:`civicscore.spark.inputs`); ``extra`` are the
    scheme's extra inputs (``redemptions=...``), each a source too. The result equals
    ``policy.scheme(scheme).batch(...)`` of the same rows, frame for frame (its summary
    and table too). ``partitions`` is the number of parts the input is decided in (by
    default Spark's default parallelism)."""
    return run(policy, scheme, source, as_of=as_of, master=master,
               partitions=partitions, **extra).collect()


def run(policy: Policy, scheme: str, source: Any, *, as_of: dt.date,
        master: str | None = None, partitions: int | None = None,
        piece_rows: int = PIECE_ROWS, **extra: Any) -> SparkBatch:
    """The Spark run of :func:`score`, not yet collected: :meth:`SparkBatch.collect`
    gives the ``BatchResult``; :meth:`SparkBatch.frame` and :meth:`SparkBatch.write`
    keep the outputs in Spark, for results too large for the driver. ``piece_rows``
    bounds the rows of one Arrow piece a bucket's frame travels in."""
    compiled = policy.scheme(scheme)
    spec = policy.spec(scheme)
    split = spec.split
    if split is None:
        raise UsageError(f"scheme {scheme!r} does not say which of its rows must be decided "
                         f"together, so it cannot be split over machines; score it locally")
    given = {name: value for name, value in extra.items() if value is not None}
    for name in given:
        if name not in spec.extra_inputs:
            raise UsageError(f"scheme {scheme} takes no input {name!r}" + (
                f" (it takes {', '.join(spec.extra_inputs)})" if spec.extra_inputs else ""))
        if name not in split.extra or split.group_by is None:
            raise UsageError(f"scheme {scheme} does not say how its {name} input is split "
                             f"over machines (Split.extra, with the records grouped by "
                             f"Split.group_by); score it locally")
    spark = session(master, partitions=partitions)
    parts = partitions or spark.sparkContext.defaultParallelism
    # one shuffle partition per bucket: Spark's default (200) would start 200 Python tasks
    spark.conf.set("spark.sql.shuffle.partitions", str(parts))
    # no repartition here: the window over the id shuffles into ``parts`` partitions
    # anyway, and one more shuffle of the whole input would only spread the key step
    persisted: list[DataFrame] = []
    records = read_input(spark, source, HELPERS, persisted)
    if records.json:  # records travel as their JSON text (see json_input)
        keyed = _grouped(_keyed(records.frame, split, json_keys=True),
                         replace(split, id_field=json_input.RAW_ID), parts)
        columns = [json_input.TEXT, json_input.MESSAGE, json_input.RAW_ID]
    else:
        keyed = _grouped(_keyed(records.frame, split), split, parts)
        columns = records.columns
    rows = keyed.select(*columns, ROW, BUCKET, GHOST)
    decide = _Decide(policy, scheme, as_of, piece_rows,
                     json_id=split.id_field if records.json else None)
    if not given:
        def by_bucket(key: Any, table: Any) -> Any:  # a function: pyspark reads its hints
            return decide(key, table)

        decided = rows.groupBy(BUCKET).applyInArrow(by_bucket, PIECES)
        extra_empty: dict[str, pl.DataFrame] = {}
    else:
        others, decide.extra, extra_empty = _extra_rows(spark, split, given, parts, persisted)

        def by_buckets(key: Any, table: Any, other: Any) -> Any:
            return decide(key, table, other)

        decided = rows.groupBy(BUCKET).cogroup(others.groupBy(BUCKET)).applyInArrow(
            by_buckets, PIECES)
    return SparkBatch(spark, compiled, split, as_of, decided, records.empty, persisted,
                      records.rows, extra_empty)


#: What a bucket sends back: its frames as Arrow IPC pieces.
PIECES = "bucket long, kind string, piece int, part binary"


def _extra_rows(spark: SparkSession, split: Split, given: dict[str, Any], parts: int,
                persisted: list[DataFrame]
                ) -> tuple[DataFrame, dict[str, tuple[list[str], bool]], dict[str, pl.DataFrame]]:
    """The rows of every extra input, numbered over that input, each in the bucket of
    the group it names (``Split.extra``: the field hashed as the records' group is), as
    one frame tagged by input (``__input``); with each input's columns, whether they
    are JSON text, and its columns with no rows."""
    from pyspark.sql import functions as F

    frames, layout, empties = [], {}, {}
    for name, source in given.items():
        field_name = split.extra[name]
        extra = read_input(spark, source, HELPERS, persisted)
        keyed = _keyed(extra.frame, Split(field_name, group_by=field_name), extra.json)
        # the bucket the records of that group are in (see _grouped)
        bucket = F.lit(0).cast("long") if split.group_by == ONE_GROUP else \
            F.pmod(F.xxhash64(F.col(GROUP_KEY)), F.lit(parts)).cast("long")
        frames.append(keyed.select(*extra.columns, ROW, bucket.alias(BUCKET),
                                   F.lit(name).alias(INPUT)))
        layout[name] = (extra.columns, extra.json)
        empties[name] = extra.empty
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame, allowMissingColumns=True)
    return out, layout, empties


class _Keys:
    """Step 2, per Arrow batch: the normalised id and group key of every row."""

    def __init__(self, split: Split) -> None:
        self.split = split

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        wanted = [self.split.id_field]
        if self.split.group_by not in (None, ONE_GROUP):
            wanted.append(str(self.split.group_by))
        for batch in batches:
            present = [n for n in dict.fromkeys(wanted) if n in batch.schema.names]
            frame = pl.from_arrow(batch.select(present)) if present else \
                pl.DataFrame(height=batch.num_rows)
            assert isinstance(frame, pl.DataFrame)
            keys = [_key(frame, n) for n in wanted]
            if len(keys) == 1:
                keys.append(pl.repeat(None, batch.num_rows, dtype=pl.String, eager=True))
            for name, values in zip((KEY, GROUP_KEY), keys, strict=True):
                column: Any = values.to_arrow()
                batch = batch.append_column(name, pa.array(column).cast(pa.string()))
            yield batch


def _key(frame: pl.DataFrame, name: str) -> pl.Series:
    """The id of every row as the batch reader reads it (null where it gives none)."""
    if frame.height == 0:
        return pl.Series(name, [], dtype=pl.String)
    if name not in frame.columns:
        return pl.repeat(None, frame.height, dtype=pl.String, eager=True)
    c = coerce_id(frame, name, missing_ok=True)
    bad = c.code.is_not_null() | c.value.is_null() | (c.value == "")
    return c.value.set(bad, None) if bad.any() else c.value


def _keyed(frame: DataFrame, split: Split, json_keys: bool = False) -> DataFrame:
    from pyspark.sql.types import StringType, StructField, StructType

    extra = [StructField(json_input.RAW_ID, StringType())] if json_keys else []
    schema = StructType([*frame.schema.fields, *extra, StructField(KEY, StringType()),
                         StructField(GROUP_KEY, StringType())])
    return frame.mapInArrow(_JsonKeys(split) if json_keys else _Keys(split), schema)


class _JsonKeys(_Keys):
    """Step 2 for JSON rows: the records parsed and built into columns by the batch
    reader, their keys taken as for any frame (a row that is no record has none), and
    the raw id kept as JSON text: what a copy of the id's first row holds."""

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        id_field, group = self.split.id_field, self.split.group_by
        names = [id_field] + ([str(group)] if group not in (None, ONE_GROUP) else [])
        for batch in batches:
            values = [json.loads(t) if t is not None else None
                      for t in batch.column(json_input.TEXT).to_pylist()]
            records = [v for v in values if v is not None]
            frame = json_input.read_source(records)
            found = [_key(frame, n).to_list() for n in names]
            if len(found) == 1:
                found.append([None] * len(records))
            at = [i for i, v in enumerate(values) if v is not None]
            keys = [[None] * len(values) for _ in range(2)]
            for k, column in enumerate(found):
                for i, value in zip(at, column, strict=True):
                    keys[k][i] = value
            raw = [json.dumps(v[id_field]) if v is not None and id_field in v else None
                   for v in values]
            columns: list[list[Any]] = [raw, *keys]
            for name, values_of in zip((json_input.RAW_ID, KEY, GROUP_KEY), columns,
                                       strict=True):
                batch = batch.append_column(name, pa.array(values_of, pa.string()))
            yield batch


def _grouped(frame: DataFrame, split: Split, parts: int) -> DataFrame:
    """Steps 3 and 4: every row's bucket, duplicates with (or beside) their first row.

    One window over the id (one shuffle, on the id) gives every row its id's first
    row; rows without an id keep their own bucket. For ``"ghost"`` a second window,
    over (id, bucket), needs no shuffle of its own (rows hashed by the id are already
    together by id and bucket), and the first row of an id in another bucket than the
    id's first row is doubled (``explode``) into itself and a copy of that first row
    holding only its id. No union, join or distinct: the keys are computed once."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if split.group_by is None:
        bucket = F.pmod(F.col(ROW), F.lit(parts))
    elif split.group_by == ONE_GROUP:
        bucket = F.lit(0).cast("long")
    else:
        bucket = F.pmod(F.xxhash64(F.col(GROUP_KEY)), F.lit(parts))
    frame = frame.withColumn(BUCKET, bucket.cast("long"))
    by_id = Window.partitionBy(KEY).orderBy(ROW)
    loose = F.col(KEY).isNull()
    first_bucket = F.when(loose, F.col(BUCKET)).otherwise(F.first(BUCKET).over(by_id))
    if split.duplicates == "move" or split.id_field not in frame.columns:
        return frame.withColumn(BUCKET, first_bucket).withColumn(GHOST, F.lit(False))
    first_id, once = FIRST_ID, ONCE
    rows = frame.withColumns({
        FIRST_BUCKET: first_bucket, FIRST_ROW: F.first(ROW).over(by_id),
        first_id: F.first(split.id_field).over(by_id),
        once: F.row_number().over(Window.partitionBy(KEY, BUCKET).orderBy(ROW)) == 1})
    # a window may not stand inside a generator: explode reads the columns made above
    copy = ~loose & (F.col(FIRST_BUCKET) != F.col(BUCKET)) & F.col(once)
    rows = rows.withColumn(GHOST, F.explode(F.when(copy, F.array(F.lit(False), F.lit(True)))
                                            .otherwise(F.array(F.lit(False)))))
    ghost = F.col(GHOST)
    kept = {KEY, BUCKET, GHOST}

    def column(name: str) -> Any:
        if name == ROW:
            value = F.when(ghost, F.col(FIRST_ROW)).otherwise(F.col(ROW))
        elif name == split.id_field:
            value = F.when(ghost, F.col(first_id)).otherwise(F.col(name))
        elif name in kept:
            return F.col(name)
        else:
            value = F.when(~ghost, F.col(name))
        return value.alias(name)

    return rows.select(*(column(n) for n in frame.columns), GHOST)


class _Decide:
    """Step 4, on an executor: one bucket's rows decided by the scheme's local batch.

    The policy is pickled with this object (as its sources) and rebuilt once per
    Python worker. The bucket's three frames go back as Arrow IPC pieces of at most
    :data:`PIECE_ROWS` rows, one Spark row each (an empty frame sends none), so no
    Spark row, and nothing the driver decodes at once, grows with the bucket."""

    def __init__(self, policy: Policy, scheme: str, as_of: dt.date,
                 piece_rows: int = PIECE_ROWS, json_id: str | None = None) -> None:
        self.policy, self.scheme, self.as_of = policy, scheme, as_of
        self.piece_rows = piece_rows
        self.json_id = json_id  # the id field, when the rows are JSON text
        #: the extra inputs given: each one's columns, and whether they are JSON text
        self.extra: dict[str, tuple[list[str], bool]] = {}
        #: the language the driver words reasons in (``--lang``, CIVICSCORE_LANG, the
        #: policy's locale), fixed here: an executor has neither the driver's ``--lang``
        #: nor, on a cluster, its environment
        self.lang = reasons_language(policy.model.policy.locale)

    def _extras(self, table: pa.Table | None) -> dict[str, Numbered]:
        """A bucket's rows of every extra input, numbered in their own whole input."""
        if table is None:
            return {}
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        out = {}
        for name, (columns, text) in self.extra.items():
            part = frame.filter(pl.col(INPUT) == name).sort(ROW)
            if text:  # as the batch reader builds records, the reader's messages kept
                n = part.height
                items = json_input.records(part[json_input.TEXT].to_list(),
                                           part[json_input.MESSAGE].to_list(), [None] * n,
                                           [False] * n, "")
                read_rows = read_source(items).with_columns(part[ROW].alias(ROW))
                out[name] = Numbered(read_rows)
            else:
                out[name] = Numbered(part.select(*columns, ROW))
        return out

    def _frames(self, result: BatchResult) -> dict[str, pl.DataFrame]:
        """A result's frames, and those named like an extra input (``redemptions``)."""
        frames = {k: getattr(result, k) for k in KINDS}
        for name in self.extra:
            if isinstance(getattr(result, name, None), pl.DataFrame):
                frames[name] = getattr(result, name)
        return frames

    def _json_frames(self, rows: pl.DataFrame, extras: dict[str, Numbered]
                     ) -> list[dict[str, pl.DataFrame]]:
        """A bucket of JSON rows: the records decided as one Numbered frame, the rows
        that are no record by the scheme's batch alone, their ``row`` put back."""
        assert self.json_id is not None
        items = json_input.records(rows[json_input.TEXT].to_list(),
                                   rows[json_input.MESSAGE].to_list(),
                                   rows[json_input.RAW_ID].to_list(),
                                   rows[GHOST].to_list(), self.json_id)
        numbers = rows[ROW].to_list()
        scheme = self.policy.scheme(self.scheme)
        result = scheme.batch(Numbered(json_input.frame_of(items, numbers)), as_of=self.as_of,
                              **extras)
        frames = [self._frames(result)]
        bad, bad_rows = json_input.unreadable(items, numbers)
        if bad:
            result = scheme.batch(bad, as_of=self.as_of)
            back = pl.Series(bad_rows, dtype=pl.Int64)
            # a row that is no record is named by its number ("row 3"), which the scheme
            # took from its place in ``bad``: the names are put back with the numbers
            local_names = [f"row {i}" for i in range(1, len(bad) + 1)]
            names = [f"row {r}" for r in bad_rows]
            put_back: dict[str, pl.DataFrame] = {}
            for kind in KINDS:
                out: pl.DataFrame = getattr(result, kind)
                if out.height:
                    out = out.with_columns(
                        pl.col(c).replace(local_names, names) for c, t in out.schema.items()
                        if t == pl.String)
                if "row" in out.columns and out.height:
                    out = out.with_columns(back.gather(out["row"].cast(pl.Int64) - 1)
                                           .cast(out.schema["row"]).alias("row"))
                put_back[kind] = out
            frames.append(put_back)
        return frames

    def __call__(self, key: tuple[Any, ...], table: pa.Table,
                 extra: pa.Table | None = None) -> pa.Table:
        token = LANG.set(self.lang)  # the reasons worded below, in the driver's language
        try:
            return self._decide(key, table, extra)
        finally:
            LANG.reset(token)

    def _decide(self, key: tuple[Any, ...], table: pa.Table,
                extra: pa.Table | None = None) -> pa.Table:
        import pyarrow as pa

        bucket = key[0].as_py()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        frame = frame.sort(ROW)
        ghosts = frame.filter(pl.col(GHOST))[ROW]
        extras = self._extras(extra)
        if self.json_id is not None:
            results = self._json_frames(frame, extras)
        else:
            result = self.policy.scheme(self.scheme).batch(Numbered(frame.drop(BUCKET, GHOST)),
                                                           as_of=self.as_of, **extras)
            results = [self._frames(result)]
        kinds, pieces, parts = [], [], []
        for kind in (*KINDS, *self.extra):
            i = 0
            for frames in results:
                out = frames.get(kind)
                if out is None:
                    continue
                if ghosts.len() and "row" in out.columns and kind not in self.extra:
                    ghost = pl.col("row").is_in(ghosts.implode())
                    if "input" in out.columns and self.extra:  # an extra input's row is none
                        ghost = ghost & ~pl.col("input").cast(pl.String).is_in(list(self.extra))
                    out = out.filter(~ghost)
                for piece in out.iter_slices(self.piece_rows):
                    kinds.append(kind)
                    pieces.append(i)
                    parts.append(_ipc(piece))
                    i += 1
        return pa.table({"bucket": pa.array([bucket] * len(parts), pa.int64()),
                         "kind": pa.array(kinds, pa.string()),
                         "piece": pa.array(pieces, pa.int32()),
                         "part": pa.array(parts, pa.binary())})


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return buffer.getvalue()
