"""Shell completion offers what only civicscore knows (installed policies, the schemes of
the policy on the line), besides click's commands and options; and the command line never
writes colour codes, so NO_COLOR and a log file both get plain text."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from civicscore.cli import main

from .conftest import EXAMPLE_POLICY, EXAMPLES


def complete(*words: str) -> list[tuple[str, str]]:
    """What bash is offered for the last of ``words`` (click's bash protocol)."""
    line = " ".join(("civicscore", *words))
    r = CliRunner().invoke(main, [], prog_name="civicscore", env={
        "_CIVICSCORE_COMPLETE": "bash_complete", "COMP_WORDS": line,
        "COMP_CWORD": str(len(words))})
    assert r.exit_code == 0, r.output
    return [tuple(item.split(",", 1)) for item in r.output.splitlines()]  # type: ignore[misc]


def test_commands_and_subcommands_complete() -> None:
    assert ("plain", "score") in complete("sc")
    assert ("plain", "verify-log") in complete("ve")  # a command loaded lazily
    assert complete("ledger", "ba") == [("plain", "balance")]


def test_a_policy_completes_to_installed_names_then_files() -> None:
    offered = complete("score", "kar")
    assert ("plain", "karamay") in offered
    assert offered[-1] == ("file", "kar")  # any .toml file, by the shell's own completion


def test_scheme_completes_to_the_sections_of_the_policy_on_the_line() -> None:
    assert complete("score", str(EXAMPLE_POLICY), "--scheme", "v") == [
        ("plain", "visits"), ("plain", "volunteer")]


def test_scheme_completes_to_every_installed_scheme_when_the_policy_does_not_load() -> None:
    offered = [name for _, name in complete("score", "/no/such.toml", "--scheme", "")]
    assert {"appraisal", "civility", "visits", "volunteer"} <= set(offered)


@pytest.mark.parametrize("args", [
    ["check", str(EXAMPLE_POLICY)],
    ["check", "/no/such.toml"],
    ["score", str(EXAMPLE_POLICY), "--scheme", "visits", str(EXAMPLES / "visits-households.csv"),
     "--as-of", "2025-12-31", "--format", "table"],
    ["--lang", "zh", "score", str(EXAMPLE_POLICY), "--scheme", "visits", "/no/such.csv",
     "--as-of", "2025-12-31"],
])
def test_no_colour_codes_even_on_a_colour_terminal(args: list[str]) -> None:
    r: Any = CliRunner().invoke(main, args, color=True)
    assert "\x1b[" not in r.output
