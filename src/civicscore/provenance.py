"""What code made a logged decision: civicscore's version, each plugin's version and a
hash of each plugin's code.

A decision log names the policy by its content hash, so replay can prove that the
same rules re-make the same decisions. But a plugin's function (``karamay_points``),
calendar or scheme is code, not policy text: change it, and results change while
the policy hash stays. So the first entry of every logged run carries a
``software`` record (:func:`software`)::

    {"civicscore": "0.1.0", "holidays": "0.109",
     "plugins": [{"name": "karamay", "distribution": "civicscore-karamay",
                  "version": "0.1.0", "code": "sha256:..."}]}

``code`` is the SHA-256 of the plugin's package files, read in a stable order
(relative paths sorted, each path and its bytes; compiled ``__pycache__`` files left
out), so the same files give the same hash on any machine. ``replay`` and
``verify-log`` compare it with the plugins installed when they run
(:func:`changes`) and say, naming the plugin, where the code, the version or the
plugin itself is not the one that was logged: a warning beside the replay, since
the chain itself is intact and the decisions may still replay the same.

The record names the installed ``holidays`` release too: a policy names its national
calendar by country ("CN"), and the days come from that package. The days themselves
are in the hash of every policy that reads its calendar (``is_holiday``,
``is_workday``, ``is_makeup_workday``, the holiday multipliers written with them;
``policy.load.policy_hash``): a release that adds or rewrites a year's days off (调休)
moves that hash, and one that changes no day keeps it. ``changes`` names a release
that differs from the logged one, and says what the hash then tells.

What it cannot show: code a plugin imports from another package (a library it
depends on) is not hashed, civicscore itself is named by its version only, and
``holidays`` by its release (its days reach the policy hash, not this record).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUILTIN = "civicscore"  # the built-in schemes' plugin: named by civicscore's version
_SKIP_DIRS = frozenset({"__pycache__"})
_SKIP_SUFFIXES = (".pyc", ".pyo")
_cache: dict[tuple[tuple[str, int, int], ...], str] = {}


@dataclass(frozen=True)
class PluginCode:
    """A loaded plugin as a decision log names it: what is installed, and where its code is.

    ``module`` is the module the registered plugin object comes from; its code is the
    top-level package of that module when the plugin came from an installed
    distribution, else (a plugin registered in-process, e.g. by a test) that module's
    own file."""

    name: str
    distribution: str
    version: str
    module: str

    def files(self) -> list[tuple[str, Path]]:
        """(relative path, path) of every file of the plugin's code, sorted by path."""
        root = _code_root(self.module, whole_package=bool(self.distribution))
        if root is None:
            return []
        if root.is_file():
            return [(root.name, root)]
        out: list[tuple[str, Path]] = []
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
            for name in names:
                if name.endswith(_SKIP_SUFFIXES):
                    continue
                path = Path(folder, name)
                if path.is_file():
                    out.append((path.relative_to(root).as_posix(), path))
        return sorted(out)

    def code_hash(self) -> str:
        """``sha256:`` and the hash of the plugin's files (paths and bytes), or ``""`` when
        its code cannot be found (a plugin object with no module file)."""
        return code_hash(self.files())

    def logged(self) -> dict[str, str]:
        """The plugin as the first entry of a logged run names it."""
        return {"name": self.name, "distribution": self.distribution,
                "version": self.version, "code": self.code_hash()}


def _code_root(module: str, *, whole_package: bool) -> Path | None:
    """The directory of ``module``'s top-level package (or ``module``'s own file)."""
    name = module.split(".")[0] if whole_package else module
    loaded = sys.modules.get(name)
    file = getattr(loaded, "__file__", None)
    if file is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        file = spec.origin if spec is not None and spec.has_location else None
    if not file:
        return None
    path = Path(file)
    return path.parent if path.name == "__init__.py" and whole_package else path


def code_hash(files: Sequence[tuple[str, Path]]) -> str:
    """The SHA-256 of files given as (relative path, path): each path, its length and its
    bytes, in the order given. Cached by path, modification time and size, so a process
    that logs many runs reads a plugin's files once while they stay unchanged."""
    if not files:
        return ""
    try:
        stats = tuple((rel, (st := path.stat()).st_mtime_ns, st.st_size)
                      for rel, path in files)
    except OSError:
        return ""
    if stats in _cache:
        return _cache[stats]
    digest = hashlib.sha256()
    for rel, path in files:
        try:
            data = path.read_bytes()
        except OSError:
            return ""
        name = rel.encode("utf-8", "surrogateescape")
        digest.update(b"%d:%s\0%d:" % (len(name), name, len(data)))
        digest.update(data)
    found = "sha256:" + digest.hexdigest()
    if len(_cache) > 256:
        _cache.clear()
    _cache[stats] = found
    return found


