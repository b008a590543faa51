"""Several processes on one ledger, and processes killed while posting (issue 14).

* processes redeeming the same balance at once: exactly as many succeed as the balance
  covers, the others are refused, and the balance never goes below zero;
* processes posting the same redemption id at once: one transfer, every one told so;
* ``kill -9`` of a process in the middle of a post leaves no partial run: the ledger
  verifies, holds all of the post or none of it, and posting again gives exactly the
  balances of a clean run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import civicscore
from civicscore.ledger import open_ledger

from .conftest import AS_OF, EXAMPLE_POLICY, EXAMPLES
from .test_ledger_server import ledger_url, pg_server, slow  # noqa: F401

SRC = Path(civicscore.__file__).resolve().parents[1]

_REDEEMER = textwrap.dedent("""
    import json, os, sys, time
    from civicscore.ledger import open_ledger
    from civicscore.errors import LedgerError
    url, go, rid, points = sys.argv[1:5]
    with open_ledger(url) as book:
        book.balance("V01", on="2025-12-01")  # connected and warm before the start
        while not os.path.exists(go):
            time.sleep(0.001)
        try:
            t = book.redeem("V01", points, id=rid, on="2025-12-01")
            print(json.dumps({"ok": t.id}))
        except LedgerError as e:
            print(json.dumps({"refused": str(e)}))
""")


def _posted(url: str) -> None:
    policy = civicscore.load(EXAMPLE_POLICY, today=dt.date(2025, 1, 1))
    from civicscore.io import read_records

    with open_ledger(url, create=True) as book:
        book.migrate()
        book.post(policy, list(read_records(EXAMPLES / "volunteer-activities.csv")),
                  as_of=AS_OF)


def _race(url: str, tmp_path: Path, jobs: list[tuple[str, str]]) -> list[dict[str, str]]:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [subprocess.Popen([sys.executable, "-c", _REDEEMER, url, str(go), rid, points],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for rid, points in jobs]
    time.sleep(1.0)  # let them all connect (not an assertion: only a head start)
    go.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    return outs


def test_two_counters_cannot_spend_the_same_points(ledger_url: str,  # noqa: F811
                                                   tmp_path: Path) -> None:
    _posted(ledger_url)  # V01 has 29.25 points on 2025-12-01
    outs = _race(ledger_url, tmp_path, [(f"R{i}", "10") for i in range(4)])
    assert sum("ok" in o for o in outs) == 2
    refused = [o["refused"] for o in outs if "refused" in o]
    assert len(refused) == 2
    assert all("only 9.25 unexpired points are available" in r for r in refused)
    with open_ledger(ledger_url) as book:
        assert book.balance("V01", on="2025-12-01").balance == 9.25
        assert book.verify() == []


def test_the_same_redemption_posted_at_once_is_one_transfer(ledger_url: str,  # noqa: F811
                                                            tmp_path: Path) -> None:
    _posted(ledger_url)
    outs = _race(ledger_url, tmp_path, [("SAME", "5")] * 4)
    assert outs == [{"ok": "redeem:SAME"}] * 4
    with open_ledger(ledger_url) as book:
        assert [t.id for t in book.transfers() if t.kind == "redeem"] == ["redeem:SAME"]
        assert book.balance("V01", on="2025-12-01").balance == 24.25
        assert book.verify() == []


# --- kill -9 -----------------------------------------------------------------------------------

_POSTER = textwrap.dedent("""
    import datetime as dt, json, sys
    import civicscore
    from civicscore.ledger import open_ledger
    url, policy, records = sys.argv[1:4]
    rows = [json.loads(line) for line in open(records, encoding="utf-8")]
    pol = civicscore.load(policy, today=dt.date(2025, 1, 1))
    with open_ledger(url) as book:
        print("scoring", flush=True)
        result = pol.volunteer.decide_many(rows, as_of=dt.date(2025, 12, 31))
        print("posting", flush=True)
        summary = book.post_result(pol.volunteer, result, rows)
        print("posted", summary.posted, flush=True)
""")

_POLICY = """
[policy]
id = "crash"
version = "1"
[volunteer]
confirmation_required = false
overlap = "allow"
point_expiry_months = 6
[volunteer.activities.a]
points_per_hour = 1.25
"""


def _records(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            day = dt.date(2025, 1, 1) + dt.timedelta(days=i % 300)
            out.write(json.dumps({"record_id": f"C{i}", "volunteer_id": f"V{i % 97}",
                                  "activity": "a", "start": f"{day}T09:00",
                                  "end": f"{day}T{10 + i % 5}:30"}) + "\n")


@pytest.mark.parametrize(("fraction", "n"), [
    (0.5, 1_500),
    pytest.param(0.0, 20_000, marks=slow), pytest.param(0.3, 20_000, marks=slow),
    pytest.param(0.6, 20_000, marks=slow), pytest.param(0.9, 20_000, marks=slow)])
def test_kill_9_while_posting_leaves_no_partial_run(ledger_url: str,  # noqa: F811
                                                    tmp_path: Path, fraction: float,
                                                    n: int) -> None:
    """The kill lands ``fraction`` of the way through the post, after the child says it
    is posting (how long a post takes is measured on a clean post of the same records
    in this process: it places the kill, it is not an assertion)."""
    policy_file, records = tmp_path / "crash.toml", tmp_path / "records.jsonl"
    policy_file.write_text(_POLICY, encoding="utf-8")
    _records(records, n)
    rows = [json.loads(line) for line in records.read_text(encoding="utf-8").splitlines()]
    policy = civicscore.load(policy_file, today=dt.date(2025, 1, 1))
    result = policy.volunteer.decide_many(rows, as_of=AS_OF)
    with open_ledger(tmp_path / "clean.db", create=True) as book:
        book.migrate()
        t0 = time.monotonic()
        book.post_result(policy.volunteer, result, rows)
        took = time.monotonic() - t0
        reference = [b.to_row() for b in book.balances(on=AS_OF)]
    with open_ledger(ledger_url, create=True) as book:
        book.migrate()
    p = subprocess.Popen([sys.executable, "-c", _POSTER, ledger_url, str(policy_file),
                          str(records)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert p.stdout is not None
    while (line := p.stdout.readline()) and line.strip() != "posting":
        pass
    time.sleep(took * fraction)
    os.kill(p.pid, signal.SIGKILL)
    p.communicate(timeout=60)
    with open_ledger(ledger_url) as book:
        assert book.verify() == []
        count = sum(1 for _ in book.transfers())
        assert count in (0, n)  # all of the post or none of it
        again = book.post_result(policy.volunteer, result, rows)
        assert (again.posted, again.unchanged) == (n - count, count)
        assert [b.to_row() for b in book.balances(on=AS_OF)] == reference
        assert book.verify() == []
