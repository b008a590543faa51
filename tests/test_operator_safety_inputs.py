"""Issue 12, inputs and errors: operator mistakes are messages, never hangs or "a bug".

Reproducers of the reliability pass: a FIFO as a policy blocked ``check`` for
ever; an ``@file`` record that is not UTF-8, an ``extends`` to a symlink loop or
with a NUL, and a polars panic said "internal error"; ``extends`` read any
``.toml`` on the machine; ``extends = ""`` and orphan ``overrides`` were ignored;
formula-like ids were written verbatim to CSV; two blank header cells gave a
message with no names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import civicscore
from civicscore.cli import _Group, main
from civicscore.errors import InputError, PolicyError
from civicscore.io import check_column_names, neutralise_formula, read_records

from .conftest import EXAMPLE_POLICY, EXAMPLES

VISITS = EXAMPLES / "visits-households.csv"
MINIMAL = '[policy]\nid = "p"\nversion = "1"\n'


def run(*args: object) -> object:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in r.output + r.stderr
    assert r.exit_code != 70, r.stderr
    return r


# --- one top-level handler ---------------------------------------------------------------


def _group_raising(error: BaseException) -> click.Group:
    @click.group(cls=_Group)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        raise error

    return group


def test_a_polars_allocation_panic_is_out_of_memory_not_a_bug() -> None:
    pl = pytest.importorskip("polars")
    panic = pl.exceptions.PanicException("memory allocation of 8589934592 bytes failed")
    assert not isinstance(panic, Exception)  # why `except Exception` let it through
    r = CliRunner().invoke(_group_raising(panic), ["boom"])
    assert r.exit_code == 2
    assert "civicscore: error: ran out of memory" in r.stderr and "try" in r.stderr
    assert "bug" not in r.stderr


def test_memory_error_says_what_was_being_done() -> None:
    r = CliRunner().invoke(_group_raising(MemoryError()), ["boom"])
    assert r.exit_code == 2 and "ran out of memory running; try" in r.stderr


def test_a_true_bug_still_says_internal_error() -> None:
    r = CliRunner().invoke(_group_raising(KeyError("x")), ["boom"])
    assert r.exit_code == 70 and "internal error: KeyError" in r.stderr
    pl = pytest.importorskip("polars")
    r = CliRunner().invoke(_group_raising(pl.exceptions.PanicException("index out of bounds")),
                           ["boom"])
    assert r.exit_code == 70 and "internal error: PanicException" in r.stderr


def test_an_os_error_names_the_file() -> None:
    r = CliRunner().invoke(_group_raising(PermissionError(13, "Permission denied", "/x.csv")),
                           ["boom"])
    assert r.exit_code == 2 and "civicscore: error: /x.csv: Permission denied" in r.stderr


def test_a_record_file_that_is_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    record = tmp_path / "r.json"
    record.write_bytes(b'{"household_id": "h\xe9"}')
    r = run("explain", EXAMPLE_POLICY, "--scheme", "visits", "--record", f"@{record}")
    assert r.exit_code == 2 and f"{record}:1:20: the file is not UTF-8 text" in r.stderr
    r = run("explain", EXAMPLE_POLICY, "--scheme", "visits", "--record", f"@{tmp_path}")
    assert r.exit_code == 2 and "is a directory, not a file" in r.stderr


# --- only regular files ------------------------------------------------------------------


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    # a subprocess with a timeout: before the fix this hung for ever
    return subprocess.run([sys.executable, "-m", "civicscore", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_check_on_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "p.toml"
    os.mkfifo(fifo)
    r = _cli("check", fifo)
    assert r.returncode == 1
    assert f"{fifo}:1:1: not a regular file" in r.stdout


def test_a_fifo_or_device_as_input_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    r = _cli("score", EXAMPLE_POLICY, fifo, "--scheme", "visits")
    assert r.returncode == 2 and "is a named pipe (FIFO), not a file" in r.stderr
    device = tmp_path / "zero.csv"
    device.symlink_to("/dev/zero")
    r = _cli("score", EXAMPLE_POLICY, device, "--scheme", "visits")
    assert r.returncode == 2 and "is a device, not a file" in r.stderr
    with pytest.raises(InputError, match="is a device"):
        read_records(device)


def test_a_policy_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.toml").mkdir()
    r = run("check", tmp_path / "d.toml")
    assert r.exit_code == 1 and "not a regular file" in r.stdout


# --- confined extends --------------------------------------------------------------------


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """``outside/secret.toml`` and ``root/``, a policy directory beside it."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.toml").write_text(
        MINIMAL + '\n[volunteer]\nsecret_key_name = 1\n', encoding="utf-8")
    root = tmp_path / "root"
    root.mkdir()
    return root, tmp_path / "outside" / "secret.toml"


