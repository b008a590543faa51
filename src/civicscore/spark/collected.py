"""A Spark run's result: the buckets' frames put together as local batch gives them.

:class:`SparkBatch` is what :func:`civicscore.spark.run` returns: the decided buckets,
still in Spark. ``collect()`` builds the ``BatchResult`` on the driver (the scheme's own
result type when it has extra inputs, so ``redemptions`` and its count of scored rows
come with it); ``frame()`` and ``write()`` keep a result frame in Spark.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import polars as pl

from ..batch.result import BatchResult
from ..schemes.base import Split
from .numbering import release

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

KINDS = ("output", "details", "rejected")


@dataclass
class SparkBatchResult(BatchResult):
    """A :class:`BatchResult` put together from the buckets' results.

    Every bucket's own result was checked for row conservation on its executor, and
    every input row is in exactly one bucket, so the scored rows are the rows in less
    the rejected ones (a scheme's output need not be one row per input row: a
    volunteer's is one statement per volunteer)."""

    @property
    def scored_count(self) -> int:
        return self.rows_in - self.rejected.height


@dataclass
class SparkBatch:
    """A Spark run not yet collected (see :func:`run`)."""

    spark: SparkSession
    compiled: Any
    split: Split
    as_of: dt.date
    decided: DataFrame  # bucket, kind, part: each bucket's frames as Arrow IPC
    empty: pl.DataFrame  # the input's columns, no rows
    persisted: list[DataFrame]  # the numbered inputs, kept until collected
    rows_in: int
    extra_empty: dict[str, pl.DataFrame] = field(default_factory=dict)  # each extra input's

    def _template(self) -> BatchResult:
        """Local batch's result of no rows: the frames' columns and types."""
        result: BatchResult = self.compiled.batch(self.empty, as_of=self.as_of,
                                                  **self.extra_empty)
        return result

    def collect(self) -> BatchResult:
        """The ``BatchResult`` local batch gives for the same rows, on the driver.

        The pieces come one Spark partition at a time (``toLocalIterator``), each
        decoded as it arrives: besides the result itself, the driver holds one
        partition's pieces, never the whole run's Arrow bytes at once."""
        kinds = (*KINDS, *self.extra_empty)
        parts: dict[str, list[pl.DataFrame]] = {k: [] for k in kinds}
        try:
            for r in self.decided.toLocalIterator():
                parts[r["kind"]].append(pl.read_ipc(io.BytesIO(r["part"])))
        finally:
            release(self.persisted)
        template = self._template()
        frames = {k: self._merged(k, parts.pop(k), getattr(template, k)) for k in kinds}
        rows_in = self.rows_in
        if self.split.extra:
            # the scheme's own result type: its extra frames (``redemptions``) and its
            # own count of scored rows (rejected extra rows are no rejected records)
            extra_frames = {k: frames[k] for k in self.split.extra if hasattr(template, k)
                            and k in frames} | {
                k: getattr(template, k) for k in self.split.extra
                if k not in frames and isinstance(getattr(template, k, None), pl.DataFrame)}
            return replace(template, output=frames["output"], rejected=frames["rejected"],
                           details=frames["details"], rows_in=rows_in, **extra_frames)
        return SparkBatchResult(template.scheme, template.policy, self.as_of,
                                frames["output"], frames["rejected"], frames["details"],
                                rows_in, shown_by=self.compiled,
                                categorical_reasons=template.categorical_reasons)

    def _merged(self, kind: str, parts: list[pl.DataFrame],
                template: pl.DataFrame) -> pl.DataFrame:
        parts = [p for p in parts if p.height]
        if not parts:
            return template
        merged = pl.concat(parts, how="vertical_relaxed", rechunk=False) \
            if len(parts) > 1 else parts[0]
        parts.clear()  # the pieces are referenced by ``merged`` alone from here
        if template.width and merged.columns == template.columns:
            merged = merged.cast(template.schema, strict=False) \
                if merged.schema != template.schema else merged
        return merged.sort(*self.order(kind, merged), maintain_order=True)

    def order(self, kind: str, frame: pl.DataFrame) -> list[pl.Expr]:
        """How local batch orders a frame: by ``row``, or as ``Split.order`` says; the
        rejected rows of the records, then of each extra input, each by ``row``."""
        if kind == "rejected" and self.split.extra and "input" in frame.columns:
            place = {name: i for i, name in enumerate(self.split.extra, start=1)}
            return [pl.col("input").cast(pl.String).replace_strict(
                place, default=0, return_dtype=pl.Int64), pl.col("row")]
        if kind in self.split.order:
            last = pl.lit(pl.Series(list(self.split.last), dtype=pl.String)).implode()
            return [e for c in self.split.order[kind]
                    for e in (pl.col(c).is_in(last), pl.col(c))]
        return [pl.col("row")] if "row" in frame.columns else []

    def frame(self, kind: str = "output") -> DataFrame:
        """One of the result frames (``output``, ``details``, ``rejected``) as a Spark
        DataFrame, never collected to the driver; its rows are in no particular order."""
        from pyspark.sql.pandas.types import from_arrow_schema

        template = getattr(self._template(), kind)
        schema = _plain(template.to_arrow().schema)

        def decode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for batch in batches:
                for part in batch.column("part").to_pylist():
                    table = pl.read_ipc(io.BytesIO(bytes(part or b""))).to_arrow()
                    yield from table.cast(schema).to_batches()

        from pyspark.sql import functions as F

        return self.decided.filter(F.col("kind") == kind).select("part") \
            .mapInArrow(decode, from_arrow_schema(schema))

    def write(self, kind: str, path: str, format: str = "parquet") -> None:
        """Write a result frame from the executors (``format`` as Spark names it)."""
        self.frame(kind).write.format(format).mode("errorifexists").save(path)


def _plain(schema: pa.Schema) -> pa.Schema:
    """Arrow's large and view types (what polars writes) as the plain ones Spark reads,
    and its unsigned integers (a polars count is UInt32) as the signed type that holds
    every value (UInt64 as Int64: a count beyond 2^63 is not a count of records), since
    Spark has no unsigned types; a dictionary (Categorical) as its values."""
    import pyarrow as pa

    signed = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64(),
              pa.uint64(): pa.int64()}

    def plain(t: pa.DataType) -> pa.DataType:
        if t in signed:
            return signed[t]
        if pa.types.is_dictionary(t):
            return plain(t.value_type)
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            return pa.string()
        if pa.types.is_large_list(t) or pa.types.is_list_view(t):
            return pa.list_(plain(t.value_type))
        if pa.types.is_list(t):
            return pa.list_(plain(t.value_type))
        return t

    return pa.schema([pa.field(f.name, plain(f.type)) for f in schema])
