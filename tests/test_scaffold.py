"""civicscore new-plugin: the scaffold passes its own tests without edits."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from civicscore.cli import main


def test_scaffold_passes_its_own_tests(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["new-plugin", "townname", "--dir", str(tmp_path),
                                       "--title", "Town"])
    assert result.exit_code == 0, result.output
    root = tmp_path / "civicscore-townname"
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["civicscore"] == {"townname": "civicscore_townname"}
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=root, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout  # the test file, plus the two cases collected from TOML


def test_scaffold_refuses_bad_names_and_existing_dirs(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["new-plugin", "Town Name", "--dir", str(tmp_path)])
    assert r.exit_code == 2 and "lower-case letters" in r.stderr
    CliRunner().invoke(main, ["new-plugin", "town", "--dir", str(tmp_path)])
    r = CliRunner().invoke(main, ["new-plugin", "town", "--dir", str(tmp_path)])
    assert r.exit_code == 2 and "already exists" in r.stderr
