"""``-q``/``--quiet`` prints only errors; ``-v``/``--verbose`` says what was read and done.

Both are accepted before the command (``civicscore -q check ...``) and after it
(``civicscore check -q ...``); the output a script reads (problems, scored rows) is
the same at every verbosity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from civicscore.cli import main

from .conftest import EXAMPLE_POLICY, EXAMPLES

WARNS = '[policy]\nid = "w"\nversion = "1"\nextends = "baseline"\nreview_by = 2020-01-01\n'


def run(*args: Any) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output + result.stderr
    return result


@pytest.fixture
def warns(tmp_path: Path) -> Path:
    path = tmp_path / "warns.toml"
    path.write_text(WARNS, encoding="utf-8")
    return path


@pytest.mark.parametrize("where", ["group", "command"])
def test_quiet_check_prints_nothing_for_a_good_policy(warns: Path, where: str) -> None:
    normal = run("check", warns)
    assert normal.stdout.startswith("ok: ") and "due for review" in normal.stderr
    args = ["-q", "check", warns] if where == "group" else ["check", "--quiet", warns]
    quiet = run(*args)
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_quiet_check_still_prints_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nid = "bad"\nversion = "1"\n[volunteer]\nnope = 1\n',
                   encoding="utf-8")
    normal, quiet = run("check", bad, EXAMPLE_POLICY), run("-q", "check", bad, EXAMPLE_POLICY)
    assert quiet.exit_code == normal.exit_code == 1
    assert "nope" in quiet.stdout and quiet.stdout == normal.stdout.replace(
        next(line for line in normal.stdout.splitlines(True) if line.startswith("ok: ")), "")
    assert "1 problem(s)" in quiet.stderr


def test_verbose_check_names_every_file_read(tmp_path: Path, warns: Path) -> None:
    (tmp_path / "child.toml").write_text(
        '[policy]\nid = "c"\nversion = "1"\nextends = "warns.toml"\n', encoding="utf-8")
    result = run("check", "-v", tmp_path / "child.toml")
    assert result.exit_code == 0 and result.stdout.startswith("ok: ")
    read = [line for line in result.stderr.splitlines() if ": read " in line]
    assert [line.split(": read ")[1].split(" (sha256")[0] for line in read] == [
        str(tmp_path / "child.toml"), str(warns), read[2].split(": read ")[1].split(" (")[0]]
    assert read[2].endswith(")") and "baseline.toml" in read[2]
    # a second check is a replay of the first, and -v says where it came from
    again = run("check", "-v", tmp_path / "child.toml")
    assert again.stdout == result.stdout
    assert again.stderr.startswith(result.stderr) and "identical earlier check" in again.stderr


def test_quiet_and_verbose_together_is_a_usage_error(warns: Path) -> None:
    for args in (["-q", "-v", "check", warns], ["-q", "check", "-v", warns],
                 ["check", "-v", "-q", warns]):
        result = run(*args)
        assert result.exit_code == 2 and "cannot be given together" in result.stderr, args


def test_quiet_score_keeps_the_rejected_rows_and_drops_the_summary(tmp_path: Path) -> None:
    args = [EXAMPLE_POLICY, "--scheme", "visits", EXAMPLES / "visits-households.csv",
            "--as-of", "2025-12-31", "-o", tmp_path / "out.jsonl"]
    normal = run("score", *args)
    quiet = run("score", "-q", *args)
    verbose = run("score", "-v", *args)
    assert normal.exit_code == quiet.exit_code == verbose.exit_code == 0
    rejected = [line for line in normal.stderr.splitlines() if line.startswith("rejected ")]
    assert rejected and quiet.stderr.splitlines() == rejected
    assert "households scored" in normal.stderr and "households scored" not in quiet.stderr
    assert "scored by the per-record engine with example-district" in verbose.stderr
    assert "scored by" not in normal.stderr
