"""Row numbers over a whole Spark input, the way local batch numbers a file's rows.

Used by :mod:`civicscore.spark.partitioned` (every input) and
:mod:`civicscore.spark.json_input` (a JSON Lines file's lines, then its records): one
module both import, so neither imports the other back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..batch.frames import ROW

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: Helper columns of the numbering (dropped before it returns).
_PID, _MID, _TOKEN = "__pid", "__mid", "__token"


def numbered(frame: DataFrame, kept: list[DataFrame]) -> tuple[DataFrame, int]:
    """Step 1: ``__row``, each row's 1-based number in the whole input, in input order
    (partition by partition), and how many rows there are. The frame is kept
    (persisted) so that the count per partition and the numbers are taken from the
    very same partitions; the persisted frame is added to ``kept``, for the caller to
    ``unpersist`` once the run is done (the frame returned is derived from it, and
    unpersisting that one would free nothing).

    The persisted frame carries a token of its own: Spark reuses a cached frame for any
    later query with the same plan, so without it a second read of a file rewritten
    since (or of a table changed since) would be served the first read's rows."""
    import uuid

    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    tagged = frame.withColumn(_PID, F.spark_partition_id()) \
        .withColumn(_MID, F.monotonically_increasing_id()) \
        .withColumn(_TOKEN, F.lit(uuid.uuid4().hex)).persist(StorageLevel.MEMORY_AND_DISK)
    kept.append(tagged)
    counts = dict((r[_PID], r["count"]) for r in tagged.groupBy(_PID).count().collect())
    offsets, total = [], 0
    for pid in range(max(counts, default=0) + 1):  # an empty partition has no count
        offsets.append(total)
        total += counts.get(pid, 0)
    # each partition's offset is an element of one array literal: no join, no broadcast
    offset = F.element_at(F.lit(offsets).cast("array<bigint>"), F.col(_PID) + 1)
    # the place in the partition is the low 33 bits of monotonically_increasing_id
    place = F.col(_MID) - F.shiftleft(F.col(_PID).cast("long"), 33)
    return tagged.withColumn(ROW, place + offset + 1).drop(_PID, _MID, _TOKEN), total


def release(kept: list[DataFrame]) -> None:
    """Unpersist the frames :func:`numbered` kept."""
    while kept:
        kept.pop().unpersist()
