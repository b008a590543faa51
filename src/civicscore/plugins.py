"""Finding plugins and collecting what they contribute, with conflicts named.

A :class:`Registry` is built from one fresh ``pluggy.PluginManager`` (never a
global one): the built-in plugin, then every installed package that declares
an entry point in the ``civicscore`` group, then any plugin objects passed in
(handy in tests). ``check_pending()`` makes a misspelt hook name an error
instead of a hook that silently never runs.

Set ``CIVICSCORE_PLUGINS`` to a comma-separated list of entry-point names to
load only those (an empty value loads none besides the built-in one).

Entry points are found by :mod:`._entry_points`, which reads only the
``entry_points.txt`` files of the installed distributions (as
``importlib.metadata`` would find them, in the same order) rather than
importing ``importlib.metadata`` and parsing every distribution's metadata: that
alone was a good part of ``civicscore check``'s start-up time.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from pydantic import BaseModel, create_model

from . import _entry_points, hookspecs
from .errors import PluginError
from .expr import Function, FunctionTable, builtin_functions
from .expr.functions import CALENDAR_FUNCTION_NAMES
from .policy.calendar import HolidayCalendar
from .policy.compile import Environment, SchemeCompiler
from .policy.model import PolicyModel
from .policy.reads import note_read, note_unverifiable
from .provenance import PluginCode
from .schemes.base import CORE_SECTIONS, SchemeSpec, scheme_spec

ENTRY_POINT_GROUP = "civicscore"
ENV_PLUGINS = "CIVICSCORE_PLUGINS"
BUILTIN = "civicscore"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


@dataclass(frozen=True)
class CalendarSpec:
    """A named holiday calendar contributed by a plugin."""

    country: str | None
    subdivision: str | None
    holidays: tuple[dt.date, ...]
    workdays: tuple[dt.date, ...]

    def build(self, extra_holidays: Iterable[dt.date] = (),
              extra_workdays: Iterable[dt.date] = ()) -> HolidayCalendar:
        return HolidayCalendar(self.country, self.subdivision,
                               (*self.holidays, *extra_holidays),
                               (*self.workdays, *extra_workdays))


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin, as ``civicscore plugins`` shows it."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    policies: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    calendars: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    #: The module the plugin object comes from: where its code is, which a decision log
    #: hashes (``civicscore.provenance``) because code changes results the policy hash
    #: does not show.
    module: str = ""

    def code(self) -> PluginCode:
        """The plugin as a decision log names it (version and a hash of its code)."""
        return PluginCode(self.name, self.distribution, self.version, self.module)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                "hooks": list(self.hooks), "policies": list(self.policies),
                "functions": list(self.functions), "calendars": list(self.calendars),
                "schemes": list(self.schemes)}


@dataclass
class Registry:
    """Everything the loaded plugins registered, each entry with its plugin's name."""

    policies: dict[str, tuple[str, Any]] = field(default_factory=dict)
    functions: dict[str, tuple[str, Function]] = field(default_factory=dict)
    calendars: dict[str, tuple[str, CalendarSpec]] = field(default_factory=dict)
    schemes: dict[str, tuple[str, SchemeSpec]] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)

    # -- what loading needs -------------------------------------------------------
    def resolve_policy(self, name: str) -> tuple[str, str] | None:
        """Name -> (display name, TOML text) of a policy a plugin registered."""
        entry = self.policies.get(name)
        if entry is None:
            return None
        plugin, source = entry
        try:
            text = source.read_text(encoding="utf-8")
            if isinstance(source, Path):
                note_read(source, source.read_bytes())  # for the check cache, when on
            else:
                note_unverifiable(str(source))
        except (OSError, AttributeError) as e:
            raise PluginError(f"plugin {plugin!r} registered policy {name!r} at {source}, "
                              f"which cannot be read ({e})") from None
        return f"<{plugin}>/{name}", text

    def function_table(self, calendar: Callable[[dt.date], bool]) -> FunctionTable:
        extra = [fn for plugin, fn in self.functions.values() if plugin != BUILTIN]
        return builtin_functions(calendar, extra)

    def calendar(self, name: str) -> CalendarSpec | None:
        entry = self.calendars.get(name)
        return entry[1] if entry else None

    @property
    def sections(self) -> dict[str, type[BaseModel]]:
        """Each registered scheme's TOML section and its model."""
        return {name: spec.model for name, (_, spec) in self.schemes.items()}

    def scheme_specs(self) -> dict[str, SchemeSpec]:
        return {name: spec for name, (_, spec) in self.schemes.items()}

    def policy_model(self) -> type[PolicyModel]:
        """The policy format: the core tables and the section of every registered scheme."""
        return policy_model(tuple(self.sections.items()))

    def environment(self) -> Environment:
        return Environment(
            schemes=self.scheme_specs(),
            resolver=self.resolve_policy,
            functions=self.function_table,
            calendars={k: v[1].build for k, v in self.calendars.items()},
            model=self.policy_model(),
            plugins=tuple(p.code() for p in self.plugins),
        )


