"""The plugin system: every hook works, conflicts are named, mistakes are refused."""

from __future__ import annotations

import datetime as dt
import json
import re
import types
from pathlib import Path
from typing import Any

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


def _docs_block(marker: str) -> str:
    """The fenced code block after ``<!-- marker -->`` in docs/plugins.md."""
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    after = text.split(f"<!-- {marker} -->", 1)[1]
    return after.split("```", 2)[1].split("\n", 1)[1]


def greeting_plugin() -> types.ModuleType:
    """The scheme plugin of docs/plugins.md, exactly as written there."""
    module = types.ModuleType("civicscore_greeting")
    exec(compile(_docs_block("greeting-plugin"), "docs/plugins.md", "exec"), module.__dict__)
    return module


GREETING_POLICY = _docs_block("greeting-policy")
HOUSEHOLDS = "household_id,age\nh1,83\nh2,40\nh3,old\n"


@pytest.fixture
def greeting_installed(monkeypatch, tmp_path: Path) -> Path:
    """The docs' plugin as if installed (an entry point), and its policy as a file."""
    from civicscore import plugins

    module = greeting_plugin()
    monkeypatch.setattr(plugins, "_load_entry_points",
                        lambda pm: plugins._register(pm, module, "greeting"))
    path = tmp_path / "greetings.toml"
    path.write_text(GREETING_POLICY, encoding="utf-8")
    return path


def test_hook_register_schemes(tmp_path: Path) -> None:
    p = greeting_plugin()
    engine = civicscore.Engine(plugins=[p], entry_points=False)
    path = tmp_path / "p.toml"
    path.write_text(GREETING_POLICY, encoding="utf-8")
    policy = engine.load(path)
    scheme = policy.scheme("greeting")
    as_of = dt.date(2025, 1, 1)
    assert scheme.explain_record({"household_id": "h1", "age": 90}, as_of=as_of) == \
        "household h1: a card saying '生日快乐'"
    run = scheme.run([{"household_id": "h1", "age": "90"}, {"household_id": "h2", "age": 9},
                      {"age": 1}], as_of=as_of)
    assert [r["card"] for r in run.output_rows()] == ["生日快乐", None, None]
    assert [r["row"] for r in run.rejected_rows()] == [3]
    assert policy.spec("greeting").plugin == "civicscore_greeting"
    from civicscore.cases import run_cases

    results, _ = run_cases(policy)
    assert [r.passed for r in results] == [True]
    # The new section is checked like any other: unknown keys and bad expressions are located.
    path.write_text(MINIMAL + '[facts.household]\nage = { type = "int" }\n'
                    '[greeting]\nwhen = "agee > 80"\nwhom = 1\n', encoding="utf-8")
    with pytest.raises(civicscore.PolicyError) as e:
        engine.load(path)
    assert [p.line for p in e.value.problems] == [8, 9]
    # Without the plugin the section is an unknown key.
    with pytest.raises(civicscore.PolicyError, match="unknown key 'greeting'"):
        civicscore.Engine(entry_points=False).load(path)


def _cli(*args: object) -> Any:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr
    return result


def test_plugin_scheme_is_checked_scored_explained_and_tested_from_the_cli(
        greeting_installed: Path, tmp_path: Path) -> None:
    policy = greeting_installed
    assert _cli("check", policy).exit_code == 0
    source = tmp_path / "households.csv"
    source.write_text(HOUSEHOLDS, encoding="utf-8")
    out, rejects = tmp_path / "out.json", tmp_path / "rejects.csv"
    r = _cli("score", policy, source, "--scheme", "greeting", "--as-of", "2025-12-31",
             "-o", out, "--rejects", rejects)
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text(encoding="utf-8"))  # a JSON array
    assert [(x["household_id"], x["card"]) for x in rows] == [
        ("h1", "生日快乐"), ("h2", None), ("h3", None)]
    # a CSV file starts with the UTF-8 mark by default (for Excel), then the header
    assert rejects.read_bytes().startswith(b"\xef\xbb\xbf")
    assert rejects.read_text(encoding="utf-8-sig").splitlines()[0] == \
        "input,row,id,reason_codes,reasons"
    assert "2 of 3 households scored, 1 rejected; policy greetings 1" in r.stderr
    # no batch evaluator: auto runs it per record, --engine batch says why not
    assert _cli("score", policy, source, "--scheme", "greeting", "--format", "jsonl"
                ).exit_code == 0
    r = _cli("score", policy, source, "--scheme", "greeting", "--engine", "batch")
    assert r.exit_code == 2 and "has no batch evaluator" in r.output
    r = _cli("explain", policy, "--scheme", "greeting", "--record",
             '{"household_id": "h9", "age": 85}')
    assert r.exit_code == 0 and "a card saying '生日快乐'" in r.output
    r = _cli("test", policy)
    assert r.exit_code == 0 and "1 passed, 0 failed" in r.output, r.output
    r = _cli("score", policy, source, "--scheme", "greetin")
    assert r.exit_code == 2 and "did you mean 'greeting'" in r.output
    r = _cli("score", policy, source, "--scheme", "greeting", "--redemptions", source)
    assert r.exit_code == 2
    assert "--redemptions: scheme greeting takes no extra inputs; redemptions is an input " \
           "of volunteer" in r.output


