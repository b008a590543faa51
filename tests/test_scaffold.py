"""civicscore new-plugin: the scaffold passes its own tests without edits."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

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


def test_scaffold_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: Any) -> None:
    """A write that fails half-way (here the fourth file: a full disk) leaves no package
    and no staging directory behind, and says which path and why, exit 2."""
    real = Path.write_text
    calls = []

    def failing(self: Path, *args: Any, **kwargs: Any) -> int:
        calls.append(self)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing)
    r = CliRunner().invoke(main, ["new-plugin", "town", "--dir", str(tmp_path)])
    assert r.exit_code == 2, r.output
    assert "civicscore-town" in r.stderr and "the disk is full" in r.stderr
    assert "nothing was written" in r.stderr and "Traceback" not in r.output
    assert list(tmp_path.iterdir()) == []


def test_scaffold_creates_a_missing_directory_and_readable_package(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir"
    r = CliRunner().invoke(main, ["new-plugin", "town", "--dir", str(target)])
    assert r.exit_code == 0, r.output
    root = target / "civicscore-town"
    assert (root / "src" / "civicscore_town" / "policy.toml").is_file()
    assert os.stat(root).st_mode & 0o755 == 0o755
    assert [p.name for p in target.iterdir()] == ["civicscore-town"]
