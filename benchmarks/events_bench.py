"""Events per second of civicscore's two event engines, against a hand-written Python loop.

On one seeded synthetic log (discharges, visits done and missed, volunteer
activity, confirmed falsifications, about one in a thousand rows of an
unknown type), it times the baseline policy's four event rules:

* ``durable``: ``policy.events.run(log, until=..., engine="durable")``, every event
  posted to durable-rules through civicscore's adapter;
* ``reference``: the same with ``engine="reference"`` (polars);
* ``hand-written``: a plain Python loop of the same four rules over the sorted
  log, with none of civicscore's checks (the floor a rule engine competes with);

and the latency of one ``post`` in an online session (median and 99th percentile
of individually timed calls). Correctness before speed: the three must give the
same actions, or the run stops with status 1 before any table is printed.

    python benchmarks/events_bench.py                  # 10^5 and 10^6 events
    python benchmarks/events_bench.py --sizes 1e4,1e5  # quicker

Times are the machine's wall clock (``time.perf_counter``), one round per size:
on a shared machine, read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import civicscore
from civicscore.events.core import Span, action_order, end_of

KINDS = ["discharged", "visit_done", "visit_missed", "activity", "falsification_confirmed"]
UNTIL = dt.date(2030, 12, 31)


def make_log(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` events over about two years, for n/20 subjects, in time order."""
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1)
    subjects = max(1, n // 20)
    step = 2 * 365 * 86400 / max(n, 1)
    rows = []
    for i in range(n):
        kind = rng.choices(KINDS, weights=[10, 30, 25, 34, 1])[0]
        row: dict[str, Any] = {"event_id": f"e{i}", "type": kind,
                               "subject_id": f"s{rng.randrange(subjects)}",
                               "at": (start + dt.timedelta(seconds=int(i * step))).isoformat()}
        if kind == "activity":
            row["hours"] = 1 + rng.randrange(4)
        elif kind == "falsification_confirmed":
            row["falsified_hours"] = 1 + rng.randrange(10)
        if rng.random() < 0.001:
            row["type"] = "unknown_kind"
        rows.append(row)
    return rows


def hand_written(rows: list[dict[str, Any]], until: dt.date) -> list[tuple[Any, ...]]:
    """The baseline's four rules as a plain loop: (at, subject, rule, action, events)."""
    end = end_of(until)
    h24, d180, y1 = dt.timedelta(hours=24), dt.timedelta(days=180), Span.parse("P1Y")
    events = sorted((dt.datetime.fromisoformat(r["at"]), r["event_id"], r["type"],
                      r["subject_id"]) for r in rows if r["type"] in KINDS)
    out: list[tuple[Any, ...]] = []
    open_visits: dict[str, list[tuple[dt.datetime, str]]] = {}
    last_visit: dict[str, dt.datetime] = {}
    missed: dict[str, list[str]] = {}
    last_activity: dict[str, tuple[dt.datetime, str]] = {}
    for at, eid, kind, subject in events:
        if kind == "discharged":
            out.append((at, subject, "discharge_visit_24h", "visit_due", [eid]))
            if last_visit.get(subject) != at:
                open_visits.setdefault(subject, []).append((at + h24, eid))
        elif kind == "visit_done":
            last_visit[subject] = at
            for due, opened in open_visits.pop(subject, []):
                if due < at:
                    out.append((due, subject, "discharge_visit_24h", "visit_overdue",
                                [opened]))
            missed.pop(subject, None)
        elif kind == "visit_missed":
            run = missed.setdefault(subject, [])
            run.append(eid)
            if len(run) == 3:
                out.append((at, subject, "missed_visits_escalate", "escalate", list(run)))
                run.clear()
        elif kind == "activity":
            previous = last_activity.get(subject)
            if previous is not None and at > previous[0] + d180:
                out.append((previous[0] + d180, subject, "volunteer_inactive_reminder",
                            "reminder", [previous[1]]))
            last_activity[subject] = (at, eid)
        else:
            out.append((at, subject, "falsified_hours_bar", "bar_star_certification", [eid]))
    for subject, pending in open_visits.items():
        out += [(due, subject, "discharge_visit_24h", "visit_overdue", [opened])
                for due, opened in pending if due <= end]
    for subject, (at, eid) in last_activity.items():
        if at + d180 <= end:
            out.append((at + d180, subject, "volunteer_inactive_reminder", "reminder", [eid]))
    assert y1.months == 12
    return sorted((a.isoformat(), s, r, act, ids) for a, s, r, act, ids in out)


def _timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    value = fn()
    return time.perf_counter() - t, value


def post_latency(policy: civicscore.Policy, rows: list[dict[str, Any]]) -> tuple[float, float]:
    """Median and 99th percentile of one ``post``, in µs."""
    session = policy.events.session(until=UNTIL)
    times = []
    for row in rows:
        t = time.perf_counter_ns()
        session.post(row)
        times.append(time.perf_counter_ns() - t)
    session.close()
    times.sort()
    return statistics.median(times) / 1000, times[int(len(times) * 0.99)] / 1000


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1e5,1e6", help="event counts, e.g. 1e5,1e6")
    p.add_argument("--seed", type=int, default=20251231)
    p.add_argument("--latency-sample", type=int, default=20_000)
    args = p.parse_args(argv)
    policy = civicscore.load("baseline")
    lines = ["| events | engine | seconds | events/s | × hand-written |",
             "|---:|---|---:|---:|---:|"]
    for size in [int(float(s)) for s in args.sizes.split(",")]:
        rows = make_log(size, args.seed)
        print(f"{size} events ...", file=sys.stderr)
        base_t, expected = _timed(lambda: hand_written(rows, UNTIL))  # noqa: B023
        results = {}
        for engine in ("durable", "reference"):
            t, run = _timed(lambda e=engine: policy.events.run(rows, until=UNTIL, engine=e))  # noqa: B023
            got = [(a["at"], a["subject_id"], a["rule"], a["action"], a["events"])
                   for a in sorted(run.actions, key=action_order)]
            if got != expected:
                diff = next(i for i, (x, y) in enumerate(zip(got, expected, strict=False))
                            if x != y) if got and expected else 0
                print(f"{engine} disagrees with the hand-written loop at action {diff}: "
                      f"{got[diff:diff + 1]} vs {expected[diff:diff + 1]} "
                      f"({len(got)} vs {len(expected)} actions)", file=sys.stderr)
                return 1
            results[engine] = t
            print(f"  {engine}: {t:.2f} s, {len(run.actions)} actions, "
                  f"{len(run.rejected)} rejected", file=sys.stderr)
        lines.append(f"| {size:,} | hand-written loop | {base_t:.2f} | {size / base_t:,.0f} "
                     f"| 1.0 |")
        for engine, t in results.items():
            lines.append(f"| {size:,} | {engine} | {t:.2f} | {size / t:,.0f} "
                         f"| {t / base_t:.1f} |")
    sample = make_log(args.latency_sample, args.seed + 1)
    median, p99 = post_latency(policy, sample)
    print("\n".join(lines))
    print(f"\none post in an online session ({args.latency_sample:,} posts): "
          f"median {median:.0f} µs, p99 {p99:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
