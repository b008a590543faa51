#!/usr/bin/env python3
"""civicscore on Spark against local polars: the same households, the same decisions.

Why it is shaped this way:

* **Ratios on one machine.** The synthetic city of ``bench.py`` (visit tiers of the
  ``karamay`` policy, caseloads per liaison: a scheme with a shuffle by key) is
  written once to Parquet; local batch (``policy.visits.batch``) and
  ``civicscore.spark.score`` on ``local[1]`` and ``local[2]`` read that file. Times
  are wall clock of one run each (a Spark session is started before its timer).
* **Correctness first.** Spark's output must equal local batch's frame for frame,
  or the run stops before printing a figure. Local batch's frames are written to
  Arrow IPC files (polars' own types, exactly) and dropped before Spark runs, and
  are read back one at a time to compare: at 10^7 households the two results would
  not fit in memory together (about 1.1 KiB a row each).
* **An estimate, written out.** From the measured rows per second per executor core
  and the bytes each row moves through the shuffles (the id window and the bucket
  groups), as Spark counted them (the shuffle bytes written by every stage of the
  run, from Spark's status store), the run prints an estimate for 10^7 and 10^8
  households on a cluster of ``--cluster-cores`` cores. It is an estimate, not a
  measurement; docs/spark.md says what it leaves out.

    python benchmarks/spark_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench
import polars as pl
from polars.testing import assert_frame_equal

import civicscore


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=float, default=1e6)
    p.add_argument("--policy", default=bench.DEFAULT_POLICY)
    p.add_argument("--cores", default="1,2", help="executor cores of local[N] to run")
    p.add_argument("--cluster-cores", type=int, default=200)
    p.add_argument("--memory", default="6g", help="driver (and local executor) heap")
    p.add_argument("--write", action="store_true",
                   help="write Spark's frames to Parquet from the executors (run().write) "
                        "instead of collecting them to the driver; the default from 5*10^6 "
                        "rows, where the collected result no longer fits a driver's heap")
    p.add_argument("--partitions", type=int, default=0,
                   help="parts the input is decided in (default: 8 per core, and at least "
                        "one per 250,000 rows, so no task's result nears Spark's 1 GiB "
                        "spark.driver.maxResultSize)")
    args = p.parse_args(argv)
    n = int(args.rows)
    policy = civicscore.load(args.policy)
    frame = bench.households(n, 7, bench.visit_facts(policy))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "households.parquet"
        frame.write_parquet(path)
        bytes_per_row = path.stat().st_size / n
        as_of = bench.AS_OF
        t = time.perf_counter()
        local = policy.visits.batch(path, as_of=as_of)
        # every frame built inside the timer, as Spark's buckets build all three (local
        # batch builds a frame on first read: timing .output alone left details out)
        for kind in ("output", "details", "rejected"):
            getattr(local, kind)
        local_s = time.perf_counter() - t
        rows = [("local polars", 1, local_s)]
        kinds = ("output", "details", "rejected")
        for kind in kinds:
            getattr(local, kind).write_ipc(Path(tmp) / f"local-{kind}.arrow")
        del local, frame
        gc.collect()
        from civicscore import spark as cs

        # local mode runs the executors in the driver's JVM, whose default heap (1 GiB)
        # cannot hold a bucket's result frames at 10^6 rows (it ran out of heap)
        # collect() brings the whole result to the driver: at 10^7 households that is
        # several GiB in all, more than Spark's default 1 GiB spark.driver.maxResultSize
        os.environ.setdefault("PYSPARK_SUBMIT_ARGS", f"--driver-memory {args.memory} "
                                                     f"--conf spark.driver.maxResultSize=0 "
                                                     f"pyspark-shell")

        shuffled_per_row = 0.0
        for cores in (int(c) for c in args.cores.split(",")):
            session = cs.session(f"local[{cores}]")
            session.range(1).count()  # the JVM and a Python worker are up before timing
            before = shuffle_bytes(session)
            t = time.perf_counter()
            parts = args.partitions or max(8 * cores, -(-n // 250_000))
            if args.write or n >= 5_000_000:
                # at 10^7 households the collected frames (~1.7 KB a household) are more
                # than a driver's heap: the executors write them, as a cluster job would
                spark_s, got = _written(cs, policy, path, as_of, parts, Path(tmp), cores,
                                        kinds, t)
            else:
                remote = cs.score(policy, "visits", str(path), as_of=as_of, partitions=parts)
                spark_s = time.perf_counter() - t
                got = {kind: (lambda k=kind, r=remote: getattr(r, k)) for kind in kinds}
            shuffled_per_row = (shuffle_bytes(session) - before) / n
            for kind in kinds:
                expected = pl.read_ipc(Path(tmp) / f"local-{kind}.arrow")
                assert_frame_equal(expected, got[kind]())
                del expected
                gc.collect()
            rows.append((f"spark local[{cores}]" + (" (written)" if args.write or
                                                     n >= 5_000_000 else ""), cores, spark_s))
            del got
            gc.collect()
            session.stop()
    print(f"{n:,} households, policy {args.policy}, {bytes_per_row:.0f} Parquet bytes/row, "
          f"{shuffled_per_row:.0f} shuffle bytes/row (written, all stages)")
    print(f"{'engine':<18} {'cores':>5} {'seconds':>9} {'rows/s':>12} {'vs local':>9}")
    for name, cores, s in rows:
        print(f"{name:<18} {cores:>5} {s:>9.1f} {n / s:>12,.0f} {s / local_s:>8.1f}x")
    best = max(rows[1:], key=lambda r: n / r[2] / r[1])
    per_core = n / best[2] / best[1]
    cores = args.cluster_cores
    for big in (10**7, 10**8):
        shuffled = big * shuffled_per_row  # written once, read once, over the network
        compute = big / (per_core * cores)
        network = shuffled / (cores / 8 * 125e6)  # 1 Gbit/s per 8-core executor
        print(f"estimate for {big:,} households on {cores} cores: {compute / 60:.1f} min of "
              f"compute at {per_core:,.0f} rows/s/core, {shuffled / 1e9:.1f} GB shuffled "
              f"(~{network / 60:.1f} min at 1 Gbit/s per 8 cores): about "
              f"{(compute + network) / 60:.1f} min")
    return 0


def _written(cs: Any, policy: Any, path: Path, as_of: Any, parts: int, tmp: Path,
             cores: int, kinds: Sequence[str], started: float) -> tuple[float, dict[str, Any]]:
    """Spark's run with its frames written to Parquet by the executors (the decided
    buckets persisted once, then each frame written from them), timed from ``started``;
    and for each frame a reader that puts the written rows in local batch's order."""
    batch = cs.run(policy, "visits", str(path), as_of=as_of, partitions=parts)
    batch.decided = batch.decided.persist()
    try:
        for kind in kinds:
            batch.write(kind, str(tmp / f"spark{cores}-{kind}"))
    finally:
        batch.decided.unpersist()
        for frame in batch.persisted:
            frame.unpersist()
    seconds = time.perf_counter() - started
    template = batch._template()

    def reader(kind: str) -> Any:
        def read() -> pl.DataFrame:
            want = getattr(template, kind)
            frame = pl.read_parquet(tmp / f"spark{cores}-{kind}" / "*.parquet")
            frame = frame.cast(want.schema, strict=False) if want.width else frame
            return frame.sort(*batch.order(kind, frame), maintain_order=True)
        return read

    return seconds, {kind: reader(kind) for kind in kinds}


def shuffle_bytes(session: object) -> int:
    """The shuffle bytes written by every stage the session has run so far, as Spark's
    status store counts them (what the web UI's Stages page shows, with the UI off)."""
    sc = session.sparkContext._jsc.sc()  # type: ignore[attr-defined]
    sc.listenerBus().waitUntilEmpty()  # the store is filled by listener events, later
    store = sc.statusStore()
    defaults = [getattr(store, f"stageList$default${i}")() for i in range(2, 6)]
    stages = store.stageList(None, *defaults)
    return sum(int(stages.apply(i).shuffleWriteBytes()) for i in range(stages.length()))


if __name__ == "__main__":
    raise SystemExit(main())
