"""What loading a policy looked at on disk, noted while :func:`recording` is on.

``civicscore check`` keeps its outcome in a cache (``civicscore.check_cache``) that
may be reused only while every input is the same. The code and the arguments are
known before the run; the files are not: which files ``extends`` reaches is found
by reading them. So the loader notes, as it goes, every file it read (its path,
where the path resolves to and the SHA-256 of its bytes) and every path it tested
for existence (``extends = "base"`` tries ``base`` then ``base.toml``; a file
appearing at the first would change the outcome). A later run may reuse the
outcome only if each file still hashes the same and each test still answers the
same (:func:`still_true`).

Outside :func:`recording` nothing is noted and nothing is hashed: ``civicscore.load``
and the other commands pay nothing for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Reads:
    """The files read and the paths tested by the loads made while recording."""

    files: list[tuple[str, str, str]] = field(default_factory=list)
    """(absolute path as opened, its real path, sha256 hex of the bytes read)."""
    probes: list[tuple[str, str, bool]] = field(default_factory=list)
    """(absolute path, "exists" or "lexists", the answer)."""
    unverifiable: list[str] = field(default_factory=list)
    """Inputs that cannot be checked again cheaply (a policy registered as a resource
    inside a zip): an outcome that read one is not kept."""


_READS: ContextVar[Reads | None] = ContextVar("civicscore_policy_reads", default=None)


@contextlib.contextmanager
def recording() -> Iterator[Reads]:
    """Note the policy files read and the paths tested until the block ends."""
    reads = Reads()
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


def note_read(path: str | Path, data: bytes) -> None:
    """A policy file was read and gave ``data``."""
    reads = _READS.get()
    if reads is not None:
        reads.files.append((os.path.abspath(path), os.path.realpath(path),
                            hashlib.sha256(data).hexdigest()))


def note_probe(path: str | Path, kind: str, answer: bool) -> None:
    """``os.path.exists`` (``kind="exists"``) or ``lexists`` of ``path`` gave ``answer``."""
    reads = _READS.get()
    if reads is not None:
        reads.probes.append((os.path.abspath(path), kind, answer))


def note_unverifiable(what: str) -> None:
    """An input was read that :func:`still_true` could not check again."""
    reads = _READS.get()
    if reads is not None:
        reads.unverifiable.append(what)


def _probe(path: str, kind: str) -> bool:
    return os.path.lexists(path) if kind == "lexists" else os.path.exists(path)


def still_true(files: list[tuple[str, str, str]], probes: list[tuple[str, str, bool]]) -> bool:
    """Whether every file noted still resolves to the same place and holds the same bytes,
    and every path tested still answers the same."""
    try:
        for path, kind, answer in probes:
            if _probe(path, kind) != answer:
                return False
        for path, real, digest in files:
            if os.path.realpath(path) != real:
                return False
            with open(path, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != digest:
                    return False
    except (OSError, ValueError):
        return False
    return True
