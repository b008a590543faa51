"""Issue 12, outputs: nothing an operator asks for loses a file or leaves half of one.

Each test reproduces a defect the reliability pass found (an input overwritten by
its own results, a cut-off CSV on a full disk, an internal error for a missing
directory) and pins the behaviour that replaced it.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from civicscore.cli import main
from civicscore.errors import UsageError
from civicscore.io import output_file, staged_outputs, write_rows

from .conftest import EXAMPLE_POLICY, EXAMPLES

VISITS = EXAMPLES / "visits-households.csv"
ACTIVITIES = EXAMPLES / "volunteer-activities.csv"


def run(*args: object) -> object:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in r.output + r.stderr
    assert r.exit_code != 70, r.stderr  # an operator mistake is never an internal error
    return r


def score(*args: object, scheme: str = "visits", data: Path = VISITS) -> object:
    return run("score", EXAMPLE_POLICY, data, "--scheme", scheme, "--as-of", "2025-12-31",
               *args)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_output_equal_to_the_input_is_refused_and_the_input_kept(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_bytes(VISITS.read_bytes())
    r = score("-o", data, data=data)
    assert r.exit_code == 2
    assert f"-o {data} is the same file as INPUT {data}" in r.stderr
    assert data.read_bytes() == VISITS.read_bytes()


def test_output_through_a_hard_link_or_another_spelling_is_the_same_file(tmp_path: Path
                                                                         ) -> None:
    data = tmp_path / "in.csv"
    data.write_bytes(VISITS.read_bytes())
    os.link(data, tmp_path / "alias.csv")
    r = score("-o", tmp_path / "alias.csv", data=data)
    assert r.exit_code == 2 and "is the same file as INPUT" in r.stderr
    (tmp_path / "sub").mkdir()
    r = score("-o", tmp_path / "sub" / ".." / "in.csv", data=data)
    assert r.exit_code == 2 and "is the same file as INPUT" in r.stderr
    assert data.read_bytes() == VISITS.read_bytes()


def test_output_equal_to_rejects_or_details_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    r = score("-o", out, "--rejects", out, scheme="volunteer", data=ACTIVITIES)
    assert r.exit_code == 2 and f"--rejects {out} is the same file as -o {out}" in r.stderr
    r = score("-o", out, "--details", out)
    assert r.exit_code == 2 and "is the same file as -o" in r.stderr
    assert not out.exists()


def test_log_equal_to_a_json_lines_input_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    r = score("-o", data)  # the example as JSON Lines, through the writer itself
    assert r.exit_code == 0, r.stderr
    before = data.read_bytes()
    r = score("-o", tmp_path / "o.csv", "--log", data, data=data)
    assert r.exit_code == 2 and f"--log {data} is the same file as INPUT" in r.stderr
    assert data.read_bytes() == before
    policy = tmp_path / "policy.toml"
    policy.write_bytes(EXAMPLE_POLICY.read_bytes())
    r = run("score", policy, VISITS, "--scheme", "visits", "--log", policy, "-o",
            tmp_path / "o.csv")
    assert r.exit_code == 2 and "is the same file as POLICY" in r.stderr
    assert policy.read_bytes() == EXAMPLE_POLICY.read_bytes()


@pytest.mark.parametrize("option", ["-o", "--rejects", "--details", "--log"])
def test_an_output_in_a_missing_directory_is_a_usage_error_and_nothing_is_written(
        tmp_path: Path, option: str) -> None:
    target = tmp_path / "nodir" / "x.csv"
    others = {"-o": tmp_path / "o.csv", "--rejects": tmp_path / "r.csv",
              "--details": tmp_path / "d.csv", "--log": tmp_path / "l.jsonl"}
    others[option] = target
    args = [a for name, path in others.items() for a in (name, path)]
    r = score(*args, scheme="volunteer", data=ACTIVITIES)
    assert r.exit_code == 2
    assert f"cannot write {target}: the directory does not exist" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # results not written either


def test_schema_into_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    r = run("schema", "-o", tmp_path / "nodir" / "s.json")
    assert r.exit_code == 2 and "the directory does not exist" in r.stderr
    r = run("schema", "-o", tmp_path / "s.json")
    assert r.exit_code == 0 and (tmp_path / "s.json").read_text().startswith("{")
    assert leftovers(tmp_path) == []


def test_output_onto_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    r = score("-o", tmp_path / "d.csv")
    assert r.exit_code == 2 and "is a directory" in r.stderr


def test_dev_null_is_accepted_for_every_output(tmp_path: Path) -> None:
    r = score("-o", os.devnull, "--rejects", os.devnull, "--details", os.devnull,
              "--format", "csv", scheme="volunteer", data=ACTIVITIES)
    assert r.exit_code == 0, r.stderr


def test_a_writer_that_fails_midway_leaves_no_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "o.csv"
    target.write_text("the previous results\n")

    def rows():
        yield {"a": 1}
        raise RuntimeError("a bug halfway")

    with pytest.raises(RuntimeError):
        write_rows(rows(), target)
    assert target.read_text() == "the previous results\n"
    assert leftovers(tmp_path) == []


def test_staged_outputs_appear_together_or_not_at_all(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot write"):
        with staged_outputs():
            write_rows([{"a": 1}], tmp_path / "one.csv")
            assert not (tmp_path / "one.csv").exists()  # held back until the block ends
            write_rows([{"a": 1}], tmp_path / "nodir" / "two.csv")
    assert list(tmp_path.iterdir()) == []
    with staged_outputs():
        write_rows([{"a": 1}], tmp_path / "one.csv")
        write_rows([{"a": 2}], tmp_path / "two.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.csv", "two.jsonl"]


def test_output_keeps_the_permissions_a_plain_open_gives(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    with output_file(tmp_path / "o.txt") as out:
        out.write("x")
    assert (tmp_path / "o.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def _limited(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _big_input(tmp_path: Path, rows: int = 3000) -> Path:
    lines = VISITS.read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:]
    out = [header]
    for i in range(rows):
        cells = body[i % len(body)].split(",")
        cells[0] = f"h{i}"
        out.append(",".join(cells))
    path = tmp_path / "big.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _cli(args: list[object], limit: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "civicscore", *map(str, args)],
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=_limited(limit) if limit else None)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_full_disk_is_a_usage_error_naming_the_file_with_no_partial_output(
        tmp_path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    data = _big_input(tmp_path)
    out = tmp_path / f"out.{fmt}"
    r = _cli(["score", EXAMPLE_POLICY, data, "--scheme", "visits", "--as-of", "2025-12-31",
              "--engine", "per-record", "-o", out], limit=4096)
    assert r.returncode == 2, r.stderr
    assert f"cannot write {out}: the file is larger than this process may write" in r.stderr
    assert "bug" not in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_log_that_fills_the_disk_is_cut_back_and_no_results_appear(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    first = _cli(["score", EXAMPLE_POLICY, VISITS, "--scheme", "visits", "--as-of",
                  "2025-12-31", "-o", tmp_path / "first.csv", "--log", log])
    assert first.returncode == 0, first.stderr
    before = log.read_bytes()
    out = tmp_path / "o.csv"
    r = _cli(["score", EXAMPLE_POLICY, VISITS, "--scheme", "visits", "--as-of", "2025-12-31",
              "-o", out, "--log", log], limit=len(before) + 1000)
    assert r.returncode == 2 and f"cannot write {log}" in r.stderr
    assert log.read_bytes() == before  # whole runs only
    assert not out.exists() and leftovers(tmp_path) == []
    replayed = _cli(["replay", log])
    assert replayed.returncode == 0, replayed.stdout


def test_rejects_into_a_missing_directory_writes_no_results(tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    r = score("-o", out, "--rejects", tmp_path / "nodir" / "r.csv", scheme="volunteer",
              data=ACTIVITIES)
    assert r.exit_code == 2 and "cannot write" in r.stderr
    assert not out.exists()