def _problems(path: Path, engine: civicscore.Engine | None = None) -> list[str]:
    with pytest.raises(PolicyError) as e:
        (engine or civicscore.Engine()).load(path)
    return [str(p) for p in e.value.problems]


def test_extends_past_the_policy_directory_is_a_located_problem(tmp_path: Path) -> None:
    root, _ = _tree(tmp_path)
    child = root / "c.toml"
    child.write_text(MINIMAL + 'extends = "../outside/secret.toml"\n', encoding="utf-8")
    [problem] = _problems(child)
    assert problem.startswith(f"{child}:4:11: '../outside/secret.toml' is outside the "
                              f"policy roots")
    assert "secret_key_name" not in problem


def test_extends_through_a_symlink_out_is_a_located_problem(tmp_path: Path) -> None:
    root, secret = _tree(tmp_path)
    (root / "base.toml").symlink_to(secret)
    child = root / "c.toml"
    child.write_text(MINIMAL + 'extends = "base.toml"\n', encoding="utf-8")
    [problem] = _problems(child)
    assert problem.startswith(f"{child}:4:11: 'base.toml' is outside the policy roots")


def test_extends_to_a_symlink_loop_or_with_a_nul_is_a_located_problem(tmp_path: Path) -> None:
    (tmp_path / "a.toml").symlink_to(tmp_path / "b.toml")
    (tmp_path / "b.toml").symlink_to(tmp_path / "a.toml")
    child = tmp_path / "c.toml"
    child.write_text(MINIMAL + 'extends = "a.toml"\n', encoding="utf-8")
    [problem] = _problems(child)
    assert problem.startswith(f"{child}:4:11: cannot follow 'a.toml'")
    child.write_text(MINIMAL + 'extends = "base\\u0000.toml"\n', encoding="utf-8")
    [problem] = _problems(child)
    assert problem.startswith(f"{child}:4:11: the name to extend holds a NUL character")
    r = run("check", child)
    assert r.exit_code == 1 and "NUL character" in r.stdout


def test_empty_extends_and_orphan_overrides_are_located_problems(tmp_path: Path) -> None:
    child = tmp_path / "c.toml"
    child.write_text(MINIMAL + 'extends = ""\n', encoding="utf-8")
    [problem] = _problems(child)
    assert problem.startswith(f"{child}:4:11: 'extends' is empty")
    child.write_text(MINIMAL + 'overrides = ["volunteer.rounding"]\n', encoding="utf-8")
    problems = _problems(child)
    assert any(p.startswith(f"{child}:4:1: 'overrides' without 'extends'") for p in problems)


def test_policy_roots_confine_the_policy_and_what_it_extends(tmp_path: Path) -> None:
    root, secret = _tree(tmp_path)
    child = root / "c.toml"
    child.write_text(MINIMAL + 'extends = "../outside/secret.toml"\n', encoding="utf-8")
    engine = civicscore.Engine(policy_roots=[root])
    [problem] = _problems(secret, engine)
    assert problem.startswith(f"{secret}:1:1: the policy is outside the policy roots")
    wide = civicscore.Engine(policy_roots=[tmp_path])
    with pytest.raises(PolicyError) as e:  # now allowed to extend: fails on its content
        wide.load(child)
    assert "outside the policy roots" not in str(e.value)
    r = run("check", "--policy-root", root, child)
    assert r.exit_code == 1 and "is outside the policy roots" in r.stdout
    r = run("check", "--policy-root", tmp_path, child)
    assert "outside the policy roots" not in r.stdout
    assert civicscore.Engine(policy_roots=[root]).load("baseline").id  # names still work


# --- CSV formula neutralising ------------------------------------------------------------


HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+SUM(1,2)*cmd|' /C calc'!A0", "@cmd",
           "-2+3", "-5", "+1.5e3", "plain"]  # ids are trimmed on reading: no tab here


