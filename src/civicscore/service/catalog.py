"""The policies a service offers: the TOML files in its policy roots, and installed ones.

A service reads policy files only under its policy roots, exactly as the
command line's ``--policy-root`` confines ``check`` and ``score``: one
:class:`~civicscore.engine.Engine` made with those roots loads every policy,
so a policy (or a file its ``extends`` reaches) outside them is refused by the
same check. Policies are named in URLs by their file name without ``.toml``
(``example-district``); installed policies (``baseline``, a locality plugin's)
by their installed name, unless a file of the roots has that name.

Loading compiles a policy, which takes tens of milliseconds; a compiled
policy is kept until a file in the roots changes (any ``*.toml``: a parent
a locality extends may have changed), so an officer who edits a file sees
the edit on the next request without restarting the service.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..policy.load import POLICY_ROOTS

if TYPE_CHECKING:
    from ..engine import Engine
    from ..policy.compile import Policy
    from ..report.layers import Layer

MAX_POLICY_FILES = 1000
"""At most this many ``*.toml`` files of the roots are offered (a root is a directory of
policies, not a disk to crawl)."""


@dataclass(frozen=True)
class Entry:
    """One policy the service offers: its URL ``name``, what the engine loads
    (``source``: an absolute path or an installed name) and where it comes from."""

    name: str
    source: str
    origin: str  # "file" or "installed"


class Catalog:
    """The policies under ``engine``'s policy roots plus the installed ones, loaded on
    demand and kept until a file of the roots changes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.roots: tuple[Path, ...] = engine.policy_roots or ()
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[object, ...], Policy]] = {}

    def _files(self) -> Iterator[Path]:
        count = 0
        for root in self.roots:
            try:
                names = sorted(os.listdir(root))
            except OSError:
                continue
            for name in names:
                if not name.endswith(".toml") or name.startswith("."):
                    continue
                path = root / name
                if path.is_file() and _is_policy(path):
                    count += 1
                    if count > MAX_POLICY_FILES:
                        return
                    yield path

    def entries(self) -> dict[str, Entry]:
        """Every policy on offer, by URL name (a root's file first, then installed)."""
        found: dict[str, Entry] = {}
        for path in self._files():
            found.setdefault(path.stem, Entry(path.stem, str(path), "file"))
        for name in self.engine.policy_names():
            found.setdefault(name, Entry(name, name, "installed"))
        return found

    def get(self, name: str) -> Entry | None:
        return self.entries().get(name)

    def _fingerprint(self) -> tuple[object, ...]:
        stamps: list[object] = []
        for path in self._files():
            try:
                info = path.stat()
            except OSError:
                continue
            stamps.append((str(path), info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    def load(self, entry: Entry) -> Policy:
        """The compiled policy of ``entry`` (raises ``PolicyError`` with every problem)."""
        stamp = self._fingerprint() if entry.origin == "file" else ()
        with self._lock:
            cached = self._cache.get(entry.source)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        policy = self.engine.load(entry.source)
        with self._lock:
            self._cache[entry.source] = (stamp, policy)
        return policy

    def layers(self, entry: Entry) -> list[Layer]:
        """The files ``entry`` is made of, for its rendered page (read under the roots)."""
        from ..report.layers import load_layers

        token = POLICY_ROOTS.set(self.roots or None)
        try:
            return load_layers(entry.source, self.engine.registry.environment())
        finally:
            POLICY_ROOTS.reset(token)

    def shown(self, file: str) -> str:
        """A file name as a client may see it: relative to its root (a service does not
        tell the world where it keeps its files)."""
        try:
            real = Path(os.path.realpath(file))
        except (OSError, ValueError):
            return Path(file).name
        for root in self.roots:
            try:
                return real.relative_to(root).as_posix()
            except ValueError:
                continue
        return Path(file).name if os.sep in file or "/" in file else file


def _is_policy(path: Path) -> bool:
    """A TOML file with a ``[policy]`` table (pyproject.toml and the like are not)."""
    try:
        with path.open("rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return b"[policy]" in head
