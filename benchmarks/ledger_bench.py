#!/usr/bin/env python3
"""Points ledger benchmark (issue 14): posting throughput and balance queries.

    python benchmarks/ledger_bench.py [--n 100000] [--runs 1] [--pg postgresql://...]

* **Posting**: N synthetic activity records (N/10 volunteers) are scored once with the
  volunteer scheme, then posted in one batch (one transfer each, its lot in it) into a
  fresh SQLite ledger, and into PostgreSQL when ``--pg`` names an empty database or
  schema. Reported as transfers per second of ``post_result`` (target: >= 50,000/s on
  SQLite).
* **Floor**: the same number of rows inserted into bare SQLite tables (no keys, indexes,
  triggers, checks, Python objects) in this run: the ratio to it is what the ledger's
  checks cost, whatever the machine's load.
* **Balance**: the median time of ``balance(volunteer)`` for random volunteers among
  N/10 (target: < 1 ms), side by side with what a balance costs without a ledger:
  re-scoring the full history (the scoring time above, which a statement needs).
* **Runs**: ``--runs K`` posts the same scored records into K fresh ledgers of each
  backend (scored once: at 10^6 scoring takes minutes) and prints each run, then the
  median of each column; a shared machine moves one run by a third.
* **CPU**: each post's CPU seconds (this process's; a PostgreSQL server's are not in
  it) beside the wall clock, and as a ratio to the floor's: on a loaded machine the
  CPU figures move far less than the wall clock. To compare two versions, run this
  script with the other version's ``src`` first on ``PYTHONPATH``.
* **Not a test**: nothing here is asserted; the machine is shared, so read the ratios.
  Results are printed, never committed (benchmarks/RESULTS.md is someone else's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import civicscore
from civicscore.ledger import Ledger, open_ledger

POLICY = """
[policy]
id = "bench"
version = "1"
[volunteer]
confirmation_required = false
overlap = "allow"
point_expiry_months = 24
[volunteer.activities.a]
points_per_hour = 1.25
[volunteer.activities.e]
points_per_event = 2
"""
AS_OF = dt.date(2025, 12, 31)


def records(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(700))
        hour = rng.randrange(6, 18)
        out.append({"record_id": f"R{i}", "volunteer_id": f"V{rng.randrange(max(n // 10, 1))}",
                    "activity": "a" if rng.random() < 0.8 else "e",
                    "start": f"{day}T{hour:02d}:00",
                    "end": f"{day}T{hour + rng.randrange(1, 5):02d}:{rng.choice(['00', '30'])}"})
    return out


def raw_insert_seconds(path: Path, n: int) -> tuple[float, float]:
    """The floor: ``n`` transfer-sized rows and ``n`` lot-sized rows inserted into bare
    SQLite tables (no keys, indexes, triggers or checks) in one transaction."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"CREATE TABLE t ({', '.join(f'c{i}' for i in range(16))})")
    conn.execute("CREATE TABLE l (a, b, c, d, e)")
    rows = [(f"earn:R{i}", "earn", "programme:issuance", f"volunteer:V{i % 9999}", "1.25",
             "2025-01-01", f"V{i % 9999}", 60, "bench", "1", "f" * 64, '["RATE"]', "e" * 64,
             "", "", "2025-12-31T00:00:00") for i in range(n)]
    lots = [(f"earn:R{i}", f"V{i % 9999}", "2025-01-01", "2027-01-01", "1.25")
            for i in range(n)]
    t0, c0 = time.perf_counter(), time.process_time()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * 16)})", rows)
    conn.executemany("INSERT INTO l VALUES (?, ?, ?, ?, ?)", lots)
    conn.execute("COMMIT")
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    conn.close()
    return took, cpu


def balance_times(book: Ledger, volunteers: list[str], repeats: int, seed: int
                  ) -> list[float]:
    rng = random.Random(seed)
    times = []
    for _ in range(repeats):
        vid = rng.choice(volunteers)
        t0 = time.perf_counter()
        book.balance(vid, on=AS_OF)
        times.append(time.perf_counter() - t0)
    return times


