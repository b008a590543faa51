"""The plugin system: every hook works, conflicts are named, mistakes are refused."""

from __future__ import annotations

import datetime as dt
import json
import re
import types
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict

import civicscore
from civicscore import hookimpl, hookspecs
from civicscore.cli import main
from civicscore.plugins import registry

from .conftest import MINIMAL, ROOT

HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("register_"))


def plugin(name: str, **hooks: object) -> types.ModuleType:
    """A throwaway plugin module with the given hook implementations."""
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))  # type: ignore[arg-type]
    return module


def test_hook_register_policies(tmp_path: Path) -> None:
    policy = tmp_path / "town.toml"
    policy.write_text('[policy]\nid = "town"\nversion = "1"\nextends = "baseline"\n',
                      encoding="utf-8")
    p = plugin("town_plugin", register_policies=lambda register: register("town", policy))
    engine = civicscore.Engine(plugins=[p], entry_points=False)
    assert engine.policy_names() == ["baseline", "town"]
    loaded = engine.load("town")
    assert loaded.ref.id == "town"
    assert loaded.model.volunteer is not None  # inherited from the baseline, found by name


def test_hook_register_functions(tmp_path: Path) -> None:
    double = civicscore.simple_function("double", ["int"], "int", lambda x: 2 * x)
    p = plugin("fn_plugin", register_functions=lambda register: register(double))
    engine = civicscore.Engine(plugins=[p], entry_points=False)
    path = tmp_path / "p.toml"
    path.write_text(MINIMAL + '[volunteer.activities.a]\npoints_per_hour = 1\n'
                    '[[volunteer.multipliers]]\nid = "m"\nwhen = "double(weekday(date)) > 10"\n'
                    'factor = 2\n', encoding="utf-8")
    policy = engine.load(path)
    record = {"record_id": "r", "volunteer_id": "v", "activity": "a",
              "start": "2025-03-08T09:00", "end": "2025-03-08T10:00", "confirmed": True}
    decision = policy.volunteer.evaluate_record(record, as_of=dt.date(2025, 12, 31))
    assert decision.points == 2  # Saturday: double(6) = 12 > 10
    with pytest.raises(civicscore.PolicyError, match="argument 1 of double"):
        path.write_text(path.read_text().replace("double(weekday(date))", "double(date)"))
        engine.load(path)


def test_hook_register_calendars(tmp_path: Path) -> None:
    local = dt.date(2025, 3, 12)
    p = plugin("cal_plugin", register_calendars=lambda register: register(
        "town-days", holidays=[local], workdays=[dt.date(2025, 10, 1)], country="CN"))
    engine = civicscore.Engine(plugins=[p], entry_points=False)
    path = tmp_path / "p.toml"
    path.write_text(MINIMAL + '[calendar]\nname = "town-days"\n', encoding="utf-8")
    cal = engine.load(path).calendar
    assert cal(local) and not cal(dt.date(2025, 10, 1)) and cal(dt.date(2025, 10, 2))
    path.write_text(MINIMAL + '[calendar]\nname = "town-dayz"\n', encoding="utf-8")
    with pytest.raises(civicscore.PolicyError, match="did you mean 'town-days'"):
        engine.load(path)


class _Greeting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    when: str


class _GreetingScheme:
    """A toy scheme: says hello to households its expression selects."""

    extra_inputs = ()

    def __init__(self, expr: object) -> None:
        self.expr = expr

    def run(self, records, *, as_of, **extra):
        raise NotImplementedError

    def explain_record(self, record, *, as_of):
        return "hello" if self.expr(record) else "no"  # type: ignore[operator]


def _compile_greeting(ctx):
    section = ctx.model.greeting
    expr = ctx.expression(("greeting", "when"), section.when, ctx.scope("household", "greeting"))
    return _GreetingScheme(expr)


