"""Entry points of one group, found without importing ``importlib.metadata``.

``importlib.metadata.entry_points(group=...)`` imports the email parser,
zipfile and friends and builds a ``Distribution`` for every installed package
to read its ``entry_points.txt``; on the command line that was a good part of
``civicscore check``'s start-up (about 50 ms of CPU on the 2-core machine).
This module does the same search the way ``importlib.metadata`` does it on an
ordinary installation, and reads nothing but the ``entry_points.txt`` files
(and, for a plugin that is loaded, its ``METADATA`` headers):

* the directories of ``sys.path`` in order, each listed once (``os.listdir``
  order), their ``*.dist-info`` and ``*.egg-info`` entries grouped by
  normalised distribution name as ``importlib.metadata`` groups them;
* a distribution installed twice counts once, the first found (as
  ``importlib.metadata.entry_points`` keeps the first of each name);
* entry_points.txt parsed as ``importlib.metadata`` parses it (``[group]``
  lines, ``name = value`` pairs, ``#`` comments).

Anything else (a zip or egg on ``sys.path``, an extra finder on
``sys.meta_path`` that can find distributions) is handed to
``importlib.metadata`` itself, so the answer is the same in every environment.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_ENTRY_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?"
                          r"((?P<extras>\[.*\])\s*)?$")  # importlib.metadata's pattern
_INFO = (".dist-info", ".egg-info")


@dataclass(frozen=True)
class EntryPoint:
    """One entry point: what ``ep.name``, ``ep.value`` and ``ep.load()`` give in
    ``importlib.metadata``, and the (name, version) of its distribution."""

    name: str
    value: str
    group: str
    _distribution: Callable[[], tuple[str, str] | None]

    def load(self) -> Any:
        """Import the module and follow the attributes, as ``EntryPoint.load`` does."""
        match = _ENTRY_VALUE.match(self.value)
        if match is None:
            raise ValueError(f"invalid entry point value {self.value!r}")
        module: Any = importlib.import_module(match.group("module"))
        attrs = filter(None, (match.group("attr") or "").split("."))
        return functools.reduce(getattr, attrs, module)

    @property
    def distribution(self) -> tuple[str, str] | None:
        """The distribution's Name and Version (read from its metadata when asked)."""
        return self._distribution()


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group``, in the order ``importlib.metadata`` gives them."""
    if _unusual():
        return _from_importlib(group)
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for name, info in _distributions():
        if name in seen:
            continue
        seen.add(name)
        text = _read(info, "entry_points.txt")
        if text is None or f"[{group}]" not in text:
            continue
        dist = functools.partial(_name_version, info)
        for section, ep_name, value in _parse_entry_points(text):
            if section == group:
                found.append(EntryPoint(ep_name, value, group, dist))
    return found


def version(distribution: str) -> str | None:
    """The installed version of a distribution (None when it is not installed), as
    ``importlib.metadata.version`` finds it."""
    if _unusual():
        from importlib import metadata

        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return None
    wanted = _normalise(distribution)
    for name, info in _distributions():
        if name == wanted:
            return _headers(info).get("version")
    return None


# --- the search ------------------------------------------------------------------


def _unusual() -> bool:
    """Whether this environment finds distributions in a way the plain search does
    not cover (then ``importlib.metadata`` answers)."""
    from importlib.machinery import PathFinder

    for finder in sys.meta_path:
        if finder is not PathFinder and hasattr(finder, "find_distributions"):
            return True
    for entry in sys.path:
        if not isinstance(entry, str):
            return True
        root = entry or "."
        if root.lower().endswith(".egg") or (os.path.exists(root) and not os.path.isdir(root)):
            return True  # an egg or a zip: importlib.metadata reads inside them
    return False


def _normalise(name: str) -> str:
    """importlib.metadata's ``Prepared.normalize``."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _distributions() -> Iterator[tuple[str, str]]:
    """(normalised name, metadata directory) of every distribution, in search order."""
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            continue
        groups: dict[str, list[str]] = {}
        for child in children:
            low = child.lower()
            if low.endswith(_INFO):
                name = _normalise(low.rpartition(".")[0].partition("-")[0])
                groups.setdefault(name, []).append(os.path.join(entry, child))
        for name, infos in groups.items():
            for info in infos:
                yield name, info


