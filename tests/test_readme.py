"""The README's commands and examples are the ones that work (they are run here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from civicscore.cli import main

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", setup, flags=re.S)
    assert len(commands) == 2
    install_run, install_test = commands
    assert "civicscore score" in install_run and "pytest" in install_test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install_test in ci


def test_readme_floors_command_is_the_one_ci_runs() -> None:
    # the declared minimum versions are proven the way the README says to prove them
    section = README.split("## Supported versions", 1)[1].split("\n## ", 1)[0]
    (command,) = re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)
    assert "--resolution lowest-direct" in command and "pytest" in command
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_python_example_runs_and_prints_what_it_says(monkeypatch, capsys) -> None:
    code, batch = blocks("python")
    monkeypatch.chdir(ROOT)
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    out = capsys.readouterr().out
    assert "earned 11.25 points" in out
    assert out.strip().endswith("11.25")
    pytest.importorskip("polars")
    exec(compile(batch, "README.md", "exec"), scope)  # continues the first example
    out = capsys.readouterr().out
    assert "reason_codes" in out and "15 of 21 households scored, 6 rejected" in out


def test_first_setup_command_scores_the_bundled_examples(monkeypatch) -> None:
    setup = README.split("## Set up", 1)[1]
    first = re.findall(r"```sh\n(.*?)\n```", setup, flags=re.S)[0]
    args = first.split("civicscore ", 1)[1].split()
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Volunteer statements as of 2025-12-31" in result.stdout
    assert "V01" in result.stdout


def test_cli_examples_run(monkeypatch, tmp_path: Path) -> None:
    cli = README.split("## From the command line", 1)[1]
    (block,) = re.findall(r"```sh\n(.*?)```", cli, flags=re.S)
    commands = block.replace("\\\n", " ").strip().splitlines()
    monkeypatch.chdir(tmp_path)
    for path in ("policies", "examples"):
        (tmp_path / path).symlink_to(ROOT / path)
    for line in commands:
        line = line.split("  #")[0].strip().split(">")[0]
        result = subprocess.run(f"{sys.executable} -m civicscore {line.split('civicscore ', 1)[1]}",
                                shell=True, capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, (line, result.stderr)
        assert "Traceback" not in result.stderr
    assert (tmp_path / "statements.csv").exists() and (tmp_path / "rejects.csv").exists()
