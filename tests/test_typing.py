"""The library type-checks: ``mypy`` from the repo root, with the ``[tool.mypy]`` config.

The code is meant to be fully typed (it ships ``py.typed``, so plugin authors' checkers
read its annotations); this keeps it so. mypy's cache goes to a directory under the
system's temporary folder, one per checkout, and not into the work tree: the first run
on a machine is cold (about 20-40 s here), later ones take a second or two, and a stale
cache is safe (mypy re-checks every file that changed).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cache_dir() -> Path:
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"civicscore-mypy-cache-{checkout}"


def test_mypy_reports_no_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    api = pytest.importorskip(
        "mypy.api", reason="mypy is not installed (it is in the [dev] extra: "
                           "pip install -e '.[dev]')")
    monkeypatch.chdir(ROOT)  # mypy reads pyproject.toml, and its `files`, from here
    stdout, stderr, status = api.run(["--cache-dir", str(_cache_dir())])
    assert status == 0 and "Success: no issues found" in stdout, (
        f"mypy found problems (run `mypy` from the repo root):\n{stdout}{stderr}")


def test_a_scheme_reads_its_section_as_its_model() -> None:
    """``CompileContext.section``: the typed way to read a section that ``PolicyModel``
    cannot name (sections are added per installed scheme); None when the file has none,
    and a wrong model is a TypeError, not a silently mistyped value."""
    import civicscore
    from civicscore.policy.compile import CompileContext
    from civicscore.policy.model import Visits, Volunteer

    policy = civicscore.load(ROOT / "policies" / "example-district.toml")
    layers = civicscore.policy.load.Layers([])
    ctx = CompileContext(policy.model, layers, policy.functions, policy.calendar, policy.ref)
    volunteer = ctx.section("volunteer", Volunteer)
    assert isinstance(volunteer, Volunteer) and "patrol" in volunteer.activities
    assert ctx.section("greeting", Volunteer) is None  # a section this file does not have
    with pytest.raises(TypeError, match=r"\[visits\] was validated as Visits, not Volunteer"):
        ctx.section("visits", Volunteer)
    assert isinstance(ctx.section("visits", Visits), Visits)
