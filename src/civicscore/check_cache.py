"""The outcome of ``civicscore check``, kept while none of its inputs changes.

Checking a policy is a pure function of its inputs: the policy files (the one
named and every file its ``extends`` chain reaches), civicscore's code, the
plugins' code, the libraries that judge values (pydantic, holidays), the
arguments, the ``CIVICSCORE_*`` environment, the working directory and today's
date (a policy past its ``review_by`` date warns). Most of a check's start-up
is importing and compiling the code that checks; when every input is what it
was at the last successful check, that work would print the same lines again.

An entry is found by a key, the SHA-256 of everything known before the run
(:func:`key`): civicscore's version and the hash of every file of its package,
each installed plugin's entry point, distribution, version and the hash of its
package's files, the versions of Python and of the libraries above, the name and
version of every installed distribution (its ``.dist-info`` folder), the
arguments, the environment, the directory and the date. The entry holds what
the run found (``civicscore.policy.reads``): each policy file read, with its
real path and the SHA-256 of its bytes, and each path tested for existence,
with the answer; it is used only if each still holds (so editing, adding,
removing or re-pointing any file of the chain is a miss). It replays the exact
lines the run printed, on the same streams in the same order, and its exit
status.

Only a run in which every policy passed is kept (a failing policy is being
edited, and is checked afresh each time). Nothing of a record is in an entry:
the lines are a check's own messages. The cache lives in
``$CIVICSCORE_CACHE_DIR``, else ``$XDG_CACHE_HOME/civicscore``, else
``~/.cache/civicscore`` (the ``check/`` folder, at most :data:`KEEP` entries, each
readable by its user alone; an entry another user could have written is not
believed; deleting the folder is always safe);
``civicscore check --no-cache`` neither reads nor writes it. A cache that
cannot be read or written (a read-only home) is skipped without a word.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__, _entry_points
from .policy.reads import Reads, still_true
from .provenance import PluginCode, code_hash

FORMAT = 1
"""The layout of an entry; part of the key, so a new layout never reads an old one."""

ENV_DIR = "CIVICSCORE_CACHE_DIR"

#: The libraries whose versions can change a check's outcome: the validator of the
#: policy format, the holiday calendars that codes are checked against and whose days
#: are in the hash ``ok`` prints for a policy that reads its calendar (a kept line from
#: before a ``holidays`` upgrade would show a hash the policy no longer has), the plugin
#: manager, the command line (its messages) and the TOML reader before Python 3.11.
LIBRARIES = ("pydantic", "pydantic-core", "annotated-types", "typing-extensions",
             "typing-inspection", "holidays", "pluggy", "click", "tomli")

KEEP = 512
"""Entries kept at most (the oldest go first): a key holds the date, so each day's checks
make new ones."""


def directory() -> Path:
    """Where entries are kept (the ``check`` folder of civicscore's user cache)."""
    base = os.environ.get(ENV_DIR)
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = os.path.join(xdg if xdg and os.path.isabs(xdg) else
                            os.path.join(os.path.expanduser("~"), ".cache"), "civicscore")
    return Path(base) / "check"


def _code(module: str, distribution: tuple[str, str] | None) -> str | None:
    """The hash of a plugin's package files (None when they cannot be found)."""
    name, version = distribution or ("", "")
    found = code_hash(PluginCode(module, name, version, module).files())
    return found or None


def key(arguments: Mapping[str, Any]) -> str | None:
    """The key of a check with these arguments, here and now; None when some code
    cannot be hashed or the working directory is gone (then nothing is cached)."""
    try:
        return _key(arguments)
    except OSError:
        return None


def _key(arguments: Mapping[str, Any]) -> str | None:
    own = _code("civicscore", ("civicscore", __version__))
    if own is None:
        return None
    plugins = []
    for ep in _entry_points.entry_points("civicscore"):
        module = ep.value.partition(":")[0].strip()
        dist = ep.distribution
        code = _code(module.split(".")[0], dist)
        if code is None:
            return None
        plugins.append([ep.name, ep.value, list(dist) if dist else None, code])
    inputs = {
        "format": FORMAT,
        "civicscore": [__version__, own],
        "python": [sys.version, sys.implementation.name],
        "libraries": {name: _entry_points.version(name) for name in LIBRARIES},
        # every installed distribution, as its metadata folder names it (name-version):
        # code a plugin imports from another package is judged by that package's version
        "distributions": sorted(os.path.basename(info)
                                for _, info in _entry_points.distributions()),
        "plugins": plugins,
        "environment": {k: v for k, v in sorted(os.environ.items())
                        if k.startswith("CIVICSCORE_") and k != ENV_DIR},
        "directory": os.getcwd(),
        "today": dt.date.today().isoformat(),
        "arguments": dict(arguments),
    }
    text = json.dumps(inputs, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class Kept:
    """A kept outcome: the lines printed, each (to standard error?, text), in order; the
    exit status; the language the run spoke (for a word about the cache itself)."""

    lines: list[tuple[bool, str]]
    status: int
    language: str


def get(entry_key: str) -> Kept | None:
    """The outcome kept under ``entry_key``, if every file and path it was made from is
    still as it was."""
    folder = directory()
    if not _private(folder):
        return None
    try:
        with open(folder / f"{entry_key}.json", encoding="utf-8") as f:
            if not _private(os.fstat(f.fileno())):
                return None
            entry = json.load(f)
        files = [(str(p), str(r), str(d)) for p, r, d in entry["files"]]
        probes = [(str(p), str(k), bool(a)) for p, k, a in entry["probes"]]
        lines = [(bool(err), str(text)) for err, text in entry["lines"]]
        status = int(entry["status"])
        language = str(entry["language"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if entry.get("key") != entry_key or not still_true(files, probes):
        return None
    return Kept(lines, status, language)


def _private(where: Path | os.stat_result) -> bool:
    """Whether only this user could have written ``where`` (a folder or an open entry):
    an entry planted by someone else would print their "ok" for a policy that fails."""
    try:
        info = where if isinstance(where, os.stat_result) else os.stat(where)
    except OSError:
        return False
    mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return mine and not info.st_mode & 0o022


def put(entry_key: str, reads: Reads, lines: Sequence[tuple[bool, str]], status: int,
        language: str) -> bool:
    """Keep a run's outcome; False (and nothing written) when it read an input that cannot
    be checked again, or the cache cannot be written."""
    if reads.unverifiable:
        return False
    entry = {"key": entry_key, "civicscore": __version__, "files": reads.files,
             "probes": reads.probes, "lines": lines, "status": status,
             "language": language}
    folder = directory()
    target = folder / f"{entry_key}.json"
    partial = folder / f".{entry_key}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # see _private
        with open(fd, "w", encoding="utf-8") as f:
            json.dump(entry, f, ensure_ascii=False)
        os.replace(partial, target)  # readers see the whole entry or none
        _prune(folder)
    except OSError:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass
        return False
    return True


def _prune(folder: Path) -> None:
    """Remove the oldest entries past :data:`KEEP` (by modification time)."""
    names = [n for n in os.listdir(folder) if n.endswith(".json")]
    if len(names) <= KEEP:
        return
    aged = []
    for name in names:
        try:
            aged.append((os.stat(folder / name).st_mtime_ns, name))
        except OSError:
            continue
    for _, name in sorted(aged)[:len(aged) - KEEP]:
        try:
            os.unlink(folder / name)
        except OSError:
            pass