def test_hook_register_schemes(tmp_path: Path) -> None:
    p = plugin("greet", register_schemes=lambda register: register(
        "greeting", _compile_greeting, model=_Greeting))
    engine = civicscore.Engine(plugins=[p], entry_points=False)
    path = tmp_path / "p.toml"
    path.write_text(MINIMAL + '[facts.household]\nage = { type = "int" }\n'
                    '[greeting]\nwhen = "age > 80"\n', encoding="utf-8")
    scheme = engine.load(path).scheme("greeting")
    assert scheme.explain_record({"age": 90}, as_of=dt.date(2025, 1, 1)) == "hello"
    # The new section is checked like any other: unknown keys and bad expressions are located.
    path.write_text(MINIMAL + '[facts.household]\nage = { type = "int" }\n'
                    '[greeting]\nwhen = "agee > 80"\nwhom = 1\n', encoding="utf-8")
    with pytest.raises(civicscore.PolicyError) as e:
        engine.load(path)
    assert [p.line for p in e.value.problems] == [8, 9]
    # Without the plugin the section is an unknown key.
    with pytest.raises(civicscore.PolicyError, match="unknown key 'greeting'"):
        civicscore.Engine(entry_points=False).load(path)


def test_scheme_conflicts_are_refused() -> None:
    clash = plugin("clash", register_schemes=lambda register: register(
        "visits", _compile_greeting))
    with pytest.raises(civicscore.PluginError, match="'visits' is registered by both plugin "
                                                     "'civicscore' and plugin 'clash'"):
        civicscore.Engine(plugins=[clash], entry_points=False)
    no_model = plugin("no_model", register_schemes=lambda register: register(
        "greeting", _compile_greeting))
    with pytest.raises(civicscore.PluginError, match="must also register its pydantic model"):
        civicscore.Engine(plugins=[no_model], entry_points=False)
    assert registry(entry_points=False).schemes["volunteer"][0] == "civicscore"


def test_misspelt_hook_is_an_error_naming_it() -> None:
    bad = plugin("typo_plugin", register_policy=lambda register: None)
    with pytest.raises(civicscore.PluginError, match=r"typo_plugin.*register_policy"):
        civicscore.Engine(plugins=[bad], entry_points=False)


def test_duplicate_policy_name_names_both_plugins(tmp_path: Path) -> None:
    a = plugin("plugin_a", register_policies=lambda register: register("town", tmp_path))
    b = plugin("plugin_b", register_policies=lambda register: register("town", tmp_path))
    with pytest.raises(civicscore.PluginError,
                       match="policy 'town' is registered by both plugin 'plugin_a' and "
                             "plugin 'plugin_b'"):
        civicscore.Engine(plugins=[a, b], entry_points=False)


def test_invalid_contributions_are_refused(tmp_path: Path) -> None:
    cases = [
        plugin("p1", register_policies=lambda register: register("bad name!", tmp_path)),
        plugin("p2", register_policies=lambda register: register("x", 42)),
        plugin("p3", register_functions=lambda register: register(len)),
        plugin("p4", register_calendars=lambda register: register("c", holidays=["2025-01-01"])),
        plugin("p5", register_schemes=lambda register: register("s", "not callable")),
        plugin("p6", register_functions=lambda register: register(
            civicscore.simple_function("is_holiday", ["date"], "bool", lambda d: True))),
    ]
    for p in cases:
        with pytest.raises(civicscore.PluginError, match=p.__name__):
            civicscore.Engine(plugins=[p], entry_points=False)


def test_unreadable_registered_policy(tmp_path: Path) -> None:
    p = plugin("gone", register_policies=lambda register: register("gone", tmp_path / "x.toml"))
    engine = civicscore.Engine(plugins=[p], entry_points=False)
    with pytest.raises(civicscore.PluginError, match="cannot be read"):
        engine.load("gone")


def test_environment_variable_restricts_entry_points(monkeypatch) -> None:
    monkeypatch.setenv("CIVICSCORE_PLUGINS", "")
    names = [p.name for p in civicscore.Engine().plugins]
    assert names == ["civicscore"]


def test_each_load_gets_its_own_manager() -> None:
    a, b = civicscore.Engine(entry_points=False), civicscore.Engine(entry_points=False)
    assert a.registry is not b.registry


def test_plugins_command_lists_json() -> None:
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    builtin = next(p for p in data if p["name"] == "civicscore")
    assert "baseline" in builtin["policies"] and "register_schemes" in builtin["hooks"]
    text = CliRunner().invoke(main, ["plugins"]).stdout
    assert "policies: baseline" in text


def test_every_hook_is_documented_and_tested() -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    tests = Path(__file__).read_text(encoding="utf-8")
    for hook in HOOKS:
        assert re.search(rf"^### `{hook}\(", docs, flags=re.M), f"docs/plugins.md: {hook}"
        assert f"def test_hook_{hook}(" in tests, f"no test_hook_{hook}"
        assert getattr(hookspecs, hook).__doc__, f"{hook} has no docstring"
