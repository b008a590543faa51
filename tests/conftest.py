"""Shared fixtures: write a policy file and load it, with located errors."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import civicscore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_POLICY = ROOT / "policies" / "example-district.toml"
EXAMPLES = ROOT / "examples"
AS_OF = dt.date(2025, 12, 31)

MINIMAL = """
[policy]
id = "t"
version = "1"
"""


@pytest.fixture(scope="session", autouse=True)
def english_unless_asked() -> Iterator[None]:
    """The suite's tests match civicscore's English wording, so they say so: the command
    line speaks a policy's locale by default (zh-CN for most shipped policies), and
    ``CIVICSCORE_LANG=en`` asks for English (for the whole session, so that module
    fixtures that run the command line see it too). A test of the default language or
    of Chinese wording removes it (``monkeypatch.delenv``) or asks with ``--lang``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CIVICSCORE_LANG", "en")
        yield


@pytest.fixture(autouse=True)
def own_check_cache(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test keeps ``civicscore check`` outcomes in a cache of its own (empty at the
    start, as on a fresh machine), never in the user's ~/.cache; the command line runs
    in this process (CliRunner) and in child processes, which inherit the variable."""
    monkeypatch.setenv("CIVICSCORE_CACHE_DIR", str(tmp_path_factory.mktemp("check-cache")))


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[..., Path]:
    """Write TOML (dedented) to a file under tmp_path and return its path."""

    def write(text: str, name: str = "policy.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_text(write_policy: Callable[..., Path]) -> Callable[..., civicscore.Policy]:
    def load(text: str, name: str = "policy.toml") -> civicscore.Policy:
        return civicscore.load(write_policy(text, name), today=dt.date(2025, 1, 1))

    return load


def problems_of(excinfo: pytest.ExceptionInfo[civicscore.PolicyError]) -> list[str]:
    return [str(p) for p in excinfo.value.problems]
