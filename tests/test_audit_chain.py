"""Hash-chained decision logs (issue 11, item 7): every entry, decisions and reviews, carries
the hash of the line before it, so a deleted, edited or reordered entry is named by line;
older unchained logs read as unchained, not as tampered; appending stays atomic."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

import civicscore
from civicscore.audit import DecisionLog, append_chained, scan_log
from civicscore.cli import main
from civicscore.io import read_records
from civicscore.logchain import GENESIS, line_hash, replay_lines, verify_chain
from civicscore.review import record_review

from .conftest import EXAMPLE_POLICY, EXAMPLES

AS_OF = dt.date(2025, 12, 31)
VISITS = EXAMPLES / "visits-households.csv"


@pytest.fixture(autouse=True, scope="module")
def both_languages() -> Iterator[None]:
    """verify-log and replay say a broken chain in both languages when none is asked
    (a log is read by officers and by auditors): these tests read that default, so they
    ask for no language (the suite's CIVICSCORE_LANG=en removed). For the whole module:
    the run the logs hold is decided (its rejections worded) in the language it is
    logged in, as one command does."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CIVICSCORE_LANG", raising=False)
        yield


def run(*args: object) -> Any:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in r.output
    return r


@pytest.fixture(scope="module")
def visits() -> tuple[civicscore.Policy, list[Any], Any]:
    policy = civicscore.load(EXAMPLE_POLICY)
    records = list(read_records(VISITS))
    return policy, records, policy.visits.run(records, as_of=AS_OF)


def log_run(path: Path, visits: tuple[civicscore.Policy, list[Any], Any]) -> None:
    policy, records, result = visits
    DecisionLog(path).write_run(policy, "visits", AS_OF, result, records)


@pytest.fixture
def log(tmp_path: Path, visits: tuple[civicscore.Policy, list[Any], Any]) -> Path:
    """Two runs and a review between them: decisions and a review in one chain."""
    path = tmp_path / "d.jsonl"
    log_run(path, visits)
    record_review(path, scan_log(path).entries[0]["decision_id"], "override", by="王芳",
                  reason="家访核实：子女已接回同住", sets={"tier": "routine"})
    log_run(path, visits)
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def test_every_entry_links_to_the_line_before_it(log: Path) -> None:
    lines = lines_of(log)
    entries = [json.loads(line) for line in lines]
    assert [e["seq"] for e in entries] == list(range(1, len(lines) + 1))
    assert entries[0]["prev"] == GENESIS
    assert [e["prev"] for e in entries[1:]] == [line_hash(line) for line in lines[:-1]]
    assert any(e["format"] == "civicscore-review/1" for e in entries)  # reviews chain too
    report = verify_chain(log)
    assert report.ok and report.status == "intact" and report.chained == len(lines)
    assert report.head == line_hash(lines[-1]) and report.head_line == len(lines)
    r = run("verify-log", log)
    assert r.exit_code == 0 and "chain intact" in r.stdout and "哈希链完整" in r.stdout
    r = run("replay", log)
    assert r.exit_code == 0 and "CHAIN INTACT" in r.stdout, r.stdout
    write(log, _delete(lines))
    r = run("replay", log)  # every remaining decision replays, and still: not ok
    assert r.exit_code == 1 and "CHAIN BROKEN line 5: " in r.stdout and " 0 differ" in r.stdout


def _delete(lines: list[bytes]) -> list[bytes]:
    return lines[:4] + lines[5:]


def _edit(lines: list[bytes]) -> list[bytes]:
    entry = json.loads(lines[4])
    entry["input"]["age_oldest"] = 60  # a forged input whose result still looks right
    return [*lines[:4], json.dumps(entry, ensure_ascii=False).encode(), *lines[5:]]


def _swap(lines: list[bytes]) -> list[bytes]:
    return [*lines[:4], lines[5], lines[4], *lines[6:]]


def _drop_first(lines: list[bytes]) -> list[bytes]:
    return lines[2:]


