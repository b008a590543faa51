"""``-o -`` is standard output, as no ``-o`` is (it said "unknown file type '(none)'")."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from civicscore.cli import main

from .conftest import EXAMPLE_POLICY, EXAMPLES


def run(*args: Any) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert "Traceback" not in result.output + result.stderr
    return result


@pytest.mark.parametrize("fmt", [None, "csv", "json"])
def test_dash_is_standard_output(fmt: str | None) -> None:
    args = ["score", EXAMPLE_POLICY, "--scheme", "visits", EXAMPLES / "visits-households.csv",
            "--as-of", "2025-12-31", *(["--format", fmt] if fmt else [])]
    plain, dashed = run(*args), run(*args, "-o", "-")
    assert plain.exit_code == dashed.exit_code == 0, dashed.stderr
    assert dashed.stdout == plain.stdout and dashed.stdout



@pytest.mark.parametrize("name", ["visits-households.csv", "json"])
def test_dash_is_standard_input(name: str, tmp_path: Any) -> None:
    """``-`` as INPUT reads standard input, its kind told by its first bytes (CSV here,
    or a JSON array): the same rows, scored and rejected, as the file itself."""
    import json

    csv_path = EXAMPLES / "visits-households.csv"
    if name == "json":
        from civicscore.io import read_records

        data = json.dumps([dict(r) for r in read_records(csv_path)], ensure_ascii=False,
                          default=str)
        source = tmp_path / "households.json"
        source.write_text(data, encoding="utf-8")
    else:
        data, source = csv_path.read_text(encoding="utf-8"), csv_path
    args = ["score", str(EXAMPLE_POLICY), "--scheme", "visits", "--as-of", "2025-12-31",
            "--format", "json"]
    piped = CliRunner().invoke(main, [*args[:2], "-", *args[2:]], input=data)
    direct = CliRunner().invoke(main, [*args[:2], str(source), *args[2:]])
    assert piped.exit_code == direct.exit_code == 0, piped.output
    assert json.loads(piped.stdout) == json.loads(direct.stdout)
    assert "15 of 21 households scored, 6 rejected" in piped.stderr


def test_standard_input_is_named_as_such_and_never_empty() -> None:
    """An empty standard input is refused (a pipe that failed upstream); a header that
    lacks facts, or a file that is not UTF-8, is named "standard input", never the
    temporary file it was kept in."""
    args = ["score", str(EXAMPLE_POLICY), "-", "--scheme", "visits", "--as-of", "2025-12-31",
            "--format", "json"]
    r = CliRunner().invoke(main, args, input="")
    assert r.exit_code == 2 and "standard input is empty" in r.stderr
    r = CliRunner().invoke(main, args, input="a,b\n1,2\n")
    assert "warning: standard input has no column 'age_oldest'" in r.stderr
    assert "civicscore-stdin-" not in r.stderr
    r = CliRunner().invoke(main, args, input=b"\xff\xfe\x00a")
    assert r.exit_code == 2 and "standard input:1: the file is not UTF-8 text" in r.stderr
    assert "civicscore-stdin-" not in r.stderr
