"""Issue 12, fault injection: a run killed at random points, or stopped by a full disk.

Whatever happens to a run, an output is either absent or complete (the bytes an
undisturbed run writes), and the decision log either replays or names exactly the
run that is incomplete. The kill points are drawn from a fixed seed (printed in the
assertion messages); no assertion depends on time, only where the kills land does.
"""

from __future__ import annotations

import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from civicscore.audit import scan_log

from .conftest import EXAMPLE_POLICY, EXAMPLES

SEED = 20261201
KILLS = 6
VISITS = EXAMPLES / "visits-households.csv"


def _input(tmp_path: Path, rows: int = 4000) -> Path:
    lines = VISITS.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for i in range(rows):
        cells = lines[1 + i % (len(lines) - 1)].split(",")
        cells[0] = f"h{i}"
        out.append(",".join(cells))
    path = tmp_path / "in.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _args(data: Path, out: Path, log: Path) -> list[str]:
    return [sys.executable, "-m", "civicscore", "score", str(EXAMPLE_POLICY), str(data),
            "--scheme", "visits", "--as-of", "2025-12-31", "--engine", "per-record",
            "-o", str(out), "--details", str(out.with_suffix(".details.jsonl")),
            "--log", str(log)]


def _check_log(log: Path, note: str) -> None:
    if not log.exists() or not log.read_bytes().strip():
        return  # nothing logged (an empty log is refused by replay: it proves nothing)
    contents = scan_log(log)
    for gap in contents.incomplete:
        assert "incomplete" in gap.message or "cut off" in gap.message, (note, gap)
    r = subprocess.run([sys.executable, "-m", "civicscore", "replay", str(log)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode in (0, 1), (note, r.stderr)
    assert "DIFFERS" not in r.stdout, (note, r.stdout[:2000])
    not_replayed = [ln for ln in r.stdout.splitlines() if ln.startswith("NOT REPLAYED")]
    assert len(not_replayed) == len(contents.incomplete), (note, r.stdout[-2000:])
    assert (r.returncode == 0) == (not contents.incomplete), (note, r.stdout[-2000:])


def test_a_run_killed_at_random_points_leaves_whole_files_or_none(tmp_path: Path) -> None:
    data = _input(tmp_path)
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    started = time.monotonic()
    ref = subprocess.run(_args(data, ref_dir / "o.csv", ref_dir / "log.jsonl"),
                         capture_output=True, text=True, timeout=600)
    took = time.monotonic() - started  # only to spread the kill points over a run
    assert ref.returncode == 0, ref.stderr
    expected = {p.name: p.read_bytes() for p in ref_dir.iterdir() if p.name != "log.jsonl"}
    rng = random.Random(SEED)
    work = tmp_path / "work"
    work.mkdir()
    log = work / "log.jsonl"
    for kill in range(KILLS):
        delay = rng.uniform(0.2, 1.0) * took
        note = f"seed {SEED}, kill {kill} after {delay:.2f} s of {took:.2f} s"
        for p in work.iterdir():
            if p.name != "log.jsonl":
                p.unlink()
        proc = subprocess.Popen(_args(data, work / "o.csv", log), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        for p in work.iterdir():
            if p.name == "log.jsonl" or p.name.endswith(".tmp"):
                continue  # a kill may leave a hidden temporary file, never a partial output
            assert p.read_bytes() == expected[p.name], (note, p.name)
        _check_log(log, note)


def _limit(size: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return apply


@pytest.mark.parametrize("limit", [1000, 20_000, 200_000, 2_000_000])
def test_a_full_disk_at_any_size_leaves_whole_files_or_none(tmp_path: Path, limit: int
                                                            ) -> None:
    data = _input(tmp_path, rows=1500)
    out = tmp_path / "o.csv"
    log = tmp_path / "log.jsonl"
    for attempt in range(2):  # the second appends to the log the first left
        r = subprocess.run(_args(data, out, log), capture_output=True, text=True,
                           timeout=600, preexec_fn=_limit(limit))
        note = f"limit {limit}, attempt {attempt}"
        assert r.returncode in (0, 2), (note, r.stderr)
        assert "bug" not in r.stderr and "Traceback" not in r.stderr, (note, r.stderr)
        if r.returncode == 2:
            assert "cannot write" in r.stderr, (note, r.stderr)
            assert not out.exists() or attempt == 1, note
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == [], note
        _check_log(log, note)
