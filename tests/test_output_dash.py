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