def test_plugin_scheme_is_logged_and_replayed(greeting_installed: Path, tmp_path: Path) -> None:
    source = tmp_path / "households.csv"
    source.write_text(HOUSEHOLDS, encoding="utf-8")
    log = tmp_path / "decisions.jsonl"
    r = _cli("score", greeting_installed, source, "--scheme", "greeting", "--as-of",
             "2025-12-31", "-o", tmp_path / "o.csv", "--log", log)
    assert r.exit_code == 0, r.output
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(e["scheme"], e["kind"], e["row"]) for e in entries] == [
        ("greeting", "record", 1), ("greeting", "record", 2), ("greeting", "record", 3)]
    assert entries[0]["input"] == {"household_id": "h1", "age": "83"}
    r = _cli("replay", log, "--policy", greeting_installed)
    assert r.exit_code == 0 and "3 decisions replayed, 0 differ" in r.output, r.output


def test_plugin_scheme_record_fields_are_refused_as_facts(greeting_installed: Path) -> None:
    greeting_installed.write_text(GREETING_POLICY.replace(
        "age = {", 'household_id = { type = "string" }\nage = {'), encoding="utf-8")
    r = _cli("check", greeting_installed)
    assert r.exit_code == 1
    assert ":6:1: fact name 'household_id' is a field the greeting scheme reads from every " \
           "record itself" in r.output
    assert "rename the fact (e.g. 'household_id_value')" in r.output


def test_builtin_schemes_register_through_the_same_hook() -> None:
    from civicscore import builtin
    from civicscore.schemes.builtins import BUILTIN_SCHEMES

    seen: list[str] = []
    builtin.register_schemes(register=lambda name, compiler, model, **about: seen.append(name))
    assert seen == [s.name for s in BUILTIN_SCHEMES]
    reg = registry(entry_points=False)
    assert {n: p for n, (p, _) in reg.schemes.items()} == {n: "civicscore" for n in seen}
    for name, (_, spec) in reg.schemes.items():
        assert reg.policy_model().model_fields[name].annotation == spec.model | None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _compile_greeting(ctx: object) -> object:
    raise NotImplementedError


def test_scheme_conflicts_are_refused() -> None:
    clash = plugin("clash", register_schemes=lambda register: register(
        "visits", _compile_greeting))
    with pytest.raises(civicscore.PluginError, match="'visits' is registered by both plugin "
                                                     "'civicscore' and plugin 'clash'"):
        civicscore.Engine(plugins=[clash], entry_points=False)
    no_model = plugin("no_model", register_schemes=lambda register: register(
        "greeting", _compile_greeting))
    loose = plugin("loose", register_schemes=lambda register: register(
        "greeting", _compile_greeting, BaseModel))
    with pytest.raises(civicscore.PluginError, match="extra='forbid'"):
        civicscore.Engine(plugins=[loose], entry_points=False)
    typo = plugin("typo", register_schemes=lambda register: register(
        "greeting", _compile_greeting, _Section, recrod_fields=("x",)))
    with pytest.raises(civicscore.PluginError, match=r"unknown scheme attribute.*recrod_fields"):
        civicscore.Engine(plugins=[typo], entry_points=False)
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
    assert data["schema"] == "civicscore.plugins/1"
    builtin = next(p for p in data["plugins"] if p["name"] == "civicscore")
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
