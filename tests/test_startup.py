"""Start-up stays cheap: what the command line and ``import civicscore`` load.

Each check runs in a fresh interpreter (this one has long imported everything)
and looks at ``sys.modules``; no timings, which vary from machine to machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import civicscore

from .conftest import EXAMPLE_POLICY, MINIMAL

HEAVY = ("pydantic", "holidays", "pluggy", "rich", "polars", "pyarrow",
         "civicscore.policy.model", "civicscore.schemes", "civicscore.engine",
         "civicscore.io", "civicscore.audit")


def imported(code: str) -> set[str]:
    """The modules loaded after running ``code`` in a fresh interpreter."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def loaded_heavy(modules: set[str]) -> list[str]:
    return sorted(h for h in HEAVY if h in modules)


def test_import_civicscore_loads_nothing_heavy() -> None:
    assert loaded_heavy(imported("import civicscore")) == []


def test_help_loads_nothing_heavy() -> None:
    modules = imported("""
        from click.testing import CliRunner
        from civicscore.cli import main
        result = CliRunner().invoke(main, ["--help"])
        assert result.exit_code == 0 and "check" in result.output, result.output
    """)
    assert loaded_heavy(modules) == []


def test_check_of_a_policy_that_never_asks_the_calendar_does_not_build_it(
        tmp_path: Path) -> None:
    # Checking validates the country code against the holidays registry; the calendar
    # itself (which imports every country module) waits for a question about a day, or
    # for the hash of a policy whose expressions ask one (below).
    policy = tmp_path / "no-calendar.toml"
    policy.write_text(MINIMAL + '[calendar]\ncountry = "CN"\n', encoding="utf-8")
    modules = imported(f"""
        from click.testing import CliRunner
        from civicscore.cli import main
        result = CliRunner().invoke(main, ["check", {str(policy)!r}])
        assert result.exit_code == 0, result.output
    """)
    assert "holidays.countries" not in modules
    # nor even the holidays package: the country codes are read from its registry's source
    assert "holidays" not in modules


def test_check_of_a_policy_that_reads_the_calendar_builds_it_for_the_hash() -> None:
    # example-district's holiday bonus calls is_holiday(date): its hash holds the days of
    # the calendar (load.policy_hash), so check builds it, and loads nothing else heavy
    modules = imported(f"""
        from click.testing import CliRunner
        from civicscore.cli import main
        result = CliRunner().invoke(main, ["check", {str(EXAMPLE_POLICY)!r}])
        assert result.exit_code == 0, result.output
    """)
    assert "holidays.countries.china" in modules
    assert not {"civicscore.io", "civicscore.audit", "rich", "polars"} & modules
    # the commands in packages of their own load when they are run, not for every command
    assert not {"civicscore.ledger", "civicscore.ledger.cli", "civicscore.events.cli",
                "civicscore.report"} & modules


#: What ``civicscore check`` must never import: the engines, services and commands it
#: does not run (each is a package of its own, loaded when its command runs), and the
#: heavy libraries behind them. A module here on the check path is a start-up cost
#: every officer pays on every check (tens to hundreds of ms of CPU each).
NOT_FOR_CHECK = (
    "polars", "numpy", "pandas", "pyarrow", "pyspark", "hypothesis", "rich", "fastapi",
    "starlette", "uvicorn", "httpx", "openpyxl", "durable", "psycopg", "holidays",
    "asyncio", "sqlite3", "ssl", "multiprocessing",
    # pydantic's search for plugins of its own (see _entry_points.spare_pydantic_its_...)
    "importlib.metadata", "email",
    "civicscore.batch", "civicscore.service", "civicscore.spark", "civicscore.ledger",
    "civicscore.report", "civicscore.io", "civicscore.audit", "civicscore.excel",
    "civicscore.events.cli", "civicscore.events.durable", "civicscore.events.reference",
    "civicscore.plan.polars",
    # the other commands and what only they (or a policy with problems) need
    "civicscore.assess", "civicscore.cases", "civicscore.cohort", "civicscore.columns",
    "civicscore.impact", "civicscore.logchain", "civicscore.review", "civicscore.scaffold",
    "civicscore.testing", "civicscore.pytest_plugin", "civicscore.policy.care_cli",
    "civicscore.policy.locate", "civicscore.policy.portable", "civicscore.policy.schema",
)