def distributions() -> list[tuple[str, str]]:
    """(normalised name, metadata path) of every distribution on ``sys.path``, in search
    order, a name installed twice listed twice (as :func:`entry_points` finds them)."""
    return list(_distributions())


def _read(info: str, filename: str) -> str | None:
    """A metadata file's text, None when it is missing (``""``: ``info`` itself, an old
    ``.egg-info`` that is a file, as ``PathDistribution.read_text("")`` reads it)."""
    try:
        with open(os.path.join(info, filename) if filename else info, encoding="utf-8") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None


def _parse_entry_points(text: str) -> Iterator[tuple[str, str, str]]:
    """(group, name, value) of every entry, as importlib.metadata's ``Sectioned`` reads."""
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        if section is None:
            continue
        name, _, value = line.partition("=")
        yield section, name.strip(), value.strip()


def _headers(info: str) -> dict[str, str]:
    """The Name and Version headers of a distribution's metadata (lower-case keys)."""
    text = _read(info, "METADATA") or _read(info, "PKG-INFO") or _read(info, "") or ""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the end of the headers
        if line[0] in " \t":
            continue  # a folded header's continuation
        key, sep, value = line.partition(":")
        key = key.lower()
        if sep and key in ("name", "version") and key not in out:
            out[key] = value.lstrip(" \t")
    return out


def _name_version(info: str) -> tuple[str, str]:
    headers = _headers(info)
    return headers.get("name", ""), headers.get("version", "")


def _from_importlib(group: str) -> list[EntryPoint]:
    from importlib import metadata

    def dist_of(ep: Any) -> Callable[[], tuple[str, str] | None]:
        def read() -> tuple[str, str] | None:
            if ep.dist is None:
                return None
            meta = ep.dist.metadata  # parsed from the file on each access: read it once
            return meta["Name"], meta["Version"]
        return read

    return [EntryPoint(ep.name, ep.value, group, dist_of(ep))
            for ep in metadata.entry_points(group=group)]


# --- pydantic's own plugin search ------------------------------------------------


def spare_pydantic_its_plugin_search() -> bool:
    """Answer, for pydantic, the question it asks before building its first validator.

    pydantic looks for plugins of its own (entry points of group ``pydantic``) with
    ``importlib.metadata`` the first time it builds a validator, which on the command
    line is the first policy checked: importing ``importlib.metadata`` (the email
    parser, zipfile, csv...) and scanning every distribution was about 25-30 ms of
    ``civicscore check``'s CPU. When the search above finds no such entry point, and
    pydantic's loader has not been imported yet, this puts in its place a loader that
    gives what pydantic's would have given, no plugins, so pydantic builds the plain
    validator it builds then. Where any pydantic plugin is installed, or plugins are
    named in ``PYDANTIC_DISABLE_PLUGINS`` (pydantic's own switch, handled by its
    loader), nothing is changed. True when the stand-in was put in place.

    Only the command line calls this (``civicscore.cli``): a program that imports
    civicscore keeps pydantic exactly as it is."""
    name = "pydantic.plugin._loader"
    if name in sys.modules or os.environ.get("PYDANTIC_DISABLE_PLUGINS") is not None:
        return False
    if entry_points("pydantic"):
        return False
    import types

    loader = types.ModuleType(name, "civicscore's stand-in: no pydantic plugin is installed")
    loader.PYDANTIC_ENTRY_POINT_GROUP = "pydantic"  # type: ignore[attr-defined]
    loader._plugins = {}  # type: ignore[attr-defined]
    loader._loading_plugins = False  # type: ignore[attr-defined]
    loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
    sys.modules[name] = loader
    return True