def _hostile_input(tmp_path: Path) -> Path:
    lines = VISITS.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for i, hid in enumerate(HOSTILE):
        cells = lines[1 + i].split(",")
        cells[0] = '"' + hid.replace('"', '""') + '"'
        out.append(",".join(cells))
    path = tmp_path / "in.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def test_neutralise_formula_the_owasp_way() -> None:
    assert [neutralise_formula(h) for h in [*HOSTILE, "\tx", "\r=1"]] == [
        "'=HYPERLINK(\"http://x\",\"y\")", "'+SUM(1,2)*cmd|' /C calc'!A0", "'@cmd", "'-2+3",
        "-5", "+1.5e3", "plain", "'\tx", "'\r=1"]


@pytest.mark.parametrize("engine", ["per-record", "batch"])
def test_csv_output_neutralises_formula_ids_and_json_keeps_them(tmp_path: Path,
                                                                engine: str) -> None:
    if engine == "batch":
        pytest.importorskip("polars")
    data = _hostile_input(tmp_path)
    base = ["score", EXAMPLE_POLICY, data, "--scheme", "visits", "--as-of", "2025-12-31",
            "--engine", engine]
    assert run(*base, "-o", tmp_path / "o.csv").exit_code == 0
    assert run(*base, "-o", tmp_path / "o.jsonl").exit_code == 0
    assert run(*base, "-o", tmp_path / "raw.csv", "--no-csv-escape").exit_code == 0
    ids = [r["household_id"] for r in read_records(tmp_path / "o.csv")]
    assert ids == [neutralise_formula(h) for h in HOSTILE]
    assert [r["household_id"] for r in read_records(tmp_path / "raw.csv")] == HOSTILE
    assert [r["household_id"] for r in read_records(tmp_path / "o.jsonl")] == HOSTILE
    rows = [r["row"] for r in read_records(tmp_path / "o.csv")]
    assert rows == [str(i) for i in range(1, len(HOSTILE) + 1)]


def test_both_engines_write_the_same_neutralised_csv(tmp_path: Path) -> None:
    pytest.importorskip("polars")
    data = _hostile_input(tmp_path)
    for engine in ("per-record", "batch"):
        r = run("score", EXAMPLE_POLICY, data, "--scheme", "visits", "--as-of", "2025-12-31",
                "--engine", engine, "-o", tmp_path / f"{engine}.csv", "--details",
                tmp_path / f"{engine}-d.csv")
        assert r.exit_code == 0, r.stderr
    assert (tmp_path / "batch.csv").read_bytes() == (tmp_path / "per-record.csv").read_bytes()
    assert (tmp_path / "batch-d.csv").read_bytes() == \
        (tmp_path / "per-record-d.csv").read_bytes()


def test_negative_numbers_are_not_mangled(tmp_path: Path) -> None:
    from civicscore.io import write_rows

    write_rows([{"n": -5, "x": -1.5, "t": "-3", "f": "=1+1"}], tmp_path / "o.csv")
    assert (tmp_path / "o.csv").read_text().splitlines() == ["n,x,t,f", "-5,-1.5,-3,'=1+1"]


# --- header positions --------------------------------------------------------------------


def test_blank_header_cells_are_named_by_position(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("a,b,,d,\n1,2,3,4,5\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"in.csv:1: columns 3 and 5 have no name"):
        list(read_records(path))
    with pytest.raises(InputError, match=r"id \(columns 1 and 4\); x \(columns 2 and 3\)"):
        check_column_names("t", ["id", "x", "x", "id"])


def test_check_json_output_of_a_located_problem_is_valid_json(tmp_path: Path) -> None:
    child = tmp_path / "c.toml"
    child.write_text(MINIMAL + 'extends = ""\n', encoding="utf-8")
    r = run("check", "--format", "json", child)
    assert json.loads(r.stdout)["policies"][0]["problems"][0]["line"] == 4


def test_replay_with_a_policy_root_loads_no_policy_the_log_names_outside_it(
        tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    policy = tmp_path / "a" / "p.toml"
    policy.write_bytes(EXAMPLE_POLICY.read_bytes())
    log = tmp_path / "d.jsonl"
    r = run("score", policy, VISITS, "--scheme", "visits", "--as-of", "2025-12-31", "-o",
            tmp_path / "o.csv", "--log", log)
    assert r.exit_code == 0, r.stderr
    assert run("replay", log).exit_code == 0  # the log names a/p.toml, which is loaded
    r = run("replay", "--policy-root", tmp_path / "b", log)
    assert r.exit_code == 1 and "no policy with hash" in r.stdout
    assert run("replay", "--policy-root", tmp_path / "a", log).exit_code == 0