def test_check_of_every_locality_imports_none_of_the_heavy_modules() -> None:
    # As an officer runs it (python -m civicscore, the installed plugins found by their
    # entry points), over every installed policy and every policy in policies/.
    from civicscore.engine import Engine

    from .conftest import ROOT

    sources = [*Engine().policy_names(), *map(str, sorted((ROOT / "policies").glob("*.toml")))]
    assert {"karamay", "fangxian", "chengdu", "qingdao", "hengshui"} <= set(sources)
    script = textwrap.dedent(f"""
        import json, runpy, sys
        sys.argv = ["civicscore", "check", *{sources!r}]
        try:
            runpy.run_module("civicscore", run_name="__main__", alter_sys=True)
        except SystemExit as e:
            assert not e.code, e.code
        print(json.dumps(sorted(sys.modules)))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    lines = run.stdout.splitlines()
    assert sum(line.startswith("ok: ") for line in lines) == len(sources), run.stdout
    modules = set(json.loads(lines[-1]))
    assert "civicscore.policy.compile" in modules  # the policies were really checked
    # every locality's policy reads its calendar (a holiday bonus), so its hash holds the
    # calendar's days (load.policy_hash): holidays is imported, and what it imports itself
    assert "holidays.countries.china" in modules
    loaded = sorted(m for m in modules
                    if any(m == h or m.startswith(h + ".") for h in NOT_FOR_CHECK
                           if h not in FOR_THE_CALENDAR))
    assert loaded == []


#: What a check imports for the hash of a policy that reads its calendar, and only then:
#: ``holidays``, and the metadata and e-mail modules it reads its own version with.
FOR_THE_CALENDAR = ("holidays", "importlib.metadata", "email")


def test_every_public_name_resolves_to_its_module() -> None:
    for name in civicscore.__all__:
        value = getattr(civicscore, name)
        module = getattr(value, "__module__", None)
        if module is not None and module.startswith("civicscore."):
            assert getattr(sys.modules[module], name) is value, name
    assert set(civicscore.__all__) <= set(dir(civicscore))


def test_unknown_public_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        civicscore.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_calendar_answers_after_a_lazy_build() -> None:
    import datetime as dt

    from civicscore.policy.calendar import HolidayCalendar, subdivisions, supported_countries

    assert "CN" in supported_countries() and "CHN" in supported_countries()
    assert "XX" not in supported_countries()
    cal = HolidayCalendar("CN", extra_workdays=[dt.date(2025, 10, 2)])
    assert cal(dt.date(2025, 10, 1)) and not cal(dt.date(2025, 10, 2))
    assert cal.name(dt.date(2025, 10, 1)) != "" and cal.name(dt.date(2025, 10, 2)) == ""
    assert "BY" in subdivisions("DE")
    none = HolidayCalendar(None, extra_holidays=[dt.date(2025, 3, 12)])
    assert none(dt.date(2025, 3, 12)) and not none(dt.date(2025, 10, 1))


def test_wrong_codes_still_fail_when_the_calendar_is_made() -> None:
    # As before the national calendar was built lazily: a plugin's calendar with a
    # wrong code fails at load time, not at the first question about a day.
    from civicscore.policy.calendar import HolidayCalendar

    with pytest.raises(NotImplementedError, match="XX"):
        HolidayCalendar("XX")
    with pytest.raises(NotImplementedError, match="ZZ"):
        HolidayCalendar("CN", "ZZ")


def test_calendar_codes_are_still_checked_when_loading(write_policy) -> None:
    minimal = '[policy]\nid = "t"\nversion = "1"\n[calendar]\n'
    ok = civicscore.load(write_policy(minimal + 'country = "DE"\nsubdivision = "BY"\n'))
    assert ok.calendar.subdivision == "BY"
    with pytest.raises(civicscore.PolicyError, match="DE has no subdivision 'BZ'"):
        civicscore.load(write_policy(minimal + 'country = "DE"\nsubdivision = "BZ"\n'))
    with pytest.raises(civicscore.PolicyError, match=r"country 'CNN'.*did you mean 'CN'"):
        civicscore.load(write_policy(minimal + 'country = "CNN"\n'))


def test_entry_points_are_found_as_importlib_metadata_finds_them() -> None:
    # civicscore._entry_points reads entry_points.txt files itself (importing and running
    # importlib.metadata's scan was a good part of start-up); it must give the same answer.
    from importlib import metadata

    from civicscore import _entry_points

    for group in ("civicscore", "console_scripts", "pytest11"):
        ours = [(ep.name, ep.value, ep.distribution) for ep in _entry_points.entry_points(group)]
        theirs = [(ep.name, ep.value, (ep.dist.metadata["Name"], ep.dist.metadata["Version"]))
                  for ep in metadata.entry_points(group=group)]
        assert ours == theirs, group
    assert _entry_points.entry_points("civicscore"), "the locality plugins are installed"
    assert _entry_points.version("civicscore") == metadata.version("civicscore")
    assert _entry_points.version("Pydantic") == metadata.version("pydantic")
    assert _entry_points.version("no-such-distribution-here") is None
    karamay = next(ep for ep in _entry_points.entry_points("civicscore") if ep.name == "karamay")
    assert karamay.load() is next(ep for ep in metadata.entry_points(group="civicscore")
                                  if ep.name == "karamay").load()


def test_country_codes_read_from_the_holidays_registry_source() -> None:
    from holidays.registry import EntityLoader

    from civicscore.policy.calendar import _registry_country_codes

    assert _registry_country_codes() == tuple(EntityLoader.get_country_codes())


def _schema_keys(schema: dict, path: tuple) -> list[str]:
    """The keys the policy's JSON Schema allows at a key path (how a failing check found
    them before it read the models' fields instead)."""
    defs = schema.get("$defs", {})

    def deref(node: dict) -> dict:
        while "$ref" in node:
            node = defs[node["$ref"].split("/")[-1]]
        for alt in node.get("anyOf", ()):
            alt = deref(alt)
            if alt.get("type") == "object" or "properties" in alt:
                return alt
        return node

    node = deref(schema)
    for part in path:
        if isinstance(part, int):
            node = deref(node.get("items", {}))
        elif part in node.get("properties", {}):
            node = deref(node["properties"][part])
        elif isinstance(node.get("additionalProperties"), dict):
            node = deref(node["additionalProperties"])
        else:
            return []
    return list(node.get("properties", {}))


def test_allowed_keys_are_those_of_the_json_schema() -> None:
    # An unknown key's "allowed keys" hint comes from the models' fields (generating the
    # JSON Schema made a failing check slow); every table of the format lists the same keys.
    from civicscore.engine import Engine
    from civicscore.policy.load import keys_at

    model = Engine(entry_points=False).registry.policy_model()
    schema = model.model_json_schema(by_alias=True)
    paths: list[tuple] = [()]
    seen = 0
    while paths and seen < 2000:
        path = paths.pop()
        seen += 1
        keys = keys_at(model, path)
        assert keys == _schema_keys(schema, path), path
        for key in keys:
            paths.extend([(*path, key), (*path, key, 0), (*path, key, "some_name"),
                          (*path, key, 0, "x")])
    assert seen > 200
    assert keys_at(model, ("volunteer", "activities", "patrol")) == \
        ["label", "label_en", "description", "category", "points_per_hour",
         "points_per_event", "max_hours"]
    assert "from" in keys_at(model, ("policy", "effective"))
    assert keys_at(model, ("no_such_table",)) == []


def test_help_lists_the_lazy_commands_without_importing_them() -> None:
    modules = imported("""
        from click.testing import CliRunner
        from civicscore.cli import main
        result = CliRunner().invoke(main, ["--help"])
        assert result.exit_code == 0 and "ledger" in result.output, result.output
    """)
    assert not {"civicscore.ledger", "civicscore.ledger.cli", "civicscore.events.cli",
                "civicscore.report", "civicscore.report.commands"} & modules
    # ... with the words each command gives itself, at any width
    import click

    from civicscore.cli import LAZY_COMMANDS, LAZY_HELP, main

    assert set(LAZY_HELP) == set(LAZY_COMMANDS)
    ctx = click.Context(main)
    for name, text in LAZY_HELP.items():
        real = main.get_command(ctx, name)
        assert real is not None and not real.hidden and not real.deprecated, name
        stand_in = click.Command(name, help=text)
        for limit in range(20, 200, 7):
            assert stand_in.get_short_help_str(limit) == real.get_short_help_str(limit), name


def test_entry_points_of_odd_installations_match_importlib_metadata(tmp_path, monkeypatch) -> None:
    # Installed twice (the first on sys.path wins), an old .egg-info file, comments and
    # attributes in entry_points.txt, a distribution without entry points.
    from importlib import metadata

    from civicscore import _entry_points

    def dist(root, dirname: str, name: str, version: str, eps: str | None) -> None:
        info = root / dirname
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\n"
                                       f"Version: {version}\n\nA description.\n")
        if eps is not None:
            (info / "entry_points.txt").write_text(eps)

    first, second = tmp_path / "a", tmp_path / "b"
    eps = "# a comment\n[civicscore_odd]\nodd = json:dumps\n\n[other]\nx = os\n"
    dist(first, "Odd_Plugin-2.0.dist-info", "Odd_Plugin", "2.0", eps)
    dist(second, "odd.plugin-1.0.dist-info", "odd.plugin", "1.0",
         "[civicscore_odd]\nolder = os.path:join\n")
    dist(second, "zz_other-3.0.dist-info", "zz-other", "3.0",
         "[civicscore_odd]\nzz = os\n")
    dist(second, "plain-1.0.dist-info", "plain", "1.0", None)
    (second / "old_thing-1.2.egg-info").write_text("Metadata-Version: 1.0\nName: Old-Thing\n"
                                                   "Version: 1.2\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))

    ours = [(ep.name, ep.value, ep.distribution)
            for ep in _entry_points.entry_points("civicscore_odd")]
    theirs = [(ep.name, ep.value, (ep.dist.metadata["Name"], ep.dist.metadata["Version"]))
              for ep in metadata.entry_points(group="civicscore_odd")]
    assert ours == theirs == [("odd", "json:dumps", ("Odd_Plugin", "2.0")),
                              ("zz", "os", ("zz-other", "3.0"))]
    import json

    assert _entry_points.entry_points("civicscore_odd")[0].load() is json.dumps
    for name in ("odd-plugin", "Odd.Plugin", "old-thing", "plain", "zz_other"):
        assert _entry_points.version(name) == metadata.version(name), name


def test_pydantic_plugins_are_still_found_when_one_is_installed(tmp_path) -> None:
    # The command line spares pydantic its importlib.metadata search only when no
    # distribution has a pydantic entry point; with one, pydantic loads it as always.
    site = tmp_path / "site"
    (site / "fake_pydantic_plugin").mkdir(parents=True)
    (site / "fake_pydantic_plugin" / "__init__.py").write_text(
        "class Plugin:\n"
        "    def new_schema_validator(self, *a, **k):\n"
        "        import sys\n"
        "        sys.modules[__name__].SEEN = True\n"
        "        return None, None, None\n"
        "plugin = Plugin()\n", encoding="utf-8")
    info = site / "fake_pydantic_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-pydantic-plugin\n"
                                   "Version: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[pydantic]\nfake = fake_pydantic_plugin:plugin\n",
                                           encoding="utf-8")
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(site)!r})
        from click.testing import CliRunner
        from civicscore.cli import main
        result = CliRunner().invoke(main, ["check", "--no-cache", {str(EXAMPLE_POLICY)!r}])
        assert result.exit_code == 0, result.output
        import fake_pydantic_plugin
        print(getattr(fake_pydantic_plugin, "SEEN", False))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert out.split()[-1] == "True"
    # and without one, the stand-in answers as pydantic's loader would: no plugins
    from civicscore import _entry_points

    assert _entry_points.entry_points("pydantic") == []
    from pydantic.plugin._loader import get_plugins

    assert list(get_plugins()) == []
