"""Every shipped policy passes ``taplo check`` with the shipped JSON Schema.

tests/test_policy_schema.py validates the same files with the ``jsonschema`` package;
this runs Taplo itself, the engine of VS Code's Even Better TOML (docs/editors.md),
because an officer sees Taplo's verdict, not jsonschema's, and the two have disagreed
before (issue 13: 6 of the 8 shipped policies were refused in the editor). The pip
package ``taplo`` (in the ``dev`` extra) ships the binary.

Without taplo installed the tests skip, except in CI (``CI`` set), where a missing
binary is a missing install step and fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "policies" / "civicscore-policy.schema.json"
SHIPPED = sorted(
    p for p in [*ROOT.glob("policies/*.toml"), *ROOT.glob("src/civicscore/policies/*.toml"),
                *ROOT.glob("plugins/*/**/*.toml")]
    if p.name != "pyproject.toml")


def _taplo() -> str:
    """The taplo binary: on PATH, or beside this Python (a venv's bin/, which CI's
    ``.venv/bin/python -m pytest`` does not put on PATH)."""
    for candidate in (shutil.which("taplo"),
                      Path(sysconfig.get_path("scripts")) / "taplo",
                      Path(sys.executable).parent / "taplo"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    if os.environ.get("CI"):
        pytest.fail("taplo is not installed in CI (it is in the dev extra)")
    pytest.skip("taplo is not installed (pip install taplo)")


def check(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``taplo check`` with no colours and no configuration file but the one named."""
    return subprocess.run([_taplo(), "check", "--colors", "never", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "RUST_LOG": "info"})


def located(output: str) -> set[tuple[str, int]]:
    """(file name, line) of every error taplo reports (its ``┌─ path:line:col`` lines)."""
    return {(Path(m[1]).name, int(m[2])) for m in re.finditer(r"┌─ (.+?):(\d+):\d+", output)}


def test_every_kind_of_shipped_policy_is_checked() -> None:
    names = [p.relative_to(ROOT).as_posix() for p in SHIPPED]
    assert "src/civicscore/policies/baseline.toml" in names
    assert "policies/example-district.toml" in names
    assert sum(1 for n in names if n.startswith("plugins/")) >= 5  # one per locality


def test_taplo_checks_every_shipped_policy_against_the_shipped_schema() -> None:
    """One run over all files: the count taplo found proves none was skipped, and a
    failed schema load would be an error too (taplo refuses a file it cannot check)."""
    result = check("--no-auto-config", "--schema", SCHEMA.as_uri(),
                   *(str(p) for p in SHIPPED), cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"found files total={len(SHIPPED)} " in result.stderr, result.stderr


def test_taplo_refuses_a_misspelt_key_at_its_line(tmp_path: Path) -> None:
    """The negative control: with the same schema, a misspelt key fails the check and
    one of the errors is on the misspelt key's own line."""
    text = (ROOT / "src" / "civicscore" / "policies" / "baseline.toml").read_text("utf-8")
    assert text.count("\nhit_policy = ") == 1
    misspelt = text.replace("\nhit_policy = ", "\nhit_polcy = ")
    line = next(n for n, x in enumerate(misspelt.splitlines(), 1) if x.startswith("hit_polcy"))
    bad = tmp_path / "baseline.toml"
    bad.write_text(misspelt, encoding="utf-8")
    result = check("--no-auto-config", "--schema", SCHEMA.as_uri(), str(bad), cwd=tmp_path)
    assert result.returncode != 0
    assert "'hit_polcy' was unexpected" in result.stderr
    assert ("baseline.toml", line) in located(result.stderr)


def _docs_config() -> str:
    text = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    return text.split("<!-- taplo-config -->\n```toml\n", 1)[1].split("```", 1)[0]


def test_the_documented_ways_of_pointing_taplo_at_the_schema_work(tmp_path: Path) -> None:
    """docs/editors.md's two ways, as an officer's folder would have them: the
    ``.taplo.toml`` at the project root, and the ``#:schema`` first line that
    policies/example-district.toml carries. Each passes the shipped example and
    catches the misspelt key (so the schema is really in force)."""
    policies = tmp_path / "policies"
    policies.mkdir()
    shutil.copy(SCHEMA, policies / SCHEMA.name)
    example = (ROOT / "policies" / "example-district.toml").read_text("utf-8")
    (policies / "example-district.toml").write_text(example, encoding="utf-8")
    (tmp_path / ".taplo.toml").write_text(_docs_config(), encoding="utf-8")
    baseline = (ROOT / "src" / "civicscore" / "policies" / "baseline.toml").read_text("utf-8")
    bad = baseline.replace("\nhit_policy = ", "\nhit_polcy = ")

    # 1. .taplo.toml: taplo finds it in the working directory, as the editor does
    result = check(cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (policies / "misspelt.toml").write_text(bad, encoding="utf-8")
    result = check(cwd=tmp_path)
    assert result.returncode != 0 and "'hit_polcy' was unexpected" in result.stderr
    (policies / "misspelt.toml").unlink()

    # 2. #:schema, with no configuration file at all
    assert example.startswith("#:schema ./civicscore-policy.schema.json\n")
    (policies / "misspelt.toml").write_text(
        "#:schema ./civicscore-policy.schema.json\n" + bad, encoding="utf-8")
    result = check("--no-auto-config", "policies/example-district.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    result = check("--no-auto-config", "policies/misspelt.toml", cwd=tmp_path)
    assert result.returncode != 0 and "'hit_polcy' was unexpected" in result.stderr