def civicscore_version() -> str:
    """``civicscore.__version__``, read from the package already imported (this module is
    part of it), since importing the package from here would make an import cycle."""
    return str(getattr(sys.modules.get(__name__.rpartition(".")[0]), "__version__", ""))


def holidays_version() -> str:
    """The installed ``holidays`` release ("" when it cannot be read), from its metadata:
    importing the package would cost what ``civicscore.policy.calendar`` defers."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("holidays")
    except PackageNotFoundError:
        return ""


def software(plugins: Iterable[PluginCode]) -> dict[str, Any]:
    """The ``software`` record of a logged run: civicscore's version, the ``holidays``
    release its national calendars come from, and every loaded plugin (besides the
    built-in one) with its version and code hash, by name."""
    return {"civicscore": civicscore_version(), "holidays": holidays_version(),
            "plugins": [p.logged() for p in sorted(plugins, key=lambda p: p.name)
                        if p.name != BUILTIN]}


@dataclass(frozen=True)
class Change:
    """One way the code at hand is not what a logged run was made with, in both languages."""

    plugin: str  # the plugin's name, or "civicscore"
    en: str
    zh: str

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


def changes(logged: Any, now: Mapping[str, Any], where: str, where_zh: str) -> list[Change]:
    """How the ``software`` record ``now`` (of the code at hand) differs from ``logged``
    (of a run's first entry), said of ``where`` (e.g. "run 3f2a..." / "运行 3f2a...").

    Only what the logged run used is compared: a plugin installed since cannot have
    made its decisions. A log entry without a record (written before there was one)
    gives nothing."""
    if not isinstance(logged, Mapping):
        return []
    out: list[Change] = []
    then_version, now_version = logged.get("civicscore"), now.get("civicscore")
    if then_version and then_version != now_version:
        out.append(Change(BUILTIN, (
            f"{where} was logged by civicscore {then_version}; this is civicscore "
            f"{now_version}: a difference may come from civicscore itself"), (
            f"{where_zh}由 civicscore {then_version} 记录，当前为 civicscore {now_version}："
            f"差异可能来自 civicscore 本身")))
    then_holidays, now_holidays = logged.get("holidays"), now.get("holidays")
    if then_holidays and then_holidays != now_holidays:
        out.append(Change("holidays", (
            f"{where} was logged with holidays {then_holidays}; this is holidays "
            f"{now_holidays or '(not installed)'}: a national calendar may give other days "
            f"off; they are in the hash of a policy that reads its calendar (is_holiday, "
            f"is_workday, is_makeup_workday), so where that hash is as logged its days are "
            f"too, and where they moved so did the hash"), (
            f"{where_zh}记录时使用 holidays {then_holidays}，当前为 holidays "
            f"{now_holidays or '（未安装）'}：国家节假日日历可能不同；读取日历（is_holiday、"
            f"is_workday、is_makeup_workday）的政策，其哈希包含这些日期：哈希与记录时相同，"
            f"日期即相同，日期有变，哈希随之改变")))
    current = {p.get("name"): p for p in now.get("plugins", ()) if isinstance(p, Mapping)}
    for then in logged.get("plugins", ()):
        if not isinstance(then, Mapping) or not isinstance(then.get("name"), str):
            continue
        name = then["name"]
        said = f"plugin {name!r} ({then.get('distribution') or 'no distribution'} " \
               f"{then.get('version') or '?'})"
        said_zh = f"插件 {name!r}（{then.get('distribution') or '无发行包'} " \
                  f"{then.get('version') or '?'}）"
        here = current.get(name)
        if here is None:
            out.append(Change(name, (
                f"{where} was made with {said}, which is not installed now: decisions it "
                f"took part in cannot be re-made the same"), (
                f"{where_zh}使用了{said_zh}，当前未安装：它参与的决定无法按原样重现")))
        elif here.get("code") != then.get("code") or here.get("version") != then.get(
                "version"):
            version = ("" if here.get("version") == then.get("version") else
                       f", now version {here.get('version') or '?'}")
            version_zh = ("" if here.get("version") == then.get("version") else
                          f"，现为版本 {here.get('version') or '?'}")
            out.append(Change(name, (
                f"the code of {said} changed since {where} was logged (logged "
                f"{_short(then.get('code'))}, now {_short(here.get('code'))}{version}): the "
                f"policy hash is the same, but its functions, calendars or schemes may "
                f"decide differently"), (
                f"{said_zh}的代码自{where_zh}记录以来已改变（记录时 {_short(then.get('code'))}，"
                f"现为 {_short(here.get('code'))}{version_zh}）：政策哈希未变，但其函数、"
                f"日历或方案可能作出不同决定")))
    return out


def _short(code: Any) -> str:
    return f"{code[:19]}..." if isinstance(code, str) and code else "no hash"