# --- building ------------------------------------------------------------------------


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering which distribution each entry point came from."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.distributions: dict[str, tuple[str, str]] = {}


def make_plugin_manager(*, entry_points: bool = True,
                        plugins: Iterable[object] = ()) -> PluginManager:
    """A fresh manager with the built-in plugin, installed plugins and ``plugins``."""
    from . import builtin

    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    pm.register(builtin, name=BUILTIN)
    if entry_points:
        _load_entry_points(pm)
    for plugin in plugins:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        _register(pm, plugin, name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        raise PluginError(f"plugin {e.plugin!r} implements an unknown hook: {e} "
                          f"(known hooks: {', '.join(_hook_names())})") from None
    return pm


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    if pm.has_plugin(name):
        raise PluginError(f"two plugins are named {name!r}; each needs its own name")
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as e:
        raise PluginError(f"plugin {name!r} is invalid: {e}") from None


def _hook_names() -> list[str]:
    return sorted(n for n in dir(hookspecs) if n.startswith("register_"))


def _wanted() -> set[str] | None:
    value = os.environ.get(ENV_PLUGINS)
    if value is None:
        return None
    return {v.strip() for v in value.split(",") if v.strip()}


def _load_entry_points(pm: PluginManager) -> None:
    wanted = _wanted()
    for ep in _entry_points.entry_points(ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        try:
            plugin = ep.load()
        except Exception as e:  # a broken plugin must not look like a civicscore bug
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to import: "
                              f"{type(e).__name__}: {e}") from None
        _register(pm, plugin, ep.name)
        if ep.distribution is not None:
            pm.distributions[ep.name] = ep.distribution


def build_registry(pm: PluginManager) -> Registry:
    """Call every hook of every plugin with a checking ``register`` callback."""
    reg = Registry()
    contributed: dict[str, dict[str, list[str]]] = {}

    def note(plugin: str, kind: str, name: str) -> None:
        contributed.setdefault(plugin, {}).setdefault(kind, []).append(name)

    def claim(table: dict[str, Any], kind: str, plugin: str, name: Any, value: Any) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(f"plugin {plugin!r} registered a {kind} with an invalid name "
                              f"{name!r} (use letters, digits, '-' and '_')")
        if name in table:
            raise PluginError(f"{kind} {name!r} is registered by both plugin "
                              f"{table[name][0]!r} and plugin {plugin!r}")
        table[name] = (plugin, value)
        note(plugin, kind, name)

    for impl in pm.hook.register_policies.get_hookimpls():
        def add_policy(name: str, source: Any, _p: str = impl.plugin_name) -> None:
            if not (isinstance(source, (str, Path)) or hasattr(source, "read_text")):
                raise PluginError(f"plugin {_p!r}: policy {name!r} must be a path or an "
                                  f"importlib.resources file, got {type(source).__name__}")
            claim(reg.policies, "policy", _p, name, Path(source) if isinstance(source, str)
                  else source)
        impl.function(register=add_policy)

    for impl in pm.hook.register_functions.get_hookimpls():
        def add_function(fn: Function, _p: str = impl.plugin_name) -> None:
            if not isinstance(fn, Function):
                raise PluginError(f"plugin {_p!r} registered {fn!r}, which is not a "
                                  f"civicscore.expr.Function")
            if fn.name in CALENDAR_FUNCTION_NAMES:
                raise PluginError(f"plugin {_p!r} registered function {fn.name!r}, which "
                                  f"civicscore provides from the policy's calendar")
            claim(reg.functions, "function", _p, fn.name, fn)
        impl.function(register=add_function)

    for impl in pm.hook.register_calendars.get_hookimpls():
        def add_calendar(name: str, holidays: Iterable[dt.date] = (),
                         workdays: Iterable[dt.date] = (), country: str | None = "CN",
                         subdivision: str | None = None, _p: str = impl.plugin_name) -> None:
            spec = CalendarSpec(country, subdivision, tuple(holidays), tuple(workdays))
            for d in (*spec.holidays, *spec.workdays):
                if not isinstance(d, dt.date):
                    raise PluginError(f"plugin {_p!r}: calendar {name!r} lists {d!r}, "
                                      f"which is not a date")
            claim(reg.calendars, "calendar", _p, name, spec)
        impl.function(register=add_calendar)

    for impl in pm.hook.register_schemes.get_hookimpls():
        def add_scheme(section: str, compiler: SchemeCompiler,
                       model: type[BaseModel] | None = None, _p: str = impl.plugin_name,
                       **about: Any) -> None:
            if not callable(compiler):
                raise PluginError(f"plugin {_p!r}: the compiler of scheme {section!r} is "
                                  f"not callable")
            if section in CORE_SECTIONS or section in PolicyModel.model_fields:
                raise PluginError(f"plugin {_p!r}: the policy section {section!r} already "
                                  f"exists")
            if isinstance(section, str) and section in reg.schemes:
                claim(reg.schemes, "scheme", _p, section, None)  # names both plugins
            if model is None:
                raise PluginError(f"plugin {_p!r}: scheme {section!r} is a new policy "
                                  f"section, so it must also register its pydantic model "
                                  f"(register(section, compiler, model=...))")
            if not (isinstance(model, type) and issubclass(model, BaseModel)) or \
                    model.model_config.get("extra") != "forbid":
                raise PluginError(f"plugin {_p!r}: the model of scheme {section!r} must be a "
                                  f"pydantic model with extra='forbid', so that a misspelt "
                                  f"key in [{section}] is refused and located")
            try:
                spec = scheme_spec(section, compiler, model, plugin=_p, **about)
            except (TypeError, ValueError) as e:
                raise PluginError(f"plugin {_p!r}: scheme {section!r}: {e}") from None
            claim(reg.schemes, "scheme", _p, section, spec)
        impl.function(register=add_scheme)

    for name, plugin in pm.list_name_plugin():
        dist = pm.distributions.get(name) or _own_distribution(plugin)
        hooks = tuple(sorted(h.name for h in (pm.get_hookcallers(plugin) or ())))
        c = contributed.get(name, {})
        reg.plugins.append(PluginInfo(
            name, dist[0], dist[1], hooks, tuple(c.get("policy", ())),
            tuple(c.get("function", ())), tuple(c.get("calendar", ())),
            tuple(c.get("scheme", ())), _module_of(plugin)))
    return reg


@functools.lru_cache(maxsize=32)
def policy_model(sections: tuple[tuple[str, type[BaseModel]], ...]) -> type[PolicyModel]:
    """The whole policy format for these scheme sections, built once per set of them
    (building a model's validator is a good part of start-up time)."""
    fields: dict[str, Any] = {name: (model | None, None) for name, model in sections}
    return create_model(
        "PolicyModel", __base__=PolicyModel, __doc__="A civicscore policy file.",
        __module__=PolicyModel.__module__, **fields)


def _module_of(plugin: object) -> str:
    """The module a plugin object is (a plugin module) or was defined in (an object)."""
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__
    owner = plugin if isinstance(plugin, type) else type(plugin)
    return str(getattr(owner, "__module__", "") or "")


def _own_distribution(plugin: object) -> tuple[str, str]:
    if getattr(plugin, "__name__", "").startswith("civicscore."):
        # "" when running from a checkout that is not installed
        return "civicscore", _entry_points.version("civicscore") or ""
    return "", ""


def registry(*, entry_points: bool = True, plugins: Iterable[object] = ()) -> Registry:
    """The registry of a fresh plugin manager (one per load or engine)."""
    return build_registry(make_plugin_manager(entry_points=entry_points, plugins=plugins))

