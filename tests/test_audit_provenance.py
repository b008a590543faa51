"""The code a logged run was made with (issue 11, item 7): the first entry of every run names
civicscore's version and each loaded plugin's version and code hash, because a changed
plugin function changes results while the policy hash stays; ``replay`` and
``verify-log`` warn, naming the plugin, when the code at hand is not the logged code,
without calling the chain broken."""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.metadata
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

import civicscore
from civicscore.audit import DecisionLog, policies_by_hash, replay
from civicscore.cli import main
from civicscore.logchain import replay_lines, verify_chain
from civicscore.plugins import registry
from civicscore.provenance import PluginCode, software

AS_OF = dt.date(2025, 12, 31)

PLUGIN = '''
from civicscore import hookimpl, simple_function


@hookimpl
def register_functions(register):
    register(simple_function("tidy_bonus", ["decimal"], "decimal", lambda x: x * 2))
'''

POLICY = """
[policy]
id = "prov"
version = "1"

[facts.subject]
x = { type = "decimal" }

[appraisal]

[[appraisal.indicators]]
id = "x"
weight = 1
value = "tidy_bonus(x)"
normalise = { method = "none" }

[[appraisal.grades]]
id = "pass"
min_score = 60

[[appraisal.grades]]
id = "fail"
min_score = 0
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[ModuleType]:
    """A plugin module of its own (not installed: its code is its file)."""
    name = f"cs_prov_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / f"{name}.py").write_text(PLUGIN, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(name, None)


def load(tmp_path: Path, plugin: ModuleType) -> civicscore.Policy:
    path = tmp_path / "prov.toml"
    path.write_text(POLICY, encoding="utf-8")
    engine = civicscore.Engine(plugins=[plugin], entry_points=False)
    return engine.load(path, today=dt.date(2025, 1, 1))


def log_run(path: Path, policy: civicscore.Policy) -> None:
    records = [{"subject_id": "a", "x": 40}, {"subject_id": "b", "x": 20}]
    DecisionLog(path).write_run(policy, "appraisal", AS_OF, policy.appraisal.run(
        records, as_of=AS_OF), records)


def entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_first_entry_of_a_run_names_the_code_it_was_made_with(
        tmp_path: Path, plugin: ModuleType) -> None:
    policy = load(tmp_path, plugin)
    log = tmp_path / "d.jsonl"
    log_run(log, policy)
    log_run(log, policy)
    got = entries(log)
    firsts = [e for e in got if e["run_index"] == 1]
    assert len(firsts) == 2 and all("software" not in e for e in got if e["run_index"] > 1)
    record = firsts[0]["software"]
    assert record["civicscore"] == civicscore.__version__
    (mine,) = record["plugins"]  # the built-in plugin is named by civicscore's version
    assert mine["name"] == plugin.__name__ and mine["distribution"] == ""
    assert mine["code"] == PluginCode(plugin.__name__, "", "", plugin.__name__).code_hash()
    assert mine["code"].startswith("sha256:") and len(mine["code"]) == 7 + 64
    # the same code, the same record: replay and verify-log have nothing to say
    report = replay(log, policies_by_hash([policy]))
    assert report.ok and report.chain is not None and report.chain.changes == []
    assert not any("WARNING" in line for line in replay_lines(report.chain))


def test_replay_names_the_plugin_whose_code_changed_and_the_chain_stays_intact(
        tmp_path: Path, plugin: ModuleType) -> None:
    log = tmp_path / "d.jsonl"
    log_run(log, load(tmp_path, plugin))
    source = Path(plugin.__file__ or "")
    source.write_text(PLUGIN.replace("x * 2", "x * 3 + 0"), encoding="utf-8")
    changed = importlib.reload(plugin)
    report = replay(log, policies_by_hash([load(tmp_path, changed)]))
    # the policy hash is the same, the decisions are not: the warning says why
    assert report.differences and report.chain is not None and report.chain.ok
    (change,) = report.chain.changes
    assert change.plugin == plugin.__name__
    assert change.en.startswith(f"the code of plugin {plugin.__name__!r} (no distribution ?) "
                                f"changed since the run at line 1 was logged (logged sha256:")
    assert "the policy hash is the same" in change.en
    assert change.zh.startswith(f"插件 {plugin.__name__!r}（无发行包 ?）的代码自第 1 行的运行记录以来已改变")
    lines = replay_lines(report.chain, "en")
    assert lines[0].startswith("CHAIN INTACT: 2 entries")
    assert lines[1] == f"WARNING CODE CHANGED {plugin.__name__}: {change.en}"


def test_verify_log_compares_with_the_installed_plugins(
        tmp_path: Path, plugin: ModuleType) -> None:
    log = tmp_path / "d.jsonl"
    log_run(log, load(tmp_path, plugin))
    r = CliRunner().invoke(main, ["verify-log", str(log), "--lang", "en"])
    assert r.exit_code == 0, r.output  # a warning, not a broken chain
    assert f"{log}: warning: the run at line 1 was made with plugin {plugin.__name__!r} " \
           f"(no distribution ?), which is not installed now" in r.output
    zh = CliRunner().invoke(main, ["verify-log", str(log), "--lang", "zh"])
    assert zh.exit_code == 0 and f"{log}: 注意：第 1 行的运行使用了插件 {plugin.__name__!r}" in zh.output
    # a log without software records (an older civicscore) is not compared at all
    report = verify_chain(log)
    assert [line for line, _ in report.software] == [1]
    older = tmp_path / "older.jsonl"
    older.write_text("".join(json.dumps({k: v for k, v in e.items()
                                         if k not in ("software", "seq", "prev")}) + "\n"
                             for e in entries(log)), encoding="utf-8")
    r = CliRunner().invoke(main, ["verify-log", str(older), "--lang", "en"])
    assert r.exit_code == 0 and "not chained" in r.output and "warning" not in r.output


def test_a_civicscore_version_change_is_named_too(tmp_path: Path, plugin: ModuleType) -> None:
    log = tmp_path / "d.jsonl"
    log_run(log, load(tmp_path, plugin))
    report = verify_chain(log)
    now = dict(report.software[0][1], civicscore="99.0")
    report.compare(now)
    (change,) = report.changes
    assert change.plugin == "civicscore"
    assert f"was logged by civicscore {civicscore.__version__}; this is civicscore 99.0" \
           in change.en


def test_the_code_hash_reads_paths_and_bytes_in_a_stable_order(tmp_path: Path) -> None:
    def package(root: Path, order: list[tuple[str, bytes]]) -> str:
        pkg = root / "cs_hash_pkg"
        for rel, data in order:
            (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
            (pkg / rel).write_bytes(data)
        sys.modules.pop("cs_hash_pkg", None)
        sys.path.insert(0, str(root))
        try:
            return PluginCode("p", "dist", "1", "cs_hash_pkg.sub").code_hash()
        finally:
            sys.path.remove(str(root))
            sys.modules.pop("cs_hash_pkg", None)

    files = [("__init__.py", b"X = 1\n"), ("policy.toml", "[policy]\n# 规则\n".encode()),
             ("data/rates.csv", b"a,1\n")]
    first = package(tmp_path / "one", files)
    assert first.startswith("sha256:")
    assert package(tmp_path / "two", list(reversed(files))) == first  # written in any order
    compiled = [*files, ("__pycache__/x.cpython-311.pyc", b"\0junk")]
    assert package(tmp_path / "three", compiled) == first  # bytecode is not the code
    edited = [*files[:2], ("data/rates.csv", b"a,2\n")]
    assert package(tmp_path / "four", edited) != first  # one byte of data
    moved = [*files[:2], ("rates.csv", b"a,1\n")]
    assert package(tmp_path / "five", moved) != first  # the same bytes at another path


def test_every_installed_plugin_is_named_with_its_distribution_and_code() -> None:
    record = software(p.code() for p in registry().plugins)
    installed = [p for p in registry().plugins if p.name != "civicscore"]
    assert [p["name"] for p in record["plugins"]] == sorted(p.name for p in installed)
    for p in record["plugins"]:
        assert p["distribution"] and p["version"] and p["code"].startswith("sha256:"), p


def test_a_holidays_release_change_is_named(tmp_path: Path, plugin: ModuleType) -> None:
    # the days of a national calendar come from the holidays package, not the policy:
    # a run logged with another release may give other holiday bonuses, and the hash of
    # a policy that reads the calendar says whether its days moved
    log = tmp_path / "d.jsonl"
    log_run(log, load(tmp_path, plugin))
    report = verify_chain(log)
    logged = report.software[0][1]
    assert logged["holidays"] == importlib.metadata.version("holidays")
    report.compare(dict(logged, holidays="0.1"))
    (change,) = report.changes
    assert change.plugin == "holidays"
    assert change.en == (f"the run at line 1 was logged with holidays {logged['holidays']}; "
                         f"this is holidays 0.1: a national calendar may give other days off; "
                         f"they are in the hash of a policy that reads its calendar "
                         f"(is_holiday, is_workday, is_makeup_workday), so where that hash is "
                         f"as logged its days are too, and where they moved so did the hash")
    assert change.zh.startswith(f"第 1 行的运行记录时使用 holidays {logged['holidays']}")
    older = dict(logged)
    del older["holidays"]  # a record of an older civicscore names no release: not compared
    report.changes.clear()
    report.software[0] = (1, older)
    report.compare(dict(logged, holidays="0.1"))
    assert report.changes == []
