"""Issue 12, decision logs: appended as whole runs; an interrupted run is named, not fatal.

Before, a half JSON line (a full disk, a killed run) made replay refuse the whole
log. Now each run's entries carry ``run_index`` / ``run_decisions`` (its last line
is the completion marker), a failed append is cut back, and replay names exactly
the run that is incomplete while replaying the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from civicscore.audit import scan_log
from civicscore.cli import main

from .conftest import EXAMPLE_POLICY, EXAMPLES

VISITS = EXAMPLES / "visits-households.csv"
CIVILITY = EXAMPLES / "civility-households.csv"


def log_run(log: Path, data: Path, scheme: str, out: Path) -> None:
    r = CliRunner().invoke(main, ["score", str(EXAMPLE_POLICY), str(data), "--scheme", scheme,
                                  "--as-of", "2025-12-31", "-o", str(out), "--log", str(log)])
    assert r.exit_code == 0, r.stderr


def replay(log: Path) -> object:
    r = CliRunner().invoke(main, ["replay", str(log)])
    assert "Traceback" not in r.output + r.stderr
    return r


def two_runs(tmp_path: Path) -> tuple[Path, list[str], list[str]]:
    log = tmp_path / "d.jsonl"
    log_run(log, VISITS, "visits", tmp_path / "v.csv")
    first = log.read_text(encoding="utf-8").splitlines()
    log_run(log, CIVILITY, "civility", tmp_path / "c.csv")
    second = log.read_text(encoding="utf-8").splitlines()[len(first):]
    return log, first, second


def test_every_entry_says_its_place_in_its_run(tmp_path: Path) -> None:
    log, first, second = two_runs(tmp_path)
    for lines in (first, second):
        entries = [json.loads(line) for line in lines]
        assert [e["run_index"] for e in entries] == list(range(1, len(entries) + 1))
        assert {e["run_decisions"] for e in entries} == {len(entries)}
    assert replay(log).exit_code == 0


def test_a_run_cut_mid_line_is_named_and_the_others_replay(tmp_path: Path) -> None:
    log, first, second = two_runs(tmp_path)
    run_id = json.loads(second[0])["run_id"]
    cut = "\n".join(first + second[:3]) + "\n" + second[3][: len(second[3]) // 2]
    log.write_text(cut, encoding="utf-8")  # a kill halfway through the fourth line
    r = replay(log)
    assert r.exit_code == 1
    assert f"NOT REPLAYED {run_id}: run {run_id} is incomplete: 3 of {len(second)} " \
           f"decisions logged" in r.stdout
    assert f"{len(first)} decisions replayed, 0 differ, 1 could not be replayed" in r.stdout


def test_the_next_run_after_a_cut_starts_on_its_own_line(tmp_path: Path) -> None:
    log, first, second = two_runs(tmp_path)
    log.write_text("\n".join(first) + "\n" + second[0][:40], encoding="utf-8")
    # cut before the run id was written: the run cannot be named, its line can
    log_run(log, VISITS, "visits", tmp_path / "again.csv")
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[len(first)] == second[0][:40]
    r = replay(log)
    assert r.exit_code == 1
    assert f"NOT REPLAYED line {len(first) + 1}: line {len(first) + 1}: a run cut off " \
           f"before its first decision" in r.stdout
    assert f"{2 * len(first)} decisions replayed, 0 differ, 1 could not be replayed" \
           in r.stdout


def test_missing_whole_lines_at_the_end_make_the_run_incomplete(tmp_path: Path) -> None:
    log, first, second = two_runs(tmp_path)
    log.write_text("\n".join(first + second[:-1]) + "\n", encoding="utf-8")
    contents = scan_log(log)
    assert [g.run_id for g in contents.incomplete] == [json.loads(second[0])["run_id"]]
    assert len(contents.entries) == len(first)


def test_a_log_of_an_earlier_version_without_counters_still_replays(tmp_path: Path) -> None:
    log, first, _ = two_runs(tmp_path)
    old = []
    for line in first:
        entry = json.loads(line)
        del entry["run_index"], entry["run_decisions"]
        del entry["seq"], entry["prev"]  # nor was it hash-chained (tests/test_audit_chain.py)
        old.append(json.dumps(entry, ensure_ascii=False))
    log.write_text("\n".join(old) + "\n", encoding="utf-8")
    r = replay(log)
    assert r.exit_code == 0, r.stdout


def test_replay_of_a_fifo_or_a_directory_is_refused_without_waiting(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "fifo.jsonl")
    r = replay(tmp_path / "fifo.jsonl")
    assert r.exit_code == 2 and "is a named pipe (FIFO), not a file" in r.stderr


def test_two_identical_runs_in_the_same_second_are_two_runs(tmp_path: Path) -> None:
    import datetime as dt

    import civicscore
    from civicscore.audit import DecisionLog
    from civicscore.io import read_records

    policy = civicscore.load(EXAMPLE_POLICY)
    records = list(read_records(VISITS))
    result = policy.visits.run(records, as_of=dt.date(2025, 12, 31))
    log = DecisionLog(tmp_path / "d.jsonl")
    now = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)
    log.write_run(policy, "visits", dt.date(2025, 12, 31), result, records, now=now)
    log.write_run(policy, "visits", dt.date(2025, 12, 31), result, records, now=now)
    entries = scan_log(log.path).entries
    assert len({e["run_id"] for e in entries}) == 2  # they shared one id before
    assert replay(log.path).exit_code == 0