def _empty(url: str) -> None:
    """Drop what a run left in the PostgreSQL schema of ``url``, for the next run."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for view in ("lots",):
            conn.execute(f"DROP VIEW IF EXISTS {view} CASCADE")
        for table in ("lot_uses", "transfers", "accounts", "ledger_meta", "lots"):
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        conn.execute("DROP FUNCTION IF EXISTS ledger_append_only() CASCADE")


def _post_once(name: str, url: str, policy: civicscore.Policy, result: object,
               rows: list[dict[str, str]], args: argparse.Namespace, floor: float,
               floor_cpu: float, scoring: float) -> list[float]:
    """One post of every scored record into a fresh ledger, and the balance queries."""
    with open_ledger(url, create=True) as book:
        book.migrate()
        t0, c0 = time.perf_counter(), time.process_time()
        summary = book.post_result(policy.volunteer, result, rows)  # type: ignore[arg-type]
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        volunteers = book.volunteers()
        times = sorted(balance_times(book, volunteers, args.repeats, args.seed))
    median = statistics.median(times)
    p99 = times[int(len(times) * 0.99) - 1]
    return [summary.posted, took, summary.posted / took, took / floor, cpu,
            summary.posted / cpu, cpu / floor_cpu, median * 1e3, p99 * 1e3, scoring / median]


def _line(name: str, c: list[float]) -> str:
    return (f"{name:<10} {c[0]:>9.0f} {c[1]:>8.2f} {c[2]:>12,.0f} {c[3]:>8.1f}x {c[4]:>7.2f} "
            f"{c[5]:>10,.0f} {c[6]:>12.1f}x {c[7]:>12.3f} ms {c[8]:>6.3f} ms {c[9]:>11,.0f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="activity records")
    parser.add_argument("--pg", default=None, help="an empty PostgreSQL database URL")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--repeats", type=int, default=1000, help="balance queries timed")
    parser.add_argument("--runs", type=int, default=1,
                        help="posts into fresh ledgers of each backend (medians printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    (work / "bench.toml").write_text(POLICY, encoding="utf-8")
    policy = civicscore.load(work / "bench.toml", today=dt.date(2025, 1, 1))
    rows = records(args.n, args.seed)
    t0 = time.perf_counter()
    result = policy.volunteer.decide_many(rows, as_of=AS_OF)
    scoring = time.perf_counter() - t0
    print(f"{args.n} records, seed {args.seed}; scoring the full history (per-record "
          f"engine): {scoring:.2f} s ({args.n / scoring:,.0f} records/s)")
    targets = [("sqlite", str(work / "points.db"))] + ([("postgres", args.pg)]
                                                      if args.pg else [])
    floor, floor_cpu = raw_insert_seconds(work / "raw.db", len(result.scored))
    print(f"floor: {len(result.scored)} bare SQLite rows of each kind in one transaction: "
          f"{floor:.2f} s ({len(result.scored) / floor:,.0f} pairs/s), CPU {floor_cpu:.2f} s")
    print("(CPU: this process's CPU seconds, which a loaded machine inflates less than the "
          "wall clock; a PostgreSQL server's own CPU is not in it)")
    print(f"{'backend':<10} {'posted':>9} {'post s':>8} {'transfers/s':>12} "
          f"{'vs floor':>9} {'CPU s':>7} {'per CPU s':>10} {'CPU vs floor':>13} "
          f"{'balance median':>15} {'p99':>9} {'vs re-score':>12}")
    for name, url in targets:
        lines = []
        for run in range(args.runs):
            if name == "sqlite":
                url = str(work / f"points{run}.db")
            elif run:
                _empty(url)
            lines.append(_post_once(name, url, policy, result, rows, args, floor, floor_cpu,
                                    scoring))
            print(_line(name, lines[-1]), flush=True)
            if name == "sqlite":  # 10^6 transfers are 400 MB
                for path in work.glob(f"points{run}.db*"):
                    path.unlink()
        if args.runs > 1:
            print(_line(f"{name} med", [statistics.median(c) for c in zip(*lines, strict=True)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
