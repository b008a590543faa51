"""A throw-away PostgreSQL server for the ledger suite, and the ``ledger_url`` fixture.

The server is real (rule 8: no mocks): Debian's binaries (``/usr/lib/postgresql/*/bin``,
or ``CIVICSCORE_PG_BIN``), a data directory in a temp dir, listening only on a unix
socket there, with fsync off (the tests check the ledger's logic, not the disk).
PostgreSQL refuses to run as root, so under root it runs as the ``postgres`` system
user (created when missing). Each test gets a fresh schema of one database; the server
is stopped when the session ends.

Without PostgreSQL binaries the PostgreSQL half of the suite is skipped, saying why,
unless ``CIVICSCORE_REQUIRE_POSTGRES=1`` (set by .ci/run), where it fails.

This module holds no tests; the ledger test modules import its fixtures.
"""

from __future__ import annotations

import functools
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_names = itertools.count()


def _bin_dir() -> Path | None:
    if os.environ.get("CIVICSCORE_PG_BIN"):
        return Path(os.environ["CIVICSCORE_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Server:
    """One running server: ``url(schema)`` connects to a schema of its database."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="cs-pg-"))
        self.data = self.root / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # postgres will not run as root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                "/usr/sbin/nologin", "postgres"], check=True)
            shutil.chown(self.root, "postgres")
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--locale=C")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                  "-o", f"-k {self.root} -c listen_addresses='' -c fsync=off "
                        f"-c synchronous_commit=off -c full_page_writes=off "
                        f"-c max_connections=100", "start")
        self.running = True

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.prefix, str(self.bindir / tool), *args],
                              capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "log"
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}"
                               + (f"\n{log.read_text()}" if log.exists() else ""))

    def url(self, schema: str | None = None) -> str:
        base = f"postgresql://postgres@/postgres?host={self.root}"
        return base + (f"&options=-csearch_path%3D{schema}" if schema else "")

    def fresh_url(self) -> str:
        """A URL of a new, empty schema (one per test)."""
        import psycopg

        name = f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return self.url(name)

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            shutil.rmtree(self.root, ignore_errors=True)


@functools.cache
def server() -> Server | str:
    """The session's server, started on first use; or why there is none."""
    bindir = _bin_dir()
    if bindir is None or not (bindir / "initdb").exists():
        return "no PostgreSQL server binaries (apt-get install postgresql, or set " \
               "CIVICSCORE_PG_BIN)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]')"
    return Server(bindir)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    found = server()
    if isinstance(found, str):
        if os.environ.get("CIVICSCORE_REQUIRE_POSTGRES") == "1":
            pytest.fail(found)
        pytest.skip(found)
    yield found
    found.stop()


BACKENDS = ["sqlite", "postgres"]

slow = pytest.mark.skipif(os.environ.get("CIVICSCORE_SLOW") != "1",
                          reason="a bigger run of the ledger suite: set CIVICSCORE_SLOW=1")
"""Marks a fuzz-scale ledger test, kept out of the default run (the project has no
``slow`` marker of its own yet)."""


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new, empty ledger on each backend in turn (not yet initialised)."""
    if request.param == "sqlite":
        return str(tmp_path / "points.db")
    pg: Server = request.getfixturevalue("pg_server")
    return pg.fresh_url()