@pytest.mark.parametrize("change, line, en, zh", [
    (_delete, 5, "1 entry is missing between line 4 and line 5", "缺少 1 条"),
    (_edit, 6, "line 5 was changed after it was written", "第 5 行在写入后被修改"),
    (_swap, 5, "entries were moved", "条目被移动"),
    (_drop_first, 1, "2 entries were deleted from the start", "日志开头的 2 条被删除"),
])
def test_a_deleted_edited_or_moved_entry_is_named_by_line(log: Path, visits: Any, change: Any,
                                                          line: int, en: str, zh: str) -> None:
    write(log, change(lines_of(log)))
    broken = verify_chain(log).broken
    assert broken is not None and broken.line == line
    assert en in broken.en and zh in broken.zh
    r = run("verify-log", log)
    assert r.exit_code == 1
    assert f"{log}:{line}: the chain is broken: " in r.stdout and zh in r.stdout
    assert run("verify-log", log, "--lang", "zh").stdout.count("\n") == 1
    report = civicscore.replay(log, {visits[0].hash: visits[0]})
    assert not report.ok and report.chain is not None and report.chain.broken == broken


def test_a_deleted_last_entry_is_caught_by_the_head_kept_elsewhere(log: Path,
                                                                   visits: Any) -> None:
    head = verify_chain(log).head
    assert head is not None
    log_run(log, visits)
    assert verify_chain(log, head).ok  # the log grew; the kept head is still in it
    assert run("verify-log", log, "--head", head[:30]).exit_code == 0
    lines = lines_of(log)
    write(log, lines[:-1])
    assert verify_chain(log).ok  # nothing vouches for the last line by itself ...
    write(log, lines[:len(lines) // 2])  # ... so cutting the log back to before the head
    r = run("verify-log", log, "--head", head)
    assert r.exit_code == 1 and "is no longer in the log" in r.stdout
    assert run("verify-log", log, "--head", "abc").exit_code == 2


def test_an_unchained_log_of_an_older_version_is_unchained_not_tampered(log: Path,
                                                                        visits: Any) -> None:
    old = []
    for line in lines_of(log):
        entry = json.loads(line)
        del entry["seq"], entry["prev"]
        old.append(json.dumps(entry, ensure_ascii=False).encode())
    write(log, old)
    report = verify_chain(log)
    assert report.ok and report.status == "unchained" and report.unchained == len(old)
    r = run("verify-log", log)
    assert r.exit_code == 0 and "not chained" in r.stdout and "未链接" in r.stdout
    report = civicscore.replay(log, {visits[0].hash: visits[0]})
    assert report.ok and report.chain is not None and report.chain.status == "unchained"
    assert replay_lines(report.chain)[0].startswith("NOT CHAINED: ")
    log_run(log, visits)  # appending to it chains from its last line on
    report = verify_chain(log)
    assert report.ok and report.status == "intact" and report.first_chained == len(old) + 1
    assert json.loads(lines_of(log)[len(old)])["prev"] == line_hash(old[-1])
    assert "lines before line" in report.findings()[0].en
    write(log, [old[0] + b" ", *lines_of(log)[1:]])  # the prefix is not covered ...
    assert verify_chain(log).ok
    lines = lines_of(log)
    write(log, [*lines[:len(old) - 1], lines[len(old) - 1] + b" ", *lines[len(old):]])
    assert not verify_chain(log).ok  # ... except its last line, which the chain links to


def test_a_run_cut_mid_line_is_an_interruption_and_the_chain_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    append_chained(path, ['{"a": 1}', '{"a": 2}'])
    with path.open("ab") as f:
        f.write(b'{"a": 3, "cut')  # a kill mid-line
    assert verify_chain(path).cut == [3] and verify_chain(path).ok
    append_chained(path, ['{"a": 4}'])
    lines = lines_of(path)
    assert lines[2] == b'{"a": 3, "cut' and json.loads(lines[3])["seq"] == 4
    report = verify_chain(path)
    assert report.ok and report.cut == [3] and report.chained == 3
    assert any("interruption, not a change" in f.en for f in report.findings())
    write(path, [lines[0], lines[1], b'{"a": 3, "cu', lines[3]])  # the cut line edited
    broken = verify_chain(path).broken
    assert broken is not None and broken.line == 4 and "line 3 was changed" in broken.en


def test_concurrent_appends_chain_one_after_another(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"

    def writer(k: int) -> None:
        for i in range(15):
            append_chained(path, [json.dumps({"w": k, "i": i, "j": j}) for j in range(3)])

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify_chain(path)
    assert report.ok and report.chained == 3 * 15 * 3


def test_a_line_separator_inside_a_value_does_not_split_an_entry(tmp_path: Path) -> None:
    policy = civicscore.load(EXAMPLE_POLICY)
    record = {"household_id": "H\u2028001", "age_oldest": 84, "last_visit": "2025-12-01"}
    result = policy.visits.decide_many([record], as_of=AS_OF)
    log = DecisionLog(tmp_path / "d.jsonl")
    log.write_run(policy, "visits", AS_OF, result, [record])
    contents = scan_log(log.path)
    assert len(contents.entries) == 1 and not contents.incomplete
    assert verify_chain(log.path).ok and civicscore.replay(log.path, {policy.hash: policy}).ok


# --- any one change to a chained log is found ---------------------------------------------


def _mutate(lines: list[bytes], kind: str, i: int, j: int) -> list[bytes]:
    out = list(lines)
    if kind == "copy":
        out.insert(j % (len(lines) + 1), out[i % len(lines)])
        return out
    i, j = i % len(lines), j % len(lines)
    if kind == "delete":
        del out[i]
    elif kind == "edit":
        out[i] = out[i].replace(b'"n": ', b'"n": 1', 1)
    else:  # swap
        if i == j:
            j = (i + 1) % len(lines)
        out[i], out[j] = out[j], out[i]
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12), st.sampled_from(["delete", "edit", "swap", "copy"]),
       st.integers(0, 50), st.integers(0, 50))
@example(2, "delete", 1, 0)  # the last line: only the kept head shows it
@example(3, "copy", 5, 6)  # a copy of the last line appended after it
def test_any_deletion_edit_move_or_copy_is_found(runs: int, kind: str, i: int, j: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "d.jsonl"
        for r in range(runs):
            append_chained(path, [json.dumps({"run": r, "n": k}) for k in range(1 + r % 3)])
        lines = lines_of(path)
        head = verify_chain(path).head
        write(path, _mutate(lines, kind, i, j))
        report = verify_chain(path, head)
        assert not report.ok, (kind, i % len(lines), j % len(lines))
        assert report.broken is not None
        now = lines_of(path)
        changed = next((n for n, (a, b) in enumerate(zip(lines, now, strict=False), 1)
                        if a != b), len(lines) + 1)
        assert report.broken.line <= changed + 1 or report.broken.line == report.head_line


# --- a stream as the sink --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["text", "bytes", "gzip"])
def test_a_log_written_to_a_stream_chains_and_replays(tmp_path: Path, visits: Any,
                                                      kind: str) -> None:
    """A decision log can go to any writable stream (a pipe, a socket, an object store's
    upload, gzip): two runs written to one stream chain as they would in a file, and the
    bytes it received verify and replay like a file's."""
    import gzip
    import io

    from civicscore.audit import policies_by_hash, replay

    policy, records, result = visits
    if kind == "gzip":
        buffer = io.BytesIO()
        sink: Any = gzip.GzipFile(fileobj=buffer, mode="wb")
    else:
        sink = io.StringIO() if kind == "text" else io.BytesIO()
    log = DecisionLog(sink)
    assert log.write_run(policy, "visits", AS_OF, result, records) == len(result.decisions)
    log.write_run(policy, "visits", AS_OF, result, records)
    if kind == "gzip":
        sink.close()
        received = gzip.decompress(buffer.getvalue())
    else:
        value = sink.getvalue()
        received = value.encode("utf-8") if kind == "text" else value
    path = tmp_path / "received.jsonl"
    path.write_bytes(received)
    entries = [json.loads(line) for line in received.splitlines()]
    assert [e["seq"] for e in entries] == list(range(1, 2 * len(result.decisions) + 1))
    assert entries[0]["prev"] == GENESIS
    assert verify_chain(path).ok
    report = replay(path, policies_by_hash([policy]))
    assert report.ok and report.replayed == 2 * len(result.decisions)


def test_a_stream_that_fails_is_a_clear_error(visits: Any) -> None:
    import io

    from civicscore.errors import UsageError

    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    policy, records, result = visits
    with pytest.raises(UsageError, match="No space left on device; the run may be partly"):
        DecisionLog(Full()).write_run(policy, "visits", AS_OF, result, records)
