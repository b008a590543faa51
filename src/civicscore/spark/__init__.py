"""Scoring on Spark, identical to local batch (``pip install 'civicscore[spark]'``).

>>> from civicscore import spark                                     # doctest: +SKIP
>>> result = spark.score(policy, "visits", "households.parquet",
...                      as_of=dt.date(2026, 3, 1), master="local[2]")
>>> result.output                                   # the same frame as local batch

:func:`score` returns the very ``BatchResult`` that ``scheme.batch(...)`` gives
for the same input (the parity tests compare them frame for frame), and a
:class:`SparkBatch` that writes the outputs from Spark for results too large to
collect. How the input is split, and why that keeps every decision, is the
docstring of :mod:`civicscore.spark.partitioned`; a cluster run is docs/spark.md.
"""

from __future__ import annotations

from .partitioned import SparkBatch, run, score, session

__all__ = ["SparkBatch", "run", "score", "session"]
